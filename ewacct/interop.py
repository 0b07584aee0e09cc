"""Accept dp_accounting ``DpEvent`` descriptions so its users can switch in one line.

``Accountant().compose(SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(s)), T))``
works like composing ``PoissonSubsampledGaussian(s, q)`` T times.
"""

from __future__ import annotations

from typing import Any

from .mechanisms import Gaussian, Laplace, Mechanism, PoissonSubsampledGaussian


def event_to_groups(event: Any) -> list[tuple[Mechanism, int]]:
    """Translate a dp_accounting DpEvent tree into (mechanism, count) groups.

    Raises:
        ValueError: for objects that are not DpEvents or events ewacct does not support.
    """
    try:
        import dp_accounting as dpa
    except ImportError:
        raise ValueError(f"expected an ewacct Mechanism, got {type(event).__name__}") from None
    if isinstance(event, dpa.NoOpDpEvent):
        return []
    if isinstance(event, dpa.GaussianDpEvent):
        return [(Gaussian(event.noise_multiplier), 1)]
    if isinstance(event, dpa.LaplaceDpEvent):
        return [(Laplace(event.noise_multiplier), 1)]
    if isinstance(event, dpa.PoissonSampledDpEvent):
        inner = event.event
        if isinstance(inner, dpa.GaussianDpEvent):
            return [(PoissonSubsampledGaussian(inner.noise_multiplier, event.sampling_probability), 1)]
        raise ValueError(f"unsupported event: PoissonSampledDpEvent of {type(inner).__name__} (only Gaussian)")
    if isinstance(event, dpa.SelfComposedDpEvent):
        return [(m, n * event.count) for m, n in event_to_groups(event.event)]
    if isinstance(event, dpa.ComposedDpEvent):
        out: list[tuple[Mechanism, int]] = []
        for e in event.events:
            out.extend(event_to_groups(e))
        return out
    raise ValueError(f"unsupported event for ewacct: {type(event).__name__}")
