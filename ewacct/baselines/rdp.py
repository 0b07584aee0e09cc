"""RDP baselines: dp_accounting's ``RdpAccountant`` and Opacus' RDP analysis.

Both are rigorous upper bounds on epsilon (Renyi DP of the subsampled
Gaussian, Mironov, Talwar, Zhang 2019, converted to (eps, delta) with the
conversion each library uses), but loose: typically 10-20% above the exact PLD
value in DP-SGD regimes. Nothing is re-implemented here; the adapters only
translate ``groups`` into each library's events.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Any, Iterator, Sequence

from ewacct.baselines._interface import Baseline, Groups, importable

__all__ = ["DpAccountingRdpBaseline", "OpacusRdpBaseline"]


def _dp_accounting_version() -> str:
    try:
        from importlib.metadata import version

        return version("dp-accounting")
    except Exception:
        return "?"


@contextlib.contextmanager
def _quiet_absl() -> Iterator[None]:
    """Silence dp_accounting's absl convergence chatter (orders it excludes) for one call."""
    logger = logging.getLogger("absl")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(old)


class DpAccountingRdpBaseline(Baseline):
    """dp_accounting ``RdpAccountant`` (add-or-remove-one).

    Args:
        orders: RDP orders; ``None`` for dp_accounting's defaults.
    """

    name = "rdp"
    label = "RDP (dp_accounting)"
    is_bound = True
    source = "dp_accounting.rdp.RdpAccountant"

    def __init__(self, *, orders: Sequence[float] | None = None) -> None:
        super().__init__()
        self.orders = None if orders is None else [float(o) for o in orders]

    def _availability(self) -> tuple[bool, str]:
        return importable("dp_accounting", "dp_accounting.dp_event", "dp_accounting.rdp.rdp_privacy_accountant",
                          hint="pip install 'ewacct[baselines]'")

    def _accountant(self, groups: Groups) -> Any:
        from dp_accounting import dp_event
        from dp_accounting.rdp import rdp_privacy_accountant

        acc = rdp_privacy_accountant.RdpAccountant(orders=self.orders) if self.orders else rdp_privacy_accountant.RdpAccountant()
        for sigma, q, count in groups:
            acc.compose(dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), count)
        return acc

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        with _quiet_absl():
            acc = self._accountant(groups)
            eps, order = acc.get_epsilon_and_optimal_order(target_delta)
        return {"value": float(eps), "extra": {"optimal_order": float(order)}, "note": f"dp_accounting {_dp_accounting_version()}, {'default' if self.orders is None else len(self.orders)} orders"}

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        with _quiet_absl():
            acc = self._accountant(groups)
            d, order = acc.get_delta_and_optimal_order(target_epsilon)
        return {"value": float(d), "extra": {"optimal_order": float(order)}, "note": f"dp_accounting {_dp_accounting_version()}, {'default' if self.orders is None else len(self.orders)} orders"}


class OpacusRdpBaseline(Baseline):
    """Opacus RDP analysis (``opacus.accountants.analysis.rdp``) with Opacus' default orders.

    Opacus has no delta(eps) for RDP, so :meth:`delta` reports "not supported".
    """

    name = "rdp-opacus"
    label = "RDP (Opacus)"
    is_bound = True
    source = "opacus.accountants.analysis.rdp"
    supports_delta = False

    def __init__(self, *, orders: Sequence[float] | None = None) -> None:
        super().__init__()
        self.orders = None if orders is None else [float(o) for o in orders]

    def _availability(self) -> tuple[bool, str]:
        return importable("opacus", "opacus.accountants.rdp", "opacus.accountants.analysis.rdp")

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        from opacus.accountants.analysis import rdp as analysis
        from opacus.accountants.rdp import RDPAccountant

        orders = self.orders or RDPAccountant.DEFAULT_ALPHAS
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            total = sum(
                analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=count, orders=orders)
                for sigma, q, count in groups
            )
            eps, alpha = analysis.get_privacy_spent(orders=orders, rdp=total, delta=target_delta)
        note = "; ".join([f"Opacus {'default' if self.orders is None else len(self.orders)} orders"] + [str(w.message).splitlines()[0] for w in caught])
        return {"value": float(eps), "extra": {"optimal_order": float(alpha)}, "note": note}
