"""Certified brackets for epsilon(delta) and delta(epsilon).

Sources, tried in this order (docs/certified.md):

1. exact closed forms (Gaussian compositions, one subsampled-Gaussian step, randomized response),
   enclosed in Arb ball arithmetic (:mod:`ewacct.bounds.closed_form`): rigorous, ~1e-13 wide;
2. the contour-integral enclosure (:mod:`ewacct.methods.certified`) for every composition of
   subsampled-Gaussian and Gaussian steps: rigorous (given the floating-point model stated in
   docs/certified.md), about 1e-9 wide, cost independent of T;
3. fallbacks, each labelled in ``source``: where the contour enclosure does not apply (Laplace) or did
   not finish within its node and time budget (few-participation corner, very large T at tiny q):
   dp_accounting's PLD optimistic/pessimistic pair (a baseline's bracket, NOT proven by ewacct; its
   optimistic end was seen above the truth at delta = 1e-12), refined in discretisation up to
   ``PLD_MAX_STEPS`` steps; beyond, or where PLD fails, the Chernoff upper bound of the exact engine
   (rigorous given K, often wide) with the lower end 0.

The DGG analytic Edgeworth bound (:mod:`ewacct.bounds.analytic`) is not a proof; it is reported in
the certificate's diagnostics for information and never sets an end of the bracket.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from .closed_form import closed_form_delta_bracket, closed_form_epsilon_bracket

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
    analytic: dict[str, Any] | str = "not applicable"

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


def certified_epsilon(acc: Any, delta: float, *, width: float | None = None,
                      value_discretization_interval: float | None = None) -> Certificate:
    """Certified [lower, upper] on eps(delta) for the accountant's composition.

    Args:
        acc: the accountant.
        delta: target delta.
        width: wanted bracket width (default 1% of the upper bound).
        value_discretization_interval: force one PLD discretisation (no refinement); calibration
            uses it so that the certified epsilon it compares is one monotone function of sigma.
    """

    t0 = time.perf_counter()
    br = closed_form_epsilon_bracket(acc, delta)
    if br is not None:
        return Certificate(br[0], br[1], CLOSED_SOURCE, None, time.perf_counter() - t0)
    contour_note = "not applicable"
    if value_discretization_interval is None:
        cert, contour_note = _contour_bracket(acc, "epsilon", delta)
        if cert is not None:
            return Certificate(cert.lower, cert.upper, CONTOUR_SOURCE, None, time.perf_counter() - t0,
                               {"contour": cert.info})
    from .analytic import analytic_epsilon_bracket, supported

    # the DGG bound is reported for information only: it is not a proof (analytic.STATUS)
    analytic: dict[str, Any] | str = "not applicable (mechanism not supported by the analytic bound)"
    a_lo, a_hi = 0.0, float("inf")
    if supported(acc):
        try:
            analytic = analytic_epsilon_bracket(acc, delta).as_dict()
        except Exception as exc:  # noqa: BLE001 - information only: a failure must never end the certificate
            analytic = f"failed ({type(exc).__name__}: {exc})"
    if isinstance(analytic, dict):
        analytic = {**analytic, "used": "no (not a proof; information only)"}
    analytic = {"dgg": analytic, "contour": contour_note}
    if delta < PLD_MIN_DELTA:
        return _chernoff_certificate(acc, delta, a_lo, a_hi, analytic, t0,
                                     why=f"PLD not used below delta = {PLD_MIN_DELTA:g}: its ends were seen wrong there")
    b = acc.pld_bracket() if acc.steps <= PLD_MAX_STEPS else None
    if b is None and acc.steps > PLD_MAX_STEPS:
        return _chernoff_certificate(acc, delta, a_lo, a_hi, analytic, t0,
                                     why=f"PLD skipped: more than {PLD_MAX_STEPS} steps")
    if b is None:
        raise ValueError("no certificate is available for this composition (install dp_accounting for the PLD bracket)")
    try:
        if value_discretization_interval is not None:
            vdi = float(value_discretization_interval)
            lo, hi = b.epsilon_bracket(delta, vdi)
        else:
            lo, hi, vdi = _refine(lambda v: b.epsilon_bracket(delta, v),
                                  lambda lo_, hi_: width if width is not None else _default_width(hi_))
    except (ArithmeticError, ValueError) as exc:
        return _chernoff_certificate(acc, delta, a_lo, a_hi, analytic, t0,
                                     why=f"PLD failed: {type(exc).__name__}: {exc}")
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        # dp_accounting's optimistic/pessimistic pair contradicts itself (seen at delta = 1e-12): drop it
        return _chernoff_certificate(acc, delta, a_lo, a_hi, analytic, t0,
                                     why=f"PLD bracket inconsistent ([{lo:.6g}, {hi:.6g}]), not used")
    return Certificate(lo, hi, PLD_SOURCE, vdi, time.perf_counter() - t0, analytic)


CONTOUR_SOURCE = "contour integral (rigorous enclosure)"
CLOSED_SOURCE = "exact closed form (Arb enclosure)"
#: the fallback where the contour enclosure does not apply or did not finish: a baseline's bracket,
#: not proven by ewacct (its optimistic end was seen above the truth at delta = 1e-12)
PLD_SOURCE = "dp_accounting PLD (fallback; optimistic/pessimistic, not proven by ewacct)"


def _contour_bracket(acc: Any, kind: str, x: float):
    """(Bracket or None, note): the contour-integral certificate, None where it does not apply or
    could not finish (the note says why; the caller then tries the next source)."""
    from ..methods.certified import CertError, ContourCertifier, NotCertifiable
    from ..methods.contour import ContourError

    try:
        cf = acc._contour_certifier()
    except NotCertifiable as exc:
        return None, str(exc)
    if cf is None:
        return None, "not applicable"
    try:
        b = cf.epsilon(x) if kind == "epsilon" else cf.delta(x)
    except (CertError, ContourError, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        return None, f"contour certificate failed: {exc}"
    if not (math.isfinite(b.lower) and math.isfinite(b.upper) and 0.0 <= b.lower <= b.upper):
        return None, f"contour certificate inconsistent ([{b.lower!r}, {b.upper!r}]), not used"
    return b, "ok"


#: beyond this many steps dp_accounting's PLD composition takes minutes (over 90 s and 1 GB at
#: q = 1e-4, T = 1e6; it did not finish in 300 s at q = 1e-7, T = 1e8): the fallback certificate then
#: rests on the Chernoff bound, which costs nothing (rigorous, often wide)
PLD_MAX_STEPS = 200_000
#: below this delta dp_accounting's pair is not trusted even as a fallback (at delta = 1e-17 it
#: returned eps in [0, 0] where delta(0) = 5.6e-17 > delta, tests/test_certified_found.py)
PLD_MIN_DELTA = 1e-13


def _chernoff_certificate(acc: Any, delta: float, a_lo: float, a_hi: float, analytic: Any,
                          t0: float, why: str) -> Certificate:
    """[analytic lower or 0, min(analytic upper, Chernoff upper)]: rigorous, possibly wide."""
    from ..methods.exact import ExactMethod, chernoff_eps, supports

    hi = a_hi
    src_hi = "analytic"
    if supports(acc.groups()):
        eng = ExactMethod(acc.groups())
        if eng.delta_at_zero_bound() <= delta:
            return Certificate(0.0, 0.0, f"joint-convexity bound on delta(0) ({why})", None,
                               time.perf_counter() - t0, analytic)
        ch = max(chernoff_eps(eng.dirs[d].K, math.log(delta)) for d in ("remove", "add"))
        if ch < hi:
            hi, src_hi = ch, "Chernoff"
    if not math.isfinite(hi):
        raise ValueError(f"no certificate is available for this composition ({why})")
    return Certificate(min(max(0.0, a_lo), hi), hi, f"lower from {'analytic' if a_lo > 0 else 'trivial 0'}, "
                       f"upper from {src_hi} ({why})", None, time.perf_counter() - t0, analytic)


def certified_delta(acc: Any, eps: float, *, width: float | None = None) -> Certificate:
    """Certified [lower, upper] on delta(eps)."""

    t0 = time.perf_counter()
    br = closed_form_delta_bracket(acc, eps)
    if br is not None:
        return Certificate(br[0], br[1], CLOSED_SOURCE, None, time.perf_counter() - t0)
    cert, _ = _contour_bracket(acc, "delta", eps)
    if cert is not None:
        return Certificate(cert.lower, cert.upper, CONTOUR_SOURCE, None, time.perf_counter() - t0,
                           {"contour": cert.info})
    if acc.steps > PLD_MAX_STEPS:
        from ..methods.exact import ExactMethod, chernoff_log_delta, supports

        if not supports(acc.groups()):
            raise ValueError(f"no certificate is available within bounded time (more than {PLD_MAX_STEPS} steps)")
        eng = ExactMethod(acc.groups())
        hi = min(1.0, max(math.exp(min(0.0, chernoff_log_delta(eng.dirs[d].K, eps))) for d in ("remove", "add")))
        return Certificate(0.0, hi, f"Chernoff upper bound (PLD skipped: more than {PLD_MAX_STEPS} steps)", None,
                           time.perf_counter() - t0)
    b = acc.pld_bracket()
    if b is None:
        raise ValueError("no certificate is available for this composition (dp_accounting PLD does not support it)")
    lo, hi, vdi = _refine(lambda v: b.delta_bracket(eps, v),
                          lambda lo_, hi_: width if width is not None else max(0.1 * hi_, 1e-12))
    hi = min(1.0, max(hi, 0.0))
    lo = min(max(lo, 0.0), hi)  # PLD's ends can cross by rounding (1.000000000000022 above 1.0 was seen)
    return Certificate(lo, hi, PLD_SOURCE, vdi, time.perf_counter() - t0)
