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


def test_randomized_response_mixed_through_the_accountant():
    # randomized response mixed with Gaussians is exact by conditioning on its lattice; reference:
    # mpmath at 40 digits, the RR loss enumerated (values e0 (2j - n), binomial weights) and the
    # Gaussian hockey stick Phi(-x/mu + mu/2) - e^x Phi(-x/mu - mu/2) at each shifted eps
    import mpmath as mp

    e0, n, sigma, ng = 1.0, 3, 1.0, 2
    acc = Accountant().compose(RandomizedResponse(e0), n).compose(Gaussian(sigma), ng)
    with mp.workdps(40):
        p = 1 / (1 + mp.exp(-mp.mpf(e0)))
        mu = mp.sqrt(ng) / sigma

        def ref_delta(eps):
            return mp.fsum(mp.binomial(n, j) * p**j * (1 - p) ** (n - j)
                           * (mp.ncdf(-(eps - e0 * (2 * j - n)) / mu + mu / 2)
                              - mp.exp(eps - e0 * (2 * j - n)) * mp.ncdf(-(eps - e0 * (2 * j - n)) / mu - mu / 2))
                           for j in range(n + 1))

        r = acc.get_epsilon(1e-5)
        assert r.method == "exact" and r.valid
        eps_ref = mp.findroot(lambda e: mp.log(ref_delta(e)) - mp.log(mp.mpf("1e-5")), r.value)
        assert r.value == pytest.approx(float(eps_ref), rel=1e-8)
        d = acc.get_delta(1.0)
        assert d.method == "exact" and d.value == pytest.approx(float(ref_delta(1)), rel=1e-9)
        c = acc.get_epsilon(1e-5, certify=True)  # a proven bracket (wide here), containing the truth
        assert c.lower <= float(eps_ref) <= c.upper


# ------------------------------------------------------------------ accuracy at the corners (tiny eps, large sigma)
# Reference: the hockey-stick value of the dominating pair at 50 digits, with the cut where the loss
# l(x) = log(1 - q + q e^{mu x - mu^2/2}) equals +-eps located by bisection in x (not by the closed
# form's cut), then P(set) - e^eps Q(set) from mpmath's erfc; eps(delta) by bisection of that value.
BREAKER = (153.5644, 0.00040426423847997605, 2.2108578001112662e-10)  # sigma, q, delta


def _mp_cut_delta(q, s, eps, direction):
    q, mu, eps = mp.mpf(q), 1 / mp.mpf(s), mp.mpf(eps)
    ell = lambda x: mp.log(1 - q + q * mp.exp(mu * x - mu**2 / 2))  # noqa: E731
    sf = lambda x: mp.erfc(x / mp.sqrt(2)) / 2  # noqa: E731
    target = eps if direction == "remove" else -eps
    if q < 1 and target <= mp.log(1 - q):
        return 1 - mp.exp(eps) if direction == "remove" else mp.mpf(0)
    lo, hi = mp.mpf(-1), mp.mpf(1)
    while ell(lo) > target:
        lo *= 2
    while ell(hi) < target:
        hi *= 2
    for _ in range(300):
        m = (lo + hi) / 2
        lo, hi = (lo, m) if ell(m) > target else (m, hi)
        if hi - lo < mp.mpf(10) ** -40 * (1 + abs(hi)):
            break
    x = (lo + hi) / 2
    if direction == "remove":  # {l > eps} = {x > x_c}: P1 - e^eps P0
        return (1 - q) * sf(x) + q * sf(x - mu) - mp.exp(eps) * sf(x)
    return sf(-x) - mp.exp(eps) * ((1 - q) * sf(-x) + q * sf(mu - x))  # {-l > eps} = {x < x_c}


def _mp_eps(delta_fn, delta, guess):
    delta = mp.mpf(delta)
    assert guess > 0 and delta_fn(0) > delta
    lo, hi = mp.mpf(guess) * (1 - mp.mpf(1e-9)), mp.mpf(guess) * (1 + mp.mpf(1e-9))
    while delta_fn(lo) <= delta:
        lo /= 2
    while delta_fn(hi) > delta:
        hi *= 2
    while hi - lo > mp.mpf(10) ** -20 * hi:
        m = (lo + hi) / 2
        lo, hi = (m, hi) if delta_fn(m) > delta else (lo, m)
    return (lo + hi) / 2


@pytest.mark.parametrize("s,q", [(0.05, 1e-12), (0.05, 0.3), (0.3, 1e-6), (1.0, 0.01), (5.0, 1e-6),
                                 (153.5644, 0.00040426423847997605), (1e4, 1e-12), (1e4, 0.01), (1e4, 1.0)])
def test_single_step_delta_relative_1e13_at_the_corners(s, q):
    from ewacct.methods.closed import single_step_delta

    with mp.workdps(50):
        for eps in (0.0, 1e-9, 1e-5, 1e-3, 0.1, 1.0, 5.0):
            for d in ("remove", "add"):
                ref = _mp_cut_delta(q, s, eps, d)
                if ref < mp.mpf(1e-200):  # below ~1e-200 the condition number a^2 of exp(-a^2/2) dominates
                    continue
                got = single_step_delta(eps, q, 1.0 / s, d)
                assert abs(got - ref) <= 1e-13 * ref, (s, q, eps, d, got, float(ref))


@pytest.mark.parametrize("s,q,delta", [BREAKER, (153.5644, 1e-6, 1e-12), (1e4, 1e-6, 1e-12), (1e4, 0.01, 2e-10),
                                       (5.0, 1e-6, 1e-12), (0.3, 0.3, 1e-6), (0.05, 1e-10, 1e-12),
                                       (1e4, 0.3, 1e-6), (0.8, 1.0, 0.1)])
def test_single_step_epsilon_relative_1e12_against_mpmath(s, q, delta):
    r = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=1, target_delta=delta)
    got = float(r)
    assert r.method in ("exact-single-step", "exact-gaussian") and r.valid
    with mp.workdps(50):
        ref = _mp_eps(lambda e: max(_mp_cut_delta(q, s, e, "remove"), _mp_cut_delta(q, s, e, "add")), delta, got)
        assert abs(got - ref) <= 1e-12 * ref, (got, float(ref))


@pytest.mark.parametrize("sigma,n,delta", [(1e4, 3, 1e-12), (153.5644, 3, 2.2e-10), (1.3, 3, 1e-6), (0.05, 3, 0.5),
                                           (0.05, 1, 1e-12), (2.0, 1000, 1e-8)])
def test_gaussian_epsilon_relative_1e12_against_mpmath(sigma, n, delta):
    acc = Accountant().compose(Gaussian(sigma), n)
    got = float(acc.get_epsilon(delta))
    with mp.workdps(50):
        mu = mp.sqrt(n) / mp.mpf(sigma)
        f = lambda e: mp.ncdf(mu / 2 - e / mu) - mp.exp(e) * mp.ncdf(-mu / 2 - e / mu)  # noqa: E731
        ref = _mp_eps(f, delta, got)
        assert abs(got - ref) <= 1e-12 * ref, (got, float(ref))


@pytest.mark.parametrize("e0,n,delta", [(0.5, 200, 1e-6), (0.01, 2000, 1e-9), (2.0, 7, 1e-3)])
def test_randomized_response_epsilon_relative_1e12_against_mpmath(e0, n, delta):
    acc = Accountant().compose(RandomizedResponse(e0), n)
    got = float(acc.get_epsilon(delta))
    with mp.workdps(50):
        e0m = mp.mpf(e0)
        r = mp.exp(e0m) / (1 + mp.exp(e0m))
        ks = range(n + 1)
        lp = [mp.binomial(n, k) * r**k * (1 - r) ** (n - k) for k in ks]

        def f(e):
            return mp.fsum(lp[k] * (1 - mp.exp(e - e0m * (2 * k - n))) for k in ks if e0m * (2 * k - n) > e)

        ref = _mp_eps(f, delta, got)
        assert abs(got - ref) <= 1e-12 * ref, (got, float(ref))
