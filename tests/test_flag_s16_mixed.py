"""Randomized response mixed with Gaussian-type mechanisms (and Laplace) on one contour (session 16, H-DF):
methods/mixed_exact.LatticeContour, where the conditioned lattice sum ran out of its budget or had too many
lattice points and the default answered a flagged Chernoff bound (breaker H-R15 F1: 30.04 for 28.4495).

References are independent of the code under test: mpmath sums over the randomized-response binomial of the
Gaussian closed form at 30 digits, mpmath Bromwich integrals of their own MGFs, dp_accounting PLD pairs."""

from __future__ import annotations

import logging
import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse
from ewacct.methods.dispatch import ExactDispatch
from ewacct.methods.mixed_exact import LatticeContour, rr_log_mgf_complex, rr_log_mgf_real

mp.mp.dps = 30


def _mp_gauss_delta(eps, mu):
    eps, mu = mp.mpf(eps), mp.mpf(mu)
    return mp.ncdf(-eps / mu + mu / 2) - mp.exp(eps) * mp.ncdf(-eps / mu - mu / 2)


def _mp_rr_gauss_delta(e0, n, mu, eps):
    """sum_j C(n, j) p^j (1-p)^(n-j) delta_G(eps - e0 (2j - n)) (the Gaussian closed form holds for every real
    argument)."""
    e0 = mp.mpf(e0)
    p = 1 / (1 + mp.exp(-e0))
    return mp.fsum(mp.binomial(n, j) * p ** j * (1 - p) ** (n - j) * _mp_gauss_delta(eps - e0 * (2 * j - n), mu)
                   for j in range(n + 1))


@pytest.mark.parametrize("direction", ["remove", "add"])
def test_contour_rr_with_gaussian_against_mpmath(direction):
    e0, n, sigma, ng = 0.7, 9, 1.5, 4
    mu = math.sqrt(ng) / sigma
    c = LatticeContour([(e0, n)], [], [(Gaussian(sigma), ng)], direction)
    for eps in (0.5, 3.0, 7.0):
        v, rel, _ = c.delta(eps)
        want = _mp_rr_gauss_delta(e0, n, mu, eps)
        assert rel <= 1e-7 and abs(v - float(want)) <= 1e-8 * float(want), (eps, v, want)


def test_contour_rr_laplace_gaussian_against_bromwich():
    # RR(0.5) x 5, Laplace (theta 1) x 3, Gaussian(2) x 3: mpmath's Bromwich integral of its own MGF on Re z = 1
    # through u = 14 (the Gaussian factor e^{-g2 u^2 / 2} is below e^{-73} there, the rest at most its value at 1)
    e0, n, theta, nl, sigma, ng = 0.5, 5, 1.0, 3, 2.0, 3
    c = LatticeContour([(e0, n)], [(theta, nl)], [(Gaussian(sigma), ng)], "remove")
    mu2 = mp.mpf(ng) / sigma ** 2
    p = 1 / (1 + mp.exp(-mp.mpf(e0)))
    eps = 2.5

    def f(u):
        z = mp.mpc(1, u)
        w = z + mp.mpf(1) / 2
        lk = (nl * mp.log(mp.exp(-mp.mpf(theta) / 2) * (mp.cosh(w * theta) + mp.sinh(w * theta) / (2 * w)))
              + n * mp.log(p * mp.exp(z * e0) + (1 - p) * mp.exp(-z * e0)) + mu2 * z * (z + 1) / 2)
        return mp.re(mp.exp(lk - z * eps) / (z * (z + 1)))

    with mp.workdps(20):
        want = mp.quad(f, list(np.linspace(0.0, 14.0, 57))) / mp.pi
    v, rel, _ = c.delta(eps)
    assert rel <= 1e-7 and abs(v - float(want)) <= 1e-8 * float(want), (v, want)


def _pld_eps_pair(segs, delta, vdi):
    return _pld_ends(segs, vdi, lambda p: p.get_epsilon_for_delta(delta))


def _pld_ends(segs, vdi, ask):
    """ask(composed PLD) on dp_accounting's optimistic and pessimistic compositions of ``segs``."""
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    logging.disable(logging.WARNING)
    try:
        ends = []
        for pess in (False, True):
            acc = None
            for kind, a, b, cnt in segs:
                if kind == "rr":
                    p = pld.from_randomized_response(noise_parameter=2 / (1 + math.exp(a)), num_buckets=2,
                                                     pessimistic_estimate=pess, value_discretization_interval=vdi)
                elif kind == "lap":
                    p = pld.from_laplace_mechanism(a, sensitivity=b, pessimistic_estimate=pess,
                                                   value_discretization_interval=vdi)
                elif kind == "g":
                    p = pld.from_gaussian_mechanism(a, pessimistic_estimate=pess, value_discretization_interval=vdi)
                else:
                    p = pld.from_gaussian_mechanism(a, sampling_prob=b, pessimistic_estimate=pess,
                                                    value_discretization_interval=vdi, use_connect_dots=pess)
                p = p.self_compose(cnt)
                acc = p if acc is None else acc.compose(p)
            ends.append(ask(acc))
    finally:
        logging.disable(logging.NOTSET)
    return ends


def test_breaker_f1_default_is_exact_inside_the_pld_pair():
    # H-R15 F1: the conditioned lattice sum ran past its budget and the default answered the flagged Chernoff
    # bound 30.04; dp_accounting's pair at vdi 1e-5 is [28.448066, 28.449528] (35 s: vdi 1e-4 here)
    segs = [("rr", 0.9281, None, 31), ("lap", 9.1399, 1.0, 7), ("psg", 1.509, 0.01257, 204), ("g", 2.2278, None, 20)]
    acc = Accountant()
    acc.compose(RandomizedResponse(0.9281), 31)
    acc.compose(Laplace(9.1399, 1.0), 7)
    acc.compose(PoissonSubsampledGaussian(1.509, 0.01257), 204)
    acc.compose(Gaussian(2.2278), 20)
    r = acc.get_epsilon(8.798e-4)
    assert r.valid and r.method == "exact"
    lo, hi = _pld_eps_pair(segs, 8.798e-4, 1e-4)
    assert lo * (1 - 1e-9) <= r.value <= hi * (1 + 1e-9)


def test_many_lattice_points_with_a_subsampled_rest_are_exact():
    # 151 x 134 = 20234 lattice points (beyond the conditioned sum's MAX_ATOMS) with a subsampled-Gaussian rest:
    # the contour answers, inside dp_accounting's delta pair
    g = [(RandomizedResponse(0.1), 150), (RandomizedResponse(0.07), 133), (PoissonSubsampledGaussian(1.0, 0.01), 20)]
    r = ExactDispatch(g, None).rows("delta", np.array([2.0]))[0]
    assert r.valid and r.method == "exact"
    segs = [("rr", 0.1, None, 150), ("rr", 0.07, None, 133), ("psg", 1.0, 0.01, 20)]
    ends = _pld_ends(segs, 1e-4, lambda p: p.get_delta_for_epsilon(2.0))
    assert ends[0] * (1 - 1e-9) <= r.value <= ends[1] * (1 + 1e-9)


def test_rr_log_mgf_against_mpmath():
    # log(p e^{z e0} + (1 - p) e^{-z e0}), p = 1 / (1 + e^-e0), on both sides of Re z = -1/2 (the branch switch)
    for e0 in (0.05, 1.0, 8.0):
        p = 1 / (1 + mp.exp(-mp.mpf(e0)))
        for c in (1.3, -0.7):
            z = np.array([c + 0j, c + 2.1j, c + 40j])
            got = rr_log_mgf_complex(e0, z)
            for zi, gi in zip(z, got):
                zz = mp.mpc(zi.real, zi.imag)
                ref = p * mp.exp(zz * e0) + (1 - p) * mp.exp(-zz * e0)
                assert abs(complex(ref) / complex(np.exp(gi)) - 1.0) <= 1e-13
            assert abs(rr_log_mgf_real(e0, c) - float(mp.log(p * mp.exp(c * e0) + (1 - p) * mp.exp(-c * e0)))) <= 1e-14
