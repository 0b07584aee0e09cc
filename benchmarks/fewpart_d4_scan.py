"""Cross-check of the conditioned expansion (methods/fewpart_condexact.py; issue 8, session 15, H-D4).

    python benchmarks/fewpart_d4_scan.py [--seed S] [--n N] [--kind epsilon|delta] [--cert]

Random points over its domain (one Poisson-subsampled Gaussian group): sigma log-uniform 0.1-5, q log-uniform
1e-9..1e-4, q T log-uniform 1e-3..50, delta log-uniform 1e-14..1e-4 (for --kind delta: eps from the chain's
eps(delta)).  For each: the expansion's REMOVE answer (or why it declined) and the default chain's answer with
the expansion switched off (fewpart_condexact.ENABLED = False: the contour / the few-participation quadrature /
...), CPU seconds of each; where both are valid, their relative difference, flagged when above the larger of
the two stated errors plus 1e-9 (eps(delta) is max over REMOVE and ADD: the expansion's REMOVE must not exceed
the chain's valid answer beyond the tolerance, and equals it where the chain answered REMOVE).  --cert: the
certified bracket (certify=True) too; the expansion's answer must lie inside it (1e-6 relative slack).  --corner:
points where the dispatch asks the expansion first instead (sigma 0.3-1.2, q 1e-9..1e-5, q T 0.01..30, delta
1e-14..1e-6).
"""

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

import ewacct  # noqa: E402
from ewacct.methods import fewpart_condexact as fc  # noqa: E402


def points(seed: int, n: int, corner: bool = False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if corner:  # where the dispatch asks the expansion first: q <= 1e-5, q T <= 30
            sigma = float(10 ** rng.uniform(math.log10(0.3), math.log10(1.2)))
            q = float(10 ** rng.uniform(-9, -5))
            qt = float(10 ** rng.uniform(-2, math.log10(30.0)))
            steps = max(3, int(round(qt / q)))
            out.append((sigma, q, steps, float(10 ** rng.uniform(-14, -6))))
            continue
        sigma = float(10 ** rng.uniform(math.log10(0.1), math.log10(5.0)))
        q = float(10 ** rng.uniform(-9, -4))
        qt = float(10 ** rng.uniform(-3, math.log10(50.0)))
        steps = max(3, int(round(qt / q)))
        delta = float(10 ** rng.uniform(-14, -4))
        out.append((sigma, q, steps, delta))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--kind", default="epsilon")
    ap.add_argument("--cert", action="store_true")
    ap.add_argument("--corner", action="store_true")
    a = ap.parse_args()
    fc.ENABLED = False
    ewacct.epsilon(noise_multiplier=0.5, sampling_probability=1e-6, steps=10 ** 6, target_delta=1e-11)
    fc.ENABLED = True
    n_ok = n_bad = n_cond = n_both = 0
    tc, tchain = [], []
    for i, (sigma, q, steps, delta) in enumerate(points(a.seed, a.n, a.corner)):
        g = [(q, sigma, steps)]
        fc.ENABLED = False
        t0 = time.process_time()
        if a.kind == "epsilon":
            r = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=delta)
            x = delta
        else:
            e = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=delta)
            x = float(e.value) if e.valid and e.value > 0 else 1.0
            t0 = time.process_time()
            r = ewacct.delta(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_epsilon=x)
        t_chain = time.process_time() - t0
        fc.ENABLED = True
        tchain.append(t_chain)
        t0 = time.process_time()
        try:
            if a.kind == "epsilon":
                v, rel, info = fc.cond_epsilon(g, x)
            else:
                v, rel, info = fc.cond_delta(g, x)
            why = ""
        except fc.CondError as exc:
            v, rel, why = math.nan, math.nan, str(exc)[:70]
        t_cond = time.process_time() - t0
        line = (f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>11d} qT={q * steps:9.4f} x={x:.4e}  chain: {r.method:<14s} "
                f"{r.valid!s:5s} {float(r.value):.10g} ({r.diagnostics.get('rel_error', math.nan):.1e}) {t_chain:.3f}s  "
                f"cond: ")
        if why:
            line += f"declined ({why}) {t_cond:.3f}s"
        else:
            n_cond += 1
            tc.append(t_cond)
            line += f"{v:.10g} ({rel:.1e}) {t_cond:.3f}s"
            if r.valid:
                n_both += 1
                d = (v - float(r.value)) / float(r.value) if r.value else math.inf
                tol = max(rel, float(r.diagnostics.get("rel_error", 0.0) or 0.0)) + 1e-9
                worse = d > tol if r.direction == "add" else abs(d) > tol
                line += f"  diff={d:+.2e}"
                if worse:
                    n_bad += 1
                    line += "  <-- DISAGREES"
                else:
                    n_ok += 1
            if a.cert:
                if a.kind == "epsilon":
                    c = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=x,
                                       certify=True)
                else:
                    c = ewacct.delta(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_epsilon=x,
                                     certify=True)
                lo, hi = float(c.lower), float(c.upper)
                line += f" cert=[{lo:.9g}, {hi:.9g}]"
                if not lo * (1 - 1e-6) <= v <= hi * (1 + 1e-6) and r.direction != "add":
                    n_bad += 1
                    line += "  <-- OUTSIDE"
        print(line, flush=True)
    print(f"\nexpansion answered {n_cond} of {a.n}; both valid {n_both}: agree {n_ok}, disagree/outside {n_bad}")
    if tc:
        print(f"CPU: expansion median {np.median(tc):.3f} s max {max(tc):.3f} s; chain median {np.median(tchain):.3f} s "
              f"max {max(tchain):.3f} s")


if __name__ == "__main__":
    main()
