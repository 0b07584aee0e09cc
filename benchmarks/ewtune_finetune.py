"""The EW-Tune experiment: one DP fine-tune, sigma chosen by each accountant.

Runs ``ewacct_torch.finetune --compare-accountants`` (quick mode by default: frozen
MiniLM-L6, cached mean-pooled features, DP-SGD on a linear head) and prints the
Markdown table that ``docs/finetune.md`` quotes. Every method trains the same model
on the same data at the same target epsilon; only sigma differs. The "certified eps
spent" column is ewacct's certified upper bound for the sigma each method chose, so a
value above the target means that method's sigma overspends the budget.

Usage::

    python benchmarks/ewtune_finetune.py [--seeds 3] [--epsilon 8] [--full] [--write FILE]

Extra flags after ``--`` go to the fine-tune command unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print (or write) the Markdown table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--full", action="store_true",
                        help="fine-tune the encoder (LoRA) instead of quick mode (slow on CPU)")
    parser.add_argument("--out", default="runs/ewtune_finetune")
    parser.add_argument("--write", default=None, help="also write the Markdown table here")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="flags for the fine-tune (after --)")
    args = parser.parse_args(argv)

    from ewacct_torch import finetune as ft

    ft_parser = ft.add_arguments(argparse.ArgumentParser())
    rest = [a for a in args.rest if a != "--"]
    ft_argv = ["--compare-accountants", "--seeds", str(args.seeds), "--epsilon", str(args.epsilon),
               "--out", args.out, "--no-progress"] + ([] if args.full else ["--quick"]) + rest
    record = ft.run(ft_parser.parse_args(ft_argv))
    table = ft.comparison_markdown(record)
    print(table)
    print(f"(record: {Path(args.out) / ft.RECORD_NAME}; wall {record['wall_seconds']:.0f} s)",
          file=sys.stderr)
    if args.write:
        Path(args.write).write_text(table + "\n" + json.dumps(
            {"argv": ft_argv, "wall_seconds": record["wall_seconds"]}) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
