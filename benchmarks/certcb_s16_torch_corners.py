"""Opacus' ``get_noise_multiplier`` (what ``make_private_with_epsilon`` calls) with "ew" (certified, the default),
"prv" and "rdp" at ordinary and few-participation targets, CPU seconds per call (``time.process_time``), the sigma
each returns, and the epsilon every accountant reports at every sigma (the same history): ew's certified upper end
should be <= PRV's and RDP's (the tightest proven), and <= the target at ew's own sigma.  Also dp_accounting's PLD
pessimistic epsilon at ew's sigma (an independent check that ew's sigma meets the target).

    python benchmarks/certcb_s16_torch_corners.py [--only 0,3] [--no-prv] [--pld-vdi 1e-4]

Kernels are loaded (one ew calibration) before the timings; every certified cache is cleared before each call.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

warnings.simplefilter("ignore")

# (target eps, delta, q, steps)
POINTS = [
    (3.0, 1e-5, 0.01, 300),            # the Opacus mnist-like pattern
    (8.0, 1e-5, 0.04, 2000),           # Opacus' test_get_noise_multiplier_*_steps
    (1.0, 1e-6, 1e-4, 1_000_000),      # overshoot corner (q 1e-4, 100 epochs)
    (10.0, 1e-4, 0.1, 100),            # overshoot corner
    (0.262, 2.6e-9, 1.71e-5, 198),     # few participations (calibrate_certified_random seed 12 #19)
    (9.28, 9.8e-6, 1.51e-5, 1246),     # seed 12 #24
    (4.55, 6.4e-10, 3.42e-4, 21),      # seed 7 #37
    (15.348414, 3.21e-6, 1.4234696e-3, 229),  # breaker H15 F1
]


def _clear() -> None:
    from ewacct.bounds.certify import clear_memo
    from ewacct.methods.certified import clear_caches

    clear_caches()
    clear_memo()


def _eps(name: str, sigma: float, q: float, T: int, delta: float) -> float:
    from opacus.accountants import create_accountant

    acc = create_accountant(name)
    acc.history = [(sigma, q, T)]
    return float(acc.get_epsilon(delta=delta))


def _pld_pess(sigma: float, q: float, T: int, delta: float, vdi: float) -> float:
    from dp_accounting.pld import privacy_loss_distribution as pl

    p = pl.from_gaussian_mechanism(sigma, sampling_prob=q, pessimistic_estimate=True,
                                   value_discretization_interval=vdi, use_connect_dots=True)
    return float(p.self_compose(T).get_epsilon_for_delta(delta))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--no-prv", action="store_true")
    ap.add_argument("--pld-vdi", type=float, default=0.0, help="check ew's sigma with PLD pessimistic (0: skip)")
    a = ap.parse_args()
    import opacus.accountants.utils as ou

    import ewacct_torch  # noqa: F401  (registers "ew", routes get_noise_multiplier)

    ou.get_noise_multiplier(target_epsilon=3.0, target_delta=1e-5, sample_rate=0.02, steps=200, accountant="ew")
    names = ["ew", "rdp"] + ([] if a.no_prv else ["prv"])
    idx = [int(i) for i in a.only.split(",") if i] or range(len(POINTS))
    print("| eps | delta | q | T | accountant | CPU s | sigma | eps(ew cert) | eps(prv) | eps(rdp) | ew <= target |"
          " ew <= prv, rdp |" + (" PLD pess at ew sigma |" if a.pld_vdi else ""))
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---|---|" + ("---:|" if a.pld_vdi else ""))
    for i in idx:
        e, d, q, T = POINTS[i]
        for name in names:
            _clear()
            t = time.process_time()
            try:
                s = float(ou.get_noise_multiplier(target_epsilon=e, target_delta=d, sample_rate=q, steps=T,
                                                  accountant=name))
                err = ""
            except Exception as exc:  # noqa: BLE001 - reported
                s, err = math.nan, f"{type(exc).__name__}: {str(exc)[:60]}"
            dt = time.process_time() - t
            if err:
                print(f"| {e:g} | {d:g} | {q:g} | {T} | {name} | {dt:.3f} | {err} |")
                continue
            ev = {n: _eps(n, s, q, T, d) for n in names if n != "ew"}
            _clear()
            ev["ew"] = _eps("ew", s, q, T, d)
            ok = ev["ew"] <= e
            tight = all(ev["ew"] <= ev[n] * (1 + 1e-9) for n in ev if n != "ew")
            row = (f"| {e:g} | {d:g} | {q:g} | {T} | {name} | {dt:.3f} | {s:.7g} | {ev['ew']:.7g} | "
                   f"{ev.get('prv', math.nan):.7g} | {ev['rdp']:.7g} | {'yes' if ok else 'NO'} | "
                   f"{'yes' if tight else 'NO'} |")
            if a.pld_vdi and name == "ew":
                row += f" {_pld_pess(s, q, T, d, a.pld_vdi):.7g} |"
            elif a.pld_vdi:
                row += " |"
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
