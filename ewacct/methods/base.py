"""The method interface, and what every method needs to know about a composition.

A *method* turns a composition -- a list of ``(mechanism, count)`` groups -- into delta(eps) and
eps(delta) in one neighbouring direction (``"remove"``: P1 against P0, ``"add"``: the reverse):

    method.delta(eps, direction)   -> Answer(value, valid, diagnostics, method label)
    method.epsilon(delta, direction) -> Answer(...)

Implemented by the closed forms (:mod:`.closed`), the tilted expansion (:mod:`.tilted`), plain
Edgeworth (:mod:`.edgeworth`) and EW-Tune mode (:mod:`.ewtune`).  The exact engine answers both
directions jointly (the contour engine of :mod:`.exact` bounds one direction by the other), so its
dispatch (:mod:`.dispatch`) returns worst-direction rows instead.  The accountant
(:mod:`ewacct.accountant`) keeps the ledger and takes the maximum over directions.

Nothing here imports :mod:`ewacct.accountant`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Protocol, Sequence

import numpy as np

from ..mechanisms import Laplace, Mechanism, PoissonSubsampledGaussian, RandomizedResponse

DIRECTIONS = ("remove", "add")
Groups = Sequence[tuple[Mechanism, int]]
CgfFn = Callable[[float, int], np.ndarray]


class Answer(NamedTuple):
    """One direction's answer: the value, whether it may be stated, diagnostics, the method label."""

    value: float
    valid: bool
    diagnostics: dict[str, Any]
    method: str


class Row(NamedTuple):
    """One query's answer after the maximum over directions (``direction`` is the worse one)."""

    value: float
    direction: str
    valid: bool
    diagnostics: dict[str, Any]
    method: str


class Method(Protocol):
    """delta(eps) and eps(delta) of a fixed composition in one neighbouring direction."""

    def delta(self, eps: float, direction: str) -> Answer:
        """delta at ``eps >= 0``."""
        ...

    def epsilon(self, delta: float, direction: str) -> Answer:
        """inf{eps >= 0: delta(eps) <= delta} for ``delta`` in (0, 1)."""
        ...


def brentq(*args, **kwargs):
    """scipy.optimize.brentq, imported on first use (it costs a noticeable share of CLI start-up)."""
    from scipy.optimize import brentq as _brentq

    return _brentq(*args, **kwargs)


# ---------------------------------------------------------------------- the composition
def structure(groups: Groups) -> str:
    """"empty", "lattice" (randomized response of one epsilon0), "lattice-mixed" (randomized
    response with other mechanisms or several epsilon0: the exact method conditions on its lattice,
    methods/mixed_exact.py), "gaussian" (only Gaussians), "single-step" (one subsampled-Gaussian
    step) or "continuous".
    """
    g = list(groups)
    if not g:
        return "empty"
    kinds = {m.kind if not (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability == 1.0) else "gaussian" for m, _ in g}
    if "lattice" in kinds:
        if kinds != {"lattice"} or len(g) != 1:
            return "lattice-mixed"
        return "lattice"
    if kinds == {"gaussian"}:
        return "gaussian"
    if len(g) == 1 and g[0][1] == 1 and isinstance(g[0][0], PoissonSubsampledGaussian):
        return "single-step"
    return "continuous"


CLOSED_STRUCTURES = ("gaussian", "single-step", "lattice")


def composition_cgf(groups: Groups, direction: str) -> CgfFn:
    """``cgf(t, nmax)``: K(t) and its first ``nmax`` derivatives, summed over the groups."""
    groups = list(groups)

    def cgf(t: float, nmax: int) -> np.ndarray:
        out = np.zeros(nmax + 1)
        for m, n in groups:
            out += n * m.cgf(t, nmax, direction=direction)
        return out

    return cgf


def loss_sup(groups: Groups, direction: str) -> float:
    """Essential supremum of the composed loss under the upper measure (inf if unbounded)."""
    s = 0.0
    for m, n in groups:
        if isinstance(m, PoissonSubsampledGaussian):
            q = m.sampling_probability
            s += math.inf if (direction == "remove" or q >= 1.0) else -n * math.log1p(-q)
        elif isinstance(m, Laplace):
            s += n * m.theta
        elif isinstance(m, RandomizedResponse):
            s += n * m.epsilon0
        else:
            s += math.inf
    return s


def beyond_loss_sup(label: str) -> Answer:
    """delta = 0 where eps is at least the largest possible privacy loss."""
    return Answer(0.0, True, {"note": "eps exceeds the largest possible privacy loss"}, label)


# ---------------------------------------------------------------------- numerics
def check_finite(name: str, x: float) -> None:
    if not math.isfinite(x):
        raise FloatingPointError(f"internal error: {name} evaluated to {x}; please report this configuration")


def epsilon_by_inversion(delta_at: Callable[[float], Answer], delta: float) -> Answer:
    """eps(delta) of a method that has only delta(eps): invert, then report the method at that eps."""
    eps = invert_monotone(lambda e: delta_at(e)[0], delta)
    _, valid, diag, used = delta_at(eps)
    return Answer(eps, valid, diag, used)


def invert_monotone(delta_fn: Callable[[float], float], delta: float) -> float:
    """inf{eps >= 0: sup_{e >= eps} delta_fn(e) <= delta} on a grid, refined by Brent."""
    if delta_fn(0.0) <= delta:
        hi = 0.0
        grid = np.linspace(0.0, 1.0, 65)
        vals = np.array([delta_fn(e) for e in grid])
        if np.all(vals <= delta):
            return 0.0
    hi = 1.0
    while not (delta_fn(hi) <= delta and delta_fn(2.0 * hi) <= delta):
        hi *= 2.0
        if hi > 1e15:
            raise ValueError("epsilon exceeds 1e15 for this composition and target_delta (no meaningful privacy)")
    grid = np.linspace(0.0, 2.0 * hi, 257)
    vals = np.array([delta_fn(e) for e in grid])
    above = np.nonzero(vals > delta)[0]
    if above.size == 0:
        return 0.0
    i = int(above[-1])
    return float(brentq(lambda e: delta_fn(e) - delta, grid[i], grid[i + 1], xtol=1e-13, rtol=1e-13, maxiter=200))


def worst_direction(answer: Callable[[float, str], Answer], x: float, directions: Sequence[str],
                    name: str) -> Row:
    """The maximum over ``directions`` of ``answer(x, direction)``, valid only if every direction is
    (an invalid, possibly too small, value in one direction may hide the true maximum); ties go to
    the first direction."""
    best = None
    all_valid = True
    for d in directions:
        val, ok, diag, used = answer(x, d)
        check_finite(name, val)
        all_valid = all_valid and ok
        if best is None or val > best[0]:
            best = (val, d, ok, diag, used)
    assert best is not None
    return Row(best[0], best[1], all_valid, best[3], best[4])
