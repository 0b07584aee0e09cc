"""Few-participation answers checked against contours at other abscissae (session 13, H-F4; issue 8).

    python benchmarks/fewpart_f4_scan.py [--seed S] [--n N] [--old DIR]

Random points sigma 0.45-0.6, q 1e-7..1e-5, q T 0.005..0.1, delta 1e-13..1e-8 (log-uniform).  For each:
``fewpart_epsilon`` (eps, estimate), then delta at that eps from contours at the abscissae ``FACTORS`` times the
saddle's and at the fixed ``FIXED`` ones (non-strict, refined as far as the budgets go; any c > 0 gives the same
integral).  Reported: the contours' largest pairwise disagreement beyond their own estimates (``bad``: |d_i -
d_j| > est_i + est_j, among contours with estimate <= 1e-5), and whether the answer's delta lies within
est + rel eps |dlog delta/deps| of the target against every such contour.  ``--old DIR``: DIR holds a copy of
another tree as package ``ewacct_old``; its kernel is run on the same contours and its disagreements with the
current tree's consensus counted the same way.
"""

import argparse
import importlib
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

FACTORS = (0.25, 0.5, 1.0)
FIXED = (1.0, 2.0, 3.0, 4.5)


def contours(fp, groups, eps, log_target):
    D = fp._Direction(groups, "remove", fp.DEFAULT_RTOL)
    K = D._composition(log_target)
    cs = _saddle_cs(fp, K, eps)
    out = []
    for c in cs:
        try:
            P = fp._build(K, eps, c, fp.DEFAULT_RTOL)
            ld, dld, lerr = fp._evaluate(P, eps, fp.DEFAULT_RTOL, strict=False)
        except Exception as exc:  # noqa: BLE001
            out.append((c, math.nan, math.inf, type(exc).__name__))
            continue
        rel = math.exp(min(lerr - ld, 700.0)) if K.trunc <= 0.0 else math.exp(
            min(float(np.logaddexp(lerr, math.log(K.trunc))) - ld, 700.0))
        out.append((c, math.exp(ld), rel, dld))
    return out


def _saddle_cs(fp, K, eps):
    s = fp._saddle(K, eps)
    return sorted(set([f * s for f in FACTORS] + [c for c in FIXED]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--old", default=None)
    a = ap.parse_args()
    fp = importlib.import_module("ewacct.methods.fewpart")
    old = None
    if a.old:
        sys.path.insert(0, a.old)
        old = importlib.import_module("ewacct_old.methods.fewpart")
    rng = np.random.default_rng(a.seed)
    n_bad = n_ans = n_out = n_old_bad = 0
    for i in range(a.n):
        sigma = float(rng.uniform(0.45, 0.6))
        q = float(10 ** rng.uniform(-7, -5))
        qt = float(10 ** rng.uniform(math.log10(0.005), -1))
        steps = max(4, int(round(qt / q)))
        delta = float(10 ** rng.uniform(-13, -8))
        g = [(q, sigma, steps)]
        t0 = time.process_time()
        try:
            eps, rel, _ = fp.fewpart_epsilon(g, delta)
            status = "ok"
        except fp.FewPartError as exc:
            status = "refused"
            est = exc.estimate
            eps, rel = (est[0], est[1]) if est else (math.nan, math.nan)
        t_ans = time.process_time() - t0
        line = (f"#{i} sigma={sigma:.4f} q={q:.3g} T={steps} delta={delta:.3g}: {status} eps={eps:.10g} "
                f"rel={rel:.2g} ({t_ans:.2f} s)")
        if not math.isfinite(eps):
            print(line, flush=True)
            continue
        cs = contours(fp, g, eps, math.log(delta))
        good = [r for r in cs if math.isfinite(r[1]) and r[2] <= 1e-5]
        worst = 0.0
        for c1, d1, r1, _ in good:
            for c2, d2, r2, _ in good:
                worst = max(worst, abs(d1 - d2) / max(d1, d2) / (r1 + r2))
        bad = worst > 1.0
        n_bad += bad
        out = False
        if status == "ok":
            n_ans += 1
            for c, d, r, dld in good:
                tol = r + rel * eps * abs(dld) if math.isfinite(dld) else math.inf
                if abs(d - delta) > tol * delta:
                    out = True
            n_out += out
        line += (f" contours {len(good)}/{len(cs)} worst pair/(est sum) {worst:.2f}{' BAD' if bad else ''}"
                 f"{' ANSWER-OUT' if out else ''}")
        if old is not None and good:
            cons = sorted(good, key=lambda r: r[2])[0]
            ob = 0.0
            for c, d, r, _ in contours(old, g, eps, math.log(delta)):
                if math.isfinite(d) and r <= 1e-5:
                    ob = max(ob, abs(d - cons[1]) / cons[1] / (r + cons[2]))
            n_old_bad += ob > 1.0
            line += f" | old vs consensus {ob:.2f}{' OLD-BAD' if ob > 1.0 else ''}"
        print(line, flush=True)
    tail = f"; old kernel off the consensus beyond estimates at {n_old_bad}" if old is not None else ""
    print(f"points {a.n}; answered {n_ans}; contour sets disagreeing beyond estimates {n_bad}; answers outside "
          f"their estimate against some contour {n_out}" + tail)


if __name__ == "__main__":
    main()
