"""Certified eps(delta) / delta(eps) of compositions that mix Laplace or randomized-response steps with
Gaussian / Poisson-subsampled Gaussian steps: a rounded privacy-loss-distribution bracket
(docs/certified_mixed.md).

Each group's per-step privacy loss L (per direction) is rounded UP to the grid g_k = k h (h a power of
two: every grid value and every sum of them is an exact double) for the upper law and DOWN for the lower
law, from rigorous enclosures lo(g) <= P(L > g) <= hi(g) at the grid points:

* Laplace (theta = sensitivity / scale, both directions the same law): P(L > g) = 1 for g < -theta,
  1 - e^{-(theta - g)/2} / 2 on [-theta, theta), 0 from theta on (atoms at +-theta of mass 1/2 and
  e^{-theta}/2, the continuous part between);
* randomized response (e0, both directions the same law): P(L > g) = 1 below -e0, p = 1/(1 + e^{-e0}) on
  [-e0, e0), 0 from e0 on;
* all Gaussian steps together (one step: their composition is Gaussian, mu^2 = sum n / sigma^2; both
  directions the same law N(mu^2/2, mu^2)): P(L > g) = Phibar(g/mu - mu/2), enclosed by the repository's
  Phibar kernel (bounds/_two_step_kernel._pb), the grid cut where the tail beyond is below the truncation
  budget (upper law: the mass above goes to the infinite state, the mass below moves up to the bottom
  cell; lower law: both dropped);
* Poisson-subsampled Gaussian groups: bounds/fewpart_cert._Step (REMOVE and ADD differ).

The laws are turned into cell masses exactly as bounds/fewpart_cert._Step does (made monotone, the upper
law's survival is hi shifted by one cell, the lower law's is lo), composed by fewpart_cert._Law (tilted FFT
compositions with a proven l2 error budget, charged / free truncations; docs/certified_fewpart.md B1-B10),
and the lower bound is fewpart_cert's shifted upper law (B11) where it is tight, else the composed lower
law.  Every step of that argument uses only the monotonicity of the payoff (1 - e^{eps - s})_+ in every
step's loss and the per-step enclosures above, so it holds for any mix of laws.

Width: the two laws differ by h per discretised step (Gaussians count once), so the eps bracket is about
N h wide; h is chosen from the width wanted and the method declines (None) where the grid would exceed
fewpart_cert.MAX_FFT or the CPU budget runs out.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..methods import budget
from . import fewpart_cert as fc
from ._two_step_kernel import RL, U, _pb

#: CPU seconds one bracket may spend (fewpart_cert's deadline is set to it; checked before every FFT composition
#: and in the searches): ~0.2 s with Gaussians, 1-3 s with tens of subsampled steps (their REMOVE tails).  3 s
#: (was 2): Laplace(1) x 20 + PSG(1, 0.01) x 100 needs 1.8-2.7 s CPU on the loaded 2-core machine (3 laws of
#: 14 FFT convolutions of 2^19-2^20 points)
TIME_BUDGET = 3.0
#: eps brackets ask the default engine for the estimate that centres them (0.01-2.7 s for Laplace mixes, a flagged
#: Chernoff bound for most RR + PSG ones) only where this is True; else a coarse round (grid 8x) centres the fine one
ENGINE_ESTIMATE = False
#: cells of the Gaussian group's one step (the others: fewpart_cert.MAX_STEP)
GAUSS_MAX_STEP = 1 << 22
#: the mixes this module answers: at most this many discretised steps (N h is the width: beyond, the grid
#: is too fine for the FFT limit at issue 9's target anyway)
MAX_STEPS = 4096


#: sub-grid laws (docs/certified_mixed.md F9): survival enclosures at SUB points per cell (a power of two; 0: the
#: rounded laws of F2, one point per cell).  The upper law is the connect-the-dots spread of each cell (second order; its
#: survival a left Riemann sum on the sub-grid: ~h / (2 SUB) per step), the lower law contracts the cell
#: (g_k - LOW_A h / SUB, g_k + (SUB - LOW_A) h / SUB] to g_k where the sub-grid proves its e^{-L}-mean at most e^{-g_k}
#: (~(1/2 - LOW_A / SUB) h per step), else rounds it down
SUB = 16
LOW_A = 7
#: eps width per step over h (grid selection only: n_eff): a continuous loss with the sub-grid laws, an atom off the grid
W_SUB = 0.13
W_ATOM_OFF = 0.6


def _sub_weights(h: float, sub: int) -> tuple[np.ndarray, float, float, np.ndarray]:
    """(omega_hi, c_a, c_b, w_lo) of F9: omega_j >= e^{-j h/sub} (1 - e^{-h/sub}) / (1 - e^{-h}) (the connect-the-dots
    weights of the sub-intervals of a cell, j = 0 .. sub-1); c_a >= e^alpha - 1, c_b >= 1 - e^{alpha - h} (alpha =
    LOW_A h / sub); w_j <= e^{alpha - j h/sub} (1 - e^{-h/sub}).  exp / expm1 within RL, products within U each."""
    d = h / sub  # exact (sub a power of two)
    j = np.arange(sub, dtype=np.float64)
    e_j = np.exp(-j * d)  # j d exact (j < 2^5, d has <= 21 + 1 significant bits)
    em_d = -math.expm1(-d)
    em_h = -math.expm1(-h)
    omega = e_j * (em_d / em_h) * (1.0 + 4.0 * RL + 8.0 * U)
    alpha = LOW_A * d
    c_a = math.expm1(alpha) * (1.0 + RL + 2.0 * U)
    c_b = -math.expm1(alpha - h) * (1.0 + RL + 2.0 * U)
    w = np.exp(alpha - j * d) * em_d * (1.0 - 3.0 * RL - 8.0 * U)
    return omega, c_a, c_b, w


@njit(cache=True)
def _monotone(hi, lo, ge):
    """In place: hi clipped to [0, 1] and made non-increasing by running minima from the left (still an upper bound of a
    non-increasing function); lo, and ge (first raised to lo: P(L >= t) >= P(L > t)), clipped and made non-increasing by
    running maxima from the right (still lower bounds)."""
    n = len(hi)
    c = 1.0
    for i in range(n):
        v = min(max(hi[i], 0.0), 1.0)
        c = min(c, v)
        hi[i] = c
    a = 0.0
    b = 0.0
    for i in range(n - 1, -1, -1):
        v = min(max(lo[i], 0.0), 1.0)
        a = max(a, v)
        lo[i] = a
        u = max(min(max(ge[i], 0.0), 1.0), a)
        b = max(b, u)
        ge[i] = b


@njit(cache=True)
def _sub_kernel(hi_s, lo_s, ge_s, omega, c_a, c_b, w, sub, m, low_a, su, sd):
    """F9's survival vectors (in place): su[i] >= P(U >= g_{k_lo + i}), sd[i] <= P(D >= g_{k_lo + i}), i = 0 .. m-2,
    from monotone enclosures on the sub-grid (hi_s non-increasing upper, lo_s / ge_s non-increasing lower)."""
    rnd = 1.0 + (sub + 2) * U
    for i in range(m - 1):
        acc = 0.0
        base = i * sub
        for j in range(sub):
            acc += omega[j] * hi_s[base + j]
        su[i] = min(acc * rnd, 1.0)
        sk = (i + 1) * sub
        ia = sk - low_a
        tp = c_a * hi_s[ia] + c_b * hi_s[ia + sub]
        tn = 0.0
        for j in range(sub):
            tn += w[j] * ge_s[ia + j + 1]
        v = ge_s[sk]
        if tp - tn + (sub + 4) * U * (tp + tn) <= 0.0 and lo_s[ia] > v:
            v = lo_s[ia]
        sd[i] = v


def _sub_laws(hi_s: np.ndarray, lo_s: np.ndarray, lo_ge_s: np.ndarray, h: float, sub: int, m: int):
    """The step's (up, m_inf, dn) from survival enclosures on the sub-grid t_s = g_{k_lo - 1} + s h / sub,
    s = 0 .. m sub (hi_s >= P(L > t_s), lo_s <= P(L > t_s), lo_ge_s <= P(L >= t_s)), cells k = k_lo .. k_hi
    (m = k_hi - k_lo + 2), in the layout of _GenStep (docs/certified_mixed.md F9).

    Upper law: P(U >= g_k) for k = k_lo + i, i = 1 .. m-2 (the cell (g_{k-1}, g_k] starts at s = i sub) is the
    connect-the-dots survival, the e^{-l}-weighted mean of P(L > l) over the cell, at most sum_j omega_j hi(t_{i sub + j});
    P(U >= g_{k_lo}) = 1 (the mass below moved up).  Lower law: the cell of g_k is (a, b] = (t_{s_k - A}, t_{s_k - A + sub}],
    s_k = (i + 1) sub; where c_a hi(a) + c_b hi(b) - sum_j w_j P(L >= t_{ia + j + 1}) <= 0 (>= e^{g_k} E[e^{-L} - e^{-g_k};
    cell]) it contracts to g_k and P(D >= g_k) >= P(L > a), else (rounded down) P(D >= g_k) >= P(L >= g_k)."""
    # (made monotone in place: the callers' fresh arrays; lo_ge_s may be lo_s itself)
    hi_s, lo_s, lo_ge_s = (np.ascontiguousarray(x, dtype=np.float64) for x in (hi_s, lo_s, lo_ge_s))
    _monotone(hi_s, lo_s, lo_ge_s)
    omega, c_a, c_b, w = _sub_weights(h, sub)
    su = np.empty(m - 1)
    sd = np.empty(m - 1)
    _sub_kernel(hi_s, lo_s, lo_ge_s, omega, c_a, c_b, w, sub, m, LOW_A, su, sd)
    return _finish(su, sd)


def _finish(su: np.ndarray, sd: np.ndarray):
    """(up, m_inf, dn) from F9's survival vectors (made monotone: running minimum of the upper, maximum of the lower)."""
    su[0] = 1.0  # every mass below g_{k_lo} moved up to it
    su = np.minimum.accumulate(su)
    up = su[:-1] - su[1:]
    m_inf = float(su[-1])
    sd = np.maximum.accumulate(sd[::-1])[::-1]
    dn = sd[:-1] - sd[1:]
    dn[-1] = sd[-2]
    return up, m_inf, dn


@njit(cache=True)
def _enc(kind, g, p0, p1, p2):
    """(lo, hi, ge) at the point g: lo <= P(L > g) <= hi, ge <= P(L >= g), for kind 0: Laplace with theta in
    [p0, p1] (F3; the formulas of _laplace_step's numpy version), kind 1: randomized response with e0 = p0 and
    p in [p1, p2] (F3)."""
    if kind == 1:
        if g < -p0:
            return 1.0, 1.0, 1.0
        if g < p0:
            return p1, p2, p1
        return 0.0, 0.0, (p1 if g == p0 else 0.0)
    tl, th = p0, p1
    y = 0.5 * (th - g)
    e = math.exp(-max(y, 0.0))
    r = 2.0 * RL + 4.0 * U * (abs(y) + 1.0)
    hi = 1.0 if g < -tl else ((1.0 - 0.5 * e * (1.0 - r) + 2.0 * U) if g < th else 0.0)
    if tl == th:
        e2, r2 = e, r
    else:
        y2 = 0.5 * (tl - g)
        e2 = math.exp(-max(y2, 0.0))
        r2 = 2.0 * RL + 4.0 * U * (abs(y2) + 1.0)
    v = 1.0 - 0.5 * e2 * (1.0 + r2) - 2.0 * U
    lo = 1.0 if g < -th else (v if g < tl else 0.0)
    ge = 1.0 if g <= -th else (v if g <= tl else 0.0)
    return min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0), min(max(ge, 0.0), 1.0)


@njit(cache=True)
def _sub_kernel_fn(kind, p0, p1, p2, i0, d, omega, c_a, c_b, w, sub, m, low_a, su, sd):
    """_sub_kernel with the enclosures evaluated at the sub-points t_s = (i0 + s) d on the fly (_enc; no sub-grid
    arrays, no running extrema there: the Riemann sums use pointwise enclosures only, F9)."""
    rnd = 1.0 + (sub + 2) * U
    for i in range(m - 1):
        acc = 0.0
        base = i * sub
        for j in range(sub):
            acc += omega[j] * _enc(kind, (i0 + base + j) * d, p0, p1, p2)[1]
        su[i] = min(acc * rnd, 1.0)
        sk = (i + 1) * sub
        ia = sk - low_a
        la, ha, _ = _enc(kind, (i0 + ia) * d, p0, p1, p2)
        tp = c_a * ha + c_b * _enc(kind, (i0 + ia + sub) * d, p0, p1, p2)[1]
        tn = 0.0
        for j in range(sub):
            tn += w[j] * _enc(kind, (i0 + ia + j + 1) * d, p0, p1, p2)[2]
        v = _enc(kind, (i0 + sk) * d, p0, p1, p2)[2]
        if tp - tn + (sub + 4) * U * (tp + tn) <= 0.0 and la > v:
            v = la
        sd[i] = v


def _sub_laws_fn(kind: int, p0: float, p1: float, p2: float, k_lo: int, h: float, sub: int, m: int):
    """_sub_laws for a Laplace (kind 0) or randomized-response (kind 1) step, enclosures on the fly."""
    omega, c_a, c_b, w = _sub_weights(h, sub)
    su = np.empty(m - 1)
    sd = np.empty(m - 1)
    _sub_kernel_fn(kind, p0, p1, p2, float((k_lo - 1) * sub), h / sub, omega, c_a, c_b, w, sub, m, LOW_A, su, sd)
    return _finish(su, sd)


class _GenStep:
    """One group's per-step upper and lower laws on the grid [k_lo, k_hi] (the duck type of
    fewpart_cert._Step: up, dn, k_lo, k_hi, n, h, top, m_inf), from survival enclosures at
    g = (k_lo - 1 + j) h, j = 0 .. k_hi - k_lo + 1 (sub = 0), or on the sub-grid of F9 (sub > 0)."""

    def __init__(self, n: int, h: float, k_lo: int, k_hi: int, surv, surv_ge=None, max_len: int = fc.MAX_STEP,
                 sub: int = 0, kind: tuple | None = None):
        self.n, self.h, self.k_lo, self.k_hi = n, h, k_lo, k_hi
        m = k_hi - k_lo + 2
        if m > max_len:
            raise fc._TooBig(m)
        self.top = k_hi * h
        if sub and (max(abs(k_lo), abs(k_hi)) + 2) * sub >= 2.0 ** (53 - _sig_bits(h)):
            raise fc._TooBig(m)  # (the sub-points (integer) x h / sub must be exact doubles)
        if sub and kind is not None:
            # t_s = (s + (k_lo - 1) sub) (h / sub): integers times h / sub, exact (|s| sub-scaled < 2^(53 - 22 - 5))
            self.up, self.m_inf, self.dn = _sub_laws_fn(kind[0], kind[1], kind[2], kind[3], k_lo, h, sub, m)
            return
        g = (k_lo - 1 + np.arange(m, dtype=np.float64)) * h  # exact: integers times a power of two
        lo, hi = surv(g)
        if surv_ge is not None:
            # the lower law needs P(L >= g_k) (D = g_k on g_k <= L < g_{k+1}); P(L > g_k) bounds it below, and
            # surv_ge's lower enclosure of P(L >= g_k) does too, keeping an atom at a grid point where it is (F2)
            lo = np.maximum(lo, surv_ge(g))
        lo = np.clip(lo, 0.0, 1.0)
        hi = np.clip(hi, 0.0, 1.0)
        hi = np.minimum.accumulate(hi)
        lo = np.maximum.accumulate(lo[::-1])[::-1]
        su = hi[: m - 1].copy()
        su[0] = 1.0  # every mass below g_{k_lo} moved up to it (upper law only)
        self.up = su[:-1] - su[1:]
        self.m_inf = float(su[-1])
        sd = lo[1:]
        dn = sd[:-1] - sd[1:]
        dn[-1] = sd[-2]
        self.dn = dn


class _PSGStep(fc._Step):
    """fewpart_cert._Step (grid ends, ADD floor) with its laws rebuilt on F9's sub-grid (survival_bounds at h / sub)."""

    def __init__(self, q, sigma, n, remove, h, tail, floor_loss=-math.inf, sub: int | None = None):
        super().__init__(q, sigma, n, remove, h, tail, floor_loss)
        sub = SUB if sub is None else sub
        m = self.k_hi - self.k_lo + 2
        ns = m * sub + 1
        if ns > fc.MAX_STEP * sub or (max(abs(self.k_lo), abs(self.k_hi)) + 2) * sub >= 2.0 ** (53 - _sig_bits(h)):
            raise fc._TooBig(ns)
        lo = np.empty(ns)
        hi = np.empty(ns)
        fc.survival_bounds((self.k_lo - 1) * sub, ns, h / sub, q, self.mu, remove, lo, hi)
        # (the loss is continuous: P(L >= t) >= P(L > t))
        self.up, self.m_inf, self.dn = _sub_laws(hi, lo, lo, h, sub, m)


def _theta_interval(sensitivity: float, scale: float) -> tuple[float, float]:
    """[tl, th] containing theta = sensitivity / scale (exact reals of the two doubles): the quotient itself
    where the division is exact (e.g. 1 / 2: an atom on the grid stays there in both laws), else within half
    an ulp of the computed one."""
    from fractions import Fraction

    t = sensitivity / scale
    if Fraction(sensitivity) / Fraction(scale) == Fraction(t):
        return t, t
    return t * (1.0 - 2.0 * U), t * (1.0 + 2.0 * U)


def _laplace_step(theta: tuple[float, float], n: int, h: float) -> _GenStep:
    tl, th = theta

    def surv(g):
        out_lo = np.zeros_like(g)
        out_hi = np.zeros_like(g)
        # hi: 1 where g < -tl, 1 - e^{-(th - g)/2}/2 on [-tl, th), 0 from th on (docs: L1)
        y = 0.5 * (th - g)
        e = np.exp(-np.maximum(y, 0.0))
        r = 2.0 * RL + 4.0 * U * (np.abs(y) + 1.0)
        v_hi = 1.0 - 0.5 * e * (1.0 - r) + 2.0 * U
        out_hi = np.where(g < -tl, 1.0, np.where(g < th, v_hi, 0.0))
        y2 = 0.5 * (tl - g)
        e2 = np.exp(-np.maximum(y2, 0.0))
        r2 = 2.0 * RL + 4.0 * U * (np.abs(y2) + 1.0)
        v_lo = 1.0 - 0.5 * e2 * (1.0 + r2) - 2.0 * U
        out_lo = np.where(g < -th, 1.0, np.where(g < tl, v_lo, 0.0))
        return out_lo, out_hi

    def surv_ge(g):
        # P(L >= g) >= 1 for g <= -th, >= 1 - e^{-(tl - g)/2}/2 for -th < g <= tl (increasing in theta), 0 above
        y2 = 0.5 * (tl - g)
        e2 = np.exp(-np.maximum(y2, 0.0))
        r2 = 2.0 * RL + 4.0 * U * (np.abs(y2) + 1.0)
        v_lo = 1.0 - 0.5 * e2 * (1.0 + r2) - 2.0 * U
        return np.where(g <= -th, 1.0, np.where(g <= tl, v_lo, 0.0))

    k_lo = math.floor(-th / h) - 1
    k_hi = math.ceil(th / h) + 1
    return _GenStep(n, h, k_lo, k_hi, surv, surv_ge, sub=SUB, kind=(0, tl, th, 0.0))


def _rr_step(e0: float, n: int, h: float) -> _GenStep:
    # p = 1 / (1 + e^{-e0}): exp within RL, the sum and the division within U each
    pf = 1.0 / (1.0 + math.exp(-e0))
    pl, ph = pf * (1.0 - RL - 4.0 * U), min(pf * (1.0 + RL + 4.0 * U), 1.0)

    def surv(g):
        lo = np.where(g < -e0, 1.0, np.where(g < e0, pl, 0.0))
        hi = np.where(g < -e0, 1.0, np.where(g < e0, ph, 0.0))
        return lo, hi

    def surv_ge(g):  # P(L >= g): 1 up to -e0, p on (-e0, e0], 0 above
        return np.where(g <= -e0, 1.0, np.where(g <= e0, pl, 0.0))

    return _GenStep(n, h, math.floor(-e0 / h) - 1, math.ceil(e0 / h) + 1, surv, surv_ge, sub=SUB, kind=(1, e0, pl, ph))


#: F10 (docs/certified_mixed.md): a randomized-response group of at least BINOM_MIN steps is ONE step whose law is its
#: binomial lattice (rr_mix._window: Arb pmf on +- BINOM_SD sd, the mass outside charged to the upper law), on F9's
#: sub-grid: its atoms cost ~h / 2 once (the lower law) instead of per step
BINOM_MIN = 2
BINOM_SD = 14.0
#: most sub-grid points of one binomial step (memory: ~6 arrays of doubles)
BINOM_MAX_SUB = 1 << 22


def _binom_window_half(e0: float, n: int) -> float:
    """About half the loss span of the binomial step's window (feasible() only)."""
    p = 1.0 / (1.0 + math.exp(-e0)) if e0 < 700 else 1.0
    return e0 * min(float(n), BINOM_SD * math.sqrt(n * p * (1.0 - p)) + 10.0) * 2.0


class _BinomStep(_GenStep):
    """A randomized-response group (e0, n) as one step (n = 1 in the composition) with its binomial law: survival
    enclosures at the sub-grid points t from the window's outward atoms (hi: the weights' upper ends of the atoms with
    a_hi > t, summed (suffix sums, (m + 2) U doubled) plus the mass outside the window; lo: the lower ends of those
    with a_lo > t; ge: with a_lo >= t), then F9's laws (_sub_laws)."""

    def __init__(self, e0: float, n: int, h: float, tail_budget: float, max_len: int = fc.MAX_STEP):
        from .rr_mix import _Decline, _window

        try:
            a_lo, a_hi, w_lo, w_hi, tail = _window(e0, n, BINOM_SD)
        except _Decline as exc:
            raise fc._TooBig(0) from exc
        self.n, self.h = 1, h
        k_lo = math.floor(float(a_lo[0]) / h) - 1
        k_hi = math.ceil(float(a_hi[-1]) / h) + 1
        self.k_lo, self.k_hi = k_lo, k_hi
        sub = SUB if SUB else 1
        # a window longer than BINOM_MAX_SUB sub-points keeps its top: the mass below the grid's bottom is moved up to
        # it in the upper law and dropped in the lower law (F2's rules: both stay bounds); only where that mass is at
        # most tail_budget (the direction's truncation share: the upper delta moves by at most that), else declined
        # (_rr_group_step then composes the group step by step)
        k_cut = k_hi + 2 - (BINOM_MAX_SUB - 1) // sub
        if k_cut > k_lo:
            i = int(np.searchsorted(a_hi, (k_cut - 1) * h, side="right"))  # atoms with a_hi <= the new bottom
            if float(np.sum(w_hi[:i])) * (1.0 + 2.0 * (i + 2) * U) > tail_budget:
                raise fc._TooBig(k_hi - k_lo + 2)
            k_lo = k_cut
        self.k_lo = k_lo
        m = k_hi - k_lo + 2
        if m > max_len:
            raise fc._TooBig(m)
        if (max(abs(k_lo), abs(k_hi)) + 2) * sub >= 2.0 ** (53 - _sig_bits(h)):
            raise fc._TooBig(m)  # (the sub-points must be exact doubles)
        self.top = k_hi * h
        ns = m * sub + 1
        t = ((k_lo - 1) * sub + np.arange(ns, dtype=np.float64)) * (h / sub)  # integers times h / sub: exact
        r = 2.0 * (len(w_lo) + 2) * U
        cs_hi = np.concatenate([np.cumsum(w_hi[::-1])[::-1], [0.0]]) * (1.0 + r)
        cs_lo = np.concatenate([np.cumsum(w_lo[::-1])[::-1], [0.0]]) * (1.0 - r)
        hi = (cs_hi[np.searchsorted(a_hi, t, side="right")] + tail) * (1.0 + 2.0 * U)
        lo = cs_lo[np.searchsorted(a_lo, t, side="right")]
        ge = cs_lo[np.searchsorted(a_lo, t, side="left")]
        self.up, self.m_inf, self.dn = _sub_laws(hi, lo, ge, h, sub, m)


def _rr_group_step(e0: float, n: int, h: float, tail: float):
    if n >= BINOM_MIN:
        try:
            return _BinomStep(e0, n, h, tail)
        except fc._TooBig:
            pass  # (step by step: F2 / F9's per-step laws)
    return _rr_step(e0, n, h)


@njit(cache=True)
def _gauss_surv(g, mu, r, lo, hi):
    """lo[i] <= Phibar(g_i / m - m / 2) <= hi[i] for every m in [mu (1 - r), mu (1 + r)]."""
    for i in range(len(g)):
        x = g[i] / mu - 0.5 * mu
        # |g/m - g/mu| <= |g| / mu * 2 r, |m/2 - mu/2| <= mu r / 2; the roundings of x: 4 U (|g|/mu + mu)
        dx = abs(g[i]) / mu * 2.0 * r + mu * r + 4.0 * U * (abs(g[i]) / mu + mu + 1.0)
        _, l, u = _pb(x, dx)
        lo[i] = l
        hi[i] = u


def _gauss_step(m2: float, r2: float, h: float, tail: float) -> _GenStep:
    """The composition of every Gaussian step: loss N(mu^2/2, mu^2), mu^2 within m2 (1 +- r2)."""
    mu = math.sqrt(m2)
    r = 0.5 * r2 + 2.0 * U  # sqrt halves the relative error, plus its own rounding
    z = fc._x_tail(0.0, 0.0, tail)  # Phibar(z) <= tail (a float bisection: the grid ends are enclosed anyway)
    k_hi = math.ceil((0.5 * m2 + mu * (z + 1.0)) / h) + 1
    k_lo = math.floor((0.5 * m2 - mu * (z + 1.0)) / h) - 1

    def surv(g):
        lo = np.empty_like(g)
        hi = np.empty_like(g)
        _gauss_surv(g, mu, r, lo, hi)
        return lo, hi

    # (one step, truncated by F7's cuts before any convolution: its untilted tails, mean +- mu (z + 1), may be longer
    # than a powered step's limit; Laplace(7.7) x 20 + Gaussian(9.3) x 100 at 3.95e-4: 1.3e6 cells)
    return _GenStep(1, h, k_lo, k_hi, surv, max_len=GAUSS_MAX_STEP)


# ----------------------------------------------------------------------------------------------------
# the composition's groups


class _Groups:
    """The composition split into the kinds above; None from :func:`parse` where it is not a mix this
    module answers (no Laplace / randomized response, or nothing else, or a kind it does not know)."""

    def __init__(self):
        self.laplace: list[tuple[tuple[float, float], int]] = []  # ((theta_lo, theta_hi), n)
        self.rr: list[tuple[float, int]] = []  # (e0, n)
        self.psg: list[tuple[float, float, int]] = []  # (q, sigma, n)
        self.gauss: list[tuple[float, int]] = []  # (sigma, n)
        # F2'' (docs): the Laplace groups as parsed (true theta enclosures); grid() may replace one group's theta by
        # theta_g = K h (its atoms on the grid) and records the eps shift n |theta - theta_g| this costs
        self.laplace_true: list[tuple[tuple[float, float], int]] = []
        self.shift = 0.0

    @property
    def n_steps(self) -> int:
        return (sum(n for _, n in self.laplace) + sum(_rr_count(n) for _, n in self.rr) + sum(n for *_, n in self.psg)
                + (1 if self.gauss else 0))

    def n_eff(self, h: float) -> float:
        """The eps width of the bracket over h, roughly: a step whose loss has atoms on grid points adds h only
        where its loss falls between them (Laplace: its continuous mass (1 - e^-theta) / 2; randomized response
        with e0 / h an integer: nothing), every other step h (the Gaussians together once); with F9's sub-grid laws
        (SUB > 0) a continuous part W_SUB h, an atom off the grid W_ATOM_OFF h.  Sets the grid only."""
        wc, wa = (W_SUB, W_ATOM_OFF) if SUB else (1.0, 1.0)
        n = wc * float(sum(k for *_, k in self.psg)) + (1.0 if self.gauss else 0.0)
        for (tl, th), k in self.laplace:
            on = tl == th and (th / h).is_integer()
            c = -0.5 * math.expm1(-th)  # the continuous mass
            n += k * (wc * c if on else wc * c + wa * (1.0 - c))
        for e0, k in self.rr:
            n += 0.0 if (e0 / h).is_integer() else wa * _rr_count(k)
        return max(n, 1.0)

    def grid(self, width: float, ongrid: bool = True) -> float:
        """The grid step h for an eps width of about ``width``: the coarsest power of two with n_eff(h) h <= width (at
        least fewpart_cert._grid_h's, N h <= width), or -- where that is coarser -- a non-dyadic h (at most
        ONGRID_BITS significant bits) with one Laplace group's theta moved onto the grid (F2'': its atoms then cost
        nothing; theta_g = K h within ~1e-10 theta of theta, the bracket shifted by n |theta - theta_g|, self.shift)."""
        self.laplace = list(self.laplace_true)
        self.shift = 0.0
        h = fc._grid_h(self.n_steps, width)
        for _ in range(12):
            if self.n_eff(2.0 * h) * 2.0 * h > width:
                break
            h *= 2.0
        best = None
        for i, ((tl, th), n) in enumerate(self.laplace_true if ongrid else []):
            # n_eff with group i on the grid (its continuous mass only), the other Laplace / RR groups off it
            wc, wa = (W_SUB, W_ATOM_OFF) if SUB else (1.0, 1.0)
            rest = wc * float(sum(k for *_, k in self.psg)) + (1.0 if self.gauss else 0.0)
            rest += sum(k * (wc * (-0.5 * math.expm1(-t[1])) + wa * (1.0 + 0.5 * math.expm1(-t[1])))
                        for j, (t, k) in enumerate(self.laplace_true) if j != i)
            rest += wa * sum(_rr_count(k) for _, k in self.rr)
            ne = max(rest + n * wc * (-0.5 * math.expm1(-th)), 1.0)
            h_t = NONDYADIC_FILL * width / ne
            if h_t < ONGRID_GAIN * h or h_t < 1e-12 or th > 1e6 * h_t:
                continue
            got = _ongrid(tl, th, h_t, ONGRID_SHIFT * width / n)  # (the shift n d: at most 2 % of the width)
            if got is not None and (best is None or got[0] > best[1]):
                best = (i, got[0], got[1], got[2])
        if best is not None and best[1] > h:
            i, h2, tg, dth = best
            n = self.laplace_true[i][1]
            self.laplace[i] = ((tg, tg), n)
            self.shift = n * dth
            return h2
        return h

    def sup(self, remove: bool) -> float:
        """A bound on the composed loss of one direction (inf where a Gaussian or a REMOVE subsampled step)."""
        if self.gauss or (remove and self.psg):
            return math.inf
        # (the true thetas and, through shift, the on-grid theta_g <= theta_hi + |theta - theta_g|)
        s = sum(t[1] * n for t, n in self.laplace_true) + self.shift + sum(e * n for e, n in self.rr)
        s += sum(-n * math.log1p(-q) for q, _, n in self.psg)
        return s * (1 + 1e-12)


def _rr_count(n: int) -> int:
    """The steps a randomized-response group of n runs is composed as (F10: one binomial step)."""
    return 1 if BINOM_MIN and n >= BINOM_MIN else n


def parse(groups: Sequence[tuple[Any, int]]) -> _Groups | None:
    from ..mechanisms import Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse

    g = _Groups()
    for m, n in groups:
        n = int(n)
        if n <= 0:
            continue
        if isinstance(m, Laplace):
            g.laplace.append((_theta_interval(float(m.sensitivity), float(m.scale)), n))
        elif isinstance(m, RandomizedResponse):
            g.rr.append((float(m.epsilon0), n))
        elif isinstance(m, Gaussian):
            g.gauss.append((float(m.noise_multiplier), n))
        elif isinstance(m, PoissonSubsampledGaussian):
            q, s = float(m.sampling_probability), float(m.noise_multiplier)
            if q >= 1.0:
                g.gauss.append((s, n))
            elif q > 0.0:
                g.psg.append((q, s, n))
        else:
            return None
    if not (g.laplace or g.rr) or not (g.gauss or g.psg) or g.n_steps > MAX_STEPS:
        return None
    g.laplace_true = list(g.laplace)
    return g


#: a non-dyadic grid with a Laplace group's atoms on it (F2'') is used where it is at least this much coarser
ONGRID_GAIN = 1.0
#: significant bits of such a grid step h = M 2^-e (M < 2^ONGRID_BITS): every k h with |k| < 2^(53 - ONGRID_BITS)
#: is an exact double (checked per direction: _Direction)
ONGRID_BITS = 21
#: candidates K (theta_g = K h) searched for the closest theta_g
ONGRID_CANDIDATES = 4096
#: the eps shift n |theta - theta_g| allowed, relative to the width aimed at
ONGRID_SHIFT = 0.02
#: narrow's coarse eps round (grid 8x) may take this share of the budget (0.3 before session 15): where it is slow the
#: fine round is predicted past the budget and skipped, so the coarse bracket is the answer (Laplace(4.649) x 3 +
#: PSG(1.804, 0.0901) x 50: ~1 s, declined at 0.9 s in one run of two)
COARSE_SHARE = 0.5
#: narrow's fine eps round is skipped where FINE_COST_SHARE x (the coarse round's CPU) x (its h / the fine h) exceeds the
#: budget (a low prediction: the fine round's cells grow ~ h_coarse / h_fine, the laws and searches a little less)
FINE_COST_SHARE = 0.5
#: delta_bracket's refined grids: predicted CPU (the first grid's x its cells ratio) times this must fit the time left
DELTA_COST_MARGIN = 2.0
DELTA_COST_MIN = 0.05
#: the on-grid h aims at this share of the width (n_eff h <= NONDYADIC_FILL width: the estimate that sets the width is
#: rarely exact, and the power of two of the other rule leaves slack)
NONDYADIC_FILL = 0.85


def _ongrid(tl: float, th: float, h_t: float, max_d: float = math.inf) -> tuple[float, float, float] | None:
    """(h, theta_g, d): h = M 2^-e <= h_t (M < 2^ONGRID_BITS an integer), theta_g = K h (K an integer; an exact
    double), d >= |theta - theta_g| for every theta in [tl, th]; among K in [K0, K0 + C) (K0 = ceil(th / h_t), C at
    most ONGRID_CANDIDATES and K0 / 4: h within 0.8 h_t) those with d <= max_d, the coarsest h.  None where none."""
    k0 = math.ceil(th / h_t)
    e = ONGRID_BITS - 1 - math.floor(math.log2(h_t))  # h_t 2^e in [2^(B-1), 2^B)
    c = max(16, min(ONGRID_CANDIDATES, k0 // 4))
    ks = np.arange(k0, k0 + c, dtype=np.float64)
    x = math.ldexp(0.5 * (tl + th), e)  # exact scaling by a power of two
    ms = np.floor(x / ks)  # h = M 2^-e <= theta / K <= h_t
    ok = (ms >= 1.0) & (ms < 2.0 ** ONGRID_BITS) & (ks * ms < 2.0 ** 52)
    if not ok.any():
        return None
    ks, ms = ks[ok], ms[ok]
    tgs = np.ldexp(ks * ms, -e)  # K M 2^-e (K M < 2^52: exact)
    ds = np.maximum(np.abs(tl - tgs), np.abs(th - tgs)) * (1.0 + 1e-6) + 4.0 * U * th  # (nearby doubles: exact)
    good = np.nonzero(ds <= max_d)[0]
    if len(good) == 0:
        return None
    j = int(good[np.argmax(ms[good])])
    k, m = float(ks[j]), float(ms[j])
    h = math.ldexp(m, -e)
    tg = k * h
    if tg != math.ldexp(k * m, -e) or not (h <= h_t):
        return None
    d = max(abs(tl - tg), abs(th - tg)) * (1.0 + 1e-6) + 4.0 * U * th
    return h, tg, d


def _log_moments(v: np.ndarray, g: np.ndarray) -> np.ndarray:
    """[lo, hi] (rows 0, 1) enclosing log sum_k v_k e^{t g_k} for t in TS: v summed over blocks of LM_BLOCK cells
    (the sum within U per term added), e^{t g} between its values at the block's ends (g increasing), generous
    margins for the rounding of the logs and exps (1e-9 relative + 1e-9)."""
    n = len(v)
    b = LM_BLOCK
    m = -(-n // b) * b
    vp = np.zeros(m)
    vp[:n] = v
    gp = np.empty(m)
    gp[:n] = g
    gp[n:] = g[-1]
    vs = vp.reshape(-1, b).sum(axis=1) * (1 + b * U)
    ga = gp[::b]
    gb = gp[b - 1::b]
    keep = vs > 0.0
    lv = np.log(vs[keep])
    ga, gb = ga[keep], gb[keep]
    out = np.empty((2, len(TS)))
    for row, pick in ((0, np.minimum), (1, np.maximum)):
        x = lv[None, :] + pick(TS[:, None] * ga[None, :], TS[:, None] * gb[None, :])
        mx = np.max(x, axis=1)
        r = mx + np.log(np.sum(np.exp(x - mx[:, None]), axis=1))
        out[row] = r - (1e-9 * np.abs(r) + 1e-9) if row == 0 else r + (1e-9 * np.abs(r) + 1e-9)
    # the lower row: the block sums were rounded up; (1 + b U) below covers it
    out[0] -= 2.0 * b * U
    return out


#: the old charged top rule looks at this many top entries at most
TOP_SCAN = 1 << 16
#: cells per block of the exp-moment enclosures (_log_moments)
LM_BLOCK = 64


class _MixLaw(fc._Law):
    """fewpart_cert._Law's composition (docs/certified_fewpart.md B5-B9: tilted step vectors, FFT convolutions
    with their l2 error bound, Young's inequality, free / charged truncations, evaluation) with two changes
    (docs/certified_mixed.md F7):

    * a charged BOTTOM truncation in the upper law: a partial vector's entries below a cut are dropped where
      (Chernoff: phi_eps(s) <= e^{theta (s - eps)}, theta >= 0, eps >= e_min) the configurations through them
      add at most mult x exp(LS - theta e_min) x (sum |a_dropped| (1 + m U) + sqrt(m) err) x exp(1.01 rel), LS the
      summed logs of every step's tilted normaliser (the whole composition's exp-moment at theta); within 1/64 of
      the budget left (the top's rule).  Laplace(1) x 20 with PSG(1, 0.01) x 100 kept the bottom -21 of its
      support (5e6 cells at h = 2^-17, beyond MAX_FFT); its tilted bottom is negligible ~10 units higher;
    * every charge (top and bottom) times the vector's multiplicity in the final composition (binary powering: a
      power of s steps of a group of n occurs floor(n / s) times; each occurrence is one term of the union
      bound).  fewpart_cert's _trunc charges once."""

    def __init__(self, steps, upper: bool, theta: float, target_delta: float, e_min: float):
        self.upper, self.theta = upper, theta
        self.h = h = steps[0].h
        self.budget = fc.TRUNC_REL * target_delta
        self.spent = 0.0
        self.extra = 0.0
        self.rel = 0.0
        self.e_min = e_min
        total_top = sum(st.n * st.top for st in steps)
        bases = []
        lms = []
        for st in steps:  # the tilted step vectors first (their normalisers give LS), as fewpart_cert._Law
            # (entries below e^-650 of the step's largest tilted one go to the infinite state only where they can
            # reach a sum above e_min: g + the other steps' tops <= e_min <= eps leaves the payoff 0 (docs F8);
            # _tilted_step's test is against 0, so its total_top is passed less e_min.  Laplace(6.588) x 2 +
            # PSG(3.441, 0.00688) at eps 0.3076: ADD's tilt 3517 sent 0.91 of its upper law there)
            base, k, extra, rel = fc._tilted_step(st, upper, theta, h, total_top - e_min)
            self.extra += extra
            self.rel += rel
            bases.append(base)
            lms.append(_log_moments(base.a, k * h))
        if self.rel >= 0.5:
            raise FloatingPointError("relative error budget too large")
        ls_terms = [st.n * b.ls for st, b in zip(steps, bases)]
        # exp-moment of the whole (a*-world) composition at theta, with margins for the sum and the step errors
        self.log_mgf = (math.fsum(ls_terms) + 1e-12 * math.fsum(abs(t) for t in ls_terms) + 1.01 * self.rel
                        + 1e-9)
        done = 0.0
        res = None
        lm_res = np.zeros((2, len(TS)))
        self.lm_all = sum(st.n * lm for st, lm in zip(steps, lms))
        for st, base, lm in zip(steps, bases, lms):
            rem_other = total_top - st.n * st.top
            result = None
            # the step vector itself truncated first (top and bottom charges; it occurs n times)
            b = self._trunc(base, rem_other + (st.n - 1) * st.top, st.n, lm)
            left = st.n
            while True:
                if left & 1:
                    if result is None:
                        result = b
                    else:
                        r = fc._conv(result, b)
                        result = self._trunc(r, rem_other + (st.n - r.steps) * st.top, 1, r.steps * lm)
                left >>= 1
                if not left:
                    break
                b2 = fc._conv(b, b)
                # b2 (and what is built from it) occurs floor(n / b2.steps) times in the group's composition
                b = self._trunc(b2, rem_other + (st.n - b2.steps) * st.top, st.n // b2.steps, b2.steps * lm)
            done += st.n * st.top
            lm_res = lm_res + st.n * lm
            res = result if res is None else self._trunc(fc._conv(res, result), total_top - done, 1, lm_res)
        self.vec = res
        self.rel_total = self.rel

    def _trunc(self, v, rem_top: float, mult: int = 1, lm=None):
        """fewpart_cert._Law._trunc with its charges times ``mult`` and the Chernoff cuts of F7 at both ends:
        lm[i] = sum over v's steps of log sum_k v_k e^{TS[i] g_k} (their tilted vectors' exp-moments)."""
        a, h, th = v.a, self.h, self.theta
        n = len(a)
        s = (v.off + np.arange(n)) * h
        cut_lo = int(np.searchsorted(s + rem_top, self.e_min, side="right"))  # free (B8)
        cut_lo = max(0, min(cut_lo, n - 1))
        end = n
        if not self.upper:
            cs = np.cumsum(np.abs(a))
            j = int(np.searchsorted(cs, 1e-30 * cs[-1], side="right"))
            cut_lo = max(cut_lo, min(j, n - 1))
        left = (self.budget - self.spent) / 64
        if lm is not None and left > 0.0:
            c_lo, c_hi = self._chernoff_cuts(lm, math.log(left) - math.log(mult))
            marg = 1e-9 * (1.0 + abs(float(s[0])) + abs(float(s[-1])))
            j = min(int(np.searchsorted(s, c_lo - marg, side="left")), n - 1)  # entries s < c_lo dropped
            if j > cut_lo:
                self._charge(left)
                cut_lo = j
                left = (self.budget - self.spent) / 64
            e = int(np.searchsorted(s, c_hi + marg, side="right"))  # entries s > c_hi dropped
            if cut_lo < e < end:
                self._charge(left)
                end = e
                left = (self.budget - self.spent) / 64
        # fewpart_cert's charged top (the untilted mass of the top entries, payoff <= 1, rest mass <= 1), times mult
        # (its bound grows with the entries dropped: the top TOP_SCAN entries are enough to find the cut)
        rc = np.cumsum(np.abs(a[max(cut_lo, end - TOP_SCAN):end])[::-1])
        mcount = np.arange(1, len(rc) + 1)
        s_min = s[end - mcount]
        with np.errstate(over="ignore"):
            bound = mult * (rc * (1 + mcount * U) + np.sqrt(mcount) * v.err) * np.exp(v.ls - th * s_min) * (1 + 1e-12)
        ok = np.nonzero(bound <= left)[0]
        m_drop = min(int(ok[-1]) + 1 if len(ok) else 0, len(rc) - 1)
        if m_drop > 0:
            x = float(bound[m_drop - 1])
            self.spent += x
            if self.upper:
                self.extra += x
        end -= m_drop
        if cut_lo == 0 and end == n:
            return v
        return fc._Vec(np.ascontiguousarray(a[cut_lo:end]), v.off + cut_lo, v.err, v.ls, v.steps)

    def _charge(self, x: float) -> None:
        x *= 1 + 1e-12
        self.spent += x
        if self.upper:  # (the lower law just drops: a lower bound stays one)
            self.extra += x

    def _chernoff_cuts(self, lm, room: float) -> tuple[float, float]:
        """(c_lo, c_hi): the configurations whose slot sum S_A is < c_lo (> c_hi) add at most exp(room) (x mult) to
        every eps >= e_min (docs F7).  For mu = TS[i] >= -theta and t = TS[j] (t < mu: bottom, t > mu: top):
            phi_eps(S) <= e^{(theta + mu)(S - eps)},  1{S_A < c} <= e^{(mu - t)(c - S_A)}  (1{S_A > c} likewise),
        the slot independent of the rest, so the configurations add at most
            exp(LS - (theta + mu) e_min + (mu - t) c + lm_A(t) + lm_all(mu) - lm_A(mu)),
        LS + lm_all(mu) the whole composition's log exp-moment at theta + mu (log_mgf carries the margins)."""
        th = self.theta
        # (the step vectors' per-entry relative errors: each of the three logs within rel)
        base = room - (self.log_mgf - th * self.e_min) - 2.02 * self.rel
        c_lo, c_hi = -math.inf, math.inf
        for i in range(len(TS)):
            mu = TS[i]
            if mu < -th:
                continue
            # lm_all(mu), lm_A(t) enter with + (their upper ends, row 1), lm_A(mu) with - (its lower end, row 0)
            r = base + mu * self.e_min - self.lm_all[1, i] + lm[0, i] - lm[1] - 2e-9
            d = mu - TS
            if not math.isfinite(r[i]):
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                cc = r / d
            lo_m = (d > 0) & np.isfinite(cc)
            hi_m = (d < 0) & np.isfinite(cc)
            if lo_m.any():
                c_lo = max(c_lo, float(np.max(cc[lo_m])))
            if hi_m.any():
                c_hi = min(c_hi, float(np.min(cc[hi_m])))
        return c_lo, c_hi


def _sig_bits(h: float) -> int:
    """The number of significant bits of the double h > 0."""
    m, _ = math.frexp(h)
    mi = int(m * (1 << 53))
    return 53 - ((mi & -mi).bit_length() - 1)


class _Direction(fc._Direction):
    """One direction's composed upper and lower laws (fewpart_cert._Direction's compose, other steps)."""

    def __init__(self, gr: _Groups, remove: bool, h: float, target_delta: float, e_target: float):
        n_groups = len(gr.laplace) + len(gr.rr) + len(gr.psg) + (1 if gr.gauss else 0)
        tail = fc.TRUNC_REL * target_delta / n_groups
        # ADD: a subsampled step's loss below -(every other step's loss bound) leaves every sum <= 0
        floor = -gr.sup(False) if not remove else -math.inf
        steps: list[Any] = [_laplace_step(t, n, h) for t, n in gr.laplace]
        steps += [_rr_group_step(e, n, h, tail) if BINOM_MIN else _rr_step(e, n, h) for e, n in gr.rr]
        if gr.gauss:
            m2 = math.fsum(n / (s * s) for s, n in gr.gauss)
            # each n / s^2: s*s and the division within U each; fsum within U
            steps.append(_gauss_step(m2, 8.0 * U, h, tail))
        steps += [(_PSGStep(q, s, n, remove, h, tail, floor) if SUB else fc._Step(q, s, n, remove, h, tail, floor))
                  for q, s, n in gr.psg]
        # every grid value k h and every sum of them must be an exact double (F2; a non-dyadic h of grid() has up to
        # ONGRID_BITS significant bits): |k| <= sum over steps of n (max |k| + 2) < 2^(53 - significant bits of h)
        reach = sum(st.n * (max(abs(st.k_lo), abs(st.k_hi)) + 2) for st in steps)
        if reach >= 2.0 ** (53 - _sig_bits(h)):
            raise fc._TooBig(reach)
        self.steps = steps
        self.target_delta, self.e_target = target_delta, e_target
        self.theta = self.up = self.lo = None
        self.e_floor = 0.0  # a proven lower bound on this direction's eps searched (0: none known)
        self.e_min = 0.0

    def compose(self, e_min: float | None = None, lower: bool = True) -> "_Direction":
        """e_min: the laws are bounds at every eps >= e_min only (default: e_target - E_MIN_SPAN / theta, not
        below e_floor); the upper law's charged bottom truncation costs exp(-theta e_min) x its tilted mass."""
        # the lower law composed itself (fewpart_cert's shifted upper law, B11, evaluates the upper vector
        # with a union-bound penalty five times to pick its threshold: slower here, and no narrower)
        self.theta = fc._theta(self.steps, self.e_target)
        if e_min is None:
            e_min = max(self.e_floor, self.e_target - E_MIN_SPAN / self.theta) if self.theta > 0.0 else 0.0
        self.e_min = e_min = max(0.0, min(e_min, self.e_target))
        _check_spread(self.steps, self.theta)
        t0 = budget.clock()
        self.up = _MixLaw(self.steps, True, self.theta, self.target_delta, e_min)
        self._t_up = budget.clock() - t0
        if lower:
            self.compose_lower()
        return self

    def compose_lower(self) -> None:
        # the lower law costs about what the upper one did: declined before it where that would overrun the
        # budget (H-R10 F4: RR(0.5) x 10 + PSG(2, 0.01) x 50 at 1e-6 spent 3.7 s of its 2 s on the two laws,
        # ~1.85 s each, then declined anyway)
        if budget.clock() + self._t_up > fc._deadline[0]:
            raise fc._OutOfTime("time budget (the lower law would overrun it)")
        self.lo = _MixLaw(self.steps, False, self.theta, self.target_delta, self.e_min)


#: the bottom charge's exponents (docs F7): tilts t of the steps' tilted vectors, t_A <= 0 (the slot's left tail)
#: and mu >= 0 (the rest's extra tilt); any values give a bound
TS = np.concatenate([-np.geomspace(256.0, 0.25, 21), [0.0], np.geomspace(0.25, 256.0, 21)])
TS_NEG = np.nonzero(TS < 0.0)[0]
TS_POS = np.nonzero(TS >= 0.0)[0]
#: the eps bracket's width aimed at, relative (n_eff(h) h <= GRID_REL eps; issue 9's target is 1e-4)
GRID_REL = 0.9e-4
#: e_min = e_target - E_MIN_SPAN / theta: the bottom charge's Chernoff factor exp(theta (e_target - e_min)) is e^3
E_MIN_SPAN = 3.0


def _upper_end(d: "_Direction", delta: float, estimate: float, h: float, n_total: int) -> float | None:
    """An upper end on eps(delta) from a direction whose upper law is composed for eps >= d.e_min: e with
    upper(e) <= delta (delta is non-increasing in eps), e_min itself where upper(e_min) <= delta already; None
    where it runs past eps 1e4."""
    up = d.up.bound
    e0 = d.e_min
    if up(e0) <= delta:
        return e0
    a, b = e0, max(estimate, e0, h) * 1.01 + 4 * n_total * h
    while up(b) > delta:
        fc._check_time()
        a, b = b, 2 * b + h
        if b > 1e4:
            return None
    return fc._verified(d.up, delta, a, b, True)


def _lower_end(d: "_Direction", delta: float, e_hi: float, h: float, n_total: int) -> float:
    """A lower end on eps(delta): e >= e_min with lower(e) > delta (fewpart_cert._eps_ends's search, never below
    e_min), 0 where none is found (nothing proven)."""
    lo = d.lo.bound
    e0 = d.e_min
    if lo(e0) > delta:
        b = max(e_hi, e0)
        if lo(b) > delta:  # (a lower bound above delta where the upper is below: impossible; guarded)
            return e0
        return fc._verified(d.lo, delta, e0, b, False)
    for k in range(14):
        fc._check_time()
        a = e_hi - (1e-4 * 2.0 ** k) * max(e_hi, 1e-3) - n_total * h
        if a <= e0:
            break
        if lo(a) > delta:
            return fc._verified(d.lo, delta, a, e_hi, False)
    return 0.0


#: the upper law's composed vector keeps every sum from the bottom of the support (its low end is dropped only
#: where no sum can reach eps >= 0) up to about SPREAD_SD tilted standard deviations above the tilted mean (the
#: charged top truncation): where that exceeds MAX_FFT the composition is declined before any FFT (it would end
#: at _TooBig after ~1-2 s: Laplace(1) x 20 with PSG(1, 0.01) x 100)
SPREAD_SD = 6.0
BOTTOM_SD = 12.0


def _check_spread(steps, theta: float) -> None:
    var = mean = bottom = 0.0
    for st in steps:
        p = st.up
        g = (st.k_lo + np.arange(len(p))) * st.h
        bottom += st.n * float(g[0])
        blk = max(1, len(p) // 4096)  # blocks of cells (a prediction only: the moments to a few per cent)
        m_ = len(p) // blk * blk
        pp = np.concatenate([p[:m_].reshape(-1, blk).sum(axis=1), [p[m_:].sum()]])
        gg = np.concatenate([g[:m_].reshape(-1, blk).mean(axis=1), [g[-1]]])
        keep = pp > 0.0
        lw = np.log(pp[keep]) + theta * gg[keep]
        w = np.exp(lw - lw.max())
        w /= w.sum()
        m = float(np.dot(w, gg[keep]))
        mean += st.n * m
        var += st.n * float(np.dot(w, (gg[keep] - m) ** 2))
    # the charged Chernoff cuts (F7) keep roughly the tilted body: a bottom BOTTOM_SD tilted sd below the mean
    # (Laplace(1) x 20 + PSG(1, 0.01) x 100: the support's bottom -21, the composed vectors' ~ 9 sd below)
    sd = math.sqrt(var)
    n_pred = (mean + SPREAD_SD * sd - max(bottom, mean - BOTTOM_SD * sd)) / steps[0].h
    if n_pred > fc.MAX_FFT:
        raise fc._TooBig(int(n_pred))


def feasible(gr: _Groups, eps_lo: float, eps_hi: float, delta: float) -> bool:
    """False where even the coarsest grid the target allows (eps width 1e-4 x eps_hi) gives a Laplace or
    randomized-response step beyond fewpart_cert.MAX_STEP, or a REMOVE composition the spread rule declines
    (tilted for the bracket's geometric mean): checked before the estimate is asked for."""
    h = gr.grid(GRID_REL * max(eps_hi, 1e-3))
    widest = max([t[1] for t, _ in gr.laplace] + [min(_binom_window_half(e, n), 0.25 * BINOM_MAX_SUB * h / max(SUB, 1))
                                                  if BINOM_MIN and n >= BINOM_MIN else e for e, n in gr.rr])
    if 2.0 * widest / h + 4 > fc.MAX_STEP:
        return False
    try:
        d = _Direction(gr, True, h, delta, math.sqrt(max(eps_lo, 1e-3 * eps_hi) * eps_hi))
        _check_spread(d.steps, fc._theta(d.steps, d.e_target))
    except (fc._TooBig, ValueError, FloatingPointError, OverflowError, ZeroDivisionError):
        return False
    return True


def _directions(gr: _Groups) -> tuple[bool, ...]:
    # Laplace, randomized response and Gaussian losses have the same law in both directions: only the
    # subsampled steps tell REMOVE from ADD
    return (True, False) if gr.psg else (True,)


def _eps_one(gr: _Groups, remove: bool, h: float, delta: float, estimate: float, n_total: int,
             e_floor: float = 0.0, other_hi: float | None = None, upper_only: bool = False):
    """[e_lo, e_hi] on one direction's eps(delta).  other_hi: the other direction's proven upper end; where this
    direction's upper end is below it, its lower law is not composed (eps = max over directions: the lower end 0
    loses nothing).  Where the upper end lands on e_min (the estimate was above the answer) or runs away, composed
    again (at most twice) for a lower estimate and e_min.""" 
    for attempt in range(3):
        d = _Direction(gr, remove, h, delta, estimate)
        d.e_floor = e_floor
        d.compose(lower=False)
        e_hi = _upper_end(d, delta, estimate, h, n_total)
        if e_hi is None:
            # no upper end below eps 1e4: an estimate beyond the losses' range tilts so hard that the upper law's
            # entries below e^-650 of its top go to its infinite state; once more, lower
            if attempt < 2:
                estimate = 0.5 * (e_floor + estimate) if e_floor > 0.0 else 0.5 * estimate
                continue
            raise fc._TooBig(0)
        if attempt < 2 and e_hi <= d.e_min and d.e_min > e_floor and d.theta > 0.0:
            # eps <= e_min: the estimate was above it; lower (towards e_floor where one is known)
            estimate = 0.5 * (e_floor + e_hi) if e_floor > 0.0 else 0.7 * e_hi
            continue
        break
    info = {"theta": d.theta, "len": len(d.up.vec.a), "fft_err": d.up.vec.err, "extra_upper": d.up.extra,
            "e_min": d.e_min}
    if (other_hi is not None and e_hi <= other_hi) or upper_only:
        return 0.0, e_hi, dict(info, h=h, lower="not composed: this direction's upper end is below the other's")
    d.compose_lower()
    return _lower_end(d, delta, e_hi, h, n_total), e_hi, info


def epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, estimate: float,
                    width: float | None = None, time_budget: float | None = None, e_floor: float = 0.0
                    ) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on eps(delta) (the larger of REMOVE and ADD) of a mix, or None (not a mix this
    module answers, grid beyond fewpart_cert.MAX_FFT, or out of time).

    estimate: sets the grid and the tilt only (any value >= 0 gives a valid bracket).
    width: the eps width aimed at (default GRID_REL x eps, 0.8e-7 absolute below eps 1e-3; the grid: Groups.grid).
    e_floor: a proven lower bound on eps(delta) (the laws are composed for eps >= e_min >= e_floor only)."""
    gr = parse(groups)
    if gr is None or not (0.0 < delta < 1.0) or not (math.isfinite(estimate) and estimate >= 0.0):
        return None
    n_total = gr.n_steps
    if width is None:
        width = GRID_REL * estimate if estimate >= 1e-3 else 0.8e-7
    h = gr.grid(width)
    # F2'': the laws below are those of the model with one Laplace group's theta replaced by theta_g (grid(); shift 0
    # where none is); the true eps lies within sh of the model's: [lo - sh, hi + sh]
    sh = gr.shift * (1.0 + 1e-9)
    e_floor = max(e_floor - sh, 0.0)
    t0 = budget.clock()
    fc._deadline[0] = t0 + (TIME_BUDGET if time_budget is None else time_budget)
    out: dict[str, Any] = {"h": h, "steps": n_total, "ongrid_shift": sh}
    brackets = []
    try:
        for remove in _directions(gr):
            if not remove:
                # eps = max(eps_REMOVE, eps_ADD): ADD is not composed where its loss bound is below REMOVE's lower
                # end, or where a proven Chernoff upper end on eps_ADD (bounds/proven.py, rigorous MGF
                # enclosures) is at most REMOVE's upper end (both ends of the true eps: the model's -+ sh)
                if brackets[0][0] - sh >= gr.sup(False):
                    out["add"] = "eps_ADD <= its loss bound <= REMOVE's lower end"
                    continue
                add_ub = fc._add_chernoff(list(groups), delta)
                if add_ub <= brackets[0][1] + sh:
                    out["add"] = f"eps_ADD <= {add_ub!r} (proven Chernoff bound) <= REMOVE's upper end"
                    continue
            if remove:
                lo_e, hi_e, info = _eps_one(gr, True, h, delta, estimate, n_total, e_floor)
            else:
                # ADD's upper end first on the grid 2 h (about half the work): where it is already below REMOVE's
                # upper end, ADD is settled (eps = max); else on h
                lo_e, hi_e, info = _eps_one(gr, False, 2.0 * h, delta, estimate, n_total, e_floor,
                                            brackets[0][1], upper_only=True)
                if hi_e > brackets[0][1]:
                    lo_e, hi_e, info = _eps_one(gr, False, h, delta, estimate, n_total, e_floor, brackets[0][1])
            brackets.append((lo_e, hi_e))
            out["remove" if remove else "add"] = dict(info, bracket=(lo_e, hi_e))
    except (fc._TooBig, FloatingPointError, OverflowError, ZeroDivisionError, ValueError) as exc:
        out["declined"] = repr(exc)
        return None
    finally:
        fc._deadline[0] = math.inf
    out["seconds"] = budget.clock() - t0
    lo, hi = max(b[0] for b in brackets), max(b[1] for b in brackets)
    if sh > 0.0:
        lo, hi = max(lo - sh, 0.0), hi + sh
        if lo > 0.0:
            lo = lo * (1.0 - 2.0 * U)
        hi = hi * (1.0 + 2.0 * U)
    return lo, hi, out


def delta_bracket(groups: Sequence[tuple[Any, int]], eps: float, estimate: float,
                  time_budget: float | None = None) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on delta(eps) (the larger of REMOVE and ADD) of a mix, or None.

    estimate: an estimate of delta(eps) (sets the truncation budget; any value in (0, 1) gives a valid
    bracket).  The grid: from the eps-width rule at eps, then once finer from the measured slope of
    log delta where the bracket is wider than 1e-4 relative."""
    gr = parse(groups)
    if gr is None or not (math.isfinite(eps) and eps >= 0.0) or not (estimate > 0.0):
        return None
    n_total = gr.n_steps

    def grid(w):
        # F2'': an on-grid Laplace theta shifts the arguments by sh (upper law at eps - sh, lower at eps + sh); not where
        # eps - sh < 0 (the laws are composed for arguments >= 0)
        hh = gr.grid(w)
        if gr.shift > 0.0 and eps - 2.0 * gr.shift < 0.0:
            hh = gr.grid(w, ongrid=False)
        return hh

    # first grid: coarse (1e-3 x max(eps, 1) in eps), only to measure the slope of log delta that sets the next
    w_first = 1e-3 * max(eps, 1.0)
    w_cur = w_first
    h = grid(w_cur)
    t0 = budget.clock()
    fc._deadline[0] = t0 + (TIME_BUDGET if time_budget is None else time_budget)
    best = None
    cost_last = None  # (CPU of the last grid's laws, its width): the next grid's cost predicted as ~ 1 / width
    try:
        h_done = math.inf  # the finest grid composed so far
        for _ in range(12):  # at most 3 compositions; the rest are grids refused before any work
            lo_d = hi_d = 0.0
            sh = gr.shift * (1.0 + 1e-9)
            t_c = budget.clock()
            try:
                for remove in _directions(gr):
                    if eps >= gr.sup(remove):
                        continue  # delta of this direction is 0 beyond its loss bound
                    d = _Direction(gr, remove, h, min(estimate, 0.5), eps).compose(eps - sh)
                    # (delta is non-increasing in eps: the true delta(eps) lies between the model's at eps + sh and
                    # eps - sh; sh = 0 without an on-grid theta)
                    lo_d, hi_d = max(lo_d, d.lo.bound(eps + sh)), max(hi_d, d.up.bound(eps - sh))
            except fc._OutOfTime:
                break
            except fc._TooBig:
                # the grid the slope asks for does not fit: the finest one that does (one halving back)
                if best is None or 2.0 * h >= h_done:
                    break
                # (the grid for twice the width, not h doubled: grid() may have put a Laplace theta on this h, K h; on
                # 2 h an odd K leaves it half a cell off the grid, and F2' / F9 lose its atoms' advantage -- Laplace(3.878)
                # x 200 + Gaussian x 10 at eps 19.2409 got 3.0e-3 for ~1.5e-4)
                w_cur *= 2.0
                h = grid(w_cur)
                if h >= h_done:
                    break
                continue
            except (FloatingPointError, OverflowError, ZeroDivisionError, ValueError):
                break
            h_done = h
            cost_last = (budget.clock() - t_c, gr.n_eff(h) * h)
            hi_d = min(hi_d, 1.0)
            best = ((lo_d, hi_d, {"h": h, "ongrid_shift": sh}) if best is None
                    else (max(lo_d, best[0]), min(hi_d, best[1]), {"h": h, "ongrid_shift": sh}))
            lo_d, hi_d = best[0], best[1]
            if hi_d - lo_d <= 1e-4 * hi_d or lo_d <= 0.0:
                break
            # the eps width this grid gave (n_eff h + 2 sh) against log delta's: the next width from the slope
            slope = math.log(hi_d / lo_d) / (gr.n_eff(h) * h + 2.0 * sh)
            w2 = 0.6e-4 / slope
            # not finer than the time left affords (the cost of the laws ~ their cells ~ 1 / width, from the last
            # grid's; x DELTA_COST_MARGIN):
            # a grid that runs out of time answers nothing (Laplace(3.878) x 200 + Gaussian x 10 at eps 19.24: 2.4 s
            # on one law of 47x the first grid's cells, then declined, the first grid's 1.9e-2 answered)
            left = fc._deadline[0] - budget.clock()
            if left <= 0.0:
                break
            # (only from a composition of at least DELTA_COST_MIN s: below, fixed costs dominate and the ratio is
            # far too high; Laplace(5.495) x 2 + Gaussian x 2: 0.009 s, 150x the width for 0.11 s, not 1.4 s)
            if cost_last[0] >= DELTA_COST_MIN:
                w2 = max(w2, cost_last[1] * DELTA_COST_MARGIN * cost_last[0] / left)
            h2 = grid(w2)
            if h2 >= h:
                break
            h, w_cur = h2, w2
    finally:
        fc._deadline[0] = math.inf
    return best


# ----------------------------------------------------------------------------------------------------
# the hook for bounds/certify.py

SOURCE = ("rounded mixed loss-distribution bracket (Laplace / randomized response with Gaussian-type steps; "
          "FFT error budget)")


def narrow(acc: Any, kind: str, x: float, c: Any, time_budget: float | None = None) -> Any:
    """The certificate ``c`` (a bounds.certify.Certificate) intersected with this module's bracket where ``c``
    is wider than issue 9's target and the composition is a mix this module answers; ``c`` unchanged
    otherwise (or where the bracket declines).  Both are proofs about the same number: an empty
    intersection raises FloatingPointError."""
    from . import certify

    if not certify._too_wide(kind, c.lower, c.upper):
        return c
    groups = list(acc.groups())
    t0 = budget.clock()
    tb = TIME_BUDGET if time_budget is None else max(time_budget, TIME_BUDGET)
    # randomized response beyond rr_contour's lattice over a Gaussian rest (the binomial window, W) or pure groups
    # of small total S over the rest's certificate (dominance by RR(S), D): bounds/rr_mix.py
    from . import rr_mix

    try:
        got = rr_mix.narrow_first(groups, kind, x, tb, c.lower, c.upper)
    except Exception:  # noqa: BLE001 - a narrowing step only
        got = None
    if got is not None and 0.0 <= got[0] <= got[1]:
        c = _intersect(certify, c, got[:3], "rr_mix", got[3], None, t0)
        if not certify._too_wide(kind, c.lower, c.upper):
            return c
    gr = parse(groups)
    if gr is None:
        return _shift_after(certify, groups, kind, x, c, tb, t0)
    name = "mixed_rounded_loss"
    br = None
    est = None
    if gr.rr and not gr.laplace:
        # randomized response with Gaussian-type steps: the lattice summed over the rest's contour certificate
        # (bounds/rr_contour.py; ~0.02-0.3 s, ~2e-6 wide), where the contour applies
        from . import rr_contour

        name, src = "rr_lattice_contour", rr_contour.SOURCE
        try:
            if kind == "epsilon":
                # its own estimate (the lattice over the engine's estimates of the rest): the default engine
                # answers most such mixes with a flagged Chernoff bound, after ~1.4 s (RR(0.5) x 10 + PSG(2, 0.01) x 50)
                got: dict[str, Any] = {}
                br = rr_contour.epsilon_bracket(groups, x, None, time_budget=tb, lo=c.lower, hi=c.upper, out=got)
                est = br[2]["estimate"] if br is not None else got.get("estimate")
            else:
                br = rr_contour.delta_bracket(groups, x, time_budget=tb)
        except Exception:  # noqa: BLE001 - a narrowing step only
            br = None
        if br is not None and (br[0] > c.upper or br[1] < c.lower):
            raise FloatingPointError(f"internal error: certified bracket [{c.lower!r}, {c.upper!r}] and "
                                     f"lattice-contour bracket [{br[0]!r}, {br[1]!r}] of the same {kind} are disjoint; "
                                     "please report")
        if br is not None and not certify._too_wide(kind, max(c.lower, br[0]), min(c.upper, br[1])):
            return _intersect(certify, c, br, name, src, est, t0)
        if br is not None:
            c = _intersect(certify, c, br, name, src, est, t0)
        if rr_contour._split(groups) is not None:  # (D where narrow_first left it to R first)
            c = _shift_after(certify, groups, kind, x, c, tb, t0)
            if not certify._too_wide(kind, c.lower, c.upper):
                return c
    if kind == "epsilon" and math.isfinite(c.upper) and c.upper > 0.0 and not feasible(gr, c.lower, c.upper, x):
        return _shift_after(certify, groups, kind, x, c, tb, t0)
    if est is None and (kind != "epsilon" or ENGINE_ESTIMATE):
        est = certify._fewpart_estimate(groups, None, kind, x)
    coarse_first = False
    if est is None:
        est = certify._centre(c.lower, c.upper) if kind == "epsilon" else (c.upper if 0.0 < c.upper < 1.0 else None)
        coarse_first = est is not None and kind == "epsilon"
    if est is None:
        return _shift_after(certify, groups, kind, x, c, tb, t0)
    try:
        if kind == "epsilon" and coarse_first:
            # no engine estimate: a coarse round (grid 8x: ~1/8 of the work) locates eps, then the fine one is
            # centred on it (its grid and tilt from the located value; e_floor from the proven lower end)
            br0 = epsilon_bracket(groups, x, est, width=8.0 * GRID_REL * est, time_budget=COARSE_SHARE * tb,
                                  e_floor=max(c.lower, 0.0))
            if br0 is not None and 0.0 <= br0[0] <= br0[1]:
                c = _intersect(certify, c, br0, "mixed_rounded_loss_coarse", SOURCE, est, t0)
                if not certify._too_wide(kind, c.lower, c.upper):
                    return c
                est = 0.5 * (c.lower + c.upper) if c.lower > 0.0 else est
                # the fine round's cost predicted from the coarse one's (~ cells ~ 1 / h; FINE_COST_SHARE of that, a low
                # estimate): where even that passes the budget it would only run out of time (Laplace(4.649) x 3 +
                # PSG(1.804, 0.0901) x 50 at 1.9e-4: 1.1 s coarse, 5.9x the cells, 7.2 s fine), the coarse bracket stands
                h_fine = parse(groups).grid(GRID_REL * est) if est >= 1e-3 else None
                if h_fine is not None and h_fine > 0.0:
                    pred = FINE_COST_SHARE * br0[2].get("seconds", 0.0) * br0[2]["h"] / h_fine
                    if pred > tb:
                        info = dict(c.analytic) if isinstance(c.analytic, dict) else {"before": c.analytic}
                        info["mixed_rounded_loss_fine"] = f"skipped: predicted {pred:.2f} s CPU > budget {tb:.2f} s"
                        return _shift_after(certify, groups, kind, x, dataclasses.replace(c, analytic=info), tb, t0)
            # (the fine round keeps the whole budget: the coarse one costs ~1/8 of it)
        if kind == "epsilon":
            br = epsilon_bracket(groups, x, est, time_budget=tb, e_floor=max(c.lower, 0.0))
        else:
            br = delta_bracket(groups, x, est, time_budget=tb)
    except Exception:  # noqa: BLE001 - a narrowing step only: where it fails, the certificate stands
        return _shift_after(certify, groups, kind, x, c, tb, t0)
    if br is not None and 0.0 <= br[0] <= br[1]:
        c = _intersect(certify, c, br, "mixed_rounded_loss", SOURCE, est, t0)
    return _shift_after(certify, groups, kind, x, c, tb, t0)


def _shift_after(certify, groups, kind: str, x: float, c: Any, tb: float, t0: float) -> Any:
    """rr_mix's D with its chord (docs/certified_mixed.md D4) where F / R left ``c`` too wide (narrow_first tried its
    eps-level bracket only)."""
    if not certify._too_wide(kind, c.lower, c.upper):
        return c
    from . import rr_mix

    try:
        got = rr_mix.narrow_shift(groups, kind, x, tb)
    except Exception:  # noqa: BLE001 - a narrowing step only
        got = None
    if got is not None and 0.0 <= got[0] <= got[1]:
        c = _intersect(certify, c, got[:3], "rr_mix", got[3], None, t0)
    return c


def _intersect(certify, c, br, name: str, src: str, est, t0: float):
    """c intersected with br (both proofs about the same number: an empty intersection raises)."""
    lo, hi = max(c.lower, br[0]), min(c.upper, br[1])
    if lo > hi:
        raise FloatingPointError(f"internal error: certified bracket [{c.lower!r}, {c.upper!r}] and {name} "
                                 f"bracket [{br[0]!r}, {br[1]!r}] are disjoint; please report")
    if (lo, hi) == (c.lower, c.upper):
        return c
    info = dict(c.analytic) if isinstance(c.analytic, dict) else {"before": c.analytic}
    info[name] = dict(br[2], estimate=est, bracket=(br[0], br[1]), seconds=budget.clock() - t0)
    return certify.Certificate(lo, hi, f"{c.source}; intersected with the {src}", None,
                               c.seconds + (budget.clock() - t0), info)

