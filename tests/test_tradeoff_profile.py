"""The trade-off curve evaluates delta(eps) only where it can matter (ewacct.methods.tradeoff_profile):
the same supremum as the full eps grid, never above it, with far fewer delta queries.

References: the full grid's supremum (the definition the accountant used before: every grid point
evaluated), Dong, Roth & Su's Gaussian trade-off curve Phi(Phi^-1(1 - alpha) - mu), and the Gaussian
mechanism's closed-form delta(eps) written here from scipy's normal law (Balle & Wang 2018)."""

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods.tradeoff_profile import grid_sup, minorants


def _gauss_delta(eps, mu):
    eps = np.asarray(eps, float)
    return norm.cdf(-eps / mu + mu / 2) - np.exp(eps) * norm.cdf(-eps / mu - mu / 2)


def _counted(fn):
    seen = []

    def f(e):
        seen.extend(np.asarray(e).tolist())
        return fn(e), np.ones(np.size(e), bool)
    return f, seen


@pytest.mark.parametrize("mu", [0.3, 1.0, 3.0, 8.0])
@pytest.mark.parametrize("alpha", [[0.01, 0.1, 0.5], np.linspace(0, 1, 41), [0.0, 1e-8, 0.999, 1.0]])
def test_grid_sup_equals_full_grid(mu, alpha):
    alpha = np.asarray(alpha, float)
    eps = np.linspace(0, 1.05 * (mu * mu / 2 + 7.1 * mu), 400)  # ~ eps(1e-12) * 1.05
    full = np.clip(minorants(eps, _gauss_delta(eps, mu), alpha).max(axis=1), 0, None)
    f, seen = _counted(lambda e: _gauss_delta(e, mu))
    beta, info = grid_sup(eps, alpha, f)
    assert len(seen) == len(set(seen)) == info["n_evaluated"]  # each grid point at most once
    assert np.all(beta <= full + 1e-15)  # a subset of the full grid's minorants
    assert np.max(np.abs(beta - full)) <= 1e-8
    if alpha.size <= 4:
        assert info["n_evaluated"] <= 30
    # and the grid's curve is Dong-Roth-Su's Gaussian curve up to the grid's spacing
    exact = norm.cdf(norm.isf(alpha) - mu)
    assert np.all(beta <= exact + 1e-12)
    assert np.max(exact - beta) <= 5e-3


def test_grid_sup_with_upper_bounds_stays_below():
    """Values that are only upper bounds of delta (not convex: here a step function above the Gaussian
    delta) may keep the search from the full grid's maximum, never push beta above the curve they
    imply, which is below the true one."""
    mu = 2.0
    eps = np.linspace(0, 20, 400)
    up = lambda e: np.minimum(1.0, _gauss_delta(np.floor(np.asarray(e)), mu) * 1.5)  # noqa: E731
    alpha = np.linspace(0, 1, 21)
    f, _ = _counted(up)
    beta, _ = grid_sup(eps, alpha, f)
    assert np.all(beta <= np.clip(minorants(eps, up(eps), alpha).max(axis=1), 0, None) + 1e-15)
    assert np.all(beta <= norm.cdf(norm.isf(alpha) - mu) + 1e-12)


def test_accountant_tradeoff_equals_full_grid_with_few_queries():
    """The accountant's curve against the slow path (every grid point's delta from get_delta), on a
    composition whose 400 queries are cheap."""
    acc = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 100)
    alpha = np.array([0.0, 0.01, 0.1, 0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = acc.tradeoff(alpha)
        eps = np.linspace(0, res.diagnostics["eps_grid_max"], 400)
        d = np.asarray(acc.get_delta(eps).estimate)
    full = np.clip(minorants(eps, d, alpha).max(axis=1), 0, None)
    assert np.max(np.abs(res.beta - full)) <= 1e-8
    assert res.valid
    assert res.diagnostics["n_evaluated"] <= 30
    assert res.beta[0] == pytest.approx(1 - d[-1], abs=1e-9) and res.beta[-1] == 0.0
