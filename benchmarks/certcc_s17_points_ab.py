"""Session 17 (H-CC): the slow points of benchmarks/certified_sweep.py (seeds 9, 101, 202), this session's changes off
and on alternated in one process, CPU time (time.process_time), medians over --repeat pairs; each point warm (run once
before its pairs), every certificate cache cleared before each run.

    python benchmarks/certcc_s17_points_ab.py [--repeat 5] [--only SUBSTRING]

off: certified.SHORT_REUSE / WORK_SETTLE = False, certified_quant.EPS_ABS = 0, certify.WIDE_EPS_ABS = 0,
certify.COND_QUICK_NARROW = COND_QUICK (2^16).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import certify
from ewacct.bounds.certify import clear_memo
from ewacct.methods import certified, certified_quant
from ewacct.methods.certified import clear_caches

#: (sigma, q, T, delta): every point over 100 ms in the session-16-end sweeps (seed 9 n 60, seeds 101 / 202 n 40)
POINTS = [
    (2.595, 3.36e-06, 252, 2.04e-10), (0.4726, 0.00598, 8, 0.000422), (0.3188, 2.32e-06, 75, 1.9e-08),
    (0.4984, 1.95e-06, 57483, 8.07e-11), (0.5166, 0.000124, 121, 0.00038), (0.8018, 2.12e-05, 10, 2.09e-11),
    (1.004, 3.45e-05, 45756, 1.48e-10), (0.3149, 0.00243, 24, 2.4e-12), (0.3961, 2.1e-05, 4, 4.26e-11),
    (2.779, 0.000536, 470, 2.79e-12), (0.3608, 0.00147, 65, 2.73e-07), (11.22, 1.66e-06, 173, 6.28e-10),
    (1.793, 2.21e-06, 56, 1.67e-08), (0.7734, 0.0022, 16, 3.98e-12), (6.58, 2.73e-06, 12163, 6.61e-06),
    (26.97, 2.13e-06, 2567, 2.56e-07), (0.3207, 1.14e-05, 12891, 1.42e-06),
]


def _set(on: bool) -> None:
    certified.SHORT_REUSE = on
    certified.WORK_SETTLE = on
    certified_quant.EPS_ABS = 1e-3 if on else 0.0
    certify.WIDE_EPS_ABS = 1e-3 if on else 0.0
    certify.COND_QUICK_NARROW = 1 << 18 if on else certify.COND_QUICK


def once(s, q, T, d):
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
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="")
    a = ap.parse_args(argv)
    once(1.0, 1e-4, 10, 1e-5)
    once(0.97, 1.5e-6, 39, 2.7e-6)
    once(0.5, 1e-3, 10, 1e-10)
    tot = {False: 0.0, True: 0.0}
    for p in POINTS:
        if a.only and a.only not in repr(p):
            continue
        once(*p)
        ts = {False: [], True: []}
        br = {}
        for _ in range(a.repeat):
            for on in (False, True):
                _set(on)
                t, r = once(*p)
                ts[on].append(t)
                br[on] = (r.lower, r.upper, r.certified_by[:28])
        _set(True)
        m = {on: statistics.median(ts[on]) for on in ts}
        for on in m:
            tot[on] += m[on]
        w = {on: br[on][1] - br[on][0] for on in br}
        print(f"sigma={p[0]} q={p[1]} T={p[2]} delta={p[3]}: off {m[False] * 1e3:7.1f} ms, on {m[True] * 1e3:7.1f} ms "
              f"(x{m[True] / m[False]:.2f}); width {w[False]:.2e} -> {w[True]:.2e}; "
              f"overlap {max(br[False][0], br[True][0]) <= min(br[False][1], br[True][1])}; {br[True][2]}", flush=True)
    print(f"sum of medians: off {tot[False]:.2f} s, on {tot[True]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
