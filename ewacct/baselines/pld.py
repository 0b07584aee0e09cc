"""Exact privacy-loss-distribution (PLD) brackets from Google's dp_accounting.

``pessimistic_estimate=True`` discretises so that every hockey-stick divergence computed from the
PLD is an upper bound on the true one; ``False`` gives a lower bound (dp_accounting docs,
``privacy_loss_distribution.from_gaussian_mechanism``).  Together they bracket the true epsilon(delta)
and delta(epsilon); the width shrinks with ``value_discretization_interval`` (vdi).  Both
neighbouring directions are inside each PLD (add-or-remove-one), and the max is reported.

Connect-the-dots (dp_accounting's tighter discretisation) exists only for the pessimistic side; the
optimistic side uses privacy buckets, whose bracket width shrinks roughly linearly in the vdi.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..mechanisms import Gaussian, Laplace, Mechanism, PoissonSubsampledGaussian


def _require():
    try:
        from dp_accounting.pld import privacy_loss_distribution as pl
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("dp_accounting is not installed: pip install 'ewacct[baselines]'") from exc
    return pl


def supported(mech: Mechanism) -> bool:
    return isinstance(mech, (PoissonSubsampledGaussian, Gaussian, Laplace))


def groups_to_mechanisms(groups: Sequence[tuple[float, float, int]]) -> list[tuple[Mechanism, int]]:
    """(noise_multiplier, sampling_probability, count) triples -> mechanisms."""
    return [(PoissonSubsampledGaussian(float(s), float(q)), int(n)) for s, q, n in groups]


@dataclass
class PldBracket:
    """Pessimistic/optimistic PLD of a composition, built lazily per discretisation."""

    groups: list[tuple[Mechanism, int]]
    _cache: dict[tuple[bool, float], Any] = field(default_factory=dict, repr=False)
    last_seconds: float = 0.0

    @classmethod
    def from_accountant(cls, acc: Any) -> "PldBracket | None":
        g = acc.groups()
        if not g or not all(supported(m) for m, _ in g):
            return None
        return cls(list(g))

    def _one(self, mech: Mechanism, pessimistic: bool, vdi: float):
        pl = _require()
        if isinstance(mech, PoissonSubsampledGaussian):
            return pl.from_gaussian_mechanism(mech.noise_multiplier, sampling_prob=mech.sampling_probability,
                                              pessimistic_estimate=pessimistic, value_discretization_interval=vdi,
                                              use_connect_dots=pessimistic)
        if isinstance(mech, Gaussian):
            return pl.from_gaussian_mechanism(mech.noise_multiplier, pessimistic_estimate=pessimistic,
                                              value_discretization_interval=vdi, use_connect_dots=pessimistic)
        if isinstance(mech, Laplace):
            return pl.from_laplace_mechanism(mech.scale, sensitivity=mech.sensitivity,
                                             pessimistic_estimate=pessimistic, value_discretization_interval=vdi,
                                             use_connect_dots=pessimistic)
        raise ValueError(f"dp_accounting PLD does not support {type(mech).__name__}")

    def pld(self, pessimistic: bool, vdi: float):
        key = (pessimistic, float(vdi))
        if key not in self._cache:
            t0 = time.perf_counter()
            total = None
            for mech, n in self.groups:
                p = self._one(mech, pessimistic, vdi).self_compose(n)
                total = p if total is None else total.compose(p)
            self._cache[key] = total
            self.last_seconds = time.perf_counter() - t0
        return self._cache[key]

    def epsilon_bracket(self, delta: float, vdi: float = 1e-4) -> tuple[float, float]:
        """(lower, upper) on eps(delta) from the optimistic and pessimistic PLD.

        dp_accounting 0.6.0 can overflow (``math.exp(-loss)``) on the optimistic PLD of very long
        compositions; the lower end then falls back to the trivial, still valid, bound 0.
        """
        try:
            lo = max(0.0, float(self.pld(False, vdi).get_epsilon_for_delta(delta)))
        except (OverflowError, FloatingPointError):
            lo = 0.0
        hi = float(self.pld(True, vdi).get_epsilon_for_delta(delta))
        return lo, hi

    def delta_bracket(self, eps: float, vdi: float = 1e-4) -> tuple[float, float]:
        """(lower, upper) on delta(eps)."""
        try:
            lo = max(0.0, float(self.pld(False, vdi).get_delta_for_epsilon(eps)))
        except (OverflowError, FloatingPointError):
            lo = 0.0
        hi = min(1.0, float(self.pld(True, vdi).get_delta_for_epsilon(eps)))
        return lo, hi


def pld_epsilon_bracket(groups: Sequence[tuple[float, float, int]], target_delta: float, *,
                        value_discretization_interval: float = 1e-4) -> tuple[float, float]:
    """eps(delta) bracket for DP-SGD groups (noise_multiplier, sampling_probability, count)."""
    return PldBracket(groups_to_mechanisms(groups)).epsilon_bracket(target_delta, value_discretization_interval)


def pld_delta_bracket(groups: Sequence[tuple[float, float, int]], target_epsilon: float, *,
                      value_discretization_interval: float = 1e-4) -> tuple[float, float]:
    """delta(eps) bracket for DP-SGD groups (noise_multiplier, sampling_probability, count)."""
    return PldBracket(groups_to_mechanisms(groups)).delta_bracket(target_epsilon, value_discretization_interval)
