"""Speed of the exact engine (the default) against dp_accounting's PLD, measured in one run.

Prints a Markdown table: median CPU time of one eps(delta) query on a fresh accountant (kernels
compiled, nothing cached), the growth from T = 10 to T = 1e9, a 200-segment history, the
few-participation corner, the peak Python memory of a query, and the ratio to dp_accounting PLD
(value_discretization_interval 1e-4, pessimistic) at q = 0.01, sigma = 1, T = 1000.

    python benchmarks/exact_engine.py [--repeat 5] [--write docs/benchmarks_exact.md]
    python benchmarks/exact_engine.py --grid [--repeat 7] [--json out.json]

``--grid`` times only ``ewacct.epsilon(noise_multiplier=1, sampling_probability=q, steps=T,
target_delta=1e-5)`` over q in {0.001, 0.01, 0.1} and T in {10, 30, 100, 1e3, 1e5, 1e9} (warm process,
a slightly different sigma each repeat), printing median CPU time, epsilon, method and contour nodes;
run it from two checkouts (PYTHONPATH) alternately for same-session before/after ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
import warnings

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian


NOTES = """Session 16 (warm path, H-SP): the contour's first chunk is sized from the Gaussian model of the u-range
where choose_abscissa trusts it (contour.first_chunk: 1.6 x the model's nodes + the tail test's 8, in [16, 64]):
the tail test passed at 18-32 nodes where 40 were evaluated in two kernel calls (16 + 24, the last at the
largest |Im z|), now 25-35 in one (q 0.001..0.1, sigma 1, T >= 1e5; q 0.1, T = 100: 40 -> 28).  build_contour's
per-chunk bookkeeping runs in two compiled passes (contour._chunk_terms, _chunk_next) instead of ~15 numpy
calls; the psi grid's 7-12 real log-MGF values come from one kernel call (mgf.sg_composition_real_many, the
same values); ExactDirection._initial is memoised (truncation._full_c asked the same saddle-curve Newton
first); ewacct._kernels.fewpart_path (0.1 s of rule tables per process) is imported only where the
few-participation quadrature runs, and one-time set-up like it is outside the CPU budgets
(methods/budget.setup).  Answers within 1.0e-12 of the engine before (375 random points, same methods).
benchmarks/speed_s16_ab.py gives the same-session before/after of the grid.

Interpolated far chunks (contour._interp_chunk): beyond its first chunk the contour takes K from a
degree-16 Chebyshev interpolant of exp(K / N) (N the step count: K / N is the mean per-step log-MGF, smooth
along the contour; exp(K) = p^N whatever branch of log p) on chunks of 48-512 nodes, 17 kernel values and
2 check nodes each; the interpolant's error estimate (10x the last coefficients or the check nodes'
difference) is charged to the error budget like the kernel's own.  q = 0.01, sigma = 1, T = 10, delta =
1e-5: 955 -> 182 kernel evaluations for 906 nodes (942 before the finer psi grid of the alias bound),
median CPU 3.0-3.2 -> 1.9-2.0 ms in one session (load ~4 on 2 cores); sigma = 0.5, q = 0.05, T = 10:
8908 nodes, 21 -> 4.8 ms.

Exact k < 0 aliases (earlier round, contour module docstring): the REMOVE loss of Poisson-subsampled
Gaussians is bounded below (L_T > T log(1 - q)) and E_P[e^{-L_T}] = 1, so for x <= T log(1 - q) the
payoff's value delta(x) = 1 - e^x is known, and with eps - P <= T log(1 - q) the trapezoid's k < 0
aliases sum to e^{-cP} / (1 - e^{-cP}) - e^{eps} e^{-(c+1)P} / (1 - e^{-(c+1)P}) exactly; the contour
subtracts them instead of bounding them by 2 e^{-cP}.  With few participations the abscissa then goes
down to 0.18-0.25 c* with the k > 0 aliases alone setting P (q = 0.01, sigma = 1, T = 10: P 9.9 -> 4.2),
and the cancellation penalty no longer shortens the alias target (it is the node sum's rounding,
budgeted separately).  The node sum reads e^{-i n h eps} by a recurrence (exact every 16 nodes) from
weights computed once per contour (3x cheaper per call).  Nodes at q = 0.01, sigma = 1, delta = 1e-5:
T = 10 1868 -> 942, T = 30 460 -> 238, T = 100 168 -> 92; q = 0.001: T = 30 2892 -> 1650, T = 100
972 -> 460, T = 1000 227 -> 122; q T >= 100 unchanged (40).  Where 2 ms is not reached (q = 0.01,
T = 10: ~3 ms): the terms |exp(K(c + iu))| decay only like e^{-0.02 u} (the near-atom of the loss at
log(1 - q), whose characteristic function decays like a log-normal's), so U ~ 1400 at any abscissa
(1190-1470 over c = 0.15..1 c*), and P ~ 4.2 is the k > 0 alias bound's; ~940 nodes at ~1.4 us per
node (the kernel's x-grid grows with |Im z|) plus ~0.5 ms of fixed per-query cost.

Where the time goes (q = 0.01, sigma = 1, T = 1000): about 40 contour nodes and 20 real-axis
evaluations of K per direction.  The contour's nodes come from one Numba call per batch of nodes for
the whole history (`ewacct._kernels.mgf.sg_composition_complex_err`): a trapezoidal rule in x whose
grid all nodes of the batch share (phi, l and l - u once per x, only exp(w l) per node), with its step
set by the Gaussian envelope, the phase derivative and the distance to the loss's branch points.  The
real axis (saddle search, alias and Chernoff bounds) uses one real quadrature giving K, K' and K''
together (`sg_composition_real`).  The Chernoff bounds are minimised by safeguarded Newton (any
abscissa gives a valid bound).

Per-node accuracy (this version): the contour's first chunk of nodes asks the kernel for its full
accuracy (relative aliasing e^-38); each later chunk asks only what its terms need, from the previous
chunk's term sizes and the kernel's own error estimate (down to e^-14 in the far tail, where the
terms are e^-20..e^-35 of the peak), and a chunk over its share of the error budget is evaluated
again.  The kernel's error estimate of every node (e^{3 - trap_l} times the sum of |terms| / |G|, plus
rounding; tests/test_exact_kernel_error.py checks it against mpmath at hard nodes) is summed over the
contour with each term's weight and carried in the answer's error (diagnostics `kernel_rel_error`).
q T ~ 1 is where this pays: ~170 nodes at q = 0.01, T = 100 (the integrand decays only like
e^{-0.33 u}), ~1900 at T = 10.

Abscissa with few participations (contour.choose_abscissa): where q T <~ 5 the terms |exp(K(c + iu))|
decay far slower than the Gaussian model of the u-range says (the near-atom of the loss near 0), so the
saddle point's long alias period (P ~ 37 at q = 0.01, sigma = 1, T = 10) multiplied a u-range of ~1000.
A probe of K along the saddle's line (4-16 nodes on a doubling ladder, at the kernel's least accuracy)
measures the decay; with it the abscissa 0.5-0.62 c* wins (P ~ 10), unless its cancellation would take
the node sum's rounding past the tolerance.  Nodes at q = 0.01, sigma = 1, delta = 1e-5: T = 10 5964 ->
1868, T = 30 1612 -> 460, T = 100 588 -> 168; the probe's node count is within 3-19 % (below) of the
contour's, and a contour expected beyond 1.1x the node budget is refused before it is built (q = 0.01,
sigma = 0.6, T = 10: the few-participation quadrature answers in 36 ms instead of 62).  Median CPU time
of 11 fresh queries, 3 runs, one session (before = the engine at b0c522a): T = 10 13.3 -> 5.1 ms, T = 30
4.6 -> 2.1 ms, T = 100 2.4 -> 1.3 ms, T = 1000 0.69 -> 0.60 ms, T = 1e9 0.39 -> 0.37 ms (answers
identical from T = 1000 on, within 2.5e-12 below).  Random sweep (benchmarks/exact_sweep.py std, 200
points): median 1.12 -> 1.15 ms (unchanged within noise: mostly q T >> 1), total 3.66 -> 3.51 s, one
more point settled by the contour.

Routing (methods/truncation.py): where the far mode of the REMOVE loss is in play the truncated
composition answers; at the fine-tuning points (q = 0.01, sigma = 1, T = 10..300) its weight at the
full K's saddle is small (far_gap_quick(c) c mu <= 0.5) and the full engine goes first (2-10x faster
than the truncated kernel there).

Before / after this round, one run, median CPU time of 11 fresh queries under a load average of ~10
(commit 8cba796 against a80a2ed): q = 0.01, sigma = 1, T = 100: 11.0 -> 2.5 ms (the far-mode routing
had sent it to the truncated kernel; 2.8 ms in the table before that); T = 10: 38.2 -> 13.7 ms;
T = 1000: 2.1 -> 0.70 ms; q = 1e-3, T = 1e4: 6.8 -> 1.6 ms; q = 1e-3, T = 100: 20.8 -> 4.1 ms.
Unloaded, q = 0.01, sigma = 1, T = 100 takes 1.9-2.0 ms.  The few-participation rows with q T < 0.05
are answered by other methods (fewpart, direct).
"""


def _query(groups, delta: float = 1e-5):
    acc = Accountant()
    for s, q, n in groups:
        acc.compose(PoissonSubsampledGaussian(s, q), n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(delta)


def timed(fn, repeat: int) -> tuple[float, object]:
    """(median CPU time of this process, last answer): CPU time, so that the machine's load does not
    enter the numbers (the machine is shared)."""
    times = []
    out = None
    for k in range(repeat):
        t0 = time.process_time()
        out = fn(k)
        times.append(time.process_time() - t0)
    return statistics.median(times), out


def pld_time(q: float, s: float, T: int, delta: float, repeat: int) -> float | None:
    try:
        from dp_accounting.pld import privacy_loss_distribution as pl
    except ImportError:
        return None

    def run(_k):
        p = pl.from_gaussian_mechanism(s, sampling_prob=q, value_discretization_interval=1e-4,
                                       pessimistic_estimate=True, use_connect_dots=True).self_compose(T)
        return p.get_epsilon_for_delta(delta)

    return timed(run, repeat)[0]


GRID_Q = (0.001, 0.01, 0.1)
GRID_T = (10, 30, 100, 1000, 10**5, 10**9)


def grid(repeat: int, json_path: str | None) -> int:
    """The q x T grid of single eps(delta) queries (module docstring)."""
    import json

    def one(q: float, T: int, k: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ewacct.epsilon(noise_multiplier=1.0 * (1 + 1e-9 * k), sampling_probability=q, steps=T,
                                  target_delta=1e-5)

    one(0.01, 1000, 0)  # compile / load the Numba cache
    out = []
    print("| q | T | median time | epsilon | method | nodes |\n|---:|---:|---:|---:|---|---:|")
    for q in GRID_Q:
        for T in GRID_T:
            t, res = timed(lambda k: one(q, T, k), repeat)
            nodes = res.diagnostics.get("nodes")
            out.append({"q": q, "T": T, "ms": t * 1e3, "eps": float(res), "method": res.method, "nodes": nodes})
            print(f"| {q:g} | {T:.0e} | {t * 1e3:.2f} ms | {float(res):.10g} | {res.method} | {nodes} |", flush=True)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as fh:
            json.dump(out, fh)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--grid", action="store_true", help="only the q x T grid of single queries")
    ap.add_argument("--json", default=None, help="with --grid: also write the rows to this JSON file")
    args = ap.parse_args(argv)
    if args.grid:
        return grid(args.repeat, args.json)
    _query([(1.0, 0.01, 1000)])  # compile / load the Numba cache
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    rows = []

    def bench(label: str, groups, delta: float = 1e-5) -> float:
        # a slightly different sigma each repeat: no contour or cumulant cache can be reused
        t, res = timed(lambda k: _query([(s * (1 + 1e-9 * k), q, n) for s, q, n in groups], delta), args.repeat)
        rows.append((label, t, float(res), res.method, res.diagnostics.get("rel_error")))
        return t

    t_by_T = {}
    bench("few participations: q=0.01, sigma=1, T=10", [(1.0, 0.01, 10)])
    for T in (100, 1000, 10**5, 10**7, 10**9):
        t_by_T[T] = bench(f"q=0.01, sigma=1, T={T:.0e}", [(1.0, 0.01, T)])
    bench("SST-2 (q=0.0297, sigma=0.7865, T=660)", [(0.7865, 2000 / 67349, 660)])
    bench("few participations: q=1e-3, sigma=1, T=100", [(1.0, 1e-3, 100)])
    bench("few participations: q=1e-4, sigma=1, T=3", [(1.0, 1e-4, 3)])
    bench("q=1e-6, sigma=1, T=1e9", [(1.0, 1e-6, 10**9)])
    bench("q=1e-3, sigma=1, T=1e4", [(1.0, 1e-3, 10**4)])
    bench("q=0.2, sigma=5, T=1e4", [(5.0, 0.2, 10**4)])
    segs = [(0.6 + 0.004 * i, 0.01 + 0.0001 * (i % 7), 50) for i in range(200)]
    bench("200-segment noise schedule (10,000 steps)", segs)

    tracemalloc.start()
    _query([(1.0, 0.01, 10**9)])
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    except ImportError:
        rss = float("nan")

    t_seg = rows[-1][1]
    t_pld = pld_time(0.01, 1.0, 1000, 1e-5, max(1, args.repeat // 2))
    t_ex = t_by_T[1000]
    lines = ["| query | median time | epsilon | method | est. rel. error |", "|---|---:|---:|---|---:|"]
    for label, t, v, m, rel in rows:
        rel_s = "-" if rel is None else f"{rel:.1e}"
        lines.append(f"| {label} | {t * 1e3:.2f} ms | {v:.6g} | {m} | {rel_s} |")
    lines.append("")
    lines.append(f"- growth T = 100 -> 1e9 (q = 0.01, the smallest T outside the few-participation corner "
                 f"q T < 0.5): {t_by_T[10**9] / t_by_T[100]:.2f}x; T = 1e3 -> 1e9: {t_by_T[10**9] / t_by_T[1000]:.2f}x")
    lines.append(f"- peak Python-heap memory of a T = 1e9 query: {peak:.1f} MiB (Numba's work arrays, a few "
                 f"thousand doubles, are outside it); peak resident size of this whole benchmark process before "
                 f"PLD ran: {rss:.0f} MiB")
    lines.append(f"- 1-minute load average when the timings began: {load0:.1f} "
                 f"({os.cpu_count()} CPUs; timings under load are upper bounds, the ratios are the comparable numbers)")
    if t_pld is not None:
        lines.append(f"- dp_accounting PLD (vdi 1e-4) at q = 0.01, sigma = 1, T = 1000: {t_pld * 1e3:.0f} ms, "
                     f"{t_pld / t_ex:.0f}x the exact engine's {t_ex * 1e3:.2f} ms; the 200-segment history "
                     f"takes {t_seg / t_pld:.3f}x that PLD time")
    else:
        lines.append("- dp_accounting not installed: no PLD ratio")
    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(args.write, "w", encoding="utf-8") as fh:
            fh.write("# Exact engine timings\n\nGenerated by `python benchmarks/exact_engine.py`; "
                     f"ewacct {ewacct.__version__}, {args.repeat} repeats, median CPU time (process_time), fresh "
                     "accountant per query (compiled kernels, no cache).\n\n" + text + "\n\n" + NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
