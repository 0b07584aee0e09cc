"""Scans of the default exact engine around the few-participation corner (docs/benchmarks_fewpart.md,
section "delta(eps) exactness and q T beyond 0.5").

    python benchmarks/fewpart_qt_scan.py a        # eps(1e-12), q = 1e-3, sigma = 1, T 1e3 .. 3e4
    python benchmarks/fewpart_qt_scan.py b        # eps(1e-12), q = 1e-9, sigma = 0.2, T 1e8 .. 3e9
    python benchmarks/fewpart_qt_scan.py roundtrip  # delta(eps(delta)) over a grid, flagged counts

Prints each answer (value, method, valid, CPU seconds) and a summary: flagged answers, steps where eps
decreases in T, median CPU time (process_time) / the round trip's worst relative deviation.
"""

import itertools
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ewacct  # noqa: E402

warnings.simplefilter("ignore")


def scan(which: str) -> None:
    if which == "a":
        q, s, Ts = 1e-3, 1.0, np.unique(np.geomspace(1e3, 3e4, 25).astype(int))
    else:
        q, s, Ts = 1e-9, 0.2, np.geomspace(1e8, 3e9, 25)
    out = []
    for T in Ts:
        t = time.process_time()
        r = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=int(T), target_delta=1e-12)
        dt = time.process_time() - t
        out.append((T, r.value, r.method, r.valid, dt))
        print(f"{T:.4g} qT={q * T:.3g} {r.value:.10g} {r.method} {r.valid} {dt:.2f}s", flush=True)
    v = [o[1] for o in out]
    print("flagged", sum(not o[3] for o in out), "/", len(out), "nonmonotone",
          sum(v[i + 1] < v[i] for i in range(len(v) - 1)), "median cpu s", np.median([o[4] for o in out]))


def roundtrip() -> None:
    n = flagged = 0
    worst = 0.0
    for q, s, qT, d in itertools.product([1e-3, 1e-6], [0.5, 1.0, 2.0], [0.01, 0.3, 2.0], [1e-6, 1e-10, 1e-12]):
        T = max(4, int(round(qT / q)))
        e = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=T, target_delta=d)
        if not e.valid or e.value == 0:
            continue
        t = time.process_time()
        r = ewacct.delta(noise_multiplier=s, sampling_probability=q, steps=T, target_epsilon=e.value)
        dt = time.process_time() - t
        n += 1
        rel = abs(r.value - d) / d
        flagged += not r.valid
        worst = max(worst, rel if r.valid else 0.0)
        print(f"q={q:g} s={s} T={T} d={d:g} eps={e.value:.10g} {e.method} -> delta={r.value:.6g} {r.method} "
              f"valid={r.valid} rel={rel:.2g} {dt:.2f}s", flush=True)
    print("n", n, "flagged", flagged, "worst valid rel", worst)


if __name__ == "__main__":
    arg = sys.argv[1] if len(sys.argv) > 1 else "a"
    roundtrip() if arg == "roundtrip" else scan(arg)
