"""Session 14 (H-C5): the conditioned bracket's lower bound from the upper body's FFT powers (docs/certified_fewpart.md
section C10) and the one-pass weighted sums of E_1 / E_j.  References, none sharing code with the module: REMOVE's
two-step delta(eps) in mpmath (30 digits: the one-step closed form integrated over the first step's loss), and
dp_accounting's PLD pessimistic / optimistic pair with the exact engine's estimate for a point with T = 198."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from ewacct import Accountant
from ewacct.bounds import fewpart_cert as fc
from ewacct.bounds import fewpart_cond as fcd
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG
from mpref import psg_pld_eps_pair, psg_two_step_delta


def test_shifted_lower_bound_contains_mpmath(monkeypatch):
    # C10 forced on a small body (its default needs a 2^18-point FFT): the lower bound from the upper body's powers, with
    # a bottom part of B (the cells whose lower / upper masses differ by more than r), stays below the 30-digit value
    monkeypatch.setattr(fcd, "SHIFTED_MIN_N", 0)
    monkeypatch.setattr(fcd, "SHIFTED_LOSS", 1e9)
    sigma, q, T, delta = 2.0, 1e-4, 2, 1e-6
    h = fc._grid_h(T, 0.8e-7)
    fc._deadline[0] = math.inf
    laws = fcd._Laws(q, sigma, T, h, fcd.COARSE * 4, delta, fcd.COARSE, 2.5e-4)
    assert laws.shifted is not None and "dn" not in laws.body
    assert laws.shifted_info["i_b"] > 0  # the penalty term is exercised
    for e in (2.5e-4, 4e-4):
        ref = psg_two_step_delta(sigma, q, e)
        lo, hi = laws.delta(e, False), laws.delta(e, True)
        assert lo <= ref <= hi, (e, lo, float(ref), hi)
        assert hi <= 1.5 * float(ref) and lo >= float(ref) / 1.5  # delta is steep in eps here (as test_fewpart_cond)
    # the lower law itself composed, for comparison: C10 gives up little
    laws._compose_dn()
    for e in (2.5e-4,):
        lo_dn = laws._raw(e, "dn", False)
        assert laws.delta(e, False) >= lo_dn * (1 - 1e-4)


def test_one_pass_weighted_sum_matches_the_vector_form():
    # _ev_table (Numba, one pass) against on_coarse + _ev (numpy temporaries): the same indices and weights
    rng = np.random.default_rng(5)
    g = fcd._G(1e-4, 0.5, 1e-3)
    for R, upper in ((1, True), (4, False), (8, True)):
        a = rng.random(5000) * 1e-3
        v = fc._Vec(a, -37, 1e-12, 0.0, 3)
        h = 2.0 ** -20
        for eps in (0.0, 3e-3, 0.0173):
            n = 4000
            ref = fcd._ev(fc._Vec(a[:n], v.off, v.err, 0.0, 3), g.on_coarse(eps, v.off, n, h, R, upper), upper)
            got = g.ev_coarse(v, n, eps, h, R, upper)
            assert got == pytest.approx(ref, rel=1e-12, abs=1e-300)


def test_shifted_bracket_meets_pld_and_contains_the_estimate():
    # (0.55, 1.71e-5, 198, 1e-10): C10 applies by default with both parts of B (bottom none here; the top cells, where
    # the enclosures' relative gaps reach 1e-7, are charged with the upper bound at eps - span)
    pytest.importorskip("dp_accounting")
    sigma, q, T, delta = 0.55, 1.71e-5, 198, 1e-10
    acc = Accountant().compose(PSG(sigma, q), T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = float(acc.get_epsilon(delta).value)
    r = fcd.epsilon_bracket(list(acc.groups()), delta, est, time_budget=30.0)
    assert r is not None
    lo, hi, info = r
    assert hi - lo <= 1e-4 * hi
    assert lo <= est <= hi, (lo, est, hi)
    opt, pes = psg_pld_eps_pair(sigma, q, T, delta, 2e-4)  # ~1 s
    assert opt <= pes
    assert lo <= pes * (1 + 1e-9) and hi >= opt * (1 - 1e-9), (lo, hi, opt, pes)
