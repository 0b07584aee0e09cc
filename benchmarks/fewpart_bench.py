"""Few-participation corner of the exact engine (issue 8): accuracy against references and warm time.

For every point of the grid (q in {1e-6 .. 1e-2} x sigma in {0.5, 1, 2, 5} x T with q T in
[1e-4, 0.5] x delta in {1e-5, 1e-10}, plus the corner points named in the issue) this script

* times ``ewacct.methods.fewpart.fewpart_epsilon`` warm (the median of ``--repeats`` calls after one
  untimed call; each call starts from scratch, nothing is cached between calls),
* computes references with engines that share no quadrature with it: the contour engine of
  ``ewacct.methods.exact`` (trapezoid in u, untruncated kernel), the direct recursion of
  ``ewacct.methods.direct`` for T <= 3, and optionally (``--old-ref COMMIT``) the previous fewpart
  implementation loaded from git at rtol 1e-9 (adaptive Gauss-Kronrod with other abscissae and
  node placement),
* reports the relative difference to every reference that answered, and the time distribution.

Usage:  python benchmarks/fewpart_bench.py [--workers N] [--repeats R] [--out results.json]
        [--old-ref <commit>] [--quick] [--extra]
(``--extra``: instead of the grid, 3 steps at q = 1e-5, delta = 1e-9 and sigma in {0.05 .. 0.15}; the
contour reference rarely settles there: see tests/test_fewpart.py for their references)
Timings depend on the machine's load; run it unloaded (numbers measured under load are upper-side).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CORNER = [(0.01, 1.0, 10), (1e-3, 1.0, 100), (1e-3, 1.0, 10), (1e-4, 1.0, 3), (1e-4, 1.0, 100),
          (0.05, 1.5, 10), (1e-3, 0.5, 100), (1e-3, 5.0, 100)]
#: ``--extra``: three steps at q = 1e-5, delta = 1e-9, and sigma below 0.2 (q, sigma, T, delta)
EXTRA = ([(1e-5, s, 3, 1e-9) for s in (0.5, 0.7, 1.0, 2.0, 5.0)]
         + [(1e-3, 0.061, 10, 1e-5), (1e-4, 0.061, 100, 1e-10), (1e-2, 0.061, 10, 1e-5), (1e-6, 0.05, 1000, 1e-10),
            (1e-3, 0.1, 10, 1e-5), (1e-4, 0.1, 100, 1e-10), (1e-2, 0.1, 30, 1e-6), (1e-3, 0.15, 10, 1e-5)])


def grid(quick: bool = False, extra: bool = False) -> list[tuple[float, float, int, float]]:
    if extra:
        return list(EXTRA)
    pts = []
    qs = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
    sigmas = [0.5, 1.0, 2.0, 5.0]
    qts = [1e-4, 1e-3, 1e-2, 0.1, 0.5]
    if quick:
        qs, sigmas, qts = [1e-5, 1e-3], [0.5, 1.0, 5.0], [1e-3, 0.1, 0.5]
    for q in qs:
        ts = sorted({max(4, int(round(x / q))) for x in qts if x / q >= 2})
        ts = [t for t in ts if q * t <= 0.5]
        for s in sigmas:
            for t in ts:
                for d in (1e-5, 1e-10):
                    pts.append((q, s, t, d))
    for q, s, t in CORNER:
        for d in (1e-5, 1e-10):
            pts.append((q, s, t, d))
    return pts


_OLD = None


def _load_old(commit: str):
    src = subprocess.run(["git", "show", f"{commit}:ewacct/methods/fewpart.py"], capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout
    src = src.replace("from .._kernels.", "from ewacct._kernels.")
    path = os.path.join(tempfile.mkdtemp(), "fewpart_old.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("fewpart_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_point(args):
    q, s, t, d, repeats, old_commit, refs_on = args
    from ewacct.methods import fewpart

    out = {"q": q, "sigma": s, "T": t, "delta": d}
    g = [(q, s, t)]
    try:
        eps, rel, dirn = fewpart.fewpart_epsilon(g, d)
        times, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            fewpart.fewpart_epsilon(g, d)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out.update(eps=eps, rel=rel, direction=dirn, ms=1e3 * statistics.median(times),
                   cpu_ms=1e3 * statistics.median(cpu))
    except ArithmeticError as exc:
        out.update(eps=None, error=f"{type(exc).__name__}: {exc}")
    refs = {}
    if not refs_on:
        out["refs"], out["reldiff"] = refs, {}
        return out
    if t <= 3:
        try:
            from ewacct.mechanisms import PoissonSubsampledGaussian
            from ewacct.methods import direct

            refs["direct"] = direct.DirectShort([(PoissonSubsampledGaussian(s, q), t)]).epsilon(d)[0]
        except Exception as exc:  # noqa: BLE001 - a reference that does not answer is reported
            out["direct_error"] = str(exc)[:200]
    try:
        from ewacct.mechanisms import PoissonSubsampledGaussian
        from ewacct.methods.exact import ExactMethod

        em = ExactMethod([(PoissonSubsampledGaussian(s, q), t)])
        c0 = time.process_time()
        try:
            v, _, rel_c, _ = em.epsilon(d)
        finally:
            out["contour_cpu_ms"] = 1e3 * (time.process_time() - c0)
        if rel_c <= 1e-7:
            refs["contour"] = v
    except Exception as exc:  # noqa: BLE001
        out["contour_error"] = str(exc)[:200]
    if old_commit:
        global _OLD
        try:
            if _OLD is None:
                _OLD = _load_old(old_commit)
            _OLD.fewpart_epsilon(g, d, rtol=1e-9)
            t0, c0 = time.perf_counter(), time.process_time()
            refs["old_fewpart"] = _OLD.fewpart_epsilon(g, d, rtol=1e-9)[0]
            out["old_ms"], out["old_cpu_ms"] = 1e3 * (time.perf_counter() - t0), 1e3 * (time.process_time() - c0)
        except Exception as exc:  # noqa: BLE001
            out["old_error"] = str(exc)[:200]
    out["refs"] = refs
    if out.get("eps") is not None:
        out["reldiff"] = {k: abs(out["eps"] - v) / max(abs(v), 1e-300) for k, v in refs.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="")
    ap.add_argument("--old-ref", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--extra", action="store_true", help="only the 3-step and sigma < 0.2 points (EXTRA)")
    ap.add_argument("--no-refs", action="store_true", help="time fewpart only")
    ap.add_argument("--only", default="", help="comma-separated q values to run")
    a = ap.parse_args()
    pts = grid(a.quick, a.extra)
    if a.only:
        keep = {float(x) for x in a.only.split(",")}
        pts = [p for p in pts if p[0] in keep]
    # compile once in the parent; forked workers inherit the compiled kernels
    from ewacct.methods import fewpart

    fewpart.fewpart_epsilon([(1e-3, 1.0, 10)], 1e-5)
    jobs = [(q, s, t, d, a.repeats, a.old_ref, not a.no_refs) for q, s, t, d in pts]
    if a.workers > 1:
        import multiprocessing as mpc

        with mpc.get_context("fork").Pool(a.workers) as pool:
            res = pool.map(run_point, jobs, chunksize=1)
    else:
        res = [run_point(j) for j in jobs]
    ok = [r for r in res if r.get("eps") is not None]
    ms = sorted(r["ms"] for r in ok)
    cms = sorted(r["cpu_ms"] for r in ok)
    worst = max((max(r["reldiff"].values()) for r in ok if r["reldiff"]), default=float("nan"))
    for r in res:
        rd = r.get("reldiff", {})
        print(f"q={r['q']:.0e} s={r['sigma']:<4} T={r['T']:<7} d={r['delta']:.0e} "
              + (f"eps={r['eps']:.10g} est={r['rel']:.1e} {r['ms']:8.1f} ms (cpu {r['cpu_ms']:6.1f}) "
                 + (f"old {r['old_cpu_ms']:7.1f} cpu-ms " if "old_cpu_ms" in r else "") if r.get("eps") is not None
                 else f"REFUSED {r['error'][:80]} ")
              + " ".join(f"{k}:{v:.1e}" for k, v in rd.items()))
    if ms:
        q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]  # noqa: E731
        print(f"\n{len(ok)}/{len(res)} answered; warm ms: median {statistics.median(ms):.1f}, p75 {q(0.75):.1f}, "
              f"p90 {q(0.9):.1f}, max {ms[-1]:.1f}; <= 20 ms: {sum(m <= 20 for m in ms)}/{len(ms)}; "
              f"worst rel diff to a reference {worst:.2e}")
        print(f"cpu ms: median {statistics.median(cms):.1f}, max {cms[-1]:.1f}; <= 20 ms: {sum(m <= 20 for m in cms)}/{len(cms)}")
        olds = [(r["old_cpu_ms"], r["cpu_ms"]) for r in ok if "old_cpu_ms" in r]
        if olds:
            rat = sorted(o / n for o, n in olds)
            print(f"speed-up over the old fewpart (cpu time, same run): median {statistics.median(rat):.1f}x, "
                  f"min {rat[0]:.1f}x, max {rat[-1]:.1f}x")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
