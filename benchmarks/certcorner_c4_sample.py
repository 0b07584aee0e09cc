"""Few-participation corner, certified eps(delta): CPU time, width, containment (session 13, H-C4).

Random points (seed 1313 by default): sigma = 10^U(log10 0.3, 3), q = 10^U(-9, -2), T = round(10^U(0.5, 2.1)), kept
where 3 <= T <= 127 and q T <= 0.01 (the region where bounds/certify.py tries the conditioned bracket before the
contour), delta = 10^U(-12, -2).  Per point: the certificate's CPU (fresh caches, warm process), whether the
pre-contour bracket answered, the engine's estimate (flagged ones marked) and, where the pre-contour bracket answered,
the contour's own bracket with a 5 s budget (both are proofs: they must meet).  Ends with the count of failures
(estimate outside, disjoint brackets); CPU median / max.

    .venv/bin/python benchmarks/certcorner_c4_sample.py [--n 45] [--seed 1313]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.bounds import certify
from ewacct.methods.certified import clear_caches


def sample(n: int, seed: int) -> list[tuple[float, float, int, float]]:
    rng = random.Random(seed)
    pts = []
    while len(pts) < n:
        s = 10 ** rng.uniform(math.log10(0.3), 3)
        q = 10 ** rng.uniform(-9, -2)
        T = int(round(10 ** rng.uniform(0.5, 2.1)))
        d = 10 ** rng.uniform(-12, -2)
        if q * T <= 0.01 and 3 <= T <= 127:
            pts.append((s, q, T, d))
    return pts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=45)
    ap.add_argument("--seed", type=int, default=1313)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    Accountant().compose(PSG(1.0, 1e-4), 10).get_epsilon(1e-5, certify=True)  # warm
    Accountant().compose(PSG(0.97, 1.5e-6), 39).get_epsilon(2.7e-6, certify=True)
    bad = used = 0
    ts = []
    for s, q, T, d in sample(a.n, a.seed):
        clear_caches()
        certify.clear_memo()
        t = time.process_time()
        c = certify.certified_epsilon(Accountant().compose(PSG(s, q), T), d)
        tc = time.process_time() - t
        ts.append(tc)
        pre = "tried before the contour" in c.source
        used += pre
        est = Accountant().compose(PSG(s, q), T).get_epsilon(d)
        ok = (not est.valid) or (c.lower * (1 - 1e-9) <= est.value <= c.upper * (1 + 1e-9) + 1e-300)
        bad += not ok
        ref = ""
        if pre:
            clear_caches()
            certify.clear_memo()
            b, _ = certify._contour_bracket(Accountant().compose(PSG(s, q), T), "epsilon", d, 5.0)
            if b is not None:
                meets = max(b.lower, c.lower) <= min(b.upper, c.upper)
                bad += not meets
                ref = f" contour [{b.lower:.6g}, {b.upper:.6g}] {'meets' if meets else 'DISJOINT'}"
            else:
                ref = " contour failed"
        print(f"({s:.4g}, {q:.3g}, {T}, {d:.3g}) {tc * 1e3:7.1f} ms [{c.lower:.8g}, {c.upper:.8g}]"
              f"{' WIDE' if certify._too_wide('epsilon', c.lower, c.upper) else ''}{' pre' if pre else ''}"
              f" est {est.value:.6g}{'' if est.valid else ' (flagged)'}{'' if ok else ' OUTSIDE'}{ref}", flush=True)
    print(f"points {len(ts)}  pre-contour answers {used}  failures {bad}  CPU ms median "
          f"{statistics.median(ts) * 1e3:.1f} max {max(ts) * 1e3:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
