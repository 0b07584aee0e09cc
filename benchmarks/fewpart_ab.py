"""Same-run before/after CPU time of ``fewpart_epsilon``: the module at a git commit against the working tree.

    python benchmarks/fewpart_ab.py BASE_COMMIT [--repeats R] [--sigma 0.5,1] [--delta 1e-10] [--quick]
                                                [--lowsigma]

On the grid of ``fewpart_bench.py`` (or with ``--lowsigma`` the grid of ``fewpart_lowsigma_scan.py``)
each point is timed alternately with the old module (``ewacct/methods/fewpart.py`` at BASE_COMMIT, the
kernels of the working tree) and the current one: CPU time (``time.process_time``), the median of R
calls each after one untimed call.  Prints per point both times and the relative difference of the two
answers, then medians / maxima / counts <= 20 ms per (sigma, delta) and overall, and the per-point
speed-up.  Both run in one process, interleaved, so the machine's load affects them alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)


def load_at(commit: str):
    src = subprocess.run(["git", "show", f"{commit}:ewacct/methods/fewpart.py"], capture_output=True, text=True,
                         check=True, cwd=HERE).stdout
    src = src.replace("from .._", "from ewacct._").replace("from .fewpart_filon", "from ewacct.methods.fewpart_filon")
    path = os.path.join(tempfile.mkdtemp(), "fewpart_base.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location("fewpart_base", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(mod, g, d, repeats):
    try:
        v = mod.fewpart_epsilon(g, d)[0]
    except ArithmeticError as exc:
        return None, str(exc)[:60]
    ts = []
    for _ in range(repeats):
        c0 = time.process_time()
        mod.fewpart_epsilon(g, d)
        ts.append(time.process_time() - c0)
    return v, 1e3 * statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sigma", default="")
    ap.add_argument("--delta", default="")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lowsigma", action="store_true")
    a = ap.parse_args()
    from ewacct.methods import fewpart as new

    old = load_at(a.base)
    if a.lowsigma:
        import fewpart_lowsigma_scan

        pts = [(q, s, t, d) for s, q, t, d in fewpart_lowsigma_scan.grid(a.quick)]
    else:
        import fewpart_bench

        pts = fewpart_bench.grid(a.quick)
    if a.sigma:
        pts = [p for p in pts if p[1] in {float(x) for x in a.sigma.split(",")}]
    if a.delta:
        pts = [p for p in pts if p[3] in {float(x) for x in a.delta.split(",")}]
    for m in (old, new):
        m.fewpart_epsilon([(1e-3, 1.0, 10)], 1e-5)
    rows = []
    for q, s, t, d in pts:
        g = [(q, s, t)]
        vo, to = timed(old, g, d, a.repeats)
        vn, tn = timed(new, g, d, a.repeats)
        diff = abs(vn - vo) / max(abs(vo), 1e-300) if (vo is not None and vn is not None) else float("nan")
        print(f"q={q:.0e} s={s:<5} T={t:<7} d={d:.0e} old {to if vo is None else f'{to:8.1f} ms'} "
              f"new {tn if vn is None else f'{tn:8.1f} ms'} eps={vn} reldiff={diff:.1e}", flush=True)
        if vo is not None and vn is not None:
            rows.append((s, d, to, tn, diff))
    groups = sorted({(s, d) for s, d, *_ in rows}) + [None]
    print(f"\n{'sigma':>6} {'delta':>6} {'n':>4} {'old med':>8} {'new med':>8} {'old max':>8} {'new max':>8} "
          f"{'old<=20':>7} {'new<=20':>7} {'speed-up med':>12}")
    for key in groups:
        sel = [r for r in rows if key is None or (r[0], r[1]) == key]
        if not sel:
            continue
        o = [r[2] for r in sel]
        n = [r[3] for r in sel]
        sp = statistics.median([r[2] / r[3] for r in sel])
        lab = ("all", "") if key is None else (f"{key[0]:g}", f"{key[1]:.0e}")
        print(f"{lab[0]:>6} {lab[1]:>6} {len(sel):>4} {statistics.median(o):8.1f} {statistics.median(n):8.1f} "
              f"{max(o):8.1f} {max(n):8.1f} {sum(x <= 20 for x in o):>7} {sum(x <= 20 for x in n):>7} {sp:11.2f}x")
    print("largest relative difference of the answers:", f"{max(r[4] for r in rows):.2e}")


if __name__ == "__main__":
    main()
