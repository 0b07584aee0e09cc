"""Session 16 (H-FW): the conditioned bracket's body laws by convex order (docs/certified_fewpart.md, C14).

References, none sharing code with the module: the body's functionals E_P[(1 - e^{c - L})_+; L <= g_c] and
E_P[(1 - e^{c - L1 - L2})_+; L1, L2 <= g_c] by mpmath quadrature (30 digits), REMOVE's two-step delta(eps) in mpmath
(tests/mpref.py), and the C2 bracket (rounded-up / rounded-down body laws, proven independently) of the same module.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant
from ewacct.bounds import fewpart_cond as fcd
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG
from mpref import psg_two_step_delta


def _body_ref(sigma, q, g_c, c, steps):
    """E_P[(1 - e^{c - S})_+ ; every L_i <= g_c], S = L_1 (+ L_2), REMOVE, in mpmath at 30 digits (the body is a
    sub-probability): one step in closed form, D(e) = P(e < L <= g_c) - e^e Q(e < L <= g_c) (dQ = e^{-L} dP), two steps
    as the quadrature of D(c - l(x)) over the first step's body."""
    with mp.workdps(30):
        q, mu, c, g_c = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(c), mp.mpf(g_c)

        def xof(e):  # l(x) = e
            return mu / 2 + mp.log(mp.expm1(e) / q + 1) / mu

        xc = xof(g_c)

        def D(e):
            if e >= g_c:
                return mp.mpf(0)
            xe = xof(e) if mp.expm1(e) + q > 0 else -mp.inf
            pm = (1 - q) * (mp.ncdf(xc) - mp.ncdf(xe)) + q * (mp.ncdf(xc - mu) - mp.ncdf(xe - mu))
            qm = mp.ncdf(xc) - mp.ncdf(xe)
            return pm - mp.exp(e) * qm

        if steps == 1:
            return D(c)

        def l(x):
            return mp.log1p(q * mp.expm1(mu * x - mu * mu / 2))

        pts = [-mp.inf, -6, -2, 0, mu, 2, 6, xc]
        if mp.expm1(c - g_c) + q > 0:  # where c - l(x) = g_c: D's argument leaves the body's range
            pts.append(xof(c - g_c))
        pts = sorted(set(p for p in pts if p <= xc))
        return mp.quad(lambda x: D(c - l(x)) * ((1 - q) * mp.npdf(x) + q * mp.npdf(x - mu)), pts)


@pytest.mark.parametrize("sigma,q,hexp,kc", [(0.8, 1e-3, 12, 16), (0.5, 3e-3, 10, 8)])
def test_icx_laws_bound_the_body_functionals(sigma, q, hexp, kc):
    # coarse grids (h = 2^-12, 2^-10: a few cells across the near-atom) where rounding up / down would be far off
    h = 2.0 ** -hexp
    k_lo = math.floor(math.log1p(-q) / h) - 1
    k_c = kc
    up, lo, info = fcd._icx_laws(k_lo, k_c - k_lo, h, q, 1.0 / sigma)
    g = (k_lo + np.arange(len(up))) * h
    assert np.all(up >= 0) and np.all(lo >= 0)
    for c in (0.0, 0.5 * k_c * h, k_c * h):
        ref = float(_body_ref(sigma, q, k_c * h, c, 1))
        w = np.where(g > c, -np.expm1(c - g), 0.0)
        u, d = float(np.dot(up, w)), float(np.dot(lo, w))
        assert d <= ref <= u, (c, d, ref, u)
    # two steps: the composed laws (exact convolutions of the vectors) bound the two-step body functional
    up2, lo2 = np.convolve(up, up), np.convolve(lo, lo)
    g2 = (2 * k_lo + np.arange(len(up2))) * h
    for c in (0.0, k_c * h):
        ref = float(_body_ref(sigma, q, k_c * h, c, 2))
        w = np.where(g2 > c, -np.expm1(c - g2), 0.0)
        u, d = float(np.dot(up2, w)), float(np.dot(lo2, w))
        assert d <= ref <= u, (c, d, ref, u)
        # second order: the two laws are close although h is coarse against the near-atom (q)
        assert u - d <= 0.15 * ref, (c, d, ref, u)


def test_icx_two_step_delta_contains_mpmath():
    for sigma, q, eps in ((2.0, 1e-4, 2.5e-4), (0.5, 1e-3, 2.0)):
        ref = float(psg_two_step_delta(sigma, q, eps, dps=40))
        h = 2.0 ** -20 if sigma == 2.0 else 2.0 ** -12
        k_c = fcd.COARSE * 4
        laws = fcd._Laws(q, sigma, 2, h, k_c, 1e-6, icx=True, wgrid=1e-4)
        lo, hi = laws.delta(eps, False), laws.delta(eps, True)
        assert lo <= ref <= hi, (sigma, q, eps, lo, ref, hi)


def test_icx_bracket_inside_the_c2_bracket_overlap_and_narrower():
    # (sigma 0.8363, q 8.07e-6, T 30, delta 6.75e-8): C2's bracket was 1.5e-7 wide (target 1e-7 absolute below 1e-3)
    sigma, q, T, delta, est = 0.8363, 8.07e-6, 30, 6.75e-8, 6.558e-4
    groups = list(Accountant().compose(PSG(sigma, q), T).groups())
    a = fcd.epsilon_bracket(groups, delta, est, time_budget=30.0)
    assert a is not None
    old = fcd.ICX
    try:
        fcd.ICX = False
        b = fcd.epsilon_bracket(groups, delta, est, time_budget=30.0)
    finally:
        fcd.ICX = old
    assert b is not None
    assert max(a[0], b[0]) <= min(a[1], b[1]), (a[:2], b[:2])  # two proofs about the same number
    assert a[1] - a[0] <= 1e-7, a[:2]


def test_icx_answers_where_c2_declined_many_steps():
    # (sigma 0.5535, q 2.17e-6, T 873, delta 3.13e-11): C2's grid (h = 2^-24) needs a 2^22-cell window and declined;
    # C14's coarser grid answers.  References: the exact engine's estimate (few-participation quadrature, another
    # method) and the proven Chernoff / sub-composition bracket
    from ewacct.bounds.proven import proven_epsilon_bracket

    sigma, q, T, delta = 0.5535, 2.17e-6, 873, 3.13e-11
    acc = Accountant().compose(PSG(sigma, q), T)
    r = acc.get_epsilon(delta)
    est = float(r.value)
    br = fcd.epsilon_bracket(list(acc.groups()), delta, est, time_budget=30.0)
    assert br is not None
    lo, hi, info = br
    if getattr(r, "valid", True):
        assert lo <= est <= hi, (lo, est, hi)
    assert hi - lo <= 1e-4 * hi, (lo, hi)
    plo, phi, _ = proven_epsilon_bracket(list(acc.groups()), delta)
    assert plo <= hi and lo <= phi, (lo, hi, plo, phi)


def test_window_from_the_bulk_charges_both_tails():
    # C15: the rolled cyclic power against the direct T-fold convolution; the mass outside the window within the
    # two-sided charge, and the folded vector equal to the windowed exact vector plus the mass folded in
    from ewacct.bounds import fewpart_cert as fc

    sigma, q, h, T = 1.0, 1e-3, 2.0 ** -12, 60
    k_lo = math.floor(math.log1p(-q) / h) - 1
    up, _, _ = fcd._icx_laws(k_lo, 16 - k_lo, h, q, 1.0 / sigma)
    v = fc._Vec(up, k_lo, 0.0, 0.0, 1)
    ks = (T - 1, T)
    N, st, al = fcd._window2((v, v), T, h, 1.0, ks)
    exact = np.array([1.0])
    for _ in range(T):
        exact = np.convolve(exact, up)
    assert N < len(exact)  # the window is shorter than the whole sum: something may fold
    a = st[0][T]
    assert a > T * k_lo  # it starts above the lowest sum
    pos = T * k_lo + np.arange(len(exact))
    inside = (pos >= a) & (pos < a + N)
    out_mass = float(exact[~inside].sum())
    assert out_mass <= al[0][1] * (1 + 1e-9) + 1e-15, (out_mass, al[0][1])
    pw = fcd._cyc_powers(v, N, ks, st[0])[T]
    assert pw.off == a
    folded = np.zeros(N)
    np.add.at(folded, (pos - a) % N, exact)
    assert np.max(np.abs(pw.a - folded)) <= pw.err + 1e-15
