"""GDP / CLT baseline: Gaussian differential privacy of Poisson-subsampled DP-SGD.

The central-limit approximation of Bu, Dong, Long and Su (2020, "Deep learning
with Gaussian differential privacy", Harvard Data Science Review, Thm 5 /
Cor 5.4) says T steps of the Poisson-subsampled Gaussian mechanism with rate q
and noise multiplier sigma are approximately mu-GDP with

    mu = q * sqrt(T * (exp(1 / sigma^2) - 1)),

and for a heterogeneous composition mu^2 = sum_g count_g q_g^2 (exp(1/sigma_g^2) - 1).
A mu-GDP mechanism is (eps, delta(eps))-DP for every eps >= 0 with the exact
duality (Dong, Roth, Su 2022, Cor 2.13)

    delta(eps) = Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2).

This is an *approximation*, not a bound: it can under-report epsilon (Opacus
demoted its GDP accountant with a warning for that reason), so the adapter
reports ``is_bound = False``. See docs/math.md (the GDP/CLT baseline).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy.optimize import brentq
from scipy.special import log_ndtr, ndtr

from ewacct.baselines._interface import (
    Baseline,
    Groups,
    check_delta,
    check_epsilon,
    importable,
    normalize_groups,
)

__all__ = [
    "gdp_mu",
    "gdp_delta",
    "gdp_epsilon",
    "GdpBaseline",
    "OpacusGdpBaseline",
]


def gdp_mu(groups: Sequence[Sequence[Any]]) -> float:
    """The CLT GDP parameter mu of a (possibly heterogeneous) composition.

    Args:
        groups: ``(noise_multiplier, sampling_probability, count)`` triples.

    Returns:
        mu >= 0; ``math.inf`` when exp(1/sigma^2) overflows (sigma below ~0.038).

    Raises:
        ValueError: on invalid groups.
    """
    g = normalize_groups(groups)
    total = 0.0
    for sigma, q, count in g:
        x = 1.0 / (sigma * sigma)
        if x > 700.0:
            return math.inf
        total += count * q * q * math.expm1(x)
    return math.sqrt(total)


def _delta_of_mu(eps: float, mu: float) -> float:
    """Exact mu-GDP -> (eps, delta) duality, evaluated in log space for the second term."""
    if mu == 0.0:
        return 0.0
    if math.isinf(mu):
        return 1.0
    a = -eps / mu + mu / 2.0
    b = -eps / mu - mu / 2.0
    first = float(ndtr(a))
    second = math.exp(eps + float(log_ndtr(b))) if eps + float(log_ndtr(b)) > -745.0 else 0.0
    return max(first - second, 0.0)


def gdp_delta(*, mu: float, target_epsilon: float) -> float:
    """delta(eps) of a mu-GDP mechanism (exact duality).

    Args:
        mu: the GDP parameter, >= 0 (inf allowed: delta = 1).
        target_epsilon: eps >= 0.

    Returns:
        delta in [0, 1].
    """
    eps = check_epsilon(target_epsilon)
    if not (mu >= 0.0):
        raise ValueError(f"mu must be a number >= 0, got {mu!r}")
    return _delta_of_mu(eps, float(mu))


def gdp_epsilon(*, mu: float, target_delta: float) -> float:
    """eps(delta) of a mu-GDP mechanism: the smallest eps with delta(eps) <= target.

    delta(eps) is continuous and strictly decreasing in eps, so the root is
    found by Brent's method on a bracket grown by doubling (no fixed upper end,
    unlike Opacus' [0, 500]).

    Args:
        mu: the GDP parameter, >= 0.
        target_delta: delta in (0, 1).

    Returns:
        eps >= 0 (0 when delta(0) <= target; inf when mu is inf).
    """
    d = check_delta(target_delta)
    if not (mu >= 0.0):
        raise ValueError(f"mu must be a number >= 0, got {mu!r}")
    mu = float(mu)
    if math.isinf(mu):
        return math.inf
    if _delta_of_mu(0.0, mu) <= d:
        return 0.0
    hi = max(1.0, mu * mu)
    while _delta_of_mu(hi, mu) > d:
        hi *= 2.0
        if hi > 1e12:  # pragma: no cover - needs mu ~ 1e6
            return math.inf
    root = brentq(lambda e: _delta_of_mu(e, mu) - d, 0.0, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=500)
    # step to the safe side of the root: delta(eps) <= target
    while _delta_of_mu(root, mu) > d:
        root = np.nextafter(root, math.inf)
    return float(root)


class GdpBaseline(Baseline):
    """GDP/CLT closed form (an approximation, not a bound)."""

    name = "gdp"
    label = "GDP / CLT (closed form)"
    is_bound = False
    source = "closed form (Bu et al. 2020; Dong et al. 2022)"

    def _availability(self) -> tuple[bool, str]:
        return True, ""

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        mu = gdp_mu(groups)
        return {"value": gdp_epsilon(mu=mu, target_delta=target_delta), "extra": {"mu": mu}, "note": "CLT approximation"}

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        mu = gdp_mu(groups)
        return {"value": gdp_delta(mu=mu, target_epsilon=target_epsilon), "extra": {"mu": mu}, "note": "CLT approximation"}


class OpacusGdpBaseline(Baseline):
    """Opacus' GDP analysis (``opacus.accountants.analysis.gdp``), for cross-checks.

    Opacus supports only homogeneous compositions here; heterogeneous groups are
    reported as a failure. Its root bracket is fixed at [0, 500].
    """

    name = "gdp-opacus"
    label = "GDP (Opacus)"
    is_bound = False
    source = "opacus.accountants.analysis.gdp"

    def _availability(self) -> tuple[bool, str]:
        return importable("opacus", "opacus", "opacus.accountants.analysis.gdp")

    @staticmethod
    def _single(groups: Groups) -> tuple[float, float, int]:
        if len(groups) != 1:
            raise NotImplementedError("Opacus GDP needs a homogeneous composition")
        return groups[0]

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        from opacus.accountants.analysis import gdp

        sigma, q, count = self._single(groups)
        eps = gdp.compute_eps_poisson(steps=count, noise_multiplier=sigma, sample_rate=q, delta=target_delta)
        mu = gdp.compute_mu_poisson(steps=count, noise_multiplier=sigma, sample_rate=q)
        return {"value": float(eps), "extra": {"mu": float(mu)}}

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        from opacus.accountants.analysis import gdp

        sigma, q, count = self._single(groups)
        mu = gdp.compute_mu_poisson(steps=count, noise_multiplier=sigma, sample_rate=q)
        return {"value": float(gdp.delta_eps_mu(eps=target_epsilon, mu=float(mu))), "extra": {"mu": float(mu)}}
