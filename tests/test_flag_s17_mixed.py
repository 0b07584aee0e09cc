"""Session 17 (H-DF): randomized-response mixes whose default answer was a flagged Chernoff bound.

RR(40) x 40 + PSG(sigma 1, q 0.01) x 100 at delta 1e-6: flagged 1600.98360 / 1601.507 (the whole-composition
contour refused at 6.8e-7 relative: the phase z * 1600 in its rounding bound; the conditioned sum then ran out of
the budget the contour had spent).  Now: the contour folds the heavy randomized-response groups into eps
(mixed_exact.LatticeContour._full), and the conditioned sum goes first where few lattice points weigh anything
(LatticeMix.heavy_points).

References (independent of ewacct): dp_accounting's PLD pair for the subsampled Gaussian alone (the lattice's top
point weighs p^40 = 1 - 1.7e-16, the next 1.7e-16 at a loss 80 lower: delta_mix(eps) = p^40 delta_PSG(eps - 1600)
up to 1e-16 relative), and mpmath at 40 digits for a Gaussian rest (the lattice sum of the Gaussian closed form).
"""

import math
import warnings

import mpmath as mp
import pytest

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian, RandomizedResponse
from ewacct.methods import mixed_exact

P40 = (1.0 / (1.0 + math.exp(-40.0))) ** 40


def _pld_pair(vdi: float):
    P = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    out = []
    for pess in (False, True):
        pl = P.from_gaussian_mechanism(1.0, sampling_prob=0.01, pessimistic_estimate=pess,
                                       value_discretization_interval=vdi, use_connect_dots=pess).self_compose(100)
        out.append(pl)
    return out


@pytest.fixture(scope="module")
def pld():
    return _pld_pair(1e-4)


def test_rr40_psg_default_is_exact(pld):
    acc = Accountant()
    acc.compose(RandomizedResponse(40.0), 40)
    acc.compose(PoissonSubsampledGaussian(1.0, 0.01), 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(1e-6)
    assert r.valid and r.method == "exact", (r.method, r.diagnostics.get("note"))
    lo, hi = (p.get_epsilon_for_delta(1e-6 / P40) for p in pld)
    assert 1600.0 + lo - 1e-9 <= r.value <= 1600.0 + hi + 1e-9, (r.value, lo, hi)


def test_lattice_contour_folds_top_into_eps(pld):
    # both directions' whole-composition contours settle at delta ~ 1e-6 near eps = 1600.95 (REMOVE was
    # refused at 6.8e-7 relative before the shift), and their larger value lies in the PLD pair
    eps = 1600.95422
    vals = []
    for d in ("remove", "add"):
        c = mixed_exact.LatticeContour([(40.0, 40)], [], [(PoissonSubsampledGaussian(1.0, 0.01), 100)], d)
        v, rel, diag = c.delta(eps)
        assert rel <= 1e-8 and diag.get("shift") == 1600.0, (d, rel, diag)
        vals.append(v)
    lo, hi = sorted(P40 * p.get_delta_for_epsilon(eps - 1600.0) for p in pld)
    assert lo * (1 - 1e-9) <= max(vals) <= hi * (1 + 1e-9), (vals, lo, hi)


def _mp_lattice_gauss(e0: float, n: int, sigma: float, k: int, eps: float) -> float:
    """delta of RR(e0) x n + Gaussian(sigma) x k at eps: sum_j w_j delta_G(eps - a_j), mpmath, 40 digits."""
    with mp.workdps(40):
        e = mp.mpf(e0)
        p = 1 / (1 + mp.e ** (-e))
        mu = mp.sqrt(k) / mp.mpf(sigma)

        def dg(x):
            return mp.ncdf(-x / mu + mu / 2) - mp.e ** x * mp.ncdf(-x / mu - mu / 2)

        return float(mp.fsum(mp.binomial(n, j) * p ** j * (1 - p) ** (n - j) * dg(mp.mpf(eps) - e * (2 * j - n))
                             for j in range(n + 1)))


@pytest.mark.parametrize("e0,n,sigma,k,eps", [(40.0, 40, 1.0, 4, 1609.0), (3.0, 30, 2.0, 10, 91.0),
                                              (1.3, 50, 1.0, 3, 70.0), (0.3, 20, 1.0, 2, 3.0)])
def test_lattice_contour_against_mpmath(e0, n, sigma, k, eps):
    ref = _mp_lattice_gauss(e0, n, sigma, k, eps)
    for d in ("remove", "add"):
        c = mixed_exact.LatticeContour([(e0, n)], [], [(Gaussian(sigma), k)], d)
        v, rel, _ = c.delta(eps)
        assert rel <= 1e-8
        assert abs(v - ref) <= max(rel, 1e-10) * ref, (d, v, ref, rel)


def test_heavy_points_counts_weighty_lattice_points():
    lm = mixed_exact.LatticeMix([(40.0, 40)], [(PoissonSubsampledGaussian(1.0, 0.01), 100)])
    assert lm.vals.size == 41 and lm.heavy_points() <= 2 and not lm.contour_first


def test_rr_with_negligible_psg_rest_is_exact():
    """RR(0.5) x 33 + PSG(1, 1e-6) x 100 at delta 1e-6: flagged 15.459747 (the rest's engines fail where its delta is
    ~1e-40); now the proven tail bound settles those terms.  References: dp_accounting's PLD pair (vdi 1e-4), and the
    randomized-response sum alone in mpmath: the rest changes nothing at 1e-9 here (its ADD loss is at most
    100 log(1/(1 - 1e-6)) ~ 1e-4, and its REMOVE loss exceeds 0.3 only where a participating step's Gaussian is 12
    standard deviations out, probability < 1e-30, while every lattice point lies >= 0.3 from eps)."""
    P = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    acc = Accountant()
    acc.compose(RandomizedResponse(0.5), 33)
    acc.compose(PoissonSubsampledGaussian(1.0, 1e-6), 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(1e-6)
    assert r.valid and r.method == "exact", (r.method, r.diagnostics.get("note"))
    pair = []
    for pess in (False, True):
        a = P.from_randomized_response(noise_parameter=2 / (1 + math.exp(0.5)), num_buckets=2, pessimistic_estimate=pess,
                                       value_discretization_interval=1e-4).self_compose(33)
        b = P.from_gaussian_mechanism(1.0, sampling_prob=1e-6, pessimistic_estimate=pess, value_discretization_interval=1e-4,
                                      use_connect_dots=pess).self_compose(100)
        pair.append(a.compose(b).get_epsilon_for_delta(1e-6))
    assert pair[0] <= r.value <= pair[1], (r.value, pair)
    with mp.workdps(40):
        e0, n = mp.mpf(0.5), 33
        p = 1 / (1 + mp.e ** (-e0))

        def d(eps):
            return mp.fsum(mp.binomial(n, j) * p ** j * (1 - p) ** (n - j) * (1 - mp.e ** (eps - e0 * (2 * j - n)))
                           for j in range(n + 1) if e0 * (2 * j - n) > eps)

        ref = float(mp.findroot(lambda e: d(e) - mp.mpf("1e-6"), 15.179))
    assert abs(r.value - ref) <= 1e-9 * ref, (r.value, ref)
