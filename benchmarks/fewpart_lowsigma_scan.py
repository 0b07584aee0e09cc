"""Default eps(delta) / delta(eps) calls below sigma = 0.2 in the few-participation corner (issue 8: no
single default call longer than 1 s).

    python benchmarks/fewpart_lowsigma_scan.py [--quick | --wide] [--delta]

For each (sigma, q, T, delta) of a small grid (sum q T <= 5, where the dispatch sends sigma < 0.2 to the
few-participation quadrature first) it times one warm ``ewacct.epsilon`` call (CPU time,
``time.process_time``; untimed calls of other points load the kernels first) and prints value,
method, validity and seconds, then the largest times.  ``--delta`` also times ``ewacct.delta`` at the
eps found (the round trip).  ``--wide``: another grid (sigma 0.05-0.25, q 1e-6-0.3, T 2-1000, delta 1e-6
and 1e-12).
"""

import itertools
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ewacct  # noqa: E402

warnings.simplefilter("ignore")


def grid(quick: bool, wide: bool = False):
    sig = (0.05, 0.1, 0.19) if quick else (0.05, 0.07, 0.1, 0.15, 0.19)
    qs = (1e-3, 1e-2, 0.05) if quick else (1e-4, 1e-3, 1e-2, 0.05)
    ts = (3, 10, 100)
    ds = (1e-5, 1e-10)
    if wide:
        sig, qs, ts, ds = (0.05, 0.08, 0.12, 0.2, 0.25), (1e-6, 1e-3, 0.1, 0.3), (2, 5, 30, 1000), (1e-6, 1e-12)
    for s, q, t, d in itertools.product(sig, qs, ts, ds):
        if q * t <= 5.0:
            yield s, q, t, d


def main() -> None:
    quick = "--quick" in sys.argv
    rt = "--delta" in sys.argv
    # warm: the kernels of the few-participation quadrature, the direct recursion (T = 2) and the contour
    ewacct.epsilon(noise_multiplier=0.5, sampling_probability=1e-3, steps=10, target_delta=1e-5)
    ewacct.epsilon(noise_multiplier=0.5, sampling_probability=1e-3, steps=2, target_delta=1e-5)
    ewacct.epsilon(noise_multiplier=1.0, sampling_probability=1e-2, steps=1000, target_delta=1e-5)
    rows = []
    for s, q, t, d in grid(quick, "--wide" in sys.argv):
        t0 = time.process_time()
        r = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=t, target_delta=d)
        dt = time.process_time() - t0
        line = f"s={s} q={q:g} T={t} d={d:g} eps={r.value:.10g} {r.method} valid={r.valid} {dt:.3f}s"
        rows.append((dt, line))
        if rt and r.value > 0:
            t0 = time.process_time()
            r2 = ewacct.delta(noise_multiplier=s, sampling_probability=q, steps=t, target_epsilon=r.value)
            dt2 = time.process_time() - t0
            line2 = f"   delta(eps)={r2.value:.8g} rel={abs(r2.value - d) / d:.2g} {r2.method} valid={r2.valid} {dt2:.3f}s"
            rows.append((dt2, line + line2))
            line += line2
        print(line, flush=True)
    rows.sort(reverse=True)
    ts = sorted(r[0] for r in rows)
    print("calls", len(rows), "median", f"{ts[len(ts) // 2]:.3f}s", "max", f"{ts[-1]:.3f}s",
          "over 1 s:", sum(x > 1.0 for x in ts))
    for dt, line in rows[:8]:
        print("  ", line)


if __name__ == "__main__":
    main()
