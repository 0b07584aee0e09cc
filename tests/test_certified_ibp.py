"""The global integration-by-parts decay bound (ewacct.methods.certified.sg_ibp_bound, docs/certified.md
section 4) and the vectorised decay / moment bounds, against independent mpmath quadratures (30 digits)
of the definition G(w) = E[(1 + q (e^{mu X - mu^2/2} - 1))^w], X ~ N(0, 1).

The points are where the bound is used: large tilts a (sigma 20-50, tiny q), where the split bounds'
binomial expansion stops (a > POWER_TERMS_MAX) and the log-concave bound does not apply.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct.methods.certified import (CertDirection, sg_decay_bounds, sg_ibp_bound, sg_moment_bound)


def _mp_G(q: float, mu: float, w: complex, lo: float = -40.0, hi: float = 60.0) -> mp.mpc:
    """G(w) by mpmath on [lo, hi] in unit panels (outside it the Gaussian weight is below e^-800 at
    these points, see the test's choice of parameters)."""
    with mp.workdps(30):
        q_, mu_, w_ = mp.mpf(q), mp.mpf(mu), mp.mpc(w)

        def f(x):
            u = q_ * mp.expm1(mu_ * x - mu_ * mu_ / 2)
            return mp.npdf(x) * mp.exp(w_ * mp.log1p(u))

        pts = [mp.mpf(x) for x in np.arange(lo, hi + 0.5, 1.0)]
        return mp.quad(f, pts, maxdegree=6)


# (q, mu, a, [b]): a >= IBP_MIN_A with the tilted law still concentrated on |x| < 40 (checked below)
POINTS = [
    (1.27e-5, 1.0 / 48.26, 17780.6, [3e4, 1e7]),
    (1e-3, 0.05, 2000.0, [5e3, 1e5]),
    (2.5e-6, 1.0 / 31.48, -3000.0, [1e4, 1e8]),
]


@pytest.mark.parametrize("q,mu,a,bs", POINTS)
def test_ibp_bound_contains_mpmath(q, mu, a, bs):
    with mp.workdps(30):
        ga = _mp_G(q, mu, complex(a, 0.0))
        g2 = _mp_G(q, mu, complex(2 * a + 2, 0.0))
        if a > 10000:  # the quadrature range holds the tilted mass: a wider range agrees
            assert abs(_mp_G(q, mu, complex(2 * a + 2, 0.0), -60.0, 90.0) / g2 - 1) < 1e-20
        lga = float(mp.log(mp.re(ga))) + 1e-12
        lg2 = float(mp.log(mp.re(g2))) + 1e-12
    lv = sg_ibp_bound(q, mu, a, lga, lg2)
    assert math.isfinite(lv)
    for b in bs:
        with mp.workdps(30):
            gb = abs(_mp_G(q, mu, complex(a, b)))
        assert float(mp.log(gb)) <= lv - math.log(b), (b, float(mp.log(gb)), lv - math.log(b))
    # the bound decays below G(a) within the u-range the contour needs (else it would be useless there)
    assert lv - math.log(max(bs)) < lga + 1.0


@pytest.mark.parametrize("d", [1.0, 0.03])
def test_ibp_bound_is_an_upper_bound_at_small_tilt(d):
    # a point where |G| is far from tiny relative to V / |b|: the inequality itself, not its decay, at
    # several Hoelder exponents 1 + d (G at (a + 1)(1 + d))
    q, mu, a = 0.05, 0.8, 2.5
    with mp.workdps(30):
        lga = float(mp.log(mp.re(_mp_G(q, mu, complex(a, 0.0), -40, 40)))) + 1e-12
        lgp = float(mp.log(mp.re(_mp_G(q, mu, complex((a + 1) * (1 + d), 0.0), -40, 40)))) + 1e-12
        lv = sg_ibp_bound(q, mu, a, lga, lgp, d)
        for b in (3.0,):
            gb = abs(_mp_G(q, mu, complex(a, b), -40, 40))
            assert float(mp.log(gb)) <= lv - math.log(b)


def test_ibp_bound_with_a_small_hoelder_exponent_at_large_tilt():
    # sigma 32.8, q 7.2e-4 (issue 9's time-out at T = 160): G(2a + 2) is dominated by the lognormal's
    # far tail there, G(1.1 (a + 1)) is not -- the exponent 1 + d = 1.1 makes the bound decay
    q, mu, a, d = 7.2e-4, 1.0 / 32.8, 2000.0, 0.1
    with mp.workdps(30):
        lga = float(mp.log(mp.re(_mp_G(q, mu, complex(a, 0.0))))) + 1e-12
        lgp = float(mp.log(mp.re(_mp_G(q, mu, complex((a + 1) * (1 + d), 0.0))))) + 1e-12
        lv = sg_ibp_bound(q, mu, a, lga, lgp, d)
        b = 3e4
        gb = abs(_mp_G(q, mu, complex(a, b)))
    assert float(mp.log(gb)) <= lv - math.log(b)


def test_decay_table_uses_ibp_beyond_power_terms():
    # sigma 48.26, q 1.27e-5, T 275428 (issue 9's time-out: no decay bound at tilt 1.8e4 before, the
    # truncation bound stalled at e^-19): the table now has a V / |Im w| entry, and it contains mpmath
    from ewacct import PoissonSubsampledGaussian

    cd = CertDirection([(PoissonSubsampledGaussian(48.26, 1.27e-5), 275428)], "remove")
    a = cd._a(17779.6)
    tab = cd._decay_table(0, a)
    ibp = [lv for la, lv, by_b in tab if by_b]
    assert ibp, tab
    b = 2e6
    with mp.workdps(30):
        gb = abs(_mp_G(1.27e-5, 1.0 / 48.26, complex(a, b)))
    assert float(mp.log(gb)) <= min(ibp) - math.log(b)


@pytest.mark.parametrize("q,mu,a", [(1e-4, 0.1, 1500.0), (0.003, 0.05, 3500.0)])
def test_vectorised_decay_and_moment_bounds_contain_mpmath(q, mu, a):
    # sg_decay_bounds (terms as an array axis) and sg_moment_bound (moments in array passes) at large a:
    # |G(a + ib)| <= A0 + V / |w| and |G(w) - 1 - w (w-1) m2/2| <= |w (w-1) (w-2)| M3 / 6
    got = sg_decay_bounds(q, mu, a, [-math.inf, -2.0, 0.0])
    m2, M3 = sg_moment_bound(q, mu, a)
    for b in (50.0, 400.0):
        w = complex(a, b)
        with mp.workdps(30):
            g = _mp_G(q, mu, w)
            for lA0, lV in got:
                assert abs(g) <= mp.e ** lA0 + mp.e ** lV / abs(w)
            if math.isfinite(M3):
                ww = mp.mpc(w)
                assert abs(g - 1 - ww * (ww - 1) * m2 / 2) <= abs(ww * (ww - 1) * (ww - 2)) * M3 / 6
