"""Shared helpers of the ``compare``, ``calibrate`` and ``report`` commands.

Flags are validated by the core's validators inside argparse ``type=``
callables, so a bad flag fails with exit code 2 and one line naming the flag,
the allowed range and the value given (the same rule as ``ewacct epsilon``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Callable, NoReturn

from ewacct import _validate

__all__ = [
    "one_line_errors",
    "fail",
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


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser.error`` print one line (``prog: error: message``) and exit 2."""

    def error(message: str) -> NoReturn:
        sys.stderr.write(f"{parser.prog}: error: {message}\n")
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]
    return parser


def fail(prog: str, message: str) -> NoReturn:
    """Print one error line and exit with status 2 (bad input)."""
    sys.stderr.write(f"{prog}: error: {message.splitlines()[0] if message else 'bad input'}\n")
    raise SystemExit(2)


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


sampling_rate_arg = _typed("sampling_probability", _validate.check_probability)
noise_multiplier_arg = _typed("noise_multiplier", _validate.check_positive)
delta_arg = _typed("delta", _validate.check_open_unit)
epsilon_arg = _typed("epsilon", _validate.check_positive)


def steps_arg(text: str) -> int:
    """``-T``: an integer >= 1 (``1e5`` accepted)."""
    x = _parse_real(text, "steps")
    try:
        return _validate.check_count("steps", int(x) if math.isfinite(x) and x.is_integer() else x, allow_zero=False)
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
