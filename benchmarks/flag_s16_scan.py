"""Random default eps(delta) queries of one Poisson-subsampled Gaussian (session 16, H-DF): flagged (valid=False)
answers with the session's changes off / on, alternated per point in one process.

    python benchmarks/flag_s16_scan.py [--seed S] [--n N]

Points: q 1e-8..1e-2, sigma 0.3..5, T 10..1e6, delta 1e-12..1e-3 (log-uniform).  off = fewpart_condexact as before
(MAX_QT 50, FIRST_QT 30, no tilted-density mode, WIDE_FIRST_DELTA 0), on = as now (the dispatch passes delta to
first() only with patch DF-2).  Reported per point: method, valid, value, CPU; summary: flagged counts, CPU median /
max, answers valid in both that differ by more than 1e-6.
"""

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

import ewacct  # noqa: E402
from ewacct.methods import fewpart_condexact as fc  # noqa: E402


def points(seed: int, n: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        q = float(10 ** rng.uniform(-8, -2))
        sigma = float(10 ** rng.uniform(math.log10(0.3), math.log10(5.0)))
        steps = int(round(10 ** rng.uniform(1, 6)))
        delta = float(10 ** rng.uniform(-12, -3))
        out.append((sigma, q, steps, delta))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--n", type=int, default=40)
    a = ap.parse_args()
    new = (fc.MAX_QT, fc.FIRST_QT, True, fc.WIDE_FIRST_DELTA)
    old = (50.0, 30.0, False, 0.0)
    ewacct.epsilon(noise_multiplier=1.0, sampling_probability=0.01, steps=100, target_delta=1e-5)
    res = {False: [], True: []}
    differ = 0
    for i, (sigma, q, steps, delta) in enumerate(points(a.seed, a.n)):
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            fc.MAX_QT, fc.FIRST_QT, fc.FFT_ENABLED, fc.WIDE_FIRST_DELTA = new if flag else old
            t0 = time.process_time()
            r = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=delta)
            row[flag] = (float(r.value), r.method, bool(r.valid), time.process_time() - t0)
            res[flag].append(row[flag])
        fc.MAX_QT, fc.FIRST_QT, fc.FFT_ENABLED, fc.WIDE_FIRST_DELTA = new
        (v0, m0, ok0, t0), (v1, m1, ok1, t1) = row[False], row[True]
        line = (f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>8d} qT={q * steps:9.3g} delta={delta:.3e}  off: {m0:<14s} "
                f"{ok0!s:5s} {v0:.10g} {t0:.3f}s   on: {m1:<14s} {ok1!s:5s} {v1:.10g} {t1:.3f}s")
        if ok0 and ok1 and abs(v1 - v0) > 1e-6 * max(v0, 1e-300):
            differ += 1
            line += "  <-- DIFFER"
        print(line, flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows])
        print(f"{'on ' if flag else 'off'}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)} of "
              f"{len(rows)}; CPU median {np.median(cpu):.3f} s, max {cpu.max():.3f} s, total {cpu.sum():.2f} s")
    print(f"valid in both but differing by > 1e-6: {differ}")


if __name__ == "__main__":
    main()
