"""Few-participation corner at sigma = 0.5, delta = 1e-10 (issue 8's slowest family): warm fewpart_epsilon.

    python benchmarks/fewpart_sigma05.py [repeats]        (EWROOT=<worktree> to time another checkout)

The grid is fewpart_bench.py's (q in {1e-6 .. 1e-2}, q T in {1e-4 .. 0.5}) at sigma = 0.5 and delta = 1e-10;
each point: one untimed call, then the median of ``repeats`` (default 3) ``time.process_time()`` deltas.
"""

import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.environ.get("EWROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
from ewacct.methods.fewpart import fewpart_epsilon  # noqa: E402

warnings.simplefilter("ignore")


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    pts = []
    for q in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        ts = sorted({max(4, int(round(x / q))) for x in (1e-4, 1e-3, 1e-2, 0.1, 0.5) if x / q >= 2})
        pts += [(q, 0.5, t, 1e-10) for t in ts if q * t <= 0.5]
    fewpart_epsilon([(0.001, 0.5, 10)], 1e-10)
    rows = []
    for q, s, t, d in pts:
        fewpart_epsilon([(q, s, t)], d)
        tt = []
        for _ in range(reps):
            t0 = time.process_time()
            v = fewpart_epsilon([(q, s, t)], d)
            tt.append(time.process_time() - t0)
        m = statistics.median(tt)
        rows.append(m)
        print(f"q={q:g} T={t} eps={v[0]:.12g} est={v[1]:.2g} {1e3 * m:.1f} ms", flush=True)
    rows.sort()
    print(f"median {1e3 * rows[len(rows) // 2]:.1f} ms max {1e3 * rows[-1]:.1f} ms")


if __name__ == "__main__":
    main()
