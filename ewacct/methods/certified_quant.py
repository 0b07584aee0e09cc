"""Quantised contours for the certified eps(delta) (docs/certified.md, section 5b).

The certificate of :mod:`ewacct.methods.certified` is valid for ANY abscissa c > 0, ANY step h > 0 and
ANY node count N: c, h and N only decide how wide the bracket is (through the alias, truncation and
node-error bounds, each evaluated rigorously for the c, h, N actually used).  So instead of the exact
engine's contour (its c at the saddle to many digits), this path picks

* c on a geometric grid, ``c = 2^(j / C_STEPS)``, near the saddle of the integrand (a float estimate:
  the Chernoff bound and one saddle-point correction, by Newton on the real kernel's derivatives;
  where the exact engine guides, the float saddle found from its abscissa, not that abscissa itself),
  keeping the previous c of the same composition shape while the saddle stays within a factor
  ``2^(HYST / C_STEPS)``;
* h a power of two, the largest whose alias bounds are below ALIAS_RTOL delta at the estimate (the
  alias bound enters only the lower end of the bracket, S - E - T - A <= delta <= S + E + T: the
  certified upper end, the number reported, does not depend on it);
* N from the rigorous truncation bound (the previous N of the same (c, h) first; once the history
  has grown N_SHRINK_GROWTH-fold since that N was set, the float estimate where it is under half).

The per-group node enclosures log G(w(c + i k h)) do not depend on the step counts, so a training loop
that asks again after more steps finds (almost) every node in the cache (``certified._NODES``, keyed
by (q, mu, direction, c, h), bounded in total size) and pays only for the O(N) sums.  The answer is
whatever the rigorous bounds give for the (c, h, N) used; a cold and a warm cache give the same
(c, h, N) for the same history of queries.  Where this path cannot finish, the caller falls back to
the engine-guided contour and then to the proven bounds.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np

from .._kernels.mgf import GL_MAX_REACH, sg_composition_complex, sg_composition_real, sg_log_g, sg_log_g_real

#: grid points per octave of the abscissa c
C_STEPS = 4
#: keep the previous abscissa while the saddle is within 2^(HYST / C_STEPS) of it
HYST = 4.5
#: a new abscissa is chosen among the grid point at the saddle and this many below it (largest step).
#: 3 before 2026-12: with few participations and tiny eps the step doubles only 5-6 grid points below
#: the (float) saddle (q = 1e-4, sigma = 1, T = 10, delta = 1e-5: saddle 17.8, h = 1 down to c = 9.5,
#: h = 2 from c = 8 down; the truncation point, u ~ 40,000, barely depends on c there: 39,658 -> 20,351
#: nodes); a lower point is still taken only where its step is longer and its float node count
#: BELOW_GAIN shorter
C_BELOW = 8
#: a grid point further below is taken where its float node-count estimate is below this fraction of
#: the best so far (the first step below: 0.6)
BELOW_GAIN = 0.85
#: ... only where the float estimate of the node count at the saddle's grid point exceeds this
C_BELOW_MIN_N = 512
#: relative size the alias bounds are held to (of the target delta).  They bound only the lower end
#: (the upper end is S + E + T, docs/certified.md section 2), so this sets how far the lower end may
#: sit below the truth on their account (<= 1e-8 delta, ~1e-9 relative on eps, against the 1e-5
#: acceptance); 1e-10 made the step halve at T = 30 in the 300-step Opacus pattern (q = 0.01,
#: sigma = 0.6421), 560 new node enclosures; 1e-8 keeps h = 1/4 to T = 40 and halves it at T = 50
#: (~330 new nodes)
ALIAS_RTOL = 1e-8
#: relative size of the truncation bound (of the target delta): TRUNC_EPS_RTOL eps c, clipped to
#: [TRUNC_RTOL_MIN, TRUNC_RTOL] (trunc_target).  The truncation bound T moves each end of the eps
#: bracket by about T / (delta |d log delta / d eps|), and |d log delta / d eps| is about the saddle
#: abscissa, at least the c used (c is at or below the saddle): so the bracket's relative width gets
#: at most ~2 TRUNC_EPS_RTOL from it (against the QUANT_RTOL = 1e-5 acceptance, which is checked on
#: the bracket itself: this is only where the node count is aimed).  It was 1e-6 of delta whatever eps
#: and c: q = 0.01, sigma = 0.6421, T = 10 (eps c ~ 3.5) then needed ~20 % more nodes than now, and at
#: eps c << 1 the bracket missed the acceptance
TRUNC_RTOL = 1e-5
TRUNC_RTOL_MIN = 1e-7
TRUNC_EPS_RTOL = 1.5e-6
#: below this eps issue 9's width target is absolute (1e-7 = 1e-4 x EPS_ABS): the relative tolerances of the
#: quantised path (TRUNC_EPS_RTOL here, certified.QUANT_RTOL / SETTLE_RTOL, _qslope, _qtight) are applied to
#: max(eps, EPS_ABS), i.e. an absolute 1e-5 x EPS_ABS = 1e-8 aim below it (session 17: sigma 2.595, q 3.36e-6,
#: T 252, delta 2.04e-10, eps 8.88e-5 -- the bracket was pushed to 2e-9 absolute at ~0.3 s of extra nodes)
EPS_ABS = 1e-3


def trunc_target(log_delta: float, c: float, eps: float) -> float:
    """log of the level the truncation bound (without e^{-c eps} / pi, CertDirection.log_trunc) is held
    to on a quantised contour of abscissa c at the estimate eps (see TRUNC_EPS_RTOL)."""
    rt = min(TRUNC_RTOL, max(TRUNC_RTOL_MIN, TRUNC_EPS_RTOL * max(eps, EPS_ABS) * c))
    return log_delta + math.log(rt) + c * eps + math.log(math.pi)
#: a cached node enclosure may be this much looser than the tolerance now asked (QUANT_NODE_RTOL /
#: (n x groups), rounded to powers of two): a history growing ~64x keeps its nodes; the bracket
#: (accepted at 1e-5, QUANT_RTOL) widens a little
NODE_SLACK = 100.0

#: the last quantised contour per (direction, composition shape, log delta bucket): (c, h, N, the
#: subsampled steps sum n at which N was set)
_QREC: "OrderedDict[tuple, tuple[float, float, int, int]]" = OrderedDict()
#: float K(s) of a group at real a, for the estimates only (not part of the certificate)
_KF: dict[tuple[float, float, float], float] = {}


def clear() -> None:
    _QREC.clear()
    _KF.clear()


#: |a| mu range in which _log_gf sums a grid in x itself (_log_g_grid) instead of the complex kernel
GRID_WMU = (100.0, 2.0e4)


def _grid_l(q: float, mu: float, x: np.ndarray) -> np.ndarray:
    """l(x) = log(1 + q (e^v - 1)), v = mu x - mu^2 / 2, without overflow (floats)."""
    v = mu * x - 0.5 * mu * mu
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # log q + v + log1p((1-q) e^{-v} / q) where q e^v > 1 (below that, log1p(q expm1(v)): the other form
        # cancels there)
        big = v > -math.log(q)
        return np.where(big, math.log(q) + v + np.log1p((1.0 - q) / q * np.exp(-np.where(big, v, 0.0))),
                        np.log1p(q * np.expm1(np.where(big, 0.0, v))))


#: _log_g_grid sums every node of its grid up to this many nodes; beyond, only the windows where the
#: log-integrand is within GRID_DROP of its largest value on a unit-spaced subgrid (see there)
GRID_WINDOW_N = 20_000
GRID_DROP = 51.0


def _log_g_grid(q: float, mu: float, a: float, dx: float = 0.05) -> float:
    """log G(a) at real a by a Riemann sum in x (floats, an estimate only): x from -40 to 40 + max(a, 0) mu
    (the tilted law's far mode sits near a mu where q e^{mu x} >> 1), step dx; the integrand is smooth
    on the scale of 1 where it is not negligible, so the sum's error is far below the float rounding.
    In the f-form, log1p of the sum of phi (e^{a l} - 1), where that sum is small (no cancellation in
    log G ~ 1e-6); else a log-sum-exp.  The complex kernel took 16-350 ms at a mu ~ 700-1300
    (sigma 31.48, q 2.47e-6: 0.46 s of a certified query in 28 calls); this ~1 ms, within ~1e-11 of it.

    Grids of more than GRID_WINDOW_N nodes (a mu > ~1000; session 15: 28-34 calls, 30-40 ms of a 0.1-0.2 s
    certified query at sigma 27-31, q ~2e-6) sum only where the terms matter.  The log-integrand
    f = -x^2/2 + a l(x) has f'' >= -1 (l is convex for a >= 0), so for any x a node of a subgrid of spacing
    <= 1 lies within 1 of x on the side where f grows, where f >= f(x) - 1/2: every node with
    f > max f - (GRID_DROP - 1) lies within one subgrid spacing of a subgrid node with f > max(subgrid) - GRID_DROP;
    those windows are summed in full, the nodes left out each below e^-50 of the largest term.  In the f-form
    (a l < 1 at the grid's end, a l increasing in x), the terms beyond x = 40 are phi(x) (e^{a l} - 1) with
    phi(x) < e^-800: zero in floats, left out."""
    hi = 40.0 + max(a, 0.0) * mu
    n = int(math.ceil((hi + 40.0) / dx)) + 1
    if n <= GRID_WINDOW_N or not (a > 0.0):
        x = np.linspace(-40.0, hi, n)
        step = float(x[1] - x[0])
        l = _grid_l(q, mu, x)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            al = a * l
            lphi = -0.5 * x * x - 0.5 * math.log(2.0 * math.pi)
            if float(np.max(al)) < 1.0:
                sm = float(np.sum(np.exp(lphi) * np.expm1(al))) * step
                if abs(sm) < 0.5:
                    return math.log1p(sm)
            f = lphi + al
            m = float(np.max(f))
            return m + math.log(float(np.sum(np.exp(f - m))) * step)
    step = (hi + 40.0) / (n - 1)
    c0 = -0.5 * math.log(2.0 * math.pi)

    def fx(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = -40.0 + step * idx
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return -0.5 * x * x + c0, a * _grid_l(q, mu, x)

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if float(fx(np.array([float(n - 1)]))[1][0]) < 1.0:
            i40 = np.arange(0.0, min(n, int(math.ceil(80.0 / step)) + 2))
            lphi, al = fx(i40)
            sm = float(np.sum(np.exp(lphi) * np.expm1(al))) * step
            if abs(sm) < 0.5:
                return math.log1p(sm)
        ms = max(1, int(1.0 / step))
        ic = np.arange(0, n, ms)
        if ic[-1] != n - 1:
            ic = np.append(ic, n - 1)
        lphi, al = fx(ic.astype(float))
        fc = lphi + al
        keep = fc > float(np.max(fc)) - GRID_DROP
        kd = keep.copy()
        kd[1:] |= keep[:-1]
        kd[:-1] |= keep[1:]
        # runs of kept subgrid nodes -> fine index windows [ic[start], ic[end]]
        edges = np.diff(np.concatenate([[0], kd.astype(np.int8), [0]]))
        starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
        idx = np.concatenate([np.arange(ic[s0], ic[e0] + 1) for s0, e0 in zip(starts, ends)]).astype(float)
        lphi, al = fx(idx)
        f = lphi + al
        m = float(np.max(f))
        return m + math.log(float(np.sum(np.exp(f - m))) * step)


def _log_gf(q: float, mu: float, a: float) -> float:
    key = (q, mu, a)
    v = _KF.get(key)
    if v is None:
        try:
            if GRID_WMU[0] < abs(a) * mu <= GRID_WMU[1]:
                v = _log_g_grid(q, mu, a)
            else:
                v = float(sg_log_g(q, mu, complex(a, 0.0)).real)
        except (OverflowError, ValueError, ZeroDivisionError):
            v = math.inf
        if not (v == v):
            v = math.inf
        if len(_KF) > 20000:
            _KF.clear()
        _KF[key] = v
    return v


#: |w| mu (largest mu of the groups) beyond which k_float sums the groups itself (the fast real kernel
#: applies below it at the sigmas measured: 0.07 ms at w mu = 1e3, sigma = 681.6; 132 ms at 1e4)
SLOW_WMU = 1e3

#: the running certified query's clock (certified._CertClock, None outside one): k_float checks its
#: deadline before each kernel call
CLOCK: list = [None]


def k_float(cd: Any, s: float) -> float:
    """K(s) of a direction in floats (estimates only): the engine's fast real kernel for the whole
    history at once (sg_composition_real), sg_log_g per group where it gives no finite value.

    Memoised per direction object (one composition): the bracket's Chernoff check of the other
    direction orders the same grid of s at every eps it tries (certified._chernoff_hi), and the float
    kernel can be slow there (q = 0.001, sigma = 1, T = 10, ADD at s ~ 20: ~27 ms a point, 5.7 of the
    6.5 s of CPU that certificate took)."""
    memo = cd.__dict__.get("_kf_memo")
    if memo is None:
        memo = cd.__dict__.setdefault("_kf_memo", {})
    v = memo.get(s)
    if v is None:
        if CLOCK[0] is not None:
            CLOCK[0].check()
        v = _k_float(cd, s)
        if len(memo) > 4096:
            memo.clear()
        memo[s] = v
    return v


def _k_float(cd: Any, s: float) -> float:
    a = cd._a(s)
    k = 0.5 * cd.mu2 * s * (s + 1.0)
    if not cd.sg:
        return k
    arrs = getattr(cd, "_qarrs", None)
    if arrs is None:
        arrs = (np.array([g.q for g in cd.sg]), np.array([g.mu for g in cd.sg]),
                np.array([float(g.n) for g in cd.sg]), np.empty(3))
        cd._qarrs = arrs
    if abs(a) * float(arrs[1].max()) > SLOW_WMU:
        # per group, the value only: the fast real kernel where it applies, else sg_log_g once (memoised)
        # -- sg_composition_real's slow branch evaluates sg_log_g three times, for derivatives k_float
        # does not need (70-250 ms a call at w mu ~ 1e4, sigma = 681.6, q = 1.91e-6: one such call was
        # what a certified query overran its deadline by); the same value, the same "too far"
        v = 0.0
        buf = arrs[3]
        for g in cd.sg:
            if sg_log_g_real(g.q, g.mu, a, buf):
                v += g.n * float(buf[0])
            elif a * g.mu > GL_MAX_REACH:
                return math.inf
            else:
                v += g.n * _log_gf(g.q, g.mu, a)
        return k + v
    try:
        sg_composition_real(arrs[0], arrs[1], arrs[2], a, arrs[3])
        v = float(arrs[3][0])
    except (OverflowError, ValueError, ZeroDivisionError):
        v = math.nan
    if v == math.inf:
        # the kernel's "far beyond any saddle point" (w mu past its reach): K is huge there; the
        # per-group fallback below took ~100 ms at q = 4e-6, sigma = 5 (the golden sections probe s up
        # to 1e7), for an estimate that only needs to know it is far
        return math.inf
    if not math.isfinite(v):
        v = 0.0
        for g in cd.sg:
            v += g.n * _log_gf(g.q, g.mu, a)
    return k + v


def k_float3(cd: Any, s: float) -> tuple[float, float, float] | None:
    """(K, K', K'') of a direction at real s > 0 in floats (estimates only), from the engine's real
    kernel (sg_composition_real: sum n (log G, d/dw, d^2/dw^2) at w = a(s), a' = +-1); None where it
    gives no finite value (the golden sections of k_float then take over)."""
    a = cd._a(s)
    mu2 = cd.mu2
    k = 0.5 * mu2 * s * (s + 1.0)
    k1 = mu2 * (s + 0.5)
    k2 = mu2
    if cd.sg:
        arrs = getattr(cd, "_qarrs", None)
        if arrs is None:
            k_float(cd, s)  # builds cd._qarrs
            arrs = cd._qarrs
        if CLOCK[0] is not None:
            CLOCK[0].check()
        try:
            sg_composition_real(arrs[0], arrs[1], arrs[2], a, arrs[3])
        except (OverflowError, ValueError, ZeroDivisionError):
            return None
        v0, v1, v2 = float(arrs[3][0]), float(arrs[3][1]), float(arrs[3][2])
        if not (math.isfinite(v0) and math.isfinite(v1) and math.isfinite(v2)):
            return None
        k += v0
        k1 += v1 if cd.direction == "remove" else -v1  # da/ds = +1 (remove, a = s + 1), -1 (add)
        k2 += v2
    return k, k1, k2


#: the search range of s and c (as the golden sections: [1e-6, 1e7])
_LS_LO, _LS_HI = math.log(1e-6), math.log(1e7)


def _root_log(fd, x0: float) -> float | None:
    """The root in x = log s of an increasing g(e^x) (``fd(s)`` -> (g, dg/dx) or None): Newton steps
    (each at most 2 in x) from x0 until the sign changes, then Newton safeguarded by the bracket
    (bisection where a step leaves it); clipped to [_LS_LO, _LS_HI] where g keeps its sign there;
    None where fd fails.  Estimates only: it replaces golden sections (~26 float K evaluations each)
    by ~4-8."""
    x = min(max(x0, _LS_LO), _LS_HI)
    got = fd(math.exp(x))
    if got is None:
        return None
    g, dg = got
    lo = hi = None
    for _ in range(80):
        if g == 0.0 or abs(g) <= 1e-10 * (1.0 + abs(dg)):
            return x
        if g < 0.0:
            lo = x
        else:
            hi = x
        if lo is not None and hi is not None and hi - lo < 1e-9:
            return x
        xn = x - g / dg if dg > 0.0 and math.isfinite(dg) else (x + 2.0 if g < 0.0 else x - 2.0)
        xn = min(max(xn, x - 2.0), x + 2.0)
        if lo is not None and hi is not None:
            if not (lo < xn < hi):
                xn = 0.5 * (lo + hi)
        elif xn >= _LS_HI or xn <= _LS_LO:
            xn = min(max(xn, _LS_LO), _LS_HI)
            if xn == x:
                return x  # no sign change in the range: its end (as the golden section's)
        got = fd(math.exp(xn))
        if got is None:
            return None
        x, (g, dg) = xn, got
    return x


def _chernoff_s(cd: Any, log_delta: float) -> float | None:
    """log of the minimiser s of (psi(s) - log delta) / s: the root of s psi'(s) - psi(s) + log delta
    (increasing: its derivative is s psi''(s) > 0); Newton in log s (_root_log)."""

    def fd(s: float):
        k = k_float3(cd, s)
        if k is None:
            return None
        ls, l1s = math.log(s), math.log1p(s)
        psi = k[0] + s * ls - (s + 1.0) * l1s
        p1 = k[1] + ls - l1s
        p2 = k[2] + 1.0 / s - 1.0 / (1.0 + s)
        return s * p1 - psi + log_delta, s * s * p2

    return _root_log(fd, 0.0)


def _saddle_log(cd: Any, eps: float, x0: float) -> float | None:
    """log of the saddle c of K(c) - c eps - log(c (c + 1)) (convex in c): the root of its derivative
    K'(c) - eps - (2c + 1)/(c (c + 1)); Newton in log c from x0 (_root_log)."""

    def fd(c: float):
        k = k_float3(cd, c)
        if k is None:
            return None
        d1 = k[1] - eps - (2.0 * c + 1.0) / (c * (c + 1.0))
        d2 = k[2] + (2.0 * c * c + 2.0 * c + 1.0) / (c * c * (c + 1.0) ** 2)
        return d1, c * d2

    return _root_log(fd, x0)


def _golden(f, lo: float, hi: float, iters: int = 40) -> float:
    """Minimiser of a quasi-convex f on [lo, hi] (golden section, to 1e-3)."""
    from .._golden import golden_section

    a, b, *_ = golden_section(f, lo, hi, iters=iters, tol=1e-3)
    return 0.5 * (a + b)


def estimate(cd: Any, log_delta: float) -> tuple[float, float] | None:
    """(eps, c): a float estimate of eps(delta) of one direction and the saddle abscissa there.

    The Chernoff bound on the payoff, eps <= (psi(s) - log delta) / s (quasi-convex in s), gives a
    first eps; the saddle c of K(c) - c eps - log(c (c + 1)) (convex) and one saddle-point correction
    (- log sqrt(2 pi K''(c))) refine it.  Not part of the certificate."""

    def ech(ls: float) -> float:
        s = math.exp(ls)
        v = k_float(cd, s) + s * math.log(s) - (s + 1.0) * math.log1p(s) - log_delta
        return v / s if v == v else math.inf

    # Newton on the derivatives of the real kernel (~6 evaluations a search); the golden sections
    # (~26) where it fails
    fast = _estimate_newton(cd, log_delta)
    if fast is not None:
        return fast
    ls = _golden(ech, math.log(1e-6), math.log(1e7))
    eps = ech(ls)
    if not math.isfinite(eps):
        return None
    c = math.exp(ls)
    for _ in range(2):
        e = eps

        def phi(lc: float) -> float:
            cc = math.exp(lc)
            v = k_float(cd, cc) - cc * e - math.log(cc * (cc + 1.0))
            return v if v == v else math.inf

        lc = _golden(phi, math.log(1e-6), math.log(1e7))
        c = math.exp(lc)
        d = 1e-3 * c
        k2 = (k_float(cd, c + d) - 2.0 * k_float(cd, c) + k_float(cd, c - d)) / (d * d)
        k2 = k2 + (2.0 * c * c + 2.0 * c + 1.0) / (c * c * (c + 1.0) ** 2)
        if not (k2 > 0.0 and math.isfinite(k2)):
            break
        eps = (k_float(cd, c) - math.log(c * (c + 1.0)) - 0.5 * math.log(2.0 * math.pi * k2) - log_delta) / c
        if not math.isfinite(eps):
            return None
    return max(eps, 0.0), c


def _estimate_newton(cd: Any, log_delta: float) -> tuple[float, float] | None:
    """estimate() by Newton on the float derivatives (the same three steps: Chernoff eps, then twice
    the saddle and its correction with K''(c) from the kernel); None where any step fails."""
    ls = _chernoff_s(cd, log_delta)
    if ls is None:
        return None
    s = math.exp(ls)
    k = k_float3(cd, s)
    if k is None:
        return None
    eps = (k[0] + s * math.log(s) - (s + 1.0) * math.log1p(s) - log_delta) / s
    if not math.isfinite(eps):
        return None
    x, c = ls, s
    for _ in range(2):
        x = _saddle_log(cd, eps, x)
        if x is None:
            return None
        c = math.exp(x)
        k = k_float3(cd, c)
        if k is None:
            return None
        k2 = k[2] + (2.0 * c * c + 2.0 * c + 1.0) / (c * c * (c + 1.0) ** 2)
        if not (k2 > 0.0 and math.isfinite(k2)):
            break
        eps = (k[0] - math.log(c * (c + 1.0)) - 0.5 * math.log(2.0 * math.pi * k2) - log_delta) / c
        if not math.isfinite(eps):
            return None
    return max(eps, 0.0), c


def quantise_c(c: float) -> float:
    """The grid point at or below c."""
    return 2.0 ** (math.floor(C_STEPS * math.log2(c)) / C_STEPS)


def neg_exact_period(cd: Any, eps: float) -> float:
    """The smallest alias period P = 2 pi / h for which the k < 0 aliases are expected to be known
    exactly at the final eps (``certified._neg_alias``: REMOVE of subsampled Gaussians only, where
    eps - P <= L_min = sum n log(1 - q)); inf where they never are.  The final eps is not known yet
    (``eps`` is the float estimate), so a margin of max(1, eps) is added: where the final eps misses
    the condition after all, the certificate uses the bound 1/(e^{cP} - 1) there (valid, only wider;
    the bracket is then checked against QUANT_RTOL as always)."""
    if cd.direction != "remove" or cd.mu2 != 0.0 or not cd.sg or not (eps >= 0.0):
        return math.inf
    lmin = sum(g.n * math.log1p(-g.q) for g in cd.sg)
    return eps + max(1.0, eps) - lmin


#: pick_h's finer grid of s only up to this abscissa (the float K is slow at large s: ~16 ms a point at
#: sigma = 605, q = 5.3e-6, where c ~ 9e5)
FINE_C_MAX = 64.0


def pick_h(cd: Any, c: float, eps: float, log_delta: float, h_max: float = math.inf, fine: bool = True
           ) -> tuple[float, list[float]] | None:
    """The largest h = 2^-j whose alias bounds (float psi) are below ALIAS_RTOL * delta, and the s
    values that bound the positive aliases (their rigorous psi_hi is used in the certificate).

    The k < 0 aliases' bound 1/(e^{cP} - 1) is not asked where they are subtracted exactly
    (P >= neg_exact_period: the certificate's _neg_alias): below the saddle that bound, not the
    positive aliases, limited the step (q = 0.01, sigma = 0.6421, T = 10: h = 1/2 at c = 2^(3/4),
    two grid points below the c = 2^(5/4) of h = 1/4)."""
    lim = log_delta + math.log(ALIAS_RTOL)
    ss = sorted([c * (1.0 + 2.0 ** (-k / 2.0)) for k in range(1, 13)] + [c * 2.0 ** (k / 4.0) for k in range(5, 17)])
    p_neg = neg_exact_period(cd, eps)
    if fine and len(cd.sg) <= N_EST_GROUPS and p_neg < math.inf and c <= FINE_C_MAX:
        # a finer grid beyond 2c (few groups: each point is one cheap float K): with few participations
        # K(s) turns from ~0 to steep within ~0.3 c (q = 0.01, sigma = 0.6421, T = 10: K(3.3) = 0.9,
        # K(4) = 15), and the best s of the positive-alias bound sits inside that turn
        ss = sorted(set(ss + [c * 2.0 ** (k / 16.0) for k in range(17, 65)]))
    ps = []
    for s in ss:
        v = k_float(cd, s) + s * math.log(s) - (s + 1.0) * math.log1p(s) - s * eps
        ps.append(v if v == v else math.inf)
    j0 = int(math.floor(math.log2(2.0 * math.pi * c / (-lim + 1.0))))  # e^{-cP} <= e^lim
    if p_neg < math.inf:
        j0 = max(j0, int(math.floor(math.log2(2.0 * math.pi / p_neg))))
    if h_max < math.inf:
        j0 = min(j0, int(round(math.log2(h_max))))
    for j in range(j0, j0 - 40, -1):
        h = 2.0 ** j
        P = 2.0 * math.pi / h
        if P < p_neg and -c * P - math.log1p(-math.exp(-c * P)) > lim:
            continue
        best, arg = math.inf, None
        for s, p in zip(ss, ps):
            g = (s - c) * P
            v = p - (g + math.log1p(-math.exp(-g)))
            if v < best:
                best, arg = v, s
        if best <= lim - 1.0:
            return h, [arg]
    return None


def shape_key(cd: Any, direction: str, log_delta: float) -> tuple:
    return (direction, tuple((g.q, g.mu) for g in cd.sg), cd.mu2 > 0.0, round(log_delta, 6))


def saddle_at(cd: Any, eps: float) -> float:
    """The saddle abscissa of K(c) - c eps - log(c (c + 1)) (convex in c; floats, estimates only)."""

    def phi(lc: float) -> float:
        cc = math.exp(lc)
        v = k_float(cd, cc) - cc * eps - math.log(cc * (cc + 1.0))
        return v if v == v else math.inf

    return math.exp(_golden(phi, math.log(1e-6), math.log(1e7)))


#: choose: where the float saddle's step is this many times shorter than the engine's, the engine's
#: abscissa is used instead
ENG_H_RATIO = 64.0

#: set by choose: whether its abscissa is below the saddle's grid point (the caller retries without)
LAST_BELOW = [False]


def choose(cd: Any, direction: str, c_saddle: float, eps: float, log_delta: float, eng=None,
           below: bool = True):
    """(c, h, alias s-values, N to start from: the previous contour's, 0 where there is none) for a
    quantised contour; None where no h is found.

    ``eng``: the exact engine's (c, h, alias s-values) at this eps, where it has a contour: c_saddle is
    its c; h is its h rounded down to a power of two where that is at least the float alias
    criterion's (the engine's alias s-values join the list: all lie above its c >= the c used)."""
    key = shape_key(cd, direction, log_delta)
    rec = _QREC.get(key) if below else None
    LAST_BELOW[0] = False
    if eng is not None:
        # the engine's c is no saddle: with few participations it takes 0.4-0.8 of it (its alias period
        # is shorter), and its certified sum there did not settle -- q = 0.01, sigma = 0.6421, T = 110:
        # the engine's c = 0.49 (the saddle 2.72), the quantised contour at 0.42 found no eps, and the
        # engine-guided contour at 0.49 gave [3.1704, 16.04] (the truth 3.1705).  The float saddle
        # (Newton from the engine's c, ~10 float K evaluations) places c; the engine's h serves only
        # where c is at or below its c (below)
        x0 = math.log(rec[0]) if rec is not None else math.log(c_saddle) if c_saddle > 0.0 else math.nan
        x = _saddle_log(cd, eps, x0) if math.isfinite(x0) else None
        if x is not None and math.isfinite(x):
            c_saddle = math.exp(x)
    # at or below the saddle (the positive aliases shrink there; above it they grow like e^{(c - c*) P}
    # and force a smaller step), the previous c while it stays within HYST grid steps below
    c = quantise_c(c_saddle)
    if rec is not None and 0.0 <= math.log2(c_saddle) - math.log2(rec[0]) <= HYST / C_STEPS:
        c = rec[0]
        # the coarse s-grid first (a later query of a training loop: ~50 float K less); the fine one
        # where the coarse one does not reach the recorded step
        got = pick_h(cd, c, eps, log_delta, fine=False)
        if got is None or got[0] < rec[1]:
            gf = pick_h(cd, c, eps, log_delta)
            if gf is not None and (got is None or gf[0] > got[0]):
                got = gf
    else:
        # the node count is u_max / h, u_max where the integrand has decayed: among the grid points at
        # and up to C_BELOW steps below the saddle, the one with the smallest float estimate of the
        # node count (n_estimate) is taken (ties, or no estimate: the one nearest the saddle).  At
        # q T = 0.1 (q = 0.01, sigma = 0.6421, T = 10) the saddle's grid point allows h = 1/8, one
        # step below h = 1/4: 5,632 -> ~2,700 nodes.  Only the width can suffer (the sums cancel more
        # away from the saddle); a lower c can also need a much longer contour (sigma = 605,
        # q = 5.3e-6: the truncation was not met within the budget), hence the estimate, not h alone.
        got = pick_h(cd, c, eps, log_delta)
        if below and got is not None and len(cd.sg) <= N_EST_GROUPS:
            k = math.floor(C_STEPS * math.log2(c_saddle))
            best = n_estimate(cd, c, got[0], trunc_target(log_delta, c, eps))
            # (only for long contours: pick_h's float K at other abscissae is not free -- at sigma = 605,
            # q = 5.3e-6 (c ~ 9e5) it took the whole budget -- and short ones have little to gain)
            for j in range(1, C_BELOW + 1) if best is not None and best > C_BELOW_MIN_N else ():
                cj = 2.0 ** ((k - j) / C_STEPS)  # as quantise_c computes it (the caches' keys)
                gj = pick_h(cd, cj, eps, log_delta)
                if gj is None or gj[0] <= got[0]:
                    continue
                nj = n_estimate(cd, cj, gj[0], trunc_target(log_delta, cj, eps))
                if nj is not None and nj < (0.6 if j == 1 else BELOW_GAIN) * best:
                    got, c, best = gj, cj, nj
                    LAST_BELOW[0] = True
    if eng is not None and c > eng[0] and eng[1] > 0.0:
        # the float saddle above the engine's c, with a step ENG_H_RATIO times shorter than the engine's:
        # the float K turns steep just above c there (the lognormal's far tail: sigma = 5.668,
        # q = 1.29e-6, T = 1.56e7 -- the float saddle 861, h = 2^-23 against the engine's c = 348,
        # h = 50.8 -- the truncation was never met and the query ran out of its time); the engine's c
        # (its grid point at or below it) then, with its step (any c and h are valid: only the width
        # and the node count depend on them)
        he = 2.0 ** math.floor(math.log2(eng[1]))
        if got is None or got[0] * ENG_H_RATIO < he:
            c = quantise_c(eng[0])
            got = pick_h(cd, c, eps, log_delta)
            LAST_BELOW[0] = False
    if eng is not None and c <= eng[0]:
        he = 2.0 ** math.floor(math.log2(eng[1]))
        if got is None or he > got[0]:
            got = (he, sorted(set([sv for sv in eng[2] if sv > c] + (got[1] if got is not None else []))))
    if got is None:
        return None
    h, s_alias = got
    if rec is not None and rec[0] == c and rec[1] < h:
        # a smaller step is always admissible (its aliases are smaller) and its nodes are cached
        h = rec[1]
        got = pick_h(cd, c, eps, log_delta, h_max=h)
        if got is not None:
            s_alias = got[1]
    n0 = rec[2] if rec is not None and rec[0] == c and rec[1] == h else 0  # 0: no previous contour
    if (n0 > 2 * N_SHRINK_MIN and len(rec) > 3 and _steps(cd) >= N_SHRINK_GROWTH * rec[3]
            and len(cd.sg) <= N_EST_GROUPS):
        # the history has grown N_SHRINK_GROWTH-fold since this N was set: the integrand decays
        # faster, and every query sums all N nodes (Newton, the bracket's bisection).  q = 0.01,
        # sigma = 1: N = 797 set at T = 20 (h = 1/4), ~190 needed at T = 110, ~90 at T = 300.  Start
        # from the float estimate where it is under half of N (the rigorous search in the caller
        # decides; the cells between the two counts are probed once)
        ne = n_estimate(cd, c, h, trunc_target(log_delta, c, eps))
        if ne is not None and ne < n0 // 2:
            n0 = max(N_SHRINK_MIN, ne)
    return c, h, s_alias, n0


#: the float node-count estimate is made for at most this many subsampled-Gaussian groups (its cost
#: is one float log G per group and grid point)
N_EST_GROUPS = 16


def n_estimate(cd: Any, c: float, h: float, target: float) -> int | None:
    """A float estimate (not part of the certificate) of the node count whose truncation sum
    h sum_{k >= N} |e^{K(z_k)}| / |z_k (z_k + 1)| is below e^target, or None where none is found.

    The tail is approximated by the integral of the float integrand on a geometric grid in u (ratio
    1.1, trapezoids in log u).  It only tells the rigorous search (``CertDirection.log_trunc``) where
    to start: that search probes every cell beyond the node count it is asked about, so starting at
    64 nodes where ~2,700 are needed (q T = 0.1) spent ~45 ms on probes of cells far inside the
    final contour."""
    if len(cd.sg) > N_EST_GROUPS:
        return None
    qs = np.array([g.q for g in cd.sg])
    mus = np.array([g.mu for g in cd.sg])
    ns = np.array([float(g.n) for g in cd.sg])
    parts = []
    for j0 in range(0, 160, 16):
        # 16 grid points at a time, stopping once the float integrand is far below the target (the
        # float kernel is slow at very large |Im w|: a grid to 1e8 h cost ~100 ms where 64 nodes did)
        u = h * 16.0 * 1.1 ** np.arange(j0, j0 + 16)
        z = c + 1j * u
        lf = 0.5 * cd.mu2 * (z * z + z).real
        if cd.sg:
            try:
                lf = lf + sg_composition_complex(qs, mus, ns, np.ascontiguousarray(cd._w(z))).real
            except (OverflowError, ValueError, ZeroDivisionError):
                return None
        lf = lf - np.log(np.abs(z * (z + 1.0))) + np.log(u) + math.log(math.log(1.1))
        if not np.all(np.isfinite(lf)):
            return None
        parts.append((u, lf))
        if np.all(lf[-4:] < target - 30.0):
            break
    u = np.concatenate([p[0] for p in parts])
    lf = np.concatenate([p[1] for p in parts])
    # tail[j] ~ log of the integral from u[j] on (the grid's end: the integrand has decayed by then)
    tail = np.logaddexp.accumulate(lf[::-1])[::-1]
    ok = np.nonzero(tail <= target - 1.0)[0]
    if ok.size == 0 or lf[-1] > target - 10.0:
        return None
    return int(math.ceil(u[ok[0]] / h))


#: the node errors the value-weighted ladder (node_ladder) aims at, relative to delta (their sum); the
#: bracket's ends move by about E / (delta |d log delta / d eps|) on their account
NODE_ERR_RTOL = 2e-6
#: node_ladder only for contours of at least this many nodes, reaching at most this far
LADDER_MIN_N = 256
LADDER_U_MAX = 1e5
#: the largest loosening of a node's tolerance by node_ladder (a power of two)
NODE_WEIGHT_CAP = 2.0 ** 20


def node_ladder(cd: Any, c: float, h: float, n: int, eps: float, log_delta: float, node_rtol: float):
    """A function u -> log of the factor node k's tolerance is loosened by on the quantised contour
    (c, h, N = n), or None where the floats give no estimate.  Not part of the certificate: each
    node's radius enters the error bound E as it is (docs/certified.md section 2), so the factor
    decides only the width.

    Node k adds about (h/pi) |e^{K(z_k) - z_k eps}| / |z_k (z_k + 1)| n r_k / |G(w_k)| to E (the
    telescoped bound of section 3), and its radius is asked for node_rtol G(a) / nb times the factor:
    so the factor that makes each node's share NODE_ERR_RTOL delta / N is
    NODE_ERR_RTOL delta e^{c eps} pi / (N h W(u) node_rtol G(a) / |G(w)|), W(u) = |e^{K}| / |z (z+1)|,
    rounded down to a power of two, at least 1, at most NODE_WEIGHT_CAP.  W and |G(w)| / G(a) come
    from the float kernel on a geometric grid in u (ratio 1.1; each node takes the larger W of the
    two grid points around it, times e).  The integrand decays by e^-20 and more within the contour
    (q = 0.01, sigma = 0.6421, T = 10: ~90 % of the nodes at u >= 60, where a factor >= 2^7 applies;
    an enclosure at 1e-5 of G(a) costs ~11 us against ~19 us at 6e-10)."""
    if len(cd.sg) > N_EST_GROUPS or n < LADDER_MIN_N or not (n * h <= LADDER_U_MAX):
        return None  # short contours gain little; the float kernel is slow at very large |Im w|
    qs = np.array([g.q for g in cd.sg])
    mus = np.array([g.mu for g in cd.sg])
    ns = np.array([float(g.n) for g in cd.sg])
    ntot = float(ns.sum())
    u_end = (n + 1) * h
    m = max(2, int(math.ceil(math.log(u_end / h) / math.log(1.1))) + 2)
    u = np.concatenate([[0.0], h * 1.1 ** np.arange(m)])
    z = c + 1j * u
    try:
        lk = 0.5 * cd.mu2 * (z * z + z).real
        lk = lk + sg_composition_complex(qs, mus, ns, np.ascontiguousarray(cd._w(z))).real
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
    lw = lk - np.log(np.abs(z * (z + 1.0)))
    if not np.all(np.isfinite(lw)):
        return None
    # log(G(a) / |G(w)|) per step (one group: exact; several: their average, a guide)
    lgr = np.maximum((lk[0] - lk) / max(ntot, 1.0), 0.0)
    need = lw + lgr
    # each interval [u_j, u_{j+1}] takes the larger end (+1 nat)
    top = np.maximum(need[:-1], need[1:]) + 1.0
    base = (math.log(NODE_ERR_RTOL) + log_delta + c * eps + math.log(math.pi) - math.log(n * h)
            - math.log(node_rtol))
    lf = base - top
    cap = math.log2(NODE_WEIGHT_CAP)

    def ladder(us: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(u, us, side="right") - 1, 0, lf.shape[0] - 1)
        x = np.floor(np.clip(lf[j] / LOG2, 0.0, cap))
        # at least the distance ladder of certified._ladder (rho = 4)
        x = np.maximum(x, np.minimum(np.floor(np.log2(np.maximum(np.abs(c + 1j * us) / (4.0 * c), 1.0))), 10.0))
        return x * LOG2

    return ladder


LOG2 = math.log(2.0)


def forget(cd: Any, log_delta: float) -> None:
    """Drop the recorded contours of this shape (both directions)."""
    for d in ("remove", "add"):
        _QREC.pop(shape_key(cd, d, log_delta), None)


def _steps(cd: Any) -> int:
    return sum(g.n for g in cd.sg)


#: a recorded node count is re-estimated once the history has grown this many times (choose) ...
N_SHRINK_GROWTH = 4
#: ... and never below this
N_SHRINK_MIN = 64


def record(cd: Any, direction: str, log_delta: float, c: float, h: float, n: int) -> None:
    key = shape_key(cd, direction, log_delta)
    rec = _QREC.get(key)
    # the step count the node count was set at (kept while the same (c, h, N) is recorded again)
    steps = rec[3] if rec is not None and len(rec) > 3 and rec[:3] == (c, h, int(n)) else _steps(cd)
    _QREC[key] = (c, h, int(n), steps)
    _QREC.move_to_end(key)
    while len(_QREC) > 256:
        _QREC.popitem(last=False)
