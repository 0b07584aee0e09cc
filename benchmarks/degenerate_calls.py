"""Random sweep of default eps(delta) calls over issue 8's whole domain; lists the slowest (CPU time, warm).

    python benchmarks/degenerate_calls.py [--n 40] [--seed 0] [--over 0.3] [--kind delta]
    python benchmarks/degenerate_calls.py --kind fewdelta [--n 120] [--seed 7] [--ab]

Points: log-uniform q in [1e-9, 1], sigma in [0.2, 1e3], T in [1, 1e9], delta in [1e-12, 0.1] (``--kind delta``:
get_delta at eps log-uniform in [1e-4, 30] instead; ``--kind fewdelta``: issue 8's few-participation corner,
get_delta with sigma log-uniform in [0.37, 990], q in [1e-9, 1e-3], T = 10^U(0, 3) cut to q T <= 0.1, eps in
[1e-6, 1e-2], counting the flagged answers; ``--ab`` answers each point twice, with and without the proven tail
bound of methods/tail_bound.py (dispatch.TAIL_BOUND_QN), alternating which goes first).  Each point:
the first ``Accountant().compose(...).get_epsilon(delta)`` of that composition in the process (a repeated or
nearby query is answered from the engines' memo in ~1 ms), CPU time less the time under Numba's compiler lock
(budget.jit_seconds: kernel compilation and cache loads), as the query budget's clock counts it.  Prints every
call over ``--over`` seconds with its method and validity, then the median / p90 / max.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.environ.get("EWROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.methods import budget  # noqa: E402

warnings.simplefilter("ignore")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--over", type=float, default=0.3)
    ap.add_argument("--kind", choices=("epsilon", "delta", "fewdelta"), default="epsilon")
    ap.add_argument("--ab", action="store_true")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 100).get_epsilon(1e-5)
    if a.kind == "fewdelta":
        few(rng, a)
        return
    rows = []
    for _ in range(a.n):
        q = float(min(1.0, 10 ** rng.uniform(-9, 0)))
        s = float(10 ** rng.uniform(np.log10(0.2), 3))
        t = int(round(10 ** rng.uniform(0, 9)))
        d = float(10 ** rng.uniform(-12, -1))
        e = float(10 ** rng.uniform(-4, np.log10(30.0)))
        acc = Accountant().compose(PoissonSubsampledGaussian(s, q), t)
        j0 = budget.jit_seconds()
        t0 = time.process_time()
        r = acc.get_epsilon(d) if a.kind == "epsilon" else acc.get_delta(e)
        dt = time.process_time() - t0 - (budget.jit_seconds() - j0)
        rows.append(dt)
        flag = "  <-- slow" if dt > a.over else ""
        x = f"delta={d:.3g}" if a.kind == "epsilon" else f"eps={e:.3g}"
        print(f"q={q:.3g} sigma={s:.4g} T={t} {x}: {r.value:.10g} {r.method} valid={r.valid} "
              f"{dt:.3f} s{flag}", flush=True)
    v = np.sort(rows)
    print(f"median {np.median(v):.3f} s  p90 {v[int(0.9 * (v.size - 1))]:.3f} s  max {v[-1]:.3f} s  "
          f"over {a.over} s: {(v > a.over).sum()}/{v.size}")


def _timed(acc, e):
    j0 = budget.jit_seconds()
    t0 = time.process_time()
    r = acc.get_delta(e)
    return r, time.process_time() - t0 - (budget.jit_seconds() - j0)


def few(rng, a) -> None:
    """The few-participation get_delta sweep (issue 8, session 12's brief): flagged answers and CPU time."""
    from ewacct.methods import dispatch

    on = dispatch.TAIL_BOUND_QN
    arms = ("tail", "no-tail") if a.ab else ("tail",)
    times = {k: [] for k in arms}
    flagged = {k: 0 for k in arms}
    for i in range(a.n):
        s = float(np.exp(rng.uniform(np.log(0.37), np.log(990))))
        q = float(10 ** rng.uniform(-9, -3))
        t = int(10 ** rng.uniform(0, 3))
        if q * t > 0.1:
            t = max(1, int(0.1 / q))
        e = float(10 ** rng.uniform(-6, -2))
        order = arms if i % 2 == 0 else arms[::-1]
        out = {}
        for k in order:
            dispatch.TAIL_BOUND_QN = on if k == "tail" else -1.0
            out[k] = _timed(Accountant().compose(PoissonSubsampledGaussian(s, q), t), e)
        dispatch.TAIL_BOUND_QN = on
        for k in arms:
            r, dt = out[k]
            times[k].append(dt)
            flagged[k] += not r.valid
            if not r.valid or dt > a.over:
                print(f"[{k}] sigma={s:.4g} q={q:.4g} T={t} eps={e:.4g}: {r.value:.6g} {r.method} valid={r.valid} "
                      f"{dt:.3f} s", flush=True)
    for k in arms:
        v = np.sort(times[k])
        print(f"{k}: flagged {flagged[k]}/{a.n}  median {np.median(v) * 1e3:.1f} ms  p90 "
              f"{v[int(0.9 * (v.size - 1))] * 1e3:.1f} ms  max {v[-1] * 1e3:.0f} ms  over {a.over} s: {(v > a.over).sum()}")


if __name__ == "__main__":
    main()
