"""Certified bounds: rigorous moment enclosures, the DGG uniform bound, analytic eps brackets."""

import math
import warnings

import numpy as np
import pytest

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian
from ewacct.bounds.analytic import analytic_epsilon_bracket, uniform_errors
from ewacct.bounds.dgg import closed_form_iid, closed_form_inid, integral_form_iid
from ewacct.bounds.moments import subsampled_gaussian_moments

from _mpfast import sg_cumulants_fixed


@pytest.mark.parametrize("q,s", [(0.029696, 0.7865), (0.01, 0.8), (1e-3, 2.0)])
@pytest.mark.parametrize("side", ["null", "alt"])
def test_moment_balls_contain_mpmath(q, s, side):
    k = sg_cumulants_fixed(q, s, side, n=4)
    m = subsampled_gaussian_moments(q, s, side)
    m2, m3, m4 = k[1], k[2], k[3] + 3 * k[1] ** 2
    for (lo, hi), ref in ((m.m2, m2), (m.m3, m3), (m.m4, m4)):
        # the ball must contain the 40-digit value up to the reference's own float rounding
        assert lo - 4e-16 * abs(ref) <= ref <= hi + 4e-16 * abs(ref)
    assert m.a1[0] > 0 and m.a3[0] > 0
    # Lyapunov / Jensen: (E|xi|)^2 <= E xi^2 <= (E|xi|^3)^(2/3)
    assert m.a1[0] ** 2 <= m.m2[1] and m.m2[0] <= m.a3[1] ** (2 / 3)


def test_uniform_bound_matches_theory_table():
    # theory.md Sec. 5.4 (a raw-moment port): our centred inputs give nearby values
    table = {(0.029696, 0.7865, 660): (0.149, 0.217), (0.01, 0.8, 1000): (0.189, 0.316), (5e-4, 1.0, 20000): (0.0141, 0.0142)}
    for (q, s, T), (ex_ref, ey_ref) in table.items():
        ex, ey = uniform_errors(Accountant().compose(PoissonSubsampledGaussian(s, q), T))
        assert ex.value == pytest.approx(ex_ref, rel=0.03)
        assert ey.value == pytest.approx(ey_ref, rel=0.03)


def test_integral_form_precondition_fails_where_expected():
    # MNLI Y side: K4/n = 0.44 breaks the integral form's precondition (theory.md 5.2 item 3)
    ex, ey = uniform_errors(Accountant().compose(PoissonSubsampledGaussian(0.557, 0.005093), 3920))
    assert ey.form.startswith("closed form")
    assert ex.form.startswith("integral form")


def test_closed_forms_decrease_with_n_and_inid_is_larger():
    args = dict(e=0.1, K4=9.0, K3=3.0, K3t=5.0, l3=1.0)
    a = closed_form_iid(200, **args)
    b = closed_form_iid(2000, **args)
    assert b < a
    assert closed_form_inid(2000, **args) >= closed_form_iid(2000, **args) * 0.5
    assert math.isfinite(integral_form_iid(2000, 9.0, 3.0, 5.0, 1.0))


@pytest.mark.parametrize("m,lo_ref,hi_ref,pld_ref", [(50_000, 0.163, 0.537, 0.3005), (1_000_000, 0.369, 0.430, 0.4005)])
def test_fixed_delta_examples(m, lo_ref, hi_ref, pld_ref):
    # theory.md 5.4: the reference code's only example with bounds (delta = 0.1, sigma = 0.8)
    q = 0.08 * math.sqrt(math.log(m) / m)
    acc = Accountant().compose(PoissonSubsampledGaussian(0.8, q), m)
    b = analytic_epsilon_bracket(acc, 0.1)
    assert b.lower == pytest.approx(lo_ref, abs=2e-3)
    assert b.upper == pytest.approx(hi_ref, abs=2e-3)
    assert b.lower <= pld_ref <= b.upper
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = float(acc.get_epsilon(0.1))
    assert b.lower <= est <= b.upper


def test_vacuous_at_realistic_delta_and_certify_falls_back():
    acc = Accountant().compose(PoissonSubsampledGaussian(0.7865, 0.029696), 660)
    b = analytic_epsilon_bracket(acc, 1e-5)
    assert b.vacuous and b.as_dict()["upper"] == "vacuous"
    # certify=True answers from the contour enclosure (not the vacuous analytic bound)
    r = acc.get_epsilon(1e-5, certify=True)
    assert math.isfinite(r.upper) and r.certified_by.startswith("contour integral")
    assert r.lower <= r.estimate <= r.upper


def test_heterogeneous_uses_non_iid_form():
    acc = (Accountant().compose(PoissonSubsampledGaussian(0.8, 0.01), 20000)
           .compose(PoissonSubsampledGaussian(1.0, 0.01), 20000))
    ex, ey = uniform_errors(acc)
    assert "non-i.i.d." in ex.form and math.isfinite(ex.value)


def test_certified_bracket_consistent_with_pld_on_grid():
    from ewacct.baselines.pld import PldBracket

    for q, s, T, d in [(0.2, 1.0, 100, 1e-5), (0.05, 2.0, 2000, 1e-6), (0.01, 0.8, 1000, 1e-3)]:
        acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = acc.get_epsilon(d, certify=True)
        p_lo, p_hi = PldBracket(list(acc.groups())).epsilon_bracket(d, 1e-4)
        assert r.lower <= p_hi + 1e-9 and p_lo - 1e-9 <= r.upper  # brackets of the same truth overlap
        assert r.lower <= r.estimate <= r.upper
