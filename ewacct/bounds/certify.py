"""Certified brackets for epsilon(delta) and delta(epsilon).

Sources, tried in this order:

1. exact closed forms (Gaussian compositions, one subsampled-Gaussian step, randomized response):
   the bracket is the exact value widened by the root finder's tolerance;
2. dp_accounting's PLD, optimistic (lower) and pessimistic (upper): first at a coarse value
   discretisation (1e-3); the bracket width scales about linearly with it, so the next try uses the
   discretisation predicted to meet ``width`` (default 1% of the upper bound), down to 1e-5.

The analytic finite-sample bound of the Edgeworth accountant (Derumigny, Girard & Guyonvarch) is
documented in docs/certified.md; in this version it is not used as a certificate.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

VDI_START = 1e-3
VDI_MIN = 1e-5
DEFAULT_RELATIVE_WIDTH = 1e-2


@dataclass(frozen=True)
class Certificate:
    lower: float
    upper: float
    source: str
    value_discretization_interval: float | None
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _default_width(center: float) -> float:
    return max(DEFAULT_RELATIVE_WIDTH * abs(center), 1e-4)


def _refine(bracket_fn, width_fn) -> tuple[float, float, float]:
    """Shrink the PLD discretisation until the bracket meets the width (at most 3 tries)."""
    vdi = VDI_START
    lo, hi = bracket_fn(vdi)
    for _ in range(3):
        w = width_fn(lo, hi)
        if hi - lo <= w or vdi <= VDI_MIN:
            break
        vdi = max(VDI_MIN, vdi * 0.8 * w / max(hi - lo, 1e-300))
        lo, hi = bracket_fn(vdi)
    return lo, hi, vdi


def certified_epsilon(acc: Any, delta: float, *, width: float | None = None) -> Certificate:
    """Certified [lower, upper] on eps(delta) for the accountant's composition."""
    from ..accountant import Accountant
    from ..baselines.pld import PldBracket

    t0 = time.perf_counter()
    st = acc._structure()
    if st in ("gaussian", "single-step", "lattice"):
        exact = Accountant(method="tilted")
        exact._ledger = list(acc._ledger)
        e = max(exact._eps_one(delta, d)[0] for d in ("remove", "add"))
        tol = 1e-9 * max(1.0, e)
        return Certificate(max(0.0, e - tol), e + tol, "exact closed form", None, time.perf_counter() - t0)
    b = acc.pld_bracket()
    if b is None:
        raise ValueError("no certificate is available for this composition (dp_accounting PLD does not support it)")
    lo, hi, vdi = _refine(lambda v: b.epsilon_bracket(delta, v),
                          lambda lo_, hi_: width if width is not None else _default_width(hi_))
    return Certificate(lo, hi, "dp_accounting PLD (optimistic/pessimistic)", vdi, time.perf_counter() - t0)


def certified_delta(acc: Any, eps: float, *, width: float | None = None) -> Certificate:
    """Certified [lower, upper] on delta(eps)."""
    from ..accountant import Accountant
    from ..baselines.pld import PldBracket

    t0 = time.perf_counter()
    st = acc._structure()
    if st in ("gaussian", "single-step", "lattice"):
        exact = Accountant(method="tilted")
        exact._ledger = list(acc._ledger)
        d = max(exact._delta_one(eps, dr)[0] for dr in ("remove", "add"))
        tol = 1e-12 + 1e-9 * d
        return Certificate(max(0.0, d - tol), min(1.0, d + tol), "exact closed form", None, time.perf_counter() - t0)
    b = acc.pld_bracket()
    if b is None:
        raise ValueError("no certificate is available for this composition (dp_accounting PLD does not support it)")
    lo, hi, vdi = _refine(lambda v: b.delta_bracket(eps, v),
                          lambda lo_, hi_: width if width is not None else max(0.1 * hi_, 1e-12))
    return Certificate(lo, hi, "dp_accounting PLD (optimistic/pessimistic)", vdi, time.perf_counter() - t0)
