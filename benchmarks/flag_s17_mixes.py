"""Random mixes with randomized response (session 17, H-DF): the default eps(delta) under the call's CPU budget as it
is (budget.CALL_BUDGET 0.6 s, mixed_exact.DEADLINE_S 0.45 s per direction) and under a larger one for these mixes
(--budget; the per-direction deadline then follows mixed_exact.DEADLINE_FRAC), alternated per point in one process: what patch /tmp/h17/patches/DF-1.patch (a budget of its
own for randomized-response lattice mixes) would change.

    python benchmarks/flag_s17_mixes.py [--seed S] [--n N] [--budget 0.9] [--deadline D] [--only i,j,...]

The mixes are benchmarks/flag_s16_mixes.py's (same seeds).  Reported per point: method, valid, value, CPU of each;
summary: flagged counts, CPU median / max.
"""

import argparse
import math
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

import flag_s16_mixes as F  # noqa: E402
from ewacct.methods import budget, mixed_exact  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--budget", type=float, default=0.9)
    ap.add_argument("--deadline", type=float, default=None,
                    help="mixed_exact.DEADLINE_S in the larger run (default: as is; DEADLINE_FRAC scales it)")
    ap.add_argument("--only", type=str, default="")
    a = ap.parse_args()
    only = {int(x) for x in a.only.split(",") if x}
    F.query([("rr", 0.5, None, 3), ("psg", 1.0, 0.01, 10), ("lap", 3.0, 1.0, 2)], 1e-5)  # warm the kernels
    keep = (budget.CALL_BUDGET, mixed_exact.DEADLINE_S)
    res = {False: [], True: []}
    for i, (segs, delta) in enumerate(F.mixes(a.seed, a.n)):
        if only and i not in only:
            continue
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            budget.CALL_BUDGET, mixed_exact.DEADLINE_S = (a.budget, a.deadline or keep[1]) if flag else keep
            try:
                r, dt = F.query(segs, delta)
                row[flag] = (float(r.value), r.method, bool(r.valid), dt)
            except (ValueError, ArithmeticError) as exc:
                row[flag] = (math.nan, f"raises {type(exc).__name__}", False, math.nan)
            res[flag].append(row[flag])
        budget.CALL_BUDGET, mixed_exact.DEADLINE_S = keep
        print(f"{i:3d} delta={delta:.10g}  as is: {row[False][1]} {row[False][2]} {row[False][0]:.12g} {row[False][3]:.3f}s"
              f"  larger: {row[True][1]} {row[True][2]} {row[True][0]:.12g} {row[True][3]:.3f}s", flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows if math.isfinite(r[3])])
        print(f"{'larger' if flag else 'as is '}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)} of "
              f"{len(rows)}; CPU median {np.median(cpu):.3f} s, max {cpu.max():.3f} s, total {cpu.sum():.2f} s")


if __name__ == "__main__":
    main()
