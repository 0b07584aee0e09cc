"""Calibration corners (issue 8: no single default call longer than 1 s): CPU time per warm call, median of
``--repeats``, and the number of accountant evaluations, for calibrate_noise / calibrate_steps at ordinary and
few-participation points.

    .venv/bin/python benchmarks/calibrate_corners.py [--repeats 3] [--ref GIT_REV]

``--ref`` also times ewacct/calibrate.py as of GIT_REV (loaded beside the current one, same engines),
interleaved, and prints both with the answers' relative difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

warnings.simplefilter("ignore")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import ewacct  # noqa: E402
import ewacct.calibrate as CUR  # noqa: E402

NOISE = [  # (target_epsilon, target_delta, q, steps)
    (1.0, 1e-5, 0.01, 1000),
    (8.0, 1e-5, 0.01, 10000),
    (1.0, 1e-5, 0.01, 100),
    (0.05, 1e-10, 1e-4, 10),      # H-D's corner: 1.95 s, 15 evaluations
    (0.5, 1e-10, 1e-3, 100),
    (1.0, 1e-5, 1e-3, 100),
    (1.0, 1e-8, 0.01, 100),
    (0.1, 1e-5, 0.01, 10),
    (1.0, 1e-5, 0.01, 30),
    (0.1, 1e-10, 1e-6, 400),
]
STEPS = [  # (target_epsilon, target_delta, q, sigma)
    (1.0, 1e-5, 0.01, 1.0),
    (0.1, 1e-10, 1e-6, 0.5),      # H-D's corner: 1.04 s
    (0.5, 1e-10, 1e-4, 0.7),
    (1.0, 1e-5, 1e-3, 0.6),
    (2.0, 1e-6, 1e-3, 1.0),
]


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


def timed(fn, repeats: int):
    ts, out = [], None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        ts.append(time.process_time() - t)
    ts.sort()
    return ts[len(ts) // 2], max(ts), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ref", default=None)
    a = ap.parse_args()
    mods = [("new", CUR)]
    if a.ref:
        mods.insert(0, (a.ref, load_ref(a.ref)))
    # warm every kernel first (the first few-participation query of a process loads Numba caches)
    for _, M in mods:
        M.calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=1e-3, steps=100)
        M.calibrate_steps(target_epsilon=1.0, target_delta=1e-5, sampling_probability=1e-3, noise_multiplier=0.6)
    print(f"ewacct {getattr(ewacct, '__version__', '?')}, CPU s per call (median of {a.repeats}, max)")
    worst = {n: 0.0 for n, _ in mods}
    print("calibrate_noise: eps, delta, q, T | per version: median s, max s, evaluations, sigma, eps(sigma), valid")
    for eps, d, q, T in NOISE:
        row, vals = [f"{eps:g}, {d:g}, {q:g}, {T}"], []
        for name, M in mods:
            med, mx, r = timed(lambda: M.calibrate_noise(target_epsilon=eps, target_delta=d, sampling_probability=q,
                                                         steps=T), a.repeats)
            worst[name] = max(worst[name], mx)
            vals.append(r.noise_multiplier)
            row.append(f"{name}: {med:.3f} {mx:.3f} n={r.evaluations} s={r.noise_multiplier:.9g} "
                       f"eps={float(r.epsilon.value):.9g} {'ok' if r.epsilon.valid else 'FLAGGED'}"
                       + ("" if float(r.epsilon.value) <= eps else " ABOVE TARGET"))
        if len(vals) == 2:
            row.append(f"rel diff {abs(vals[1] / vals[0] - 1.0):.1e}")
        print(" | ".join(row), flush=True)
    print("calibrate_steps: eps, delta, q, sigma | per version: median s, max s, steps")
    for eps, d, q, s in STEPS:
        row, vals = [f"{eps:g}, {d:g}, {q:g}, {s:g}"], []
        for name, M in mods:
            med, mx, T = timed(lambda: M.calibrate_steps(target_epsilon=eps, target_delta=d, sampling_probability=q,
                                                         noise_multiplier=s), a.repeats)
            worst[name] = max(worst[name], mx)
            vals.append(T)
            row.append(f"{name}: {med:.3f} {mx:.3f} T={T}")
        if len(vals) == 2 and vals[0] != vals[1]:
            row.append("DIFFERENT")
        print(" | ".join(row), flush=True)
    print("slowest call:", ", ".join(f"{n} {w:.3f} s" for n, w in worst.items()))


if __name__ == "__main__":
    main()
