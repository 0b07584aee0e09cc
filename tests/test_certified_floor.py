"""The density-floor decay bound (ewacct.methods.certified.sg_floor_pieces / sg_floor_bound,
docs/certified.md section 4) against independent mpmath quadratures (30 digits) of the definition
G(w) = E[(1 + q (e^{mu X - mu^2/2} - 1))^w], X ~ N(0, 1): |G(a + ib')| <= the bound at b for every
|b'| >= |b|, in both directions' tilts (a = 1 + c for REMOVE, a = -c for ADD), at small sigma (where
no other decay bound of section 4 applies) and at moderate sigma.  The reference sums Gauss-Legendre
panels fine enough for the oscillation and is checked against itself at twice the panel count.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct.methods.certified import sg_floor_bound, sg_floor_pieces


def _mp_G(q: float, mu: float, w: complex, lo: float, hi: float, panels: int) -> mp.mpc:
    with mp.workdps(30):
        q_, mu_, w_ = mp.mpf(q), mp.mpf(mu), mp.mpc(w)
        xs, ws = zip(*mp.calculus.quadrature.GaussLegendre(mp.mp).calc_nodes(4, mp.mp.prec))  # 24 nodes
        tot = mp.mpc(0)
        width = (mp.mpf(hi) - lo) / panels
        for k in range(panels):
            a_ = lo + k * width
            c_, r_ = a_ + width / 2, width / 2
            for x, wt in zip(xs, ws):
                t = c_ + r_ * x
                u = q_ * mp.expm1(mu_ * t - mu_ * mu_ / 2)
                tot += wt * r_ * mp.npdf(t) * mp.exp(w_ * mp.log1p(u))
        return tot


def _ref(q, mu, w, lo, hi, panels):
    g1 = _mp_G(q, mu, w, lo, hi, panels)
    g2 = _mp_G(q, mu, w, lo, hi, 2 * panels)
    assert abs(g1 - g2) < mp.mpf(10) ** -15, (w, g1, g2)  # the reference agrees with itself
    return g2


# (q, mu, a, b, [larger b']): sigma 0.2-0.39 (mu 2.6-5), q 1e-4..0.9, REMOVE and ADD tilts
POINTS = [
    (0.906, 1 / 0.3867, 1.0008, 3.0, [7.0]),
    (0.906, 1 / 0.3867, -0.0008, 3.0, [7.0]),
    (7.28e-5, 1 / 0.2725, 1.02, 4.0, [9.0]),
    (0.01, 5.0, 1.5, 3.0, []),
    (0.3, 1.0, -2.0, 4.0, [8.0]),
]


@pytest.mark.parametrize("q,mu,a,b,bigger", POINTS)
def test_floor_bound_contains_mpmath(q, mu, a, b, bigger):
    lo, hi = -12.0, 12.0 + max(a, 0.0) * mu
    with mp.workdps(30):
        ga = _ref(q, mu, complex(a, 0.0), lo, hi, 24)
        # the Gaussian weight outside [lo, hi] is below e^-60 of G(a) at these points
        lga = float(mp.log(mp.re(ga))) + 1e-12
    pcs = sg_floor_pieces(q, mu, a, lga)
    assert pcs
    lb = float(sg_floor_bound(pcs, lga, np.array([b]))[0])
    assert lb < lga - 1e-6  # the bound decays below G(a) (else it would be useless)
    for bb in [b] + bigger:
        with mp.workdps(30):
            # (|G(a - ib)| = |G(a + ib)|: the integrand is real on the real line)
            panels = int(math.ceil((hi - lo) * bb * mu / 4.0)) + 24
            gb = abs(_ref(q, mu, complex(a, bb), lo, hi, panels))
        assert float(mp.log(gb)) <= lb, (bb, float(mp.log(gb)), lb)
        # and the bound at bb itself is no larger than at b (non-increasing in |b|)
        assert float(sg_floor_bound(pcs, lga, np.array([bb]))[0]) <= lb + 1e-15
