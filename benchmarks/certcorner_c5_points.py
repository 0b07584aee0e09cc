"""Few-participation corner, certified eps(delta): the points session 14's brief (H-C5) lists as misses, one line each:
CPU of the certified query (fresh caches, warm process), bracket, width against issue 9's target, the engine's
estimate inside or not.  For before/after, run it from two copies of the tree alternately (PYTHONPATH or cwd).

    .venv/bin/python benchmarks/certcorner_c5_points.py [--reps 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.bounds import certify
from ewacct.methods.certified import clear_caches

POINTS = [(0.8363, 8.07e-6, 30, 6.75e-8), (0.3149, 2.43e-3, 24, 2.4e-12), (0.2719, 5.62e-5, 65, 2.73e-7),
          (0.55, 1.71e-5, 198, 1e-10), (0.5573, 1.7103e-5, 198, 2.567e-9), (0.5, 1e-6, 1000, 1e-12),
          (1.0, 1e-6, 10000, 1e-12), (0.97, 1.5e-6, 39, 2.7e-6)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    Accountant().compose(PSG(1.0, 1e-4), 10).get_epsilon(1e-5, certify=True)  # warm (Numba, caches)
    Accountant().compose(PSG(0.97, 1.5e-6), 39).get_epsilon(2.7e-6, certify=True)
    ts = []
    for s, q, T, d in POINTS:
        for _ in range(a.reps):
            clear_caches()
            certify.clear_memo()
            t = time.process_time()
            r = Accountant().compose(PSG(s, q), T).get_epsilon(d, certify=True)
            tc = time.process_time() - t
            ts.append(tc)
            lo, hi, est = float(r.lower), float(r.upper), float(r.estimate)
            wide = certify._too_wide("epsilon", lo, hi)
            inside = lo * (1 - 1e-12) <= est <= hi * (1 + 1e-12)
            print(f"({s}, {q}, {T}, {d}) {tc * 1e3:7.0f} ms [{lo:.10g}, {hi:.10g}] width {hi - lo:.3g}"
                  f" rel {(hi - lo) / hi if hi > 0 else 0:.3g}{' WIDE' if wide else ''} est {est:.10g}"
                  f"{'' if inside else ' OUTSIDE'}", flush=True)
    print(f"CPU ms median {statistics.median(ts) * 1e3:.0f} max {max(ts) * 1e3:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
