"""The one-large-step enclosure (ewacct/methods/certified_onejump.py, docs/certified.md section 9) against
independent references:

* the J = 1 step's H(s) against an mpmath quadrature (30 digits) of its definition n E[(1 - e^{s - l(X)})_+; X > x_b];
* G_cut(a) against an mpmath quadrature of its definition;
* REMOVE's delta(eps) at two steps against the two-step Arb enclosure (bounds/two_step.py, another proof);
* eps(delta) at issue 9's tiny-q family (sigma 0.4981, q 5.23e-8, T 18,982,141, delta 5.94e-13) and at the issue 9
  sweep's one wide point (sigma 0.4984, q 1.95e-6, T 57,483, delta 8.07e-11) against a float reference built another
  way: the other steps' delta by a Bromwich integral
  at abscissa 1 (no cancellation there), integrated over the large step's x by Gauss-Legendre (the bracket's ends
  on either side of the reference's root), and within 1e-4.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.special import ndtr

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods.certified_onejump import OneJump


def _l(q, mu, x):
    return np.log1p(q * np.expm1(mu * x - 0.5 * mu * mu))


def _p1(q, mu, x):
    return ((1 - q) * np.exp(-0.5 * x * x) + q * np.exp(-0.5 * (x - mu) ** 2)) / math.sqrt(2 * math.pi)


def _gl_panels(a, b, width, k=24):
    t, w = np.polynomial.legendre.leggauss(k)
    n = max(1, int(math.ceil((b - a) / width)))
    e = np.linspace(a, b, n + 1)
    xs = ((e[:-1, None] + e[1:, None]) / 2 + (e[1:, None] - e[:-1, None]) / 2 * t[None, :]).ravel()
    ws = ((e[1:, None] - e[:-1, None]) / 2 * w[None, :]).ravel()
    return xs, ws


def _delta_ref(q, sigma, n, x_b):
    """REMOVE's D1 (exactly one step beyond x_b) in floats, another way than the enclosure: the other n - 1 steps'
    delta D_body(t) = E[(1 - e^{t - Y})_+; all <= x_b] by the Bromwich integral at c = 2 (trapezoid, step 2 pi / 20:
    aliases ~e^-40; the body's MGF is an entire function), the large step's x by Gauss-Legendre on [x_b, x_b + 4]
    (P_1(X > x_b + 4) is below 1e-15 of P_1(X > x_b) here).
    Returns eps -> D1(eps)."""
    mu = 1.0 / sigma
    N = n - 1
    xs, ws = _gl_panels(-10.0, x_b, 0.5, 16)
    lx, px = _l(q, mu, xs), _p1(q, mu, xs) * ws
    # x < -10: l in (log(1 - q), l(-10)], mass Phi(-10) ~ 7.6e-24 (left out: below 1e-20 of nu0)
    nu0 = float(np.sum(px))
    c, h = 2.0, 2 * math.pi / 20.0
    var = N * q * q * math.expm1(mu * mu)
    us = np.arange(0.0, math.sqrt(2 * 40.0 / var), h)
    logM = np.empty(us.shape, dtype=complex)
    for i in range(0, us.size, 4000):
        z = c + 1j * us[i:i + 4000]
        # psi(z) = int e^{z l} dP_1 on x <= x_b = nu0 + int (e^{z l} - 1) dP_1 (no cancellation in the small part)
        zl = z[:, None] * lx[None, :]
        er = np.exp(zl.real)
        em1 = er * (np.cos(zl.imag) - 1.0) + np.expm1(zl.real) + 1j * er * np.sin(zl.imag)
        w_ = (em1 @ px) / nu0
        logM[i:i + 4000] = N * (math.log(nu0) + 2 * np.arctanh(w_ / (2 + w_)))
    z = c + 1j * us
    wt = np.full(us.shape, h / math.pi)
    wt[0] *= 0.5
    base = wt * np.exp(logM) / (z * (z + 1))
    def d1(eps):
        # panels of 0.1 on [x_b, x_b + 4], of 0.02 within 0.3 of x* = l^{-1}(eps), where D_body(eps - l(x)) turns
        # from ~0 to ~(1 - e^{eps - l}) over a few body standard deviations in l (0.1 alone was 3e-5 off at the
        # second point, sigma 0.47, q 1e-8, T 1e8)
        xs_ = (math.log(math.expm1(eps) / q + 1.0) + 0.5 * mu * mu) / mu
        e1 = np.linspace(x_b, x_b + 4.0, 41)
        e2 = np.linspace(xs_ - 0.3, xs_ + 0.3, 31)
        edges = np.unique(np.concatenate([e1, e2[(e2 > x_b) & (e2 < x_b + 4.0)]]))
        t16, w16 = np.polynomial.legendre.leggauss(16)
        mid, half = (edges[:-1] + edges[1:]) / 2, (edges[1:] - edges[:-1]) / 2
        xg = (mid[:, None] + half[:, None] * t16[None, :]).ravel()
        wg = (half[:, None] * w16[None, :]).ravel()
        pg = n * _p1(q, mu, xg) * wg
        t = eps - _l(q, mu, xg)
        Db = np.concatenate([(np.exp(-np.outer(t[i:i + 64], z)) @ base).real for i in range(0, t.size, 64)])
        return float(np.sum(pg * Db))
    return d1


def test_H_against_mpmath():
    q, sigma, n, xb = 5.23e-8, 0.4981, 18982141, 8.5
    oj = OneJump(q, sigma, n, xb)
    mp.mp.dps = 30
    mu = 1 / mp.mpf(sigma)
    qq = mp.mpf(q)

    def l(x):
        return mp.log(1 - qq + qq * mp.exp(mu * x - mu * mu / 2))

    def p1(x):
        return ((1 - qq) * mp.exp(-x * x / 2) + qq * mp.exp(-(x - mu) ** 2 / 2)) / mp.sqrt(2 * mp.pi)

    import flint

    for s in (0.2, 0.3378, 0.5):
        xs = mp.findroot(lambda x: l(x) - s, 9)
        ref = n * mp.quad(lambda x: (1 - mp.exp(s - l(x))) * p1(x), [xs, xs + 2, xs + 6, mp.inf])
        flint.ctx.prec = 128
        H = oj._H_series(flint.arb(s), 2)[0]
        assert abs(float(H.mid()) / float(ref) - 1) < 1e-12
        assert float(H.rad()) < 1e-10 * float(ref)
    # G_cut(a) against its definition
    for a in (51.0, -49.0, 6.0):
        ref = mp.quad(lambda x: mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi) * (1 - qq + qq * mp.exp(mu * x - mu * mu / 2)) ** a,
                      [-40, -5, 0, 5, xb])
        g = oj.log_gcut(a)
        assert g.lower() <= float(mp.log(ref)) + 1e-14 and float(mp.log(ref)) - 1e-14 <= g.upper()


def test_two_steps_against_two_step_enclosure():
    # n = 2: REMOVE's delta(eps) from the two-step Arb integral (bounds/two_step.py, another proof) inside the bracket
    from ewacct.bounds import two_step as TS

    q, sigma = 1e-4, 0.5
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q), 2)
    p = TS._params(acc)
    for xb in (5.0, 5.5):
        oj = OneJump(q, sigma, 2, xb)
        for eps in (1.0, 2.0):
            lo, hi, _ = oj.delta_bounds(eps)
            ref = TS._delta_dir(p[0], p[1], eps, "remove", 128)
            r_lo, r_hi = float(ref.lower()), float(ref.upper())
            assert lo <= r_hi and r_lo <= hi, (xb, eps, lo, hi, r_lo, r_hi)
            assert hi - lo < 1e-2 * hi


@pytest.mark.parametrize("sigma,q,T,delta", [
    (0.4981, 5.23e-8, 18982141, 5.94e-13),
    # issue 9's sweep (benchmarks/certified_sweep.py --seed 9): its one wide point before, [1.004269, 1.0046696]
    (0.4984107940253635, 1.9532495281947425e-06, 57483, 8.065208070309827e-11),
])
def test_family_bracket_against_reference(sigma, q, T, delta):
    from ewacct.bounds.certify import ONEJUMP_SOURCE, certified_epsilon, clear_memo
    from ewacct.methods.certified import clear_caches

    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T)
    r = certified_epsilon(acc, delta)
    lo, hi = r.lower, r.upper
    assert hi - lo <= 1e-4 * hi
    assert r.source.startswith(ONEJUMP_SOURCE)
    x_b = r.analytic["contour"]["onejump"]["x_b"]
    d1 = _delta_ref(q, sigma, T, x_b)
    # eps_ref in [lo, hi] <=> delta_ref(lo) >= delta >= delta_ref(hi) (delta non-increasing); the reference leaves out
    # D0 and D2 (below 1e-7 of delta at these points, by the bounds of section 9) and is good to ~1e-8: slack 2e-7
    assert d1(lo) >= delta * (1 - 2e-7), (lo, d1(lo), delta)
    assert d1(hi) <= delta * (1 + 2e-7), (hi, d1(hi), delta)
