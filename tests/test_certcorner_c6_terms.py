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


def test_many_tail_terms_at_a_dpsgd_like_point():
    # breaker H15 F1: PSG(0.30546527, 1.4234696e-3) x 229 at delta 3.21e-6 (q T = 0.33, eps ~15.35): every J <= 4 would
    # need a per-step body beyond 2^20 cells; session 14 answered the proven [7.387, 18.703].  The centre 15.35 only
    # sets the grid (any centre gives a valid bracket); a generous budget (~2-3 s on a quiet machine)
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
    # dp_accounting at value_discretization_interval 1e-4: [15.3332, 15.3561] (2e-5: [15.34562, 15.35020], 40 s)
    opt, pes = psg_pld_eps_pair(sigma, q, T, delta, 1e-4)
    assert lo <= pes and hi >= opt, (lo, hi, opt, pes)
