"""Exact closed forms: Gaussian composition, one subsampled-Gaussian step, randomized response."""

import math

import mpmath as mp
import numpy as np
import pytest

import ewacct
from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian, RandomizedResponse


def test_gaussian_composition_test_value():
    # theory.md Sec. 1.3: mu_T = 1, eps = 1 -> delta = 0.1269367375
    acc = Accountant().compose(Gaussian(noise_multiplier=2.0), 4)  # mu = 0.5, 4 steps -> mu_T = 1
    r = acc.get_delta(1.0)
    assert r.method == "exact-gaussian"
    assert abs(float(r) - 0.1269367375) < 1e-10


def test_gaussian_eps_roundtrip_and_q_one():
    a = Accountant().compose(Gaussian(1.5), 10)
    b = Accountant().compose(PoissonSubsampledGaussian(1.5, 1.0), 10)
    ea, eb = float(a.get_epsilon(1e-6)), float(b.get_epsilon(1e-6))
    assert ea == pytest.approx(eb, rel=1e-12)
    assert float(a.get_delta(ea)) == pytest.approx(1e-6, rel=1e-9)


def _mp_single_step_delta(q, s, eps, direction):
    with mp.workdps(40):
        q, mu, eps = mp.mpf(q), 1 / mp.mpf(s), mp.mpf(eps)
        ell = lambda x: mp.log(1 - q + q * mp.exp(mu * x - mu**2 / 2))  # noqa: E731
        p1 = lambda x: (1 - q) * mp.npdf(x) + q * mp.npdf(x - mu)  # noqa: E731
        # the positive part has a kink where l(x) = +-eps: make it a quadrature breakpoint
        c = eps if direction == "remove" else -eps
        pts = [-mp.inf, -10, 0, mu, 10, mp.inf]
        if mp.expm1(c) + q > 0:
            pts.append((mp.log((mp.expm1(c) + q) / q) + mu**2 / 2) / mu)
        pts = sorted(pts)
        if direction == "remove":
            f = lambda x: max(p1(x) - mp.exp(eps) * mp.npdf(x), 0)  # noqa: E731
        else:
            f = lambda x: max(mp.npdf(x) - mp.exp(eps) * p1(x), 0)  # noqa: E731
        return float(mp.quad(f, pts))


@pytest.mark.parametrize("q,s,eps", [(0.01, 0.8, 0.5), (0.3, 1.0, 1.0), (0.05, 0.5, 2.0)])
@pytest.mark.parametrize("direction", ["remove", "add"])
def test_single_step_exact_matches_mpmath(q, s, eps, direction):
    m = PoissonSubsampledGaussian(s, q)
    ref = _mp_single_step_delta(q, s, eps, direction)
    got = m.exact_single_step_delta(eps, direction)
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-15)


def test_single_step_accountant_uses_exact():
    acc = Accountant().compose(PoissonSubsampledGaussian(0.8, 0.01), 1)
    r = acc.get_delta(0.5)
    assert r.method == "exact-single-step"


@pytest.mark.parametrize("e0,n,eps", [(0.5, 10, 1.0), (1.0, 25, 3.0), (0.2, 200, 1.5)])
def test_randomized_response_matches_convolution(e0, n, eps):
    # independent: n-fold convolution of the two-point pmfs on the lattice, then the hockey stick
    rp = math.exp(e0) / (1 + math.exp(e0))
    p = np.array([1.0])
    qv = np.array([1.0])
    for _ in range(n):
        p = np.convolve(p, [1 - rp, rp])
        qv = np.convolve(qv, [rp, 1 - rp])
    loss = e0 * (2 * np.arange(n + 1) - n)
    ref = float(np.sum(np.maximum(p - math.exp(eps) * qv, 0.0)))
    r = Accountant().compose(RandomizedResponse(e0), n).get_delta(eps)
    assert r.method == "exact-binomial"
    assert float(r) == pytest.approx(ref, rel=1e-10, abs=1e-300)
    assert loss.max() == pytest.approx(n * e0)


def test_randomized_response_cannot_mix():
    acc = Accountant().compose(RandomizedResponse(1.0), 3).compose(Gaussian(1.0), 2)
    with pytest.raises(ValueError, match="randomized response"):
        acc.get_epsilon(1e-5)
