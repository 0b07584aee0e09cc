"""Certified calibration before / after, session 17 (H-CB): a few-participation corner sample (q T <= 0.01) and an
ordinary sample, both through the core's path (``calibrate_noise(guarantee="certified")``) and ewacct_torch's (the
same with ``certify_options={"time_budget": 10}``, the EWAccountant's budget, and the target less 1e-7 relative), and
with ``--steps`` ``calibrate_steps(guarantee="certified")`` at the exact engine's calibrated sigma of each target
(as benchmarks/calib_m3_steps.py; its "torch" path is the core's, no certify_options there).

The "before" / "after" pair is the API certificate's corner-first conditioned bracket with at most 2^16 plan cells
(HEAD 77ac2e1) or 2^23 where the estimate is >= 0.05 (patch /tmp/h17/patches/CB-1.patch, ``certify.CORNER_COND_CELLS``,
``CORNER_BIG_EPS``); where the working tree's
certify.py lacks that constant the patched ``_corner_first`` is read from ``--cb1-file`` (the patched certify.py) and
installed in the loaded module.  Alternated per point (the order swaps every point), every certified cache cleared
before each call, CPU seconds by ``time.process_time``.  For each answer: sigma / the exact sigma, and the API's
certified upper end at it (with the same certificate options) against the target; ``--pld`` adds dp_accounting's
pessimistic connect-the-dots PLD eps at the returned sigma (an independent upper bound; vdi 1e-4).

    python benchmarks/certcb_s17_calib.py [--sample corner|ordinary] [--points 12] [--seed 12] [--paths core,torch]
        [--cb1-file /tmp/cb17/pt/certify.py] [--pld] [--steps]
"""

from __future__ import annotations

import argparse
import ast
import math
import random
import statistics
import sys
import time
import warnings

warnings.simplefilter("ignore")

import ewacct  # noqa: E402
from ewacct import Accountant, PoissonSubsampledGaussian  # noqa: E402
from ewacct.bounds import certify  # noqa: E402
from ewacct.methods.certified import clear_caches  # noqa: E402

CELLS = {"before": 1 << 16, "after": 1 << 23}


def _install(cb1_file: str) -> None:
    if hasattr(certify, "CORNER_COND_CELLS"):
        return
    src = open(cb1_file).read()
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef) and node.name == "_corner_first":
            code = ast.get_source_segment(src, node)
            break
    else:
        raise SystemExit(f"no _corner_first in {cb1_file}")
    certify.CORNER_COND_CELLS = CELLS["after"]
    certify.CORNER_BIG_EPS = 0.05
    exec(compile(code, certify.__file__, "exec"), certify.__dict__)  # noqa: S102 - the patch under test


def _draw(n: int, seed: int, corner: bool):
    """calibrate_certified_random.py's generator (q 1e-5..0.3, T 1..1e5, eps 0.1..10, delta 1e-10..1e-5); the corner
    sample keeps the draws with q T <= 0.01 and T >= 3."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        q = 10 ** rng.uniform(-5, math.log10(0.3))
        T = int(round(10 ** rng.uniform(0, 5)))
        e = 10 ** rng.uniform(-1, 1)
        d = 10 ** rng.uniform(-10, -5)
        if corner and not (q * T <= 0.01 and T >= 3):
            continue
        out.append((e, d, q, T))
    return out


def _clear() -> None:
    clear_caches()
    certify.clear_memo()


def _pld(sigma, q, T, delta, vdi=1e-4):
    import logging

    from dp_accounting.pld import privacy_loss_distribution as P

    logging.disable(logging.WARNING)
    try:
        pld = P.from_gaussian_mechanism(standard_deviation=sigma, sensitivity=1.0, sampling_prob=q,
                                        value_discretization_interval=vdi, pessimistic_estimate=True,
                                        use_connect_dots=True)
        return float(pld.self_compose(T).get_epsilon_for_delta(delta))
    finally:
        logging.disable(logging.NOTSET)


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p * len(xs))) - 1)] if xs else math.nan


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", default="corner", choices=["corner", "ordinary"])
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--paths", default="core,torch")
    ap.add_argument("--cb1-file", default="/tmp/cb17/pt/certify.py")
    ap.add_argument("--modes", default="before,after")
    ap.add_argument("--pld", action="store_true")
    ap.add_argument("--steps", action="store_true", help="calibrate_steps(guarantee='certified') instead")
    a = ap.parse_args()
    _install(a.cb1_file)
    modes = [m for m in a.modes.split(",") if m]
    paths = [p for p in a.paths.split(",") if p]
    pts = _draw(a.points, a.seed, a.sample == "corner")
    for m in modes:  # kernels, caches of the imports
        certify.CORNER_COND_CELLS = CELLS[m]
        ewacct.calibrate_noise(target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.01, steps=300,
                               guarantee="certified")
    stats: dict[tuple[str, str], list[float]] = {(m, p): [] for m in modes for p in paths}
    ratios: dict[tuple[str, str], list[float]] = {(m, p): [] for m in modes for p in paths}
    over = {(m, p): 0 for m in modes for p in paths}
    print(f"sample {a.sample}, seed {a.seed}; CPU s (process_time), caches cleared before each call")
    for k, (e, d, q, T) in enumerate(pts):
        kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, steps=T)
        _clear()
        certify.CORNER_COND_CELLS = CELLS[modes[-1]]
        try:
            if a.steps:
                # sigma: the exact engine's calibrated noise at the target (the exact step count is then near T)
                s = ewacct.calibrate_noise(**kw).noise_multiplier
                kw = dict(target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=s)
                ref = ewacct.calibrate_steps(**kw)
                ref = float(getattr(ref, "steps", ref))
            else:
                ref = ewacct.calibrate_noise(**kw).noise_multiplier
        except Exception as exc:  # noqa: BLE001 - infeasible target
            print(f"{k:3d} eps {e:.3g} delta {d:.2g} q {q:.3g} T {T}: estimate {type(exc).__name__}")
            continue
        line = f"{k:3d} eps {e:7.4g} delta {d:8.2g} q {q:9.3g} T {T:6d} q T {q * T:8.2g} exact {ref:9.6g}"
        order = [(m, p) for p in paths for m in (modes if k % 2 == 0 else modes[::-1])]
        for m, p in order:
            certify.CORNER_COND_CELLS = CELLS[m]
            _clear()
            opts = {"time_budget": 10.0} if p == "torch" else None
            tgt = e * (1.0 - 1e-7) if p == "torch" else e
            t = time.process_time()
            try:
                if a.steps:
                    r = ewacct.calibrate_steps(**dict(kw, target_epsilon=tgt), guarantee="certified")
                    val = float(getattr(r, "steps", r))
                else:
                    r = ewacct.calibrate_noise(**dict(kw, target_epsilon=tgt), guarantee="certified",
                                               certify_options=opts)
                    val = r.noise_multiplier
                err = ""
            except Exception as exc:  # noqa: BLE001 - reported
                val, err = math.nan, f"{type(exc).__name__}"
            dt = time.process_time() - t
            stats[(m, p)].append(dt)
            if err:
                line += f" | {m[0]}/{p[0]} {dt:5.2f}s {err}"
                continue
            _clear()
            sig = val if not a.steps else kw["noise_multiplier"]
            steps = T if not a.steps else int(val)
            c = certify.certified_epsilon(Accountant().compose(PoissonSubsampledGaussian(sig, q), steps), d,
                                          time_budget=opts["time_budget"] if opts else None)
            ok = c.upper <= tgt
            over[(m, p)] += not ok
            ratios[(m, p)].append(val / ref)
            line += f" | {m[0]}/{p[0]} {dt:5.2f}s x{val / ref:.6f} {'ok' if ok else 'API>target'}"
            if not ok:
                # (calibrate_steps' conditioned rungs are a proof of their own: the API's certificate, another source,
                # may end a hair above; dp_accounting's pessimistic PLD is the independent check)
                line += f" pld {_pld(sig, q, steps, d) / e:.7f}"
            elif a.pld and m == modes[-1]:
                line += f" pld {_pld(sig, q, steps, d) / e:.6f}"
        print(line, flush=True)
    print()
    for key, ts in stats.items():
        if not ts:
            continue
        rt = ratios[key]
        print(f"{key[0]:6s} {key[1]:5s}: {len(ts)} points, CPU median {statistics.median(ts):.3f} s, p90 "
              f"{_pct(ts, 0.9):.3f}, max {max(ts):.3f}, > 1 s at {sum(x > 1.0 for x in ts)}; ratio to exact: median "
              f"{statistics.median(rt) if rt else math.nan:.6f}, max {max(rt) if rt else math.nan:.6f}; "
              f"API certificate over target {over[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
