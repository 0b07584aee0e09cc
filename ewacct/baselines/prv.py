"""PRV baselines: Microsoft ``prv_accountant`` and Opacus' port of it.

The PRV accountant (Gopi, Lee, Wutschitz 2021, "Numerical composition of
differential privacy") discretises the privacy random variable and composes by
FFT. It returns a triple (lower, estimate, upper) whose outer members are
rigorous bounds up to the requested ``eps_error`` / ``delta_error``. The
adapter reports ``value = upper`` (as Opacus does) and keeps the estimate and
the bracket alongside.

``prv_accountant`` 0.2.0 is optional: install it with
``pip install prv-accountant==0.2.0``; when it is absent or fails to import on
the numpy in use, the adapter is marked unavailable with the reason.
"""

from __future__ import annotations

from typing import Any

from ewacct.baselines._interface import Baseline, Groups, importable

__all__ = ["PrvBaseline", "OpacusPrvBaseline", "PRV_EPS_ERROR"]

#: Default ``eps_error`` handed to the PRV accountants (Opacus' default).
PRV_EPS_ERROR: float = 0.01


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


class PrvBaseline(Baseline):
    """Microsoft ``prv_accountant.PRVAccountant`` (bracket: lower, estimate, upper).

    Args:
        eps_error: allowed error in epsilon (width of the bracket is about 2x this).
        delta_error: allowed error in delta; ``None`` means ``target_delta / 1000``
            for epsilon queries and 1e-10 for delta queries.
    """

    name = "prv"
    label = "PRV (prv_accountant)"
    is_bound = True
    source = "prv_accountant.PRVAccountant"

    def __init__(self, *, eps_error: float = PRV_EPS_ERROR, delta_error: float | None = None) -> None:
        super().__init__()
        self.eps_error = float(eps_error)
        self.delta_error = delta_error

    def _availability(self) -> tuple[bool, str]:
        try:
            import prv_accountant  # noqa: F401
            from prv_accountant import PoissonSubsampledGaussianMechanism, PRVAccountant  # noqa: F401
        except Exception as exc:
            return False, f"prv_accountant not importable ({type(exc).__name__}: {exc}); pip install prv-accountant==0.2.0".splitlines()[0]
        return True, ""

    def _accountant(self, groups: Groups, delta_error: float) -> Any:
        from prv_accountant import PoissonSubsampledGaussianMechanism, PRVAccountant

        prvs = [PoissonSubsampledGaussianMechanism(noise_multiplier=s, sampling_probability=q) for s, q, _ in groups]
        counts = [int(c) for _, _, c in groups]
        acc = PRVAccountant(prvs=prvs, max_self_compositions=counts, eps_error=self.eps_error, delta_error=delta_error)
        return acc, counts

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        delta_error = self.delta_error if self.delta_error is not None else target_delta / 1000.0
        acc, counts = self._accountant(groups, delta_error)
        lo, est, hi = acc.compute_epsilon(delta=target_delta, num_self_compositions=counts)
        lo = max(float(lo), 0.0)
        return {
            "value": float(hi), "lower": lo, "upper": float(hi), "estimate": max(float(est), 0.0),
            "note": f"prv_accountant {_version('prv-accountant')}, eps_error={self.eps_error:g}, delta_error={delta_error:.3g}",
        }

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        delta_error = self.delta_error if self.delta_error is not None else 1e-10
        acc, counts = self._accountant(groups, delta_error)
        lo, est, hi = acc.compute_delta(epsilon=target_epsilon, num_self_compositions=counts)
        return {
            "value": float(hi), "lower": max(float(lo), 0.0), "upper": float(hi), "estimate": float(est),
            "note": f"prv_accountant {_version('prv-accountant')}, eps_error={self.eps_error:g}, delta_error={delta_error:.3g}",
        }


class OpacusPrvBaseline(Baseline):
    """Opacus ``PRVAccountant`` (returns only the upper end of the PRV bracket)."""

    name = "prv-opacus"
    label = "PRV (Opacus)"
    is_bound = True
    source = "opacus.accountants.PRVAccountant"
    supports_delta = False

    def __init__(self, *, eps_error: float = PRV_EPS_ERROR) -> None:
        super().__init__()
        self.eps_error = float(eps_error)

    def _availability(self) -> tuple[bool, str]:
        return importable("opacus", "opacus.accountants.prv")

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        from opacus.accountants import PRVAccountant

        acc = PRVAccountant()
        acc.history = [(float(s), float(q), int(c)) for s, q, c in groups]
        eps = acc.get_epsilon(delta=target_delta, eps_error=self.eps_error)
        return {"value": float(eps), "note": f"opacus {_version('opacus')}, eps_error={self.eps_error:g}"}
