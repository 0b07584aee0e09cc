"""Exact delta(eps) / eps(delta) of a composition of one Laplace mechanism, atoms handled exactly.

Laplace noise of scale ``b`` on a query of sensitivity ``Delta``: with ``theta = Delta / b`` the
privacy loss under the upper measure P1 = Lap(Delta, b) (REMOVE direction) is

* the atom ``+theta`` with probability 1/2 (x > Delta),
* the atom ``-theta`` with probability ``e^-theta / 2`` (x < 0),
* on (-theta, theta) the density ``e^{(l - theta)/2} / 4`` (0 < x < Delta).

The reflection ``x -> Delta - x`` maps P1 to P0 and the loss to its negative, so the ADD direction
(loss ``-l`` under P0) has the same law: both directions have the same delta(eps).

With ``w = z + 1/2`` the one-step MGF is ``M(z) = e^{-theta/2} (cosh(w theta) + sinh(w theta) / (2 w))``:
the first term is the atoms, the second the continuous part.  A T-fold composition splits by the
number ``k`` of continuous steps,

    M(z)^T = sum_k C(T, k) e^{-T theta / 2} cosh(w theta)^{T-k} (sinh(w theta) / (2 w))^k,

and ``delta(eps) = (1 / 2 pi i) int_{c - i inf}^{c + i inf} M(z)^T e^{-z eps} / (z (z + 1)) dz`` (c > 0).
Given k the continuous part ``S_k`` has density ``e^{s/2} B_k(s) / Z_k`` with ``B_k`` the density of
a sum of k uniforms on (-theta, theta) (a B-spline), ``Z_k = (sinh(theta/2) / (theta/2))^k``; the
atoms are a binomial lattice of spacing ``2 theta``.  Two evaluations:

* **split** (few steps, or few continuous steps: the atoms matter): the terms ``k < K_EXACT`` exactly,
  the lattice sum times ``F_k(x) = E[(1 - e^{x - S_k})_+]``, which is ``1 - e^x`` below ``-k theta``
  and a Gauss-Legendre integral of the piecewise polynomial ``B_k`` (exact rational coefficients)
  times exponentials inside; the terms ``k >= K_EXACT`` together by the trapezoidal rule on the
  contour (their integrand decays like ``|u|^-(K_EXACT + 2)``).
* **full** (many steps): the trapezoidal rule on ``M(z)^T`` itself.

Error bounds of the trapezoidal rule (given the integrand): the aliases of period ``P = 2 pi / h``,
``sum_m e^{c m P} delta(eps + m P)`` (m != 0), are bounded by the total mass times ``e^{-c P}`` on the
left and by Chernoff at ``t > c`` on the right (and vanish where ``eps + P`` exceeds the largest loss
``T theta``); the truncation of the u-range by ``|cosh(w theta)| <= cosh(Re w theta)``,
``|sinh(w theta) / (2 w)| <= min(sinh(Re w theta) / (2 Re w), cosh(Re w theta) / (2 |w|))``.  The
terms left out of the split (weights below the tolerance) are bounded by Chernoff.  The floating-point
error of the node sum is estimated from the sum of absolute values.  Every answer carries the sum of
these (relative) in ``rel_error``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from . import budget
from .rr_window import _log_tail


def gammaln(x):
    """scipy.special.gammaln, imported on first use (scipy costs a noticeable share of CLI start-up)."""
    from scipy.special import gammaln as _gammaln

    return _gammaln(x)

#: terms with fewer continuous steps than this are summed exactly (lattice times F_k)
K_EXACT = 8
#: relative accuracy aimed at on delta
RTOL = 1e-10
#: largest relative error an answer may carry and still be called exact
ACCEPT_RTOL = 1e-7
#: node budget of one trapezoidal sum
MAX_NODES = 400_000
#: the split sums binomial counts within this many standard deviations of their mean (the rest by Chernoff)
WINDOW_SD = 40.0
#: most continuous-step counts the split's contour carries (its real-axis searches cost ~0.1 us per count)
MAX_SPLIT_COUNTS = 400_000
#: node budget of one trapezoidal sum with other mechanisms (their kernels cost ~8 us a node)
MAX_NODES_OTHERS = 60_000
#: the split evaluation goes first while the mean number of continuous steps is at most this
SPLIT_MAX_MEAN = 50.0
_GL_N = 40
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_GL_N)
_LOG2 = math.log(2.0)
_EPS = 2.220446049250313e-16


#: log of half the smallest positive double (2^-1075): a delta whose rigorous bound is below it rounds to 0.0
LOG_BELOW_DOUBLE = -1075.0 * math.log(2.0)


class LaplaceExactError(ArithmeticError):
    """The exact Laplace evaluation could not meet its tolerance (never a silent number)."""


# ---------------------------------------------------------------------- one step
def _lc_real(theta: float, cp: float) -> tuple[float, float]:
    """log of the atom part e^{-theta/2} cosh(cp theta) and of the continuous part
    e^{-theta/2} sinh(cp theta) / (2 cp) at real w = cp (both even in cp)."""
    v = abs(cp) * theta
    la = v + math.log1p(math.exp(-2.0 * v)) - _LOG2 - 0.5 * theta
    ls = float(_log_sinhc(np.array([complex(v, 0.0)]))[0].real) + math.log(0.5 * theta) - 0.5 * theta
    return la, ls


def _log_sinhc(v: np.ndarray) -> np.ndarray:
    """log(sinh(v) / v) for complex v with Re v >= 0 (a series near 0), any branch."""
    v = np.asarray(v, dtype=complex)
    out = np.empty(v.shape, dtype=complex)
    small = np.abs(v) < 0.05
    if small.any():
        x = v[small] ** 2
        # log(sinh v / v) = x/6 - x^2/180 + x^3/2835 - x^4/37800 + x^5/467775 - 691 x^6/3831077250 + ...
        out[small] = x * (1 / 6 + x * (-1 / 180 + x * (1 / 2835 + x * (-1 / 37800 + x * (1 / 467775
                        + x * (-691 / 3831077250 + x * (2 / 1915538625)))))))
    big = ~small
    if big.any():
        vb = v[big]
        out[big] = vb + np.log(-np.expm1(-2.0 * vb)) - _LOG2 - np.log(vb)
    return out


def _lc_complex(theta: float, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same at complex w on one vertical line (cosh and sinh(v)/v are even: Re w >= 0 is used)."""
    w = np.asarray(w, dtype=complex)
    if w.size and w.real[0] < 0.0:
        w = -w
    v = w * theta
    with np.errstate(divide="ignore"):
        la = v + np.log1p(np.exp(-2.0 * v)) - _LOG2 - 0.5 * theta
    ls = _log_sinhc(v) + math.log(0.5 * theta) - 0.5 * theta
    return la, ls


def _logaddexp_real(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _chernoff_factor(t: float) -> float:
    """log sup_{y > 0} (1 - e^{-y}) e^{-t y} = log[t^t / (t + 1)^{t + 1}]: delta_part(eps) <=
    E[e^{t (L - eps)}; part] times this."""
    return t * math.log(t) - (t + 1.0) * math.log1p(t) if t > 0.0 else 0.0


# ---------------------------------------------------------------------- B-splines, exactly
@lru_cache(maxsize=64)
def _bspline_pieces(k: int) -> np.ndarray:
    """Coefficients (piece i, power m) of the cardinal B-spline M_k(i + t), t in [0, 1], knots 0..k
    (the density of a sum of k uniforms on (0, 1)), from exact rationals."""
    out = np.zeros((k, k))
    fact = math.factorial(k - 1)
    for i in range(k):
        coef = [Fraction(0)] * k
        for l in range(i + 1):
            a = i - l  # (a + t)^{k-1}
            sgn = -1 if l % 2 else 1
            ck = math.comb(k, l)
            for m in range(k):
                coef[m] += sgn * ck * math.comb(k - 1, m) * Fraction(a) ** (k - 1 - m)
        out[i] = [float(c / fact) for c in coef]
    return out


def _log_zk(theta: float, k: int) -> float:
    """log E[e^{S/2}] for S a sum of k uniforms on (-theta, theta)."""
    h = 0.5 * theta
    return k * (h + math.log(-math.expm1(-2.0 * h)) - _LOG2 - math.log(h))


def f_cont(theta: float, k: int, x: np.ndarray) -> np.ndarray:
    """F_k(x) = E[(1 - e^{x - S_k})_+] for S_k of density e^{s/2} B_k(s) / Z_k on (-k theta, k theta)."""
    x = np.asarray(x, dtype=float)
    out = np.zeros(x.shape)
    if k == 0:
        neg = x < 0.0
        out[neg] = -np.expm1(x[neg])
        return out
    lo = x <= -k * theta
    out[lo] = -np.expm1(x[lo])
    mid = np.nonzero((x > -k * theta) & (x < k * theta))[0]
    if mid.size == 0:
        return out
    coefs = _bspline_pieces(k)
    lz = _log_zk(theta, k)
    w2 = 2.0 * theta
    for idx in mid:
        xi = float(x[idx])
        tot = 0.0
        for i in range(k):
            a = -k * theta + w2 * i
            b = a + w2
            if b <= xi:
                continue
            a2 = max(a, xi)
            s = 0.5 * (a2 + b) + 0.5 * (b - a2) * _GL_X
            t = (s - a) / w2
            poly = np.polyval(coefs[i][::-1], t) / w2
            f = np.exp(0.5 * s - lz) * -np.expm1(xi - s) * poly
            tot += 0.5 * (b - a2) * float(np.dot(_GL_W, f))
        out[idx] = tot
    return out


# ---------------------------------------------------------------------- the composition
class LaplaceComposition:
    """delta(eps) and eps(delta) of ``T`` runs of a Laplace mechanism with ``theta = Delta / b``."""

    #: node budget of one trapezoidal sum
    max_nodes = MAX_NODES

    def __init__(self, theta: float, T: int, rtol: float = RTOL) -> None:
        if not (theta > 0.0 and math.isfinite(theta)):
            raise ValueError(f"theta must be positive and finite, got {theta!r}")
        if int(T) < 1:
            raise ValueError(f"T must be a positive integer, got {T!r}")
        self.theta = float(theta)
        self.T = int(T)
        self.rtol = float(rtol)
        th = self.theta
        self.sup = self.T * th
        # P1 weights: continuous step p_c, atoms (1 + e^-theta)/2; given atom, +theta w.p. p_plus
        self.log_pc = math.log(-math.expm1(-th)) - _LOG2
        self.log_pa = math.log1p(math.exp(-th)) - _LOG2
        self.log_pplus = -math.log1p(math.exp(-th))
        self.log_pminus = -th - math.log1p(math.exp(-th))

    # ---------------------------------------------------------- real-axis pieces
    def _log_terms_real(self, c: float, ks: np.ndarray) -> np.ndarray:
        """log term_k(c) = log E[e^{c L}; k continuous steps] for the k in ``ks``."""
        la, ls = _lc_real(self.theta, c + 0.5)
        T = self.T
        return gammaln(T + 1.0) - gammaln(ks + 1.0) - gammaln(T - ks + 1.0) + (T - ks) * la + ks * ls

    def _log_K(self, c: float) -> float:
        la, ls = _lc_real(self.theta, c + 0.5)
        return self.T * _logaddexp_real(la, ls)

    # ---------------------------------------------------------- delta
    def delta(self, eps: float) -> tuple[float, float, dict]:
        """(delta, relative error bound, diagnostics) at eps >= 0."""
        eps = float(eps)
        if eps >= self.sup:
            return 0.0, 0.0, {"laplace": "eps at or beyond the largest loss T theta"}
        if self.T == 1:
            # one step: delta = 1 - e^{(eps - theta)/2} (the atoms at -theta contribute nothing above 0)
            return float(-math.expm1(0.5 * (eps - self.theta))), 4 * _EPS, {"laplace": "one step, closed form"}
        order = (self._full, self._split) if self.T * math.exp(self.log_pc) > SPLIT_MAX_MEAN else (self._split, self._full)
        why = []
        for how in order:
            try:
                return how(eps)
            except LaplaceExactError as exc:
                why.append(str(exc))
        raise LaplaceExactError("; ".join(why))

    def _finish(self, res: tuple[float, float, dict], how: str, eps: float | None = None) -> tuple[float, float, dict]:
        v, abs_err, diag = res
        if v == 0.0 and eps is not None and math.isfinite(abs_err):
            # delta below the smallest positive double: accepted as 0.0 only where the rigorous Chernoff
            # bound (log_chernoff: any t > 0 gives an upper bound) proves it is below 2^-1075
            try:
                lc = float(self.log_chernoff(eps))
            except (ArithmeticError, ValueError):
                lc = math.nan
            if lc < LOG_BELOW_DOUBLE:
                return 0.0, 0.0, {**diag, "laplace": how, "log_chernoff": lc,
                                  "note": "delta below the smallest positive double (Chernoff bound): 0.0"}
        if not (v > 0.0 and math.isfinite(v)):
            raise LaplaceExactError(f"the {how} evaluation gave delta = {v!r}")
        rel = abs_err / v
        if not rel <= ACCEPT_RTOL:
            raise LaplaceExactError(f"the {how} evaluation reached only {rel:.2e} relative accuracy")
        return v, rel, {**diag, "laplace": how}

    def _saddle(self, eps: float, log_total, positive_only: bool = False) -> tuple[float, float]:
        """(c, g(c)): the minimiser of g(c) = log_total(c) - c eps - log|c (c + 1)| over c > 0 and over
        -1 < c < 0 (the better of the two unless ``positive_only``)."""

        from .._golden import golden_section

        def golden(fn, a: float, b: float) -> tuple[float, float]:
            a, b, *_ = golden_section(fn, a, b, iters=100, tol=1e-7)
            x = 0.5 * (a + b)
            return x, fn(x)

        def g(c: float) -> float:
            if budget.expired():  # log_total costs O(counts) in the split: the call's budget stops it
                raise LaplaceExactError(budget.NOTE)
            return log_total(c) - c * eps - math.log(abs(c)) - math.log1p(c)

        xp, gp = golden(lambda x: g(math.exp(x)), math.log(1e-9), math.log(1e4))
        best = (math.exp(xp), gp)
        if not positive_only:
            neg = lambda x: -1.0 / (1.0 + math.exp(-x))  # noqa: E731
            xn, gn = golden(lambda x: g(neg(x)), -30.0, 30.0)
            if gn < gp:
                best = (neg(xn), gn)
        return best

    # ---------------------------------------------------------- the trapezoidal sum
    def _trapezoid(self, eps: float, c: float, log_phi, log_total, log_mass: float, tail,
                   estimate: float) -> tuple[float, float, dict]:
        """(value, absolute error bound, diag) of a part's delta by the trapezoidal rule on Re z = c.

        ``log_phi(z)``: log E[e^{zL}; part] at complex nodes; ``log_total(t)``: its value at real t;
        ``log_mass``: log P(part); ``tail(U)``: log of a bound on (1/pi) int_U^inf |phi(c + iu)|
        e^{-c eps} / |z (z + 1)| du; ``estimate``: log of the expected delta (sets the tolerance).

        On Re z = c > 0 the sum is sum_m e^{c m P} delta_part(eps + m P); on -1 < c < 0 (past the pole
        at 0, residue the part's mass) it is sum_m e^{c m P} (delta_part - mass)(eps + m P), and
        mass - delta_part(e) = E[min(1, e^{e - L}); part] <= E[e^{s (e - L)}; part] for 0 <= s <= 1.
        """
        log_tau = estimate + math.log(self.rtol) - math.log(4.0)
        a = abs(c)
        # the aliases bounded by the mass (m < 0 for c > 0, m > 0 for c < 0): mass e^{-aP} / (1 - e^{-aP})
        P = max((log_mass - log_tau + 1.0) / a, 1e-3)
        gap = self.sup - eps
        cher = None  # (log bound, rate) of the other side's aliases: exp(bound - rate m P), m >= 1
        if c > 0.0:
            if P < gap:
                cands = [(log_total(t) - t * eps + _chernoff_factor(t), t - c)
                         for t in (1.1 * c, 1.25 * c, 1.5 * c, 2.0 * c, 3.0 * c, c + 1.0, c + 4.0, 5.0 * c)]
                cands = [lr for lr in cands if math.isfinite(lr[0])]
                if not cands:
                    raise LaplaceExactError("no finite Chernoff bound for the aliases")
                lb, rate = min(cands, key=lambda lr: (lr[0] - log_tau + 1.0) / lr[1])
                need = (lb - log_tau + 1.0) / rate
                if need >= gap and math.isfinite(gap):
                    P = max(P, gap * (1.0 + 1e-12) + 1e-12)  # delta_part(eps + P) = 0: no aliases there
                else:
                    P = max(P, need)
                    cher = (lb, rate)
        else:
            cands = [(log_total(-sv) + sv * eps, sv - a) for sv in (a + (1.0 - a) * f for f in (0.1, 0.25, 0.5, 0.75, 1.0))]
            cands = [lr for lr in cands if math.isfinite(lr[0])]
            if not cands:
                raise LaplaceExactError("no finite Chernoff bound for the aliases")
            lb, rate = min(cands, key=lambda lr: (lr[0] - log_tau + 1.0) / lr[1])
            P = max(P, (lb - log_tau + 1.0) / rate)
            cher = (lb, rate)
        if not (math.isfinite(P) and P > 0.0):
            raise LaplaceExactError("no finite alias period")
        P = self._round_period(P)
        h = 2.0 * math.pi / P
        # truncation: the smallest U (to 1 %) with tail(U) <= tau
        U = max(h, 1.0)
        while tail(U) > log_tau:
            U *= 2.0
            if U / h > self.max_nodes:
                raise LaplaceExactError("the contour's u-range exceeds its node budget")
        lo = U / 2.0
        while U / lo > 1.01 and U > h:
            mid = math.sqrt(lo * U)
            if tail(mid) > log_tau:
                lo = mid
            else:
                U = mid
        n = int(math.ceil(U / h)) + 1
        u = h * np.arange(n)
        z = c + 1j * u
        with np.errstate(over="ignore", under="ignore"):
            vals = np.exp(log_phi(z) - z * eps - np.log(z) - np.log1p(z))
        if not np.all(np.isfinite(vals)):
            raise LaplaceExactError("the contour's integrand overflowed")
        wts = np.full(n, h / math.pi)
        wts[0] *= 0.5
        v = float(np.dot(vals.real, wts))
        mass = math.exp(log_mass)
        if c < 0.0:
            v += mass
        absv = np.abs(vals) * wts
        absum = float(absv.sum())
        # rounding: the node sum itself, and each node's value through the absolute error of its log
        # (T log M(z) is formed from w theta, log1p and log terms of size |z| theta + O(1); z eps too)
        az = np.abs(z)
        log_err = 8.0 * _EPS * (az * (self._fp_scale() + abs(eps)) + 2.0 * self.T + 2.0) + self._fp_other(z)
        fp = (absum + (mass if c < 0.0 else 0.0)) * 64.0 * _EPS + float(np.dot(absv, log_err))
        err = math.exp(tail(U)) + math.exp(log_mass - a * P - math.log(-math.expm1(-a * P))) + fp
        if cher is not None:
            err += math.exp(cher[0] - cher[1] * P - math.log(-math.expm1(-cher[1] * P)))
        return v, err, {"abscissa": c, "nodes": n, "step": h, "u_max": U}

    def _round_period(self, P: float) -> float:
        """The alias period used (a larger one only lowers the alias bounds): P itself here."""
        return P

    def _fp_scale(self) -> float:
        """Size scale of the Laplace logs' arguments per unit |z| (sum of n theta)."""
        return self.sup

    def _fp_other(self, z: np.ndarray) -> np.ndarray | float:
        """Absolute error of the other mechanisms' log-MGF at the nodes (none here)."""
        return 0.0

    # ---------------------------------------------------------- full contour on M^T
    def _full(self, eps: float) -> tuple[float, float, dict]:
        th, T = self.theta, self.T
        c, gv = self._saddle(eps, self._log_K)
        cp = c + 0.5
        A, S = _lc_real(th, cp)  # logs of the real bounds of the atom and continuous parts
        lm = _logaddexp_real(A, S)
        logK = T * lm

        def tail(U: float) -> float:
            # for |u| >= U: |sinh(w th)| / (2|w|) <= cosh(cp th) / (2 U) and <= sinh(|cp| th) / (2 |cp|),
            # so |M(c + iu)| <= rho(U) M(c); with 1/|z(z+1)| <= 1/u^2: (1/pi) rho^T M^T e^{-c eps} / U
            lsb = min(S, A - math.log(2.0 * U))
            lrho = _logaddexp_real(A, lsb) - lm
            return logK + T * lrho - c * eps - math.log(math.pi) - math.log(U)

        if c > 0.0:
            est = gv - 0.5 * math.log(2.0 * math.pi * self._var(c))
        else:
            est = math.log(0.5)

        def log_phi(z: np.ndarray) -> np.ndarray:
            a, s = _lc_complex(th, z + 0.5)
            m = np.maximum(a.real, s.real)
            return T * (m + np.log(np.exp(a - m) + np.exp(s - m)))

        return self._finish(self._trapezoid(eps, c, log_phi, self._log_K, 0.0, tail, est), "full contour", eps)

    def _var(self, c: float) -> float:
        h = 1e-4 * max(abs(c), 1e-3)
        return max((self._log_K(c + h) - 2 * self._log_K(c) + self._log_K(c - h)) / (h * h), 1e-300)

    # ---------------------------------------------------------- split: k < K_EXACT exactly, the rest on the contour
    def _split(self, eps: float) -> tuple[float, float, dict]:
        T, th = self.T, self.theta
        kx = min(K_EXACT, T + 1)
        # the exact terms: binomial weight of k continuous steps, the atom lattice, F_k
        exact = 0.0
        fp_window = 0.0
        for k in range(kx):
            lw = (gammaln(T + 1.0) - gammaln(k + 1.0) - gammaln(T - k + 1.0) + k * self.log_pc
                  + (T - k) * self.log_pa)
            n = T - k
            # lattice points with eps - A_j < k theta, A_j = theta (2 j - n): j > (eps - k theta + n theta) / (2 theta)
            j0 = max(0, int(math.floor((eps - k * th + n * th) / (2.0 * th))) - 1)
            # only counts within WINDOW_SD sd of the lattice's mean (never an array sized by T): each
            # term is at most its weight (F_k <= 1), so the rest adds at most the binomial mass outside,
            # bounded by Chernoff (P(J >= j) <= exp(-n D(j/n || p))), an absolute error
            if lw < LOG_BELOW_DOUBLE:  # this count's whole mass is below 2^-1075: an absolute error
                fp_window += math.exp(lw)
                continue
            pp = math.exp(self.log_pplus)
            half = int(math.ceil(WINDOW_SD * math.sqrt(n * pp * (1.0 - pp)))) + 64
            if 2 * half + 1 > MAX_SPLIT_COUNTS:
                raise LaplaceExactError("too many atom-lattice counts for the split evaluation")
            mid = int(n * pp)
            ja, jb = max(j0, mid - half), min(n, mid + half)
            if ja > jb:
                fp_window += math.exp(lw + _log_tail(float(j0), n, pp, True))
                continue
            if ja > j0:
                fp_window += math.exp(lw + _log_tail(float(ja - 1), n, pp, False))
            if jb < n:
                fp_window += math.exp(lw + _log_tail(float(jb + 1), n, pp, True))
            j = np.arange(ja, jb + 1, dtype=float)
            x = eps - th * (2.0 * j - n)
            sel = x < k * th
            if not sel.any():
                continue
            j, x = j[sel], x[sel]
            lb = gammaln(n + 1.0) - gammaln(j + 1.0) - gammaln(n - j + 1.0) + j * self.log_pplus + (n - j) * self.log_pminus
            keep = lb + lw > -745.0
            if not keep.any():
                continue
            exact += float(np.dot(np.exp(lb[keep] + lw), f_cont(th, k, x[keep])))
        fp = exact * 1e-13 + fp_window
        diag: dict = {"exact_terms": kx}
        if T < K_EXACT:
            return self._finish((exact, fp, diag), "exact sum over the atom lattice", eps)
        # the contour on k >= K_EXACT, only the k whose Chernoff bound matters
        # only the counts within WINDOW_SD sd of the mean T p_c (never an array sized by T): the others
        # add at most their mass (delta of a part <= its mass), bounded by Chernoff on the binomial count
        pc = math.exp(self.log_pc)
        half = int(math.ceil(WINDOW_SD * math.sqrt(T * pc * (1.0 - pc)))) + 64
        ka, kb = max(K_EXACT, int(T * pc) - half), min(T, int(T * pc) + half)
        if ka > kb:
            raise LaplaceExactError("the split's window of continuous-step counts is empty")
        if kb - ka + 1 > MAX_SPLIT_COUNTS:
            raise LaplaceExactError("too many continuous-step counts for the split evaluation")
        if ka > K_EXACT:
            fp += math.exp(_log_tail(float(ka - 1), T, pc, False))
        if kb < T:
            fp += math.exp(_log_tail(float(kb + 1), T, pc, True))
        ks_all = np.arange(ka, kb + 1, dtype=float)

        def lt_all(t: float) -> float:
            l = self._log_terms_real(t, ks_all)
            m = float(l.max())
            return m + math.log(float(np.exp(l - m).sum()))

        c0, _ = self._saddle(eps, lt_all, positive_only=True)
        lt = self._log_terms_real(c0, ks_all) - c0 * eps + _chernoff_factor(c0)
        ref = max(math.log(exact) if exact > 0.0 else -math.inf, float(lt.max()) - 10.0)
        drop_tol = ref + math.log(self.rtol) - math.log(4.0) - math.log(T + 1.0)
        keep = lt >= drop_tol
        ks = ks_all[keep]
        dropped = float(np.exp(lt[~keep]).sum()) if (~keep).any() else 0.0
        if ks.size == 0:
            return self._finish((exact, fp + dropped, diag), "exact sum over the atom lattice", eps)
        lc_bin = gammaln(T + 1.0) - gammaln(ks + 1.0) - gammaln(T - ks + 1.0)
        lwk = lc_bin + (T - ks) * self.log_pa + ks * self.log_pc
        mw = float(lwk.max())
        log_mass = mw + math.log(float(np.exp(lwk - mw).sum()))

        def log_total(t: float) -> float:
            l = self._log_terms_real(t, ks)
            m = float(l.max())
            return m + math.log(float(np.exp(l - m).sum()))

        c, gv = self._saddle(eps, log_total)
        A, S = _lc_real(th, c + 0.5)

        def tail(U: float) -> float:
            # for u >= U the k-th term is at most C(T,k) A^{T-k} (e^{-th/2} cosh(cp th) / (2u))^k and
            # 1/|z(z+1)| <= 1/u^2: int_U^inf u^{-k-2} du = U^{-k-1} / (k + 1); needs the decaying bound
            lsb = A - math.log(2.0 * U)
            if lsb >= S:
                return math.inf
            l = lc_bin + (T - ks) * A + ks * lsb - np.log(ks + 1.0) - math.log(U)
            m = float(l.max())
            return m + math.log(float(np.exp(l - m).sum())) - c * eps - math.log(math.pi)

        chunk = max(1, 2_000_000 // ks.size)

        def log_phi(z: np.ndarray) -> np.ndarray:
            a, s = _lc_complex(th, z + 0.5)
            out = np.empty(z.shape, dtype=complex)
            for i0 in range(0, z.size, chunk):
                if budget.expired():  # O(nodes x counts): the call's budget stops it between chunks
                    raise LaplaceExactError(budget.NOTE)
                i1 = min(z.size, i0 + chunk)
                mat = lc_bin[None, :] + (T - ks)[None, :] * a[i0:i1, None] + ks[None, :] * s[i0:i1, None]
                m = mat.real.max(axis=1)
                out[i0:i1] = m + np.log(np.exp(mat - m[:, None]).sum(axis=1))
            return out

        if c > 0.0:
            est = max(gv - 3.0, math.log(exact) if exact > 0.0 else -math.inf)
        else:
            est = log_mass - math.log(2.0)
        v, err, d2 = self._trapezoid(eps, c, log_phi, log_total, log_mass, tail, est)
        diag.update(d2)
        diag["contour_k"] = (int(ks[0]), int(ks[-1]))
        return self._finish((exact + v, fp + dropped + err, diag), "atoms exact, continuous part on the contour", eps)

    # ---------------------------------------------------------- epsilon
    def log_chernoff(self, eps: float) -> float:
        """A rigorous upper bound on log delta(eps): min over t > 0 of K(t) - t eps + log[t^t / (t+1)^(t+1)]."""
        def g(x: float) -> float:
            t = math.exp(x)
            return self._log_K(t) - t * eps + _chernoff_factor(t)

        from .._golden import golden_section

        *_, f1, _, f2 = golden_section(g, math.log(1e-9), math.log(1e5), iters=100, tol=1e-9)
        return min(0.0, f1, f2)

    def epsilon(self, delta: float) -> tuple[float, float, dict]:
        """(eps, relative error bound on delta at eps, diagnostics): inf{eps >= 0: delta(eps) <= delta}.
        Memoised per instance (the certified bracket of laplace_certified starts from the estimate the
        accountant has just computed on the same cached instance)."""
        delta = float(delta)
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
        memo = self.__dict__.setdefault("_eps_memo", {})
        if delta in memo:
            eps, rel, diag = memo[delta]
            return eps, rel, dict(diag)
        res = self._epsilon(delta)
        if len(memo) >= 64:
            memo.clear()
        memo[delta] = res
        return res[0], res[1], dict(res[2])

    def _epsilon(self, delta: float) -> tuple[float, float, dict]:
        from scipy.optimize import brentq

        if self.T == 1:
            if delta >= -math.expm1(-0.5 * self.theta):
                return 0.0, 4 * _EPS, {"laplace": "one step, closed form", "note": "delta(0) <= target"}
            return float(self.theta + 2.0 * math.log1p(-delta)), 4 * _EPS, {"laplace": "one step, closed form"}
        ld = math.log(delta)
        d0, r0, g0 = self.delta(0.0)
        if d0 <= delta:
            return 0.0, r0, {**g0, "note": "delta(0) <= target"}
        cache: dict[float, tuple[float, float, dict]] = {}

        def g(e: float) -> float:
            if budget.expired():
                raise LaplaceExactError(budget.NOTE)
            if e >= self.sup:
                return -1.0  # delta = 0 at and beyond the largest loss
            if e not in cache:
                if self.log_chernoff(e) < ld - 1e-9:
                    return -1.0  # delta(e) < delta, proven; no quadrature needed
                cache[e] = self.delta(e)
            return math.log(cache[e][0]) - ld

        # upper end of the bracket: where the Chernoff bound is at most delta (doubling, then the loss sup)
        lo, hi = 0.0, min(1.0, 0.5 * self.sup)
        while self.log_chernoff(hi) >= ld:
            if hi > 1e15:
                raise LaplaceExactError("epsilon exceeds 1e15")
            lo = hi
            hi = min(2.0 * hi, 0.5 * (hi + self.sup))
            if math.isfinite(self.sup) and self.sup - hi <= 1e-13 * self.sup:
                hi = self.sup
                break
        # lower end: the last point where the Chernoff bound was above delta, if delta(e) is too
        if lo > 0.0 and g(lo) <= 0.0:
            lo = 0.0
        eps = brentq(g, lo, hi, xtol=1e-300, rtol=4e-15, maxiter=200)
        v, rel, diag = cache[eps] if eps in cache else self.delta(eps)
        # eps's own relative error: delta's error moved along the slope of log delta, plus Brent's tolerance
        e2 = min(eps * (1.0 + 1e-6) + 1e-12, 0.5 * (eps + self.sup))
        try:
            v2 = self.delta(e2)[0]
            slope = (math.log(v) - math.log(v2)) / (e2 - eps) if v2 > 0.0 else math.inf
        except LaplaceExactError:
            slope = math.nan
        eps_rel = (rel / slope / eps if slope > 0.0 else math.inf) + 1e-14 if eps > 0.0 else 0.0
        return float(eps), rel, {**diag, "delta_at_eps": v, "eps_rel_error": eps_rel}


# ---------------------------------------------------------------------- several Laplace scales
class LaplaceMixture(LaplaceComposition):
    """Laplace mechanisms of several ``theta`` composed: the full contour on prod_g M_g(z)^{n_g} where the
    atoms' returns are provably negligible (enough steps); with few steps (prod (n_g + 1)^2 <=
    laplace_certified.GROUPS_MAX_WORK) every step count enumerated in Arb (:meth:`_enumerated`);
    elsewhere LaplaceExactError."""

    def __init__(self, parts: list[tuple[float, int]], rtol: float = RTOL) -> None:
        parts = [(float(th), int(n)) for th, n in parts if int(n) > 0]
        if len(parts) < 2 or not all(th > 0.0 and math.isfinite(th) for th, _ in parts):
            raise ValueError("a Laplace mixture needs at least two (theta > 0, count > 0) parts")
        self.parts = parts
        self.T = sum(n for _, n in parts)
        self.theta = max(th for th, _ in parts)
        self.rtol = float(rtol)
        self.sup = sum(th * n for th, n in parts)

    def _log_K(self, c: float) -> float:
        tot = self._other_real(c)
        for th, n in self.parts:
            la, ls = _lc_real(th, c + 0.5)
            tot += n * _logaddexp_real(la, ls)
        return tot

    def _other_real(self, c: float) -> float:
        """log E[e^{cL}] of the mechanisms other than Laplace (none here)."""
        return 0.0

    def _other_complex(self, z: np.ndarray) -> np.ndarray | float:
        return 0.0

    def delta(self, eps: float) -> tuple[float, float, dict]:
        eps = float(eps)
        if eps >= self.sup:
            return 0.0, 0.0, {"laplace": "eps at or beyond the largest loss"}
        try:
            return self._full(eps)
        except LaplaceExactError as exc:
            if type(self) is not LaplaceMixture:
                raise
            return self._enumerated(eps, str(exc))

    def _enumerated(self, eps: float, why: str) -> tuple[float, float, dict]:
        """Few steps (the atoms' returns defeat the contour): every count of continuous steps and atoms
        enumerated, in Arb (laplace_certified.groups_delta_ball at these doubles theta); the value is the
        ball's midpoint, its error the radius (docs/certified_laplace.md section 6)."""
        from .laplace_certified import GROUPS_MAX_WORK, NotCertified, groups_delta_ball, groups_work

        if groups_work([n for _, n in self.parts]) > GROUPS_MAX_WORK:
            raise LaplaceExactError(f"{why}; too many steps to enumerate")
        try:
            v = groups_delta_ball(self.parts, eps, theta_balls=True)
        except NotCertified as exc:
            raise LaplaceExactError(f"{why}; {exc}") from None
        mid, rad = float(v.mid()), float(v.rad())
        res = (mid, rad + 4 * _EPS * abs(mid), {"abscissa": math.nan})
        return self._finish(res, "several Laplace scales, every step count enumerated (Arb)", eps)

    def _tail_bound(self, c: float, eps: float, bounds, logK: float):
        """U -> log of a bound on (1/pi) int_U^inf |integrand(c + iu)| du: prod_g rho_g(U)^{n_g} (each
        factor as in LaplaceComposition._full), the other mechanisms' factor at most its real value."""

        def tail(U: float) -> float:
            lr = 0.0
            for n, A, S, lm in bounds:
                lr += n * (_logaddexp_real(A, min(S, A - math.log(2.0 * U))) - lm)
            return logK + lr - c * eps - math.log(math.pi) - math.log(U)

        return tail

    def _split(self, eps: float):
        raise LaplaceExactError("several Laplace scales: no split evaluation")

    def _full(self, eps: float) -> tuple[float, float, dict]:
        c, gv = self._saddle(eps, self._log_K)
        cp = c + 0.5
        bounds = []
        for th, n in self.parts:
            A, S = _lc_real(th, cp)
            bounds.append((n, A, S, _logaddexp_real(A, S)))
        # |E e^{zL}| <= E e^{cL} for the other mechanisms: their factor is bounded by its real value
        logK = sum(n * lm for n, _, _, lm in bounds) + self._other_real(c)
        if not math.isfinite(logK):
            raise LaplaceExactError("the log-MGF is not finite at the saddle")

        tail = self._tail_bound(c, eps, bounds, logK)
        est = gv - 0.5 * math.log(2.0 * math.pi * self._var(c)) if c > 0.0 else math.log(0.5)

        def log_phi(z: np.ndarray) -> np.ndarray:
            out = np.zeros(z.shape, dtype=complex) + self._other_complex(z)
            for th, n in self.parts:
                a, s = _lc_complex(th, z + 0.5)
                m = np.maximum(a.real, s.real)
                out += n * (m + np.log(np.exp(a - m) + np.exp(s - m)))
            return out

        res = self._trapezoid(eps, c, log_phi, self._log_K, 0.0, tail, est)
        return self._finish(res, "full contour (several Laplace scales)", eps)


class LaplaceWithOthers(LaplaceMixture):
    """Laplace mechanisms composed with mechanisms that have a complex log-MGF (subsampled Gaussian,
    Gaussian), in one direction (the Laplace part is the same in both): the full contour on
    e^{K_other(z)} prod_g M_g(z)^{n_g}.  The truncation bound takes the decay from whichever factor
    decays (:meth:`_tail_bound`, docs/math.md "Laplace and randomized response mixed with others"): the
    Laplace factors' rho bounds, the Gaussian factor's exact |e^{K_G(c+iu)}| = e^{K_G(c) - g2 u^2 / 2},
    and each subsampled Gaussian's integration-by-parts bound |M(c+iu)| <= min(M(c), V(c) / |u|).  Few
    Laplace steps (whose atoms do not decay) settle wherever the others decay within the node budget;
    elsewhere LaplaceExactError."""

    def __init__(self, parts: list[tuple[float, int]], others, direction: str, rtol: float = RTOL) -> None:
        from .exact import composition_log_mgf

        parts = [(float(th), int(n)) for th, n in parts if int(n) > 0]
        others = [(m, int(n)) for m, n in others if int(n) > 0]
        if not parts or not others:
            raise ValueError("LaplaceWithOthers needs Laplace parts and other mechanisms")
        self.parts = parts
        self.direction = direction
        self.K_other = composition_log_mgf(others, direction)
        self.g2, self.sg = _decay_params(others)
        self.max_nodes = MAX_NODES_OTHERS
        if self.sg:  # the kernels load before any budget starts (a cold cache is not the query's time)
            from .exact import warm_kernels

            warm_kernels()
            q, mu, _ = self.sg[0]
            _sg_log_mgf_real(q, mu, 1.0, direction)
        self.T = sum(n for _, n in parts) + sum(n for _, n in others)
        self.theta = max(th for th, _ in parts)
        self.rtol = float(rtol)
        self.sup = sum(th * n for th, n in parts) + self.K_other.loss_sup

    def _other_real(self, c: float) -> float:
        if not self.sg:  # Gaussian factors only: closed form
            return 0.5 * self.g2 * c * (c + 1.0)
        try:
            with np.errstate(all="ignore"):
                v = float(self.K_other.complex_fn(np.array([complex(c, 0.0)]))[0].real)
        except (ArithmeticError, ValueError):
            return math.inf
        return v if math.isfinite(v) else math.inf

    def _log_K(self, c: float) -> float:
        tot = self._other_real(c)
        for th, n in self.parts:
            la, ls = _lc_real_scalar(th, c + 0.5)
            tot += n * _logaddexp_real(la, ls)
        return tot

    @property
    def symmetric(self) -> bool:
        """Both directions have the same law (the others are Gaussian-type only)."""
        return not self.sg

    def chernoff_eps(self, log_delta: float) -> float:
        """A rigorous upper bound on eps(delta): min over t > 0 of (K(t) + log[t^t/(t+1)^(t+1)] - log
        delta) / t (any t gives one)."""
        from .._golden import golden_section

        def g(x: float) -> float:
            t = math.exp(x)
            v = (self._log_K(t) + _chernoff_factor(t) - log_delta) / t
            return v if math.isfinite(v) else math.inf

        *_, f1, _, f2 = golden_section(g, math.log(1e-6), math.log(1e4), iters=100, tol=1e-4)
        return max(0.0, min(f1, f2))

    def log_chernoff(self, eps: float) -> float:
        """A rigorous upper bound on log delta(eps) (any t > 0 gives one): the golden search stops at
        1e-5 in log t (the bound is then within ~1e-10 of its minimum)."""
        from .._golden import golden_section

        def g(x: float) -> float:
            t = math.exp(x)
            return self._log_K(t) - t * eps + _chernoff_factor(t)

        last = getattr(self, "_cher_x", None)
        if last is not None:  # warm start around the last minimiser (any t gives a rigorous bound)
            a, b, x1, f1, x2, f2 = golden_section(g, last - 1.0, last + 1.0, iters=100, tol=1e-3)
            if a - (last - 1.0) > 0.05 and (last + 1.0) - b > 0.05:
                self._cher_x = x1 if f1 <= f2 else x2
                return min(0.0, f1, f2)
        a, b, x1, f1, x2, f2 = golden_section(g, math.log(1e-9), math.log(1e5), iters=100, tol=1e-5)
        self._cher_x = x1 if f1 <= f2 else x2
        return min(0.0, f1, f2)

    def _other_complex(self, z: np.ndarray) -> np.ndarray:
        cache = getattr(self, "_nodes", None)
        key = None
        if cache is not None and z.size >= 2 and z[0].imag == 0.0:
            key = (float(z[0].real), float(z[1].imag))  # (c, h): the nodes c + i h k, k = 0, 1, ...
            hit = cache.get(key)
            if hit is not None and hit.size >= z.size:
                out = hit[:z.size]
                self._last_other = (z, out)
                return out
        zc = np.ascontiguousarray(z, dtype=complex)
        parts = []
        for i0 in range(0, zc.size, 4096):  # chunks: the CPU-time budget is checked between them
            if budget.clock() > self._deadline:
                raise LaplaceExactError(f"the contour ran past its CPU-time budget ({DEADLINE_S} s)")
            parts.append(self.K_other.complex_fn(zc[i0:i0 + 4096]))
        out = np.concatenate(parts) if parts else np.zeros(0, dtype=complex)
        if not np.all(np.isfinite(out)):
            raise LaplaceExactError("the other mechanisms' log-MGF is not finite on the contour")
        if key is not None:
            cache[key] = out
        self._last_other = (z, out)
        return out

    # -- within one eps(delta) search: the abscissa of an earlier evaluation at a nearby eps is kept (any
    #    c gives the exact value; the error bounds are computed for the c used), the alias period is
    #    rounded up to a power of 2^(1/4) and the other mechanisms' node values are reused
    def _saddle(self, eps: float, log_total, positive_only: bool = False) -> tuple[float, float]:
        pins = getattr(self, "_pins", None)
        if pins is not None:
            for e0, c0 in pins:
                if abs(eps - e0) <= PIN_REL * max(abs(e0), 0.05):
                    return c0, log_total(c0) - c0 * eps - math.log(abs(c0)) - math.log1p(c0)
        c, gv = super()._saddle(eps, log_total, positive_only)
        if pins is not None:
            pins.append((eps, c))
        return c, gv

    def _round_period(self, P: float) -> float:
        if getattr(self, "_pins", None) is None:
            return P
        return 2.0 ** (math.ceil(4.0 * math.log2(P)) / 4.0)

    _deadline = math.inf

    def delta(self, eps: float) -> tuple[float, float, dict]:
        if self._deadline < math.inf:  # inside epsilon: its budget
            return super().delta(eps)
        self._deadline = budget.cap(budget.clock() + DEADLINE_S)
        try:
            return super().delta(eps)
        finally:
            self._deadline = math.inf

    def epsilon(self, delta: float) -> tuple[float, float, dict]:
        self._pins, self._nodes = [], {}
        self._deadline = budget.cap(budget.clock() + DEADLINE_S)
        try:
            return super().epsilon(delta)
        finally:
            self._pins = self._nodes = None
            self._deadline = math.inf

    def _fp_scale(self) -> float:
        return sum(th * n for th, n in self.parts)

    def _tail_bound(self, c: float, eps: float, bounds, logK: float):
        """U -> log of a rigorous bound on (1/pi) int_U^inf |integrand(c + iu)| du, the decay taken from
        every factor: F(u) = prod_Laplace rho_g(u)^{n_g} M_g(c)^{n_g} * prod_SG min(M_g(c), V_g(c)/u)^{n_g}
        * e^{K_G(c) - g2 u^2 / 2} * e^{-c eps} / u^2 bounds |integrand| at |u| >= u (each factor is
        non-increasing in u, and F(u) u^2 too), so int_U^inf F <= sum_i F(u_i) (u_{i+1} - u_i) +
        F(u_N) u_N on the geometric grid u_i = U r^i (the last term: F(u) <= F(u_N) u_N^2 / u^2)."""
        lap = [(n, A, S) for n, A, S, _ in bounds]
        sgs = []
        for q, mu, n in self.sg:
            lm = _sg_log_mgf_real(q, mu, c, self.direction)
            lv = _sg_log_decay(q, mu, c, self.direction)
            if not (math.isfinite(lm) and math.isfinite(lv)):
                raise LaplaceExactError("no finite decay bound for a subsampled Gaussian factor")
            sgs.append((n, lm, lv))
        kg = 0.5 * self.g2 * c * (c + 1.0)
        grid = _TAIL_RATIO ** np.arange(_TAIL_N + 1)

        def tail(U: float) -> float:
            u = U * grid
            lu = np.log(u)
            lf = kg - 0.5 * self.g2 * u * u - c * eps - 2.0 * lu - math.log(math.pi)
            for n, A, S in lap:
                lf = lf + n * np.logaddexp(A, np.minimum(S, A - math.log(2.0) - lu))
            for n, lm, lv in sgs:
                lf = lf + n * np.minimum(lm, lv - lu)
            terms = np.append(lf[:-1] + np.log(np.diff(u)), lf[-1] + lu[-1])
            m = float(terms.max())
            if not math.isfinite(m):
                return m
            return m + math.log(float(np.exp(terms - m).sum()))

        return tail

    def _fp_other(self, z: np.ndarray) -> np.ndarray | float:
        # the kernels of the other mechanisms are accurate to a few ulps relative to |K| (checked against
        # mpmath in their own tests): 64 ulps of |K_other(z)| per node
        last = getattr(self, "_last_other", None)
        if last is None or last[0] is not z:
            return 0.0
        return 64.0 * _EPS * (np.abs(last[1]) + self.T)

    def _full(self, eps: float) -> tuple[float, float, dict]:
        v, rel, diag = super()._full(eps)
        return v, rel, {**diag, "laplace": f"full contour (Laplace with other mechanisms, {self.direction})"}


#: CPU-time budget of one query of one direction of Laplace with other mechanisms (both directions
#: stay below 1 s); past it LaplaceExactError (the dispatch then answers with the noted expansion)
DEADLINE_S = 0.45
#: within one eps(delta) search, an abscissa is reused for eps within this relative distance
PIN_REL = 0.05
#: the tail bound's geometric grid: ratio and number of steps (u up to U * 1.1^400 = U e^38)
_TAIL_RATIO = 1.1
_TAIL_N = 400


def _decay_params(others) -> tuple[float, list[tuple[float, float, int]]]:
    """(g2, [(q, mu, n)]): sum of n mu^2 over the Gaussian factors (Gaussian mechanisms and subsampled
    ones at q = 1) and the subsampled Gaussian groups (q < 1)."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian

    g2 = 0.0
    sg: list[tuple[float, float, int]] = []
    for m, n in others:
        if isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0:
            sg.append((float(m.sampling_probability), float(m.mu), int(n)))
        elif isinstance(m, (Gaussian, PoissonSubsampledGaussian)):
            g2 += int(n) * float(m.mu) ** 2
        else:
            raise ValueError(f"no decay bound for {type(m).__name__}")
    return g2, sg


def _sg_log_mgf_real(q: float, mu: float, c: float, direction: str) -> float:
    from ..mechanisms import PoissonSubsampledGaussian

    m = _SG_MECH.get((q, mu))
    if m is None:
        m = _SG_MECH.setdefault((q, mu), PoissonSubsampledGaussian(1.0 / mu, q))
    with np.errstate(all="ignore"):
        v = float(m.log_mgf(np.array([complex(c, 0.0)]), direction=direction)[0].real)
    return v if math.isfinite(v) else math.inf


def _lc_real_scalar(theta: float, cp: float) -> tuple[float, float]:
    """_lc_real in scalar arithmetic (the same formulas)."""
    v = abs(cp) * theta
    la = v + math.log1p(math.exp(-2.0 * v)) - _LOG2 - 0.5 * theta
    if v < 0.05:
        x = v * v
        lsh = x * (1 / 6 + x * (-1 / 180 + x * (1 / 2835 + x * (-1 / 37800 + x * (1 / 467775
              + x * (-691 / 3831077250 + x * (2 / 1915538625)))))))
    else:
        lsh = v + math.log(-math.expm1(-2.0 * v)) - _LOG2 - math.log(v)
    return la, lsh + math.log(0.5 * theta) - 0.5 * theta


_SG_MECH: dict[tuple[float, float], object] = {}


def _log_abs_moment(s: float) -> float:
    """log E[|Z| e^{s Z}] = s^2/2 + log(2 phi(s) + s erf(s / sqrt 2)) for s >= 0, Z ~ N(0, 1)."""
    return 0.5 * s * s + math.log(2.0 * math.exp(-0.5 * s * s) / math.sqrt(2.0 * math.pi) + s * math.erf(s / math.sqrt(2.0)))


def _sg_log_decay(q: float, mu: float, c: float, direction: str) -> float:
    """log V with |E_P[e^{zL}]| <= V / |z| on Re z = c for one Poisson-subsampled Gaussian step: the
    smaller of the closed-form bound (:func:`_sg_log_decay_closed`, which replaces e^{s l} by
    1 + r^s and is loose by ~e^{s^2 mu^2 / 2} q^{-s} at large s) and the same integration-by-parts
    integral int e^{s l} |(p / |l'|)'| dx evaluated by the trapezoidal rule (step 0.02 in x, range
    [-mu - 14, mu + max(s, 0) mu + 14], where the tilted bumps live; the integrand is smooth except
    for kinks at the zeros of the derivative, so the rule is accurate to far better than the factor 2
    margin added)."""
    v = _sg_log_decay_closed(q, mu, c, direction)
    s = c if direction == "remove" else -c
    lo = -mu - 14.0
    hi = mu + max(s, 0.0) * mu + 14.0
    n = int(math.ceil((hi - lo) / 0.02)) + 1
    if n > 40_000:
        return v
    x = np.linspace(lo, hi, n)
    lq, l1q = math.log(q), math.log1p(-q)
    if direction == "remove":
        bumps = [(-mu, 2.0 * l1q + mu * mu), (0.0, _LOG2 + lq + l1q), (mu, 2.0 * lq)]
    else:
        bumps = [(-mu, l1q + mu * mu), (0.0, lq)]
    # g'(x) = -(1/(mu q)) sum_a w_a (x - a) phi(x - a), in log space
    la = np.array([lw - 0.5 * (x - a) ** 2 for a, lw in bumps])
    sg = np.array([x - a for a, _ in bumps])
    m = la.max(axis=0)
    with np.errstate(divide="ignore"):
        lg = m + np.log(np.abs((sg * np.exp(la - m)).sum(axis=0))) - 0.5 * math.log(2.0 * math.pi)
        l = np.logaddexp(l1q, lq + mu * x - 0.5 * mu * mu)
    f = s * l + lg
    mf = float(f.max())
    if not math.isfinite(mf):
        return v
    w = np.exp(f - mf)
    integral = (x[1] - x[0]) * (float(w.sum()) - 0.5 * (w[0] + w[-1]))
    # the ends: the integrand there is below e^{-80} of its peak (14 noise units past every bump)
    num = mf + math.log(integral) + _LOG2 - math.log(mu) - lq
    return min(v, num)


def _sg_log_decay_closed(q: float, mu: float, c: float, direction: str) -> float:
    """log V with |E_P[e^{zL}]| <= V / |z| on Re z = c for one Poisson-subsampled Gaussian step.

    In the noise unit, x ~ N(0, 1) under Q, r(x) = e^{mu x - mu^2/2}, l(x) = log(1 - q + q r) (l' > 0).
    With L the direction's loss as a function of x (l for REMOVE under P = phi (1 - q + q r), -l for ADD
    under Q = phi), integration by parts (p e^{zL} = (p / (z L')) d e^{zL}, the boundary terms vanish)
    gives |M(z)| <= (1/|z|) int e^{c L} |(p / |l'|)'| dx, where p / |l'| is a positive sum of Gaussian
    bumps: REMOVE (1/(mu q)) [(1-q)^2 e^{mu^2} phi(x+mu) + 2q(1-q) phi(x) + q^2 phi(x-mu)], ADD
    (1/(mu q)) [(1-q) e^{mu^2} phi(x+mu) + q phi(x)] (phi/r = e^{mu^2} phi(x+mu), phi r = phi(x-mu)).
    With s = c (REMOVE) or -c (ADD), e^{s l} <= 1 + r^s for s >= 0 and <= (1-q)^s for s < 0 (l >= log(1-q)),
    and int (1 + r^s) |phi'(x - a)| dx = sqrt(2/pi) + e^{s mu a - s mu^2/2} E|Z| e^{s mu Z}."""
    s = c if direction == "remove" else -c
    lq, l1q = math.log(q), math.log1p(-q)
    if direction == "remove":
        bumps = [(-mu, 2.0 * l1q + mu * mu), (0.0, _LOG2 + lq + l1q), (mu, 2.0 * lq)]
    else:
        bumps = [(-mu, l1q + mu * mu), (0.0, lq)]
    l0 = 0.5 * math.log(2.0 / math.pi)
    terms = []
    for a, lw in bumps:
        if s >= 0.0:
            li = _logaddexp_real(l0, s * mu * a - 0.5 * s * mu * mu + _log_abs_moment(s * mu))
        else:
            li = l0 + s * l1q
        terms.append(lw + li)
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms)) - math.log(mu) - lq


# ---------------------------------------------------------------------- the dispatch's entry point
def mixed_compositions(groups) -> dict[str, LaplaceWithOthers] | None:
    """Per direction, the evaluator of Laplace composed with mechanisms that have a complex log-MGF;
    None where there is no Laplace, nothing else, or a mechanism without one (randomized response)."""
    from ..mechanisms import Laplace

    g = [(m, int(n)) for m, n in groups if int(n) > 0]
    lap = [(m, n) for m, n in g if isinstance(m, Laplace)]
    others = [(m, n) for m, n in g if not isinstance(m, Laplace)]
    if not lap or not others or not all(hasattr(m, "log_mgf") and m.supports_log_mgf() for m, _ in others):
        return None
    counts: dict[float, int] = {}
    for m, n in lap:
        counts[float(m.theta)] = counts.get(float(m.theta), 0) + n
    parts = sorted(counts.items())
    return {d: LaplaceWithOthers(parts, others, d) for d in ("remove", "add")}


def composition_for(groups) -> LaplaceComposition | None:
    """The exact evaluator of a composition of Laplace mechanisms only (one theta: exact everywhere;
    several: the full contour where it settles); None where another mechanism is composed too."""
    from ..mechanisms import Laplace

    g = [(m, int(n)) for m, n in groups if int(n) > 0]
    if not g or not all(isinstance(m, Laplace) for m, _ in g):
        return None
    counts: dict[float, int] = {}
    for m, n in g:  # the loss depends on sensitivity / scale only
        counts[float(m.theta)] = counts.get(float(m.theta), 0) + n
    if len(counts) == 1:
        (theta, T), = counts.items()
        return _cached_composition(theta, T)
    return _cached_mixture(tuple(sorted(counts.items())))


@lru_cache(maxsize=32)
def _cached_mixture(parts: tuple[tuple[float, int], ...]) -> LaplaceMixture:
    return LaplaceMixture(list(parts))


@lru_cache(maxsize=32)
def _cached_composition(theta: float, T: int) -> LaplaceComposition:
    return LaplaceComposition(theta, T)
