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
    "InputError",
    "check_positive",
    "check_probability",
    "check_open_unit",
    "check_nonnegative",
    "check_count",
    "check_bool",
    "check_certify_options",
    "as_float_array",
    "check_dpsgd_domain",
    "check_dpsgd_noise_multiplier",
    "check_dpsgd_sampling_probability",
    "check_dpsgd_steps",
    "SIGMA_MIN",
    "SIGMA_MAX",
    "Q_MIN",
    "Q_MAX",
    "STEPS_MIN",
    "STEPS_MAX",
]

#: The accepted DP-SGD domain (Poisson-subsampled Gaussian composed ``steps`` times), checked at the
#: entrance of the DP-SGD API and of every CLI command: outside it a ValueError / exit 2 naming the limit.
SIGMA_MIN = 0.05
SIGMA_MAX = 1e4
Q_MIN = 1e-12
Q_MAX = 1.0
STEPS_MIN = 1
STEPS_MAX = 10**12


#: largest count any checker accepts (2^53: every integer up to it is exact in float64)
MAX_COUNT = 2**53


class InputError(ValueError):
    """Bad input: an argument outside its accepted type or range (the message names both).

    A ``ValueError`` subclass, so ``except ValueError`` keeps working; the CLI maps it (exit 2,
    one line) apart from internal failures (exit 3).
    """


def _show(value: Any, limit: int = 40) -> str:
    """``repr(value)`` on one line, shortened to about ``limit`` characters (huge ints, long arrays)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_real_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, (numbers.Real, np.floating, np.integer))


def _as_real(name: str, value: Any, rng: str) -> float:
    """``value`` as a float; rejects bool, str, None, complex, NaN and ints too large for a float."""
    if not _is_real_scalar(value):
        raise InputError(f"{name} must be a real number ({rng}), got {_show(value)}")
    try:
        x = float(value)
    except (OverflowError, ValueError, TypeError):
        raise InputError(f"{name} must be {rng}, got {_show(value)}") from None
    if math.isnan(x):
        raise InputError(f"{name} must not be NaN ({rng})")
    return x


def check_positive(name: str, value: Any, *, upper: float = math.inf) -> float:
    """Return ``value`` as float if it is finite and in (0, upper]."""
    rng = "a finite number > 0" if upper == math.inf else f"in (0, {upper:g}]"
    x = _as_real(name, value, rng)
    if not (0.0 < x < math.inf) or x > upper:
        raise InputError(f"{name} must be {rng}, got {_show(value)}")
    return x


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as float if it is finite and >= 0."""
    rng = "a finite number >= 0"
    x = _as_real(name, value, rng)
    if not (0.0 <= x < math.inf):
        raise InputError(f"{name} must be {rng}, got {_show(value)}")
    return x


def check_probability(name: str, value: Any) -> float:
    """Return ``value`` as float if it lies in (0, 1] (a sampling probability)."""
    x = _as_real(name, value, "in (0, 1]")
    if not (0.0 < x <= 1.0):
        raise InputError(f"{name} must be in (0, 1], got {_show(value)}")
    return x


def check_open_unit(name: str, value: Any) -> float:
    """Return ``value`` as float if it lies in the open interval (0, 1) (e.g. delta)."""
    x = _as_real(name, value, "in (0, 1)")
    if not (0.0 < x < 1.0):
        raise InputError(f"{name} must be in (0, 1), got {_show(value)}")
    return x


def check_count(name: str, value: Any, *, allow_zero: bool = True) -> int:
    """Return ``value`` as int if it is a non-negative integer (floats with integral value ok)."""
    lo = 0 if allow_zero else 1
    what = "a non-negative integer" if allow_zero else "an integer >= 1"
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be {what}, got {_show(value)}")
    if isinstance(value, (numbers.Integral, np.integer)):
        n = int(value)
    elif _is_real_scalar(value) and math.isfinite(float(value)) and float(value).is_integer():
        n = int(float(value))
    else:
        raise InputError(f"{name} must be {what}, got {_show(value)}")
    if n < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {_show(value)}")
    if n > MAX_COUNT:  # not exactly representable as a float: no kernel can use it
        raise InputError(f"{name} must be an integer in [{lo}, 2^53], got {_show(value)}")
    return n


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (``certify=``, ``fallback=``); ``'no'`` or ``1`` are refused, not truthy."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InputError(f"{name} must be True or False, got {_show(value)}")


#: the keys ``certify_options`` takes (:func:`ewacct.bounds.certify.certified_epsilon`'s keyword arguments)
CERTIFY_OPTIONS = ("width", "value_discretization_interval", "time_budget")


def check_certify_options(value: Any) -> dict[str, Any]:
    """``certify_options`` of ``get_epsilon``: None (no options) or a mapping with keys among
    :data:`CERTIFY_OPTIONS`, each None or a number > 0 (``time_budget`` may be ``inf``).  Anything else is
    refused here with the allowed keys named, not deep in the certifier as a TypeError (breaker H-R15 F7)."""
    if value is None:
        return {}
    from collections.abc import Mapping

    if not isinstance(value, Mapping):
        raise InputError(f"certify_options must be None or a dict with keys among {', '.join(CERTIFY_OPTIONS)}, "
                         f"got {_show(value)}")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k not in CERTIFY_OPTIONS:
            raise InputError(f"certify_options: unknown key {_show(k)} (allowed: {', '.join(CERTIFY_OPTIONS)})")
        if v is None:
            continue
        if k == "time_budget" and isinstance(v, (float, np.floating)) and v == math.inf:
            out[k] = math.inf
            continue
        out[k] = check_positive(f"certify_options[{k!r}]", v)
    return out


def _leaves(value: Any):
    """The scalars of a (nested) list / tuple."""
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def as_float_array(name: str, value: Any, *, lo: float, hi: float, lo_open: bool, hi_open: bool) -> tuple[np.ndarray, bool]:
    """Validate a scalar or array of reals against an interval.

    Only real numbers are accepted (Python / NumPy ints and floats, arrays and lists of them): strings
    (``'1e-5'``), bools, None and complex numbers are refused exactly like an out-of-range value.

    Returns:
        ``(array, was_scalar)``: a 1-d float64 array and whether the input was a scalar.

    Raises:
        InputError (a ValueError): if any entry is not a real number, is NaN, or lies outside the interval.
    """
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    rng = f"in {left}{lo:g}, {hi:g}{right}"
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            bad = [v for v in value.ravel() if not _is_real_scalar(v)]
            if bad:
                raise InputError(f"{name} must contain only real numbers ({rng}), got {_show(bad[0])}")
        elif value.dtype.kind not in "iuf":
            raise InputError(f"{name} must be a real number or an array of real numbers ({rng}), got an array of dtype {value.dtype}")
    else:
        for v in _leaves(value):
            if not _is_real_scalar(v):
                what = "a real number or an array of real numbers"
                raise InputError(f"{name} must be {what} ({rng}), got {_show(value)}" if v is value else
                                 f"{name} must contain only real numbers ({rng}), got {_show(v)}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a real number or an array of real numbers ({rng}), got {_show(value)}") from None
    scalar = arr.ndim == 0
    flat = np.atleast_1d(arr).ravel()
    if flat.size == 0:
        raise InputError(f"{name} must not be empty")
    if np.isnan(flat).any():
        raise InputError(f"{name} must not contain NaN ({rng})")
    bad_lo = (flat <= lo) if lo_open else (flat < lo)
    bad_hi = (flat >= hi) if hi_open else (flat > hi)
    if bad_lo.any() or bad_hi.any():
        bad = flat[bad_lo | bad_hi][0]
        raise InputError(f"{name} must be {rng}, got {float(bad)!r}")
    return flat.astype(np.float64), scalar


def check_dpsgd_noise_multiplier(value: Any, name: str = "noise_multiplier") -> float:
    """``value`` as float if it is a real number in [SIGMA_MIN, SIGMA_MAX] (the accepted DP-SGD domain)."""
    sigma = check_positive(name, value)
    if not SIGMA_MIN <= sigma <= SIGMA_MAX:
        raise InputError(f"{name} must be in [{SIGMA_MIN:g}, {SIGMA_MAX:g}] (the accepted DP-SGD domain), got {_show(value)}")
    return sigma


def check_dpsgd_sampling_probability(value: Any, name: str = "sampling_probability") -> float:
    """``value`` as float if it is a real number in [Q_MIN, Q_MAX] (the accepted DP-SGD domain)."""
    q = check_probability(name, value)
    if not Q_MIN <= q <= Q_MAX:
        raise InputError(f"{name} must be in [{Q_MIN:g}, {Q_MAX:g}] (the accepted DP-SGD domain), got {_show(value)}")
    return q


def check_dpsgd_steps(value: Any, name: str = "steps") -> int:
    """``value`` as int if it is an integer in [STEPS_MIN, STEPS_MAX] (the accepted DP-SGD domain)."""
    T = check_count(name, value, allow_zero=False)
    if not STEPS_MIN <= T <= STEPS_MAX:
        raise InputError(f"{name} must be an integer in [{STEPS_MIN}, {STEPS_MAX:.0e}] (the accepted DP-SGD domain), "
                         f"got {_show(value)}")
    return T


def check_dpsgd_domain(noise_multiplier: Any, sampling_probability: Any, steps: Any) -> tuple[float, float, int]:
    """Check a DP-SGD configuration against the accepted domain; return ``(sigma, q, steps)``.

    The domain is ``noise_multiplier`` in [SIGMA_MIN, SIGMA_MAX] = [0.05, 1e4], ``sampling_probability``
    in [Q_MIN, Q_MAX] = [1e-12, 1] and ``steps`` an integer in [STEPS_MIN, STEPS_MAX] = [1, 1e12]. Outside
    it an :class:`InputError` (a ValueError) names the argument, the limit and the value.
    """
    return (check_dpsgd_noise_multiplier(noise_multiplier), check_dpsgd_sampling_probability(sampling_probability),
            check_dpsgd_steps(steps))
