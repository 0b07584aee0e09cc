"""Same answers before and after a speed change: random default queries on two checkouts.

    python benchmarks/speed_s17_answers.py --before /path/to/old/checkout --after . [--n 240] [--seed 17]

Two processes, one per checkout (PYTHONPATH set to it), answer the same random default queries:
``ewacct.epsilon`` at q log-uniform in [1e-4, 0.5], sigma in [0.5, 3], T log-uniform in [3, 1e6], delta
log-uniform in [1e-10, 1e-4] (three quarters of the points), and ``ewacct.delta`` at eps in [0.05, 8]
on the same kind of (q, sigma, T) (the rest).  Printed: the largest relative difference of the
answers, the points whose method or validity differs, and the summed and median CPU time per checkout
(time.process_time of each query, one warm-up query first).  Only the answers are the point: the
times of two processes alternating on a shared machine are indicative.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, sys, time, warnings
import ewacct
warnings.simplefilter("ignore")
ewacct.epsilon(noise_multiplier=1.0, sampling_probability=0.01, steps=1000, target_delta=1e-5)
pts = json.loads(sys.stdin.readline())
out = []
for kind, s, q, T, x in pts:
    t0 = time.process_time()
    if kind == "eps":
        r = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=T, target_delta=x)
    else:
        r = ewacct.delta(noise_multiplier=s, sampling_probability=q, steps=T, target_epsilon=x)
    out.append([float(r), r.method, bool(r.valid), time.process_time() - t0])
print(json.dumps(out), flush=True)
"""


def points(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    pts = []
    for i in range(n):
        q = float(10 ** rng.uniform(-4, math.log10(0.5)))
        s = float(rng.uniform(0.5, 3.0))
        T = int(round(10 ** rng.uniform(math.log10(3), 6)))
        if i % 4 == 3:
            pts.append(["delta", s, q, T, float(rng.uniform(0.05, 8.0))])
        else:
            pts.append(["eps", s, q, T, float(10 ** rng.uniform(-10, -4))])
    return pts


def run(tree: str, pts: list) -> list:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    p = subprocess.run([sys.executable, "-c", CHILD], env=env, input=json.dumps(pts) + "\n", text=True,
                       capture_output=True, cwd=os.path.abspath(tree), timeout=3600)
    if p.returncode != 0:
        raise SystemExit(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default=".")
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    pts = points(args.n, args.seed)
    b = run(args.before, pts)
    a = run(args.after, pts)
    worst = (0.0, None)
    changed = []
    for p, rb, ra in zip(pts, b, a):
        vb, va = rb[0], ra[0]
        rel = 0.0 if vb == va else abs(va - vb) / max(abs(vb), 1e-300)
        if rel > worst[0]:
            worst = (rel, p)
        if rb[1] != ra[1] or rb[2] != ra[2]:
            changed.append((p, rb[:3], ra[:3]))
    tb = [r[3] for r in b]
    ta = [r[3] for r in a]
    print(f"{len(pts)} random default queries (seed {args.seed}): max relative difference {worst[0]:.3g}"
          + (f" at {worst[1]}" if worst[1] is not None else ""))
    print(f"method / validity changes: {len(changed)}")
    for p, rb, ra in changed:
        print(f"  {p}: before {rb} after {ra}")
    print(f"CPU time: before total {sum(tb):.3f} s median {statistics.median(tb) * 1e3:.2f} ms; "
          f"after total {sum(ta):.3f} s median {statistics.median(ta) * 1e3:.2f} ms")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"points": pts, "before": b, "after": a}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
