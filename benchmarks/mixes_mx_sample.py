"""Certified eps(delta) AND delta(eps) of the random mixes of benchmarks/mixes_m2_sample.py (Laplace / randomized
response with Gaussian / Poisson-subsampled Gaussian steps; issue 9, docs/certified_mixed.md): source, width, CPU,
and overlap with dp_accounting's pessimistic / optimistic PLD pair.

    .venv/bin/python benchmarks/mixes_mx_sample.py [--seed 13] [--n 20] [--before REV] [--vdi 1e-4] [--only I]
        [--kind eps|delta|both]

Each point: Accountant().compose(...).get_epsilon(delta, certify=True) and get_delta(eps, certify=True) (through
certify.certified_epsilon / certified_delta after certify.clear_memo()), CPU seconds (time.process_time).  The
delta query's eps is dp_accounting's pessimistic eps at the point's delta (vdi), rounded to 6 digits (independent of
ewacct).  --before REV loads ewacct/bounds/{mixed_fft,rr_contour}.py of REV (mixes_m2_sample._load_old).  Sources:
R (RR lattice over the contour), F (rounded FFT), P (proven Chernoff fallback), other: the certificate's first words.
Summary: fallbacks (P), brackets wider than 1e-4 relative, CPU median / max, PLD disjoint count.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mixes_m2_sample as m2  # noqa: E402


def _src(c) -> str:
    return ("W" if "binomial window" in c.source else "D" if "dominated by randomized" in c.source else
               "R" if "lattice summed" in c.source else "F" if "rounded mixed" in c.source else "P" if "Chernoff" in
            c.source else c.source[:12])


def _timed(st, query):
    """One certified query after clearing the memo: (certificate, relative width, CPU s), counted into ``st``
    (n, cpu, P fallbacks, wide above 1e-4)."""
    from ewacct.bounds import certify

    certify.clear_memo()
    t = time.process_time()
    c = query()
    dt = time.process_time() - t
    w = (c.upper - c.lower) / c.upper if c.upper > 0 else 0.0
    st["n"] += 1
    st["cpu"].append(dt)
    st["P"] += _src(c) == "P"
    st["wide"] += w > 1e-4
    return c, w, dt


def pld_delta_pair(mechs, eps, vdi):
    """The PLD pair's delta(eps): (optimistic, pessimistic)."""
    return m2.pld_pair_at(mechs, vdi, lambda p: p.get_delta_for_epsilon(eps))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--before", default=None)
    ap.add_argument("--vdi", type=float, default=1e-4)
    ap.add_argument("--only", type=int, default=None)
    ap.add_argument("--kind", default="both", choices=("eps", "delta", "both"))
    ap.add_argument("--no-pld", action="store_true", help="delta queries at the sample's own eps scale: skipped")
    args = ap.parse_args(argv)
    if args.before:
        m2._load_old(args.before)
    from ewacct.bounds import certify

    warnings.simplefilter("ignore")
    stats = {k: {"P": 0, "wide": 0, "cpu": [], "bad": 0, "n": 0} for k in ("eps", "delta")}
    for i, (mechs, delta) in enumerate(m2.points(args.seed, args.n)):
        if args.only is not None and i != args.only:
            continue
        a = m2._acc(mechs)
        line = f"{i:2d} {mechs} delta={delta:.2e}"
        p_lo = p_hi = None
        if not args.no_pld:
            p_lo, p_hi = m2.pld_pair(mechs, delta, args.vdi)
        if args.kind in ("eps", "both"):
            st = stats["eps"]
            c, w, dt = _timed(st, lambda: certify.certified_epsilon(a, delta))
            line += f" | eps [{c.lower:.9g}, {c.upper:.9g}] w={w:.2e} {dt:.2f}s {_src(c)}"
            if p_lo is not None:
                ok = max(c.lower, p_lo) <= min(c.upper, p_hi) + 1e-12
                st["bad"] += not ok
                line += f" pld=[{p_lo:.7g}, {p_hi:.7g}]{'' if ok else ' DISJOINT'}"
        if args.kind in ("delta", "both") and p_hi is not None:
            eps = float(f"{p_hi:.6g}")
            d_lo, d_hi = pld_delta_pair(mechs, eps, args.vdi)
            st = stats["delta"]
            c, w, dt = _timed(st, lambda: certify.certified_delta(a, eps))
            ok = max(c.lower, d_lo) <= min(c.upper, d_hi) * (1 + 1e-12)
            st["bad"] += not ok
            line += (f" | delta({eps:g}) [{c.lower:.9g}, {c.upper:.9g}] w={w:.2e} {dt:.2f}s {_src(c)}"
                     f" pld=[{d_lo:.7g}, {d_hi:.7g}]{'' if ok else ' DISJOINT'}")
        print(line, flush=True)
    for k, st in stats.items():
        if st["n"]:
            print(f"{k}: n={st['n']} fallback(P)={st['P']} wider than 1e-4={st['wide']} "
                  f"cpu median={statistics.median(st['cpu']):.2f}s max={max(st['cpu']):.2f}s "
                  f"total={sum(st['cpu']):.1f}s pld disjoint={st['bad']}")
    return 1 if any(st["bad"] for st in stats.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
