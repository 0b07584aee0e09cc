"""Session 17 (H-CC): one certified eps(delta) point of PoissonSubsampledGaussian(sigma, q) x T, warm process,
every certificate cache cleared: CPU time per repeat, the bracket, the source, and (--profile) the cProfile top.

    python benchmarks/certcc_s17_point.py SIGMA Q T DELTA [--repeat 3] [--profile] [--info]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds.certify import clear_memo
from ewacct.methods.certified import clear_caches


def once(s: float, q: float, T: int, d: float):
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(d, certify=True)
    return time.process_time() - t0, r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("s", type=float)
    ap.add_argument("q", type=float)
    ap.add_argument("T", type=int)
    ap.add_argument("d", type=float)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--info", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    a = ap.parse_args(argv)
    once(1.0, 1e-4, 10, 1e-5)
    once(0.97, 1.5e-6, 39, 2.7e-6)
    once(0.5, 1e-3, 10, 1e-10)
    once(a.s, a.q, a.T, a.d)
    for _ in range(a.repeat):
        t, r = once(a.s, a.q, a.T, a.d)
        print(f"{t * 1e3:8.1f} ms [{r.lower!r}, {r.upper!r}] {r.certified_by}", flush=True)
    if a.info:
        print(getattr(r, "certificate", None) or r)
    if a.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile(time.process_time)
        pr.enable()
        once(a.s, a.q, a.T, a.d)
        pr.disable()
        pstats.Stats(pr).sort_stats("cumulative").print_stats(a.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
