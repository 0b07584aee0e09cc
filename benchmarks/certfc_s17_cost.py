"""Session 17 (H-FC): the CPU cost of the few-participation conditioned bracket (bounds/fewpart_cond.epsilon_bracket)
at the points where it answers certified queries (issue 9), with its delta evaluations counted and its parts timed.

    python benchmarks/certfc_s17_cost.py [--reps N] [--ab NAME=OLD,NEW ...]

Each point: the default engine's estimate (as bounds/certify._fewpart_estimate), then epsilon_bracket(groups, delta,
estimate) timed by time.process_time() (caches cleared), the number of _Laws.delta calls, the bracket and its width.
--certify times the whole certified query instead (Accountant.get_epsilon(delta, certify=True), caches cleared).
--ab MODULE_FLAG=OLD,NEW alternates a module flag of fewpart_cond (e.g. SECANT=0,1) per point and repetition.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import fewpart_cond

POINTS = [
    (0.30546527, 1.4234696e-3, 229, 3.21e-6),  # breaker F1
    (0.3149, 2.43e-3, 24, 2.4e-12),
    (0.3608, 1.47e-3, 65, 2.73e-7),
]

CALLS = {"delta": 0}
_orig_delta = fewpart_cond._Laws.delta


def _counted(self, eps, upper):
    CALLS["delta"] += 1
    return _orig_delta(self, eps, upper)


fewpart_cond._Laws.delta = _counted


def estimate(s, q, T, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon(d).value)


CERTIFY = [False]


def once(s, q, T, d, est):
    CALLS["delta"] = 0
    if CERTIFY[0]:  # the whole certified query (certify.py's sources in order), caches cleared
        from ewacct.bounds.certify import clear_memo
        from ewacct.methods.certified import clear_caches

        clear_caches()
        clear_memo()
        acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = acc.get_epsilon(d, certify=True)
        return time.process_time() - t0, (c.lower, c.upper), CALLS["delta"]
    t0 = time.process_time()
    r = fewpart_cond.epsilon_bracket([(PoissonSubsampledGaussian(s, q), T)], d, est, time_budget=60.0)
    return time.process_time() - t0, r, CALLS["delta"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ab", default=None, help="FLAG=OLD,NEW: a fewpart_cond flag alternated")
    ap.add_argument("--points", default=None, help="indices, e.g. 0,2")
    ap.add_argument("--certify", action="store_true", help="time get_epsilon(delta, certify=True) instead")
    a = ap.parse_args(argv)
    CERTIFY[0] = a.certify
    pts = POINTS if a.points is None else [POINTS[int(i)] for i in a.points.split(",")]
    variants = [(None, None)]
    if a.ab:
        name, vals = a.ab.split("=")
        variants = [(name, eval(v)) for v in vals.split(",")]  # noqa: S307 - a benchmark's own flags
    ests = {p: estimate(*p) for p in pts}
    once(*pts[0], ests[pts[0]])  # warm (numba, imports)
    res: dict = {}
    for rep in range(a.reps):
        for p in pts:
            for name, val in (variants if rep % 2 == 0 else variants[::-1]):
                if name is not None:
                    setattr(fewpart_cond, name, val)
                t, r, n = once(*p, ests[p])
                res.setdefault((p, val), []).append((t, r, n))
    for p in pts:
        print(f"sigma={p[0]} q={p[1]} T={p[2]} delta={p[3]} estimate={ests[p]!r}")
        for name, val in variants:
            rs = res[(p, val)]
            ts = [x[0] for x in rs]
            r = rs[-1][1]
            br = "None" if r is None else f"[{r[0]!r}, {r[1]!r}] width {r[1] - r[0]:.6g} rel {(r[1] - r[0]) / r[1]:.3g}"
            lab = "" if name is None else f"{name}={val!r}: "
            print(f"  {lab}CPU median {statistics.median(ts):.3f} s (all {', '.join(f'{x:.3f}' for x in ts)}) "
                  f"delta evals {rs[-1][2]} {br}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
