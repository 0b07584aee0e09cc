"""Session 17 (H-MX): certified brackets of randomized-response / Laplace mixes beyond rr_contour's 64 lattice points
(bounds/rr_mix.py; docs/certified_mixed.md parts W and D), checked against independent 30-digit mpmath references:
the binomial lattice (pmf from log-gamma) summed over the Gaussian closed form, and one Laplace step (its two atoms
plus a quadrature of its continuous part) over the Gaussian closed form."""

from __future__ import annotations

import math

import mpmath as mp
import pytest

from ewacct import Accountant, Gaussian, Laplace, RandomizedResponse as RR
from ewacct.bounds import certify

mp.mp.dps = 34


def _gauss_delta(x, mu):
    """Hockey-stick divergence of N(mu, 1) vs N(0, 1) at e^x, any real x (30+ digits)."""
    x, mu = mp.mpf(x), mp.mpf(mu)
    return mp.ncdf(mu / 2 - x / mu) - mp.e ** x * mp.ncdf(-mu / 2 - x / mu)


def _rr_gauss_ref(groups, mu, eps, sd_span=30):
    """sum over the product lattice of the binomial pmfs (log-gamma, each term independent) of the Gaussian delta."""
    pts = [(mp.mpf(0), mp.mpf(1))]
    for e0, n in groups:
        e0m = mp.mpf(e0)
        p = 1 / (1 + mp.e ** (-e0m))
        sd = math.sqrt(n * float(p) * (1 - float(p)))
        mode = int(n * float(p))
        ks = range(max(0, mode - int(sd_span * sd) - 10), min(n, mode + int(sd_span * sd) + 10) + 1)
        g = []
        for k in ks:
            lw = mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1) + k * mp.log(p) + (n - k) * mp.log(1 - p)
            g.append((e0m * (2 * k - n), mp.e ** lw))
        pts = [(a + b, w * v) for a, w in pts for b, v in g]
    return sum(w * _gauss_delta(mp.mpf(eps) - a, mu) for a, w in pts)


def _acc(pairs):
    a = Accountant()
    for m, n in pairs:
        a = a.compose(m, n)
    return a


def _check_eps(acc, delta, ref, width=1e-4):
    certify.clear_memo()
    c = certify.certified_epsilon(acc, delta)
    assert 0.0 < c.lower <= c.upper
    assert ref(c.upper) <= delta, (c, float(ref(c.upper)))  # the upper end is above eps(delta)
    assert ref(c.lower) > delta, (c, float(ref(c.lower)))  # the lower end below it
    assert c.upper - c.lower <= width * c.upper, c
    return c


@pytest.mark.parametrize("groups,sigmas,delta", [
    ([(0.3, 100)], [(2.0, 3)], 1e-6),
    ([(0.5, 10), (0.2, 30)], [(3.0, 1)], 1e-5),
])
def test_window_gauss_eps_and_delta(groups, sigmas, delta):
    from ewacct.bounds import rr_mix

    mu = math.sqrt(sum(n / s ** 2 for s, n in sigmas))
    acc = _acc([(RR(e0), n) for e0, n in groups] + [(Gaussian(s), n) for s, n in sigmas])
    c = _check_eps(acc, delta, lambda e: _rr_gauss_ref(groups, mu, e))
    assert rr_mix.GAUSS_SOURCE in c.source
    eps = float(f"{c.upper:.5g}")
    certify.clear_memo()
    d = certify.certified_delta(acc, eps)
    ref = _rr_gauss_ref(groups, mu, eps)
    assert d.lower <= ref <= d.upper, (d, float(ref))
    assert d.upper - d.lower <= 1e-4 * d.upper


def test_window_gauss_large_count():
    """RR(0.04) x 5000 + Gaussian(1) at 1e-8 (as breaker H-R16's RR(0.01) x 1e5 + Gaussian(1), the proven [15.19,
    24.62] before; benchmarks/certmx_s17_rr.py): 5001 lattice points, the window's tails charged."""
    acc = _acc([(RR(0.04), 5000), (Gaussian(1.0), 1)])
    _check_eps(acc, 1e-8, lambda e: _rr_gauss_ref([(0.04, 5000)], 1.0, e, sd_span=16), width=1e-6)


def _laplace_gauss_ref(theta, mu, eps):
    """One Laplace step (theta = sensitivity / scale; loss theta w.p. 1/2, -theta w.p. e^-theta / 2, theta - 2y with
    density e^-y / 2 on 0 < y < theta) over the Gaussian closed form."""
    t = mp.mpf(theta)
    eps = mp.mpf(eps)
    body = mp.quad(lambda y: mp.e ** (-y) * _gauss_delta(eps - t + 2 * y, mu), [0, t])
    return (_gauss_delta(eps - t, mu) + mp.e ** (-t) * _gauss_delta(eps + t, mu) + body) / 2


def test_dominance_laplace_tiny_theta():
    from ewacct.bounds import rr_mix

    acc = _acc([(Laplace(1e4), 1), (Gaussian(1.0), 2)])
    mu = math.sqrt(2.0)
    c = _check_eps(acc, 1e-6, lambda e: _laplace_gauss_ref(1e-4, mu, e))
    assert rr_mix.SHIFT_SOURCE in c.source
    eps = float(f"{c.upper:.6g}")
    certify.clear_memo()
    d = certify.certified_delta(acc, eps)
    ref = _laplace_gauss_ref(1e-4, mu, eps)
    assert d.lower <= ref <= d.upper, (d, float(ref))
    assert d.upper - d.lower <= 1e-4 * d.upper


def test_dominance_rr_tiny_e0():
    """D directly (through certify W answers this RR + Gaussian mix first): RR(1e-5) x 10 + Gaussian(1.2), eps(delta)
    at the eps level and with the chord, and delta(eps) by the chord; the exact lattice in mpmath."""
    from ewacct.bounds import rr_mix

    acc = _acc([(RR(1e-5), 10), (Gaussian(1.2), 1)])
    g = list(acc.groups())

    def ref(e):
        return _rr_gauss_ref([(1e-5, 10)], 1 / 1.2, e, sd_span=100)

    for chord in (False, True):
        lo, hi, info = rr_mix.shift_bracket(g, "epsilon", 1e-7, chord=chord)
        assert ref(hi) <= 1e-7 < ref(lo), (lo, hi, info)
        assert hi - lo <= 1e-4 * hi
    eps = float(f"{hi:.6g}")
    lo, hi, _ = rr_mix.shift_bracket(g, "delta", eps)
    r = ref(eps)
    assert lo <= r <= hi, (lo, hi, float(r))
    assert hi - lo <= 1e-5 * hi


def test_fft_binomial_group_steps():
    """F10: randomized-response groups enter the rounded FFT bracket as ONE binomial step each (mixed_fft._BinomStep);
    the bracket contains the 34-digit lattice-over-Gaussian reference, within 1e-4."""
    from ewacct.bounds import mixed_fft

    groups = [(0.5, 40), (0.3, 20)]
    acc = _acc([(RR(e0), n) for e0, n in groups] + [(Gaussian(2.0), 3)])
    g = list(acc.groups())
    gr = mixed_fft.parse(g)
    assert gr.n_steps == 3  # (two binomial steps and the Gaussian group)
    delta = 1e-6
    lo, hi, info = mixed_fft.epsilon_bracket(g, delta, 14.0, time_budget=20.0)
    mu = math.sqrt(3.0) / 2.0
    assert _rr_gauss_ref(groups, mu, hi) <= delta
    assert _rr_gauss_ref(groups, mu, lo) > delta
    assert hi - lo <= 1e-4 * hi, (lo, hi, info)
