"""Certified (Arb-enclosed) brackets for a Laplace mechanism composed with itself.

Two sources, both rigorous in Arb ball arithmetic (python-flint), ``theta = sensitivity / scale``
formed in Arb from the two floats:

* **residues** (T <= RESIDUE_MAX_T = 64): ``M(z)^T`` expanded into exponentials ``e^{m theta w} / w^k``
  (w = z + 1/2), each term of delta(eps) inverted exactly by the residues at z = 0, -1/2, -1 (closed
  form, a finite sum); the precision is raised until the enclosure is narrow;
* **contour** (the float engine's "full" plan): the trapezoidal sum of the Bromwich integral of
  ``M(z)^T`` on the float engine's line and step, every node enclosed in Arb, plus the proven bounds
  of :mod:`.laplace_exact` (aliases by the total mass and Chernoff, truncation by
  ``|M(c + iu)| <= rho(U) M(c)``) evaluated in Arb.

Both directions have the same law (the reflection ``x -> sensitivity - x``), so one bracket serves both.
"""

from __future__ import annotations

import math
from math import comb
from typing import Any

#: the residue sum is used up to this many steps (about T^3 / 6 terms: ~0.2 s at 64 steps, 5 s at 120)
RESIDUE_MAX_T = 64
#: relative width the residue enclosure is refined to
RESIDUE_RTOL = 1e-12


class NotCertified(ArithmeticError):
    """No certified bracket from this module (the caller uses its other sources)."""


def _theta(sensitivity: float, scale: float):
    from flint import arb

    return arb(sensitivity) / arb(scale)


# ---------------------------------------------------------------------- residues
def residue_delta(sensitivity: float, scale: float, T: int, eps: float):
    """An Arb ball containing delta(eps) of T steps (exact finite sum of residues)."""
    from flint import arb, ctx

    old = ctx.prec
    try:
        prec = 96 + 4 * T
        for _ in range(6):
            ctx.prec = prec
            v = _residue_sum(sensitivity, scale, T, arb(eps))
            if v.rad() <= RESIDUE_RTOL * abs(v.mid()) or v.rad() < arb(10) ** -300:
                return v
            prec *= 2
        return v
    finally:
        ctx.prec = old


def _residue_sum(sensitivity: float, scale: float, T: int, eps):
    from flint import arb

    th = _theta(sensitivity, scale)
    tot = arb(0)
    half = arb(1) / 2
    for k in range(T + 1):
        for i in range(T - k + 1):
            for l in range(k + 1):
                m = 2 * i + 2 * l - T
                y = eps - m * th
                if y >= 0:  # e^{-zy} decays to the right of the line: no residues
                    continue
                coef = (arb(comb(T, k) * comb(T - k, i) * comb(k, l)) * (-1) ** (k - l)
                        * ((m - T) * th * half).exp() / arb(2) ** (T + k))
                r = arb(2) ** k - y.exp() * arb(-2) ** k  # z = 0 and z = -1
                if k >= 1:  # z = -1/2 (order k): e^{-zy} (1/z - 1/(z+1)) around -1/2
                    s = arb(0)
                    for n in range(0, k, 2):
                        s += -4 * arb(2) ** n * (-y) ** (k - 1 - n) / arb.fac_ui(k - 1 - n)
                    r += (y * half).exp() * s
                term = coef * r
                if not (y < 0):  # the ball of y contains 0: the term's exact value is 0 or r (continuous at 0)
                    term = term.union(arb(0))
                tot += term
    return tot


# ---------------------------------------------------------------------- the contour in Arb
def contour_delta(sensitivity: float, scale: float, T: int, eps: float):
    """An Arb ball containing delta(eps) from the full-contour plan of the float engine, or raises
    :class:`NotCertified` where that plan does not apply."""
    from flint import acb, arb, ctx

    from .laplace_exact import LaplaceComposition, LaplaceExactError

    lap = LaplaceComposition(float(sensitivity) / float(scale), T)
    try:
        _, _, diag = lap._full(float(eps))
    except LaplaceExactError as exc:
        raise NotCertified(f"no full-contour plan: {exc}") from None
    c_f, h_f, n = float(diag["abscissa"]), float(diag["step"]), int(diag["nodes"])
    old = ctx.prec
    try:
        ctx.prec = 80 + int(math.log2(T + 1)) + int(math.log2(n + 1))
        th = _theta(sensitivity, scale)
        c, h, e = arb(c_f), arb(h_f), arb(eps)
        half = arb(1) / 2
        P = 2 * arb.pi() / h
        pi = arb.pi()

        def cont(w):
            # sinh(w theta) / (2 w), theta / 2 at w = 0
            return th * half if w == 0 else (w * th).sinh() / (2 * w)

        def log_m_real(t):
            w = t + half
            return (-th * half) + ((w * th).cosh() + cont(w)).log()

        def phi(z):
            w = z + half
            M = (-th * half).exp() * ((w * th).cosh() + cont(w))
            return (T * M.log() - z * e).exp() / (z * (z + 1))

        s = phi(acb(c)).real * half
        for j in range(1, n):
            s += phi(acb(c, j * h)).real
        s *= h / pi
        # truncation beyond the last node u0 = (n - 1) h: (1/pi) M(c)^T rho(u0)^T e^{-c eps} / u0
        u0 = (n - 1) * h
        cp = abs(c_f + 0.5)
        A = (arb(cp) * th).cosh()
        Sb = cont(arb(cp))
        Mc = A + Sb
        # |sinh(w th) / (2w)| is at most Sb and at most A / (2 |w|) <= A / (2 u0): either bound is valid
        other = A / (2 * u0)
        lsb = Sb if Sb.upper() < other.upper() else other
        rho = (A + lsb) / Mc
        tail = (T * log_m_real(c)).exp() * rho ** T * (-c * e).exp() / (pi * u0)
        a = abs(c)
        err = tail + (-a * P).exp() / (1 - (-a * P).exp())
        sup = T * th
        if c_f > 0:
            if not (e + P >= sup):
                best = None
                for t in (1.25 * c_f, 1.5 * c_f, 2 * c_f, 3 * c_f, c_f + 1, c_f + 4, 5 * c_f):
                    ta = arb(t)
                    fac = (ta * ta.log() - (ta + 1) * (ta + 1).log()).exp()
                    rate = ta - c
                    b = (T * log_m_real(ta) - ta * e).exp() * fac * (-rate * P).exp() / (1 - (-rate * P).exp())
                    best = b if best is None or b.upper() < best.upper() else best
                err += best
            val = s
        else:
            best = None
            for f in (0.1, 0.25, 0.5, 0.75, 1.0):
                sv = a + (1 - a) * f
                rate = sv - a
                b = (T * log_m_real(-sv) + sv * e).exp() * (-rate * P).exp() / (1 - (-rate * P).exp())
                best = b if best is None or b.upper() < best.upper() else best
            err += best
            val = s + 1
        return (val - err).union(val + err)
    finally:
        ctx.prec = old


# ---------------------------------------------------------------------- brackets
def certified_delta(sensitivity: float, scale: float, T: int, eps: float) -> tuple[float, float, dict[str, Any]]:
    """(lower, upper, info) on delta(eps): both ends proven (Arb)."""
    from .laplace_exact import LaplaceComposition

    T = int(T)
    theta = float(sensitivity) / float(scale)
    if eps >= T * theta * (1 + 1e-15):
        # delta = 0 beyond the largest loss T theta (checked in Arb)
        from flint import arb

        if arb(eps) >= T * _theta(sensitivity, scale):
            return 0.0, 0.0, {"source": "beyond the largest loss"}
    if T <= RESIDUE_MAX_T:
        v = residue_delta(sensitivity, scale, T, eps)
        how = "residues (Arb)"
    else:
        v = contour_delta(sensitivity, scale, T, eps)
        how = "contour (Arb)"
    lo = max(0.0, float(v.lower()))
    hi = min(1.0, float(v.upper()))
    # floats rounded outward: one ulp
    lo = math.nextafter(lo, 0.0) if lo > 0 else 0.0
    hi = math.nextafter(hi, math.inf)
    _ = LaplaceComposition  # (the float engine plans the contour)
    return lo, hi, {"source": how}


def certified_epsilon(sensitivity: float, scale: float, T: int, delta: float,
                      rel: float = 1e-9) -> tuple[float, float, dict[str, Any]]:
    """(lower, upper, info) on eps(delta) = inf{eps >= 0: delta(eps) <= delta}: the upper end is an eps
    whose certified delta is at most ``delta``, the lower end one whose certified delta is above it."""
    from .laplace_exact import LaplaceComposition

    T = int(T)
    lap = LaplaceComposition(float(sensitivity) / float(scale), T)
    est, _, _ = lap.epsilon(delta)
    sup = T * float(sensitivity) / float(scale)
    info: dict[str, Any] = {"estimate": est}
    # upper end
    r = rel
    hi = None
    for _ in range(12):
        e = min(est * (1 + r) + r, sup)
        lo_d, hi_d, src = certified_delta(sensitivity, scale, T, e)
        if hi_d <= delta:
            hi = e
            info["source"] = src["source"]
            break
        r *= 10
    if hi is None:
        raise NotCertified("no certified upper end for eps")
    if est <= 0.0:
        return 0.0, hi, info
    r = rel
    lo = 0.0
    for _ in range(12):
        e = max(est * (1 - r), 0.0)
        lo_d, hi_d, _ = certified_delta(sensitivity, scale, T, e)
        if lo_d > delta:
            lo = e
            break
        if e == 0.0:
            break
        r *= 10
    return lo, hi, info


def certified_bracket(groups, kind: str, x: float) -> tuple[float, float, dict[str, Any]] | None:
    """The hook for :mod:`ewacct.bounds.certify`: (lower, upper, info) for ``kind`` "delta" (x = eps) or
    "epsilon" (x = delta) of a composition that is one Laplace scale composed with itself; None
    otherwise or where neither source applies."""
    from ..mechanisms import Laplace

    g = [(m, int(n)) for m, n in groups if int(n) > 0]
    if not g or not all(isinstance(m, Laplace) for m, _ in g):
        return None
    if len({(float(m.sensitivity), float(m.scale)) for m, _ in g}) != 1:
        return None  # (equal theta from different pairs: theta's Arb enclosure differs; not merged here)
    m = g[0][0]
    T = sum(n for _, n in g)
    try:
        if kind == "delta":
            return certified_delta(m.sensitivity, m.scale, T, float(x))
        return certified_epsilon(m.sensitivity, m.scale, T, float(x))
    except (NotCertified, ArithmeticError, ValueError):
        return None
