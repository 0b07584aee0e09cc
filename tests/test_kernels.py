"""Kernels against independent mpmath references (>= 40 digits, self-checked at +20) and exact identities."""

import math

import numpy as np
import pytest

from ewacct.mechanisms import Laplace, PoissonSubsampledGaussian, RandomizedResponse

from _mpfast import sg_cumulants_fixed
from mpref import laplace_cumulants, sg_mgf_integer

# The cumulant reference: mpref.sg_cumulants's integrals (same scaled loss, same break points, 40 digits,
# refused unless it agrees with a +20-digit run to 1e-14) on a fixed Gauss-Legendre rule (tests/_mpfast.py)
# instead of mp.quad's adaptive runs, one per moment: 3.5-31 s -> 1.1-5.4 s CPU a point; the two references
# returned the same doubles (every cumulant) at every point of this file and of test_bounds.py (session 15)

# (q, sigma) inside the accuracy box q in [1e-9, 1], sigma in [0.3, 100]
GRID = [
    (2000 / 67349, 0.7865),
    (2000 / 392702, 0.557),
    (0.01, 0.8),
    (1e-4, 1.0),
    (1e-7, 0.3),
    (0.5, 3.0),
    (0.2, 30.0),
    (1e-3, 100.0),
]

# theory.md Sec. 2.3 test vectors (mpmath at 40 digits, [CHK]); printed to 10 significant digits
THEORY_VECTORS = {
    (2000 / 67349, 0.7865): (
        [-1.340539708e-3, 2.389767283e-3, 7.392144832e-4, 4.409550956e-4, 3.929439711e-4],
        [1.513746425e-3, 3.441768012e-3, 1.494419782e-3, 1.2476098e-3, 1.51732443e-3],
    ),
    (2000 / 392702, 0.557): (
        [-1.988628315e-4, 3.410200724e-4, 1.323057035e-4, 1.112775796e-4, 1.429471768e-4],
        [2.358550234e-4, 5.695564481e-4, 3.930005256e-4, 5.554742958e-4, 1.115301598e-3],
    ),
    (0.01, 0.8): (
        [-1.671653048e-4, 3.171046803e-4, 4.707668362e-5, 1.619816751e-5, 9.466433686e-6],
        [1.766525368e-4, 3.742797722e-4, 6.981175061e-5, 3.172821603e-5, 2.465409656e-5],
    ),
    (1e-4, 1.0): (
        [-8.586773949e-9, 1.716891819e-8, 1.388102187e-11, 3.23605513e-14, 1.92107442e-16],
        [8.589090154e-9, 1.718281542e-8, 1.391347895e-11, 3.255407699e-14, 1.949605743e-16],
    ),
}


@pytest.mark.parametrize("qs", list(THEORY_VECTORS))
def test_theory_vectors(qs):
    q, s = qs
    m = PoissonSubsampledGaussian(s, q)
    x_ref, y_ref = THEORY_VECTORS[qs]
    x = m.cumulants(side="lower", nmax=5)
    y = m.cumulants(side="upper", nmax=5)
    # the vectors are printed to 7-10 significant digits
    np.testing.assert_allclose(x, x_ref, rtol=5e-8)
    np.testing.assert_allclose(y, y_ref, rtol=5e-8)


@pytest.mark.parametrize("q,s", GRID)
@pytest.mark.parametrize("side", ["null", "alt"])
def test_cumulants_match_mpmath(q, s, side):
    ref = np.array(sg_cumulants_fixed(q, s, side, n=6))
    m = PoissonSubsampledGaussian(s, q)
    got = m.cumulants(side="lower" if side == "null" else "upper", nmax=6)
    rel = np.abs(got - ref) / np.abs(ref)
    # every cumulant to 1e-10 over the whole box (sigma > 10 uses the extended-precision path)
    tol = np.array([1e-10] * 6)
    assert np.all(rel <= tol), (rel, tol)


# issue 10 item 6: tiny q (the double kernel's loss cancelled when q e^z is small) and large sigma
# (the Arb path kept the midpoint of a ball wider than its value: kappa_6 51x off at q=1e-7, sigma=100)
SMALL_Q_GRID = [
    (1e-7, 100.0),
    (1e-5, 100.0),
    (1e-6, 50.0),
    (1e-7, 20.0),
    (1e-9, 1.0),
    (1e-9, 0.3),
    (1e-9, 10.0),  # the double kernel's largest sigma
    pytest.param(1e-7, 1.0, marks=pytest.mark.slow),
    pytest.param(1e-9, 3.0, marks=pytest.mark.slow),
    pytest.param(1e-9, 100.0, marks=pytest.mark.slow),
    pytest.param(0.999, 10.01, marks=pytest.mark.slow),  # the Arb path near q = 1
]


@pytest.mark.parametrize("q,s", SMALL_Q_GRID)
@pytest.mark.parametrize("side", ["null", "alt"])
def test_cumulants_match_mpmath_small_q(q, s, side):
    ref = np.array(sg_cumulants_fixed(q, s, side, n=6))
    m = PoissonSubsampledGaussian(s, q)
    got = m.cumulants(side="lower" if side == "null" else "upper", nmax=6)
    rel = np.abs(got - ref) / np.abs(ref)
    assert np.all(rel <= 1e-10), rel


@pytest.mark.slow
@pytest.mark.parametrize("q,s", [(1e-9, 0.05), (0.01, 0.05)])
def test_null_mean_at_the_smallest_sigma(q, s):
    # sigma < 0.1: the mean subtracted E_null[u] = 0 node by node on a range that missed x ~ mu, and
    # kappa_1 under the null came out ~100 % wrong; the reference needs unit / (1/mu) panels here.
    # The reference: mpref.sg_cumulants's integrals on a fixed Gauss-Legendre rule, the loss computed once per
    # node for all seven moments, self-checked at +20 digits on a 28-point rule over a wider range
    # (tests/_mpfast.py); it replaced mpref.sg_cumulants(fine=True) (76 s CPU per point; the same doubles)
    ref = np.array(sg_cumulants_fixed(q, s, "null", n=6, fine=True))
    got = PoissonSubsampledGaussian(s, q).cumulants(side="lower", nmax=6)
    rel = np.abs(got - ref) / np.abs(ref)
    assert rel[0] <= 1e-12 and np.all(rel[2:] <= 1e-10), rel
    # kappa_2 is 6.0e-9 off at q = 0.01 (outside the 1e-10 box, sigma >= 0.3; the former mp.quad reference was
    # itself 2.3e-8 off there and read it as 1.7e-8: an mpmath quadrature of Var(log1p(q/(1-q) e^z)), scaled
    # to O(1), gives 5.8572434235872182e-24, this reference 5.857243423587251e-24)
    assert rel[1] <= 1e-7, rel


def test_precise_path_refuses_a_loose_ball(monkeypatch):
    # a ball that cannot be made tight must raise, never return its midpoint
    from ewacct._kernels import precise

    monkeypatch.setattr(precise, "PRECISIONS", (128,))
    monkeypatch.setattr(precise, "REL_RADIUS", 1e-60)
    precise.sg_cumulants_precise.cache_clear()
    try:
        with pytest.raises(precise.PrecisionError, match="did not reach relative radius"):
            precise.sg_cumulants_precise(1e-7, 100.0, 0.0, 6)
    finally:
        precise.sg_cumulants_precise.cache_clear()


def test_precise_path_raises_precision_until_tight(monkeypatch):
    # with a target only 256 bits can meet, the loop must move on from 128 bits and succeed
    from ewacct._kernels import precise

    seen = []
    orig = precise._arb_cumulants

    def spy(q, s, t, n, bits):
        seen.append(bits)
        return orig(q, s, t, n, bits)

    monkeypatch.setattr(precise, "_arb_cumulants", spy)
    monkeypatch.setattr(precise, "REL_RADIUS", 1e-30)
    precise.sg_cumulants_precise.cache_clear()
    try:
        got = precise.sg_cumulants_precise(1e-6, 50.0, 1.0, 6)
    finally:
        precise.sg_cumulants_precise.cache_clear()
    assert seen[0] == 128 and len(seen) >= 2
    ref = np.array(sg_cumulants_fixed(1e-6, 50.0, "alt", n=6))
    np.testing.assert_allclose(got[1:], ref, rtol=1e-14)


@pytest.mark.parametrize("q,s", GRID)
def test_null_mgf_at_one_is_one(q, s):
    # E_null[e^L] = 1  <=>  K_X(1) = 0 (and K_X(0) = 0)
    m = PoissonSubsampledGaussian(s, q)
    assert abs(m.cgf(0.0, 2)[0]) < 1e-15  # remove direction upper measure at t=0 is K_X(1)
    assert abs(m.cgf(-1.0, 2)[0]) < 1e-15  # K_X(0)


@pytest.mark.parametrize("q,s", [(0.01, 0.8), (0.2, 1.0), (1e-3, 0.5), (0.5, 2.0)])
@pytest.mark.parametrize("mm", [2, 3, 5])
def test_cgf_at_integers_matches_closed_form(q, s, mm):
    m = PoissonSubsampledGaussian(s, q)
    ref = sg_mgf_integer(q, s, mm)
    got = m.cgf(mm - 1.0, 1)[0]  # upper measure of REMOVE at t is K_X(t + 1)
    assert abs(got - ref) <= 1e-12 * max(1.0, abs(ref)) + 1e-14 * 0, (got, ref)


@pytest.mark.parametrize("q,s", [(0.01, 0.8), (0.2, 1.0), (1e-4, 1.0)])
def test_tilting_identity_add_direction(q, s):
    # ADD direction: loss -l under P0, so its cumulants are (-1)^j kappa_j^X
    m = PoissonSubsampledGaussian(s, q)
    kx = m.cumulants(side="lower", direction="remove", nmax=5)
    ka = m.cumulants(side="upper", direction="add", nmax=5)
    signs = np.array([(-1) ** j for j in range(1, 6)])
    np.testing.assert_allclose(ka, signs * kx, rtol=1e-14)


def test_q_one_is_gaussian():
    m = PoissonSubsampledGaussian(2.0, 1.0)
    k = m.cumulants(side="lower", nmax=6)
    np.testing.assert_allclose(k[:2], [-0.125, 0.25], rtol=1e-15)
    assert np.all(k[2:] == 0.0)


@pytest.mark.parametrize("theta", [0.1, 1.0, 3.0])
def test_laplace_cumulants_match_mpmath(theta):
    ref = np.array(laplace_cumulants(theta))
    got = Laplace(scale=1.0 / theta).cumulants(side="lower", nmax=6)
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-300)


def test_laplace_theory_vector():
    got = Laplace(scale=1.0).cumulants(side="lower", nmax=5)
    np.testing.assert_allclose(got, [-0.3678794, 0.6573881, 0.4280075, -0.4686824, -1.8746713], rtol=2e-7)
    # symmetry Y = -X
    y = Laplace(scale=1.0).cumulants(side="upper", nmax=5)
    np.testing.assert_allclose(y, got * np.array([-1, 1, -1, 1, -1]), rtol=1e-12)


def test_randomized_response_cumulants_closed_form():
    e0 = 0.7
    r = 1 / (1 + math.exp(e0))
    k = RandomizedResponse(e0).cumulants(side="lower", nmax=5)
    ref = [e0 * (2 * r - 1), 4 * e0**2 * r * (1 - r), 8 * e0**3 * r * (1 - r) * (1 - 2 * r),
           16 * e0**4 * r * (1 - r) * (1 - 6 * r * (1 - r)), 32 * e0**5 * r * (1 - r) * (1 - 2 * r) * (1 - 12 * r * (1 - r))]
    np.testing.assert_allclose(k, ref, rtol=1e-12)


def test_gauss_legendre_8_table_is_correctly_rounded():
    # the 8-point rule of the kernels (ewacct._kernels.mgf._GX/_GW, also fewpart's panels): every node and
    # weight the correctly rounded double of mpmath's Golub-Welsch values at 40 digits (defect D4: three
    # weights were 1-3 ulp off)
    import mpmath as mp

    from ewacct._kernels.mgf import _GW, _GX

    with mp.workdps(40):
        xs, ws = mp.gauss_quadrature(8, "legendre")
        ref = sorted(zip(xs, ws), key=lambda t: t[0])
    assert [float(x) for x, _ in ref] == list(_GX)
    assert [float(w) for _, w in ref] == list(_GW)
