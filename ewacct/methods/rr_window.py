"""n-fold binary randomized response: the exact binomial sum over a window of counts (not over all n + 1).

``delta(eps) = sum_{k >= k_min} Bin(k; n, r) (1 - e^{eps - eps0 (2k - n)})`` with ``r = e^eps0 / (1 + e^eps0)``
and ``k_min`` the least count whose loss exceeds eps.  Every term is at most its pmf (the factor is in
[0, 1)), so the terms left out of a window ``[lo, hi]`` add at most the binomial mass outside it, bounded by
the Chernoff (relative-entropy) inequality ``P(K >= k) <= exp(-n D(k/n || r))`` for ``k/n >= r`` (and the
mirror for ``K <= k``).  The window is ``mode +- WINDOW_SD`` standard deviations (the pmf there is below
``e^-800`` of its peak); its pmf (Boost, a few ulps) is computed once per ``(eps0, n)`` and reused by
every evaluation of the eps(delta) search.  Where eps lies beyond the window the window is moved to start
at ``k_min`` and grown until the Chernoff bound of what is left is below ``REL_OMIT`` of the sum.

The answer is exact (``valid=True``) when the omitted mass bound is below ``REL_OMIT`` times the sum; the
window holds at most ``MAX_WINDOW`` counts (``sd <~ 1.6e4``, ``n <~ 1e9`` at small eps0).  Beyond that,
or where the bound does not settle, the answer is the Chernoff upper bound on ``P(K >= k_min) >= delta``,
flagged ``valid=False``: O(1) work, never an array sized by n (was: ``np.arange(n + 1)``, 13 s at n = 1e6
per eps(delta), a MemoryError at n = 1e9).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: half-width of the cached window, in standard deviations of the count (pmf < e^-800 of its peak there)
WINDOW_SD = 40.0
#: most counts in the cached window (~0.13 us of Boost pmf per count, once; n = 1e9 at eps0 = 0.1 needs
#: 1.26e6): beyond it the answer is the flagged Chernoff bound (n = 3e9 took 3.2 s with fresh windows)
MAX_WINDOW = 1_300_000
#: the omitted mass must be below this fraction of the sum for the answer to count as exact
REL_OMIT = 1e-17


def _r(eps0: float) -> float:
    return 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0


def _h(t: float) -> float:
    """(1 + t) log1p(t) - t >= 0 (t > -1) without cancellation: its series below |t| = 1e-3."""
    if abs(t) < 1e-3:
        return t * t * (0.5 - t * (1.0 / 6.0 - t * (1.0 / 12.0 - t * (1.0 / 20.0 - t / 30.0))))
    if t <= -1.0:
        return 1.0
    return (1.0 + t) * math.log1p(t) - t


def _log_tail(k: float, n: int, r: float, upper: bool) -> float:
    """log of a Chernoff bound on P(K >= k) (upper) or P(K <= k) (not upper), K ~ Bin(n, r): -n D(k/n || r)
    where k/n lies on that side of r, else 0 (the trivial bound 1).  D = r h(d/r) + (1-r) h(-d/(1-r)),
    d = k/n - r (k - n r exactly in rationals, then rounded), h without cancellation; the margin covers the
    rounding (relative ~1e-13) and r's own rounding (|dr| <= u r, relative 2 u r / |d| in D); it only
    loosens the bound."""
    from fractions import Fraction

    d = float((Fraction(k) - n * Fraction(r)) / n)
    if upper and not d > 0.0:
        return 0.0
    if not upper and not d < 0.0:
        return 0.0
    big = d >= 1.0 - r if upper else -d >= r
    if big:  # k at or beyond the end of the support
        return -math.inf if (k > n or k < 0) else (n * math.log(r) if upper else n * math.log1p(-r))
    D = r * _h(d / r) + (1.0 - r) * _h(-d / (1.0 - r))
    margin = 1e-10 + 8.0 * 2.2e-16 * max(r, 1.0 - r) / abs(d)
    return -n * D * (1.0 - margin)


def _kmin(eps: float, eps0: float, n: int) -> int:
    """Least k with eps0 * float(2k - n) > eps (the same predicate, in doubles, as the full sum had)."""
    k = min(n + 1, max(0, int(math.floor((n + eps / eps0) / 2.0))))
    while k > 0 and eps0 * float(2 * (k - 1) - n) > eps:
        k -= 1
    while k <= n and not eps0 * float(2 * k - n) > eps:
        k += 1
    return k


@lru_cache(maxsize=2)
def _window(eps0: float, n: int) -> tuple[int, np.ndarray] | None:
    """(lo, pmf over lo..hi) around the mode, or None when the window would exceed MAX_WINDOW counts."""
    from scipy.stats import binom

    r = _r(eps0)
    sd = math.sqrt(n * r * (1.0 - r))
    half = int(math.ceil(WINDOW_SD * sd)) + 16
    mode = int(math.floor((n + 1) * r))
    lo, hi = max(0, mode - half), min(n, mode + half)
    if hi - lo + 1 > MAX_WINDOW:
        return None
    k = np.arange(lo, hi + 1, dtype=np.float64)
    return lo, binom.pmf(k, n, r)


def _sum(k: np.ndarray, pmf: np.ndarray, eps: float, eps0: float, n: int) -> float:
    loss = eps0 * (2.0 * k - float(n))  # 2k - n exact (|.| <= n <= 2^53)
    # positive terms: the pairwise sum's relative error is ~log2(size) ulps
    return float(np.sum(pmf * -np.expm1(eps - loss)))


@lru_cache(maxsize=512)
def rr_delta_window(eps: float, eps0: float, n: int) -> tuple[float, bool]:
    """(delta(eps), exact) of n-fold randomized response.  exact=False: a Chernoff upper bound (flag it).

    Cached: both directions coincide, and their eps(delta) searches evaluate the same points."""
    from scipy.stats import binom

    n = int(n)
    r = _r(eps0)
    kmin = _kmin(eps, eps0, n)
    if kmin > n:
        return 0.0, True
    if _log_tail(kmin, n, r, True) < -746.0:  # delta <= P(K >= kmin) < 2^-1075: below every double
        return 0.0, True
    sd = math.sqrt(n * r * (1.0 - r))
    step = int(math.ceil(6.0 * sd)) + 64
    win = _window(eps0, n)
    if win is None:
        return min(1.0, math.exp(_log_tail(kmin, n, r, True))), False
    lo, pmf = win
    top = lo + pmf.shape[0] - 1
    if kmin <= top:
        a = max(kmin, lo)
        log_low = _log_tail(lo - 1, n, r, False) if kmin < lo else -math.inf
        # short slices above a first (past mode + 4 sd the pmf falls by > e^-40 within 6 sd), then all
        for hi in sorted({min(top, a + step - 1), min(top, a + 3 * step - 1), top}):
            k = np.arange(a, hi + 1, dtype=np.float64)
            total = _sum(k, pmf[a - lo:hi - lo + 1], eps, eps0, n)
            log_up = _log_tail(hi + 1, n, r, True) if hi < n else -math.inf
            if total > 0.0 and max(log_up, log_low) < math.log(total * REL_OMIT):
                return total, True
    # eps beyond the cached window: start at kmin, grow until the rest is negligible
    w = step
    while w <= MAX_WINDOW // 4:
        hi = min(n, kmin + w - 1)
        k = np.arange(kmin, hi + 1, dtype=np.float64)
        total = _sum(k, binom.pmf(k, n, r), eps, eps0, n)
        if hi == n or (total > 0.0 and _log_tail(hi + 1, n, r, True) < math.log(total * REL_OMIT)):
            return total, True
        w *= 4
    # flagged: delta(eps) <= P(K >= kmin) <= exp(-n D(kmin/n || r)); exact where that is below the doubles
    return min(1.0, math.exp(_log_tail(kmin, n, r, True))), False
