"""Certified eps(delta) of one Poisson-subsampled Gaussian group with few participations by conditioning on
the number of tail steps (docs/certified_fewpart.md, section C).

The rounded loss-distribution bracket (:mod:`ewacct.bounds.fewpart_cert`) rounds every step's loss to a grid of
spacing h with N h below the eps width wanted; where the per-step loss is a near-atom of width ~q plus a long
tail and eps is small, that grid over the whole loss range has millions of points (sigma 0.97, q 1.5e-6,
T 39, delta 2.7e-6: h = 2^-29 over a range of 3.4e-3).  Here each step's REMOVE loss L is split at g_c:

    delta(eps) = sum_j C(T, j) E[phi_eps(B_{T-j} + C_j)]          (binomial expansion of (beta + tau)^{*T})

with beta the law of L on {L <= g_c} (the body, mass 1 - p) and tau on {L > g_c} (the tail, mass p), B_m and
C_j sums of m body and j tail values (sub-probability measures).  The body is rounded (up / down) to the fine
grid and its T-, (T-1)- and (T-2)-fold sums are powers of one FFT folded to a window of N cells (the mass beyond
the window charged by a Chernoff bound; section C7); the last tail step of each term is integrated in closed
form, G(e) = E[(1 - e^{e - L})_+; L > g_c] = P(L > m) - e^e Q(L > m), m = max(e, g_c); the terms j = 2 .. J
round the other tail steps and the body sum once to a coarse grid (C5, C9); terms j > J are bounded by
C(T, J + 1) p^{J+1} (payoff <= 1).  ADD is bounded by its Chernoff end (bounds/proven.py).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..methods import budget
from . import fewpart_cert as fc
from ._two_step_kernel import RL, U, _pb

#: largest body composition (entries): the FFT length of the folded body powers (section C7)
MAX_BODY = 1 << 21
#: largest per-step body (cells from log(1-q) to g_c)
MAX_BODY_STEP = 1 << 20
#: the mass of a body power folded into its window (charged, C7) is kept below this fraction of delta
ALIAS_REL = 1e-7
#: coarse grid of the j = 2 term, in fine cells
COARSE = 1 << 9
#: section C10: the lower bound from the upper body's powers (one body composition instead of two) where the bracket's
#: width then stays within SHIFTED_LOSS of issue 9's target (a float guide at the estimate: log(upper / lower) / slope)
SHIFTED_LOWER = True
SHIFTED_LOSS = 0.85
#: ... and where the body's FFT has at least this many points (smaller ones cost a few ms: no width is given up there)
SHIFTED_MIN_N = 1 << 18


@njit(cache=True)
def _pq(g, q, mu, out):
    """out = (P lower, P upper, Q lower, Q upper) on P(L > g) (REMOVE: X ~ (1-q) N(0,1) + q N(mu,1)) and
    Q(L > g) (X ~ N(0,1)), L = l(X) increasing; enclosed as in fewpart_cert.survival_bounds."""
    x, dx, ok = fc._x_of(g, q, mu)
    if ok == -1:
        out[0] = 1.0
        out[1] = 1.0
        out[2] = 1.0
        out[3] = 1.0
        return
    if ok == 0:
        out[0] = 0.0
        out[1] = 1.0
        out[2] = 0.0
        out[3] = 1.0
        return
    d = dx + 2.0 * U * (abs(x) + mu)
    _, l0, h0 = _pb(x, d)
    _, l1, h1 = _pb(x - mu, d)
    out[0] = max(((1.0 - q) * l0 + q * l1) * (1.0 - 6.0 * U), 0.0)
    out[1] = min(((1.0 - q) * h0 + q * h1) * (1.0 + 6.0 * U), 1.0)
    out[2] = l0
    out[3] = h0


@njit(cache=True)
def _g_tail(e_arr, q, mu, glo, ghi):
    """glo <= G(e) <= ghi for e >= g_c (m = e): G = P(L > e) - e^e Q(L > e); exp within RL (the model)."""
    out = np.empty(4)
    for i in range(len(e_arr)):
        e = e_arr[i]
        _pq(e, q, mu, out)
        ex = math.exp(e)
        a = out[0] - ex * (1.0 + RL) * out[3] * (1.0 + 2.0 * U)
        b = out[1] - ex * (1.0 - RL) * out[2] * (1.0 - 2.0 * U)
        glo[i] = max(a - 2.0 * U * abs(a), 0.0)
        ghi[i] = min(b + 2.0 * U * abs(b), out[1])


class _G:
    """Enclosures of G(e) = E[(1 - e^{e - L})_+; L > g_c] (the last tail step, integrated in closed form)."""

    def __init__(self, q: float, mu: float, g_c: float):
        self.q, self.mu, self.g_c = q, mu, g_c
        out = np.empty(4)
        _pq(g_c, q, mu, out)
        self.pc = (float(out[0]), float(out[1]))  # P(L > g_c): the tail's mass p
        self.qc = (float(out[2]), float(out[3]))  # Q(L > g_c)

    def bounds(self, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.empty(len(e))
        hi = np.empty(len(e))
        below = e < self.g_c
        if below.any():  # m = g_c: G = P(L > g_c) - e^e Q(L > g_c)
            ex = np.exp(e[below])
            a = self.pc[0] - ex * (1 + RL) * self.qc[1] * (1 + 2 * U)
            b = self.pc[1] - ex * (1 - RL) * self.qc[0] * (1 - 2 * U)
            lo[below] = np.maximum(a - 2 * U * np.abs(a), 0.0)
            hi[below] = np.minimum(b + 2 * U * np.abs(b), self.pc[1])
        above = ~below
        if above.any():
            gl = np.empty(int(above.sum()))
            gh = np.empty(len(gl))
            _g_tail(np.ascontiguousarray(e[above]), self.q, self.mu, gl, gh)
            lo[above] = gl
            hi[above] = gh
        return lo, hi

    def on_grid(self, eps: float, off: int, n: int, hg: float, upper: bool) -> np.ndarray:
        """Bounds on G(eps - s) at s = (off + i) hg, i < n, from G's enclosures on the grid m hg (cached: the eps
        searches ask again and again): G is non-increasing, so the upper bound takes the grid point at or below
        eps - s (m = floor(eps / hg) - off - i) and the lower bound the one at or above (ceil); hg a power of two,
        so m hg and eps - s differ by less than hg."""
        return self.on_coarse(eps, off, n, hg, 1, upper)

    def on_coarse(self, eps: float, off: int, n: int, h: float, R: int, upper: bool) -> np.ndarray:
        """As on_grid for s = (off + i) h, with G's grid hg = R h (R a power of two): the grid point at or below
        eps - s (upper; at or above: lower) is m hg with m = floor((eps / h - off - i) / R) (ceil); eps / h is exact
        (h a power of two) and so is the subtraction of the integers (both multiples of ulp(eps / h), the result
        no larger), the division by R and the floor (section C8)."""
        x = eps / h - off - np.arange(n, dtype=np.float64)
        m = (np.floor(x / R) if upper else np.ceil(x / R)).astype(np.int64)  # decreasing
        c0, arr = self._table(R * h, int(m[-1]), int(m[0]), upper)
        return arr[m - c0]

    def ev_coarse(self, v: "fc._Vec", n: int, eps: float, h: float, R: int, upper: bool) -> float:
        """_ev(v restricted to its first n entries, on_coarse(eps, v.off, n, h, R, upper), upper) in one pass
        (_ev_table: the same indices m and weights, no temporary vectors; session 14)."""
        if n <= 0:
            return 0.0
        x0 = eps / h - v.off
        m_hi = math.floor(x0 / R) if upper else math.ceil(x0 / R)
        x1 = x0 - float(n - 1)
        m_lo = math.floor(x1 / R) if upper else math.ceil(x1 / R)
        c0, arr = self._table(R * h, int(m_lo), int(m_hi), upper)
        # R = 2^k: floor((x0 - i) / R) = floor((floor(x0) - i) / R) = (floor(x0) - i) >> k for integers i (and ceil
        # alike with ceil(x0)), the indices of on_coarse in integer arithmetic
        k = R.bit_length() - 1
        if R != 1 << k:
            raise ValueError("R must be a power of two")
        X = math.floor(x0) if upper else math.ceil(x0)
        s, sa, ww = _ev_table(v.a, n, X, k, upper, c0, arr)
        r = 2 * n * U * sa + v.err * math.sqrt(ww) * (1 + n * U)
        return s + r if upper else max(s - r, 0.0)

    def _table(self, hg: float, m_lo: int, m_hi: int, upper: bool) -> tuple[int, np.ndarray]:
        """(c0, bounds of G at the grid points (c0 + i) hg) covering m_lo .. m_hi (cached per hg; extended by the
        missing points and a margin of 64: the next evaluations of a search ask for nearby ranges)."""
        key = hg
        if not hasattr(self, "_grid"):
            self._grid = {}
        c = self._grid.get(key)
        if c is None:
            lo, hi = self.bounds(np.arange(m_lo, m_hi + 1) * hg)
            c = (m_lo, lo, hi)
        elif m_lo < c[0] or m_hi >= c[0] + len(c[1]):
            a0, top = c[0], c[0] + len(c[1]) - 1
            parts_lo, parts_hi = [], []
            a = a0
            if m_lo < a0:
                a = m_lo - 64
                lo, hi = self.bounds(np.arange(a, a0) * hg)
                parts_lo.append(lo)
                parts_hi.append(hi)
            parts_lo.append(c[1])
            parts_hi.append(c[2])
            if m_hi > top:
                lo, hi = self.bounds(np.arange(top + 1, m_hi + 65) * hg)
                parts_lo.append(lo)
                parts_hi.append(hi)
            c = (a, np.concatenate(parts_lo), np.concatenate(parts_hi))
        self._grid[key] = c
        return c[0], (c[2] if upper else c[1])


@njit(cache=True)
def _ev_table(a, n, X, k, upper, c0, tab):
    """(sum t_i, sum |t_i|, sum w_i^2) over i < n, t_i = a_i w_i, w_i = tab[m_i - c0] with m_i = (X - i) >> k
    (upper: floor of (X - i) / 2^k) or -((i - X) >> k) (lower: ceil): on_coarse's indices, recursive sums (within the
    bounds _ev charges)."""
    s = 0.0
    sa = 0.0
    ww = 0.0
    for i in range(n):
        m = (X - i) >> k if upper else -((i - X) >> k)
        w = tab[m - c0]
        t = a[i] * w
        s += t
        sa += abs(t)
        ww += w * w
    return s, sa, ww


def _phi_bounds(eps: float, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Enclosure of (1 - e^{eps - s})_+ (expm1 within RL; eps - s rounded once)."""
    w = np.where(s > eps, -np.expm1(np.minimum(eps - s, 0.0)), 0.0)
    return np.maximum(w * (1 - 4 * RL), 0.0), np.minimum(w * (1 + 4 * RL), 1.0)


def _ev(v: "fc._Vec", w: np.ndarray, upper: bool) -> float:
    """sum_s a*_s w_s for the exact vector a* that v stands for (||a - a*||_2 <= err), w >= 0 a bound on the
    weights in the direction wanted: the float sum, its rounding (2 n U sum |terms|), and err ||w||_2."""
    t = v.a * w
    s = float(t.sum())
    r = 2 * len(t) * U * float(np.abs(t).sum()) + v.err * float(np.sqrt(np.dot(w, w))) * (1 + len(w) * U)
    return s + r if upper else max(s - r, 0.0)


def _tail_above(v: np.ndarray, off: int, h: float, k: int, t: float, B: int = 256) -> float:
    """An upper bound on the mass at sums >= t of the k-fold composition of the law v (entries >= 0 at grid points
    (off + i) h): Markov on e^{theta S}, P(S >= t) <= e^{-theta t} M(theta)^k for every theta >= 0, with
    M(theta) = sum_i v_i e^{theta s_i} bounded above by block sums at each block's top point, the best of a
    geometric grid of theta, and a margin for the rounding of every float operation (section C7)."""
    n = len(v)
    if k == 0 or (off + n - 1) * k * h < t:
        return 0.0  # every sum is below t
    nb = -(-n // B)
    pad = np.zeros(nb * B)
    pad[:n] = v
    mass = pad.reshape(nb, B).sum(axis=1)
    top = (off + np.minimum(np.arange(nb) * B + B - 1, n - 1)) * h
    keep = mass > 0.0
    if not keep.any():
        return 0.0
    lm = np.log(mass[keep])
    top = top[keep]
    span = max(t - k * off * h, h)
    best = math.inf
    lm_abs = float(np.abs(lm).max())
    for th in np.geomspace(1e-3, 1e7, 201) / span:
        x = lm + th * top
        mx = float(x.max())
        lsum = math.log(float(np.exp(x - mx).sum()))
        logm = mx + lsum
        # rounding, as absolute errors on each exponent x_i and on log M: the block sums (B U relative: 2 B U after
        # the log), the log of each (RL |lm_i|), th * top (U |th top|), the sum and the subtraction of mx (U |x_i|,
        # U |x_i - mx|), each exp (RL relative: 2 RL), the sum of the exponentials (nb U relative: 2 nb U), the last
        # log (RL |lsum|) and the addition of mx (U |log M|), th t (U |th t|); doubled
        ex_i = (2 * (B + 2) * U + RL * lm_abs + U * float(np.abs(th * top).max()) + U * float(np.abs(x).max())
                + U * float(np.abs(x - mx).max()) + 2 * RL)
        marg = 2 * (ex_i + 2 * (len(x) + 2) * U + RL * abs(lsum) + U * abs(logm) + U)
        val = -th * t + k * (logm + marg) + 2 * U * abs(th * t)
        best = min(best, val)
    return math.exp(best) * (1 + 1e-9) if best < 700.0 else math.inf


def _cyc_err(beta: float, N: int, k: int) -> float:
    """l2 error bound of irfft(rfft(b, N)^k) (computed in floating point) against the exact folded k-fold power,
    for b >= 0 with ||b||_1 <= beta (section C7)."""
    ef = fc._eps_fft(N)
    D = ef * math.sqrt(N) * beta  # ||rfft computed - exact||_2 (Higham, B7's assumption): <= ef ||F b||_2, ||F b||_2 <= sqrt(N) ||b||_1
    bp = beta + D  # every |F_i| (<= ||b||_1) and every computed |F_i| (within D of it)
    c = 2.0 * math.sqrt(2.0) * (2 * U / (1 - 2 * U))  # one complex multiplication (Higham Lemma 3.5), doubled
    w = k + 2 * max(1, k.bit_length()) + 2  # the rounding factors' exponents in binary powering sum to <= k + log2 k
    rel = math.expm1(w * math.log1p(c))
    bpk = math.exp(k * math.log(bp))
    half = math.sqrt(N / 2 + 1)
    dy = rel * half * bpk * 1.01 + k * math.exp((k - 1) * math.log(bp)) * D  # ||Y computed - F^k||_2 (half spectrum)
    ey = math.sqrt(2.0) * dy / math.sqrt(N)  # the exact inverse: Hermitian extension (<= sqrt 2), Parseval (1/sqrt N)
    yn = math.sqrt(2.0) * half * bpk * (1 + rel) / math.sqrt(N)  # ||exact inverse of the computed Y||_2
    return (ey + 1.01 * ef * yn) * (1 + 1e-9)  # plus the inverse transform's own rounding (ef relative)


def _cyc_powers(base: "fc._Vec", N: int, ks: Sequence[int], starts: dict | None = None) -> dict[int, "fc._Vec"]:
    """{k: the k-fold power of base folded to N cells (cyclic convolution: the entry i stands for the grid points
    k off + i + N Z), with its l2 error bound}: one forward transform, the smallest power by binary powering of the
    spectrum and each larger one as the one before times F^d (d the difference, binary powering; session 13: d = 1 for
    the powers T - J .. T, one complex product each instead of a new binary powering), one inverse transform per k
    (section C7).  The rounding factors' exponents of a power so built sum to at most (k - d) + log2(k - d) + d +
    log2 d + 1 <= k + 2 log2 k + 1, within _cyc_err's k + 2 bit_length(k) + 2."""
    fc._check_time()
    F = np.fft.rfft(base.a, N)
    beta = float(np.abs(base.a).sum()) * (1 + len(base.a) * U)

    def power(n: int):
        res = None
        b = F
        while True:
            if n & 1:
                res = b if res is None else res * b
            n >>= 1
            if not n:
                break
            b = b * b
        return res

    out = {}
    prev = None  # (k, spectrum power) of the last power built
    for k in sorted(set(ks)):
        fc._check_time()
        if k == 0:
            a = np.zeros(N)
            a[0] = 1.0
            out[k] = fc._Vec(a, 0, 0.0, 0.0, 0)
            continue
        res = power(k) if prev is None else prev[1] * power(k - prev[0])
        prev = (k, res)
        c = np.fft.irfft(res, N)
        a0 = k * base.off if starts is None else starts[k]
        if a0 != k * base.off:  # C15: entry i stands for k off + i (mod N); rolled, entry j for a0 + j (mod N)
            c = np.roll(c, -((a0 - k * base.off) % N))
        out[k] = fc._Vec(c, a0, _cyc_err(beta, N, k), 0.0, k)
    return out


def _window(vs: Sequence["fc._Vec"], T: int, h: float, delta: float) -> int:
    """The FFT length N of the folded body powers: the smallest power of two (at least twice a step's cells) where the
    mass of every law's T-fold sum beyond its window, [T off, T off + N) cells, is <= ALIAS_REL delta (_tail_above),
    or the length of the whole T-fold sum where that is smaller (nothing folded)."""
    n_full = T * (len(vs[0].a) - 1) + 1
    n_top = 1 << max(1, (n_full - 1).bit_length())
    N = 1 << max(1, (2 * len(vs[0].a) - 1).bit_length())
    while N < n_top:
        if all(_tail_above(v.a, v.off, h, T, (T * v.off + N) * h) <= ALIAS_REL * delta for v in vs):
            return N
        N *= 2
    return n_top


#: C15 (session 16): with C14's laws, where C7's window (from the lowest sum) exceeds MAX_BODY, each folded body power's
#: window starts near its bulk instead (both tails charged)
WINDOW_START = True


def _window2(vs: Sequence["fc._Vec"], T: int, h: float, delta: float, ks: Sequence[int]):
    """(N, starts, alias) for C15: per law (vs) and power k, the window [a_k, a_k + N) of cells with
    a_k = max(k off, floor(k mu) - N / 4) (mu the law's mean cell, a float guide), and the mass outside it,
    P(S_k < a_k h) + P(S_k >= (a_k + N) h), bounded by _tail_above (the lower tail on the reflected law); N the smallest
    power of two >= twice a step's cells where that mass is <= ALIAS_REL delta at k = T for every law, or the length
    of the whole T-fold sum (then a_k = k off: nothing outside)."""
    n = len(vs[0].a)
    n_full = T * (n - 1) + 1
    n_top = 1 << max(1, (n_full - 1).bit_length())
    N = 1 << max(1, (2 * n - 1).bit_length())
    idx = np.arange(n, dtype=np.float64)
    mus = []
    for v in vs:
        tot = float(v.a.sum())
        mus.append(v.off + (float(np.dot(v.a, idx)) / tot if tot > 0.0 else 0.0))

    # blocks of one cell: a block's mass at its top point shifts every step by up to B cells, T B in all (C7's 256 would
    # swamp the bulk's spread here)
    B = 1 if n <= (1 << 17) else 256

    def outside(v, k, a, N):
        hi = _tail_above(v.a, v.off, h, k, (a + N) * h, B)
        lo = 0.0 if a <= k * v.off else _tail_above(v.a[::-1], -(v.off + n - 1), h, k, -(a - 1) * h, B)
        return hi + lo

    while True:
        if N >= n_top:
            N = n_top
            st = [{k: k * v.off for k in ks} for v in vs]
        else:
            st = [{k: max(k * v.off, math.floor(k * mu) - N // 4) for k in ks} for v, mu in zip(vs, mus)]
        if N >= n_top or N > MAX_BODY or all(outside(v, T, st[i][T], N) <= ALIAS_REL * delta
                                              for i, v in enumerate(vs)):
            break
        N *= 2
    if N > MAX_BODY:
        return N, st, None
    al = [[outside(v, k, st[i][k], N) for k in ks] for i, v in enumerate(vs)]
    return N, st, al


def _floor_gap(base: "fc._Vec", T: int, h: float, e: float, N: int, start: int | None = None) -> float:
    """The width 2 err ||w||_2 of E_0's enclosure at e (section C4) for the folded T-fold power of base (C7), from
    the error bound alone (before any FFT): untilted, the body sums cannot resolve a delta below it."""
    err = _cyc_err(float(np.abs(base.a).sum()) * (1 + len(base.a) * U), N, T)
    off = T * base.off if start is None else start
    length = N
    i0 = max(0, math.floor(e / h) - off + 1)  # first index with (off + i) h > e
    m = length - i0
    if m <= 0:
        return 0.0
    s_a, s_top = (off + i0) * h, (off + length - 1) * h
    sw = m - math.exp(e - s_a) * math.expm1(-h * m) / math.expm1(-h)  # sum of 1 - e^{e - s} over s > e
    wtop = -math.expm1(e - s_top)
    return 2.0 * err * math.sqrt(max(wtop * sw, 0.0))


def _coarsen(v: "fc._Vec", K: int, up: bool) -> "fc._Vec":
    """The vector's masses moved to the grid K h (up: to the next point at or above, else at or below); the
    exact coarse vector is a 0/1 linear map of the exact fine one: l2 error <= sqrt(K) err (Cauchy-Schwarz per
    bin), plus the bin sums' rounding (K U ||a||_1)."""
    k = v.off + np.arange(len(v.a))
    c = -((-k) // K) if up else k // K
    c0 = int(c[0])
    a = np.bincount(c - c0, weights=v.a)
    err = math.sqrt(K) * v.err + K * U * float(np.abs(v.a).sum())
    return fc._Vec(a, c0, err, 0.0, v.steps)


#: unit roundoff of numpy's longdouble (kept for callers that import it; the suffix sums below are compensated doubles)
UL = float(np.finfo(np.longdouble).eps) / 2


def _imul(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Outward enclosure of {x y: x in a, y in b} (each corner product rounded once: factor 1 +- 2U)."""
    c = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    lo, hi = min(c), max(c)
    return lo - 2 * U * abs(lo) - 1e-300, hi + 2 * U * abs(hi) + 1e-300


@njit(cache=True)
def _suffix_sums(a, ex, A, Aa, X, Xa, E):
    """Suffix sums by Sum2 (Ogita, Rump, Oishi, SIAM J. Sci. Comput. 26 (2005), Algorithm 4.4: TwoSum of the running
    sum and each term, the rounding errors summed apart, added once at the end), run from the top entry down, so the
    value at i is Sum2 of the terms j >= i: A (a_j), Aa (|a_j|), X (t_j = a_j ex_j, each product rounded once), Xa
    (|t_j|), E (ex_j).  Only additions and subtractions (no product to fuse); section C4 bounds the result."""
    n = len(a)
    sa = 0.0
    ca = 0.0
    saa = 0.0
    caa = 0.0
    sx = 0.0
    cx = 0.0
    sxa = 0.0
    cxa = 0.0
    se = 0.0
    ce = 0.0
    for i in range(n - 1, -1, -1):
        ai = a[i]
        ei = ex[i]
        ti = ai * ei
        # TwoSum (Knuth): x = fl(s + p), err = (s - (x - z)) + (p - z), z = x - s; s + p = x + err exactly
        x = sa + ai
        z = x - sa
        ca += (sa - (x - z)) + (ai - z)
        sa = x
        v = abs(ai)
        x = saa + v
        z = x - saa
        caa += (saa - (x - z)) + (v - z)
        saa = x
        x = sx + ti
        z = x - sx
        cx += (sx - (x - z)) + (ti - z)
        sx = x
        v = abs(ti)
        x = sxa + v
        z = x - sxa
        cxa += (sxa - (x - z)) + (v - z)
        sxa = x
        x = se + ei
        z = x - se
        ce += (se - (x - z)) + (ei - z)
        se = x
        A[i] = sa + ca
        Aa[i] = saa + caa
        X[i] = sx + cx
        Xa[i] = sxa + cxa
        E[i] = se + ce


class _Sfx:
    """Suffix sums of a computed vector a (grid s_j = (off + j) h): A_i = sum_{j>=i} a_j and
    X_i = sum_{j>=i} a_j e^{-s_j}, with enclosures of the exact sums (the computed a, the exact e^{-s}):
    Sum2 (_suffix_sums) of m terms is within U |sum| + gamma_{m-1}^2 sum |.| (Ogita-Rump-Oishi Prop. 4.5, also with
    underflow; gamma_k = k U / (1 - k U)), the float products within U, exp within RL (the floating-point model).
    (Before session 13: longdouble cumulative sums, within n UL sum |.|; 5-10x the CPU at 2^21 entries.)"""

    def __init__(self, v: "fc._Vec", h: float):
        self.v = v
        n = len(v.a)
        self.s = (v.off + np.arange(n)) * h
        if float(np.max(np.abs(self.s))) > 700.0:
            raise FloatingPointError("grid beyond exp's range")
        ex = np.exp(-self.s)
        a = np.ascontiguousarray(v.a, dtype=np.float64)
        self.A, self.Aa, self.X, self.Xa, self.Ex = (np.empty(n) for _ in range(5))
        _suffix_sums(a, ex, self.A, self.Aa, self.X, self.Xa, self.Ex)
        g = n * U / (1.0 - n * U)
        self.r2 = U + g * g * (1 + 1e-6)  # Sum2's relative bound against sum |.| (|sum| <= sum |.|)
        self.rA = self.r2 + U
        self.rX = self.r2 + 2 * U + RL

    def sums(self, i: int) -> tuple[tuple[float, float], tuple[float, float], int]:
        """Enclosures of A_i and X_i, and the count n - i (A_n = X_n = 0)."""
        if i >= len(self.v.a):
            return (0.0, 0.0), (0.0, 0.0), 0
        # the sums of |.| are Sum2 results too: sum |.| <= (computed) / (1 - r2) <= (computed) (1 + rA + 4 U)
        a, aa = float(self.A[i]), float(self.Aa[i]) * (1 + self.rA + 4 * U)
        x, xa = float(self.X[i]), float(self.Xa[i]) * (1 + self.rX + 4 * U)
        ea = self.rA * aa + 2 * U * abs(a) + 1e-300
        ex = self.rX * xa + 2 * U * abs(x) + 1e-300
        return (a - ea, a + ea), (x - ex, x + ex), len(self.v.a) - i

    def weighted(self, i: int, p: tuple[float, float], eps: float, qv: tuple[float, float], wmax: float,
                 upper: bool) -> float:
        """A bound on sum_{j>=i} a*_j (P - e^{eps - s_j} Q) for the exact vector a* (||a - a*||_2 <= err), the exact
        P in p, Q in qv, where every weight lies in [0, wmax]: P A - e^eps Q X, plus / minus err sqrt(n - i) wmax."""
        A, X, m = self.sums(i)
        if m == 0:
            return 0.0
        e = math.exp(eps)
        E = (e * (1 - RL), e * (1 + RL))
        pa = _imul(p, A)
        eqx = _imul(_imul(E, qv), X)
        # ||w||_2^2 <= max w * sum w (0 <= w_j = P - e^{eps - s_j} Q, increasing in s_j): max w at the top s, and
        # sum w = P (n - i) - e^eps Q sum e^{-s_j} (the Sum2 suffix sum of e^{-s}, within r2 + RL relative)
        ex_i = float(self.Ex[i])
        sw = p[1] * m - E[0] * qv[0] * ex_i * (1 - (self.r2 + RL + 4 * U))
        sw = sw + 4 * U * (p[1] * m) + 1e-300
        wtop = p[1] - math.exp(eps - float(self.s[-1])) * (1 - RL) * qv[0] * (1 - 4 * U)
        wtop = min(max(wtop + 4 * U * p[1], 0.0), wmax)
        wn = math.sqrt(max(min(wtop * max(sw, 0.0), m * wmax * wmax), 0.0)) * (1 + 1e-12)
        fft = self.v.err * wn
        if upper:
            r = pa[1] - eqx[0]
            return r + 2 * U * abs(r) + fft
        r = pa[0] - eqx[1]
        return r - 2 * U * abs(r) - fft


class _Laws:
    """The body vectors (upper: rounded up, upper mass enclosures; lower: rounded down, lower enclosures) and
    the composed body sums of T - j steps (j <= J), the coarse vectors of the terms j = 2 .. J, the closed-form tail."""

    def __init__(self, q: float, sigma: float, T: int, h: float, k_c: int, delta: float, K: Any = COARSE,
                 e_guess: float | None = None, width: float | None = None, c11: bool = False, icx: bool = False,
                 wgrid: float | None = None):
        # K: the coarse grid of the j = 2 term (an int), or {j: K_j} for the terms j = 2 .. J computed (C9)
        # icx: the body laws of C14 (convex order); wgrid: the eps width the grid is for (E_1's G grid, C8)
        Ks = {2: K} if isinstance(K, int) else dict(K)
        J = max(Ks)
        mu = 1.0 / sigma
        self.T, self.h = T, h
        self.delta_t = delta
        self._cache: dict = {}
        k_lo = math.floor(math.log1p(-q) / h) - 1  # g_{k_lo} < log(1-q) <= L: S(g_{k_lo}) = 1
        m = k_c - k_lo + 1
        lo = np.empty(m)
        hi = np.empty(m)
        fc.survival_bounds(k_lo, m, h, q, mu, True, lo, hi)  # index i <-> g = (k_lo + i) h
        hi = np.minimum.accumulate(hi)
        lo = np.maximum.accumulate(lo[::-1])[::-1]
        lo[0] = hi[0] = 1.0
        # upper body: cells (g_{k-1}, g_k], k = k_lo+1 .. k_c, mass S(g_{k-1}) - S(g_k) <= hi[k-1] - lo[k]
        up = np.maximum(hi[:-1] - lo[1:], 0.0) * (1 + 2 * U)
        # lower body: cells [g_k, g_{k+1}), k = k_lo .. k_c - 1, mass >= lo[k] - hi[k+1]
        dn = np.maximum(lo[:-1] - hi[1:], 0.0) * (1 - 2 * U)
        self.G = _G(q, mu, k_c * h)
        self.p_hi = self.G.pc[1]
        self.icx = icx
        self.icx_info = None
        if icx:
            # C14: both laws on the grid points g_{k_lo} .. g_c, bounds in the increasing convex order
            iu, il, self.icx_info = _icx_laws(k_lo, m - 1, h, q, mu)
            bu = fc._Vec(iu, k_lo, 0.0, 0.0, 1)
            bd = fc._Vec(il, k_lo, 0.0, 0.0, 1)
        else:
            bu = fc._Vec(up, k_lo + 1, 0.0, 0.0, 1)
            bd = fc._Vec(dn, k_lo, 0.0, 0.0, 1)
        # the body sums of T, T-1, T-2 steps: powers of one FFT, folded to a window of N cells (C7); the mass folded
        # (beyond the window) is charged per power with the largest weight of its term
        ks = tuple(T - j for j in range(J + 1))
        self._starts = {"up": None, "dn": None}
        N = _window((bu, bd), T, h, delta)
        if N > MAX_BODY and icx and WINDOW_START:
            # C15: each power's window starts near its bulk, both tails charged, where the window from the lowest sum
            # T k_lo h does not fit (its one-cell Chernoff blocks cost more than C7's: only then)
            N, st, al = _window2((bu, bd), T, h, delta, ks)
            if N > MAX_BODY:
                raise _WindowTooBig(N)
            self._starts = {"up": st[0], "dn": st[1]}
            self.alias = {"up": al[0], "dn": al[1]}
        else:
            if N > MAX_BODY:
                raise _WindowTooBig(N)
            self.alias = {name: [_tail_above(b.a, b.off, h, k, (k * b.off + N) * h) for k in ks]
                          for name, b in (("up", bu), ("dn", bd))}
        self.N, self.J = N, J
        if icx:
            # a decision only (before the body's FFTs): decline where a coarse term's tail cells or its convolution with
            # the coarse body would pass the FFT limit (as _tail_term and fc._conv would, after the FFTs: at sigma 192.7,
            # q 2.02e-6, T 5760 C14's fine grid declined there after 1.6 s)
            x_t = fc._x_tail(q, mu, 1e-6 * delta / max(1.0, T * T * self.p_hi))
            l_t = math.log1p(q * math.expm1(mu * x_t - 0.5 * mu * mu))
            for jj in range(2, J + 1):
                hc = Ks[jj] * h
                n_t = max(k_c // Ks[jj] + 1, math.ceil((l_t + 2 * hc) / hc)) - k_c // Ks[jj] + 1
                n_out = (N // Ks[jj] + 2) + (jj - 1) * (n_t - 1)
                if (jj - 1) * n_t > fc.MAX_FFT or n_out > fc.MAX_FFT:
                    raise fc._TooBig(n_out)
        a_T = None if self._starts["up"] is None else self._starts["up"][T]
        if e_guess is not None and (_floor_gap(bu, T, h, e_guess, N) if a_T is None
                                    else _floor_gap(bu, T, h, e_guess, N, a_T)) > 0.2 * delta:
            # untilted, the FFT's absolute error floor limits how small a delta the body sums resolve: where E_0's
            # error terms at the estimate are not well below delta, decline before any FFT (sigma 0.4905, q 2.48e-5,
            # T 54, delta 5.5e-11: 15 s for an upper end 60 % wide in session 11)
            raise fc._TooBig(N)
        self.body = {}
        self._ks, self._bd = ks, bd
        pw = _cyc_powers(bu, N, ks, self._starts["up"])
        self.body["up"] = tuple(pw[k] for k in ks)
        # the terms j = 2 .. J (C5, C9): the body sum of T - j steps and j - 1 tail steps on the coarse grid K_j h, the
        # last tail step in closed form.  Tail cells (c_{i-1}, c_i] from g_c up to c_top (mass above: charged)
        # E_1's G on the grid R1 h (C8): its eps shift R1 h within 5 % of the width T h / 0.8 (R1 a power of two)
        self.R1 = 1 << max(0, int(math.floor(math.log2(max(0.05 * T / 0.8, 1.0)))))
        if icx:  # the body's grid is no longer tied to T h <= width: R1 h within 5 % of the grid's target width
            self.R1 = 1 << max(0, int(math.floor(math.log2(max(0.05 * (wgrid or T * h / 0.8) / h, 1.0)))))
        self.wgrid = wgrid
        self.x_top = fc._x_tail(q, mu, 1e-6 * delta / max(1.0, T * T * self.p_hi))
        self.q, self.mu, self.k_c = q, mu, k_c
        self.terms: dict[str, dict[int, "fc._Vec"]] = {"up": {}, "dn": {}, "su": {}}
        self._tpow: dict[str, dict[int, tuple]] = {"up": {}, "dn": {}, "su": {}}
        self._berr_cache: dict = {}
        self.tmass = {"up": {}, "dn": {}}  # the coarse tail vectors' masses (>= their exact masses)
        self._tails: dict[int, tuple] = {}
        self._extra: dict[int, float] = {}
        self.Ks = Ks
        for jj in range(2, J + 1):
            self._tail_term(jj, Ks[jj])
        self.K = Ks[2]
        self.comb = {jj: float(math.comb(T, jj)) for jj in range(J + 1)}
        self.c2 = self.comb.get(2, 0.0)
        self._set_extra()
        if e_guess is not None and width is not None:
            self._refine_coarse(float(e_guess), delta, width)
            self.K = self.Ks[2]
        # the lower body law: (1 - r) x (the upper body law moved down one cell) where that loses little (C10; the
        # lower body's FFT powers and suffix sums are then not computed), else the lower body law itself
        self.shifted = None
        # (not with C11's plans of more tail terms: at sigma 0.3055, q 1.42e-3, T 229 it was refused after its terms
        # were computed, 0.6 s of 4)
        if e_guess is not None and SHIFTED_LOWER and N >= SHIFTED_MIN_N and not c11 and not icx:
            self.shifted = self._shifted_lower(up, dn, float(e_guess), delta)
        if self.shifted is None:
            self._compose_dn()

    def _tail_term(self, jj: int, Kj: int) -> None:
        """The coarse tail cells of the term jj on the grid K_j h (C5, C9) and its upper coarse vector."""
        q, mu, h, T, k_c = self.q, self.mu, self.h, self.T, self.k_c
        hc = Kj * h
        l_top = math.log1p(q * math.expm1(mu * self.x_top - 0.5 * mu * mu)) + 2 * hc
        i0 = k_c // Kj  # g_c = i0 hc exactly (k_c is a multiple of K_j)
        i1 = max(i0 + 1, math.ceil(l_top / hc))
        n_t = i1 - i0 + 1
        if (jj - 1) * n_t > fc.MAX_FFT:
            raise fc._TooBig((jj - 1) * n_t)
        tl = np.empty(n_t)
        th = np.empty(n_t)
        fc.survival_bounds(i0, n_t, hc, q, mu, True, tl, th)
        th = np.minimum.accumulate(th)
        tl = np.maximum.accumulate(tl[::-1])[::-1]
        t_up = np.maximum(th[:-1] - tl[1:], 0.0) * (1 + 2 * U)  # cell i -> c_i (rounded up)
        t_dn = np.maximum(tl[:-1] - th[1:], 0.0) * (1 - 2 * U)  # cell i -> c_{i-1} (rounded down)
        s_top = float(th[-1])  # P(L > c_top) upper enclosure
        if jj == 2:
            self.s_top = s_top
        # j - 1 coarse tail steps restricted to c_top: a configuration with one of them above has mass <= s_top
        # (union over which), the others <= p each, the body <= 1, and G <= p
        self._extra[jj] = math.comb(T, jj) * (jj - 1) * s_top * self.p_hi ** (jj - 1)
        self.Ks[jj] = Kj
        self._tails[jj] = (t_up, i0 + 1, t_dn, i0)
        for name, t in (("up", t_up), ("dn", t_dn)):
            self.tmass[name][jj] = float(t.sum()) * (1 + len(t) * U)
        self._terms("up", jj)

    def _set_extra(self) -> None:
        # j > J: at most C(T, J + 1) p^{J+1} (union bound over (J+1)-sets of steps; payoff <= 1)
        T, J = self.T, self.J
        self.extra = (math.comb(T, J + 1) * self.p_hi ** (J + 1) + sum(self._extra.values())) * (1 + 1e-9)

    def _refine_coarse(self, e: float, delta: float, width: float) -> None:
        """Section C11: the coarse grids K_j re-chosen from each term's computed share of the upper bound at the
        estimate e (the guide of C9, C(T, j) p^{j-1} G(e), misses the terms where several tail steps together exceed
        e: 1e3x at sigma 0.3055, q 1.42e-3, T 229).  Term j moves eps by about its share times (j + 1) K_j h; the K_j
        are halved (down to the FFT limit) while that exceeds its part of the width left beside the body's T h.  A
        float guide only: any K_j gives a valid bound (the tail cells, their charges and the term are recomputed)."""
        J, h, T = self.J, self.h, self.T
        if J < 2:
            return
        tot = self._raw(e, "up", True)
        if not (tot > 0.0):
            return
        shares = {}
        for jj in range(2, J + 1):
            v = self.terms["up"][jj]
            shares[jj] = self.comb[jj] * self.G.ev_coarse(v, len(v.a), e, self.Ks[jj] * h, 1, True) / tot
        target = width / 0.8
        body_w = T * h if not self.icx else 0.5 * target  # the body's share of the width (C2: T h; C14: a guide)
        room = max(0.05 * width, REFINE_ROOM * (0.96 * target - body_w)) / (J - 1)
        l_top = math.log1p(self.q * math.expm1(self.mu * self.x_top - 0.5 * self.mu ** 2))
        changed = False
        for jj in range(2, J + 1):
            K = self.Ks[jj]
            k_min = 1
            while (jj - 1) * ((l_top + 2 * k_min * h) / (k_min * h) + 2) > fc.MAX_FFT / 2:
                k_min *= 2
            while K > k_min and (jj + 1) * K * h * shares[jj] > room:
                K //= 2
            if K != self.Ks[jj]:
                self._tail_term(jj, K)
                changed = True
        if changed:
            self._set_extra()
        self.shares = shares

    def _terms(self, name: str, jj: int) -> None:
        """The coarse vector of the term jj (C5, C9) for the body law name (up: the upper body and tail cells rounded
        up; dn: the lower ones rounded down; su: the upper body rounded down with the lower tail cells, C10)."""
        t_up, o_up, t_dn, o_dn = self._tails[jj]
        t, off_t, up_ = (t_up, o_up, True) if name == "up" else (t_dn, o_dn, False)
        tv = fc._Vec(t, off_t, 0.0, 0.0, 1)
        v = _coarsen(self.body["up" if name == "su" else name][jj], self.Ks[jj], up_)
        if not SPLIT_BODY_ERR:
            for _ in range(jj - 1):
                v = fc._conv(v, tv)
            self.terms[name][jj] = v
            return
        # C12: the tail power T' = tau^{*(j-1)} first, then the body convolved with it as if exact (err 0): the
        # term's err then bounds ||v' - B' * T*||_2 only; the body's own error enters as e_B ||W*||_2 (_body_err)
        tp = tv
        for _ in range(jj - 2):
            tp = fc._conv(tp, tv)
        self.terms[name][jj] = fc._conv(fc._Vec(v.a, v.off, 0.0, v.ls, v.steps), tp)
        self._tpow[name][jj] = (tp, v.off, len(v.a), v.err)
        self._berr_cache = {}

    def _body_err(self, name: str, jj: int, eps: float) -> float:
        """(C12) A bound on |sum_b (B'_b - B*_b) W*(b)|, W*(b) = sum_c T*_c w(b + c), for the coarse body B' of the
        term jj (||B' - B*||_2 <= e_B), the exact tail power T* (||T' - T*||_2 <= e_T) and any weights w at eps that
        lie below G's upper table at the grid point m = floor(eps_ref / hg) - s, eps_ref <= eps (the upper and the
        lower evaluation's weights both do: G is non-increasing, the table's suffix maximum is taken)."""
        tp, b_off, n_b, e_b = self._tpow[name][jj]
        if e_b == 0.0:
            return 0.0
        hg = self.Ks[jj] * self.h
        dlt = hg
        while dlt * 2.0 <= 1e-3 * max(abs(eps), 1e-3):
            dlt *= 2.0
        e_ref = math.floor(eps / dlt) * dlt  # exact (powers of two); <= eps
        key = (name, jj, e_ref)
        c = self._berr_cache.get(key)
        if c is not None:
            return c
        X = int(round(e_ref / hg))  # e_ref / hg is an integer (dlt a multiple of hg)
        n_t = len(tp.a)
        s_lo, s_hi = tp.off + b_off, tp.off + b_off + n_b + n_t - 2  # the term vector's grid indices
        m_lo, m_hi = X - s_hi, X - s_lo
        c0, arr = self.G._table(hg, m_lo, m_hi, True)
        tab = arr[m_lo - c0:m_hi - c0 + 1]
        wmax = np.maximum.accumulate(tab[::-1])[::-1]  # wmax[m - m_lo] = max of the table over m' >= m
        wm = float(wmax[0])  # the largest weight
        # where the crude bound (Young and Cauchy-Schwarz: e_B (||T'||_1 + sqrt(n_t) e_T) sqrt(cells) max w) is already
        # negligible against delta, it is taken (the correlation below costs n_t per block)
        at = np.abs(tp.a)
        crude = e_b * (float(at.sum()) * (1 + n_t * U) + math.sqrt(n_t) * tp.err) * math.sqrt(n_b + n_t) * wm * (1 + 1e-9)
        if crude <= BODY_ERR_CRUDE * self.delta_t / self.comb[jj]:
            self._berr_cache[key] = crude
            return crude
        # w_b(s) = wmax[X - s - m_lo]: index by s - s_lo, reversed (s increasing -> m decreasing)
        ws = wmax[::-1]  # ws[s - s_lo]
        # W'(b) = sum_c |T'_c| w_b(b + c) is non-decreasing in b (w_b is): the squared norm over the body cells is at
        # most sum over blocks of (cells x W'(block top)^2); each dot product of n_t >= 0 terms within gamma_{n_t}
        nb = BODY_ERR_BLOCKS
        tops = sorted(set([min(n_b - 1, (k * n_b) // nb - 1) for k in range(1, nb + 1)] + [n_b - 1]))
        tot, prev = 0.0, -1
        for i in tops:
            if i < 0:
                continue
            wtop = float(np.dot(at, ws[i:i + n_t])) * (1 + 2 * (n_t + 2) * U)
            tot += (i - prev) * wtop * wtop
            prev = i
        w_norm = math.sqrt(tot) * (1 + 4 * U)
        # W* <= W' + e_T ||w_b||_2 pointwise (Cauchy-Schwarz over c): ||W*||_2 <= ||W'||_2 + sqrt(n_b) e_T sqrt(n_t) wm
        w_norm += math.sqrt(n_b) * tp.err * math.sqrt(n_t) * wm
        r = e_b * w_norm * (1 + 1e-9)
        self._berr_cache[key] = r
        return r

    def _compose_dn(self) -> None:
        pw = _cyc_powers(self._bd, self.N, self._ks, self._starts["dn"])
        self.body["dn"] = tuple(pw[k] for k in self._ks)
        for jj in range(2, self.J + 1):
            self._terms("dn", jj)

    def _shifted_lower(self, up: np.ndarray, dn: np.ndarray, e: float, delta: float):
        """(C10) (factor, [(T m_B / |V|, span) per part of B], (|U| + p)^T) for the lower bound from the upper body's
        powers, or None where the bracket's predicted width, log(upper / lower) / slope at the estimate e, exceeds
        SHIFTED_LOSS of issue 9's target.  up[i] and dn[i] are the upper and lower laws' masses of the same cell (g_{k_lo+i},
        g_{k_lo+i+1}]; B = the bottom cells i < i_b and the top cells i >= i_t, r >= every gap 1 - dn[i] / up[i]
        between them; i_b, then i_t, minimise the float guide of the loss T r + T m_B rho (rho = the upper bound at
        e - span over the one at e; 1 for the bottom part)."""
        T, h = self.T, self.h
        n = len(up)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(up > 0.0, 1.0 - (dn * (1.0 - 2 * U)) / (up * (1.0 + 2 * U)), 0.0)
        gap = np.maximum(gap, 0.0) + 8 * U  # margin for the ratio's rounding (>= the exact 1 - dn / up)
        cum = np.concatenate(([0.0], np.cumsum(up)))  # cum[i] = sum up[:i] (a float guide; B's masses below are bounded)
        smax = np.maximum.accumulate(gap[::-1])[::-1]
        i_b = int(np.argmin(smax + cum[:-1]))
        # the top part: its span is the whole body range; its guide weight rho from two upper evaluations
        span_t = (n - 1) * h
        u0 = self.delta(e, True)
        rho = self.delta(float(np.nextafter(e - span_t, -math.inf)), True) / u0 if u0 > 0.0 else math.inf
        i_t = n
        if math.isfinite(rho):
            pmax = np.maximum.accumulate(gap[i_b:])  # pmax[k] = max gap[i_b .. i_b + k]
            top_m = cum[-1] - cum[i_b + 1:]  # mass of cells above i_b + k
            score = T * pmax + T * rho * np.maximum(top_m, 0.0)
            i_t = i_b + 1 + int(np.argmin(score))
        r = float(gap[i_b:i_t].max()) if i_t > i_b else 0.0
        if not T * r < 0.01:
            return None
        vmass = float(up.sum()) * (1 - n * U)  # |V| >= this (the sum's rounding: n U sum)
        parts = []
        if i_b > 0:  # V_B's values <= g_{k_lo + i_b - 1}, V's >= g_{k_lo}
            parts.append((T * float(up[:i_b].sum()) * (1 + n * U) / vmass * (1 + 1e-12), (i_b - 1) * h))
        if i_t < n:
            parts.append((T * float(up[i_t:].sum()) * (1 + n * U) / vmass * (1 + 1e-12), span_t))
        factor = math.exp(T * math.log1p(-r) * (1 + 1e-12) - 1e-300) * (1 - 4 * U)
        lm = T * math.log(float(up.sum()) * (1 + n * U) + self.p_hi)
        mass_t = math.exp(lm + 1e-12 * abs(lm) + 1e-12)
        for jj in range(2, self.J + 1):
            self._terms("su", jj)
        width = 0.8 * (1e-4 * e if e >= 1e-3 else 1e-7)
        self._ub_grid = 0.25 * width
        self._ub_memo: dict[float, float] = {}
        self.shifted = (factor, parts, mass_t)
        raw0 = self._raw(e, "su", False)
        raw1 = self._raw(e + width, "su", False)
        full = self.delta(e, False)
        self.shifted_info = {"r": r, "i_b": i_b, "i_t": i_t, "cells": n, "parts": parts, "raw": raw0, "full": full}
        if not (raw0 > 0.0 and raw1 > 0.0 and full > 0.0):
            return None
        slope = math.log(raw0 / raw1) / width  # d log delta / d eps near e (a float guide)
        # the bracket's width is about log(upper / lower) / slope at e: kept within SHIFTED_LOSS of the target width
        if not (slope > 0.0 and math.log(u0 / full) <= SHIFTED_LOSS * (width / 0.8) * slope):
            return None
        return self.shifted

    def _ub_below(self, x: float) -> float:
        """The upper bound at a grid point e' <= x (e' = a multiple of width / 4, memoised: the lower search asks
        for nearby points; the upper bound is non-increasing, so its value at e' bounds the one at x)."""
        g = self._ub_grid
        e2 = float(np.nextafter(math.floor(x / g) * g, -math.inf))
        if e2 > x:
            e2 = float(np.nextafter(x, -math.inf))
        v = self._ub_memo.get(e2)
        if v is None:
            v = self._ub_memo[e2] = self.delta(e2, True)
        return v

    def _up_shift(self, eps: float, k: int) -> float:
        """A float >= eps + k h (the upper body's k-fold sums are k h above V's)."""
        return float(np.nextafter(eps + k * self.h, math.inf))

    def _sfx(self, name: str, i: int) -> _Sfx:
        key = ("up" if name == "su" else name, i)
        if key not in self._cache:
            self._cache[key] = _Sfx(self.body[key[0]][i], self.h)
        return self._cache[key]

    def delta(self, eps: float, upper: bool) -> float:
        """An upper (or lower) bound on REMOVE's delta(eps): sum_{j <= J} C(T, j) E_j (+ the extras, the folded
        masses); the lower one from the upper body's powers where C10 applies."""
        fc._check_time()
        if upper or self.shifted is None:
            return self._raw(eps, "up" if upper else "dn", upper)
        factor, parts, mass_t = self.shifted
        v = factor * self._raw(eps, "su", False)
        for pen, span in parts:
            # the configurations with a step in this part of B: at most T m_B / |V| times the upper bound at a point
            # <= eps - span (where that is below 0.5, i.e. not capped at 1) or times (|U| + p)^T (every term's weight
            # is <= p^j).  The upper bound holds at every real eps, negative too (no truncation in C1-C9 assumes
            # eps >= 0)
            ub = self._ub_below(float(np.nextafter(eps - span, -math.inf)))
            v -= pen * (ub if ub < 0.5 else mass_t)
        return max(v * (1 - 4 * U), 0.0)

    def _raw(self, eps: float, name: str, upper: bool) -> float:
        """sum_{j <= J} C(T, j) E_j for the body law name (up, dn; su: the upper body's powers evaluated as a lower
        bound, C10: the term j at a float >= eps + (T - j) h, the body's T - j steps moved down one cell each), upper
        or lower."""
        if name == "su":
            ej = [self._up_shift(eps, self.T - jj) for jj in range(self.J + 1)]
        else:
            ej = [eps] * (self.J + 1)
        # E_0 = sum_{s > eps} a_s (1 - e^{eps - s}): P = Q = 1, weights in [0, 1]
        eps = ej[0]
        x0 = self._sfx(name, 0)
        i0 = int(np.searchsorted(x0.s, eps, side="right"))
        e0 = x0.weighted(i0, (1.0, 1.0), eps, (1.0, 1.0), 1.0, upper)
        # E_1 = sum_s a_s G(eps - s): where eps - s < g_c, G = P(L > g_c) - e^{eps - s} Q(L > g_c) (weights in
        # [0, p]); below, the enclosure of G point by point
        eps = ej[1]
        x1 = self._sfx(name, 1)
        i1 = int(np.searchsorted(x1.s, eps - self.G.g_c, side="right"))
        e1 = x1.weighted(i1, self.G.pc, eps, self.G.qc, self.G.pc[1], upper)
        if i1 > 0:
            e1 += self.G.ev_coarse(x1.v, i1, eps, self.h, self.R1, upper)
        # the mass folded into each body power's window (C7), times its term's largest weight: phi <= 1 (E_0),
        # G <= p (E_1), the j - 1 coarse tail vectors' masses times G <= p (E_j)
        al = self.alias["up" if name == "su" else name]
        p = self.p_hi
        e_t = [max(e0, 0.0) if upper else max(e0 - al[0], 0.0)]
        f_t = [al[0]]
        e_t.append(max(e1, 0.0) if upper else max(e1 - al[1] * p * (1 + 1e-9), 0.0))
        f_t.append(al[1] * p * (1 + 1e-9))
        for jj in range(2, self.J + 1):
            v = self.terms[name][jj]
            e_j = self.G.ev_coarse(v, len(v.a), ej[jj], self.Ks[jj] * self.h, 1, upper)
            if jj in self._tpow[name]:
                eb = self._body_err(name, jj, ej[jj])
                e_j = e_j + eb if upper else max(e_j - eb, 0.0)
            fj = al[jj] * p * max(self.tmass["up"][jj], self.tmass["dn"][jj]) ** (jj - 1) * (1 + 1e-9)
            e_t.append(max(e_j, 0.0) if upper else max(e_j - fj, 0.0))
            f_t.append(fj)
        tot = sum(self.comb[jj] * e_t[jj] for jj in range(self.J + 1))
        if upper:
            tot += sum(self.comb[jj] * f_t[jj] for jj in range(self.J + 1))
            return min((tot * (1 + 8 * U) + self.extra) * (1 + 4 * U), 1.0)
        return max(tot * (1 - 8 * U), 0.0)


def _search(f, delta: float, lo: float, hi: float, tol: float) -> tuple[float, float]:
    """(a, b) with f(a) > delta >= f(b) (f non-increasing), b - a <= tol; lo, hi such a pair to start."""
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) <= delta:
            hi = mid
        else:
            lo = mid
    return lo, hi


#: the eps search of each end by secant steps on log delta from the estimate (session 17; False: the 4x outward steps and
#: bisection of session 14).  A decision only: each end is still a point where its bound was evaluated on its side
SECANT = True
#: the secant's aim: 0.45 tol on each side of the predicted crossing (both ends then lie within 0.9 tol)
SECANT_AIM = 0.45
#: ... and its stopping pair's width, a fraction of the bisection's 0.02 x width (the model's points cost few evaluations
#: more and the ends lie closer to the crossings: the bracket is no wider than the bisection's)
SECANT_TOL = 0.5
#: ... the model steps that did not halve the pair after which it bisects (a staircase coarser than the tolerance)
SLOW_MAX = 2
#: ... with one side known, the model's point at most this many outward steps away (1: session 17's first version)
JUMP_MAX = 256


def _ends(f, delta: float, x0: float, step: float, tol: float, b0: float | None = None, slope: float | None = None,
          x_max: float = math.inf):
    """(a, b, hist): f(a) > delta >= f(b), 0 <= a < b, b - a <= tol, for f non-increasing on [0, inf); a = None where
    f(0) <= delta (then b = 0); None where no b <= x_max was found.  The points are chosen by secant steps on log f
    (the two latest points with 0 < f < 1, or one and ``slope``), aimed SECANT_AIM tol beside the predicted crossing
    on the side still missing; outward steps growing 4x from ``step`` while a side is unknown and no model holds;
    bisection of the pair once two model steps did not halve it (at most two evaluations more than bisection).  b0: a point known to satisfy f(b0) <= delta (not
    evaluated).  hist: the (x, log f(x)) evaluated.  Which points are tried is a float guide only: each returned end
    is a point where f was evaluated (or b0) on its side of delta."""
    a = None
    b = b0
    hist: list[tuple[float, float]] = []
    ld = math.log(delta)
    x = max(float(x0), 0.0)
    slow = 0
    one = 0
    step0 = step
    for _ in range(200):
        if b is not None and x >= b:
            x = 0.5 * ((a if a is not None else max(b - step, 0.0)) + b)
        if a is not None and x <= a:
            x = 0.5 * (a + (b if b is not None else a + 2 * step))
        if x > x_max:
            return None
        width0 = None if a is None or b is None else b - a
        v = f(x)
        if v <= delta:
            b = x
            if x == 0.0:
                return None, 0.0, hist
        else:
            a = x
        if 0.0 < v < 1.0 and math.isfinite(v):
            hist.append((x, math.log(v)))
        if a is not None and b is not None:
            if b - a <= tol:
                return a, b, hist
            if width0 is not None and b - a > 0.5 * width0:
                slow += 1
        # the model: log f linear, fitted (least squares) through the points evaluated where they spread over at
        # least step / 4 (the bounds are staircases on their coarse grids: two close points give no slope), else
        # through them with the slope given (or the two of them)
        r = None
        near = [(xv, lv) for xv, lv in hist if abs(xv - x) <= 2 * step0]  # x: the latest point
        s = _fit_slope(near) if slope is None or _spread(near) >= 0.25 * step0 else slope
        if s is not None and math.isfinite(s) and s < 0.0 and near:
            c = sum(lv - s * xv for xv, lv in near) / len(near)
            r = (ld - c) / s
            if not math.isfinite(r):
                r = None
        if a is not None and b is not None:
            if r is None or slow >= SLOW_MAX:  # a staircase coarser than tol: bisection from here
                x = 0.5 * (a + b)
                continue
            x = r + SECANT_AIM * tol if b - r > r - a else r - SECANT_AIM * tol
            m = 0.02 * (b - a)
            x = min(max(x, a + m), b - m)
        else:
            # one side known: the model's point while it has not missed twice, else (a staircase) outward steps
            if r is not None and one < 2:
                one += 1
            else:
                r = None
            # (the model's jump capped at JUMP_MAX steps: a far estimate is then reached in one or two evaluations)
            if b is None:  # only a (f > delta): the crossing is above
                x = a + step if r is None else min(max(r + SECANT_AIM * tol, a + 0.5 * tol), a + JUMP_MAX * step)
            else:  # only b (f <= delta): the crossing is below
                x = max(b - step if r is None else max(min(r - SECANT_AIM * tol, b - 0.5 * tol), b - JUMP_MAX * step),
                        0.0)
            step *= 4
    raise fc._TooBig(0)  # not reached: the bisection steps halve the pair


def _spread(hist) -> float:
    return max(x for x, _ in hist) - min(x for x, _ in hist) if hist else 0.0


def _fit_slope(hist) -> float | None:
    """The least-squares slope of log f over the points (x, log f); None with fewer than two distinct points (a float
    guide for _ends)."""
    if len(hist) < 2 or _spread(hist) <= 0.0:
        return None
    mx = sum(x for x, _ in hist) / len(hist)
    ml = sum(lv for _, lv in hist) / len(hist)
    sxx = sum((x - mx) ** 2 for x, _ in hist)
    return sum((x - mx) * (lv - ml) for x, lv in hist) / sxx if sxx > 0.0 else None


def epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, estimate: float,
                    time_budget: float | None = None, width: float | None = None
                    ) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on eps(delta) for ONE Poisson-subsampled Gaussian group of T >= 2 steps, or None
    where it does not apply (several groups, T < 2, q >= 1), where its body or terms j >= 3 are too large, or
    where it runs out of time (default fc.TIME_BUDGET).  width: the eps width its grid is planned for (default:
    issue 9's target at the estimate, as :func:`plan`); any width gives a valid bracket, a wider one a coarser grid
    (the certified calibration asks ~1e-3 relative: 0.17-0.7 s where the default took 1.3-3.2 s)."""
    g = fc._psg_groups(groups)
    if g is None or len(g) != 1 or not (0.0 < delta < 1.0) or not (math.isfinite(estimate) and estimate >= 0.0):
        return None
    q, sigma, T = g[0]
    if T < 2:
        return None
    if width is not None and not (math.isfinite(width) and width > 0.0):
        return None
    return _under_deadline(time_budget, lambda t0: _bracket(list(groups), q, sigma, T, delta, estimate, t0, width))


class DisjointBrackets(AssertionError):
    """Two proven brackets of the same number (two grids, or two body-law kinds) are disjoint: one of the proofs is
    wrong -- an internal error, never an answer.  :func:`_under_deadline` turns it into a decline (the next source
    answers) only after recording it in INCONSISTENCIES, logging it and warning (RuntimeWarning), unless STRICT."""


#: every disjoint pair met (a message each): a bug would otherwise pass as a decline; tests assert it stays empty
INCONSISTENCIES: list[str] = []
#: raise DisjointBrackets out of epsilon_bracket / delta_bracket instead of declining (tests)
STRICT = False


def _meet(b, r, where: str):
    """The intersection (lo, hi, r's info) of two proven brackets b, r of the same number (b None: r); disjoint ones
    raise DisjointBrackets."""
    if b is None:
        return r
    lo, hi = max(b[0], r[0]), min(b[1], r[1])
    if lo > hi:
        raise DisjointBrackets(f"fewpart_cond {where}: disjoint brackets [{b[0]!r}, {b[1]!r}] and "
                               f"[{r[0]!r}, {r[1]!r}] of the same number (please report)")
    return (lo, hi, r[2])


def _under_deadline(time_budget: float | None, run):
    """``run(t0)`` under the module's deadline (t0 + time_budget, default fc.TIME_BUDGET), reset afterwards; None
    where it declines (a term too large, a floating-point failure, or past the deadline: fc._TooBig).  Disjoint
    brackets (DisjointBrackets) are an internal error: recorded in INCONSISTENCIES, logged and warned, then a decline
    (raised where STRICT)."""
    t0 = budget.clock()
    fc._deadline[0] = t0 + (fc.TIME_BUDGET if time_budget is None else time_budget)
    try:
        return run(t0)
    except DisjointBrackets as exc:
        INCONSISTENCIES.append(str(exc))
        if STRICT:
            raise
        import logging
        import warnings

        logging.getLogger("ewacct").error("internal error: %s; the conditioned bracket declines", exc)
        warnings.warn(f"ewacct internal error: {exc}; the conditioned bracket declines (another source answers)",
                      RuntimeWarning, stacklevel=3)
        return None
    except (fc._TooBig, FloatingPointError, OverflowError, ZeroDivisionError):
        return None
    finally:
        fc._deadline[0] = math.inf


#: C12: the body's FFT error carried through the tail power's correlation with the weights (False: as before session
#: 15, through the term vector's l2 error and ||w||_2)
SPLIT_BODY_ERR = True
#: ... its monotone blocks (W'(b) at each block's top bounds the block), and the crude bound taken where it is
#: within this fraction of delta (per term, after C(T, j))
BODY_ERR_BLOCKS = 4
BODY_ERR_CRUDE = 1e-7
#: C11's least-cost plan tried once where the first plan (J <= JMAX_FIRST) declines for its size
FALLBACK = True
#: C11: the part of the width beside the body's T h that the coarse terms' re-chosen grids may use (a float guide)
REFINE_ROOM = 1.5
#: C11's re-chosen grids also where J <= JMAX_FIRST (False: only the plans of more tail terms, new in session 15)
REFINE_ALL = False
#: most tail steps whose terms are computed (C9): the rest is bounded by C(T, J + 1) p^{J+1}.  J <= JMAX_FIRST as
#: before session 15 (the fewest J that fits); where none does, J up to JMAX (section C11: the plan of least body
#: cost; PSG(0.3055, 1.42e-3) x 229 at delta 3.21e-6 needs J = 7 at g_c = 0.5)
JMAX_FIRST = 4
JMAX = 7


def plan(q: float, sigma: float, T: int, delta: float, estimate: float, width: float | None = None,
         first: bool = True, icx: bool | None = None,
         icx_c: float | None = None) -> tuple[float, int, float, int, int] | None:
    """(h, k_c, p, body cells, J) of the bracket centred on ``estimate``, or None where it would decline for its
    grid (the terms j > JMAX not negligible within MAX_BODY_STEP cells per step); cheap (a few closed-form tail
    masses): the certifier uses it to decide whether to try this bracket first.  The body cells returned are those of
    the whole T-fold sum (the folded window of C7 may be smaller).  J: the fewest tail terms computed (2 .. JMAX)
    for which g_c fits.  icx: the grid of C14's body laws (T h^2 ICX_C <= width, at most MAX_BODY_STEP_ICX cells per
    step), else (False) C2's (T h <= width); None (default): C14's where ICX and it has at most JMAX_FIRST tail terms,
    else C2's."""
    if width is None:
        width = 0.8 * (1e-4 * estimate if estimate >= 1e-3 else 1e-7)
    h = fc._grid_h(T, width)
    if icx is None:
        # the default: what epsilon_bracket tries first -- C14's plan where it has at most JMAX_FIRST tail terms, else C2's
        if ICX and _c14_add_ok(q, sigma, T, delta, estimate):
            pl = plan(q, sigma, T, delta, estimate, width, first, True, icx_c)
            if pl is not None and pl[4] <= JMAX_FIRST:
                return pl
        return plan(q, sigma, T, delta, estimate, width, first, False)
    if icx:
        h = max(h, 2.0 ** math.floor(0.5 * math.log2(width / ((ICX_C if icx_c is None else icx_c) * T))))
    k_lo = math.floor(math.log1p(-q) / h) - 1
    # g_c: the smallest multiple of the coarse grid (doubling) where the terms j > J, C(T, J + 1) p^{J+1}, are within
    # 1e-4 delta, if one step's body then fits MAX_BODY_STEP cells (the folded T-fold window is checked by _Laws)
    k_max = (k_lo + (MAX_BODY_STEP_ICX if icx else MAX_BODY_STEP)) // COARSE * COARSE
    ps: dict[int, float] = {}

    def p_at(k_c: int) -> float:
        if k_c not in ps:
            ps[k_c] = _G(q, 1.0 / sigma, k_c * h).pc[1]
        return ps[k_c]

    def fit(J: int) -> int | None:  # the smallest k_c (doubling) with C(T, J + 1) p^{J+1} <= 1e-4 delta
        cj = math.comb(T, J + 1)
        k_c = COARSE
        while k_c <= k_max:
            if cj * p_at(k_c) ** (J + 1) <= 1e-4 * delta:
                return k_c
            k_c *= 2
        return None

    if first:
        for J in range(2, min(JMAX_FIRST, T) + 1):
            k_c = fit(J)
            if k_c is not None:
                return h, k_c, p_at(k_c), T * (k_c - k_lo), J
    # C11: more tail terms, where J <= JMAX_FIRST does not fit (or, first=False, where the first plan's body declined):
    # the (J, g_c) of least cost, a float guide of the body's FFT work (per-step cells times the J + 1 powers) plus the
    # tail terms' (J^2 convolutions of the coarse tail)
    best = None
    for J in range(JMAX_FIRST + 1 if first else 2, min(JMAX, T) + 1):
        k_c = fit(J)
        if k_c is None:
            continue
        cost = (k_c - k_lo) * (J + 2) + J * J * COARSE * 64
        if best is None or cost < best[0]:
            best = (cost, k_c, J)
    if best is not None:
        _, k_c, J = best
        return h, k_c, p_at(k_c), T * (k_c - k_lo), J
    return None  # the terms j > JMAX would not be negligible within the body's cells


def _make_laws(q, sigma, T, delta, estimate, width=None, icx=None, icx_c=None):
    """(laws, plan, width) centred on the eps ``estimate`` for a delta near ``delta``, or None where the plan or the
    coarse grids do not fit; width: the eps width the grid is for (default: issue 9's eps target at the estimate).
    Where the first plan (J <= JMAX_FIRST) declines for its size (its folded body window or its FFT floor), C11's
    plan of least cost over J = 2 .. JMAX (a smaller g_c: a shorter body) is tried once (FALLBACK)."""
    if icx is None:  # as plan's default: C14 where ICX and its plan has at most JMAX_FIRST tail terms
        p14 = (plan(q, sigma, T, delta, estimate, width, icx=True, icx_c=icx_c)
               if ICX and _c14_add_ok(q, sigma, T, delta, estimate) else None)
        icx = p14 is not None and p14[4] <= JMAX_FIRST
    pl = plan(q, sigma, T, delta, estimate, width, icx=icx, icx_c=icx_c)
    if pl is None:
        return None
    try:
        return _laws_for(q, sigma, T, delta, estimate, width, pl, pl[4] > JMAX_FIRST, icx)
    except fc._OutOfTime:
        raise
    except fc._TooBig:
        if not FALLBACK or pl[4] > JMAX_FIRST:
            raise
        pl2 = plan(q, sigma, T, delta, estimate, width, first=False, icx=icx, icx_c=icx_c)
        if pl2 is None or pl2[:2] == pl[:2]:
            raise
        return _laws_for(q, sigma, T, delta, estimate, width, pl2, True, icx)


def _laws_for(q, sigma, T, delta, estimate, width, pl, c11, icx=False):
    h, k_c, p, _, J = pl
    if width is None:
        width = 0.8 * (1e-4 * estimate if estimate >= 1e-3 else 1e-7)
    # the coarse grids of the terms j = 2 .. J: rounding moves the term j by (j + 1) K_j h in eps (body, j - 1 tail
    # steps, G's grid); K_j (a power of two dividing k_c; <= COARSE for j = 2, <= 2^14 beyond) is chosen so that,
    # with the term's share of delta estimated as C(T, j) p^{j-1} G(estimate) / delta (a float guide only), that
    # stays within 5 % of the width over all the terms; at least what keeps the j - 1 tail convolutions within
    # the FFT limit.  Any K_j gives a valid bound
    gl, gh = _G(q, 1.0 / sigma, k_c * h).bounds(np.array([float(estimate)]))
    x_top = fc._x_tail(q, 1.0 / sigma, 1e-6 * delta / max(1.0, T * T * p))
    l_top = math.log1p(q * math.expm1(x_top / sigma - 0.5 / sigma ** 2))
    Ks = {}
    for j in range(2, J + 1):
        share = math.comb(T, j) * p ** (j - 1) * float(gh[0]) / delta
        K = min(COARSE if j == 2 else 1 << 14, k_c)
        k_min = 1
        while (j - 1) * (l_top / (k_min * h)) > fc.MAX_FFT / 2:
            k_min *= 2
        while K > k_min and (j + 1) * K * h * share > 0.05 * width / (J - 1):
            K //= 2
        if K < k_min:
            raise fc._TooBig(k_min)
        Ks[j] = K
    laws = _Laws(q, sigma, T, h, k_c, delta, Ks, estimate, width if c11 or REFINE_ALL else None, c11, icx=icx,
                 wgrid=width / 0.8)
    return laws, pl, width


#: C14: the grid factors tried in turn (ICX_C times these) while the bracket is wider than issue 9's target; then C2's
#: grid and laws (as before session 16)
ICX_STEPS = (1.0, 16.0)
#: ... not tried where ADD's rounded law (C6) would be needed over more than this many cells (a cost guide)
ADD_CELLS = 1 << 20


def _c14_add_ok(q, sigma, T, delta, estimate, groups=None) -> bool:
    """False where ADD's proven Chernoff end exceeds the estimate and ADD's rounded law (C6, C2's grid) would span more
    than ADD_CELLS cells: C14 is then not tried (a cost guide)."""
    w0 = 0.8 * (1e-4 * estimate if estimate >= 1e-3 else 1e-7)
    if -T * math.log1p(-q) / fc._grid_h(T, w0) <= ADD_CELLS:
        return True
    if groups is None:
        from ..mechanisms import PoissonSubsampledGaussian

        groups = [(PoissonSubsampledGaussian(sigma, q), T)]
    return not fc._add_chernoff(groups, delta) > estimate


def _bracket(groups, q, sigma, T, delta, estimate, t0, width=None):
    """C1-C14's bracket: with C14's body laws (ICX) on grids refined in turn (ICX_STEPS) while it is wider than the
    target, then with C2's laws on C2's grid; each bracket intersected with the ones before (all are proofs about the
    same number).  C14 is not tried where its plan needs more than JMAX_FIRST tail terms (their coarse grids, rounded
    monotonically, then dominate the width) or none fits MAX_BODY_STEP_ICX cells per step."""
    if not ICX:
        return _bracket_at(groups, q, sigma, T, delta, estimate, t0, False, ICX_C, width)
    best = None

    def ok(b):
        return b is not None and b[1] - b[0] <= 0.96 * ((1e-4 * b[1] if b[1] >= 1e-3 else 1e-7) if width is None
                                                        else width / 0.8)

    def meet(b, r):
        return _meet(b, r, "C14 (eps brackets on two grids / body-law kinds)")

    h_prev = None
    # where ADD's proven Chernoff end is not below the estimate, ADD's rounded law on C2's grid is composed after every
    # C14 level; where its T-fold range, T log(1/(1-q)) / h, exceeds ADD_CELLS cells (sigma 192.7, q 2.02e-6, T 5760:
    # 8e8, 1.9 s each, then out of time), C2 alone, as before
    steps = ICX_STEPS if _c14_add_ok(q, sigma, T, delta, estimate, groups) else ()
    for f in steps:
        pl = plan(q, sigma, T, delta, estimate, width, icx=True, icx_c=ICX_C * f)
        if pl is None or pl[4] > JMAX_FIRST or (h_prev is not None and pl[0] >= h_prev):
            break
        h_prev = pl[0]
        try:
            r = _bracket_at(groups, q, sigma, T, delta, estimate, t0, True, ICX_C * f, width)
        except fc._OutOfTime:
            if best is None:
                raise
            return best
        except _WindowTooBig:
            break  # a finer grid only widens the folded window
        except (fc._TooBig, FloatingPointError, OverflowError, ZeroDivisionError):
            r = None
        if r is not None:
            best = meet(best, r)
            if ok(best):
                break
    if not ok(best):
        try:
            r = _bracket_at(groups, q, sigma, T, delta, estimate, t0, False, ICX_C, width)
        except (fc._TooBig, FloatingPointError, OverflowError, ZeroDivisionError):
            if best is None:
                raise
            r = None
        if r is not None:
            best = meet(best, r)
    if best is not None:
        best[2]["seconds"] = budget.clock() - t0
    return best


def _bracket_at(groups, q, sigma, T, delta, estimate, t0, icx, icx_c, width=None):
    made = _make_laws(q, sigma, T, delta, estimate, width, icx=icx, icx_c=icx_c)
    if made is None:
        return None
    laws, (h, k_c, p, _, J), width = made
    up = lambda e: laws.delta(e, True)  # noqa: E731
    lo = lambda e: laws.delta(e, False)  # noqa: E731
    tol = 0.02 * width
    if SECANT:
        e_lo, e_hi = _secant_ends(up, lo, delta, estimate, width, SECANT_TOL * tol)
        if e_hi is None:
            return None
    else:
        e_lo, e_hi = _bisect_ends(up, lo, delta, estimate, width, tol)
        if e_hi is None:
            return None
    # ADD: its Chernoff end, or the rounded loss-distribution bracket's ADD law on the same grid (ADD's loss is
    # <= log(1/(1-q)) per step: its vectors stay short); eps_ADD <= the first point where its upper bound <= delta
    add_ub = fc._add_chernoff(groups, delta)
    if add_ub > e_hi:
        h_add = min(h, fc._grid_h(T, width))  # the rounded law's grid (its laws differ by T h: C14's h may be coarser)
        d = fc._Direction([(q, sigma, T)], False, h_add, delta, e_hi)
        th = fc._theta(d.steps, e_hi)
        f = fc._Law(d.steps, True, th, delta, 0.0).bound  # ADD's upper law only
        if f(e_hi) <= delta:
            add_ub = e_hi
        elif math.isfinite(add_ub):
            add_ub = _search(f, delta, e_hi, add_ub, tol)[1]
    hi_e = max(e_hi, add_ub)
    info = {"h": h, "g_c": k_c * h, "tail_mass": p, "remove": (e_lo, e_hi), "add_upper": add_ub,
            "body_len": len(laws.body["up"][0].a), "extra_upper": laws.extra, "tail_terms": J, "coarse": dict(laws.Ks),
            "seconds": budget.clock() - t0}
    return e_lo, hi_e, info


def _secant_ends(up, lo, delta, estimate, width, tol):
    """(e_lo, e_hi) by _ends: the upper end from the estimate (+ width / 2, as the bisection's start), the lower end
    below e_hi (lo(e_hi) <= up(e_hi) <= delta: e_hi is its b, not evaluated) with the upper search's last slope as
    its first model (the two bounds' log slopes nearly agree); (None, None) where no upper end <= 1e3 is found."""
    r = _ends(up, delta, max(estimate, 0.0) + 0.5 * width, width, tol, x_max=1e3)
    if r is None:
        return None, None
    _, e_hi, hist = r
    if e_hi == 0.0:
        return 0.0, 0.0
    slope = _fit_slope([(xv, lv) for xv, lv in hist if abs(xv - e_hi) <= 2 * width])
    slope = slope if slope is not None and math.isfinite(slope) and slope < 0.0 else None
    r = _ends(lo, delta, max(e_hi - 0.5 * width, 0.0), width, tol, b0=e_hi, slope=slope)
    e_lo = 0.0 if r is None or r[0] is None else r[0]
    return e_lo, e_hi


def _bisect_ends(up, lo, delta, estimate, width, tol):
    """(e_lo, e_hi) as session 14 (SECANT False): 4x outward steps from the estimate, then bisection; (None, None)
    where no upper end <= 1e3 is found."""
    # upper end: a point where the upper bound is <= delta.  The bisection's starting pair is found from the estimate
    # outward by steps growing 4x from the width (session 14: ~8 evaluations of each bound instead of ~20 from
    # [0, estimate]); a decision only: each end is a point where its bound was evaluated on the right side of delta
    if up(0.0) <= delta:
        e_hi = 0.0
    else:
        e0 = max(estimate, 0.0) + 0.5 * width
        step = width
        if up(e0) <= delta:
            b, a = e0, e0 - step
            while a > 0.0 and up(a) <= delta:
                b, step = a, 4 * step
                a = b - step
            a = max(a, 0.0)  # up(0) > delta
        else:
            a, b = e0, e0 + step
            while up(b) > delta:
                a, step = b, 4 * step
                b = a + step
                if b > 1e3:
                    return None, None
        e_hi = _search(up, delta, a, b, tol)[1]
    # lower end: a point where the lower bound is > delta (0 where none), searched down from e_hi (lo(e_hi) <=
    # up(e_hi) <= delta: both bound the same delta)
    e_lo, b, step = 0.0, e_hi, width
    a = b - step
    while a > 0.0 and lo(a) <= delta:
        b, step = a, 4 * step
        a = b - step
    if a > 0.0 or lo(0.0) > delta:
        e_lo = _search(lo, delta, max(a, 0.0), b, tol)[0]
    return e_lo, e_hi


def delta_bracket(groups: Sequence[tuple[Any, int]], eps: float, estimate: float, rel_width: float = 1e-4,
                  time_budget: float | None = None) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on delta(eps) (the larger of REMOVE and ADD) for ONE Poisson-subsampled Gaussian group
    of T >= 2 steps from the same enclosure (section C13), or None where it does not apply or declines (as
    epsilon_bracket).  estimate: an estimate of delta(eps) (sets the truncation budgets and the plan's g_c; any value
    in (0, 1) gives a valid bracket)."""
    g = fc._psg_groups(groups)
    if g is None or len(g) != 1 or not (math.isfinite(eps) and eps >= 0.0):
        return None
    if not (math.isfinite(estimate) and 0.0 < estimate < 1.0) or not (math.isfinite(rel_width) and rel_width > 0.0):
        return None
    q, sigma, T = g[0]
    if T < 2:
        return None
    return _under_deadline(time_budget, lambda t0: _delta_bracket(list(groups), q, sigma, T, float(eps),
                                                                  float(estimate), rel_width, t0))


def _delta_bracket(groups, q, sigma, T, eps, d_est, rel_width, t0):
    """C13: REMOVE's upper and lower bounds of C1-C12 at eps itself (no search), ADD's upper end from its Chernoff
    bound or the rounded bracket's ADD upper law (C6); first on the eps-target grid at eps, then, where the bracket is
    wider than rel_width, once more with h from the measured gap (the gap in log delta is ~ proportional to h)."""
    width = None
    best = None
    for _ in range(2):
        try:
            made = _make_laws(q, sigma, T, d_est, eps, width, icx=False)
            if made is None:
                break
            laws, (h, k_c, p, _, J), width = made
            lo_r, hi_r = laws.delta(eps, False), laws.delta(eps, True)
            hi = hi_r
            # ADD: delta_ADD(eps) <= hi_r where its proven Chernoff end at delta hi_r is <= eps (delta_ADD
            # non-increasing); else its rounded upper law (bounds/fewpart_cert.py B2-B9) at eps
            add_how = "chernoff"
            if hi_r < 1.0 and fc._add_chernoff(groups, hi_r) > eps:
                d = fc._Direction([(q, sigma, T)], False, h, max(hi_r, 1e-300), eps)
                th = fc._theta(d.steps, eps)
                hi = max(hi_r, fc._Law(d.steps, True, th, max(hi_r, 1e-300), 0.0).bound(eps))
                add_how = "rounded law"
        except (fc._TooBig, FloatingPointError, OverflowError, ZeroDivisionError):
            if best is None:
                raise
            break  # the second, finer grid declined: the first one's bracket stands
        hi = min(hi, 1.0)
        info = {"h": h, "g_c": k_c * h, "tail_mass": p, "tail_terms": J, "remove": (lo_r, hi_r), "add": add_how,
                "coarse": dict(laws.Ks), "seconds": budget.clock() - t0}
        best = _meet(best, (lo_r, hi, info), "C13 (delta brackets on two grids)")
        if best[1] - best[0] <= rel_width * best[1] or not (lo_r > 0.0 and hi_r > lo_r):
            break
        # the gap in log delta is ~ proportional to h (the body's T h and the coarse grids K_j h): h2 from the measured gap
        h2 = 2.0 ** math.floor(math.log2(h * 0.8 * rel_width / math.log(hi_r / lo_r)))
        if h2 >= h:
            break
        width = T * h2
    return best


# ---------------------------------------------------------------------------------------------------------------------
# Section C14 (session 16): the body laws by convex order instead of rounding up / down
# ---------------------------------------------------------------------------------------------------------------------

#: C14: the per-step body laws are the increasing-convex-order bounds of _icx_laws (the body's grid then needs only
#: T h^2-type accuracy, not T h <= width); False: the rounded-up / rounded-down body laws of C2 as before session 16
ICX = True
#: C14's grid: the largest power of two h with T h^2 ICX_C <= width (a float guide calibrated on the corner points;
#: any h gives a valid bracket), at least the C2 grid's h
ICX_C = 65536.0
#: C14: one step's body cells at most (the coarse grid reaches a large g_c within MAX_BODY_STEP: at PSG(0.3055, 1.42e-3) x
#: 229 the plan J = 2, g_c = 8 over 2^18 cells cost 2.5 s and missed the target, where J = 7, g_c = 0.5 answers)
MAX_BODY_STEP_ICX = 1 << 16


class _WindowTooBig(fc._TooBig):
    """The folded body window (C7) would exceed MAX_BODY."""


#: C14's verification of the lower law is retried with the chord-gap allowances of the failing cells raised this often
ICX_FIX_ROUNDS = 4


@njit(cache=True)
def _pq_grid(k0, n, h, q, mu, out):
    """out[:, i] = _pq at g = (k0 + i) h: (P(L > g) lower, upper, Q(L > g) lower, upper) (REMOVE)."""
    tmp = np.empty(4)
    for i in range(n):
        _pq((k0 + i) * h, q, mu, tmp)
        out[0, i] = tmp[0]
        out[1, i] = tmp[1]
        out[2, i] = tmp[2]
        out[3, i] = tmp[3]


def _icx_laws(k_lo: int, n: int, h: float, q: float, mu: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """(upper, lower, info): P-scale body vectors on the grid points g_i = (k_lo + i) h, i = 0 .. n (g_n = g_c), of the
    REMOVE body {L <= g_c}, whose composed powers bound every term of C1 from above and below (section C14).

    Under Q (X ~ N(0, 1)) the body law beta_Q = e^{-l} beta_P; a lattice law Y on the g_i (Q-masses y_i) stands for the
    P-scale vector y_i e^{g_i}.  upper: each cell's Q-mass split between its two ends with the fraction at the top an upper
    enclosure of u_j = E_Q[(L - g_j) / h; cell j] (the mean-preserving split, moved up): beta_Q <=_icx Y.  lower: the
    lattice law whose potential Pi_Y(t) = E(Y - t)_+ is a convex minorant, with lattice kinks, of the body's potential
    Pi(t) = E_Q[(L - t)_+; body] lowered by the chord gaps, verified cell by cell: Y <=_icx beta_Q."""
    m = n + 1
    e4 = np.empty((4, m))
    _pq_grid(k_lo, m, h, q, mu, e4)
    SP_lo, SP_hi, SQ_lo, SQ_hi = (np.array(e4[i]) for i in range(4))
    SP_lo[0] = SP_hi[0] = SQ_lo[0] = SQ_hi[0] = 1.0  # g_0 < log(1 - q) <= L
    SP_hi = np.minimum.accumulate(SP_hi)
    SQ_hi = np.minimum.accumulate(SQ_hi)
    SP_lo = np.maximum.accumulate(SP_lo[::-1])[::-1]
    SQ_lo = np.maximum.accumulate(SQ_lo[::-1])[::-1]
    # cell j = (g_j, g_{j+1}], j < n: Q- and P-masses enclosed (differences rounded outward)
    MQ_lo = np.maximum(SQ_lo[:-1] - SQ_hi[1:], 0.0) * (1 - 2 * U)
    MQ_hi = np.maximum(SQ_hi[:-1] - SQ_lo[1:], 0.0) * (1 + 2 * U)
    MP_lo = np.maximum(SP_lo[:-1] - SP_hi[1:], 0.0) * (1 - 2 * U)
    MP_hi = np.maximum(SP_hi[:-1] - SP_lo[1:], 0.0) * (1 + 2 * U)
    g = (k_lo + np.arange(m)) * h
    if float(np.max(np.abs(g))) > 700.0:
        raise FloatingPointError("grid beyond exp's range")
    eg = np.exp(-g[:-1])
    # z_j = E_Q[e^{L - g_j} - 1; cell j] = e^{-g_j} P(cell j) - Q(cell j)  (dP = e^L dQ); 0 <= z_j <= (e^h - 1) Q(cell j)
    # (exp within RL: e^{-g} <= eg (1 + 2 RL); three products' rounding within 4 U)
    zh = eg * (1 + 2 * RL) * MP_hi * (1 + 4 * U) - MQ_lo
    zh = zh + 2 * U * np.abs(zh) + 1e-300
    zl = eg * (1 - 2 * RL) * MP_lo * (1 - 4 * U) - MQ_hi
    zl = zl - 2 * U * np.abs(zl)
    em = math.expm1(h)
    zh = np.minimum(zh, MQ_hi * em * (1 + 2 * RL) * (1 + 4 * U))
    zl = np.maximum(zl, 0.0)
    # u_j = E_Q[(L - g_j) / h; cell j]: x <= e^x - 1 (tangent) and x >= h (e^x - 1) / (e^h - 1) on [0, h] (chord)
    u_hi = np.minimum(zh / h * (1 + 2 * U), MQ_hi)
    u_lo = np.maximum(zl / em * (1 - 2 * RL) * (1 - 4 * U), 0.0)
    u_lo = np.minimum(u_lo, u_hi)
    # ---- upper: u_hi at g_{j+1}, the rest of Q(cell j)'s upper enclosure at g_j
    a_up = np.maximum(MQ_hi - u_hi, 0.0) * (1 + 2 * U)
    w = np.zeros(m)
    w[:-1] += a_up
    w[1:] += u_hi
    w *= 1 + 2 * U
    ex = np.exp(g)
    upper = w * ex * ((1 + 2 * RL) * (1 + 8 * U))
    # ---- lower: potentials in units of h.  pi_k = Pi(g_k) / h = sum_{j >= k} (A_{j+1} + u_j), A_i = Q(g_i < L <= g_c)
    A_lo = np.maximum(SQ_lo - SQ_hi[-1], 0.0) * (1 - 2 * U)
    A_lo[-1] = 0.0
    terms = A_lo[1:] + u_lo
    pi = np.zeros(m)
    pi[:-1] = np.cumsum(terms[::-1])[::-1]
    pi *= 1 - 2 * (m + 2) * U  # recursive sums of >= 0 terms: within gamma_m
    mass = float(A_lo[0]) * (1 - 2 * U)  # <= Q(body)
    c = MQ_hi * (1 + 2 * U)  # the chord gap of Pi / h on cell j at lambda is <= c_j lambda (1 - lambda)
    cpad = np.concatenate(([0.0], c, [0.0]))
    # d_k = max(c_{k-1}, c_k) / 4: sqrt(d_k) + sqrt(d_{k+1}) >= sqrt(c_k); a margin for the check's rounding
    d = np.maximum(cpad[:-1], cpad[1:]) * (0.25 * (1 + 1e-6)) + 64 * (m + 2) * U * pi
    fails = 0
    for _ in range(ICX_FIX_ROUNDS + 1):
        y = _icx_minorant(pi, d, mass)
        bad = _icx_check(y, pi, c, mass)
        if bad is None:
            break
        fails = len(bad)
        d[bad] = np.maximum(d[bad], 1.0 * np.maximum(cpad[bad], cpad[bad + 1]))
        d[bad + 1] = np.maximum(d[bad + 1], 1.0 * np.maximum(cpad[bad + 1], cpad[bad + 2]))
    else:
        raise fc._TooBig("icx lower law not verified")
    lower = y * ex * ((1 - 2 * RL) * (1 - 8 * U))
    info = {"fix_cells": fails, "mass_q": mass, "lower_mass_q": float(y.sum())}
    return upper, lower, info


def _icx_minorant(pi: np.ndarray, d: np.ndarray, mass: float) -> np.ndarray:
    """Q-masses y on the lattice whose potential (units of h) is the greatest convex minorant, with lattice kinks and
    slopes >= -mass, of max(pi_k - d_k, 0) (0 at the top point): a float construction only (_icx_check proves it)."""
    m = len(pi)
    P = np.maximum(pi - d, 0.0)
    P[-1] = 0.0
    # slopes >= -mass: P_k <= P_{k+1} + mass from the top down (the potential's slope is minus the mass above)
    P = _slope_cap(P, mass)
    hull = _lower_hull(P)
    # masses at the hull's vertices: the slope after minus the slope before (-mass left of the grid, 0 right of it)
    hv = hull.astype(np.float64)
    sl = np.diff(P[hull]) / np.diff(hv)
    y = np.zeros(m)
    before = np.concatenate(([-mass], sl))
    after = np.concatenate((sl, [0.0]))
    y[hull] = after - before
    y = np.maximum(y, 0.0) * (1 - 1e-12 - 8 * (m + 2) * U)  # room for _icx_check's rounding of the sums
    return y


@njit(cache=True)
def _slope_cap(P, mass):
    out = P.copy()
    for k in range(len(out) - 2, -1, -1):
        t = out[k + 1] + mass
        if out[k] > t:
            out[k] = t
    return out


@njit(cache=True)
def _lower_hull(v):
    """Indices of the vertices of the lower convex hull of the points (i, v_i) (Andrew's monotone chain)."""
    n = len(v)
    st = np.empty(n, dtype=np.int64)
    t = 0
    for i in range(n):
        while t >= 2:
            a = st[t - 2]
            b = st[t - 1]
            # cross product of (b - a, v_b - v_a) and (i - a, v_i - v_a) <= 0: b is not below the chord a-i
            if (b - a) * (v[i] - v[a]) - (i - a) * (v[b] - v[a]) <= 0.0:
                t -= 1
            else:
                break
        st[t] = i
        t += 1
    return st[:t]


def _icx_check(y: np.ndarray, pi: np.ndarray, c: np.ndarray, mass: float):
    """None where the lattice law y (>= 0) satisfies Y <=_icx (the body under Q), else the failing cells: its mass is
    <= mass, and on every cell j the potential Pi_Y (linear there) lies below Pi, i.e. with a = pi_j - piY_j,
    b = pi_{j+1} - piY_{j+1} (lower bounds), a, b >= 0 and sqrt(a) + sqrt(b) >= sqrt(c_j) (Pi >= chord - c_j lambda
    (1 - lambda) h), or Pi_Y = 0 on the cell (Pi >= 0)."""
    m = len(y)
    if np.any(y < 0.0):
        return np.arange(m - 1)
    g = 2 * (m + 2) * U
    Ybar = np.cumsum(y[::-1])[::-1] * (1 + g)  # >= sum_{j >= i} y_j
    if float(Ybar[0]) > mass:
        return np.arange(m - 1)
    piY = np.zeros(m)
    piY[:-1] = np.cumsum(Ybar[:0:-1])[::-1] * (1 + g)  # >= Pi_Y(g_k) / h = sum_{i > k} Ybar_i
    a = pi - piY
    a = a - 2 * U * (pi + piY)
    zero = piY == 0.0
    aa, bb = a[:-1], a[1:]
    ok_pos = (aa >= 0.0) & (bb >= 0.0)
    lhs = (np.maximum(aa, 0.0) + np.maximum(bb, 0.0) + 2.0 * np.sqrt(np.maximum(aa, 0.0) * np.maximum(bb, 0.0))) * (1 - 8 * U)
    ok = (zero[:-1] & zero[1:]) | (ok_pos & (lhs >= c * (1 + 4 * U)))
    if ok.all():
        return None
    return np.nonzero(~ok)[0]
