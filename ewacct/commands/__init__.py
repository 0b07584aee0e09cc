"""Subcommands contributed to the ``ewacct`` command line: ``compare``, ``calibrate``, ``report``, ``warmup``.

Each module exposes ``register(subparsers)``, which adds its subparser with a
``func`` default (``func(args) -> int`` exit code); ``ewacct.cli`` imports them.
:func:`main` builds a parser holding only these four, for use before or
without the core CLI (``python -m ewacct.commands compare ...``).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Sequence

__all__ = ["COMMAND_MODULES", "register_all", "build_parser", "main"]

#: Module names (relative to ``ewacct.commands``) of the subcommands defined here.
COMMAND_MODULES: tuple[str, ...] = ("compare", "calibrate", "report", "warmup")


def register_all(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register every subcommand of this package on ``subparsers``."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"ewacct.commands.{name}").register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """A parser with only ``compare``, ``calibrate``, ``report`` and ``warmup``."""
    from ewacct.commands._common import one_line_errors

    parser = argparse.ArgumentParser(prog="ewacct", allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    register_all(sub)
    return one_line_errors(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m ewacct.commands``; returns the exit code."""
    from ewacct.commands._common import run_guarded

    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(args.func, args, f"ewacct {args.command}")
