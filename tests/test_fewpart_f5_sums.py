"""The compiled panel sums of the few-participation quadrature (fewpart_path.panel_sums, session 14 H-F5).

Their Filon weights come from a spherical Bessel routine of their own (fewpart_path.sph_jn15): checked against
mpmath's Bessel J_{k+1/2} at 30 digits, and the weights against mpmath integrals of polynomials times e^{-i omega t}
(the rule is exact there).  End to end: fewpart answers with the compiled sums and with the numpy reference code
(NUMBA_SUMS off) agree within their stated errors, and an answer is within its stated error of an independent
mpmath evaluation of delta for one subsampled-Gaussian step (T = 1: delta in closed form from normal tails).
"""

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct._kernels.fewpart_path import filon_weights, sph_jn15
from ewacct.methods import fewpart as fp

XS = [1e-6, 0.05, 0.5, 0.9, 3.2, 6.5, 9.66, 11.72, 14.0, 19.99, 20.01, 55.5, 1000.3, 1e6 + 0.7]


def test_sph_jn15_against_mpmath():
    out = np.empty(15)
    with mp.workdps(30):
        for x in XS:
            ref = [mp.sqrt(mp.pi / (2 * mp.mpf(x))) * mp.besselj(k + mp.mpf(1) / 2, mp.mpf(x)) for k in range(15)]
            ref = np.array([float(r) for r in ref])
            sph_jn15(x, out)
            assert np.abs(out - ref).max() <= 2e-15 * np.abs(ref).max(), x
    sph_jn15(0.0, out)
    assert out[0] == 1.0 and not out[1:].any()


@pytest.mark.parametrize("om", [0.0, 0.3, 0.62, 4.0, 11.7, 37.0, 90.0])
def test_filon_weights_exact_on_polynomials(om):
    wk = np.empty(15, dtype=np.complex128)
    wg = np.empty(7, dtype=np.complex128)
    filon_weights(om, fp._FILON.vk, fp._FILON.vg, wk, wg)
    rng = np.random.default_rng(int(om * 100) + 1)
    x = fp.GK_X
    for deg, w, nodes in ((14, wk, x), (6, wg, x[1::2])):
        c = rng.normal(size=deg + 1)
        p = np.polynomial.Polynomial(c)
        got = complex(np.sum(w * p(nodes)))
        with mp.workdps(30):
            f = lambda t: mp.polyval([mp.mpf(v) for v in c[::-1]], t) * mp.expj(-om * t)  # noqa: E731
            pts = mp.linspace(-1, 1, int(om) // 2 + 3) if om > 4 else [-1, 1]
            ref = complex(mp.quad(f, pts))
        scale = np.sum(np.abs(w) * np.abs(p(nodes)))
        assert abs(got - ref) <= 64 * 2.2e-16 * scale + 1e-15, (om, deg, abs(got - ref), scale)


def test_compiled_and_numpy_sums_agree_within_estimates(monkeypatch):
    g = [(1e-5, 0.5, 1000)]
    new = fp.fewpart_delta(g, 1.4)
    monkeypatch.setattr(fp, "NUMBA_SUMS", False)
    ref = fp.fewpart_delta(g, 1.4)
    assert abs(new[0] - ref[0]) <= (new[1] + ref[1]) * ref[0]
    e_new = fp.fewpart_epsilon(g, 1e-10)
    monkeypatch.setattr(fp, "NUMBA_SUMS", True)
    e_ref = fp.fewpart_epsilon(g, 1e-10)
    assert abs(e_new[0] - e_ref[0]) <= (e_new[1] + e_ref[1]) * e_ref[0]


def test_one_step_against_mpmath():
    # T = 1: delta(eps) = P[X > x*] - e^eps Q[X > x*] over the loss's level set, X ~ (1 - q) N(0,1) + q N(mu,1) (remove
    # direction), Q = N(0, 1); the loss l(x) = log(1 - q + q e^{mu x - mu^2/2}) is increasing, x* = l^{-1}(eps)
    q, sigma, eps = 0.003, 0.6, 0.8
    mu = 1 / sigma
    with mp.workdps(40):
        qq, m = mp.mpf(q), mp.mpf(mu)
        xs = (mp.log((mp.e ** eps - (1 - qq)) / qq) + m * m / 2) / m
        tail = lambda a: mp.erfc(a / mp.sqrt(2)) / 2  # noqa: E731
        d_rem = (1 - qq) * tail(xs) + qq * tail(xs - m) - mp.e ** eps * tail(xs)
        # add direction: loss -l(x) under Q ... delta = Q[l(X) < -eps] - e^eps P[l(X) < -eps]; l > log(1 - q) so it
        # is 0 where -eps < log(1 - q)
        d_add = mp.mpf(0) if -eps < mp.log(1 - qq) else None
    assert d_add is not None
    got = fp.fewpart_delta([(q, sigma, 1)], eps)
    ref = float(max(d_rem, d_add))
    assert abs(got[0] - ref) <= max(got[1], 1e-9) * ref
