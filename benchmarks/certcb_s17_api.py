"""The API certificate (``certify.certified_epsilon``, budget 10 s as ewacct_torch asks it) at random few-participation
corner points (sigma 0.3-3, q 1e-6-1e-3, T 3-1e4 with q T <= 0.01, delta 1e-10-1e-5), before / after patch CB-1
(benchmarks/certcb_s17_calib.py installs it where certify.py lacks ``CORNER_COND_CELLS``), alternated per point, every
certified cache cleared before each call, CPU seconds (``time.process_time``); the two brackets of each point must
overlap (two proofs of one number).

    python benchmarks/certcb_s17_api.py [--seed 1] [--points 16]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings

warnings.simplefilter("ignore")

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from certcb_s17_calib import CELLS, _install  # noqa: E402

from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.bounds import certify  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--cb1-file", default="/tmp/cb17/pt/certify.py")
    a = ap.parse_args()
    _install(a.cb1_file)
    rng = random.Random(a.seed)
    pts = []
    while len(pts) < a.points:
        q = 10 ** rng.uniform(-6, -3)
        T = int(10 ** rng.uniform(0.5, 4))
        if q * T > 0.01 or T < 3:
            continue
        s = 10 ** rng.uniform(math.log10(0.3), math.log10(3))
        d = 10 ** rng.uniform(-10, -5)
        pts.append((s, q, T, d))
    certify.certified_epsilon(Accountant().compose(PoissonSubsampledGaussian(0.6, 2e-5), 100), 1e-8, time_budget=10)
    res: dict[str, list[float]] = {"before": [], "after": []}
    for k, (s, q, T, d) in enumerate(pts):
        out = {}
        for mode in (("before", "after") if k % 2 == 0 else ("after", "before")):
            certify.CORNER_COND_CELLS = CELLS[mode]
            clear_caches()
            certify.clear_memo()
            acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
            t = time.process_time()
            c = certify.certified_epsilon(acc, d, time_budget=10.0)
            out[mode] = (time.process_time() - t, c)
            res[mode].append(out[mode][0])
        b, p = out["before"], out["after"]
        overlap = max(b[1].lower, p[1].lower) <= min(b[1].upper, p[1].upper)
        print(f"s {s:.4g} q {q:.3g} T {T} d {d:.2g} | before {b[0]:.3f} [{b[1].lower:.7g}, {b[1].upper:.7g}] "
              f"{b[1].source[:22]} | after {p[0]:.3f} [{p[1].lower:.7g}, {p[1].upper:.7g}] {p[1].source[:22]} | "
              f"overlap {overlap}", flush=True)
    for m, v in res.items():
        v = sorted(v)
        print(f"{m}: median {statistics.median(v):.3f} s, p90 {v[int(0.9 * len(v)) - 1]:.3f}, max {v[-1]:.3f}, "
              f"total {sum(v):.2f}, > 1 s at {sum(x > 1.0 for x in v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
