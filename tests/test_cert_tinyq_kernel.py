"""The truncated subsampled-Gaussian MGF enclosure (``mgf_cert.sg_g_enclose_cut``, docs/certified.md section 8).

G_cut(w) = E[(1 + u(X))^w; X <= x_cut], u(x) = q (e^{mu x - mu^2/2} - 1), X ~ N(0, 1): the building block of
the conditioned (no step beyond x_cut) contour for tiny q and huge T.  Checked against an independent mpmath
quadrature of the definition (30 digits), both forms (f-form with the closed-form constants, direct form), and
the radius against the tolerance where the tiny-q contour needs it (|Im w| up to 3,000 at x_cut = 10).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct._kernels.mgf_cert import sg_g_enclose_cut


def _cutv(q: float, mu: float, xc: float) -> np.ndarray:
    """(x_cut, c0, err, c1, err): c0 = P(X > x_cut), c1 = q (P(X > x_cut - mu) - P(X > x_cut)) in Arb."""
    from flint import arb, ctx

    old = ctx.prec
    ctx.prec = 200
    try:
        s2 = arb(2).sqrt()
        c0 = (arb(xc) / s2).erfc() / 2
        c1 = arb(q) * (((arb(xc) - arb(mu)) / s2).erfc() / 2 - c0)
        out = [xc]
        for b in (c0, c1):
            m = float(b.mid())
            out += [m, float(b.rad()) + abs(m) * 2.0 ** -52]
    finally:
        ctx.prec = old
    return np.array(out)


def _ref(q: float, mu: float, w: complex, xc: float) -> mp.mpc:
    mp.mp.dps = 30
    qq, mm, ww = mp.mpf(q), mp.mpf(mu), mp.mpc(w)

    def f(x):
        return mp.npdf(x) * (1 + qq * (mp.exp(mm * x - mm * mm / 2) - 1)) ** ww

    return mp.quad(f, [-mp.inf, -12] + list(mp.linspace(-12, xc, 41)), maxdegree=8)


CASES = [
    (0.01, 1.0, 3.0, [2 + 5j, 2 + 0j]),        # moderate q: the cut visible in G (1 - G ~ 1e-3)
    (0.3, 2.0, 1.5, [-3 + 2j, 4 + 40j]),       # ADD-like and REMOVE-like Re w, large q
    (9.68e-8, 1 / 0.5924, 10.0, [51 + 0j, 51 + 200j, 81 + 2000j]),  # the tiny-q, huge-T point's tilt
]


@pytest.mark.parametrize("q,mu,xc,ws", CASES)
@pytest.mark.parametrize("fform", [True, False])
def test_cut_enclosure_contains_mpmath(q, mu, xc, ws, fform):
    w = np.array(ws, dtype=np.complex128)
    lg, lr = sg_g_enclose_cut(q, mu, w, -45.0, fform, _cutv(q, mu, xc))
    for k, wk in enumerate(ws):
        ref = _ref(q, mu, wk, xc)
        # G~ = exp(lg) in 30 digits (lg is small where G ~ 1: its own digits carry G - 1)
        err = abs(mp.exp(mp.mpc(complex(lg[k]))) - ref)
        assert math.isfinite(lr[k])
        assert err <= math.exp(lr[k]), (q, mu, xc, wk, fform, float(err), math.exp(lr[k]))


def test_cut_radius_tiny_q():
    """At the tiny-q point's tilts the f-form radius stays far below the node tolerance the conditioned
    contour needs where |e^K| is large (|Im w| <= 3,000: <= 1e-16; at Im w = 0, <= 1e-19)."""
    q, mu, xc = 9.68e-8, 1 / 0.5924, 10.0
    b = np.array([0.0, 500.0, 3000.0])
    for a in (31.0, 81.0):
        lg, lr = sg_g_enclose_cut(q, mu, a + 1j * b, -45.0, True, _cutv(q, mu, xc))
        assert lr[0] <= math.log(1e-19)
        assert np.all(lr <= math.log(1e-16)), lr
