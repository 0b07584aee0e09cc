"""Independent reference for REMOVE eps(delta) of PSG(sigma, q) x T in the tiny-q corner (session 14, H-D3).

    python benchmarks/trunc_d3_ref.py SIGMA Q T DELTA EPS [EPS ...] [--c C] [--period P] [--umax U]

delta(eps) at each EPS from the Bromwich integral on z = c + iu, trapezoid of period P in the loss, up to
|u| = U, with the step's measure truncated where T P(X > x0) <= 1e-12 delta (tests/test_trunc_d3_eps_accept.py's
``_Ref``, written from the definitions: no ewacct code; its x-grid is refined per u-block).  Prints delta / target
at each eps and the Newton step to the reference's root from the first one.  Run it at two (c, P) pairs: they
must agree.  Example (sigma 0.5603, q 1.111e-7, T 13026689, delta 5.853e-11; at two working-tree states of
session 14 the few-participation quadrature, and once the certified bracket, said 0.0385679 / [0.0385676,
0.0385682] with an estimated error of 5.6e-8): at c 11.79 / P 12.14 and c 8 / P 16 (U 5000, ~100 s CPU each)
delta(0.0385819) = 0.9999997 of the target, delta(0.0385679) = 1.00137 of it: eps = 0.0385819.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from test_trunc_d3_eps_accept import _Ref  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sigma", type=float)
    ap.add_argument("q", type=float)
    ap.add_argument("T", type=int)
    ap.add_argument("delta", type=float)
    ap.add_argument("eps", type=float, nargs="+")
    ap.add_argument("--c", type=float, default=4.0)
    ap.add_argument("--period", type=float, default=20.0)
    ap.add_argument("--umax", type=float, default=300.0)
    a = ap.parse_args()
    h = 2.0 * math.pi / a.period
    u_all = h * np.arange(int(a.umax / h) + 1)
    eps = list(a.eps) + [a.eps[0] * (1.0 + 1e-6)]
    acc = np.zeros(len(eps))
    t0 = time.process_time()
    cuts = sorted({0, len(u_all)} | {int(x / h) for x in (50, 200, 600, 1500, 3000) if x < a.umax})
    last = 0.0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        u = u_all[lo:hi]
        ref = _Ref(a.q, a.sigma, a.T, a.delta, umax=float(u[-1]) + h)  # x-grid for this u-block
        for i in range(0, len(u), 400):
            z = a.c + 1j * u[i:i + 400]
            v = ref.gm1(z)
            k = a.T * (0.5 * np.log1p(2 * v.real + v.real ** 2 + v.imag ** 2) + 1j * np.arctan2(v.imag, 1 + v.real))
            for j, e in enumerate(eps):
                t = np.exp(k - z * e) / (z * (z + 1.0))
                if lo == 0 and i == 0:
                    t[0] *= 0.5
                acc[j] += float(t.real.sum())
            last = float(np.abs(t[-1]))
        print(f"u < {u[-1]:.0f}: {ref.L.size} x-nodes, {time.process_time() - t0:.1f} s CPU", flush=True)
    d = h / math.pi * acc
    print(f"x0 {ref.x0:.4f}  c {a.c}  period {a.period}  umax {a.umax}  last |term| / delta {last * h / math.pi / a.delta:.2g}")
    for e, v in zip(eps[:-1], d[:-1]):
        print(f"eps {e:.12g}: delta {v:.10e}  / target {v / a.delta:.9f}")
    dld = (math.log(d[-1]) - math.log(d[0])) / (eps[-1] - eps[0])
    print(f"d log delta / d eps {dld:.6g}; root {eps[0] - (math.log(d[0]) - math.log(a.delta)) / dld:.12g}")


if __name__ == "__main__":
    main()
