"""Vectorised batches: 10^4 delta(eps) / eps(delta) queries on one ewacct composition."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import require


@pytest.fixture(scope="module")
def accountant():
    require("ewacct")
    import ewacct

    acc = ewacct.Accountant().compose(ewacct.PoissonSubsampledGaussian(1.0, 0.01), 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.get_delta(1.0)
    return acc


def test_bench_delta_batch_1e4(benchmark, accountant) -> None:
    eps = np.linspace(0.5, 12.0, 10_000)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return accountant.get_delta(eps)

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    d = np.asarray(res.value)
    assert d.shape == (10_000,) and np.all(np.isfinite(d)) and np.all(np.diff(d) <= 1e-15)


def test_bench_epsilon_batch_1e3(benchmark, accountant) -> None:
    deltas = np.logspace(-10, -3, 1_000)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return accountant.get_epsilon(deltas)

    res = benchmark.pedantic(run, rounds=1, iterations=1)
    e = np.asarray(res.value)
    assert e.shape == (1_000,) and np.all(np.isfinite(e)) and np.all(np.diff(e) <= 1e-12)
