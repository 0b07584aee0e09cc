"""Default eps(delta) in the few-participation corner where the contour goes first (issue 8, routing).

    python benchmarks/exact_route_fewcorner.py [--repeats R] [--quick]

For each (sigma, q, T, delta) with 0.01 < q T <= 0.5 and sigma >= 0.3 (the dispatch tries the contour,
then the few-participation quadrature) it times warm ``ewacct.epsilon`` calls (CPU time,
``time.process_time``, the median of R after one untimed call) and prints value, method, validity and
milliseconds, then the median and the largest times.  Run it at two commits (``PYTHONPATH=<worktree>``)
and compare the medians of one session; the values must agree to the engines' tolerance (1e-6 relative).
"""

import argparse
import itertools
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ewacct  # noqa: E402

warnings.simplefilter("ignore")

#: the three routing regressions named in the lead's note, then a grid
NAMED = [(1.0, 1e-3, 30, 1e-10), (1.0, 1e-3, 100, 1e-10), (2.0, 0.01, 10, 1e-5), (2.0, 0.01, 10, 1e-10)]


def grid(quick: bool):
    sig = (0.5, 1.0, 2.0) if quick else (0.5, 0.7, 1.0, 1.5, 2.0, 4.0)
    qt = ((1e-3, 30), (1e-3, 300), (0.01, 10), (1e-4, 1000)) if quick else (
        (1e-3, 20), (1e-3, 100), (1e-3, 300), (0.01, 5), (0.01, 10), (0.01, 30), (0.003, 100), (1e-4, 200),
        (1e-4, 1000), (1e-5, 3000))
    ds = (1e-5, 1e-10) if quick else (1e-5, 1e-8, 1e-10, 1e-12)
    for s, (q, t), d in itertools.product(sig, qt, ds):
        yield s, q, t, d


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    ewacct.epsilon(noise_multiplier=1.0, sampling_probability=1e-3, steps=10, target_delta=1e-5)
    ewacct.epsilon(noise_multiplier=1.0, sampling_probability=1e-2, steps=1000, target_delta=1e-5)
    ts = []
    for s, q, t, d in NAMED + list(grid(a.quick)):
        def call():
            return ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=t, target_delta=d)
        call()
        tt = []
        for _ in range(a.repeats):
            t0 = time.process_time()
            r = call()
            tt.append(time.process_time() - t0)
        m = statistics.median(tt)
        ts.append(m)
        print(f"s={s} q={q:g} T={t} d={d:g} eps={r.value:.10g} {r.method} valid={r.valid} {1e3 * m:.1f} ms", flush=True)
    ts.sort()
    print(f"calls {len(ts)} median {1e3 * ts[len(ts) // 2]:.1f} ms  p90 {1e3 * ts[int(0.9 * len(ts))]:.1f} ms  "
          f"max {1e3 * ts[-1]:.1f} ms  sum {sum(ts):.2f} s")


if __name__ == "__main__":
    main()
