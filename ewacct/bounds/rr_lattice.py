"""Randomized response alone with several parameters: the exact lattice sum, enclosed rigorously.

``n`` runs of binary randomized response of parameter ``e0`` put the privacy loss on ``e0 (2 j - n)``
with weight ``C(n, j) p^j (1-p)^(n-j)``, ``p = e^e0 / (1 + e^e0)`` under the upper measure, in both
directions alike (the mechanism is symmetric); several groups put it on the sums of their lattices
with the product weights, and

    delta(eps) = sum_points w (1 - e^{eps - a})_+          (a positive sum: no cancellation).

Each group's weights are Arb balls (log-gamma at the mode, the ratio recurrence both ways), turned
into outward doubles; the product lattice is formed in doubles with outward rounding (weights: relative
4u per product; loss values: one ulp out after each rounded sum or product), and each term is
bounded by monotonicity in a: ``-expm1(eps - a)`` increases with a, so the lower bound uses the lower
value of a (argument one ulp up, ``-expm1`` times 1 - 32u), the upper one the upper value.  The sum of
N nonnegative terms is widened by (N + 4) u relative (docs/certified_small_t.md, section 6).

eps(delta): verified ends of a monotone search, as for the closed forms: an upper end whose upper
delta bound is <= delta, a lower end whose lower bound is > delta.  A single parameter is left to the
closed form (:mod:`.closed_form`), anything else to the next source (None).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .closed_form import illinois_upper_end

U = 2.0 ** -53
RL = 16.0 * U
#: most points of the product lattice (memory: ~5 arrays of doubles of this size)
MAX_POINTS = 2_000_000
#: most weights enclosed in Arb (the sum of n_g + 1 over the groups)
MAX_GROUP_POINTS = 100_000
#: the search stops where the bracket is this narrow (relative; absolute below 1e-12)
EPS_REL = 1e-10


def rr_groups(acc: Any) -> list[tuple[float, int]] | None:
    """[(e0, n)] when the composition is randomized response alone with at least two parameters."""
    from ..mechanisms import RandomizedResponse

    try:
        groups = list(acc.groups())
    except Exception:  # noqa: BLE001
        return None
    out = []
    for m, n in groups:
        if not isinstance(m, RandomizedResponse):
            return None
        if int(n) > 0:
            out.append((float(m.epsilon0), int(n)))
    if len(out) < 2 or sum(n + 1 for _, n in out) > MAX_GROUP_POINTS:
        return None
    size = 1
    for _, n in out:
        size *= n + 1
        if size > MAX_POINTS:
            return None
    return out


def _group(e0: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a_lo, a_hi, w_lo, w_hi) over j = 0..n: the loss e0 (2j - n) and the binomial weight, outward."""
    from flint import arb, ctx

    old = ctx.prec
    ctx.prec = 96 + int(math.log2(n + 2))
    try:
        e = arb(e0)
        log_r = e - (e.exp() + 1).log()  # log p
        log_1r = -(e.exp() + 1).log()  # log (1 - p)
        rho = e.exp()  # p / (1 - p)
        p = 1.0 / (1.0 + math.exp(-e0)) if e0 < 700 else 1.0
        mode = min(n, max(0, int(math.floor((n + 1) * p))))
        lg_n = arb(n + 1).lgamma()
        w = [None] * (n + 1)
        w[mode] = (lg_n - arb(mode + 1).lgamma() - arb(n - mode + 1).lgamma()
                   + mode * log_r + (n - mode) * log_1r).exp()
        for k in range(mode, n):
            w[k + 1] = w[k] * (n - k) / (k + 1) * rho
        for k in range(mode, 0, -1):
            w[k - 1] = w[k] * k / (n - k + 1) / rho
        w_lo = np.empty(n + 1)
        w_hi = np.empty(n + 1)
        for k in range(n + 1):
            b = w[k]
            if not b.is_finite():
                raise ArithmeticError("randomized-response weight not enclosed")
            w_lo[k] = max(0.0, math.nextafter(float(b.lower()), -math.inf))
            w_hi[k] = math.nextafter(float(b.upper()), math.inf)
    finally:
        ctx.prec = old
    m = 2.0 * np.arange(n + 1, dtype=np.float64) - n  # exact integers
    a = e0 * m  # one rounding of an exact product: within half an ulp, so one ulp out is outward
    return np.nextafter(a, -np.inf), np.nextafter(a, np.inf), w_lo, w_hi


def _lattice(groups: list[tuple[float, int]]):
    """(a_lo, a_hi, w_lo, w_hi) of the product lattice (not merged), outward."""
    a_lo = np.zeros(1)
    a_hi = np.zeros(1)
    w_lo = np.ones(1)
    w_hi = np.ones(1)
    for e0, n in groups:
        g_alo, g_ahi, g_wlo, g_whi = _group(e0, n)
        # each sum rounds by at most half an ulp: one ulp out; each product by u relative: 4u out
        a_lo = np.nextafter((a_lo[:, None] + g_alo[None, :]).ravel(), -np.inf)
        a_hi = np.nextafter((a_hi[:, None] + g_ahi[None, :]).ravel(), np.inf)
        w_lo = (w_lo[:, None] * g_wlo[None, :]).ravel() * (1.0 - 4.0 * U)
        w_hi = (w_hi[:, None] * g_whi[None, :]).ravel() * (1.0 + 4.0 * U)
    # keep the points that can lie above some eps >= 0 (a <= 0 contributes nothing at eps >= 0)
    keep = a_hi > 0.0
    return a_lo[keep], a_hi[keep], w_lo[keep], w_hi[keep]


class RRLattice:
    """The enclosed lattice of one composition: delta brackets at any eps >= 0."""

    def __init__(self, groups: list[tuple[float, int]]):
        self.a_lo, self.a_hi, self.w_lo, self.w_hi = _lattice(groups)
        self.top = float(self.a_hi.max()) if self.a_hi.size else 0.0

    def delta(self, eps: float) -> tuple[float, float]:
        """(lower, upper) on delta(eps), eps >= 0."""
        eps = float(eps)
        # -expm1 decreases in x = eps - a: the lower term at the larger x (the difference rounds by
        # half an ulp: one ulp out), expm1 within RL relative: 2 RL out
        x_lo = np.nextafter(eps - self.a_lo, np.inf)
        x_hi = np.nextafter(eps - self.a_hi, -np.inf)
        t_lo = np.where(x_lo < 0.0, -np.expm1(np.minimum(x_lo, 0.0)) * (1.0 - 2.0 * RL), 0.0)
        t_hi = np.where(x_hi < 0.0, -np.expm1(np.minimum(x_hi, 0.0)) * (1.0 + 2.0 * RL), 0.0)
        n = self.a_lo.shape[0]
        g = (n + 4) * U
        lo = float(np.sum(self.w_lo * t_lo)) * (1.0 - 4.0 * U) * (1.0 - g)
        hi = float(np.sum(self.w_hi * t_hi)) * (1.0 + 4.0 * U) * (1.0 + g)
        return max(0.0, lo), min(1.0, hi)


def rr_delta_bracket(acc: Any, eps: float) -> tuple[float, float] | None:
    groups = rr_groups(acc)
    if groups is None or not eps >= 0.0:
        return None
    return RRLattice(groups).delta(eps)


def rr_epsilon_bracket(acc: Any, delta: float) -> tuple[float, float] | None:
    """Verified [lower, upper] on eps(delta) = inf{eps >= 0: delta(eps) <= delta}, or None."""
    groups = rr_groups(acc)
    if groups is None or not (0.0 < delta < 1.0):
        return None
    lat = RRLattice(groups)
    if lat.delta(0.0)[1] <= delta:
        return 0.0, 0.0

    def g(e: float) -> float:  # the sign decides (upper(e) <= delta exactly); the size steers
        hi = lat.delta(e)[1]
        v = math.log(max(hi, 5e-324)) - math.log(delta)
        return min(v, 0.0) if hi <= delta else max(v, 1e-300)

    a, ga = 0.0, g(0.0)
    b = min(1.0, lat.top) if lat.top > 0 else 1.0
    gb = g(b)
    while gb > 0.0:
        a, ga = b, gb
        b = 2.0 * b
        if b > 2.0 * lat.top + 2.0:  # (upper(e) = 0 beyond the largest loss)
            return None
        gb = g(b)
    a, b = illinois_upper_end(g, a, ga, b, gb, EPS_REL, 1e-12)  # b keeps upper(b) <= delta
    lower = 0.0
    s = max(b - a, EPS_REL * b, 1e-12)
    while s < b:
        if lat.delta(b - s)[0] > delta:
            lower = b - s
            break
        s *= 4.0
    return lower, b
