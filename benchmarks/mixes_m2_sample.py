"""Certified eps of random mixes of Laplace / randomized response with Gaussian / Poisson-subsampled Gaussian steps
(issue 9, docs/certified_mixed.md): width, CPU time and containment against dp_accounting's PLD pair.

    .venv/bin/python benchmarks/mixes_m2_sample.py [--seed 13] [--n 20] [--before REV] [--vdi 1e-3] [--no-pld]

--before REV: the same points with ewacct/bounds/{mixed_fft,rr_contour}.py as of git revision REV (loaded in
place of the working tree's modules; the rest of the tree as it is), for before/after tables in one session.
Each point: Accountant().compose(...).get_epsilon(delta, certify=True) after certify.clear_memo(); CPU seconds
(time.process_time); PLD: dp_accounting's optimistic / pessimistic eps at value_discretization_interval vdi; the
certified bracket must overlap [optimistic, pessimistic] (both are bounds on the same number at that vdi only up to
its discretisation, so overlap is the check, as in tests/test_mixed_fft.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
import time
import warnings


def _load_old(rev: str) -> None:
    import os
    import tempfile

    import ewacct.bounds  # noqa: F401

    tmp = tempfile.mkdtemp(prefix="mixes_m2_before_")
    for name in ("mixed_fft", "rr_contour"):
        src = subprocess.run(["git", "show", f"{rev}:ewacct/bounds/{name}.py"], capture_output=True, text=True,
                             check=True).stdout
        path = os.path.join(tmp, f"{name}.py")  # (a real file: Numba's cache needs one)
        with open(path, "w") as f:
            f.write(src)
        full = f"ewacct.bounds.{name}"
        spec = importlib.util.spec_from_file_location(full, path)
        mod = importlib.util.module_from_spec(spec)
        mod.__package__ = "ewacct.bounds"
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        setattr(sys.modules["ewacct.bounds"], name, mod)


def points(seed: int, n: int):
    import random

    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        mechs = []
        if rnd.random() < 0.5:
            mechs.append(("lap", round(rnd.uniform(0.5, 10.0), 3), rnd.choice([1, 2, 3, 5, 10, 20, 50, 100, 200])))
        else:
            mechs.append(("rr", round(rnd.uniform(0.1, 2.0), 3), rnd.choice([1, 2, 3, 5, 10, 20, 40])))
        if rnd.random() < 0.5:
            mechs.append(("gauss", round(rnd.uniform(1.0, 10.0), 3), rnd.choice([1, 2, 5, 10, 50, 100, 200])))
        else:
            mechs.append(("psg", (round(rnd.uniform(0.7, 5.0), 3), round(10 ** rnd.uniform(-3, -0.7), 5)),
                          rnd.choice([1, 5, 10, 50, 100, 200])))
        delta = 10 ** rnd.uniform(-10, -3)
        out.append((mechs, delta))
    return out


def _acc(mechs):
    from ewacct import Accountant, Gaussian, Laplace, PoissonSubsampledGaussian as PSG, RandomizedResponse as RR

    a = Accountant()
    for kind, args, n in mechs:
        m = (Laplace(args) if kind == "lap" else RR(args) if kind == "rr" else Gaussian(args) if kind == "gauss"
             else PSG(*args))
        a = a.compose(m, n)
    return a


def pld_pair_at(mechs, vdi, query):
    """dp_accounting's optimistic and pessimistic PLD of the mix ``mechs`` at interval ``vdi``, each read by
    ``query(pld)``: (optimistic, pessimistic)."""
    import logging

    from dp_accounting.pld import privacy_loss_distribution as pl

    logging.disable(logging.WARNING)
    out = []
    try:
        for pess in (False, True):
            tot = None
            for kind, args, n in mechs:
                if kind == "lap":
                    p = pl.from_laplace_mechanism(args, pessimistic_estimate=pess, value_discretization_interval=vdi)
                elif kind == "rr":
                    p = pl.from_randomized_response(2.0 / (1.0 + math.exp(args)), 2, pessimistic_estimate=pess,
                                                    value_discretization_interval=vdi)
                elif kind == "gauss":
                    p = pl.from_gaussian_mechanism(args, pessimistic_estimate=pess, value_discretization_interval=vdi)
                else:
                    s, q = args
                    p = pl.from_gaussian_mechanism(s, sampling_prob=q, pessimistic_estimate=pess,
                                                   value_discretization_interval=vdi)
                p = p.self_compose(n)
                tot = p if tot is None else tot.compose(p)
            out.append(float(query(tot)))
    finally:
        logging.disable(logging.NOTSET)
    return out[0], out[1]


def pld_pair(mechs, delta, vdi):
    """The PLD pair's eps(delta): (optimistic, pessimistic)."""
    return pld_pair_at(mechs, vdi, lambda p: p.get_epsilon_for_delta(delta))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--before", default=None)
    ap.add_argument("--vdi", type=float, default=1e-3)
    ap.add_argument("--no-pld", action="store_true")
    ap.add_argument("--only", type=int, default=None)
    args = ap.parse_args(argv)
    if args.before:
        _load_old(args.before)
    from ewacct.bounds import certify

    warnings.simplefilter("ignore")
    bad = 0
    for i, (mechs, delta) in enumerate(points(args.seed, args.n)):
        if args.only is not None and i != args.only:
            continue
        a = _acc(mechs)
        certify.clear_memo()
        t = time.process_time()
        c = certify.certified_epsilon(a, delta)
        dt = time.process_time() - t
        w = (c.upper - c.lower) / c.upper if c.upper > 0 else 0.0
        src = ("W" if "binomial window" in c.source else "D" if "dominated by randomized" in c.source else
               "R" if "lattice summed" in c.source else "F" if "rounded mixed" in c.source else "P" if "Chernoff" in
               c.source else c.source[:12])
        line = f"{i:2d} {mechs} delta={delta:.2e} [{c.lower:.9g}, {c.upper:.9g}] w={w:.2e} {dt:.2f}s {src}"
        if not args.no_pld:
            try:
                p_lo, p_hi = pld_pair(mechs, delta, args.vdi)
                ok = max(c.lower, p_lo) <= min(c.upper, p_hi) + 1e-12
                bad += not ok
                line += f" pld=[{p_lo:.9g}, {p_hi:.9g}] {'ok' if ok else 'DISJOINT'}"
            except Exception as exc:  # noqa: BLE001
                line += f" pld: {exc!r}"[:80]
        print(line, flush=True)
    print("disjoint:", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
