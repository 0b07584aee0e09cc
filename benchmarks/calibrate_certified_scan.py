"""Certified calibration (``guarantee="certified"``) over a scan of targets, CPU time per call.

For every point: every certified cache cleared (``ewacct.methods.certified.clear_caches``), then
``calibrate_noise(..., guarantee="certified")`` timed with ``time.process_time`` (median of
``--repeat`` runs, caches cleared before each); the estimate's sigma (``guarantee="estimate"``,
timed the same way), the ratio certified / estimate sigma, the certified bracket at the returned
sigma (re-checked on a fresh accountant) and the source that certified it.  A second table does the
same for ``calibrate_steps(..., guarantee="certified")`` where that keyword exists.

    python benchmarks/calibrate_certified_scan.py [--repeat 3] [--points 1,4,7] [--steps] [--random 30 --seed 1]

``--random N`` appends N targets drawn log-uniformly from q 1e-7..0.2, T 1..1e7, eps 0.1..20,
delta 1e-12..1e-3 (infeasible ones are reported as such).

Kernels are compiled (one warm-up calibration) before timing.
"""

from __future__ import annotations

import argparse
import inspect
import math
import statistics
import sys
import time
import warnings

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian, calibrate_noise, calibrate_steps
from ewacct.methods.certified import clear_caches

# (target eps, target delta, q, T)
POINTS = [
    (3.0, 1e-5, 0.01, 300),
    (8.0, 1e-5, 2000 / 67349, 660),
    (1.0, 1e-6, 1e-4, 100_000),
    (2.0, 1e-5, 0.01, 2000),
    (13.0, 1e-12, 1e-7, 10_000_000),
    (2.0, 1e-5, 0.002, 20),
    (0.1, 1e-5, 0.2, 1),
    (1.0, 1e-5, 0.2, 2),
    (20.0, 1e-3, 0.2, 10),
    (0.5, 1e-8, 0.05, 5000),
    (0.1, 1e-3, 1e-3, 10_000),
    (5.0, 1e-12, 1e-5, 1_000_000),
    (1.0, 1e-10, 0.1, 100),
    (4.0, 1e-6, 1e-6, 10_000_000),
    (0.3, 1e-5, 0.02, 50),
    (10.0, 1e-9, 0.2, 10_000),
]

STEPS_POINTS = [
    # (target eps, target delta, q, sigma)
    (3.0, 1e-5, 0.01, 1.0),
    (8.0, 1e-5, 2000 / 67349, 0.8),
    (1.0, 1e-6, 1e-3, 2.0),
    (2.0, 1e-5, 0.002, 0.6),
    (2.0, 1e-5, 0.002, 0.52),
    (13.0, 1e-12, 1e-7, 0.3),
]


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _timed(fn, repeat):
    times, out, err = [], None, None
    for _ in range(repeat):
        clear_caches()
        t0 = time.process_time()
        try:
            out = _quiet(fn)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            err = f"{type(exc).__name__}: {str(exc)[:90]}"
        times.append(time.process_time() - t0)
    return statistics.median(times), out, err


def _short(source: str | None) -> str:
    if not source:
        return "?"
    if source.startswith("contour"):
        return "contour"
    if source.startswith("Chernoff"):
        return "proven (Chernoff)"
    if source.startswith("exact closed"):
        return "closed form"
    if source.startswith("two-step"):
        return "two-step"
    if source.startswith("joint-convexity"):
        return "delta(0) bound"
    return source[:30]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--points", default="")
    ap.add_argument("--steps", action="store_true", help="also calibrate_steps(guarantee='certified')")
    ap.add_argument("--no-noise", action="store_true")
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    idx = [int(i) for i in args.points.split(",") if i] or list(range(len(POINTS)))
    if args.random:
        import random

        rng = random.Random(args.seed)
        for _ in range(args.random):
            POINTS.append((10 ** rng.uniform(-1, math.log10(20)), 10 ** rng.uniform(-12, -3),
                           10 ** rng.uniform(-7, math.log10(0.2)), int(round(10 ** rng.uniform(0, 7)))))
        if not args.points:
            idx = list(range(len(POINTS)))
        else:
            idx += list(range(len(POINTS) - args.random, len(POINTS)))

    _quiet(calibrate_noise, target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.01, steps=300,
           guarantee="certified")  # compile / load kernels
    print(f"ewacct {getattr(ewacct, '__version__', '?')}, CPU seconds (process_time), median of {args.repeat}, "
          "certified caches cleared before each call\n")
    if not args.no_noise:
        print("| # | eps | delta | q | T | est s | est sigma | cert s | cert sigma | cert/est | evals "
              "| certified eps [lo, up] | source | note |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for i in idx:
            e, d, q, T = POINTS[i]
            kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, steps=T)
            te, est, erre = _timed(lambda: calibrate_noise(**kw), args.repeat)
            tc, cer, errc = _timed(lambda: calibrate_noise(**kw, guarantee="certified"), args.repeat)
            s_est = est.noise_multiplier if est is not None else math.nan
            if cer is None or errc:
                print(f"| {i} | {e:.3g} | {d:.2g} | {q:.3g} | {T} | {te:.2f} | {s_est:.6g} | {tc:.2f} | - | - | - | - | - "
                      f"| {errc or erre} |")
                sys.stdout.flush()
                continue
            s = cer.noise_multiplier
            clear_caches()
            chk = _quiet(Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon, d, certify=True)
            note = cer.details.get("certificate_note", "")
            ok = "OK" if chk.upper <= e else "OVER TARGET"
            print(f"| {i} | {e:.3g} | {d:.2g} | {q:.3g} | {T} | {te:.2f} | {s_est:.6g} | {tc:.2f} | {s:.6g} "
                  f"| {s / s_est:.4f} | {cer.evaluations} | [{chk.lower:.6g}, {chk.upper:.6g}] {ok} "
                  f"| {_short(chk.certified_by)} | {note} |")
            sys.stdout.flush()
    if args.steps:
        has = "guarantee" in inspect.signature(calibrate_steps).parameters
        print("\n| eps | delta | q | sigma | est s | est T | cert s | cert T | certified eps at T [lo, up] | at T+1 up |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for e, d, q, s in STEPS_POINTS:
            kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=s)
            te, Te, _ = _timed(lambda: calibrate_steps(**kw), args.repeat)
            if not has:
                print(f"| {e:g} | {d:g} | {q:.3g} | {s:g} | {te:.2f} | {Te} | - | (no guarantee keyword) | - | - |")
                continue
            tc, Tc, errc = _timed(lambda: calibrate_steps(**kw, guarantee="certified"), args.repeat)
            if errc or not Tc:
                print(f"| {e:g} | {d:g} | {q:.3g} | {s:g} | {te:.2f} | {Te} | {tc:.2f} | {Tc} | {errc} | - |")
                continue
            clear_caches()
            c0 = _quiet(Accountant().compose(PoissonSubsampledGaussian(s, q), Tc).get_epsilon, d, certify=True)
            c1 = _quiet(Accountant().compose(PoissonSubsampledGaussian(s, q), Tc + 1).get_epsilon, d, certify=True)
            print(f"| {e:g} | {d:g} | {q:.3g} | {s:g} | {te:.2f} | {Te} | {tc:.2f} | {Tc} "
                  f"| [{c0.lower:.6g}, {c0.upper:.6g}] {'OK' if c0.upper <= e else 'OVER'} | {c1.upper:.6g} |")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
