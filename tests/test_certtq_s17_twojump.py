"""Session 17's additions to the one-large-step enclosure (ewacct/methods/certified_onejump.py,
docs/certified_twojump.md) against independent references:

* the J = 2 term's upper bound _h2_upper(s) against a 30-digit mpmath quadrature of
  H2(s) = C(n, 2) int_{x > x_b} h1(s - l(x)) dP_1(x), h1 itself checked against the 30-digit quadrature of its
  definition E[(1 - e^{t - l(X)})_+; X > x_b] (both branches, t above and below l(x_b));
* the body's exact moments about m (k <= 8, J8), the third (J7) and the fourth / sixth moment bounds against a float Gauss-Legendre quadrature of their
  definitions E[(Y_1 + Y_2 - m)^k; X_1, X_2 <= x_b] (n = 3: two body steps);
* eps(delta) at issue 9's family point sigma 0.5387, q 5.52e-8, T 14,196,427, delta 2.11e-12 (session 16: [0.07054,
  0.07194], 1.9e-2 wide, from the contour) within 1e-4, its ends on either side of delta by the float Bromwich
  reference of tests/test_certct_s16_onejump.py (the J = 1 term at x_b = 8, the J >= 2 part at most C(n, 2) p^2).
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods.certified_onejump import OneJump

from test_certct_s16_onejump import _delta_ref  # noqa: E402  (the float Bromwich reference)


def _mp_setup(q, sigma):
    mu = 1 / mp.mpf(sigma)
    qq = mp.mpf(q)

    def l(x):
        return mp.log(1 - qq + qq * mp.exp(mu * x - mu * mu / 2))

    def p1(x):
        return ((1 - qq) * mp.exp(-x * x / 2) + qq * mp.exp(-(x - mu) ** 2 / 2)) / mp.sqrt(2 * mp.pi)

    def phibar(x):
        return mp.erfc(x / mp.sqrt(2)) / 2

    return mu, qq, l, p1, phibar


def test_h2_upper_against_mpmath():
    q, sigma, n, xb = 5.52e-8, 0.5387, 14196427, 7.75
    oj = OneJump(q, sigma, n, xb)
    mp.mp.dps = 30
    mu, qq, l, p1, phibar = _mp_setup(q, sigma)
    xbm = mp.mpf(xb)
    p = (1 - qq) * phibar(xbm) + qq * phibar(xbm - mu)
    lb = l(xbm)

    def h1(t):  # closed form: (1 - q - e^t) Phibar(x*) + q Phibar(x* - mu) above l(x_b), p - e^t Phibar(x_b) below
        if t <= lb:
            return p - mp.exp(t) * phibar(xbm)
        xs = (mp.log((mp.exp(t) - 1 + qq) / qq) + mu * mu / 2) / mu
        return (1 - qq - mp.exp(t)) * phibar(xs) + qq * phibar(xs - mu)

    # h1's closed form against the quadrature of its definition, on both sides of l(x_b)
    for t in (lb / 2, 0.03):
        x0 = max(xbm, mp.findroot(lambda x: l(x) - t, 8))
        ref = mp.quad(lambda x: (1 - mp.exp(t - l(x))) * p1(x), [x0, x0 + 1, x0 + 3, x0 + 8, mp.inf])
        assert abs(h1(t) / ref - 1) < 1e-20
    for s in (0.05, 0.0712):
        xk = mp.findroot(lambda x: l(x) - (s - lb), 8)  # h1(s - l(x)) changes branch at x_k
        ref = mp.binomial(n, 2) * mp.quad(lambda x: h1(s - l(x)) * p1(x), [xbm, (xbm + xk) / 2, xk, xk + 1, xk + 4,
                                                                           mp.inf])
        import flint

        flint.ctx.prec = 128
        up = float(oj._h2_upper(s).upper())
        assert float(ref) <= up <= 1.5 * float(ref), (s, float(ref), up)


def _gl(a, b, width, k=20):
    t, w = np.polynomial.legendre.leggauss(k)
    m = max(1, int(math.ceil((b - a) / width)))
    e = np.linspace(a, b, m + 1)
    xs = ((e[:-1, None] + e[1:, None]) / 2 + (e[1:, None] - e[:-1, None]) / 2 * t[None, :]).ravel()
    ws = ((e[1:, None] - e[:-1, None]) / 2 * w[None, :]).ravel()
    return xs, ws


def test_body_moments_against_quadrature():
    # n = 3: the body is two steps; E[(Y_1 + Y_2 - m)^k; X_1, X_2 <= x_b] by a 2-d Gauss-Legendre product rule
    q, sigma, xb = 0.01, 1.0, 3.0
    oj = OneJump(q, sigma, 3, xb)
    mu = 1.0 / sigma
    xs, ws = _gl(-12.0, xb, 0.25)
    lx = np.log1p(q * np.expm1(mu * xs - 0.5 * mu * mu))
    px = ((1 - q) * np.exp(-0.5 * xs * xs) + q * np.exp(-0.5 * (xs - mu) ** 2)) / math.sqrt(2 * math.pi) * ws
    z = lx[:, None] + lx[None, :] - oj.m
    W = px[:, None] * px[None, :]
    ref = {k: float(np.sum(z ** k * W)) for k in range(9)}
    scale3 = float(np.sum(np.abs(z) ** 3 * W))
    # J8: the exact moments about m (cumulant recursions) against the quadrature, k = 0..8
    for k in range(9):
        sk = float(np.sum(np.abs(z) ** k * W))
        v = oj.mom_ex[k]
        assert abs(float(v.mid()) - ref[k]) <= 1e-9 * sk + float(v.rad()), (k, float(v.mid()), ref[k])
        assert float(v.rad()) <= 1e-6 * sk
    assert ref[8] <= float(oj.mom8.upper()) * (1 + 1e-9)
    m3 = oj.mom3
    assert abs(float(m3.mid()) - ref[3]) <= 1e-9 * scale3 + float(m3.rad())
    assert float(m3.rad()) <= 1e-6 * scale3
    assert ref[4] <= float(oj.mom4.upper()) * (1 + 1e-9) and float(oj.mom4.upper()) <= 1.01 * ref[4]
    assert ref[6] <= float(oj.mom6.upper()) * (1 + 1e-9)
    assert scale3 <= float(oj.mom3abs.upper()) * (1 + 1e-9)


def test_family_point_eps():
    from ewacct.bounds.certify import ONEJUMP_SOURCE, certified_epsilon, clear_memo
    from ewacct.methods.certified import clear_caches

    s, q, T, d = 0.5387, 5.52e-8, 14196427, 2.11e-12
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = certified_epsilon(acc, d)
    lo, hi = r.lower, r.upper
    assert r.source.startswith(ONEJUMP_SOURCE)
    assert 0.0 < hi and hi - lo <= 1e-4 * hi, (lo, hi)
    # the float reference: D1 at x_b = 8 (the body by a Bromwich integral), J >= 2 in [0, C(n, 2) p^2 ~ 2e-5 delta];
    # eps_ref in [lo, hi] <=> delta_ref(lo) >= delta >= delta_ref(hi)
    from scipy.special import ndtr

    xb = 8.0
    p = (1 - q) * ndtr(-xb) + q * ndtr(1.0 / s - xb)
    c2 = 0.5 * T * (T - 1.0) * p * p
    assert c2 <= 3e-5 * d
    d1 = _delta_ref(q, s, T, xb)
    assert d1(hi) <= d * (1 + 2e-7), (d1(hi), d)
    assert d1(lo) + c2 >= d * (1 - 2e-7), (d1(lo), d)
