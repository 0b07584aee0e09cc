"""The sigma ~0.5, tiny-q, q T >= ~1, tiny-delta corner of REMOVE eps(delta) (session 14, H-D3; issue 8).

    python benchmarks/trunc_d3_scan.py [--seed S] [--n N] [--no-cert] [--mono]

Random points (fixed seed): sigma 0.44-0.62, q 1e-7..3e-6 log-uniform, q T 0.5..500 log-uniform,
delta 1e-13..1.5e-10 log-uniform.  For each: the default ``ewacct.epsilon`` (method, valid, CPU seconds) and,
unless ``--no-cert``, the certified bracket (``certify=True``, the cell enclosure: another code path);
a valid answer must lie inside the bracket (up to 1e-6 relative slack on the bracket, the answer's stated
tolerance).  Reported: exact / flagged counts, CPU median / max per default query, valid answers outside
their bracket.  ``--mono``: eps along q 1e-7, sigma 0.5, delta 1e-12, T 1e7..1e9 (must increase with T).  ``--ab``: the truncated
composition's acceptance on eps (truncation.TruncatedRemove.EPS_ACCEPT) off / on, alternated per point;
``--ab-skip``: the same for truncation.FULL_SKIP_Q (0 / 1e-5); ``--ab-add``: for fewpart_condexact.ADD_TAIL_BOUND.  ``--route``: emulate the dispatch patch
/tmp/h15/patches/D4-1.patch (eps(delta) by the conditioned expansion first where fewpart_condexact.first says
so) if dispatch.py does not have it yet.  ``--ab-cond``: the conditioned expansion (methods/fewpart_condexact.py, with
that routing) off / on, alternated per point in one process (off = the chain before it).
"""

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
warnings.simplefilter("ignore")

import ewacct  # noqa: E402


def points(seed: int, n: int):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        sigma = float(rng.uniform(0.44, 0.62))
        q = float(10 ** rng.uniform(-7, math.log10(3e-6)))
        qt = float(10 ** rng.uniform(math.log10(0.5), math.log10(500)))
        steps = max(1, int(round(qt / q)))
        delta = float(10 ** rng.uniform(-13, math.log10(1.5e-10)))
        out.append((sigma, q, steps, delta))
    return out


def query(sigma, q, steps, delta, certify=False):
    t0 = time.process_time()
    r = ewacct.epsilon(noise_multiplier=sigma, sampling_probability=q, steps=steps, target_delta=delta,
                       certify=certify)
    return r, time.process_time() - t0


def mono() -> None:
    ts = np.unique(np.round(np.geomspace(1e7, 1e9, 25)).astype(np.int64))
    prev = -math.inf
    bad = 0
    for t in ts:
        r, dt = query(0.5, 1e-7, int(t), 1e-12)
        v = float(r.value)
        flag = "" if v >= prev else "  <-- DECREASES"
        bad += v < prev
        print(f"T={int(t):>11d} eps={v:.9f} method={r.method:<16s} valid={r.valid!s:5s} cpu={dt:.3f}{flag}",
              flush=True)
        prev = max(prev, v)
    print(f"monotone violations: {bad} of {len(ts) - 1}")


def ab(seed: int, n: int, attr: str = "TruncatedRemove.EPS_ACCEPT", off=False, on=True, mod=None) -> None:
    """The truncated composition's acceptance on eps (TruncatedRemove.EPS_ACCEPT) off / on, alternated per
    point in one process (the order flips every point): exact / flagged counts and CPU of each."""
    from ewacct.methods import truncation

    mod = truncation if mod is None else mod
    owner, name = (getattr(mod, attr.split(".")[0]), attr.split(".")[1]) if "." in attr else (mod, attr)
    keep = getattr(owner, name)
    res = {False: [], True: []}
    for i, (sigma, q, steps, delta) in enumerate(points(seed, n)):
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            setattr(owner, name, on if flag else off)
            r, dt = query(sigma, q, steps, delta)
            row[flag] = (float(r.value), r.method, bool(r.valid), dt)
            res[flag].append(row[flag])
        setattr(owner, name, keep)
        (v0, m0, ok0, t0), (v1, m1, ok1, t1) = row[False], row[True]
        same = abs(v1 - v0) <= 1e-6 * max(abs(v0), 1e-300) if ok0 and ok1 else None
        print(f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>11d} delta={delta:.3e}  off: {m0:<14s} {ok0!s:5s} "
              f"{v0:.10g} {t0:.3f}s   on: {m1:<14s} {ok1!s:5s} {v1:.10g} {t1:.3f}s  agree={same}", flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows])
        print(f"{attr}={on if flag else off!s:5s}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)}, "
              f"by the contour {sum(r[1] == 'exact' for r in rows)}; CPU median {np.median(cpu):.3f} s, "
              f"max {cpu.max():.3f} s, total {cpu.sum():.2f} s")


def route() -> None:
    """Emulate /tmp/h15/patches/D4-1.patch where dispatch.py lacks it: eps(delta) tries the conditioned expansion
    (fewpart_condexact.dispatch_epsilon) first where fewpart_condexact.first says so (here before the eps = 0
    check, which the patch does first)."""
    from ewacct.methods import dispatch

    if hasattr(dispatch.ExactDispatch, "_cond_epsilon"):
        return
    from ewacct.methods import fewpart_condexact as fc
    from ewacct.methods.base import Row

    orig = dispatch.ExactDispatch.answer

    def answer(self, kind, x, skip_contour=None):
        g = self._fewpart_groups()
        if kind == "epsilon" and skip_contour is None and g is not None and fc.first(g, "epsilon"):
            res = fc.dispatch_epsilon(g, x)
            if res is not None:
                return Row(res[0], res[2], res[1] <= dispatch.EXACT_RTOL, {"rel_error": res[1]}, "exact-fewpart")
        return orig(self, kind, x, skip_contour)

    dispatch.ExactDispatch.answer = answer


def ab_cond(seed: int, n: int, cert: bool) -> None:
    """The conditioned expansion off / on (fewpart_condexact.ENABLED, the routing emulated), alternated per point:
    exact / flagged counts, CPU, and valid answers outside the certified bracket (with cert)."""
    from ewacct.methods import fewpart_condexact

    route()
    res = {False: [], True: []}
    out = {False: 0, True: 0}
    for i, (sigma, q, steps, delta) in enumerate(points(seed, n)):
        row = {}
        for flag in ((False, True) if i % 2 == 0 else (True, False)):
            fewpart_condexact.ENABLED = flag
            r, dt = query(sigma, q, steps, delta)
            row[flag] = (float(r.value), r.method, bool(r.valid), dt)
            res[flag].append(row[flag])
        fewpart_condexact.ENABLED = True
        line = ""
        if cert:
            c, _ = query(sigma, q, steps, delta, certify=True)
            lo, hi = float(c.lower), float(c.upper)
            line = f" cert=[{lo:.9g}, {hi:.9g}]"
            for flag in (False, True):
                v, _, ok, _ = row[flag]
                if ok and not lo * (1 - 1e-6) <= v <= hi * (1 + 1e-6):
                    out[flag] += 1
                    line += f"  <-- OUTSIDE ({'on' if flag else 'off'})"
        (v0, m0, ok0, t0), (v1, m1, ok1, t1) = row[False], row[True]
        print(f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>11d} qT={q * steps:8.2f} delta={delta:.3e}  off: {m0:<14s} "
              f"{ok0!s:5s} {v0:.10g} {t0:.3f}s   on: {m1:<14s} {ok1!s:5s} {v1:.10g} {t1:.3f}s{line}", flush=True)
    for flag in (False, True):
        rows = res[flag]
        cpu = np.array([r[3] for r in rows])
        print(f"cond {'on ' if flag else 'off'}: exact {sum(r[2] for r in rows)}, flagged {sum(not r[2] for r in rows)}; "
              f"CPU median {np.median(cpu):.3f} s, p90 {np.quantile(cpu, 0.9):.3f} s, max {cpu.max():.3f} s, "
              f"total {cpu.sum():.2f} s" + (f"; valid outside the certified bracket {out[flag]}" if cert else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--no-cert", action="store_true")
    ap.add_argument("--mono", action="store_true")
    ap.add_argument("--ab", action="store_true")
    ap.add_argument("--ab-skip", action="store_true")
    ap.add_argument("--route", action="store_true")
    ap.add_argument("--ab-cond", action="store_true")
    ap.add_argument("--ab-add", action="store_true",
                    help="fewpart_condexact.ADD_TAIL_BOUND off / on (ADD settled by methods/tail_bound.py's bound)")
    a = ap.parse_args()
    if a.route:
        route()
    # warm the kernels (Numba loads) outside the timed queries
    query(0.5, 1e-6, 10 ** 6, 1e-11)
    if a.mono:
        mono()
        return
    if a.ab:
        ab(a.seed, a.n)
        return
    if a.ab_cond:
        ab_cond(a.seed, a.n, not a.no_cert)
        return
    if a.ab_add:
        from ewacct.methods import fewpart_condexact

        ab(a.seed, a.n, "ADD_TAIL_BOUND", False, True, mod=fewpart_condexact)
        return
    if a.ab_skip:
        ab(a.seed, a.n, "FULL_SKIP_Q", 0.0, 1e-5)
        return
    cpu, n_exact, n_flag, n_out = [], 0, 0, 0
    methods: dict[str, int] = {}
    for i, (sigma, q, steps, delta) in enumerate(points(a.seed, a.n)):
        r, dt = query(sigma, q, steps, delta)
        cpu.append(dt)
        v = float(r.value)
        methods[r.method] = methods.get(r.method, 0) + 1
        n_exact += bool(r.valid)
        n_flag += not r.valid
        line = (f"{i:3d} sigma={sigma:.4f} q={q:.3e} T={steps:>11d} qT={q * steps:8.2f} delta={delta:.3e} "
                f"eps={v:.9g} {r.method:<16s} valid={r.valid!s:5s} cpu={dt:.3f}")
        if not a.no_cert:
            c, _ = query(sigma, q, steps, delta, certify=True)
            lo, hi = float(c.lower), float(c.upper)
            inside = lo * (1 - 1e-6) <= v <= hi * (1 + 1e-6)
            line += f" cert=[{lo:.9g}, {hi:.9g}]"
            if r.valid and not inside:
                n_out += 1
                line += "  <-- OUTSIDE"
        if not r.valid:
            line += f"\n      why: {str(r.diagnostics.get('contour', r.diagnostics.get('error', '')))[:300]}"
        print(line, flush=True)
    cpu_a = np.array(cpu)
    print(f"\nexact(valid) {n_exact}  flagged {n_flag}  of {a.n}; methods {methods}")
    print(f"CPU per default query: median {np.median(cpu_a):.3f} s, p90 {np.quantile(cpu_a, 0.9):.3f} s, "
          f"max {cpu_a.max():.3f} s")
    if not a.no_cert:
        print(f"valid answers outside the certified bracket: {n_out}")


if __name__ == "__main__":
    main()
