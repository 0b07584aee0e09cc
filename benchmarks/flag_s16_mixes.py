"""Random mixes with randomized response (session 16, H-DF): the default eps(delta) with the whole-composition
contour of methods/mixed_exact.py (LatticeContour) off / on, alternated per point in one process.

    python benchmarks/flag_s16_mixes.py [--seed S] [--n N] [--pld VDI]

Mixes: randomized response (1-2 groups, e0 0.05-1.5, 1-60 runs) with 1-3 of Laplace (scale 2-30, 1-30 steps),
Gaussian (sigma 1-30, 1-100 steps), Poisson-subsampled Gaussian (sigma 0.6-3, q 1e-3..1e-1, 1-300 steps);
delta 1e-10..1e-2 log-uniform.  Reported per point: method, valid, value, CPU (off / on); with --pld the
dp_accounting PLD pair at that value_discretization_interval, and valid answers outside it.  Summary: flagged
counts, CPU median / max of each.
"""

import argparse
import math
import os
import random
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

import ewacct  # noqa: E402
from ewacct.methods import mixed_exact  # noqa: E402


def mixes(seed: int, n: int):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        segs = []
        for _ in range(rnd.randint(1, 2)):
            segs.append(("rr", rnd.uniform(0.05, 1.5), None, rnd.randint(1, 60)))
        for _ in range(rnd.randint(1, 3)):
            k = rnd.choice(["lap", "g", "psg", "psg"])
            if k == "lap":
                segs.append(("lap", 10 ** rnd.uniform(0.3, 1.5), 1.0, rnd.randint(1, 30)))
            elif k == "g":
                segs.append(("g", 10 ** rnd.uniform(0, 1.5), None, rnd.randint(1, 100)))
            else:
                segs.append(("psg", 10 ** rnd.uniform(-0.2, 0.5), 10 ** rnd.uniform(-3, -1), rnd.randint(1, 300)))
        out.append((segs, 10 ** rnd.uniform(-10, -2)))
    return out


def mech(kind, a, b):
    return {"lap": lambda: ewacct.Laplace(a, b), "rr": lambda: ewacct.RandomizedResponse(a),
            "g": lambda: ewacct.Gaussian(a), "psg": lambda: ewacct.PoissonSubsampledGaussian(a, b)}[kind]()


def query(segs, delta):
    acc = ewacct.Accountant()
    for kind, a, b, c in segs:
        acc.compose(mech(kind, a, b), c)
    t0 = time.process_time()
    r = acc.get_epsilon(delta)
    return r, time.process_time() - t0


def pld_pair(segs, delta, vdi):
    import dp_accounting.pld.privacy_loss_distribution as P

    def one(kind, a, b, pess):
        if kind == "lap":
            return P.from_laplace_mechanism(a, sensitivity=b, pessimistic_estimate=pess, value_discretization_interval=vdi)
        if kind == "rr":
            return P.from_randomized_response(noise_parameter=2 / (1 + math.exp(a)), num_buckets=2,
                                              pessimistic_estimate=pess, value_discretization_interval=vdi)
        if kind == "g":
            return P.from_gaussian_mechanism(a, pessimistic_estimate=pess, value_discretization_interval=vdi)
        return P.from_gaussian_mechanism(a, sampling_prob=b, pessimistic_estimate=pess,
                                         value_discretization_interval=vdi, use_connect_dots=pess)
    res = []
    for pess in (False, True):
        pl = None
        for kind, a, b, c in segs:
            p = one(kind, a, b, pess).self_compose(c)
            pl = p if pl is None else pl.compose(p)
        res.append(pl.get_epsilon_for_delta(delta))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--pld", type=float, default=0.0)
    a = ap.parse_args()
    query([("rr", 0.5, None, 3), ("psg", 1.0, 0.01, 10), ("lap", 3.0, 1.0, 2)], 1e-5)  # warm the kernels
    res = {False: [], True: []}
    outside = 0
    for i, (segs, delta) in enumerate(mixes(a.seed, a.n)):
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            mixed_exact.CONTOUR = flag
            try:
                r, dt = query(segs, delta)
                row[flag] = (float(r.value), r.method, bool(r.valid), dt)
            except (ValueError, ArithmeticError) as exc:
                row[flag] = (math.nan, f"raises {type(exc).__name__}", False, math.nan)
            res[flag].append(row[flag])
        mixed_exact.CONTOUR = True
        lab = [(k, round(x, 4), y if y is None else round(y, 5), c) for k, x, y, c in segs]
        line = (f"{i:3d} {lab} delta={delta:.4g}  off: {row[False][1]} {row[False][2]} {row[False][0]:.10g} "
                f"{row[False][3]:.3f}s  on: {row[True][1]} {row[True][2]} {row[True][0]:.10g} {row[True][3]:.3f}s")
        if a.pld:
            lo, hi = pld_pair(segs, delta, a.pld)
            line += f"  pld=[{lo:.9g}, {hi:.9g}]"
            for flag in (False, True):
                v, _, ok, _ = row[flag]
                if ok and not lo * (1 - 1e-9) - 1e-12 <= v <= hi * (1 + 1e-9) + 1e-12:
                    outside += 1
                    line += f"  <-- OUTSIDE ({'on' if flag else 'off'})"
        print(line, flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows if math.isfinite(r[3])])
        print(f"contour {'on ' if flag else 'off'}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)} "
              f"of {len(rows)}; CPU median {np.median(cpu):.3f} s, max {cpu.max():.3f} s, total {cpu.sum():.2f} s")
    if a.pld:
        print(f"valid answers outside the PLD pair: {outside}")


if __name__ == "__main__":
    main()
