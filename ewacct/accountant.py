"""The accountant: compose mechanisms, then ask for delta(eps), eps(delta) or beta(alpha).

Methods (``method=``):

* ``"exact"`` (default) -- the saddle-point contour integral of the composition's log-MGF
  (:mod:`ewacct.methods.exact`): the true delta(eps) / eps(delta) to a stated tolerance (built for
  1e-9 relative on delta, accepted below 1e-8), both neighbouring directions, the worse reported, with its error estimate in
  ``diagnostics["rel_error"]``.  A query the quadrature cannot settle within its budget is answered by
  a rigorous Chernoff upper bound and flagged ``valid=False`` (``method="chernoff-bound"``).
* ``"tilted"`` -- exponentially tilted (saddlepoint) Edgeworth expansion of order ``order``
  (default 3), the asymptotic expansion of the same integral.
* ``"edgeworth"`` -- plain Edgeworth of order ``order`` (default 2), plug-in at ``c = eps``.
* ``"ew-tune"`` -- EW-Tune's accountant reproduced bit for bit: order 1, REMOVE direction only,
  plug-in at ``c = eps``.  For comparison only; it under-reports epsilon in EW-Tune's own settings.

The expansions report their measured error against the exact value (``diagnostics["exact"]``,
``diagnostics["error_vs_exact"]``) and are ``valid`` only within ``EXPANSION_TOLERANCE`` of it; with
``fallback=True`` an expansion outside that tolerance is replaced by the exact value (the result says so).

Whatever the method, compositions with a closed form are answered exactly: only Gaussian
mechanisms (``exact-gaussian``), one subsampled-Gaussian step (``exact-single-step``), or randomized
response of one parameter (``exact-binomial``).  A Laplace mechanism composed with itself (atoms in
the privacy loss) is answered exactly too (:mod:`ewacct.methods.laplace_exact`: the atom lattice
summed exactly, the continuous part on the contour; ``method="exact"``, error in
``diagnostics["rel_error"]``); several Laplace scales, or Laplace with (subsampled) Gaussians, are
answered exactly by the full contour where there are enough Laplace steps for its truncation bound,
else by the tilted expansion with its own validity diagnostic and a note.

Neighbouring relation: add-or-remove-one.  REMOVE compares P1 (record present) against P0, ADD
the reverse; the guarantee is the maximum of the two.

This module keeps the ledger, validates queries, dispatches them, takes the maximum over
directions and packs the results.  The methods live in :mod:`ewacct.methods`: the interface
(:mod:`~ewacct.methods.base`), the closed forms (:mod:`~ewacct.methods.closed`), the tilted
expansion (:mod:`~ewacct.methods.tilted`), plain Edgeworth (:mod:`~ewacct.methods.edgeworth`),
EW-Tune mode (:mod:`~ewacct.methods.ewtune`) and the exact method's ordered chain of engines
(:mod:`~ewacct.methods.dispatch`).
"""

from __future__ import annotations

import copy
import math
import warnings
from contextvars import ContextVar
from typing import Any, Callable

import numpy as np

from . import _validate as V
from .mechanisms import Mechanism, from_dict
from .methods import dispatch
from .methods.base import brentq  # noqa: F401  (re-exported: ewacct.calibrate uses it)
from .methods.base import CLOSED_STRUCTURES, DIRECTIONS, Answer, Method, Row, composition_cgf, loss_sup, structure, worst_direction
from .methods.closed import ClosedForm
from .methods.dispatch import EXACT_RTOL, ExactDispatch
from .methods.edgeworth import EdgeworthMethod
from .methods.ewtune import EWTUNE_DIRECTIONS, EwTuneMethod
from .methods.tilted import DEFAULT_ORDER as _TILTED_ORDER
from .methods.tilted import TiltedMethod
# the thresholds, module constants of the public API (docs/guide.md), defined where they are used
from .methods.dispatch import EXPANSION_TOLERANCE  # noqa: F401
from .methods.edgeworth import EDGEWORTH_VALIDITY_THRESHOLD  # noqa: F401
from .methods.tilted import LATTICE_MASS_THRESHOLD, TILTED_TOLERANCE  # noqa: F401
from .results import DeltaResult, EdgeworthValidityWarning, EpsilonResult, TradeoffResult

#: the exact method's valid answers within one get_epsilon(certify=True) call (Accountant._exact_rows); None outside
_ROWS_SCOPE: "ContextVar[dict | None]" = ContextVar("ewacct_rows_scope", default=None)

METHODS = ("exact", "tilted", "edgeworth", "ew-tune")
DEFAULT_METHOD = "exact"
DEFAULT_ORDER = {"exact": 0, "tilted": _TILTED_ORDER, "edgeworth": 2, "ew-tune": 1}
STATE_VERSION = 1
#: array queries of at least this size use one interpolated tilted profile per direction
BATCH_MIN = 16
#: the per-direction method of each accounting method (the exact method dispatches instead:
#: :class:`ewacct.methods.dispatch.ExactDispatch`)
_FAMILIES: dict[str, Callable[[Any, int], Method]] = {
    "tilted": TiltedMethod, "edgeworth": EdgeworthMethod, "ew-tune": EwTuneMethod}


def _check_method(method: str | None) -> str:
    m = DEFAULT_METHOD if method is None else method
    if m not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return m


def _check_noise_domain(mechanism: Mechanism) -> None:
    """Gaussian-type noise multipliers outside [SIGMA_MIN, SIGMA_MAX] = [0.05, 1e4], and sampling
    probabilities below Q_MIN = 1e-12 (the accepted domain, as for ewacct.epsilon), are refused here with a
    ValueError naming the range: beyond it the kernels
    overflow (Gaussian(1e-300): OverflowError; Gaussian(1e300): ZeroDivisionError) or estimates leave
    their certified brackets (sigma = 0.01)."""
    from .mechanisms import Gaussian, PoissonSubsampledGaussian

    if isinstance(mechanism, (Gaussian, PoissonSubsampledGaussian)):
        V.check_dpsgd_noise_multiplier(mechanism.noise_multiplier)
    if isinstance(mechanism, PoissonSubsampledGaussian):
        # q below Q_MIN = 1e-12 (as ewacct.epsilon and the CLI): at q <= 1e-50 the direct route answered
        # delta(0) = 0.31 q marked valid, below one step's TV 0.38 q (reviewer H-R9 F2)
        V.check_dpsgd_sampling_probability(mechanism.sampling_probability)


#: the largest eps grid of :meth:`Accountant.tradeoff` (one delta query per point)
MAX_TRADEOFF_GRID = 100_000


class Accountant:
    """Privacy accountant for heterogeneous compositions (Edgeworth / saddlepoint).

    Example:
        >>> import ewacct
        >>> acc = ewacct.Accountant()
        >>> _ = acc.compose(ewacct.PoissonSubsampledGaussian(noise_multiplier=1.0, sampling_probability=0.01), count=1000)
        >>> round(float(acc.get_epsilon(1e-5)), 4)
        1.8282

    Args:
        method: "exact" (default), "tilted", "edgeworth" or "ew-tune".
        order: expansion order (default 3 for tilted, 2 for edgeworth; ew-tune is always 1; unused by exact).
        fallback: replace an expansion's answer that is outside ``EXPANSION_TOLERANCE`` of the exact
            value by the exact value (the result's ``method`` and diagnostics say so).
    """

    def __init__(self, *, method: str | None = None, order: int | None = None, fallback: bool = True) -> None:
        self.method = _check_method(method)
        if self.method == "ew-tune":
            if order is not None and (isinstance(order, bool) or order != 1):
                raise ValueError(f"order must be 1 for method 'ew-tune', got {order!r}")
            order = 1
        if order is None:
            order = DEFAULT_ORDER[self.method]
        lo = 0 if self.method in ("tilted", "exact") else 1
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not lo <= int(order) <= 6:
            raise ValueError(f"order must be an integer in [{lo}, 6], got {order!r}")
        self.order = int(order)
        self.fallback = bool(fallback)
        self._ledger: list[tuple[Mechanism, int]] = []

    # ------------------------------------------------------------------ composition
    def compose(self, mechanism: Mechanism, count: int = 1) -> "Accountant":
        """Add ``count`` independent runs of ``mechanism``; returns ``self`` for chaining.

        ``count`` is an integer in [0, 2^53] (exactly representable as a float; the functional API's
        ``steps`` stops at 1e12).  The exact engine's cost does not grow with it; where the exact value
        cannot be settled (T = 2^53 at q = 0.01) the answer is a rigorous upper bound with ``valid``
        false, never a silent number."""
        if not isinstance(mechanism, Mechanism):
            from .interop import event_to_groups

            for mech, n in event_to_groups(mechanism):
                self.compose(mech, n * V.check_count("count", count))
            return self
        n = V.check_count("count", count)
        _check_noise_domain(mechanism)
        if n == 0:
            return self
        if self._ledger and self._ledger[-1][0] == mechanism:
            self._ledger[-1] = (mechanism, self._ledger[-1][1] + n)
        else:
            self._ledger.append((mechanism, n))
        return self

    @property
    def ledger(self) -> tuple[tuple[Mechanism, int], ...]:
        """What was composed, consecutive identical mechanisms merged."""
        return tuple(self._ledger)

    def pld_bracket(self) -> Any:
        """dp_accounting PLD bracket of the current composition, cached until the next compose."""
        key = tuple(self.groups())
        cached = getattr(self, "_pld", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            from .baselines.pld import PldBracket
        except ImportError:  # dp_accounting not installed
            return None
        b = PldBracket.from_accountant(self)
        self._pld = (key, b)
        return b

    def groups(self) -> list[tuple[Mechanism, int]]:
        """Distinct mechanisms with their total counts (order does not matter for accounting)."""
        if len(self._ledger) == 1:
            return [self._ledger[0]]  # (asked several times per query: no dict, no sort key)
        acc: dict[Mechanism, int] = {}
        for m, n in self._ledger:
            acc[m] = acc.get(m, 0) + n
        # a canonical order, so that sums over groups (and hence results) are bit-identical
        # whatever order the mechanisms were composed in
        return sorted(acc.items(), key=lambda mn: (type(mn[0]).__name__, sorted(mn[0].to_dict().items())))

    @property
    def steps(self) -> int:
        """Total number of composed mechanism runs."""
        return sum(n for _, n in self._ledger)

    # ------------------------------------------------------------------ structure (ewacct.methods.base)
    def _structure(self) -> str:
        return structure(self.groups())

    def _cgf(self, direction: str) -> Callable[[float, int], np.ndarray]:
        return composition_cgf(self.groups(), direction)

    def _loss_sup(self, direction: str) -> float:
        """Essential supremum of the composed loss under the upper measure (inf if unbounded)."""
        return loss_sup(self.groups(), direction)

    # ------------------------------------------------------------------ dispatch
    @property
    def _directions(self) -> tuple[str, ...]:
        return EWTUNE_DIRECTIONS if self.method == "ew-tune" else DIRECTIONS

    def _method(self) -> Method:
        """The per-direction method answering this accountant's queries: a closed form where the
        composition has one (whatever the method), else the method's own (the exact method's
        per-direction stand-in is the tilted expansion, which it uses for Laplace)."""
        g = self.groups()
        if structure(g) in CLOSED_STRUCTURES:
            return ClosedForm(g)
        if self.method == "exact":
            return TiltedMethod(g, self.order)
        return _FAMILIES[self.method](g, self.order)

    def _eps_one(self, delta: float, direction: str) -> Answer:
        """eps(delta) in one direction: (value, valid, diagnostics, method-used)."""
        return self._method().epsilon(delta, direction)

    def _rows(self, kind: str, arr: np.ndarray) -> list[Row]:
        """One worst-direction row per query: the exact dispatch, or the maximum over this method's
        directions of its per-direction answers."""
        if self.method == "exact":
            return self._exact_rows(kind, arr)
        meth = self._method()
        fn = meth.delta if kind == "delta" else meth.epsilon
        return [worst_direction(fn, float(x), self._directions, kind) for x in arr]

    def _batched(self, kind: str, arr: np.ndarray):
        """The tilted expansion's answer to many queries from one interpolated profile, or None."""
        if arr.size < BATCH_MIN or self.method != "tilted" or self._structure() != "continuous":
            return None
        meth = TiltedMethod(self.groups(), self.order)
        return meth.batched_delta(arr) if kind == "delta" else meth.batched_epsilon(arr)

    def _expansion(self, kind: str, arr: np.ndarray):
        """(est, direction, valid, diags, methods) of an expansion, measured against the exact value."""
        batched = self._batched(kind, arr)
        if batched is not None:
            est, direction, valid, ltr = batched
            diags = [{"last_term_ratio": float(r), "batched": True} for r in ltr]
            methods = ["tilted"] * arr.size
        else:
            est, direction, valid, diags, methods = _columns(self._rows(kind, arr))
        st = self._structure()
        if st in CLOSED_STRUCTURES or self._exact_engine() is not None or self._laplace_exact():
            dispatch.against_exact(self._exact_rows(kind, arr), est, direction, valid, methods, diags,
                                   fallback=self.fallback and self.method == "tilted")
        else:
            # nothing exact to measure the expansion against: its error is unknown, so it is not valid
            # (its own heuristic ratio passed answers 26 % too low: reviewer H-R6 F1)
            for i in range(arr.size):
                valid[i] = False
                diags[i] = {**diags[i], "exact": None,
                            "exact_note": "no exact evaluation of this composition: the expansion's error "
                                          "is not measured"}
        return est, direction, valid, diags, methods

    # ------------------------------------------------------------------ public queries
    def _require_nonempty(self) -> None:
        if not self._ledger:
            raise ValueError("the composition is empty: call compose(mechanism, count) first")

    def get_delta(self, target_epsilon: Any, *, certify: bool = False) -> DeltaResult:
        """delta(eps) for a scalar or an array of eps >= 0.

        Args:
            target_epsilon: eps >= 0 (finite), scalar or array.
            certify: also return certified lower/upper bounds (the same sources as ``get_epsilon``).

        Returns:
            DeltaResult; ``value`` is the certified upper bound when ``certify`` else the estimate.

        Raises:
            ValueError: on bad input or an empty composition.
        """
        eps_arr, scalar = V.as_float_array("target_epsilon", target_epsilon, lo=0.0, hi=math.inf, lo_open=False, hi_open=True)
        certify = V.check_bool("certify", certify)  # (certify="no" was truthy: breaker H-R12 F5)
        self._require_nonempty()
        if self.method == "exact":
            est, direction, valid, diags, methods = _columns(self._exact_rows("delta", eps_arr))
        else:
            est, direction, valid, diags, methods = self._expansion("delta", eps_arr)
        # delta <= 1 always: an evaluation a rounding error above 1 (a sum of lattice terms near 1:
        # 1 + 2.6e-11, reviewer H-R6 F3) is 1, closer to the truth; anything further above 1 stays an
        # internal error (the consistency check)
        over = (est > 1.0) & (est <= 1.0 + 1e-9)
        if np.any(over):
            est = np.where(over, 1.0, est)
            for i in np.flatnonzero(over):
                diags[i] = {**diags[i], "clipped_to_one": True}
        _raise_failed(diags, methods)
        lower = upper = cert = None
        if certify:
            lower, upper, cert = dispatch.certify_delta(self, eps_arr, est, diags, valid, methods)
        _warn_invalid(valid, methods)
        return _pack(DeltaResult, scalar, est, lower, upper, methods, direction, valid, cert, diags, epsilon=eps_arr,
                     _shape=np.shape(target_epsilon))

    def get_epsilon(self, target_delta: Any, *, certify: bool = False,
                    certify_options: dict[str, Any] | None = None) -> EpsilonResult:
        """eps(delta) = inf{eps >= 0: delta(eps) <= target_delta}, scalar or array of delta in (0, 1).

        Args:
            target_delta: delta in (0, 1), scalar or array.
            certify: also return a certified bracket [lower, upper]: Arb-enclosed closed forms (and
                the two-step integral), else the rigorous contour-integral enclosure, else a proven
                but wide fallback (Chernoff upper end; tilted-tail and sub-composition lower ends);
                ``certified_by`` names the source (:mod:`ewacct.bounds.certify`).
            certify_options: passed to :func:`ewacct.bounds.certify.certified_epsilon`
                (``time_budget``: CPU seconds for the contour enclosure, default 1).

        Returns:
            EpsilonResult; ``value`` is the certified upper bound when ``certify`` else the estimate.

        Raises:
            ValueError: on bad input or an empty composition.
        """
        d_arr, scalar = V.as_float_array("target_delta", target_delta, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        certify = V.check_bool("certify", certify)
        certify_options = V.check_certify_options(certify_options)
        self._require_nonempty()
        if not certify or _ROWS_SCOPE.get() is not None:
            return self._get_epsilon(d_arr, scalar, target_delta, certify, certify_options)
        tok = _ROWS_SCOPE.set({})
        try:
            return self._get_epsilon(d_arr, scalar, target_delta, certify, certify_options)
        finally:
            _ROWS_SCOPE.reset(tok)

    def _get_epsilon(self, d_arr: np.ndarray, scalar: bool, target_delta: Any, certify: bool,
                     certify_options: dict[str, Any]) -> EpsilonResult:
        """get_epsilon after its argument checks (inside the answer memo's scope where certify)."""
        if certify and self.method == "exact" and self._structure() == "continuous":
            first = self._certified_first(d_arr, certify_options)
            if first is not None:  # the enclosure's own estimate: no second evaluation of the engine
                est, direction, valid, diags, methods, lower, upper, cert = first
                return _pack(EpsilonResult, scalar, est, lower, upper, methods, direction, valid, cert, diags,
                             delta=d_arr, _shape=np.shape(target_delta))
        if self.method == "exact":
            est, direction, valid, diags, methods = _columns(self._exact_rows("epsilon", d_arr))
        else:
            est, direction, valid, diags, methods = self._expansion("epsilon", d_arr)
        _raise_failed(diags, methods)
        lower = upper = cert = None
        if certify:
            lower, upper, cert = dispatch.certify_epsilon(self, d_arr, est, diags, certify_options,
                                                             valid, methods)
        _warn_invalid(valid, methods)
        return _pack(EpsilonResult, scalar, est, lower, upper, methods, direction, valid, cert, diags, delta=d_arr,
                     _shape=np.shape(target_delta))

    def _certified_first(self, d_arr: np.ndarray, opts: dict[str, Any]):
        """Certified eps from the contour enclosure (``certified_epsilon(self, delta, **opts)``), with
        its estimate: the root of the enclosure's own trapezoidal sum (or the exact engine's where the
        engine-guided path ran), clamped into the bracket.  None unless every query is certified by
        the enclosure (the caller then asks the engine and the certificate, which the memo of
        :mod:`ewacct.bounds.certify` answers without recomputing it).  A training loop calling
        ``get_epsilon(delta, certify=True)`` after every few steps pays for the certificate only
        (the engine's float query was ~55 % of such a call)."""
        from .bounds.certify import CONTOUR_SOURCE, certified_epsilon

        est = np.empty(d_arr.shape)
        lower = np.empty(d_arr.shape)
        upper = np.empty(d_arr.shape)
        direction = np.empty(d_arr.shape, dtype=object)
        diags: list[dict[str, Any]] = []
        for i, dl in enumerate(d_arr):
            c = certified_epsilon(self, float(dl), **opts)
            if not c.source.startswith(CONTOUR_SOURCE):
                return None
            info = (c.analytic or {}).get("contour")
            if not isinstance(info, dict) or info.get("estimate") is None:
                return None
            # the enclosure's estimate is within the bracket's width of the truth (both in the bracket);
            # it stands for the exact value only where that width is within the exact tolerance, and not
            # where the bracket was kept from an earlier path or intersected (its estimate then comes
            # from a contour the final bracket did not accept: 2.9e-5 off, reviewer H-R5 D1): there the
            # engine answers the estimate (the caller; the certificate is memoised)
            if info.get("kept") or info.get("intersected") or not (
                    c.upper - c.lower <= EXACT_RTOL * max(c.upper, 1e-300)):
                return None
            est[i] = min(max(float(info["estimate"]), c.lower), c.upper)
            lower[i], upper[i] = c.lower, c.upper
            direction[i] = str(info.get("direction", "remove"))
            diags.append({"rel_error": (c.upper - c.lower) / max(c.upper, 1e-300), "certificate": c.as_dict()})
        valid = np.ones(d_arr.shape, dtype=bool)
        return est, direction, valid, diags, ["exact"] * d_arr.size, lower, upper, CONTOUR_SOURCE

    # ------------------------------------------------------------------ exact engine
    def _exact_engine(self):
        """The contour engine for the current composition (cached), or None when it does not apply."""
        key = tuple(self.groups())
        cached = getattr(self, "_exact_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        from .methods.exact import ExactMethod, supports

        eng = ExactMethod(key) if supports(key) else None
        self._exact_cache = (key, eng)
        return eng

    def _laplace_exact(self) -> bool:
        """Whether the exact method has a Laplace or a randomized-response lattice-mix evaluation for this
        composition (where one does not settle a query: the flagged composition bound for a Laplace mix,
        the noted tilted expansion for Laplace alone, a ValueError for a lattice mix)."""
        from .methods import laplace_exact

        g = self.groups()
        if structure(g) == "lattice-mixed":
            from .methods import mixed_exact

            try:
                return mixed_exact.lattice_mix_for(g) is not None
            except mixed_exact.LatticeMixError:
                return False
        return laplace_exact.composition_for(g) is not None or laplace_exact.mixed_compositions(g) is not None

    def _contour_certifier(self):
        """The contour-integral certifier for the current composition (cached), or None."""
        eng = self._exact_engine()
        if eng is None:
            return None
        cached = getattr(self, "_cert_cache", None)
        if cached is not None and cached[0] is eng:
            return cached[1]
        from .methods.certified import ContourCertifier

        cf = ContourCertifier(eng.groups, eng)
        self._cert_cache = (eng, cf)
        return cf

    def _exact_rows(self, kind: str, arr: np.ndarray) -> list[Row]:
        """(value, direction, valid, diagnostics, method) per query from the exact method
        (:class:`ewacct.methods.dispatch.ExactDispatch`).  Inside a get_epsilon(certify=True) call, answers that are
        all valid are remembered per composition and query for the rest of that call (_ROWS_SCOPE): the certified
        path asks a fresh accountant for the same estimate to centre its few-participation brackets
        (bounds/certify._fewpart_estimate), and the call then asked the engine again -- 175-290 ms twice at
        sigma 0.8018, q 2.12e-5, T 10, delta 2.09e-11 (H-CC, session 17: 1092 -> 501 ms loaded; 140 -> 79 ms at
        sigma 0.3961, q 2.1e-5, T 4; same brackets and estimates).  A flagged answer (valid False, e.g. a budget ran
        out) is not remembered, and nothing is remembered across calls."""
        g = self.groups()
        memo = _ROWS_SCOPE.get()
        key = None
        if memo is not None:
            try:
                key = (tuple(g), kind, tuple(float(x) for x in np.asarray(arr, dtype=float).ravel()))
                hash(key)
            except Exception:  # noqa: BLE001 - an unhashable composition is simply not remembered
                key = None
        if key is not None and key in memo:
            return [r._replace(diagnostics=copy.deepcopy(r.diagnostics)) for r in memo[key]]
        eng = self._exact_engine() if structure(g) not in CLOSED_STRUCTURES else None
        rows = ExactDispatch(g, eng).rows(kind, arr)
        if key is not None and rows and all(bool(r.valid) for r in rows):
            memo[key] = [r._replace(diagnostics=copy.deepcopy(r.diagnostics)) for r in rows]
        return rows


    # ------------------------------------------------------------------ trade-off curve
    def tradeoff(self, alpha: Any, *, n_grid: int = 400) -> TradeoffResult:
        """Symmetrised f-DP trade-off curve beta(alpha) implied by the (eps, delta(eps)) profile.

        ``beta(alpha) = sup_{eps >= 0} max(0, 1 - delta(eps) - e^eps alpha, e^-eps (1 - delta(eps) - alpha))``
        over a grid of eps; a supremum of affine functions, so the curve is convex, non-increasing,
        symmetric and <= 1 - alpha by construction (Dong, Roth & Su 2022, Prop. 2.12).  delta(eps) is
        evaluated only at the grid points that can change the result for the requested alphas (the
        others are bounded by the convexity of delta: :mod:`ewacct.methods.tradeoff_profile`); the
        curve is the full grid's to 1e-9 (for the same delta values), never above it.  ``valid`` is
        False where a delta value used was not exact (e.g. a flagged Chernoff bound: a smaller beta,
        the safe side).

        Args:
            alpha: type I error(s) in [0, 1].
            n_grid: number of eps grid points of the profile, an integer in [1, 100000] (typically
                5-25 of them are evaluated for a few alphas, each one delta(eps) query of the
                composition; ``diagnostics["n_evaluated"]`` says how many).

        Returns:
            TradeoffResult with arrays ``alpha`` and ``beta``.

        Raises:
            ValueError: alpha outside [0, 1] or n_grid outside [1, 100000].
        """
        a_arr, _ = V.as_float_array("alpha", alpha, lo=0.0, hi=1.0, lo_open=False, hi_open=False)
        self._require_nonempty()
        n_grid = V.check_count("n_grid", n_grid, allow_zero=False)
        if n_grid > MAX_TRADEOFF_GRID:  # (10^6 ran for minutes, 10^9 ran out of memory)
            raise V.InputError(f"n_grid must be an integer in [1, {MAX_TRADEOFF_GRID}], got {n_grid}")
        from .methods import budget
        from .methods.tradeoff_profile import grid_sup

        flagged: list[tuple[float, str, str]] = []  # (eps, method, note) of the delta values that were not exact

        def profile(eps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            prof = self.get_delta(eps)
            ok = np.asarray(prof.valid, bool).reshape(-1)
            if not ok.all():
                d = prof.diagnostics if isinstance(prof.diagnostics, dict) else {}
                rows = d.get("per_query", [d] * ok.size)
                meths = np.broadcast_to(np.asarray(d.get("methods", [prof.method] * ok.size), object), ok.shape)
                for i in np.flatnonzero(~ok):
                    r = rows[i] if i < len(rows) and isinstance(rows[i], dict) else {}
                    flagged.append((float(np.reshape(eps, -1)[i]), str(meths[i]),
                                    str(r.get("note") or r.get("error") or r.get("why_not_exact") or "")))
            return np.asarray(prof.estimate, float).reshape(-1), ok

        # one CPU budget for the whole curve (methods/budget.py): delta(eps) evaluated after it ran out is the
        # flagged upper bound (a smaller beta, the safe side; valid False)
        with budget.limit(budget.TRADEOFF_BUDGET):
            eps_max = (float(self.get_epsilon(1e-12).estimate) if self._structure() != "lattice"
                       else self._loss_sup("remove"))
            eps_grid = np.linspace(0.0, max(eps_max, 1e-6) * 1.05, n_grid)
            # the supremum over the grid, delta(eps) evaluated only where it can change the result (convexity
            # of delta bounds the rest): the same curve as the full grid to 1e-9, never above it
            beta, info = grid_sup(eps_grid, a_arr, profile)
        diags = {"eps_grid_max": float(eps_grid[-1]), "n_grid": n_grid, "n_evaluated": info["n_evaluated"]}
        if flagged:
            # why the curve is valid=False (breaker H-R12 F3, session 14: the flag came without a reason)
            e0, m0, n0 = flagged[0]
            diags["invalid_reason"] = (
                f"{len(flagged)} of the {info['n_evaluated']} delta(eps) values used were not exact (first at "
                f"eps={e0:.6g}: {m0}{': ' + n0 if n0 else ''}); they are upper bounds of delta or estimates, so "
                f"beta there is on the low (safe) side; the curve shares one CPU budget of "
                f"{budget.TRADEOFF_BUDGET:g} s (methods/budget.py TRADEOFF_BUDGET): fewer alphas settle sooner")
        return TradeoffResult(alpha=a_arr, beta=beta, method=self.method, valid=info["valid"], diagnostics=diags)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Versioned, JSON-able state: settings and the replayable ledger."""
        return {
            "version": STATE_VERSION,
            "kind": "ewacct.Accountant",
            "settings": {"method": self.method, "order": self.order, "fallback": self.fallback},
            "ledger": [{"mechanism": m.to_dict(), "count": n} for m, n in self._ledger],
        }

    def load_state_dict(self, state: dict[str, Any]) -> "Accountant":
        """Restore from :meth:`state_dict`; rejects foreign, corrupted or newer states."""
        if not isinstance(state, dict) or state.get("kind") != "ewacct.Accountant":
            raise ValueError("not an ewacct accountant state (missing or wrong 'kind')")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {state.get('version')!r}; this ewacct reads version {STATE_VERSION}")
        try:
            settings = state["settings"]
            ledger = [(from_dict(e["mechanism"]), V.check_count("count", e["count"])) for e in state["ledger"]]
            fresh = Accountant(method=settings["method"], order=settings["order"], fallback=settings["fallback"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"corrupted accountant state: {exc!r}") from None
        self.method, self.order, self.fallback = fresh.method, fresh.order, fresh.fallback
        self._ledger = []
        for m, n in ledger:
            self.compose(m, n)
        return self

    def copy(self) -> "Accountant":
        """An independent deep copy (ledger and settings)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return f"Accountant(method={self.method!r}, order={self.order}, groups={len(self.groups())}, steps={self.steps})"


# ---------------------------------------------------------------------- helpers
def _columns(rows: list[tuple[float, str, bool, dict[str, Any], str]]):
    """(values, directions, valid flags, diagnostics, methods) from per-query rows."""
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=object),
            np.array([r[2] for r in rows]), [r[3] for r in rows], [r[4] for r in rows])


def _check_consistency(cls, est, lower, upper, valid, diags) -> None:
    """Checked before any result leaves the accountant: finite, in range, lower <= upper, and the
    estimate inside its certified bracket (else flagged invalid, with the reason)."""
    est = np.asarray(est, dtype=float).reshape(-1)
    hi_ok = 1.0 if cls is DeltaResult else math.inf
    for i, e in enumerate(est):
        if not (math.isfinite(e) and 0.0 <= e <= hi_ok):
            raise FloatingPointError(f"internal error: a result evaluated to {e!r}; please report this configuration")
    if lower is None or upper is None:
        return
    lo = np.asarray(lower, dtype=float).reshape(-1)
    hi = np.asarray(upper, dtype=float).reshape(-1)
    for i in range(est.size):
        if not (math.isfinite(lo[i]) and lo[i] >= 0.0) or not hi[i] >= 0.0:
            raise FloatingPointError(f"internal error: certified bracket [{lo[i]!r}, {hi[i]!r}]; please report")
        if lo[i] > hi[i] * (1.0 + 1e-12) + 1e-300:
            raise FloatingPointError(
                f"internal error: certified lower bound {lo[i]:.9g} above upper bound {hi[i]:.9g}; please report")
        if not (lo[i] * (1 - 1e-9) - 1e-15 <= est[i] <= hi[i] * (1 + 1e-9) + 1e-15):
            diags[i] = {**diags[i], "estimate_outside_bracket": True}
            valid[i] = False


def _pack(cls, scalar, est, lower, upper, methods, direction, valid, cert, diags, _shape=None, **extra):
    _check_consistency(cls, est, lower, upper, valid, diags)
    method = methods[0] if len(set(methods)) == 1 else "mixed:" + ",".join(sorted(set(methods)))
    if scalar:
        conv = lambda x: None if x is None else float(np.asarray(x).reshape(-1)[0])  # noqa: E731
        e, lo, hi = conv(est), conv(lower), conv(upper)
        value = hi if upper is not None else e
        kw = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in extra.items()}
        return cls(value=value, estimate=e, lower=lo, upper=hi, method=method, direction=str(direction[0]),
                   valid=bool(valid[0]), certified_by=cert, diagnostics={**diags[0], "methods": methods}, **kw)
    if _shape is not None and len(_shape) > 1:
        # array answers keep the query's shape (a (2, 2) array of deltas gives (2, 2) answers; the
        # per-query diagnostics stay a flat list in C order)
        shaped = lambda x: None if x is None else np.asarray(x).reshape(_shape)  # noqa: E731
        est, lower, upper, direction, valid = (shaped(x) for x in (est, lower, upper, direction, valid))
        extra = {k: shaped(v) for k, v in extra.items()}
    value = upper if upper is not None else est
    return cls(value=value, estimate=est, lower=lower, upper=upper, method=method, direction=direction,
               valid=valid, certified_by=cert, diagnostics={"per_query": diags, "methods": methods}, **extra)


def _raise_failed(diags: list[dict[str, Any]], methods: list[str]) -> None:
    """A query whose expansion failed numerically and was not answered by a fallback is an error."""
    for d, m in zip(diags, methods):
        if "error" in d and m not in ("pld", "exact", *dispatch.BOUND_METHODS):
            raise ValueError(
                f"the {m} expansion failed numerically here ({d['error']}); use the exact method "
                "(the default) or a certified bracket (certify=True; CLI: --certify)")


def _warn_invalid(valid: np.ndarray, methods: list[str]) -> None:
    if not np.all(valid):
        n = int(np.sum(~np.asarray(valid)))
        warnings.warn(
            f"{n} estimate(s) are outside the validity domain of the expansion "
            f"({sorted(set(methods))}); do not state them: the exact method (the default) or a certified "
            "bracket (certify=True; CLI: --certify) gives the number to state",
            EdgeworthValidityWarning,
            stacklevel=3,
        )
