"""Random sweep of default eps(delta) calls over issue 8's whole domain; lists the slowest (CPU time, warm).

    python benchmarks/degenerate_calls.py [--n 40] [--seed 0] [--over 0.3] [--kind delta]

Points: log-uniform q in [1e-9, 1], sigma in [0.2, 1e3], T in [1, 1e9], delta in [1e-12, 0.1] (``--kind delta``:
get_delta at eps log-uniform in [1e-4, 30] instead).  Each point:
the first ``Accountant().compose(...).get_epsilon(delta)`` of that composition in the process (a repeated or
nearby query is answered from the engines' memo in ~1 ms), CPU time less the time under Numba's compiler lock
(budget.jit_seconds: kernel compilation and cache loads), as the query budget's clock counts it.  Prints every
call over ``--over`` seconds with its method and validity, then the median / p90 / max.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.environ.get("EWROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.methods import budget  # noqa: E402

warnings.simplefilter("ignore")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--over", type=float, default=0.3)
    ap.add_argument("--kind", choices=("epsilon", "delta"), default="epsilon")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 100).get_epsilon(1e-5)
    rows = []
    for _ in range(a.n):
        q = float(min(1.0, 10 ** rng.uniform(-9, 0)))
        s = float(10 ** rng.uniform(np.log10(0.2), 3))
        t = int(round(10 ** rng.uniform(0, 9)))
        d = float(10 ** rng.uniform(-12, -1))
        e = float(10 ** rng.uniform(-4, np.log10(30.0)))
        acc = Accountant().compose(PoissonSubsampledGaussian(s, q), t)
        j0 = budget.jit_seconds()
        t0 = time.process_time()
        r = acc.get_epsilon(d) if a.kind == "epsilon" else acc.get_delta(e)
        dt = time.process_time() - t0 - (budget.jit_seconds() - j0)
        rows.append(dt)
        flag = "  <-- slow" if dt > a.over else ""
        x = f"delta={d:.3g}" if a.kind == "epsilon" else f"eps={e:.3g}"
        print(f"q={q:.3g} sigma={s:.4g} T={t} {x}: {r.value:.10g} {r.method} valid={r.valid} "
              f"{dt:.3f} s{flag}", flush=True)
    v = np.sort(rows)
    print(f"median {np.median(v):.3f} s  p90 {v[int(0.9 * (v.size - 1))]:.3f} s  max {v[-1]:.3f} s  "
          f"over {a.over} s: {(v > a.over).sum()}/{v.size}")


if __name__ == "__main__":
    main()
