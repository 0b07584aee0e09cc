"""Small frozen result objects shared by every layer above the expansions.

Each result says which number is which: ``estimate`` is an approximation with no guarantee,
``lower``/``upper`` are certified bounds (None when not requested or not available) and ``value``
is the number ``float(result)`` gives: the certified ``upper`` when certification was requested,
otherwise the ``estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ArrayOrFloat = Any  # float for scalar queries, np.ndarray for array queries


class EdgeworthValidityWarning(UserWarning):
    """An estimate was computed outside the validity domain of its expansion."""


class EstimateOnlyWarning(UserWarning):
    """A number is an estimate, not a certified bound."""


@dataclass(frozen=True)
class _Result:
    value: ArrayOrFloat
    estimate: ArrayOrFloat
    lower: ArrayOrFloat | None
    upper: ArrayOrFloat | None
    method: str
    direction: ArrayOrFloat
    valid: ArrayOrFloat
    certified_by: str | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        v = np.asarray(self.value)
        if v.ndim != 0 and v.size != 1:
            raise TypeError("an array-valued result cannot be converted to float; use .value")
        return float(v.reshape(()))

    def __array__(self, dtype=None, copy=None):  # noqa: D401 - numpy protocol
        return np.asarray(self.value, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        def conv(x: Any) -> Any:
            if isinstance(x, np.ndarray):
                return x.tolist()
            if isinstance(x, (np.floating, np.integer, np.bool_)):
                return x.item()
            if isinstance(x, dict):
                return {k: conv(v) for k, v in x.items()}
            return x

        return {k: conv(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class EpsilonResult(_Result):
    """epsilon(delta): the privacy loss bound for a target delta."""

    delta: ArrayOrFloat = None

    def __repr__(self) -> str:
        return (f"EpsilonResult(value={self.value!r}, estimate={self.estimate!r}, lower={self.lower!r}, "
                f"upper={self.upper!r}, method={self.method!r}, direction={self.direction!r}, valid={self.valid!r})")


@dataclass(frozen=True)
class DeltaResult(_Result):
    """delta(epsilon)."""

    epsilon: ArrayOrFloat = None

    def __repr__(self) -> str:
        return (f"DeltaResult(value={self.value!r}, estimate={self.estimate!r}, lower={self.lower!r}, "
                f"upper={self.upper!r}, method={self.method!r}, direction={self.direction!r}, valid={self.valid!r})")


@dataclass(frozen=True)
class TradeoffResult:
    """f-DP trade-off curve beta(alpha) (type II error at type I error alpha), symmetrised."""

    alpha: np.ndarray
    beta: np.ndarray
    method: str
    valid: bool
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.beta, dtype=dtype)
