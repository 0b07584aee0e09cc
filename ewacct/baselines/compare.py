"""Side-by-side comparison of accountants on one configuration (library part of ``ewacct compare``).

For a composition and a target delta, every requested accountant is asked for
epsilon. Each row carries its value, its bracket when it has one, the relative
difference to the exact PLD value, its wall time and two flags:

* ``unsafe`` -- the value lies below the *certified lower bound* on the true
  epsilon: ewacct's certified bracket (a proof; computed for the reference even
  when its row is not asked). A method whose number is below that bound
  under-reports privacy loss; calibrating noise with it would miss the target.
  dp_accounting's optimistic PLD is *not* used as a certified bound: it is a
  lower bound in exact arithmetic only, and its FFT rounding puts it above the
  truth at small deltas (q = 0.003, sigma = 0.6, T = 2000, delta = 1e-13, vdi
  1e-5: the "bracket" reads [9.8977, 9.7416] around a true 9.9487). It is used
  only where no certified bound could be computed, and then labelled as such.
* ``invalid`` -- the method itself says its answer is outside its validity
  domain (e.g. the Edgeworth correction exceeds the leading term).

The reference for "relative difference" is the pessimistic PLD epsilon
(dp_accounting's reported value, an upper bound in exact arithmetic; the
optimistic PLD gives the matching lower bound, and their gap is reported as the
reference's width). Where the pair is inverted or not finite (dp_accounting's
rounding at small deltas) it is reported as unusable and no relative
difference is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ewacct.baselines import PLD_DISCRETIZATION, get_baseline
from ewacct.baselines._interface import Baseline, BaselineResult, check_delta, normalize_groups

__all__ = ["ComparisonRow", "Comparison", "compare_epsilon", "kind_of"]


def kind_of(b: Baseline) -> str:
    """"upper bound", "lower bound", "bracket", "exact" (ewacct's default) or "estimate"."""
    if b.name == "ewacct":
        return "exact"
    if b.name == "pld-optimistic":
        return "lower bound"
    if b.name in ("ewacct-certified", "prv"):
        return "bracket"
    return "upper bound" if b.is_bound else "estimate"


@dataclass(frozen=True)
class ComparisonRow:
    """One accountant's row of a comparison (see module docstring)."""

    name: str
    label: str
    kind: str
    available: bool
    epsilon: float | None
    lower: float | None
    upper: float | None
    rel_diff_to_pld: float | None
    seconds: float
    unsafe: bool
    invalid: bool
    note: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: a row offered as a lower bound lies above the certified upper bound (it is not a lower bound)
    overstates: bool = False

    @property
    def flags(self) -> list[str]:
        """Human-readable flags."""
        out = []
        if self.unsafe:
            out.append("UNSAFE: below certified lower bound")
        if self.overstates:
            out.append("WRONG: above certified upper bound")
        if self.invalid:
            out.append("outside validity")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "name": self.name, "label": self.label, "kind": self.kind, "available": self.available,
            "epsilon": _j(self.epsilon), "lower": _j(self.lower), "upper": _j(self.upper),
            "rel_diff_to_pld": _j(self.rel_diff_to_pld), "seconds": self.seconds,
            "unsafe": self.unsafe, "invalid": self.invalid, "overstates": self.overstates, "flags": self.flags,
            "note": self.note,
            "extra": {k: _j(v) for k, v in self.extra.items()},
        }


def _j(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: _j(x) for k, x in v.items()}
    return v


@dataclass(frozen=True)
class Comparison:
    """A full comparison: configuration, reference bracket and rows."""

    groups: tuple[tuple[float, float, int], ...]
    target_delta: float
    pld_lower: float | None
    pld_upper: float | None
    pld_discretization: float
    certified_lower: float | None
    certified_lower_source: str
    rows: list[ComparisonRow]
    #: ewacct's certified upper bound (a proof), None where it could not be computed
    certified_upper: float | None = None
    #: why the PLD reference is not used ("" when it is)
    pld_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "config": {
                "groups": [{"noise_multiplier": s, "sampling_probability": q, "steps": c} for s, q, c in self.groups],
                "target_delta": self.target_delta,
                "pld_discretization": self.pld_discretization,
            },
            "reference": {
                "pld_lower": _j(self.pld_lower), "pld_upper": _j(self.pld_upper),
                "certified_lower": _j(self.certified_lower), "certified_lower_source": self.certified_lower_source,
                "certified_upper": _j(self.certified_upper), "pld_note": self.pld_note,
                "rel_diff_definition": "(epsilon - pld_upper) / pld_upper",
            },
            "rows": [r.to_dict() for r in self.rows],
        }


def compare_epsilon(
    groups: Sequence[Sequence[Any]],
    *,
    target_delta: float,
    methods: Sequence[str],
    pld_discretization: float = PLD_DISCRETIZATION,
    on_row: Callable[[str], None] | None = None,
) -> Comparison:
    """Ask every method in ``methods`` for epsilon(target_delta) on ``groups``.

    The exact PLD bracket is always computed (when dp_accounting and
    :mod:`ewacct.baselines.pld` are present) because it is the reference.

    Args:
        groups: ``(noise_multiplier, sampling_probability, count)`` triples.
        target_delta: delta in (0, 1).
        methods: registry names (validated by the caller with ``parse_methods``).
        pld_discretization: value discretisation interval for the PLD reference.
        on_row: called with each method name before it runs (progress reporting).

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: on invalid input or an unknown method name.
    """
    g = normalize_groups(groups)
    d = check_delta(target_delta)
    baselines = [get_baseline(m, pld_discretization=pld_discretization) for m in methods]
    results: dict[str, tuple[Baseline, BaselineResult]] = {}
    for b in baselines:
        if on_row is not None:
            on_row(b.name)
        results[b.name] = (b, b.epsilon(g, target_delta=d))

    # reference: exact PLD bracket (shared, cached computation)
    ref = results.get("pld-pessimistic", (None, None))[1]
    if ref is None:
        ref = get_baseline("pld-pessimistic", pld_discretization=pld_discretization).epsilon(g, target_delta=d)
    pld_lo = ref.lower if ref.ok else None
    pld_hi = ref.upper if ref.ok else None
    pld_note = ""
    if pld_lo is not None and pld_hi is not None and not (
            math.isfinite(pld_lo) and math.isfinite(pld_hi) and 0.0 <= pld_lo <= pld_hi):
        pld_note = (f"dp_accounting's PLD pair is unusable here ([{pld_lo!r}, {pld_hi!r}]: inverted or infinite, "
                    "its FFT rounding at this delta); not used as a reference")
        pld_lo = pld_hi = None

    # the certified lower bound on the true epsilon: ewacct's certified bracket (a proof), computed for
    # the reference when its row was not asked
    cert = results.get("ewacct-certified")
    if cert is None:
        cb = get_baseline("ewacct-certified", pld_discretization=pld_discretization)
        cert = (cb, cb.epsilon(g, target_delta=d))
    cert_lo: float | None = None
    cert_hi: float | None = None
    cert_src = "none available"
    # (a bracket is a proof whenever a certificate source is named, even where the estimate beside it
    # fell outside it and the row says so)
    if (cert[1].ok and cert[1].lower is not None and cert[1].upper is not None
            and cert[1].extra.get("certified_by")):
        cert_lo, cert_hi = float(cert[1].lower), float(cert[1].upper)
        cert_src = "ewacct certified lower bound"
    elif pld_lo is not None:
        cert_lo = pld_lo
        cert_src = (f"optimistic PLD (dp_accounting, discretisation {pld_discretization:g}; a lower bound in exact "
                    "arithmetic, not a proof: no certified bracket could be computed here)")

    rows = []
    for b, r in results.values():
        value = r.value
        rel = None
        if value is not None and pld_hi is not None and pld_hi > 0 and math.isfinite(value):
            rel = (value - pld_hi) / pld_hi
        # a lower bound is below the truth by design; only flag numbers offered as epsilon
        unsafe = bool(
            kind_of(b) != "lower bound" and value is not None and cert_lo is not None
            and value < cert_lo * (1.0 - 1e-9) - 1e-12
        )
        overstates = bool(
            kind_of(b) == "lower bound" and value is not None and cert_hi is not None
            and value > cert_hi * (1.0 + 1e-9) + 1e-12
        )
        extra = dict(r.extra)
        if r.estimate is not None:
            extra["estimate"] = r.estimate
        rows.append(ComparisonRow(
            name=b.name, label=b.label, kind=kind_of(b), available=b.available,
            epsilon=value, lower=r.lower, upper=r.upper, rel_diff_to_pld=rel, seconds=r.seconds,
            unsafe=unsafe, invalid=not r.valid, note=r.note, extra=extra, overstates=overstates,
        ))
    return Comparison(
        groups=g, target_delta=d, pld_lower=pld_lo, pld_upper=pld_hi, pld_discretization=pld_discretization,
        certified_lower=cert_lo, certified_lower_source=cert_src, rows=rows, certified_upper=cert_hi,
        pld_note=pld_note,
    )
