"""Session 15 (H-CC): the conditioned bracket with more tail terms (docs/certified_fewpart.md C11: J up to JMAX where
J <= 4 does not fit, coarse grids re-chosen from the terms' computed shares) and the body's FFT error carried through
the tail power's correlation with the weights (C12).  Reference, sharing no code with the module: dp_accounting's PLD
optimistic / pessimistic pair (both bracket the true eps, so a proven bracket must meet theirs)."""

from __future__ import annotations

import warnings

from ewacct import Accountant
from ewacct.bounds import fewpart_cond as fcd
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG
from mpref import psg_pld_eps_pair


def test_many_tail_terms_at_a_dpsgd_like_point(monkeypatch):
    # breaker H15 F1: PSG(0.30546527, 1.4234696e-3) x 229 at delta 3.21e-6 (q T = 0.33, eps ~15.35): every J <= 4 would
    # need a per-step body beyond 2^20 cells; session 14 answered the proven [7.387, 18.703].  The centre 15.35 only
    # sets the grid (any centre gives a valid bracket); a generous budget (~2-3 s on a quiet machine).  C2's body laws
    # (C14, session 16, is skipped here by default too: its plan needs J > 4)
    monkeypatch.setattr(fcd, "ICX", False)
    sigma, q, T, delta = 0.30546527, 1.4234696e-3, 229, 3.21e-6
    pl = fcd.plan(q, sigma, T, delta, 15.35)
    assert pl is not None and pl[4] > fcd.JMAX_FIRST
    groups = list(Accountant().compose(PSG(sigma, q), T).groups())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        br = fcd.epsilon_bracket(groups, delta, 15.35, time_budget=120.0)
    assert br is not None
    lo, hi, info = br
    assert info["tail_terms"] == pl[4]
    assert 0.0 < lo <= hi and hi - lo <= 1e-4 * hi, (lo, hi)
    # dp_accounting at value_discretization_interval 1e-3: [15.2134, 15.4424], 1.5 s (1e-4: [15.3332, 15.3561], 7 s;
    # 2e-5: [15.34562, 15.35020], 40 s: all three contain [15.34776, 15.34901])
    opt, pes = psg_pld_eps_pair(sigma, q, T, delta, 1e-3)
    assert lo <= pes and hi >= opt, (lo, hi, opt, pes)


def test_delta_bracket_two_steps_contains_mpmath():
    # C13: the conditioned enclosure read at eps itself (REMOVE's bounds, ADD's Chernoff end or rounded upper law), against
    # REMOVE's two-step delta in mpmath at 40 digits (at (0.5, 1e-3, 2.0) mpref's 30-digit quadrature is 4e-5 off:
    # 2.48953199e-7 against 2.48942318e-7; the certified two-step cells give [2.4894292420e-7, 2.4894292423e-7])
    from mpref import psg_two_step_delta

    for sigma, q, eps in ((0.5, 1e-3, 2.0), (2.0, 1e-4, 2.5e-4)):
        ref = float(psg_two_step_delta(sigma, q, eps, dps=40))
        groups = list(Accountant().compose(PSG(sigma, q), 2).groups())
        br = fcd.delta_bracket(groups, eps, 1.3 * ref, time_budget=60.0)
        assert br is not None, (sigma, q, eps)
        lo, hi, _ = br
        assert lo <= ref <= hi, (sigma, q, eps, lo, ref, hi)
        assert hi - lo <= 1e-3 * hi, (sigma, q, eps, lo, hi)


def test_fallback_plan_where_the_first_body_declines(monkeypatch):
    # C11's least-cost plan where the first plan's folded body window does not fit (sigma 0.5128, q 9.744e-4, T 59,
    # delta 2.7e-10: J = 2 at g_c = 2 needs 2^20+ cells and declined; J = 4 at g_c = 0.25 answers).  dp_accounting at
    # vdi 1e-3 must meet it (at 1e-4: [5.709876, 5.715776], 5 s)
    sigma, q, T, delta = 0.5128, 9.744e-4, 59, 2.7e-10
    groups = list(Accountant().compose(PSG(sigma, q), T).groups())
    monkeypatch.setattr(fcd, "ICX", False)  # C2's body laws (C14's coarser grid answers with the first plan)
    monkeypatch.setattr(fcd, "FALLBACK", False)
    assert fcd.epsilon_bracket(groups, delta, 5.7127, time_budget=60.0) is None
    monkeypatch.setattr(fcd, "FALLBACK", True)
    br = fcd.epsilon_bracket(groups, delta, 5.7127, time_budget=60.0)
    assert br is not None
    lo, hi, info = br
    assert info["tail_terms"] != fcd.plan(q, sigma, T, delta, 5.7127)[4]
    assert 0.0 < lo <= hi and hi - lo <= 1e-4 * hi, (lo, hi)
    opt, pes = psg_pld_eps_pair(sigma, q, T, delta, 1e-3)
    assert lo <= pes and hi >= opt, (lo, hi, opt, pes)
