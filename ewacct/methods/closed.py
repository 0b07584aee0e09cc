"""Closed forms: compositions whose delta(eps) is known exactly, answered so by every method.

* only Gaussian mechanisms: mu-GDP with ``mu^2 = sum n / sigma^2`` (``exact-gaussian``);
* one subsampled-Gaussian step (``exact-single-step``);
* randomized response of one parameter: the exact binomial sum (``exact-binomial``).

Every closed form is evaluated without cancellation (relative error ~1e-15 of delta wherever delta is
a normal double; tests/test_closed_forms.py checks ~1e-13 against mpmath at 50 digits):

* the Gaussian profile ``delta_G(e; mu) = Phi_bar(a) - e^e Phi_bar(a + mu)``, ``a = e/mu - mu/2``, is
  ``exp(-a^2/2) / 2 * [erfcx(A) - erfcx(A + mu/sqrt2)]`` (``A = a/sqrt2``, since ``e - (a+mu)^2/2 =
  -a^2/2``); the bracket is the integral of the positive ``-erfcx'(t) = 2/sqrt(pi) - 2 t erfcx(t)``
  over ``[A, A + mu/sqrt2]`` (Gauss-Legendre), the integrand itself from a continued fraction for
  ``t >= 2`` -- so no difference of nearly equal numbers at small ``mu`` (large sigma) or tiny eps;
* one subsampled step reduces to it: REMOVE ``= q delta_G(log1p(expm1(eps)/q))``, ADD ``= (1 - (1-q)
  e^eps) delta_G(-log1p(expm1(-eps)/q))`` (the hockey-stick integral with the cut at ``l(x) = +-eps``);
* randomized response: the binomial pmf from Boost (scipy ``binom.pmf``, a few ulps; ``logpmf`` lost
  ~1e-9 at n = 1e6 through log-gamma differences) times ``-expm1(eps - loss) > 0``.

eps(delta) inverts the strictly decreasing delta(eps) by bracketing and Brent's method to a
*relative* tolerance of ~1e-15 (:func:`invert_decreasing`; the generic inversion stops at 1e-13
absolute, i.e. 1e-8 relative at eps ~ 1e-5).
"""

from __future__ import annotations

import math

import numpy as np

from scipy.special import erfcx, log_ndtr, ndtr

from .base import Answer, Groups, brentq, structure


class ClosedForm:
    """The :class:`.base.Method` of a composition with a closed form (see :func:`applies`)."""

    def __init__(self, groups: Groups) -> None:
        self.groups = list(groups)
        self.structure = structure(self.groups)

    def delta(self, eps: float, direction: str) -> Answer:
        st = self.structure
        if st == "gaussian":
            mu = math.sqrt(sum(n * (1.0 / m.noise_multiplier) ** 2 for m, n in self.groups))
            return Answer(gaussian_delta(eps, mu), True, {}, "exact-gaussian")
        if st == "single-step":
            m = self.groups[0][0]
            d = single_step_delta(eps, float(m.sampling_probability), 1.0 / float(m.noise_multiplier), direction)
            return Answer(d, True, {}, "exact-single-step")
        if st == "lattice":
            m, n = self.groups[0]
            from .rr_window import rr_delta_window

            d, exact = rr_delta_window(eps, float(m.epsilon0), int(n))
            if exact:
                return Answer(d, True, {}, "exact-binomial")
            note = ("randomized response with too many runs for the windowed binomial sum: the Chernoff "
                    "bound P(K >= k_min) <= exp(-n D(k_min/n || r)) (an upper bound on delta)")
            return Answer(d, False, {"note": note}, "chernoff-binomial")
        raise ValueError(f"no closed form for a {st!r} composition")

    def epsilon(self, delta: float, direction: str) -> Answer:
        eps = invert_decreasing(lambda e: self.delta(e, direction)[0], delta)
        _, valid, diag, used = self.delta(eps, direction)
        return Answer(eps, valid, diag, used)


def invert_decreasing(delta_fn, delta: float) -> float:
    """inf{eps >= 0: delta_fn(eps) <= delta} of a non-increasing delta_fn, to ~1e-15 relative.

    The closed forms are strictly decreasing where positive (the lattice one is continuous and
    strictly decreasing up to its largest loss), so a doubling bracket and Brent's method suffice."""
    if not delta_fn(0.0) > delta:
        return 0.0
    lo, hi = 0.0, 1.0
    while delta_fn(hi) > delta:
        lo, hi = hi, 2.0 * hi
        if hi > 1e15:
            raise ValueError("epsilon exceeds 1e15 for this composition and target_delta (no meaningful privacy)")
    if lo == 0.0:  # shrink the lower end geometrically: relative accuracy at tiny eps
        t = hi
        while t > 1e-300:
            t *= 0.125
            if delta_fn(t) > delta:
                lo = t
                break
            hi = t
    f = lambda e: delta_fn(e) - delta  # noqa: E731
    if f(hi) == 0.0:
        return hi
    return float(brentq(f, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=500))


# ------------------------------------------------------------------ the Gaussian profile
_SQRT2 = math.sqrt(2.0)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_CF_TERMS = 80


def _neg_erfcx_prime(t: np.ndarray) -> np.ndarray:
    """``-erfcx'(t) = 2/sqrt(pi) - 2 t erfcx(t) > 0``, to a few ulps: directly for t < 2 (cancels at
    most a factor ~10), from the Laplace continued fraction ``erfcx(t) = pi^-1/2 / (t + K)``,
    ``K = (1/2)/(t + 1/(t + (3/2)/(t + ...)))`` for t >= 2 (then ``-erfcx' = 2/sqrt(pi) K/(t + K)``;
    80 terms give < 1e-16 relative at t = 2, checked against mpmath)."""
    t = np.asarray(t, dtype=float)
    out = _TWO_OVER_SQRTPI - 2.0 * t * erfcx(t)
    big = t >= 2.0
    if np.any(big):
        tb = t[big]
        k = np.zeros_like(tb)
        for j in range(_CF_TERMS, 0, -1):
            k = (0.5 * j) / (tb + k)
        out[big] = _TWO_OVER_SQRTPI * k / (tb + k)
    return out


def _erfcx_drop(a: float, h: float) -> float:
    """``erfcx(a) - erfcx(a + h) > 0`` for h > 0, without cancellation."""
    if h >= 1.0 and a <= 30.0 * h:
        # erfcx(a + h) / erfcx(a) is at most ~a / (a + h), so the difference keeps >= h / (a + h) of
        # the larger term: at most a factor ~31 lost, a relative error ~1e-14
        return float(erfcx(a) - erfcx(a + h))
    n = max(1, int(math.ceil(h / 0.75)))
    w = h / n
    total = 0.0
    for i in range(n):
        left = a + i * w
        x = left + 0.5 * w * (_GL_X + 1.0)
        total += 0.5 * w * float(np.dot(_GL_W, _neg_erfcx_prime(x)))
    return total


def gaussian_delta(eps: float, mu: float) -> float:
    """Exact delta(eps) of a mu-GDP pair (Dong, Roth & Su 2022, Cor. 2.13), cancellation-free.

    ``delta = Phi_bar(a) - e^eps Phi_bar(a + mu)`` with ``a = eps/mu - mu/2``.  For a < -1 the
    subtracted term is below Phi_bar(1) of the first (eps >= 0 forces a + mu >= -a), so it is
    evaluated directly; otherwise as ``exp(-a^2/2)/2 [erfcx(a/sqrt2) - erfcx((a+mu)/sqrt2)]``."""
    eps = float(eps)
    if eps < 0.0:
        raise ValueError("eps must be >= 0")
    if math.isinf(eps):
        return 0.0
    a = eps / mu - 0.5 * mu
    if a < -1.0:
        first = float(ndtr(-a))
        second = math.exp(eps + float(log_ndtr(-(a + mu)))) if eps + float(log_ndtr(-(a + mu))) > -745.0 else 0.0
        return max(0.0, first - second)
    drop = _erfcx_drop(a / _SQRT2, mu / _SQRT2)
    if not drop > 0.0:
        return 0.0
    return math.exp(-0.5 * a * a + math.log(0.5 * drop))


# ------------------------------------------------------------------ one subsampled-Gaussian step
def single_step_delta(eps: float, q: float, mu: float, direction: str) -> float:
    """Exact delta(eps) of one Poisson-subsampled Gaussian step (rate q, ``mu = 1/sigma``).

    REMOVE (P = (1-q) N(0,1) + q N(mu,1), Q = N(0,1)): the cut ``l(x) = eps`` gives
    ``delta = q Phi_bar(x - mu) - (e^eps - 1 + q) Phi_bar(x)`` with ``e^{mu x - mu^2/2} = (e^eps - 1 + q)/q``,
    i.e. ``q delta_G(e')``, ``e' = log(1 + (e^eps - 1)/q)``.
    ADD (P and Q swapped): with ``c = e^-eps - 1 + q`` (delta = 0 when c <= 0),
    ``delta = Phi(x) - e^eps [(1-q) Phi(x) + q Phi(x - mu)] = e^eps c delta_G(log(q/c))``."""
    eps = float(eps)
    if direction == "remove":
        if q >= 1.0:
            return gaussian_delta(eps, mu)
        if eps > 30.0:
            e1 = eps - math.log(q) + math.log1p(-(1.0 - q) * math.exp(-eps))
        else:
            e1 = math.log1p(math.expm1(eps) / q)
        return q * gaussian_delta(e1, mu)
    if direction == "add":
        if q >= 1.0:
            return gaussian_delta(eps, mu)
        em = math.expm1(-eps)  # in (-1, 0]
        c = q + em
        if not c > 0.0:
            return 0.0
        e2 = -math.log1p(em / q)
        pref = -math.expm1(eps + math.log1p(-q))  # 1 - (1-q) e^eps = e^eps c
        if not pref > 0.0:
            return 0.0
        return pref * gaussian_delta(e2, mu)
    raise ValueError(f"direction must be 'remove' or 'add', got {direction!r}")


# ------------------------------------------------------------------ randomized response
def rr_delta(eps: float, eps0: float, n: int) -> float:
    """Exact delta(eps) of n-fold binary randomized response (both directions coincide)."""
    from scipy.stats import binom

    r_p = 1.0 / (1.0 + math.exp(-eps0))  # probability of +eps0 under the upper measure
    k = np.arange(n + 1)
    loss = eps0 * (2 * k - n)
    sel = loss > eps
    if not sel.any():
        return 0.0
    pmf = binom.pmf(k[sel], n, r_p)  # Boost: a few ulps (logpmf loses ~n log n ulps)
    # pmf_P(k) - e^eps pmf_Q(k) = pmf_P(k) (1 - e^{eps - loss_k}) >= 0 on sel
    terms = pmf * -np.expm1(eps - loss[sel])
    return float(math.fsum(terms))
