"""The trade-off curve's supremum over an eps grid, evaluating delta(eps) only where it can matter.

``beta(alpha) = max(0, max_i max(1 - delta(e_i) - e^{e_i} alpha, e^{-e_i} (1 - delta(e_i) - alpha)))``
over a grid ``e_0 < ... < e_{n-1}`` (:meth:`ewacct.Accountant.tradeoff`).  The full grid costs n
delta(eps) queries (400 by default: 13-60 s in the few-participation corner, where each query is its
own contour).  Only the grid points near each requested alpha's maximiser matter, and convexity of
delta tells which those are without evaluating the others:

* delta(eps) = max over the two directions of sup_S (P(S) - e^eps Q(S)) is a supremum of affine
  functions of t = e^eps, hence convex in t (NOT in eps: the Gaussian mechanism's delta at mu = 3 has
  negative second differences on an eps grid), non-increasing, and in [0, 1].  So between two
  evaluated grid points it is at least the extension (in t) of the neighbouring chords (the secant
  through two points of a convex function lies below the function outside the segment it joins) and
  at least the value at the right end (monotone); beyond the last evaluated point at least 0 and the
  extension of the last chord; before the first evaluated point at least the value there.
* Each minorant is decreasing in delta, so a lower bound ``lo_i`` of delta(e_i) gives an upper bound
  ``max(1 - lo_i - e^{e_i} alpha, e^{-e_i} (1 - lo_i - alpha))`` of what grid point i could add.
* A grid point whose upper bound is not above the best value already found (+ ``tol``) for every
  requested alpha cannot change the result and is never evaluated; the others are evaluated in
  rounds (for each alpha still open: the middle of its open set), until none is open.

The result is the maximum over the EVALUATED points only, taken for all alphas together (one set of
affine minorants: the curve stays convex, non-increasing and <= 1 - alpha).  Given the same delta
values it is therefore never above the full grid's result (a subset of its minorants: the safe side),
and equal to it up to ``tol`` wherever the evaluated values are convex in e^eps (the exact engine's
estimates, 1e-6 relative).  The accountant's answers to one eps may differ slightly between calls of
different sizes (the exact method: 1.2e-10 in beta measured at PSG(1, 0.01) x 300; method="tilted"
answers a batch of >= BATCH_MIN from an interpolated profile and a small batch per query with the exact
fallback: 4.6e-5 in beta there), so the comparison with a separately computed full grid holds to that.
Where a value is only an upper bound of delta (a flagged Chernoff bound), the pruning's lower bounds
may be off and the result may miss the full grid's maximum; it stays below the curve those values
imply, i.e. below the truth (an upper bound of delta gives a smaller beta).  The work is never more
than the full grid: each grid point is evaluated at most once.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: absolute slack in beta below which a grid point is not worth evaluating
TOL = 1e-9
#: above this many (alpha, grid point) pairs the bounds are not formed: the full grid is evaluated
MAX_PAIRS = 4_000_000


def minorants(eps: np.ndarray, delta: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(len(alpha), len(eps)) values of the symmetrised affine minorants (not clipped at 0)."""
    e = np.asarray(eps, float)[None, :]
    d = np.clip(np.asarray(delta, float), 0.0, 1.0)[None, :]
    a = np.asarray(alpha, float)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):  # e^eps overflows past eps ~ 709
        ea = np.where(a > 0.0, np.exp(e) * a, 0.0)  # alpha = 0: the term is 0 (not inf * 0)
    return np.maximum(1.0 - d - ea, np.exp(-e) * (1.0 - d - a))


def _delta_lower(eps: np.ndarray, known: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Lower bounds at every grid point of a delta in [0, 1] that is non-increasing in eps and convex in
    t = e^eps, from its values ``vals`` at the sorted grid indices ``known`` (exact where known).

    The chord through (t_a, v_a), (t_b, v_b), a < b, extended beyond b is below delta there:
    v_b - (v_a - v_b) (t_x - t_b) / (t_b - t_a) = v_b - (v_a - v_b) expm1(x - b) / -expm1(a - b);
    extended below a: v_a + (v_a - v_b) (t_a - t_x) / (t_b - t_a) = v_a + (v_a - v_b) -expm1(x - a) / expm1(b - a)
    (ratios of e^eps differences in expm1 form: no overflow of e^eps, no cancellation)."""
    n = eps.size
    lo = np.zeros(n)
    k = known.size
    if k == 0:
        return lo
    ke = eps[known]
    j = np.searchsorted(known, np.arange(n), side="right")  # known[j-1] <= i < known[j]
    # monotone: delta(e_i) >= delta at the next known point to the right
    lo = np.maximum(lo, np.where(j < k, vals[np.minimum(j, k - 1)], 0.0))
    if k >= 2:
        drop = vals[:-1] - vals[1:]  # >= 0 for a non-increasing delta (chord m joins known m, m + 1)
        with np.errstate(over="ignore", invalid="ignore"):
            # the chord (known[j-2], known[j-1]) extended to the right
            m = np.clip(j - 2, 0, k - 2)
            r = np.expm1(eps - ke[m + 1]) / -np.expm1(ke[m] - ke[m + 1])
            ext = vals[m + 1] - drop[m] * r
            ext = np.where(np.isfinite(ext) & (j - 2 >= 0), ext, 0.0)
            lo = np.maximum(lo, ext)
            # the chord (known[j], known[j+1]) extended to the left
            m = np.clip(j, 0, k - 2)
            r = -np.expm1(eps - ke[m]) / np.expm1(ke[m + 1] - ke[m])
            ext = vals[m] + drop[m] * r
            ext = np.where(np.isfinite(ext) & (j <= k - 2), ext, 0.0)
            lo = np.maximum(lo, ext)
    lo[known] = vals
    return np.clip(lo, 0.0, 1.0)


def grid_sup(eps: np.ndarray, alpha: np.ndarray,
             delta_fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
             tol: float = TOL) -> tuple[np.ndarray, dict]:
    """beta(alpha) as the supremum over the grid ``eps`` (increasing), evaluating ``delta_fn`` (eps
    array -> (delta values, valid flags)) only at the grid points that can matter (module docstring).

    Returns (beta, info) with info: ``n_evaluated``, ``valid`` (every evaluated value valid),
    ``eps_evaluated``, ``full`` (the whole grid was evaluated: too many alpha x grid pairs)."""
    eps = np.asarray(eps, float)
    alpha = np.asarray(alpha, float).reshape(-1)
    n = eps.size
    vals = np.full(n, np.nan)
    valid = np.ones(n, bool)
    done = np.zeros(n, bool)

    def evaluate(idx: np.ndarray) -> None:
        idx = np.unique(idx[~done[idx]])
        if idx.size == 0:
            return
        d, ok = delta_fn(eps[idx])
        vals[idx] = np.clip(np.asarray(d, float), 0.0, 1.0)
        valid[idx] = np.asarray(ok, bool)
        done[idx] = True

    full = alpha.size * n > MAX_PAIRS or n <= 3
    if full:
        evaluate(np.arange(n))
    else:
        evaluate(np.array([0]))
        while True:
            known = np.flatnonzero(done)
            best = np.maximum(minorants(eps[known], vals[known], alpha).max(axis=1), 0.0)  # (A,)
            lo = _delta_lower(eps, known, vals[known])
            ub = minorants(eps, lo, alpha)  # (A, n)
            ub[:, done] = -np.inf
            open_ = ub > best[:, None] + tol
            rows = np.flatnonzero(open_.any(axis=1))
            if rows.size == 0:
                break
            # the middle of each open alpha's open set (bisection-like; measured fewer queries than adding
            # the point of largest upper bound, or the chord interpolant's maximiser, on issue 8's four
            # compositions)
            evaluate(np.array([np.flatnonzero(open_[r])[np.count_nonzero(open_[r]) // 2] for r in rows]))
    known = np.flatnonzero(done)
    beta = np.clip(minorants(eps[known], vals[known], alpha).max(axis=1), 0.0, None)
    info = {"n_evaluated": int(known.size), "valid": bool(np.all(valid[known])),
            "eps_evaluated": eps[known].tolist(), "full": bool(full)}
    return beta, info
