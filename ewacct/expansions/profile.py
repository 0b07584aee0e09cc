"""Batched eps(delta) for the tilted method: one tilted profile, many queries.

For a batch of targets the tilt range ``[t_min, t_max]`` is found by solving the two extreme
deltas directly; ``log delta(t)``, ``eps(t) = K'(t)`` and the validity diagnostic are tabulated at
Chebyshev nodes of that range; every target is then solved on the barycentric interpolant by
vectorised bisection.  Both functions are analytic in t, so the interpolation error is far below
the expansion's own (tests compare against per-query solves to 1e-9 relative).  Used only when the
whole range has t >= 0 (the DP-SGD regime); otherwise queries are solved one by one.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from numba import njit

from .tilted import delta_at_tilt

N_NODES = 48


def _cheb_nodes(a: float, b: float, n: int) -> np.ndarray:
    k = np.arange(n)
    x = np.cos(np.pi * k / (n - 1))  # Chebyshev points of the second kind, from +1 to -1
    return 0.5 * (a + b) + 0.5 * (b - a) * x


def _bary_weights(n: int) -> np.ndarray:
    w = np.ones(n)
    w[1::2] = -1.0
    w[0] *= 0.5
    w[-1] *= 0.5
    return w


@njit(cache=True)
def _bary1(x: float, nodes: np.ndarray, vals: np.ndarray, w: np.ndarray) -> float:
    num = 0.0
    den = 0.0
    for k in range(nodes.shape[0]):
        d = x - nodes[k]
        if d == 0.0:
            return vals[k]
        c = w[k] / d
        num += c * vals[k]
        den += c
    return num / den


@njit(cache=True)
def _solve_all(targets: np.ndarray, t_lo: float, t_hi: float, nodes: np.ndarray, key: np.ndarray,
               other: np.ndarray, w: np.ndarray, decreasing: bool, t_out: np.ndarray, other_out: np.ndarray) -> None:
    """Solve key(t) = target on the interpolant by bisection; also interpolate ``other`` at the root."""
    for i in range(targets.shape[0]):
        lo, hi = t_lo, t_hi
        for _ in range(64):
            mid = 0.5 * (lo + hi)
            above = _bary1(mid, nodes, key, w) > targets[i]
            if above == decreasing:
                lo = mid
            else:
                hi = mid
        t = 0.5 * (lo + hi)
        t_out[i] = t
        other_out[i] = _bary1(t, nodes, other, w)


def _profile(cgf: Callable[[float, int], np.ndarray], order: int, t_lo: float, t_hi: float):
    nodes = _cheb_nodes(t_lo, t_hi, N_NODES)
    pts = [delta_at_tilt(cgf, float(t), order) for t in nodes]
    ld = np.array([math.log(max(p.delta, 1e-320)) for p in pts])
    ep = np.array([p.eps for p in pts])
    ltr = np.array([p.last_term_ratio for p in pts])
    return nodes, ld, ep, ltr


def _diag_at(t: np.ndarray, nodes: np.ndarray, ltr: np.ndarray) -> np.ndarray:
    """The worst tabulated diagnostic between the neighbouring nodes of each t."""
    order_idx = np.argsort(nodes)
    sn, sl = nodes[order_idx], ltr[order_idx]
    j = np.clip(np.searchsorted(sn, t), 1, N_NODES - 1)
    return np.maximum(sl[j - 1], sl[j])


def batched_tilts(cgf: Callable[[float, int], np.ndarray], order: int, log_deltas: np.ndarray,
                  t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve log delta(t) = log_deltas for t in [t_lo, t_hi]; return (t, eps, last_term_ratio)."""
    nodes, ld, ep, ltr = _profile(cgf, order, t_lo, t_hi)
    w = _bary_weights(N_NODES)
    t = np.empty(log_deltas.shape)
    eps = np.empty(log_deltas.shape)
    _solve_all(np.ascontiguousarray(log_deltas, dtype=np.float64), t_lo, t_hi, nodes, ld, ep, w, True, t, eps)
    return t, eps, _diag_at(t, nodes, ltr)


def batched_deltas(cgf: Callable[[float, int], np.ndarray], order: int, eps: np.ndarray,
                   t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """delta at each eps (saddles in [t_lo, t_hi]); returns (delta, last_term_ratio)."""
    nodes, ld, ep, ltr = _profile(cgf, order, t_lo, t_hi)
    w = _bary_weights(N_NODES)
    t = np.empty(eps.shape)
    logd = np.empty(eps.shape)
    _solve_all(np.ascontiguousarray(eps, dtype=np.float64), t_lo, t_hi, nodes, ep, ld, w, False, t, logd)
    return np.exp(logd), _diag_at(t, nodes, ltr)
