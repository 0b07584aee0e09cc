"""The batched rigorous enclosure of G(w) = E[(1 + u(X))^w] (ewacct._kernels.mgf_cert).

Reference: an independent mpmath evaluation at 40 digits -- Gauss-Legendre quadrature (mpmath's)
of 1 + int phi(x) [(1+u)^w - 1 - w u] dx along its own line Im x = y_ref (Cauchy's theorem: the
integrand is analytic for mu |Im x| < pi/2, and E[u] = 0), not the kernel's formulas or line.
Points span q 1e-9..0.999, mu 1e-3..5, |Im w| up to 3000, Re w from -6 (the ADD direction's
w = -z) to 100, and nodes of a batch on a vertical line as the certified contour requests them.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct._kernels.mgf import sg_log_g
from ewacct._kernels.mgf_cert import sg_g_enclose, sg_g_enclose_many


def _mp_G_minus_1(q: float, mu: float, w: complex, dps: int = 40) -> mp.mpc:
    with mp.workdps(dps):
        q_, mu_, w_ = mp.mpf(q), mp.mpf(mu), mp.mpc(w)
        b = float(w.imag)
        y = 0.0 if abs(b) * mu <= 1.0 else math.copysign(min(0.35 * math.pi / mu, 2.5), b)
        y_ = mp.mpf(y)
        c = 1 / mp.sqrt(2 * mp.pi)

        def f(t):
            x = mp.mpc(t, y_)
            u = q_ * mp.expm1(mu_ * x - mu_ * mu_ / 2)
            return c * mp.exp(-x * x / 2) * (mp.exp(w_ * mp.log1p(u)) - 1 - w_ * u)

        hi = max(17.0, max(w.real, 0.0) * mu + 17.0)
        pts = [mp.mpf(x) for x in np.arange(-18.0, hi, 0.5)] + [mp.mpf(hi)]
        return mp.quad(f, pts, method="gauss-legendre")


def _check(q: float, mu: float, w: complex, lg: complex, lr: float, ff: bool) -> float:
    """Asserts |G(w) - G~| <= r against the mpmath reference; returns r."""
    ref = _mp_G_minus_1(q, mu, w)
    r = math.exp(lr)
    with mp.workdps(40):
        # the f-form's G~ = 1 + expm1(log G~) (G - 1 compared without cancellation)
        err = float(abs(ref - mp.expm1(mp.mpc(lg)))) if ff else float(abs(1 + ref - mp.exp(mp.mpc(lg))))
    assert err <= r, (q, mu, w, err, r)
    return r


def _tol(q: float, mu: float, a: float) -> tuple[float, bool]:
    """The tolerance and form certified.py asks for: 1e-13 G(Re w), f-form where |log G(Re w)| < 1."""
    lga = float(sg_log_g(q, mu, complex(a, 0.0)).real)
    return lga + math.log(1e-13), abs(lga) < 1.0


CASES = [
    (1e-9, 1.0, complex(2.0, 300.0)),
    (1e-4, 1 / 0.6421, complex(3.7, 400.0)),
    (0.01, 1 / 0.6421, complex(3.72, 398.0)),       # the contour of q = 0.01, sigma = 0.6421, T = 110
    (0.01, 1 / 0.6421, complex(-2.5, -200.0)),      # the ADD direction: w = -z
    (0.5, 0.2, complex(20.0, 30.0)),
    (0.999, 0.5, complex(1.5, 5.0)),
    (0.01, 1e-3, complex(100.0, 2000.0)),
    (0.5, 5.0, complex(-6.0, 3.0)),
    (1e-9, 5.0, complex(0.1, 1000.0)),
    (1e-4, 0.5, complex(30.0, 50.0)),
    (0.01, 5.0, complex(0.1, -3000.0)),
]


@pytest.mark.parametrize("q,mu,w", CASES)
def test_enclosure_contains_mpmath(q, mu, w):
    tol, fform = _tol(q, mu, w.real)
    lg, lr, ff = sg_g_enclose(q, mu, w, tol, fform)
    r = _check(q, mu, w, lg, lr, ff)
    # useful: far below G(Re w), the scale the contour's node errors are measured against (the
    # rounding budget grows with |w|: 2.4e-9 at |w| = 3000, mu = 5)
    assert r <= 1e-8 * math.exp(tol - math.log(1e-13)), (r, tol)


def test_batch_on_a_vertical_line():
    # a batch as the contour requests it (w = z + 1, z = c + i k h): every node's enclosure is the
    # one-node computation up to the chained e^{w l} (its rounding budget: radius at most e^0.25
    # larger, the two enclosures overlap), and it contains the reference
    q, mu, c, h = 0.01, 1 / 0.6421, 2.72, 3.1
    w = (c + 1.0) + 1j * h * np.arange(0, 130)
    tol, fform = _tol(q, mu, c + 1.0)
    lg, lr = sg_g_enclose_many(q, mu, w, tol, fform)
    assert np.all(np.isfinite(lr)) and np.all(np.isfinite(lg))
    for k in (0, 1, 7, 64, 129):
        g1, r1, _ = sg_g_enclose(q, mu, complex(w[k]), tol, fform)
        assert r1 <= lr[k] <= r1 + 0.25
        assert abs(np.expm1(g1) - np.expm1(lg[k])) <= math.exp(r1) + math.exp(lr[k])
    for k in (3, 129):
        _check(q, mu, complex(w[k]), lg[k], lr[k], fform)
    # the ADD direction (w = -z): negative real part, negative imaginary parts
    wa = -(c + 1j * h * np.arange(0, 40))
    tol, fform = _tol(q, mu, -c)
    lg, lr = sg_g_enclose_many(q, mu, wa, tol, fform)
    _check(q, mu, complex(wa[39]), lg[39], lr[39], fform)


def test_zero_and_mixed_batches():
    # w = 0 (G = 1 exactly), and nodes of different real parts in one call
    w = np.array([0.0, 2.0 + 1.0j, 3.0 - 7.0j, 2.0 + 40.0j], dtype=np.complex128)
    lg, lr = sg_g_enclose_many(0.3, 0.8, w, -30.0, True)
    assert lg[0] == 0 and lr[0] == -math.inf
    for k in (1, 2, 3):
        _check(0.3, 0.8, complex(w[k]), lg[k], lr[k], True)


def test_nan_argument_gets_an_infinite_radius():
    # no enclosure is claimed for a NaN argument (and its neighbours in the batch are unaffected)
    w = np.array([complex(math.nan, 1.0), 2.0 + 1.0j, complex(2.0, math.nan)], dtype=np.complex128)
    lg, lr = sg_g_enclose_many(0.01, 1.0, w, -20.0, True)
    assert lr[0] == math.inf and lr[2] == math.inf
    _check(0.01, 1.0, complex(w[1]), lg[1], lr[1], True)


# -- the cross-segment kernel (ewacct._kernels.mgf_cert_multi, docs/certified.md 3c): one call encloses
# G_g(w) for every segment g of a history sharing q; each entry is checked against the same mpmath
# reference (the segment's own mu, its own line), and its radius against the tolerance asked
MULTI_CASES = [
    # q, mus (a factor-2 bucket), nodes (Re w shared per call, several line heights), f-form
    (0.01, [1 / 0.8, 1 / 1.5], [2.2 + 0.0j, 2.2 + 9.0j, 2.2 + 70.0j], True),
    (0.05, [1 / 0.9, 1 / 1.3], [-1.2 - 3.0j, -1.2 - 40.0j], True),       # ADD: w = -(c + iu)
    (0.3, [1.0, 0.7], [6.0 + 15.0j], False),                              # G far from 1: direct form
]


@pytest.mark.parametrize("q,mus,ws,ff", MULTI_CASES)
def test_multi_segment_enclosure_contains_mpmath(q, mus, ws, ff):
    from ewacct._kernels.mgf_cert_multi import sg_g_enclose_multi

    w = np.array(ws, dtype=np.complex128)
    tols = []
    for mu in mus:
        t, f = _tol(q, mu, w[0].real)
        assert f == ff
        tols.append(t + math.log(1e3))  # 1e-10 G(Re w), as the quantised contour asks at 200 segments
    lg, lr = sg_g_enclose_multi(q, np.array(mus), w, np.array(tols), ff)
    for g, mu in enumerate(mus):
        for j in range(len(ws)):
            assert lr[g, j] <= tols[g] + 2.3, (g, j, lr[g, j], tols[g])
            ref = _mp_G_minus_1(q, mu, complex(w[j]), dps=25)
            with mp.workdps(25):
                gt = mp.mpc(complex(lg[g, j]))
                err = float(abs(ref - mp.expm1(gt))) if ff else float(abs(1 + ref - mp.exp(gt)))
            assert err <= math.exp(lr[g, j]), (q, mu, ws[j], err, math.exp(lr[g, j]))


def test_gauss_legendre_tables():
    # every tabulated rule: nodes are the correctly rounded roots of P_n (mpmath's legendre and
    # findroot, not the generator's recurrence), weights 2 / ((1 - x^2) P_n'(x)^2) correctly rounded
    # within 1 ulp, and the rule integrates x^k exactly for k < 2n (within rounding)
    from ewacct._kernels.gl_tables import RULE_N, RULE_W, RULE_X
    from ewacct._kernels.mgf_cert import R16, _GW16, _GX16

    assert np.array_equal(RULE_X[R16, :16], _GX16) and np.array_equal(RULE_W[R16, :16], _GW16)
    with mp.workdps(30):
        for r, n in enumerate(RULE_N):
            x, wt = RULE_X[r, :n], RULE_W[r, :n]
            assert np.all(np.diff(x) > 0)
            for i in range(n):
                xr = mp.findroot(lambda t: mp.legendre(n, t), mp.mpf(float(x[i])))
                assert float(xr) == x[i]
                wr = 2 / ((1 - xr * xr) * mp.diff(lambda t: mp.legendre(n, t), xr) ** 2)
                assert abs(float(wr) - wt[i]) <= 2.3e-16 * wt[i]
            for k in range(2 * n):
                s = mp.fsum(mp.mpf(float(wt[i])) * mp.mpf(float(x[i])) ** k for i in range(n))
                exact = mp.mpf(2) / (k + 1) if k % 2 == 0 else mp.mpf(0)
                assert abs(s - exact) <= 1e-14


# extremes of q (1e-9 .. 1 - 1e-6) and sigma (0.2 .. 1e3, mu = 1 / sigma) at large |Im w|, both forms
EXTREME_CASES = [
    (1e-9, 1e-3, complex(50.0, 3e4), None),
    (1e-9, 5.0, complex(1.3, -2e3), None),
    (0.999999, 5.0, complex(0.4, 60.0), None),
    (0.999999, 1e-3, complex(20.0, 900.0), None),
    (1e-6, 0.2, complex(8.0, 5e3), False),
    (0.02, 1.0, complex(3.0, 700.0), None),
]


@pytest.mark.parametrize("q,mu,w,form", EXTREME_CASES)
def test_enclosure_extremes(q, mu, w, form):
    tol, fform = _tol(q, mu, w.real)
    if form is not None:
        fform = form
    lg, lr, ff = sg_g_enclose(q, mu, w, tol, fform)
    assert math.isfinite(lr)
    _check(q, mu, w, lg, lr, ff)


def test_multi_segment_q_near_one():
    # q = 1 - 1e-6: |1 + u| can be as small as 1 - q, so ell = log(1 + u) carries rounding
    # 4 u |u| / |1 + u| (the radius must include it); direct form, Re w > 0
    from ewacct._kernels.mgf_cert_multi import sg_g_enclose_multi

    q, mus = 0.999999, [5.0, 4.0]
    w = np.array([0.4 + 60.0j], dtype=np.complex128)
    tols = np.array([_tol(q, mu, 0.4)[0] for mu in mus])
    lg, lr = sg_g_enclose_multi(q, np.array(mus), w, tols, False)
    for g, mu in enumerate(mus):
        if not math.isfinite(lr[g, 0]):
            continue  # no enclosure claimed (the caller falls back to the one-segment kernel)
        ref = _mp_G_minus_1(q, mu, complex(w[0]), dps=30)
        with mp.workdps(30):
            err = float(abs(1 + ref - mp.exp(mp.mpc(complex(lg[g, 0])))))
        assert err <= math.exp(lr[g, 0]), (mu, err, math.exp(lr[g, 0]))


def test_batch_with_irregular_steps():
    # nodes of one line in an irregular order (steps of both signs and sizes, repeats): the chained
    # e^{w l} (mgf_cert.CH_MAX) restarts or changes its factor; each enclosure contains the reference
    q, mu, a = 0.02, 1.3, 3.1
    ims = np.array([100.0, 100.5, 101.0, 140.0, 139.0, 139.0, 90.0, 400.0, 401.25, 402.5, 403.75, 405.0,
                    406.25, 407.5, 408.75, 410.0, 411.25, 300.0])
    w = a + 1j * ims
    tol, fform = _tol(q, mu, a)
    lg, lr = sg_g_enclose_many(q, mu, w, tol, fform)
    assert np.all(np.isfinite(lr))
    for k in (4, 6, 16, 17):
        _check(q, mu, complex(w[k]), lg[k], lr[k], fform)


def _mp_G_window(q: float, mu: float, w: complex, lo: float, hi: float, y: float, dps: int = 30):
    """G(w) = int phi(x) (1+u)^w dx along Im x = y over [lo, hi] (the caller's window holds all but a
    negligible part), mpmath Gauss-Legendre on unit steps."""
    with mp.workdps(dps):
        q_, mu_, w_, y_ = mp.mpf(q), mp.mpf(mu), mp.mpc(w), mp.mpf(y)

        def f(t):
            x = mp.mpc(t, y_)
            u = q_ * mp.expm1(mu_ * x - mu_ * mu_ / 2)
            return mp.exp(-x * x / 2 + w_ * mp.log1p(u)) / mp.sqrt(2 * mp.pi)

        pts = [mp.mpf(x) for x in np.arange(lo, hi, 1.0)] + [mp.mpf(hi)]
        return mp.quad(f, pts, method="gauss-legendre")


@pytest.mark.parametrize("q,mu,w,y", [
    (0.001, 1.0, complex(6145.0, 0.0), 0.0),     # a real node of the certified truncation (q 1e-3, T 10)
    (0.001, 1.0, complex(513.0, 0.0), 0.0),
    (0.01, 2.0, complex(40.0, 30.0), 0.3),       # complex, a mu = 80: the joint bound with the arg term
])
def test_direct_form_large_a_mu(q, mu, w, y):
    # the direct form at large a mu, where the joint bound of |phi| |1+u|^a (mgf_cert._joint) replaces
    # the product of the two factors' separate maxima; |integrand| <= e^{-(x - a mu)^2/2 + O(1)} times
    # its peak, so the window [a mu - 12, a mu + 12] misses < e^-60 of the peak (<< the radius)
    # the tolerance as the driver asks it, 1e-13 G(Re w); the radius reaches ~3e-6 G(Re w) at
    # a = 6145 (double rounding of the exponent -x^2/2 at x ~ 6145; it was e^1758 G(Re w) with the
    # separate maxima) and is far below G(Re w) elsewhere
    la = float(sg_log_g(q, mu, complex(w.real, 0.0)).real)
    lg, lr, ff = sg_g_enclose(q, mu, w, la + math.log(1e-13), False)
    assert not ff and lr <= la + math.log(1e-5), (lr, la)
    c = w.real * mu
    ref = _mp_G_window(q, mu, w, c - 12.0, c + 12.0, y, dps=20)
    with mp.workdps(20):
        err = abs(ref - mp.exp(mp.mpc(lg)))
        assert err <= mp.exp(lr), (w, float(mp.log(err)), lr)


# -- tiny q, G within ~1e-12 of 1 (the certified contour of q = 3.9e-8, sigma = 1.842, T = 1.7e8 asks
# ~1e-8 / 2^28 of G per step): where |u| < 0.01 the f-form's conditioning term for ell is |w| (E - 1)
# kap + |w| sm |u|, no longer |w| E kap (docs/certified.md section 3, "Rounding"), so its radius reaches
# ~1e-11 of G - 1 (it stalled at ~1e-8 of G - 1 before).  Both kernels, against the 40-digit reference.
TINY_Q = (3.9e-8, 1 / 1.842)
TINY_W = [complex(77.11, 0.0), complex(77.11, 40.0), complex(77.11, 4000.0)]


def test_tiny_q_f_form_radius_and_containment():
    q, mu = TINY_Q
    w = np.array(TINY_W, dtype=np.complex128)
    lg, lr = sg_g_enclose_many(q, mu, w, -50.0, True)
    for j, wj in enumerate(TINY_W):
        r = _check(q, mu, wj, complex(lg[j]), float(lr[j]), True)
        gm1 = abs(complex(np.expm1(lg[j])))
        assert r <= 1e-9 * gm1, (wj, r, gm1)  # the radius is small against G - 1 itself


def test_tiny_q_multi_segment_containment():
    from ewacct._kernels.mgf_cert_multi import sg_g_enclose_multi

    q = TINY_Q[0]
    mus = [1 / 1.842, 1 / 2.0, 1 / 2.2, 1 / 2.5]
    w = np.array(TINY_W[:2], dtype=np.complex128)
    lg, lr = sg_g_enclose_multi(q, np.array(mus), w, np.full(len(mus), -50.0), True)
    for g, mu in enumerate(mus):
        for j in range(w.shape[0]):
            ref = _mp_G_minus_1(q, mu, complex(w[j]))
            with mp.workdps(40):
                err = float(abs(ref - mp.expm1(mp.mpc(complex(lg[g, j])))))
            assert err <= math.exp(lr[g, j]), (mu, w[j], err, math.exp(lr[g, j]))
            assert math.exp(lr[g, j]) <= 1e-8 * float(abs(ref))
