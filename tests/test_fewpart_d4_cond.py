"""The conditioned expansion of REMOVE delta / eps at tiny q (methods/fewpart_condexact.py; issue 8, H-D4).

References: for three steps an independent direct quadrature of delta_3(eps) = E[D1(eps - L1 - L2)] (D1 the
one-step closed form; Gauss-Legendre in x1, x2 on panels graded toward the points where the argument of D1
reaches the loss's infimum, the only non-smooth place), itself checked against mpmath at two steps; at
T ~ 1e6 the few-participation quadrature of fewpart.py (another method: the truncated-MGF contour), where it
settles.
"""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy.special import ndtr

from ewacct.methods import fewpart, fewpart_condexact as fc

_GX, _GW = np.polynomial.legendre.leggauss(16)


def _d1(q, mu, e):
    """One-step REMOVE delta: P(L > e) - e^e Q(L > e), 1 - e^e below the loss's infimum log(1 - q)."""
    e = np.atleast_1d(np.asarray(e, float))
    out = -np.expm1(e)
    a = np.expm1(e) + q
    ok = a > 0
    x = (np.log(a[ok] / q) + 0.5 * mu * mu) / mu
    out[ok] = q * ndtr(mu - x) - a[ok] * ndtr(-x)
    return out


def _inv(q, mu, v):
    a = math.expm1(v) + q
    return (math.log(a / q) + 0.5 * mu * mu) / mu if a > 0 else -math.inf


def _nodes(q, mu, pts, lo=-9.0, hi=None, width=0.25, depth=32):
    hi = mu + 13.0 if hi is None else hi
    cuts = set(np.arange(lo, hi + 1e-12, width).tolist())
    for p in pts:
        if lo < p < hi:
            cuts.add(p)
            for k in range(1, depth):
                for sgn in (-1.0, 1.0):
                    c = p + sgn * width * 2.0 ** -k
                    if lo < c < hi:
                        cuts.add(c)
    ed = np.array(sorted(cuts))
    a, b = ed[:-1, None], ed[1:, None]
    x = (0.5 * (a + b) + 0.5 * (b - a) * _GX).ravel()
    w = (0.5 * (b - a) * _GW).ravel() * ((1 - q) * np.exp(-x * x / 2) + q * np.exp(-(x - mu) ** 2 / 2)) / math.sqrt(2 * math.pi)
    return w, np.log1p(q * np.expm1(mu * x - mu * mu / 2))


def _ref_delta2(q, sigma, e, hi=None):
    mu = 1.0 / sigma
    w, l = _nodes(q, mu, [_inv(q, mu, e), _inv(q, mu, e + q)], hi=hi)
    return float(np.dot(w, _d1(q, mu, e - l)))


def _ref_delta3(q, sigma, eps):
    mu = 1.0 / sigma
    hi = max(mu + 13.0, _inv(q, mu, eps) + 8.0)  # past the x where one step's loss alone reaches eps
    w, l = _nodes(q, mu, [_inv(q, mu, eps), _inv(q, mu, eps + q)], hi=hi)
    return math.fsum(wi * _ref_delta2(q, sigma, eps - li, hi) for wi, li in zip(w, l))


def _mp_delta2(q, sigma, eps, dps=25):
    """Two steps in mpmath, with a breakpoint where l(x) = eps (without it tanh-sinh was 1.8e-3 off at
    q 1e-5, sigma 0.6, eps 1: tests/mpref.psg_two_step_delta gives 3.1298e-16 for 3.1242e-16)."""
    with mp.workdps(dps):
        q, mu, eps = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)

        def d1(e):
            if mp.expm1(e) + q <= 0:
                return 1 - mp.exp(e)
            xe = mu / 2 + mp.log(mp.expm1(e) / q + 1) / mu
            return q * mp.ncdf(mu - xe) - (mp.expm1(e) + q) * mp.ncdf(-xe)

        def f(x):
            return d1(eps - mp.log1p(q * mp.expm1(mu * x - mu * mu / 2))) * ((1 - q) * mp.npdf(x) + q * mp.npdf(x - mu))

        xs = mu / 2 + mp.log(mp.expm1(eps) / q + 1) / mu
        return mp.quad(f, sorted({-mp.inf, -8, -4, 0, 4, mu + 4, 8, 12, 20, mp.inf, xs}))


def test_reference_two_steps_against_mpmath():
    q, sigma, e = 1e-5, 0.6, 1.0
    ref = _ref_delta2(q, sigma, e)
    assert abs(ref / float(_mp_delta2(q, sigma, e)) - 1.0) <= 1e-9


@pytest.mark.parametrize("q,sigma,eps", [(1e-5, 0.6, 1.0), (1e-4, 0.3, 6.0)])
def test_three_steps_against_direct_quadrature(q, sigma, eps):
    v, rel, info = fc.cond_delta([(q, sigma, 3)], eps)
    ref = _ref_delta3(q, sigma, eps)
    assert abs(v / ref - 1.0) <= max(1e-9, 2.0 * rel), (v, ref, rel)
    assert rel <= 1e-8


def test_large_t_against_the_truncated_mgf_quadrature():
    # seed-14 point 13 of benchmarks/trunc_d3_scan.py: both methods settle; eps and delta agree
    q, sigma, T, delta = 2.1755e-07, 0.4485, 3852362, 3.1e-11
    e_c, rel_c, _ = fc.cond_epsilon([(q, sigma, T)], delta)
    e_q, rel_q, d = fewpart.fewpart_epsilon([(q, sigma, T)], delta, direction="remove")
    assert d == "remove" and rel_c <= 1e-9 and rel_q <= 1e-6
    assert abs(e_c / e_q - 1.0) <= 1e-8 + rel_q
    v, rel_d, _ = fc.cond_delta([(q, sigma, T)], e_c)
    assert abs(v / delta - 1.0) <= 1e-8 and rel_d <= 1e-9


def test_corner_points_that_were_flagged_settle_fast():
    # seed-14 points 22 and 24 (q T 0.59, 0.69; delta ~1e-12): the default answered a flagged bound after 0.65 s;
    # eps(delta) by the expansion in tens of ms, delta at it back to the target, inside the proven one-step bracket
    import time

    for q, sigma, T, delta in ((3.799e-07, 0.5230, 1544952, 1.326e-12), (5.491e-07, 0.5540, 1251822, 5.862e-13)):
        t0 = time.process_time()
        assert fc.first([(q, sigma, T)], "epsilon")
        e, rel, d = fc.dispatch_epsilon([(q, sigma, T)], delta)  # REMOVE, ADD settled by its Chernoff bound
        assert time.process_time() - t0 < 0.5
        assert d == "remove" and rel <= 1e-7
        v, _, _ = fc.cond_delta([(q, sigma, T)], e)
        assert abs(v / delta - 1.0) <= 1e-8
        # rigorous bracket of delta(e) (the payoff is increasing in every loss, losses >= log(1 - q); union bound):
        # D1(e - (T-1) log(1-q)) <= delta(e) <= T x (one step above e - (T-1) max small loss) is too loose above;
        # the lower end alone: one step's D1 at the other steps' infimum
        mu = 1.0 / sigma
        lower = float(_d1(q, mu, e - (T - 1) * math.log1p(-q))[0])
        assert lower <= v


def test_declines_fast_outside_its_regime():
    import time

    # the summed small losses dominate (a CLT regime): declined in milliseconds, loudly
    t0 = time.process_time()
    with pytest.raises(fc.CondError):
        fc.cond_epsilon([(1.373e-9, 0.8585, 2528948174)], 2.4068e-9)
    # many participations at small sigma (J >= 4 matters)
    with pytest.raises(fc.CondError):
        fc.cond_epsilon([(1.036e-7, 0.1689, 87190)], 4.2e-12)
    assert time.process_time() - t0 < 0.5
    assert not fc.applies([(1e-3, 0.5, 100)]) and not fc.applies([(1e-6, 0.5, 10 ** 9)])
    assert not fc.applies([(1e-6, 0.5, 10 ** 5), (1e-6, 0.6, 10 ** 5)])


def test_wide_cauchy_circle_regression():
    # q 1e-9, sigma 0.2, T 1000, delta 1e-12: a Cauchy circle of radius 10 around eps ~ 21 crossed the principal
    # log's cut of e^e - 1 + q and the expansion answered 21.01 (estimate 5e-14); the truth is 14.8430797
    # (tests/test_fewpart.py bounds it independently); one large step: T D1(eps) = delta within 1e-6
    e, rel, _ = fc.cond_epsilon([(1e-9, 0.2, 1000)], 1e-12)
    assert abs(1000 * float(_d1(1e-9, 5.0, e)[0]) / 1e-12 - 1.0) <= 1e-5
    assert rel <= 1e-8


def test_tiny_delta_without_cancellation():
    # q 1e-4, sigma 1, T 10, eps 1: delta ~1e-24, which the truncated-MGF quadrature refuses (its floating-point
    # budget ~1e7 times delta; tests/test_fewpart_delta.py).  Here delta is T times
    # the one-step delta up to the other nine steps' spread (~1e-4 each: a relative shift ~(a sd)^2 / 2 ~ 2e-5)
    v, rel, _ = fc.cond_delta([(1e-4, 1.0, 10)], 1.0)
    one = 10.0 * float(_d1(1e-4, 1.0, 1.0)[0])
    assert rel <= 1e-8 and 0.0 < v / one - 1.0 <= 1e-4


def test_three_steps_steep_one_step_delta():
    # q 1e-5, sigma 2, T 3, eps 0.05 / 0.2: |d log delta / d eps| ~ 700; a Cauchy circle of half the distance to the
    # branch point spanned 1e10 in |G_an| and the FFT's aliasing gave 3.6e-64 for 5.8e-70 at a stated 3e-10
    # (the radius is now capped by R_SLOPE / slope and the aliasing charged).  Settled or declined, never wrong
    for eps in (0.05,):
        c = fc.CondRemove(1e-5, 2.0, 3)
        v, err, _ = c.delta(eps)
        ref = _ref_delta3(1e-5, 2.0, eps)
        assert abs(v / ref - 1.0) <= err / v + 1e-9, (eps, v, ref, err / v)
