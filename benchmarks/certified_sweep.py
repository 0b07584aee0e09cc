"""Issue 9's cost and width acceptance on a random grid: certified eps(delta) of one subsampled-Gaussian
composition, ``Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta, certify=True)``.

Grid (log-uniform, fixed seed): q in [1e-6, 1], sigma in [0.3, 50], T in [1, 1e9], delta in [1e-12, 0.1].
Each point: a fresh accountant with every certificate cache cleared (kernels compiled once before the
clock: a warm process), CPU time of the call (time.process_time: the machine is shared).  Wide means
(upper - lower) / upper > 1e-4 where eps >= 1e-3, or upper - lower > 1e-7 below.

    python benchmarks/certified_sweep.py [--n 60] [--seed 9] [--check] [--list] [--wide-grid]

``--wide-grid`` draws q in [1e-9, 1] and sigma in [0.2, 1e3] instead (T and delta as above).

``--check`` also evaluates the default estimate (not timed) and counts points where it lies outside
the bracket (relative slack 1e-9).  ``--list`` prints every point.
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

LIMIT_S = 0.100


def grid(n: int, seed: int, wide_grid: bool = False) -> list[tuple[float, float, int, float]]:
    rng = random.Random(seed)
    s_lo, s_hi, q_lo = (0.2, 1e3, -9.0) if wide_grid else (0.3, 50.0, -6.0)
    pts = []
    for _ in range(n):
        s = 10 ** rng.uniform(math.log10(s_lo), math.log10(s_hi))
        q = 10 ** rng.uniform(q_lo, 0.0)
        T = max(1, int(round(10 ** rng.uniform(0.0, 9.0))))
        d = 10 ** rng.uniform(-12.0, -1.0)
        pts.append((s, q, T, d))
    return pts


def wide(lo: float, hi: float) -> bool:
    if hi >= 1e-3:
        return (hi - lo) > 1e-4 * hi
    return (hi - lo) > 1e-7


def run_point(s: float, q: float, T: int, d: float) -> dict:
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, min(q, 1.0)), T)
    t0 = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = acc.get_epsilon(d, certify=True)
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not hide them
        return {"t": time.process_time() - t0, "error": f"{type(exc).__name__}: {exc}"}
    t = time.process_time() - t0
    return {"t": t, "lo": float(r.lower), "hi": float(r.upper), "src": str(r.certified_by)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--check", action="store_true", help="containment of the default estimate")
    ap.add_argument("--list", action="store_true", help="print every point")
    ap.add_argument("--wide-grid", action="store_true",
                    help="the wider grid: q in [1e-9, 1], sigma in [0.2, 1e3]")
    a = ap.parse_args(argv)
    # warm: compile/load the kernels and the certificate's first-call work before any clock
    run_point(1.0, 1e-4, 10, 1e-5)
    run_point(16.0, 1e-4, 1000, 1e-9)
    # ... and the few-participation corner's (the rounded and conditioned brackets' Numba kernels)
    run_point(0.97, 1.5e-6, 39, 2.7e-6)
    run_point(0.5, 1e-3, 10, 1e-10)
    # ... and the closed forms' (T = 1: the first one imported scipy.optimize inside the clock, 0.18-0.25 s)
    run_point(2.0, 0.01, 1, 1e-6)
    rows = []
    for s, q, T, d in grid(a.n, a.seed, a.wide_grid):
        r = run_point(s, q, T, d)
        r.update(s=s, q=q, T=T, d=d)
        if a.check and "error" not in r:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = float(Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon(d).value)
            r["est"] = est
            r["outside"] = not (r["lo"] * (1 - 1e-9) - 1e-300 <= est <= r["hi"] * (1 + 1e-9) + 1e-300)
        r["wide"] = "error" in r or wide(r["lo"], r["hi"])
        rows.append(r)
        if a.list:
            extra = (f" est={r['est']:.6g}{' OUTSIDE' if r['outside'] else ''}" if "est" in r else "")
            if "error" in r:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: {r['t'] * 1e3:7.1f} ms ERROR {r['error']}")
            else:
                w = (r["hi"] - r["lo"]) / r["hi"] if r["hi"] > 0 else 0.0
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: {r['t'] * 1e3:7.1f} ms "
                      f"[{r['lo']:.8g}, {r['hi']:.8g}] rel {w:.1e}{' WIDE' if r['wide'] else ''}"
                      f"{extra} | {r['src'][:60]}", flush=True)
    ts = sorted(r["t"] for r in rows)
    p90 = ts[min(len(ts) - 1, int(math.ceil(0.9 * len(ts))) - 1)]
    print(f"points {len(rows)}  seed {a.seed}{'  wide grid' if a.wide_grid else ''}  CPU ms: median {statistics.median(ts) * 1e3:.1f}  "
          f"p90 {p90 * 1e3:.1f}  max {ts[-1] * 1e3:.1f}  over {LIMIT_S * 1e3:.0f} ms: "
          f"{sum(t > LIMIT_S for t in ts)}  wide: {sum(r['wide'] for r in rows)}  "
          f"errors: {sum('error' in r for r in rows)}"
          + (f"  estimate outside: {sum(r.get('outside', False) for r in rows)}" if a.check else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
