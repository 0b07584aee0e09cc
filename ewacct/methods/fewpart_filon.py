"""Filon-type weights for the Gauss-Kronrod (7-15) panels of ``fewpart``'s contour quadrature.

On the contour z = c + iu the integrand is F(u) = e^{-iu eps} h(u) with
h(u) = e^{K(c + iu) - c eps} / (z (z + 1)).  In the few-participation corner the near-atom of the
loss at 0 keeps |h| ~ e^{-c eps} / u^2 (non-oscillating, slowly varying in log u) out to u ~ 1 / q,
while the factor e^{-iu eps} oscillates: Gauss-Kronrod panels on F need one panel per period or so
(thousands of nodes for sigma <= 0.6).  Here the oscillating factor is integrated exactly and only
h is interpolated: on a panel [mid - half, mid + half], u = mid + half t,

    integral of F du = half e^{-i mid eps} sum_j W_j(omega) h(u_j),   omega = half eps,

with W_j(omega) = sum_k m_k(omega) V^{-1}[k, j], V[j, k] = P_k(t_j) (Legendre), and the exact moments
m_k(omega) = integral_{-1}^{1} P_k(t) e^{-i omega t} dt = 2 (-i)^k j_k(omega) (spherical Bessel).
The 15 Kronrod nodes give the degree-14 interpolant, the 7 Gauss nodes the degree-6 one: their
difference is the panel's error estimate, as with plain Gauss-Kronrod (to which both reduce at
omega = 0).  The panels then need only resolve h, not the oscillation.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre as _leg
try:  # the ufunc itself: scipy's wrapper adds ~0.1 ms of array-API dispatch per call
    from scipy.special._ufuncs import _spherical_jn as spherical_jn
except ImportError:  # pragma: no cover
    from scipy.special import spherical_jn


def _vinv(x: np.ndarray) -> np.ndarray:
    v = _leg.legvander(x, x.size - 1)  # V[j, k] = P_k(x_j)
    return np.linalg.inv(v)


#: relative floating-point error of a Filon weight, in units of eps_mach (measured against mpmath
#: below 3e-15 relative to max_j |W_j| for omega in [0, 1e6]; budgeted with margin)
WEIGHT_FP_UNITS = 64.0


class FilonGK:
    """Filon weights at the 15 Kronrod and the 7 Gauss nodes (ascending, as ``fewpart.GK_X``)."""

    def __init__(self, xk: np.ndarray) -> None:
        self.xk = np.asarray(xk, dtype=float)
        self.gidx = np.arange(1, 15, 2)
        self.vk = _vinv(self.xk)            # (15, 15): [k, j]
        self.vg = _vinv(self.xk[self.gidx])  # (7, 7)
        self.k = np.arange(15)
        self.ik = (-1j) ** self.k

    def weights(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W_K, W_G): shapes (n, 15) and (n, 7) for the n panels' omega = half-width * eps."""
        om = np.abs(np.asarray(omega, dtype=float))
        mk = 2.0 * self.ik[None, :] * spherical_jn(self.k[None, :], om[:, None])
        return mk @ self.vk, mk[:, :7] @ self.vg
