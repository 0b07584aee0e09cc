"""delta(eps) of the few-participation method where cancellation limits the contour (q T << 1, small eps).

Reference: the direct recursion over the closed-form one-step delta (ewacct.methods.direct, composite
Gauss-Legendre in x; shares nothing with the contour), at T = 2 and 3 steps.
"""

import math

import pytest

from ewacct.methods.fewpart import FewPartError, fewpart_delta


@pytest.mark.parametrize("T,eps", [(2, 0.036), (3, 0.036), (3, 0.038)])
def test_delta_at_the_cancellation_floor_vs_direct_recursion(T, eps):
    # the floating-point budget of the node sum is ~5e-7 of delta here (the near-atom of the steps
    # not sampled cancels against the rest): the fallback refines the quadrature to a quarter of that
    # budget and halves the Filon panels carrying most of it, so the estimate stays below
    # DELTA_ACCEPT (before: estimates 1.4e-6, 1.2e-6, 1.7e-6, refused)
    from ewacct.mechanisms import PoissonSubsampledGaussian
    from ewacct.methods.direct import DirectShort

    q, sigma = 1e-4, 1.0
    ref, ref_rel = DirectShort([(PoissonSubsampledGaussian(sigma, q), T)]).delta_dir(eps, "remove")
    assert ref_rel <= 1e-9
    got, rel, d = fewpart_delta([(q, sigma, T)], eps)
    assert d == "remove" and rel <= 1e-6
    assert abs(got - ref) <= max(rel, 1e-7) * ref, (got, ref, rel)


def test_unreachable_delta_refused_loudly_and_flagged_by_the_dispatch():
    # delta(1.0) ~ 1e-25 at q = 1e-4, sigma = 1, T = 10: the floating-point budget is ~1e7 times delta;
    # the method must refuse, and the public delta answer a bound that is not marked exact
    import ewacct

    with pytest.raises(FewPartError):
        fewpart_delta([(1e-4, 1.0, 10)], 1.0)
    with pytest.warns(Warning):
        r = ewacct.delta(noise_multiplier=1.0, sampling_probability=1e-4, steps=10, target_epsilon=1.0)
    assert r.method != "exact-fewpart" and not r.valid
    assert r.value >= 0.0 and math.isfinite(r.value)


def test_delta_below_the_floating_point_floor_refused_not_overflowing():
    # q = 1e-5, sigma = 2, T = 3, eps = 0.05: delta ~1.9e-70, the estimate ~e^{700+} times it; the
    # relative estimate overflowed math.exp (OverflowError, not the FewPartError the dispatch catches)
    with pytest.raises(FewPartError):
        fewpart_delta([(1e-5, 2.0, 3)], 0.05)
