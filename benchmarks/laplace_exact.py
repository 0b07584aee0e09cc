"""Exact Laplace compositions (issue 8): CPU time per eps(delta) query, ewacct's exact answer against
dp_accounting's PLD pair (compose both ends + query delta at ewacct's eps), in the same run.

    .venv/bin/python benchmarks/laplace_exact.py

Ours: median of 3 fresh accountants (process CPU time).  PLD: one run, value_discretization_interval
1e-4; its delta bracket at our eps must contain the target delta.  (dp_accounting's own
get_epsilon_for_delta is not used: it is off by ~1 at eps ~ 1e3.)
"""

from __future__ import annotations

import logging
import statistics
import time

from dp_accounting.pld import privacy_loss_distribution as pl

from ewacct import Accountant, Laplace

CASES = [(1.0, 10, 1e-6), (0.1, 100, 1e-6), (0.1, 1000, 1e-9), (1.0, 1000, 1e-6), (0.01, 10000, 1e-6),
         (10.0, 100, 1e-3), (0.1, 100000, 1e-6)]  # (theta = sensitivity / scale, T, delta)


def ours(theta: float, T: int, delta: float):
    ts = []
    for _ in range(3):
        acc = Accountant().compose(Laplace(scale=1.0 / theta), T)
        t = time.process_time()
        r = acc.get_epsilon(delta)
        ts.append(time.process_time() - t)
    return statistics.median(ts), r


def pld(theta: float, T: int, eps: float, vdi: float = 1e-4):
    t = time.process_time()
    ends = [pl.from_laplace_mechanism(1.0 / theta, sensitivity=1.0, pessimistic_estimate=p,
                                      value_discretization_interval=vdi).self_compose(T).get_delta_for_epsilon(eps)
            for p in (False, True)]
    return time.process_time() - t, ends


def main() -> None:
    logging.disable(logging.WARNING)
    for theta, T, delta in CASES:
        to, r = ours(theta, T, delta)
        tp, (lo, hi) = pld(theta, T, float(r.value))
        inside = lo <= delta * (1 + 1e-9) and delta <= hi * (1 + 1e-9)
        print(f"b/D={1 / theta:g} T={T} delta={delta:g}: ours {to * 1e3:.0f} ms ({r.method}, rel_error "
              f"{r.diagnostics['rel_error']:.1e}) eps={float(r.value):.10g}; PLD {tp * 1e3:.0f} ms, delta bracket "
              f"at our eps [{lo:.6g}, {hi:.6g}] {'contains' if inside else 'MISSES'} delta; PLD/ours {tp / to:.0f}x",
              flush=True)


if __name__ == "__main__":
    main()
