"""Per-query cost (compose + one epsilon query) of ewacct and its peers, pytest-benchmark.

Run: ``.venv/bin/python -m pytest benchmarks/ --benchmark-only``. The full table with
T up to 1e7 and ratios is produced by ``benchmarks/run_benchmarks.py`` (``make bench``).
"""

from __future__ import annotations

import math

import pytest
from _bench_lib import HEAVY, METHODS, make_query
from conftest import require


@pytest.mark.parametrize("steps", [10, 1_000, 100_000])
@pytest.mark.parametrize("method", METHODS)
def test_bench_epsilon_query(benchmark, method: str, steps: int) -> None:
    require(method)
    if method in HEAVY and steps > 1_000:
        pytest.skip("heavy at large T: measured under a time cap by run_benchmarks.py")
    fn = make_query(method, q=0.01, sigma=1.0, steps=steps, delta=1e-5)
    fn()  # warm-up: imports, JIT
    rounds = 3 if method in HEAVY else 10
    eps, answered = benchmark.pedantic(fn, rounds=rounds, iterations=1)
    benchmark.extra_info["answered_by"] = answered
    assert math.isfinite(eps) and eps > 0
