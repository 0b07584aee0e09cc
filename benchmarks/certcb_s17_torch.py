"""Opacus' ``get_noise_multiplier`` (what ``PrivacyEngine.make_private_with_epsilon`` calls) with "ew" (certified, the
default) before / after patch CB-1 (the API certificate's corner-first conditioned bracket: 2^16 -> 2^23 plan cells,
``certify.CORNER_COND_CELLS``; see benchmarks/certcb_s17_calib.py for how the patch is installed where certify.py
lacks it) and with "prv", alternated per repeat, CPU seconds (``time.process_time``), every certified cache cleared
before each call.  At ew's sigma: the epsilon the "ew" accountant then reports (fresh accountant, caches cleared),
PRV's and RDP's, and dp_accounting's pessimistic connect-the-dots PLD eps (vdi 1e-4): independent checks that ew's
sigma meets the target.

    python benchmarks/certcb_s17_torch.py [--only 4,5,6] [--repeat 3] [--cb1-file /tmp/cb17/pt/certify.py]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings

warnings.simplefilter("ignore")

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from certcb_s16_torch_corners import POINTS, _clear, _eps  # noqa: E402
from certcb_s17_calib import CELLS, _install, _pld  # noqa: E402

from ewacct.bounds import certify  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="4,5,6")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cb1-file", default="/tmp/cb17/pt/certify.py")
    ap.add_argument("--no-pld", action="store_true")
    a = ap.parse_args()
    _install(a.cb1_file)
    import opacus.accountants.utils as ou

    import ewacct_torch  # noqa: F401  (registers "ew", routes get_noise_multiplier)

    for m in ("before", "after"):
        certify.CORNER_COND_CELLS = CELLS[m]
        ou.get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5, sample_rate=0.02, steps=200, accountant="ew")
    ou.get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5, sample_rate=0.02, steps=200, accountant="prv")
    runs = [("ew", "before"), ("ew", "after"), ("prv", None)]
    print("| eps | delta | q | T | run | CPU s (median of repeats) | all | sigma | ew reports | prv | rdp | PLD pess |")
    print("|---|---|---|---|---|---:|---|---:|---:|---:|---:|---:|")
    for i in [int(x) for x in a.only.split(",") if x]:
        e, d, q, T = POINTS[i]
        times: dict[tuple, list[float]] = {r: [] for r in runs}
        sig: dict[tuple, float] = {}
        for rep in range(a.repeat):
            for r in (runs if rep % 2 == 0 else runs[::-1]):
                name, mode = r
                if mode:
                    certify.CORNER_COND_CELLS = CELLS[mode]
                _clear()
                t = time.process_time()
                s = float(ou.get_noise_multiplier(target_epsilon=e, target_delta=d, sample_rate=q, steps=T,
                                                  accountant=name))
                times[r].append(time.process_time() - t)
                sig[r] = s
        for r in runs:
            s = sig[r]
            certify.CORNER_COND_CELLS = CELLS["after"]
            _clear()
            ev = {n: _eps(n, s, q, T, d) for n in ("ew", "prv", "rdp")}
            pld = math.nan if a.no_pld else _pld(s, q, T, d)
            ok = "" if ev["ew"] <= e else " OVER"
            print(f"| {e:g} | {d:g} | {q:g} | {T} | {r[0]}{'/' + r[1] if r[1] else ''} | "
                  f"{statistics.median(times[r]):.3f} | {', '.join(f'{x:.2f}' for x in times[r])} | {s:.7g} | "
                  f"{ev['ew']:.7g}{ok} | {ev['prv']:.7g} | {ev['rdp']:.7g} | {pld:.7g} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
