"""Shared builders for the benchmarks: one zero-argument callable per (method, config).

Every callable composes from scratch and answers one epsilon(delta) query, so
the time is what a user pays for a new (q, sigma, T): the apples-to-apples cost.
Libraries are called directly with their usual defaults (dp_accounting
``PLDAccountant`` at ``value_discretization_interval=1e-4``; ``prv_accountant``
with ``eps_error=0.01``), not through ewacct's adapters.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

METHODS: tuple[str, ...] = (
    "ewacct", "ewacct-certified", "pld", "rdp", "rdp-opacus", "prv-opacus", "prv",
)
LABELS: dict[str, str] = {
    "ewacct": "ewacct estimate (default method)",
    "ewacct-certified": "ewacct certified (certify=True)",
    "pld": "dp_accounting PLDAccountant (vdi 1e-4)",
    "rdp": "dp_accounting RdpAccountant",
    "rdp-opacus": "Opacus RDP",
    "prv-opacus": "Opacus PRV (eps_error 0.01)",
    "prv": "prv_accountant 0.2 (eps_error 0.01)",
}
#: methods whose cost grows with T or that can take seconds: measured in a subprocess with a time cap
HEAVY: frozenset[str] = frozenset({"ewacct-certified", "pld", "prv", "prv-opacus"})


def available(method: str) -> tuple[bool, str]:
    """Whether the library behind ``method`` imports here."""
    try:
        if method.startswith("ewacct"):
            import ewacct  # noqa: F401
        elif method in ("pld", "rdp"):
            import dp_accounting  # noqa: F401
        elif method in ("rdp-opacus", "prv-opacus"):
            import opacus  # noqa: F401
        elif method == "prv":
            import prv_accountant  # noqa: F401
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return True, ""


def make_query(method: str, *, q: float, sigma: float, steps: int, delta: float) -> Callable[[], Any]:
    """A callable that composes ``steps`` DP-SGD steps and returns epsilon(delta) (and what answered)."""
    if method in ("ewacct", "ewacct-certified"):
        import ewacct

        certify = method == "ewacct-certified"

        def run() -> Any:
            if certify:
                # a fresh certificate each time: the certified contours' enclosure cache (which lets a
                # repeated or growing query reuse its nodes) would otherwise answer the repeats
                from ewacct.methods.certified import clear_caches

                clear_caches()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                acc = ewacct.Accountant().compose(ewacct.PoissonSubsampledGaussian(sigma, q), steps)
                r = acc.get_epsilon(delta, certify=certify)
            return float(r), str(r.method)

        return run
    if method == "pld":
        from dp_accounting import dp_event
        from dp_accounting.pld import pld_privacy_accountant

        def run() -> Any:
            acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
            acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)
            return float(acc.get_epsilon(delta)), "pld"

        return run
    if method == "rdp":
        import logging

        from dp_accounting import dp_event
        from dp_accounting.rdp import rdp_privacy_accountant

        logging.getLogger("absl").setLevel(logging.ERROR)

        def run() -> Any:
            acc = rdp_privacy_accountant.RdpAccountant()
            acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps)
            return float(acc.get_epsilon(delta)), "rdp"

        return run
    if method == "rdp-opacus":
        from opacus.accountants import RDPAccountant

        def run() -> Any:
            acc = RDPAccountant()
            acc.history = [(sigma, q, steps)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return float(acc.get_epsilon(delta)), "rdp"

        return run
    if method == "prv-opacus":
        from opacus.accountants import PRVAccountant

        def run() -> Any:
            acc = PRVAccountant()
            acc.history = [(sigma, q, steps)]
            return float(acc.get_epsilon(delta, eps_error=0.01)), "prv"

        return run
    if method == "prv":
        from prv_accountant import PoissonSubsampledGaussianMechanism, PRVAccountant

        def run() -> Any:
            acc = PRVAccountant(prvs=PoissonSubsampledGaussianMechanism(noise_multiplier=sigma, sampling_probability=q),
                                max_self_compositions=steps, eps_error=0.01, delta_error=delta / 1000)
            return float(acc.compute_epsilon(delta=delta, num_self_compositions=steps)[2]), "prv (upper)"

        return run
    raise ValueError(f"unknown benchmark method {method!r}; valid: {', '.join(METHODS)}")
