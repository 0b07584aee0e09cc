"""The tilted (saddlepoint) Edgeworth expansion as a method: delta(eps) / eps(delta) in one direction.

The expansion itself is :mod:`ewacct.expansions.tilted` (docs/math.md); this module solves for the
tilt, judges the answer (last-term ratio, Laplace atoms) and answers arrays of queries from one
interpolated profile per direction (:mod:`ewacct.expansions.profile`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..expansions.tilted import TiltedPoint, delta_at_tilt, saddlepoint
from ..mechanisms import Laplace
from .base import DIRECTIONS, Answer, CgfFn, Groups, beyond_loss_sup, brentq, composition_cgf, loss_sup

#: the tilted expansion's order unless one is asked for (the accountant's default, and the exact
#: method's answer for Laplace compositions)
DEFAULT_ORDER = 3
#: tilted expansion: largest accepted |delta_r - delta_{r-1}| / delta_r at the answer
TILTED_TOLERANCE = 5e-3
#: Laplace: largest accepted probability that the tilted composed loss is purely atomic
LATTICE_MASS_THRESHOLD = 1e-3


class TiltedMethod:
    """The :class:`.base.Method` of the tilted expansion of order ``order`` (label ``"tilted"``)."""

    label = "tilted"

    def __init__(self, groups: Groups, order: int) -> None:
        self.groups = list(groups)
        self.order = int(order)

    def cgf(self, direction: str) -> CgfFn:
        return composition_cgf(self.groups, direction)

    # ------------------------------------------------------------------ one query, one direction
    def delta(self, eps: float, direction: str) -> Answer:
        if eps >= loss_sup(self.groups, direction):
            return beyond_loss_sup(self.label)
        cgf = self.cgf(direction)
        try:
            t = saddlepoint(cgf, eps, nmax=self.order + 2)
            p = delta_at_tilt(cgf, t, self.order, eps)
        except FloatingPointError as exc:
            return Answer(0.0, False, {"error": str(exc)}, "tilted")
        return self.report(p, direction)

    def epsilon(self, delta: float, direction: str) -> Answer:
        try:
            return self.epsilon_or_raise(delta, direction)
        except FloatingPointError as exc:
            return Answer(0.0, False, {"error": str(exc)}, "tilted")

    def report(self, p: TiltedPoint, direction: str) -> Answer:
        """delta at the tilt ``p`` with its validity: last-term ratio and, for Laplace, the atomic mass."""
        diag = {
            "tilt": p.t,
            "last_term_ratio": p.last_term_ratio,
            "correction_ratio": p.correction_ratio,
            "lambda3": p.lam3,
            "lambda4": p.lam4,
        }
        valid = p.last_term_ratio <= TILTED_TOLERANCE and p.delta >= 0.0
        lat = self.lattice_mass(p.t, direction)
        if lat is not None:
            diag["lattice_mass"] = lat
            valid = valid and lat <= LATTICE_MASS_THRESHOLD
        return Answer(max(p.delta, 0.0), valid, diag, "tilted")

    def lattice_mass(self, t: float, direction: str) -> float | None:
        """Probability that the tilted composed loss is purely atomic (None without Laplace groups)."""
        lap = [(m, n) for m, n in self.groups if isinstance(m, Laplace)]
        if not lap:
            return None
        return float(math.exp(sum(n * math.log(m.atom_mass(t, direction=direction)) for m, n in lap)))

    def epsilon_or_raise(self, delta: float, direction: str) -> Answer:
        """eps(delta), parametrised by the tilt t (eps(t) = K'(t)); FloatingPointError when it fails."""
        cgf = self.cgf(direction)
        # common case (DP-SGD, small delta): the answer lies above the mean, t > 0; Newton from t = 0
        t_newton = newton_tilt(cgf, self.order, delta, 0.0)
        if t_newton is not None:
            p = delta_at_tilt(cgf, t_newton, self.order)
            _, valid, diag, used = self.report(p, direction)
            return Answer(max(p.eps, 0.0), valid, diag, used)
        t0 = saddlepoint(cgf, 0.0, nmax=self.order + 2)
        p0 = delta_at_tilt(cgf, t0, self.order, 0.0)
        if p0.delta <= delta:
            _, valid, diag, used = self.report(p0, direction)
            return Answer(0.0, valid, diag, used)

        def logdelta(t: float) -> float:
            return math.log(max(delta_at_tilt(cgf, t, self.order).delta, 1e-320)) - math.log(delta)

        lo, hi = t0, max(t0, 0.0) + 1.0
        while logdelta(hi) > 0.0:
            lo, hi = hi, 2.0 * hi + 1.0
            if hi > 1e6:
                raise FloatingPointError("could not bracket the tilt for this delta")
        t = brentq(logdelta, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200)
        p = delta_at_tilt(cgf, t, self.order)
        _, valid, diag, used = self.report(p, direction)
        return Answer(max(p.eps, 0.0), valid, diag, used)

    # ------------------------------------------------------------------ many queries, both directions
    def batchable(self) -> bool:
        return not any(isinstance(m, Laplace) for m, _ in self.groups)

    def batched_epsilon(self, d_arr: np.ndarray):
        """(eps, direction, valid, last-term ratio) for many deltas from one interpolated profile per
        direction, the worse direction reported; None where not applicable."""
        if not self.batchable():
            return None
        from ..expansions.profile import batched_tilts

        log_d = np.log(d_arr)
        per_dir = []
        for d in DIRECTIONS:
            cgf = self.cgf(d)
            try:
                lo = self.epsilon_or_raise(float(d_arr.max()), d)
                hi = self.epsilon_or_raise(float(d_arr.min()), d)
            except FloatingPointError:
                return None
            t_lo, t_hi = lo[2].get("tilt"), hi[2].get("tilt")
            if t_lo is None or t_hi is None or t_lo < 0.0 or lo[0] <= 0.0:
                return None
            if t_hi - t_lo < 1e-9:
                n = d_arr.size
                per_dir.append((np.full(n, hi[0]), np.full(n, hi[2]["last_term_ratio"])))
                continue
            _, eps, ltr = batched_tilts(cgf, self.order, log_d, t_lo, t_hi)
            per_dir.append((eps, ltr))
        return _worse(per_dir)

    def batched_delta(self, eps_arr: np.ndarray):
        """(delta, direction, valid, last-term ratio) for many eps, as :meth:`batched_epsilon`."""
        if not self.batchable():
            return None
        from ..expansions.profile import batched_deltas

        per_dir = []
        for d in DIRECTIONS:
            if float(eps_arr.max()) >= loss_sup(self.groups, d):
                return None
            cgf = self.cgf(d)
            try:
                t_lo = saddlepoint(cgf, float(eps_arr.min()), nmax=self.order + 2)
                t_hi = saddlepoint(cgf, float(eps_arr.max()), nmax=self.order + 2)
            except FloatingPointError:
                return None
            if t_lo < 0.0 or t_hi - t_lo < 1e-9:
                return None
            per_dir.append(batched_deltas(cgf, self.order, eps_arr, t_lo, t_hi))
        return _worse(per_dir)


def _worse(per_dir: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Any, Any, Any, Any]:
    (v_r, l_r), (v_a, l_a) = per_dir
    est = np.maximum(np.maximum(v_r, v_a), 0.0)
    direction = np.where(v_r >= v_a, "remove", "add").astype(object)
    valid = (l_r <= TILTED_TOLERANCE) & (l_a <= TILTED_TOLERANCE)
    return est, direction, valid, np.maximum(l_r, l_a)


def newton_tilt(cgf: CgfFn, order: int, delta: float, t0: float) -> float | None:
    """Tilt t > max(t0, 0) with log delta(t) = log delta; None when not found (caller falls back to Brent).

    Until the root is bracketed, Newton steps use the leading-order slope of
    ``log delta ~ K - t K1 - log(t (t+1) sqrt(2 pi K2))``, i.e. ``-t K2 - K3 / (2 K2) - 1/t - 1/(t+1)``
    with ``Kj`` the j-th derivative of K (each step at most doubles t); once bracketed, regula falsi
    with the Illinois modification keeps the root inside the bracket and converges superlinearly,
    with bisection when a step falls outside.
    """
    target = math.log(delta)
    nmax = max(order + 2, 3)  # the Newton slope uses the third cumulant, also at order 0
    lo = max(t0, 0.0)
    p_lo = delta_at_tilt(cgf, lo, order)
    g_lo = math.log(max(p_lo.delta, 1e-320)) - target
    if p_lo.eps < 0.0 or g_lo <= 0.0:
        return None
    k = cgf(lo, nmax)
    t = min(max(lo + 1e-3, math.sqrt(max(2.0 * -target / max(float(k[2]), 1e-300), 1e-6))), lo + 4.0)
    hi, g_hi = math.inf, -math.inf
    side = 0
    for _ in range(60):
        g = math.log(max(delta_at_tilt(cgf, t, order).delta, 1e-320)) - target
        if abs(g) <= 1e-11:
            return t
        if g > 0.0:
            lo, g_lo = t, g
            if side == 1:
                g_hi *= 0.5  # Illinois: the same end kept twice, halve the other end's weight
            side = 1
        else:
            hi, g_hi = t, g
            if side == -1:
                g_lo *= 0.5
            side = -1
        if math.isfinite(hi):
            if hi - lo <= 1e-14 * max(1.0, hi):
                return 0.5 * (lo + hi)
            tn = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
            if not (lo < tn < hi):
                tn = 0.5 * (lo + hi)
        else:
            k = cgf(t, nmax)
            slope = -t * float(k[2]) - float(k[3]) / (2.0 * float(k[2])) - 1.0 / t - 1.0 / (t + 1.0)
            tn = t - g / slope if slope < 0.0 else 2.0 * t
            tn = min(max(tn, t * 1.01), 2.0 * t + 1.0)  # expand, at most doubling
        t = tn
    return None
