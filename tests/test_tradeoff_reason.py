"""A trade-off curve flagged valid=False says why (breaker H-R12 F3, session 14: 201 alphas of
PSG(0.8, 0.1) x 10 ran out of the curve's CPU budget and came back valid=False with no reason)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import norm

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian
from ewacct.methods import budget


def test_flagged_curve_names_the_reason(monkeypatch):
    monkeypatch.setattr(budget, "TRADEOFF_BUDGET", 0.0)  # every delta(eps) after the deadline: the flagged bound
    acc = Accountant().compose(PoissonSubsampledGaussian(0.8, 0.1), 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.tradeoff(np.linspace(0.0, 1.0, 11))
    assert not r.valid
    why = r.diagnostics["invalid_reason"]
    assert "were not exact" in why and "TRADEOFF_BUDGET" in why
    # flagged delta values are upper bounds: beta stays below 1 - alpha and non-increasing
    assert np.all(r.beta <= 1.0 - r.alpha + 1e-12) and np.all(np.diff(r.beta) <= 1e-12)


def test_valid_curve_has_no_reason_and_matches_the_gaussian_closed_form():
    # mu-GDP: beta(alpha) = Phi(Phi^-1(1 - alpha) - mu), mu = sqrt(T) / sigma (Dong, Roth & Su)
    sigma, T = 2.0, 4
    r = Accountant().compose(Gaussian(sigma), T).tradeoff(np.array([0.01, 0.1, 0.5]), n_grid=4000)
    assert r.valid and "invalid_reason" not in r.diagnostics
    exact = norm.cdf(norm.ppf(1.0 - r.alpha) - np.sqrt(T) / sigma)
    assert np.all(r.beta <= exact + 1e-12) and np.all(exact - r.beta <= 1e-5)
