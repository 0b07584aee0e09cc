"""Session 16 (H-FW): certified eps(delta) at the corner points with the conditioned bracket's body laws by convex order
(C14, fewpart_cond.ICX = True) or as before (C2's rounded laws, --off).  CPU seconds per certified query (a fresh
accountant each, the process warm: one untimed query first), the bracket, its width against issue 9's target.

    python benchmarks/certfw_s16_icx_points.py [--off] [--cond-quick=N] [names...]
"""

from __future__ import annotations

import sys
import time

from ewacct import Accountant
from ewacct.bounds import fewpart_cond as fcd
from ewacct.bounds.certify import certified_epsilon
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG

POINTS = {
    "p2": (0.8363, 8.07e-6, 30, 1e-5),
    "p2b": (0.8363, 8.07e-6, 30, 6.75e-8),
    "F1": (0.30546527, 1.4234696e-3, 229, 3.21e-6),
    "p3b": (0.5573, 1.71e-5, 198, 2.567e-9),
    "p3c": (0.4726, 0.00598, 8, 1e-5),
    "s97": (0.97, 1.5e-6, 39, 2.7e-6),
    "t873": (0.5535, 2.17e-6, 873, 3.13e-11),
    "s49": (0.4905, 2.48e-5, 54, 5.5e-11),
    "s27": (0.2719, 5.62e-5, 65, 2.73e-7),
    "s55": (0.55, 1.71e-5, 198, 1e-10),
    "t1000": (0.5, 1e-6, 1000, 1e-12),
    "s30": (0.3, 1e-9, 3, 1e-14),
    "s39": (0.3961, 2.1e-5, 4, 4.26e-11),
    "p1": (0.4984, 1.95e-6, 57483, 8.07e-11),
}


def main(argv):
    off = "--off" in argv
    for a in argv:
        if a.startswith("--cond-quick="):  # try a certify.COND_QUICK (H-CT's gate; patch FW-2)
            from ewacct.bounds import certify

            certify.COND_QUICK = int(a.split("=", 1)[1])
    names = [a for a in argv if not a.startswith("--")] or list(POINTS)
    fcd.ICX = not off
    certified_epsilon(Accountant().compose(PSG(1.0, 1e-3), 5), 1e-6)  # warm-up (imports, Numba caches)
    for n in names:
        s, q, T, d = POINTS[n]
        acc = Accountant().compose(PSG(s, q), T)
        t = time.process_time()
        c = certified_epsilon(acc, d)
        dt = time.process_time() - t
        w = c.upper - c.lower
        tgt = 1e-4 * c.upper if c.upper >= 1e-3 else 1e-7
        src = "cond" if "conditioned" in c.source else ("rounded" if "rounded" in c.source else c.source[:12])
        print(f"{'off' if off else 'icx'} {n:6s} cpu {dt:6.3f} [{c.lower:.10g}, {c.upper:.10g}] w {w:.3e} "
              f"{'ok' if w <= tgt else 'WIDE'} {src}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
