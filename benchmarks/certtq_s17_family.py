"""Issue 9's tiny-q family (sessions 16-17): certified eps(delta) with the one-large-step path of session 16
(docs/certified.md section 9: order-3 Taylor, J >= 2 by C(n, 2) p^2) and of session 17 (docs/certified_twojump.md:
order 4 with the exact third moment, the J = 2 term bounded, cuts by C(n, 3) p^3), alternated point by point in one
process (caches cleared before each call; CPU time of the certificate, bounds.certify._epsilon with the default
budget).  Wide: (upper - lower) / upper > 1e-4.  The grid is benchmarks/certct_s16_family.py's (sigma 0.47-0.66,
q T 0.3-3, delta 6e-13..1e-11) with q in [--qlo, --qhi] (default 1e-8..3.5e-7, session 16's).

    python benchmarks/certtq_s17_family.py [--n 20] [--seed 16] [--qlo 1e-8] [--qhi 3.5e-7]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import certify as C
from ewacct.methods import certified as CM
from ewacct.methods import certified_onejump as OJ


def grid(n: int, seed: int, qlo: float, qhi: float):
    rng = random.Random(seed)
    pts = []
    for _ in range(n):
        s = rng.uniform(0.47, 0.66)
        q = 10 ** rng.uniform(math.log10(qlo), math.log10(qhi))
        qt = 10 ** rng.uniform(math.log10(0.3), math.log10(3.0))
        d = 10 ** rng.uniform(math.log10(6e-13), -11.0)
        pts.append((s, q, max(2, int(round(qt / q))), d))
    return pts


def run(s, q, T, d, new: bool):
    OJ.OJ_TWOJUMP = new
    CM.clear_caches()
    C.clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = C._epsilon(acc, d, None)
    return c.lower, c.upper, time.process_time() - t0, c.source


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--qlo", type=float, default=1e-8)
    ap.add_argument("--qhi", type=float, default=3.5e-7)
    a = ap.parse_args()
    CM._warm_once()
    res = {False: [], True: []}
    for s, q, T, d in grid(a.n, a.seed, a.qlo, a.qhi):
        row = []
        for new in (False, True):
            lo, hi, t, src = run(s, q, T, d, new)
            w = (hi - lo) / hi if hi > 0 else 0.0
            res[new].append((w, t, lo, hi))
            row.append(f"{'s17' if new else 's16'} [{lo:.9g}, {hi:.9g}] rel {w:.1e} {1e3 * t:7.1f} ms {src[:30]}")
        ov = max(res[False][-1][2], res[True][-1][2]) <= min(res[False][-1][3], res[True][-1][3])
        print(f"sigma={s:.4f} q={q:.3g} T={T} delta={d:.3g}  overlap={ov}", flush=True)
        for r in row:
            print("   ", r, flush=True)
    for new in (False, True):
        ws = [w for w, *_ in res[new]]
        ts = [t for _, t, *_ in res[new]]
        print(f"{'s17' if new else 's16'}: wide (>1e-4) {sum(w > 1e-4 for w in ws)}/{len(ws)}  median width "
              f"{statistics.median(ws):.1e}  max {max(ws):.1e}  CPU median {1e3 * statistics.median(ts):.0f} ms "
              f"max {1e3 * max(ts):.0f} ms")


if __name__ == "__main__":
    main()
