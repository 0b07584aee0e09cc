"""Analytic (eps, delta) bounds from the uniform Edgeworth bound (Wang et al., arXiv 2206.04236, Sec. 4).

With ``e_X >= sup |F_{S^X} - F_hat_X|`` and ``e_Y >= sup |F_{S^Y} - F_hat_Y|`` (order-1 Edgeworth
``F_hat``, :mod:`ewacct.bounds.dgg`), for every eps and in each direction

    delta_up(eps)  = min(1, SF_hat_P + e_P) - e^eps max(0, SF_hat_Q - e_Q)
    delta_low(eps) = max(0, SF_hat_P - e_P - e^eps min(1, SF_hat_Q + e_Q))

bracket the true delta (P the upper measure's loss law, Q the lower's; REMOVE: P = Y, Q = X; ADD:
the laws of -l, with e_P = e_X, e_Q = e_Y), and the guarantee is the max over the two directions.
Because the true delta(eps) is non-increasing:

* any eps with ``delta_up(eps) <= delta`` is an upper bound on eps(delta): the smallest verified grid
  point (refined by bisection, keeping only verified points) is returned;
* any eps with ``delta_low(eps) > delta`` is a lower bound: the largest verified point is returned.

When no eps has ``delta_up(eps) <= delta`` (e.g. e_Y >~ delta, the usual case at realistic delta),
the upper bound is reported as *vacuous* -- never a made-up number.  For expansion orders above 1 the
triangle inequality adds ``sup |F_hat_r - F_hat_1|``; ewacct centres its bounds on the order-1
expansion, so that term is zero here.

Status -- NOT rigorous (``STATUS``): the inequalities above are exact, but their inputs are not
proven: ``e_X, e_Y`` come from :mod:`ewacct.bounds.dgg`, whose evaluation is not rigorous (an
unproven maximum over the corners of the moment box, quadrature error *estimates*, double-precision
evaluation with a guessed inflation; see its module doc), and ``F_hat`` is evaluated in double
precision from float cumulants with a fixed absolute margin ``CUMULANT_MARGIN`` justified by the
cumulants' *measured* accuracy (docs/accuracy.md), not by a proof.  The moments fed to the DGG
formulas are rigorous Arb enclosures (:mod:`ewacct.bounds.moments`).  Treat the bracket as a
well-founded estimate of a bound, and never as the sole ground of a certificate.  It never raises
on a numerical failure: the bracket is then ``[0, inf]`` (vacuous).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..expansions.edgeworth import EdgeworthLaw
from ..mechanisms import Gaussian, PoissonSubsampledGaussian
from .dgg import UniformBound, uniform_bound
from .moments import gaussian_moments, subsampled_gaussian_moments

#: margin for using float cumulants in F_hat (their *measured* relative error is < 1e-10, docs/accuracy.md)
CUMULANT_MARGIN = 1e-9

#: how this bracket may be described in a certificate's ``source`` (never "rigorous")
STATUS = ("DGG uniform Edgeworth bound -- not rigorous (rigorous moment enclosures, but unproven corner "
          "maximum, quadrature error estimates and float evaluation)")


@dataclass(frozen=True)
class AnalyticBracket:
    lower: float
    upper: float  # math.inf when vacuous
    e_x: UniformBound
    e_y: UniformBound

    @property
    def vacuous(self) -> bool:
        return not math.isfinite(self.upper)

    def as_dict(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper if math.isfinite(self.upper) else "vacuous",
                "e_X": self.e_x.value, "e_Y": self.e_y.value, "form_X": self.e_x.form, "form_Y": self.e_y.form,
                "status": STATUS}


def supported(acc: Any) -> bool:
    return all(isinstance(m, (PoissonSubsampledGaussian, Gaussian)) for m, _ in acc.groups())


def _moments(m: Any, side: str):
    if isinstance(m, Gaussian) or (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability == 1.0):
        return gaussian_moments(m.noise_multiplier)
    return subsampled_gaussian_moments(m.sampling_probability, m.noise_multiplier, side)


def uniform_errors(acc: Any) -> tuple[UniformBound, UniformBound]:
    g = acc.groups()
    iid = len(g) == 1
    ex = uniform_bound([(_moments(m, "null"), n) for m, n in g], iid=iid)
    ey = uniform_bound([(_moments(m, "alt"), n) for m, n in g], iid=iid)
    return ex, ey


class _Bounds:
    def __init__(self, acc: Any, ex: float, ey: float):
        self.laws = []
        for direction, (ep, eq) in (("remove", (ey, ex)), ("add", (ex, ey))):
            cgf = acc._cgf(direction)
            p = EdgeworthLaw(cgf(0.0, 3)[1:], 1)
            q = EdgeworthLaw(cgf(-1.0, 3)[1:], 1)
            self.laws.append((p, q, ep + CUMULANT_MARGIN, eq + CUMULANT_MARGIN))

    def up(self, eps: np.ndarray) -> np.ndarray:
        out = np.zeros_like(eps)
        for p, q, ep, eq in self.laws:
            sp = np.minimum(1.0, p.sf(eps) + ep)
            sq = np.maximum(0.0, q.sf(eps) - eq)
            out = np.maximum(out, sp - np.exp(eps) * sq)
        return np.clip(out, 0.0, 1.0)

    def low(self, eps: np.ndarray) -> np.ndarray:
        out = np.zeros_like(eps)
        for p, q, ep, eq in self.laws:
            sp = p.sf(eps) - ep
            sq = np.minimum(1.0, q.sf(eps) + eq)
            out = np.maximum(out, sp - np.exp(eps) * sq)
        return np.clip(out, 0.0, 1.0)


def _vacuous_errors(acc: Any) -> tuple[UniformBound, UniformBound]:
    v = UniformBound(math.inf, "vacuous", None, int(acc.steps), math.nan, math.nan, math.nan, math.nan)
    return v, v


def _safe_errors(acc: Any) -> tuple[UniformBound, UniformBound]:
    try:
        return uniform_errors(acc)
    except (ArithmeticError, ValueError):  # e.g. the Arb moment integrals at extreme parameters
        return _vacuous_errors(acc)


def analytic_epsilon_bracket(acc: Any, delta: float, *, eps_max: float | None = None) -> AnalyticBracket:
    """[lower, upper] on eps(delta) from the uniform Edgeworth bound (upper may be inf = vacuous).

    Not rigorous (module doc, ``STATUS``).  Never raises on a numerical failure: ``[0, inf]``.
    """
    ex, ey = _safe_errors(acc)
    if not (math.isfinite(ex.value) and math.isfinite(ey.value)):
        return AnalyticBracket(lower=0.0, upper=math.inf, e_x=ex, e_y=ey)
    try:
        return _epsilon_bracket(acc, delta, ex, ey, eps_max)
    except (ArithmeticError, ValueError):
        return AnalyticBracket(lower=0.0, upper=math.inf, e_x=ex, e_y=ey)


def _epsilon_bracket(acc: Any, delta: float, ex: UniformBound, ey: UniformBound,
                     eps_max: float | None) -> AnalyticBracket:
    b = _Bounds(acc, ex.value, ey.value)
    if eps_max is None:
        eps_max = 200.0
    grid = np.linspace(0.0, eps_max, 4001)
    up = b.up(grid)
    ok = np.nonzero(up <= delta)[0]
    upper = math.inf
    if ok.size:
        i = int(ok[0])
        hi = float(grid[i])
        if i > 0:
            lo = float(grid[i - 1])
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if b.up(np.array([mid]))[0] <= delta:
                    hi = mid
                else:
                    lo = mid
        upper = hi
    lowv = b.low(grid)
    above = np.nonzero(lowv > delta)[0]
    lower = 0.0
    if above.size:
        j = int(above[-1])
        lo = float(grid[j])
        if j + 1 < grid.size:
            hi = float(grid[j + 1])
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                if b.low(np.array([mid]))[0] > delta:
                    lo = mid
                else:
                    hi = mid
        lower = lo
    return AnalyticBracket(lower=lower, upper=upper, e_x=ex, e_y=ey)


def analytic_delta_bracket(acc: Any, eps: float) -> tuple[float, float, UniformBound, UniformBound]:
    """[lower, upper] on delta(eps); not rigorous (module doc); ``[0, 1]`` on a numerical failure."""
    ex, ey = _safe_errors(acc)
    if not (math.isfinite(ex.value) and math.isfinite(ey.value)):
        return 0.0, 1.0, ex, ey
    try:
        b = _Bounds(acc, ex.value, ey.value)
        e = np.array([float(eps)])
        lo, hi = float(b.low(e)[0]), float(b.up(e)[0])
    except (ArithmeticError, ValueError):
        return 0.0, 1.0, ex, ey
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0, ex, ey
    return lo, hi, ex, ey
