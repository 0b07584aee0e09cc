"""Step-time benchmark of the fine-tune: DP-SGD (Opacus) against plain training.

``python -m ewacct_torch.bench --device cuda --steps 10`` times a few logical steps
of the same model, data and batch with and without DP and prints a JSON line per
setup plus the DP/non-DP ratio. Accuracy is not the point here (see
``ewacct_torch.finetune``); the privacy plan uses RDP calibration, which is fast and
changes nothing about the step time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "time_setup"]


def time_setup(argv: Sequence[str]) -> dict[str, Any]:
    """Run one DP and one non-DP timing for fine-tune flags ``argv``.

    Returns:
        ``{"dp": seconds/step, "no_dp": seconds/step, "ratio": dp/no_dp, ...}``.
    """
    from ewacct_torch import finetune as ft

    parser = ft.add_arguments(argparse.ArgumentParser())
    out: dict[str, Any] = {"argv": list(argv)}
    for dp in (False, True):
        args = ft._fill_defaults(parser.parse_args(list(argv) + ([] if dp else ["--no-dp"])))
        t0 = time.perf_counter()
        prep = ft._prepare(args)
        plan = ft._plan(args, prep, "rdp")
        rec = ft._train_once(prep, plan, seed=0, out=None, resume=False, quiet=True)
        key = "dp" if dp else "no_dp"
        out[key] = rec["seconds_per_step"]
        out[f"{key}_examples_per_s"] = args.batch_size / rec["seconds_per_step"]
        out[f"{key}_wall_s"] = time.perf_counter() - t0
        out["device"] = str(prep.device)
        out["trainable_parameters"] = rec["trainable_parameters"]
        out["grad_sample_mode"] = args.grad_sample_mode
        out["batch_size"] = args.batch_size
    out["ratio"] = out["dp"] / out["no_dp"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Time each ``--setup`` (a quoted string of fine-tune flags)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", action="append", default=None,
                   help="fine-tune flags of one setup, quoted; repeatable")
    p.add_argument("--common", default="--max-examples 4000 --max-steps 6 --no-progress",
                   help="flags added to every setup")
    a = p.parse_args(argv)
    setups = a.setup or ["--train lora", "--train last --last-layers 2"]
    for s in setups:
        try:
            rec = time_setup(s.split() + a.common.split())
        except Exception as exc:  # noqa: BLE001 - report and go on with the next setup
            rec = {"argv": s, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
