"""Issue 8's "no single default call runs longer than 1 s": CPU time of degenerate and ordinary default calls.

    python benchmarks/degenerate_calls.py [repeats]        (EWROOT=<worktree> to time another checkout)

Each call: one untimed warm-up of the same call, then the median of ``repeats`` (default 3)
``time.process_time()`` deltas (CPU time: the 1 s rule of methods/budget.py is on CPU time).  Prints the
method, validity and value of each answer beside its time.  The budget itself is tested without timing
(tests/test_query_budget.py).
"""

import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.environ.get("EWROOT", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
import ewacct  # noqa: E402
from ewacct import Accountant  # noqa: E402
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG  # noqa: E402

warnings.simplefilter("ignore")


def _acc(*steps):
    a = Accountant()
    for s, q, n in steps:
        a.compose(PSG(s, q), n)
    return a


CALLS = [
    # the lead's three (session 10): 3.5 s, 1.42 s, 3.9 s before the shared budget
    ("delta  PSG(681.6, 1.91e-6) x 96, eps 1e-3", lambda: _acc((681.6, 1.91e-6, 96)).get_delta(1e-3)),
    ("eps    PSG(0.3979, 1.68e-4) x 179, delta 1.78e-3", lambda: _acc((0.3979, 1.68e-4, 179)).get_epsilon(1.78e-3)),
    ("tradeoff PSG(0.1, 0.01) x 20, alpha 0.01/0.1/0.5", lambda: _acc((0.1, 0.01, 20)).tradeoff([0.01, 0.1, 0.5])),
    # random-sweep points that took 1-3 s (seed 1 and 2 of the sweep in the H-D report)
    ("delta  PSG(291.4, 5.42e-9) x 56435382, eps 0.3608", lambda: _acc((291.4, 5.42e-9, 56435382)).get_delta(0.3608)),
    ("delta  PSG(87.25, 1.082e-4) x 54, eps 0.09008", lambda: _acc((87.25, 1.082e-4, 54)).get_delta(0.09008)),
    ("delta  PSG(10.95, 6.057e-9) x 197887, eps 1.933", lambda: _acc((10.95, 6.057e-9, 197887)).get_delta(1.933)),
    ("delta  PSG(0.4416, 3.603e-9) x 466267828, eps 0.1303",
     lambda: _acc((0.4416, 3.603e-9, 466267828)).get_delta(0.1303)),
    # two steps (direct quadrature, two-step enclosure)
    ("eps    PSG(3570.93, 5.1255e-5) x 2, delta 2.2612e-12", lambda: _acc((3570.93, 5.1255e-5, 2)).get_epsilon(2.2612e-12)),
    ("eps    PSG(0.2275, 1.558e-5) + PSG(0.1627, 0.1437), delta 0.143443962",
     lambda: _acc((0.2275048667413423, 1.558426714839857e-05, 1), (0.16265371643001308, 0.14374161000311936, 1))
     .get_epsilon(0.14344396173103072)),
    # ordinary
    ("eps    PSG(1, 0.01) x 1000, delta 1e-5", lambda: _acc((1.0, 0.01, 1000)).get_epsilon(1e-5)),
    ("eps    PSG(0.5, 1e-5) x 30000, delta 1e-10", lambda: _acc((0.5, 1e-5, 30000)).get_epsilon(1e-10)),
    ("calibrate_noise eps 1, delta 1e-5, q 0.01, T 1000",
     lambda: ewacct.calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01, steps=1000)),
    ("calibrate_noise eps 8, delta 1e-6, q 2000/67349, T 660",
     lambda: ewacct.calibrate_noise(target_epsilon=8.0, target_delta=1e-6, sampling_probability=2000 / 67349,
                                    steps=660)),
    ("calibrate_noise eps 0.05, delta 1e-10, q 1e-4, T 10",
     lambda: ewacct.calibrate_noise(target_epsilon=0.05, target_delta=1e-10, sampling_probability=1e-4, steps=10)),
    ("calibrate_noise eps 50, delta 1e-12, q 0.5, T 3",
     lambda: ewacct.calibrate_noise(target_epsilon=50.0, target_delta=1e-12, sampling_probability=0.5, steps=3)),
    ("calibrate_steps eps 1, delta 1e-5, q 0.01, sigma 1",
     lambda: ewacct.calibrate_steps(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01,
                                    noise_multiplier=1.0)),
    ("calibrate_steps eps 0.1, delta 1e-10, q 1e-6, sigma 0.5",
     lambda: ewacct.calibrate_steps(target_epsilon=0.1, target_delta=1e-10, sampling_probability=1e-6,
                                    noise_multiplier=0.5)),
    ("calibrate_steps eps 2, delta 1e-8, q 1e-7, sigma 20",
     lambda: ewacct.calibrate_steps(target_epsilon=2.0, target_delta=1e-8, sampling_probability=1e-7,
                                    noise_multiplier=20.0)),
]


def _describe(r) -> str:
    if isinstance(r, int):
        return f"steps={r}"
    if hasattr(r, "beta"):
        return f"{r.method} valid={r.valid} beta={[round(float(b), 6) for b in r.beta]}"
    if hasattr(r, "noise_multiplier"):
        return f"sigma={r.noise_multiplier:.10g}"
    return f"{r.method} valid={bool(r.valid)} value={float(r.value):.10g}"


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    _acc((1.0, 0.01, 100)).get_epsilon(1e-5)
    worst = 0.0
    for label, fn in CALLS:
        fn()
        tt = []
        for _ in range(reps):
            t0 = time.process_time()
            r = fn()
            tt.append(time.process_time() - t0)
        m = statistics.median(tt)
        worst = max(worst, max(tt))
        print(f"{1e3 * m:8.1f} ms  (max {1e3 * max(tt):7.1f})  {label:60s} {_describe(r)}", flush=True)
    print(f"slowest single call {1e3 * worst:.1f} ms")


if __name__ == "__main__":
    main()
