"""Golden-section search for the minimum of a unimodal function (shared by the engines' Chernoff and
saddle searches), and the integer bisection for the first count where a monotone test holds."""

from __future__ import annotations

import math
from collections.abc import Callable

#: (sqrt 5 - 1) / 2
RATIO = (math.sqrt(5.0) - 1.0) / 2.0


def golden_section(f: Callable[[float], float], lo: float, hi: float, *, iters: int = 100,
                   tol: float = 0.0) -> tuple[float, float, float, float, float, float]:
    """Shrink [lo, hi] around the minimum of a unimodal ``f`` by golden sections.

    Stops after ``iters`` sections or once the bracket is narrower than ``tol``.  Returns
    ``(a, b, x1, f1, x2, f2)``: the final bracket and its two interior points with their values (the
    smaller of ``f1, f2`` is the least value seen since the first section; ties keep the left point).
    """
    a, b = lo, hi
    x1, x2 = b - RATIO * (b - a), a + RATIO * (b - a)
    f1, f2 = f(x1), f(x2)
    for _ in range(iters):
        if f1 <= f2:
            b, x2, f2 = x2, x1, f1
            x1 = b - RATIO * (b - a)
            f1 = f(x1)
        else:
            a, x1, f1 = x1, x2, f2
            x2 = a + RATIO * (b - a)
            f2 = f(x2)
        if b - a < tol:
            break
    return a, b, x1, f1, x2, f2


def first_true(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest integer in (lo, hi] where the monotone ``ok`` holds, given ``ok(hi)`` and not ``ok(lo)``
    (neither end is evaluated)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
