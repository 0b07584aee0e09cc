"""Exact delta(eps) / eps(delta) of randomized response composed with other mechanisms (issue 8).

Binary randomized response of parameter ``e0`` has, in both directions, the privacy loss ``+e0`` with
probability ``p = e^e0 / (1 + e^e0)`` and ``-e0`` otherwise under the upper measure; ``n`` runs put the
loss on the lattice ``a_j = e0 (2 j - n)`` with binomial weights ``w_j = C(n, j) p^j (1-p)^(n-j)``, and
several parameters on the sums of such lattices.  The rest of the composition (whatever it is: nothing,
Gaussians, subsampled Gaussians, Laplace, or mixes of them) is independent of it, so conditioning on
the lattice point (docs/math.md, "Laplace and randomized response mixed with others"):

    delta_mix,d(eps) = sum_j w_j delta_rest,d(eps - a_j)          (d = remove or add)

where ``delta_rest,d(x) = E[(1 - e^{x - L_rest})_+]`` under the rest's upper measure of direction d, for
every real x.  Below 0 it is ``1 - e^x + e^x delta_rest,d'(-x)`` (d' the other direction: the
hockey-stick identity H_g(P||Q) = 1 - g + g H_{1/g}(Q||P)), so each term is a positive sum, without
cancellation, of values the rest's own exact method gives at arguments >= 0:

* nothing else: ``delta_rest(x) = (1 - e^x)_+`` (the loss 0);
* Gaussians only / one subsampled step: the closed forms of :mod:`.closed`;
* subsampled Gaussians and Gaussians: the contour engine (:class:`.exact.ExactMethod`), per direction;
* Laplace (alone, or with Gaussian-type mechanisms): :mod:`.laplace_exact`.

The sum runs over the lattice points in decreasing order of ``a_j``; since ``delta_rest`` is
non-increasing, the points not yet evaluated contribute at most their total weight times the last
value evaluated, and the sum stops when that bound is below ``RTOL`` of the partial sum (rigorous).
The number of lattice points is ``prod_g (n_g + 1)``; the weights are kept in log space
(:func:`lattice_log`).  How many are answered depends on the rest's cost (:func:`atom_limit`):
``MAX_ATOMS_RR_ONLY`` for randomized response alone (several parameters: one vectorised log-space sum
of the positive terms ``w_j (1 - e^{eps - a_j})`` over the points above eps), ``MAX_ATOMS_CHEAP`` with a
closed-form rest (Gaussians: the whole lattice in one vectorised log-space call,
:func:`gaussian_log_delta_vec`), ``MAX_ATOMS`` with a contour / Laplace rest; the per-point sums are also
held to DEADLINE_S of CPU per query.  Beyond either, :class:`LatticeMixError` (the dispatch then
answers with the flagged proven upper bound, ``"chernoff-bound"``).  Every answer carries its relative error bound: the weights', the rest's
own relative errors (weighted) plus the stopping bound.  A delta whose terms' rigorous bounds sum below
2^-1075 is 0.0 (the correctly rounded double), not an error.

**One contour for the whole composition** (session 16, H-DF: :class:`LatticeContour`).  Where the rest has a
Gaussian or subsampled-Gaussian factor (:func:`contour_applies`), randomized response's MGF (p e^{z e0} + (1 - p)
e^{-z e0})^n is one more factor of the Laplace-with-others contour (:class:`.laplace_exact.LaplaceWithOthers`): it does
not decay along the line (a lattice), the others' factors do.  It goes first where the conditioned sum would evaluate
the rest exactly per lattice point and the rest has Laplace steps or there are more than CONTOUR_FIRST_ATOMS points,
or where the lattice is beyond the sum's limit; the conditioned sum is the fallback (and first elsewhere).  Breaker
H-R15 F1 (RR x 31 + Laplace x 7 + PSG x 204 + Gaussian x 20): flagged Chernoff 30.04 -> 28.4495012, inside
dp_accounting's vdi-1e-5 pair [28.448066, 28.449528]; benchmarks/flag_s16_mixes.py seed 1 (30 random mixes): flagged
13-14 -> 3, 0 valid answers outside the PLD pairs (tests/test_flag_s16_mixed.py).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from . import budget
from .laplace_exact import LaplaceWithOthers

#: relative accuracy aimed at on delta (stopping bound of the lattice sum)
RTOL = 1e-11
#: largest relative error an answer may carry and still be called exact
ACCEPT_RTOL = 1e-7
#: CPU-time budget of one query of one direction (past it LatticeMixError: never a silent number)
DEADLINE_S = 0.45
#: ... or this fraction of the call's CPU budget left, where larger (0.45 s of the default 0.6; a dispatch budget of
#: its own for these mixes, patch /tmp/h17/patches/DF-1.patch, 0.9 s, gives 0.675 s)
DEADLINE_FRAC = 0.75
#: most lattice points (prod over randomized-response groups of n_g + 1) with a rest evaluated by the contour /
#: Laplace engines (a Chernoff bound per point, then exact evaluations; DEADLINE_S guards the cost)
MAX_ATOMS = 20_000
#: ... with a closed-form rest: Gaussians (one vectorised log-space call over the whole lattice, ~5 us a point:
#: 1.5e5 points took 0.8 s a delta, 3.9 s an epsilon), one subsampled step (one closed form per point evaluated,
#: stopped early, held to DEADLINE_S)
MAX_ATOMS_CHEAP = 50_000
#: ... randomized response alone: one vectorised log-space sum over the points above eps per evaluation
MAX_ATOMS_RR_ONLY = 1_000_000
#: whether the whole-composition contour (LatticeContour) is offered (benchmarks compare with it off)
CONTOUR = True
#: with a subsampled-Gaussian rest (no Laplace), the contour goes before the conditioned sum above this many
#: lattice points (benchmarks/flag_s16_mixes.py seed 1: at 3 points the sum took 0.01-0.03 s where the contour
#: took 0.06-0.36 s; from ~50 points the contour was 1.2-3x faster)
CONTOUR_FIRST_ATOMS = 32
#: a rest term (the few-participation quadrature) that missed its own tolerance enters the sum with its estimate and
#: estimated error up to this relative error (the sum's own error, these included, is what is tested)
REST_ESTIMATE_REL = 0.1
#: a subsampled-Gaussian rest with sum q n at most TAIL_FIRST_QN: a term whose proven tail bound (methods/tail_bound.py,
#: 2-7 ms) is below e^TAIL_FIRST_LOG = 1e-30 is that bound's midpoint, error half the bound, without an engine
TAIL_FIRST_QN = 1.0
#: ... and the conditioned sum takes a term as half its weight times that bound, +- the same, while these errors
#: sum to at most SKIP_REL of delta's scale (the partial sum, or the target of an eps(delta) search)
SKIP_REL = 1e-9
TAIL_FIRST_LOG = math.log(1e-30)
#: Chernoff parameters (geometric, 1e-3 .. 1e3) of the lattice's vectorised per-point bounds (a contour rest)
LOG_BOUND_GRID = 121
#: ... counting only the points whose weight is at least this fraction of the heaviest's (LatticeMix.heavy_points)
HEAVY_REL = 1e-17
_EPS = 2.220446049250313e-16
#: log 2^-1075: a delta proven below it rounds to 0.0
_LOG_BELOW_DOUBLE = -1075.0 * math.log(2.0)
DIRECTIONS = ("remove", "add")
_OTHER = {"remove": "add", "add": "remove"}


class LatticeMixError(ArithmeticError):
    """The conditioned evaluation could not answer (too many lattice points, or the rest's exact
    evaluation failed): never a silent number."""


# ---------------------------------------------------------------------- the lattice
def atom_limit(rest: Sequence[tuple[Any, int]]) -> tuple[int, str]:
    """(most lattice points, why) for a composition whose non-randomized-response part is ``rest``:
    randomized response alone is one vectorised log-space sum per evaluation (MAX_ATOMS_RR_ONLY);
    a closed-form rest (Gaussians: one vectorised call over the lattice; one subsampled step: one closed
    form per point evaluated, the sum stopped early) MAX_ATOMS_CHEAP; any other rest costs a Chernoff
    bound per point plus one exact evaluation per point that matters (MAX_ATOMS).  The per-point sums
    are also held to DEADLINE_S of CPU per query."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian

    rest = [(m, int(n)) for m, n in rest if int(n) > 0]
    if not rest:
        return MAX_ATOMS_RR_ONLY, "randomized response alone (vectorised log-space sum)"
    if all(isinstance(m, Gaussian) or (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability >= 1.0)
           for m, _ in rest) or (len(rest) == 1 and rest[0][1] == 1 and isinstance(rest[0][0], PoissonSubsampledGaussian)):
        return MAX_ATOMS_CHEAP, "a closed-form rest (Gaussians, or one subsampled step)"
    return MAX_ATOMS, "a rest evaluated by the contour / Laplace engines (a Chernoff bound and an exact evaluation per point)"


def lattice_log(rr: Sequence[tuple[float, int]], limit: int | None = None,
                why: str = "") -> tuple[np.ndarray, np.ndarray, float]:
    """(values a_j decreasing, log-probabilities log w_j, relative error bound on the w_j) of the summed
    randomized-response loss.

    Each group ``(e0, n)``: ``a = e0 (2 j - n)``, ``log w = log C(n, j) + j log p + (n - j) log(1 - p)``,
    ``p = 1/(1 + e^-e0)``, ``log p = -log1p(e^-e0)``, ``log(1 - p) = -log1p(e^e0)``, ``log C(n, j)`` from
    ``scipy.special.gammaln`` (a few ulps of lgamma(n + 1) each: the bound taken is 32 u (lgamma(n + 2) +
    n max(|log p|, |log(1 - p)|) + 1) per group, checked against mpmath in tests/test_rr_lattice.py);
    groups combined by the outer sum (at most ``limit`` points, LatticeMixError beyond), equal sums
    (within 1e-12 of the value scale; the largest value kept) merged by logaddexp."""
    from scipy.special import gammaln

    limit = MAX_ATOMS if limit is None else int(limit)
    size = 1
    for _, n in rr:
        size *= n + 1
    if size > limit:
        raise LatticeMixError(f"randomized response here has {size} lattice points (prod of (steps + 1) over its "
                              f"parameters), more than the {limit} answered for {why or 'this composition'}: "
                              f"the exact conditioned sum is not attempted")
    vals = np.zeros(1)
    lw = np.zeros(1)
    werr = 0.0
    for e0, n in rr:
        j = np.arange(n + 1, dtype=float)
        a = e0 * (2.0 * j - n)
        lp = -_softplus(-e0)
        lq = -_softplus(e0)
        lc = gammaln(n + 1.0) - gammaln(j + 1.0) - gammaln(n - j + 1.0)
        lw_g = lc + j * lp + (n - j) * lq
        werr += 32 * _EPS * (float(gammaln(n + 2.0)) + n * max(abs(lp), abs(lq)) + 1.0)
        vals = (vals[:, None] + a[None, :]).ravel()
        lw = (lw[:, None] + lw_g[None, :]).ravel()
    order = np.argsort(-vals, kind="stable")
    vals, lw = vals[order], lw[order]
    scale = max(1.0, float(np.max(np.abs(vals))))
    starts = np.concatenate(([0], np.nonzero(vals[:-1] - vals[1:] > 1e-12 * scale)[0] + 1))
    return vals[starts], np.logaddexp.reduceat(lw, starts), float(math.expm1(werr))


def _softplus(x: float) -> float:
    """log(1 + e^x) without overflow."""
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


# ---------------------------------------------------------------------- the rest
def rest_evaluator(rest: Sequence[tuple[Any, int]]) -> tuple[str, Callable[[float, str], tuple[float, float]]]:
    """(kind, f) with ``f(x, d) = (delta_rest,d(x), relative error bound)`` for x >= 0.

    Raises LatticeMixError where the rest has no exact evaluation here."""
    from ..mechanisms import Gaussian, Laplace, PoissonSubsampledGaussian, RandomizedResponse
    from . import closed

    rest = [(m, int(n)) for m, n in rest if int(n) > 0]
    if any(isinstance(m, RandomizedResponse) for m, _ in rest):
        raise ValueError("randomized response belongs to the lattice, not the rest")
    if not rest:
        return "nothing", lambda x, d: (0.0, 0.0)
    gauss = all(isinstance(m, Gaussian) or (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability >= 1.0)
                for m, _ in rest)
    if gauss:
        mu = math.sqrt(sum(n / float(m.noise_multiplier) ** 2 for m, n in rest))

        def f_gauss(x: float, d: str) -> tuple[float, float]:
            return closed.gaussian_delta(x, mu), 1e-13
        f_gauss.mu = mu  # LatticeMix sums the whole lattice in one vectorised call (_delta_gauss)
        return "gaussian closed form", f_gauss
    if len(rest) == 1 and rest[0][1] == 1 and isinstance(rest[0][0], PoissonSubsampledGaussian):
        m = rest[0][0]
        q, mu1 = float(m.sampling_probability), 1.0 / float(m.noise_multiplier)
        return "single-step closed form", lambda x, d: (closed.single_step_delta(x, q, mu1, d), 1e-13)
    from . import laplace_exact

    lap = laplace_exact.composition_for(rest)
    if lap is not None:
        def f_lap(x: float, d: str) -> tuple[float, float]:
            v, rel, _ = lap.delta(x)
            return v, rel
        f_lap.log_bound = _laplace_chernoff(lap.theta, lap.T)
        f_lap.bound_sum_min = 9  # the Chernoff search costs about one evaluation: used on larger lattices
        return "laplace exact", f_lap
    if any(isinstance(m, Laplace) for m, _ in rest):
        mixed = laplace_exact.mixed_compositions(rest)
        if mixed is None:
            raise LatticeMixError("no exact evaluation of the rest of this composition")

        def f_mixed(x: float, d: str) -> tuple[float, float]:
            v, rel, _ = mixed[d].delta(x)
            return v, rel
        f_mixed.log_bound = lambda x, d: mixed[d].log_chernoff(x)
        return "laplace with others, exact", f_mixed
    from .exact import ExactMethod, supports

    if not supports(rest):
        raise LatticeMixError("no exact evaluation of the rest of this composition")
    _warm_contour()
    eng = ExactMethod(rest)
    from . import fewpart

    fg = None
    if all(isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0 for m, _ in rest):
        fg = [(float(m.sampling_probability), float(m.noise_multiplier), int(n)) for m, n in rest]
        if not fewpart.supports(fg):
            fg = None

    tail_memo: dict[float, float | None] = {}
    tail_first = fg is not None and sum(q * n for q, _, n in fg) <= TAIL_FIRST_QN

    def tail_log(x: float) -> float | None:
        """log of the proven tail bound on delta_rest(x), both directions (methods/tail_bound.py), memoised."""
        if x not in tail_memo:
            from . import tail_bound

            try:
                tb = tail_bound.log_delta_bound(rest, x)
            except (ArithmeticError, ValueError):
                tb = None
            if len(tail_memo) > 4096:
                tail_memo.clear()
            tail_memo[x] = None if tb is None or math.isnan(tb[0]) else min(float(tb[0]), 0.0)
        return tail_memo[x]

    def f_contour(x: float, d: str) -> tuple[float, float]:
        if tail_first:
            # few participations: where the proven tail bound B is below TAIL_FIRST_LOG the term is B/2 +- B/2
            # without an engine (each fails there after ~0.1 s: delta_rest ~ 1e-40, the quadrature's floor)
            lt = tail_log(x)
            if lt is not None and lt < TAIL_FIRST_LOG:
                b = math.exp(lt)
                return 0.5 * b, (1.0 if b > 0.0 else 0.0)
        try:
            r = eng._remove_log_delta(x) if d == "remove" else eng._add_log_delta(x)
            return float(r.value), float(r.rel_err)
        except ArithmeticError:
            if fg is None:
                raise
        # few participations: the truncated-MGF quadrature, in this direction
        try:
            v, rel, _ = fewpart.fewpart_delta(fg, x, direction=d)
        except fewpart.FewPartError as exc:
            # its estimate short of its own tolerance is still a term of the sum, its estimated error carried
            # (weighted by the term's lattice weight, the sum's error is what the dispatch tests against 1e-6):
            # a rest term that carries 1e-4 of delta needs only 1e-2 of its own (seed 1 #8 of
            # benchmarks/flag_s16_mixes.py: refused at 1.4e-4 on a term below 1e-6 of the sum)
            est = exc.estimate
            cands = []
            if est is not None and math.isfinite(est[0]) and est[0] >= 0.0 and est[1] <= REST_ESTIMATE_REL:
                cands.append((float(est[1]) * float(est[0]), float(est[0]), float(est[1])))
            # ... or the proven tail bound B (methods/tail_bound.py: union bound plus a Chernoff bound on the
            # truncated product measure, both directions): delta in [0, B], the term B/2 +- B/2.  Where the rest
            # carries nearly nothing (RR(0.5) x 33 + PSG(1, 1e-6) x 100: delta_rest(0.5) < 1e-40, the quadrature's
            # estimate 1e304 off) its weight times B is far below the sum's tolerance
            lt = tail_log(x)
            if lt is not None:
                b = math.exp(lt)
                cands.append((0.5 * b, 0.5 * b, 1.0 if b > 0.0 else 0.0))
            if not cands:
                raise
            _, v, rel = min(cands)
        return float(v), float(rel)

    from .exact import chernoff_log_delta

    f_contour.log_bound = lambda x, d: chernoff_log_delta(eng.dirs[d].K, x)
    grids: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def log_bound_vec(xs: np.ndarray, d: str) -> np.ndarray:
        """The Chernoff bound min over s of psi(s) - s x on a fixed geometric grid of s (any s > 0 gives a rigorous
        bound; psi from the rest's K once per direction), for every x at once: the lattice's per-point Newton
        searches were ~1.5 s of an eps(delta) search over 752 points (RR x 2 + PSG(2.4371, 0.00112) x 66)."""
        g = grids.get(d)
        if g is None:
            K = eng.dirs[d].K
            ss, ps = [], []
            for sv in np.geomspace(1e-3, 1e3, LOG_BOUND_GRID):
                try:
                    v = float(K.psi(float(sv)))
                except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError, ArithmeticError):
                    continue
                if math.isfinite(v):
                    ss.append(float(sv))
                    ps.append(v)
            g = grids[d] = (np.array(ss), np.array(ps))
        ss, ps = g
        xs = np.asarray(xs, dtype=float)
        if ss.size == 0:
            return np.zeros(xs.shape)
        out = np.min(ps[None, :] - ss[None, :] * xs[:, None], axis=1)
        out[xs >= eng.dirs[d].K.loss_sup] = -math.inf
        return np.minimum(out, 0.0)

    f_contour.log_bound_vec = log_bound_vec
    if tail_first:
        f_contour.tail_log = tail_log
    return "contour (few-participation quadrature where it does not settle)", f_contour


def _laplace_chernoff(theta: float, T: int):
    """x -> log of a rigorous upper bound on delta(x) of T Laplace steps: min over a geometric grid of t
    of T log M(t) - t x + log[t^t / (t+1)^(t+1)] (any t > 0 gives a bound; 25 values, no search)."""
    from .laplace_exact import _chernoff_factor, _lc_real_scalar, _logaddexp_real

    ts = [float(t) for t in np.geomspace(1e-3, 1e3, 25)]
    lk = [T * _logaddexp_real(*_lc_real_scalar(theta, t + 0.5)) + _chernoff_factor(t) for t in ts]

    def bound(x: float, d: str) -> float:
        return min(0.0, min(v - t * x for t, v in zip(ts, lk)))

    return bound


_WARM = [False]


def _warm_contour() -> None:
    """Load the contour engine's and the few-participation quadrature's Numba kernels once per process,
    before any budget starts (a cold cache must not push a first query past DEADLINE_S): one small
    evaluation of each, in both directions."""
    if _WARM[0]:
        return
    _WARM[0] = True
    from ..mechanisms import PoissonSubsampledGaussian
    from . import fewpart
    from .exact import ExactMethod

    try:
        eng = ExactMethod([(PoissonSubsampledGaussian(1.0, 0.1), 20)])
        for d in DIRECTIONS:
            (eng._remove_log_delta if d == "remove" else eng._add_log_delta)(1.0)
            fewpart.fewpart_delta([(0.01, 1.0, 10)], 0.5, direction=d)
    except (ArithmeticError, ValueError):
        pass


def _erfcx_drop_vec(a: np.ndarray, h: float) -> np.ndarray:
    """:func:`.closed._erfcx_drop` on an array of a (same branches: the direct difference where h >= 1 and
    a <= 30 h, else Gauss-Legendre on ceil(h / 0.75) panels of -erfcx' > 0; no cancellation)."""
    from scipy.special import erfcx

    from .closed import _GL_W, _GL_X, _neg_erfcx_prime

    out = np.empty_like(a)
    direct = (a <= 30.0 * h) if h >= 1.0 else np.zeros(a.shape, dtype=bool)
    out[direct] = erfcx(a[direct]) - erfcx(a[direct] + h)
    rest = a[~direct]
    if rest.size:
        n = max(1, int(math.ceil(h / 0.75)))
        w = h / n
        total = np.zeros(rest.size)
        for i in range(n):
            x = (rest + i * w)[:, None] + 0.5 * w * (_GL_X + 1.0)[None, :]
            total += 0.5 * w * (_neg_erfcx_prime(x.ravel()).reshape(x.shape) @ _GL_W)
        out[~direct] = total
    return out


def gaussian_log_delta_vec(x: np.ndarray, mu: float) -> np.ndarray:
    """``log E_P[(1 - e^{x - L})_+]`` of a mu-GDP pair for every real x (array; -inf where it is 0):
    :func:`.closed.gaussian_delta`'s cancellation-free branches vectorised for x >= 0 (``a = x/mu - mu/2``:
    the direct difference where a < -1, else ``-a^2/2 + log(1/2 [erfcx(a/sqrt2) - erfcx((a+mu)/sqrt2)])``,
    kept in log space), and the flip ``1 - e^x + e^x delta(-x)`` below 0 (the Gaussian pair is symmetric),
    every term >= 0.  Within 2.3e-13 relative of mpmath over mu in [0.01, 12], |x| in [1e-8, 60]
    (tests/test_rr_lattice.py)."""
    from scipy.special import log_ndtr, ndtr

    x = np.asarray(x, dtype=float)
    y = np.abs(x)
    a = y / mu - 0.5 * mu
    out = np.empty(y.shape)
    lo = a < -1.0
    hi = ~lo
    with np.errstate(under="ignore", divide="ignore"):
        first = ndtr(-a[lo])
        second = np.exp(y[lo] + log_ndtr(-(a[lo] + mu)))
        out[lo] = np.log(np.maximum(0.0, first - second))
        drop = _erfcx_drop_vec(a[hi] / math.sqrt(2.0), mu / math.sqrt(2.0))
        out[hi] = -0.5 * a[hi] ** 2 + np.log(0.5 * np.maximum(drop, 0.0))
        neg = x < 0.0
        out[neg] = np.log(-np.expm1(x[neg]) + np.exp(x[neg] + out[neg]))
    return out


# ---------------------------------------------------------------------- the composition
class LatticeMix:
    """Randomized response (one or several parameters) composed with ``rest``: exact delta(eps) and
    eps(delta) per direction by conditioning on the lattice (module docstring)."""

    def __init__(self, rr: Sequence[tuple[float, int]], rest: Sequence[tuple[Any, int]], rtol: float = RTOL) -> None:
        from .base import loss_sup

        self.rr = [(float(e0), int(n)) for e0, n in rr if int(n) > 0]
        if not self.rr:
            raise ValueError("no randomized response in the composition")
        self.rest = [(m, int(n)) for m, n in rest if int(n) > 0]
        #: the whole composition on one contour (randomized response's MGF a factor; contour_applies), per
        #: direction, built on first use; None where the rest has no decaying factor to carry it
        self.contours: dict[str, Any] | None = {} if CONTOUR and contour_applies(self.rest) else None
        self._lattice_error: str | None = None
        limit, why = atom_limit(self.rest)
        try:
            self.vals, self.lw, self.wrel = lattice_log(self.rr, limit, why)
            self.kind, self._f = rest_evaluator(self.rest)
        except LatticeMixError as exc:
            if self.contours is None:
                raise
            # the contour answers alone (the lattice too large for the conditioned sum, or no exact rest)
            self._lattice_error = str(exc)
            self.vals = self.lw = None
            self.wrel = 0.0
            self.kind, self._f = "none", None
        if self.vals is not None:
            with np.errstate(under="ignore"):
                self.wts = np.exp(self.lw)
        #: bound on the error of the lattice values (each a sum of G + 1 rounded products, G groups)
        self.da = (len(self.rr) + 2) * _EPS * math.fsum(e0 * n for e0, n in self.rr)
        self.rtol = float(rtol)
        self._memo: dict[tuple[float, str], tuple[float, float]] = {}
        top = math.fsum(e0 * n for e0, n in self.rr) if self.vals is None else float(self.vals[0])
        self.sup = {d: top + (loss_sup(self.rest, d) if self.rest else 0.0) for d in DIRECTIONS}
        #: the contour goes first where the conditioned sum cannot run, or costs an exact evaluation of the rest
        #: per lattice point (a rest with subsampled Gaussians or Laplace steps) and has Laplace steps (a contour per
        #: point) or more than CONTOUR_FIRST_ATOMS points
        self.contour_first = self.contours is not None and (self.vals is None or (
            atom_limit(self.rest)[0] == MAX_ATOMS
            and (any(_is_laplace(m) for m, _ in self.rest) or self.heavy_points() > CONTOUR_FIRST_ATOMS)))

    def heavy_points(self) -> int:
        """How many lattice points weigh at least HEAVY_REL of the heaviest: the conditioned sum's exact evaluations
        (the others' terms are below RTOL of any delta the heavy ones carry, and its stopping bound skips them).
        RR(40) x 40: 41 points, 2 heavy (the weights 1, 1.7e-16, 1.4e-32, ...): the conditioned sum answers in
        ~5 ms where the whole-composition contour, going first, spent the budget."""
        if self.vals is None:
            return 0
        return int(np.count_nonzero(self.lw >= float(np.max(self.lw)) + math.log(HEAVY_REL)))

    @property
    def symmetric(self) -> bool:
        """Both directions have the same law: randomized response does, and so does a rest of nothing,
        Gaussians, or Laplace with Gaussians."""
        from ..mechanisms import Gaussian, Laplace, PoissonSubsampledGaussian

        return all(isinstance(m, (Gaussian, Laplace)) or (isinstance(m, PoissonSubsampledGaussian)
                                                          and m.sampling_probability >= 1.0) for m, _ in self.rest)

    _deadline = math.inf

    def _budget(self):
        """Context: a CPU-time budget of DEADLINE_S for one top-level query (nested calls share it)."""
        import contextlib

        @contextlib.contextmanager
        def cm():
            if self._deadline < math.inf:
                yield
                return
            rem = budget.remaining()
            own = max(DEADLINE_S, DEADLINE_FRAC * rem) if math.isfinite(rem) else DEADLINE_S
            self._deadline = budget.cap(budget.clock() + own)
            try:
                yield
            finally:
                self._deadline = math.inf
        return cm()

    def rest_delta(self, x: float, d: str) -> tuple[float, float]:
        """(delta_rest,d(x), absolute error bound) for every real x (the flip below 0)."""
        key = (x, d)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        if budget.clock() > self._deadline:
            raise LatticeMixError(f"the conditioned sum ran past its CPU-time budget ({DEADLINE_S} s)")
        try:
            if x >= 0.0:
                v, rel = self._f(x, d)
                out = (v, rel * v)
            else:
                # 1 - e^x + e^x delta_rest,d'(-x): all terms >= 0; where a Chernoff bound puts the second
                # below 1e-14 of the first it is not evaluated (half the bound, error half the bound)
                base = -math.expm1(x)
                fb = getattr(self._f, "log_bound", None)
                lb2 = None
                if fb is not None:
                    try:
                        lb2 = min(0.0, float(fb(-x, _OTHER[d])))
                    except (ArithmeticError, ValueError):
                        lb2 = None
                tl = getattr(self._f, "tail_log", None)
                if tl is not None and not (lb2 is not None and x + lb2 < math.log(1e-14 * base)):
                    lt = tl(-x)  # the proven tail bound (both directions), where Chernoff does not settle it
                    if lt is not None:
                        lb2 = lt if lb2 is None else min(lb2, lt)
                if lb2 is not None and x + lb2 < math.log(1e-14 * base):
                    half = 0.5 * math.exp(x + lb2)
                    out = (base + half, 4 * _EPS * base + half)
                else:
                    v2, rel2 = self._f(-x, _OTHER[d])
                    ex = math.exp(x)
                    out = (base + ex * v2, 4 * _EPS * base + ex * v2 * (rel2 + 4 * _EPS))
        except LatticeMixError:
            raise
        except (ArithmeticError, ValueError) as exc:
            raise LatticeMixError(f"the rest's exact evaluation failed at {x!r} ({d}): {exc}") from exc
        if not (math.isfinite(out[0]) and out[0] >= 0.0 and math.isfinite(out[1])):
            raise LatticeMixError(f"the rest's exact evaluation gave {out[0]!r} at {x!r} ({d})")
        if len(self._memo) > 20_000:
            self._memo.clear()
        self._memo[key] = out
        return out

    def delta(self, eps: float, d: str) -> tuple[float, float, dict]:
        """(delta, relative error bound, diagnostics) in direction ``d`` at eps >= 0: the whole-composition
        contour and the conditioned lattice sum, in the order of ``contour_first``, the first that settles."""
        return self._either("delta", float(eps), d)

    def _lattice_delta(self, eps: float, d: str) -> tuple[float, float, dict]:
        with self._budget():
            return self._delta(eps, d)

    def contour(self, d: str) -> Any:
        """The whole composition's contour evaluator in direction d (:class:`LatticeContour`)."""
        assert self.contours is not None
        c = self.contours.get(d)
        if c is None:
            lap = [(float(m.theta), n) for m, n in self.rest if _is_laplace(m)]
            others = [(m, n) for m, n in self.rest if not _is_laplace(m)]
            c = self.contours[d] = LatticeContour(self.rr, lap, others, d)
        return c

    def _either(self, kind: str, x: float, d: str) -> tuple[float, float, dict]:
        """One query by the contour and the conditioned sum in order (module docstring); LatticeMixError
        with both reasons where neither settles."""
        from .laplace_exact import LaplaceExactError

        stages = []
        why: list[str] = []
        if self.vals is not None:
            stages.append(("conditioned lattice sum", self._lattice_delta if kind == "delta" else self._lattice_epsilon))
        else:
            why.append(f"conditioned lattice sum: {self._lattice_error}")
        if self.contours is not None:
            def run(x: float, d: str) -> tuple[float, float, dict]:
                c = self.contour(d)
                v, rel, diag = c.delta(x) if kind == "delta" else c.epsilon(x)
                return v, rel, {**diag, "lattice": "whole composition on one contour (randomized response's MGF a "
                                                  "factor; methods/mixed_exact.py LatticeContour)"}
            stages.insert(0 if self.contour_first else len(stages), ("contour", run))
        for name, fn in stages:
            if name == "contour" and why and budget.expired():
                why.append(f"contour: {budget.NOTE}")
                continue
            try:
                return fn(x, d)
            except (LatticeMixError, LaplaceExactError, FloatingPointError, OverflowError, ZeroDivisionError) as exc:
                why.append(f"{name}: {exc}")
        raise LatticeMixError("; ".join(why))

    def log_bounds(self, eps: float, d: str) -> np.ndarray | None:
        """log of w_j times a rigorous bound on delta_rest,d(eps - a_j) (Chernoff where eps - a_j >= 0, 1
        below), or None where the rest's evaluation is cheap (closed forms: no bounds needed)."""
        fb = getattr(self._f, "log_bound", None)
        if fb is None or self.vals.size < getattr(self._f, "bound_sum_min", 0):
            return None
        key = ("bounds", eps, d)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        with np.errstate(divide="ignore"):
            out = np.log(self.wts)
        fv = getattr(self._f, "log_bound_vec", None)
        if fv is not None:
            # every point's bound at once (a fixed grid of Chernoff parameters)
            xs = eps - self.vals
            pos = xs > 0.0
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    out[pos] += fv(xs[pos], d)
                self._memo[key] = out
                return out
            except (ArithmeticError, ValueError):
                with np.errstate(divide="ignore"):
                    out = np.log(self.wts)
        for j, a in enumerate(self.vals):
            if not j & 255 and budget.clock() > self._deadline:
                raise LatticeMixError(f"the lattice's Chernoff bounds ran past the CPU-time budget ({DEADLINE_S} s) "
                                      f"at {self.vals.size} points")
            x = eps - float(a)
            if x > 0.0:
                try:
                    out[j] += min(0.0, float(fb(x, d)))
                except (ArithmeticError, ValueError):
                    pass
        self._memo[key] = out
        return out

    def _delta(self, eps: float, d: str) -> tuple[float, float, dict]:
        eps = float(eps)
        if not self.rest:
            return self._delta_rr_only(eps)
        if eps >= self.sup[d]:
            return 0.0, 0.0, {"lattice": "eps at or beyond the largest loss"}
        if getattr(self._f, "mu", None) is not None:
            return self._delta_gauss(eps, float(self._f.mu))
        lb = self.log_bounds(eps, d)
        if lb is not None:
            return self._delta_bounded(eps, d, lb)
        total, err = 0.0, 0.0
        rem = np.cumsum(self.wts[::-1])[::-1]  # rem[j] = sum of w from j on
        used = 0
        last = 1.0
        for j in range(self.vals.size):
            if j > 0 and rem[j] * last <= self.rtol * total:
                err += rem[j] * last  # the points left: each delta_rest <= the last one evaluated
                break
            w = float(self.wts[j])
            v, e = self.rest_delta(eps - float(self.vals[j]), d)
            total += w * v
            err += w * e
            last = v + e  # (an upper bound on the rest's delta there: its value plus its error)
            used += 1
        err += (8 * _EPS + self.wrel) * total
        diag = {"lattice_points": int(self.vals.size), "evaluated": used, "rest": self.kind}
        if total <= 0.0:
            if err <= 1e-300:
                # every term is 0 in double precision (the rest's delta underflowed): delta is below the
                # smallest double; 0 as the closed forms report it
                return 0.0, 0.0, {**diag, "note": "delta below the smallest positive double"}
            raise LatticeMixError(f"the lattice sum gave delta = {total!r} below the largest loss")
        return total, err / total, diag

    def _delta_rr_only(self, eps: float) -> tuple[float, float, dict]:
        """Randomized response alone (several parameters): ``delta = sum_{a_j > eps} w_j (1 - e^{eps - a_j})``,
        every term positive, summed in log space (vectorised).  Relative error bound: the weights' (wrel),
        the log-sum-exp's ((log2 k + 8) u plus u |t| per exponent argument t), and the lattice values'
        rounding (|a_j - computed a_j| <= da): a term changes by at most w_j da (|d(1 - e^{-y})| <= |dy|),
        and only points computed above eps - da can contribute, so the absolute error from the values is at
        most da sum_{a_j > eps - da} w_j.  Where eps lies within da of the largest values and no computed
        value is above it, delta is not resolved (LatticeMixError), unless that bound is below 2^-1075."""
        da = self.da + 2 * _EPS * abs(eps)
        kn = int(np.searchsorted(-self.vals, -(eps - da), side="left"))  # points with a_j > eps - da
        k = int(np.searchsorted(-self.vals, -eps, side="left"))  # points with a_j > eps
        diag = {"lattice_points": int(self.vals.size), "evaluated": k, "rest": self.kind}
        if kn == 0:
            return 0.0, 0.0, {**diag, "note": "eps beyond the largest loss (by more than its rounding)"}
        lwn = self.lw[:kn]
        mw = float(np.max(lwn))
        l_abs = mw + math.log(float(np.sum(np.exp(lwn - mw)))) + math.log(da)  # log of the values' error bound
        ld = -math.inf
        if k > 0:
            t = self.lw[:k] + np.log(-np.expm1(eps - self.vals[:k]))
            m = float(np.max(t))
            ld = m + math.log(float(np.sum(np.exp(t - m))))
        if float(np.logaddexp(ld + 1e-6, l_abs)) < _LOG_BELOW_DOUBLE:
            return 0.0, 0.0, {**diag, "log_delta": ld, "note": "delta below the smallest positive double"}
        if k == 0 or l_abs - ld > math.log(ACCEPT_RTOL):
            raise LatticeMixError(f"eps = {eps!r} lies within the rounding of the lattice values ({da:.2g}) "
                                  f"of the points that carry delta: not resolved to {ACCEPT_RTOL:g}")
        rel = (self.wrel + (math.log2(k) + 8.0) * _EPS * (1.0 + float(np.max(np.abs(t - m))) + abs(m))
               + math.exp(l_abs - ld))
        return math.exp(ld), rel, {**diag, "log_delta": ld}

    def _delta_gauss(self, eps: float, mu: float) -> tuple[float, float, dict]:
        """A Gaussian rest (mu-GDP, symmetric): ``delta = sum_j w_j delta_G(eps - a_j)`` over the whole lattice
        in one vectorised log-space call (:func:`gaussian_log_delta_vec`), every term >= 0.  Relative error
        bound: 1e-12 per term (measured <= 2.3e-13 against mpmath), the weights' wrel, the log-sum-exp's
        (log2 N + 8) u (1 + |t|), and the lattice values' rounding da times an estimate of
        |d log delta_G / dx| <= 2 + (max|x| / mu + mu) / mu (the Mills-ratio slope)."""
        x = eps - self.vals
        t = self.lw + gaussian_log_delta_vec(x, mu)
        diag = {"lattice_points": int(self.vals.size), "evaluated": int(self.vals.size), "rest": self.kind}
        m = float(np.max(t))
        if not math.isfinite(m):
            raise LatticeMixError(f"the Gaussian rest gave no positive term at eps = {eps!r}")
        with np.errstate(under="ignore"):
            ld = m + math.log(float(np.sum(np.exp(t - m))))
        if ld < _LOG_BELOW_DOUBLE - 1.0:
            return 0.0, 0.0, {**diag, "log_delta": ld, "note": "delta below the smallest positive double"}
        fin = t[np.isfinite(t)]
        slope = 2.0 + (float(np.max(np.abs(x))) / mu + mu) / mu
        rel = (1e-12 + self.wrel + (math.log2(self.vals.size) + 8.0) * _EPS * (1.0 + float(np.max(np.abs(fin - m))) + abs(m))
               + (self.da + 2 * _EPS * abs(eps)) * slope)
        return math.exp(ld), rel, {**diag, "log_delta": ld}

    def _delta_bounded(self, eps: float, d: str, lb: np.ndarray) -> tuple[float, float, dict]:
        """The lattice sum with the terms in decreasing order of their bounds B_j, stopped when the
        bounds left sum to at most RTOL of the partial sum (rigorous: B_j >= w_j delta_rest(eps - a_j))."""
        order = np.argsort(-lb, kind="stable")
        b = np.exp(lb[order])
        rem = np.cumsum(b[::-1])[::-1]
        total, err, used, skipped, skip_err = 0.0, 0.0, 0, 0, 0.0
        tail_log = getattr(self._f, "tail_log", None)
        for i, j in enumerate(order):
            if i > 0 and rem[i] <= self.rtol * total:
                err += rem[i]
                break
            w = float(self.wts[j])
            x = eps - float(self.vals[j])
            if tail_log is not None and x >= 0.0:
                # a few-participation rest: a term with a proven tail bound B (methods/tail_bound.py, both directions)
                # is w B / 2 +- w B / 2 without an engine (0.1 s each where the rest's delta is ~1e-16) while the
                # skipped terms' errors stay within SKIP_REL of the larger of the partial sum and the search's target
                scale = max(total, self._scale)
                lt = tail_log(x) if scale > 0.0 else None
                if lt is not None and skip_err + 0.5 * w * math.exp(lt) <= SKIP_REL * scale:
                    half = 0.5 * w * math.exp(lt)
                    skip_err += half
                    total += half
                    err += half
                    skipped += 1
                    continue
            elif tail_log is not None:
                # below 0 the term is w (1 - e^x + e^x delta_rest,d'(-x)) (rest_delta's flip): the same skip on its
                # second part, e^x B/2 +- e^x B/2 (B bounds both directions), where the flip's own test (1e-14 of
                # 1 - e^x) would evaluate it (seed-1 #8 ADD: 0.1-0.5 s per REMOVE evaluation of ~1e-13)
                scale = max(total, self._scale)
                base = -math.expm1(x)
                lb2 = None
                if scale > 0.0:
                    try:
                        lb2 = min(0.0, float(self._f.log_bound(-x, _OTHER[d])))
                    except (ArithmeticError, ValueError, AttributeError):
                        lb2 = None
                # (where Chernoff alone settles the flip, rest_delta does it without the tail bound's milliseconds)
                if scale > 0.0 and not (lb2 is not None and x + lb2 < math.log(1e-14 * base)):
                    for k in range(2):
                        if k == 1:
                            lt = tail_log(-x)
                            if lt is None:
                                break
                            lb2 = lt if lb2 is None else min(lb2, lt)
                        if lb2 is None:
                            continue
                        half = 0.5 * w * math.exp(x + lb2)
                        if skip_err + half <= SKIP_REL * scale:
                            break
                    else:
                        half = math.inf
                    if lb2 is not None and skip_err + half <= SKIP_REL * scale:
                        skip_err += half
                        total += w * base + half
                        err += w * 4 * _EPS * base + half
                        skipped += 1
                        continue
            v, e = self.rest_delta(x, d)
            total += w * v
            err += w * e
            used += 1
        err += (8 * _EPS + self.wrel) * total
        diag = {"lattice_points": int(self.vals.size), "evaluated": used, "rest": self.kind}
        if skipped:
            diag["tail_bounded"] = skipped
        if total <= 0.0:
            lsum = float(np.logaddexp.reduce(lb))
            if lsum < _LOG_BELOW_DOUBLE:
                # sum_j B_j >= delta (each B_j a rigorous bound on its term) is below 2^-1075: 0.0 is the double
                return 0.0, 0.0, {**diag, "log_bound": lsum, "note": "delta below the smallest positive double "
                                  "(the terms' rigorous bounds sum below 2^-1075)"}
            raise LatticeMixError(f"the lattice sum gave delta = {total!r} below the largest loss, and its "
                                  f"rigorous bound (log {lsum:.4g}) does not put it below the smallest double")
        return total, err / total, diag

    def epsilon(self, delta: float, d: str) -> tuple[float, float, dict]:
        """(eps, relative error bound on delta at eps, diagnostics): inf{eps >= 0: delta_d(eps) <= delta}."""
        delta = float(delta)
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
        return self._either("epsilon", delta, d)

    def _lattice_epsilon(self, delta: float, d: str) -> tuple[float, float, dict]:
        with self._budget():
            return self._epsilon(delta, d)

    def _epsilon(self, delta: float, d: str) -> tuple[float, float, dict]:
        from scipy.optimize import brentq

        delta = float(delta)
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
        ld = math.log(delta)
        self._scale = delta  # the terms' skipping scale (_delta_bounded) within this search
        try:
            return self._epsilon_search(delta, d, ld)
        finally:
            self._scale = 0.0

    #: the delta scale below which a term's proven tail bound lets _delta_bounded skip it (the target, in eps(delta))
    _scale = 0.0

    def _epsilon_search(self, delta: float, d: str, ld: float) -> tuple[float, float, dict]:
        from scipy.optimize import brentq

        d0, r0, g0 = self._lattice_delta(0.0, d)
        if d0 <= delta:
            return 0.0, r0, {**g0, "note": "delta(0) <= target"}
        cache: dict[float, tuple[float, float, dict]] = {}

        def g(e: float) -> float:
            if e not in cache:
                lb = self.log_bounds(e, d)
                if lb is not None and float(np.logaddexp.reduce(lb)) < ld - 1e-9:
                    return -1.0  # delta(e) < delta, proven by the bounds: no evaluation needed
                cache[e] = self._lattice_delta(e, d)
            v = cache[e][0]
            return math.log(v) - ld if v > 0.0 else -1.0

        sup = self.sup[d]
        if not self.rest and sup > 0.0:
            # randomized response alone: delta is not resolved within ~1e-7 of the largest lattice value
            # (the values' rounding, _delta_rr_only).  Where delta there still exceeds the target, eps lies in
            # [e_b, sup + da], sup + da a rigorous upper end (delta = 0 beyond the true largest value):
            # answered by it, 1e-7 relative wide; else the root is searched below e_b
            e_b = sup * (1.0 - 1e-7)
            v_b, rel_b, diag_b = self._lattice_delta(e_b, d)
            if v_b > delta:
                top = sup + self.da + 2 * _EPS * sup
                w = (top - e_b) / top
                return top, w, {**diag_b, "delta_at_eps": 0.0, "eps_rel_error": w,
                                "note": "eps within 1e-7 of the largest loss: its rigorous upper end reported"}
            cache[e_b] = (v_b, rel_b, diag_b)
            sup = e_b
        lo, hi = 0.0, 1.0 if not math.isfinite(sup) else min(1.0, 0.5 * sup)
        while g(hi) > 0.0:
            lo = hi
            hi = 2.0 * hi if not math.isfinite(sup) else min(2.0 * hi, 0.5 * (hi + sup))
            if hi > 1e6:
                raise LatticeMixError("epsilon exceeds 1e6")
            if math.isfinite(sup) and sup - hi <= 1e-13 * sup:
                hi = sup
                break
        eps = brentq(g, lo, hi, xtol=1e-300, rtol=1e-13, maxiter=200)
        v, rel, diag = cache[eps] if eps in cache else self._lattice_delta(eps, d)
        e2 = min(eps * (1.0 + 1e-6) + 1e-12, 0.5 * (eps + sup)) if math.isfinite(sup) else eps * (1.0 + 1e-6) + 1e-12
        v2 = self._lattice_delta(e2, d)[0]
        slope = (math.log(v) - math.log(v2)) / (e2 - eps) if v2 > 0.0 else math.inf
        eps_rel = (rel / slope / eps if slope > 0.0 else math.inf) + 1e-12 if eps > 0.0 else 0.0
        return float(eps), rel, {**diag, "delta_at_eps": v, "eps_rel_error": eps_rel}


# ---------------------------------------------------------------------- the whole composition on one contour
def _is_laplace(m: Any) -> bool:
    from ..mechanisms import Laplace

    return isinstance(m, Laplace)


def contour_applies(rest: Sequence[tuple[Any, int]]) -> bool:
    """Whether the whole composition (randomized response and ``rest``) has a contour evaluation here
    (:class:`LatticeContour`): the rest is Laplace steps and mechanisms with a complex log-MGF, at least one of
    them a Gaussian or subsampled Gaussian (the decaying factor the randomized-response lattice and the Laplace
    atoms need: without one the integrand does not decay along the contour)."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian

    rest = [(m, int(n)) for m, n in rest if int(n) > 0]
    others = [m for m, _ in rest if not _is_laplace(m)]
    return bool(others) and all(isinstance(m, (Gaussian, PoissonSubsampledGaussian)) for m in others)


def rr_log_mgf_real(e0: float, c: float) -> float:
    """log E_P[e^{c L}] of one randomized-response step (loss +e0 with probability p = 1/(1 + e^-e0), -e0
    otherwise, both directions) at real c: logaddexp(log p + c e0, log(1 - p) - c e0)."""
    a, b = -_softplus(-e0) + c * e0, -_softplus(e0) - c * e0
    m = max(a, b)
    return m + math.log1p(math.exp(min(a, b) - m))


def rr_log_mgf_complex(e0: float, z: np.ndarray) -> np.ndarray:
    """The same at complex z on one vertical line Re z = c (any branch of the log: only its exponential is
    used): z e0 + log p + log1p(e^{-e0 (1 + 2 z)}) for c > -1/2 (the argument of log1p inside the unit disc),
    -z e0 + log(1 - p) + log1p(e^{e0 (1 + 2 z)}) below."""
    z = np.asarray(z, dtype=complex)
    if z.size and z.real[0] > -0.5:
        return z * e0 - _softplus(-e0) + _clog1p(np.exp(-e0 * (1.0 + 2.0 * z)))
    return -z * e0 - _softplus(e0) + _clog1p(np.exp(e0 * (1.0 + 2.0 * z)))


def _clog1p(w: np.ndarray) -> np.ndarray:
    """log(1 + w) at complex w without forming 1 + w (numpy's complex log1p does: its real part loses ~u / |w|
    relative at small |w|)."""
    x, y = w.real, w.imag
    return 0.5 * np.log1p(x * (2.0 + x) + y * y) + 1j * np.arctan2(y, 1.0 + x)


class LatticeContour(LaplaceWithOthers):
    """Randomized response, Laplace and Gaussian-type mechanisms composed, in one direction: the full contour
    of :class:`.laplace_exact.LaplaceWithOthers` (the same trapezoidal rule, alias and truncation bounds) with
    each randomized-response group's MGF (p e^{z e0} + (1 - p) e^{-z e0})^n one more factor of the integrand.
    That factor does not decay along Re z = c (a lattice: |.| <= its value at c, periodic in u), so the
    truncation bound carries it at its real value and takes the decay from the Gaussian / subsampled-Gaussian
    factors (and the Laplace continuous parts) as before; its logs enter the floating-point budget through
    the loss scale sum n e0.  Laplace steps may be absent.  No lattice is enumerated: the cost is that of the
    others' contour (breaker H-R15 F1: RR(0.9281) x 31 + Laplace(9.1399) x 7 + PSG(1.509, 0.01257) x 204 +
    Gaussian(2.2278) x 20 at delta 8.798e-4, 22 nodes, ~60 ms a direction, where the conditioned sum ran out of
    its budget)."""

    def __init__(self, rr: Sequence[tuple[float, int]], parts: Sequence[tuple[float, int]],
                 others: Sequence[tuple[Any, int]], direction: str, rtol: float | None = None) -> None:
        from . import laplace_exact as le
        from .exact import composition_log_mgf

        self.rr = [(float(e0), int(n)) for e0, n in rr if int(n) > 0]
        self.parts = [(float(th), int(n)) for th, n in parts if int(n) > 0]
        others = [(m, int(n)) for m, n in others if int(n) > 0]
        if not self.rr or not others:
            raise ValueError("LatticeContour needs randomized response and a Gaussian-type mechanism")
        self.direction = direction
        self.K_other = composition_log_mgf(others, direction)
        self.g2, self.sg = le._decay_params(others)
        self.max_nodes = le.MAX_NODES_OTHERS
        if self.sg:  # the kernels load before any budget starts (a cold cache is not the query's time)
            from .exact import warm_kernels

            warm_kernels()
            q, mu, _ = self.sg[0]
            le._sg_log_mgf_real(q, mu, 1.0, direction)
        self.T = sum(n for _, n in self.parts) + sum(n for _, n in others) + sum(n for _, n in self.rr)
        self.theta = max([th for th, _ in self.parts] + [e0 for e0, _ in self.rr])
        self.rtol = float(le.RTOL if rtol is None else rtol)
        self._rr_scale = math.fsum(e0 * n for e0, n in self.rr)
        self.sup = math.fsum(th * n for th, n in self.parts) + self._rr_scale + self.K_other.loss_sup
        #: during one _full evaluation: the randomized-response groups folded into eps (their top value
        #: n e0 taken out of the phase, _shift_for), else None
        self._sh: dict[str, Any] | None = None

    def _rr_real(self, c: float) -> float:
        sh = self._sh
        if sh is None:
            return math.fsum(n * rr_log_mgf_real(e0, c) for e0, n in self.rr)
        # shifted groups: log E[e^{c (L - n e0)}] = n (log p + log1p(e^{-e0 (1 + 2 c)})), every real c
        return math.fsum(n * (-_softplus(-e0) + _softplus(-e0 * (1.0 + 2.0 * c))) if i in sh["groups"]
                         else n * rr_log_mgf_real(e0, c) for i, (e0, n) in enumerate(self.rr))

    def _other_real(self, c: float) -> float:
        return super()._other_real(c) + self._rr_real(c)

    def _other_complex(self, z: np.ndarray) -> np.ndarray:
        out = super()._other_complex(z)
        sh = self._sh
        for i, (e0, n) in enumerate(self.rr):
            if sh is not None and i in sh["groups"]:
                # shifted: log p + log1p(e^{-e0 (1 + 2 z)}), |e^{-e0 (1 + 2 z)}| <= 1/2 on this line (_shift_for)
                out = out + n * (-_softplus(-e0) + _clog1p(np.exp(-e0 * (1.0 + 2.0 * z))))
            else:
                out = out + n * rr_log_mgf_complex(e0, z)
        return out

    def _fp_scale(self) -> float:
        sh = self._sh
        if sh is None:
            return super()._fp_scale() + self._rr_scale
        return super()._fp_scale() + math.fsum(e0 * n for i, (e0, n) in enumerate(self.rr) if i not in sh["groups"])

    def _fp_other(self, z: np.ndarray) -> np.ndarray | float:
        """The other mechanisms' rounding (LaplaceWithOthers) plus that of the shifted randomized-response logs
        n (log p + log1p(w)), w = e^{-e0 (1 + 2 z)}, |w| <= r = e^{-e0 (1 + 2 c)} <= 1/2: the argument
        -e0 (1 + 2 z) is formed with absolute error <= 2 u e0 |1 + 2 z|, so w with relative error
        <= 2 u e0 |1 + 2 z| + 4 u, moved into log1p by at most |dw| / |1 + w| <= r / (1 - r) times that;
        log1p's own (the real part through |1 + w|^2 - 1 = x (2 + x) + y^2: 3 u (2 r + r^2) / (1 - r)^2, the
        angle u pi / 2), log p's and the product by n: counted 4x."""
        base = super()._fp_other(z)
        sh = self._sh
        if sh is None:
            return base
        extra = np.zeros(np.shape(z))
        az = np.abs(1.0 + 2.0 * np.asarray(z))
        for i in sh["groups"]:
            e0, n = self.rr[i]
            r = sh["r"][i]
            extra = extra + 8.0 * _EPS * n * (r / (1.0 - r) * (e0 * az + 2.0) + 4.0 * (2.0 * r + r * r) / (1.0 - r) ** 2
                                               + 2.0 + _softplus(-e0))
        return base + extra

    def _shift_for(self, c: float) -> tuple[set[int], Any]:
        """(the groups folded into eps on Re z = c, the exact sum of their n e0 as a Fraction): the groups with
        r = e^{-e0 (1 + 2 c)} <= 1/2 (where the shifted log's rounding, _fp_other, is at most that of the plain
        one's phase n e0 |z|)."""
        from fractions import Fraction

        groups = {i for i, (e0, _) in enumerate(self.rr) if e0 * (1.0 + 2.0 * c) >= math.log(2.0)}
        top = sum((Fraction(e0) * n for i, (e0, n) in enumerate(self.rr) if i in groups), Fraction(0))
        return groups, top

    def _saddle(self, eps: float, log_total, positive_only: bool = False) -> tuple[float, float]:
        from . import laplace_exact as le

        sh = self._sh
        if sh is not None and eps == sh["eps"]:
            c = sh["c"]  # the unshifted frame's abscissa (the saddle does not move with the shift)
            return c, log_total(c) - c * eps - math.log(abs(c)) - math.log1p(c)
        pins = getattr(self, "_pins", None)
        if pins is not None:
            # within one eps(delta) search an earlier abscissa is reused for eps within PIN_REL of its eps, measured
            # also from the randomized-response top sum n e0 (LaplaceWithOthers measured it from 0 only: at eps ~
            # 1600 that pinned eps 80 apart, whose tolerance, set from the saddle estimate at the pinned abscissa,
            # was then 1e3x too loose: RR(40) x 40 + PSG(1, 0.01) x 100, ADD, refused at 2.7e-7)
            for e0, c0 in pins:
                if abs(eps - e0) <= le.PIN_REL * max(min(abs(e0), abs(e0 - self._rr_scale)), 0.05):
                    return c0, log_total(c0) - c0 * eps - math.log(abs(c0)) - math.log1p(c0)
            c, gv = le.LaplaceComposition._saddle(self, eps, log_total, positive_only)
            pins.append((eps, c))
            return c, gv
        return super()._saddle(eps, log_total, positive_only)

    def _tail_bound(self, c: float, eps: float, bounds, logK: float):
        # |M_RR(c + iu)| <= M_RR(c) for every u: the lattice factor at its real value
        inner = super()._tail_bound(c, eps, bounds, logK)
        extra = self._rr_real(c)
        return lambda U: inner(U) + extra

    def _full(self, eps: float) -> tuple[float, float, dict]:
        """The full contour, the randomized-response groups with e0 (1 + 2 c) >= log 2 folded into eps: with
        M(z) = e^{z e0} (p + (1 - p) e^{-2 z e0}) per step, exp(K(z) - z eps) is the same function with their
        factors p + (1 - p) e^{-2 z e0} and eps - sum n e0 (formed exactly, in Fractions), so the phase
        z (sum n e0) and z eps, both ~ the loss scale, no longer enter the rounding bound, only their
        difference (RR(40) x 40 + PSG(1, 0.01) x 100 at delta 1e-6: 6.8e-7 relative, refused -> 5e-12).  The
        trapezoid, its alias and truncation bounds are those of any random variable's L (nothing in them uses
        E[e^{-L}] = 1), here L - sum n e0."""
        from fractions import Fraction

        tag = {"laplace": f"full contour (randomized response with other mechanisms, {self.direction})"}
        if self._sh is not None:
            v, rel, diag = super()._full(eps)
            return v, rel, {**diag, **tag}
        c, _ = self._saddle(eps, self._log_K)
        groups, top = self._shift_for(c)
        if not groups:
            v, rel, diag = super()._full(eps)
            return v, rel, {**diag, **tag}
        eps_s = float(Fraction(eps) - top)
        sup = self.sup
        sh = {"eps": eps_s, "c": c, "groups": groups,
              "r": {i: math.exp(-self.rr[i][0] * (1.0 + 2.0 * c)) for i in groups}}
        self._sh = sh
        self.sup = float(Fraction(sup) - top) if math.isfinite(sup) else sup
        try:
            v, rel, diag = super()._full(eps_s)
        finally:
            self._sh = None
            self.sup = sup
        return v, rel, {**diag, **tag, "shift": float(top)}


# ---------------------------------------------------------------------- the dispatch's entry point
def lattice_mix_for(groups) -> LatticeMix | None:
    """The conditioned evaluator of a composition with randomized response mixed with anything else
    (other mechanisms, or several randomized-response parameters); None where there is no randomized
    response, or one parameter alone (the closed form answers that)."""
    from ..mechanisms import RandomizedResponse

    g = [(m, int(n)) for m, n in groups if int(n) > 0]
    rr = [(m, n) for m, n in g if isinstance(m, RandomizedResponse)]
    rest = [(m, n) for m, n in g if not isinstance(m, RandomizedResponse)]
    if not rr:
        return None
    counts: dict[float, int] = {}
    for m, n in rr:
        counts[float(m.epsilon0)] = counts.get(float(m.epsilon0), 0) + n
    if len(rr) == 1 and not rest:
        return None  # one group alone: the closed form's (several groups of one parameter are answered here)
    return LatticeMix(sorted(counts.items()), rest)
