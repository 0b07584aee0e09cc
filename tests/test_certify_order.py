"""The order of the few-participation narrowing sources in ewacct/bounds/certify.py (issue 9, cost): the conditioned
body / tail bracket first where its planned body is small, its early decline where the FFT's error floor would
swamp E_0, the estimate-centred sources after.  References, none sharing code with the certifier's sources: the
exact engine's estimate (the few-participation quadrature, methods/fewpart.py) and the proven Chernoff /
tilted-tail bracket (bounds/proven.py)."""

from __future__ import annotations

import time

from ewacct import Accountant
from ewacct.bounds import certify
from ewacct.bounds import fewpart_cond as fcd
from ewacct.bounds.proven import proven_epsilon_bracket
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG


def _wide(lo, hi):
    return (hi - lo) > (1e-4 * hi if hi >= 1e-3 else 1e-7)


def test_conditioned_bracket_answers_first_and_contains_the_estimate():
    # sweep seed 101's point: 1.66 s before (the engine's estimate, then the rounded bracket); the conditioned
    # bracket, planned on the proven bracket's centre, has a small body and answers first
    sigma, q, T, delta = 0.3961, 2.1e-5, 4, 4.26e-11
    acc = Accountant().compose(PSG(sigma, q), T)
    est = acc.get_epsilon(delta)
    assert est.valid
    certify.clear_memo()
    c = certify.certified_epsilon(acc, delta)
    assert c.lower <= float(est.value) <= c.upper, (c.lower, float(est.value), c.upper)
    assert not _wide(c.lower, c.upper)
    assert certify.COND_SOURCE in c.source and certify.FEWPART_SOURCE not in c.source
    plo, phi, _ = proven_epsilon_bracket(list(acc.groups()), delta)
    assert plo <= c.lower <= c.upper <= phi


def test_refused_estimate_point_reaches_the_width_target():
    # (sigma 0.3, q 1e-9, T 3, delta 1e-14): the engine refuses its estimate (flagged Chernoff bound); the conditioned
    # bracket centred on the proven bracket, then re-centred on its own, meets the target (it ended 1.6e-4 wide after
    # the rounded bracket's 1.4-1.9 s); both ends inside the proven bracket
    sigma, q, T, delta = 0.3, 1e-9, 3, 1e-14
    acc = Accountant().compose(PSG(sigma, q), T)
    certify.clear_memo()
    t = time.process_time()
    c = certify.certified_epsilon(acc, delta)
    assert not _wide(c.lower, c.upper), (c.lower, c.upper)
    plo, phi, _ = proven_epsilon_bracket(list(acc.groups()), delta)
    assert plo <= c.lower <= c.upper <= phi
    assert 0.37 < c.lower  # the proven lower end is 0.185
    assert time.process_time() - t < 30.0


def test_folded_body_resolves_the_floor_point():
    # sigma 0.4905, q 2.48e-5, T 54, delta 5.5e-11: the unfolded 2^21-cell body's FFT floor was above delta (the
    # bracket declined after 1-1.6 s; the certificate stayed the proven [0.860, 4.560]); the folded window (C7) ends
    # below eps, E_0 is the charged folded mass only.  References: the engine's estimate, the proven bracket
    acc = Accountant().compose(PSG(0.4905, 2.48e-5), 54)
    est = acc.get_epsilon(5.5e-11)
    assert est.valid
    r = fcd.epsilon_bracket(list(acc.groups()), 5.5e-11, float(est.value), time_budget=30.0)
    assert r is not None
    lo, hi, _ = r
    assert lo <= float(est.value) <= hi, (lo, float(est.value), hi)
    assert not _wide(lo, hi)
    plo, phi, _ = proven_epsilon_bracket(list(acc.groups()), 5.5e-11)
    assert plo <= lo <= hi <= phi


def test_eps_zero_from_the_delta0_bound_before_the_contour():
    # sweep seed 101: (sigma 1.165, q 2.7e-5, T 89, delta 5.76e-4) and (18.37, 2.7e-5, 288, 1.84e-5) were certified
    # [0, 0] by the contour in 0.1-0.5 s; the Hellinger-affinity bound on delta(0) (1.3e-4, 1.25e-5) is below delta.
    # Reference: the exact engine's delta(0) (its own quadrature, not the bound) is below delta too
    for sigma, q, T, delta in [(1.165, 2.7e-5, 89, 5.76e-4), (18.37, 2.7e-5, 288, 1.84e-5)]:
        acc = Accountant().compose(PSG(sigma, q), T)
        certify.clear_memo()
        t = time.process_time()
        c = certify.certified_epsilon(acc, delta)
        assert (c.lower, c.upper) == (0.0, 0.0) and c.source.startswith(certify.ZERO_SOURCE), c
        assert time.process_time() - t < 0.05
        assert float(acc.get_delta(0.0).value) <= delta
    # just below the bound's reach the certificate is positive (the bound is not used as a lower end)
    acc = Accountant().compose(PSG(1.165, 2.7e-5), 89)
    certify.clear_memo()
    c = certify.certified_epsilon(acc, 5e-6)
    assert c.upper > 0.0 and not c.source.startswith(certify.ZERO_SOURCE)


def test_floor_prediction_matches_the_enclosure_gap():
    # the prediction (the folded powers' error bound, before the FFTs) against the E_0 enclosure's width computed
    # from the composed body: within 1 %
    import math

    import numpy as np

    from ewacct.bounds import fewpart_cert as fc

    sigma, q, T, e = 2.0, 1e-4, 5, 2e-3
    h = fc._grid_h(T, 0.8e-7)
    got = {}
    orig = fcd._floor_gap

    def spy(base, T_, h_, e_, N_):
        got["pred"] = orig(base, T_, h_, e_, N_)
        return got["pred"]

    fcd._floor_gap = spy
    try:
        laws = fcd._Laws(q, sigma, T, h, fcd.COARSE * 64, 1.0, fcd.COARSE, e)
    finally:
        fcd._floor_gap = orig
    x0 = laws._sfx("up", 0)
    i0 = int(np.searchsorted(x0.s, e, side="right"))
    gap = (x0.weighted(i0, (1.0, 1.0), e, (1.0, 1.0), 1.0, True)
           - x0.weighted(i0, (1.0, 1.0), e, (1.0, 1.0), 1.0, False))
    assert math.isclose(got["pred"], gap, rel_tol=1e-2), (got["pred"], gap)
