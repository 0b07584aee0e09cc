"""The randomized-response lattice summed over the rest's contour certificate (ewacct/bounds/rr_contour.py).

References, none sharing code with the module: mpmath at 30 digits (the lattice sum of the Gaussian closed
form, written here), dp_accounting's pessimistic / optimistic PLD pair at a fine discretisation, and the
independent rounded-FFT bracket of bounds/mixed_fft.py.  Small eps exercise the terms below 0 (the
hockey-stick identity, the other direction's contour).
"""

from __future__ import annotations

import math

import pytest

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian as PSG, RandomizedResponse as RR
from ewacct.bounds import mixed_fft, rr_contour
from mpref import rr_gauss_delta


@pytest.mark.parametrize("eps", [0.2, 1.0, 5.0])
def test_rr_gauss_delta_contains_mpmath(eps):
    g = list(Accountant().compose(RR(0.7), 4).compose(Gaussian(3.0), 5).groups())
    lo, hi, _ = rr_contour.delta_bracket(g, eps)
    ref = rr_gauss_delta(0.7, 4, [3.0] * 5, eps)
    assert lo <= ref <= hi
    assert hi - lo <= 1e-6 * hi


@pytest.mark.parametrize("delta", [1e-5, 1e-10])
def test_rr_gauss_epsilon_contains_mpmath(delta):
    a = Accountant().compose(RR(1.0), 10).compose(Gaussian(2.0), 3)
    est = float(a.get_epsilon(delta).value)
    lo, hi, _ = rr_contour.epsilon_bracket(list(a.groups()), delta, est)
    assert hi - lo <= 1e-5 * hi
    sig = [2.0] * 3
    assert rr_gauss_delta(1.0, 10, sig, hi) <= delta < rr_gauss_delta(1.0, 10, sig, lo)


def _pld(e0, n, s, q, m, vdi):
    from dp_accounting.pld import privacy_loss_distribution as pl

    out = []
    for pess in (True, False):
        a = pl.from_randomized_response(2.0 / (1.0 + math.exp(e0)), 2, pessimistic_estimate=pess,
                                        value_discretization_interval=vdi).self_compose(n)
        b = pl.from_gaussian_mechanism(s, sampling_prob=q, pessimistic_estimate=pess,
                                       value_discretization_interval=vdi).self_compose(m)
        out.append(a.compose(b))
    return out  # pessimistic, optimistic


def test_rr_psg_against_pld_pair_and_fft():
    pytest.importorskip("dp_accounting")
    a = Accountant().compose(RR(0.6), 3).compose(PSG(1.0, 0.05), 10)
    g = list(a.groups())
    pess, opt = _pld(0.6, 3, 1.0, 0.05, 10, 2e-4)
    for delta in (1e-6,):
        est = float(a.get_epsilon(delta).value)
        lo, hi, _ = rr_contour.epsilon_bracket(g, delta, est)
        assert hi - lo <= 1e-5 * hi
        p_lo, p_hi = float(opt.get_epsilon_for_delta(delta)), float(pess.get_epsilon_for_delta(delta))
        assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)
        f = mixed_fft.epsilon_bracket(g, delta, est)
        if f is not None:  # the independent rounded-FFT bracket, where it fits its grid
            assert max(lo, f[0]) <= min(hi, f[1]), (lo, hi, f)
    for eps in (0.1, 1.0):  # below e0 n: terms on both sides of 0
        lo, hi, _ = rr_contour.delta_bracket(g, eps)
        p_lo, p_hi = float(opt.get_delta_for_epsilon(eps)), float(pess.get_delta_for_epsilon(eps))
        assert max(lo, p_lo) <= min(hi, p_hi), (eps, lo, hi, p_lo, p_hi)
        assert hi - lo <= 1e-6 * hi


def test_declines_outside_its_scope():
    assert rr_contour.epsilon_bracket(list(Accountant().compose(RR(0.6), 3).groups()), 1e-5, 1.0) is None
    big = list(Accountant().compose(RR(0.6), 70).compose(Gaussian(2.0), 1).groups())  # 71 points > MAX_POINTS
    assert rr_contour.epsilon_bracket(big, 1e-5, 10.0) is None


def test_narrow_takes_the_lattice_contour_first():
    """Through bounds/certify: the fallback certificate narrowed by R (RR with subsampled Gaussians, the issue's
    RR(0.6) x 3 + PSG(1, 0.01) x 100, where the FFT bracket declines), never widened."""
    from ewacct.bounds import certify

    a = Accountant().compose(RR(0.6), 3).compose(PSG(1.0, 0.01), 100)
    c = certify.certified_epsilon(a, 1e-5)
    n = mixed_fft.narrow(a, "epsilon", 1e-5, c)
    assert c.lower <= n.lower <= n.upper <= c.upper
    assert n.upper - n.lower <= 1e-5 * n.upper
    assert n.lower <= float(a.get_epsilon(1e-5).value) <= n.upper
