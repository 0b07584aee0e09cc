"""Session 17 (H-DF): PSG(0.5, 1e-9) x 1e9 at delta 1e-15 (q T = 1) answered a flagged tail bound 0.4033 although
REMOVE's conditioned expansion (methods/fewpart_condexact.py) settles eps = 0.0382767 in ~50 ms: ADD's Chernoff
search (s <= 1e3) could not put ADD below the target (e^-22.4 at eps 0.0383, target e^-34.5); the proven ADD bound of
methods/tail_bound.py (lam up to e^46) gives e^-8826 there.

Reference: the certified bracket of ewacct.bounds.certify (the one-large-step conditioned bracket in Arb: a different
method, ball arithmetic) must contain the default answer; its width here is ~1e-8 absolute."""

import math
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods import tail_bound


def test_tinyq_qt1_default_is_exact_inside_certified_bracket():
    acc = Accountant()
    acc.compose(PoissonSubsampledGaussian(0.5, 1e-9), 10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(1e-15)
        c = acc.get_epsilon(1e-15, certify=True).diagnostics["certificate"]
    assert r.valid and r.method.startswith("exact"), (r.method, r.diagnostics.get("note"))
    assert c["lower"] <= r.value <= c["upper"], (r.value, c["lower"], c["upper"])
    assert c["upper"] - c["lower"] <= 1e-6 * r.value


def test_add_bound_is_a_bound_on_add_alone():
    # the ADD loss is at most A = T log(1/(1-q)): delta_ADD(eps) = 0 beyond A (-inf), and a bound <= 0 below it;
    # at q T = 1 the ADD loss concentrates at A - E G ~ 0 with sd ~2.3e-4: far below 0.038 nothing is left
    g = [(PoissonSubsampledGaussian(0.5, 1e-9), 10**9)]
    a = -10**9 * math.log1p(-1e-9)
    assert tail_bound.add_log_delta_bound(g, a * 1.0000001) == -math.inf
    assert tail_bound.add_log_delta_bound(g, 0.0) <= 1e-8
    assert tail_bound.add_log_delta_bound(g, 0.0383) < -1000.0
    # mpmath-free sanity: at eps 0 the bound is at least the truth's order, delta_ADD(0) = TV >= 0
    assert tail_bound.add_log_delta_bound(g, 0.001) <= 1e-8
