"""``make demo`` / ``ewacct demo``: the main job on built-in defaults.

1. The epsilon of a typical DP fine-tuning run (EW-Tune's SST-2 setting: q = 2000/67349,
   sigma = 0.7865, T = 660, delta = 1e-5) by ewacct's exact engine (the default), with its error
   estimate and a certified bracket; then the Edgeworth family (EW-Tune's order-1 number, plain and
   tilted expansions) with their errors against the exact value; then the RDP / GDP / PLD baselines.
2. The noise each accountant would choose for eps = 8 there.
3. A quick real DP fine-tune (frozen MiniLM features, DP linear head) with the ewacct accountant, when
   the torch extra is installed.
"""

from __future__ import annotations

import sys
import time
import warnings

from ._format import fixed_down, fixed_up
from .accountant import Accountant
from .calibrate import calibrate_noise
from .mechanisms import PoissonSubsampledGaussian
from .report.verdict import verdict

Q, SIGMA, T, DELTA = 2000 / 67349, 0.7865, 660, 1e-5


def _print(*a: object) -> None:
    print(*a, flush=True)


def run_demo(*, quick_finetune: bool = True) -> int:
    _print(f"== ewacct demo: DP-SGD with q={Q:.6f} (batch 2000 of 67,349), sigma={SIGMA}, T={T} steps, delta={DELTA:g}")
    _print("   (EW-Tune's SST-2 setting; add-or-remove-one adjacency, both directions, the worse reported)\n")
    acc = Accountant().compose(PoissonSubsampledGaussian(SIGMA, Q), T)
    t0 = time.perf_counter()
    est = acc.get_epsilon(DELTA)
    t_est = time.perf_counter() - t0
    _print(f"ewacct exact epsilon (saddle-point contour integral): eps = {est.value:.6f}   [{t_est * 1e3:.1f} ms]")
    _print(f"   dominating direction: {est.direction}; estimated relative error "
           f"{est.diagnostics.get('rel_error', float('nan')):.1e}; method {est.method}")
    t0 = time.perf_counter()
    cert = acc.get_epsilon(DELTA, certify=True)
    _print(f"certified bracket: [{fixed_down(cert.lower, 4)}, {fixed_up(cert.upper, 4)}] by {cert.certified_by} "
           f"[{time.perf_counter() - t0:.1f} s]  -> the number to state: eps <= {fixed_up(cert.upper, 4)}")
    _print("\n== the Edgeworth family beside it (asymptotic expansions of the same integral), error vs exact")
    ew = None
    for label, m, order in (("EW-Tune's accountant (order 1, REMOVE only)", "ew-tune", None),
                            ("plain Edgeworth, order 2", "edgeworth", 2), ("plain Edgeworth, order 3", "edgeworth", 3),
                            ("tilted (saddlepoint) Edgeworth, order 3", "tilted", 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = Accountant(method=m, order=order, fallback=False).compose(PoissonSubsampledGaussian(SIGMA, Q), T) \
                .get_epsilon(DELTA)
        err = r.diagnostics.get("error_vs_exact", float("nan"))
        flag = "" if r.valid else "  <- outside 1e-3 of the exact value"
        if m == "ew-tune":
            ew = r
            if r.estimate < cert.lower:
                flag += "; below the certified lower bound: it under-reports"
        _print(f"   {label:<44s} eps = {r.estimate:.4f}  ({err:+.2%}){flag}")
    _print("\n== baselines on the same configuration")
    try:
        from .baselines import parse_methods
        from .baselines.compare import compare_epsilon

        cmp = compare_epsilon([(SIGMA, Q, T)], target_delta=DELTA, methods=parse_methods("rdp,gdp,pld-pessimistic,pld-optimistic,prv"))
        for row in cmp.rows:
            eps = getattr(row, "epsilon", None)
            name = getattr(row, "label", None) or getattr(row, "name", "?")
            _print(f"   {name:<40s} eps = {eps if eps is None else f'{eps:.4f}'}")
    except Exception as exc:  # baselines are optional: one line, never a crash
        _print(f"   baselines unavailable: {exc}")
    _print("\n== noise each accountant chooses for target eps = 8 (verdict on the certified bracket there)")
    best = None
    for m, g in (("ew-tune", "estimate"), ("exact", "estimate"), ("exact", "certified")):
        c = calibrate_noise(target_epsilon=8.0, target_delta=DELTA, sampling_probability=Q, steps=T, method=m,
                            guarantee=g)
        true = Accountant().compose(PoissonSubsampledGaussian(c.noise_multiplier, Q), T).get_epsilon(DELTA, certify=True)
        v = verdict(true.lower, true.upper, 8.0)
        _print(f"   {m:<8s} ({g:<9s}): sigma = {c.noise_multiplier:.4f}  -> true eps in "
               f"[{true.lower:.4f}, {true.upper:.4f}]: {v}")
        if v == "meets target" and (best is None or c.noise_multiplier < best[0]):
            best = (c.noise_multiplier, true.upper)
    if best is not None:
        _print(f"   the sigma to use: {best[0]:.4f} (certified eps <= {best[1]:.4f} meets the target eps = 8)")
    if quick_finetune:
        _print("\n== quick DP fine-tune (frozen MiniLM features, DP linear head, ewacct accountant)")
        try:
            from ewacct_torch.finetune import main as ft_main
        except ImportError as exc:
            _print(f"   skipped: the torch extra is not installed ({exc})")
            return 0
        return int(ft_main(["--quick"]) or 0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
