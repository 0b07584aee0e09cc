"""The exact method's dispatch, the expansions' comparison against it, and certified brackets.

The exact answer to one query is the first of these that answers (:meth:`ExactDispatch.answer`,
the one place that fixes the order):

1. a closed form, where the composition has one (:mod:`.closed`);
2. the saddle-point contour integral (:mod:`.exact`), skipped for few participations in 2-3 steps;
3. direct quadrature of 2-3 steps (:mod:`.direct`);
4. the truncated-MGF contour for few participations (:mod:`.fewpart`), up to sum q n <= 1e4 as the
   contour's fallback (around q T ~ 1-13 at small delta the contour refuses, and at tiny q with small
   sigma up to q T in the thousands, fewpart.SUPPORT_QN); it goes before the
   contour where it is measured faster (sum q n <= 1e-2, eps(delta) at delta <= 1e-8 with
   sum q n <= 0.5, or eps(delta) at every q <= 1e-6 with a sigma below 0.5).  Where it follows the contour, the contour stage skips REMOVE's full engine after a
   failed truncated composition and caps that composition's CPU (truncation.FULL_AFTER_TRUNC_NOTE,
   FEW_TRUNC_BUDGET); the full engine is tried after all should the quadrature fail too;
5. for two subsampled-Gaussian steps (sigma >= 0.1), the verified bracket of the cell enclosure
   (:mod:`ewacct.bounds.two_step`; ``"exact-two-step"``: the midpoint, valid where the bracket is within
   EXACT_RTOL, else flagged with the bracket's verified upper end as the value, a proven upper bound), tried
   right after the direct quadrature fails or returns an estimate outside its tolerance;
6. a proven upper bound, flagged ``valid=False`` (``"chernoff-bound"``): the smallest of the Chernoff bound
   with the log-MGF enclosed rigorously (:mod:`ewacct.bounds.proven`; the floating-point one, said so in the
   note, where the enclosures do not cover the composition), for eps(delta) of subsampled Gaussians the
   inverse of the proven tail bound (:mod:`.tail_bound`), for delta(eps) the delta(0) and tail bounds.

What a flagged (``valid=False``) answer of this chain is: a proven upper bound (BOUND_METHODS, or a two-step
bracket's upper end, ``diagnostics['upper_bound']`` equal to the value), or an estimate (a quadrature that
missed its tolerance by little, an exact stage's answer above the tolerance, the tilted expansion where the
exact Laplace evaluation failed), whose note says "estimate" and which carries a proven upper bound in
``diagnostics['upper_bound']`` (:meth:`ExactDispatch._flagged_estimate`; the bound itself is the answer where
the estimate lies above it).

Every query point runs under one CPU budget shared by all these stages (:mod:`.budget`, 0.6 s): each
engine's own net is capped by it, no stage starts once it is spent, and the bound then answers, its note
saying so.  delta(eps) is 0 without any stage where both directions' Chernoff bounds underflow, or (subsampled
Gaussians with sum q n <= TAIL_BOUND_QN) where the proven tail bound of :mod:`.tail_bound` does (union bound
beyond a truncation level plus a Chernoff bound on the truncated product measure: it follows the exponent of
delta where the engines' Chernoff search, s <= 1e3, stops short; 2-12 ms).  That bound also caps the flagged
answer of step 6 where it is the smallest, and a delta answered valid above it is flagged.  A flagged delta
estimate of 0 is never the answer (the next stages, then the bound).

A Laplace mechanism composed with itself (atoms in the loss) is answered exactly by
:mod:`.laplace_exact` (the atom lattice summed exactly, the continuous part on the contour; method
label ``"exact"``).  Several Laplace scales are answered exactly by the full contour where the Laplace
atoms' returns are provably negligible (enough Laplace steps).  Laplace composed with (subsampled)
Gaussians is answered by the full contour whose truncation bound takes its decay from whichever factor
decays (docs/math.md section 9): few Laplace steps settle with Gaussians, or with subsampled Gaussians
of enough steps.  Elsewhere the answer is a rigorous upper bound by composition (the rest's answer plus
the Laplace steps' pure epsilon; ``"composition-bound"``, flagged ``valid=False``; the exact
evaluation's reason is kept).  Randomized response mixed with anything else (other mechanisms, several parameters) is
answered exactly by :mod:`.mixed_exact`: by conditioning on its lattice (up to 1e6 lattice points for
randomized response alone, 5e4 with a closed-form rest, 2e4 otherwise, within a CPU budget), or -- where a
Gaussian-type factor gives the decay and the lattice is large or its rest costly per point (Laplace, or more than
``mixed_exact.CONTOUR_FIRST_ATOMS`` points) -- first by one contour over the whole composition with each
randomized-response group's MGF as one more factor (``mixed_exact.LatticeContour``); where both refuse, the answer is the upper end of the proven bracket (:mod:`ewacct.bounds.proven`), flagged
``valid=False`` (``"chernoff-bound"``, the reason kept); no expansion is trusted there.

Nothing here imports :mod:`ewacct.accountant`; the certification helpers take the accountant as an
argument and hand it to :mod:`ewacct.bounds.certify`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from ..mechanisms import Laplace, PoissonSubsampledGaussian, RandomizedResponse
from ..results import EdgeworthValidityWarning
from . import budget
from .base import CLOSED_STRUCTURES, DIRECTIONS, Groups, Row, check_finite, structure, worst_direction
from .closed import ClosedForm
from .tilted import DEFAULT_ORDER as TILTED_ORDER
from .tilted import TiltedMethod
from .tv_bound import hellinger_delta0_bound

#: an expansion is valid when within this relative distance of the exact value
EXPANSION_TOLERANCE = 1e-3
#: an exact stage's answer is valid when its own error estimate is at most this (relative)
EXACT_RTOL = 1e-6
#: a quadrature estimate that missed EXACT_RTOL but whose own error estimate is at most NEAR_RTOL is
#: returned flagged (valid False) instead of the bare Chernoff bound, which stays in its diagnostics
NEAR_RTOL = 1e-4
LAPLACE_NOTE = ("Laplace mixed with other mechanisms is outside the exact engine here (neither the Laplace nor "
                "the other factors decay fast enough for the contour's node budget, or a mechanism without a "
                "complex log-MGF): tilted expansion used")
LAPLACE_FAILED_NOTE = ("the exact Laplace evaluation did not settle this query: tilted expansion used, flagged "
                       "(an estimate, not a bound: its own validity test is not trusted on the atoms' lattice)")
FEW_PARTICIPATIONS = "few participations (q T < 0.5)"
#: method labels whose value is a rigorous upper bound, not the exact answer (flagged valid=False)
BOUND_METHODS = ("chernoff-bound", "composition-bound", "chernoff-binomial")
_QUADRATURE_ERRORS = (ArithmeticError, ValueError)
#: the few-participation quadrature goes before the contour when sum q n is at most this ...
FEWPART_FIRST_QN = 1e-2
#: ... or, for eps(delta) where fewpart applies (sum q n <= 0.5), when delta is at most this.  Was 1e-8;
#: since the contour interpolates its far chunks (contour._interp_chunk) and stops rebuilding a contour that
#: already failed (ExactDirection._contour_for) it goes first there too: over sigma {0.3, 0.5, 1, 2, 4} x
#: (q, T) {(0.01, 10), (0.01, 30), (0.05, 10), (0.001, 100), (0.001, 300), (0.1, 3), (0.003, 100)} x delta
#: {1e-9, 1e-10, 1e-12} (105 points, ExactMethod vs fewpart_epsilon, CPU) it settled 63 (median 3.7 ms, at most
#: 70 ms; values within 2.1e-8 of the few-participation quadrature's), failing elsewhere after 1-47 ms;
#: contour first: median 4.3 ms, total 5.8 s, against quadrature first: median 23.5 ms, total 7.0 s
FEWPART_FIRST_DELTA = 0.0
#: ... or when a noise multiplier is below FEWPART_FIRST_SIGMA and sum q n <= FEWPART_FIRST_SIGMA_QN: the
#: contour fails there after 2-4 s before the few-participation quadrature answers in 0.1-0.8 s (e.g. q = 0.01,
#: sigma = 0.061, T = 10; it still answers at q = 0.1, sigma = 0.15, T = 100).  0.3 rather than 0.2: over 96
#: default calls at sigma 0.2 / 0.25 the quadrature first gave max 306 -> 160 ms, median 53 -> 49 ms (H-F)
FEWPART_FIRST_SIGMA = 0.3
FEWPART_FIRST_SIGMA_QN = 5.0
#: ... or, for eps(delta) (measured there only), when every sampling rate is at most FEWPART_FIRST_TINY_Q
#: and a noise multiplier is below FEWPART_FIRST_TINY_Q_SIGMA (any sum q n up to fewpart.SUPPORT_QN): there the
#: contour often spends the whole 0.6 s budget before failing (truncated composition out of time, full composition beyond its node budget)
#: where the quadrature answers in ~0.1 s.  Random eps(delta) points, sigma 0.4-0.55, q 1e-8..1e-6, q T
#: 10..3000, delta 1e-12..1e-6, 40 per seed, contour first / quadrature first alternated twice in one run
#: (CPU, loaded 2-core machine): seed 6 median 0.189/0.148 -> 0.072/0.082 s, total 8.4/7.3 -> 5.5/5.7 s;
#: seed 5 median 0.195/0.239 -> 0.162/0.211 s, total 9.0/9.5 -> 9.8/10.0 s; flagged answers 7/7 -> 6/7 and
#: 1 -> 1; answers valid in both orders within 4.6e-10 of each other
FEWPART_FIRST_TINY_Q = 1e-6
FEWPART_FIRST_TINY_Q_SIGMA = 0.5
#: delta(eps) of subsampled Gaussians with sum q n at most this is first checked against the proven tail bound
#: (methods/tail_bound.py): below the smallest double it is answered 0 (valid) before any stage, and it caps
#: the flagged bound where no stage settles
TAIL_BOUND_QN = 1.0
#: log of the smallest positive double: a proven bound below it makes delta 0 in double precision
LOG_TINY_DELTA = math.log(5e-324)


def _each(fn: Callable[[float], Row], arr: np.ndarray) -> list[Row]:
    """fn(x) for every query point, each under its own CPU budget (methods/budget.py)."""
    out = []
    for x in arr:
        with budget.limit():
            out.append(fn(float(x)))
    return out


def _worse(best: Row | None, row: Row) -> Row:
    """The larger of two directions' rows; valid only if both are."""
    if best is None or row.value > best.value:
        return row._replace(valid=row.valid and (best is None or best.valid))
    return best if row.valid else best._replace(valid=False)


class ExactDispatch:
    """The exact method for one composition: worst-direction rows, one per query.

    Args:
        groups: the composition, ``(mechanism, count)`` in the accountant's canonical order.
        engine: the contour engine (:class:`ewacct.methods.exact.ExactMethod`) for ``groups``, or
            None where it does not apply (Laplace).
    """

    def __init__(self, groups: Groups, engine: Any) -> None:
        self.groups = list(groups)
        self.eng = engine
        #: whether the last contour stage skipped REMOVE's full engine for the few-participation quadrature
        #: (see _contour), and whether the contour stage now runs with that fallback restored
        self._full_skipped = False
        self._retry_full = False

    def rows(self, kind: str, arr: np.ndarray) -> list[Row]:
        """(value, direction, valid, diagnostics, method) per query; ``kind`` is "delta" or "epsilon"."""
        if any(isinstance(m, RandomizedResponse) for m, _ in self.groups):
            # randomized response mixed with anything else: conditioned on its lattice (one parameter
            # alone is the closed form's: lattice_mix_for gives None)
            from . import mixed_exact

            try:
                lat = mixed_exact.lattice_mix_for(self.groups)
            except mixed_exact.LatticeMixError as exc:
                return [self._lattice_bound(kind, float(x), str(exc)) for x in arr]
            if lat is not None:
                return _each(lambda x: self._lattice_mixed(lat, kind, x), arr)
        st = structure(self.groups)
        if st in CLOSED_STRUCTURES:
            closed = ClosedForm(self.groups)
            fn = closed.delta if kind == "delta" else closed.epsilon
            return _each(lambda x: worst_direction(fn, x, DIRECTIONS, kind), arr)
        if self.eng is None:
            from . import laplace_exact

            lap = laplace_exact.composition_for(self.groups)
            if lap is not None:
                return _each(lambda x: self._laplace(lap, kind, x), arr)
            mixed = laplace_exact.mixed_compositions(self.groups)
            if mixed is not None:
                return _each(lambda x: self._laplace_mixed(mixed, kind, x), arr)
            if any(isinstance(m, Laplace) for m, _ in self.groups):
                return _each(lambda x: self._composition_bound(kind, x, "no exact evaluation for this mix"), arr)
            return _each(lambda x: self._tilted(kind, x, LAPLACE_NOTE), arr)
        with budget.setup():
            # the stages' modules, imported on a process's first query outside the per-point CPU budgets (one-time
            # set-up, as Numba's kernel loading: a cold worker's first query must not spend its budget importing)
            from . import direct, fewpart, fewpart_condexact, truncation  # noqa: F401

        if direct.supports(self.groups) and sum(m.sampling_probability * n for m, n in self.groups) < 0.5:
            # few participations in 2-3 steps: the contour's u-range would be long; direct quadrature
            return _each(lambda x: self.answer(kind, x, skip_contour=FEW_PARTICIPATIONS), arr)
        self.eng.clear()  # contours are shared within one call only: answers do not depend on history
        order = np.argsort(arr)[::-1] if kind == "epsilon" else np.argsort(arr)
        res = {}
        for i in order:
            with budget.limit():  # each query point its own CPU budget (methods/budget.py)
                res[int(i)] = self.answer(kind, float(arr[i]))
        return [res[i] for i in range(arr.size)]

    def answer(self, kind: str, x: float, skip_contour: str | None = None) -> Row:
        """The exact chain for one query: each stage, in this order, answers (a row), does not apply,
        or fails (its reason is kept, and reported by the stages after it); the flagged Chernoff
        bound ends the chain.  ``skip_contour``: why the contour is not tried."""
        from .contour import ContourError

        if kind == "epsilon":
            # eps = 0 exactly where the joint-convexity bound on delta(0) is already below the target:
            # microseconds, before any stage (the few-participation stage took 2 s to find it at
            # q = 2.1e-9, sigma = 0.24, T = 20, delta = 1.2e-7); or the Hellinger-affinity bound (tv_bound.py)
            b0 = self.eng.delta_at_zero_bound()
            src = "joint-convexity bound"
            bh = hellinger_delta0_bound(self.groups)
            if bh < b0:
                b0, src = bh, "Hellinger-affinity bound, methods/tv_bound.py"
            if b0 <= x:
                return Row(0.0, "remove", True, {"note": f"delta(0) <= {b0:.3g} <= target ({src}): eps = 0",
                                                 "rel_error": 0.0}, "exact")
            # one group at tiny q (where fewpart_condexact.first holds): the conditioned expansion (~40 ms)
            # before the stages; the contour spent the budget there and failed (benchmarks/trunc_d3_scan.py seed 14:
            # 5 flagged bounds at q T 0.6-3.6).  Where it declines, the chain runs as before
            cond = self._cond_epsilon(x) if skip_contour is None else None
            if cond is not None:
                return cond
        elif kind == "delta":
            # delta = 0 in double precision where both directions' Chernoff bounds are below the smallest
            # double: milliseconds, before any stage
            try:
                note = self.eng.delta_underflow(x)
            except (ArithmeticError, ValueError):
                note = None  # (the stages decide)
            if note is not None:
                return Row(0.0, "remove", True, {"note": note, "rel_error": 0.0}, "exact")
            # few participations: the proven tail bound (methods/tail_bound.py, union + truncated Chernoff,
            # 2-10 ms) follows the truth's exponent where the engines' Chernoff search (s <= 1e3) stops short:
            # sigma 199.6, q 6.4e-7, T 8, eps 1.3e-5 has delta < 1e-42000; the stages spent the 0.6 s budget
            # and answered the flagged delta(0) bound 4.6e-9
            tail = self._tail_bound(x)
            if tail is not None and tail < LOG_TINY_DELTA:
                return Row(0.0, "remove", True, {
                    "note": f"delta < exp({tail:.6g}) (proven tail bound: union bound beyond a truncation level plus "
                            "a Chernoff bound on the truncated product measure, methods/tail_bound.py): 0 in double "
                            "precision", "rel_error": 0.0, "log_upper_bound": tail}, "exact")
        contour = ("contour", lambda: skip_contour is None, self._contour,
                   (ContourError, FloatingPointError, OverflowError, ZeroDivisionError))
        direct_ = ("direct quadrature", self._direct_applies, self._direct, _QUADRATURE_ERRORS)
        fewpart_ = ("few-participation quadrature", self._fewpart_applies, self._fewpart, _QUADRATURE_ERRORS)
        stages: tuple[tuple[str, Callable[[], bool], Callable[[str, float, str], Row], tuple], ...]
        if self._fewpart_first(kind, x) or (skip_contour is not None and self._fewpart_applies()):
            # direct quadrature: ~7 ms at 2 steps, 0.3-1 s at 3; the few-participation quadrature 20-360 ms
            # at 3 steps
            steps = sum(int(n) for _, n in self.groups)
            stages = (fewpart_, direct_, contour) if steps >= 3 else (direct_, fewpart_, contour)
        else:
            stages = (contour, direct_, fewpart_)
        why = skip_contour
        near = None  # a quadrature's estimate that missed its tolerance by little: (value, rel, direction)
        two_done: Row | bool | None = None  # the two-step bracket's row once tried (False: none found)
        self._full_skipped = self._retry_full = False
        for name, applies, run, errors in stages:
            if budget.expired():
                # the call's CPU budget (methods/budget.py) is spent: no further stage, the flagged bound
                why = budget.NOTE if why is None else f"{why}; {budget.NOTE}"
                break
            if not applies():
                continue
            try:
                row = run(kind, x, why)
                row = self._against_tail(kind, x, row)
                if kind == "delta" and not row.valid and not row.value > 0.0:
                    # a flagged delta of 0 is neither a number to report nor a bound (the direct quadrature's
                    # 0.0 at sigma 366.5, q 9.4e-6, T 2, eps 2.4e-3, where delta < 1e-700000): the next stages,
                    # then the rigorous bound
                    why = (f"{name}: estimate {row.value!r} not settled" if why is None
                           else f"{why}; {name}: estimate {row.value!r} not settled")
                    continue
                if not row.valid:
                    # two steps: the cell enclosure's bracket where it settles (_two_step); where it is wider
                    # than the tolerance, the stage's estimate stays, the bracket beside it
                    two = self._two_step(kind, x, row.value, f"{name}: estimated relative error "
                                                             f"{row.diagnostics.get('rel_error')} above {EXACT_RTOL:g}")
                    if two is not None:
                        # valid: the bracket's midpoint; flagged: its verified upper end (a proven upper bound,
                        # where the stage's flagged estimate was an estimate), the estimate beside it
                        return two._replace(diagnostics={**two.diagnostics, "stage_estimate": float(row.value),
                                                         "stage_method": row.method})
                    # a flagged estimate: with a proven upper bound beside it (or the bound, where smaller)
                    return self._flagged_estimate(kind, x, row, why)
                return row
            except errors as exc:
                why = str(exc) if why is None else f"{why}; {name}: {exc}"
                est = getattr(exc, "estimate", None)
                if name == "direct quadrature" and two_done is None:
                    # two steps whose direct quadrature failed: the cell enclosure's bracket next (the other
                    # stages rarely settle there, and spent the whole budget at sigma 0.16-0.23), its search
                    # started at the direct quadrature's last iterate
                    two_done = self._two_step(kind, x, est[0] if est is not None else None, why) or False
                    if two_done and two_done.valid:
                        return two_done
                # (a delta estimate of 0 is no number to report: the bound answers instead; reviewer of session 12:
                # the direct quadrature's 0.0 at sigma 366.5, q 9.4e-6, T 2, eps 2.4e-3 was returned flagged)
                if (est is not None and math.isfinite(est[0]) and (est[0] > 0.0 if kind == "delta" else est[0] >= 0.0)
                        and est[1] <= NEAR_RTOL):
                    near = (*est[:3], name)
        if self._full_skipped and not budget.expired():
            # the full engine was skipped for the few-participation quadrature, which failed too: try it now
            self._retry_full = True
            try:
                return self._contour(kind, x, why)
            except contour[3] as exc:
                why = f"{why}; contour (full composition): {exc}"
            finally:
                self._retry_full = False
        two = two_done if two_done is not None else self._two_step(kind, x, near[0] if near is not None else None, why)
        if two:
            return two
        bound = self._chernoff(kind, x, why)
        if bound.valid:
            return bound  # eps = 0, proven by the tail bound at eps = 0 (_chernoff)
        if near is not None and near[0] <= bound.value:
            # the estimate, flagged, with the rigorous bound beside it: the bound alone was 6.5x the truth
            # at sigma 0.333, q 2.9e-5, T 4, delta 1.16e-6 (5.60 vs 0.8655) and 1e8x for a delta
            # (1.2e-6 vs 2.1e-14 at sigma 0.503, q 1e-6, T 12452, eps 1.749), where the few-participation
            # quadrature's error estimate was 2e-6
            diag = {"rel_error": float(near[1]), "why_not_exact": why, "upper_bound": float(bound.value),
                    "upper_bound_method": bound.method,
                    "upper_bound_source": bound.diagnostics.get("upper_bound_source"),
                    "note": f"the {near[3]} missed its tolerance ({EXACT_RTOL:g}): the value "
                            f"is its estimate (estimated relative error {near[1]:.2g}), not a bound and not "
                            f"certified; a proven upper bound is diagnostics['upper_bound']"}
            label = "exact-direct" if near[3] == "direct quadrature" else "exact-fewpart"
            return Row(float(near[0]), near[2], False, diag, label)
        return bound

    def _flagged_estimate(self, kind: str, x: float, row: Row, why: str | None = None) -> Row:
        """A flagged estimate (``valid=False``, not a bound) with a proven upper bound beside it in
        ``diagnostics['upper_bound']`` (the CLI states that bound), its note saying it is an estimate; the bound
        itself (flagged) where the estimate lies above it.  Rows that are valid, bounds (BOUND_METHODS) or
        already carry an upper bound are returned unchanged.  The bound: :meth:`_chernoff` where the contour
        engine applies, else :meth:`_proven_chernoff` (Laplace and randomized response by their closed MGFs);
        where neither can be formed the note says so."""
        if row.valid or row.method in BOUND_METHODS or row.diagnostics.get("upper_bound") is not None:
            return row
        bound: Row | None = None
        if self.eng is not None:
            bound = self._chernoff(kind, x, why)
        else:
            pv = self._proven_chernoff(kind, x)
            if pv is not None:
                d = max(pv, key=pv.get)
                src = "Chernoff bound with the log-MGF enclosed rigorously (ewacct.bounds.proven)"
                bound = Row(float(pv[d]), d, False, {"error": why, "upper_bound_source": src,
                                                    "note": f"the value is a rigorous upper bound ({src}), not the "
                                                            "exact answer"}, "chernoff-bound")
        note = row.diagnostics.get("note")
        head = f"{note}; " if note else ""
        if bound is None:
            return row._replace(diagnostics={**row.diagnostics, "note": head + (
                "the value is an estimate (valid=False), not a bound; no proven upper bound could be formed here")})
        if bound.valid:
            return bound  # eps = 0, proven (the tail bound at eps = 0)
        if row.value > bound.value:
            return bound._replace(diagnostics={**bound.diagnostics, "estimate": float(row.value),
                                               "estimate_method": row.method,
                                               "estimate_rel_error": row.diagnostics.get("rel_error")})
        return row._replace(diagnostics={
            **row.diagnostics, "upper_bound": float(bound.value), "upper_bound_method": bound.method,
            "upper_bound_source": bound.diagnostics.get("upper_bound_source"),
            "note": head + ("the value is an estimate (valid=False: its estimated error is above the tolerance "
                            f"{EXACT_RTOL:g}), not a bound; a proven upper bound is diagnostics['upper_bound']")})

    # ------------------------------------------------------------------ Laplace
    def _tilted(self, kind: str, x: float, note: str, error: str | None = None) -> Row:
        tilted = TiltedMethod(self.groups, TILTED_ORDER)
        fn = tilted.delta if kind == "delta" else tilted.epsilon
        r = worst_direction(fn, x, DIRECTIONS, kind)
        extra = {"note": note} if error is None else {"note": note, "laplace_error": error}
        return r._replace(diagnostics={**r.diagnostics, **extra})

    def _composition_bound(self, kind: str, x: float, error: str) -> Row:
        """A rigorous upper bound for Laplace mixed with others where the exact evaluation did not
        settle (flagged ``valid=False``, method ``"composition-bound"``).

        The Laplace steps are pure eps_L-DP with eps_L = sum n theta.  For the rest R (its worst
        direction) and any real e1, composing with a pure eps_L-DP mechanism gives
        delta_mix(e1 + eps_L) <= delta_R(e1): for a set S with sections S_y, P(S) = int P_L(S_y) dP_R(y)
        and P_L(S_y) <= min(1, e^{eps_L} Q_L(S_y)); since min(1, e^{eps_L} Q_L(S_y)) is in [0, 1],
        int of it dP_R <= e^{e1} int of it dQ_R + delta_R(e1) <= e^{e1 + eps_L} Q(S) + delta_R(e1).
        So eps_mix(delta) <= eps_R(delta) + eps_L and delta_mix(eps) <= delta_R(eps - eps_L) (<= 1 below
        eps_L).  The rest is answered by the exact engine (or its own flagged bound); the tilted
        expansion, which this replaces, was off by up to 4.7x here (below the rest alone)."""
        from .exact import ExactMethod, supports

        eps_l = math.fsum(n * m.theta for m, n in self.groups if isinstance(m, Laplace))
        rest = [(m, n) for m, n in self.groups if not isinstance(m, Laplace)]
        diag: dict[str, Any] = {"laplace_error": error, "laplace_eps": eps_l,
                                "note": "the exact evaluation of this Laplace mix did not settle; the value is a "
                                        "rigorous upper bound by composition (the rest's answer plus the Laplace "
                                        "steps' pure epsilon), not the exact answer"}
        rest_dispatch = ExactDispatch(rest, ExactMethod(rest) if supports(rest) else None) if rest else None
        r: Row | None = None
        if kind == "epsilon":
            if rest_dispatch is not None:
                r = rest_dispatch.rows("epsilon", np.array([x]))[0]
            v = (_upper_of(r) if r is not None else 0.0) + eps_l
        elif rest_dispatch is None:
            v = 0.0 if x >= eps_l else 1.0
        elif x >= eps_l:
            r = rest_dispatch.rows("delta", np.array([x - eps_l]))[0]
            v = min(1.0, _upper_of(r))
        else:
            v = 1.0
        if r is not None:
            diag["rest"] = {"value": float(r.value), "method": r.method, "valid": bool(r.valid),
                            "upper_used": float(_upper_of(r))}
            if not (r.valid or r.method in BOUND_METHODS or r.diagnostics.get("upper_bound") is not None):
                # (not reached: every flagged answer of the chain is a bound or carries one) never called a bound
                diag["note"] = ("the exact evaluation of this Laplace mix did not settle; the value is the rest's "
                                "flagged estimate plus the Laplace steps' pure epsilon: an estimate, not a bound")
        check_finite(kind, v)
        return Row(float(v), "remove", False, diag, "composition-bound")

    def _laplace(self, lap: Any, kind: str, x: float) -> Row:
        """One query of a Laplace mechanism composed with itself: both directions have the same law
        (the reflection x -> sensitivity - x), so one evaluation answers both."""
        from .laplace_exact import LaplaceExactError

        try:
            v, rel, diag = lap.delta(x) if kind == "delta" else lap.epsilon(x)
            check_finite(kind, v)
        except (LaplaceExactError, FloatingPointError, OverflowError, ValueError, ZeroDivisionError) as exc:
            # flagged whatever the expansion's own test says: the breaker of session 12 found it passing answers
            # 1e-6-8.3e-6 above dp_accounting's pessimistic PLD (an upper bound) for several Laplace scales, e.g.
            # Laplace(1.0749) x 23 + Laplace(2.9860) x 11 + Laplace(25.730) x 13 at delta 5.009e-4
            r = self._tilted(kind, x, LAPLACE_FAILED_NOTE, str(exc))
            return self._flagged_estimate(kind, x, r._replace(valid=False), str(exc))
        diag = {**diag, "rel_error": rel, "directions": "remove and add have the same law (Laplace symmetry)"}
        return self._flagged_estimate(kind, x, Row(v, "remove", rel <= EXACT_RTOL, diag, "exact"))

    def _laplace_mixed(self, mixed: dict[str, Any], kind: str, x: float) -> Row:
        """Laplace composed with mechanisms that have a complex log-MGF: both directions by the full
        contour (:class:`.laplace_exact.LaplaceWithOthers`), the worse reported; the noted tilted
        expansion where either does not settle."""
        from .laplace_exact import LaplaceExactError

        best: Row | None = None
        for d in DIRECTIONS:
            if d == "add" and best is not None:
                # the ADD evaluation is skipped where it cannot be the larger: the same law (only
                # Gaussian-type others: Laplace and Gaussian losses are symmetric), or its Chernoff bound
                # is below the REMOVE value (the maximum is then unchanged)
                why = _add_not_larger(mixed["add"], kind, x, best.value)
                if why is not None:
                    return self._flagged_estimate(kind, x, best._replace(diagnostics={**best.diagnostics, "add": why}))
            try:
                v, rel, diag = mixed[d].delta(x) if kind == "delta" else mixed[d].epsilon(x)
                check_finite(kind, v)
            except (LaplaceExactError, FloatingPointError, OverflowError, ValueError, ZeroDivisionError) as exc:
                return self._composition_bound(kind, x, str(exc))
            best = _worse(best, Row(v, d, rel <= EXACT_RTOL, {**diag, "rel_error": rel}, "exact"))
        assert best is not None
        return self._flagged_estimate(kind, x, best)

    def _lattice_mixed(self, lat: Any, kind: str, x: float) -> Row:
        """Randomized response mixed with anything else (:class:`.mixed_exact.LatticeMix`): both
        directions by the conditioned lattice sum, the worse reported.  Where it cannot answer (too
        many lattice points, the rest's exact evaluation failed) the flagged proven upper bound
        (:meth:`_lattice_bound`; no expansion is trusted on a lattice)."""
        from .mixed_exact import LatticeMixError

        best: Row | None = None
        for d in DIRECTIONS:
            if d == "add" and best is not None and lat.symmetric:
                return self._flagged_estimate(kind, x, best._replace(
                    diagnostics={**best.diagnostics, "add": "the same law as REMOVE"}))
            try:
                v, rel, diag = lat.delta(x, d) if kind == "delta" else lat.epsilon(x, d)
                check_finite(kind, v)
            except (LatticeMixError, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
                return self._lattice_bound(kind, x, str(exc))
            best = _worse(best, Row(v, d, rel <= EXACT_RTOL, {**diag, "rel_error": rel}, "exact"))
        assert best is not None
        return self._flagged_estimate(kind, x, best)

    def _lattice_what(self) -> str:
        rest = [m for m, n in self.groups if int(n) > 0 and not isinstance(m, RandomizedResponse)]
        return ("randomized response mixed with other mechanisms" if rest
                else "randomized response with several parameters")

    def _lattice_bound(self, kind: str, x: float, why: str) -> Row:
        """Where the exact lattice sum refuses (too many lattice points for its cost, its CPU budget, or the
        rest's exact evaluation failed): the upper end of the proven bracket (:mod:`ewacct.bounds.proven`:
        a Chernoff bound from rigorous real-MGF enclosures, randomized response and Laplace by their closed
        MGFs), flagged ``valid=False`` with method ``"chernoff-bound"``; certify=True then reports that
        proven bracket.  A ValueError only where that bound cannot be formed either."""
        from ..bounds import proven

        what = self._lattice_what()
        try:
            if kind == "delta":
                lo, hi, info = proven.proven_delta_bracket(self.groups, x)
            else:
                lo, hi, info = proven.proven_epsilon_bracket(self.groups, x)
            check_finite(kind, hi)
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise ValueError(f"{what}: no exact answer here ({why}), and no proven bound either ({exc})") from exc
        d = "add" if info.get("chernoff_add", -math.inf) > info.get("chernoff_remove", -math.inf) else "remove"
        diag = {"error": why, "proven_lower": float(lo),
                "note": f"{what}: the exact lattice sum did not answer ({why}); the value is a rigorous upper "
                        "bound (Chernoff, from the proven bracket of ewacct.bounds.proven), not the exact answer; "
                        "certify=True gives the proven bracket"}
        return Row(float(hi), d, False, diag, "chernoff-bound")

    # ------------------------------------------------------------------ the stages
    def _contour(self, kind: str, x: float, why: str | None) -> Row:
        # where the few-participation quadrature follows in the chain, REMOVE's full engine is not tried
        # after a failed truncated composition (truncation.FULL_AFTER_TRUNC_NOTE); should the quadrature fail
        # too, answer() comes back here with the full fallback (self._full_skipped)
        few_next = self._fewpart_applies() and not self._retry_full
        self.eng.fewpart_next = few_next
        try:
            v, d, rel, diag = self.eng.delta(x) if kind == "delta" else self.eng.epsilon(x)
        except ArithmeticError as exc:
            from .truncation import FULL_AFTER_TRUNC_NOTE

            if few_next and FULL_AFTER_TRUNC_NOTE in str(exc):
                self._full_skipped = True
            raise
        finally:
            self.eng.fewpart_next = False
        check_finite(kind, v)
        return Row(v, d, rel <= EXACT_RTOL, {**diag, "rel_error": rel}, "exact")

    def _direct_applies(self) -> bool:
        from . import direct

        return direct.supports(self.groups)

    def _direct(self, kind: str, x: float, why: str | None) -> Row:
        from . import direct

        ds = direct.DirectShort(self.groups)
        if kind == "delta":
            v, d, rel, diag = ds.delta(x)
        else:
            from .exact import chernoff_eps

            v, d, rel, diag = ds.epsilon(x, add_upper=chernoff_eps(self.eng.dirs["add"].K, math.log(x)))
        check_finite(kind, v)
        return Row(v, d, rel <= EXACT_RTOL, {**diag, "rel_error": rel, "contour": why}, "exact-direct")

    def _fewpart_groups(self) -> list[tuple[float, float, int]] | None:
        if all(isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0 for m, _ in self.groups):
            return [(m.sampling_probability, m.noise_multiplier, int(n)) for m, n in self.groups]
        return None

    def _fewpart_applies(self) -> bool:
        from . import fewpart

        fg = self._fewpart_groups()
        return fg is not None and fewpart.supports(fg)

    def _fewpart_first(self, kind: str, x: float) -> bool:
        """Whether the few-participation quadrature is tried before the contour.

        Measured (benchmarks/fewpart_bench.py, helper report of 2026-11-30): with sum q n <= 1e-2 the
        contour settles a minority of queries and costs more even where it does; at delta <= 1e-8 it
        settles almost none below sum q n = 0.5.  Elsewhere the contour is first (faster: above 0.5 the
        few-participation quadrature takes 20-50 ms where the contour settles in 1-5 ms; F2's mixed grid,
        median 22 -> 4.4 ms, no answer lost).
        """
        if not self._fewpart_applies():
            return False
        qn = sum(m.sampling_probability * n for m, n in self.groups)
        smin = min(m.noise_multiplier for m, _ in self.groups)
        if smin < FEWPART_FIRST_SIGMA and qn <= FEWPART_FIRST_SIGMA_QN:
            return True
        qmax = max(m.sampling_probability for m, _ in self.groups)
        if kind == "epsilon" and smin < FEWPART_FIRST_TINY_Q_SIGMA and qmax <= FEWPART_FIRST_TINY_Q:
            return True
        return qn <= FEWPART_FIRST_QN or (kind == "epsilon" and x <= FEWPART_FIRST_DELTA and qn <= 0.5)

    def _cond_epsilon(self, x: float) -> Row | None:
        """eps(delta) by the conditioned expansion of :mod:`.fewpart_condexact` where it is offered first
        (``fewpart_condexact.first``) and settles (REMOVE within its DISPATCH_ACCEPT, ADD settled by its loss
        bound or rigorous Chernoff bound); None otherwise."""
        from . import fewpart_condexact as fc

        g = self._fewpart_groups()
        if g is None or not fc.first(g, "epsilon", x):
            return None
        res = fc.dispatch_epsilon(g, x)
        if res is None:
            return None
        v, rel, d = res
        check_finite("epsilon", v)
        return Row(v, d, rel <= EXACT_RTOL, {"rel_error": rel, "contour": None,
                                              "note": "few participations at tiny q: conditioned on the few large "
                                                      "losses (methods/fewpart_condexact.py)"}, "exact-fewpart")

    def _fewpart(self, kind: str, x: float, why: str | None) -> Row:
        from . import fewpart

        f = fewpart.fewpart_delta if kind == "delta" else fewpart.fewpart_epsilon
        v, rel, d = f(self._fewpart_groups(), x)
        check_finite(kind, v)
        return Row(v, d, rel <= EXACT_RTOL, {"rel_error": rel, "contour": why}, "exact-fewpart")

    def _two_step(self, kind: str, x: float, guess: float | None, why: str | None) -> Row | None:
        """Two subsampled-Gaussian steps (sigma >= 0.1, heterogeneous or not) where the exact stages did not
        settle: the verified bracket of :mod:`ewacct.bounds.two_step`'s cell enclosure (outward-rounded
        directed bounds, both directions; delta(eps) to ~1e-10 relative in 10-25 ms).  delta(eps): its
        bracket.  eps(delta): a bracket of the root from delta brackets, :func:`two_step_eps_bracket`.
        The value is the bracket's midpoint, valid where the bracket's relative width is at most
        EXACT_RTOL; otherwise flagged, with the bracket in the diagnostics.  None where it does not apply
        or finds no bracket.  Reviewer H-R7 F6: the default was a Chernoff bound 0.2661 (truth 7.4557e-6)."""
        if not _two_step_applies(self.groups):
            return None
        from ..bounds.two_step import two_step_delta_bracket

        shim = _GroupsView(self.groups)
        try:
            if kind == "delta":
                b = two_step_delta_bracket(shim, x)
                info: dict[str, Any] = {}
            else:
                b, info = two_step_eps_bracket(lambda e: two_step_delta_bracket(shim, e), x, guess)
        except (ArithmeticError, ValueError):
            return None
        if b is None:
            return None
        lo, hi = float(b[0]), float(b[1])
        if not (0.0 <= lo <= hi and math.isfinite(hi)):
            return None
        mid = 0.5 * (lo + hi)
        rel = (hi - lo) / mid if mid > 0.0 else (0.0 if hi == 0.0 else math.inf)
        ok = rel <= EXACT_RTOL
        diag = {"lower": lo, "upper": hi, "rel_error": rel, "why_not_exact": why, **info,
                "note": ("two steps: the value is the midpoint of the verified bracket of the cell enclosure "
                         "(ewacct.bounds.two_step), diagnostics['lower'] .. ['upper']")}
        if not ok:
            # flagged: the verified upper end (a proven upper bound, the conservative answer), not the midpoint
            # (an estimate)
            diag.update(estimate=mid, upper_bound=hi, upper_bound_method="exact-two-step",
                        upper_bound_source="upper end of the verified two-step bracket (ewacct.bounds.two_step)",
                        note=("two steps: the verified bracket of the cell enclosure (ewacct.bounds.two_step), "
                              f"diagnostics['lower'] .. ['upper'], is wider than the tolerance ({EXACT_RTOL:g} "
                              "relative): the value is its upper end, a proven upper bound, not certified to the "
                              "tolerance (the midpoint is diagnostics['estimate'])"))
        val = mid if ok else hi
        check_finite(kind, val)
        return Row(val, "remove", ok, diag, "exact-two-step")

    def _tail_bound(self, eps: float) -> float | None:
        """log of the proven upper bound on delta(eps) of :mod:`.tail_bound` (both directions), memoised per
        eps; None where it does not apply (not every group a subsampled Gaussian with q < 1, or sum q n above
        TAIL_BOUND_QN, where delta is rarely tiny and the search's milliseconds would be spent for nothing)."""
        memo = self.__dict__.setdefault("_tail_memo", {})
        if eps not in memo:
            from . import tail_bound

            val = None
            if (self._fewpart_groups() is not None
                    and sum(m.sampling_probability * n for m, n in self.groups) <= TAIL_BOUND_QN):
                try:
                    r = tail_bound.log_delta_bound(self.groups, eps, below=LOG_TINY_DELTA)
                except (ArithmeticError, ValueError):
                    r = None
                if r is not None and not math.isnan(r[0]):
                    val = float(r[0])
            if len(memo) > 64:
                memo.clear()
            memo[eps] = val
        return memo[eps]

    def _against_tail(self, kind: str, x: float, row: Row) -> Row:
        """A delta answered valid above the proven tail bound (where computed) is replaced by that bound,
        flagged (``"chernoff-bound"``): one of the two is wrong, and the bound is the proven one."""
        if kind != "delta" or not row.valid:
            return row
        tail = self.__dict__.get("_tail_memo", {}).get(x)
        if tail is None or row.value <= 0.0 or math.log(row.value) <= tail + 1e-6:
            return row
        # the proven bound is the answer (flagged): the engine's value above it is not trusted
        src = ("tail bound: union bound beyond a truncation level plus a Chernoff bound on the truncated product "
               "measure, methods/tail_bound.py")
        return Row(float(math.exp(min(tail, 0.0))), row.direction, False, {
            **row.diagnostics, "log_upper_bound": tail, "estimate": float(row.value), "upper_bound_source": src,
            "note": f"the engine's value {row.value:.6g} lies above the proven tail bound exp({tail:.6g}) "
                    "(methods/tail_bound.py), so it is not trusted; the value is that proven upper bound"},
            "chernoff-bound")

    def _proven_chernoff(self, kind: str, x: float) -> dict[str, float] | None:
        """Per direction, the Chernoff bound with the log-MGF enclosed rigorously (:mod:`ewacct.bounds.proven`:
        delta(eps) <= exp(psi(s) - s eps), psi(s) = K(s) + s log s - (s+1) log(s+1), K from the outward-rounded
        real-MGF enclosures; eps(delta) <= (psi(s) - log delta) / s, and <= the largest privacy loss); None
        where the enclosures do not cover a mechanism of the composition.  3-8 ms."""
        from ..bounds import proven

        try:
            out = {}
            for d in DIRECTIONS:
                cd = proven._Dir(self.groups, d)
                if kind == "epsilon":
                    out[d] = min(proven.chernoff_eps_upper(cd, math.log(x))[0], cd.loss_sup)
                else:
                    out[d] = 0.0 if x >= cd.loss_sup else proven.chernoff_delta_upper(cd, x)
        except Exception:  # noqa: BLE001 - NotCertifiable, or an enclosure that failed: the float bound answers
            return None
        if not all(math.isfinite(v) and v >= 0.0 for v in out.values()):
            return None
        return out

    def _chernoff(self, kind: str, x: float, why: str | None) -> Row:
        """The flagged (``valid=False``) upper bound answering where no exact stage settled: the smallest of
        the proven bounds available, each a theorem given its inputs (which one is in the note and in
        ``diagnostics['upper_bound_source']``):

        * the Chernoff bound with the log-MGF enclosed rigorously (:meth:`_proven_chernoff`); where the
          enclosures do not cover the composition, the Chernoff bound from the floating-point log-MGF (its
          quadrature error, ~1e-12 relative, not enclosed: the note says so);
        * eps(delta), subsampled Gaussians: the inverse of the proven tail bound of :mod:`.tail_bound` (union
          bound beyond a truncation level plus a Chernoff bound on the truncated product measure): every e
          with that bound <= delta is >= eps(delta).  PSG(0.3, 1e-9) x 3 at delta 1e-12: 7.0033 -> 0.0918
          (eps = 0.010942); PSG(0.557, 1.269e-5) x 56876 at 5.41e-10: 3.1815 -> 1.4185 (eps = 1.1390);
        * delta(eps): delta(0) bounds (joint convexity / record use, Hellinger affinity) and the tail bound."""
        from .exact import chernoff_eps, chernoff_log_delta

        if kind == "epsilon":
            vals = {d: chernoff_eps(self.eng.dirs[d].K, math.log(x)) for d in DIRECTIONS}
        else:
            vals = {d: math.exp(min(0.0, chernoff_log_delta(self.eng.dirs[d].K, x))) for d in DIRECTIONS}
        proven_vals = self._proven_chernoff(kind, x)
        if proven_vals is not None:
            vals = proven_vals
            ineq = ("eps(delta) <= (psi(s) - log delta) / s" if kind == "epsilon"
                    else "delta(eps) <= exp(psi(s) - s eps)")
            src = f"Chernoff bound with the log-MGF enclosed rigorously (ewacct.bounds.proven): {ineq}"
        else:
            src = ("Chernoff bound from the floating-point log-MGF (its quadrature error, ~1e-12 relative, is not "
                   "enclosed)")
        d = max(vals, key=vals.get)
        diag = {"error": why, "note": "exact quadrature did not converge within its budget; the value is a "
                "rigorous upper bound (Chernoff), not the exact answer", "upper_bound_source": src}
        if why is not None and budget.NOTE in why:
            diag["note"] = (f"exact quadrature did not converge: {budget.NOTE} (methods/budget.py: "
                            f"{budget.CALL_BUDGET:g} s of CPU per query); the value is a rigorous upper bound "
                            "(Chernoff), not the exact answer")
        diag["note"] = diag["note"].replace("(Chernoff)", f"({src})")
        if kind == "epsilon":
            tail = self._tail_eps(x, vals[d])
            if tail is not None:
                e, info = tail
                if e == 0.0:
                    # the proven tail bound at eps = 0 is below the target: delta(0) <= target, eps = 0 exactly
                    return Row(0.0, "remove", True, {
                        "note": "delta(0) <= target (proven tail bound at eps = 0, methods/tail_bound.py): eps = 0",
                        "rel_error": 0.0, "error": why}, "exact")
                src = ("inverse of the proven tail bound (methods/tail_bound.py: union bound beyond a truncation "
                       "level plus a Chernoff bound on the truncated product measure; any eps whose bound is <= "
                       "delta is >= eps(delta))")
                diag["note"] = diag["note"].replace(diag["upper_bound_source"], src)
                diag["upper_bound_source"] = src
                diag["chernoff_upper_bound"] = float(vals[d])
                diag["tail_bound_search"] = info
                return Row(float(e), d, False, diag, "chernoff-bound")
        if kind == "delta" and x >= 0.0:
            # delta is non-increasing in eps and delta(0) = TV <= the engine's bound (joint convexity /
            # P(the record is used)): where that is smaller (few participations, small eps: Chernoff gave
            # 0.0089 at q = 1e-4, sigma = 1, T = 10, eps = 0.047 where delta(0) <= 1e-3), it is the bound
            b0 = self.eng.delta_at_zero_bound()
            src = "joint-convexity / record-use bound"
            # ... or the Hellinger-affinity bound TV <= sqrt(1 - BC_T^2) (Le Cam; BC_T = prod BC_step^n, each
            # step's BC >= 1 - k q^2 (e^{mu^2} - 1): methods/tv_bound.py), ~ sqrt(T) q mu instead of T q mu:
            # PSG(240, 8.9e-9) x 7.15e6, eps = 1e-5: 1.06e-4 (joint convexity) -> 4.96e-8, delta(0) = 3.956e-8
            bh = hellinger_delta0_bound(self.groups)
            if bh < b0:
                b0, src = bh, "Hellinger-affinity bound on the total variation, methods/tv_bound.py"
            tail = self._tail_bound(x)
            if tail is not None and math.exp(min(tail, 0.0)) < min(b0, vals[d]):
                # the proven tail bound (methods/tail_bound.py) where it is the smallest: sigma 53.07, q 1.2e-6,
                # T 30, eps 9.8e-6 gave the Hellinger bound 6.3e-8 where delta < 1e-1000
                src = ("tail bound: union bound beyond a truncation level plus a Chernoff bound on the truncated "
                       "product measure, methods/tail_bound.py")
                diag["note"] = diag["note"].replace(diag["upper_bound_source"], src)
                diag["upper_bound_source"] = src
                diag["log_upper_bound"] = tail
                return Row(float(math.exp(min(tail, 0.0))), d, False, diag, "chernoff-bound")
            if b0 < vals[d]:
                diag["note"] = diag["note"].replace(diag["upper_bound_source"], f"delta(eps) <= delta(0) <= {src}")
                diag["upper_bound_source"] = src
                return Row(float(b0), d, False, diag, "chernoff-bound")
        return Row(float(vals[d]), d, False, diag, "chernoff-bound")

    def _tail_eps(self, delta: float, eps_hi: float) -> tuple[float, dict[str, Any]] | None:
        """(a proven upper bound on eps(delta) below ``eps_hi``, search details) from the tail bound of
        :mod:`.tail_bound` (subsampled Gaussians with q < 1 only); 0.0 where delta(0) <= delta is proven;
        None where it does not apply or gives nothing below ``eps_hi``.  20-120 ms."""
        from . import tail_bound

        if self._fewpart_groups() is None or not (eps_hi > 0.0):
            return None
        try:
            return tail_bound.epsilon_bound(self.groups, delta, eps_hi)
        except (ArithmeticError, ValueError):
            return None


def _upper_of(row: Row) -> float:
    """The value of a chain's row to build an upper bound from: a valid answer's value (exact to its
    tolerance), a bound's value, a flagged estimate's proven ``upper_bound`` (else its value)."""
    if row.valid or row.method in BOUND_METHODS:
        return float(row.value)
    ub = row.diagnostics.get("upper_bound")
    return float(ub) if ub is not None else float(row.value)


class _GroupsView:
    """The ``groups()`` view :mod:`ewacct.bounds.two_step` reads from an accountant."""

    def __init__(self, groups: Groups) -> None:
        self._g = list(groups)

    def groups(self) -> Groups:
        return self._g


#: the two-step cell kernel's range (ewacct.bounds.two_step.KERNEL_MU_MAX = 10: sigma >= 0.1); below, that
#: module answers by an Arb integral taking seconds, not tried here
TWO_STEP_SIGMA_MIN = 0.1
#: secant steps of an eps(delta) bracket search (one delta bracket each, 10-25 ms) ...
TWO_STEP_EVALS = 12
#: ... and the CPU seconds the whole search may take (it runs after the exact stages, whose budget may be
#: spent: the call then takes up to CALL_BUDGET + this)
TWO_STEP_BUDGET = 0.15


def _two_step_applies(groups: Groups) -> bool:
    return (sum(int(n) for _, n in groups) == 2
            and all(isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0
                    and m.noise_multiplier >= TWO_STEP_SIGMA_MIN for m, _ in groups))


def two_step_eps_bracket(dbr: Callable[[float], Any], delta: float, guess: float | None,
                         rel: float = 0.4 * EXACT_RTOL) -> tuple[tuple[float, float] | None, dict[str, Any]]:
    """A verified bracket [e_dn, e_up] of eps(delta) from verified brackets ``dbr(e) = (lo, hi)`` of a
    non-increasing delta(e): hi(e_up) <= delta gives eps(delta) <= e_up, lo(e_dn) > delta gives
    eps(delta) > e_dn (eps(delta) = inf{e >= 0 : delta(e) <= delta}).  A safeguarded secant on the
    brackets' midpoints (log delta against eps) from ``guess`` finds the root to the brackets' own
    resolution, then the ends e -+ w are checked, w = rel e widened 10x at a time where the delta brackets
    cannot separate them (eps far below 1: delta(eps) - delta(0) is then below the brackets' ~1e-10
    relative width; the result is then wider than EXACT_RTOL and the caller flags it).  At most
    TWO_STEP_BUDGET of CPU.  ((0, 0), info) where hi(0) <= delta."""
    ld = math.log(delta)
    n = [0]
    stop = budget.clock() + TWO_STEP_BUDGET

    def br(e: float) -> tuple[float, float]:
        if budget.clock() > stop:
            raise ArithmeticError(f"two-step bracket search ran past its {TWO_STEP_BUDGET:g} s")
        n[0] += 1
        b = dbr(e)
        if b is None:
            raise ArithmeticError("no delta bracket")
        return float(b[0]), float(b[1])

    lo0, hi0 = br(0.0)
    if hi0 <= delta:
        return (0.0, 0.0), {"evaluations": n[0]}
    if not lo0 > delta:
        return None, {}
    # g(e) = log mid(e) - log delta, decreasing; secant steps kept inside the bracket [a, b] of the root
    a, b = 0.0, math.inf
    e = guess if guess is not None and guess > 0.0 and math.isfinite(guess) else 1.0
    prev: tuple[float, float] | None = (0.0, math.log(0.5 * (lo0 + hi0)) - ld)
    for _ in range(TWO_STEP_EVALS):
        lo, hi = br(e)
        mid = 0.5 * (lo + hi)
        g = math.log(mid) - ld if mid > 0.0 else -math.inf
        if g > 0.0:
            a = e
        else:
            b = e
        if math.isfinite(g) and abs(g) <= 2.0 * (hi - lo) / mid:
            break  # at the brackets' resolution
        en = math.nan
        if prev is not None and math.isfinite(g) and math.isfinite(prev[1]) and g != prev[1]:
            en = e - g * (e - prev[0]) / (g - prev[1])
        prev = (e, g)
        if not (a < en < b):
            en = 0.5 * (a + b) if b < math.inf else 4.0 * max(e, 1e-12)
        if abs(en - e) <= 0.05 * rel * e:
            e = en
            break
        e = en
    w = rel * e
    while w <= 0.1 * e:
        up, dn = e + w, e - w
        if br(up)[1] <= delta and br(dn)[0] > delta:
            return (dn, up), {"evaluations": n[0]}
        w *= 10.0
    return None, {"evaluations": n[0]}


def _add_not_larger(add: Any, kind: str, x: float, remove_value: float) -> str | None:
    """Why the ADD direction of a Laplace mix cannot exceed the REMOVE value (None if it may)."""
    if add.symmetric:
        return "the same law as REMOVE (Laplace and Gaussian losses are symmetric)"
    try:
        if kind == "epsilon":
            if remove_value > 0.0 and add.chernoff_eps(math.log(x)) <= remove_value:
                return "below the REMOVE value (Chernoff bound)"
        elif remove_value > 0.0 and add.log_chernoff(x) <= math.log(remove_value):
            return "below the REMOVE value (Chernoff bound)"
    except (ArithmeticError, ValueError):
        return None
    return None


# ---------------------------------------------------------------------- expansions against exact
def against_exact(exact: list[Row], est: np.ndarray, direction: np.ndarray, valid: np.ndarray,
                  methods: list[str], diags: list[dict[str, Any]], *, fallback: bool) -> None:
    """Measure an expansion's answers against the exact rows, in place: ``diagnostics["exact"]``,
    ``["error_vs_exact"]``; valid only within ``EXPANSION_TOLERANCE``.  With ``fallback`` an answer
    outside the tolerance is replaced by the exact one (the diagnostics say so).  Where no exact value
    was obtained (a bound answered instead), the expansion's error is unmeasured and the answer is not
    valid: a heuristic ratio alone passed 26 % too-low answers (reviewer H-R6 F1)."""
    for i, (v, d, ok, diag, used) in enumerate(exact):
        if not (str(used).startswith("exact") and ok):
            diags[i] = {**diags[i], "exact": None, "exact_note": diag.get("note") or (
                f"no exact value ({used}): the expansion's error is not measured")}
            valid[i] = False
            continue
        err = (float(est[i]) - v) / v if v > 0.0 else (0.0 if est[i] <= 1e-15 else math.inf)
        diags[i] = {**diags[i], "exact": v, "error_vs_exact": err}
        valid[i] = bool(valid[i]) and abs(err) <= EXPANSION_TOLERANCE
        if fallback and not valid[i]:
            diags[i] = {**diags[i], "tilted_estimate": float(est[i]),
                        "fallback": "tilted expansion outside tolerance; answered by the exact engine"}
            est[i], direction[i], valid[i], methods[i] = v, d, ok, "exact"


# ---------------------------------------------------------------------- certified brackets
def _clamp_flagged(i: int, est: np.ndarray, diags: list[dict[str, Any]], lo: float, hi: float,
                   valid: Any, methods: Any) -> None:
    """A flagged answer (``valid=False``) outside its certified bracket [lo, hi], in place: both ends are proven
    (eps or delta lies in it), so the nearer end is closer to the truth than the answer.  A flagged upper bound
    (BOUND_METHODS) above ``hi`` becomes ``hi``, a tighter proven upper bound; a flagged estimate becomes the
    nearer end.  The answer it replaces stays in ``diagnostics['unclamped']``.  Valid answers are left alone
    (outside the bracket they are a defect, warned about by the caller)."""
    if valid is None or bool(valid[i]) or not (lo <= hi) or lo - 1e-9 <= est[i] <= hi + 1e-9:
        return
    is_bound = methods is not None and methods[i] in BOUND_METHODS
    old = float(est[i])
    if old > hi:
        est[i] = hi
        what = ("lowered to the certified upper end (a tighter proven upper bound)" if is_bound
                else "lowered to the certified upper end (the bracket's nearer end; a proven upper bound)")
    elif not is_bound:
        est[i] = lo
        what = "raised to the certified lower end (the bracket's nearer end; still an estimate, not a bound)"
    else:
        return  # a proven upper bound below a proven lower end: a defect; the caller warns
    diags[i] = {**diags[i], "unclamped": old,
                "note": f"{diags[i].get('note') or 'flagged answer'}; the flagged value {old:.8g} lay outside its "
                        f"certified bracket [{lo:.8g}, {hi:.8g}]: {what}"}


def certify_epsilon(acc: Any, d_arr: np.ndarray, est: np.ndarray, diags: list[dict[str, Any]],
                    opts: dict[str, Any], valid: Any = None, methods: Any = None):
    """(lower, upper, source) of eps per delta from :func:`ewacct.bounds.certify.certified_epsilon`;
    a fallback's estimate above the certified upper end is lowered to it, a flagged answer outside its
    bracket is moved to the bracket's nearer end (:func:`_clamp_flagged`, given ``valid`` and ``methods``:
    PSG(0.3, 1e-9) x 3 at delta 1e-12 kept the flagged bound 7.003 beside the bracket [0.0109413, 0.0109420]),
    and a valid estimate outside its bracket is flagged in the diagnostics and warned about."""
    from ..bounds.certify import certified_epsilon

    lo = np.empty_like(est)
    hi = np.empty_like(est)
    sources = []
    for i, dl in enumerate(d_arr):
        c = certified_epsilon(acc, float(dl), **opts)
        lo[i], hi[i] = c.lower, c.upper
        if diags[i].get("fallback") and est[i] > c.upper:
            # the fallback's answer is itself a (coarser) pessimistic PLD bound: keep the tighter one
            est[i] = c.upper
        sources.append(c.source)
        diags[i] = {**diags[i], "certificate": c.as_dict()}
        _clamp_flagged(i, est, diags, float(c.lower), float(c.upper), valid, methods)
        if not (c.lower - 1e-9 <= est[i] <= c.upper + 1e-9):
            diags[i]["estimate_outside_bracket"] = True
            warnings.warn(
                f"the estimate {est[i]:.6g} lies outside its certified bracket [{c.lower:.6g}, {c.upper:.6g}]; "
                "use the certified upper bound", EdgeworthValidityWarning, stacklevel=3)
    return lo, hi, _source(sources)


def certify_delta(acc: Any, e_arr: np.ndarray, est: np.ndarray | None = None,
                  diags: list[dict[str, Any]] | None = None, valid: Any = None, methods: Any = None):
    """(lower, upper, source) of delta per eps from :func:`ewacct.bounds.certify.certified_delta`; with ``est``
    and ``diags``, a flagged answer outside its bracket is moved to its nearer end (:func:`_clamp_flagged`)."""
    from ..bounds.certify import certified_delta

    lo = np.empty_like(e_arr)
    hi = np.empty_like(e_arr)
    sources = []
    for i, e in enumerate(e_arr):
        c = certified_delta(acc, float(e))
        lo[i], hi[i] = c.lower, c.upper
        sources.append(c.source)
        if est is not None and diags is not None:
            _clamp_flagged(i, est, diags, float(c.lower), float(c.upper), valid, methods)
    return lo, hi, _source(sources)


def _source(sources: list[str]) -> str:
    return sources[0] if len(set(sources)) == 1 else ",".join(sources)
