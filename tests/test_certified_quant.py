"""Quantised contours (ewacct/methods/certified_quant.py, docs/certified.md section 5b) and the
second-order truncation probes (section 4).

References: dp_accounting's PLD pair (pessimistic end an upper bound on the truth; optimistic end a
lower estimate), the engine-guided certified contour (another abscissa and step), and mpmath
quadratures of the definition G(w) = E[(1 + q (e^{mu X - mu^2/2} - 1))^w] and of E[l^2 e^{a l}].
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods import certified as C
from ewacct.methods import certified_quant as Q


def _pld(sigma: float, q: float, T: int, delta: float, vdi: float = 1e-3) -> tuple[float, float]:
    from dp_accounting.pld import privacy_loss_distribution as pl

    def one(pess: bool) -> float:
        p = pl.from_gaussian_mechanism(sigma, sampling_prob=q, value_discretization_interval=vdi,
                                       pessimistic_estimate=pess, use_connect_dots=pess)
        return p.self_compose(T).get_epsilon_for_delta(delta)

    return one(False), one(True)


def _cert(sigma: float, q: float, T: int, delta: float):
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(
        delta, certify=True, certify_options={"time_budget": 30.0})
    return r.lower, r.upper, r.certified_by


def test_training_loop_series_is_tight_and_contains_pld():
    """The issue-11 pattern (fresh accountant per call, one process): each bracket a contour
    enclosure <= 1e-4 wide, consistent with the PLD pair; later calls reuse the cached nodes."""
    C.clear_caches()
    got = {}
    for T in (20, 30, 100, 300):
        lo, hi, src = _cert(0.6421, 0.01, T, 1e-5)
        assert src.startswith("contour integral"), src
        assert 0.0 < lo <= hi and hi - lo <= 1e-4 * hi
        got[T] = (lo, hi)
    for T in (30, 300):
        opt, pess = _pld(0.6421, 0.01, T, 1e-5)
        lo, hi = got[T]
        assert lo <= pess and hi >= opt, (T, lo, hi, opt, pess)


def test_node_cache_does_not_change_answers():
    """The same queries with the node enclosures cached and recomputed give the same brackets."""
    C.clear_caches()
    first = [_cert(0.6421, 0.01, T, 1e-5)[:2] for T in (40, 50)]
    C._NODES.clear()
    C._NODES_COUNT[0] = 0
    C._PROBES2.clear()
    again = [_cert(0.6421, 0.01, T, 1e-5)[:2] for T in (40, 50)]
    assert first == again


def test_quantised_and_engine_contours_overlap():
    """Two certificates from different abscissae / steps (the quantised and the engine-guided
    contour) both contain the truth: they overlap."""
    C.clear_caches()
    lo1, hi1, _ = _cert(0.8, 0.02, 200, 1e-6)
    C.clear_caches()
    C.QUANTISED = False
    try:
        lo2, hi2, src = _cert(0.8, 0.02, 200, 1e-6)
    finally:
        C.QUANTISED = True
    assert src.startswith("contour integral")
    assert max(lo1, lo2) <= min(hi1, hi2), (lo1, hi1, lo2, hi2)
    assert hi1 - lo1 <= 1e-6 * hi1


def test_small_sigma_many_steps_is_a_contour_bracket():
    """Small sigma with many steps (Opacus' overshoot regime): the second-order probes bound the
    truncation; the bracket is consistent with the PLD pair."""
    C.clear_caches()
    lo, hi, src = _cert(0.5, 1e-3, 5000, 1e-5)
    assert src.startswith("contour integral"), src
    assert hi - lo <= 1e-4 * hi
    opt, pess = _pld(0.5, 1e-3, 5000, 1e-5)
    assert lo <= pess and hi >= opt, (lo, hi, opt, pess)


def _mp_moment(q: float, mu: float, a: float, k: int, w: complex | None = None) -> mp.mpf:
    """E[l^k e^{w l}] for X ~ N(0, 1), l = log(1 - q + q e^{mu X - mu^2/2}) (mpmath quadrature)."""
    mp.mp.dps = 20
    q, mu = mp.mpf(q), mp.mpf(mu)
    ww = mp.mpf(a) if w is None else mp.mpc(w)

    def f(x):
        l = mp.log(1 - q + q * mp.exp(mu * x - mu * mu / 2))
        return mp.npdf(x) * l ** k * mp.exp(ww * l)

    return mp.quad(f, [-mp.inf, -10, -3, 0, mu, 3 + mu, 10 + mu, mp.inf])


@pytest.mark.parametrize("q,sigma,a", [(0.01, 0.6421, 3.8), (1e-4, 0.43087, 2.6), (0.05, 1.5, -2.0)])
def test_second_derivative_bound_contains_mpmath(q, sigma, a):
    cd = C.CertDirection([(PoissonSubsampledGaussian(sigma, q), 100)], "remove")
    ld2 = cd.log_d2(0, a)
    ref = _mp_moment(q, 1.0 / sigma, a, 2)
    assert math.exp(ld2) >= float(ref) * (1 - 1e-12)
    assert math.exp(ld2) <= 3.0 * float(ref)  # and it is not vacuous


@pytest.mark.parametrize("q,sigma,c,u", [(0.01, 0.6421, 2.83, 40.0), (1e-4, 0.43087, 1.62, 300.0)])
def test_second_order_probe_bounds_mpmath_on_the_cell(q, sigma, c, u):
    cd = C.CertDirection([(PoissonSubsampledGaussian(sigma, q), 100)], "remove")
    ul, ur = np.array([u]), np.array([u * 1.1])
    bound = cd._probe2(0, c, ul, ur, math.inf, 1)[0]
    for t in (0.0, 0.37, 1.0):
        g = _mp_moment(q, 1.0 / sigma, 0.0, 0, complex(c + 1.0, u * (1 + 0.1 * t)))
        assert float(mp.log(abs(g))) <= bound


def test_quantised_choice_is_on_the_grid():
    cd = C.CertDirection([(PoissonSubsampledGaussian(1.0, 0.01), 1000)], "remove")
    eps, cs = Q.estimate(cd, math.log(1e-5))
    assert 1.5 < eps < 2.2  # the certified value is 1.8282 (benchmarks): a float estimate near it
    c = Q.quantise_c(cs)
    assert c <= cs < c * 2 ** (1 / Q.C_STEPS) and float(Q.C_STEPS * math.log2(c)).is_integer()
    h, s_alias = Q.pick_h(cd, c, eps, math.log(1e-5))
    assert math.log2(h).is_integer() and all(s > c for s in s_alias)


def test_large_sigma_tiny_q_certificate_does_not_hang():
    """sigma = 605, q = 5.3e-6, T = 75,876, delta = 7.1e-8 (found by the breaker): the decay bound's
    binomial expansion had ceil(a) + 1 Python-level terms per abscissa x0 at a tilt a ~ 1e5-1e6, with no
    deadline check (minutes of CPU against a 1 s budget).  Beyond POWER_TERMS_MAX the bound is skipped;
    the certificate still answers (the contour here), the estimate inside it.  The alarm is a hang
    guard (60 s against ~1 s), not a speed claim."""
    import signal

    from ewacct import Accountant, PoissonSubsampledGaussian as PSG

    def boom(*_):
        raise TimeoutError("certified query hung")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(60)
    try:
        acc = Accountant().compose(PSG(605.0771, 5.255334745512725e-06), 75876)
        est = acc.get_epsilon(7.05244998626926e-08)
        br = acc.get_epsilon(7.05244998626926e-08, certify=True)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert 0.0 < br.lower <= est.value <= br.upper
    assert br.upper - br.lower <= 1e-4 * br.upper


def test_few_participation_first_call_contains_pld_and_overlaps_without_guides():
    """q T = 0.1 (q = 0.01, sigma = 0.6421, T = 10: the first call of a training loop): the quantised
    contour at the abscissa with the shortest float node-count estimate (one grid step below the
    saddle there) and the node count started from that estimate.  Both only choose c and N: the
    bracket still overlaps dp_accounting's PLD pair, and the bracket computed without the guides
    (abscissa at the saddle, node search from 64) overlaps it."""
    C.clear_caches()
    lo, hi, src = _cert(0.6421, 0.01, 10, 1e-5)
    assert src.startswith("contour integral"), src
    assert 0.0 < lo <= hi and hi - lo <= 1e-5 * hi
    opt, pess = _pld(0.6421, 0.01, 10, 1e-5, vdi=1e-4)
    assert lo <= pess and hi >= opt, (lo, hi, opt, pess)
    old = (Q.C_BELOW, Q.N_EST_GROUPS)
    try:
        Q.C_BELOW, Q.N_EST_GROUPS = 0, 0
        C.clear_caches()
        lo2, hi2, src2 = _cert(0.6421, 0.01, 10, 1e-5)
    finally:
        Q.C_BELOW, Q.N_EST_GROUPS = old
        C.clear_caches()
    assert src2.startswith("contour integral"), src2
    assert max(lo, lo2) <= min(hi, hi2), (lo, hi, lo2, hi2)


def test_chernoff_with_early_stop_is_an_upper_bound():
    """The other direction's Chernoff check stops at the first grid point (in float order) whose
    rigorous bound is below the target: still a rigorous upper bound on delta -- at T = 1 at least the
    lower end of the Arb closed-form enclosure -- and no smaller than the full grid's minimum."""
    from ewacct.bounds.closed_form import closed_form_delta_bracket
    from ewacct.methods.exact import ExactMethod

    C.clear_caches()
    groups = [(PoissonSubsampledGaussian(1.0, 0.05), 1)]
    cf = C.ContourCertifier(groups, ExactMethod(groups))
    acc = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.05), 1)
    for eps in (0.05, 0.2, 0.5):
        lo_cf, _ = closed_form_delta_bracket(acc, eps)[:2]  # max of the two directions
        for stop_off in (0.5, -0.5, math.inf):
            ups = []
            for d in ("remove", "add"):
                full = cf._chernoff_hi(d, eps, 1.0)
                stop = full + stop_off
                got = cf._chernoff_hi(d, eps, 1.0, stop=stop)
                assert got >= full - 1e-12
                assert full > stop or got <= stop
                ups.append(math.exp(got))
            assert max(ups) >= lo_cf > 0.0


def test_engine_abscissa_below_the_saddle_does_not_widen_the_bracket():
    """q = 0.01, sigma = 0.6421, T = 110, a fresh process state (q T = 1.1: the engine guides): the
    engine's abscissa is 0.49 where the saddle is 2.72 (its few-participation fractions of c*); the
    quantised contour there found no eps and the engine-guided contour answered [3.1704, 16.04].
    The abscissa now comes from the float saddle: a contour bracket <= 1e-5 wide, consistent with
    dp_accounting's PLD pair."""
    C.clear_caches()
    lo, hi, src = _cert(0.6421, 0.01, 110, 1e-5)
    assert src.startswith("contour integral"), src
    assert 0.0 < lo <= hi and hi - lo <= 1e-5 * hi, (lo, hi)
    opt, pess = _pld(0.6421, 0.01, 110, 1e-5)
    assert lo <= pess and hi >= opt, (lo, hi, opt, pess)


def test_node_ladder_loosens_far_nodes_encloses_mpmath_and_keeps_the_width():
    """The quantised path's node tolerances grow with |z| (certified._ladder, from |z| > 4 c): the
    nodes below that are unchanged, the loosened ones still enclose mpmath's G, and the q T = 0.1
    bracket (the first call of a training loop) stays within 5 % of its width without the ladder."""
    q, sigma, c, h = 0.01, 0.6421, 2.378414230005442, 0.25
    g = C._SG(q, 1.0 / sigma, 10)
    cd = C.CertDirection([(PoissonSubsampledGaussian(sigma, q), 10)], "remove")
    a = cd._a(c)
    log_tol = cd._real_G(0, a)[0] + math.log(C.QUANT_NODE_RTOL / 16)
    ff = abs(cd._real_G(0, a)[0]) < 1.0
    C.clear_caches()
    lg1, lr1 = C._group_nodes(g, "remove", c, h, 0, 200, log_tol, ff, 0.0, 4.0)
    C.clear_caches()
    lg0, lr0 = C._group_nodes(g, "remove", c, h, 0, 200, log_tol, ff, 0.0, 0.0)
    C.clear_caches()
    assert np.array_equal(lr1[:36], lr0[:36]) and np.array_equal(lg1[:36], lg0[:36])
    assert np.all(lr1[160:] >= lr0[160:]) and np.any(lr1[160:] > lr0[160:] + 0.5)
    for k in (160, 199):
        ref = _mp_moment(q, 1.0 / sigma, 0.0, 0, complex(c + 1.0, k * h))
        assert abs(complex(ref) - np.exp(lg1[k])) <= math.exp(lr1[k]), k
    widths = []
    for rho in (C.QUANT_NODE_LADDER, 0.0):
        old = C.QUANT_NODE_LADDER
        try:
            C.QUANT_NODE_LADDER = rho
            C.clear_caches()
            lo, hi, src = _cert(sigma, q, 10, 1e-5)
        finally:
            C.QUANT_NODE_LADDER = old
            C.clear_caches()
        assert src.startswith("contour integral"), src
        widths.append((lo, hi))
    (lo1, hi1), (lo0, hi0) = widths
    assert max(lo0, lo1) <= min(hi0, hi1)
    assert hi1 - lo1 <= 1.05 * (hi0 - lo0), widths


def test_excess_cells_is_the_smallest_top_set_leaving_the_rest_below_the_level():
    """log_trunc probes only the largest truncation cells, as many as leave the others (and the part
    beyond the grid) at most e^-1 of the level; none where the whole sum already meets it.  Checked
    against a brute-force search over the top-k sets of random bounds."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        lb = rng.normal(-30.0, 4.0, size=int(rng.integers(1, 40)))
        last = float(rng.normal(-34.0, 3.0))
        target = float(rng.normal(-24.0, 3.0))
        got = C._excess_cells(lb, last, target)
        total = np.logaddexp(np.logaddexp.reduce(lb), last)
        if total <= target - 0.05:
            assert got.size == 0
            continue
        order = np.argsort(-lb, kind="stable")
        want = None
        for k in range(1, lb.size + 1):
            rest = np.logaddexp(np.logaddexp.reduce(lb[order[k:]]) if k < lb.size else -np.inf, last)
            if rest <= target - 1.0:
                want = k
                break
        want = lb.size if want is None else want
        assert got.size == want and set(got.tolist()) == set(order[:want].tolist())


def test_small_slope_grows_the_node_count_instead_of_the_width():
    """q = 0.01, sigma = 1, T = 10: |d log delta / d eps| ~ 0.9 at eps ~ 0.38 where the abscissa is ~6.7,
    so a truncation level aimed by eps c left the quantised bracket 2.3e-5 wide (and the engine-guided
    contour answered); the node count now follows the sum's own slope (_qslope).  The quantised bracket
    is within 1e-5 and consistent with dp_accounting's PLD pair."""
    from ewacct.methods.exact import ExactMethod

    C.clear_caches()
    groups = [(PoissonSubsampledGaussian(1.0, 0.01), 10)]
    b = C.ContourCertifier(groups, ExactMethod(groups)).epsilon(1e-5, time_budget=30.0)
    C.clear_caches()
    assert b.info.get("quantised_contour"), b.info
    assert 0.0 < b.lower <= b.upper and b.upper - b.lower <= 1e-5 * b.upper
    opt, pess = _pld(1.0, 0.01, 10, 1e-5)
    assert b.lower <= pess and b.upper >= opt, (b.lower, b.upper, opt, pess)


def test_tiny_q_corner_answers_with_a_contour_within_the_default_budget():
    """q = 0.001, sigma = 1, T = 10, delta = 1e-5 (q T = 0.01): the other direction's Chernoff check
    re-evaluated the float K of the same grid at every eps of the bracket search (~27 ms a point for
    ADD there): the 1 s budget ran out and the proven fallback [0.0091, 0.608] answered (the contour
    needed 6.6 s).  With k_float memoised the contour answers; its bracket overlaps dp_accounting's
    PLD pair and is within 1e-5."""
    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.001), 10).get_epsilon(1e-5, certify=True)
    C.clear_caches()
    assert str(r.certified_by).startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-5 * r.upper
    opt, pess = _pld(1.0, 0.001, 10, 1e-5)
    assert r.lower <= pess and r.upper >= opt, (r.lower, r.upper, opt, pess)


@pytest.mark.parametrize("sigma,q,T,pld_vdi", [(1.0, 1e-4, 10, 1e-5), (1.0, 1e-5, 100, None)])
def test_newton_from_a_float_estimate_far_above_the_root(sigma, q, T, pld_vdi):
    # few participations: the float saddle estimate of eps (0.239 at q = 1e-4, T = 10) lies far above
    # the root (1.07e-3), where the certified sum is lost in its rounding; Newton used to return NaN
    # there and the answer was the proven wide fallback ([0.000219, 0.4285]; [0, 0.332] at q = 1e-5,
    # T = 100).  It now quarters eps until the sum is usable: a contour bracket, tight.  References:
    # the few-participation engine (truncation + adaptive Gauss-Kronrod/Filon panels in u, another
    # quadrature) and dp_accounting's PLD pair (pessimistic end an upper bound).
    from ewacct.methods.fewpart import fewpart_epsilon

    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(1e-5, certify=True)
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-4 * r.upper
    ref, err, _ = fewpart_epsilon([(q, sigma, T)], 1e-5)
    assert r.lower - 1e-6 * ref <= ref <= r.upper + 1e-6 * ref and err < 1e-6
    if pld_vdi is not None:
        opt, pess = _pld(sigma, q, T, 1e-5, vdi=pld_vdi)
        assert r.upper <= pess and r.lower >= opt * (1 - 1e-6)


def test_a_bracket_wider_than_the_quantised_acceptance_is_kept_over_the_fallback():
    """sigma 0.4570123, q 1e-5, T 1000, delta 1e-5 (the first rung of the certified calibration to
    eps 0.05): the quantised contour proved [0.0499994, 0.0500001] (1.3e-5 wide, above its 1e-5
    acceptance), the later paths failed (the engine-guided contour over its node budget), and the
    answer was the proven fallback [0, 2.23] -- the calibration then ended on a sigma 4.95x the exact
    one.  The narrowest bracket proved on the way is now kept.  References: the few-participation
    engine (another quadrature) and dp_accounting's pessimistic PLD end (an upper bound)."""
    from ewacct.methods.fewpart import fewpart_epsilon

    sigma, q, T = 0.4570122973883449, 1e-5, 1000
    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(1e-5, certify=True)
    C.clear_caches()
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-4 * r.upper
    ref, err, _ = fewpart_epsilon([(q, sigma, T)], 1e-5)
    assert r.lower - 1e-6 * ref <= ref <= r.upper + 1e-6 * ref and err < 1e-6
    _, pess = _pld(sigma, q, T, 1e-5, vdi=1e-4)
    assert r.upper <= pess, (r.upper, pess)


def test_disjoint_brackets_raise_instead_of_answering():
    groups = [(PoissonSubsampledGaussian(1.0, 0.01), 10)]
    from ewacct.methods.exact import ExactMethod

    cf = C.ContourCertifier(groups, ExactMethod(groups))
    cf._kept = None
    b = cf._keep(C.Bracket(1.0, 2.0, {}))
    assert (b.lower, b.upper) == (1.0, 2.0)
    b = cf._keep(C.Bracket(1.5, 3.0, {}))
    assert (b.lower, b.upper) == (1.5, 2.0)  # the intersection of two proofs
    with pytest.raises(C.CertInconsistent):
        cf._keep(C.Bracket(2.5, 3.0, {}))


def test_newton_settles_on_the_rounding_floor_of_a_cancelling_sum():
    """q 0.0019, sigma 1.32, T 50, delta 1e-10 (eps 0.168; the float saddle estimate 0.735): the
    certified sum on the quantised REMOVE contours cancels ~e^14-fold, its rounding (~1e-9 relative)
    kept Newton hopping around the root for 60 rounds and it returned NaN; ADD's contour then set the
    bracket, [0.0441, 0.168] (74 % wide; before the kept bracket, the proven fallback).  Newton now
    stops on its rounding floor, and where the node errors would dominate the width the nodes are
    enclosed more tightly (_qtight).  References: dp_accounting's PLD pair and the few-participation
    engine."""
    from ewacct.methods.fewpart import fewpart_epsilon

    sigma, q, T, delta = 1.32, 0.0019, 50, 1e-10
    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta, certify=True)
    C.clear_caches()
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 2e-5 * r.upper, (r.lower, r.upper)
    ref, err, _ = fewpart_epsilon([(q, sigma, T)], delta)
    assert r.lower - 1e-6 * ref <= ref <= r.upper + 1e-6 * ref and err < 1e-6
    opt, pess = _pld(sigma, q, T, delta, vdi=1e-4)
    assert opt <= r.lower and r.upper <= pess, (r.lower, r.upper, opt, pess)


def test_newton_returns_its_best_point_where_it_stalls():
    # a sum whose rounding keeps |f| above 1e-12: the best point is returned (a guide for the bracket)
    from ewacct.methods.exact import ExactMethod

    groups = [(PoissonSubsampledGaussian(1.32, 0.0019), 50)]
    cf = C.ContourCertifier(groups, ExactMethod(groups))
    C.clear_caches()
    cd = cf.dirs["remove"]
    K, E = C._qnodes(cd, 11.313708498984761, 2.0, 450, 0.168, math.log(1e-10), math.inf)
    e = C._newton_eps(cd, K, E, 11.313708498984761, 2.0, 0.168, math.log(1e-10))
    C.clear_caches()
    assert abs(e - 0.16793125888) < 1e-5 * 0.168, e


def test_long_history_tiny_q_is_a_narrow_contour_bracket():
    """q 4.7e-6, sigma 0.93, T 1.4e7, delta 4.5e-9 (a sweep point): the proven fallback [0.0598, 0.786]
    answered (the quantised brackets 1.7e-5..7e-5 wide were dropped, the retry's Newton returned NaN).
    Now the nodes are enclosed more tightly where their errors set the width (_qtight) and the
    narrowest bracket is kept.  dp_accounting's PLD overflows at this T (math range error), so the
    reference is the exact engine (the contour quadrature with its own error estimate, 1e-6)."""
    import ewacct

    sigma, q, T, delta = 0.93, 4.7e-6, 14_000_000, 4.5e-9
    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta, certify=True)
    C.clear_caches()
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 2e-5 * r.upper, (r.lower, r.upper)
    ref = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=T, target_delta=delta)
    assert ref.valid and r.lower - 2e-6 * ref.value <= ref.value <= r.upper + 2e-6 * ref.value
