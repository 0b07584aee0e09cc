"""Input validation at the Python boundary, before any Numba kernel runs.

Every public entry point funnels its numeric arguments through these helpers so that bad input
raises one clear ``ValueError`` naming the argument, the allowed range and the value received,
in the style of dp_accounting ("sampling_probability must be in (0, 1], got 1.5").
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_positive",
    "check_probability",
    "check_open_unit",
    "check_nonnegative",
    "check_count",
    "as_float_array",
]


def _as_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"{name} must not be NaN")
    return x


def check_positive(name: str, value: Any, *, upper: float = math.inf) -> float:
    """Return ``value`` as float if it is finite and in (0, upper]."""
    x = _as_real(name, value)
    if not (0.0 < x < math.inf) or x > upper:
        rng = "a finite number > 0" if upper == math.inf else f"in (0, {upper:g}]"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return x


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as float if it is finite and >= 0."""
    x = _as_real(name, value)
    if not (0.0 <= x < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def check_probability(name: str, value: Any) -> float:
    """Return ``value`` as float if it lies in (0, 1] (a sampling probability)."""
    x = _as_real(name, value)
    if not (0.0 < x <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return x


def check_open_unit(name: str, value: Any) -> float:
    """Return ``value`` as float if it lies in the open interval (0, 1) (e.g. delta)."""
    x = _as_real(name, value)
    if not (0.0 < x < 1.0):
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return x


def check_count(name: str, value: Any, *, allow_zero: bool = True) -> int:
    """Return ``value`` as int if it is a non-negative integer (floats with integral value ok)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        n = int(value)
    elif isinstance(value, (numbers.Real, np.floating)) and math.isfinite(float(value)) and float(value).is_integer():
        n = int(value)
    else:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    lo = 0 if allow_zero else 1
    if n < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
    return n


def as_float_array(name: str, value: Any, *, lo: float, hi: float, lo_open: bool, hi_open: bool) -> tuple[np.ndarray, bool]:
    """Validate a scalar or array of reals against an interval.

    Returns:
        ``(array, was_scalar)``: a 1-d float64 array and whether the input was a scalar.

    Raises:
        ValueError: if any entry is NaN, non-finite where not allowed, or outside the interval.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or an array of real numbers, got {value!r}") from None
    scalar = arr.ndim == 0
    flat = np.atleast_1d(arr).ravel()
    if flat.size == 0:
        raise ValueError(f"{name} must not be empty")
    if np.isnan(flat).any():
        raise ValueError(f"{name} must not contain NaN")
    bad_lo = (flat <= lo) if lo_open else (flat < lo)
    bad_hi = (flat >= hi) if hi_open else (flat > hi)
    if bad_lo.any() or bad_hi.any():
        bad = flat[bad_lo | bad_hi][0]
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise ValueError(f"{name} must be in {left}{lo:g}, {hi:g}{right}, got {float(bad)!r}")
    return flat.astype(np.float64), scalar
