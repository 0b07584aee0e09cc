"""Certified brackets for compositions with pure eps0-DP groups (randomized response, Laplace) that the lattice-over-
contour source (bounds/rr_contour.py, <= 64 lattice points) and the rounded FFT (bounds/mixed_fft.py, <= 4096 steps)
do not reach or answer wide (docs/certified_mixed.md, parts D and W):

* D (dominance, any rest): every pure S-DP pair of laws is a post-processing of randomized response RR(S) (Kairouz,
  Oh & Viswanath 2015), and composition keeps the order, so with G the pure groups (S = sum n e0 + sum n theta) and R
  the rest,  delta_R(eps) <= delta_{R+G}(eps) <= p delta_R(eps - S) + (1 - p) delta_R(eps + S),  p = 1 / (1 + e^-S),
  both ends from the rest's own certificates (bounds.certify: any source that proves them); for eps(delta) the
  lower end is eps_R's lower end, the upper end eps_R's upper end + S, or the chord's verified point;
* W (binomial window, Gaussian rest): randomized-response groups summed exactly over the Gaussian closed form
  delta_G(x) = Phibar(x / mu - mu / 2) - e^x Phibar(x / mu + mu / 2) (every real x), each group's binomial
  restricted to a window of +- WINDOW_SD standard deviations around its mode with the mass outside bounded
  (geometric series of the falling pmf ratios, in Arb) and charged to the upper end (payoff <= 1).

Both return None where they do not apply or prove nothing narrower; the caller (mixed_fft.narrow) intersects.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..methods import budget
from ._two_step_kernel import RL, U, _pb

SHIFT_SOURCE = "pure-DP groups dominated by randomized response RR(S) over the rest's certificate"
GAUSS_SOURCE = "randomized-response binomial window summed over the Gaussian closed form"

#: D is tried where the pure groups' total S is at most this (its eps width is ~S^2 (1 + slope) / 2 with the chord)
SHIFT_MAX = 0.05
#: W: each group's window spans this many standard deviations of its count on each side (pmf ~e^-98 at the edge)
WINDOW_SD = 14.0
#: W: the window is widened (x 2) until the mass left outside is at most this fraction of the lower delta
TAIL_REL = 1e-9
#: W: most points of the product of the windows
MAX_POINTS = 2_000_000
#: W: relative half-widths tried around the float estimate (eps brackets)
HALF_WIDTHS = (1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 3e-5)
#: D: most bisection steps of the chord search (each asks the rest's certified delta at two points)
CHORD_STEPS = 12


class _Decline(Exception):
    pass


def _split(groups: Sequence[tuple[Any, int]]):
    """(rr [(e0, n)], laplace [((tl, th), n)], rest [(mech, n)], gauss [(sigma, n)] or None where the rest is not
    Gaussian only)."""
    from ..mechanisms import Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse
    from .mixed_fft import _theta_interval

    rr, lap, rest, gauss = [], [], [], []
    for m, n in groups:
        n = int(n)
        if n <= 0:
            continue
        if isinstance(m, RandomizedResponse):
            rr.append((float(m.epsilon0), n))
        elif isinstance(m, Laplace):
            lap.append((_theta_interval(float(m.sensitivity), float(m.scale)), n))
        else:
            rest.append((m, n))
            if gauss is not None and isinstance(m, Gaussian):
                gauss.append((float(m.noise_multiplier), n))
            elif gauss is not None and isinstance(m, PoissonSubsampledGaussian) and float(m.sampling_probability) >= 1.0:
                gauss.append((float(m.noise_multiplier), n))
            else:
                gauss = None
    return rr, lap, rest, gauss


def _acc(rest):
    from ..accountant import Accountant

    a = Accountant()
    for m, n in rest:
        a = a.compose(m, n)
    return a


# ------------------------------------------------------------------------------------------------ D: dominance
def _shift(rr, lap) -> float:
    """An upper bound on S = sum n e0 + sum n theta (each product rounds by half an ulp, fsum by one more)."""
    terms = [e0 * n for e0, n in rr] + [th * n for (_, th), n in lap]
    return math.fsum(terms) * (1.0 + (len(terms) + 4) * U)


class _Dom:
    def __init__(self, rest_acc, s: float):
        from . import certify

        self.certify = certify
        self.rest = rest_acc
        self.s = s
        # p = 1 / (1 + e^-S) and 1 - p = 1 / (1 + e^S): exp within RL, the sum and the division within U each
        self.p_hi = min(1.0, 1.0 / (1.0 + math.exp(-s)) * (1.0 + 2.0 * RL + 4.0 * U))
        self.q_hi = min(1.0, 1.0 / (1.0 + math.exp(s)) * (1.0 + 2.0 * RL + 4.0 * U))

    def d_rest(self, y: float) -> tuple[float, float]:
        if y < 0.0:
            return 0.0, 1.0  # (only the upper end is used there: delta_R <= 1)
        c = self.certify.certified_delta(self.rest, y)
        return max(c.lower, 0.0), min(c.upper, 1.0)

    def upper(self, eps: float) -> float:
        """p delta_R(eps - S) + (1 - p) delta_R(eps + S), rounded up (the chord of the convex payoff in e^-L_G)."""
        a = self.d_rest(float(np.nextafter(eps - self.s, -np.inf)))[1]
        b = self.d_rest(float(np.nextafter(eps + self.s, -np.inf)))[1]
        return min(1.0, (self.p_hi * a + self.q_hi * b) * (1.0 + 4.0 * U))


def shift_bracket(groups: Sequence[tuple[Any, int]], kind: str, x: float, time_budget: float = 3.0,
                  chord: bool = True):
    """(lower, upper, info) by D, or None (no pure group, nothing else, S > SHIFT_MAX, the rest's certificate
    unavailable).  chord=False: eps(delta) by the eps-level bracket only (one certificate of the rest)."""
    from . import certify

    rr, lap, rest, _ = _split(groups)
    if not (rr or lap) or not rest:
        return None
    s = _shift(rr, lap)
    if not (0.0 < s <= SHIFT_MAX):
        return None
    t0 = budget.clock()
    dom = _Dom(_acc(rest), s)
    info: dict[str, Any] = {"S": s}
    if kind == "delta":
        if not (math.isfinite(x) and x >= 0.0):
            return None
        lo = dom.d_rest(x)[0]  # data processing: the rest's output is a post-processing of the whole
        hi = dom.upper(x)
        info["seconds"] = budget.clock() - t0
        return lo, hi, info
    if not (0.0 < x < 1.0):
        return None
    cr = certify.certified_epsilon(dom.rest, x, time_budget=time_budget)
    lo = max(cr.lower, 0.0)
    r_hi = cr.upper
    if not math.isfinite(r_hi):
        return None
    # delta_{R+G}(e) <= delta_R(e - S) (the chord's ends, the larger one): eps <= eps_R + S
    hi = (r_hi + s) * (1.0 + 4.0 * U)
    info["rest"] = (cr.lower, cr.upper)
    if not chord or not certify._too_wide("epsilon", lo, hi):
        info["seconds"] = budget.clock() - t0
        return lo, hi, info
    # the chord: the least verified e in [eps_R's upper end, hi] with p delta_R(e - S) + (1 - p) delta_R(e + S) <= delta
    a = r_hi
    deadline = t0 + time_budget
    if dom.upper(a) <= x:
        hi = a
    else:
        for _ in range(CHORD_STEPS):
            if budget.clock() > deadline or not certify._too_wide("epsilon", lo, hi):
                break
            mid = 0.5 * (a + hi)
            if dom.upper(mid) <= x:
                hi = mid
            else:
                a = mid
    info["seconds"] = budget.clock() - t0
    return lo, hi, info


# ------------------------------------------------------------------------------------- W: binomial window, Gaussian
def _window(e0: float, n: int, wsd: float):
    """(a_lo, a_hi, w_lo, w_hi, tail_hi) over the counts k of a window around the mode of Bin(n, p),
    p = 1 / (1 + e^-e0): the loss e0 (2k - n) outward, the pmf as Arb balls turned outward, and tail_hi >= the
    pmf's mass outside the window (the ratios pmf(k+1) / pmf(k) fall with k: beyond the window's top the mass is at
    most pmf(top) r / (1 - r), r the ratio at the top (< 1 above the mode), and likewise below its bottom)."""
    from flint import arb, ctx

    p = 1.0 / (1.0 + math.exp(-e0)) if e0 < 700 else 1.0
    mode = min(n, max(0, int(math.floor((n + 1) * p))))
    sd = math.sqrt(n * p * (1.0 - p))
    half = int(wsd * sd) + 10
    k0, k1 = max(0, mode - half), min(n, mode + half)
    if k1 - k0 + 1 > MAX_POINTS:
        raise _Decline("window")
    old = ctx.prec
    ctx.prec = 96 + int(math.log2(n + 2))
    try:
        e = arb(e0)
        log_r = e - (e.exp() + 1).log()
        log_1r = -(e.exp() + 1).log()
        rho = e.exp()
        wm = (arb(n + 1).lgamma() - arb(mode + 1).lgamma() - arb(n - mode + 1).lgamma()
              + mode * log_r + (n - mode) * log_1r).exp()
        w = {mode: wm}
        for k in range(mode, k1):
            w[k + 1] = w[k] * (n - k) / (k + 1) * rho
        for k in range(mode, k0, -1):
            w[k - 1] = w[k] * k / (n - k + 1) / rho
        tail = arb(0)
        if k1 < n:
            r = arb(n - k1) / (k1 + 1) * rho
            if not r < 1:
                raise _Decline("window top")
            tail += w[k1] * r / (1 - r)
        if k0 > 0:
            r = arb(k0) / (n - k0 + 1) / rho
            if not r < 1:
                raise _Decline("window bottom")
            tail += w[k0] * r / (1 - r)
        ks = range(k0, k1 + 1)
        w_lo = np.empty(len(ks))
        w_hi = np.empty(len(ks))
        for i, k in enumerate(ks):
            b = w[k]
            if not b.is_finite():
                raise _Decline("randomized-response weight not enclosed")
            w_lo[i] = max(0.0, math.nextafter(float(b.lower()), -math.inf))
            w_hi[i] = math.nextafter(float(b.upper()), math.inf)
        tail_hi = math.nextafter(float(tail.upper()), math.inf) if tail.is_finite() else math.inf
    finally:
        ctx.prec = old
    m = 2.0 * np.arange(k0, k1 + 1, dtype=np.float64) - n  # exact integers
    a, err = _two_prod(e0, m)  # a + err = e0 m exactly (Dekker): the rounded product moved one ulp only where inexact
    a_lo = np.where(err < 0.0, np.nextafter(a, -np.inf), a)
    a_hi = np.where(err > 0.0, np.nextafter(a, np.inf), a)
    return a_lo, a_hi, w_lo, w_hi, max(tail_hi, 0.0)


def _two_prod(x: float, y: np.ndarray):
    """(p, e) with p = fl(x y) and p + e = x y exactly (Dekker's TwoProduct with Veltkamp's split; round to nearest, no
    overflow or underflow: |x| < 2^995, |y| < 2^53 and x y normal or 0 -- e0 <= 700, counts < 2^53)."""
    p = x * y
    c = 134217729.0  # 2^27 + 1
    t = c * x
    xh = t - (t - x)
    xl = x - xh
    t2 = c * y
    yh = t2 - (t2 - y)
    yl = y - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return p, e


@njit(cache=True)
def _gauss_term(x, mu, upper):
    """A bound on delta_G(x) = Phibar(x / mu - mu / 2) - e^x Phibar(x / mu + mu / 2) (upper or lower): the
    arguments within dz = 4 U (|x| / mu + mu + 1) (a division, a halving, a sum), Phibar by _pb, exp within RL, the
    product and the difference within U each (2 U charged)."""
    z1 = x / mu - 0.5 * mu
    z2 = x / mu + 0.5 * mu
    dz = 4.0 * U * (abs(x) / mu + mu + 1.0)
    _, a_lo, a_hi = _pb(z1, dz)
    if x >= 700.0:  # (e^x overflows: the second term >= 0 dropped from the upper end; the lower end 0)
        return min(a_hi, 1.0) if upper else 0.0
    _, b_lo, b_hi = _pb(z2, dz)
    ex = math.exp(x)
    if upper:
        d = a_hi - ex * (1.0 - 2.0 * RL) * b_lo * (1.0 - 2.0 * U)
        return min(max(d * (1.0 + 2.0 * U), 0.0), 1.0)
    d = a_lo - ex * (1.0 + 2.0 * RL) * b_hi * (1.0 + 2.0 * U)
    return max(d * (1.0 - 2.0 * U), 0.0)


@njit(cache=True)
def _gauss_sum(x_lo, x_hi, w_lo, w_hi, mu_lo, mu_hi):
    """(lower, upper) on sum_j w_j delta_G(x_j): delta_G is non-increasing in x and non-decreasing in mu, so the
    upper term at (x_lo, mu_hi), the lower at (x_hi, mu_lo); n non-negative products summed: (n + 4) U relative."""
    s_lo = 0.0
    s_hi = 0.0
    n = x_lo.shape[0]
    for j in range(n):
        s_hi += w_hi[j] * _gauss_term(x_lo[j], mu_hi, True)
        s_lo += w_lo[j] * _gauss_term(x_hi[j], mu_lo, False)
    g = (n + 4) * U
    return s_lo * (1.0 - g), s_hi * (1.0 + g)


class _GaussMix:
    def __init__(self, rr, gauss):
        m2 = math.fsum(n / (s * s) for s, n in gauss)  # each term within 3 U, fsum within U
        self.mu_lo = math.sqrt(m2 * (1.0 - (3.0 * len(gauss) + 4.0) * U)) * (1.0 - 2.0 * U)
        self.mu_hi = math.sqrt(m2 * (1.0 + (3.0 * len(gauss) + 4.0) * U)) * (1.0 + 2.0 * U)
        self.mu = math.sqrt(m2)
        self.rr = rr
        self.wsd = WINDOW_SD
        self._build()

    def _build(self):
        a_lo = np.zeros(1)
        a_hi = np.zeros(1)
        w_lo = np.ones(1)
        w_hi = np.ones(1)
        tail = 0.0
        for e0, n in self.rr:
            g_alo, g_ahi, g_wlo, g_whi, t = _window(e0, n, self.wsd)
            if a_lo.size * g_alo.size > MAX_POINTS:
                raise _Decline("product of the windows")
            a_lo = np.nextafter((a_lo[:, None] + g_alo[None, :]).ravel(), -np.inf)
            a_hi = np.nextafter((a_hi[:, None] + g_ahi[None, :]).ravel(), np.inf)
            w_lo = (w_lo[:, None] * g_wlo[None, :]).ravel() * (1.0 - 4.0 * U)
            w_hi = (w_hi[:, None] * g_whi[None, :]).ravel() * (1.0 + 4.0 * U)
            tail += t  # union bound: some group outside its window
        self.a_lo, self.a_hi, self.w_lo, self.w_hi = a_lo, a_hi, w_lo, w_hi
        self.tail = tail * (1.0 + 4.0 * U)
        self.w_mid = 0.5 * (w_lo + w_hi)
        self.a_mid = 0.5 * (a_lo + a_hi)

    def delta(self, eps: float) -> tuple[float, float]:
        x_lo = np.nextafter(eps - self.a_hi, -np.inf)
        x_hi = np.nextafter(eps - self.a_lo, np.inf)
        lo, hi = _gauss_sum(x_lo, x_hi, self.w_lo, self.w_hi, self.mu_lo, self.mu_hi)
        hi = (hi + self.tail) * (1.0 + 2.0 * U)
        if self.tail > TAIL_REL * lo and self.wsd < 100.0:
            self.wsd *= 2.0  # (the window's edge mass matters at this delta: widen and redo)
            self._build()
            return self.delta(eps)
        return max(lo, 0.0), min(hi, 1.0)

    def estimate(self, eps: float) -> float:
        from scipy.special import log_ndtr

        x = eps - self.a_mid
        z1 = x / self.mu - 0.5 * self.mu
        z2 = x / self.mu + 0.5 * self.mu
        with np.errstate(over="ignore", under="ignore"):
            t = np.exp(log_ndtr(-z1)) - np.exp(np.minimum(x + log_ndtr(-z2), 700.0))
        return float(np.dot(self.w_mid, np.maximum(t, 0.0)))


def _gauss_ok(rr, lap, rest, gauss) -> bool:
    return bool(rr) and not lap and bool(rest) and gauss is not None and bool(gauss)


def gauss_delta_bracket(groups: Sequence[tuple[Any, int]], eps: float):
    rr, lap, rest, gauss = _split(groups)
    if not _gauss_ok(rr, lap, rest, gauss) or not (math.isfinite(eps) and eps >= 0.0):
        return None
    t0 = budget.clock()
    try:
        mix = _GaussMix(rr, gauss)
        lo, hi = mix.delta(eps)
    except _Decline:
        return None
    return lo, hi, {"points": int(mix.a_lo.size), "tail": mix.tail, "seconds": budget.clock() - t0}


def gauss_epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, lo: float = 0.0, hi: float = math.inf):
    """Verified [lower, upper] on eps(delta) by W, or None.  [lo, hi]: a proven bracket (centres the search)."""
    rr, lap, rest, gauss = _split(groups)
    if not _gauss_ok(rr, lap, rest, gauss) or not (0.0 < delta < 1.0):
        return None
    t0 = budget.clock()
    try:
        mix = _GaussMix(rr, gauss)
        if mix.delta(0.0)[1] <= delta:
            return 0.0, 0.0, {"points": int(mix.a_lo.size), "seconds": budget.clock() - t0}
        a = max(lo, 0.0) if math.isfinite(lo) else 0.0
        b = hi if math.isfinite(hi) and hi > a else max(2.0 * a, 1.0)
        for _ in range(60):
            if mix.estimate(b) <= delta:
                break
            a, b = b, 2.0 * b + 1.0
        if mix.estimate(a) <= delta:
            a = 0.0
        for _ in range(200):
            if b - a <= 1e-12 * b:
                break
            m = 0.5 * (a + b)
            if mix.estimate(m) <= delta:
                b = m
            else:
                a = m
        est = 0.5 * (a + b)
        for r in HALF_WIDTHS:
            e_hi = est * (1.0 + r) + 1e-300
            e_lo = est * (1.0 - r)
            if mix.delta(e_hi)[1] > delta:
                continue
            if mix.delta(e_lo)[0] > delta:
                return e_lo, e_hi, {"points": int(mix.a_lo.size), "tail": mix.tail, "half_width": r,
                                    "estimate": est, "seconds": budget.clock() - t0}
        return None
    except _Decline:
        return None


#: D runs before rr_contour (R) where S is at most this fraction of the eps at hand (the proven upper end for eps(delta):
#: its first, eps-level bracket eps_R + S is then about within issue 9's target at the cost of the rest's certificate;
#: RR(1e-6) x 40 + PSG(1, 0.01) x 100: R spent 1.5 s and declined); elsewhere R runs first
SHIFT_FIRST_REL = 5e-5


def _lattice_size(rr) -> int:
    size = 1
    for _, n in rr:
        size *= n + 1
    return size


def narrow_first(groups: Sequence[tuple[Any, int]], kind: str, x: float, time_budget: float = 3.0,
                 lo: float = 0.0, hi: float = math.inf):
    """The first of W (randomized response with a Gaussian rest) and D (pure groups of
    total S <= SHIFT_MAX, eps(delta) at the eps level only; where rr_contour applies -- randomized response only, at
    most 64 points, a Gaussian-type rest -- only where S <= SHIFT_FIRST_REL eps) that applies: (lower, upper, info,
    source) or None."""
    from .rr_contour import MAX_POINTS as R_POINTS, _split as r_split

    rr, lap, rest, gauss = _split(groups)
    if _gauss_ok(rr, lap, rest, gauss):  # (also within R's 64 points: ~2e-9 wide in 0.03 s, R ~2e-6 in 0.05-0.2 s)
        br = (gauss_epsilon_bracket(groups, x, lo, hi) if kind == "epsilon" else gauss_delta_bracket(groups, x))
        if br is not None:
            return br[0], br[1], br[2], GAUSS_SOURCE
    if not (rr or lap) or not rest:
        return None
    s = _shift(rr, lap)
    if r_split(groups) is not None and not s <= SHIFT_FIRST_REL * (hi if kind == "epsilon" else x):
        return None  # (R first; mixed_fft.narrow asks D after it where still too wide)
    if kind == "epsilon" and not s <= 1e-4 * hi:
        return None  # (the eps-level width S > 1e-4 eps: too wide for sure; the chord after F)
    # eps(delta): the eps-level bracket only (the rest's certificate); the chord after R / F (mixed_fft.narrow)
    return narrow_shift(groups, kind, x, time_budget, chord=False)


def narrow_shift(groups: Sequence[tuple[Any, int]], kind: str, x: float, time_budget: float = 3.0,
                 chord: bool = True):
    br = shift_bracket(groups, kind, x, time_budget, chord)
    if br is not None:
        return br[0], br[1], br[2], SHIFT_SOURCE
    return None
