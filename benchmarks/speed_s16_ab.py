"""Same-session before/after of single warm eps(delta) queries: two checkouts, alternated.

    python benchmarks/speed_s16_ab.py --before /path/to/old/checkout --after . [--rounds 3] [--repeat 7]

Two warm processes, one per checkout (PYTHONPATH set to it), answer point by point in alternation
(the order swapped every point and round) the q x T grid of ``benchmarks/exact_engine.py --grid`` (q in {0.001, 0.01, 0.1}, T in {10, 30,
100, 1e3, 1e5, 1e9}, delta 1e-5, a slightly different sigma each repeat) plus the 200-segment history,
timing each query by CPU time (time.process_time) after one warm-up query; it prints per point the median
over rounds of the per-round medians (``--repeat`` queries each), before and after, their ratio, and whether the two epsilons agree
to 1e-9 relative.  Numbers are CPU time of this process: on a shared machine they still move with the
load (caches, frequency), so only same-run ratios are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, statistics, sys, time, warnings
import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian
def one(q, T, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ewacct.epsilon(noise_multiplier=1.0 * (1 + 1e-9 * k), sampling_probability=q, steps=T,
                              target_delta=1e-5)
def seg(k):
    acc = Accountant()
    for i in range(200):
        acc.compose(PoissonSubsampledGaussian((0.6 + 0.004 * i) * (1 + 1e-9 * k), 0.01 + 0.0001 * (i % 7)), 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(1e-5)
one(0.01, 1000, 0)
print("ready", flush=True)
for line in sys.stdin:
    q, T, rep, k0 = json.loads(line)
    ts = []
    r = None
    for k in range(k0, k0 + rep):
        t0 = time.process_time()
        r = seg(k) if q == 0 else one(q, T, k)
        ts.append(time.process_time() - t0)
    print(json.dumps([statistics.median(ts), float(r), r.method]), flush=True)
"""

POINTS = [(q, T) for q in (0.001, 0.01, 0.1) for T in (10, 30, 100, 1000, 10**5, 10**9)] + [(0, 0)]


def _label(q: float, T: int) -> str:
    return "200 segments" if q == 0 else f"q={q:g} T={T:.0e}"


class Child:
    """A warm process on one checkout answering timing requests (one point, ``repeat`` queries)."""

    def __init__(self, tree: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
        self.p = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=os.path.abspath(tree))
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, q: float, T: int, repeat: int, k0: int) -> list:
        self.p.stdin.write(json.dumps([q, T, repeat, k0]) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default=".")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    kids = {"before": Child(args.before), "after": Child(args.after)}
    res: dict[str, dict[str, list]] = {"before": {}, "after": {}}
    first: dict[str, dict[str, list]] = {"before": {}, "after": {}}
    for r in range(args.rounds):
        for i, (q, T) in enumerate(POINTS):
            # point by point, the order alternated: both processes see the same load
            order = ("before", "after") if (r + i) % 2 == 0 else ("after", "before")
            for which in order:
                got = kids[which].ask(q, T, args.repeat, 1000 * r)
                res[which].setdefault(_label(q, T), []).append(got[0])
                first[which].setdefault(_label(q, T), got)
    for k in kids.values():
        k.close()
    print("| query | before | after | after/before | eps agree | method after |\n|---|---:|---:|---:|---|---|")
    rows = []
    for q, T in POINTS:
        lab = _label(q, T)
        b = statistics.median(res["before"][lab])
        a = statistics.median(res["after"][lab])
        eb, ea = first["before"][lab][1], first["after"][lab][1]
        agree = abs(ea - eb) <= 1e-9 * max(abs(eb), 1e-300)
        rows.append({"query": lab, "before_ms": b * 1e3, "after_ms": a * 1e3, "eps_before": eb, "eps_after": ea})
        print(f"| {lab} | {b * 1e3:.2f} ms | {a * 1e3:.2f} ms | {a / b:.2f} | {'yes' if agree else f'{eb!r} vs {ea!r}'} "
              f"| {first['after'][lab][2]} |")
    ratios = [r["after_ms"] / r["before_ms"] for r in rows]
    print(f"\ngeometric mean of after/before over the {len(ratios)} points: "
          f"{statistics.geometric_mean(ratios):.3f}; load average now {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
