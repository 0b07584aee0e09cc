"""The tiny-q, q T ~ 1..500, small-sigma corner of eps(delta) (session 16, H-DF): the conditioned expansion's
tilted-density mode (methods/fewpart_condexact.py: J = 1 by the tilted density of the summed small losses, J = 0
computed, where they are too wide for the Taylor series) off / on, alternated per point in one process.

    python benchmarks/flag_s16_trunc.py [--seed S] [--n N] [--cert] [--first-qt Q]

Points: benchmarks/trunc_d3_scan.py's (sigma 0.44-0.62, q 1e-7..3e-6, q T 0.5..500, delta 1e-13..1.5e-10).
off = the expansion as before (MAX_QT 50, FIRST_QT 30, no tilted-density mode, WIDE_FIRST_DELTA 0); on = MAX_QT 500,
the mode on, the dispatch asking the expansion first up to q T = --first-qt (default fewpart_condexact.FIRST_QT) and, at
delta <= WIDE_FIRST_DELTA, up to WIDE_FIRST_QT (needs the dispatch to pass delta to first(): patch DF-2).  Reported: exact /
flagged counts and CPU of each, answers that differ by more than 1e-6 where both are valid, and with --cert valid
answers outside the certified bracket.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.simplefilter("ignore")

import ewacct  # noqa: E402
from ewacct.methods import fewpart_condexact as fc  # noqa: E402
from trunc_d3_scan import points  # noqa: E402


def query(sigma, q, steps, delta, certify=False):
    t0 = time.process_time()
    r = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=delta, certify=certify)
    return r, time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--cert", action="store_true")
    ap.add_argument("--first-qt", type=float, default=fc.FIRST_QT)
    ap.add_argument("--grid", action="store_true", help="sigma {0.5, 0.7} x q {1e-5, 1e-6} x q T {40, 150, 450} x "
                    "delta {1e-6, 1e-10, 1e-12} instead of the random points")
    a = ap.parse_args()
    new = (fc.MAX_QT, a.first_qt, True, fc.WIDE_FIRST_DELTA)
    old = (50.0, 30.0, False, 0.0)
    query(0.5, 1e-6, 10 ** 6, 1e-11)
    res = {False: [], True: []}
    differ = outside = 0
    pts = points(a.seed, a.n)
    if a.grid:
        pts = [(s, q, int(round(qt / q)), d) for s in (0.5, 0.7) for q in (1e-5, 1e-6) for qt in (40.0, 150.0, 450.0)
               for d in (1e-6, 1e-10, 1e-12)]
    for i, (sigma, q, steps, delta) in enumerate(pts):
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            fc.MAX_QT, fc.FIRST_QT, fc.FFT_ENABLED, fc.WIDE_FIRST_DELTA = new if flag else old
            r, dt = query(sigma, q, steps, delta)
            row[flag] = (float(r.value), r.method, bool(r.valid), dt)
            res[flag].append(row[flag])
        fc.MAX_QT, fc.FIRST_QT, fc.FFT_ENABLED, fc.WIDE_FIRST_DELTA = new
        (v0, m0, ok0, t0), (v1, m1, ok1, t1) = row[False], row[True]
        line = (f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>11d} qT={q * steps:8.2f} delta={delta:.3e}  off: {m0:<14s} "
                f"{ok0!s:5s} {v0:.10g} {t0:.3f}s   on: {m1:<14s} {ok1!s:5s} {v1:.10g} {t1:.3f}s")
        if ok0 and ok1 and abs(v1 - v0) > 1e-6 * v0:
            differ += 1
            line += "  <-- DIFFER"
        if a.cert:
            c, _ = query(sigma, q, steps, delta, certify=True)
            lo, hi = float(c.lower), float(c.upper)
            line += f" cert=[{lo:.9g}, {hi:.9g}]"
            for flag in (False, True):
                v, _, ok, _ = row[flag]
                if ok and not lo * (1 - 1e-6) <= v <= hi * (1 + 1e-6):
                    outside += 1
                    line += f"  <-- OUTSIDE ({'on' if flag else 'off'})"
        print(line, flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows])
        print(f"tilted mode {'on ' if flag else 'off'}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)} "
              f"of {len(rows)}; CPU median {np.median(cpu):.3f} s, p90 {np.quantile(cpu, 0.9):.3f} s, max {cpu.max():.3f} s, "
              f"total {cpu.sum():.2f} s")
    print(f"valid in both but differing by > 1e-6: {differ}" + (f"; valid outside the certified bracket: {outside}" if a.cert else ""))


if __name__ == "__main__":
    main()
