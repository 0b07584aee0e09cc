"""Normal tail functions and Hermite polynomials, written for the deep tails.

The survival function is never formed as ``1 - cdf``; log-tails use an asymptotic series beyond
``x = 20`` where ``erfc`` would underflow.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SQRT2 = math.sqrt(2.0)


@njit(cache=True)
def norm_pdf(x: float) -> float:
    return INV_SQRT_2PI * math.exp(-0.5 * x * x)


@njit(cache=True)
def norm_sf(x: float) -> float:
    """Upper tail P(Z > x) of the standard normal, accurate in relative terms for x up to ~37."""
    return 0.5 * math.erfc(x / SQRT2)


@njit(cache=True)
def norm_logsf(x: float) -> float:
    """log P(Z > x), accurate in relative terms for all finite x."""
    if x < 20.0:
        return math.log(0.5 * math.erfc(x / SQRT2))
    # Asymptotic series of the Mills ratio: R(x) = (1/x) sum (-1)^k (2k-1)!! / x^{2k}
    x2 = x * x
    term = 1.0
    s = 1.0
    for k in range(1, 12):
        term *= -(2.0 * k - 1.0) / x2
        s += term
    return -0.5 * x2 - math.log(x) - LOG_SQRT_2PI + math.log(s)


@njit(cache=True)
def norm_logcdf(x: float) -> float:
    """log P(Z <= x)."""
    return norm_logsf(-x)


@njit(cache=True)
def hermite_all(z: float, n: int, out: np.ndarray) -> None:
    """Fill ``out[0..n]`` with the probabilists' Hermite polynomials He_k(z)."""
    out[0] = 1.0
    if n >= 1:
        out[1] = z
    for k in range(1, n):
        out[k + 1] = z * out[k] - k * out[k - 1]


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (float64)."""
    x, w = np.polynomial.legendre.leggauss(n)
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


GL_X, GL_W = gauss_legendre(16)
