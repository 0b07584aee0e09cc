"""Session 17 (H-SL): certified eps(delta) of PoissonSubsampledGaussian(sigma, q) x T near the tiny-loss point
(sigma 2.143, q 2.08e-6, T 212, delta 1.7e-9: q T = 4.4e-4, eps ~ 25 q), before (BEFORE: the settings at the
session's start) and after (AFTER: the module's) the H-SL commits, alternated per point: the conditioned contour of
docs/certified.md section 8 at any q T (CUT_QT_MIN 1 -> 0) and its abscissae up to 2^20 (CUT_C_J 60 -> 80).
CPU seconds (time.process_time), width, source.  Warm process, caches cleared before every call.

    python benchmarks/certsl_s17_scan.py [SEED] [N] [--wide]

--wide: random few-participation corner points (sigma 0.3-5, q 1e-7..1e-4, T 3..1e4, q T < 1, delta 1e-12..1e-5).
"""

from __future__ import annotations

import math
import random
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds.certify import clear_memo
from ewacct.methods import certified as C
from ewacct.methods.certified import clear_caches


#: the settings before session 17's H-SL commits: (CUT_QT_MIN, CUT_C_J)
BEFORE = (1.0, 60)
AFTER = (C.CUT_QT_MIN, C.CUT_C_J)


def one(s: float, q: float, T: int, d: float, setting):
    C.CUT_QT_MIN, C.CUT_C_J = setting
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(d, certify=True)
    return time.process_time() - t0, r


def points(seed: int, n: int):
    rng = random.Random(seed)
    if WIDE:
        # the few-participation corner at large (q <= 1e-4, q T < 1): where the gate change can newly route
        out = []
        while len(out) < n:
            s, q = round(rng.uniform(0.3, 5.0), 3), float(f"{10 ** rng.uniform(-7, -4):.3g}")
            T = int(10 ** rng.uniform(math.log10(3), 4))
            if q * T < 1.0:
                out.append((s, q, T, float(f"{10 ** rng.uniform(-12, -5):.3g}")))
        return out
    out = [(2.143, 2.08e-6, 212, 1.7e-9)]
    for _ in range(n - 1):
        out.append((round(rng.uniform(1.5, 3.0), 3), float(f"{10 ** rng.uniform(-6, -5):.3g}"),
                    int(10 ** rng.uniform(math.log10(50), math.log10(500))), float(f"{10 ** rng.uniform(-10, -8):.3g}")))
    return out


WIDE = "--wide" in sys.argv
if WIDE:
    sys.argv.remove("--wide")

if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    old, new = BEFORE, AFTER
    one(1.0, 1e-4, 10, 1e-5, new)  # warm-up (numba, Arb)
    one(2.0, 3e-6, 100, 1e-9, new)
    rows = []
    for i, (s, q, T, d) in enumerate(points(seed, n)):
        res = {}
        for tag, v in ((("before", old), ("after", new)) if i % 2 == 0 else (("after", new), ("before", old))):
            res[tag] = one(s, q, T, d, v)
        (tb, rb), (ta, ra) = res["before"], res["after"]
        ok = max(rb.lower, ra.lower) <= min(rb.upper, ra.upper)
        print(f"sigma {s} q {q:.3g} T {T} delta {d:.3g}: before {tb:.3f} s [{rb.lower:.9g}, {rb.upper:.9g}] "
              f"w {rb.upper - rb.lower:.2e} | after {ta:.3f} s [{ra.lower:.9g}, {ra.upper:.9g}] "
              f"w {ra.upper - ra.lower:.2e} overlap {ok} | {ra.certified_by[:60]}", flush=True)
        rows.append((tb, ta, rb.upper - rb.lower, ra.upper - ra.lower, ok, rb, ra))
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    wide = lambda r: r.upper - r.lower > (1e-4 * r.upper if r.upper >= 1e-3 else 1e-7)  # noqa: E731
    print(f"median CPU before {med([r[0] for r in rows]):.3f} s after {med([r[1] for r in rows]):.3f} s; "
          f"max before {max(r[0] for r in rows):.3f} after {max(r[1] for r in rows):.3f}; "
          f"over target before {sum(wide(r[5]) for r in rows)} after {sum(wide(r[6]) for r in rows)}; "
          f"all overlap {all(r[4] for r in rows)}")
