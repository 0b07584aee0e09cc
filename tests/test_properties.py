"""Laws the accountant must obey (hypothesis).  Kept in the fast tilted path (fallback off)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian

qs = st.sampled_from([0.02, 0.05, 0.1, 0.2])
sig = st.floats(0.7, 3.0)
Ts = st.integers(200, 3000)
deltas = st.sampled_from([1e-4, 1e-5, 1e-6, 1e-7])


def eps(q, s, T, d, method="tilted"):
    acc = Accountant(method=method, fallback=False).compose(PoissonSubsampledGaussian(s, q), T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(acc.get_epsilon(d))


@settings(max_examples=15, deadline=None)
@given(qs, sig, Ts, deltas)
def test_monotone_in_steps_noise_rate_delta(q, s, T, d):
    e = eps(q, s, T, d)
    assert e > 0
    assert eps(q, s, int(T * 1.5), d) > e
    assert eps(q, s * 1.2, T, d) < e
    assert eps(min(1.0, q * 1.5), s, T, d) > e
    assert eps(q, s, T, d * 10) < e


@settings(max_examples=15, deadline=None)
@given(qs, sig, Ts, deltas)
def test_delta_of_eps_of_delta(q, s, T, d):
    acc = Accountant(fallback=False).compose(PoissonSubsampledGaussian(s, q), T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = float(acc.get_epsilon(d))
        back = float(acc.get_delta(e))
    assert abs(back - d) <= 1e-6 * d


@settings(max_examples=8, deadline=None)
@given(qs, sig, st.integers(100, 1000))
def test_tradeoff_convex_decreasing_below_diagonal(q, s, T):
    acc = Accountant(fallback=False).compose(PoissonSubsampledGaussian(s, q), T)
    alpha = np.linspace(0, 1, 41)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        beta = acc.tradeoff(alpha, n_grid=150).beta
    assert np.all(beta <= 1 - alpha + 1e-12)
    assert np.all(np.diff(beta) <= 1e-12)
    second = beta[:-2] - 2 * beta[1:-1] + beta[2:]
    assert np.all(second >= -1e-9)
    assert np.all((beta >= 0) & (beta <= 1))


def test_tradeoff_at_huge_epsilon_is_finite():
    """Gaussian(0.05) over 1000 steps (mu ~ 632, eps(1e-12) far beyond 709): beta(0) was inf * 0 = NaN
    with valid=True.  Reference: the Gaussian trade-off curve Phi(Phi^-1(1 - alpha) - mu) (Dong, Roth &
    Su), which is 1 at alpha = 0 and below 1e-300 at alpha >= 1e-300 here."""
    from scipy.stats import norm

    acc = Accountant().compose(Gaussian(0.05), 1000)
    alpha = np.array([0.0, 1e-300, 1e-10, 0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        beta = acc.tradeoff(alpha).beta
    assert np.all(np.isfinite(beta))
    exact = norm.cdf(norm.isf(alpha) - 20.0 * np.sqrt(1000.0))
    assert beta[0] == pytest.approx(1.0) and exact[0] == pytest.approx(1.0)
    assert np.all(np.abs(beta[1:] - exact[1:]) <= 1e-12)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.01, 0.05, 0.2]), st.sampled_from([0.8, 1.0, 2.0]), st.integers(1, 300)),
                min_size=2, max_size=4), st.randoms())
def test_composition_order_and_grouping_do_not_matter(groups, rnd):
    a = Accountant(fallback=False)
    for q, s, n in groups:
        a.compose(PoissonSubsampledGaussian(s, q), n)
    b = Accountant(fallback=False)
    shuffled = list(groups)
    rnd.shuffle(shuffled)
    for q, s, n in shuffled:  # also split each group into single steps + rest (associativity)
        b.compose(PoissonSubsampledGaussian(s, q), 1).compose(PoissonSubsampledGaussian(s, q), n - 1)
    a.compose(Gaussian(5.0), 1)
    b.compose(Gaussian(5.0), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(a.get_epsilon(1e-5)) == float(b.get_epsilon(1e-5))


@pytest.mark.parametrize("method", ["exact", "tilted"])
def test_vectorised_equals_scalar(method):
    acc = Accountant(method=method, fallback=False).compose(PoissonSubsampledGaussian(1.0, 0.05), 500)
    ds = np.array([1e-3, 1e-5, 1e-7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = acc.get_epsilon(ds)
        assert v.estimate.shape == (3,)
        for d, e in zip(ds, v.estimate):
            # the expansions are bit-identical; the exact engine shares its contours within an
            # array query, so it agrees to well inside its tolerance (1e-9 on delta)
            assert e == pytest.approx(float(acc.get_epsilon(float(d))), rel=0 if method == "tilted" else 1e-10)


def test_batched_profile_matches_per_query_solves():
    acc = Accountant().compose(PoissonSubsampledGaussian(0.7865, 0.029696), 660)
    ds = np.logspace(-3, -10, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = acc.get_epsilon(ds)
        for i in (0, 57, 133, 199):
            single = acc.get_epsilon(float(ds[i]))
            assert batch.estimate[i] == pytest.approx(single.estimate, rel=1e-9)
            assert bool(batch.valid[i]) == single.valid
    assert np.all(np.diff(batch.estimate) > 0)  # eps grows as delta falls


def test_batched_delta_matches_per_query():
    acc = Accountant().compose(PoissonSubsampledGaussian(0.7865, 0.029696), 660)
    es = np.linspace(2.0, 12.0, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = acc.get_delta(es)
        for i in (0, 41, 99):
            single = acc.get_delta(float(es[i]))
            assert batch.estimate[i] == pytest.approx(single.estimate, rel=1e-9)
    assert np.all(np.diff(batch.estimate) < 0)
