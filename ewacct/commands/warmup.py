"""``ewacct warmup [--no-certified] [--quiet]``: compile and cache the Numba kernels now.

A fresh install compiles each kernel on its first use (the first default query took ~11 s on 2 cores
with an empty cache, the first certified one ~50 s); this command runs one small query of each route
(:mod:`ewacct._warmup`) so that those costs are paid once, at install time, and every later process
loads the cached kernels.  Exit status 1 when a step failed (its kernels then compile on first use).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ewacct.commands._common import one_line_errors

__all__ = ["register", "run"]

HELP = "compile and cache the Numba kernels (run once after installing; seconds on a warm cache)"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``warmup`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("warmup", help=HELP, description=HELP + ".", allow_abbrev=False)
    p.add_argument("--no-certified", action="store_true",
                   help="skip the certified path's kernels (most of a cold warm-up)")
    p.add_argument("--quiet", action="store_true", help="print only the summary line")
    p.set_defaults(func=run)
    one_line_errors(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``ewacct warmup``; returns the exit code (1 when a step failed)."""
    from ewacct._warmup import cache_location, warmup

    def progress(label: str, dt: float, err: str | None) -> None:
        if not args.quiet:
            sys.stdout.write(f"  {dt:7.2f} s  {label}" + (f"  FAILED: {err}" if err else "") + "\n")
            sys.stdout.flush()

    t0 = time.perf_counter()
    steps = warmup(certified=not args.no_certified, progress=progress)
    failed = [s for s in steps if s["error"]]
    sys.stdout.write(f"warm-up: {len(steps)} queries in {time.perf_counter() - t0:.1f} s"
                     + (f", {len(failed)} failed" if failed else "") + f"; Numba cache: {cache_location()}\n")
    return 1 if failed else 0
