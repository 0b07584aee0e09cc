"""Closed forms: compositions whose delta(eps) is known exactly, answered so by every method.

* only Gaussian mechanisms: mu-GDP with ``mu^2 = sum n / sigma^2`` (``exact-gaussian``);
* one subsampled-Gaussian step (``exact-single-step``);
* randomized response of one parameter: the exact binomial sum (``exact-binomial``).

eps(delta) inverts delta(eps) numerically (:func:`.base.invert_monotone`).
"""

from __future__ import annotations

import math

import numpy as np

from .._kernels.special import norm_logcdf
from .base import Answer, Groups, epsilon_by_inversion, structure


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
            return Answer(m.exact_single_step_delta(eps, direction), True, {}, "exact-single-step")
        if st == "lattice":
            m, n = self.groups[0]
            return Answer(rr_delta(eps, m.epsilon0, n), True, {}, "exact-binomial")
        raise ValueError(f"no closed form for a {st!r} composition")

    def epsilon(self, delta: float, direction: str) -> Answer:
        return epsilon_by_inversion(lambda e: self.delta(e, direction), delta)


def gaussian_delta(eps: float, mu: float) -> float:
    """Exact delta(eps) of a mu-GDP pair, in log space (Dong, Roth & Su 2022, Cor. 2.13)."""
    a = norm_logcdf(-eps / mu + mu / 2.0)
    b = eps + norm_logcdf(-eps / mu - mu / 2.0)
    if b >= a:
        return 0.0
    return float(math.exp(a) * -math.expm1(b - a))


def rr_delta(eps: float, eps0: float, n: int) -> float:
    """Exact delta(eps) of n-fold binary randomized response (both directions coincide)."""
    from scipy.stats import binom

    r_p = 1.0 / (1.0 + math.exp(-eps0))  # probability of +eps0 under the upper measure
    k = np.arange(n + 1)
    loss = eps0 * (2 * k - n)
    sel = loss > eps
    if not sel.any():
        return 0.0
    lp = binom.logpmf(k[sel], n, r_p)
    lq = binom.logpmf(k[sel], n, 1.0 - r_p)
    # pmf_P(k) - e^eps pmf_Q(k) = pmf_P(k) (1 - e^{eps - loss_k}) >= 0 on sel
    terms = np.exp(lp) * -np.expm1(eps - loss[sel])
    return float(np.sum(terms))
