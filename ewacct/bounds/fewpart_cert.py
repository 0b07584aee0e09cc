"""Certified eps(delta) / delta(eps) of Poisson-subsampled Gaussian compositions by a rounded,
tilted privacy-loss distribution with a proven error budget (docs/certified_fewpart.md).

For each direction the per-step privacy loss L = l(X) is a monotone function of a Gaussian (mixture)
X.  On the grid g_k = k h (h a power of two, so every g_k and every sum of them is exact):

* the UPPER law rounds L up (U = g_k on g_{k-1} < L <= g_k); mass above the grid's top goes to an
  "infinite" state.  U >= L pointwise, and delta(eps) = E[(1 - e^{eps - sum L})_+] is increasing in
  every step's loss, so the composition of upper laws bounds delta from above; every configuration
  containing an infinite state contributes at most its probability (the payoff is <= 1);
* the LOWER law rounds L down (D = g_k on g_k <= L < g_{k+1}), with the mass below the grid dropped
  (the payoff is >= 0): a lower bound.

Survival values P(L > g) are enclosed with the repository's floating-point model (IEEE double, libm
exp/expm1/log/erfc within RL = 16 U relative; bounds/_two_step_kernel.py) and made monotone; the cell
masses are their differences.  The T-fold compositions are computed by FFT on exponentially tilted
vectors (tilt theta >= 0 near the saddle point, so that the mass near eps is not below the FFT's
absolute rounding) with an l2 error bound per convolution (Higham, Accuracy and Stability of
Numerical Algorithms, 2nd ed., Thm 24.2, with twiddle factors assumed accurate to MU = 8 U and the
bound doubled for pocketfft's radix-4 passes), propagated through the powering by Young's
inequality.  Window truncations are either free (a partial sum that cannot reach any eps searched
contributes 0) or charged (dropped top mass counts with payoff 1 in the upper bound).

Width: the two laws differ by exactly h per step, so the eps bracket is at most ~ T h wide plus the
error budget; h is chosen from the width wanted, and the method declines (returns None) where the
grid would exceed ``MAX_FFT``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numba import njit

from ..methods import budget
from ._two_step_kernel import RL, U, _pb

#: largest FFT length used (complex128): 2^22 points, ~0.4 s per transform on the 2-core machine
MAX_FFT = 1 << 22
#: largest per-step grid (entries) tried: beyond it the compositions would exceed MAX_FFT anyway
MAX_STEP = 1 << 20
#: assumed bound on the error of pocketfft's twiddle factors (Higham's mu)
MU = 8.0 * U
#: relative budget, against the target delta, of every charged truncation together
TRUNC_REL = 1e-8


@njit(cache=True)
def _x_of(gp, q, mu):
    """(x, dx, ok): x with l(x) = gp for l(x) = log(1 - q + q e^{mu x - mu^2/2}), i.e.
    x = log((expm1(gp) + q) / q) / mu + mu / 2, within dx of the true value; ok = 0 where the
    argument may be <= 0 (x may be -inf), 1 otherwise; -1 where it certainly is <= 0."""
    a = math.expm1(gp)
    b = a + q
    err_b = RL * abs(a) + U * abs(b)
    if b <= 0.0 and -b > 2.0 * err_b:
        return -math.inf, 0.0, -1
    if b <= 0.0 or err_b > 0.25 * b:
        return -math.inf, 0.0, 0
    eb = err_b / b + U  # relative error of r = b / q
    lr = math.log(b / q)
    dl = 2.0 * eb + RL * abs(lr)
    x = lr / mu + 0.5 * mu
    dx = (dl + 4.0 * U * abs(lr)) / mu + 4.0 * U * (mu + abs(x))
    return x, dx, 1


@njit(cache=True)
def survival_bounds(k0, n, h, q, mu, remove, lo, hi):
    """lo[i] <= P(L > g) <= hi[i] at g = (k0 + i) h, for the REMOVE loss (X ~ (1-q) N(0,1) + q N(mu,1),
    L = l(X) increasing) or the ADD loss (X ~ N(0,1), L = -l(X) decreasing)."""
    for i in range(n):
        g = (k0 + i) * h
        if remove:
            x, dx, ok = _x_of(g, q, mu)
            if ok == -1:
                lo[i] = 1.0
                hi[i] = 1.0
                continue
            if ok == 0:
                lo[i] = 0.0
                hi[i] = 1.0
                continue
            d = dx + 2.0 * U * (abs(x) + mu)
            _, l0, h0 = _pb(x, d)
            _, l1, h1 = _pb(x - mu, d)
            lo[i] = max(((1.0 - q) * l0 + q * l1) * (1.0 - 6.0 * U), 0.0)
            hi[i] = min(((1.0 - q) * h0 + q * h1) * (1.0 + 6.0 * U), 1.0)
        else:
            # L > g  <=>  l(X) < -g  <=>  X < x(-g);  P = Phibar(-x(-g))
            x, dx, ok = _x_of(-g, q, mu)
            if ok == -1:
                lo[i] = 0.0
                hi[i] = 0.0
                continue
            if ok == 0:
                lo[i] = 0.0
                hi[i] = 1.0
                continue
            _, l0, h0 = _pb(-x, dx)
            lo[i] = l0
            hi[i] = h0


class _Step:
    """One group's per-step upper and lower laws on the grid [k_lo, k_hi]."""

    def __init__(self, q: float, sigma: float, n: int, remove: bool, h: float, tail: float,
                 floor_loss: float = -math.inf):
        self.q, self.n, self.remove, self.h = q, n, remove, h
        self.mu = mu = 1.0 / sigma
        # top of the grid: P(L > g_top) * n <= tail (REMOVE; ADD's loss is <= -log(1-q))
        if remove:
            x = _x_tail(q, mu, tail / n)
            l_top = math.log1p(q * math.expm1(mu * x - 0.5 * mu * mu)) + 2 * h
            k_lo = math.floor(math.log1p(-q) / h) - 1 if q < 1.0 else None
            if k_lo is None:
                raise ValueError("q = 1")
            k_hi = math.ceil(l_top / h)
        else:
            k_hi = math.ceil(-math.log1p(-q) / h) + 1
            x = _x_tail(0.0, mu, tail / n)  # P(X > x) small: L below -l(x) is dropped / moved up
            l_bot = -math.log1p(q * math.expm1(mu * x - 0.5 * mu * mu)) - 2 * h
            # a step loss <= floor_loss = -(every ADD step's loss bound, summed) leaves every sum <= 0: payoff 0 at
            # every eps >= 0 searched, so the mass below it may be moved up to it (upper) or dropped (lower)
            l_bot = max(l_bot, floor_loss - 2 * h)
            k_lo = math.floor(l_bot / h)
        self.k_lo, self.k_hi = k_lo, k_hi
        m = k_hi - k_lo + 2
        if m > MAX_STEP:
            raise _TooBig(m)
        lo = np.empty(m)
        hi = np.empty(m)
        survival_bounds(k_lo - 1, m, h, q, mu, remove, lo, hi)  # entry j at g = (k_lo - 1 + j) h
        hi = np.minimum.accumulate(hi)  # a non-increasing upper bound on the survival
        lo = np.maximum.accumulate(lo[::-1])[::-1]  # a non-increasing lower bound
        # upper law: P(U >= g_k) = S(g_{k-1}) <= hi[k - k_lo]; all mass >= g_{k_lo} (ADD: the mass
        # below moved up, which only raises the bound)
        su = hi[: m - 1].copy()  # su[i] for k = k_lo + i, i = 0 .. m-2 (the last is k_hi + 1)
        su[0] = 1.0
        self.up = su[:-1] - su[1:]  # k_lo .. k_hi
        self.m_inf = float(su[-1])  # P(L > g_{k_hi}) bound: the infinite state
        # lower law: P(D >= g_k) = P(L >= g_k) >= lo[k - k_lo + 1]; mass >= g_{k_hi} kept at g_{k_hi}
        sd = lo[1:]  # k = k_lo .. k_hi + 1
        dn = sd[:-1] - sd[1:]
        dn[-1] = sd[-2]
        self.dn = dn
        self.top = k_hi * h  # largest loss value carried by a vector entry


def _x_tail(m: float, mu: float, p: float) -> float:
    """x with (1-q) Phibar(x) + q Phibar(x - mu) <= p (q = m, m = 0 for one Gaussian); a generous float
    bisection (the survival at the resulting grid top is enclosed rigorously afterwards)."""
    lo, hi = -5.0, 60.0 + mu
    for _ in range(80):
        x = 0.5 * (lo + hi)
        s = (1.0 - m) * 0.5 * math.erfc(x / math.sqrt(2.0)) + m * 0.5 * math.erfc((x - mu) / math.sqrt(2.0))
        if s > p:
            lo = x
        else:
            hi = x
    return hi


def _eps_fft(n: int) -> float:
    """Relative l2 error bound of one computed FFT of length n (power of two)."""
    lg = max(1, int(math.log2(n)))
    g4 = 4 * U / (1 - 4 * U)
    eta = MU + g4 * (math.sqrt(2.0) + MU)
    e = lg * eta / (1 - lg * eta)
    return 4.0 * e  # radix-4 passes and the real-data transforms: doubled twice (documented assumption)


class _Vec:
    """A computed vector a on grid indices off .. off + len - 1 with ||a - a*||_2 <= err, where a* is the
    exact-arithmetic vector (from the exact per-step laws) it stands for; entry s stands for the
    untilted mass a*_s exp(ls - theta s h); steps: how many steps it composes."""

    __slots__ = ("a", "off", "err", "ls", "steps")

    def __init__(self, a: np.ndarray, off: int, err: float, ls: float, steps: int):
        self.a, self.off, self.err, self.ls, self.steps = a, off, err, ls, steps


class _TooBig(Exception):
    pass


class _OutOfTime(_TooBig):
    """The bracket's CPU budget (TIME_BUDGET) ran out before a composition step: it declines."""


#: CPU seconds (ewacct.methods.budget.clock: Numba's kernel loading left out) one bracket may spend; it is
#: checked before every FFT composition (so a call overruns it by at most one FFT, ~0.3 s at MAX_FFT) and in
#: the eps searches.  Without it a bracket took up to 10 s (sigma 0.3, q 1e-3, T 50, delta 1e-13; reviewer
#: H-R8), or 4 s before declining at MAX_FFT.  2 s: at (sigma 10, q 1e-3, T 10, delta 1e-12) the bracket needs
#: ~2 s to narrow the contour's 4.7e-4 to 7.8e-5 (relative); a caller's larger time_budget raises it
TIME_BUDGET = 2.0
_deadline = [math.inf]


def _check_time() -> None:
    if budget.clock() > _deadline[0]:
        raise _OutOfTime("time budget")


def _conv(x: _Vec, y: _Vec) -> _Vec:
    """The linear convolution by FFT, with its l2 error bound (module docstring)."""
    n_out = len(x.a) + len(y.a) - 1
    N = 1 << max(1, (n_out - 1).bit_length())
    if N > MAX_FFT:
        raise _TooBig(N)
    _check_time()
    if x is y:
        fx = np.fft.rfft(x.a, N)
        c = np.fft.irfft(fx * fx, N)[:n_out]
    else:
        c = np.fft.irfft(np.fft.rfft(x.a, N) * np.fft.rfft(y.a, N), N)[:n_out]
    n1x = float(np.abs(x.a).sum()) * (1 + len(x.a) * U)
    n1y = float(np.abs(y.a).sum()) * (1 + len(y.a) * U)
    ef = _eps_fft(N)
    fft_err = (4 * ef + 4 * U + 2 * ef * ef * math.sqrt(N)) * n1x * n1y * 1.01
    # ||x*y - x'*y'||_2 <= ||x - x'||_2 ||y||_1 + ||x'||_1 ||y - y'||_2 (Young), ||x'||_1 <= ||x||_1 + sqrt(len) err
    m1x = n1x + math.sqrt(len(x.a)) * x.err
    err = fft_err + x.err * n1y + m1x * y.err
    return _Vec(np.ascontiguousarray(c), x.off + y.off, err, x.ls + y.ls, x.steps + y.steps)


def _tilted_step(st, upper: bool, theta: float, h: float, total_top: float):
    """One group's step vector (upper or lower law) tilted by e^{theta g} and normalised: (its _Vec, the lattice
    indices k as floats, the mass moved to the infinite state (times the group's n), the relative error budget
    (times n)).  Shared by _Law and mixed_fft._MixLaw."""
    extra = 0.0
    p = st.up if upper else st.dn
    k = np.arange(st.k_lo, st.k_lo + len(p), dtype=np.float64)
    with np.errstate(divide="ignore"):
        lg = np.log(np.maximum(p, 0.0)) + theta * h * k
    fin = np.isfinite(lg)
    c = float(np.max(lg[fin]))
    # entries below e^-650 of the largest would be subnormal after the division (their relative
    # error unbounded): the lower law drops them (a lower bound stays one); the upper law drops
    # those that cannot reach eps >= 0 (g + every other step's top <= 0) and moves the others'
    # mass to the infinite state (payoff <= 1: the union bound of (B4) covers them)
    small = fin & (lg - c < -650.0)
    if small.any():
        fin = fin & ~small
        if upper:
            g_small = k[small] * h
            reach = g_small + (total_top - st.top) > 0.0
            if reach.any():
                st_m = float(np.sum(p[small][reach])) * (1 + len(p) * U)
                extra += st.n * st_m
    v = np.where(fin, np.exp(np.where(fin, lg - c, 0.0)), 0.0)
    z = float(v.sum())
    v = v / z
    # per entry (relative): the survival difference (U); log (RL |log p| + U, absolute, becomes
    # relative after exp); theta h k (U |theta h k|), the sums (U |lg|, U |lg - c|); exp (RL); the
    # division (U); |log p| <= |lg - c| + |c| + |theta h k|.  Every U term is below RL, so:
    arg = float(np.max(np.abs(lg[fin] - c)))
    thk = abs(theta * h) * max(abs(k[0]), abs(k[-1]))
    rel = st.n * 2.0 * RL * (4.0 + 2.0 * arg + 2.0 * abs(c) + 3.0 * thk + abs(math.log(z)))
    if upper:
        extra += st.n * st.m_inf
    return _Vec(v, st.k_lo, 0.0, c + math.log(z), 1), k, extra, rel


class _Law:
    """One direction's bound (upper or lower) on delta(eps): the composed tilted vector and the extras."""

    def __init__(self, steps: list[_Step], upper: bool, theta: float, target_delta: float, e_min: float):
        self.upper, self.theta = upper, theta
        self.h = h = steps[0].h
        self.budget = TRUNC_REL * target_delta
        self.spent = 0.0
        self.extra = 0.0  # upper: infinite states and charged truncations
        self.rel = 0.0  # summed per-entry relative error of the step vectors (multiplicative)
        self.e_min = e_min
        total_top = sum(st.n * st.top for st in steps)
        done = 0.0
        res: _Vec | None = None
        # convolutions still to do (binary powering per group, then one per further group): after each, where even half
        # the last one's CPU per remaining convolution would pass the deadline, decline now (_OutOfTime) rather than
        # after the budget's worth of them (session 13: sigma 0.3, q 1e-3, T 50, delta 1e-13 composed four 2^22-point
        # convolutions, 2.6 s, before running out; the vectors there do not shrink)
        self._left = sum(st.n.bit_length() - 1 + bin(st.n).count("1") - 1 for st in steps) + len(steps) - 1
        for st in steps:
            base, k, extra, rel = _tilted_step(st, upper, theta, h, total_top)
            self.extra += extra
            self.rel += rel
            # what the steps outside a partial vector can add at most: the other groups' tops (composed
            # before or after) and this group's remaining steps
            rem_other = total_top - st.n * st.top
            result: _Vec | None = None
            b = base
            left = st.n
            while True:
                if left & 1:
                    if result is None:
                        result = b
                    else:
                        r = self._conv(result, b)
                        result = self._trunc(r, rem_other + (st.n - r.steps) * st.top)
                left >>= 1
                if not left:
                    break
                b2 = self._conv(b, b)
                # b2 (and what is built from it) occurs floor(n / b2.steps) times in the group's composition: each
                # occurrence is one term of the union bound over the dropped configurations
                b = self._trunc(b2, rem_other + (st.n - b2.steps) * st.top, st.n // b2.steps)
            assert result is not None
            done += st.n * st.top
            res = result if res is None else self._trunc(self._conv(res, result), total_top - done)
        assert res is not None
        self.vec = res
        self.rel_total = self.rel
        if self.rel >= 0.5:
            raise FloatingPointError("relative error budget too large")

    def _conv(self, x: _Vec, y: _Vec) -> _Vec:
        """_conv, timed; declines (_OutOfTime) where the convolutions left would pass the deadline at half this one's
        CPU each (a prediction only decides to stop early: a bracket is never changed by it)."""
        t = budget.clock()
        r = _conv(x, y)
        self._left -= 1
        now = budget.clock()
        if self._left > 0 and now + PREDICT_SHARE * self._left * (now - t) > _deadline[0]:
            raise _OutOfTime("time budget (predicted)")
        return r

    def _trunc(self, v: _Vec, rem_top: float, mult: int = 1) -> _Vec:
        """Drop what cannot matter (free) or what is charged within the budget; rem_top bounds the loss the
        steps not yet composed can add (every entry of their vectors is <= their top)."""
        a, h, th = v.a, self.h, self.theta
        n = len(a)
        s = (v.off + np.arange(n)) * h
        # free: s + rem_top <= e_min => payoff 0 at every eps searched (>= e_min)
        cut_lo = int(np.searchsorted(s + rem_top, self.e_min, side="right"))
        cut_lo = max(0, min(cut_lo, n - 1))
        if not self.upper:  # lower law: any drop keeps a lower bound; a negligible tilted bottom
            cs = np.cumsum(np.abs(a))
            j = int(np.searchsorted(cs, 1e-30 * cs[-1], side="right"))
            cut_lo = max(cut_lo, min(j, n - 1))
        # charged top: untilted mass of the top m entries <= (sum|a| + sqrt(m) err) e^{ls - theta s_min}
        # (theta >= 0); each configuration through them has payoff <= 1 and the rest mass <= 1
        rc = np.cumsum(np.abs(a[cut_lo:])[::-1])
        mcount = np.arange(1, len(rc) + 1)
        s_min = s[n - mcount]
        with np.errstate(over="ignore"):
            bound = (mult * (rc * (1 + mcount * U) + np.sqrt(mcount) * v.err) * np.exp(v.ls - th * s_min)
                     * (1 + 1e-12))
        left = (self.budget - self.spent) / 64
        ok = np.nonzero(bound <= left)[0]
        m_drop = min(int(ok[-1]) + 1 if len(ok) else 0, len(rc) - 1)
        if m_drop > 0:
            x = float(bound[m_drop - 1])
            self.spent += x
            if self.upper:
                self.extra += x
        end = n - m_drop
        if cut_lo == 0 and end == n:
            return v
        return _Vec(np.ascontiguousarray(a[cut_lo:end]), v.off + cut_lo, v.err, v.ls, v.steps)

    def fast(self, eps: float) -> float:
        """A float approximation of :meth:`bound` (no error terms) from suffix sums, for the bisection only:
        every end returned is verified with :meth:`bound`."""
        if not hasattr(self, "_sfx"):
            v, th = self.vec, self.theta
            s_all = (v.off + np.arange(len(v.a))) * self.h
            lw = v.ls - th * s_all
            l0 = float(lw.max())
            l1 = float((lw - s_all).max())
            with np.errstate(under="ignore"):
                sa = np.cumsum((v.a * np.exp(lw - l0))[::-1])[::-1]
                sb = np.cumsum((v.a * np.exp(lw - s_all - l1))[::-1])[::-1]
            self._sfx = (s_all, l0, l1, sa, sb)
        s_all, l0, l1, sa, sb = self._sfx
        i0 = int(np.searchsorted(s_all, eps, side="right"))
        if i0 >= len(s_all):
            return self.extra if self.upper else 0.0
        with np.errstate(over="ignore", under="ignore"):
            val = math.exp(min(l0, 700.0)) * float(sa[i0]) - math.exp(min(eps + l1, 700.0)) * float(sb[i0])
        return max(val, 0.0) + (self.extra if self.upper else 0.0)

    def bound(self, eps: float) -> float:
        """Upper (or lower) bound on this direction's delta(eps), for eps >= e_min."""
        if eps < self.e_min:
            raise ValueError("eps below the searched range")
        v, h, th = self.vec, self.h, self.theta
        s_all = (v.off + np.arange(len(v.a))) * h
        # the weights: exp (RL + U |arg|), expm1 (RL + U (1 + |eps - s|)), the products; doubled
        smax = max(abs(s_all[0]), abs(s_all[-1]))
        wrel = 8 * RL + 8 * U * (abs(v.ls) + (th + 1.0) * smax + abs(eps) + 1.0)
        i0 = int(np.searchsorted(s_all, eps, side="right"))
        a = v.a[i0:]
        ss = s_all[i0:]
        if len(a) == 0:
            val = err = 0.0
        else:
            lw = v.ls - th * ss
            lmax = float(lw.max())
            if lmax > 700.0:  # weights beyond the double range: the trivial bounds (delta in [0, 1])
                return 1.0 if self.upper else 0.0
            if lmax < -700.0:  # every term below the double range: sum <= (sum |a| + sqrt(n) err) e^{lmax}
                if not self.upper:
                    return 0.0
                ntot = float(np.abs(a).sum()) * (1 + len(a) * U) + math.sqrt(len(a)) * v.err
                lu = lmax + math.log(ntot) + 1e-6 if ntot > 0 else -math.inf
                tiny = math.exp(lu) * (1 + 8 * RL) if lu > -700.0 else 1e-300
                return min((tiny + self.extra) * math.exp(1.01 * self.rel) * (1 + 4 * U), 1.0)
            w = np.exp(lw - lmax) * (-np.expm1(eps - ss))
            terms = a * w
            scale = math.exp(lmax)
            val = float(terms.sum()) * scale
            tot = float(np.abs(terms).sum()) * scale
            wn = float(math.sqrt(float(np.dot(w, w)))) * scale * (1 + len(w) * U)
            # weights that underflowed (lw - lmax < -708) are below e^{lmax - 708}: their terms together are
            # at most (sum |a| + sqrt(n) err) e^{lmax - 708}
            under = (float(np.abs(a).sum()) + math.sqrt(len(a)) * v.err) * math.exp(lmax - 708.0)
            err = v.err * wn * (1 + wrel) + 2 * len(a) * U * tot + under  # ||w*|| <= (1 + wrel) ||w||
        # the step vectors' relative errors: a positive multilinear functional of N steps moves by at most
        # (1 - rho)^-N <= exp(1.01 N rho) up and (1 + rho)^-N >= exp(-N rho) down (rel = N rho <= 0.5)
        if self.upper:
            r = ((val + err) * (1 + wrel) + self.extra) * math.exp(1.01 * self.rel)
            return min(r * (1 + 4 * U), 1.0) if r > 0 else 0.0
        r = (val - err) * (1 - wrel) * math.exp(-1.01 * self.rel)
        return max(r * (1 - 4 * U), 0.0)


# ----------------------------------------------------------------------------------------------------
# the certificate


def _psg_groups(groups: Sequence[tuple[Any, int]]) -> list[tuple[float, float, int]] | None:
    """[(q, sigma, n)] where every group is a Poisson-subsampled Gaussian with q < 1, else None."""
    from ..mechanisms.subsampled_gaussian import PoissonSubsampledGaussian

    out = []
    for m, n in groups:
        if not isinstance(m, PoissonSubsampledGaussian) or not (0.0 < m.sampling_probability < 1.0) or n < 1:
            return None
        out.append((float(m.sampling_probability), float(m.noise_multiplier), int(n)))
    return out


def _grid_h(n_total: int, width: float) -> float:
    """The largest power of two h with n_total h <= width (the two laws differ by n_total h in eps)."""
    return 2.0 ** math.floor(math.log2(width / n_total))


def _theta(steps: list[_Step], e_target: float) -> float:
    """theta >= 0 with K'(theta) ~ e_target for the upper laws (a float estimate: any theta >= 0 is valid,
    this one only keeps the mass near e_target above the FFT's absolute rounding)."""
    sub = []
    for st in steps:
        p = st.up
        g = (st.k_lo + np.arange(len(p))) * st.h
        blk = max(1, len(p) // 4096)
        m = len(p) // blk * blk
        pp = np.concatenate([p[:m].reshape(-1, blk).sum(axis=1), [p[m:].sum()]])
        gg = np.concatenate([g[blk - 1:m:blk], [g[-1]]])
        keep = pp > 0
        sub.append((st.n, np.log(pp[keep]), gg[keep]))

    def kprime(th: float) -> float:
        tot = 0.0
        for n, lp, g in sub:
            x = lp + th * g
            w = np.exp(x - x.max())
            tot += n * float(np.dot(w, g) / w.sum())
        return tot

    if kprime(0.0) >= e_target:
        return 0.0
    # cap: theta |g| <= 700 on every grid (the tilt factors stay doubles; rounding stays small)
    cap = 700.0 / max(max(abs(g[0]), abs(g[-1])) for _, _, g in sub)
    if kprime(cap) < e_target:
        return cap
    lo, hi = 0.0, min(1.0, cap)
    while kprime(hi) < e_target:
        lo, hi = hi, min(hi * 4.0, cap)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if kprime(mid) < e_target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-3 * hi:
            break
    return lo


class _Direction:
    def __init__(self, groups, remove: bool, h: float, target_delta: float, e_target: float):
        tail = TRUNC_REL * target_delta / len(groups)
        floor = -math.inf if remove else -sum(-n * math.log1p(-q) for q, _, n in groups) * (1 + 1e-12)
        self.steps = [_Step(q, sig, n, remove, h, tail, floor) for q, sig, n in groups]
        self.target_delta, self.e_target = target_delta, e_target
        self.theta = self.up = self.lo = None

    def compose(self) -> "_Direction":
        self.theta = _theta(self.steps, self.e_target)
        self.up = _Law(self.steps, True, self.theta, self.target_delta, 0.0)
        self.lo = _ShiftedLower.make(self.up, self.steps, self.e_target)
        if self.lo is None:  # B11 would lose too much here: the lower law is composed itself
            self.lo = _Law(self.steps, False, self.theta, self.target_delta, 0.0)
        return self


#: the shifted-upper lower bound (B11): cells whose relative enclosure gap exceeds SHIFT_R / N are the set B (union
#: bound); the factor (1 - r)^N then costs at most SHIFT_R relative
SHIFT_R = 1e-9


class _ShiftedLower:
    """The lower bound from the UPPER law's composition, shifted by N h (docs/certified_fewpart.md, B11).

    The exact lower law's mass at g_k (D: rounded down; survival lo) and the exact upper law's at g_{k+1} (U:
    rounded up; survival hi) are the same cell's mass up to the enclosures: D_k >= (1 - r) U_{k+1} on every cell
    outside a set B.  With V = U - h (a step's rounded-up loss moved down one cell), D' = (1 - r) V outside B
    is a positive measure <= D, so by the monotone payoff and the multilinearity of the composition

        E phi_eps(sum D) >= (1 - r)^N [E phi_{eps + N h}(sum U) - sum_g n_g m_{B,g} E phi_{eps + N h - b_g + m_g}(sum U)]

    (a union bound over the step that lands in B: its loss is <= b_g, the top of B, and every step's is >= m_g,
    the bottom of its grid, so the other N - 1 steps' sum is <= sum U - m_g); the first expectation (U without
    its infinite state) is bounded below by the lower evaluation of the computed upper vector, the second above
    by the upper law's bound."""

    def __init__(self, up: "_Law", shift: float, factor: float, bad: list[tuple[float, float]], view=None):
        import copy

        self.up = up
        if view is None:
            view = copy.copy(up)  # the same composed vector, evaluated as a lower bound
            view.upper = False
            view.extra = 0.0
        self.view = view  # shared by make's candidates (its float suffix sums are built once, not once per candidate)
        self.shift, self.factor, self.bad = shift, factor, bad
        self.e_min = up.e_min

    @classmethod
    def make(cls, up: "_Law", steps: list["_Step"], e_target: float) -> "_ShiftedLower | None":
        """The best of a few thresholds r_max (N r_max = 1e-9 .. 1e-5) at e_target; None where even that one loses
        more than 2e-5 (relative) against the shifted upper vector's own lower evaluation (the caller then
        composes the lower law itself)."""
        n_tot = sum(st.n for st in steps)
        gaps = []
        for st in steps:
            u = st.up[1:]  # U at g_{k+1}, k = k_lo .. k_hi - 1
            d = st.dn[:-1]  # D at g_k (the top cell of D also holds the mass above: larger, not used)
            # exact real differences vs their floats: |fl(a - b) - (a - b)| <= U |a - b|; 8 U of margin
            with np.errstate(divide="ignore", invalid="ignore"):
                gap = np.where(u > 0.0, 1.0 - (d * (1.0 - 2 * U)) / (u * (1.0 + 2 * U)), 0.0)
            gaps.append((st, u, np.maximum(gap, 0.0) + 8 * U))
        shift = sum(st.n * st.h for st in steps)
        e = max(e_target, up.e_min)
        cands = []
        for nr in (1e-9, 1e-8, 1e-7, 1e-6, 1e-5):
            r_max = nr / n_tot
            log_f = 0.0
            bad: list[tuple[float, float]] = []
            for st, u, gap in gaps:
                inb = gap > r_max
                r = float(gap[~inb].max()) if (~inb).any() else 0.0
                # B: those cells and U's bottom cell (no D cell below it); its mass and its top (index k + 1)
                m_b = ((float(u[inb].sum()) * (1 + len(u) * U) if inb.any() else 0.0)
                       + float(st.up[0]) * (1 + 2 * U))
                top = (st.k_lo + 1 + int(np.nonzero(inb)[0][-1])) * st.h if inb.any() else st.k_lo * st.h
                if m_b > 0.0:
                    bad.append((st.n * m_b * (1 + 1e-12), top - st.k_lo * st.h))
                log_f += st.n * math.log1p(-r) * (1 + 1e-12) - 1e-300
            cands.append(cls(up, shift, math.exp(log_f) * (1 - 4 * U), bad, cands[0].view if cands else None))
        ref = cands[0].view.bound(e + shift)  # (the same view for every candidate)
        # the candidate the float approximation ranks best is evaluated rigorously first (session 13: one rigorous
        # evaluation instead of five, each a pass over the composed vector); where it does not pass, all of them as
        # before.  Which candidate is used only moves the lower end within the bound's validity (each is a proof)
        fast_v = [c.fast(e) for c in cands]
        first = cands[max(range(len(cands)), key=lambda i: fast_v[i])]
        if first.bound(e) >= (1 - 2e-5) * ref:
            return first
        best, best_v = None, -1.0
        for cand in cands:
            v = cand.bound(e)
            if v > best_v:
                best, best_v = cand, v
        if not (best_v >= (1 - 2e-5) * ref):
            return None
        return best

    def _penalty(self, e: float, f) -> float:
        tot = 0.0
        for m, span in self.bad:
            a = e - span
            tot += m * (f(a) if a >= self.e_min else 1.0)
        return tot * (1 + 1e-12)

    def bound(self, eps: float) -> float:
        e = eps + self.shift
        v = self.view.bound(e) - self._penalty(e, self.up.bound)
        return max(v * self.factor * (1 - 4 * U), 0.0)

    def fast(self, eps: float) -> float:
        e = eps + self.shift
        return max((self.view.fast(e) - self._penalty(e, self.up.fast)) * self.factor, 0.0)


def _verified(law: "_Law", delta: float, lo: float, hi: float, want_le: bool, step0: float = 0.0) -> float:
    """The end of the eps bracket from one law: bisection on the fast approximation between lo and hi
    (f(hi) <= delta < f(lo) verified by the caller with the rigorous bound), then the candidate is
    verified with the rigorous bound and moved outward until it holds (or the slow bisection answers), by steps
    doubling from max(2e-10 e, 1e-15, step0) (step0: 1e-3 of the bracket's inherent width N h from _eps_ends since
    session 13 -- the fast value omits the error terms, and steps from 2e-10 e took up to 11 rigorous evaluations
    at eps ~ 3.5e-6, each a pass over the composed vector; the end moves outward by at most twice what it needs
    or 2 step0)."""
    f = law.bound
    e = _search(law.fast, delta, lo, hi, want_le, 1e-10, 1e-15)
    step = max(2e-10 * e, 1e-15, step0)
    for _ in range(40):
        if want_le:
            if e >= hi:
                return hi
            if f(e) <= delta:
                return e
            e = min(e + step, hi)
        else:
            if e <= lo:
                return lo
            if f(e) > delta:
                return e
            e = max(e - step, lo)
        step *= 2.0
    return _search(f, delta, lo, hi, want_le, 1e-9, 1e-13)


#: a composition declines once the convolutions it has left, at this share of the last one's CPU each, would pass its
#: deadline (_Law._conv)
PREDICT_SHARE = 0.5
#: the first outward step of _verified in the eps searches of _eps_ends, as a fraction of N h (the bracket's width)
VERIFY_STEP = 1e-3


def _search(f, delta: float, lo: float, hi: float, want_le: bool, rtol: float, atol: float) -> float:
    """Bisection on the monotone (non-increasing) f: the least e with f(e) <= delta (want_le), or the
    greatest e with f(e) > delta; lo/hi bracket the answer (f(hi) <= delta < f(lo))."""
    while hi - lo > max(rtol * hi, atol):
        mid = 0.5 * (lo + hi)
        if f(mid) <= delta:
            hi = mid
        else:
            lo = mid
    return hi if want_le else lo


def epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float, estimate: float,
                    width: float | None = None, time_budget: float | None = None
                    ) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on eps(delta) (the larger of REMOVE and ADD), or None where the grid this
    width needs exceeds MAX_FFT (or the composition is not subsampled Gaussian).  Where REMOVE finished
    and ADD did not (time, grid), the upper end is the larger of REMOVE's and a proven Chernoff upper end
    on eps_ADD, possibly inf (the lower end, REMOVE's, still holds); ADD is not composed where that
    Chernoff end is already <= REMOVE's upper end.

    estimate: an estimate of eps(delta) (sets the grid and the tilt; any value gives a valid bracket).
    width: the eps width aimed at (default 0.8 x (1e-4 relative above eps 1e-3, 1e-7 absolute below)).
    time_budget: CPU seconds it may spend (default TIME_BUDGET); past it, it declines."""
    if width is not None and not (math.isfinite(width) and width > 0.0):
        raise ValueError(f"width must be a positive finite number (the eps width aimed at), got {width!r}")
    g = _psg_groups(groups)
    if g is None or not (0.0 < delta < 1.0) or not math.isfinite(estimate) or estimate < 0:
        return None
    t0 = budget.clock()
    _deadline[0] = t0 + (TIME_BUDGET if time_budget is None else time_budget)
    try:
        return _epsilon_bracket(g, delta, estimate, width, t0, list(groups))
    finally:
        _deadline[0] = math.inf


def _add_chernoff(groups, delta: float) -> float:
    """A proven upper bound on ADD's eps(delta) (bounds/proven.py: the Chernoff bound from rigorous real-MGF
    enclosures, capped by ADD's loss bound); inf where it fails."""
    from .proven import _Dir, chernoff_eps_upper

    try:
        cd = _Dir(groups, "add")
        return min(chernoff_eps_upper(cd, math.log(delta))[0], cd.loss_sup)
    except (ArithmeticError, ValueError):
        return math.inf


def _eps_ends(d: "_Direction", delta: float, estimate: float, h: float,
              n_total: int) -> tuple[float, float] | None:
    """[e_lo, e_hi] on eps(delta) from a composed direction's lower and upper laws (each end verified by
    _verified); None where the upper end runs past eps 1e4."""
    up, lo = d.up.bound, d.lo.bound
    if up(0.0) <= delta:
        e_hi = 0.0
    else:
        a, b = 0.0, max(estimate, h) * 1.01 + 4 * n_total * h
        while up(b) > delta:
            _check_time()
            a, b = b, 2 * b + h
            if b > 1e4:
                return None
        e_hi = _verified(d.up, delta, a, b, True, VERIFY_STEP * n_total * h)
    if lo(0.0) <= delta:
        # the lower law is a bound at every eps, but tilted for the target it can be 0 at eps = 0 (the
        # FFT error term times the weight e^{theta (eps - s)} swamps it) while tight near the target
        # (reviewer H-R8: [0, 29.23476] where 29.2328 holds): look below e_hi for a point where it
        # proves delta(e) > delta; any such e is a lower end (delta is non-increasing in eps), and
        # lo(e_hi) <= up(e_hi) <= delta brackets the bisection
        e_lo = 0.0
        for k in range(14):
            _check_time()
            a = e_hi - (1e-4 * 2.0 ** k) * max(e_hi, 1e-3) - n_total * h
            if a <= 0.0:
                break
            # the float approximation first (no error terms, ~a pass over a suffix-sum table): a point it puts at or
            # below delta is not evaluated rigorously (the lower bound is below the value it approximates); any
            # point kept is still verified, and the end comes from the bisection below either way
            if d.lo.fast(a) <= delta:
                continue
            if lo(a) > delta:
                e_lo = _verified(d.lo, delta, a, e_hi, False, VERIFY_STEP * n_total * h)
                break
    else:
        a = 0.0
        b = e_hi if e_hi > 0 else h
        while lo(b) > delta:
            _check_time()
            a, b = b, 2 * b + h
        e_lo = _verified(d.lo, delta, a, b, False, VERIFY_STEP * n_total * h)
    return e_lo, e_hi


def _epsilon_bracket(g, delta: float, estimate: float, width: float | None, t0: float, groups=None):
    n_total = sum(n for _, _, n in g)
    if width is None:
        width = 0.8 * (1e-4 * estimate if estimate >= 1e-3 else 1e-7)
    h = _grid_h(n_total, width)
    add_sup = sum(-n * math.log1p(-q) for q, _, n in g) * (1 + 1e-12)
    out: dict[str, Any] = {"h": h}
    brackets = []
    add_ub = math.inf  # a proven upper end on eps_ADD, once asked for
    try:
        for remove in (True, False):
            if not remove:
                if brackets[0][0] >= add_sup:
                    out["add"] = "eps_ADD <= its loss bound < REMOVE's lower end"
                    continue
                # eps = max(eps_REMOVE, eps_ADD): where a proven upper end on eps_ADD is <= REMOVE's upper end,
                # [REMOVE's lower end, REMOVE's upper end] bounds the maximum; ADD is not composed
                if groups is not None:
                    add_ub = _add_chernoff(groups, delta)
                    if add_ub <= brackets[0][1]:
                        out["add"] = f"eps_ADD <= {add_ub!r} (proven Chernoff bound) <= REMOVE's upper end"
                        continue
            d = _Direction(g, remove, h, delta, estimate)
            d.compose()
            ends = _eps_ends(d, delta, estimate, h, n_total)
            if ends is None:
                return None
            e_lo, e_hi = ends
            brackets.append((e_lo, e_hi))
            out["remove" if remove else "add"] = {"bracket": (e_lo, e_hi), "theta": d.theta,
                                                  "len": len(d.up.vec.a), "fft_err": d.up.vec.err,
                                                  "extra_upper": d.up.extra}
    except (_TooBig, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        out["declined"] = (f"ran out of its {TIME_BUDGET:g} s time budget" if isinstance(exc, _OutOfTime)
                           else f"grid needs an FFT of {exc.args[0]} points (> {MAX_FFT})"
                           if isinstance(exc, _TooBig) else f"numerical trouble: {exc!r}")
        if not brackets:
            return None
        # REMOVE finished, ADD did not: eps >= eps_REMOVE >= REMOVE's lower end, and eps <= max(REMOVE's
        # upper end, any proven upper end on eps_ADD) (inf where none: the caller keeps its own upper end)
        out["add"] = f"not finished ({out['declined']})"
        brackets.append((0.0, add_ub))
    lo_e = max(b[0] for b in brackets)
    hi_e = max(b[1] for b in brackets)
    out["seconds"] = budget.clock() - t0
    return lo_e, hi_e, out


def delta_bracket(groups: Sequence[tuple[Any, int]], eps: float, estimate: float,
                  rel_width: float = 1e-4, time_budget: float | None = None
                  ) -> tuple[float, float, dict[str, Any]] | None:
    """Proven [lower, upper] on delta(eps) (the larger of REMOVE and ADD), or None (as epsilon_bracket).

    estimate: an estimate of delta(eps) (sets the truncation budget; any value > 0 gives a valid bracket).
    The grid: first from the eps-width rule at eps; where the delta bracket is then wider than
    rel_width, once more with h from the measured slope of log delta (N h x slope <= 0.8 rel_width),
    if that grid fits."""
    if not (math.isfinite(eps) and eps >= 0.0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if not (math.isfinite(rel_width) and rel_width > 0.0):
        raise ValueError(f"rel_width must be a positive finite number, got {rel_width!r}")
    g = _psg_groups(groups)
    if g is None or not (estimate > 0.0):
        return None
    _deadline[0] = budget.clock() + (TIME_BUDGET if time_budget is None else time_budget)
    try:
        return _delta_bracket(g, eps, estimate, rel_width)
    finally:
        _deadline[0] = math.inf


def _delta_bracket(g, eps: float, estimate: float, rel_width: float):
    n_total = sum(n for _, _, n in g)
    width = 0.8 * (1e-4 * eps if eps >= 1e-3 else 1e-7)
    h = _grid_h(n_total, width)
    best: tuple[float, float, dict[str, Any]] | None = None
    for _ in range(2):
        info: dict[str, Any] = {"h": h}
        lo_d = hi_d = 0.0
        try:
            # ADD's loss is <= sum n log(1/(1-q)): at eps beyond it delta_ADD = 0
            add = eps < sum(-n * math.log1p(-q) for q, _, n in g) * (1 + 1e-12)
            dirs = [_Direction(g, remove, h, min(estimate, 0.5), eps) for remove in ((True, False) if add else (True,))]
            for d in dirs:
                d.compose()
                lo_d, hi_d = max(lo_d, d.lo.bound(eps)), max(hi_d, d.up.bound(eps))
        except (_TooBig, FloatingPointError, OverflowError, ZeroDivisionError):
            break
        hi_d = min(hi_d, 1.0)
        best = (lo_d, hi_d, info) if best is None else (max(lo_d, best[0]), min(hi_d, best[1]), info)
        lo_d, hi_d = best[0], best[1]
        if hi_d - lo_d <= rel_width * hi_d or lo_d <= 0.0:
            break
        # the two laws are (up to truncations) one eps-shift N h apart: slope of log delta ~ log(hi/lo)/(N h)
        slope = math.log(hi_d / lo_d) / (n_total * h)
        h2 = 2.0 ** math.floor(math.log2(0.8 * rel_width / (n_total * slope)))
        if h2 >= h:
            break
        h = h2
    return best
