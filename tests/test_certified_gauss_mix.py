"""Certified brackets of compositions with a Gaussian group (closed-form K) and subsampled steps.

Regression for a proof bug (found 2026-12 by review): ``CertDirection.nodes`` bounded the node
error |e^K - e^K~| by prod(|G~| + r)^n - prod |G~|^n without the Gaussian group's factor
|e^{K_gauss}| = e^{mu2 (c^2 + c - u^2) / 2}, so near u = 0 the node errors were taken e^{Re K_gauss}
times too small (x1540 at c = 2^(7/4), mu2 = 1), and PoissonSubsampledGaussian(5, 1e-4) x1 +
Gaussian(1) x1 at delta = 1e-4 was certified [3.80443591025876, 3.80443591025892] around the true
3.804435910259028.

Independent reference (not the contour integral): conditioning on the subsampled step's output,
the Gaussian step's hockey-stick divergence is in closed form,
delta_G(t) = Phi(m/2 - t/m) - e^t Phi(-m/2 - t/m), so for one subsampled step (P = (1-q) N(0,1) +
q N(mu,1) against N(0,1), l(x) = log(1 - q + q e^{mu x - mu^2/2}))

    REMOVE: delta(eps) = int ((1-q) phi(x) + q phi(x - mu)) delta_G(eps - l(x)) dx,
    ADD:    delta(eps) = int phi(x) delta_G(eps + l(x)) dx,

integrated by mpmath's tanh-sinh at 30 digits; delta is the larger of the two.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian
from ewacct.methods.certified import CertDirection, clear_caches


def _delta_G(t, m):
    return mp.ncdf(m / 2 - t / m) - mp.exp(t) * mp.ncdf(-m / 2 - t / m)


def _mp_delta(eps: float, sigma: float, q: float, gauss_sigma: float, dps: int = 30) -> mp.mpf:
    """max over the two directions of delta(eps) for PSG(sigma, q) x1 + Gaussian(gauss_sigma) x1."""
    with mp.workdps(dps):
        e, q_, mu, m = mp.mpf(eps), mp.mpf(q), 1 / mp.mpf(sigma), 1 / mp.mpf(gauss_sigma)

        def l(x):
            return mp.log1p(q_ * mp.expm1(mu * x - mu * mu / 2))

        pts = [-mp.inf, -12, -8, -4, -2, 0, 2, 4, 8, 12, mp.inf]
        rem = mp.quad(lambda x: ((1 - q_) * mp.npdf(x) + q_ * mp.npdf(x - mu)) * _delta_G(e - l(x), m), pts)
        add = mp.quad(lambda x: mp.npdf(x) * _delta_G(e + l(x), m), pts)
        return max(rem, add)


# the four brackets the review found excluding the truth (1e-14..4e-14 relative wide before the fix)
CASES = [
    (5.0, 1e-4, 1.0, 1e-4),
    (5.0, 1e-4, 1.0, 1e-6),
    (5.0, 1e-4, 1.0, 1e-8),
    (2.0, 1e-3, 1.5, 1e-8),
]


@pytest.mark.parametrize("sigma,q,gs,delta", CASES)
def test_psg_plus_gaussian_bracket_contains_truth(sigma, q, gs, delta):
    clear_caches()
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q), 1).compose(Gaussian(gs), 1)
    r = acc.get_epsilon(delta, certify=True)
    assert r.lower is not None and r.upper is not None and r.lower <= r.upper
    assert "contour" in r.certified_by  # the path the bug was on
    with mp.workdps(30):
        # eps in [lower, upper]  <=>  delta(lower) >= delta >= delta(upper)  (delta(eps) decreasing)
        assert _mp_delta(r.upper, sigma, q, gs) <= delta, (r.lower, r.upper)
        assert _mp_delta(r.lower, sigma, q, gs) >= delta, (r.lower, r.upper)
    assert (r.upper - r.lower) / r.upper < 1e-5


def test_node_error_bound_covers_gaussian_factor():
    """|e^K - e^K~| <= e^loge at the first nodes (where Re K_gauss > 0), K from mpmath: the Gaussian
    part in closed form, log G of the subsampled step by a 30-digit quadrature of its series
    G(w) = sum_j binom(w, j) q^j E[(e^v - 1)^j], E[(e^v - 1)^j] = sum_i binom(j, i) (-1)^{j-i}
    e^{mu^2 i (i-1)/2} (converges fast at q = 1e-4, mu = 0.2)."""
    sigma, q, gs = 5.0, 1e-4, 1.0
    cd = CertDirection([(PoissonSubsampledGaussian(sigma, q), 1), (Gaussian(gs), 1)], "remove")
    cd.node_rtol = 1e-8  # the quantised contour's tolerance (where the review's bracket came from)
    c, h = 2.0 ** 1.75, 0.5
    K, E = cd.nodes(c, h, 0, 4)
    with mp.workdps(30):
        Q, M, m2 = mp.mpf(q), 1 / mp.mpf(sigma), 1 / mp.mpf(gs) ** 2
        mom = [mp.fsum(mp.binomial(j, i) * (-1) ** (j - i) * mp.exp(M * M * i * (i - 1) / 2) for i in range(j + 1))
               for j in range(14)]
        for k in range(4):
            z = mp.mpc(c, k * h)
            w = z + 1
            G = mp.fsum(mp.binomial(w, j) * Q ** j * mom[j] for j in range(14))
            kt = m2 * z * (z + 1) / 2 + mp.log(G)
            err = abs(mp.exp(kt) - mp.exp(mp.mpc(K[k].real, K[k].imag)))
            assert err <= mp.exp(E[k]), (k, err, math.exp(E[k]))
            # and the bound is not vacuous (the node is known to ~1e-9 relative)
            assert E[k] - K[k].real < math.log(1e-8)
