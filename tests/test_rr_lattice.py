"""Randomized response in compositions beyond the old 400-point lattice limit (reviewer H-M items 1-2).

References, independent of ewacct's evaluation:

* mpmath at 30 digits: binomial weights from exact integers (``math.comb``) and mpmath powers, the
  lattice sums written here, the Gaussian hockey stick ``Phi(-x/mu + mu/2) - e^x Phi(-x/mu - mu/2)``;
* dp_accounting's PLD optimistic / pessimistic pair (randomized response, subsampled Gaussian).
"""

from __future__ import annotations

import math
import warnings
from math import comb

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse
from ewacct.methods.dispatch import ExactDispatch
from ewacct.methods.mixed_exact import lattice_log



@pytest.fixture(autouse=True)
def _thirty_digits():
    """mpmath at 30 digits in every test here (other modules set mp.mp.dps at import)."""
    with mp.workdps(30):
        yield


def mp_lattice(groups):
    """{value: weight} of the summed randomized-response loss, mpmath (values keyed by the exact
    integer combination, so equal sums of commensurate parameters merge exactly)."""
    pts = {(): (mp.mpf(0), mp.mpf(1))}
    for e0, n in groups:
        e = mp.mpf(e0)
        p = 1 / (1 + mp.exp(-e))
        new = {}
        for key, (a, w) in pts.items():
            for j in range(n + 1):
                new[key + (j,)] = (a + e * (2 * j - n), w * comb(n, j) * p ** j * (1 - p) ** (n - j))
        pts = new
    return list(pts.values())


def mp_gauss(x, mu):
    x, mu = mp.mpf(x), mp.mpf(mu)
    return mp.ncdf(-x / mu + mu / 2) - mp.exp(x) * mp.ncdf(-x / mu - mu / 2)


def _acc(groups):
    a = Accountant()
    for m, n in groups:
        a.compose(m, n)
    return a


def _rows(groups, kind, x):
    return ExactDispatch(groups, None).rows(kind, np.array([float(x)]))[0]


def test_log_weights_against_mpmath():
    for e0, n in [(0.05, 2000), (1.7, 60), (0.2, 30)]:
        vals, lw, wrel = lattice_log([(e0, n)], limit=10**6)
        e = mp.mpf(e0)
        lp, lq = -mp.log1p(mp.exp(-e)), -mp.log1p(mp.exp(e))
        for j in range(0, n + 1, max(1, n // 97)):
            k = n - j  # values decreasing: index k holds j = n - k
            ref = mp.log(comb(n, j)) + j * lp + (n - j) * lq
            assert abs(lw[k] - float(ref)) <= wrel, (e0, n, j)
            assert abs(vals[k] - float(e * (2 * j - n))) <= 1e-12 * n * e0
        assert wrel < 1e-9


RR_RR = [(RandomizedResponse(0.2), 30), (RandomizedResponse(0.05), 20)]  # 31 x 21 = 651 points (merged)


def test_rr_only_several_parameters_against_mpmath():
    lat = mp_lattice([(0.2, 30), (0.05, 20)])

    def ref(eps):
        eps = mp.mpf(eps)
        return mp.fsum(w * -mp.expm1(eps - a) for a, w in lat if a > eps)

    acc = _acc(RR_RR)
    for eps in (0.0, 0.5, 2.0, 5.0, 6.9):
        r = acc.get_delta(eps)
        assert r.method == "exact" and r.valid
        assert abs(r.value - float(ref(eps))) <= 1e-9 * float(ref(eps))
    r = acc.get_epsilon(1e-6)
    assert r.method == "exact" and r.valid
    want = mp.findroot(lambda e: mp.log(ref(e)) - mp.log(1e-6), (r.value * 0.999, r.value * 1.001), solver="anderson")
    assert abs(r.value - float(want)) <= 1e-9 * float(want)
    c = acc.get_epsilon(1e-6, certify=True)  # the proven bracket, and the estimate inside it
    assert c.lower <= float(want) <= c.upper


def test_rr_only_near_the_largest_loss_is_never_silently_zero():
    # the largest loss 30 * 0.2 + 20 * 0.05 is 7.00000000000000039 for the doubles 0.2, 0.05 (mpmath), 7.0
    # once rounded: delta(7.0) ~ 1e-29 is not resolved by the lattice values -> the flagged proven bound,
    # never 0.0; eps(1e-30) is the upper end sup + rounding, within 1e-7 of mpmath's root
    lat = mp_lattice([(0.2, 30), (0.05, 20)])

    def ref(eps):
        eps = mp.mpf(eps)
        return mp.fsum(w * -mp.expm1(eps - a) for a, w in lat if a > eps)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = _acc(RR_RR)
        r = acc.get_delta(7.0)
        assert r.value >= float(ref(7.0)) > 0.0
        assert r.method == "chernoff-bound" and not r.valid
        e = acc.get_epsilon(1e-30)
    top = max(a for a, _ in lat)
    want = mp.findroot(lambda x: ref(x) - mp.mpf(1e-30), (top - mp.mpf(1e-15), top - mp.mpf(1e-17)), solver="anderson")
    assert e.valid and float(want) <= e.value <= float(want) * (1 + 2e-7)


def test_rr_with_gaussian_past_400_points_against_mpmath():
    # 401 lattice points (was refused), REMOVE = ADD (symmetric laws)
    e0, n, sigma = 0.01, 400, 10.0
    lat = mp_lattice([(e0, n)])
    acc = _acc([(RandomizedResponse(e0), n), (Gaussian(sigma), 1)])

    def ref(eps):
        return mp.fsum(w * mp_gauss(mp.mpf(eps) - a, 1 / mp.mpf(sigma)) for a, w in lat)

    r = acc.get_delta(1.0)
    assert r.method == "exact" and r.valid
    assert abs(r.value - float(ref(1.0))) <= 1e-8 * float(ref(1.0))
    e = acc.get_epsilon(1e-6)
    assert e.method == "exact" and e.valid
    assert abs(float(ref(e.value)) / 1e-6 - 1.0) <= 1e-8  # mpmath's delta at the answer is the target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = acc.get_epsilon(1e-6, certify=True)
    assert c.lower <= e.value <= c.upper


# dp_accounting's PLD pair of a mixed composition: the helper of test_mixed_exact (tests/ is on the path)
from test_mixed_exact import _pld_bracket as _pld_pair  # noqa: E402


def test_subsampled_gaussian_with_450_rr_steps_in_pld_bracket():
    g = [(PoissonSubsampledGaussian(1.0, 0.01), 500), (RandomizedResponse(0.05), 450)]
    r = _rows(g, "delta", 2.0)
    assert r.method == "exact" and r.valid
    lo, hi = _pld_pair(g, 2.0)
    assert lo * (1 - 1e-9) <= r.value <= hi * (1 + 1e-9)


def test_beyond_the_rr_only_limit_a_flagged_bound_not_an_error():
    g = [(RandomizedResponse(0.1), 1000), (RandomizedResponse(0.07), 1000)]  # 1001^2 > 1e6 points
    r = _rows(g, "delta", 20.0)
    assert r.method == "chernoff-bound" and not r.valid
    assert "several parameters" in r.diagnostics["note"] and "mixed with other" not in r.diagnostics["note"]
    assert "lattice points" in r.diagnostics["error"]
    lo, hi = _pld_pair(g, 20.0, vdi=1e-2)
    assert r.value >= lo and r.diagnostics["proven_lower"] <= hi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = _acc(g).get_epsilon(1e-6, certify=True)  # never raises
    assert 0.0 < c.lower <= c.upper < math.inf


def test_laplace_gaussian_rr_delta_below_smallest_double():
    # true delta(1) < P(L_G > 1 - 0.01 - 0.001), L_G ~ N(mu^2/2, mu^2), mu = 0.02: below 2^-1075, so 0.0
    mu = mp.mpf(1) / 50
    assert mp.ncdf(-(mp.mpf("0.989") - mu * mu / 2) / mu) < mp.mpf(2) ** -1075
    acc = _acc([(Laplace(100.0), 1), (Gaussian(50.0), 1), (RandomizedResponse(0.001), 1)])
    r = acc.get_delta([1.0, 0.01])
    assert r.value[0] == 0.0 and r.valid[0] and r.method == "exact"
    # the other element is answered, and lies in [the Gaussian part alone's delta at eps (dropping steps),
    # its delta at eps - 0.011 (composing with pure 0.011-DP steps)]
    assert float(mp_gauss(0.01, mu)) <= r.value[1] <= float(mp_gauss(0.01 - 0.011, mu))


def test_vectorised_gaussian_hockey_stick_against_mpmath():
    from ewacct.methods.mixed_exact import gaussian_log_delta_vec

    xs = np.concatenate([-np.geomspace(1e-8, 60, 25), [0.0], np.geomspace(1e-8, 60, 25)])
    for mu in (0.01, 0.3, 1.0, 4.0, 12.0):
        got = gaussian_log_delta_vec(xs, mu)
        for x, lv in zip(xs, got):
            ref = mp.log(mp_gauss(float(x), mu))
            if ref > -700:  # representable values: relative error = absolute error of the log
                assert abs(lv - float(ref)) <= 1e-12, (mu, x)


def test_rr_two_parameters_with_gaussians_against_mpmath():
    # 21 x 16 = 336 points, two RR parameters and two Gaussian steps (the vectorised Gaussian rest)
    g = [(RandomizedResponse(0.3), 20), (RandomizedResponse(0.11), 15), (Gaussian(2.0), 2)]
    lat = mp_lattice([(0.3, 20), (0.11, 15)])
    mu = mp.sqrt(mp.mpf(2) / 4)
    acc = _acc(g)
    for eps in (0.0, 1.5, 6.0):
        r = acc.get_delta(eps)
        want = mp.fsum(w * mp_gauss(mp.mpf(eps) - a, mu) for a, w in lat)
        assert r.method == "exact" and r.valid and abs(r.value / float(want) - 1) <= 1e-9


def _mp_rr_delta(lat, eps):
    eps = mp.mpf(eps)
    return mp.fsum(w * -mp.expm1(eps - a) for a, w in lat if a > eps)


@pytest.mark.parametrize("groups", [[(0.2, 30), (0.05, 20)], [(1.0, 10), (2.0, 10), (0.5, 10)], [(0.5, 100), (1.0, 5)]])
def test_rr_lattice_certified_bracket_against_mpmath(groups):
    # the enclosed lattice sum (bounds/rr_lattice.py): delta brackets and verified eps ends against the
    # exact binomial sum in mpmath; 1e-10 wide (the proven fallback gave [24.06, 36.51] around 34.88
    # for the third composition)
    from ewacct.bounds.rr_lattice import rr_delta_bracket, rr_epsilon_bracket

    lat = mp_lattice(groups)
    acc = _acc([(RandomizedResponse(e0), n) for e0, n in groups])
    for eps in (0.0, 0.3, 2.0, 5.0):
        lo, hi = rr_delta_bracket(acc, eps)
        ref = _mp_rr_delta(lat, eps)
        assert lo <= ref <= hi and hi - lo <= 1e-12 * hi
    for delta in (1e-3, 1e-6, 1e-12):
        lo, hi = rr_epsilon_bracket(acc, delta)
        assert 0.0 < lo and hi - lo <= 2e-10 * hi
        assert _mp_rr_delta(lat, lo) > delta >= _mp_rr_delta(lat, hi)


def test_rr_lattice_bracket_near_the_largest_loss():
    # 30 * 0.2 + 20 * 0.05 = 7.00000000000000039 (the doubles, mpmath): eps(1e-30) just below it
    from ewacct.bounds.rr_lattice import rr_epsilon_bracket

    lat = mp_lattice([(0.2, 30), (0.05, 20)])
    lo, hi = rr_epsilon_bracket(_acc(RR_RR), 1e-30)
    assert _mp_rr_delta(lat, lo) > 1e-30 >= _mp_rr_delta(lat, hi)
    assert hi - lo <= 1e-9


def test_rr_lattice_answers_certify_true():
    # routed in bounds/certify.py: get_epsilon / get_delta(certify=True) of randomized response alone with
    # several parameters use the enclosed lattice sum (was the proven fallback [24.06, 36.51] around 34.88;
    # reviewer H-R6 F8: RR(0.7) x 7 + RR(1.3) x 3 delta(5) was [0.0065, 0.4286] around 0.2304)
    from ewacct.bounds.certify import RR_LATTICE_SOURCE

    for groups, eps, delta in (([(0.5, 100), (1.0, 5)], 30.0, 1e-5), ([(0.7, 7), (1.3, 3)], 5.0, 1e-3)):
        lat = mp_lattice(groups)
        acc = _acc([(RandomizedResponse(e0), n) for e0, n in groups])
        d = acc.get_delta(eps, certify=True)
        assert d.certified_by == RR_LATTICE_SOURCE and d.lower <= _mp_rr_delta(lat, eps) <= d.upper
        assert d.upper - d.lower <= 1e-9 * d.upper
        e = acc.get_epsilon(delta, certify=True)
        assert e.certified_by == RR_LATTICE_SOURCE and e.upper - e.lower <= 1e-9 * e.upper
        assert _mp_rr_delta(lat, e.lower) > delta >= _mp_rr_delta(lat, e.upper)
