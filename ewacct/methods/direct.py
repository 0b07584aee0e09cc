"""Exact delta(eps) of very short compositions (T <= 3 subsampled-Gaussian steps) by direct quadrature.

The contour integral needs a long u-range when the loss law has a near-atom (few participations,
q T << 1); for T <= 3 the recursion

    delta_T(eps) = E_{x ~ P}[ delta_{T-1}(eps - l(x)) ]          (REMOVE; ADD: eps + l(x), x ~ P0)

with the exact one-step closed form at the end turns delta into a 1-D (T = 2) or 2-D (T = 3) integral
of smooth functions (the one-step delta is C-infinity in eps because the loss has a smooth density),
evaluated with composite Gauss-Legendre over each Gaussian component of the upper measure.
Accuracy is estimated against the rule with panels twice as wide; within distance 1 of the
breakpoint where the inner delta reaches the end of its loss support (a log-type singularity) the
rule is graded geometrically.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy.special import log_ndtr

_G8X, _G8W = np.polynomial.legendre.leggauss(8)
#: within distance 1 left of a breakpoint b the rule runs in s, x = b - exp(-s), s in [0, S_MAX]
S_MAX = 38.0


def _one_step(e: np.ndarray, q: float, mu: float, direction: str) -> np.ndarray:
    """Exact one-step delta at every eps in ``e`` (any real eps), vectorised, in log space."""
    e = np.asarray(e, dtype=float)
    out = np.empty_like(e)
    l1q = math.log1p(-q)
    if direction == "remove":
        low = e <= l1q
        out[low] = -np.expm1(e[low])
        ee = e[~low]
        # l(x) = ee  <=>  x = (log((e^ee - 1 + q) / q) + mu^2/2) / mu
        x = (np.log(np.expm1(ee) + q) - math.log(q) + 0.5 * mu * mu) / mu
        upper = np.logaddexp(l1q + log_ndtr(-x), math.log(q) + log_ndtr(mu - x))
        lower = ee + log_ndtr(-x)
        out[~low] = np.exp(upper) * -np.expm1(np.minimum(lower - upper, 0.0))
        return np.maximum(out, 0.0)
    # ADD: loss -l under P0; delta(e) = P0(l < -e) - e^e P1(l < -e)
    c = -e
    zero = c <= l1q
    out[zero] = 0.0
    cc = c[~zero]
    x = (np.log(np.expm1(cc) + q) - math.log(q) + 0.5 * mu * mu) / mu
    upper = log_ndtr(x)
    lower = e[~zero] + np.logaddexp(l1q + log_ndtr(x), math.log(q) + log_ndtr(x - mu))
    out[~zero] = np.exp(upper) * -np.expm1(np.minimum(lower - upper, 0.0))
    return np.maximum(out, 0.0)


def _panels(a: float, b: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    n = max(1, int(math.ceil((b - a) / width)))
    edges = np.linspace(a, b, n + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    return (0.5 * (lo + hi) + 0.5 * (hi - lo) * _G8X[None, :]).ravel(), (0.5 * (hi - lo) * _G8W[None, :]).ravel()


def _unit_nodes(scale: float, mu: float, n_uniform: int) -> tuple[np.ndarray, ...]:
    """Normalised nodes: graded s in [0, S_MAX] (offset m e^{-s}), uniform tau in [0, 1] (two pieces)."""
    sg, wsg = _panels(0.0, S_MAX, min(1.0, 2.0 * mu) * scale)
    tu, wtu = _panels(0.0, 1.0, 1.0 / max(1, int(n_uniform / scale)))
    return sg, wsg, tu, wtu


def _density(x: np.ndarray, q: float, mu: float, direction: str) -> np.ndarray:
    c = -0.5 * x * x - 0.5 * math.log(2.0 * math.pi)
    if direction == "add":
        return np.exp(c)
    return (1.0 - q) * np.exp(c) + q * np.exp(c + mu * x - 0.5 * mu * mu)


def _ell_inv(v: np.ndarray, q: float, mu: float) -> np.ndarray:
    """x with l(x) = v (nan where v <= log(1-q): no such x)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.log(np.expm1(v) + q) - math.log(q) + 0.5 * mu * mu) / mu


def _delta_rec(e: np.ndarray, steps: list[tuple[float, float]], direction: str, scale: float) -> np.ndarray:
    """delta of the composition ``steps`` at each eps in ``e`` (1-D array), recursively."""
    if len(steps) == 1:
        q, mu = steps[0]
        return _one_step(e, q, mu, direction)
    (q, mu), rest = steps[0], steps[1:]
    # the rest's delta is singular (log-type) where its argument reaches the end of its loss support
    edge = sum(math.log1p(-qq) for qq, _ in rest)          # REMOVE: inf of the rest's loss
    if direction == "remove":
        b = _ell_inv(e - edge, q, mu)                     # e - l(x) = edge
    else:
        b = _ell_inv(-edge - e, q, mu)                    # e + l(x) = -edge (sup of the rest's loss)
    lo, hi = -10.0, (mu if direction == "remove" else 0.0) + 10.0
    # no breakpoint inside the support: put it just beyond the mass
    b = np.where(np.isfinite(b), np.clip(b, lo, hi), hi)
    sg, wsg, tu, wtu = _unit_nodes(scale, mu, 20)
    left = b - lo                        # span left of b
    m = np.minimum(1.0, left)            # graded part: offsets m e^{-s}
    right = hi - b
    xs = [b[:, None] - m[:, None] * np.exp(-sg)[None, :],                       # graded towards b
          b[:, None] - m[:, None] - (left - m)[:, None] * tu[None, :],            # the rest of the left
          b[:, None] + right[:, None] * tu[None, :]]                              # right of b
    ws = [m[:, None] * np.exp(-sg)[None, :] * wsg[None, :],
          (left - m)[:, None] * wtu[None, :],
          right[:, None] * wtu[None, :]]
    x = np.concatenate(xs, axis=1)
    w = np.concatenate(ws, axis=1) * _density(x, q, mu, direction)
    sign = -1.0 if direction == "remove" else 1.0
    ell = np.logaddexp(math.log1p(-q), math.log(q) + mu * x - 0.5 * mu * mu)
    inner = _delta_rec((e[:, None] + sign * ell).ravel(), rest, direction, scale).reshape(x.shape)
    return np.sum(w * inner, axis=1)


#: three steps make a 2-D rule whose graded panels narrow with 1/sigma (and whose range grows with
#: 1/sigma): outside this sigma range it is too slow
SIGMA_MAX_3 = 5.0
SIGMA_MIN_3 = 0.2
#: wall-clock safety net of one eps(delta) solve (seconds); past it the query falls back to a bound
TIME_BUDGET = 3.0


def supports(groups: Sequence[tuple[Any, int]]) -> bool:
    from ..mechanisms import PoissonSubsampledGaussian

    steps = sum(n for _, n in groups)
    if not (2 <= steps <= 3 and all(isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0
                                    for m, _ in groups)):
        return False
    return steps == 2 or all(SIGMA_MIN_3 <= m.noise_multiplier <= SIGMA_MAX_3 for m, _ in groups)


class DirectShort:
    """delta(eps) and eps(delta) of 2 or 3 subsampled-Gaussian steps, both directions."""

    name = "exact-direct"

    def __init__(self, groups: Sequence[tuple[Any, int]]) -> None:
        self.steps = []
        for m, n in groups:
            self.steps += [(m.sampling_probability, 1.0 / m.noise_multiplier)] * int(n)

    def _delta_dir(self, eps: float, direction: str, scale: float = 1.0) -> float:
        return float(_delta_rec(np.array([float(eps)]), self.steps, direction, scale)[0])

    def delta_dir(self, eps: float, direction: str) -> tuple[float, float]:
        """(delta, relative error estimate): the rule against one with panels twice as wide."""
        fine = self._delta_dir(eps, direction, 1.0)
        coarse = self._delta_dir(eps, direction, 2.0)
        rel = abs(fine - coarse) / fine if fine > 0 else (0.0 if coarse == 0 else math.inf)
        return fine, rel

    def delta(self, eps: float) -> tuple[float, str, float, dict[str, Any]]:
        r, er = self.delta_dir(eps, "remove")
        a, ea = self.delta_dir(eps, "add")
        if a > r:
            return a, "add", ea, {"steps": len(self.steps)}
        return r, "remove", er, {"steps": len(self.steps)}

    def epsilon(self, delta: float, add_upper: float = math.inf) -> tuple[float, str, float, dict[str, Any]]:
        """eps(delta): Illinois regula falsi on log delta with the coarse rule (to 1e-5), then secant
        steps on the fine rule from there (two or three fine evaluations: log delta is smooth and
        nearly linear in eps at that scale); the error estimate and slope reuse the last iterates.

        ``add_upper``: a rigorous upper bound on the ADD direction's eps; ADD is skipped when it is
        below the REMOVE answer.
        """
        lt = math.log(delta)
        best = None
        for d in ("remove", "add"):
            if d == "add" and best is not None and add_upper <= best[0]:
                continue
            e = self._solve(d, lt, 2.0, tol=1e-5)
            res = self._refine(d, lt, e) if e > 0.0 else (0.0, 0.0, 0.0)
            if best is None or res[0] > best[0]:
                best = (*res, d)
        e, rel_d, slope_rel, d = best
        if e == 0.0:
            return 0.0, d, 0.0, {"steps": len(self.steps), "note": "delta(0) <= target: eps = 0"}
        rel = rel_d / max(slope_rel * e, 1e-300)
        return e, d, rel, {"steps": len(self.steps), "delta_rel_error": rel_d}

    def _refine(self, d: str, lt: float, e0: float, tol: float = 1e-12) -> tuple[float, float, float]:
        """(eps, relative error of delta there, |d log delta / d eps|): secant on the fine rule from the
        coarse root e0."""
        import time

        deadline = time.process_time() + TIME_BUDGET

        def f(e: float) -> float:
            if time.process_time() > deadline:
                raise ArithmeticError(f"direct quadrature ran past its {TIME_BUDGET:g} s budget")
            return math.log(max(self._delta_dir(e, d, 1.0), 1e-320)) - lt

        h = 1e-6 * max(e0, 1e-6)
        a, fa = e0, f(e0)
        b, fb = e0 + h, f(e0 + h)
        # |d log delta / d eps| from the first pair (h = 1e-6 eps: far above the rule's rounding noise)
        slope = abs((fb - fa) / h)
        for _ in range(20):
            if fb == fa:
                break
            c = b - fb * (b - a) / (fb - fa)
            if not c > 0.0:
                raise ArithmeticError("direct quadrature: the secant left eps > 0")
            a, fa = b, fb
            b, fb = c, f(c)
            # converged, or at the rule's rounding noise (~1e-12 in log delta): steps of ~1e-15 eps
            if abs(fb) < tol or abs(b - a) <= 1e-13 * b:
                break
        else:
            raise ArithmeticError("direct quadrature: the secant did not converge")
        fine = math.exp(fb + lt)
        coarse = self._delta_dir(b, d, 2.0)
        rel_d = abs(fine - coarse) / fine if fine > 0 else math.inf
        return b, rel_d, slope

    def _solve(self, d: str, lt: float, scale: float, start: float | None = None, tol: float = 1e-12) -> float:
        import time

        deadline = time.process_time() + TIME_BUDGET  # CPU time: the answer does not depend on load

        def f(e: float) -> float:
            if time.process_time() > deadline:
                raise ArithmeticError(f"direct quadrature ran past its {TIME_BUDGET:g} s budget")
            return math.log(max(self._delta_dir(e, d, scale), 1e-320)) - lt

        if start is None:
            f0 = f(0.0)
            if f0 <= 0.0:
                return 0.0
            # bracket by decades from 1e-6 (eps spans many decades here), then regula falsi in log eps
            # (log delta is far from linear in eps across a decade near eps = 0, closer in log eps)
            a, fa = 0.0, f0
            b = 1e-6
            fb = f(b)
            while fb > 0.0:
                a, fa = b, fb
                b *= 10.0
                if b > 1e4:
                    raise ArithmeticError("eps beyond 1e4")
                fb = f(b)
            if a > 0.0:
                lm = _illinois(lambda le: f(math.exp(le)), math.log(a), fa, math.log(b), fb, tol, 1e-12)
                return math.exp(lm)
        else:
            a, b = start * (1 - 1e-5), start * (1 + 1e-5)
            fa, fb = f(a), f(b)
            while fa <= 0.0:
                a *= 0.9
                fa = f(a)
            while fb > 0.0:
                b *= 1.1
                fb = f(b)
        return _illinois(f, a, fa, b, fb, tol, 1e-14 * b)


def _illinois(f, a: float, fa: float, b: float, fb: float, tol: float, xtol: float) -> float:
    """Root of a decreasing f on [a, b] (fa > 0 >= fb) by the Illinois regula falsi: the retained
    end's value is halved only when the same end is retained twice in a row (superlinear)."""
    side = 0
    m = a
    for _ in range(100):
        m = (a * fb - b * fa) / (fb - fa)
        fm = f(m)
        if abs(fm) < tol or b - a < xtol:
            return m
        if fm > 0.0:
            a, fa = m, fm
            if side == 1:
                fb *= 0.5
            side = 1
        else:
            b, fb = m, fm
            if side == -1:
                fa *= 0.5
            side = -1
    return m
