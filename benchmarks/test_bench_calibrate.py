"""Noise calibration for EW-Tune's SST-2 setting (target eps = 8, delta = 1e-5)."""

from __future__ import annotations

import warnings

import pytest
from conftest import require

Q, T = 2000 / 67349, 660


def test_bench_calibrate_ewacct_estimate(benchmark) -> None:
    require("ewacct")
    from ewacct.calibrate import calibrate_noise

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return calibrate_noise(target_epsilon=8.0, target_delta=1e-5, sampling_probability=Q, steps=T)

    run()
    r = benchmark.pedantic(run, rounds=3, iterations=1)
    assert 0.5 < r.noise_multiplier < 1.5


def test_bench_calibrate_rdp(benchmark) -> None:
    require("rdp")
    from ewacct.baselines import get_baseline
    from ewacct.baselines.calibration import calibrate_noise_multiplier

    b = get_baseline("rdp")
    r = benchmark.pedantic(lambda: calibrate_noise_multiplier(b, target_epsilon=8.0, target_delta=1e-5,
                                                              sampling_probability=Q, steps=T), rounds=2, iterations=1)
    assert r.noise_multiplier is not None and r.epsilon <= 8.0


def test_bench_calibrate_gdp(benchmark) -> None:
    from ewacct.baselines import get_baseline
    from ewacct.baselines.calibration import calibrate_noise_multiplier

    b = get_baseline("gdp")
    r = benchmark(lambda: calibrate_noise_multiplier(b, target_epsilon=8.0, target_delta=1e-5,
                                                     sampling_probability=Q, steps=T))
    assert r.noise_multiplier is not None and r.epsilon <= 8.0


@pytest.mark.parametrize("target,delta,q,steps", [(8.0, 1e-5, Q, T), (13.0, 1e-12, 1e-7, 10_000_000)],
                         ids=["sst2", "corner-q1e-7-T1e7"])
def test_bench_calibrate_ewacct_certified(benchmark, target, delta, q, steps) -> None:
    """guarantee="certified" with the certified caches cleared before each round (issue 9: <= 1 s);
    the corner is where the contour enclosure does not apply and the proven bracket answers."""
    require("ewacct")
    from ewacct.calibrate import calibrate_noise
    from ewacct.methods.certified import clear_caches

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return calibrate_noise(target_epsilon=target, target_delta=delta, sampling_probability=q, steps=steps,
                                   guarantee="certified")

    run()
    r = benchmark.pedantic(run, setup=clear_caches, rounds=3, iterations=1)
    assert r.epsilon.upper <= target
