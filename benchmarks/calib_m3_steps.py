"""Certified step calibration (``calibrate_steps(..., guarantee="certified")``) at random targets, before / after.

For each of ``--points`` targets of benchmarks/calibrate_certified_random.py (seeded: q 1e-5..0.3, T 1..1e5, eps
0.1..10, delta 1e-10..1e-5) with sigma the exact engine's calibrated noise there: the exact engine's step count (``guarantee="estimate"``), then the certified count of the
working tree and, with ``--before REV``, that of ewacct/calibrate.py at git revision REV, alternately (the order
swaps every point), every certified cache cleared before each call, CPU seconds by ``time.process_time``.  Each
answer T > 0 is checked with the API's certificate at T (``get_epsilon(delta, certify=True)`` on a fresh
accountant, caches cleared): OK where its upper end is <= the target.  Summary: median, p90 and max CPU, and
the ratio certified / exact count.

    python benchmarks/calib_m3_steps.py [--points 20] [--seed 12] [--before b71b2cd] [--max-steps 1000000]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ewacct  # noqa: E402
from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct import calibrate as after_mod  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402

from calibrate_certified_random import _load_before, _pct  # noqa: E402


def _points(n: int, seed: int):
    """calibrate_certified_random's (eps, delta, q, T) targets with sigma = the exact engine's calibrated noise
    for them (so the exact step count is near T, inside the range); infeasible ones are skipped."""
    from calibrate_certified_random import _points as noise_points

    out = []
    for e, d, q, T in noise_points(n, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                s = ewacct.calibrate_noise(target_epsilon=e, target_delta=d, sampling_probability=q,
                                           steps=T).noise_multiplier
            except Exception:  # noqa: BLE001 - infeasible target
                continue
        out.append((e, d, q, s))
    return out


def _run(mod, kw):
    clear_caches()
    t = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            T = mod.calibrate_steps(**kw, guarantee="certified")
            return T, time.process_time() - t, None
        except Exception as exc:  # noqa: BLE001 - reported
            return None, time.process_time() - t, f"{type(exc).__name__}: {str(exc)[:80]}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--before", default="")
    ap.add_argument("--max-steps", type=int, default=10**6)
    args = ap.parse_args()
    mods = {"after": after_mod}
    if args.before:
        mods["before"] = _load_before(args.before)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in mods.values():
            m.calibrate_steps(target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.01, noise_multiplier=1.0,
                              guarantee="certified")
    rows = []
    for k, (e, d, q, s) in enumerate(_points(args.points, args.seed)):
        kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=s,
                  max_steps=args.max_steps)
        clear_caches()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            T0 = ewacct.calibrate_steps(**kw)
        row = {"T0": T0}
        line = f"{k:3d} eps {e:6.3g} delta {d:8.2g} q {q:9.3g} sigma {s:6.3g} exact {T0:8d}"
        for name in (list(mods) if k % 2 == 0 else list(mods)[::-1]):
            T, t, err = _run(mods[name], kw)
            ok = None
            if T:
                clear_caches()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    c = Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon(d, certify=True)
                ok = c.upper <= e
            row[name] = (t, T, ok, err)
        for name in mods:
            t, T, ok, err = row[name]
            line += f" | {name} {t:5.2f}s " + (err or f"T {T} x{(T or 0) / max(T0, 1):.5f} {'OK' if ok or not T else 'OVER'}")
        print(line, flush=True)
        rows.append(row)
    print()
    for name in mods:
        cpu = [r[name][0] for r in rows]
        rat = [r[name][1] / r["T0"] for r in rows if r[name][1] and r["T0"]]
        bad = sum(1 for r in rows if r[name][2] is False)
        print(f"{name:6s}: {len(rows)} points, CPU median {statistics.median(cpu):.3f} s, p90 {_pct(cpu, 0.9):.3f} s, "
              f"max {max(cpu):.3f} s, > 1 s at {sum(c > 1.0 for c in cpu)}; T / exact: min {min(rat):.5f}, median "
              f"{statistics.median(rat):.5f}; over target {bad}, errors {sum(1 for r in rows if r[name][3])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
