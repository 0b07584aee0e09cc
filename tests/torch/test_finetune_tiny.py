"""Tiny random BERT fine-tunes through the ewacct_torch training loop (CPU, seconds)."""

from __future__ import annotations

import math
import os
import socket

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("opacus")
pytest.importorskip("transformers")
ewacct = pytest.importorskip("ewacct")

from ewacct_torch import finetune as ft  # noqa: E402

from _helpers import tiny_args, tiny_prepared  # noqa: E402

HAS_CORE = hasattr(ewacct, "Accountant")
needs_core = pytest.mark.skipif(not HAS_CORE, reason="ewacct core Accountant not available yet")


@pytest.mark.parametrize("mode", ["hooks", "functorch", "ew", "ghost"])
def test_tiny_bert_trains_in_each_grad_sample_mode(mode: str) -> None:
    args = tiny_args(["--grad-sample-mode", mode, "--accountant", "rdp", "--max-steps", "3"])
    prep = tiny_prepared(args)
    plan = ft._plan(args, prep, "rdp")
    before = {n: p.clone() for n, p in ft._build_model(args, prep).named_parameters()}
    rec = ft._train_once(prep, plan, seed=0, out=None, resume=False)
    assert rec["steps_done"] == 3
    assert rec["history"] == [[plan.noise_multiplier, plan.sample_rate, 3]]
    assert math.isfinite(rec["log"][-1]["loss"])
    assert 0.0 <= rec["held_out_accuracy"] <= 1.0
    assert rec["trainable_parameters"] == sum(p.numel() for p in before.values())
    assert rec["epsilon_spent"]["rdp"] > 0


@pytest.mark.parametrize("train", ["head", "last", "lora"])
def test_partial_training_modes_only_touch_trainable_parameters(train: str) -> None:
    pytest.importorskip("peft")
    args = tiny_args(["--train", train, "--last-layers", "1", "--accountant", "rdp",
                      "--max-steps", "2", "--grad-sample-mode", "hooks"])
    prep = tiny_prepared(args)
    model = ft._build_model(args, prep)
    n_all = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 0 < n_train < n_all
    rec = ft._train_once(prep, ft._plan(args, prep, "rdp"), seed=0, out=None, resume=False)
    assert rec["trainable_parameters"] == n_train and rec["steps_done"] == 2


@needs_core
def test_accountant_after_training_equals_ewacct_on_history() -> None:
    args = tiny_args(["--accountant", "ew", "--guarantee", "estimate", "--max-steps", "4"])
    prep = tiny_prepared(args)
    plan = ft._plan(args, prep, "ew-estimate")
    rec = ft._train_once(prep, plan, seed=0, out=None, resume=False)
    acc = ewacct.Accountant()
    for sigma, q, n in rec["history"]:
        acc.compose(ewacct.PoissonSubsampledGaussian(noise_multiplier=sigma,
                                                     sampling_probability=q), count=n)
    core = float(acc.get_epsilon(plan.target_delta).value)
    assert rec["epsilon_spent_by_run_accountant"] == pytest.approx(core, rel=1e-12)
    assert rec["epsilon_spent"]["ew-estimate"] == pytest.approx(core, rel=1e-12)


def _resume_args(out, extra):
    return tiny_args(["--accountant", "rdp", "--epochs", "2", "--out", str(out)] + extra)


def test_two_half_runs_equal_one_full_run(tmp_path) -> None:
    full_args = _resume_args(tmp_path / "full", [])
    prep = tiny_prepared(full_args)
    plan = ft._plan(full_args, prep, "rdp")
    full = ft._train_once(prep, plan, seed=0, out=tmp_path / "full", resume=False)
    half = plan.steps // 2
    a1 = _resume_args(tmp_path / "half", ["--max-steps", str(half)])
    p1 = tiny_prepared(a1)
    first = ft._train_once(p1, ft._plan(a1, p1, "rdp"), seed=0, out=tmp_path / "half",
                           resume=False)
    assert first["steps_done"] == half and not first["finished"]
    a2 = _resume_args(tmp_path / "half", [])
    p2 = tiny_prepared(a2)
    second = ft._train_once(p2, ft._plan(a2, p2, "rdp"), seed=0, out=tmp_path / "half",
                            resume=True)
    assert second["finished"] and second["steps_done"] == plan.steps
    assert second["history"] == full["history"]
    assert second["epsilon_spent"] == full["epsilon_spent"]
    s_full = torch.load(tmp_path / "full" / ft.CHECKPOINT_NAME, weights_only=False)
    s_half = torch.load(tmp_path / "half" / ft.CHECKPOINT_NAME, weights_only=False)
    for name, t in s_full["trainable_state_dict"].items():
        torch.testing.assert_close(s_half["trainable_state_dict"][name], t)
    assert not list((tmp_path / "half").glob(".*tmp*"))  # atomic writes leave nothing behind


def test_resume_refuses_different_privacy_settings(tmp_path) -> None:
    a1 = _resume_args(tmp_path, ["--max-steps", "2"])
    p1 = tiny_prepared(a1)
    ft._train_once(p1, ft._plan(a1, p1, "rdp"), seed=0, out=tmp_path, resume=False)
    a2 = _resume_args(tmp_path, ["--max-grad-norm", "0.5"])
    p2 = tiny_prepared(a2)
    with pytest.raises(ValueError, match="privacy settings differ"):
        ft._train_once(p2, ft._plan(a2, p2, "rdp"), seed=0, out=tmp_path, resume=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dist_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from ewacct_torch import finetune as ftw
    from _helpers import tiny_args as targs
    from _helpers import tiny_prepared as tprep

    info = ftw._init_distributed("cpu")
    args = targs(["--accountant", "rdp", "--max-steps", "3", "--grad-sample-mode", "hooks",
                  "--physical-batch-size", "0"])
    prep = tprep(args, dist=info)
    plan = ftw._plan(args, prep, "rdp")
    rec = ftw._train_once(prep, plan, seed=0, out=None, resume=False)
    torch.save({"history": rec["history"], "eps": rec["epsilon_spent"]["rdp"],
                "acc": rec["held_out_accuracy"], "params": rec["params_digest"]},
               os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def test_two_process_gloo_run(tmp_path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=False)
    assert r0["history"] == r1["history"] and r0["history"][0][2] == 3
    assert r0["eps"] == r1["eps"] > 0
    assert r0["params"] == r1["params"]  # DPDDP keeps the replicas identical
    assert r0["acc"] == r1["acc"]
