"""Certified Laplace brackets by conditioning on the number of continuous steps (issue 9, the gap where
the atoms dominate M^T and the Arb contour needs too many nodes).

References, independent of ewacct.methods.laplace_certified:

* ``mp_delta_conditioned``: delta(eps) from the one-step law of the loss (atoms +-theta, continuous
  density e^{(l - theta)/2} / 4 on (-theta, theta)), summed over the counts (k continuous steps, i plus
  atoms, j minus atoms) in mpmath; given k the continuous part S_k has density e^{s/2} B_k(s) / Z_k with
  B_k the density of a sum of k uniforms (the truncated-power formula), and E[(1 - e^{y - S_k})_+] is
  integrated term by term with the textbook antiderivative of e^{cv} v^n (no incomplete-gamma or B-spline
  piece code shared with the module, no tilt identity);
* the residue sum of tests/test_laplace_exact.py (M^T expanded, inverted by residues; mpmath);
* dp_accounting's Laplace PLD pessimistic / optimistic pair;
* several scales: delta of one step of theta_2 in closed form, averaged over the law of a theta_1 step by
  mpmath quadrature (nested once more for three steps), and the PLD pair.
"""

from __future__ import annotations

import logging
from math import comb

import mpmath as mp
import pytest

from ewacct import Accountant, Laplace
from ewacct.methods.laplace_certified import (GROUPS_SOURCE, KSUM_SOURCE, NotCertified, certified_bracket,
                                              certified_delta, certified_epsilon, groups_delta_ball, ksum_delta)


# ---------------------------------------------------------------------- the reference
def _anti(c, n, v):
    """An antiderivative of e^{cv} v^n: e^{cv} sum_j (-1)^{n-j} n! / j! v^j / c^{n-j+1} (its derivative
    telescopes to e^{cv} v^n); the terms built from j = 0 up."""
    t = (-1) ** n * mp.factorial(n) / c ** (n + 1)
    s = t
    for j in range(n):
        t = -t * v * c / (j + 1)
        s += t
    return mp.exp(c * v) * s


def mp_h(th, k, y):
    """E[(1 - e^{y - S})_+] for S the continuous part of k steps."""
    if k == 0:
        return -mp.expm1(y) if y < 0 else mp.mpf(0)
    if y >= k * th:
        return mp.mpf(0)
    if y <= -k * th:
        return -mp.expm1(y)
    Z = (mp.sinh(th / 2) / (th / 2)) ** k  # int e^{s/2} B_k(s) ds
    top = k * th
    tot = mp.mpf(0)
    # B_k(s) = sum_m (-1)^m C(k, m) (s - a_m)_+^{k-1} / ((k-1)! (2 th)^k), a_m = -k th + 2 th m
    for m in range(k):
        a = -k * th + 2 * th * m
        lo = max(y, a)
        if lo >= top:
            break
        for c, f in ((mp.mpf(1) / 2, 1), (-mp.mpf(1) / 2, -mp.exp(y))):  # e^{s/2} - e^y e^{-s/2}
            tot += f * (-1) ** m * comb(k, m) * mp.exp(c * a) * (_anti(c, k - 1, top - a) - _anti(c, k - 1, lo - a))
    return tot / (mp.factorial(k - 1) * (2 * th) ** k * Z)


def mp_delta_conditioned(theta, T, eps, K, dps=30):
    """(S, P(k > K)): S the sum over k <= K continuous steps; delta(eps) lies in [S, S + P(k > K)]."""
    with mp.workdps(dps + K):
        th, eps = mp.mpf(theta), mp.mpf(eps)
        pc = -mp.expm1(-th) / 2                   # P(continuous step)
        pa, pb = mp.mpf(1) / 2, mp.exp(-th) / 2   # P(+theta), P(-theta)
        qa = pa / (pa + pb)
        tot = mp.mpf(0)
        mass = mp.mpf(0)
        for k in range(K + 1):
            Pk = comb(T, k) * pc ** k * (1 - pc) ** (T - k)
            mass += Pk
            s = mp.mpf(0)
            for i in range(T - k + 1):
                j = T - k - i
                s += comb(T - k, i) * qa ** i * (1 - qa) ** j * mp_h(th, k, eps - th * (i - j))
            tot += Pk * s
        return +tot, +(1 - mass)


def _theta(scale):
    """1 / scale at 60 digits: the mechanism's theta is exactly sensitivity / scale (1/3 is not a double)."""
    with mp.workdps(60):
        return mp.mpf(1) / mp.mpf(scale)


def _pld_eps(scale, T, delta, interval=1e-4):
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    logging.disable(logging.WARNING)
    try:
        ends = [pl.from_laplace_mechanism(scale, sensitivity=1.0, pessimistic_estimate=pess,
                                          value_discretization_interval=interval).self_compose(T).get_epsilon_for_delta(delta)
                for pess in (False, True)]
    finally:
        logging.disable(logging.NOTSET)
    return ends  # optimistic (below the truth), pessimistic (above)


# ---------------------------------------------------------------------- the conditioned sum
@pytest.mark.parametrize("scale,T,eps,K", [
    (20.0, 40, 1.0, 16),                   # theta 1/20: few continuous steps (the issue's 100 steps below)
    (3.0, 20, 4.0, 20),                    # theta 1/3: all k
    (0.5, 6, 5.0, 6),                      # theta 2: large theta, few steps
    (3.0, 11, 3.0, 11),                    # eps / (2 theta) + T / 2 = 10 exactly: the Arb ball straddles a knot
    (2.0, 10, 1.0, 10),                    # theta = 1/2 exact: x0 exactly on a knot (r = 0)
])
def test_conditioned_sum_contains_mpmath(scale, T, eps, K):
    v = ksum_delta(1.0, scale, T, eps)
    S, tail = mp_delta_conditioned(_theta(scale), T, eps, K)
    with mp.workdps(60):
        lo, hi = mp.mpf(v.lower().str(50, radius=False)), mp.mpf(v.upper().str(50, radius=False))
        # the truth lies in [S, S + tail] (the reference at 30 + K digits) and in [lo, hi]
        slack = mp.mpf(10) ** -28
        assert S <= hi * (1 + slack) and lo <= (S + tail) * (1 + slack)
        assert hi - lo <= 1e-12 * hi
        assert tail <= 1e-12 * S  # the reference is itself sharp enough to test against


def test_conditioned_sum_against_residues():
    from test_laplace_exact import mp_delta_residues

    for scale, T, eps in [(1.0, 6, 0.2), (2.0, 12, 1.0), (0.5, 8, 5.0), (3.0, 11, 3.0)]:
        ref = mp_delta_residues(_theta(scale), T, eps, dps=40)
        lo, hi, info = certified_delta(1.0, scale, T, eps)
        assert info["source"] == KSUM_SOURCE
        assert lo <= ref <= hi and hi - lo <= 1e-12 * hi


def test_conditioned_sum_random_points_against_residues():
    # 8 seeded points, scale 0.3-50, T 2-8, eps anywhere in [0, T theta): the residue sum (mpmath)
    import random

    from test_laplace_exact import mp_delta_residues

    rng = random.Random(20261201)
    for _ in range(8):
        scale = 10 ** rng.uniform(-0.5, 1.7)
        T = rng.randint(2, 8)
        eps = rng.uniform(0.0, T / scale)
        v = ksum_delta(1.0, scale, T, eps)
        with mp.workdps(60):
            ref = mp_delta_residues(mp.mpf(1) / mp.mpf(scale), T, eps, dps=50)
            lo, hi = mp.mpf(v.lower().str(50, radius=False)), mp.mpf(v.upper().str(50, radius=False))
            assert lo <= ref <= hi and hi - lo <= 1e-12 * hi, (scale, T, eps)


# ---------------------------------------------------------------------- the gap of issue 9
def test_issue_point_scale_20_T_100_is_narrow_and_correct():
    """Accountant().compose(Laplace(scale=20.0), 100).get_epsilon(1e-5, certify=True) was the proven
    fallback [0.7807, 2.1046] (63 % wide); now the conditioned sum: the mpmath reference has delta above
    1e-5 at the lower end and at most 1e-5 at the upper end."""
    from ewacct.bounds.certify import LAPLACE_SOURCE

    r = Accountant().compose(Laplace(scale=20.0), 100).get_epsilon(1e-5, certify=True)
    assert r.certified_by == LAPLACE_SOURCE
    assert (r.upper - r.lower) <= 1e-4 * r.upper
    S_hi, tail_hi = mp_delta_conditioned(_theta(20.0), 100, r.upper, 20)
    S_lo, _ = mp_delta_conditioned(_theta(20.0), 100, r.lower, 20)
    assert S_hi + tail_hi <= 1e-5 < S_lo
    pld_lo, pld_hi = _pld_eps(20.0, 100, 1e-5)
    assert pld_lo <= r.upper and r.lower <= pld_hi


@pytest.mark.parametrize("scale,T", [(3.0, 65), (3.0, 100), (10.0, 200), (30.0, 500), (100.0, 3000)])
def test_gap_is_certified_narrow_and_inside_pld(scale, T):
    # these raised NotCertified ("the contour's u-range exceeds its node budget")
    lo, hi, info = certified_epsilon(1.0, scale, T, 1e-5)
    assert info["source"] == KSUM_SOURCE
    assert 0 < lo <= hi and (hi - lo) <= 1e-4 * hi
    pld_lo, pld_hi = _pld_eps(scale, T, 1e-5)
    assert pld_lo <= hi and lo <= pld_hi


def test_hook_and_refusal():
    acc = Accountant().compose(Laplace(scale=10.0), 150)
    lo, hi, info = certified_bracket(acc.groups(), "epsilon", 1e-6)
    assert info["source"] == KSUM_SOURCE and (hi - lo) <= 1e-8 * hi
    dlo, dhi, _ = certified_bracket(acc.groups(), "delta", hi)
    assert dlo <= 1e-6 and dhi - dlo <= 1e-12 * dhi
    # beyond KSUM_MAX_K continuous steps the conditioned sum refuses (the contour answers there)
    with pytest.raises(NotCertified):
        ksum_delta(1.0, 1.0, 10_000, 100.0)


def test_eps_zero_is_certified_exactly():
    # delta(0) <= 0.1 for Laplace(300) x 100: the bracket is [0, 0] (was [0, 1e-9]), checked against the
    # mpmath sum at eps = 0
    lo, hi, info = certified_epsilon(1.0, 300.0, 100, 0.1)
    assert (lo, hi) == (0.0, 0.0) and info["source"] == KSUM_SOURCE
    S, tail = mp_delta_conditioned(_theta(300.0), 100, 0.0, 8)
    assert S + tail <= 0.1


# ---------------------------------------------------------------------- several scales, few steps
def _d1(th, e):
    """One step of theta th: delta(e) = 1 - e^{(e - th)/2} inside (-th, th) (closed form from the law)."""
    if e >= th:
        return mp.mpf(0)
    if e <= -th:
        return -mp.expm1(e)
    return -mp.expm1((e - th) / 2)


def _step(th, f, eps, breaks):
    """E over one step's loss L (theta th) of f(eps - L): the two atoms and the density e^{(l - th)/2} / 4
    on (-th, th) by quadrature split at f's breakpoints."""
    pts = sorted({-th, th} | {min(max(eps - b, -th), th) for b in breaks})
    return (f(eps - th) / 2 + mp.exp(-th) / 2 * f(eps + th)
            + mp.quad(lambda l: f(eps - l) * mp.exp((l - th) / 2) / 4, pts))


def _two(th1, th2, eps):
    return _step(th1, lambda e: _d1(th2, e), eps, [th2, -th2])


def _three(th1, th2, eps):  # th1 twice, th2 once
    return _step(th1, lambda e: _two(th1, th2, e), eps, [th1 + th2, th1 - th2, th2 - th1, -th1 - th2])


@pytest.mark.parametrize("steps,eps", [((1, 1), 0.3), ((1, 1), 0.0), ((1, 1), 0.8), ((1, 1), -0.2), ((2, 1), 0.6)])
def test_two_scales_against_first_principles(steps, eps):
    with mp.workdps(25):
        th1, th2 = _theta(2.0), _theta(3.0)
        ref = _two(th1, th2, mp.mpf(eps)) if steps == (1, 1) else _three(th1, th2, mp.mpf(eps))
    v = groups_delta_ball([(1.0, 2.0, steps[0]), (1.0, 3.0, steps[1])], eps)
    with mp.workdps(40):
        lo, hi = mp.mpf(v.lower().str(35, radius=False)), mp.mpf(v.upper().str(35, radius=False))
        assert lo * (1 - mp.mpf(10) ** -22) <= ref <= hi * (1 + mp.mpf(10) ** -22)
        assert hi - lo <= 1e-12 * hi


def test_two_equal_scales_agree_with_the_conditioned_sum():
    # two different codes (truncated powers of the convolution, the B-spline pieces of one scale)
    for eps in (0.2, 1.0, 3.0):
        a = groups_delta_ball([(1.0, 3.0, 6), (1.0, 3.0, 4)], eps)
        b = ksum_delta(1.0, 3.0, 10, eps)
        assert a.overlaps(b) and a.rad() <= 1e-12 * abs(a.mid())


def test_issue_point_two_scales_is_exact_and_certified():
    """Laplace(2) x 5 + Laplace(3) x 5 at delta 1e-5 answered 'tilted', valid=False (4.15987, outside the
    proven bracket [4.1245, 4.1569]); now exact, and certify=True the enumerated bracket, inside
    dp_accounting's PLD eps pair."""
    acc = Accountant().compose(Laplace(scale=2.0), 5).compose(Laplace(scale=3.0), 5)
    r = acc.get_epsilon(1e-5)
    assert r.method == "exact" and bool(r.valid)
    c = acc.get_epsilon(1e-5, certify=True)
    assert c.lower <= r.value <= c.upper and (c.upper - c.lower) <= 1e-4 * c.upper
    lo, hi, info = certified_bracket(acc.groups(), "epsilon", 1e-5)
    assert info["source"] == GROUPS_SOURCE and lo <= r.value <= hi
    from test_laplace_exact import laplace_pld_pair

    ends = laplace_pld_pair([(2.0, 5), (3.0, 5)], "epsilon", 1e-5)
    assert ends[0] <= hi and lo <= ends[1]
