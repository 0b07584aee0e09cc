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

    .venv/bin/python benchmarks/laplace_exact.py --certified

Certified brackets of one Laplace scale (issue 9, docs/certified_laplace.md): per (scale, T) at
delta = 1e-5 the bracket, its relative width and source, the CPU time of one certified delta at the
estimate and of one certified eps(delta) with the estimate memoised (medians of 3 after a warm-up), the
estimate's own time (a fresh instance), and dp_accounting's PLD eps pair (interval 1e-4), which must
overlap the bracket.  Then Accountant().get_epsilon(certify=True) at fresh deltas (the estimate included).
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


CERT_CASES = [(3.0, 65), (3.0, 100), (10.0, 100), (10.0, 200), (30.0, 500), (100.0, 3000), (20.0, 100),
              (3.0, 64), (3.0, 20), (100.0, 10000)]


def certified(delta: float = 1e-5) -> None:
    from ewacct.methods import laplace_certified as lc
    from ewacct.methods.laplace_exact import LaplaceComposition

    logging.disable(logging.WARNING)
    for scale, T in CERT_CASES:
        lc.certified_epsilon(1.0, scale, T, delta)  # warm-up (B-spline tables, the memoised estimate)
        te, tc, tk = [], [], []
        for _ in range(3):
            t = time.process_time()
            est = LaplaceComposition(1.0 / scale, T).epsilon(delta)[0]
            te.append(time.process_time() - t)
            t = time.process_time()
            lo, hi, info = lc.certified_epsilon(1.0, scale, T, delta)
            tc.append(time.process_time() - t)
            t = time.process_time()
            lc.certified_delta(1.0, scale, T, est)
            tk.append(time.process_time() - t)
        plo, phi = (pl.from_laplace_mechanism(scale, sensitivity=1.0, pessimistic_estimate=p,
                                              value_discretization_interval=1e-4).self_compose(T).get_epsilon_for_delta(delta)
                    for p in (False, True))
        ok = plo <= hi and lo <= phi
        print(f"scale {scale:g} T {T}: [{lo:.10g}, {hi:.10g}] rel width {(hi - lo) / hi:.1e} ({info['source']}); "
              f"one certified delta {statistics.median(tk) * 1e3:.1f} ms, certified eps {statistics.median(tc) * 1e3:.1f} ms "
              f"(estimate memoised), estimate {statistics.median(te) * 1e3:.1f} ms; PLD [{plo:.8g}, {phi:.8g}] "
              f"{'overlaps' if ok else 'DISJOINT'}", flush=True)
    for scale, T in [(20.0, 100), (3.0, 100), (100.0, 3000)]:
        ts = []
        for rep in range(4):
            acc = Accountant().compose(Laplace(scale=scale), T)
            t = time.process_time()
            r = acc.get_epsilon(delta * (1 + 0.01 * rep), certify=True)
            ts.append(time.process_time() - t)
        print(f"Accountant Laplace({scale:g}) x {T} get_epsilon(~{delta:g}, certify=True) at fresh deltas: "
              f"[{r.lower:.10g}, {r.upper:.10g}] {r.certified_by!r}, {statistics.median(ts[1:]) * 1e3:.1f} ms", flush=True)


if __name__ == "__main__":
    import sys

    if "--mixed" in sys.argv:
        mixed()
    elif "--certified" in sys.argv:
        certified()
    else:
        main()
