"""Noise (and step) calibration for a target (epsilon, delta).

``calibrate_noise`` finds the smallest noise multiplier whose epsilon meets the target, finished on
the safe side (the returned sigma always satisfies eps(sigma) <= target for the chosen method), in
the spirit of dp_accounting's ``calibrate_dp_mechanism``.  With the exact engine (the default) the
search corrects the cheap saddle-point model of delta(target eps) by exact evaluations
(:func:`_model_search`: 2-7 of them, against 11-14 for a bracket search); elsewhere, and wherever that
search does not settle, by Brent's method on ``log sigma`` inside a bracket found by doubling.  With ``guarantee="certified"`` the search starts from
the estimate's answer and spends a few PLD evaluations to return the smallest sigma (to a relative
tolerance) whose *certified upper* epsilon meets the target.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any


from . import _validate as V
from .accountant import Accountant, brentq
from .expansions.tilted import delta_at_tilt, saddlepoint
from .mechanisms import PoissonSubsampledGaussian
from .results import EpsilonResult

SIGMA_MIN = 0.05
SIGMA_MAX = 1e4
GUARANTEES = ("estimate", "certified")


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of a calibration: the sigma chosen and what it achieves by every method asked."""

    noise_multiplier: float
    epsilon: EpsilonResult
    method: str
    guarantee: str
    target_epsilon: float
    target_delta: float
    sampling_probability: float
    steps: int
    evaluations: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return self.noise_multiplier


def _eps(sigma: float, q: float, steps: int, delta: float, method: str, *, fallback: bool,
         certify: bool = False, certify_options: dict[str, Any] | None = None) -> EpsilonResult:
    acc = Accountant(method=method, fallback=fallback).compose(PoissonSubsampledGaussian(sigma, q), steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(delta, certify=certify, certify_options=certify_options)


def calibrate_noise(*, target_epsilon: float, target_delta: float, sampling_probability: float, steps: int,
                    method: str | None = None, guarantee: str = "estimate", rtol: float = 1e-6) -> CalibrationResult:
    """Smallest noise multiplier with eps(target_delta) <= target_epsilon for DP-SGD.

    Args:
        target_epsilon: eps > 0.
        target_delta: delta in (0, 1).
        sampling_probability: Poisson rate q in (0, 1].
        steps: number of steps T >= 1.
        method: accountant method for the estimate ("exact" default, "tilted", "edgeworth", "ew-tune").
        guarantee: "estimate" (meet the target by the estimate) or "certified" (by the certified upper bound).
        rtol: relative tolerance on sigma for the estimate search.

    Returns:
        CalibrationResult with the sigma and the EpsilonResult at that sigma.

    Raises:
        ValueError: on bad input, or when no sigma in [0.05, 1e4] meets the target (the message says
            what epsilon is achievable).
    """
    target_epsilon = V.check_positive("target_epsilon", target_epsilon)
    target_delta = V.check_open_unit("target_delta", target_delta)
    q = V.check_probability("sampling_probability", sampling_probability)
    steps = V.check_count("steps", steps, allow_zero=False)
    if guarantee not in GUARANTEES:
        raise ValueError(f"guarantee must be one of {list(GUARANTEES)}, got {guarantee!r}")
    m = Accountant(method=method).method
    t0 = time.perf_counter()
    n_eval = 0
    # the search stays in the fast expansion (no fallback); the final answer is re-checked with it
    directions = ("remove",)  # REMOVE dominates DP-SGD; verified at the end, redone with both if not

    last_t: dict[str, float] = {}

    def f(logs: float) -> float:
        acc = Accountant(method=m, fallback=False).compose(PoissonSubsampledGaussian(math.exp(logs), q), steps)
        if m == "exact":
            # eps(delta) <= target  <=>  delta(target) <= delta: one exact delta per sigma (both directions)
            eng = acc._exact_engine() if acc._structure() == "continuous" else None
            if eng is not None:
                try:
                    d, _, _, _ = eng.delta(target_epsilon)
                    return math.log(max(d, 1e-300)) - math.log(target_delta)
                except ArithmeticError:
                    pass
            return float(acc.get_epsilon(target_delta).value) - target_epsilon
        if m != "tilted":
            return max(acc._eps_one(target_delta, d)[0] for d in directions) - target_epsilon
        # tilted: eps(delta) <= target  <=>  delta(target) <= delta (delta(eps) is decreasing), and
        # delta(target) needs one warm-started saddle solve instead of a full inversion
        worst = -math.inf
        for d in directions:
            cgf = acc._cgf(d)
            t = saddlepoint(cgf, target_epsilon, t_init=last_t.get(d))
            last_t[d] = t
            p = delta_at_tilt(cgf, t, acc.order, target_epsilon)
            worst = max(worst, math.log(max(p.delta, 1e-300)) - math.log(target_delta))
        return worst

    fast = _model_search(q, steps, target_delta, target_epsilon, rtol) if m == "exact" else None
    if fast is not None:
        s, n_search, acc_s = fast
        n_eval += n_search
        # the accountant of the search at s holds the contour just built there: eps(delta) reuses it
        res = _eps_on(acc_s, target_delta)
    else:
        s, n_search = _search(f, q, steps, target_delta, target_epsilon, rtol)
        n_eval += n_search
        res = _eps(s, q, steps, target_delta, m, fallback=True)
    n_eval += 1
    if m != "ew-tune" and res.direction != "remove":
        directions = ("remove", "add")
        s, n_search = _search(f, q, steps, target_delta, target_epsilon, rtol)
        n_eval += n_search
        res = _eps(s, q, steps, target_delta, m, fallback=True)
    while float(res.estimate) > target_epsilon:  # the fallback answered and is stricter
        s *= 1.0 + max(1e-3, (float(res.estimate) - target_epsilon) / target_epsilon)
        res = _eps(s, q, steps, target_delta, m, fallback=True)
        n_eval += 1
    details: dict[str, Any] = {"estimate_sigma": s}
    if s <= SIGMA_MIN * (1.0 + 1e-9):
        details["note"] = (f"the target is met already at the smallest noise multiplier searched ({SIGMA_MIN:g}); "
                           "any sigma >= that meets it, smaller ones are outside the accepted domain")
        warnings.warn(details["note"], UserWarning, stacklevel=2)
    if guarantee == "certified":
        s, res, k = _certified_search(s, q, steps, target_delta, target_epsilon, m)
        n_eval += k
        details["certified_sigma"] = s
    return CalibrationResult(noise_multiplier=s, epsilon=res, method=res.method, guarantee=guarantee,
                             target_epsilon=target_epsilon, target_delta=target_delta, sampling_probability=q,
                             steps=steps, evaluations=n_eval, seconds=time.perf_counter() - t0, details=details)


def _eps_on(acc: Accountant, delta: float) -> EpsilonResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(delta)


#: most exact evaluations of the model-corrected search before it hands over to the bracketing search
_MODEL_MAX_EVALS = 8
#: with fewer expected participations q T than this and a saddle abscissa above _MODEL_C_FAR at the
#: model's root, the search starts from the CLT guess when that asks for less noise (the saddle-point
#: model is off by factors there, towards too much noise, where the exact contour is costliest)
_FEW_PARTICIPATIONS = 30.0
_MODEL_C_FAR = 3.5
#: the second exact point goes this fraction of the way to the corrected model's root when that adds
#: noise (an overshoot to the far-tail side costs many more contour nodes than an undershoot)
_SECOND_STEP_DAMPING = 0.6


def _model_search(q: float, steps: int, target_delta: float, target_epsilon: float,
                  rtol: float) -> tuple[float, int, Accountant] | None:
    """The exact engine's REMOVE root in log sigma, corrected from the saddle-point model.

    f(x) = log delta_remove(target_epsilon; sigma = e^x) - log target_delta is what the bracketing
    search solves; its leading saddle-point approximation M(x) (real cumulants only, no contour)
    costs about a thousandth of an exact evaluation and differs from f by a slowly varying r(x).  Each
    exact evaluation at x_k sets r = f(x_k) - M(x_k); the next point solves M(x) + r = 0 (on the
    model alone), moved by rtol / 2 to the safe side.  The error shrinks by |r'/M'| (~1e-2) per
    exact evaluation, so two or three of them reach rtol from the model's root.  Ends at an x_k with
    f(x_k) <= 0 (exact) and the corrected model's root within rtol below it, i.e. the same answer as
    the bracketing search; returns None (the caller runs that search) when the model or the engine
    fails, leaves [SIGMA_MIN, SIGMA_MAX], or does not settle within a few evaluations.

    Returns:
        (sigma, exact evaluations, the accountant at sigma), or None.
    """
    from .methods.contour import ContourError, saddle
    from .methods.exact import saddle_estimate_at

    log_d = math.log(target_delta)
    accs: dict[float, Accountant] = {}
    cs: dict[float, float] = {}

    def direction(x: float):
        acc = accs.get(x)
        if acc is None:
            acc = Accountant(method="exact").compose(PoissonSubsampledGaussian(math.exp(x), q), steps)
            if len(accs) > 64:
                accs.clear()
            accs[x] = acc
        eng = acc._exact_engine() if acc._structure() == "continuous" else None
        if eng is None:
            raise ArithmeticError("no exact engine")
        return eng

    last_c = [None]

    def model(x: float) -> float:
        K = direction(x).dirs["remove"].K
        if target_epsilon >= K.loss_sup:
            raise ArithmeticError("target beyond the largest privacy loss")
        c = saddle(K, target_epsilon, cs.get(x, last_c[0]))  # warm start: the last saddle
        cs[x] = last_c[0] = c
        _, ld = saddle_estimate_at(K, c, target_epsilon)
        if not math.isfinite(ld):
            raise ArithmeticError("model not finite")
        return ld - log_d

    slope: list[float] = []   # dM/dx measured by the last root search (negative)

    def model_root(r, x0: float) -> float:
        """Root of M(x) + r(x) (decreasing in x), from x0: a bracket (its first probe sized by the
        last measured slope, 1.5x the predicted move), then Illinois regula falsi to rtol / 20."""
        lo_x, hi_x = math.log(SIGMA_MIN), math.log(SIGMA_MAX)
        x, g = x0, model(x0) + r(x0)
        step = 0.05
        if slope and slope[-1] < 0.0:
            step = min(max(1.5 * abs(g / slope[-1]), 10.0 * rtol), 0.5)
        # bracket [a, b] with g(a) > 0 >= g(b)
        if g > 0.0:
            a, ga = x, g
            b = x + step
            while True:
                if b > hi_x:
                    raise ArithmeticError("model root above SIGMA_MAX")
                gb = model(b) + r(b)
                if gb <= 0.0:
                    break
                a, ga, b, step = b, gb, b + 2.0 * step, 2.0 * step
        else:
            b, gb = x, g
            a = x - step
            while True:
                if a < lo_x:
                    raise ArithmeticError("model root below SIGMA_MIN")
                ga = model(a) + r(a)
                if ga > 0.0:
                    break
                b, gb, a, step = a, ga, a - 2.0 * step, 2.0 * step
        if gb < ga:
            slope.append((gb - ga) / (b - a))
        for _ in range(60):  # Illinois regula falsi on the cheap model
            if b - a <= 0.05 * rtol:
                break
            xm = b - gb * (b - a) / (gb - ga)
            if not (a < xm < b):
                xm = 0.5 * (a + b)
            gm = model(xm) + r(xm)
            if gm > 0.0:
                a, ga = xm, gm
                gb *= 0.5
            else:
                b, gb = xm, gm
                ga *= 0.5
        return b

    evals = failures = 0
    pts: list[tuple[float, float]] = []   # (x, r = f - M) at the exact evaluations
    above, below = -math.inf, math.inf      # exact bracket: f > 0 at `above`, f <= 0 at `below`

    def correction(x: float) -> float:
        """r(x): constant from one exact point, linear through the last two afterwards."""
        if not pts:
            return 0.0
        if len(pts) == 1:
            return pts[-1][1]
        (x0, r0), (x1, r1) = pts[-2], pts[-1]
        return r1 + (r1 - r0) / (x1 - x0) * (x - x1) if x1 != x0 else r1

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x_clt = _clt_log_sigma(q, steps, target_epsilon, target_delta)
            # the first exact point on the less-noise side of the two guesses: larger delta, where the
            # contour is cheapest and never fails (with few participations the saddle-point model
            # overstates delta and its root asks for too much noise)
            x = model_root(correction, x_clt)
            far = q * steps < _FEW_PARTICIPATIONS and cs.get(x, 1.0) > _MODEL_C_FAR
            if far:
                x = min(x, x_clt)
            x += 0.5 * rtol
            while evals < _MODEL_MAX_EVALS:
                try:
                    # the REMOVE delta as the engine routes it: the full contour, or the truncated
                    # composition / few-participation quadrature in the far mode where the plain
                    # contour cannot settle (q T ~ 1 at tiny delta)
                    try:
                        fx = direction(x)._remove_log_delta(target_epsilon).log_delta - log_d
                    except ContourError:
                        # few participations where the contour refuses (e.g. sigma < 0.2 at q T = 0.1):
                        # the few-participation quadrature, REMOVE direction, as the dispatch does
                        fx = _fewpart_log_delta(q, math.exp(x), steps, target_epsilon) - log_d
                except ContourError:
                    # the engine's far tail (too much noise for it): back off towards less noise;
                    # a second failure hands over to the bracket search (each costs ~1 s)
                    evals += 1
                    failures += 1
                    if failures >= 2:
                        return None
                    below_hard = x
                    x = 0.5 * (above + x) if math.isfinite(above) else x - 0.1
                    if below_hard - x <= rtol:
                        return None
                    continue
                acc_x = accs[x]
                evals += 1
                if not math.isfinite(fx):
                    return None
                if fx > 0.0:
                    above = max(above, x)
                else:
                    below = min(below, x)
                pts.append((x, fx - model(x)))
                root = model_root(correction, x)
                if fx <= 0.0 and x - root <= rtol:
                    return math.exp(x), evals, acc_x
                nxt = root + 0.5 * rtol
                if len(pts) == 1 and nxt > x + 0.05 and far:
                    nxt = x + _SECOND_STEP_DAMPING * (nxt - x)
                if not (above < nxt < below):  # the corrected model left the exact bracket
                    nxt = 0.5 * (above + below)
                if not math.isfinite(nxt) or nxt == x:
                    return None
                x = nxt
    except (ArithmeticError, ContourError, ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
        return None
    return None


def _fewpart_log_delta(q: float, sigma: float, steps: int, eps: float) -> float:
    """log delta_remove(eps) by the few-participation quadrature; ContourError where it does not apply."""
    from .methods import fewpart
    from .methods.contour import ContourError

    g = [(q, sigma, int(steps))]
    if not fewpart.supports(g):
        raise ContourError("few-participation quadrature not applicable")
    try:
        d, _, _ = fewpart.fewpart_delta(g, eps, direction="remove")
    except (ArithmeticError, ValueError) as exc:
        raise ContourError(f"few-participation quadrature: {exc}") from exc
    if not d > 0.0:
        raise ContourError("few-participation delta not positive")
    return math.log(d)


def _clt_log_sigma(q: float, steps: int, eps: float, delta: float) -> float:
    """log sigma from the Gaussian (CLT) approximation of DP-SGD (a starting point only).

    T-fold Poisson-subsampled Gaussian ~ mu-GDP with mu = q sqrt(T (e^{1/sigma^2} - 1)); mu from
    delta(eps) of the Gaussian pair, then sigma.  Clamped to the searched range.
    """
    def gdp_delta(mu: float) -> float:
        return 0.5 * math.erfc((eps / mu - mu / 2.0) / math.sqrt(2.0)) - math.exp(eps) * 0.5 * math.erfc(
            (eps / mu + mu / 2.0) / math.sqrt(2.0))

    try:
        lo, hi = 1e-3, 50.0
        if gdp_delta(hi) < delta:
            return 0.0
        for _ in range(80):
            mid = math.sqrt(lo * hi)
            if gdp_delta(mid) > delta:
                hi = mid
            else:
                lo = mid
        mu = lo
        ratio = (mu / q) ** 2 / steps
        sigma = 1.0 / math.sqrt(math.log1p(ratio))
        return min(max(math.log(sigma), math.log(SIGMA_MIN)), math.log(SIGMA_MAX))
    except (ValueError, OverflowError, ZeroDivisionError):
        return 0.0


def _achievable(sigma: float, q: float, steps: int, delta: float) -> float:
    """The exact epsilon at ``sigma`` (for the infeasibility message)."""
    return float(_eps(sigma, q, steps, delta, "exact", fallback=True).value)


def _search(f, q: float, steps: int, target_delta: float, target_epsilon: float, rtol: float) -> tuple[float, int]:
    """Bracket by doubling, Brent on log sigma, then nudge to the safe side; returns (sigma, evaluations)."""
    calls = 0

    def g(x: float) -> float:
        nonlocal calls
        calls += 1
        return f(x)

    lo, hi = math.log(1.0), math.log(1.0)
    flo = g(lo)
    if flo > 0:  # need more noise
        while True:
            hi = lo + math.log(2.0)
            if hi > math.log(SIGMA_MAX):
                best = _achievable(SIGMA_MAX, q, steps, target_delta)
                raise ValueError(
                    f"target_epsilon={target_epsilon:g} cannot be met with noise_multiplier <= {SIGMA_MAX:g} at "
                    f"sampling_probability={q:g}, steps={steps}, target_delta={target_delta:g}; "
                    f"the smallest achievable epsilon there is {best:.4g}")
            if g(hi) <= 0:
                break
            lo = hi
    else:
        hi = lo
        while True:
            lo = hi - math.log(2.0)
            if lo < math.log(SIGMA_MIN):
                lo = math.log(SIGMA_MIN)
                if g(lo) <= 0:
                    hi = lo
                break
            if g(lo) > 0:
                break
            hi = lo
    if hi > lo:
        root = brentq(g, lo, hi, xtol=rtol, rtol=1e-12, maxiter=100)
        sigma = math.exp(root)
        while g(math.log(sigma)) > 0:  # safe side
            sigma *= 1.0 + rtol
    else:
        sigma = math.exp(hi)
    return sigma, calls


def _certified_search(s0: float, q: float, steps: int, delta: float, target: float, method: str,
                      rtol: float = 5e-4) -> tuple[float, EpsilonResult, int]:
    """Smallest sigma (to rtol) whose certified upper epsilon <= target, starting at s0."""
    from .bounds.certify import certified_epsilon

    k = 0
    vdi: list[float | None] = [None]

    def up(s: float):
        """Certified upper eps at sigma s; after the first call the PLD discretisation is fixed so
        that the search sees one monotone function of sigma."""
        nonlocal k
        k += 1
        acc = Accountant(method=method).compose(PoissonSubsampledGaussian(s, q), steps)
        c = certified_epsilon(acc, delta, value_discretization_interval=vdi[0])
        if vdi[0] is None:
            vdi[0] = c.value_discretization_interval
        return _Upper(c.upper, s)

    def _final(s: float) -> EpsilonResult:
        return _eps(s, q, steps, delta, method, fallback=True, certify=True,
                    certify_options={"value_discretization_interval": vdi[0]})

    r = up(s0)
    if float(r.upper) <= target:
        # the estimate's sigma already meets the target by the certified bound: search downwards
        hi, lo = s0, s0 * 0.98
        while float(up(lo).upper) <= target:
            hi, lo = lo, lo * 0.98
        while hi / lo - 1.0 > rtol:
            mid = math.sqrt(lo * hi)
            if float(up(mid).upper) <= target:
                hi = mid
            else:
                lo = mid
        return hi, _final(hi), k + 1
    lo = s0
    hi = s0 * (1.0 + max(2 * rtol, 2.0 * (float(r.upper) - target) / target))
    rhi = up(hi)
    while float(rhi.upper) > target:
        lo, hi = hi, hi * 1.05
        rhi = up(hi)
    while hi / lo - 1.0 > rtol:
        mid = math.sqrt(lo * hi)
        rm = up(mid)
        if float(rm.upper) <= target:
            hi, rhi = mid, rm
        else:
            lo = mid
    return hi, _final(hi), k + 1


@dataclass(frozen=True)
class _Upper:
    upper: float
    sigma: float


def calibrate_steps(*, target_epsilon: float, target_delta: float, sampling_probability: float,
                    noise_multiplier: float, method: str | None = None, max_steps: int = 10**9) -> int:
    """Largest number of DP-SGD steps whose epsilon stays <= target_epsilon (0, with a warning, if none;
    ``max_steps``, with a warning, if the target is still met there).

    Raises:
        ValueError: on bad input.
    """
    target_epsilon = V.check_positive("target_epsilon", target_epsilon)
    target_delta = V.check_open_unit("target_delta", target_delta)
    q = V.check_probability("sampling_probability", sampling_probability)
    sigma = V.check_positive("noise_multiplier", noise_multiplier)
    max_steps = V.check_count("max_steps", max_steps, allow_zero=False)
    m = Accountant(method=method).method

    def ok(T: int) -> bool:
        return float(_eps(sigma, q, T, target_delta, m, fallback=True).estimate) <= target_epsilon

    if not ok(1):
        warnings.warn(f"even one step exceeds target_epsilon={target_epsilon:g} at noise_multiplier={sigma:g}, "
                      f"sampling_probability={q:g}: returning 0 steps", UserWarning, stacklevel=2)
        return 0
    lo, hi = 1, 2
    while hi <= max_steps and ok(hi):
        lo, hi = hi, hi * 2
    if hi > max_steps:
        if ok(max_steps):
            warnings.warn(f"the target is still met at max_steps={max_steps}; the largest number of steps may be "
                          "larger (raise max_steps)", UserWarning, stacklevel=2)
            return max_steps
        hi = max_steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo
