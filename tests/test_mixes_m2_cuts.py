"""Session 13 (H-M2) changes to the mixed Laplace / randomized-response brackets (docs/certified_mixed.md F7, R5):
the Chernoff-cut composition of bounds/mixed_fft.py (Laplace(1) x 20 + PSG(1, 0.01) x 100 fits its FFT limit) and
the Chernoff-screened lattice of bounds/rr_contour.py with its own estimate (RR(0.5) x 10 + PSG(2, 0.01) x 50).

References, none sharing code with the modules: dp_accounting's optimistic / pessimistic PLD pair (eps at delta,
value_discretization_interval 1e-3: the certified bracket must overlap it), and mpmath at 30 digits (randomized
response x n + Gaussians: the lattice sum of the Gaussian closed form, as in tests/test_mixed_fft.py).
"""

from __future__ import annotations

import math

import pytest

from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian as PSG, RandomizedResponse as RR
from ewacct.bounds import certify, mixed_fft, rr_contour
from mpref import rr_gauss_delta


def _pld_eps(mechs, delta, vdi=1e-3):
    """(optimistic, pessimistic) eps(delta) of dp_accounting's PLD pair."""
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    import logging

    logging.disable(logging.WARNING)
    try:
        out = []
        for pess in (False, True):
            tot = None
            for kind, arg, n in mechs:
                if kind == "lap":
                    p = pl.from_laplace_mechanism(arg, pessimistic_estimate=pess, value_discretization_interval=vdi)
                elif kind == "rr":  # ewacct's RR(e0) tells the truth w.p. e^e0 / (1 + e^e0)
                    p = pl.from_randomized_response(2.0 / (1.0 + math.exp(arg)), 2, pessimistic_estimate=pess,
                                                    value_discretization_interval=vdi)
                elif kind == "gauss":
                    p = pl.from_gaussian_mechanism(arg, pessimistic_estimate=pess, value_discretization_interval=vdi)
                else:
                    s, q = arg
                    p = pl.from_gaussian_mechanism(s, sampling_prob=q, pessimistic_estimate=pess,
                                                   value_discretization_interval=vdi)
                p = p.self_compose(n)
                tot = p if tot is None else tot.compose(p)
            out.append(float(tot.get_epsilon_for_delta(delta)))
    finally:
        logging.disable(logging.NOTSET)
    return out[0], out[1]


def test_laplace_x20_with_psg_x100_is_narrowed_and_overlaps_pld():
    # before: F declined (the upper law kept the support's bottom -21: 5e6 cells), proven [15.98, 19.36] (17 %)
    # (the bracket itself, with a generous CPU budget: through certify it needs 1.8-2.7 s of its 3 s on a loaded
    # machine; centred on the PLD pair's midpoint, any centre gives a valid bracket)
    p_lo, p_hi = _pld_eps([("lap", 1.0, 20), ("psg", (1.0, 0.01), 100)], 1e-5)
    g = list(Accountant().compose(Laplace(1.0), 20).compose(PSG(1.0, 0.01), 100).groups())
    lo, hi, info = mixed_fft.epsilon_bracket(g, 1e-5, 0.5 * (p_lo + p_hi), time_budget=30.0)
    assert (hi - lo) <= 1e-4 * hi, (lo, hi, info)
    assert p_lo <= p_hi < p_lo + 0.1
    assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)


def test_rr_x10_with_psg_x50():
    # before: R asked the default engine for an estimate (a flagged Chernoff bound, ~1.4 s) and the F bracket ran
    # out of time: proven 2.5 % (1e-5) / 6.2 % (1e-10), 3-13 s.  At 1e-5 R answers through certify; at 1e-10 (where
    # R's estimate is poor, the rest's contour has no lower end on its dominant term and R declines) F's bracket is
    # checked directly
    mechs = [("rr", 0.5, 10), ("psg", (2.0, 0.01), 50)]
    a = Accountant().compose(RR(0.5), 10).compose(PSG(2.0, 0.01), 50)
    certify.clear_memo()
    c = certify.certified_epsilon(a, 1e-5)
    assert "lattice summed" in c.source
    assert (c.upper - c.lower) <= 1e-5 * c.upper
    p_lo, p_hi = _pld_eps(mechs, 1e-5)
    assert max(c.lower, p_lo) <= min(c.upper, p_hi), (c.lower, c.upper, p_lo, p_hi)
    p_lo, p_hi = _pld_eps(mechs, 1e-10)
    lo, hi, info = mixed_fft.epsilon_bracket(list(a.groups()), 1e-10, 0.5 * (p_lo + p_hi), time_budget=30.0)
    assert (hi - lo) <= 1e-4 * hi, (lo, hi, info)
    assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)


def test_gaussian_group_longer_than_a_powered_step():
    # the Gaussian group's one step (mu = 1.08 at h = 2^-16: 1.12e6 cells > fewpart_cert.MAX_STEP) is cut by F7 before
    # any convolution; before: F declined, proven 22 % wide
    mechs = [("lap", 7.735, 20), ("gauss", 9.295, 100)]
    p_lo, p_hi = _pld_eps(mechs, 3.95e-4)
    g = list(Accountant().compose(Laplace(7.735), 20).compose(Gaussian(9.295), 100).groups())
    lo, hi, info = mixed_fft.epsilon_bracket(g, 3.95e-4, 0.5 * (p_lo + p_hi), time_budget=30.0)
    assert (hi - lo) <= 1e-4 * hi, (lo, hi, info)
    assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)


@pytest.mark.parametrize("factor", [0.6, 1.0, 1.3, 1.7])
def test_estimate_far_off_still_brackets_the_mpmath_value(factor):
    # the laws are composed for eps >= e_min (set from the estimate); an estimate above the answer lands the upper
    # end on e_min and the direction is composed once more lower.  Every end checked against mpmath.
    a = Accountant().compose(RR(0.7), 6).compose(Gaussian(2.0), 4)
    g = list(a.groups())
    delta = 1e-6
    est = float(a.get_epsilon(delta).value)
    lo, hi, info = mixed_fft.epsilon_bracket(g, delta, factor * est)
    assert 0.0 <= lo <= hi
    sig = [2.0] * 4
    assert rr_gauss_delta(0.7, 6, sig, hi) <= delta
    if lo > 0.0:
        assert rr_gauss_delta(0.7, 6, sig, lo) > delta
    assert (hi - lo) <= 1e-4 * hi, (factor, lo, hi, info)


def test_rr_contour_own_estimate_matches_mpmath():
    # the lattice's own estimate (no engine estimate given) and the screened terms: ends checked against mpmath
    a = Accountant().compose(RR(1.0), 10).compose(Gaussian(2.0), 3)
    for delta in (1e-4, 1e-9):
        lo, hi, info = rr_contour.epsilon_bracket(list(a.groups()), delta, None, lo=0.0, hi=50.0)
        assert hi - lo <= 1e-5 * hi
        sig = [2.0] * 3
        assert rr_gauss_delta(1.0, 10, sig, hi) <= delta < rr_gauss_delta(1.0, 10, sig, lo)


def test_rr_contour_screened_delta_contains_mpmath():
    # delta brackets with most terms at their Chernoff enclosure: still inside, still narrow
    g = list(Accountant().compose(RR(0.4), 12).compose(Gaussian(1.5), 2).groups())
    for eps in (0.5, 3.0):
        lo, hi, _ = rr_contour.delta_bracket(g, eps)
        ref = rr_gauss_delta(0.4, 12, [1.5] * 2, eps)
        assert lo <= ref <= hi
        assert hi - lo <= 1e-6 * hi
