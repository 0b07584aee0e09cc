"""Certified eps(delta) of a 200-segment heterogeneous history (helper H-DE, session 14; issue 9's 200 ms item).

200 segments PoissonSubsampledGaussian(sigma, q) x n, sigma log-uniform in [0.8, 2], q log-uniform in
[0.005, 0.05], n uniform in [50, 500] (seeded), delta = 1e-5: the certified query from a fresh accountant with
every certificate cache cleared, CPU time (time.process_time), median of --repeat runs.

    python benchmarks/cert_de_segments.py [--repeat 5] [--seed 0] [--segments 200] [--profile]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds.certify import clear_memo
from ewacct.methods.certified import clear_caches


def segments(n: int, seed: int) -> list[tuple[float, float, int]]:
    rng = random.Random(seed)
    return [(10 ** rng.uniform(math.log10(0.8), math.log10(2.0)), 10 ** rng.uniform(math.log10(0.005), math.log10(0.05)),
             rng.randint(50, 500)) for _ in range(n)]


def run(segs, delta: float = 1e-5):
    clear_caches()
    clear_memo()
    acc = Accountant()
    for s, q, n in segs:
        acc.compose(PoissonSubsampledGaussian(s, q), n)
    t0 = time.process_time()
    r = acc.get_epsilon(delta, certify=True)
    return time.process_time() - t0, r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args(argv)
    segs = segments(a.segments, a.seed)
    run(segments(8, a.seed + 1))  # warm the kernels
    if a.profile:
        run(segs)  # (imports, first-call work)
    if a.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile(time.process_time)
        pr.enable()
        t, r = run(segs)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(45)
        print(f"{t * 1e3:.0f} ms [{r.lower:.10g}, {r.upper:.10g}] {r.certified_by}")
        return 0
    ts = []
    for _ in range(a.repeat):
        t, r = run(segs)
        ts.append(t)
        print(f"{t * 1e3:.0f} ms [{r.lower:.10g}, {r.upper:.10g}] rel {(r.upper - r.lower) / r.upper:.1e} "
              f"{r.certified_by[:50]}", flush=True)
    print(f"median {statistics.median(ts) * 1e3:.0f} ms over {a.repeat} runs (seed {a.seed}, {a.segments} segments)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
