"""delta(eps) of fewpart at 2-3 steps against the direct recursion (defect D3: an optimistic error estimate).

For sigma x q x T (2, 3) and eps at which delta ~ 1e-5, 1e-8, 1e-11 (from the direct recursion's eps(delta)),
compares fewpart_delta's (value, estimate) with ``ewacct.methods.direct.DirectShort`` (composite
Gauss-Legendre in x; shares nothing with the contour) and prints every point whose true relative error
exceeds its estimate (plus 1e-9, the reference's own accuracy).  Also times the queries (CPU).

Usage: python benchmarks/fewpart_d3_scan.py [--quick]
"""
from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def main() -> None:
    from ewacct.mechanisms import PoissonSubsampledGaussian
    from ewacct.methods.direct import DirectShort
    from ewacct.methods.fewpart import FewPartError, fewpart_delta

    quick = "--quick" in sys.argv
    sigmas = [0.3, 0.5, 0.7, 1.0, 1.5, 2.0] if not quick else [0.5, 1.0]
    qs = [1e-4, 1e-3, 1e-2, 0.05] if not quick else [1e-4, 1e-2]
    n_bad = n_all = n_ref = 0
    worst = 0.0
    cpu = 0.0
    for T in (2, 3):
        for s in sigmas:
            for q in qs:
                ds = DirectShort([(PoissonSubsampledGaussian(s, q), T)])
                for d in (1e-5, 1e-8, 1e-11):
                    try:
                        e0 = ds.epsilon(d)[0]
                    except Exception:  # noqa: BLE001
                        continue
                    for e in (e0, 0.7 * e0):
                        if not e > 0.0:
                            continue
                        ref, rrel = ds.delta_dir(e, "remove")
                        n_all += 1
                        t0 = time.process_time()
                        try:
                            got, rel, dirn = fewpart_delta([(q, s, T)], e, direction="remove")
                        except FewPartError as exc:
                            cpu += time.process_time() - t0
                            print(f"T={T} s={s} q={q:g} eps={e:.6g} REFUSED {str(exc)[:60]}")
                            continue
                        cpu += time.process_time() - t0
                        if rrel > 1e-9:
                            continue
                        n_ref += 1
                        err = abs(got - ref) / ref
                        worst = max(worst, err / max(rel, 1e-300))
                        if err > rel + 1e-9:
                            n_bad += 1
                            print(f"T={T} s={s} q={q:g} eps={e!r} delta={ref:.6e} err={err:.2e} est={rel:.2e} ratio={err / rel:.1f}")
    print(f"{n_bad} optimistic of {n_ref} compared ({n_all} points); cpu {cpu:.2f} s")


if __name__ == "__main__":
    main()
