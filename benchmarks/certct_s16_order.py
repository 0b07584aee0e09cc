"""Session 16 (H-CT): the certified eps(delta) sweep's points where the contour gives no certificate, with the
narrowing sources run before the proven fallback (bounds/certify.NARROW_FIRST) off and on, alternated point by point
and repeated (caches cleared before each call; CPU time of bounds.certify._epsilon, default budget); medians.

    python benchmarks/certct_s16_order.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import certify as C
from ewacct.methods import certified as CM

POINTS = [(0.4726, 0.00598, 8, 0.000422), (0.3188, 2.32e-06, 75, 1.9e-08), (0.8018, 2.12e-05, 10, 2.09e-11),
          (2.595, 3.36e-06, 252, 2.04e-10), (0.4984, 1.95e-06, 57483, 8.07e-11)]


def one(p, on: bool):
    C.NARROW_FIRST = on
    CM.clear_caches()
    C.clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(p[0], p[1]), p[2])
    t = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = C._epsilon(acc, p[3], None)
    return time.process_time() - t, c.lower, c.upper, c.source


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    CM._warm_once()
    for p in POINTS:
        ts = {False: [], True: []}
        br = {}
        for _ in range(a.repeat):
            for on in (False, True):
                t, lo, hi, src = one(p, on)
                ts[on].append(t)
                br[on] = (lo, hi, src)
        print(f"sigma={p[0]} q={p[1]} T={p[2]} delta={p[3]}")
        for on in (False, True):
            lo, hi, src = br[on]
            print(f"   {'on ' if on else 'off'} {1e3 * statistics.median(ts[on]):7.1f} ms (runs "
                  f"{', '.join(f'{1e3 * t:.0f}' for t in ts[on])}) [{lo:.10g}, {hi:.10g}] {src[:70]}", flush=True)


if __name__ == "__main__":
    main()
