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
#: the s of the cheap Chernoff enclosures (any s > 0 gives a bound)
CHERNOFF_S = tuple(2.0 ** k for k in range(-4, 12))
#: terms are left at their cheap enclosure [0, Chernoff] while the width they leave together is at most this
#: fraction of the lower sum (so the bracket widens by at most SKIP_REL relative)
SKIP_REL = 1e-9


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
        self.fail_x = {"remove": math.inf, "add": math.inf}

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

    def estimate(self, d: str, x: float) -> float:
        """A float estimate of delta_{R,d}(x) for any real x (the engine's contour; where it misses its tolerance,
        the Chernoff bound: such terms are far in the tail).  Sets the eps search only."""
        if x < 0.0:
            return -math.expm1(x) + math.exp(x) * self.estimate("add" if d == "remove" else "remove", -x)
        if x >= self.sup[d]:
            return 0.0
        if x >= self.fail_x[d]:  # (the engine missed its tolerance at a smaller x: 30-200 ms per miss)
            return self.chernoff_hi(d, x)
        try:
            ld = self.eng.dirs[d].log_delta(x).log_delta
        except Exception:  # noqa: BLE001 - an estimate only
            self.fail_x[d] = min(self.fail_x[d], x)
            return self.chernoff_hi(d, x)
        return math.exp(ld) if math.isfinite(ld) else 0.0

    def chernoff_hi(self, d: str, x: float) -> float:
        """A rigorous upper bound on delta_{R,d}(x), x >= 0: the Chernoff bound of the certifier's direction
        (real-MGF enclosures, ``chernoff_log_delta_hi``) at the best of a geometric grid of s (~25 us each)."""
        if x >= self.sup[d]:
            return 0.0
        best = self.cf.dirs[d].chernoff_log_delta_hi(x, CHERNOFF_S)
        return min(math.exp(best) * (1.0 + 4.0 * RL), 1.0) if best < 700.0 else 1.0  # (exp within RL)

    def term(self, d: str, x_lo: float, x_hi: float, cheap: bool = False) -> tuple[float, float]:
        """[lo, hi] on delta_{R,d}(x) for every x in [x_lo, x_hi] (non-increasing in x).  cheap: the contour
        brackets replaced by [0, the Chernoff bound] (a wider enclosure, no contour)."""
        other = "add" if d == "remove" else "remove"
        br = (lambda dd, x: (0.0, self.chernoff_hi(dd, x))) if cheap else self.bracket
        if x_lo >= 0.0:
            hi = br(d, x_lo)[1]
        else:  # 1 - e^x + e^x delta_{d'}(-x), at x = x_lo (the largest value)
            hi = ((-math.expm1(x_lo)) * (1.0 + 2.0 * RL) + math.exp(x_lo) * (1.0 + 2.0 * RL)
                  * br(other, -x_lo)[1]) * (1.0 + 4.0 * U)
        if x_hi >= 0.0:
            lo = br(d, x_hi)[0]
        else:
            lo = ((-math.expm1(x_hi)) * (1.0 - 2.0 * RL) + math.exp(x_hi) * (1.0 - 2.0 * RL)
                  * br(other, -x_hi)[0]) * (1.0 - 4.0 * U)
        return max(lo, 0.0), min(hi, 1.0)


class _Mix:
    def __init__(self, rr, rest, deadline: float):
        self.a_lo, self.a_hi, self.w_lo, self.w_hi = _lattice(rr)
        self.rest = _Rest(rest, deadline)

    def delta(self, eps: float) -> tuple[float, float]:
        """[lower, upper] on delta(eps) = max over directions.

        Every term is first enclosed cheaply (the rest's delta in [0, its Chernoff bound]); the contour brackets
        are then computed for the terms in decreasing order of the width they leave (w_hi (hi - lo)), until the
        width the cheap terms still leave is at most SKIP_REL of the lower sum (H-R10 F4 / issue 9: RR(0.5) x 10
        + PSG(2, 0.01) x 50 spent ~55 ms per contour bracket on terms of weight x delta ~1e-17)."""
        lo_all = hi_all = 0.0
        n = len(self.a_lo)
        for d in ("remove", "add"):
            xs = []
            tl = np.empty(n)
            th = np.empty(n)
            for j in range(n):
                x_lo = float(np.nextafter(eps - self.a_hi[j], -np.inf))
                x_hi = float(np.nextafter(eps - self.a_lo[j], np.inf))
                xs.append((x_lo, x_hi))
                tl[j], th[j] = self.rest.term(d, x_lo, x_hi, cheap=True)
            gap = self.w_hi * th - self.w_lo * tl
            for j in np.argsort(-gap):
                left = float(np.sum(gap))
                if left <= SKIP_REL * float(np.dot(self.w_lo, tl)) or gap[j] <= 0.0:
                    break
                tl[j], th[j] = self.rest.term(d, *xs[j])
                gap[j] = float(self.w_hi[j] * th[j] - self.w_lo[j] * tl[j])
                if tl[j] == 0.0 and gap[j] > 0.1 * float(np.dot(self.w_hi, th)):
                    # a dominant term without a lower bound (the rest's contour loses its lower end in the
                    # few-participation corner): no bracket of issue 9's width here; declined at once
                    raise _Decline("the rest's lower bound is lost on a dominant term")
            lo_s = math.fsum(float(w) * t for w, t in zip(self.w_lo, tl))
            hi_s = math.fsum(float(w) * t for w, t in zip(self.w_hi, th))
            # products within U each, fsum within U (the terms are >= 0): 2 U, doubled
            g = 4.0 * U
            lo_all = max(lo_all, lo_s * (1.0 - g))
            hi_all = max(hi_all, hi_s * (1.0 + g))
        return lo_all, min(hi_all, 1.0)


    def delta_estimate(self, eps: float) -> float:
        """A float estimate of delta(eps) (max over directions): the lattice over the engine's estimates of the
        rest, terms whose weight times Chernoff bound is below 1e-12 of the largest left out."""
        best = 0.0
        for d in ("remove", "add"):
            w = 0.5 * (self.w_lo + self.w_hi)
            x = eps - 0.5 * (self.a_lo + self.a_hi)
            cap = self._caps(d, eps, x, w)
            top = float(cap.max())
            tot = 0.0
            for j in range(len(x)):
                if cap[j] > 1e-12 * top:
                    tot += float(w[j]) * self.rest.estimate(d, float(x[j]))
            best = max(best, tot)
        return best

    #: the screening caps of delta_estimate are reused while eps moves by at most this (relative to max(eps, 1)): they
    #: only choose the terms an estimate sums (the bisection's ~35 evaluations asked ~4000 Chernoff bounds: ~30 % of R's
    #: CPU on RR(0.1861) x 57 + PSG x 55)
    CAP_REUSE = 0.02

    def _caps(self, d: str, eps: float, x, w):
        memo = self.__dict__.setdefault("_cap_memo", {})
        got = memo.get(d)
        if got is not None and abs(eps - got[0]) <= self.CAP_REUSE * max(abs(eps), 1.0):
            return got[1]
        cap = np.array([1.0 if xx < 0.0 else self.rest.chernoff_hi(d, float(xx)) for xx in x]) * w
        memo[d] = (eps, cap)
        return cap

    def epsilon_estimate(self, delta: float, lo: float, hi: float) -> float | None:
        """A float estimate of eps(delta) by bisection of delta_estimate on [lo, hi] (widened where it does not
        bracket); None where nothing brackets."""
        f = self.delta_estimate
        if not (math.isfinite(hi) and hi > lo >= 0.0):
            lo, hi = 0.0, max(hi if math.isfinite(hi) else 1.0, 1e-3)
        for _ in range(30):
            if f(hi) <= delta:
                break
            lo, hi = hi, 2.0 * hi + 1e-3
        else:
            return None
        if lo > 0.0 and f(lo) <= delta:
            lo = 0.0
        while hi - lo > 1e-10 * hi + 1e-15:
            if budget.clock() > self.rest.deadline:
                raise _Decline("time budget")
            mid = 0.5 * (lo + hi)
            if f(mid) <= delta:
                hi = mid
            else:
                lo = mid
        return 0.5 * (lo + hi)


def epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, estimate: float | None,
                    time_budget: float | None = None, lo: float = 0.0, hi: float = math.inf,
                    out: dict[str, Any] | None = None) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on eps(delta), or None (not such a mix, no bracket within the budget).

    estimate: sets where the two ends are verified only (any value > 0); None: the module's own float estimate
    (the lattice over the engine's estimates of the rest, bisected within [lo, hi] -- e.g. a proven bracket;
    the default engine answers such mixes with a flagged Chernoff bound after ~1.4 s).  out: receives that
    estimate ("estimate") where given."""
    sp = _split(groups)
    if sp is None or not (0.0 < delta < 1.0):
        return None
    t0 = budget.clock()
    try:
        mix = _Mix(*sp, t0 + (TIME_BUDGET if time_budget is None else time_budget))
        if estimate is None:
            estimate = mix.epsilon_estimate(delta, lo, hi)
            if out is not None:
                out["estimate"] = estimate  # (for the caller's next source where this one declines)
        if estimate is None or not (math.isfinite(estimate) and estimate > 0.0):
            return None
        for r in HALF_WIDTHS:
            e_hi = estimate * (1.0 + r)
            e_lo = estimate * (1.0 - r)
            if mix.delta(e_hi)[1] > delta:
                continue
            lo_d, hi_d = mix.delta(e_lo)
            if lo_d > delta:
                return e_lo, e_hi, {"half_width": r, "points": len(mix.a_lo), "estimate": estimate,
                                    "seconds": budget.clock() - t0}
            if lo_d < 1e-2 * hi_d:
                return None  # the rest's lower bounds are lost here (its contour's, few participations)
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
