"""Shared helpers of the ``compare``, ``calibrate`` and ``report`` commands.

Flags are validated by the core's validators inside argparse ``type=``
callables, so a bad flag fails with exit code 2 and one line naming the flag,
the allowed range and the value given (the same rule as ``ewacct epsilon``).

Exit codes of every ``ewacct`` command: 0 success, 2 bad input (one line on
stderr naming the argument and its accepted range), 3 internal failure (one
line starting ``internal error:``, never presented as bad input), 130 when
interrupted.  Abbreviated long options are refused on every parser.
"""

from __future__ import annotations

import argparse
import json
import linecache
import math
import os
import sys
from typing import Any, Callable, NoReturn

from ewacct import _validate

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "one_line_errors",
    "lazy_setup",
    "fail",
    "is_input_error",
    "run_guarded",
    "methods_arg",
    "sampling_rate_arg",
    "noise_multiplier_arg",
    "steps_arg",
    "delta_arg",
    "epsilon_arg",
    "positive_int_arg",
    "discretization_arg",
    "fmt",
    "dump_json",
]


EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser.error`` print one line (``prog: error: message``) and exit 2; refuse abbreviations.

    ``allow_abbrev`` is switched off here as well as where each parser is made, so that no parser of
    the command line takes ``--certify`` for ``--certify-with`` (or any other prefix for a flag).
    """

    def error(message: str) -> NoReturn:
        sys.stderr.write(f"{parser.prog}: error: {_one_line(message)}\n")
        raise SystemExit(EXIT_BAD_INPUT)

    parser.error = error  # type: ignore[method-assign]
    parser.allow_abbrev = False
    return parser


def lazy_setup(parser: argparse.ArgumentParser,
               setup: Callable[[argparse.ArgumentParser], None]) -> argparse.ArgumentParser:
    """Run ``setup(parser)`` once, just before the parser first parses or formats its help.

    A subcommand whose help or defaults need a heavy import (``ewacct.baselines`` brings scipy.optimize, ~0.2 s)
    fills them in here, so that ``ewacct epsilon ...`` does not pay for the imports of ``compare`` and
    ``calibrate`` (their parsers are built on every command line).  argparse calls a subparser's
    ``parse_known_args`` and ``format_help`` on the instance, where these wrappers sit.
    """
    done = [False]
    parse0, help0 = parser.parse_known_args, parser.format_help

    def ready() -> None:
        if not done[0]:
            done[0] = True
            setup(parser)

    def parse_known_args(*a: Any, **k: Any) -> Any:
        ready()
        return parse0(*a, **k)

    def format_help() -> str:
        ready()
        return help0()

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
    parser.format_help = format_help  # type: ignore[method-assign]
    return parser


def _one_line(message: str) -> str:
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    return lines[0] if lines else "bad input"


def fail(prog: str, message: str) -> NoReturn:
    """Print one error line and exit with status 2 (bad input)."""
    sys.stderr.write(f"{prog}: error: {_one_line(message)}\n")
    raise SystemExit(EXIT_BAD_INPUT)


#: ewacct's own source directory (a ValueError raised by a ``raise`` there is a deliberate refusal)
_PACKAGE_DIRS = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,)


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` reports bad input (exit 2) rather than an internal failure (exit 3).

    Bad input is an :class:`ewacct._validate.InputError`, or a ``ValueError`` raised on purpose by a
    ``raise`` statement in ewacct's own code (e.g. "method must be one of ...").  A ValueError raised
    inside a library (numpy, scipy, dp_accounting) or by a builtin (``math.log`` -> "math domain error",
    ``int(nan)``) is an internal failure, and so is any other exception type and any message that
    itself says "internal error" or "failed numerically".
    """
    if isinstance(exc, _validate.InputError):
        return True
    if not isinstance(exc, ValueError):
        return False
    msg = str(exc)
    if "internal error" in msg or "please report" in msg or "failed numerically" in msg:
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = os.path.abspath(tb.tb_frame.f_code.co_filename)
    if not filename.startswith(_PACKAGE_DIRS):
        return False
    line = linecache.getline(filename, tb.tb_lineno).strip()
    return line.startswith("raise ")


def run_guarded(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace, prog: str) -> int:
    """Run a subcommand and return its exit code (0); on failure print one line and raise ``SystemExit``.

    Bad input -> ``SystemExit(2)`` (``prog: error: ...``); internal failure -> ``SystemExit(3)``
    (``prog: internal error: ... please report ...``); Ctrl-C -> ``SystemExit(130)``.  The same
    convention as argparse's own errors, so callers of ``main()`` see every failure one way.
    """
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - every failure gets one classified line, never a traceback
        if is_input_error(exc):
            sys.stderr.write(f"{prog}: error: {_one_line(str(exc))}\n")
            raise SystemExit(EXIT_BAD_INPUT) from None
        detail = _one_line(str(exc)) if str(exc).strip() else "(no message)"
        detail = detail.removeprefix("internal error: ")
        sys.stderr.write(f"{prog}: internal error: {type(exc).__name__}: {detail} -- this is a bug in ewacct, "
                         "not a problem with your input; please report it with the command line\n")
        raise SystemExit(EXIT_INTERNAL) from None


def methods_arg(text: str) -> str:
    """``--methods``: a comma-separated list naming at least one method (names are checked later)."""
    if not text.replace(",", " ").strip():
        raise argparse.ArgumentTypeError(f"must name at least one method (comma-separated), got {text!r}")
    return text


def _parse_real(text: str, name: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{name} must be a real number, got {text!r}") from None


def _typed(name: str, check: Callable[[str, Any], Any], *, integer: bool = False) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        x = _parse_real(text, name)
        try:
            return check(name, int(x) if integer and math.isfinite(x) and x.is_integer() else x)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


#: ``-q``: in [Q_MIN, 1] (the accepted DP-SGD domain)
sampling_rate_arg = _typed("sampling_probability", lambda n, v: _validate.check_dpsgd_sampling_probability(v, n))
#: ``-s``: in [SIGMA_MIN, SIGMA_MAX] (the accepted DP-SGD domain)
noise_multiplier_arg = _typed("noise_multiplier", lambda n, v: _validate.check_dpsgd_noise_multiplier(v, n))
delta_arg = _typed("delta", _validate.check_open_unit)
epsilon_arg = _typed("epsilon", _validate.check_positive)

#: help texts stating the accepted domain (one source for every command)
Q_HELP = f"Poisson sampling probability q in [{_validate.Q_MIN:g}, {_validate.Q_MAX:g}]"
SIGMA_HELP = f"noise multiplier sigma in [{_validate.SIGMA_MIN:g}, {_validate.SIGMA_MAX:g}]"
STEPS_HELP = f"number of steps T, an integer in [{_validate.STEPS_MIN}, {_validate.STEPS_MAX:.0e}]"


def steps_arg(text: str) -> int:
    """``-T``: an integer in [STEPS_MIN, STEPS_MAX] (``1e5`` accepted)."""
    x = _parse_real(text, "steps")
    try:
        return _validate.check_dpsgd_steps(int(x) if math.isfinite(x) and x.is_integer() else x)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int_arg(name: str) -> Callable[[str], int]:
    """An integer >= 1 flag named ``name``."""

    def convert(text: str) -> int:
        x = _parse_real(text, name)
        try:
            return _validate.check_count(name, int(x) if math.isfinite(x) and x.is_integer() else x, allow_zero=False)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def discretization_arg(text: str) -> float:
    """``--pld-discretization``: a number in (0, 0.1]."""
    x = _parse_real(text, "pld_discretization")
    try:
        return _validate.check_positive("pld_discretization", x, upper=0.1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fmt(x: float | None, digits: int = 4) -> str:
    """Format a number for a table ("-" for None)."""
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}f}"


def dump_json(obj: Any) -> str:
    """Serialise to JSON, replacing non-finite floats by strings."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), indent=2, allow_nan=False)
