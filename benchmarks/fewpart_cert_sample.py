"""Issue 9, few-participation corner: certified eps(delta) brackets before / after the rounded tilted-PLD
bracket (ewacct/bounds/fewpart_cert.py), on the five reported points and a fixed-seed random sample.

Sample: q = 10^U(-6,-2), sigma = 10^U(log10 0.3, log10 50), T = round(10^U(0.3, 3)) with q T <= 0.3
(rejection), delta = 10^U(-12,-2); seed 9.  "before": the certificate with the new source switched
off; "after": as shipped.  CPU seconds (time.process_time), one run each.

    .venv/bin/python benchmarks/fewpart_cert_sample.py [--n 30] [--points-only]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from ewacct import Accountant
from ewacct.bounds import certify
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG

POINTS = [(0.97, 1.5e-6, 39, 2.7e-6), (0.5, 1e-3, 10, 1e-10), (32.25, 8.61e-6, 6, 2.56e-12),
          (0.5535, 2.17e-6, 873, 3.13e-11), (3.718, 3.58e-6, 115, 1.06e-11),
          # session 11 (issue 9 / reviewer H-R8): refused estimate, slow corner calls, q T ~ 1
          (0.3, 1e-9, 3, 1e-14), (0.3, 1e-3, 50, 1e-13), (0.4, 0.3, 2, 1e-14), (0.35, 0.3, 3, 1e-13),
          (10.0, 1e-3, 10, 1e-12),
          # session 12: certified_sweep seeds 101 / 202 (the folded body, docs/certified_fewpart.md C7-C9)
          (0.4905, 2.48e-5, 54, 5.5e-11), (0.8363, 8.07e-6, 30, 6.75e-8), (0.2719, 5.62e-5, 65, 2.73e-7),
          (0.5952, 2.28e-6, 393, 6.89e-7)]


def sample(n: int, seed: int = 9):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        q = 10 ** rng.uniform(-6, -2)
        s = 10 ** rng.uniform(math.log10(0.3), math.log10(50))
        T = int(round(10 ** rng.uniform(0.3, 3)))
        d = 10 ** rng.uniform(-12, -2)
        if q * T <= 0.3:
            out.append((float(s), float(q), T, float(d)))
    return out


def ok(lo, hi):
    return (hi - lo) <= (1e-4 * hi if hi >= 1e-3 else 1e-7)


def run(s, q, T, d, new: bool):
    orig = certify._with_fewpart
    if not new:
        certify._with_fewpart = lambda acc, kind, x, c, t0, *a, **k: c
    try:
        certify.clear_memo()
        acc = Accountant().compose(PSG(s, q), T)
        t = time.process_time()
        c = certify.certified_epsilon(acc, d)
        return c.lower, c.upper, time.process_time() - t, c.source
    finally:
        certify._with_fewpart = orig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--points-only", action="store_true")
    a = ap.parse_args()
    pts = POINTS + ([] if a.points_only else sample(a.n))
    nb = na = 0
    for i, (s, q, T, d) in enumerate(pts):
        est = float(Accountant().compose(PSG(s, q), T).get_epsilon(d).value)
        b = run(s, q, T, d, False)
        n_ = run(s, q, T, d, True)
        nb += ok(b[0], b[1])
        na += ok(n_[0], n_[1])
        inside = n_[0] <= est <= n_[1]
        print(f"{i:2d} sigma={s:.4g} q={q:.3g} T={T} delta={d:.3g} est={est:.8g} | before [{b[0]:.8g}, {b[1]:.8g}] "
              f"ok={ok(b[0], b[1])} {b[2]:.2f}s | after [{n_[0]:.8g}, {n_[1]:.8g}] ok={ok(n_[0], n_[1])} {n_[2]:.2f}s "
              f"est_inside={inside} {'NEW' if 'rounded loss-distribution' in n_[3] else ''}", flush=True)
    print(f"meets width target: before {nb}/{len(pts)}, after {na}/{len(pts)}")


if __name__ == "__main__":
    main()
