"""Certified eps(delta) / delta(eps) of randomized response mixed with Gaussian / Poisson-subsampled Gaussian
steps: the randomized-response lattice summed exactly over the contour certificate of the rest
(docs/certified_mixed.md, part R).

Randomized response of parameter e0 has, in both directions, the loss +e0 with probability
p = e^e0 / (1 + e^e0) and -e0 otherwise; the groups' product lattice has points a_j with weights w_j
(bounds/rr_lattice._group: Arb weights, outward-rounded points).  The rest R (subsampled Gaussians and
Gaussians) is independent of it, so for each direction d

    delta_d(eps) = sum_j w_j delta_{R,d}(eps - a_j),

with delta_{R,d}(x) = E[(1 - e^{x - L_R})_+] for every real x; for x < 0 the hockey-stick identity
H_g(P||Q) = 1 - g + g H_{1/g}(Q||P) gives delta_{R,d}(x) = 1 - e^x + e^x delta_{R,d'}(-x) (d' the other
direction), a positive sum.  Each delta_{R,d} at an argument >= 0 is bracketed by the contour certificate
(methods/certified.py: ContourCertifier._contour + delta_bounds, rigorous for any contour it builds), and
delta_{R,d} is non-increasing, so the outward points give each term's ends.  An eps bracket is verified at
two points around an estimate (upper end: the upper delta bound <= delta; lower end: the lower delta bound
> delta), widened until both hold.  The number of lattice points is held to MAX_POINTS.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..methods import budget
from ._two_step_kernel import RL, U

SOURCE = "randomized-response lattice summed over the contour certificate of the rest"
#: most lattice points (each costs two contour brackets per direction and point evaluated)
MAX_POINTS = 64
#: CPU seconds one bracket may spend
TIME_BUDGET = 1.5
#: relative half-widths tried around the estimate (eps brackets)
HALF_WIDTHS = (1e-6, 2.5e-5, 1e-3, 1e-2)


class _Decline(Exception):
    pass


def _split(groups: Sequence[tuple[Any, int]]):
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian, RandomizedResponse

    rr, rest = [], []
    for m, n in groups:
        if int(n) <= 0:
            continue
        if isinstance(m, RandomizedResponse):
            rr.append((float(m.epsilon0), int(n)))
        elif isinstance(m, (Gaussian, PoissonSubsampledGaussian)):
            rest.append((m, int(n)))
        else:
            return None
    if not rr or not rest:
        return None
    size = 1
    for _, n in rr:
        size *= n + 1
    if size > MAX_POINTS:
        return None
    return rr, rest


def _lattice(rr):
    """(a_lo, a_hi, w_lo, w_hi) of every point of the product lattice, outward (as rr_lattice._lattice, without
    dropping the points <= 0: the rest can carry them above eps)."""
    from .rr_lattice import _group

    a_lo = np.zeros(1)
    a_hi = np.zeros(1)
    w_lo = np.ones(1)
    w_hi = np.ones(1)
    for e0, n in rr:
        g_alo, g_ahi, g_wlo, g_whi = _group(e0, n)
        a_lo = np.nextafter((a_lo[:, None] + g_alo[None, :]).ravel(), -np.inf)
        a_hi = np.nextafter((a_hi[:, None] + g_ahi[None, :]).ravel(), np.inf)
        w_lo = (w_lo[:, None] * g_wlo[None, :]).ravel() * (1.0 - 4.0 * U)
        w_hi = (w_hi[:, None] * g_whi[None, :]).ravel() * (1.0 + 4.0 * U)
    return a_lo, a_hi, w_lo, w_hi


class _Rest:
    """Contour brackets of the rest's delta_{R,d}(x) for x >= 0, per direction."""

    def __init__(self, rest, deadline: float):
        from ..accountant import Accountant
        from ..methods.certified import ContourCertifier

        a = Accountant()
        for m, n in rest:
            a = a.compose(m, n)
        eng = a._exact_engine()
        if eng is None:
            raise _Decline("no exact engine for the rest")
        self.eng = eng
        self.cf = ContourCertifier(eng.groups, eng)
        self.deadline = deadline
        self.sup = {d: float(eng.dirs[d].K.loss_sup) for d in ("remove", "add")}

    def bracket(self, d: str, x: float) -> tuple[float, float]:
        """[lo, hi] on delta_{R,d}(x), x >= 0."""
        from ..methods.certified import delta_bounds

        if x >= self.sup[d]:
            return 0.0, 0.0
        if budget.clock() > self.deadline:
            raise _Decline("time budget")
        try:
            ld = self.eng.dirs[d].log_delta(x).log_delta
        except Exception:  # noqa: BLE001 - the engine's own tolerance missed: its Chernoff bound sets the scale
            ld = min(self.cf._chernoff_hi(d, x, 1.0), 0.0)  # (any scale gives a valid bracket: it sets the tolerance)
        if not math.isfinite(ld):
            raise _Decline("no estimate of the rest's delta")
        cc, s_alias = self.cf._contour(d, x, ld, self.deadline)
        lo, hi, _ = delta_bounds(self.cf.dirs[d], cc, x, s_alias)
        return max(lo, 0.0), min(hi, 1.0)

    def term(self, d: str, x_lo: float, x_hi: float) -> tuple[float, float]:
        """[lo, hi] on delta_{R,d}(x) for every x in [x_lo, x_hi] (non-increasing in x)."""
        other = "add" if d == "remove" else "remove"
        if x_lo >= 0.0:
            hi = self.bracket(d, x_lo)[1]
        else:  # 1 - e^x + e^x delta_{d'}(-x), at x = x_lo (the largest value)
            hi = ((-math.expm1(x_lo)) * (1.0 + 2.0 * RL) + math.exp(x_lo) * (1.0 + 2.0 * RL)
                  * self.bracket(other, -x_lo)[1]) * (1.0 + 4.0 * U)
        if x_hi >= 0.0:
            lo = self.bracket(d, x_hi)[0]
        else:
            lo = ((-math.expm1(x_hi)) * (1.0 - 2.0 * RL) + math.exp(x_hi) * (1.0 - 2.0 * RL)
                  * self.bracket(other, -x_hi)[0]) * (1.0 - 4.0 * U)
        return max(lo, 0.0), min(hi, 1.0)


class _Mix:
    def __init__(self, rr, rest, deadline: float):
        self.a_lo, self.a_hi, self.w_lo, self.w_hi = _lattice(rr)
        self.rest = _Rest(rest, deadline)

    def delta(self, eps: float) -> tuple[float, float]:
        """[lower, upper] on delta(eps) = max over directions."""
        lo_all = hi_all = 0.0
        n = len(self.a_lo)
        for d in ("remove", "add"):
            lo_s = hi_s = 0.0
            for j in range(n):
                x_lo = float(np.nextafter(eps - self.a_hi[j], -np.inf))
                x_hi = float(np.nextafter(eps - self.a_lo[j], np.inf))
                tl, th = self.rest.term(d, x_lo, x_hi)
                lo_s += float(self.w_lo[j]) * tl
                hi_s += float(self.w_hi[j]) * th
            g = (2 * n + 4) * U
            lo_all = max(lo_all, lo_s * (1.0 - g))
            hi_all = max(hi_all, hi_s * (1.0 + g))
        return lo_all, min(hi_all, 1.0)


def epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, estimate: float,
                    time_budget: float | None = None) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on eps(delta), or None (not such a mix, no bracket within the budget)."""
    sp = _split(groups)
    if sp is None or not (0.0 < delta < 1.0) or not (math.isfinite(estimate) and estimate > 0.0):
        return None
    t0 = budget.clock()
    try:
        mix = _Mix(*sp, t0 + (TIME_BUDGET if time_budget is None else time_budget))
        for r in HALF_WIDTHS:
            e_hi = estimate * (1.0 + r)
            e_lo = estimate * (1.0 - r)
            if mix.delta(e_hi)[1] > delta:
                continue
            if mix.delta(e_lo)[0] > delta:
                return e_lo, e_hi, {"half_width": r, "points": len(mix.a_lo), "seconds": budget.clock() - t0}
        return None
    except Exception:  # noqa: BLE001 - the contour's own failures (deadline, trouble) mean "no bracket here"
        return None


def delta_bracket(groups: Sequence[tuple[Any, int]], eps: float,
                  time_budget: float | None = None) -> tuple[float, float, dict[str, Any]] | None:
    sp = _split(groups)
    if sp is None or not (math.isfinite(eps) and eps >= 0.0):
        return None
    t0 = budget.clock()
    try:
        mix = _Mix(*sp, t0 + (TIME_BUDGET if time_budget is None else time_budget))
        lo, hi = mix.delta(eps)
    except Exception:  # noqa: BLE001
        return None
    return lo, hi, {"points": len(mix.a_lo), "seconds": budget.clock() - t0}
