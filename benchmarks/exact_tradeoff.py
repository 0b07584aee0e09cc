"""Accountant.tradeoff and vectorised get_delta on issue 8's four compositions (reviewer H-R6 F7).

    python benchmarks/exact_tradeoff.py [--repeats R] [--full]

For each composition: CPU time (``time.process_time``) of ``tradeoff([0.01, 0.1, 0.5])`` (default
n_grid 400): the first call in the process and the median of R further calls on fresh accountants
(warm kernels, no instance memo), the number of delta(eps) queries it made, ``valid`` and beta.
With ``--full``: also the full grid the accountant used before (``get_delta`` on all 400 grid points,
i.e. the vectorised get_delta(np.linspace(0, 1.05 e_max, 400)), timed once) and the largest
|beta - beta_full| (where the full grid's values are all valid they are the reference: equal to 1e-9).
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ewacct import Accountant, Laplace, PoissonSubsampledGaussian as PSG, RandomizedResponse as RR  # noqa: E402
from ewacct.methods.tradeoff_profile import minorants  # noqa: E402

warnings.simplefilter("ignore")
ALPHA = np.array([0.01, 0.1, 0.5])


def compositions():
    return {
        "PSG(0.1, 0.01) x20": lambda: Accountant().compose(PSG(0.1, 0.01), 20),
        "PSG(1, 1e-9) x10": lambda: Accountant().compose(PSG(1.0, 1e-9), 10),
        "PSG(0.5, 1e-4) x100": lambda: Accountant().compose(PSG(0.5, 1e-4), 100),
        "PSG(1, 0.02) x100 + Laplace(5) x3 + RR(0.5) x2":
            lambda: Accountant().compose(PSG(1.0, 0.02), 100).compose(Laplace(5.0), 3).compose(RR(0.5), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    for name, make in compositions().items():
        times = []
        for _ in range(args.repeats + 1):
            acc = make()
            t0 = time.process_time()
            res = acc.tradeoff(ALPHA)
            times.append(time.process_time() - t0)
        line = (f"{name}: tradeoff first {times[0]:.3f} s, median {statistics.median(times[1:]):.3f} s, "
                f"{res.diagnostics['n_evaluated']} queries, valid {res.valid}, beta {np.round(res.beta, 9).tolist()}")
        if args.full:
            acc = make()
            eps = np.linspace(0.0, res.diagnostics["eps_grid_max"], 400)
            t0 = time.process_time()
            d = acc.get_delta(eps)
            t_full = time.process_time() - t0
            full = np.clip(minorants(eps, np.asarray(d.estimate), ALPHA).max(axis=1), 0.0, None)
            line += (f"; full grid get_delta(400) {t_full:.1f} s ({t_full / 400 * 1e3:.0f} ms a point), "
                     f"valid {int(np.sum(d.valid))}/400, max |beta - beta_full| {np.max(np.abs(res.beta - full)):.2g}, "
                     f"beta <= beta_full: {bool(np.all(res.beta <= full + 1e-15))}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
