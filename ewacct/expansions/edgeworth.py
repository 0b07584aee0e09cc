"""Edgeworth expansion of a sum with known cumulants, of any order (Blinnikov & Moessner 1998).

For a sum ``S`` with cumulants ``K_1, K_2, ...`` write ``s = sqrt(K_2)``, ``z = (x - K_1)/s`` and
``lambda_j = K_j / s^j``.  The order-r correction is a sum over the partitions
``(k_1, k_2, ...)`` of ``r = sum_m m k_m``::

    prod_m (lambda_{m+2} / (m+2)!)^{k_m} / k_m!  *  He_{r + 2R - 1}(z)     (CDF, R = sum k_m)
    ...                                           *  He_{r + 2R}(z)         (density)

and ``F(x) ~ Phi(z) - phi(z) sum_r CDF_r(z)``, ``f(x) ~ phi(z)/s (1 + sum_r PDF_r(z))``
(Wang et al., arXiv 2206.04236; Blinnikov & Moessner 1998).  Orders 1-3 are EW-Tune's.  The survival function is formed directly as
``Phi_bar(z) + phi(z) sum_r CDF_r(z)``, never as ``1 - F``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

from .._kernels.special import LOG_SQRT_2PI, hermite_all, norm_logsf

MAX_ORDER = 6


@lru_cache(maxsize=None)
def _partitions(r: int) -> tuple[tuple[int, ...], ...]:
    """All (k_1..k_r) with sum m k_m = r."""
    out: list[tuple[int, ...]] = []

    def rec(m: int, rem: int, acc: list[int]) -> None:
        if m > r:
            if rem == 0:
                out.append(tuple(acc))
            return
        for k in range(rem // m + 1):
            rec(m + 1, rem - k * m, acc + [k])

    rec(1, r, [])
    return tuple(out)


@lru_cache(maxsize=None)
def _partition_table(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened Blinnikov-Moessner terms up to ``order``: (r, R, k-matrix, 1/prod k_m!)."""
    rs, Rs, ks, inv = [], [], [], []
    for r in range(1, order + 1):
        for kk in _partitions(r):
            row = np.zeros(MAX_ORDER, dtype=np.int64)
            row[: len(kk)] = kk
            rs.append(r)
            Rs.append(sum(kk))
            ks.append(row)
            inv.append(1.0 / math.prod(math.factorial(k) for k in kk))
    if not rs:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, MAX_ORDER), np.int64), np.zeros(0))
    return np.array(rs, np.int64), np.array(Rs, np.int64), np.array(ks, np.int64), np.array(inv)


_INV_FACT = np.array([1.0 / math.factorial(j) for j in range(MAX_ORDER + 4)])


@njit(cache=True)
def _bm_coefficients(lam: np.ndarray, rs: np.ndarray, Rs: np.ndarray, ks: np.ndarray, inv: np.ndarray,
                     inv_fact: np.ndarray, kmax: int, nord: int):
    a_cdf = np.zeros(kmax)
    a_pdf = np.zeros(kmax)
    by_order = np.zeros((max(nord, 1), kmax))
    for i in range(rs.shape[0]):
        coef = inv[i]
        for m in range(ks.shape[1]):
            k = ks[i, m]
            if k:
                base = lam[m + 3] * inv_fact[m + 3]
                for _ in range(k):
                    coef *= base
        r = rs[i]
        R = Rs[i]
        a_cdf[r + 2 * R - 1] += coef
        a_pdf[r + 2 * R] += coef
        by_order[r - 1, r + 2 * R] += coef
    return a_cdf, a_pdf, by_order


def hermite_coefficients(lam: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients of the correction polynomials in the Hermite basis.

    Args:
        lam: standardised cumulants, ``lam[j] = K_j / s^j`` for ``j = 3..order+2`` (index = j).
        order: expansion order r >= 0.

    Returns:
        ``(a_cdf, a_pdf, a_pdf_by_order)``: ``sum_k a_cdf[k] He_k(z)`` is the total CDF correction
        (enters the survival function with a plus sign), ``sum_k a_pdf[k] He_k(z)`` the density
        correction, and ``a_pdf_by_order[r'-1]`` the density correction of order r' alone.
    """
    if not 0 <= order <= MAX_ORDER:
        raise ValueError(f"order must be in [0, {MAX_ORDER}], got {order}")
    kmax = 3 * max(order, 1) + 1
    rs, Rs, ks, inv = _partition_table(order)
    lam_full = np.zeros(MAX_ORDER + 3)
    lam_full[: min(len(lam), MAX_ORDER + 3)] = np.asarray(lam, float)[: MAX_ORDER + 3]
    return _bm_coefficients(lam_full, rs, Rs, ks, inv, _INV_FACT, kmax, order)


def standardised(cum: np.ndarray, order: int) -> tuple[float, float, np.ndarray]:
    """From cumulants ``cum[0..]`` = (K_1, K_2, ...) return (mean, sd, lam) with lam[j] = K_j/sd^j."""
    need = order + 2
    if len(cum) < need:
        raise ValueError(f"order {order} needs cumulants up to {need}, got {len(cum)}")
    mean, var = float(cum[0]), float(cum[1])
    if not var > 0.0:
        raise ValueError("the composed privacy loss has zero variance")
    sd = math.sqrt(var)
    lam = np.zeros(need + 1)
    for j in range(3, need + 1):
        lam[j] = cum[j - 1] / sd**j
    return mean, sd, lam


@njit(cache=True)
def _poly(z: float, a: np.ndarray, he: np.ndarray) -> float:
    n = a.shape[0] - 1
    hermite_all(z, n, he)
    s = 0.0
    for k in range(n + 1):
        s += a[k] * he[k]
    return s


@njit(cache=True)
def log_tail_parts(x: np.ndarray, mean: float, sd: float, a_cdf: np.ndarray, out_logsf: np.ndarray,
                   out_logpdf: np.ndarray, out_poly: np.ndarray) -> None:
    """For each x: log Phi_bar(z), log phi(z) and the correction polynomial P(z).

    The Edgeworth survival function is ``exp(logsf) + P * exp(logpdf)``; callers multiply by
    ``e^eps`` in log space before exponentiating.
    """
    he = np.empty(a_cdf.shape[0])
    for i in range(x.shape[0]):
        z = (x[i] - mean) / sd
        out_logsf[i] = norm_logsf(z)
        out_logpdf[i] = -0.5 * z * z - LOG_SQRT_2PI
        out_poly[i] = _poly(z, a_cdf, he)


class EdgeworthLaw:
    """The Edgeworth approximation of one composed loss law (given its cumulants)."""

    def __init__(self, cumulants: np.ndarray, order: int):
        self.order = int(order)
        self.mean, self.sd, self.lam = standardised(np.asarray(cumulants, float), self.order)
        self.a_cdf, self.a_pdf, _ = hermite_coefficients(self.lam, self.order)
        a1, _, _ = hermite_coefficients(self.lam, 1)
        self.a_cdf1 = a1

    def _parts(self, x: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(np.atleast_1d(np.asarray(x, float)))
        lsf = np.empty_like(x)
        lpdf = np.empty_like(x)
        poly = np.empty_like(x)
        log_tail_parts(x, self.mean, self.sd, a, lsf, lpdf, poly)
        return lsf, lpdf, poly

    def scaled_sf(self, x: np.ndarray, log_scale: np.ndarray | float = 0.0) -> np.ndarray:
        """``exp(log_scale) * SF(x)`` computed without overflow (SF may be negative)."""
        lsf, lpdf, poly = self._parts(x, self.a_cdf)
        return np.exp(log_scale + lsf) + poly * np.exp(log_scale + lpdf)

    def sf(self, x: np.ndarray) -> np.ndarray:
        return self.scaled_sf(x)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        z = (np.atleast_1d(np.asarray(x, float)) - self.mean) / self.sd

        he = np.polynomial.hermite_e.hermeval(z, self.a_cdf)
        return ndtr(z) - np.exp(-0.5 * z * z - LOG_SQRT_2PI) * he

    def pdf(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_1d(np.asarray(x, float)) - self.mean) / self.sd
        he = np.polynomial.hermite_e.hermeval(z, self.a_pdf)
        return np.exp(-0.5 * z * z - LOG_SQRT_2PI) / self.sd * (1.0 + he)

    def first_correction_ratio(self, x: np.ndarray) -> np.ndarray:
        """|order-1 correction| / Gaussian tail at x (the plain expansion's validity diagnostic, docs/math.md)."""
        lsf, lpdf, poly1 = self._parts(x, self.a_cdf1)
        return np.abs(poly1) * np.exp(lpdf - lsf)
