"""Random scan of calibration calls (issues 8 and 9: no single default calibration longer than 1 s of CPU,
certified calibration <= 1 s): CPU seconds per warm call (time.process_time), for calibrate_noise and
calibrate_steps, default (guarantee="estimate") and guarantee="certified".

    .venv/bin/python benchmarks/calibrate_scan.py [--n 40] [--seed 1] [--certified] [--steps] [--ref GIT_REV]

Targets are drawn log-uniformly: q 1e-6..1, T 1..1e7 (noise) or sigma 0.3..50 (steps), delta 1e-12..1e-2,
target eps 0.1..20.  Every answer is checked: eps(sigma) <= target by the returned EpsilonResult (its upper
end for certified), valid, and any flag it carries is listed.  ``--ref`` times ewacct/calibrate.py as of
GIT_REV too (loaded beside the current one, same engines), interleaved.  Prints one row per point, then the
median, p90 and max CPU seconds and the slowest points.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import ewacct.calibrate as CUR  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402


def load_ref(rev: str):
    src = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:ewacct/calibrate.py"], check=True,
                         capture_output=True, text=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "calibrate_ref.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("ewacct._calibrate_ref", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def points(n: int, seed: int, steps: bool):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        e = 10 ** rng.uniform(-1, math.log10(20))
        d = 10 ** rng.uniform(-12, -2)
        q = 10 ** rng.uniform(-6, 0)
        if steps:
            out.append((e, d, q, 10 ** rng.uniform(math.log10(0.3), math.log10(50))))
        else:
            out.append((e, d, q, int(round(10 ** rng.uniform(0, 7)))))
    return out


def run_one(M, p, steps: bool, guarantee: str):
    e, d, q, x = p
    if guarantee == "certified":
        clear_caches()
    t = time.process_time()
    try:
        if steps:
            r = M.calibrate_steps(target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=x,
                                  guarantee=guarantee)
        else:
            r = M.calibrate_noise(target_epsilon=e, target_delta=d, sampling_probability=q, steps=x,
                                  guarantee=guarantee)
    except ValueError as exc:
        r = f"{type(exc).__name__}: {str(exc)[:70]}"
    return time.process_time() - t, r


def describe(r, e, steps: bool, guarantee: str) -> str:
    if isinstance(r, str):
        return r
    if steps:
        return f"T={r}"
    res = r.epsilon
    v = float(res.upper) if guarantee == "certified" else float(res.value)
    flag = "" if res.valid else " FLAGGED"
    if v > e:
        flag += " ABOVE TARGET"
    if r.details.get("flagged_evaluations"):
        flag += f" flagged_evals={r.details['flagged_evaluations']}"
    return f"s={r.noise_multiplier:.9g} n={r.evaluations} eps={v:.7g}{flag}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--certified", action="store_true")
    ap.add_argument("--steps", action="store_true")
    ap.add_argument("--ref", default=None)
    ap.add_argument("--only", default="", help="comma-separated point indices")
    a = ap.parse_args()
    g = "certified" if a.certified else "estimate"
    mods = [("new", CUR)]
    if a.ref:
        mods.insert(0, (a.ref, load_ref(a.ref)))
    for _, M in mods:  # load kernels
        M.calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=1e-3, steps=100, guarantee=g)
        M.calibrate_steps(target_epsilon=1.0, target_delta=1e-5, sampling_probability=1e-3, noise_multiplier=0.6)
    pts = points(a.n, a.seed, a.steps)
    idx = [int(i) for i in a.only.split(",") if i] or range(len(pts))
    times: dict[str, list[tuple[float, int]]] = {n: [] for n, _ in mods}
    print(f"{'steps' if a.steps else 'noise'} {g}, seed {a.seed}, CPU s")
    for i in idx:
        p = pts[i]
        row = [f"{i:3d} eps {p[0]:.4g} delta {p[1]:.3g} q {p[2]:.4g} {'sigma' if a.steps else 'T'} {p[3]:.5g}"]
        for n, M in mods:
            dt, r = run_one(M, p, a.steps, g)
            times[n].append((dt, i))
            row.append(f"{n}: {dt:.3f} {describe(r, p[0], a.steps, g)}")
        print(" | ".join(row), flush=True)
    for n, ts in times.items():
        v = sorted(t for t, _ in ts)
        print(f"{n}: median {statistics.median(v):.3f} p90 {v[int(0.9 * (len(v) - 1))]:.3f} max {v[-1]:.3f} s; "
              f"> 1 s: {sum(t > 1.0 for t in v)}; slowest: "
              + ", ".join(f"#{i} {t:.2f}" for t, i in sorted(ts, reverse=True)[:5]))


if __name__ == "__main__":
    main()
