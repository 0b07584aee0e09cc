"""delta(eps) where the exact engine cannot settle: the answer is a flagged rigorous bound, never above the
trivial bound on delta(0), and the call returns promptly.

Independent references: the total variation distance of one Poisson-subsampled Gaussian step in closed form
(mpmath, q * erf(mu / (2 sqrt 2))), and the probability that the record is used at all, 1 - (1 - q)^T, which
bounds delta(0) by a coupling argument independent of the engine's code.
"""
from __future__ import annotations

import math
import warnings

import mpmath as mp
import pytest

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods.dispatch import BOUND_METHODS
from ewacct.methods.exact import ExactMethod


@pytest.mark.parametrize("sigma,q", [(0.05, 1e-3), (0.5, 0.01), (1.0, 6.03e-7), (20.0, 0.3)])
def test_delta_zero_bound_covers_one_step_tv(sigma, q):
    mp.mp.dps = 40
    tv = mp.mpf(q) * mp.erf(1 / (2 * mp.sqrt(2) * mp.mpf(sigma)))
    b0 = ExactMethod([(PoissonSubsampledGaussian(sigma, q), 1)]).delta_at_zero_bound()
    assert b0 >= tv
    assert b0 <= q * (1 + 1e-9)  # never above the probability that the record is used


def test_record_use_bound_is_used_where_smaller():
    # sigma 0.05: joint convexity gives erf(10 q mu / 2 sqrt 2) ~ 0.08; the record is used with probability ~0.01
    q, T = 1e-3, 10
    b0 = ExactMethod([(PoissonSubsampledGaussian(0.05, q), T)]).delta_at_zero_bound()
    used = 1 - (1 - mp.mpf(q)) ** T
    assert used <= b0 <= used * (1 + 1e-9)


@pytest.mark.parametrize("sigma,q,T,eps", [
    (1.0, 6.03e-7, 37, 0.948),   # ran for minutes in the saddle searches at c ~ 1e8-1e15
    (1.0, 1e-4, 10, 0.0468),     # Chernoff 0.0089, above delta(0) <= 1e-3
    (1.0, 1e-4, 10, 1.0),
])
def test_unsettled_delta_is_flagged_bound_below_trivial(sigma, q, T, eps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_delta(eps)
    assert math.isfinite(r.value) and r.value >= 0.0
    used = float(1 - (1 - mp.mpf(q)) ** T)
    assert r.value <= used * (1 + 1e-9)
    if r.method in BOUND_METHODS:
        assert not r.valid
    # a bound on delta(eps) must lie above delta(eps), so above this lower bound of it (mpmath):
    mp.mp.dps = 30
    mu = mp.mpf(1) / sigma
    shift = (T - 1) * mp.log1p(-q)
    e1 = eps - shift  # the remaining steps lower L by at most |shift|

    def payoff(x):  # REMOVE, P = (1-q) N(0,1) + q N(mu,1) in units of sigma; loss of one step
        l = mp.log1p(q * mp.expm1(mu * x - mu * mu / 2))
        return max(mp.mpf(0), 1 - mp.exp(e1 - l))

    # every step's REMOVE loss exceeds log(1 - q), so L >= l_1 + shift and delta(eps) >= E[(1 - e^{e1 - l_1})_+]
    xs = mu / 2 + (mp.log(mp.expm1(e1) / q + 1)) / mu  # payoff > 0 beyond this x
    dens = lambda x: ((1 - q) * mp.npdf(x) + q * mp.npdf(x - mu)) * payoff(x)
    lower = mp.quad(dens, [xs, xs + 1, xs + 5, xs + 40])
    assert r.value >= float(lower) * (1 - 1e-9)


def test_large_sigma_tiny_q_deep_tail_stays_exact():
    """The saddle-search cap (the kernel's reach, C_REACH / l'(x0)) must not cut off cheap saddles: at
    sigma 742, q 2.19e-8, T 4118 the loss is ~ N(0, mu_eff^2) with mu_eff ~ 1.9e-9 (CLT), so delta(1e-6)
    ~ exp(-(1e-6 / mu_eff)^2 / 2) ~ e^-1.4e5: zero in double precision, and exact (not a flagged bound)."""
    q, s, T = 2.19e-8, 742.0, 4118
    mu_eff = math.sqrt(T * q * q * math.expm1(1.0 / (s * s)))
    assert (1e-6 / mu_eff) ** 2 / 2 > 1e5
    r = Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_delta(1e-6)
    assert r.method not in BOUND_METHODS and r.valid
    assert 0.0 <= r.value < 1e-300


def test_flagged_tail_bound_is_prompt_and_below_delta0():
    # sigma 100, q 1e-9, T 1e9: spent 3 s on a contour at the capped abscissa before the cap followed l'(x0)
    q, s, T = 1e-9, 100.0, 10**9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_delta(1e-3)
    b0 = ExactMethod([(PoissonSubsampledGaussian(s, q), T)]).delta_at_zero_bound()
    assert math.isfinite(r.value) and 0.0 <= r.value <= b0
    if r.method in BOUND_METHODS:
        assert not r.valid
