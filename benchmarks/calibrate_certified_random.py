"""Certified calibration (``calibrate_noise(..., guarantee="certified")``) at random targets, before / after.

For each of ``--points`` targets drawn log-uniformly (seeded) from q 1e-5..0.3, T 1..1e5, eps 0.1..10,
delta 1e-10..1e-5: the exact engine's sigma (``guarantee="estimate"``), then the certified calibration of the
working tree and, with ``--before REV``, that of ewacct/calibrate.py at git revision REV (loaded as a module
of the installed package), alternately (the order swaps every point), every certified cache cleared before
each call, CPU seconds by ``time.process_time``.  For each answer: the ratio to the exact sigma and the API's
certified bracket at it (``get_epsilon(delta, certify=True)`` on a fresh accountant, caches cleared): OK where
its upper end is <= the target.  Summary: median, p90 and max CPU, and the sigma ratios.

    python benchmarks/calibrate_certified_random.py [--points 60] [--seed 12] [--before 5c5f717] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct import calibrate as after_mod
from ewacct.methods.certified import clear_caches


def _load_before(rev: str):
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(["git", "show", f"{rev}:ewacct/calibrate.py"], cwd=root, check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "calibrate_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("ewacct._calibrate_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _points(n: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        q = 10 ** rng.uniform(-5, math.log10(0.3))
        T = int(round(10 ** rng.uniform(0, 5)))
        e = 10 ** rng.uniform(-1, 1)
        d = 10 ** rng.uniform(-10, -5)
        out.append((e, d, q, T))
    return out


def _run(mod, kw):
    clear_caches()
    t = time.process_time()
    err = None
    r = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = mod.calibrate_noise(**kw, guarantee="certified")
        except Exception as exc:  # noqa: BLE001 - reported
            err = f"{type(exc).__name__}: {str(exc)[:100]}"
    return time.process_time() - t, r, err


def _check(s, e, d, q, T):
    clear_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon(d, certify=True)
    return c.lower, c.upper, c.upper <= e


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p * len(xs))) - 1)] if xs else math.nan


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=60)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--before", default="")
    ap.add_argument("--only", default="", help="comma-separated point indices")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    pts = _points(args.points, args.seed)
    idx = [int(i) for i in args.only.split(",") if i] or list(range(len(pts)))
    mods = {"after": after_mod}
    if args.before:
        mods["before"] = _load_before(args.before)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in mods.values():  # compile / load kernels
            m.calibrate_noise(target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.01, steps=300,
                              guarantee="certified")
    print(f"ewacct {getattr(ewacct, '__version__', '?')}; CPU s (process_time); caches cleared before each call")
    rows = []
    for k, i in enumerate(idx):
        e, d, q, T = pts[i]
        kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, steps=T)
        clear_caches()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                s0 = ewacct.calibrate_noise(**kw).noise_multiplier
            except Exception as exc:  # noqa: BLE001 - infeasible
                print(f"{i:3d} eps {e:.3g} delta {d:.2g} q {q:.3g} T {T}: estimate: {type(exc).__name__}")
                continue
        row = {"i": i, "eps": e, "delta": d, "q": q, "T": T, "exact_sigma": s0}
        names = list(mods) if k % 2 == 0 else list(mods)[::-1]
        for name in names:
            t, r, err = _run(mods[name], kw)
            row[name] = {"cpu": t, "err": err}
            if r is not None:
                lo, up, ok = _check(r.noise_multiplier, e, d, q, T)
                row[name].update(sigma=r.noise_multiplier, ratio=r.noise_multiplier / s0, lower=lo, upper=up, ok=ok,
                                 source=(r.epsilon.certified_by or "")[:40])
        rows.append(row)
        line = f"{i:3d} eps {e:7.3g} delta {d:8.2g} q {q:9.3g} T {T:6d} exact {s0:9.6g}"
        for name in mods:
            x = row[name]
            if x["err"]:
                line += f" | {name} {x['cpu']:5.2f}s {x['err'][:60]}"
            else:
                line += (f" | {name} {x['cpu']:5.2f}s x{x['ratio']:.6f} {'OK' if x['ok'] else 'OVER'}"
                         f" {x['source'][:12]}")
        print(line)
        sys.stdout.flush()
    print()
    for name in mods:
        cpu = [r[name]["cpu"] for r in rows]
        rat = [r[name]["ratio"] for r in rows if "ratio" in r[name]]
        bad = sum(1 for r in rows if "ok" in r[name] and not r[name]["ok"])
        err = sum(1 for r in rows if r[name]["err"])
        print(f"{name:6s}: {len(rows)} points, CPU median {statistics.median(cpu):.3f} s, p90 {_pct(cpu, 0.9):.3f} s, "
              f"max {max(cpu):.3f} s, > 1 s at {sum(c > 1.0 for c in cpu)}; sigma / exact: median "
              f"{statistics.median(rat):.6f}, p90 {_pct(rat, 0.9):.6f}, max {max(rat):.6f}; over target {bad}, "
              f"errors {err}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
