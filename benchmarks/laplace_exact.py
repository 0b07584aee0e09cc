"""Exact Laplace compositions (issue 8): CPU time per eps(delta) query, ewacct's exact answer against
dp_accounting's PLD pair (compose both ends + query delta at ewacct's eps), in the same run.

    .venv/bin/python benchmarks/laplace_exact.py

Ours: median of 3 fresh accountants (process CPU time).  PLD: one run, value_discretization_interval
1e-4; its delta bracket at our eps must contain the target delta.  (dp_accounting's own
get_epsilon_for_delta is not used: it is off by ~1 at eps ~ 1e3.)

    .venv/bin/python benchmarks/laplace_exact.py --mixed

Laplace / randomized response mixed with other mechanisms (docs/math.md section 9): per case the
eps(delta) and delta(eps) CPU times (median of 5 fresh accountants each after one warm-up call; the
dispatch answers both directions where they may differ), the method and error bound, and dp_accounting's PLD delta bracket (interval 1e-4) at our
eps and at eps = 1.  Randomized-response mixes are queried through the dispatch directly
(ewacct.methods.base.structure still refuses them in the Accountant).
"""

from __future__ import annotations

import logging
import statistics
import time

from dp_accounting.pld import privacy_loss_distribution as pl

from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse

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


MIXED = [
    ("Laplace(1) x3 + Gaussian(2) x3", [(Laplace(1.0), 3), (Gaussian(2.0), 3)]),
    ("Laplace(2) x1 + Gaussian(1) x1", [(Laplace(2.0), 1), (Gaussian(1.0), 1)]),
    ("Laplace(10) x50 + SG(1, 0.01) x100", [(Laplace(10.0), 50), (PoissonSubsampledGaussian(1.0, 0.01), 100)]),
    ("Laplace(1) x2 + SG(1, 0.01) x1000", [(Laplace(1.0), 2), (PoissonSubsampledGaussian(1.0, 0.01), 1000)]),
    ("Laplace(1) x5 + SG(0.8, 0.1) x50", [(Laplace(1.0), 5), (PoissonSubsampledGaussian(0.8, 0.1), 50)]),
    ("Laplace(1) x1 + SG(1, 0.01) x10", [(Laplace(1.0), 1), (PoissonSubsampledGaussian(1.0, 0.01), 10)]),
    ("Laplace(.5) x3 + G(3) x10 + SG(1, .02) x300", [(Laplace(0.5), 3), (Gaussian(3.0), 10),
                                                     (PoissonSubsampledGaussian(1.0, 0.02), 300)]),
    ("RR(1) x5 + Gaussian(2) x3", [(RandomizedResponse(1.0), 5), (Gaussian(2.0), 3)]),
    ("RR(.5) x4 + RR(1) x3", [(RandomizedResponse(0.5), 4), (RandomizedResponse(1.0), 3)]),
    ("RR(1) x10 + SG(1, 0.05) x100", [(RandomizedResponse(1.0), 10), (PoissonSubsampledGaussian(1.0, 0.05), 100)]),
    ("RR(2) x3 + Laplace(1) x4", [(RandomizedResponse(2.0), 3), (Laplace(1.0), 4)]),
    ("RR(1) x2 + Laplace(2) x2 + Gaussian(1) x1", [(RandomizedResponse(1.0), 2), (Laplace(2.0), 2), (Gaussian(1.0), 1)]),
]


def _pld_mixed(groups, eps: float, vdi: float = 1e-4):
    ends = []
    for pess in (False, True):
        acc = None
        for m, n in groups:
            if isinstance(m, RandomizedResponse):
                b = pl.from_randomized_response(2.0 / (1.0 + __import__("math").exp(m.epsilon0)), 2,
                                                pessimistic_estimate=pess, value_discretization_interval=vdi)
            elif isinstance(m, Laplace):
                b = pl.from_laplace_mechanism(m.scale, sensitivity=m.sensitivity, pessimistic_estimate=pess,
                                              value_discretization_interval=vdi)
            elif isinstance(m, Gaussian):
                b = pl.from_gaussian_mechanism(m.noise_multiplier, pessimistic_estimate=pess,
                                               value_discretization_interval=vdi)
            else:
                b = pl.from_gaussian_mechanism(m.noise_multiplier, sampling_prob=m.sampling_probability,
                                               pessimistic_estimate=pess, value_discretization_interval=vdi)
            b = b.self_compose(n)
            acc = b if acc is None else acc.compose(b)
        ends.append(acc.get_delta_for_epsilon(eps))
    return ends


def _query(groups, kind: str, x: float):
    import numpy as np

    from ewacct.methods.dispatch import ExactDispatch

    if any(isinstance(m, RandomizedResponse) for m, _ in groups):
        return ExactDispatch(groups, None).rows(kind, np.array([x]))[0]
    acc = Accountant()
    for m, n in groups:
        acc.compose(m, n)
    return acc.get_epsilon(x) if kind == "epsilon" else acc.get_delta(x)


def mixed(delta: float = 1e-5) -> None:
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    for name, groups in MIXED:
        out = {}
        for kind, x in (("epsilon", delta), ("delta", 1.0)):
            _query(groups, kind, x)  # warm-up: the kernels' first calls (Numba loading) are not counted
            ts = []
            for _ in range(5):
                t = time.process_time()
                r = _query(groups, kind, x)
                ts.append(time.process_time() - t)
            out[kind] = (statistics.median(ts), r)
        (te, re), (td, rd) = out["epsilon"], out["delta"]
        lo, hi = _pld_mixed(groups, float(re.value))
        lo1, hi1 = _pld_mixed(groups, 1.0)
        ok = lo <= delta * (1 + 1e-9) and delta <= hi * (1 + 1e-9)
        ok1 = lo1 * (1 - 1e-9) <= float(rd.value) <= hi1 * (1 + 1e-9)
        print(f"{name}: eps({delta:g}) = {float(re.value):.10g} [{re.method}, rel {re.diagnostics.get('rel_error', float('nan')):.1e}] "
              f"{te * 1e3:.0f} ms, PLD bracket {'contains' if ok else 'MISSES'} delta; delta(1) = {float(rd.value):.10g} "
              f"[{rd.method}] {td * 1e3:.0f} ms, in PLD [{lo1:.8g}, {hi1:.8g}]: {ok1}", flush=True)


if __name__ == "__main__":
    import sys

    if "--mixed" in sys.argv:
        mixed()
    else:
        main()
