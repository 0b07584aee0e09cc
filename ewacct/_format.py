"""Printing bounds without breaking them: directed decimal rounding.

A certified upper bound 8.289100453 printed with ``f"{x:.6g}"`` reads 8.2891, which is *below* the
bound and may be below the truth (the true epsilon is 8.28910008 there).  A number offered as an upper
bound is therefore rounded up (toward +inf) to its printed digits, a lower bound down, and a noise
multiplier that meets an epsilon target up (more noise never spends more privacy).  The rounding is
done on the exact binary value with :mod:`decimal`, so the printed decimal itself is the bound.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

__all__ = ["fmt_up", "fmt_down", "fixed_up", "fixed_down", "fmt_bound"]


def _sig(x: float, sig: int, rounding: str) -> str:
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    if x == 0.0:
        return "0"
    d = Decimal(x)  # the exact binary value
    r = d.quantize(Decimal(1).scaleb(d.adjusted() - sig + 1), rounding=rounding)
    # r has at most sig significant digits (sig + 1 only as a power of ten after a carry); the double
    # nearest to it prints back as r at sig digits, except among subnormals (5e-324 prints 4.94066e-324)
    out = f"{float(r):.{sig}g}"
    return out if Decimal(out) == r else format(r.normalize(), "g")


def fmt_up(x: float | None, sig: int = 6) -> str:
    """``x`` to ``sig`` significant digits, rounded toward +inf (for upper bounds)."""
    return _sig(x, sig, ROUND_CEILING)  # type: ignore[arg-type]


def fmt_down(x: float | None, sig: int = 6) -> str:
    """``x`` to ``sig`` significant digits, rounded toward -inf (for lower bounds)."""
    return _sig(x, sig, ROUND_FLOOR)  # type: ignore[arg-type]


def _fixed(x: float | None, decimals: int, rounding: str) -> str:
    if x is None:
        return "-"
    x = float(x)
    if not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    r = Decimal(x).quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
    return f"{r:.{decimals}f}"


def fixed_up(x: float | None, decimals: int) -> str:
    """``x`` with ``decimals`` digits after the point, rounded toward +inf."""
    return _fixed(x, decimals, ROUND_CEILING)


def fixed_down(x: float | None, decimals: int) -> str:
    """``x`` with ``decimals`` digits after the point, rounded toward -inf."""
    return _fixed(x, decimals, ROUND_FLOOR)


def fmt_bound(x: float | None, digits: int = 4, *, up: bool) -> str:
    """A table cell for a bound, in the style of ``ewacct.commands._common.fmt`` (``digits`` decimals,
    or ``digits`` significant digits below 1e-3 and from 1e5 on), rounded toward +inf (``up``, an upper
    bound) or -inf (a lower bound)."""
    if x is not None and x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return (fmt_up if up else fmt_down)(x, digits)
    return (fixed_up if up else fixed_down)(x, digits)
