"""Exact PLD baselines: dp_accounting's privacy-loss distributions, both sides.

The computation lives in :mod:`ewacct.baselines.pld` (pessimistic and
optimistic dp_accounting PLDs at a stated ``value_discretization_interval``).
This module only puts it behind the :class:`~ewacct.baselines._interface.Baseline`
interface, as two rows:

* ``pld-pessimistic`` -- the pessimistic PLD: an upper bound on the true
  epsilon (``is_bound = True``), up to dp_accounting's tail truncation;
* ``pld-optimistic`` -- the optimistic PLD: a lower bound on the true epsilon.

Both rows share one computation per (groups, target, discretisation), cached,
so asking for both costs one bracket. The bracket width shrinks with the
discretisation interval; the interval used is stated in every result's note.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ewacct.baselines._interface import Baseline, Groups

__all__ = ["PldBaseline", "PLD_DISCRETIZATION", "pld_bracket_epsilon", "pld_bracket_delta"]

#: Default value discretisation interval of the PLD baselines.
PLD_DISCRETIZATION: float = 1e-4


def _pld_module() -> Any:
    from ewacct.baselines import pld  # the lead's module (dp_accounting PLD)

    return pld


@functools.lru_cache(maxsize=256)
def pld_bracket_epsilon(groups: Groups, target_delta: float, vdi: float) -> tuple[float, float, float]:
    """(lower, upper, seconds) epsilon from the optimistic/pessimistic PLD, cached."""
    t0 = time.perf_counter()
    lo, hi = _pld_module().pld_epsilon_bracket(list(groups), target_delta, value_discretization_interval=vdi)
    return float(lo), float(hi), time.perf_counter() - t0


@functools.lru_cache(maxsize=256)
def pld_bracket_delta(groups: Groups, target_epsilon: float, vdi: float) -> tuple[float, float, float]:
    """(lower, upper, seconds) delta from the optimistic/pessimistic PLD, cached."""
    t0 = time.perf_counter()
    lo, hi = _pld_module().pld_delta_bracket(list(groups), target_epsilon, value_discretization_interval=vdi)
    return float(lo), float(hi), time.perf_counter() - t0


class PldBaseline(Baseline):
    """dp_accounting PLD, one side of the bracket.

    Args:
        side: ``"pessimistic"`` (upper bound) or ``"optimistic"`` (lower bound).
        value_discretization_interval: the PLD grid step in privacy-loss units.
    """

    source = "dp_accounting.pld (via ewacct.baselines.pld)"

    def __init__(self, *, side: str = "pessimistic", value_discretization_interval: float = PLD_DISCRETIZATION) -> None:
        super().__init__()
        if side not in ("pessimistic", "optimistic"):
            raise ValueError(f"side must be 'pessimistic' or 'optimistic', got {side!r}")
        vdi = float(value_discretization_interval)
        if not (vdi > 0.0 and vdi < 1.0):
            raise ValueError(f"value_discretization_interval must be in (0, 1), got {value_discretization_interval!r}")
        self.side = side
        self.vdi = vdi
        self.name = f"pld-{side}"
        self.label = f"PLD {side} (dp_accounting)"
        self.is_bound = side == "pessimistic"

    def _availability(self) -> tuple[bool, str]:
        try:
            import dp_accounting  # noqa: F401
        except Exception as exc:
            return False, f"dp_accounting not importable ({type(exc).__name__}: {exc}); pip install 'ewacct[baselines]'".splitlines()[0]
        try:
            mod = _pld_module()
        except Exception as exc:
            return False, f"ewacct.baselines.pld not importable ({type(exc).__name__})"
        if not hasattr(mod, "pld_epsilon_bracket") or not hasattr(mod, "pld_delta_bracket"):
            return False, "ewacct.baselines.pld lacks pld_epsilon_bracket/pld_delta_bracket"
        return True, ""

    def _fields(self, lo: float, hi: float, seconds: float) -> dict[str, Any]:
        value = hi if self.side == "pessimistic" else lo
        return {
            "value": value, "lower": lo, "upper": hi,
            # the time of the (shared, cached) bracket computation, not of the cache hit
            "seconds": seconds,
            "note": f"value_discretization_interval={self.vdi:g}",
            "extra": {"value_discretization_interval": self.vdi},
        }

    def _epsilon(self, groups: Groups, target_delta: float) -> dict[str, Any]:
        return self._fields(*pld_bracket_epsilon(groups, target_delta, self.vdi))

    def _delta(self, groups: Groups, target_epsilon: float) -> dict[str, Any]:
        return self._fields(*pld_bracket_delta(groups, target_epsilon, self.vdi))
