"""A wide contour certificate is intersected with the proven bracket; calibration rejects bad tolerances;
the certified step ladder does not jump past the certified count."""
from __future__ import annotations

import math
import types
import warnings

import mpmath as mp
import pytest

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import certify
from ewacct.bounds.proven import proven_epsilon_bracket


def _one_step_eps(sigma: float, q: float, delta: float) -> float:
    """eps(delta) of one Poisson-subsampled Gaussian step, both directions, by mpmath (independent)."""
    mp.mp.dps = 30
    mu = 1 / mp.mpf(sigma)

    def d_remove(e):  # P = (1-q) N(0,1) + q N(mu,1), Q = N(0,1): the loss exceeds e beyond x_e
        xe = mu / 2 + mp.log(mp.expm1(e) / q + 1) / mu
        return (1 - q) * mp.ncdf(-xe) + q * mp.ncdf(mu - xe) - mp.exp(e) * mp.ncdf(-xe)

    def d_add(e):  # P = N(0,1), Q = mixture: the loss -log(1-q+q e^{mu x - mu^2/2}) exceeds e below x_e
        if e >= -mp.log(1 - q):
            return mp.mpf(0)
        xe = mu / 2 + mp.log((mp.exp(-e) - (1 - q)) / q) / mu
        return mp.ncdf(xe) - mp.exp(e) * ((1 - q) * mp.ncdf(xe) + q * mp.ncdf(xe - mu))

    lo, hi = mp.mpf(0), mp.mpf(30)  # delta(e) is decreasing: bisection
    for _ in range(120):
        mid = (lo + hi) / 2
        if max(d_remove(mid), d_add(mid)) > delta:
            lo = mid
        else:
            hi = mid
    return float(hi)


def test_wide_contour_bracket_is_intersected_with_proven():
    sigma, q, delta = 0.8, 0.05, 1e-5
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q), 1)
    truth = _one_step_eps(sigma, q, delta)
    plo, phi, _ = proven_epsilon_bracket(list(acc.groups()), delta)
    # a (made-up) wide but true contour bracket: the answer is the intersection, and still contains the truth
    wide = types.SimpleNamespace(lower=0.0, upper=10.0 * phi, info={"estimate": truth})
    c = certify._with_proven(acc, "epsilon", delta, wide, 0.0)
    assert c.lower == pytest.approx(plo) and c.upper == pytest.approx(phi)
    assert c.lower <= truth <= c.upper
    assert "intersected" in c.source and c.source.startswith(certify.CONTOUR_SOURCE)
    # a narrow one is left alone
    narrow = types.SimpleNamespace(lower=truth * (1 - 1e-9), upper=truth * (1 + 1e-9), info={})
    c2 = certify._with_proven(acc, "epsilon", delta, narrow, 0.0)
    assert (c2.lower, c2.upper, c2.source) == (narrow.lower, narrow.upper, certify.CONTOUR_SOURCE)
    # disjoint proofs are an internal error, not an answer
    bad = types.SimpleNamespace(lower=10.0 * phi, upper=20.0 * phi, info={})
    with pytest.raises(FloatingPointError):
        certify._with_proven(acc, "epsilon", delta, bad, 0.0)


@pytest.mark.parametrize("rtol", [0.0, -1.0, float("nan"), 2.0, 1e-15])
def test_calibrate_noise_rejects_bad_rtol(rtol):
    with pytest.raises(ValueError, match="rtol"):
        ewacct.calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01, steps=100, rtol=rtol)


def test_calibrate_steps_rejects_huge_max_steps():
    with pytest.raises(ValueError, match="max_steps"):
        ewacct.calibrate_steps(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01,
                               noise_multiplier=1.0, max_steps=10**13)


def test_certified_steps_descend_at_most_4x_per_rung(monkeypatch):
    """Every certificate fails above 1000 steps by a huge margin (a wide bracket); below it the certified upper
    end is the truth: the ladder must find a count within its refinement of 1000, not jump to a handful."""
    from ewacct import calibrate as C

    asked = []

    def fake_cert(acc, delta, time_budget=None):
        T = sum(n for _, n in acc.groups())
        asked.append(T)
        up = 100.0 if T > 1000 else 0.5
        return certify.Certificate(0.0, up, "fake", None, 0.0, {"contour": "fake"})

    monkeypatch.setattr(certify, "certified_epsilon", fake_cert)
    monkeypatch.setattr(C, "_eps", lambda *a, **k: types.SimpleNamespace(estimate=0.99, upper=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        T = C._certified_steps(100_000, 1.0, 0.01, 1e-5, 1.0, "exact")
    assert 1000 / 1.05 <= T <= 1000
    assert all(b >= a / 4.0 - 1 for a, b in zip(asked, asked[1:]) if b < a)
