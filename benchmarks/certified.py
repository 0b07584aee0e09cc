"""The certified bracket (certify=True) against dp_accounting's PLD bracket, measured in one run.

Prints Markdown tables:

1. per point: the certified eps(delta) bracket from a fresh accountant with every cache cleared
   (``ewacct.methods.certified.clear_caches``; kernels compiled), its relative width and source, and
   dp_accounting's optimistic/pessimistic PLD pair at value discretisation 1e-4 (time for both
   compositions, width), with the time ratio;
2. the training-loop pattern: one step composed at a time and a certified eps every 10 steps over
   2,000 steps (median and total time per call; caches warm as in real use); and issue 11's pattern
   with a fresh accountant per call (T = 10..300, q = 0.01, sigma = 0.6421), CPU time;
3. a random sweep (q 1e-6..0.5, sigma 0.3..50, T 1..1e9, delta 1e-12..0.1): which source certified
   each point, the largest relative width of the contour enclosure, time percentiles.

    python benchmarks/certified.py [--repeat 3] [--sweep 60] [--write docs/benchmarks_certified.md]
    python benchmarks/certified.py --tables segments --repeat 5      (issue 9's 200-segment item)
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian, calibrate_noise
from ewacct.methods.certified import clear_caches

POINTS = [
    # label, segments [(sigma, q, n)], delta
    ("q=0.01 s=1 T=1e3", [(1.0, 0.01, 1000)], 1e-5),
    ("q=0.01 s=1 T=1e5", [(1.0, 0.01, 100_000)], 1e-5),
    ("EW-Tune SST-2", [(0.7865, 2000 / 67349, 660)], 1e-5),
    ("q=0.05 s=3 T=2000 d=1e-10", [(3.0, 0.05, 2000)], 1e-10),
    ("q=1e-3 s=2 T=1e4 d=1e-8", [(2.0, 1e-3, 10_000)], 1e-8),
    ("q=1e-4 s=1 T=1e9", [(1.0, 1e-4, 10 ** 9)], 1e-5),
    ("6-segment schedule", [(1.2, 0.01, 300), (1.1, 0.01, 300), (1.0, 0.01, 300), (0.9, 0.01, 300),
                            (0.8, 0.01, 300), (0.7, 0.01, 300)], 1e-5),
    ("200-segment schedule", [(0.8 + 0.004 * i, 0.01, 10) for i in range(200)], 1e-5),
    # Opacus' overshoot example and a longer run at small sigma (second-order truncation probes)
    ("Opacus overshoot: q=1e-4 s=0.43087 T=630000", [(0.43087, 1e-4, 630_000)], 1e-5),
    ("q=1e-4 s=0.4 T=1e6", [(0.4, 1e-4, 1_000_000)], 1e-5),
    # where the contour enclosure does not finish: the proven fallback (bounds/proven.py)
    ("sigma=0.05 q=0.01 T=1000 (small sigma)", [(0.05, 0.01, 1000)], 1e-5),
    ("q=0.01 s=1 T=5 (few participations)", [(1.0, 0.01, 5)], 1e-5),
    ("q=0.3 s=0.5 T=2", [(0.5, 0.3, 2)], 1e-5),
]
#: points also run with a long time budget (the contour bracket instead of the fallback)
LONG_BUDGET = {"200-segment schedule": 120.0}


def _acc(segments):
    acc = Accountant()
    for s, q, n in segments:
        acc.compose(PoissonSubsampledGaussian(s, q), n)
    return acc


def _pld(segments, delta, vdi=1e-4):
    try:
        from dp_accounting.pld import privacy_loss_distribution as pl
    except ImportError:
        return None
    if sum(n for _, _, n in segments) > 2_000_000:
        return None

    def comp(pessimistic):
        out = None
        for s, q, n in segments:
            p = pl.from_gaussian_mechanism(s, sampling_prob=q, value_discretization_interval=vdi,
                                           pessimistic_estimate=pessimistic, use_connect_dots=pessimistic).self_compose(n)
            out = p if out is None else out.compose(p)
        return out.get_epsilon_for_delta(delta)

    t0 = time.perf_counter()
    lo, hi = comp(False), comp(True)
    return lo, hi, time.perf_counter() - t0


def table_points(repeat: int) -> list[str]:
    from ewacct.bounds.certify import certified_epsilon

    rows = ["| point | certified [lower, upper] | rel. width | source | time (ms) | PLD [opt, pess] (vdi 1e-4) | PLD time (ms) | PLD / ewacct |",
            "|---|---|---|---|---|---|---|---|"]
    for label, segs, delta in POINTS:
        p = _pld(segs, delta)
        runs = [(label, None)]
        if label in LONG_BUDGET:
            runs.append((f"{label}, time_budget={LONG_BUDGET[label]:g} s", LONG_BUDGET[label]))
        for lab, budget in runs:
            times = []
            r = None
            for _ in range(repeat if budget is None else 1):
                clear_caches()
                acc = _acc(segs)
                t0 = time.perf_counter()
                if budget is None:
                    r = acc.get_epsilon(delta, certify=True)
                    lo, hi, src = r.lower, r.upper, r.certified_by
                else:
                    c = certified_epsilon(acc, delta, time_budget=budget)
                    lo, hi, src = c.lower, c.upper, c.source
                times.append(time.perf_counter() - t0)
            t = statistics.median(times)
            width = (hi - lo) / hi if hi > 0 else 0.0
            if p is None:
                pcell, ptime, ratio = "not run (> 2e6 steps: no bounded cost)", "--", "--"
            else:
                pcell, ptime, ratio = f"[{p[0]:.8g}, {p[1]:.8g}]", f"{p[2] * 1e3:.0f}", f"{p[2] / t:.1f}x"
            src = src.split(" (")[0]
            rows.append(f"| {lab} | [{lo:.10g}, {hi:.10g}] | {width:.1e} | {src} | {t * 1e3:.1f} | {pcell} | {ptime} | {ratio} |")
    return rows


def table_loop() -> list[str]:
    clear_caches()
    acc = Accountant()
    times = []
    for step in range(1, 2001):
        acc.compose(PoissonSubsampledGaussian(1.0, 0.01), 1)
        if step % 10 == 0:
            t0 = time.perf_counter()
            acc.get_epsilon(1e-5, certify=True)
            times.append(time.perf_counter() - t0)
    later = times[20:]
    return ["| pattern | median (ms) | 90th pct (ms) | max (ms) | total over 200 calls (s) |", "|---|---|---|---|---|",
            f"| certified eps every 10 steps, 2,000 steps (q = 0.01, sigma = 1) | {statistics.median(times) * 1e3:.2f} | "
            f"{sorted(times)[int(0.9 * len(times))] * 1e3:.2f} | {max(times) * 1e3:.0f} | {sum(times):.2f} |",
            f"| the same, after step 200 | {statistics.median(later) * 1e3:.2f} | {sorted(later)[int(0.9 * len(later))] * 1e3:.2f} | "
            f"{max(later) * 1e3:.0f} | {sum(later):.2f} |"]


def table_series(repeat: int = 1) -> list[str]:
    """Issue 11's pattern as ewacct_torch's EWAccountant runs it: a fresh accountant per call, one process,
    certified eps after T = 10, 20, ..., 300 steps (q = 0.01, sigma = 0.6421, delta = 1e-5); CPU time."""
    rows = ["| run | first call (ms) | calls 2-30: median (ms) | max (ms) | total (s) | contour brackets | widest (rel.) |",
            "|---|---|---|---|---|---|---|"]
    for rep in range(repeat):
        clear_caches()
        times, n_contour, widest = [], 0, 0.0
        for T in range(10, 301, 10):
            acc = Accountant().compose(PoissonSubsampledGaussian(0.6421, 0.01), T)
            t0 = time.process_time()
            r = acc.get_epsilon(1e-5, certify=True)
            times.append(time.process_time() - t0)
            if r.certified_by.startswith("contour"):
                n_contour += 1
            widest = max(widest, (r.upper - r.lower) / r.upper)
        rest = times[1:]
        rows.append(f"| {rep + 1} | {times[0] * 1e3:.0f} | {statistics.median(rest) * 1e3:.1f} | {max(rest) * 1e3:.0f} | "
                    f"{sum(times):.2f} (calls 2-30: {sum(rest):.2f}) | {n_contour} / 30 | {widest:.1e} |")
    return rows


GOALS = [
    # label, segments [(sigma, q, n)], delta: the three regimes of docs/certified.md 5b / section 4
    ("Opacus overshoot: q=1e-4 s=0.43087 T=630000", [(0.43087, 1e-4, 630_000)], 1e-5),
    ("q=1e-4 s=0.4 T=1e6", [(0.4, 1e-4, 1_000_000)], 1e-5),
    ("200-segment schedule", [(0.8 + 0.004 * i, 0.01, 10) for i in range(200)], 1e-5),
]


def table_goals(repeat: int) -> list[str]:
    """The certified query (default 1 s budget) from a fresh accountant with cleared caches, CPU time."""
    rows = ["| point | certified [lower, upper] | rel. width | source | CPU time (ms, median) |", "|---|---|---|---|---|"]
    for label, segs, delta in GOALS:
        times, r = [], None
        for _ in range(repeat):
            clear_caches()
            acc = _acc(segs)
            t0 = time.process_time()
            r = acc.get_epsilon(delta, certify=True)
            times.append(time.process_time() - t0)
        width = (r.upper - r.lower) / r.upper if r.upper > 0 else 0.0
        rows.append(f"| {label} | [{r.lower:.10g}, {r.upper:.10g}] | {width:.1e} | {r.certified_by.split(' (')[0]} | "
                    f"{statistics.median(times) * 1e3:.0f} |")
    return rows


def table_segments(repeat: int) -> list[str]:
    """Issue 9's 200-segment schedule (sigma 0.8..1.596, q = 0.01, 10 steps each, delta = 1e-5): the
    certified query from a fresh accountant with cleared caches, CPU time, with the cross-segment
    kernel (docs/certified.md 3c) and without it (every group through the one-segment kernel:
    ``MULTI_MIN`` raised), alternating in one run."""
    import ewacct.methods.certified as cm

    segs = GOALS[2][1]
    saved = cm.MULTI_MIN
    times: dict[bool, list[float]] = {True: [], False: []}
    last = {}
    try:
        for _ in range(repeat):
            for on in (True, False):
                cm.MULTI_MIN = saved if on else 10 ** 9
                clear_caches()
                acc = _acc(segs)
                t0 = time.process_time()
                r = acc.get_epsilon(1e-5, certify=True)
                times[on].append(time.process_time() - t0)
                last[on] = r
    finally:
        cm.MULTI_MIN = saved
    rows = ["| path | certified [lower, upper] | rel. width | source | CPU time (ms): median | min | max |",
            "|---|---|---|---|---|---|---|"]
    for on, lab in ((True, "cross-segment kernel"), (False, "one-segment kernel only")):
        r, t = last[on], times[on]
        width = (r.upper - r.lower) / r.upper if r.upper > 0 else 0.0
        rows.append(f"| {lab} | [{r.lower:.10g}, {r.upper:.10g}] | {width:.1e} | {r.certified_by.split(' (')[0]} | "
                    f"{statistics.median(t) * 1e3:.0f} | {min(t) * 1e3:.0f} | {max(t) * 1e3:.0f} |")
    rows += ["", f"Ratio of the medians: {statistics.median(times[False]) / statistics.median(times[True]):.2f}x "
             f"({repeat} runs each, alternating)."]
    return rows


def table_calibration() -> list[str]:
    clear_caches()
    t0 = time.perf_counter()
    res = calibrate_noise(target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.01, steps=3000,
                          guarantee="certified")
    t = time.perf_counter() - t0
    sigma = getattr(res, "noise_multiplier", getattr(res, "sigma", res))
    return ["| calibration | sigma | time (s) |", "|---|---|---|",
            f"| calibrate_noise(eps 3, delta 1e-5, q 0.01, 3000 steps, guarantee='certified') | {float(sigma):.6f} | {t:.2f} |"]


def table_sweep(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    sources: dict[str, int] = {}
    worst = 0.0
    fb: list[float] = []
    times = []
    for _ in range(n):
        q = 10 ** rng.uniform(-6, -0.3)
        s = 10 ** rng.uniform(math.log10(0.3), math.log10(50))
        T = int(10 ** rng.uniform(0, 9))
        d = 10 ** rng.uniform(-12, -1)
        clear_caches()
        acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
        t0 = time.perf_counter()
        try:
            r = acc.get_epsilon(d, certify=True)
        except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not hide them
            sources[f"error: {type(exc).__name__}"] = sources.get(f"error: {type(exc).__name__}", 0) + 1
            continue
        times.append(time.perf_counter() - t0)
        src = r.certified_by.split(" (")[0]
        sources[src] = sources.get(src, 0) + 1
        if src == "contour integral" and r.upper >= 1e-3:
            worst = max(worst, (r.upper - r.lower) / r.upper)
        if src.startswith("Chernoff") and r.upper > 0:
            fb.append((r.upper - r.lower) / r.upper)
    times.sort()
    rows = ["| source | points |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(sources.items(), key=lambda kv: -kv[1])]
    rows += ["", f"Largest relative width of a contour bracket (eps >= 1e-3): {worst:.1e}. "
             f"Time per certified query: median {times[len(times) // 2] * 1e3:.0f} ms, "
             f"90th percentile {times[int(0.9 * len(times))] * 1e3:.0f} ms, max {times[-1]:.1f} s."]
    if fb:
        fb.sort()
        rows += ["", f"Proven fallback brackets: {len(fb)} points, relative width median {fb[len(fb) // 2]:.2g}, "
                 f"max {fb[-1]:.2g}."]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sweep", type=int, default=60)
    ap.add_argument("--write", default=None)
    ap.add_argument("--tables", default="points,loop,series,goals,segments,calibration,sweep",
                    help="comma-separated subset of points,loop,series,goals,segments,calibration,sweep")
    a = ap.parse_args(argv)
    want = set(a.tables.split(","))
    warnings.simplefilter("ignore")
    _acc([(1.0, 0.01, 1000)]).get_epsilon(1e-5, certify=True)  # compile / load the kernels
    out = ["# Certified brackets: the contour enclosure against dp_accounting's PLD", "",
           "Generated by `python benchmarks/certified.py` on a 2-core machine shared with other jobs (times are "
           "upper-side); fresh accountant and cleared enclosure caches per query (table 1), warm caches in the "
           "training-loop pattern (table 2). Every bracket is proven; the contour enclosure has a 1 s budget by "
           "default, past which the proven (wide) fallback answers.", "",
           ]
    if "points" in want:
        out += ["## 1. Certified eps(delta) per point", ""] + table_points(a.repeat)
    if "loop" in want:
        out += ["", "## 2. Training-loop pattern", ""] + table_loop()
    if "series" in want:
        out += ["", "### 2b. A fresh accountant per call (ewacct_torch's EWAccountant), T = 10..300 every 10 steps, "
                "CPU time", ""] + table_series(a.repeat)
    if "goals" in want:
        out += ["", "### 2c. Small sigma with many steps, and 200 segments (fresh, cold caches, CPU time)", ""]
        out += table_goals(a.repeat)
    if "segments" in want:
        out += ["", "### 2d. 200 segments: the cross-segment kernel and the one-segment kernel (cold caches, "
                "CPU time)", ""] + table_segments(a.repeat)
    if "calibration" in want:
        out += ["", "## 3. Certified calibration", ""] + table_calibration()
    if a.sweep and "sweep" in want:
        out += ["", f"## 4. Random sweep ({a.sweep} points)", ""] + table_sweep(a.sweep)
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if a.write:
        with open(a.write, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
