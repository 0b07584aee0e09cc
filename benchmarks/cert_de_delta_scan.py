"""Certified delta(eps) against certified eps(delta) on issue 9's random grid (helper H-DE, session 14).

For each point (sigma, q, T, delta) of benchmarks/certified_sweep.py's grid: the certified eps(delta) bracket,
then the certified delta(eps) bracket at that bracket's midpoint eps.  Both are proofs about the same
trade-off curve, so delta's bracket should contain about delta, and its relative width should be comparable to
what the eps bracket implies.  A point is "DWIDE" where delta's relative width exceeds 1e-4 (issue 9's target,
``bounds.certify._too_wide``) and 10x the width the eps bracket implies (its width times |d log delta / d eps|,
the slope from the default estimate).

    python benchmarks/cert_de_delta_scan.py [--n 40] [--seed 9] [--wide-grid] [--list]

CPU times (time.process_time) of each certified query, caches cleared before each point.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from certified_sweep import grid, wide  # noqa: E402

from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.bounds.certify import clear_memo  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402


def point(s: float, q: float, T: int, d: float) -> dict:
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, min(q, 1.0)), T)
    out: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.process_time()
        try:
            r = acc.get_epsilon(d, certify=True)
            out.update(elo=float(r.lower), ehi=float(r.upper), esrc=str(r.certified_by))
        except Exception as exc:  # noqa: BLE001 - counted
            out["error"] = f"eps: {type(exc).__name__}: {exc}"
            return out
        out["te"] = time.process_time() - t0
        eps = 0.5 * (out["elo"] + out["ehi"])
        out["eps"] = eps
        if not (eps > 0.0):
            return out
        clear_caches()
        clear_memo()
        acc = Accountant().compose(PoissonSubsampledGaussian(s, min(q, 1.0)), T)
        t0 = time.process_time()
        try:
            r = acc.get_delta(eps, certify=True)
            out.update(dlo=float(r.lower), dhi=float(r.upper), dsrc=str(r.certified_by))
        except Exception as exc:  # noqa: BLE001 - counted
            out["error"] = f"delta: {type(exc).__name__}: {exc}"
        out["td"] = time.process_time() - t0
        # the slope |d log delta / d eps| from the default estimate (a guide): the eps bracket's width times it
        # is the relative width of delta that eps's bracket corresponds to
        try:
            acc = Accountant().compose(PoissonSubsampledGaussian(s, min(q, 1.0)), T)
            r1 = float(acc.get_delta(eps).value)
            r2 = float(acc.get_delta(eps * (1.0 + 1e-4)).value)
            slope = abs(math.log(r1) - math.log(r2)) / (eps * 1e-4)
            out["implied"] = (out["ehi"] - out["elo"]) * slope
        except Exception:  # noqa: BLE001 - a guide only
            out["implied"] = math.nan
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--wide-grid", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--point", type=float, nargs=4, action="append", help="sigma q T delta (instead of the grid)")
    a = ap.parse_args(argv)
    point(1.0, 1e-4, 10, 1e-5)  # warm the kernels
    pts = ([(p[0], p[1], int(p[2]), p[3]) for p in a.point] if a.point else grid(a.n, a.seed, a.wide_grid))
    rows = []
    for s, q, T, d in pts:
        r = point(s, q, T, d)
        r.update(s=s, q=q, T=T, d=d)
        rows.append(r)
        if "dhi" in r:
            r["dw"] = (r["dhi"] - r["dlo"]) / r["dhi"] if r["dhi"] > 0 else 0.0
            r["ew"] = (r["ehi"] - r["elo"]) / r["ehi"] if r["ehi"] > 0 else 0.0
            imp = r.get("implied", math.nan)
            r["dwide"] = r["dw"] > 1e-4 and not (imp >= 0.1 * r["dw"])
        if a.list:
            if "error" in r:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: ERROR {r['error']}", flush=True)
            elif "dhi" in r:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g} eps={r['eps']:.6g}: eps rel {r['ew']:.1e} "
                      f"({r['te'] * 1e3:.0f} ms) implied {r.get('implied', math.nan):.1e} delta [{r['dlo']:.8g}, {r['dhi']:.8g}] rel {r['dw']:.1e} "
                      f"({r['td'] * 1e3:.0f} ms){' DWIDE' if r['dwide'] else ''} | {r['dsrc'][:70]}", flush=True)
            else:
                print(f"sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g}: eps {r.get('eps')}", flush=True)
    done = [r for r in rows if "dhi" in r]
    td = sorted(r["td"] for r in done) or [0.0]
    print(f"points {len(rows)} seed {a.seed}{' wide grid' if a.wide_grid else ''}: delta queries {len(done)}, "
          f"delta wide beyond eps's: {sum(r['dwide'] for r in done)}, delta wide: {sum(r['dw'] > 1e-4 for r in done)}, "
          f"errors {sum('error' in r for r in rows)}, delta CPU ms median {statistics.median(td) * 1e3:.1f} "
          f"max {td[-1] * 1e3:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
