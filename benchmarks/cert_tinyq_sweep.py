"""Certified eps(delta) at tiny q and huge T (issue 9's width target; helper H-T, session 13).

Random log-uniform points: q in [Q_LO, Q_HI], T in [1e6, 1e9], sigma in [0.3, 2], delta in [1e-12, 1e-6]
(``--q-lo -6`` keeps issue 9's grid, q >= 1e-6; the default also draws q down to 1e-7, the wide grid's
corner).  Each point: a fresh accountant with the certificate caches cleared, CPU time of
``get_epsilon(delta, certify=True)`` (warm kernels).  Wide: (upper - lower) / upper > 1e-4 (eps >= 1e-3),
upper - lower > 1e-7 below; also counted: > 1e-5.

    python benchmarks/cert_tinyq_sweep.py [--n 30] [--seed 1] [--q-lo -7] [--q-hi -5] [--list]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds.certify import clear_memo
from ewacct.methods.certified import clear_caches


def grid(n: int, seed: int, q_lo: float, q_hi: float) -> list[tuple[float, float, int, float]]:
    rng = random.Random(seed)
    pts = []
    for _ in range(n):
        s = 10 ** rng.uniform(math.log10(0.3), math.log10(2.0))
        q = 10 ** rng.uniform(q_lo, q_hi)
        T = int(round(10 ** rng.uniform(6.0, 9.0)))
        d = 10 ** rng.uniform(-12.0, -6.0)
        pts.append((s, q, T, d))
    return pts


def run_point(s: float, q: float, T: int, d: float) -> dict:
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    t0 = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = acc.get_epsilon(d, certify=True)
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures
        return {"t": time.process_time() - t0, "error": f"{type(exc).__name__}: {exc}"}
    return {"t": time.process_time() - t0, "lo": float(r.lower), "hi": float(r.upper), "src": str(r.certified_by)}


def rel_width(r: dict) -> float:
    if "error" in r:
        return math.inf
    lo, hi = r["lo"], r["hi"]
    if hi >= 1e-3:
        return (hi - lo) / hi
    return (hi - lo) / 1e-3  # below eps 1e-3 the target is an absolute 1e-7 = 1e-4 * 1e-3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--q-lo", type=float, default=-7.0)
    ap.add_argument("--q-hi", type=float, default=-5.0)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)
    run_point(1.0, 1e-4, 10, 1e-5)
    run_point(0.6, 1e-6, 10 ** 7, 1e-9)
    rows = []
    for s, q, T, d in grid(a.n, a.seed, a.q_lo, a.q_hi):
        r = run_point(s, q, T, d)
        r.update(s=s, q=q, T=T, d=d, w=rel_width(r))
        rows.append(r)
        if a.list:
            if "error" in r:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: {r['t']:.2f} s ERROR {r['error']}", flush=True)
            else:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: {r['t']:.2f} s [{r['lo']:.8g}, {r['hi']:.8g}] "
                      f"rel {r['w']:.1e}{' WIDE' if r['w'] > 1e-4 else ''} | {r['src'][:50]}", flush=True)
    ts = [r["t"] for r in rows]
    print(f"points {len(rows)} seed {a.seed} q 1e{a.q_lo:g}..1e{a.q_hi:g}: CPU s median {statistics.median(ts):.3f} "
          f"max {max(ts):.2f}  over 1e-4: {sum(r['w'] > 1e-4 for r in rows)}  over 1e-5: "
          f"{sum(r['w'] > 1e-5 for r in rows)}  errors: {sum('error' in r for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
