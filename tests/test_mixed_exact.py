"""Exact answers for Laplace / randomized response mixed with other mechanisms (issue 8, item 3).

References, independent of ewacct's evaluation:

* mpmath at 30 digits with its own formulas: the Gaussian hockey stick
  ``Phi(-x/mu + mu/2) - e^x Phi(-x/mu - mu/2)`` (any real x), one subsampled-Gaussian step's hockey
  stick from its threshold (both directions, any real x), binomial sums over the randomized-response
  lattice, the one-step Laplace law (atoms and density) integrated by ``mp.quad``, and the Bromwich
  integral of an mpmath MGF;
* dp_accounting's PLD pessimistic / optimistic bracket (Laplace, randomized response, subsampled
  Gaussian PLDs composed).
"""

from __future__ import annotations

import logging
import math
from math import comb

import mpmath as mp
import numpy as np
import pytest

from ewacct import Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse
from ewacct.methods.dispatch import ExactDispatch
from ewacct.methods.laplace_exact import mixed_compositions
from ewacct.methods.mixed_exact import LatticeMix, lattice_mix_for

mp.mp.dps = 30


# ---------------------------------------------------------------------- mpmath references
def mp_gauss(x, mu):
    """E_P[(1 - e^{x - L})_+], L ~ N(mu^2/2, mu^2), any real x."""
    x, mu = mp.mpf(x), mp.mpf(mu)
    return mp.ncdf(-x / mu + mu / 2) - mp.exp(x) * mp.ncdf(-x / mu - mu / 2)


def mp_single_step(x, q, sigma, direction):
    """One Poisson-subsampled Gaussian step, any real x, from the threshold of the monotone loss
    l(t) = log(1 - q + q e^{mu t - mu^2/2}) (noise unit, Q = N(0, 1), P = (1-q) N(0,1) + q N(mu, 1))."""
    x, q, mu = mp.mpf(x), mp.mpf(q), 1 / mp.mpf(sigma)
    if direction == "remove":
        r = (mp.exp(x) - 1 + q) / q
        if r <= 0:
            return -mp.expm1(x)
        t = (mp.log(r) + mu * mu / 2) / mu
        return (1 - q) * mp.ncdf(-t) + q * mp.ncdf(mu - t) - mp.exp(x) * mp.ncdf(-t)
    r = (mp.exp(-x) - 1 + q) / q
    if r <= 0:
        return mp.mpf(0)
    t = (mp.log(r) + mu * mu / 2) / mu
    return mp.ncdf(t) - mp.exp(x) * ((1 - q) * mp.ncdf(t) + q * mp.ncdf(t - mu))


def mp_rr_lattice(groups):
    """[(value, weight)] of the summed randomized-response loss (mpmath)."""
    pts = [(mp.mpf(0), mp.mpf(1))]
    for e0, n in groups:
        e0 = mp.mpf(e0)
        p = 1 / (1 + mp.exp(-e0))
        step = [(e0 * (2 * j - n), comb(n, j) * p**j * (1 - p) ** (n - j)) for j in range(n + 1)]
        pts = [(a + b, w * v) for a, w in pts for b, v in step]
    return pts


def mp_laplace_one(theta, fn):
    """E[fn(L)] for one Laplace step's loss (either direction): atoms +theta (1/2), -theta (e^-theta/2),
    density e^{(l - theta)/2} / 4 on (-theta, theta)."""
    th = mp.mpf(theta)
    cont = mp.quad(lambda l: fn(l) * mp.exp((l - th) / 2) / 4, [-th, 0, th])
    return fn(th) / 2 + mp.exp(-th) / 2 * fn(-th) + cont


def _close(v, ref, rtol=1e-6):
    return abs(v - float(ref)) <= rtol * float(ref)


def _rows(groups, kind, x):
    return ExactDispatch(groups, None).rows(kind, np.array([float(x)]))[0]


def _eps_ref(delta_fn, target, guess):
    """Root of the mpmath delta(eps) = target near the engine's answer."""
    return mp.findroot(lambda e: mp.log(delta_fn(e)) - mp.log(target), (mp.mpf(guess) * 0.999, mp.mpf(guess) * 1.001),
                       solver="secant")


# ---------------------------------------------------------------------- randomized response mixed
@pytest.mark.parametrize("e0,n,sigma,ng", [(1.0, 5, 2.0, 3), (0.2, 30, 1.0, 1), (3.0, 2, 5.0, 10)])
def test_rr_with_gaussian_against_mpmath(e0, n, sigma, ng):
    g = [(RandomizedResponse(e0), n), (Gaussian(sigma), ng)]
    mu = math.sqrt(ng) / sigma
    lat = mp_rr_lattice([(e0, n)])

    def ref(eps):
        return mp.fsum(w * mp_gauss(eps - a, mu) for a, w in lat)

    for eps in (0.0, 0.5, 3.0):
        r = _rows(g, "delta", eps)
        assert r.method == "exact" and r.valid and _close(r.value, ref(eps), 1e-9)
    for delta in (1e-3, 1e-8):
        r = _rows(g, "epsilon", delta)
        assert r.method == "exact" and r.valid
        assert _close(r.value, _eps_ref(ref, delta, r.value), 1e-8)


def test_two_rr_parameters_against_mpmath():
    groups = [(0.5, 4), (1.3, 3)]
    g = [(RandomizedResponse(e0), n) for e0, n in groups]
    lat = mp_rr_lattice(groups)

    def ref(eps):
        return mp.fsum(w * -mp.expm1(eps - a) for a, w in lat if a > eps)

    for eps in (0.0, 0.7, 2.1, 4.0):
        r = _rows(g, "delta", eps)
        assert r.valid and _close(r.value, ref(eps), 1e-12)
    assert _rows(g, "delta", 4 * 0.5 + 3 * 1.3 + 0.01).value == 0.0  # beyond the largest loss
    r = _rows(g, "epsilon", 1e-3)
    assert _close(r.value, _eps_ref(ref, 1e-3, r.value), 1e-10)


@pytest.mark.parametrize("direction", ["remove", "add"])
def test_rr_with_one_subsampled_step_both_directions(direction):
    # the subsampled step's two directions differ: the flip delta(x<0) = 1 - e^x + e^x delta_other(-x)
    # is exercised by the lattice points above eps
    e0, n, q, sigma = 0.7, 6, 0.3, 0.8
    lat = mp_rr_lattice([(e0, n)])
    mix = LatticeMix([(e0, n)], [(PoissonSubsampledGaussian(sigma, q), 1)])
    for eps in (0.0, 0.4, 1.5, 3.0):
        want = mp.fsum(w * mp_single_step(eps - a, q, sigma, direction) for a, w in lat)
        v, rel, _ = mix.delta(eps, direction)
        assert rel <= 1e-9 and _close(v, want, 1e-9)


def _pld(m, n, pess, vdi=1e-4):
    from dp_accounting.pld import privacy_loss_distribution as pl

    if isinstance(m, RandomizedResponse):
        b = pl.from_randomized_response(2.0 / (1.0 + math.exp(m.epsilon0)), 2, pessimistic_estimate=pess,
                                        value_discretization_interval=vdi)
    elif isinstance(m, Laplace):
        b = pl.from_laplace_mechanism(m.scale, sensitivity=m.sensitivity, pessimistic_estimate=pess,
                                      value_discretization_interval=vdi)
    elif isinstance(m, Gaussian):
        b = pl.from_gaussian_mechanism(m.noise_multiplier, pessimistic_estimate=pess, value_discretization_interval=vdi)
    else:
        b = pl.from_gaussian_mechanism(m.noise_multiplier, sampling_prob=m.sampling_probability,
                                       pessimistic_estimate=pess, value_discretization_interval=vdi)
    return b.self_compose(n)


def _pld_bracket(groups, eps, vdi=1e-3):
    pytest.importorskip("dp_accounting")
    logging.disable(logging.WARNING)
    try:
        ends = []
        for pess in (False, True):
            acc = None
            for m, n in groups:
                b = _pld(m, n, pess, vdi)
                acc = b if acc is None else acc.compose(b)
            ends.append(acc.get_delta_for_epsilon(eps))
    finally:
        logging.disable(logging.NOTSET)
    return ends


@pytest.mark.parametrize("groups", [
    [(RandomizedResponse(1.0), 10), (PoissonSubsampledGaussian(1.0, 0.05), 100)],
    [(RandomizedResponse(2.0), 3), (Laplace(1.0), 4)],
    [(RandomizedResponse(1.0), 2), (Laplace(2.0), 2), (Gaussian(1.0), 1)],
])
def test_rr_mixes_inside_the_pld_bracket(groups):
    for eps in (1.0,):
        r = _rows(groups, "delta", eps)
        assert r.method == "exact" and r.valid
        lo, hi = _pld_bracket(groups, eps)
        assert lo * (1 - 1e-9) <= r.value <= hi * (1 + 1e-9)
    r = _rows(groups, "epsilon", 1e-5)
    lo, hi = _pld_bracket(groups, r.value)
    assert r.valid and lo * (1 - 1e-6) <= 1e-5 <= hi * (1 + 1e-6)


def test_too_many_lattice_points_give_a_flagged_bound_above_the_truth():
    # 151 x 134 = 20234 lattice points with a Laplace rest: beyond MAX_ATOMS, and no Gaussian-type factor for the
    # whole-composition contour (mixed_exact.contour_applies), so the flagged proven upper bound, never a silent
    # number: at least the PLD optimistic end, its proven lower end at most the pessimistic one (with a subsampled
    # Gaussian rest the contour answers it exactly: tests/test_flag_s16_mixed.py)
    g = [(RandomizedResponse(0.1), 150), (RandomizedResponse(0.07), 133), (Laplace(2.0), 20)]
    r = _rows(g, "delta", 2.0)
    assert r.method == "chernoff-bound" and not r.valid and "lattice points" in r.diagnostics["error"]
    assert "mixed with other mechanisms" in r.diagnostics["note"]
    lo, hi = _pld_bracket(g, 2.0)
    assert r.value >= lo * (1 - 1e-9) and r.diagnostics["proven_lower"] <= hi * (1 + 1e-9)
    assert lattice_mix_for([(RandomizedResponse(1.0), 5)]) is None  # the closed form's case


# ---------------------------------------------------------------------- few Laplace steps mixed
def test_one_laplace_step_with_gaussian_against_conditioning():
    theta, sigma, ng = 1.0, 2.0, 3
    mu = math.sqrt(ng) / sigma
    g = [(Laplace(1.0 / theta), 1), (Gaussian(sigma), ng)]
    for eps in (0.0, 1.0, 3.0):
        want = mp_laplace_one(theta, lambda l: mp_gauss(eps - l, mu))
        r = _rows(g, "delta", eps)
        assert r.method == "exact" and r.valid and _close(r.value, want, 1e-8)
    r = _rows(g, "epsilon", 1e-6)
    ref = _eps_ref(lambda e: mp_laplace_one(theta, lambda l: mp_gauss(e - l, mu)), 1e-6, r.value)
    assert r.valid and _close(r.value, ref, 1e-8)


def test_three_laplace_steps_with_gaussian_against_bromwich():
    # three Laplace steps (theta = 1) and three Gaussian steps (sigma = 2): the atoms do not decay, the
    # Gaussian factor does; mpmath's Bromwich integral of its own MGF through u = 30 (e^{-g2 u^2/2} ~ e^{-337})
    g = [(Laplace(1.0), 3), (Gaussian(2.0), 3)]
    mu2 = mp.mpf(3) / 4
    for eps in (2.5,):
        r = _rows(g, "delta", eps)
        assert r.method == "exact" and r.valid

        def f(u, eps=eps):
            z = mp.mpc(1, u)
            w = z + mp.mpf(1) / 2
            lk = 3 * mp.log(mp.exp(-mp.mpf(1) / 2) * (mp.cosh(w) + mp.sinh(w) / (2 * w))) + mu2 * z * (z + 1) / 2
            return mp.re(mp.exp(lk - z * eps) / (z * (z + 1)))

        ref = mp.quad(f, list(np.linspace(0.0, 30.0, 121))) / mp.pi
        assert _close(r.value, ref, 1e-8)


def test_one_laplace_step_with_one_subsampled_step_refused_loudly():
    # neither factor decays fast (one Laplace step's atoms, one subsampled step's 1/u): the contour
    # refuses, and the dispatch answers with the rigorous composition bound (flagged, not labelled
    # exact; the tilted expansion it replaced was up to 4.7x low on such mixes): it must lie above the
    # true value, here an mpmath conditioning on the Laplace law with the one step's threshold formula
    from ewacct.methods.laplace_exact import LaplaceExactError

    theta, q, sigma, eps = 0.8, 0.2, 1.0, 0.2
    g = [(Laplace(1.25), 1), (PoissonSubsampledGaussian(sigma, q), 1)]
    with pytest.raises(LaplaceExactError):
        mixed_compositions(g)["remove"].delta(eps)
    r = _rows(g, "delta", eps)
    assert r.method == "composition-bound" and not r.valid
    with mp.workdps(30):
        truth = max(mp_laplace_one(theta, lambda l, d=d: mp_single_step(eps - l, q, sigma, d)) for d in ("remove", "add"))
    assert float(truth) <= r.value <= 1.0
    e = _rows(g, "epsilon", 1e-5)
    assert e.method == "composition-bound" and not e.valid
    assert _rows(g, "delta", e.value).value <= 1e-5 * (1 + 1e-9)  # consistent with its own delta bound


@pytest.mark.parametrize("groups", [
    [(Laplace(1.0), 2), (PoissonSubsampledGaussian(1.0, 0.01), 1000)],
    [(Laplace(10.0), 50), (PoissonSubsampledGaussian(1.0, 0.01), 100)],
    [(Laplace(1.0), 5), (PoissonSubsampledGaussian(0.8, 0.1), 50)],
])
def test_few_laplace_steps_with_subsampled_gaussians_in_pld_bracket(groups):
    from ewacct import Accountant

    acc = Accountant()
    for m, n in groups:
        acc.compose(m, n)
    r = acc.get_epsilon(1e-5)
    assert r.method == "exact" and bool(r.valid)
    lo, hi = _pld_bracket(groups, r.value)
    assert lo * (1 - 1e-6) <= 1e-5 <= hi * (1 + 1e-6)


@pytest.mark.parametrize("groups", [
    [(RandomizedResponse(0.8), 6), (Gaussian(1.5), 2)],
    [(Laplace(2.0), 2), (Gaussian(1.0), 2)],
    [(RandomizedResponse(1.0), 3), (PoissonSubsampledGaussian(1.0, 0.1), 30)],
])
def test_round_trip_and_monotone(groups):
    """delta(eps(delta)) = delta, and delta(eps) non-increasing along a grid (both from the dispatch)."""
    for target in (1e-3, 1e-7):
        r = _rows(groups, "epsilon", target)
        back = _rows(groups, "delta", r.value)
        assert r.valid and back.valid and abs(back.value - target) <= 1e-7 * target
    vals = [_rows(groups, "delta", e).value for e in np.linspace(0.0, 6.0, 7)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(vals, vals[1:])) and vals[0] > vals[-1]


def test_one_parameter_in_two_groups_is_the_binomial():
    g = [(RandomizedResponse(1.0), 3), (RandomizedResponse(1.0), 2)]
    lat = mp_rr_lattice([(1.0, 5)])
    for eps in (0.0, 1.5, 4.0):
        want = mp.fsum(w * -mp.expm1(eps - a) for a, w in lat if a > eps)
        assert _close(_rows(g, "delta", eps).value, want, 1e-13)


def test_rr_with_laplace_against_residues():
    """Randomized response with four Laplace steps: the lattice sum of the Laplace composition's delta
    by residue calculus (tests/test_laplace_exact.py's mpmath reference, valid for every real argument)."""
    from test_laplace_exact import mp_delta_residues

    e0, n, theta, T = 2.0, 3, 1.0, 4
    g = [(RandomizedResponse(e0), n), (Laplace(1.0 / theta), T)]
    lat = mp_rr_lattice([(e0, n)])
    for eps in (0.5, 3.0, 6.0):
        want = mp.fsum(w * mp_delta_residues(theta, T, eps - a, dps=30) for a, w in lat)
        r = _rows(g, "delta", eps)
        assert r.method == "exact" and r.valid and _close(r.value, want, 1e-9)


@pytest.mark.parametrize("groups", [
    [(Laplace(1.0), 1), (PoissonSubsampledGaussian(0.5, 0.01), 10)],   # the breaker's: tilted said 1.09, PLD 5.09
    [(Laplace(1.0), 1), (PoissonSubsampledGaussian(2.0, 0.001), 10)],  # tilted said 0.994 < Laplace alone (1.0)
])
def test_unsettled_laplace_mix_is_a_bound_above_the_pld_bracket(groups):
    # where the exact evaluation does not settle, the flagged composition bound (the rest's exact eps
    # plus the Laplace steps' pure eps) must be an upper bound: dp_accounting's pessimistic PLD delta at
    # that eps is already <= the target
    from ewacct import Accountant

    acc = Accountant()
    for m, n in groups:
        acc.compose(m, n)
    with pytest.warns(Warning):
        r = acc.get_epsilon(1e-5)
    assert r.method == "composition-bound" and not bool(r.valid)
    lo, hi = _pld_bracket(groups, r.value, vdi=1e-4)
    assert hi <= 1e-5
