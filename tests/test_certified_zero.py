"""eps(delta) = 0 certified by both directions' rigorous Chernoff bounds at eps = 0
(ContourCertifier._zero_by_chernoff, docs/certified.md section 5), against dp_accounting's PLD pair
(an independent implementation): where the certificate says [0, 0], the pessimistic PLD delta(0) is at
most the target too; at a target below delta(0) the certified bracket is positive, its lower end below
the pessimistic PLD eps."""

from __future__ import annotations

import warnings

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian

pytest.importorskip("dp_accounting")


def _cert(sigma, q, T, delta):
    from ewacct.bounds.certify import clear_memo
    from ewacct.methods.certified import clear_caches

    clear_caches()
    clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta, certify=True)


@pytest.mark.parametrize("sigma,q,T", [(10.0, 0.01, 3000), (20.0, 1e-3, 100000)])
def test_zero_by_chernoff_against_pld(sigma, q, T):
    from ewacct.baselines.pld import PldBracket

    pb = PldBracket([(PoissonSubsampledGaussian(sigma, q), T)])
    d_lo, d_hi = pb.delta_bracket(0.0, 1e-4)  # (optimistic, pessimistic) delta(0)
    assert 0.0 < d_lo <= d_hi
    # a target above the pessimistic delta(0): eps = 0, and this path answers it
    r = _cert(sigma, q, T, 3.0 * d_hi)
    assert (r.lower, r.upper) == (0.0, 0.0)
    info = r.diagnostics["certificate"]["analytic"]["contour"]
    assert "Chernoff" in info.get("note", ""), info
    # a target well below delta(0) (PLD's optimistic delta(0) is ~1e-15 here, no use): the certified
    # bracket is positive and its lower end below the pessimistic PLD eps (an upper bound on the truth)
    r2 = _cert(sigma, q, T, 0.1 * d_hi)
    _, e_hi = pb.epsilon_bracket(0.1 * d_hi, 1e-4)
    assert 0.0 < r2.lower <= r2.upper
    assert r2.lower <= e_hi
