"""Session 17 (H-CC): benchmarks/cert_de_segments.py's 200-segment certified query, this session's changes on and off
alternated in one process (CPU time, time.process_time; medians over --repeat pairs).

    python benchmarks/certcc_s17_segments_ab.py [--repeat 7] [--seed 0] [--segments 200]

off: certified.SHORT_REUSE = False (the short node count's truncation bound computed again), certified.WORK_SETTLE =
False, certified_quant.EPS_ABS = 0, certify.WIDE_EPS_ABS = 0 (as at the session's start).
"""

from __future__ import annotations

import argparse
import statistics
import sys

from ewacct.bounds import certify
from ewacct.methods import certified, certified_quant


def _set(on: bool) -> None:
    certified.SHORT_REUSE = on
    certified.WORK_SETTLE = on
    certified_quant.EPS_ABS = 1e-3 if on else 0.0
    certify.WIDE_EPS_ABS = 1e-3 if on else 0.0
    certify.COND_QUICK_NARROW = 1 << 18 if on else certify.COND_QUICK


def main(argv=None) -> int:
    import runpy

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--segments", type=int, default=200)
    a = ap.parse_args(argv)
    de = runpy.run_path(__file__.replace("certcc_s17_segments_ab.py", "cert_de_segments.py"))
    segs = de["segments"](a.segments, a.seed)
    de["run"](de["segments"](8, a.seed + 1))
    de["run"](segs)
    ts = {True: [], False: []}
    for _ in range(a.repeat):
        for on in (False, True):
            _set(on)
            t, r = de["run"](segs)
            ts[on].append(t)
            print(f"{'on ' if on else 'off'} {t * 1e3:6.0f} ms [{r.lower:.10g}, {r.upper:.10g}] {r.certified_by[:40]}",
                  flush=True)
    _set(True)
    off, on = statistics.median(ts[False]), statistics.median(ts[True])
    print(f"median off {off * 1e3:.0f} ms, on {on * 1e3:.0f} ms, ratio {on / off:.2f} ({a.repeat} pairs, seed {a.seed}, "
          f"{a.segments} segments)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
