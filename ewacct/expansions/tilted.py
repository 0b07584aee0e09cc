"""Exponentially tilted (saddlepoint) expansion of delta(eps) — the default estimate.

For a pair (P, Q) with composed loss ``S = log dP/dQ`` and ``K(t) = log E_P[e^{tS}]``:

    delta(eps) = E_P[(1 - e^{eps - S})_+]                                  (hockey stick)

Tilt P by ``t`` (``dP_t/dP = e^{tS - K(t)}``) with ``t`` the saddlepoint ``K'(t) = eps``.  Under
``P_t`` the loss has mean ``eps``, variance ``v = K''(t)`` and cumulants ``K^{(j)}(t)``; write
``S - eps = sqrt(v) W`` and approximate the law of ``W`` by its Edgeworth density of order r,
``f_r(w) = phi(w) (1 + sum_k A_k He_k(w))``.  With ``a = t sqrt(v)`` and ``b = sqrt(v)``:

* ``t >= 0``:  ``delta = e^{K(t) - t eps} * int_0^inf e^{-a y} (1 - e^{-b y}) f_r(y) dy``;
* ``-1 < t < 0`` (eps below the mean of S under P): moving the inversion contour across the pole at
  0 gives ``delta = 1 - e^{K(t) - t eps} [int_0^inf e^{-(a+b) y} f_r(y) dy + int_0^inf e^{-|a| y} f_r(-y) dy]``.

Both are exact identities up to the Edgeworth approximation of the *tilted* law, which is evaluated
where it is most accurate (at its centre), so the relative error stays small deep in the tail where
plain Edgeworth fails.  No difference ``P(S>eps) - e^eps Q(S>eps)`` is ever formed, so there is no
cancellation.  The integrals are done by Gauss-Legendre on a graded mesh (Numba).

References: Daniels (1954); Lugannani & Rice (1980); Alghamdi et al., "The Saddle-Point Method in
Differential Privacy" (ICML 2023) for the DP use; our derivation in docs/math.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numba import njit

from .._kernels.special import GL_W, GL_X, hermite_all, INV_SQRT_2PI
from .edgeworth import hermite_coefficients

CgfFn = Callable[[float, int], np.ndarray]


@njit(cache=True)
def _edge_laplace(c: float, b: float, w0: float, sgn: float, a_full: np.ndarray, a_prev: np.ndarray,
                  out: np.ndarray) -> None:
    """out[0..2] = int_0^inf e^{-c y} g_b(y) f(w0 + sgn y) dy for f = full, previous order, Gaussian.

    ``g_b(y) = 1 - e^{-b y}`` when b > 0, else 1.
    """
    n = a_full.shape[0] - 1
    he = np.empty(n + 1)
    scale = max(1.0, c, b)
    Y = -c + math.sqrt(c * c + 120.0) + abs(w0) + 1.0
    h0 = min(0.5, 0.25 / scale)
    hmax = min(1.0, 1.0 / max(1.0, c))
    s_full = 0.0
    s_prev = 0.0
    s_zero = 0.0
    y0 = 0.0
    width = h0
    while y0 < Y:
        half = 0.5 * width
        mid = y0 + half
        for k in range(GL_X.shape[0]):
            y = mid + half * GL_X[k]
            w = w0 + sgn * y
            base = half * GL_W[k] * math.exp(-c * y - 0.5 * w * w) * INV_SQRT_2PI
            if b > 0.0:
                base *= -math.expm1(-b * y)
            hermite_all(w, n, he)
            pf = 1.0
            pp = 1.0
            for j in range(n + 1):
                pf += a_full[j] * he[j]
                pp += a_prev[j] * he[j]
            s_full += base * pf
            s_prev += base * pp
            s_zero += base
        y0 += width
        width = min(hmax, width * 1.5)
    out[0] = s_full
    out[1] = s_prev
    out[2] = s_zero


@dataclass(frozen=True)
class TiltedPoint:
    """delta at one point of the tilted profile, with its diagnostics."""

    t: float
    eps: float
    delta: float
    delta_prev_order: float
    delta_gaussian: float
    lam3: float
    lam4: float

    @property
    def last_term_ratio(self) -> float:
        """|delta_r - delta_{r-1}| / delta_r: size of the last included correction."""
        return abs(self.delta - self.delta_prev_order) / max(abs(self.delta), 1e-300)

    @property
    def correction_ratio(self) -> float:
        """|delta_r - delta_0| / delta_0: all Edgeworth corrections relative to the tilted Gaussian."""
        return abs(self.delta - self.delta_gaussian) / max(abs(self.delta_gaussian), 1e-300)


def delta_at_tilt(cgf: CgfFn, t: float, order: int, eps: float | None = None) -> TiltedPoint:
    """delta by the tilted expansion with tilt ``t``; ``eps`` defaults to the saddle value K'(t)."""
    k = cgf(t, order + 2)
    K, k1, v = float(k[0]), float(k[1]), float(k[2])
    if not np.all(np.isfinite(k)):
        raise FloatingPointError(f"non-finite tilted cumulants at t={t}")
    if not v > 0.0:
        raise FloatingPointError("non-positive tilted variance")
    sd = math.sqrt(v)
    if eps is None:
        eps = k1
    lam = np.zeros(order + 3)
    for j in range(3, order + 3):
        lam[j] = k[j] / sd**j
    _, a_full, _ = hermite_coefficients(lam, order)
    _, a_prev, _ = hermite_coefficients(lam, max(order - 1, 0))
    if a_prev.shape[0] < a_full.shape[0]:
        a_prev = np.concatenate([a_prev, np.zeros(a_full.shape[0] - a_prev.shape[0])])
    if order == 0:
        a_full = np.zeros(2)
        a_prev = np.zeros(2)
    w0 = (eps - k1) / sd
    a, b = t * sd, sd
    logpre = K - t * eps
    out = np.empty(3)
    if t >= 0.0:
        _edge_laplace(a, b, w0, 1.0, a_full, a_prev, out)
        vals = np.exp(logpre) * out
    else:
        out2 = np.empty(3)
        _edge_laplace(a + b, 0.0, w0, 1.0, a_full, a_prev, out)
        _edge_laplace(-a, 0.0, w0, -1.0, a_full, a_prev, out2)
        vals = 1.0 - np.exp(logpre) * (out + out2)
    if not np.all(np.isfinite(vals)):
        raise FloatingPointError(f"non-finite tilted delta at t={t}")
    return TiltedPoint(t=t, eps=float(eps), delta=float(vals[0]), delta_prev_order=float(vals[1]),
                       delta_gaussian=float(vals[2]), lam3=float(lam[3]) if order >= 1 else 0.0,
                       lam4=float(lam[4]) if order >= 2 else 0.0)


def saddlepoint(cgf: CgfFn, eps: float, *, tol: float = 1e-12, t_init: float | None = None, nmax: int = 2) -> float:
    """Solve K'(t) = eps for t in (-1, inf) by safeguarded Newton on a bracket.

    ``nmax`` only chooses how many derivatives each CGF call computes (match the caller's later
    calls so that cached values are reused).
    """
    lo, hi = -1.0, None
    t = 0.0 if t_init is None else float(t_init)
    for _ in range(200):
        k = cgf(t, max(2, nmax))
        g = float(k[1]) - eps
        if g > 0:
            hi = t
        else:
            lo = t
        if abs(g) <= tol * max(1.0, abs(eps)):
            return t
        step = g / float(k[2])
        tn = t - step
        if hi is None:
            if tn <= lo:
                tn = 0.5 * (lo + t) if t > lo else t + 1.0
            if tn > 4.0 * max(1.0, abs(t)) + 10.0:
                tn = 4.0 * max(1.0, abs(t)) + 10.0
        elif not (lo < tn < hi):
            tn = 0.5 * (lo + hi)
        if abs(tn - t) <= 1e-15 * max(1.0, abs(t)):
            return tn
        t = tn
    raise FloatingPointError(f"saddlepoint did not converge for eps={eps}")
