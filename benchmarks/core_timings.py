"""Core timings of ewacct alone (single query, batches, calibration); prints a Markdown table.

Run: python benchmarks/core_timings.py   (about a minute; medians of repeats, warm Numba cache)
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np

from ewacct import Accountant, PoissonSubsampledGaussian, calibrate_noise

Q, S, T, D = 2000 / 67349, 0.7865, 660, 1e-5


def med(fn, n: int) -> float:
    ts = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    warnings.simplefilter("ignore")
    Accountant().compose(PoissonSubsampledGaussian(S, Q), T).get_epsilon(D)  # warm the JIT cache
    acc = Accountant().compose(PoissonSubsampledGaussian(S, Q), T)
    acc.get_epsilon(D)
    rows = [
        ("eps(delta), new sigma each call (no cache reuse)",
         med(lambda i: Accountant().compose(PoissonSubsampledGaussian(S + 1e-5 * (i + 1), Q), T).get_epsilon(D), 30)),
        ("eps(delta), same accountant again (cached cumulants)", med(lambda i: acc.get_epsilon(D), 30)),
        ("batch: 1e4 eps(delta) values", med(lambda i: Accountant().compose(
            PoissonSubsampledGaussian(S + 1e-4 * (i + 1), Q), T).get_epsilon(np.logspace(-3, -10, 10_000)), 3)),
        ("batch: 1e4 delta(eps) values", med(lambda i: Accountant().compose(
            PoissonSubsampledGaussian(S + 1e-4 * (i + 1), Q), T).get_delta(np.linspace(2, 12, 10_000)), 3)),
        ("calibrate_noise (estimate), target eps 8", med(lambda i: calibrate_noise(
            target_epsilon=8.0 + 1e-3 * i, target_delta=D, sampling_probability=Q, steps=T), 5)),
    ]
    print(f"SST-2 setting: q = {Q:.6f}, sigma = {S}, T = {T}, delta = {D:g}\n")
    print("| operation | median time |")
    print("|---|---|")
    for name, t in rows:
        print(f"| {name} | {t * 1e3:.2f} ms |")


if __name__ == "__main__":
    main()
