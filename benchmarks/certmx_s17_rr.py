"""Certified eps(delta) of randomized-response-heavy and small-pure-group mixes (session 17, H-MX; bounds/rr_mix.py,
docs/certified_mixed.md W and D): width, source, CPU; optional overlap with dp_accounting's PLD pair.

    .venv/bin/python benchmarks/certmx_s17_rr.py [--seed 17] [--n 20] [--before REV] [--pld VDI] [--breaker] [--f]

Random points (seeded): half "W" (RR(e0 in 0.005..0.5) x 100..1e5, sometimes a second RR group, with Gaussian(1..10) x
1..200), half "D" (RR(e0 in 1e-7..1e-4) x 1..100 or Laplace(scale 1e3..1e6) x 1..10 with Gaussian(1..10) x 1..200 or
PSG(0.7..5, q 1e-3..0.2) x 1..200), delta 10^U(-10, -3).  --breaker: H-R16's RR mixes instead.  Each point
certify.certified_epsilon after clear_memo, CPU by time.process_time.  --before REV: mixed_fft.py / rr_contour.py of
REV (mixes_m2_sample._load_old; rr_mix.py is not asked by the old narrow).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mixes_m2_sample as m2  # noqa: E402

BREAKER = [
    ([("rr", 0.1861, 57), ("psg", (2.5873, 0.003321), 55)], 1.0838227791173106e-4),
    ([("rr", 0.01, 100000), ("gauss", 1.0, 1)], 1e-8),
    ([("rr", 1e-6, 40), ("psg", (1.0, 0.01), 100)], 1e-6),
    ([("rr", 0.7911, 97), ("rr", 0.4884, 34), ("psg", (1.9009, 0.006969), 39)], 1.8803505182820077e-4),
]


def points(seed: int, n: int):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        mechs = []
        if i % 2 == 0:
            mechs.append(("rr", round(10 ** rnd.uniform(-2.3, -0.3), 4), rnd.choice([100, 300, 1000, 10000, 100000])))
            if rnd.random() < 0.3:
                mechs.append(("rr", round(rnd.uniform(0.1, 1.0), 3), rnd.choice([5, 10, 20])))
            mechs.append(("gauss", round(rnd.uniform(1.0, 10.0), 3), rnd.choice([1, 2, 5, 10, 50, 100, 200])))
        else:
            if rnd.random() < 0.5:
                mechs.append(("rr", float(f"{10 ** rnd.uniform(-7, -4):.3g}"), rnd.choice([1, 5, 10, 40, 100])))
            else:
                mechs.append(("lap", float(f"{10 ** rnd.uniform(3, 6):.4g}"), rnd.choice([1, 2, 5, 10])))
            if rnd.random() < 0.5:
                mechs.append(("gauss", round(rnd.uniform(1.0, 10.0), 3), rnd.choice([1, 2, 5, 10, 50, 100, 200])))
            else:
                mechs.append(("psg", (round(rnd.uniform(0.7, 5.0), 3), round(10 ** rnd.uniform(-3, -0.7), 5)),
                              rnd.choice([1, 5, 10, 50, 100, 200])))
        out.append((mechs, 10 ** rnd.uniform(-10, -3)))
    return out


def points_f(seed: int, n: int):
    """RR(e0 in 0.01..1) x 65..3000 (sometimes a second group) with PSG(0.7..5, q 1e-3..0.2) x 1..200: beyond R's 64
    lattice points with a subsampled rest (the rounded FFT with F10's binomial steps)."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        mechs = [("rr", round(10 ** rnd.uniform(-2, 0), 4), rnd.choice([65, 100, 300, 1000, 3000]))]
        if rnd.random() < 0.3:
            mechs.append(("rr", round(rnd.uniform(0.1, 1.0), 3), rnd.choice([5, 10, 20])))
        mechs.append(("psg", (round(rnd.uniform(0.7, 5.0), 3), round(10 ** rnd.uniform(-3, -0.7), 5)),
                      rnd.choice([1, 5, 10, 50, 100, 200])))
        out.append((mechs, 10 ** rnd.uniform(-10, -3)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--before", default=None)
    ap.add_argument("--pld", type=float, default=None)
    ap.add_argument("--breaker", action="store_true")
    ap.add_argument("--only", type=int, default=None)
    ap.add_argument("--f", action="store_true", help="the RR x 65..3000 + PSG sample (points_f) instead")
    args = ap.parse_args(argv)
    if args.before:
        m2._load_old(args.before)
    from ewacct.bounds import certify

    warnings.simplefilter("ignore")
    pts = BREAKER if args.breaker else points_f(args.seed, args.n) if args.f else points(args.seed, args.n)
    cpu, wide, bad, fb = [], 0, 0, 0
    for i, (mechs, delta) in enumerate(pts):
        if args.only is not None and i != args.only:
            continue
        a = m2._acc(mechs)
        certify.clear_memo()
        t = time.process_time()
        c = certify.certified_epsilon(a, delta)
        dt = time.process_time() - t
        cpu.append(dt)
        w = (c.upper - c.lower) / c.upper if c.upper > 0 else 0.0
        wide += w > 1e-4
        src = ("W" if "binomial window" in c.source else "D" if "dominated by randomized" in c.source else
               "R" if "lattice summed" in c.source else "F" if "rounded mixed" in c.source else
               "P" if "Chernoff" in c.source else c.source[:12])
        fb += src == "P"
        line = f"{i:2d} {mechs} delta={delta:.3e} [{c.lower:.9g}, {c.upper:.9g}] w={w:.2e} {dt:.2f}s {src}"
        if args.pld:
            p_lo, p_hi = m2.pld_pair(mechs, delta, args.pld)
            ok = max(c.lower, p_lo) <= min(c.upper, p_hi) + 1e-12
            bad += not ok
            line += f" pld=[{p_lo:.9g}, {p_hi:.9g}] {'ok' if ok else 'DISJOINT'}"
        print(line, flush=True)
    print(f"n={len(cpu)} fallback(P)={fb} wider than 1e-4={wide} cpu median={statistics.median(cpu):.3f}s "
          f"max={max(cpu):.2f}s total={sum(cpu):.1f}s pld disjoint={bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
