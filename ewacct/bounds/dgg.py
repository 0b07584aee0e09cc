"""Finite-sample bound on the distance to the first-order Edgeworth expansion, and the (eps, delta)
bounds it implies (Derumigny, Girard & Guyonvarch, arXiv 2101.05780).

For ``n`` independent centred variables with averaged moments (``Bbar^2 = mean E xi^2``,
``K4 = mean E xi^4 / Bbar^4``, ``K3 = mean E|xi|^3 / Bbar^3``, ``lambda3 = mean E xi^3 / Bbar^3``,
``K3~ = K3 + mean E|xi| E xi^2 / Bbar^3``) the bound holds for

    sup_x | P(S_n / (sqrt(n) Bbar) <= x) - Phi(x) - lambda3 (1 - x^2) phi(x) / (6 sqrt n) |.

Two forms are implemented, and the smaller is used:

* the closed form of the current paper (Theorem 2.1 under moment conditions only, Appendix A:
  i.i.d. and non-i.i.d. variants with their remainders r_{1,n}), minimised over its free parameter
  ``eps_b in (0, 1/3)`` (the bound holds for each value, so the minimum over a grid is valid).
  One deviation from the authors' R package: in ``bar R_n^inid`` the term A_{1,n} keeps its factor
  ``2^4 Gamma(5)`` (a missing operator in the package drops it); ours is the larger, paper value.
* the integral form Omega_1 + Omega_2 + Omega_3 used by the Edgeworth accountant's reference code
  (an earlier revision; i.i.d. only), with its precondition ``1 - 2 chi1 u K3~/sqrt(n) - sqrt(K4/n) > 0``
  on the integration range checked (otherwise that form is unavailable).  Its integrals are done by
  adaptive quadrature and the reported quadrature error is added.

Inputs are rigorous enclosures (:mod:`ewacct.bounds.moments`); the bound is evaluated at every
corner of the input box and the largest value is used, then inflated by 1e-12 relative and 1e-15
absolute for floating-point evaluation.

Status -- NOT a rigorous bound (it is labelled so wherever it is reported, see ``STATUS``):

* the maximum over the corners of the input box is the maximum of the bound only if the bound is
  monotone in each input on the box, which is not proven (the box is ~1e-16 relative wide, so the
  effect is expected to be of that order, but it is not bounded);
* the integral form adds the *estimated* error of ``scipy.integrate.quad``, which is not a bound;
* the formulas are evaluated in double precision (scipy's incomplete gamma functions included) with
  a guessed 1e-12 relative inflation, not with a proven error budget;
* the constants and formulas are a transcription of the paper (and its R package) that has been
  checked against the Edgeworth-accountant reference table to 3 %, not proof-read line by line.

The non-i.i.d. branch with ``Delta < 0`` needs the paper's extension of the lower incomplete gamma
function to negative arguments; its transcription could not be verified (the former code integrated
``|v|^(a-1) e^{+v}`` while this docstring said ``e^{-v}``), so that branch now returns ``inf``
(vacuous) instead of a number of unknown validity.  Every numerical failure (overflow at tiny
sampling rates, where ``K4 ~ 1/q``, division by zero, domain errors) makes a candidate vacuous; the
bound never raises.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy.special import gamma as G
from scipy.special import gammaincc, gammainc

from .moments import StepMoments

#: how the bound may be described (the certificate's ``source`` and docs must not call it rigorous)
STATUS = ("not rigorous: DGG formulas in double precision at the corners of a rigorous moment box "
          "(unproven maximum; quadrature error estimates in the integral form)")

C_PSI = 1.0253  # |Psi(t)| <= C_PSI / (2 pi |t|)  (Prawitz kernel)
CHI1 = 0.09916191
EPS_GRID = tuple(0.01 * k for k in range(1, 33))  # eps_b in (0, 1/3)


def _uinc(a: float, x: float) -> float:
    """Upper incomplete gamma Gamma(a, x) for a > 0, x >= 0."""
    return float(G(a) * gammaincc(a, max(x, 0.0)))


def _linc(a: float, x: float) -> float:
    """Lower incomplete gamma gamma(a, x) for x >= 0 (the x < 0 extension is not used, see the module doc)."""
    if x < 0:
        raise ValueError("lower incomplete gamma at a negative argument: not supported")
    return float(G(a) * gammainc(a, x))


def _P1n(e: float) -> float:
    return (144 + 48 * e + 4 * e * e + 96 * math.sqrt(2 * e) + 32 * e + 16 * math.sqrt(2) * e**1.5) / 576


def _e1n(e: float) -> float:
    return math.exp(e * e * (1 / 6 + 2 * _P1n(e) / (1 - 3 * e) ** 2))


def _e3(e: float) -> float:
    return math.exp(e * e / 6 + e * e / (2 * (1 - 3 * e)) ** 2)


def _P2n(e: float, n: float, K4: float, l3: float) -> float:
    return (48 * e * math.sqrt(K4 / n) + 4 * e * e * K4 / n + 96 * math.sqrt(2 * e) * abs(l3) / (K4**0.25 * n**0.25)
            + 32 * e * l3 * l3 / math.sqrt(K4 * n) + 16 * math.sqrt(2) * K4**0.25 * abs(l3) * e**1.5 / n**0.75)


def _e2n(e: float, n: float, K4: float, l3: float) -> float:
    return math.exp(e * e * (1 / 6 + 1 / (2 * (1 - 3 * e) ** 2) + 2 * _P2n(e, n, K4, l3) / (576 * (1 - 3 * e) ** 2)))


def _main(e: float, n: float, K4: float, K3t: float, l3: float, e_skew: float) -> float:
    return (0.1995 * K3t / math.sqrt(n) + (0.031 * K3t**2 + 0.327 * K4 * (1 / 12 + 1 / (4 * (1 - 3 * e) ** 2))) / n
            + (0.054 * abs(l3) * K3t + 0.037 * e_skew * l3 * l3) / n)


def _gamma_window(e: float, n: float, K4: float, K3t: float) -> float:
    return min(math.sqrt(2 * e) * (n / K4) ** 0.25, 2 * math.sqrt(n) / K3t)


def closed_form_iid(n: float, e: float, K4: float, K3: float, K3t: float, l3: float) -> float:
    """Theorem A.3 (i.i.d., moment conditions only, skewed case), Eq. (17) with r_{1,n} of Eq. (21)."""
    d = 2 * (1 - 3 * e) ** 2 * math.pi
    e2 = _e2n(e, n, K4, l3)
    P2 = _P2n(e, n, K4, l3)
    brace = K4 / 12 + 1 / (4 * (1 - 3 * e) ** 2) + P2 / (576 * (1 - 3 * e) ** 2)
    Rbar = (C_PSI / d * abs(l3) / (6 * n**1.5) * 2**0.5 * G(2.5)
            + C_PSI / d * K4 / (24 * n * n) * 2**3 * G(5)
            + C_PSI / d * l3 * l3 / (36 * n * n) * 2**3 * G(5)
            + C_PSI / d * K4 * abs(l3) / (72 * n**2.5) * 2**3.5 * G(5.5)
            + C_PSI / d * K4 * K4 / (576 * n**3) * 2**4 * G(6)
            + C_PSI / math.pi * e2 / (8 * n * n) * brace * 2**4 * G(6)
            + C_PSI / math.pi * e2 * abs(l3) / (12 * n**1.5) * brace * 2**3.5 * G(5.5))
    w = _gamma_window(e, n, K4, K3t)
    r1 = ((14.1961 + 67.0415) * K3t**4 / (16 * math.pi**4 * n * n)
          + 4.3394 * abs(l3) * K3t**3 / (8 * math.pi**3 * n * n)
          + Rbar
          + 1.306 * (e2 - _e3(e)) * l3 * l3 / (36 * n)
          + abs(l3) * (_uinc(1.5, w) - _uinc(1.5, 2 * math.sqrt(n) / K3t)) / math.sqrt(n)
          + C_PSI * 2**2.5 * K3 / (3 * math.pi * math.sqrt(n)) * (_uinc(1.5, w * w / 8) - _uinc(1.5, 4 * n / (8 * K3t**2))))
    return _main(e, n, K4, K3t, l3, _e3(e)) + r1


def closed_form_inid(n: float, e: float, K4: float, K3: float, K3t: float, l3: float) -> float:
    """Theorem A.2 (non-i.i.d., moment conditions only, skewed case), Eq. (11) with r_{1,n} of Eq. (15)."""
    P1 = _P1n(e)
    e1 = _e1n(e)
    d = (1 - 3 * e) ** 2
    r = K4 / n
    Rbar = (C_PSI / (48 * d * math.pi) * r**1.5 * 2**4 * G(5)
            + C_PSI / (24**2 * 2 * d * math.pi) * r * r * 2**5 * G(6)
            + C_PSI * e1 / (2 * math.pi) * r * r * (1 / 24 + P1 / (2 * d)) ** 2 * 2**5 * G(6)
            + C_PSI / (12 * d * math.pi) * r**1.25 * 2**3.5 * G(4.5)
            + C_PSI / (72 * d * math.pi) * r**1.5 * 2**4 * G(5)
            + C_PSI / (144 * d * math.pi) * r**1.75 * 2**4.5 * G(5.5)
            + C_PSI * e1 / (6 * math.pi) * abs(l3) * K4 / n**1.5 * (1 / 24 + P1 / (2 * d)) * 2**5 * G(6))
    Delta = (1 - 4 * CHI1 - math.sqrt(r)) / 2
    if Delta < 0:
        return math.inf  # needs the unverified negative-argument incomplete gamma: vacuous (module doc)
    if Delta == 0:
        up, lo = 2 * math.sqrt(n) / K3t, math.sqrt(2 * e) * (n / K4) ** 0.25
        brace = 0.0 if up <= lo else (up**3 - lo**3) / 3
    else:
        up = 2 * Delta * min(e * math.sqrt(n / K4), 2 * n / K3t**2)
        lo = 4 * Delta * n / K3t**2
        brace = 0.5 * abs(Delta) ** -1.5 * abs(_linc(1.5, lo) - _linc(1.5, up))
    w = _gamma_window(e, n, K4, K3t)
    r1 = ((14.1961 + 67.0415) * K3t**4 / (16 * math.pi**4 * n * n)
          + 4.3394 * abs(l3) * K3t**3 / (8 * math.pi**3 * n * n)
          + Rbar
          + abs(l3) * (_uinc(1.5, w) - _uinc(1.5, 2 * math.sqrt(n) / K3t)) / math.sqrt(n)
          + C_PSI * K3 * brace / (6 * math.pi * math.sqrt(n)))
    return _main(e, n, K4, K3t, l3, e1) + r1


def integral_form_iid(n: float, K4: float, K3: float, K3t: float, l3: float, e: float = 0.1) -> float:
    """Omega_1 + Omega_2 + Omega_3 (DGG Theorem 2.1 as ported, centred inputs, |lambda3|); inf if a precondition fails."""
    Th = 2 * math.pi * math.sqrt(n) / K3t
    t0 = 1 / math.pi
    sq = math.sqrt(n)
    g = lambda u: 1 + abs(l3) * u**3 / (6 * sq)  # noqa: E731
    o1a, e1a = integrate.quad(lambda t: 0.5 * (1 - t + math.pi**2 / 18 * t * t) * math.exp(-(Th * t) ** 2 / 2) * g(Th * t), 0, t0)
    o1b, e1b = integrate.quad(lambda t: math.exp(-(Th * t) ** 2 / 2) * g(Th * t) / t, t0, math.inf)
    om1 = 2 * o1a + o1b / math.pi + 2 * e1a + e1b / math.pi
    om2 = 67.0415 / Th**4 + 1.2187 / Th**2
    r = K4 / n
    ustar = math.sqrt(2 * e) * (n / K4) ** 0.25
    P1 = _P1n(e)
    e1 = _e1n(e)
    A = 1 / 24 + P1 / (2 * (1 - 3 * e) ** 2)

    def R(u: float) -> float:
        Ua = u**6 * r**1.5 / 24 + u**8 * r * r / 576
        Ub = u**5 * r**1.25 / 6 + u**6 * r**1.5 / 36 + u**7 * r**1.75 / 72
        return (Ua + Ub) / (2 * (1 - 3 * e) ** 2) + e1 * (u**8 * r * r * A * A / 2 + u**7 * abs(l3) * K4 * A / (6 * n**1.5))

    i31, e31 = integrate.quad(lambda u: u * math.exp(-u * u / 2) * R(u), 0, ustar)
    I31 = 0.327 * r * (1 / 12 + 1 / (4 * (1 - 3 * e) ** 2)) + 0.036278 * e1 * l3 * l3 / n + C_PSI / math.pi * (i31 + e31)
    upper = Th / math.pi
    if upper > ustar:
        # precondition: the exponent factor must stay positive on [u*, Theta/pi]
        if 1 - 2 * CHI1 * upper * K3t / sq - math.sqrt(r) <= 0:
            return math.inf
        i32, e32 = integrate.quad(lambda u: u * u * math.exp(-(u * u / 2) * (1 - 2 * CHI1 * abs(u) * K3t / sq - math.sqrt(r))), ustar, upper)
        i33, e33 = integrate.quad(lambda u: u * u * math.exp(-u * u / 2), ustar, upper)
        I32 = K3 / (3 * sq) * C_PSI / (2 * math.pi) * (i32 + e32)
        I33 = abs(l3) / (3 * sq) * C_PSI / (2 * math.pi) * (i33 + e33)
    else:
        I32 = I33 = 0.0
    return om1 + om2 + I31 + I32 + I33


@dataclass(frozen=True)
class UniformBound:
    """sup_x |F(x) - F_hat_1(x)| <= value for one side of the composed loss."""

    value: float
    form: str
    eps_b: float | None
    n: int
    K3: float
    K3tilde: float
    K4: float
    lambda3: float


def normalised_inputs(groups: list[tuple[StepMoments, int]]):
    """Corner boxes of (K4, K3, K3~, lambda3) from per-group moment enclosures."""
    n = sum(c for _, c in groups)
    cols = []
    for pick in itertools.product((0, 1), repeat=5):
        mom = [tuple(getattr(m, f)[pick[i]] for i, f in enumerate(("m2", "m3", "m4", "a1", "a3"))) for m, _ in groups]
        B2 = sum(c * mm[0] for mm, (_, c) in zip(mom, groups)) / n
        B = math.sqrt(B2)
        K4 = sum(c * mm[2] for mm, (_, c) in zip(mom, groups)) / n / B2**2
        K3 = sum(c * mm[4] for mm, (_, c) in zip(mom, groups)) / n / B**3
        l3 = sum(c * mm[1] for mm, (_, c) in zip(mom, groups)) / n / B**3
        K3t = K3 + sum(c * mm[3] * mm[0] for mm, (_, c) in zip(mom, groups)) / n / B**3
        cols.append((K4, K3, K3t, l3))
    return n, cols


def _safe(fn, *args) -> float:
    """fn(*args), or inf (vacuous) on any numerical failure: a failed bound is no bound, never an error."""
    try:
        with np.errstate(all="ignore"):
            v = float(fn(*args))
    except (ArithmeticError, ValueError):  # OverflowError, ZeroDivisionError, FloatingPointError, domain errors
        return math.inf
    return v if (math.isfinite(v) and v >= 0) else math.inf


def uniform_bound(groups: list[tuple[StepMoments, int]], *, iid: bool) -> UniformBound:
    """Smallest bound over the forms and the eps_b grid, maximised over the input box corners.

    The candidate (form, eps_b) is chosen at the centre of the input box; that candidate's bound is
    then evaluated at all corners and the largest value kept (each (form, eps_b) is a bound on its
    own, so choosing it from data is allowed).  Not rigorous (``STATUS``, module doc); never raises:
    where no candidate evaluates to a finite number the bound is ``inf`` with form "vacuous".
    """
    try:
        n, corners = normalised_inputs(groups)
    except (ArithmeticError, ValueError):
        n = sum(c for _, c in groups)
        return UniformBound(math.inf, "vacuous", None, n, math.nan, math.nan, math.nan, math.nan)
    mid = tuple(float(np.mean([c[i] for c in corners])) for i in range(4))
    name = "closed form (" + ("i.i.d." if iid else "non-i.i.d.") + ")"
    closed = closed_form_iid if iid else closed_form_inid
    cands: list[tuple[float, str, float]] = []
    for e in EPS_GRID:
        v = _safe(closed, n, e, *mid)
        if math.isfinite(v):
            cands.append((v, name, e))
    if iid:
        v = _safe(integral_form_iid, n, *mid)
        if math.isfinite(v):
            cands.append((v, "integral form (i.i.d.)", 0.1))
    K4, K3, K3t, l3 = corners[-1]
    if not cands:
        return UniformBound(math.inf, "vacuous", None, n, K3, K3t, K4, l3)
    _, form, e = min(cands)
    fn = (lambda c: integral_form_iid(n, *c)) if form.startswith("integral") else (lambda c: closed(n, e, *c))
    worst = max(_safe(fn, c) for c in corners)
    if not (math.isfinite(worst) and worst >= 0):
        return UniformBound(math.inf, "vacuous", None, n, K3, K3t, K4, l3)
    return UniformBound(worst * (1 + 1e-12) + 1e-15, form, e, n, K3, K3t, K4, l3)
