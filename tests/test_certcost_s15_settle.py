"""Session 15 (H-CS), the cost of certified eps(delta) on the quantised path (methods/certified.py,
ContourCertifier._quant_epsilon):

* where no direction's certified sum has an eps > 0, the same quantised contours' upper bounds on delta(0)
  (delta_bounds at eps = 0) prove eps = 0 without the retry and the engine-guided contour (0.66 -> 0.14 s at
  sigma 0.328, q 3.23e-6, T 29558, delta 0.0135).  Reference: dp_accounting's pessimistic PLD delta(0) (an
  upper bound on the truth by its construction) is at most the target too;
* a bracket within SETTLE_RTOL after its nodes were tightened is the answer instead of a second quantised
  contour for the other direction (0.47 -> 0.13 s at sigma 9.631, q 2.75e-4, T 4, delta 1.2e-10).  Reference:
  dp_accounting's optimistic / pessimistic PLD eps pair at value_discretization_interval 1e-8 overlaps it;
* where the quantised contour needs more than its node budget, the engine-guided contour (at most MAX_NODES) is
  not tried (it failed after 66-300 ms at every such point sampled): the fallback answers, its bracket against
  dp_accounting's PLD pair (sigma 0.8018, q 2.12e-5, T 10, delta 2.09e-11: 0.55-0.9 -> ~0.37 s).
"""

from __future__ import annotations

import pytest

from ewacct import PoissonSubsampledGaussian

pytest.importorskip("dp_accounting")

from test_certified_zero import _cert  # noqa: E402  (caches cleared, warnings silenced, certify=True)


def _no_corner_first(monkeypatch):
    # since session 16 (fewpart_cond C14) the conditioned bracket tried before the contour settles these few-participation
    # points (q T <= certify.CORNER_QT); these tests are about the contour's own path, so that step is switched off
    from ewacct.bounds import certify

    monkeypatch.setattr(certify, "CORNER_QT", 0.0)


def test_eps_zero_from_the_quantised_contours_against_pld():
    from ewacct.baselines.pld import PldBracket

    sigma, q, T, delta = 0.328, 3.23e-6, 29558, 0.0135
    r = _cert(sigma, q, T, delta)
    assert (r.lower, r.upper) == (0.0, 0.0), (r.lower, r.upper, r.certified_by)
    pb = PldBracket([(PoissonSubsampledGaussian(sigma, q), T)])
    _, d_hi = pb.delta_bracket(0.0, 1e-3)  # pessimistic delta(0): 0.01005
    assert d_hi <= delta, d_hi


def test_settled_bracket_within_target_overlaps_pld(monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from mpref import psg_pld_eps_pair

    sigma, q, T, delta = 9.631, 2.75e-4, 4, 1.2e-10
    _no_corner_first(monkeypatch)
    r = _cert(sigma, q, T, delta)
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-4 * r.upper, (r.lower, r.upper)
    opt, pess = psg_pld_eps_pair(sigma, q, T, delta, 1e-8)  # [2.753197e-4, 2.753597e-4]
    assert max(r.lower, opt) <= min(r.upper, pess), (r.lower, r.upper, opt, pess)


@pytest.mark.parametrize("sigma,q,amu", [(30.0, 2.5e-6, 1500.0), (50.0, 1e-3, 1200.0)])
def test_windowed_float_log_g_against_mpmath(sigma, q, amu):
    """certified_quant._log_g_grid sums only the windows that matter on grids of more than GRID_WINDOW_N nodes
    (a mu > ~1000; 10x faster there): an estimate only (it guides the contour's choices), held here to 1e-10
    absolute against log E[(1 + q (e^{mu X - mu^2/2} - 1))^a], X ~ N(0, 1), by mpmath quadrature at 30 digits."""
    import mpmath as mp

    from ewacct.methods import certified_quant as Q

    mu = 1.0 / sigma
    a = amu / mu
    assert int((80.0 + amu) / 0.05) > Q.GRID_WINDOW_N  # the windowed branch
    got = Q._log_g_grid(q, mu, a)
    with mp.workdps(30):
        mq, mmu, ma = mp.mpf(q), mp.mpf(mu), mp.mpf(a)

        def f(x):  # log of the integrand
            return -x * x / 2 + ma * mp.log1p(mq * mp.expm1(mmu * x - mmu * mmu / 2)) - mp.log(2 * mp.pi) / 2

        # the integrand's log is at most its value at the grid maximum (a coarse scan), peaks of unit width
        xs = [mp.mpf(-40) + k * mp.mpf(0.5) for k in range(int((80 + amu) / 0.5) + 1)]
        vals = [f(x) for x in xs]
        m = max(vals)
        pts = sorted({xs[0], xs[-1]} | {x for x, v in zip(xs, vals) if v > m - 60}
                     | {x + d for x, v in zip(xs, vals) if v > m - 60 for d in (-1, 1)})
        ref = m + mp.log(mp.quad(lambda x: mp.exp(f(x) - m), pts))
    assert abs(got - float(ref)) <= 1e-10 * max(1.0, abs(float(ref))), (got, float(ref))


def test_engine_contour_not_tried_past_the_node_budget_against_pld(monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from mpref import psg_pld_eps_pair

    sigma, q, T, delta = 0.8018217660938032, 2.1228868516341044e-05, 10, 2.0941211906026004e-11
    _no_corner_first(monkeypatch)
    r = _cert(sigma, q, T, delta)
    # the quantised contour's float node estimate (~1.7e5) is beyond REFUSE_EST x Q_MAX_NODES: no engine contour
    assert "engine-guided contour is not tried" in r.certified_by, r.certified_by
    assert 0.0 < r.lower <= r.upper
    opt, pess = psg_pld_eps_pair(sigma, q, T, delta, 1e-4)  # [0.01959, 0.02059]
    assert max(r.lower, opt) <= min(r.upper, pess), (r.lower, r.upper, opt, pess)
