"""Session 17 (H-CC): below eps 1e-3 the quantised contour's tolerances are absolute (certified_quant.EPS_ABS:
QUANT_RTOL and the truncation level read relative to max(eps, 1e-3), i.e. a 1e-8 aim where issue 9 asks 1e-7).

The bracket so accepted is checked against an independent reference: delta at both ends by the mpmath contour
integral of tests/_mpfast.py (fixed Gauss-Legendre x-rules, written from the definition of G; no ewacct code),
which must put the lower end at delta(lower) > delta and the upper end at delta(upper) < delta.
"""

from __future__ import annotations

from ewacct import PoissonSubsampledGaussian
from ewacct.methods import certified as C
from ewacct.methods.exact import ExactMethod

from _mpfast import sg_delta_contour

# PSG(20, 0.05) x 50 at delta 0.007: eps ~ 1.133e-4, answered by the quantised contour (REMOVE, c ~ 76, 64 nodes)
Q_, S_, T_, DELTA = 0.05, 20.0, 50, 0.007


def _bracket(**patch):
    from ewacct.methods import certified_quant as Q

    saved = {k: getattr(C if hasattr(C, k) else Q, k) for k in patch}
    for k, v in patch.items():
        setattr(C if hasattr(C, k) else Q, k, v)
    C.clear_caches()
    try:
        groups = [(PoissonSubsampledGaussian(S_, Q_), T_)]
        return C.ContourCertifier(groups, ExactMethod(groups)).epsilon(DELTA, time_budget=30.0)
    finally:
        for k, v in saved.items():
            setattr(C if hasattr(C, k) else Q, k, v)
        C.clear_caches()


def test_absolute_acceptance_below_eps_1e3_contains_mpmath():
    # node enclosures 1000x looser than the default: the bracket (~5e-9 wide, ~5e-5 relative) is then wider than
    # QUANT_RTOL relative but within its absolute reading (1e-5 x 1e-3), and is accepted without tightening
    b = _bracket(QUANT_NODE_RTOL=1e-5)
    assert b.info.get("quantised_contour") and not b.info.get("tightened_nodes")
    assert 0.0 < b.lower < b.upper < 1e-3
    assert b.upper - b.lower <= 1e-8  # the absolute aim, 10x below issue 9's 1e-7
    # the reference at both ends: the integral does not depend on c (the certificate's own abscissa here); U = 300
    # puts it ~3e-9 of delta above the U = 600 / 1200 value (those agree to 1e-15; panels of 10 and 30 agree too),
    # hence the 1e-8 margins; the ends sit ~2e-7 of delta from the target
    lo_ref = sg_delta_contour(Q_, S_, T_, b.lower, c=b.info["c"], U=300.0, panel=30.0)
    hi_ref = sg_delta_contour(Q_, S_, T_, b.upper, c=b.info["c"], U=300.0, panel=30.0)
    assert lo_ref > DELTA * (1 + 1e-8), (lo_ref, DELTA)
    assert hi_ref < DELTA * (1 - 1e-8), (hi_ref, DELTA)
    # the default node tolerance, with the absolute reading on (default) and off (as before session 17): ~1e-11
    # wide, and overlapping the bracket above (proofs about the same number)
    for eps_abs in (1e-3, 0.0):
        d = _bracket(EPS_ABS=eps_abs)
        assert 0.0 < d.lower <= d.upper and d.upper - d.lower <= 1e-8
        assert max(d.lower, b.lower) <= min(d.upper, b.upper), (d.lower, d.upper, b.lower, b.upper)
