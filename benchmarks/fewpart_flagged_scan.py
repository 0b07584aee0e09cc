"""Default eps(delta) queries at small sigma and tiny q (issue 8: few participations, delta ~1e-12): how many
answers come back flagged (valid=False), and why.

    python benchmarks/fewpart_flagged_scan.py [seed ...] [--n N] [--direct]

Random points (per seed, numpy default_rng): sigma uniform in [0.4, 0.55], q log-uniform in [1e-8, 1e-6],
q T log-uniform in [1e-2, 30] (T >= 4), delta log-uniform in [1e-13, 1e-11].  Each point: one
``Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta)`` call (CPU time,
``time.process_time``), its value, method, validity.  ``--direct``: also ``fewpart_epsilon`` itself (its
relative error estimate, or the refusal and its estimate), which says whether a flag comes from the
quadrature's floating-point budget.  Prints per seed the flagged count, median and total CPU time.
"""

import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.environ.get("EWROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
import numpy as np  # noqa: E402

from ewacct import Accountant  # noqa: E402
from ewacct.mechanisms import PoissonSubsampledGaussian  # noqa: E402
from ewacct.methods.fewpart import FewPartError, fewpart_epsilon  # noqa: E402

warnings.simplefilter("ignore")


def points(seed: int, n: int):
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = float(r.uniform(0.4, 0.55))
        q = float(10.0 ** r.uniform(-8.0, -6.0))
        qt = float(10.0 ** r.uniform(-2.0, np.log10(30.0)))
        d = float(10.0 ** r.uniform(-13.0, -11.0))
        out.append((s, q, max(4, int(round(qt / q))), d))
    return out


def main() -> None:
    args = sys.argv[1:]
    n = 40
    if "--n" in args:
        i = args.index("--n")
        n = int(args[i + 1])
        del args[i:i + 2]
    direct = "--direct" in args
    seeds = [int(a) for a in args if not a.startswith("--")] or [6]
    Accountant().compose(PoissonSubsampledGaussian(0.5, 1e-6), 1000).get_epsilon(1e-12)
    for seed in seeds:
        ts, flagged = [], 0
        for k, (s, q, t, d) in enumerate(points(seed, n)):
            t0 = time.process_time()
            r = Accountant().compose(PoissonSubsampledGaussian(s, q), t).get_epsilon(d)
            dt = time.process_time() - t0
            ts.append(dt)
            flagged += not r.valid
            line = (f"{seed}:{k:02d} sigma={s:.4f} q={q:.3g} T={t} qT={q * t:.3g} delta={d:.3g} eps={r.value:.10g} "
                    f"{r.method} valid={r.valid} {dt:.3f}s")
            if direct:
                try:
                    e, rel, _ = fewpart_epsilon([(q, s, t)], d)
                    line += f" | fewpart {e:.10g} est {rel:.2g}"
                except FewPartError as exc:
                    est = exc.estimate
                    line += f" | fewpart refused ({str(exc)[:60]})" + (f" est {est[1]:.2g}" if est else "")
            print(line, flush=True)
        print(f"seed {seed}: flagged {flagged}/{len(ts)}, median {statistics.median(ts):.3f} s, "
              f"total {sum(ts):.2f} s", flush=True)


if __name__ == "__main__":
    main()
