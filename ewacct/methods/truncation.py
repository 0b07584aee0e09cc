"""The REMOVE direction of the contour engine with each step's upper measure truncated (the far mode).

For the Poisson-subsampled Gaussian, REMOVE's upper measure is P = (1 - q) N(0, 1) + q N(mu, 1) and the
step loss l(x) = log(1 - q + q e^{mu x - mu^2/2}) grows linearly (mu x + log q) beyond the knee
x ~ log(1/q) / mu.  For real z above ~ 2 log(1/q) / mu^2 the MGF E_P[e^{z l}] is dominated by a far mode
at x ~ (z + 1) mu that says nothing about the loss near eps: the saddle point of the full K then lands
in that mode, where the node sum cancels astronomically (class A of the coverage sweep: sum |terms| /
delta ~ e^17), or the saddle the query needs (c ~ 1e6 when eps ~ 1e-5 at large sigma / tiny q, class C)
lies beyond it and the kernel's x-range (~ c mu) explodes.

The fix (the same as ``fewpart.py``'s, docs/math.md "few participations"): with x0 such that
sum_g n_g P_g(X > x0) <= TRUNC_FRACTION * delta, truncate each step's upper measure at x0.  The truncated
composition is a positive measure of mass <= 1 and, since the payoff (1 - e^{eps - L})_+ lies in [0, 1],

    delta_A(eps) <= delta(eps) <= delta_A(eps) + sum_g n_g P_g(X > x0).

delta_A is the same contour integral with K_A(z) = sum_g n_g log E_P[e^{z l}; X <= x0], an entire function
without the far mode (its Chernoff bounds, which fix the trapezoid's alias period, hold for it as well:
the measure has mass <= 1).  The truncation bound is carried in the answer's error estimate.

This module holds the truncated REMOVE direction (:class:`TruncatedRemove`, the engine of
``exact.py`` with K_A, an abscissa kept below the truncation edge and no upper limit on the saddle)
and the rule that routes a query to it (:func:`remove_epsilon`, :func:`remove_log_delta`): the far mode
is in play when the full K at K_A's saddle exceeds K_A by more than ``FAR_GAP`` (in log), i.e. when the
truncation changes the integrand itself, not only its far tail.  Elsewhere the full engine answers (its
answers unchanged), and the truncated engine is its fallback; in the far mode the truncated engine alone
answers (the full K's node sum cancels there), and a failure goes to the caller's Chernoff bound.

The truncated log-MGF kernel is ``fewpart.py``'s (``Composition``: Gauss-Legendre on a shifted x-path,
closed by a vertical segment at x0, in the cancellation-free f-form).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .contour import ContourError, LogMgf, alias_period, build_contour, log_delta_on, psi_grid
from .contour import saddle_estimate
from .exact import DEFAULT_RTOL, EPS_MACH, DirectionAnswer, ExactDirection, over_budget, saddle_curve_start
from . import budget
from .._golden import first_true

#: the truncation's (one-sided) error is kept below this fraction of delta
TRUNC_FRACTION = 1e-10
#: the far mode is in play when K(c) - K_A(c) exceeds this at K_A's saddle
FAR_GAP = 1e-3
#: largest estimated relative error on delta an answer of the truncated direction may carry (on eps it is
#: this divided by |d log delta / d log eps|, and the accountant flags anything above 1e-6)
ACCEPT_RTOL = 1e-7
#: node budget of one truncated contour (deterministic)
MAX_NODES = 6000
#: largest log of (sum |terms| / delta) a truncated contour may face (estimated before it is built)
PEN_MAX = 16.0
#: tilted weight (log) the truncation edge may carry at the abscissa
EDGE_LOG_WEIGHT = -28.0
DEBUG = False


def sg_params(groups: Sequence[tuple[Any, int]]) -> tuple[list[tuple[float, float, int]], float] | None:
    """([(q, sigma, n)] of the subsampled groups (q < 1), sum of n mu^2 of the Gaussian ones), or None
    when some group is neither (then no truncation applies)."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian

    sg: list[tuple[float, float, int]] = []
    g2 = 0.0
    for m, n in groups:
        if isinstance(m, PoissonSubsampledGaussian):
            q, s = float(m.sampling_probability), float(m.noise_multiplier)
            if q < 1.0:
                sg.append((q, s, int(n)))
            else:
                g2 += n / (s * s)
        elif isinstance(m, Gaussian):
            g2 += n / float(m.noise_multiplier) ** 2
        else:
            return None
    if not sg:
        return None
    return sg, g2


class TruncatedLogMgf(LogMgf):
    """K_A of REMOVE with the truncation bound ``trunc`` (delta_A <= delta <= delta_A + trunc)."""

    def __init__(self, sg: list[tuple[float, float, int]], g2: float, log_budget: float,
                 x0_min: Sequence[float] | None = None) -> None:
        from .fewpart import Composition

        self.comp = Composition(sg, "remove", log_budget, x0_min)
        self.trunc = float(self.comp.trunc)
        self.g2 = g2
        self.state = {"deadline": math.inf}
        self._memo: dict[float, float] = {}
        super().__init__(complex_fn=self._complex, real_fn=self._real, loss_sup=math.inf, max_nodes=MAX_NODES)

    def _complex(self, z: np.ndarray) -> np.ndarray:
        if budget.clock() > self.state["deadline"]:  # CPU time, as exact.clock
            raise ContourError(over_budget())
        z = np.ascontiguousarray(z, dtype=np.complex128)
        out = self.comp(z)
        if self.g2:
            out = out + 0.5 * self.g2 * z * (z + 1.0)
        return out

    def value(self, t: float) -> float:
        v = self._memo.get(t)
        if v is None:
            v = float(self._complex(np.array([complex(t, 0.0)]))[0].real)
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[t] = v
        return v

    def _real(self, t: float, nmax: int) -> np.ndarray:
        """K_A(t) and finite-difference derivatives (used only to place the contour)."""
        out = np.zeros(max(nmax, 0) + 1)
        out[0] = self.value(t)
        if nmax == 0:
            return out
        h = 1e-4 * max(abs(t), 1e-2)
        kp, km = self.value(t + h), self.value(t - h)
        out[1] = (kp - km) / (2.0 * h)
        if nmax >= 2:
            out[2] = max((kp - 2.0 * out[0] + km) / (h * h), 1e-300)
        return out

    def edge_cap(self) -> float:
        return float(self.comp.edge_cap(EDGE_LOG_WEIGHT))


def saddle_wide(K: LogMgf, eps: float, cmax: float = math.inf) -> float:
    """Minimiser c > 0 of Phi(c) = K(c) - c eps - log c - log(c + 1) by bisection on Phi' in log c.

    No upper limit on c short of 1e15 (K_A is entire: at large sigma and tiny q the saddle of a tiny eps
    lies at c ~ 1e6-1e9).  Only the position matters (to ~1e-3 relative).
    """
    # the call's CPU budget (methods/budget.py): K's own deadline is not set here (WideAdd's search runs after
    # the full engine's solve cleared it), and the real kernel's cost grows with |c| (ADD, PSG(53.068, 1.2154e-6)
    # x 30, eps 9.77e-6: 0.15 s at c = 4.4e12, 1.56 s at the next bracket end 3.5e13; the query took 1.8-2.4 s of
    # its 0.6 s).  A call is refused when the budget is spent, or when the cost of the last call scaled by the
    # growth of |c| would exceed what is left of it
    last = [0.0, 0.0]  # (|c|, CPU seconds) of the most expensive call so far

    def g(c: float) -> float:
        if budget.expired():
            raise ContourError(over_budget())
        if last[0] > 0.0 and abs(c) > last[0] and last[1] * abs(c) / last[0] > budget.remaining():
            raise ContourError(over_budget())
        t0 = budget.clock()
        k = K.real_fn(c, 1)
        dt = budget.clock() - t0
        if dt > last[1]:
            last[0], last[1] = abs(c), dt
        return float(k[1]) - eps - 1.0 / c - 1.0 / (c + 1.0)

    comp = getattr(K, "comp", None)
    # beyond Composition.c_reach the real kernel's cost grows like c l'(x0) (minutes at c ~ 1e10,
    # sigma = 1, x0 = 40): the bracket stops growing there and the abscissa is capped (any c > 0 is
    # exact); the kernel is not asked at the reach itself (at c ~ 1e15 one call costs seconds)
    reach = comp.c_reach() if comp is not None else math.inf
    if not cmax > 1e-6:
        raise ContourError(f"truncated composition: edge cap {cmax:.4g} leaves no room for a saddle")
    if math.isfinite(cmax) and cmax <= reach and g(cmax) <= 0.0:
        return cmax  # the saddle lies at or beyond cmax
    cmax = min(cmax, reach)
    lo, hi = 1e-6, min(1.0, cmax)
    while g(hi) < 0.0:
        if hi >= cmax:
            return cmax  # the saddle lies beyond the kernel's reach
        lo, hi = hi, min(hi * 8.0, cmax)
        if hi > 1e15:
            raise ContourError("no saddle point below 1e15 (truncated composition)")
    while g(lo) > 0.0 and lo > 1e-12:
        hi, lo = lo, lo / 8.0
    for _ in range(80):
        if hi / lo < 1.0 + 1e-4:
            break
        m = math.sqrt(lo * hi)
        if g(m) > 0.0:
            hi = m
        else:
            lo = m
    return math.sqrt(lo * hi)


class TruncatedRemove(ExactDirection):
    """REMOVE's delta(eps) / eps(delta) from K_A; the truncation bound is part of every error estimate."""

    TIME_BUDGET = 3.0
    #: eps(delta) answers are accepted by their error on eps (ACCEPT_RTOL of eps, not of delta): breaker
    #: finding 1 of session 13, PSG(0.515, 2.56e-6) x 3186247 at delta 1.5e-11, settled eps = 2.198845547
    #: (certified bracket [2.198844, 2.198847]) with delta's estimated error 1.6e-7 (the node sum's rounding
    #: bound, 1.4e-7), refused 8 rounds on the same contour against ACCEPT_RTOL = 1e-7 on delta, while its
    #: error on eps was 1.6e-7 / |d log delta / d log eps| = 1.7e-8
    EPS_ACCEPT = True

    def __init__(self, sg: list[tuple[float, float, int]], g2: float, rtol: float = DEFAULT_RTOL) -> None:
        self.sg, self.g2 = sg, g2
        self._lb = math.inf
        self.x0_min: list[float] | None = None
        super().__init__(TruncatedLogMgf(sg, g2, math.log(TRUNC_FRACTION) + math.log(1e-12)), rtol)
        self.log_accept = math.log(max(rtol, ACCEPT_RTOL))
        self._lb = math.log(TRUNC_FRACTION) + math.log(1e-12)

    # -- the truncation budget
    def ensure(self, log_delta: float) -> TruncatedLogMgf:
        """K_A with its truncation bound <= TRUNC_FRACTION * exp(log_delta) (rebuilt when not)."""
        lb = math.log(TRUNC_FRACTION) + log_delta
        if self.K.trunc > math.exp(lb) * 1.0001:
            self._lb = lb
            self.K = TruncatedLogMgf(self.sg, self.g2, lb, self.x0_min)
            self._contours.clear()
        return self.K

    def _check(self, ct, eps: float, log_delta: float) -> tuple[bool, float]:
        """(within tolerance, log absolute error estimate): aliasing bound, u-tail, floating point, the
        kernel's estimated error (where it gives one) and the truncation bound.

        The floating-point budget is per node: the node sum's roundings (32 sqrt(n) eps_mach of the sum
        of |terms|, as the full engine's) plus each term's own relative error, eps_mach times the size of
        the exponent it is computed from, |K_n - z_n eps - m| (the full engine bounds the latter by
        max |K_n| times the whole sum; in the far-mode regime the large |K_n| sit at large u, where the
        terms are tiny, and the bulk's cancelling weight makes that bound 10x too coarse).
        """
        ld, _, labs, ltail = log_delta_on(ct, eps)
        if not math.isfinite(ld):
            return False, math.inf
        z = ct.c + 1j * ct.u
        m = ct.logk[0].real - ct.c * eps
        arg = ct.logk - z * eps - m
        with np.errstate(over="ignore", under="ignore"):
            t = np.exp(arg.real) / np.abs(z * (z + 1.0))
        t[0] *= 0.5
        scale = math.log(ct.h / math.pi) + m
        a = float(t.sum())
        b = float((t * np.abs(arg)).sum())
        lround = math.log(EPS_MACH * (32.0 * math.sqrt(ct.n) * a + 8.0 * b) + 1e-300) + scale
        # the kernel's own error (WideAdd runs on the full K, whose kernel estimates it; the truncated
        # K_A's Gauss-Legendre kernel gives none: -inf)
        parts = [ct.alias_bound(eps), ltail, lround, ct.kernel_bound(eps)]
        trunc = getattr(self.K, "trunc", 0.0)
        if trunc > 0.0:
            parts.append(math.log(trunc))
        lerr = float(np.logaddexp.reduce(parts))
        return lerr <= self.log_accept + min(ld, log_delta), lerr

    # -- the contour: the saddle of K_A, kept below the truncation edge
    def _contour_for(self, eps: float, log_delta: float, deadline: float):
        # the contour is a function of (eps, log_delta) and K (no rebuild ladder): the same one again
        self._repeat_same = True
        for ct in reversed(self._contours):
            ok, _ = self._check(ct, eps, log_delta)
            if ok:
                return ct
        K = self.K
        cap = K.edge_cap() if hasattr(K, "edge_cap") else math.inf
        c_star = saddle_wide(K, eps, cap)
        # below the truncation edge: beyond it the edge at x0 (a 1/u term in each step's transform)
        # would carry weight.  (Pushing x0 out instead brings the far mode back.)  Where the saddle lies
        # beyond the cap, the tilted law is bimodal (bulk near 0 and the loss's log-normal tail) and
        # the largest admissible c damps the bulk's cancelling weight e^{-c eps} the most
        c = min(c_star, cap)
        if not c > 0.0:  # the edge's weight is too large at every c > 0: the truncated K does not apply
            raise ContourError(f"truncated composition: edge cap {cap:.4g} leaves no abscissa c > 0")
        # the node sum's cancellation, known before any node: sum |terms| is about the bump's integral
        # e^{Phi(c)} sqrt(2 pi / Phi''(c)) (at least); beyond PEN_MAX above delta the floating-point
        # budget alone exceeds the tolerance (the bulk of L near 0, undamped by e^{-c eps} when c is held
        # below the edge): refuse now rather than after thousands of nodes
        k = K.real_fn(c, 2)
        phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
        phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
        pen = phi + 0.5 * math.log(2.0 * math.pi / phi2) - log_delta
        if pen > PEN_MAX:
            raise ContourError(f"truncated composition: cancellation e^{pen:.3g} at c={c:.4g} (edge cap {cap:.4g}) "
                               "beyond the floating-point budget")
        grid = psi_grid(K, c)
        lt = self.log_tol - 2.3
        P, used = alias_period(K, eps, c, lt + log_delta, grid)
        ct = build_contour(K, eps, c, P, lt, log_delta, used, deadline)
        if DEBUG:
            print(f"truncated contour eps={eps:.6g} c*={c_star:.4g} cap={cap:.4g} c={c:.4g} P={P:.4g} n={ct.n}")
        self._contours.append(ct)
        if len(self._contours) > 24:
            self._contours.pop(0)
        return ct

    # -- delta(eps)
    def _diag(self) -> dict[str, Any]:
        return {"truncation": self.K.trunc, "x0": list(self.K.comp.x0)}

    def _log_delta(self, eps: float) -> DirectionAnswer:
        if eps >= self.K.loss_sup:
            return DirectionAnswer(0.0, -math.inf, 0.0, {"note": "eps beyond the largest privacy loss"})
        guess = self.chernoff_log_delta(eps)
        deadline = self.K.state["deadline"]
        for _ in range(6):
            self.ensure(guess)
            self.K.state["deadline"] = deadline
            ct = self._contour_for(eps, guess, deadline)
            ld, _, _, _ = log_delta_on(ct, eps)
            if math.isfinite(ld) and getattr(self.K, "trunc", 0.0) > 10.0 * TRUNC_FRACTION * math.exp(ld):
                guess = ld  # truncate further out
                continue
            ok, lerr = self._check(ct, eps, ld)
            if ok:
                return DirectionAnswer(math.exp(ld), ld, math.exp(lerr - ld),
                                       {"c": ct.c, "h": ct.h, "nodes": ct.n, **self._diag()})
            guess = ld if math.isfinite(ld) and ld < guess else guess - 5.0
        raise ContourError(f"truncated contour quadrature missed its tolerance at eps={eps:.6g}")

    def chernoff_log_delta(self, eps: float) -> float:
        """min over s of psi_A(s) - s eps (an upper bound on delta_A; a scale guess for delta)."""
        from .exact import chernoff_log_delta

        v = chernoff_log_delta(self.K, eps)
        return min(v, 0.0) if math.isfinite(v) else math.log(1e-12)

    # -- eps(delta)
    def epsilon(self, log_target: float) -> DirectionAnswer:
        self.ensure(log_target)
        ans = super().epsilon(log_target)
        ans.diag.update(self._diag())
        return ans

    def _smax(self) -> float:
        """Largest Chernoff abscissa worth evaluating: beyond 4x the edge cap K_A is the edge's (and
        slow to evaluate)."""
        return min(1e15, 4.0 * self.K.edge_cap())

    def _chernoff_eps(self, log_target: float) -> float:
        """min over s in [1e-3, 1e15] of (psi_A(s) - log target) / s, floored at 0 (a starting point:
        the abscissae of K_A reach far beyond the full engine's grid)."""
        best = math.inf
        smax = self._smax()  # beyond, K_A is the edge's (and slow to evaluate)
        if not smax > 2e-3:  # the edge cap left no room (or is NaN): no Chernoff start here
            return 0.0
        for s in np.geomspace(1e-3, smax, 4 * max(int(math.log10(smax / 1e-3)), 1) + 1):
            try:
                v = (self.K.psi(float(s)) - log_target) / float(s)
            except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
                continue
            if math.isfinite(v):
                best = min(best, v)
        return max(best, 0.0)

    def _initial(self, log_target: float) -> tuple[float, float]:
        """(c, eps) where the leading saddle-point log delta equals log_target (c up to 1e15: K_A is
        entire), by the full engine's saddle-curve start (exact.saddle_curve_start)."""
        c, e, g = saddle_curve_start(self.K, log_target, c_max=1e15, iters=60)
        return c, (e if abs(g) < 1.0 else math.nan)


class WideAdd(TruncatedRemove):
    """ADD's delta(eps) / eps(delta) on the full K with the wide saddle search (no truncation: ADD's loss
    is bounded above, it has no far mode).  For tiny eps at large sigma / tiny q the saddle lies beyond
    the full engine's limit of 1e8 (c ~ eps / Var L)."""

    def __init__(self, K: LogMgf, rtol: float = DEFAULT_RTOL, sg: list | None = None) -> None:
        ExactDirection.__init__(self, K, rtol)
        self.sg = sg or []
        self.log_accept = math.log(max(rtol, ACCEPT_RTOL))

    def ensure(self, log_delta: float) -> LogMgf:
        return self.K

    def _diag(self) -> dict[str, Any]:
        return {"wide_saddle": True}

    def _smax(self) -> float:
        """Beyond s |l| ~ 1e3 over the kernel's x-range (|x| <= 13) the full kernel resolves a phase
        of ~ s |l| per panel (slow), and the Chernoff bound there is no better."""
        p = self.sg
        lmax = max((abs(math.log1p(q * math.expm1(13.0 / s - 0.5 / (s * s)))) for q, s, _ in p), default=1.0)
        return min(1e15, 1e3 / max(lmax, 1e-300))


# ----------------------------------------------------------------------------------------------------
# routing (called from ExactMethod)
# ----------------------------------------------------------------------------------------------------

def _truncated(eng) -> TruncatedRemove | None:
    """The engine's truncated REMOVE direction (built once), or None when it does not apply."""
    tr = getattr(eng, "_trunc_remove", False)
    if tr is False:
        p = sg_params(eng.groups)
        tr = None if p is None else TruncatedRemove(p[0], p[1], math.exp(eng.dirs["remove"].log_tol))
        eng._trunc_remove = tr
    return tr


def far_mode(eng, tr: TruncatedRemove, c: float) -> bool:
    """True when the far mode is in play at abscissa c: K(c) - K_A(c) > FAR_GAP, judged by a lower bound.

    Beyond x0 the loss satisfies l >= z + log q (z = mu x - mu^2/2), so the weight the truncation removes
    from one step at w = c + 1 is at least E[q^w e^{w z}; X > x0] = q^w e^{w (w-1) mu^2/2} Phibar(x0 - w mu)
    (closed form: no evaluation of the full K, whose x-range grows like c mu).
    """
    with budget.setup():  # a first import (rule tables, 0.1-0.3 s): outside the CPU budgets
        from .._kernels.fewpart_path import CachedPath

    w = c + 1.0
    gap = 0.0
    for (q, s, n), x0 in zip(tr.sg, tr.K.comp.x0):
        mu = 1.0 / s
        lt = w * (math.log(q) + 0.5 * (w - 1.0) * mu * mu) + _log_phibar(x0 - w * mu)
        # log E_A of one step at w (the truncated kernel on the real axis)
        la = float(CachedPath(q, mu, x0, 0.0, w)(np.array([complex(w, 0.0)]))[0].real)
        r = lt - la  # n log(1 + Tail / E_A) <= K - K_A for this group
        gap += n * (math.log1p(math.exp(r)) if r < 30.0 else r)
        if gap > FAR_GAP:
            return True
    return False


def _log_phibar(x: float) -> float:
    """log P(N(0,1) > x), without underflow."""
    if x < 5.0:
        return math.log(0.5 * math.erfc(x / math.sqrt(2.0)))
    # asymptotic series (x >= 5: relative error < 1e-4, ample for a routing test)
    return -0.5 * x * x - math.log(x) - 0.5 * math.log(2.0 * math.pi) + math.log1p(-1.0 / (x * x) + 3.0 / x ** 4)


#: the prefilter's threshold on sum_g n_g E[q^w e^{w z}; X > x0] (an upper bound on the share of the full
#: MGF the truncation would remove, as E_full >= 1 at w >= 1)
PREFILTER = 1e-6


def _x0_for(q: float, mu: float, n: int, target: float) -> float:
    """The truncation point fewpart.Composition chooses (0.05 grid from 4): n P(X > x0) <= target (the
    first grid point, by bisection on the decreasing tail: ~10 erfc evaluations instead of 721)."""
    r2 = 1.0 / math.sqrt(2.0)

    def ok(i: int) -> bool:
        x = 4.0 + 0.05 * i
        return n * ((1.0 - q) * 0.5 * math.erfc(x * r2) + q * 0.5 * math.erfc((x - mu) * r2)) <= target

    if not ok(720):
        return 4.0 + 0.05 * 720
    return 4.0 + 0.05 * first_true(ok, -1, 720)  # ok(720); lo = -1: none checked


def far_onset(eng, log_delta: float) -> float:
    """Smallest abscissa c (on a log grid) at which the truncation for delta = exp(log_delta) would remove
    more than PREFILTER of the full MGF, judged by sum_g n_g E[q^w e^{w z}; X > x0] (E_full >= 1 at
    w >= 1, so this over-estimates the share); inf when none below 1e15.  Closed form, no kernel."""
    from scipy.special import log_ndtr

    p = sg_params(eng.groups)
    if p is None:
        return math.inf
    # the grid is a constant (np.geomspace was 40 % of this function's ~80 us, on every eps(delta) query)
    c, w, wm1 = _ONSET_C, _ONSET_W, _ONSET_WM1
    target = TRUNC_FRACTION * math.exp(log_delta) / len(p[0])
    tot = None
    with np.errstate(over="ignore", under="ignore"):
        for q, s, n in p[0]:
            mu = 1.0 / s
            x0 = _x0_for(q, mu, n, target)
            lt = math.log(n) + w * (math.log(q) + 0.5 * wm1 * mu * mu) + log_ndtr(w * mu - x0)
            e = np.exp(np.minimum(lt, 700.0))
            tot = e if tot is None else tot + e
    hit = np.flatnonzero(tot > PREFILTER)
    return float(c[max(hit[0] - 1, 0)]) if hit.size else math.inf


#: far_onset's abscissae (a log grid 1e-3..1e15), c + 1 and (c + 1) - 1 (the same doubles as formed per call before)
_ONSET_C = np.geomspace(1e-3, 1e15, 361)
_ONSET_W = _ONSET_C + 1.0
_ONSET_WM1 = _ONSET_W - 1.0


def maybe_far(eng, log_delta: float, eps: float | None = None) -> bool:
    """Cheap prefilter: True when the query's saddle of the full K may lie beyond :func:`far_onset`.

    Along the saddle curve eps(c) = K'(c) - 1/c - 1/(c+1) increases and the leading saddle-point
    log delta(c) decreases with c, so one evaluation of the full K at the onset tells on which side
    the query's saddle lies: for eps(delta), whether log delta(c_far) is still above the target; for
    delta(eps), whether eps(c_far) is below eps.
    """
    c_far = min(far_onset(eng, log_delta), large_c(eng))
    if not math.isfinite(c_far):
        return False
    try:
        e_far, ld_far = saddle_estimate(eng.dirs["remove"].K, c_far)
    except (ContourError, FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
        return True
    if eps is None:
        return not (ld_far <= log_delta)
    return not (e_far >= eps)


def large_c(eng) -> float:
    """The abscissa beyond which the full kernel's x-range (c mu + 13) exceeds LARGE_CMU + 13 for some
    group: there each full-K evaluation costs ~ c mu panels while K_A's stops at x0 ~ 10-12 (at large
    sigma and tiny q the saddle of a tiny eps lies at c ~ 1e5-1e9)."""
    p = sg_params(eng.groups)
    if p is None:
        return math.inf
    return LARGE_CMU * min(s for _, s, _ in p[0])


#: c mu beyond which the truncated kernel answers (it is the cheaper one there; see large_c)
LARGE_CMU = 40.0


def _few_participations(tr: TruncatedRemove) -> bool:
    """sum q n <= 0.5: outside the far mode, fewpart.py's corner (the truncated trapezoid is no
    fallback there: its u-range heads to 1/q)."""
    return sum(q * n for q, _, n in tr.sg) <= 0.5


#: the full engine goes first, even where the far mode is in play, while the far mode's weight at the full
#: K's saddle is modest: far_gap_quick(c) * c * max(mu) <= FULL_FIRST.  Measured on a grid (q 1e-3..0.1,
#: sigma 0.6..2.5, T 10..3000, delta 1e-5..1e-11, every point the prefilter sent toward the truncated
#: kernel): the full engine settled every point with the product below 0.6 (the smallest failure: 0.88),
#: 2-10x faster than the truncated kernel (its nodes cost ~10x more); where it fails the truncated one
#: is tried next.  (q = 0.01, sigma = 1, T = 100, delta = 1e-5: 0.03, 2.5 ms instead of 10 ms.)
FULL_FIRST = 0.5
#: ... and up to 1.5 where c mu <= 16: there the grid's full-engine failures had products 1.23 and >= 2.09
#: (and E1, off the grid, 0.93): 18-48 ms lost before the truncated kernel answers them, against
#: q = 1e-3, sigma = 1, T = 1e4 / 100, delta = 1e-5 (0.93 / 1.03 at c mu = 12-13): full engine
#: 0.7 / 3.4 ms, truncated 6 / 21 ms
FULL_FIRST_NEAR, NEAR_CMU = 1.5, 16.0


def far_gap_quick(eng, c: float, log_delta: float) -> float:
    """An estimate of K(c) - K_A(c) of REMOVE without building K_A: per group, the closed-form lower bound
    on the removed tail E[q^w e^{w z}; X > x0] (as :func:`far_mode`) against the full one-step MGF G(w)
    from the real kernel (E_A = G - tail), x0 as fewpart.Composition chooses it.  inf when it cannot be
    formed (then the routing keeps to the truncated kernel)."""
    from .._kernels.mgf import sg_log_g_real

    p = sg_params(eng.groups)
    if p is None or not (c > 0.0) or not math.isfinite(c):
        return math.inf
    w = c + 1.0
    # the truncation budget TruncatedRemove starts from (1e-22, or 1e-10 delta when smaller)
    target = TRUNC_FRACTION * math.exp(min(log_delta, math.log(1e-12))) / len(p[0])
    out = np.empty(3)
    gap = 0.0
    for q, s, n in p[0]:
        mu = 1.0 / s
        if not sg_log_g_real(q, mu, w, out) or not math.isfinite(out[0]):
            return math.inf
        x0 = _x0_for(q, mu, n, target)
        lt = w * (math.log(q) + 0.5 * (w - 1.0) * mu * mu) + _log_phibar(x0 - w * mu)
        d = lt - out[0]  # log(tail / G)
        if d >= 0.0:
            return math.inf
        r = d - math.log1p(-math.exp(d))  # log(tail / (G - tail))
        gap += n * (math.log1p(math.exp(r)) if r < 30.0 else r)
    return gap


def _full_first(eng, c: float, log_delta: float) -> bool:
    """True when the full engine should answer before the truncated one (see FULL_FIRST)."""
    p = sg_params(eng.groups)
    if p is None or not (0.0 < c < large_c(eng)):
        return False
    mu = max(1.0 / s for _, s, _ in p[0])
    try:
        prod = far_gap_quick(eng, c, log_delta) * c * mu
        return prod <= (FULL_FIRST_NEAR if c * mu <= NEAR_CMU else FULL_FIRST)
    except (FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
        return False


_ERRORS = (ContourError, FloatingPointError, OverflowError, ZeroDivisionError)

#: CPU seconds the full engine may spend on a REMOVE query before the truncated composition is tried
#: (outside fewpart's corner; the full engine's own budget is ExactDirection.TIME_BUDGET, 3 s).  At
#: low sigma with a huge eps (sigma 0.144, q 0.196, T 38, delta 3.9e-8: eps 539) the full K's terms
#: hardly decay along the contour (~200 us per node at |Im z| ~ 100) and it spent its 3 s on 12,000
#: nodes before the truncated composition answered in 30 ms; the four such points known (eps 540-2650)
#: now take 0.3-0.5 s.  Where the truncated composition fails as well and the full engine stopped on
#: this budget, the full engine is asked again with its whole budget (the answers before this rule).
FULL_BUDGET_FALLBACK = 0.25


#: the reason a query skipped the full engine after the truncated composition failed, the few-participation
#: quadrature being next in the chain (the engine's ``fewpart_next`` set by the dispatch): in fewpart's corner and at
#: tiny q its first try, elsewhere its second try after a short first one (_route).  Measured in the corner (REMOVE eps(delta), sum q n in (0.01, 0.5],
#: sigma 0.3-4, q 1e-5..0.05, delta 1e-5..1e-12, 230 queries): the truncated composition failed on 81, the
#: full engine after it then settled 2 (9 ms each) and failed on 79 after 0.4-157 ms (median ~25 ms), while
#: the few-participation quadrature answers those in 10-60 ms
FULL_AFTER_TRUNC_NOTE = "full composition skipped (the few-participation quadrature is next)"
#: ... and there the truncated composition gets this much CPU (seconds) instead of ExactDirection.TIME_BUDGET:
#: on the same 230 queries it answered 103 in at most 36 ms (p90 6 ms) and failed on 81 after a median
#: 13 ms, p90 114 ms, up to 830 ms (sigma 0.5, q 1e-5, T 30000, delta 1e-10: 784 ms, where the quadrature
#: answers in 48 ms).  A query cut here is answered by the quadrature (the same value to its tolerance)
FEW_TRUNC_BUDGET = 0.12
#: in the far mode, REMOVE's full engine is skipped after a failed truncated composition (the few-participation
#: quadrature next, the full engine after it only should it fail too) also where every sampling rate is at most
#: this, whatever sum q n.  benchmarks/trunc_d3_scan.py (seed 14: sigma 0.44-0.62, q 1e-7..3e-6, q T 0.5..500,
#: delta 1e-13..1.5e-10): on the 11 points the contour does not settle, the full engine after the truncated
#: composition settled none and spent 0.04-0.19 s of the call's 0.6 s, which the quadrature after it lacked
FULL_SKIP_Q = 1e-5


def _route(eng, far, start, solve) -> DirectionAnswer:
    """REMOVE's answer routed between the full and the truncated composition (one rule for
    :func:`remove_epsilon` and :func:`remove_log_delta`).

    ``far()`` says whether the query is headed for the truncated composition (the prefilter
    :func:`maybe_far`, unless :func:`_full_first`); ``start(tr)`` is the truncated composition's
    abscissa for the query; ``solve(direction)`` answers in a direction (``epsilon`` or ``log_delta``).
    Where the far mode is in play at that abscissa (or it lies at c mu > LARGE_CMU) the truncated
    composition answers, with the full one as its fallback (its own error check decides: in the far
    mode the full K's node sum cancels astronomically, yet q = 0.01, sigma = 1, T = 10 at
    delta = 1e-10 is refused by the truncated sum and settled by the full one).  Elsewhere the full
    engine answers, with the truncated one as its fallback outside fewpart's corner.
    """
    full = eng.dirs["remove"]
    sg = sg_params(eng.groups)[0]
    few = sum(q * n for q, _, n in sg) <= 0.5  # _few_participations, before tr is built
    # tiny q beyond fewpart's corner: the full engine is skipped after a failed truncated composition as well
    # (FULL_SKIP_Q), without the truncated composition's cap there
    skip_full = (few or max(q for q, _, _ in sg) <= FULL_SKIP_Q) and getattr(eng, "fewpart_next", False)
    if far():
        tr = _truncated(eng)
        try:
            c0 = start(tr)
            use_trunc = far_mode(eng, tr, c0) or c0 >= large_c(eng)
        except _ERRORS + (ValueError,):
            use_trunc = True
        if use_trunc:
            few_next = few and getattr(eng, "fewpart_next", False)
            prev_tr = tr.__dict__.get("TIME_BUDGET")
            try:
                if few_next and tr.TIME_BUDGET > FEW_TRUNC_BUDGET:
                    tr.TIME_BUDGET = FEW_TRUNC_BUDGET
                return solve(tr)
            except _ERRORS as exc:
                if skip_full:
                    # the caller (dispatch) tries the few-participation quadrature next and comes back to the
                    # full engine only should that fail (FULL_AFTER_TRUNC_NOTE)
                    raise ContourError(f"truncated composition: {exc}; {FULL_AFTER_TRUNC_NOTE}") from exc
                try:
                    return solve(full)
                except _ERRORS as exc2:
                    raise ContourError(f"truncated composition: {exc}; full composition: {exc2}") from exc2
            finally:
                if prev_tr is None:
                    tr.__dict__.pop("TIME_BUDGET", None)
                else:
                    tr.TIME_BUDGET = prev_tr
    # with the truncated composition as its fallback, the full engine gets FULL_BUDGET_FALLBACK of CPU
    # first (and its whole budget again only where the fallback fails too)
    short = not few and full.TIME_BUDGET > FULL_BUDGET_FALLBACK
    prev = full.__dict__.get("TIME_BUDGET")  # a caller's own cap (methods/certified.py) is kept
    try:
        if short:
            full.TIME_BUDGET = FULL_BUDGET_FALLBACK
        try:
            return solve(full)
        finally:
            if short:
                if prev is None:
                    full.__dict__.pop("TIME_BUDGET", None)
                else:
                    full.TIME_BUDGET = prev
    except _ERRORS as exc:
        why = str(exc)
    if few:
        raise ContourError(why)  # fewpart.py's corner: the caller tries it next
    tr = _truncated(eng)
    try:
        return solve(tr)
    except _ERRORS as exc:
        if not (short and "time budget" in why):
            raise ContourError(f"{why}; truncated composition: {exc}") from exc
        why = f"{why}; truncated composition: {exc}"
    if getattr(eng, "fewpart_next", False):
        # the few-participation quadrature follows in the chain: it gets the rest of the budget before the
        # full engine's second try (dispatch comes back to that should the quadrature fail).  PSG(0.144,
        # 0.196) x 38 at delta 3.9e-8 (eps 539.48): the full engine's second try spent the budget to its node
        # cap and the quadrature, which answers in 0.05 s, was left none (the flagged Chernoff bound 575.5)
        raise ContourError(f"{why}; {FULL_AFTER_TRUNC_NOTE}")
    try:
        return solve(full)
    except _ERRORS as exc:
        raise ContourError(f"{why}; full composition again: {exc}") from exc


def remove_epsilon(eng, log_target: float) -> DirectionAnswer:
    """REMOVE's eps(delta): by the truncated composition in the far mode (or where the saddle lies at
    c mu > LARGE_CMU), else by the full engine with the truncated one as its fallback (outside fewpart's
    corner).  Where the far mode's weight at the full saddle is modest the full engine goes first
    (:data:`FULL_FIRST`).  Routed by :func:`_route`."""
    if sg_params(eng.groups) is None:
        return eng.dirs["remove"].epsilon(log_target)

    def start(tr: TruncatedRemove) -> float:
        tr.ensure(log_target)
        return tr._initial(log_target)[0]

    def far() -> bool:
        return maybe_far(eng, log_target) and not _full_first(eng, _full_c(eng, log_target), log_target)

    return _route(eng, far, start, lambda d: d.epsilon(log_target))


def _full_c(eng, log_target: float) -> float:
    """The full engine's starting abscissa for eps(delta) (its own saddle-point start), or nan when it
    lies beyond large_c (judged first at large_c itself: the leading saddle-point log delta decreases
    along the saddle curve, and the full kernel is slow far beyond it) or cannot be found."""
    full = eng.dirs["remove"]
    cap = large_c(eng)
    try:
        _, ld_cap = saddle_estimate(full.K, cap)
        if not ld_cap < log_target:
            return math.nan
        c, e = full._initial(log_target)
    except (ContourError, FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
        return math.nan
    return c if math.isfinite(e) else math.nan


def _full_saddle(eng, eps: float) -> float:
    """The full K's saddle at eps, or nan when it lies beyond large_c (eps(c) increases along the saddle
    curve) or cannot be found."""
    from .contour import saddle

    full = eng.dirs["remove"]
    cap = large_c(eng)
    try:
        e_cap, _ = saddle_estimate(full.K, cap)
        if not e_cap > eps:
            return math.nan
        return saddle(full.K, eps, full._c_hint)
    except (ContourError, FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
        return math.nan


def _wide_add(eng) -> "WideAdd":
    """The engine's WideAdd direction, built on first use (ExactMethod.clear() drops it)."""
    wide = getattr(eng, "_wide_add", None)
    if wide is None:
        wide = eng._wide_add = WideAdd(eng.dirs["add"].K, math.exp(eng.dirs["add"].log_tol),
                                       sg_params(eng.groups)[0])
    return wide


def _route_add(eng, solve) -> DirectionAnswer:
    """ADD's answer (``solve(direction)``) by the full engine, else (its saddle beyond 1e8, or no
    convergence) by :class:`WideAdd`."""
    try:
        return solve(eng.dirs["add"])
    except _ERRORS as exc:
        why = str(exc)
    if sg_params(eng.groups) is None:
        raise ContourError(why)
    try:
        return solve(_wide_add(eng))
    except _ERRORS as exc:
        raise ContourError(f"{why}; wide saddle search: {exc}") from exc


def add_epsilon(eng, log_target: float) -> DirectionAnswer:
    """ADD's eps(delta) (:func:`_route_add`)."""
    return _route_add(eng, lambda d: d.epsilon(log_target))


def add_log_delta(eng, eps: float) -> DirectionAnswer:
    """ADD's delta(eps) (:func:`_route_add`)."""
    return _route_add(eng, lambda d: d.log_delta(eps))


def remove_log_delta(eng, eps: float) -> DirectionAnswer:
    """REMOVE's delta(eps), routed as :func:`remove_epsilon` (:func:`_route`); the prefilter's
    truncation budget is the full K's Chernoff bound (an upper bound on delta)."""
    full = eng.dirs["remove"]
    if sg_params(eng.groups) is None:
        return full.log_delta(eps)
    from .exact import chernoff_log_delta

    try:
        guess = min(chernoff_log_delta(full.K, eps), 0.0)
    except _ERRORS + (ValueError,):
        guess = 0.0
    lg = guess if math.isfinite(guess) else math.log(1e-300)
    return _route(eng, lambda: maybe_far(eng, lg, eps) and not _full_first(eng, _full_saddle(eng, eps), lg),
                  lambda tr: saddle_wide(tr.K, eps), lambda d: d.log_delta(eps))
