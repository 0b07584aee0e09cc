"""bounds/mixed_fft.py F9 on a mix that fell to the proven Chernoff bracket before (docs/certified_mixed.md: a
subsampled step of 2e6 cells at the grid F2's N h width needed): Laplace(7.01) x 3 + PSG(3.565, 0.09982) x 200 at delta
1.37e-5 (benchmarks/mixes_m2_sample.py seed 13 #0; [0.707, 1.984] before).  Reference: dp_accounting's optimistic /
pessimistic PLD pair at value_discretization_interval 1e-4 (independent of ewacct): the certified bracket must overlap
it (the true eps is at most the pessimistic end; the optimistic end is no proven lower bound at this interval), and be
within issue 9's 1e-4."""

from __future__ import annotations

import logging
import math

import pytest

from ewacct import Accountant, Laplace, PoissonSubsampledGaussian
from ewacct.bounds import mixed_fft

pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")


def _pld_pair(delta, vdi=1e-4):
    logging.disable(logging.WARNING)
    try:
        out = []
        for pess in (False, True):
            a = pl.from_laplace_mechanism(7.01, pessimistic_estimate=pess, value_discretization_interval=vdi)
            b = pl.from_gaussian_mechanism(3.565, sampling_prob=0.09982, pessimistic_estimate=pess,
                                           value_discretization_interval=vdi)
            out.append(float(a.self_compose(3).compose(b.self_compose(200)).get_epsilon_for_delta(delta)))
        return out
    finally:
        logging.disable(logging.NOTSET)


def test_laplace_few_psg_many_was_proven_fallback():
    delta = 1.37e-5
    groups = list(Accountant().compose(Laplace(7.01), 3).compose(PoissonSubsampledGaussian(3.565, 0.09982), 200).groups())
    opt, pess = _pld_pair(delta)
    # (estimate: sets the grid and tilt only; a generous budget: the test checks the bound, not its speed)
    got = mixed_fft.epsilon_bracket(groups, delta, 0.5 * (opt + pess), time_budget=60.0)
    assert got is not None
    lo, hi, info = got
    assert max(lo, opt) <= min(hi, pess), (lo, hi, opt, pess)
    assert lo <= pess  # the true eps is at most the pessimistic PLD's
    assert (hi - lo) / hi <= 1e-4, (lo, hi, info)
    assert math.isfinite(hi)
