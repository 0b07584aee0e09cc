"""Deterministic cost of the default eps(delta) query: kernel calls and nodes, per grid point.

    PYTHONPATH=<checkout> python benchmarks/speed_s17_counts.py [--json out.json]

Timings on a shared 2-core box move by +-15 % with the load; the work a query does does not.  For the grid
of ``benchmarks/exact_engine.py --grid`` (sigma 1, delta 1e-5) this counts, per query: complex log-MGF kernel
calls and the nodes they evaluate (contour, probe, interpolation samples), real kernel evaluations (K, K',
K'' on the real axis), and the CPU clock reads (time.process_time), by wrapping the names the engine
calls through.  Run it on two checkouts for a before/after that does not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import ewacct
from ewacct.methods import exact

GRID = [(q, T) for q in (0.001, 0.01, 0.1) for T in (10, 30, 100, 1000, 10**5, 10**9)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cnt = {"calls": 0, "nodes": 0, "real": 0, "clock": 0}
    c_err, c_real, c_many = exact.sg_composition_complex_err, exact.sg_composition_real, exact.sg_composition_real_many
    pt = time.process_time

    def k_err(qs, mus, ns, z, tl, err):
        cnt["calls"] += 1
        cnt["nodes"] += len(z)
        return c_err(qs, mus, ns, z, tl, err)

    def k_real(*a):
        cnt["real"] += 1
        return c_real(*a)

    def k_many(qs, mus, ns, ws, out):
        cnt["real"] += len(ws)
        return c_many(qs, mus, ns, ws, out)

    def clock():
        cnt["clock"] += 1
        return pt()

    exact.sg_composition_complex_err, exact.sg_composition_real = k_err, k_real
    exact.sg_composition_real_many = k_many
    warnings.simplefilter("ignore")
    rows = []
    print("| q | T | kernel calls | kernel nodes | real evaluations | CPU clock reads | method |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for q, T in GRID:
        ewacct.epsilon(noise_multiplier=1.0, sampling_probability=q, steps=T, target_delta=1e-5)  # load modules
        for k in cnt:
            cnt[k] = 0
        time.process_time = clock
        try:
            r = ewacct.epsilon(noise_multiplier=1.0 + 1e-9, sampling_probability=q, steps=T, target_delta=1e-5)
        finally:
            time.process_time = pt
        rows.append({"q": q, "T": T, **cnt, "method": r.method, "eps": float(r)})
        print(f"| {q:g} | {T:.0e} | {cnt['calls']} | {cnt['nodes']} | {cnt['real']} | {cnt['clock']} | {r.method} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
