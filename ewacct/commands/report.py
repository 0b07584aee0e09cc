"""``ewacct report --out DIR [--quick]``: HTML + Markdown report with figures.

The output directory is created and checked for writability before anything is
computed; an unwritable ``--out`` exits 2 with one line. See ``docs/report.md``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ewacct.commands._common import fail, one_line_errors

__all__ = ["register", "run"]

HELP = "write an HTML + Markdown report comparing accountants (figures, EW-Tune audit, timings)"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("report", help=HELP, description=HELP + ".", allow_abbrev=False)
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--quick", action="store_true", help="small grid and coarse PLD (under 30 s; used in CI)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    one_line_errors(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``ewacct report``; returns the exit code."""
    from ewacct.report import build_report, check_writable

    prog = "ewacct report"
    if not str(args.out).strip():
        fail(prog, "argument --out: must name a directory")
    try:
        check_writable(args.out)
    except ValueError as exc:
        fail(prog, f"argument --out: {exc}")
    cmd = "ewacct report --out " + str(args.out) + (" --quick" if args.quick else "")
    paths = build_report(args.out, quick=args.quick, progress=not args.no_progress, command=cmd)
    sys.stdout.write(
        f"wrote {paths.html} and {paths.markdown} ({len(paths.figures)} figures) in {paths.seconds:.1f} s\n"
    )
    return 0
