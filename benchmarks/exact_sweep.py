"""Random sweep of the default eps(delta) (helper H-E, 2026-11-30): coverage, time tail, exceptions, NaN,
hangs, monotonicity in T.

    python benchmarks/exact_sweep.py std  out.jsonl   # 200 points: q in [1e-9, 1], sigma in [0.2, 1e3],
                                                      # T in [1, 1e9], delta in [1e-12, 0.1] (log-uniform)
    python benchmarks/exact_sweep.py wide out.jsonl   # 160 points, sigma in [0.05, 1e4], every 8th with
                                                      # q = 1, T = 1, delta in [0.2, 0.5], sigma < 0.3 or
                                                      # > 1e3; each also at 2T (monotonicity)
    python benchmarks/exact_sweep.py stats out.jsonl

One JSON line per point (CPU time by process_time; a 60 s alarm marks a hang).
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
import warnings

import numpy as np

from ewacct import Accountant, PoissonSubsampledGaussian


class Hang(Exception):
    pass


def _alarm(*_a):
    raise Hang()


def q1(q, s, T, d):
    acc = Accountant()
    acc.compose(PoissonSubsampledGaussian(s, q), T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(d)


def run(q, s, T, d):
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    t0 = time.process_time()
    try:
        r = q1(q, s, T, d)
        out = dict(eps=float(r), method=str(r.method), valid=bool(r.valid), rel=r.diagnostics.get("rel_error"),
                   err=str(r.diagnostics.get("error", ""))[:200])
    except Hang:
        out = dict(exc="HANG>60s")
    except Exception as e:  # noqa: BLE001 - the sweep records every exception
        out = dict(exc=f"{type(e).__name__}: {e}"[:300])
    finally:
        signal.alarm(0)
    out["cpu"] = time.process_time() - t0
    return out


def points(kind):
    rng = np.random.default_rng(20261130 if kind == "std" else 7)
    pts = []
    if kind == "std":
        for _ in range(200):
            q = math.exp(rng.uniform(math.log(1e-9), 0.0))
            s = math.exp(rng.uniform(math.log(0.2), math.log(1e3)))
            T = max(1, int(math.exp(rng.uniform(0.0, math.log(1e9)))))
            d = math.exp(rng.uniform(math.log(1e-12), math.log(0.1)))
            pts.append((q, s, T, d))
        return pts
    for i in range(160):
        q = math.exp(rng.uniform(math.log(1e-9), 0.0))
        s = math.exp(rng.uniform(math.log(0.05), math.log(1e4)))
        T = max(1, int(math.exp(rng.uniform(0.0, math.log(1e9)))))
        d = math.exp(rng.uniform(math.log(1e-12), math.log(0.5)))
        k = i % 8
        if k == 1:
            q = 1.0
        elif k == 2:
            T = 1
        elif k == 3:
            d = math.exp(rng.uniform(math.log(0.2), math.log(0.5)))
        elif k == 4:
            s = math.exp(rng.uniform(math.log(0.05), math.log(0.3)))
        elif k == 5:
            s = math.exp(rng.uniform(math.log(1e3), math.log(1e4)))
        pts.append((q, s, T, d))
    return pts


def stats(path):
    res = [json.loads(line) for line in open(path) if line.startswith("{")]
    cpu = np.array([r["cpu"] for r in res])
    print(f"n={len(res)} median={1e3 * np.median(cpu):.1f} ms p90={1e3 * np.quantile(cpu, 0.9):.1f} ms "
          f"max={1e3 * cpu.max():.0f} ms total={cpu.sum():.1f} s")
    flagged = [r for r in res if r.get("valid") is False]
    print(f"flagged (Chernoff bound): {len(flagged)} ({100.0 * len(flagged) / len(res):.1f} %)")
    for r in res:
        if "exc" in r or r.get("exc2T") or (r.get("eps") is not None and not math.isfinite(r["eps"])):
            print("EXCEPTION/NaN", r)
        if r["cpu"] > 5 or r.get("cpu2T", 0) > 5:
            print("SLOW", r)
        if (r.get("valid") and r.get("valid2T") and r.get("eps2T") is not None
                and r["eps2T"] < r["eps"] * (1 - 1e-8) - 1e-12):
            print("NON-MONOTONE IN T", r)
    for r in flagged:
        print("FLAG", {k: r.get(k) for k in ("q", "s", "T", "d", "eps", "cpu", "err")})


def main(argv):
    kind, path = argv[1], argv[2]
    if kind == "stats":
        stats(path)
        return 0
    q1(0.01, 1.0, 100, 1e-5)
    with open(path, "w") as fh:
        for (q, s, T, d) in points(kind):
            r = run(q, s, T, d)
            r.update(q=q, s=s, T=T, d=d)
            if kind == "wide":
                r2 = run(q, s, 2 * T, d)
                r.update(eps2T=r2.get("eps"), valid2T=r2.get("valid"), exc2T=r2.get("exc"), cpu2T=r2["cpu"],
                         method2T=r2.get("method"))
            fh.write(json.dumps(r) + "\n")
            fh.flush()
    stats(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
