"""The few-participation quadrature beyond q T = 32 (fewpart.SUPPORT_QN 32 -> 1e4, issue 8).

At tiny q and small sigma the contour refuses at q T in the tens to thousands; the default answer there
was the flagged Chernoff bound (15x the truth at q 2.146e-6, sigma 0.711, delta 3.92e-12).  References:
dp_accounting's PLD bracket, and the contour engine (exact.py, its own MGF kernels) where it settles.
"""

from __future__ import annotations

import warnings

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.methods import fewpart


def _eps(q, sigma, T, delta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Accountant().compose(PSG(sigma, q), T).get_epsilon(delta)


def test_gap_point_is_exact_and_continuous():
    # q T = 31.99999960 was answered by the quadrature, q T = 32.0000017 by the flagged bound 1.955
    below = _eps(2.146e-6, 0.71102, 14911463, 3.92e-12)
    above = _eps(2.146e-6, 0.71102, 14911464, 3.92e-12)
    far = _eps(2.146e-6, 0.71102, 60_000_000, 3.92e-12)
    for r in (below, above, far):
        assert r.valid and r.method.startswith("exact"), (r.method, r.value)
    # one more step changes eps by far less than the tolerance; eps grows with T
    assert abs(above.value - below.value) <= 1e-6 * below.value
    assert below.value <= above.value * (1 + 1e-6) and above.value < far.value
    # below the rigorous Chernoff bound the default used to return
    assert far.value < 1.98


@pytest.mark.parametrize("q,sigma,T,delta", [
    (8.75e-5, 0.664, 644031, 5.3e-10),      # q T 56
    (1.27e-6, 0.701, 348850731, 5.4e-10),   # q T 444
    (1.43e-6, 0.923, 982481350, 6.2e-9),    # q T 1408
])
def test_agrees_with_the_contour_where_it_settles(q, sigma, T, delta):
    ref = _eps(q, sigma, T, delta)
    assert ref.valid and ref.method == "exact"
    e, rel, _ = fewpart.fewpart_epsilon([(q, sigma, T)], delta)
    assert rel <= 1e-6
    assert abs(e - ref.value) <= 1e-6 * ref.value


def test_inside_the_pld_bracket_at_q_t_40():
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    q, sigma, T, delta = 0.04, 0.8, 1000, 1e-8
    out = []
    for pess in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = pld.from_gaussian_mechanism(sigma, value_discretization_interval=1e-3, pessimistic_estimate=pess,
                                            sampling_prob=q, use_connect_dots=pess)
        out.append(p.self_compose(T).get_epsilon_for_delta(delta))
    hi, lo = out
    e, rel, _ = fewpart.fewpart_epsilon([(q, sigma, T)], delta)
    assert rel <= 1e-6
    assert lo <= e <= hi, (lo, e, hi)
