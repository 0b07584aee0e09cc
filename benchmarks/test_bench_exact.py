"""The exact engine (ewacct's default) with pytest-benchmark: one eps(delta) per fresh accountant.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_exact.py --benchmark-only``; the table with
ratios to dp_accounting PLD comes from ``python benchmarks/exact_engine.py``.
"""

from __future__ import annotations

import itertools
import math

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian

_bump = itertools.count(1)


def _fresh_query(groups, delta=1e-5):
    k = next(_bump)  # a new sigma every round: nothing cached between rounds
    acc = Accountant()
    for s, q, n in groups:
        acc.compose(PoissonSubsampledGaussian(s * (1 + 1e-12 * k), q), n)
    return float(acc.get_epsilon(delta))


@pytest.mark.parametrize("steps", [10, 30, 100, 1_000, 100_000, 10_000_000, 1_000_000_000])
def test_bench_exact_single_mechanism(benchmark, steps):
    _fresh_query([(1.0, 0.01, steps)])
    eps = benchmark.pedantic(_fresh_query, args=([(1.0, 0.01, steps)],), rounds=10, iterations=1)
    assert math.isfinite(eps) and eps > 0


@pytest.mark.parametrize("q,sigma,steps", [(1e-6, 1.0, 1_000_000_000), (2000 / 67349, 0.7865, 660)])
def test_bench_exact_other_regimes(benchmark, q, sigma, steps):
    _fresh_query([(sigma, q, steps)])
    eps = benchmark.pedantic(_fresh_query, args=([(sigma, q, steps)],), rounds=10, iterations=1)
    assert math.isfinite(eps) and eps > 0


def test_bench_exact_200_segments(benchmark):
    segs = [(0.6 + 0.004 * i, 0.01 + 0.0001 * (i % 7), 50) for i in range(200)]
    eps = benchmark.pedantic(_fresh_query, args=(segs,), rounds=3, iterations=1)
    assert math.isfinite(eps) and eps > 0


def test_bench_pld_same_point(benchmark):
    pl = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")

    def run():
        p = pl.from_gaussian_mechanism(1.0, sampling_prob=0.01, value_discretization_interval=1e-4,
                                       pessimistic_estimate=True, use_connect_dots=True).self_compose(1000)
        return p.get_epsilon_for_delta(1e-5)

    eps = benchmark.pedantic(run, rounds=2, iterations=1)
    assert math.isfinite(eps)
