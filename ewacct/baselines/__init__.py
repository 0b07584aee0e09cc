"""Baseline accountants side by side with ewacct, behind one small interface.

Every accountant -- ewacct's own methods and the libraries ewacct is compared
against -- is a :class:`Baseline` with ``name``, ``label``, ``is_bound``,
``available``/``reason``, ``epsilon(groups, target_delta=...)`` and
``delta(groups, target_epsilon=...)`` returning a timed :class:`BaselineResult`.

Registry names (``ewacct compare --methods``):

========================  =================================================  ==========
name                      what                                               is_bound
========================  =================================================  ==========
``ewacct``                ewacct default estimate (tilted)                   no
``ewacct-certified``      ewacct certified bracket (value = upper bound)     yes
``edgeworth-1/2/3``       plain Edgeworth of order 1/2/3                     no
``ew-tune``               EW-Tune compatibility mode                         no
``rdp``                   dp_accounting RdpAccountant                        yes
``rdp-opacus``            Opacus RDP analysis                                yes
``gdp``                   GDP/CLT closed form                                no
``gdp-opacus``            Opacus GDP analysis (cross-check)                  no
``pld-pessimistic``       dp_accounting PLD, pessimistic (upper)             yes
``pld-optimistic``        dp_accounting PLD, optimistic (lower)              no
``prv``                   Microsoft prv_accountant (value = upper)           yes
``prv-opacus``            Opacus PRV accountant (upper)                      yes
========================  =================================================  ==========

Only the GDP closed form is computed here; every other row is a thin adapter
over the library that owns the method. Optional libraries that are missing
make their rows *unavailable* with a one-line reason instead of raising.
"""

from __future__ import annotations

from typing import Callable

from ewacct.baselines._interface import Baseline, BaselineResult, Groups, normalize_groups
from ewacct.baselines.gdp import GdpBaseline, OpacusGdpBaseline, gdp_delta, gdp_epsilon, gdp_mu
from ewacct.baselines.native import EwacctBaseline
from ewacct.baselines.pld_adapter import PLD_DISCRETIZATION, PldBaseline
from ewacct.baselines.prv import PRV_EPS_ERROR, OpacusPrvBaseline, PrvBaseline
from ewacct.baselines.rdp import DpAccountingRdpBaseline, OpacusRdpBaseline

__all__ = [
    "Baseline",
    "BaselineResult",
    "Groups",
    "BASELINE_NAMES",
    "DEFAULT_COMPARE_METHODS",
    "get_baseline",
    "get_baselines",
    "parse_methods",
    "normalize_groups",
    "gdp_mu",
    "gdp_delta",
    "gdp_epsilon",
    "PLD_DISCRETIZATION",
]


def _factories(pld_vdi: float, prv_eps_error: float = PRV_EPS_ERROR) -> dict[str, Callable[[], Baseline]]:
    return {
        "ewacct": lambda: EwacctBaseline(name="ewacct", label="ewacct exact (default)"),
        "ewacct-certified": lambda: EwacctBaseline(certify=True, name="ewacct-certified", label="ewacct certified bracket"),
        "edgeworth-1": lambda: EwacctBaseline(method="edgeworth", order=1, name="edgeworth-1", label="Edgeworth order 1"),
        "edgeworth-2": lambda: EwacctBaseline(method="edgeworth", order=2, name="edgeworth-2", label="Edgeworth order 2"),
        "edgeworth-3": lambda: EwacctBaseline(method="edgeworth", order=3, name="edgeworth-3", label="Edgeworth order 3"),
        "ew-tune": lambda: EwacctBaseline(method="ew-tune", name="ew-tune", label="EW-Tune mode (order 1, remove only)"),
        "rdp": DpAccountingRdpBaseline,
        "rdp-opacus": OpacusRdpBaseline,
        "gdp": GdpBaseline,
        "gdp-opacus": OpacusGdpBaseline,
        "pld-pessimistic": lambda: PldBaseline(side="pessimistic", value_discretization_interval=pld_vdi),
        "pld-optimistic": lambda: PldBaseline(side="optimistic", value_discretization_interval=pld_vdi),
        "prv": lambda: PrvBaseline(eps_error=prv_eps_error),
        "prv-opacus": lambda: OpacusPrvBaseline(eps_error=prv_eps_error),
    }


#: Every registry name, in display order.
BASELINE_NAMES: tuple[str, ...] = tuple(_factories(PLD_DISCRETIZATION))

#: The rows ``ewacct compare`` shows by default.
DEFAULT_COMPARE_METHODS: tuple[str, ...] = (
    "ewacct", "ewacct-certified", "edgeworth-1", "edgeworth-2", "edgeworth-3", "ew-tune",
    "rdp", "rdp-opacus", "gdp", "pld-pessimistic", "pld-optimistic", "prv",
)


def get_baseline(name: str, *, pld_discretization: float = PLD_DISCRETIZATION,
                 prv_eps_error: float = PRV_EPS_ERROR) -> Baseline:
    """Build the accountant registered under ``name``.

    Args:
        name: a registry name (see :data:`BASELINE_NAMES`).
        pld_discretization: value discretisation interval for the PLD rows.
        prv_eps_error: ``eps_error`` of the PRV rows.

    Returns:
        A fresh :class:`Baseline` (possibly unavailable; check ``.available``).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    factories = _factories(pld_discretization, prv_eps_error)
    if name not in factories:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(factories)}")
    return factories[name]()


def parse_methods(spec: str | None, *, default: tuple[str, ...] = DEFAULT_COMPARE_METHODS) -> tuple[str, ...]:
    """Parse a comma-separated method list (``None``/``""``/``"all"`` handled).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if spec is None or not spec.strip():
        return default
    if spec.strip() == "all":
        return BASELINE_NAMES
    names = tuple(dict.fromkeys(s.strip() for s in spec.split(",") if s.strip()))
    bad = [n for n in names if n not in BASELINE_NAMES]
    if bad:
        raise ValueError(f"unknown method {bad[0]!r}; valid methods: {', '.join(BASELINE_NAMES)}")
    if not names:
        raise ValueError(f"methods must name at least one of: {', '.join(BASELINE_NAMES)}")
    return names


def get_baselines(names: tuple[str, ...] | list[str] | None = None, *, pld_discretization: float = PLD_DISCRETIZATION) -> list[Baseline]:
    """Build several accountants (default: every registered one)."""
    return [get_baseline(n, pld_discretization=pld_discretization) for n in (names or BASELINE_NAMES)]
