"""Exact Laplace compositions (issue 8): the atoms of the loss handled exactly.

References, independent of ewacct.methods.laplace_exact:

* one step and two steps from first principles in mpmath (the one-step delta in closed form, the
  two-step one as an mpmath quadrature over the first step's loss);
* T steps by residue calculus: M(z)^T expanded into exponentials e^{m theta w} / w^k, each inverted
  by the residues at z = 0, -1/2, -1 (mpmath, 40+ digits);
* many steps: mpmath's quadrature of the Bromwich integral of M(z)^T at 30 digits, and
  dp_accounting's PLD bracket on delta (its epsilon search is off by ~1 at eps ~ 1e3, see below).
"""

from __future__ import annotations

import math
import warnings
from math import comb

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, Laplace
from ewacct.methods.laplace_exact import LaplaceComposition, f_cont


# ---------------------------------------------------------------------- references
def mp_delta_one(theta, e):
    """One step, REMOVE: delta(e) = E_P1[(1 - e^{e - L})_+] for any real e (from the law of L)."""
    with mp.workdps(max(mp.mp.dps, 40)):
        return +_mp_delta_one(theta, e)


def _mp_delta_one(theta, e):
    th, e = mp.mpf(theta), mp.mpf(e)
    if e >= th:
        return mp.mpf(0)
    if e <= -th:
        return -mp.expm1(e)  # E_P1[e^{-L}] = 1
    return -mp.expm1((e - th) / 2)


def mp_delta_two(theta, eps):
    """Two steps: E over the first step's loss of the one-step delta at eps - L1."""
    with mp.workdps(40):
        th, eps = mp.mpf(theta), mp.mpf(eps)
        atoms = mp_delta_one(th, eps - th) / 2 + mp.exp(-th) / 2 * mp_delta_one(th, eps + th)
        f = lambda l: mp_delta_one(th, eps - l) * mp.exp((l - th) / 2) / 4  # noqa: E731
        pts = sorted({-th, th, min(max(eps - th, -th), th), min(max(eps + th, -th), th)})
        return +(atoms + mp.quad(f, pts))


def mp_delta_residues(theta, T, eps, dps=40):
    """delta(eps) of T steps by residues: M^T = e^{-T th/2} sum_k C(T,k) cosh^{T-k} (sinh / 2w)^k."""
    with mp.workdps(dps + 2 * T):
        th, eps = mp.mpf(theta), mp.mpf(eps)
        tot = mp.mpf(0)
        for k in range(T + 1):
            for i in range(T - k + 1):
                for l in range(k + 1):
                    m = 2 * i + 2 * l - T
                    y = eps - m * th
                    if y >= 0:  # e^{-z y} decays to the right: no poles there
                        continue
                    coef = (comb(T, k) * comb(T - k, i) * comb(k, l) * (-1) ** (k - l)
                            * mp.exp((m - T) * th / 2) / mp.mpf(2) ** (T + k))
                    r = mp.mpf(2) ** k - mp.exp(y) * (-2) ** k  # residues at z = 0 and z = -1
                    if k >= 1:  # z = -1/2, order k: e^{-zy} (1/z - 1/(z+1)) = e^{y/2} sum ... (-4) (2 zeta)^n, n even
                        s = mp.mpf(0)
                        for n in range(0, k, 2):
                            s += -4 * mp.mpf(2) ** n * (-y) ** (k - 1 - n) / mp.factorial(k - 1 - n)
                        r += mp.exp(y / 2) * s
                    tot += coef * r
        return +tot


def mp_delta_bromwich(theta, T, eps, c, umax, dps=30):
    """(1/pi) int_0^umax Re[M(c+iu)^T e^{-(c+iu) eps} / (z (z+1))] du (mpmath quadrature).  The parts
    left out (u > umax) are the atoms' returns, of relative size (tilted atom mass)^T."""
    with mp.workdps(dps):
        th = mp.mpf(theta)

        def f(u):
            z = mp.mpc(c, u)
            w = z + mp.mpf(1) / 2
            M = mp.exp(-th / 2) * (mp.cosh(w * th) + mp.sinh(w * th) / (2 * w))
            return mp.re(mp.exp(T * mp.log(M) - z * eps) / (z * (z + 1)))

        pts = list(np.linspace(0.0, umax, 41))
        return mp.quad(f, pts) / mp.pi


# ---------------------------------------------------------------------- small T against the references
def test_residue_reference_matches_first_principles():
    # the residue reference itself, against the one- and two-step formulas from the law of L
    for th, eps in [(1.0, 0.3), (0.2, 0.05), (4.0, 6.0)]:
        assert abs(mp_delta_residues(th, 1, eps) - mp_delta_one(th, eps)) < mp.mpf(10) ** -30
        r2, d2 = mp_delta_residues(th, 2, eps), mp_delta_two(th, eps)
        assert abs(r2 - d2) <= mp.mpf(10) ** -25 * d2


@pytest.mark.parametrize("theta", [10.0, 1.0, 0.1, 0.01])
@pytest.mark.parametrize("T", [1, 2, 3, 5, 9, 15])
def test_delta_small_T_against_residues(theta, T):
    lap = LaplaceComposition(theta, T)
    for frac in (0.0, 0.05, 0.4, 0.85):
        eps = frac * T * theta
        ref = mp_delta_residues(theta, T, eps)
        v, rel, diag = lap.delta(eps)
        assert rel <= 1e-7
        assert abs(v - ref) <= max(rel, 1e-13) * ref, (theta, T, eps, v, float(ref), rel, diag)


def test_delta_two_steps_against_quadrature():
    for th, eps in [(2.0, 0.7), (0.05, 0.01), (10.0, 15.0)]:
        ref = mp_delta_two(th, eps)
        v, rel, _ = LaplaceComposition(th, 2).delta(eps)
        assert abs(v - ref) <= 1e-12 * ref


@pytest.mark.parametrize("theta,T", [(10.0, 3), (1.0, 12), (0.1, 20), (0.01, 5)])
def test_epsilon_small_T_against_residues(theta, T):
    lap = LaplaceComposition(theta, T)
    for delta in (1e-12, 1e-6, 0.1):
        eps, rel, _ = lap.epsilon(delta)
        if eps == 0.0:
            assert mp_delta_residues(theta, T, 0.0) <= delta
            continue
        # eps is right to 1e-9 relative: delta crosses the target between eps (1 -+ 1e-9)
        lo, hi = mp_delta_residues(theta, T, eps * (1 - 1e-9)), mp_delta_residues(theta, T, eps * (1 + 1e-9))
        assert hi <= delta <= lo, (theta, T, delta, eps, float(lo), float(hi))
        assert abs(mp_delta_residues(theta, T, eps) / delta - 1) <= 1e-8 or hi < delta * (1 - 1e-8)


def test_f_cont_against_mpmath():
    # F_k(x) = E[(1 - e^{x - S})_+], S a sum of k uniforms on (-th, th) tilted by e^{s/2}: by mpmath
    # quadrature of the k = 2 (triangle) and k = 3 (quadratic B-spline, by convolution) densities
    th = 0.7
    mp.mp.dps = 30
    tri = lambda s: max(0, 2 * th - abs(s)) / (2 * th) ** 2  # noqa: E731
    z2 = mp.quad(lambda s: mp.exp(s / 2) * tri(s), [-2 * th, 0, 2 * th])
    for x in (-1.0, 0.1, 1.2):
        ref = mp.quad(lambda s: mp.exp(s / 2) * -mp.expm1(x - s) * tri(s), [max(x, -2 * th), 0, 2 * th]
                      if x < 0 else [x, 2 * th]) / z2
        assert abs(f_cont(th, 2, np.array([x]))[0] - ref) <= 1e-13 * ref
    mp.mp.dps = 15


# ---------------------------------------------------------------------- many steps
@pytest.mark.parametrize("theta,T,eps,umax", [(0.01, 10_000, 4.876257579, 12.0), (1.0, 1000, 486.3, 1.5)])
def test_delta_many_steps_against_bromwich(theta, T, eps, umax):
    lap = LaplaceComposition(theta, T)
    v, rel, diag = lap.delta(eps)
    c = diag["abscissa"]
    # the atoms' returns at u ~ pi / theta are below (tilted atom mass)^T ~ e^{-T theta / 2}: negligible
    ref = mp_delta_bromwich(theta, T, eps, c, umax)
    assert abs(v - ref) <= max(rel, 1e-12) * ref, (v, float(ref), rel)


def test_split_and_full_evaluations_agree():
    # two different routes (atoms exact + contour for >= 8 continuous steps; the contour on M^T)
    lap = LaplaceComposition(0.01, 10_000)
    a, ra, _ = lap._split(7.222070102)
    b, rb, _ = lap._full(7.222070102)
    assert abs(a - b) <= (ra + rb) * max(a, b)
    assert abs(a / 1e-12 - 1.0) < 1e-8  # this eps is eps(1e-12)


@pytest.mark.parametrize("theta,T,delta", [(0.1, 1000, 1e-6), (1.0, 100, 1e-3), (10.0, 100, 0.1),
                                           (0.01, 100_000, 1e-6)])
def test_against_pld_delta_bracket(theta, T, delta):
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    import logging

    logging.disable(logging.WARNING)
    try:
        eps, rel, _ = LaplaceComposition(theta, T).epsilon(delta)
        pe = pl.from_laplace_mechanism(1 / theta, sensitivity=1.0, pessimistic_estimate=True,
                                       value_discretization_interval=1e-3).self_compose(T)
        op = pl.from_laplace_mechanism(1 / theta, sensitivity=1.0, pessimistic_estimate=False,
                                       value_discretization_interval=1e-3).self_compose(T)
        lo, hi = op.get_delta_for_epsilon(eps), pe.get_delta_for_epsilon(eps)
    finally:
        logging.disable(logging.NOTSET)
    # our delta at eps is the target; it must lie in the PLD bracket of delta at that eps
    assert lo * (1 - 1e-9) <= delta <= hi * (1 + 1e-9), (eps, lo, hi)


def test_million_steps_is_fast_and_settled():
    import time

    lap = LaplaceComposition(1.0, 1_000_000)
    t = time.process_time()
    eps, rel, diag = lap.epsilon(1e-9)
    assert time.process_time() - t < 3.0
    assert rel <= 1e-7 and diag["laplace"] == "full contour"
    # Gaussian approximation of the loss (mean T mu, variance T s2) is close for 1e6 steps: sanity only
    v, _, _ = lap.delta(eps)
    assert abs(v / 1e-9 - 1.0) < 1e-6


# ---------------------------------------------------------------------- both directions
def test_add_direction_has_the_same_law():
    # ADD: delta = E_P0[(1 - e^{eps + l(X)})_+], X ~ Lap(0, b); REMOVE: E_P1[(1 - e^{eps - l(X)})_+],
    # X ~ Lap(Delta, b); l(x) = (|x| - |x - Delta|) / b.  Both by mpmath quadrature over x, one step
    b, D = 0.8, 1.0
    mp.mp.dps = 30
    l = lambda x: (abs(x) - abs(x - D)) / b  # noqa: E731
    for eps in (0.0, 0.3, 1.0):
        ka, kr = (D - eps * b) / 2, (D + eps * b) / 2  # where the integrands' kinks are (inside (0, D) here)
        add = mp.quad(lambda x: mp.exp(-abs(x) / b) / (2 * b) * max(0, -mp.expm1(eps + l(x))),
                      [-mp.inf, 0, ka, D, mp.inf])
        rem = mp.quad(lambda x: mp.exp(-abs(x - D) / b) / (2 * b) * max(0, -mp.expm1(eps - l(x))),
                      [-mp.inf, 0, kr, D, mp.inf])
        assert abs(add - rem) < 1e-20
        assert abs(LaplaceComposition(D / b, 1).delta(eps)[0] - rem) < 1e-14
    mp.mp.dps = 15


# ---------------------------------------------------------------------- through the accountant
def test_accountant_default_is_exact_for_laplace():
    acc = Accountant().compose(Laplace(scale=5.0, sensitivity=1.0), 12)  # theta = 0.2
    r = acc.get_delta(0.5)
    assert r.method == "exact" and r.valid
    assert r.diagnostics["rel_error"] <= 1e-6
    ref = mp_delta_residues(0.2, 12, 0.5)
    assert abs(r.value - ref) <= 1e-9 * ref
    e = acc.get_epsilon([1e-10, 1e-3])
    assert e.method == "exact" and bool(np.all(e.valid))
    for dl, ev in zip((1e-10, 1e-3), e.value):  # eps right to 1e-9 relative
        assert mp_delta_residues(0.2, 12, ev * (1 + 1e-9)) <= dl <= mp_delta_residues(0.2, 12, ev * (1 - 1e-9))


def test_accountant_merges_laplace_groups_of_equal_theta():
    acc = Accountant().compose(Laplace(scale=2.0, sensitivity=1.0), 3).compose(Laplace(scale=4.0, sensitivity=2.0), 2)
    r = acc.get_delta(1.0)
    assert r.method == "exact"
    ref = mp_delta_residues(0.5, 5, 1.0)
    assert abs(r.value - ref) <= 1e-12 * ref


def test_tilted_method_still_available_and_measured():
    acc = Accountant(method="tilted").compose(Laplace(scale=1.0), 200)
    r = acc.get_epsilon(1e-6)
    assert r.method in ("tilted", "exact")  # exact where the expansion is outside tolerance (fallback)
    assert r.diagnostics.get("exact") is not None  # measured against the exact value
    exact = Accountant().compose(Laplace(scale=1.0), 200).get_epsilon(1e-6)
    assert exact.method == "exact"
    assert abs(r.diagnostics["exact"] - exact.value) <= 1e-9 * exact.value


def test_mixed_laplace_few_steps_now_exact_else_noted():
    """Few Laplace steps with subsampled Gaussians: exact now (the truncation bound takes its decay from
    the subsampled Gaussians, tests/test_mixed_exact.py checks the values against PLD brackets); one
    Laplace step with one subsampled step (nothing decays fast) gets the flagged composition bound
    (tests/test_mixed_exact.py checks it lies above an mpmath value)."""
    from ewacct import PoissonSubsampledGaussian

    acc = Accountant().compose(Laplace(scale=10.0), 50).compose(PoissonSubsampledGaussian(1.0, 0.01), 100)
    r = acc.get_epsilon(1e-5)
    assert r.method == "exact" and bool(r.valid)
    acc = Accountant().compose(Laplace(scale=1.0), 1).compose(PoissonSubsampledGaussian(1.0, 0.2), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bound is flagged (EdgeworthValidityWarning): not the point here
        r = acc.get_delta(0.2)
    assert r.method == "composition-bound" and not r.valid


# ---------------------------------------------------------------------- certified brackets (Arb)
def test_certified_residue_bracket_contains_mpmath():
    from ewacct.methods.laplace_certified import certified_delta, certified_epsilon, residue_delta

    for sens, scale, T, eps in [(1.0, 1.0, 3, 0.5), (1.0, 10.0, 20, 0.5), (2.0, 0.2, 10, 60.0)]:
        ref = mp_delta_residues(sens / scale, T, eps, dps=50)
        # the residue sum in Arb (now the last resort: the conditioned sum answers first, tested in
        # tests/test_laplace_certified.py) and the certified bracket
        v = residue_delta(sens, scale, T, eps)
        with mp.workdps(60):  # theta exactly sens / scale (1/10 is not a double), the ends to 50 digits
            ref_exact = mp_delta_residues(mp.mpf(sens) / mp.mpf(scale), T, eps, dps=50)
            vlo, vhi = (mp.mpf(b.str(50, radius=False)) for b in (v.lower(), v.upper()))
            assert vlo <= ref_exact <= vhi and vhi - vlo <= 1e-12 * vhi
        lo, hi, info = certified_delta(sens, scale, T, eps)
        assert lo <= ref <= hi and hi - lo <= 1e-12 * hi
    lo, hi, _ = certified_epsilon(1.0, 2.0, 12, 1e-6)
    assert mp_delta_residues(0.5, 12, hi) <= 1e-6 < mp_delta_residues(0.5, 12, lo)
    assert hi - lo <= 1e-8 * hi


def test_certified_contour_bracket_contains_bromwich():
    from ewacct.methods.laplace_certified import certified_bracket, certified_delta

    lo, hi, info = certified_delta(1.0, 100.0, 10_000, 4.876257579)
    assert info["source"] == "contour (Arb)"
    ref = mp_delta_bromwich(0.01, 10_000, 4.876257579, LaplaceComposition(0.01, 10_000).delta(4.876257579)[2]["abscissa"], 12.0)
    assert lo <= ref <= hi and hi - lo <= 1e-9 * hi
    # the hook for bounds/certify: the estimate of the accountant lies in its eps bracket
    acc = Accountant().compose(Laplace(scale=1.0), 5000)
    lo, hi, _ = certified_bracket(acc.groups(), "epsilon", 1e-9)
    est = float(acc.get_epsilon(1e-9).value)
    assert lo <= est <= hi and hi - lo <= 1e-7 * hi
    # several scales with few steps: the enumerated sum (tests/test_laplace_certified.py checks it against
    # first principles and PLD); with many steps no bracket from this module
    from ewacct.methods.laplace_certified import GROUPS_SOURCE

    mixed = Accountant().compose(Laplace(scale=1.0), 5).compose(Laplace(scale=2.0), 5)
    assert certified_bracket(mixed.groups(), "delta", 1.0)[2]["source"] == GROUPS_SOURCE
    many = Accountant().compose(Laplace(scale=1.0), 50).compose(Laplace(scale=2.0), 50)
    assert certified_bracket(many.groups(), "delta", 1.0) is None


# ---------------------------------------------------------------------- several Laplace scales
def test_two_laplace_scales_against_bromwich_and_pld():
    from ewacct.methods.laplace_exact import LaplaceMixture

    parts = [(0.5, 300), (0.2, 1000)]
    mix = LaplaceMixture(parts)
    eps, _, _ = mix.epsilon(1e-6)
    v, rel, diag = mix.delta(eps)
    c = diag["abscissa"]
    with mp.workdps(30):
        def f(u):
            z = mp.mpc(c, u)
            w = z + mp.mpf(1) / 2
            lk = sum(n * mp.log(mp.exp(-mp.mpf(th) / 2) * (mp.cosh(w * th) + mp.sinh(w * th) / (2 * w)))
                     for th, n in parts)
            return mp.re(mp.exp(lk - z * eps) / (z * (z + 1)))

        ref = mp.quad(f, list(np.linspace(0.0, 3.0, 31))) / mp.pi  # sigma^2 ~ 100: e^{-450} beyond u = 3
    assert abs(v - ref) <= max(rel, 1e-12) * ref
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    import logging

    logging.disable(logging.WARNING)
    try:
        ends = []
        for pess in (False, True):
            a, b = (pl.from_laplace_mechanism(1 / th, sensitivity=1.0, pessimistic_estimate=pess,
                                              value_discretization_interval=1e-3).self_compose(n) for th, n in parts)
            ends.append(a.compose(b).get_delta_for_epsilon(eps))
    finally:
        logging.disable(logging.NOTSET)
    assert ends[0] * (1 - 1e-9) <= 1e-6 <= ends[1] * (1 + 1e-9)
    acc = Accountant().compose(Laplace(scale=2.0), 300).compose(Laplace(scale=5.0), 1000)
    r = acc.get_epsilon(1e-6)
    assert r.method == "exact" and abs(r.value - eps) <= 1e-12 * eps


def laplace_pld_pair(groups, kind, x):
    """dp_accounting's (optimistic, pessimistic) PLD values (vdi 1e-4) of Laplace scales composed
    ``[(scale, count), ...]``: delta at eps x (kind "delta") or eps at delta x (kind "epsilon");
    skips the test where dp_accounting is absent."""
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    import logging

    logging.disable(logging.WARNING)
    try:
        ends = []
        for pess in (False, True):
            parts = [pl.from_laplace_mechanism(sc, sensitivity=1.0, pessimistic_estimate=pess,
                                               value_discretization_interval=1e-4).self_compose(n) for sc, n in groups]
            tot = parts[0]
            for p in parts[1:]:
                tot = tot.compose(p)
            ends.append(tot.get_delta_for_epsilon(x) if kind == "delta" else tot.get_epsilon_for_delta(x))
    finally:
        logging.disable(logging.NOTSET)
    return ends


def test_few_steps_of_two_scales_fall_back_with_a_note():
    # 3 + 2 steps: exact now (every step count enumerated in Arb), inside dp_accounting's PLD delta pair;
    # 7 + 7 steps (beyond the enumeration, the contour does not settle): the fallback with its note
    from ewacct.methods.dispatch import LAPLACE_FAILED_NOTE

    acc = Accountant().compose(Laplace(scale=2.0), 3).compose(Laplace(scale=5.0), 2)
    r = acc.get_delta(0.5)
    assert r.method == "exact" and bool(r.valid)
    ends = laplace_pld_pair([(2.0, 3), (5.0, 2)], "delta", 0.5)
    assert ends[0] <= float(r.value) <= ends[1]
    acc = Accountant().compose(Laplace(scale=2.0), 7).compose(Laplace(scale=5.0), 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_delta(0.5)
    # (the note goes on to say what the value is: since session 13 an estimate with a proven upper bound beside it)
    assert r.method != "exact" and r.diagnostics["note"].startswith(LAPLACE_FAILED_NOTE)
    assert not r.valid and r.diagnostics["upper_bound"] >= float(r.value)


# ---------------------------------------------------------------------- Laplace with Gaussians
def test_laplace_with_gaussian_against_bromwich():
    # 100 Laplace steps (b/D = 1) with 10 Gaussian steps (sigma = 3): under P1 the Gaussian loss is
    # N(mu^2/2, mu^2), E e^{zL} = exp(z mu^2/2 + z^2 mu^2/2), mu = 1/3; both directions have this law
    acc = Accountant().compose(Laplace(scale=1.0), 100).compose(__import__("ewacct").Gaussian(3.0), 10)
    r = acc.get_delta(50.0)
    assert r.method == "exact" and r.diagnostics["rel_error"] <= 1e-6
    with mp.workdps(30):
        mu2 = mp.mpf(1) / 9
        c = mp.mpf(r.diagnostics["abscissa"])

        def f(u):
            z = mp.mpc(c, u)
            w = z + mp.mpf(1) / 2
            lk = 100 * mp.log(mp.exp(-mp.mpf(1) / 2) * (mp.cosh(w) + mp.sinh(w) / (2 * w))) + 10 * (z * mu2 / 2 + z * z * mu2 / 2)
            return mp.re(mp.exp(lk - z * 50) / (z * (z + 1)))

        # integrated through u = 12: past the Gaussian bump (K''(c) ~ 50) and the Laplace atoms' first
        # returns at u ~ pi, 2 pi, 3 pi (the Gaussian factor e^{-10 mu^2 u^2 / 2} is ~ e^{-80} at u = 12)
        ref = mp.quad(f, list(np.linspace(0.0, 12.0, 97))) / mp.pi
    assert abs(r.value - ref) <= max(r.diagnostics["rel_error"], 1e-12) * ref


def test_laplace_with_subsampled_gaussian_in_pld_bracket():
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    import logging

    from ewacct import PoissonSubsampledGaussian

    acc = Accountant().compose(Laplace(scale=2.0), 500).compose(PoissonSubsampledGaussian(1.0, 0.05), 200)
    r = acc.get_epsilon(1e-6)
    assert r.method == "exact" and bool(r.valid)
    logging.disable(logging.WARNING)
    try:
        ends = []
        for pess in (False, True):
            a = pl.from_laplace_mechanism(2.0, sensitivity=1.0, pessimistic_estimate=pess,
                                          value_discretization_interval=1e-3).self_compose(500)
            b = pl.from_gaussian_mechanism(1.0, sampling_prob=0.05, pessimistic_estimate=pess,
                                           value_discretization_interval=1e-3).self_compose(200)
            ends.append(a.compose(b).get_delta_for_epsilon(r.value))
    finally:
        logging.disable(logging.NOTSET)
    assert ends[0] * (1 - 1e-9) <= 1e-6 <= ends[1] * (1 + 1e-9)


def test_certify_true_uses_the_laplace_bracket():
    """Accountant(...).get_epsilon/get_delta(certify=True) on a Laplace composition answer with the Arb
    bracket of laplace_certified (hooked into bounds/certify.py), not the wide proven fallback.  T = 1
    against the closed form delta(eps) = 1 - exp((eps - theta)/2) (mpmath, 40 digits); T = 6 against
    the exact estimate and the delta round trip."""
    from ewacct.bounds.certify import LAPLACE_SOURCE

    scale = 2.0
    theta = mp.mpf(1) / scale
    acc1 = Accountant().compose(Laplace(scale=scale), 1)
    r = acc1.get_epsilon(1e-6, certify=True)
    with mp.workdps(40):
        truth = float(theta + 2 * mp.log(1 - mp.mpf("1e-6")))
    assert r.certified_by == LAPLACE_SOURCE
    assert r.lower <= truth <= r.upper and (r.upper - r.lower) <= 1e-8 * truth
    acc6 = Accountant().compose(Laplace(scale=scale), 6)
    r6 = acc6.get_epsilon(1e-6, certify=True)
    est = acc6.get_epsilon(1e-6)
    assert r6.certified_by == LAPLACE_SOURCE
    assert r6.lower <= est.value <= r6.upper and (r6.upper - r6.lower) <= 1e-8 * r6.upper
    d = acc6.get_delta(r6.upper, certify=True)
    assert d.certified_by == LAPLACE_SOURCE and d.lower <= 1e-6 * (1 + 1e-12)


def test_delta_below_the_smallest_double_is_zero_not_an_error():
    # Laplace(scale 100) + Gaussian(sigma 50) at eps = 1: delta <= P(L_G > 1 - 0.01) with L_G ~ N(mu^2/2, mu^2),
    # mu = 0.02 (mpmath), below 2^-1075: the exact double is 0.0, proven by the Chernoff bound (was a refusal
    # "gave delta = 0.0" and the composition bound); a vector query keeps its other elements exact
    from ewacct import Gaussian

    mu = mp.mpf(1) / 50
    assert mp.ncdf(-(mp.mpf("0.99") - mu * mu / 2) / mu) < mp.mpf(2) ** -1075
    acc = Accountant().compose(Laplace(100.0), 1).compose(Gaussian(50.0), 1)
    r = acc.get_delta([1.0, 0.05])
    assert r.value[0] == 0.0 and r.method == "exact" and bool(np.all(r.valid))
    # eps = 0.05: between the Gaussian alone at 0.05 (dropping the Laplace step) and at 0.04 (composing with
    # a pure 0.01-DP step)
    g = [mp.ncdf(-x / mu + mu / 2) - mp.exp(x) * mp.ncdf(-x / mu - mu / 2) for x in (mp.mpf("0.05"), mp.mpf("0.04"))]
    assert float(g[0]) <= r.value[1] <= float(g[1])
