"""Mechanisms and their privacy-loss random variables."""

from __future__ import annotations

from typing import Any

from .base import DIRECTIONS, Mechanism
from .gaussian import Gaussian
from .laplace import Laplace
from .randomized_response import RandomizedResponse
from .subsampled_gaussian import PoissonSubsampledGaussian

_REGISTRY: dict[str, type[Mechanism]] = {
    cls.name: cls for cls in (PoissonSubsampledGaussian, Gaussian, Laplace, RandomizedResponse)
}


def from_dict(d: dict[str, Any]) -> Mechanism:
    """Rebuild a mechanism from :meth:`Mechanism.to_dict` output (validated)."""
    if not isinstance(d, dict) or "type" not in d:
        raise ValueError(f"mechanism description must be a dict with a 'type' key, got {d!r}")
    cls = _REGISTRY.get(d["type"])
    if cls is None:
        raise ValueError(f"unknown mechanism type {d['type']!r}; known: {sorted(_REGISTRY)}")
    kwargs = {k: v for k, v in d.items() if k != "type"}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"bad parameters for mechanism {d['type']!r}: {exc}") from None


__all__ = [
    "DIRECTIONS",
    "Mechanism",
    "PoissonSubsampledGaussian",
    "Gaussian",
    "Laplace",
    "RandomizedResponse",
    "from_dict",
]
