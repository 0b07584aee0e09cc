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
response of one parameter (``exact-binomial``).  Laplace mechanisms (atoms in the privacy loss) are
not handled by the contour engine in this version: they are answered by the tilted expansion with
its own validity diagnostic.

Neighbouring relation: add-or-remove-one.  REMOVE compares P1 (record present) against P0, ADD
the reverse; the guarantee is the maximum of the two.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import _validate as V
from ._kernels.special import norm_logcdf
from .expansions.edgeworth import EdgeworthLaw
from .expansions.tilted import TiltedPoint, delta_at_tilt, saddlepoint
from .mechanisms import (
    Gaussian,
    Laplace,
    Mechanism,
    PoissonSubsampledGaussian,
    RandomizedResponse,
    from_dict,
)
from .results import DeltaResult, EdgeworthValidityWarning, EpsilonResult, TradeoffResult

METHODS = ("exact", "tilted", "edgeworth", "ew-tune")
DEFAULT_METHOD = "exact"
DEFAULT_ORDER = {"exact": 0, "tilted": 3, "edgeworth": 2, "ew-tune": 1}
#: an expansion is valid when within this relative distance of the exact value
EXPANSION_TOLERANCE = 1e-3
#: tilted expansion: largest accepted |delta_r - delta_{r-1}| / delta_r at the answer
TILTED_TOLERANCE = 5e-3
#: plain Edgeworth: largest accepted first-correction / Gaussian-tail ratio (docs/math.md, validity of the plain expansion)
EDGEWORTH_VALIDITY_THRESHOLD = 1.0
#: Laplace: largest accepted probability that the tilted composed loss is purely atomic
LATTICE_MASS_THRESHOLD = 1e-3
STATE_VERSION = 1
#: array queries of at least this size use one interpolated tilted profile per direction
BATCH_MIN = 16
DIRECTIONS = ("remove", "add")


def brentq(*args, **kwargs):
    """scipy.optimize.brentq, imported on first use (it costs a noticeable share of CLI start-up)."""
    from scipy.optimize import brentq as _brentq

    return _brentq(*args, **kwargs)


def _check_method(method: str | None) -> str:
    m = DEFAULT_METHOD if method is None else method
    if m not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    return m


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
            if order not in (None, 1):
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
        """Add ``count`` independent runs of ``mechanism``; returns ``self`` for chaining."""
        if not isinstance(mechanism, Mechanism):
            from .interop import event_to_groups

            for mech, n in event_to_groups(mechanism):
                self.compose(mech, n * V.check_count("count", count))
            return self
        n = V.check_count("count", count)
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

    # ------------------------------------------------------------------ structure
    def _structure(self) -> str:
        g = self.groups()
        if not g:
            return "empty"
        kinds = {m.kind if not (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability == 1.0) else "gaussian" for m, _ in g}
        if "lattice" in kinds:
            if kinds != {"lattice"} or len(g) != 1:
                raise ValueError(
                    "randomized response can be composed only with randomized response of the same epsilon0 "
                    "(mixing a lattice PLRV with others is not supported in this version)"
                )
            return "lattice"
        if kinds == {"gaussian"}:
            return "gaussian"
        if len(g) == 1 and g[0][1] == 1 and isinstance(g[0][0], PoissonSubsampledGaussian):
            return "single-step"
        return "continuous"

    def _gaussian_mu(self) -> float:
        return math.sqrt(sum(n * (1.0 / m.noise_multiplier) ** 2 for m, n in self.groups()))

    def _cgf(self, direction: str) -> Callable[[float, int], np.ndarray]:
        groups = self.groups()

        def cgf(t: float, nmax: int) -> np.ndarray:
            out = np.zeros(nmax + 1)
            for m, n in groups:
                out += n * m.cgf(t, nmax, direction=direction)
            return out

        return cgf

    def _loss_sup(self, direction: str) -> float:
        """Essential supremum of the composed loss under the upper measure (inf if unbounded)."""
        s = 0.0
        for m, n in self.groups():
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

    # ------------------------------------------------------------------ per-direction scalar kernels
    def _delta_one(self, eps: float, direction: str) -> tuple[float, bool, dict[str, Any], str]:
        """delta(eps) in one direction: (value, valid, diagnostics, method-used)."""
        st = self._structure()
        if st == "gaussian":
            return _gaussian_delta(eps, self._gaussian_mu()), True, {}, "exact-gaussian"
        if st == "single-step":
            m = self.groups()[0][0]
            return m.exact_single_step_delta(eps, direction), True, {}, "exact-single-step"
        if st == "lattice":
            m, n = self.groups()[0]
            return _rr_delta(eps, m.epsilon0, n), True, {}, "exact-binomial"
        if eps >= self._loss_sup(direction):
            return 0.0, True, {"note": "eps exceeds the largest possible privacy loss"}, self.method
        if self.method == "tilted":
            cgf = self._cgf(direction)
            try:
                t = saddlepoint(cgf, eps, nmax=self.order + 2)
                p = delta_at_tilt(cgf, t, self.order, eps)
            except FloatingPointError as exc:
                return 0.0, False, {"error": str(exc)}, "tilted"
            return self._tilted_report(p, direction)
        law_p, law_q = self._edgeworth_laws(direction)
        if self.method == "ew-tune":
            # faithful to EW-Tune: tails formed as 1 - F (with its cancellation), reproduces its logs
            d = float((1.0 - law_p.cdf(eps)[0]) - math.exp(eps) * (1.0 - law_q.cdf(eps)[0]))
        else:
            d = float(law_p.scaled_sf(eps)[0] - law_q.scaled_sf(eps, eps)[0])
        ratio = float(max(law_p.first_correction_ratio(eps)[0], law_q.first_correction_ratio(eps)[0]))
        valid = ratio <= EDGEWORTH_VALIDITY_THRESHOLD and d >= 0.0
        return max(d, 0.0), valid, {"first_correction_ratio": ratio, "raw_delta": d}, self.method

    def _tilted_report(self, p: TiltedPoint, direction: str) -> tuple[float, bool, dict[str, Any], str]:
        diag = {
            "tilt": p.t,
            "last_term_ratio": p.last_term_ratio,
            "correction_ratio": p.correction_ratio,
            "lambda3": p.lam3,
            "lambda4": p.lam4,
        }
        valid = p.last_term_ratio <= TILTED_TOLERANCE and p.delta >= 0.0
        lat = self._lattice_mass(p.t, direction)
        if lat is not None:
            diag["lattice_mass"] = lat
            valid = valid and lat <= LATTICE_MASS_THRESHOLD
        return max(p.delta, 0.0), valid, diag, "tilted"

    def _lattice_mass(self, t: float, direction: str) -> float | None:
        lap = [(m, n) for m, n in self.groups() if isinstance(m, Laplace)]
        if not lap:
            return None
        return float(math.exp(sum(n * math.log(m.atom_mass(t, direction=direction)) for m, n in lap)))

    def _edgeworth_laws(self, direction: str) -> tuple[EdgeworthLaw, EdgeworthLaw]:
        cgf = self._cgf(direction)
        nmax = self.order + 2
        cum_p = cgf(0.0, nmax)[1:]
        cum_q = cgf(-1.0, nmax)[1:]
        return EdgeworthLaw(cum_p, self.order), EdgeworthLaw(cum_q, self.order)

    def _eps_one(self, delta: float, direction: str) -> tuple[float, bool, dict[str, Any], str]:
        st = self._structure()
        if st in ("gaussian", "single-step", "lattice") or self.method in ("edgeworth", "ew-tune"):
            f = lambda e: self._delta_one(e, direction)  # noqa: E731
            eps = _invert_monotone(lambda e: f(e)[0], delta)
            _, valid, diag, used = f(eps)
            return eps, valid, diag, used
        try:
            return self._tilted_eps(delta, direction)
        except FloatingPointError as exc:
            return 0.0, False, {"error": str(exc)}, "tilted"

    def _tilted_eps(self, delta: float, direction: str) -> tuple[float, bool, dict[str, Any], str]:
        # tilted: parametrise by the tilt t, eps(t) = K'(t)
        cgf = self._cgf(direction)
        # common case (DP-SGD, small delta): the answer lies above the mean, t > 0; Newton from t = 0
        t_newton = _newton_tilt(cgf, self.order, delta, 0.0)
        if t_newton is not None:
            p = delta_at_tilt(cgf, t_newton, self.order)
            d, valid, diag, used = self._tilted_report(p, direction)
            return max(p.eps, 0.0), valid, diag, used
        t0 = saddlepoint(cgf, 0.0, nmax=self.order + 2)
        p0 = delta_at_tilt(cgf, t0, self.order, 0.0)
        if p0.delta <= delta:
            d, valid, diag, used = self._tilted_report(p0, direction)
            return 0.0, valid, diag, used

        def logdelta(t: float) -> float:
            return math.log(max(delta_at_tilt(cgf, t, self.order).delta, 1e-320)) - math.log(delta)

        lo, hi = t0, max(t0, 0.0) + 1.0
        while logdelta(hi) > 0.0:
            lo, hi = hi, 2.0 * hi + 1.0
            if hi > 1e6:
                raise FloatingPointError("could not bracket the tilt for this delta")
        t = brentq(logdelta, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=200)
        p = delta_at_tilt(cgf, t, self.order)
        d, valid, diag, used = self._tilted_report(p, direction)
        return max(p.eps, 0.0), valid, diag, used

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
        self._require_nonempty()
        if self.method == "exact":
            est, direction, valid, diags, methods = _columns(self._exact_rows("delta", eps_arr))
        else:
            batched = self._batched_delta(eps_arr) if eps_arr.size >= BATCH_MIN else None
            if batched is not None:
                est, direction, valid, ltr = batched
                methods = ["tilted"] * eps_arr.size
                diags = [{"last_term_ratio": float(r), "batched": True} for r in ltr]
            else:
                rows = [self._delta_both(float(e)) for e in eps_arr]
                est = np.array([r[0] for r in rows])
                direction = np.array([r[1] for r in rows], dtype=object)
                valid = np.array([r[2] for r in rows])
                methods = [r[4] for r in rows]
                diags = [r[3] for r in rows]
            self._against_exact("delta", eps_arr, est, direction, valid, methods, diags)
        _raise_failed(diags, methods)
        lower = upper = None
        cert = None
        if certify:
            lower, upper, cert = self._certify_delta(eps_arr)
        _warn_invalid(valid, methods)
        return _pack(DeltaResult, scalar, est, lower, upper, methods, direction, valid, cert, diags, epsilon=eps_arr)

    def _delta_both(self, eps: float) -> tuple[float, str, bool, dict[str, Any], str]:
        dirs = ("remove",) if self.method == "ew-tune" else DIRECTIONS
        # the answer is the max over directions, so it is valid only if every direction's value is:
        # an invalid (possibly too small) estimate in one direction may hide the true maximum.
        best = None
        all_valid = True
        for d in dirs:
            val, valid, diag, used = self._delta_one(eps, d)
            _check_finite("delta", val)
            all_valid = all_valid and valid
            if best is None or val > best[0]:
                best = (val, d, valid, diag, used)
        assert best is not None
        return best[0], best[1], all_valid, best[3], best[4]

    def _eps_both(self, delta: float) -> tuple[float, str, bool, dict[str, Any], str]:
        """eps in every direction of the method, the worst reported; valid only if every direction is."""
        dirs = ("remove",) if self.method == "ew-tune" else DIRECTIONS
        best = None
        all_valid = True
        for d in dirs:
            e, ok, diag, used = self._eps_one(delta, d)
            _check_finite("epsilon", e)
            all_valid = all_valid and ok
            if best is None or e > best[0]:
                best = (e, d, ok, diag, used)
        assert best is not None
        return best[0], best[1], all_valid, best[3], best[4]

    def get_epsilon(self, target_delta: Any, *, certify: bool = False,
                    certify_options: dict[str, Any] | None = None) -> EpsilonResult:
        """eps(delta) = inf{eps >= 0: delta(eps) <= target_delta}, scalar or array of delta in (0, 1).

        Args:
            target_delta: delta in (0, 1), scalar or array.
            certify: also return a certified bracket [lower, upper]: Arb-enclosed closed forms, else
                the rigorous contour-integral enclosure, else a labelled fallback (dp_accounting PLD,
                Chernoff); ``certified_by`` names the source (:mod:`ewacct.bounds.certify`).
            certify_options: passed to :func:`ewacct.bounds.certify.certified_epsilon`
                (``width``, ``value_discretization_interval``).

        Returns:
            EpsilonResult; ``value`` is the certified upper bound when ``certify`` else the estimate.

        Raises:
            ValueError: on bad input or an empty composition.
        """
        d_arr, scalar = V.as_float_array("target_delta", target_delta, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        self._require_nonempty()
        if certify and self.method == "exact" and not certify_options and self._structure() == "continuous":
            first = self._certified_first(d_arr)
            if first is not None:  # the enclosure's own estimate: no second evaluation of the engine
                est, direction, valid, diags, methods, lower, upper, cert = first
                return _pack(EpsilonResult, scalar, est, lower, upper, methods, direction, valid, cert, diags,
                             delta=d_arr)
        if self.method == "exact":
            est, direction, valid, diags, methods = _columns(self._exact_rows("epsilon", d_arr))
        else:
            dirs = ("remove",) if self.method == "ew-tune" else DIRECTIONS
            est = np.empty(d_arr.shape)
            direction = np.empty(d_arr.shape, dtype=object)
            valid = np.empty(d_arr.shape, dtype=bool)
            methods = []
            diags = []
            batched = self._batched_eps(d_arr) if d_arr.size >= BATCH_MIN else None
            for i, dl in enumerate(d_arr if batched is None else []):
                est[i], direction[i], valid[i], diag, used = self._eps_both(float(dl))
                diags.append(diag)
                methods.append(used)
            if batched is not None:
                est[:], direction[:], valid[:] = batched[0], batched[1], batched[2]
                diags = [{"last_term_ratio": float(r), "batched": True} for r in batched[3]]
                methods = ["tilted"] * d_arr.size
            self._against_exact("epsilon", d_arr, est, direction, valid, methods, diags)
        _raise_failed(diags, methods)
        lower = upper = None
        cert = None
        if certify:
            lower, upper, cert = self._certify_eps(d_arr, est, diags, certify_options or {})
        _warn_invalid(valid, methods)
        return _pack(EpsilonResult, scalar, est, lower, upper, methods, direction, valid, cert, diags, delta=d_arr)

    def _batched_eps(self, d_arr: np.ndarray):
        """eps for many deltas from one interpolated tilted profile per direction (None if not applicable)."""
        if self.method != "tilted" or self._structure() != "continuous" or any(
                isinstance(m, Laplace) for m, _ in self.groups()):
            return None
        from .expansions.profile import batched_tilts

        log_d = np.log(d_arr)
        per_dir = []
        for d in DIRECTIONS:
            cgf = self._cgf(d)
            try:
                lo = self._tilted_eps(float(d_arr.max()), d)
                hi = self._tilted_eps(float(d_arr.min()), d)
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
        (e_r, l_r), (e_a, l_a) = per_dir
        est = np.maximum(np.maximum(e_r, e_a), 0.0)
        direction = np.where(e_r >= e_a, "remove", "add").astype(object)
        valid = (l_r <= TILTED_TOLERANCE) & (l_a <= TILTED_TOLERANCE)
        return est, direction, valid, np.maximum(l_r, l_a)

    def _batched_delta(self, eps_arr: np.ndarray):
        """delta for many eps from one interpolated tilted profile per direction (None if not applicable)."""
        if self.method != "tilted" or self._structure() != "continuous" or any(
                isinstance(m, Laplace) for m, _ in self.groups()):
            return None
        from .expansions.profile import batched_deltas

        per_dir = []
        for d in DIRECTIONS:
            if float(eps_arr.max()) >= self._loss_sup(d):
                return None
            cgf = self._cgf(d)
            try:
                t_lo = saddlepoint(cgf, float(eps_arr.min()), nmax=self.order + 2)
                t_hi = saddlepoint(cgf, float(eps_arr.max()), nmax=self.order + 2)
            except FloatingPointError:
                return None
            if t_lo < 0.0 or t_hi - t_lo < 1e-9:
                return None
            per_dir.append(batched_deltas(cgf, self.order, eps_arr, t_lo, t_hi))
        (d_r, l_r), (d_a, l_a) = per_dir
        est = np.maximum(np.maximum(d_r, d_a), 0.0)
        direction = np.where(d_r >= d_a, "remove", "add").astype(object)
        valid = (l_r <= TILTED_TOLERANCE) & (l_a <= TILTED_TOLERANCE)
        return est, direction, valid, np.maximum(l_r, l_a)

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

    def _exact_rows(self, kind: str, arr: np.ndarray) -> list[tuple[float, str, bool, dict[str, Any], str]]:
        """(value, direction, valid, diagnostics, method) per query from the exact engine.

        Closed forms answer where they exist; Laplace compositions go to the tilted expansion.
        """
        st = self._structure()
        if st in ("gaussian", "single-step", "lattice"):
            return [self._closed_form_row(kind, float(x)) for x in arr]
        eng = self._exact_engine()
        if eng is None:
            saved = (self.method, self.order)
            self.method, self.order = "tilted", DEFAULT_ORDER["tilted"]
            try:
                both = self._delta_both if kind == "delta" else self._eps_both
                rows = [both(float(x)) for x in arr]
            finally:
                self.method, self.order = saved
            note = "Laplace atoms are outside the exact engine in this version: tilted expansion used"
            return [(r[0], r[1], r[2], {**r[3], "note": note}, r[4]) for r in rows]
        from .methods import direct
        from .methods.contour import ContourError

        if direct.supports(self.groups()) and sum(
                m.sampling_probability * n for m, n in self.groups()) < 0.5:
            # few participations in 2-3 steps: the contour's u-range would be long; direct quadrature
            return [self._short_or_bound(eng, kind, float(x), "few participations (q T < 0.5)") for x in arr]
        eng.clear()  # contours are shared within one call only: answers do not depend on history
        order = np.argsort(arr)[::-1] if kind == "epsilon" else np.argsort(arr)
        res: dict[int, tuple] = {}
        for i in order:
            x = float(arr[i])
            try:
                if kind == "delta":
                    v, d, rel, diag = eng.delta(x)
                else:
                    v, d, rel, diag = eng.epsilon(x)
                _check_finite(kind, v)
                res[int(i)] = (v, d, rel <= 1e-6, {**diag, "rel_error": rel}, "exact")
            except (ContourError, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
                res[int(i)] = self._short_or_bound(eng, kind, x, str(exc))
        out = [res[i] for i in range(arr.size)]
        return out

    def _short_or_bound(self, eng, kind: str, x: float, why: str):
        """T <= 3 steps: exact direct quadrature; few participations: ewacct.methods.fewpart; otherwise a
        flagged rigorous upper bound."""
        from .methods import direct

        if direct.supports(self.groups()):
            try:
                ds = direct.DirectShort(self.groups())
                if kind == "delta":
                    v, d, rel, diag = ds.delta(x)
                else:
                    from .methods.exact import chernoff_eps

                    v, d, rel, diag = ds.epsilon(x, add_upper=chernoff_eps(eng.dirs["add"].K, math.log(x)))
                _check_finite(kind, v)
                return v, d, rel <= 1e-6, {**diag, "rel_error": rel, "contour": why}, "exact-direct"
            except (ArithmeticError, ValueError) as exc:
                why = f"{why}; direct quadrature: {exc}"
        # few participations (sum q n <= 0.5): the truncated-MGF contour with adaptive Gauss-Kronrod in u
        from .mechanisms import PoissonSubsampledGaussian
        from .methods import fewpart

        gs = self.groups()
        if all(isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0 for m, _ in gs):
            fg = [(m.sampling_probability, m.noise_multiplier, int(n)) for m, n in gs]
            if fewpart.supports(fg):
                try:
                    f = fewpart.fewpart_delta if kind == "delta" else fewpart.fewpart_epsilon
                    v, rel, d = f(fg, x)
                    _check_finite(kind, v)
                    return v, d, rel <= 1e-6, {"rel_error": rel, "contour": why}, "exact-fewpart"
                except (ArithmeticError, ValueError) as exc:
                    why = f"{why}; few-participation quadrature: {exc}"
        return self._chernoff_row(eng, kind, x, why)

    def _chernoff_row(self, eng, kind: str, x: float, why: str):
        """A rigorous upper bound when the exact quadrature could not settle a query (flagged invalid)."""
        from .methods.exact import chernoff_eps, chernoff_log_delta

        if kind == "epsilon":
            vals = {d: chernoff_eps(eng.dirs[d].K, math.log(x)) for d in DIRECTIONS}
        else:
            vals = {d: math.exp(min(0.0, chernoff_log_delta(eng.dirs[d].K, x))) for d in DIRECTIONS}
        d = max(vals, key=vals.get)
        diag = {"error": why, "note": "exact quadrature did not converge within its budget; the value is a "
                "rigorous upper bound (Chernoff), not the exact answer"}
        return float(vals[d]), d, False, diag, "chernoff-bound"

    def _closed_form_row(self, kind: str, x: float):
        best = None
        for d in DIRECTIONS:
            v, ok, diag, used = self._delta_one(x, d) if kind == "delta" else self._eps_one(x, d)
            _check_finite(kind, v)
            if best is None or v > best[0]:
                best = (v, d, ok, diag, used)
        return best

    def _against_exact(self, kind: str, arr: np.ndarray, est: np.ndarray, direction: np.ndarray,
                       valid: np.ndarray, methods: list[str], diags: list[dict[str, Any]]) -> None:
        """Measure an expansion against the exact value; valid only within EXPANSION_TOLERANCE of it.

        With ``fallback`` (tilted only) an answer outside the tolerance is replaced by the exact one.
        """
        if self._structure() in ("gaussian", "single-step", "lattice") or self._exact_engine() is None:
            return
        exact = self._exact_rows(kind, arr)
        for i, (v, d, ok, diag, used) in enumerate(exact):
            if used != "exact":
                diags[i] = {**diags[i], "exact": None, "exact_note": diag.get("note")}
                continue
            err = (float(est[i]) - v) / v if v > 0.0 else (0.0 if est[i] <= 1e-15 else math.inf)
            diags[i] = {**diags[i], "exact": v, "error_vs_exact": err}
            valid[i] = bool(valid[i]) and abs(err) <= EXPANSION_TOLERANCE
            if self.fallback and self.method == "tilted" and not valid[i]:
                diags[i] = {**diags[i], "tilted_estimate": float(est[i]),
                            "fallback": "tilted expansion outside tolerance; answered by the exact engine"}
                est[i], direction[i], valid[i], methods[i] = v, d, ok, "exact"

    # ------------------------------------------------------------------ certification
    def _certify_eps(self, d_arr: np.ndarray, est: np.ndarray, diags: list[dict[str, Any]], opts: dict[str, Any]):
        from .bounds.certify import certified_epsilon

        lo = np.empty_like(est)
        hi = np.empty_like(est)
        sources = []
        for i, dl in enumerate(d_arr):
            c = certified_epsilon(self, float(dl), **opts)
            lo[i], hi[i] = c.lower, c.upper
            if diags[i].get("fallback") and est[i] > c.upper:
                # the fallback's answer is itself a (coarser) pessimistic PLD bound: keep the tighter one
                est[i] = c.upper
            sources.append(c.source)
            diags[i] = {**diags[i], "certificate": c.as_dict()}
            if not (c.lower - 1e-9 <= est[i] <= c.upper + 1e-9):
                diags[i]["estimate_outside_bracket"] = True
                warnings.warn(
                    f"the estimate {est[i]:.6g} lies outside its certified bracket [{c.lower:.6g}, {c.upper:.6g}]; "
                    "use the certified upper bound", EdgeworthValidityWarning, stacklevel=3)
        return lo, hi, sources[0] if len(set(sources)) == 1 else ",".join(sources)

    def _certified_first(self, d_arr: np.ndarray):
        """Certified eps from the contour enclosure, with its estimate (the root of the enclosure's own
        trapezoidal sum, or the exact engine's where the full path ran); None unless every query is
        certified by the enclosure."""
        from .bounds.certify import CONTOUR_SOURCE, certified_epsilon

        est = np.empty(d_arr.shape)
        lower = np.empty(d_arr.shape)
        upper = np.empty(d_arr.shape)
        direction = np.empty(d_arr.shape, dtype=object)
        diags: list[dict[str, Any]] = []
        for i, dl in enumerate(d_arr):
            c = certified_epsilon(self, float(dl))
            if c.source != CONTOUR_SOURCE:
                return None
            info = c.analytic["contour"]
            est[i] = min(max(float(info["estimate"]), c.lower), c.upper)
            lower[i], upper[i] = c.lower, c.upper
            direction[i] = info["direction"]
            diags.append({"rel_error": (c.upper - c.lower) / max(c.upper, 1e-300), "certificate": c.as_dict()})
        valid = np.ones(d_arr.shape, dtype=bool)
        return est, direction, valid, diags, ["exact"] * d_arr.size, lower, upper, CONTOUR_SOURCE

    def _certify_delta(self, e_arr: np.ndarray):
        from .bounds.certify import certified_delta

        lo = np.empty_like(e_arr)
        hi = np.empty_like(e_arr)
        sources = []
        for i, e in enumerate(e_arr):
            c = certified_delta(self, float(e))
            lo[i], hi[i] = c.lower, c.upper
            sources.append(c.source)
        return lo, hi, sources[0] if len(set(sources)) == 1 else ",".join(sources)

    # ------------------------------------------------------------------ trade-off curve
    def tradeoff(self, alpha: Any, *, n_grid: int = 400) -> TradeoffResult:
        """Symmetrised f-DP trade-off curve beta(alpha) implied by the (eps, delta(eps)) profile.

        ``beta(alpha) = sup_{eps >= 0} max(0, 1 - delta(eps) - e^eps alpha, e^-eps (1 - delta(eps) - alpha))``
        over a grid of eps; a supremum of affine functions, so the curve is convex, non-increasing,
        symmetric and <= 1 - alpha by construction (Dong, Roth & Su 2022, Prop. 2.12).

        Args:
            alpha: type I error(s) in [0, 1].
            n_grid: number of eps grid points of the profile.

        Returns:
            TradeoffResult with arrays ``alpha`` and ``beta``.
        """
        a_arr, _ = V.as_float_array("alpha", alpha, lo=0.0, hi=1.0, lo_open=False, hi_open=False)
        self._require_nonempty()
        n_grid = V.check_count("n_grid", n_grid, allow_zero=False)
        eps_max = float(self.get_epsilon(1e-12).estimate) if self._structure() != "lattice" else self._loss_sup("remove")
        eps_grid = np.linspace(0.0, max(eps_max, 1e-6) * 1.05, n_grid)
        prof = self.get_delta(eps_grid)
        dl = np.clip(np.asarray(prof.estimate, float), 0.0, 1.0)
        e = eps_grid[None, :]
        a = a_arr[:, None]
        cand = np.maximum(1.0 - dl[None, :] - np.exp(e) * a, np.exp(-e) * (1.0 - dl[None, :] - a))
        beta = np.clip(np.max(cand, axis=1), 0.0, None)
        valid = bool(np.all(prof.valid))
        return TradeoffResult(alpha=a_arr, beta=beta, method=self.method, valid=valid,
                              diagnostics={"eps_grid_max": float(eps_grid[-1]), "n_grid": n_grid})

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


def _pack(cls, scalar, est, lower, upper, methods, direction, valid, cert, diags, **extra):
    _check_consistency(cls, est, lower, upper, valid, diags)
    method = methods[0] if len(set(methods)) == 1 else "mixed:" + ",".join(sorted(set(methods)))
    if scalar:
        conv = lambda x: None if x is None else float(np.asarray(x).reshape(-1)[0])  # noqa: E731
        e, lo, hi = conv(est), conv(lower), conv(upper)
        value = hi if upper is not None else e
        kw = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in extra.items()}
        return cls(value=value, estimate=e, lower=lo, upper=hi, method=method, direction=str(direction[0]),
                   valid=bool(valid[0]), certified_by=cert, diagnostics={**diags[0], "methods": methods}, **kw)
    value = upper if upper is not None else est
    return cls(value=value, estimate=est, lower=lower, upper=upper, method=method, direction=direction,
               valid=valid, certified_by=cert, diagnostics={"per_query": diags, "methods": methods}, **extra)


def _raise_failed(diags: list[dict[str, Any]], methods: list[str]) -> None:
    """A query whose expansion failed numerically and was not answered by a fallback is an error."""
    for d, m in zip(diags, methods):
        if "error" in d and m not in ("pld", "chernoff-bound", "exact"):
            raise ValueError(
                f"the {m} expansion failed numerically here ({d['error']}); use the exact method "
                "(the default) or a certified bracket (certify=True; CLI: --certify)")


def _newton_tilt(cgf: Callable[[float, int], np.ndarray], order: int, delta: float, t0: float) -> float | None:
    """Tilt t > max(t0, 0) with log delta(t) = log delta; None when not found (caller falls back to Brent).

    Until the root is bracketed, Newton steps use the leading-order slope of
    ``log delta ~ K - t K1 - log(t (t+1) sqrt(2 pi K2))``, i.e. ``-t K2 - K3 / (2 K2) - 1/t - 1/(t+1)``
    with ``Kj`` the j-th derivative of K (each step at most doubles t); once bracketed, regula falsi
    with the Illinois modification keeps the root inside the bracket and converges superlinearly,
    with bisection when a step falls outside.
    """
    target = math.log(delta)
    nmax = order + 2
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


def _check_finite(name: str, x: float) -> None:
    if not math.isfinite(x):
        raise FloatingPointError(f"internal error: {name} evaluated to {x}; please report this configuration")


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


def _gaussian_delta(eps: float, mu: float) -> float:
    """Exact delta(eps) of a mu-GDP pair, in log space (Dong, Roth & Su 2022, Cor. 2.13)."""
    a = norm_logcdf(-eps / mu + mu / 2.0)
    b = eps + norm_logcdf(-eps / mu - mu / 2.0)
    if b >= a:
        return 0.0
    return float(math.exp(a) * -math.expm1(b - a))


def _rr_delta(eps: float, eps0: float, n: int) -> float:
    """Exact delta(eps) of n-fold binary randomized response (both directions coincide)."""
    from scipy.stats import binom

    r_p = 1.0 / (1.0 + math.exp(-eps0))  # probability of +eps0 under the upper measure
    k = np.arange(n + 1)
    loss = eps0 * (2 * k - n)
    sel = loss > eps
    if not sel.any():
        return 0.0
    lp = binom.logpmf(k[sel], n, r_p)
    lq = binom.logpmf(k[sel], n, 1.0 - r_p)
    # pmf_P(k) - e^eps pmf_Q(k) = pmf_P(k) (1 - e^{eps - loss_k}) >= 0 on sel
    terms = np.exp(lp) * -np.expm1(eps - loss[sel])
    return float(np.sum(terms))


def _invert_monotone(delta_fn: Callable[[float], float], delta: float) -> float:
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
