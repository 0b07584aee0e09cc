"""ewacct_torch's accountant in the training-loop pattern, pytest-benchmark.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_torch.py --benchmark-only``. The full
table (every-10-steps share of a training run, make_private_with_epsilon, Opacus' overshoot
examples, a 6-segment schedule against PLD, ratios to Opacus' rdp / prv) is produced by
``benchmarks/torch_accountant.py --write docs/benchmarks_torch.md``.

Each round adds one step to a 2,000-step history (q = 0.01, sigma = 1) and queries it: a new
history each time, as when logging every k steps. No timing is asserted.
"""

from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")

ACCOUNTANTS = ("ew", "ew-estimate", "rdp", "prv")


def _make(name: str):
    import ewacct_torch  # noqa: F401  (registers "ew")
    from opacus.accountants import PRVAccountant, RDPAccountant

    from ewacct_torch import EWAccountant

    return {"ew": EWAccountant, "ew-estimate": lambda: EWAccountant(bound="estimate"),
            "rdp": RDPAccountant, "prv": PRVAccountant}[name]()


@pytest.mark.parametrize("name", ACCOUNTANTS)
def test_bench_get_epsilon_after_a_step(benchmark, name: str) -> None:
    acc = _make(name)
    acc.history = [(1.0, 0.01, 2000)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.get_epsilon(1e-5)  # warm-up: kernels, first query

        def one() -> float:
            acc.step(noise_multiplier=1.0, sample_rate=0.01)
            return float(acc.get_epsilon(1e-5))

        eps = benchmark.pedantic(one, rounds=3 if name == "prv" else 20, iterations=1)
    assert math.isfinite(eps) and eps > 0


@pytest.mark.parametrize("name", ("ew", "rdp"))
def test_bench_get_epsilon_same_history(benchmark, name: str) -> None:
    acc = _make(name)
    acc.history = [(1.0, 0.01, 2000)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.get_epsilon(1e-5)
        eps = benchmark.pedantic(lambda: float(acc.get_epsilon(1e-5)), rounds=20, iterations=1)
    assert math.isfinite(eps) and eps > 0


@pytest.mark.parametrize("name", ("ew", "rdp"))
def test_bench_get_noise_multiplier(benchmark, name: str) -> None:
    """What make_private_with_epsilon spends on calibration (300 steps, q = 0.01, eps 3)."""
    import ewacct_torch  # noqa: F401  (routes "ew" to ewacct's calibration)
    import opacus.accountants.utils as ou

    def run() -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(ou.get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5,
                                                 sample_rate=0.01, steps=300, accountant=name))

    run()  # warm-up: kernels loaded
    sigma = benchmark.pedantic(run, rounds=3, iterations=1)
    assert 0.6 < sigma < 0.9


@pytest.mark.parametrize("name", ("ew", "rdp"))
def test_bench_every_10_steps_of_a_300_step_run(benchmark, name: str) -> None:
    """A 300-step history built one step() at a time, get_epsilon every 10 steps (q = 0.01,
    sigma = 0.6421, delta = 1e-5): what benchmarks/torch_accountant.py section 2 replays. Each
    round starts from a fresh accountant with ewacct's certified caches cleared (kernels loaded)."""

    def run() -> float:
        if name == "ew":
            from ewacct.methods.certified import clear_caches

            clear_caches()
        acc = _make(name)
        eps = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for k in range(1, 301):
                acc.step(noise_multiplier=0.6421, sample_rate=0.01)
                if k % 10 == 0:
                    eps = float(acc.get_epsilon(1e-5))
        return eps

    run()  # warm-up: kernels loaded
    eps = benchmark.pedantic(run, rounds=3, iterations=1)
    assert math.isfinite(eps) and eps > 0
