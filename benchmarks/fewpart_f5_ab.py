"""Old/new ``fewpart_epsilon`` interleaved per point in one process (session 14, H-F5; issue 8 speed).

    python benchmarks/fewpart_f5_ab.py OLD_DIR [--repeats R] [--random N] [--seed S]

OLD_DIR holds a copy of another tree's package as ``ewacct_old`` (e.g. ``git archive <commit> ewacct | tar -x -C
OLD_DIR && mv OLD_DIR/ewacct OLD_DIR/ewacct_old``; every import inside ``ewacct.methods.fewpart`` is relative, so
the old kernels come with it).  Points: ``fewpart_sigma05.py``'s 19 (sigma 0.5, delta 1e-10), then N random ones
(sigma 0.3-1.5, q 1e-6..1e-2, q T 1e-3..0.5, delta 1e-12..1e-5, log-uniform).  Per point: one untimed call of
each, then R alternating timed calls (CPU, ``time.process_time``), the order swapped every repeat; printed: both
medians, their ratio old/new, and |new - old| in units of the stated error (eps times the larger of the two
relative estimates) and of the old one's alone.  Totals: median of the per-point ratios, medians of the times,
the largest |new - old| / stated.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")


def sigma05_points():
    pts = []
    for q in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        ts = sorted({max(4, int(round(x / q))) for x in (1e-4, 1e-3, 1e-2, 0.1, 0.5) if x / q >= 2})
        pts += [(q, 0.5, t, 1e-10) for t in ts if q * t <= 0.5]
    return pts


def random_points(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = float(10 ** rng.uniform(math.log10(0.3), math.log10(1.5)))
        q = float(10 ** rng.uniform(-6, -2))
        qt = float(10 ** rng.uniform(-3, math.log10(0.5)))
        t = max(2, int(round(qt / q)))
        d = float(10 ** rng.uniform(-12, -5))
        out.append((q, s, t, d))
    return out


def call(mod, g, d):
    try:
        r = mod.fewpart_epsilon(g, d)
        return r[0], r[1]
    except ArithmeticError:
        return math.nan, math.nan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-sigma05", action="store_true")
    a = ap.parse_args()
    sys.path.insert(0, a.old)
    import importlib
    old = importlib.import_module("ewacct_old.methods.fewpart")
    new = importlib.import_module("ewacct.methods.fewpart")
    pts = ([] if a.no_sigma05 else sigma05_points()) + random_points(a.random, a.seed)
    for mod in (old, new):
        mod.fewpart_epsilon([(0.001, 0.5, 10)], 1e-10)
    ratios, to, tn, dev, dev_old = [], [], [], [], []
    for q, s, t, d in pts:
        g = [(q, s, t)]
        vo, eo = call(old, g, d)
        vn, en = call(new, g, d)
        tto, ttn = [], []
        for r in range(a.repeats):
            for mod, acc in ((old, tto), (new, ttn)) if r % 2 == 0 else ((new, ttn), (old, tto)):
                c0 = time.process_time()
                call(mod, g, d)
                acc.append(time.process_time() - c0)
        mo, mn = statistics.median(tto), statistics.median(ttn)
        ratios.append(mo / mn)
        to.append(mo)
        tn.append(mn)
        if math.isfinite(vo) and math.isfinite(vn):
            x = abs(vn - vo) / (vo * max(eo, en))
            xo = abs(vn - vo) / (vo * eo)
            dev.append(x)
            dev_old.append(xo)
            dd = f"|new-old|/stated {x:.3f} (old's {xo:.3f})"
        else:
            dd = f"old {vo} new {vn}"
        print(f"q={q:.3g} s={s:.4g} T={t} d={d:.3g} eps old {vo:.12g} ({eo:.2g}) new {vn:.12g} ({en:.2g}) "
              f"{1e3 * mo:.1f} -> {1e3 * mn:.1f} ms ({mo / mn:.2f}x) {dd}", flush=True)
    print(f"points {len(pts)}: per-point ratio old/new median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.2f} max {max(ratios):.2f}); time median old {1e3 * statistics.median(to):.1f} "
          f"new {1e3 * statistics.median(tn):.1f} ms, max old {1e3 * max(to):.1f} new {1e3 * max(tn):.1f} ms, "
          f"sum old {sum(to):.2f} new {sum(tn):.2f} s; max |new-old|/stated {max(dev, default=0):.3f} "
          f"(old's stated {max(dev_old, default=0):.3f})")


if __name__ == "__main__":
    main()
