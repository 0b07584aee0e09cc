"""Few-participation corner, certified eps(delta), session 15 (H-CC): breaker F1, the lead's width points and
session 14's misses, one line each: CPU of the certified query (fresh caches, warm process), bracket, width against
issue 9's target, the engine's estimate inside or not.  --ab runs every point twice in the same process, alternately
with session 14's conditioned bracket (fewpart_cond: JMAX 4, SPLIT_BODY_ERR False, FALLBACK False; "before") and the current one
("after").

    .venv/bin/python benchmarks/certcorner_c6_points.py [--ab] [--reps 1] [--only 0,3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.bounds import certify
from ewacct.bounds import fewpart_cond as fcd
from ewacct.methods.certified import clear_caches

POINTS = [(0.30546527, 1.4234696e-3, 229, 3.21e-6), (2.595, 3.36e-6, 252, 2.04e-10), (0.4984, 1.95e-6, 57483, 8.07e-11),
          (0.8363, 8.07e-6, 30, 6.75e-8), (1.0, 1e-6, 10000, 1e-12), (0.3149, 2.43e-3, 24, 2.4e-12),
          (0.2719, 5.62e-5, 65, 2.73e-7), (0.55, 1.71e-5, 198, 1e-10), (0.5573, 1.7103e-5, 198, 2.567e-9),
          (0.5, 1e-6, 1000, 1e-12), (0.97, 1.5e-6, 39, 2.7e-6), (0.3, 1e-3, 50, 1e-13),
          (0.7504, 9.009e-4, 217, 6.85e-10), (0.5128, 9.744e-4, 59, 2.7e-10), (0.8118, 2.016e-3, 77, 1.52e-10)]

NEW = {"JMAX": fcd.JMAX, "SPLIT_BODY_ERR": fcd.SPLIT_BODY_ERR, "FALLBACK": fcd.FALLBACK}
OLD = {"JMAX": fcd.JMAX_FIRST, "SPLIT_BODY_ERR": False, "FALLBACK": False}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--ab", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    Accountant().compose(PSG(1.0, 1e-4), 10).get_epsilon(1e-5, certify=True)  # warm (Numba, caches)
    Accountant().compose(PSG(0.97, 1.5e-6), 39).get_epsilon(2.7e-6, certify=True)
    pts = [POINTS[int(i)] for i in a.only.split(",")] if a.only else POINTS
    modes = [("before", OLD), ("after", NEW)] if a.ab else [("", NEW)]
    ts: dict[str, list[float]] = {m: [] for m, _ in modes}
    for s, q, T, d in pts:
        for _ in range(a.reps):
            for name, cfg in modes:
                for k, v in cfg.items():
                    setattr(fcd, k, v)
                clear_caches()
                certify.clear_memo()
                t = time.process_time()
                r = Accountant().compose(PSG(s, q), T).get_epsilon(d, certify=True)
                tc = time.process_time() - t
                ts[name].append(tc)
                lo, hi, est = float(r.lower), float(r.upper), float(r.estimate)
                wide = certify._too_wide("epsilon", lo, hi)
                inside = lo * (1 - 1e-12) <= est <= hi * (1 + 1e-12)
                print(f"{name:6s} ({s}, {q}, {T}, {d}) {tc * 1e3:7.0f} ms [{lo:.10g}, {hi:.10g}] width {hi - lo:.3g}"
                      f" rel {(hi - lo) / hi if hi > 0 else 0:.3g}{' WIDE' if wide else ''} est {est:.10g}"
                      f"{'' if inside else ' OUTSIDE'}", flush=True)
    for k, v in NEW.items():
        setattr(fcd, k, v)
    for name, v in ts.items():
        print(f"{name or 'CPU'} ms median {statistics.median(v) * 1e3:.0f} max {max(v) * 1e3:.0f} sum {sum(v):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
