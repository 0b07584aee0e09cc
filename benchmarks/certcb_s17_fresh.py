"""The first ``PrivacyEngine(accountant=...).make_private_with_epsilon`` of a fresh process (Numba's kernel cache
present), then the first ``accountant.get_epsilon(delta)`` at half the calibrated steps: CPU (``time.process_time``) and
wall seconds, for "ew" before / after patch CB-1 (benchmarks/certcb_s17_calib.py installs it where certify.py lacks
``CORNER_COND_CELLS``) and for "prv", one child process per run, alternated.

    python benchmarks/certcb_s17_fresh.py [--points 4,6,0] [--procs 3] [--runs ew:before,ew:after,prv]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _child(spec: str) -> None:
    warnings.simplefilter("ignore")
    name, mode, e, d, q, T = json.loads(spec)
    w0, c0 = time.perf_counter(), time.process_time()
    sys.path.insert(0, str(HERE))
    import torch
    from opacus import PrivacyEngine

    import ewacct_torch  # noqa: F401  (registers "ew")

    if mode:
        from certcb_s17_calib import CELLS, _install

        from ewacct.bounds import certify

        _install(os.environ.get("CB1_FILE", "/tmp/cb17/pt/certify.py"))
        certify.CORNER_COND_CELLS = CELLS[mode]
    w_imp, c_imp = time.perf_counter() - w0, time.process_time() - c0
    n = int(round(1.0 / q))
    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(n, 4), torch.randint(0, 2, (n,)))
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w1, c1 = time.perf_counter(), time.process_time()
    pe = PrivacyEngine(accountant=name)
    _, opt2, _ = pe.make_private_with_epsilon(module=model, optimizer=opt, data_loader=loader, target_epsilon=e,
                                              target_delta=d, epochs=T / n, max_grad_norm=1.0)
    w_mp, c_mp = time.perf_counter() - w1, time.process_time() - c1
    sigma = float(opt2.noise_multiplier)
    # (half the run: a log line mid-training; at the calibrated history itself "ew" answers from the certificate the
    # calibration memoised)
    pe.accountant.history = [(sigma, 1.0 / n, max(1, T // 2))]
    w2, c2 = time.perf_counter(), time.process_time()
    eps = float(pe.accountant.get_epsilon(delta=d))
    w_ge, c_ge = time.perf_counter() - w2, time.process_time() - c2
    print(json.dumps({"import_cpu": c_imp, "import_wall": w_imp, "mpwe_cpu": c_mp, "mpwe_wall": w_mp,
                      "get_eps_cpu": c_ge, "get_eps_wall": w_ge, "sigma": sigma, "eps": eps, "q": 1.0 / n}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", default="4,6,0")
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--runs", default="ew:before,ew:after,prv")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child)
        return 0
    sys.path.insert(0, str(HERE))
    from certcb_s16_torch_corners import POINTS

    runs = [tuple((r.split(":") + [""])[:2]) for r in a.runs.split(",") if r]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    print("| eps | delta | q | T | run | make_private_with_epsilon CPU / wall s | first get_epsilon CPU / wall s | "
          "imports CPU s | sigma | eps reported |")
    print("|---|---|---|---|---|---|---|---:|---:|---:|")
    for i in [int(x) for x in a.points.split(",") if x]:
        e, d, q, T = POINTS[i]
        rows: dict[tuple, list[dict]] = {r: [] for r in runs}
        for k in range(a.procs):
            for r in (runs if k % 2 == 0 else runs[::-1]):
                spec = json.dumps([r[0], r[1], e, d, q, T])
                p = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True,
                                   cwd=ROOT, env=env, timeout=900)
                if p.returncode != 0:
                    print(f"| {e:g} | {d:g} | {q:g} | {T} | {':'.join(r)} | failed: "
                          f"{(p.stderr.strip().splitlines() or ['?'])[-1][:80]} |")
                    continue
                rows[r].append(json.loads(p.stdout.strip().splitlines()[-1]))
        for r, xs in rows.items():
            if not xs:
                continue
            med = {k: statistics.median(x[k] for x in xs) for k in xs[0]}
            print(f"| {e:g} | {d:g} | {xs[0]['q']:.4g} | {T} | {':'.join(x for x in r if x)} | "
                  f"{med['mpwe_cpu']:.2f} / {med['mpwe_wall']:.2f} | {med['get_eps_cpu']:.3f} / "
                  f"{med['get_eps_wall']:.3f} | {med['import_cpu']:.2f} | {xs[-1]['sigma']:.7g} | "
                  f"{xs[-1]['eps']:.7g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
