"""Session 17 (H-CC): in the narrowing sources (bounds/certify._with_fewpart) the conditioned body / tail bracket is
tried before the rounded loss-distribution bracket where its plan has at most COND_QUICK_NARROW (2^18) cells, not
only 2^16: PSG(0.4726, 0.00598) x 8 at delta 4.22e-4 (plan of 134,232 cells) is then settled by it, narrower than the
rounded bracket and ~5-10x cheaper.  References: dp_accounting's optimistic / pessimistic PLD eps at
value_discretization_interval 1e-4 (the pessimistic end bounds eps above by its construction), and the rounded
bracket of bounds/fewpart_cert.py (an independent construction: the loss rounded on a grid, FFT compositions).
"""

from __future__ import annotations

import pytest

pytest.importorskip("dp_accounting")

from mpref import psg_pld_eps_pair  # noqa: E402

from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402

SIGMA, Q, T, DELTA = 0.4726, 0.00598, 8, 4.22e-4


def test_conditioned_first_in_the_narrowing_sources_against_pld_and_rounded():
    from ewacct.bounds import certify, fewpart_cert
    from ewacct.methods.certified import clear_caches

    clear_caches()
    certify.clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(SIGMA, Q), T)
    r = acc.get_epsilon(DELTA, certify=True)
    lo, hi = float(r.lower), float(r.upper)
    assert 0.0 < lo <= hi and hi - lo <= 1e-4 * hi, (lo, hi, r.certified_by)
    opt, pes = psg_pld_eps_pair(SIGMA, Q, T, DELTA, 1e-4)
    assert lo <= pes and opt <= hi, (lo, hi, opt, pes)  # overlap; the pessimistic end is an upper bound
    # the rounded bracket (what answered here before): two proofs about the same number overlap
    rb = fewpart_cert.epsilon_bracket(list(acc.groups()), DELTA, 0.5 * (lo + hi), time_budget=30.0)
    assert rb is not None and max(rb[0], lo) <= min(rb[1], hi), (rb[:2], lo, hi)
