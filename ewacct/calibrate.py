"""Noise (and step) calibration for a target (epsilon, delta).

``calibrate_noise`` finds the smallest noise multiplier whose epsilon meets the target, finished on
the safe side (the returned sigma always satisfies eps(sigma) <= target for the chosen method), in
the spirit of dp_accounting's ``calibrate_dp_mechanism``.  With the exact engine (the default) the
search corrects a cheap model of delta(target eps) by exact evaluations (:func:`_model_search`: 2-7 of
them, against 11-14 for a bracket search): the saddle-point model, or with few participations (q T <= 1)
T times one step's exact delta (:func:`_log_step_model`; 2 evaluations at q = 1e-4, T = 10, delta = 1e-10,
where the saddle-point model was off by e^11-e^19); elsewhere, and wherever that search does not settle, by
Brent's method on ``log sigma`` inside a bracket found by doubling.  ``calibrate_steps`` starts there from
the same one-step model's root (:func:`_steps_newton`).  With up to 30 expected participations the search
keeps whichever of the two models is closer at its first exact point, asks the few-participation quadrature
for delta to 1e-6 where that moves the root by at most rtol / 4, and asks first whichever engine was cheaper
at the previous point (no call of the random scans of ``benchmarks/calibrate_scan.py`` took over 0.8 s CPU).

An answer the calibration used that is flagged (``valid=False``: e.g. the rigorous Chernoff bound that
answers when a query's CPU budget ran out, methods/budget.py) is reported: ``CalibrationResult.valid`` is
False, ``details["flag_note"]`` says whether the returned sigma is still safe (a rigorous upper bound: yes,
conservative) and a UserWarning repeats it (``calibrate_steps`` warns likewise).

With ``guarantee="certified"`` the search starts from the exact engine's sigma s0 (true to ~1e-6, so no
smaller sigma can be certified) and certifies with the API's own certificate
(:func:`ewacct.bounds.certify.certified_epsilon` without a time budget: what ``get_epsilon(delta,
certify=True)`` returns, few-participation brackets included): first just above s0 (s0 (1 + 1e-8); with
q T <= 1, where that certificate may be the 1e-5-1e-4-wide few-participation bracket, s0 (1 + 1e-4)), then,
from the certificate's width and its upper end's excess over the target, where it passes (a narrow pass is
tightened to s0 (1 + 2 w + 1e-8) where the CPU allows), up a ladder where it fails; the returned sigma is
the one whose *certified upper* epsilon is <= the target (refined to 0.5 % where the brackets are wide; on
the proven fallback's Chernoff upper end alone, to 1e-4, then certified once; no refinement starts after
CERT_REFINE_CPU s of the call).  On 2 x 60 random targets (benchmarks/calibrate_certified_random.py, seeds 12
and 7) the certified sigma is within 1e-4 of the exact one at p90 and at most 1.099x it (HEAD 5c5f717: p90
1.10x and 2.35x, max 2.90x and 4.13x); CPU median 0.07-0.15 s, p90 0.7-1.3 s, max 3-5 s, where the API's
certificate alone takes that long (few participations: the contour enclosure refuses and the few-participation
brackets use their CPU budgets).  The exact engine's search only places the first certificate: its sigma s0 is not
asked for eps(delta) (the answer's estimate comes with the API's certificate at the certified sigma), and the
tightening second certificate runs only where the call so far plus the first certificate's CPU stays within
CERT_TIGHTEN_CPU (session 14, benchmarks/calibrate_certified_random.py seed 12, 20 targets, alternately with
ba6b916: CPU median 0.44 -> 0.28 s, p90 0.87 -> 0.66 s; the one call over 1 s is the API's certificate itself).
Where the certificates are wide near the exact sigma the returned sigma can sit well above it:
``details["certificate_note"]`` and a UserWarning say by how much and why.  No pass within ``CERT_MAX_EVALS``
certificates raises :class:`CertificationError` (a ValueError).  ``calibrate_steps(guarantee="certified")``
descends the same way from the exact engine's step count.

Session 16: with few participations (one group, T >= 3, q T <= CERT_COND_FIRST_QT) the rungs are first certified by
the conditioned body / tail bracket of bounds/fewpart_cond.py alone (a proof on its own; the API's certificate runs
the contour first, 0.3-1 s there, then the same bracket), under CERT_COND_FIRST_BUDGET; where it declines or comes
back wide the API's certificate answers as before.  Where the API's first certificate is the Chernoff bound alone
(its narrowing sources ran past their budgets: breaker H15 F1, PSG(0.3055, 1.42e-3) x 229 at delta 3.21e-6, ended
1.0735x the exact sigma on the Chernoff ladder), the same bracket certifies the rungs (under CERT_COND_BUDGET, on a
grid for CERT_COND_WIDTH where it takes a width): 1.0001-1.0004x there.  The answer's EpsilonResult then carries that
bracket (``details["certificate"]["certificate_source"]`` says so) and the engine's estimate at the returned sigma.
``certify_options`` (``time_budget``) sets the budget of the API's certificate the ladder asks (ewacct_torch passes
its accountant's, so that the accountant's later query at the returned sigma is the memoised certificate).
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

    @property
    def valid(self) -> bool:
        """False where an answer the calibration used was flagged (``valid=False``: e.g. the rigorous Chernoff
        bound that answers when a query's CPU budget ran out); ``details["flag_note"]`` says which and whether
        the returned sigma is still safe.  With ``guarantee="certified"`` it is whether the returned sigma's
        certified upper end meets the target: flagged answers of the estimate search that chose where the
        certificates start do not bear on that (``details["search_flagged_evaluations"]`` counts them)."""
        if self.guarantee == "certified":
            up = self.epsilon.upper
            return up is not None and math.isfinite(up) and up <= self.target_epsilon
        return bool(self.epsilon.valid) and not self.details.get("flagged_evaluations")


def _eps(sigma: float, q: float, steps: int, delta: float, method: str, *, fallback: bool,
         certify: bool = False, certify_options: dict[str, Any] | None = None) -> EpsilonResult:
    acc = Accountant(method=method, fallback=fallback).compose(PoissonSubsampledGaussian(sigma, q), steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(delta, certify=certify, certify_options=certify_options)


def calibrate_noise(*, target_epsilon: float, target_delta: float, sampling_probability: float, steps: int,
                    method: str | None = None, guarantee: str = "estimate", rtol: float = 1e-6,
                    certify_options: dict[str, Any] | None = None) -> CalibrationResult:
    """Smallest noise multiplier with eps(target_delta) <= target_epsilon for DP-SGD.

    Args:
        target_epsilon: eps > 0.
        target_delta: delta in (0, 1).
        sampling_probability: Poisson rate q in (0, 1].
        steps: number of steps T >= 1.
        method: accountant method for the estimate ("exact" default, "tilted", "edgeworth", "ew-tune").
        guarantee: "estimate" (meet the target by the estimate) or "certified" (by the certified upper
            bound of ``get_epsilon(delta, certify=True)``: the smallest sigma found just above the exact
            engine's whose certificate meets the target; ``details["certificate"]`` lists the rungs, and
            ``details["certificate_note"]`` with a UserWarning says why where it ends more than 1 % above
            the exact sigma).
        rtol: relative tolerance on sigma for the estimate search.
        certify_options: with ``guarantee="certified"``, the options of the API's certificate the search asks
            (those of ``get_epsilon(delta, certify=True, certify_options=...)``; only ``time_budget`` changes it):
            the returned sigma then meets the target by the certificate that query returns (memoised: asking it
            again for the returned sigma costs a look-up).  ewacct_torch passes its accountant's budget.

    Returns:
        CalibrationResult with the sigma and the EpsilonResult at that sigma.

    Raises:
        ValueError: on bad input, or when no sigma in [0.05, 1e4] meets the target (the message says
            what epsilon is achievable).
        CertificationError: (a ValueError) ``guarantee="certified"`` and no sigma tried within
            CERT_MAX_EVALS certificates is certified (the message names the closest one and why).
    """
    target_epsilon = V.check_positive("target_epsilon", target_epsilon)
    target_delta = V.check_open_unit("target_delta", target_delta)
    q = V.check_probability("sampling_probability", sampling_probability)
    steps = V.check_count("steps", steps, allow_zero=False)
    if guarantee not in GUARANTEES:
        raise ValueError(f"guarantee must be one of {list(GUARANTEES)}, got {guarantee!r}")
    rtol = V.check_positive("rtol", rtol, upper=0.1)
    if rtol < 1e-12:
        raise V.InputError(f"rtol must be in [1e-12, 0.1], got {rtol!r}")
    api_budget = V.check_certify_options(certify_options).get("time_budget")
    m = Accountant(method=method).method
    t0 = time.perf_counter()
    from .methods.budget import clock

    started = clock()  # CPU seconds less Numba's kernel loading (methods/budget.py)
    n_eval = 0
    # the search stays in the fast expansion (no fallback); the final answer is re-checked with it
    directions = ("remove",)  # REMOVE dominates DP-SGD; verified at the end, redone with both if not

    last_t: dict[str, float] = {}
    flagged: list[EpsilonResult] = []   # flagged answers (valid=False) the search or the result used
    stopped: dict[str, Any] = {}          # the bracketing search's note where its CPU allowance ran out

    def seen(r: EpsilonResult) -> None:
        if not r.valid:
            flagged.append(r)

    def f(logs: float) -> float:
        acc = Accountant(method=m, fallback=False).compose(PoissonSubsampledGaussian(math.exp(logs), q), steps)
        if m == "exact":
            # eps(delta) <= target  <=>  delta(target) <= delta: one exact delta per sigma (both directions)
            eng = acc._exact_engine() if acc._structure() == "continuous" else None
            if eng is not None:
                b0 = eng.delta_at_zero_bound()
                if b0 <= target_delta:
                    # delta(target) <= delta(0) <= b0 <= target (joint convexity): met, without asking
                    # the engine (where q T < delta it can take minutes, e.g. q = 6e-7, T = 37, sigma = 1);
                    # the value has the sign of the true f, so the bracketing search ends at the same root
                    return math.log(max(b0, 1e-300)) - math.log(target_delta)
                try:
                    d, _, _, _ = eng.delta(target_epsilon)
                    return math.log(max(d, 1e-300)) - math.log(target_delta)
                except ArithmeticError:
                    pass
            r_acc = _eps_on(acc, target_delta)
            seen(r_acc)
            return float(r_acc.value) - target_epsilon
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

    # (certified: no eps shortcut, the ladder's first certificate ran past its budget twice in 8 runs after it)
    fast = _model_search(q, steps, target_delta, target_epsilon, rtol,
                         shortcut=guarantee == "estimate") if m == "exact" else None
    # certified, exact: the model search's sigma s0 only says where the certificates start (its REMOVE root; a
    # stricter ADD direction or a stricter fallback answer makes the first certificate fail and the ladder climb),
    # and the answer's estimate is asked at the certified sigma anyway (the confirmation): no eps(delta) at s0
    # (0.05-0.18 s of a 0.3-0.8 s call on benchmarks/calibrate_certified_random.py's contour points)
    seeds_only = guarantee == "certified" and m == "exact" and fast is not None and fast[3] is None
    if fast is not None:
        s, n_search, acc_s, res = fast
        n_eval += n_search
        if res is None and not seeds_only:
            # the accountant of the search at s holds the contour just built there: eps(delta) reuses it
            res = _eps_on(acc_s, target_delta)
    else:
        s, n_search = _search(f, q, steps, target_delta, target_epsilon, rtol, started, stopped)
        n_eval += n_search
        res = _eps(s, q, steps, target_delta, m, fallback=True)
    if not seeds_only:
        n_eval += 1
    if not seeds_only and m != "ew-tune" and res.direction != "remove":
        directions = ("remove", "add")
        s, n_search = _search(f, q, steps, target_delta, target_epsilon, rtol, started, stopped)
        n_eval += n_search
        res = _eps(s, q, steps, target_delta, m, fallback=True)
    if not seeds_only:
        seen(res)
    while not seeds_only and float(res.estimate) > target_epsilon:  # the fallback answered and is stricter
        if s >= SIGMA_MAX:
            # (H-R10 F5: eps 1e-9 at q 0.01, T 100 stepped to sigma 1.4e10 and failed on the noise domain)
            best = _achievable(SIGMA_MAX, q, steps, target_delta)
            raise ValueError(
                f"target_epsilon={target_epsilon:g} cannot be met with noise_multiplier <= {SIGMA_MAX:g} at "
                f"sampling_probability={q:g}, steps={steps}, target_delta={target_delta:g}; "
                f"the smallest achievable epsilon there is {best:.4g}")
        s = min(SIGMA_MAX, s * (1.0 + max(1e-3, (float(res.estimate) - target_epsilon) / target_epsilon)))
        res = _eps(s, q, steps, target_delta, m, fallback=True)
        seen(res)
        n_eval += 1
    details: dict[str, Any] = {"estimate_sigma": s}
    if "note" in stopped:
        details["search_note"] = stopped["note"]
        warnings.warn(f"calibrate_noise: {stopped['note']}", UserWarning, stacklevel=2)
    if flagged and guarantee == "certified":
        # the certificates below decide the answer; the estimate search only chose where they start
        details["search_flagged_evaluations"] = len(flagged)
    elif flagged:
        details["flagged_evaluations"] = len(flagged)
        details["flag_note"] = _flag_note(flagged, res, "sigma")
        warnings.warn(details["flag_note"], UserWarning, stacklevel=2)
    if s <= SIGMA_MIN * (1.0 + 1e-9):
        details["note"] = (f"the target is met already at the smallest noise multiplier searched ({SIGMA_MIN:g}); "
                           "any sigma >= that meets it, smaller ones are outside the accepted domain")
        warnings.warn(details["note"], UserWarning, stacklevel=2)
    if guarantee == "certified":
        s0 = s
        if m != "exact":
            # the ladder starts from the exact engine's sigma (true to ~1e-6): another method's sigma
            # may sit above the smallest certifiable one
            found = _model_search(q, steps, target_delta, target_epsilon, rtol)
            if found is not None:
                s0 = found[0]
                n_eval += found[1]
        s, res, k, info = _certified_search(s0, q, steps, target_delta, target_epsilon, m, started=started,
                                            api_budget=api_budget)
        n_eval += k
        details["certified_sigma"] = s
        details["certificate"] = info
        if s > s0 * (1.0 + CERT_FAR):
            why = info.get("first_contour", "")
            src = info["first_source"].split(" (contour:")[0]
            details["certificate_note"] = (
                f"the certified sigma {s:.6g} is {100.0 * (s / s0 - 1.0):.3g} % above the exact engine's {s0:.6g}: "
                f"at {info['first_sigma']:.6g} (the exact sigma x {1.0 + CERT_TOL:g}) the certificate ({src}) gave "
                f"eps in [{info['first_certificate'][0]:.6g}, {info['first_certificate'][1]:.6g}] (the target "
                f"{target_epsilon:g})"
                + (f"; the contour enclosure did not apply: {why}" if why and why != "ok" else ""))
            warnings.warn(details["certificate_note"], UserWarning, stacklevel=2)
    return CalibrationResult(noise_multiplier=s, epsilon=res, method=res.method, guarantee=guarantee,
                             target_epsilon=target_epsilon, target_delta=target_delta, sampling_probability=q,
                             steps=steps, evaluations=n_eval, seconds=time.perf_counter() - t0, details=details)


def _eps_on(acc: Accountant, delta: float) -> EpsilonResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.get_epsilon(delta)


def _is_bound(r: EpsilonResult) -> bool:
    """A flagged answer that is a rigorous upper bound (the exact chain's Chernoff / composition bound)."""
    from .methods.dispatch import BOUND_METHODS

    return r.method in BOUND_METHODS


def _flag_note(flagged: list[EpsilonResult], final: EpsilonResult, what: str) -> str:
    """What flagged answers (``valid=False``) mean for a calibration: the note of ``details["flag_note"]``.

    A flagged rigorous upper bound (``dispatch.BOUND_METHODS``, e.g. the Chernoff bound answering after a
    query's CPU budget ran out, methods/budget.py) is >= the exact eps: a target met by it is met by the
    exact eps (safe), a target missed by it may not be missed (the search then chose more noise / fewer
    steps than needed: conservative).  A flagged estimate (a quadrature that missed its tolerance) carries
    no such guarantee either way."""
    n = len(flagged)
    kinds = sorted({r.method for r in flagged})
    why = next((str(r.diagnostics.get("note")) for r in flagged if r.diagnostics.get("note")), "")
    head = (f"{n} epsilon evaluation{'s' if n > 1 else ''} used by this calibration {'were' if n > 1 else 'was'} "
            f"flagged (valid=False, method {', '.join(kinds)}{': ' + why if why else ''}); ")
    if all(_is_bound(r) for r in flagged):
        return head + (f"each is a rigorous upper bound on the exact epsilon, so the returned {what} is safe "
                       f"(its epsilon is at most the target) but conservative: the exact optimum may allow "
                       f"{'less noise' if what == 'sigma' else 'more steps'}")
    if final.valid or _is_bound(final):
        return head + (f"the returned {what} meets the target by a "
                       f"{'valid exact evaluation' if final.valid else 'rigorous upper bound'} (safe), but the "
                       f"search steps that used a flagged estimate may have moved it away from the optimum")
    return head + (f"the returned {what} meets the target only by a flagged estimate that missed its tolerance "
                   "(not guaranteed): use guarantee='certified' for a proven one")


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
#: with at most this many expected participations q T the model is T times one step's exact delta
#: (:func:`_log_step_model`) instead of the saddle-point model: there delta(eps) is carried by one step's
#: large loss, and f - M varies by < 0.01 per unit of log sigma at q T = 1e-3 (the saddle-point model was
#: off by 11-19 in log delta at q = 1e-4, T = 10, eps = 0.05, delta = 1e-10, and its search handed over
#: to the bracket search: 15 evaluations, 2 s); measured |d(f - M)/dx| / |dM/dx| <= 0.25 up to q T = 1
_STEP_MODEL_QT = 1.0
#: the few-participation quadrature's relative tolerance on delta during the search (its default is 1e-8):
#: 2-5x cheaper (q = 3.04e-6, sigma = 0.655, T = 892270, eps = 0.19: 0.22 -> 0.12 s; q = 6.2e-4, sigma =
#: 1.25, T = 170, eps = 0.12: 0.25 -> 0.05 s); used where it moves the root by at most rtol / 4 in log sigma
_FEWPART_SEARCH_RTOL = 1e-6
#: after the contour refused at one point of the search, it is not asked within this distance in log sigma
_REFUSED_NEAR = 0.05
#: a contour evaluation slower than this (CPU s) lets the few-participation quadrature go first at the next point
_SLOW_CONTOUR = 0.1
#: the one-step model's shortcut (its corrected root answered by the final eps query) is tried only where that
#: root lies within this of the first exact point in log sigma (from farther the correction is not accurate to
#: rtol: 0.27 s lost at q = 2.7e-6, T = 1156600, delta = 2.5e-12 from 0.2 away)
_SHORTCUT_NEAR = 0.02


def _log_step_model(q: float, sigma: float, steps: int, eps: float) -> float:
    """log(T delta_1(eps)), delta_1 one Poisson-subsampled Gaussian step's exact REMOVE delta (a model only:
    with few participations delta(eps) ~ T delta_1(eps), one step carrying the whole loss).

    delta_1 = q delta_G(e'; mu), e' = log(1 + (e^eps - 1)/q), mu = 1/sigma (methods/closed.py), in logs:
    delta_G = exp(-a^2/2)/2 [erfcx(a/sqrt2) - erfcx((a + mu)/sqrt2)], a = e'/mu - mu/2 (no underflow)."""
    from .methods.closed import _erfcx_drop, gaussian_delta

    mu = 1.0 / sigma
    e1 = eps - math.log(q) + math.log1p(-(1.0 - q) * math.exp(-eps)) if eps > 30.0 else math.log1p(math.expm1(eps) / q)
    a = e1 / mu - 0.5 * mu
    if a < -1.0:
        d = gaussian_delta(e1, mu)
        if not d > 0.0:
            raise ArithmeticError("step model not positive")
        lg = math.log(d)
    else:
        drop = _erfcx_drop(a / math.sqrt(2.0), mu / math.sqrt(2.0))
        if not drop > 0.0:
            raise ArithmeticError("step model not positive")
        lg = -0.5 * a * a + math.log(0.5 * drop)
    return math.log(steps) + math.log(q) + lg


def _model_search(q: float, steps: int, target_delta: float, target_epsilon: float,
                  rtol: float, shortcut: bool = False) -> tuple[float, int, Accountant, EpsilonResult | None] | None:
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
    step_model = q * steps <= _STEP_MODEL_QT and q < 1.0

    def model(x: float) -> float:
        if step_model:
            return _log_step_model(q, math.exp(x), steps, target_epsilon) - log_d
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

    def _final_at(x: float):
        """The one-step model's shortcut: its corrected root x answered by eps(delta) directly (the final
        query, which calibrate_noise asks anyway) instead of an exact delta first.  Accepted where that eps is
        valid, at most the target (the safe side, exactly as the final check asks) and, by the model's
        d eps / d x at fixed delta (to 50 %), within rtol of the root; else None and the search goes on
        (one evaluation lost).  q = 4.05e-6, T = 7226, delta = 1e-10: 1.26 -> ~0.9 s."""
        acc = Accountant(method="exact").compose(PoissonSubsampledGaussian(math.exp(x), q), steps)
        res = _eps_on(acc, target_delta)
        e = float(res.estimate)
        if not (res.valid and res.method.startswith("exact") and float(res.value) <= target_epsilon
                and e <= target_epsilon):
            return None
        hx, he = 1e-4, 1e-4 * target_epsilon
        mx = (_log_step_model(q, math.exp(x + hx), steps, target_epsilon)
              - _log_step_model(q, math.exp(x - hx), steps, target_epsilon)) / (2.0 * hx)
        me = (_log_step_model(q, math.exp(x), steps, target_epsilon + he)
              - _log_step_model(q, math.exp(x), steps, target_epsilon - he)) / (2.0 * he)
        dedx = abs(mx / me) if me < 0.0 and mx < 0.0 else 0.0
        if not dedx > 0.0 or 1.5 * (target_epsilon - e) / dedx > rtol:
            return None
        return math.exp(x), evals, acc, res

    evals = failures = 0
    refused_at: float | None = None   # where the contour last refused
    cost: dict[str, float] = {}       # CPU seconds of each engine's last evaluation
    fewpart_ok = q < 1.0 and _fewpart_supports(q, steps)

    def timed(name: str, fn, *a, **k) -> float:
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            cost[name] = time.process_time() - t

    def contour_f(x: float) -> float:
        return timed("contour", lambda: direction(x)._remove_log_delta(target_epsilon).log_delta) - log_d

    def fewpart_f(x: float) -> float:
        return timed("fewpart", _fewpart_log_delta, q, math.exp(x), steps, target_epsilon,
                     rtol=_search_rtol(x)) - log_d

    def exact_f(x: float) -> float:
        """f(x) by the contour (as the engine routes it) or the few-participation quadrature, REMOVE
        direction, as the dispatch does where the contour refuses (e.g. sigma < 0.2 at q T = 0.1).  The
        contour is not asked again within _REFUSED_NEAR of a refusal (0.08-0.11 s per refusal at q = 4.05e-6,
        T = 7226, delta = 1e-10 and at q = 3e-6, T = 9e5, delta = 1.65e-11), and the quadrature is asked first
        where the contour's last evaluation took over _SLOW_CONTOUR s and the quadrature's was cheaper (or not
        yet tried: q = 1.1e-6, T = 1036621, delta = 6.1e-7: contour 0.28-0.33 s, quadrature 0.09 s); either
        engine's failure falls back to the other."""
        nonlocal refused_at
        skip = refused_at is not None and abs(x - refused_at) <= _REFUSED_NEAR
        quad_first = fewpart_ok and (skip or (cost.get("contour", 0.0) > _SLOW_CONTOUR
                                              and cost.get("fewpart", 0.0) < cost["contour"]))
        if quad_first:
            try:
                return fewpart_f(x)
            except ContourError:
                return contour_f(x)
        try:
            return contour_f(x)
        except ContourError:
            refused_at = x
            return fewpart_f(x)

    def _search_rtol(x: float) -> float | None:
        """The quadrature's relative tolerance on delta at x: _FEWPART_SEARCH_RTOL where an error of that size
        moves the root by at most rtol / 4 in x (|d log delta / d log sigma| >= 4e-6 / rtol, by the exact
        secant or the model's slope; a first point, far from the root, needs no more), else its default."""
        if len(pts) >= 2 and pts[-1][0] != pts[-2][0]:
            d = abs((fs[-1] - fs[-2]) / (pts[-1][0] - pts[-2][0]))
        elif slope:
            d = abs(slope[-1])
        else:
            return _FEWPART_SEARCH_RTOL if not pts else None
        return _FEWPART_SEARCH_RTOL if 0.25 * rtol * d >= _FEWPART_SEARCH_RTOL else None
    pts: list[tuple[float, float]] = []   # (x, r = f - M) at the exact evaluations
    fs: list[float] = []                  # f at those points
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
            far = not step_model and q * steps < _FEW_PARTICIPATIONS and cs.get(x, 1.0) > _MODEL_C_FAR
            if far:
                x = min(x, x_clt)
            x += 0.5 * rtol
            while evals < _MODEL_MAX_EVALS:
                try:
                    # the REMOVE delta as the engine routes it: the full contour, or the truncated
                    # composition / few-participation quadrature in the far mode where the plain
                    # contour cannot settle (q T ~ 1 at tiny delta)
                    if direction(x).delta_at_zero_bound() <= target_delta:
                        # met by the joint-convexity bound on delta(0): no exact value to correct the
                        # model with; the bracketing search takes over (its f uses the bound too)
                        return None
                    fx = exact_f(x)
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
                fs.append(fx)
                if len(pts) == 1 and not step_model and q < 1.0 and q * steps <= _FEW_PARTICIPATIONS:
                    # few participations: T times one step's delta models f far better than the saddle-point
                    # model where q is small (measured f - M at the root: 0.004-0.5 at q <= 1e-4 and q T in
                    # 1..13, against 3-15 for the saddle-point model); the better one at the first point is kept
                    try:
                        r_step = fx - (_log_step_model(q, math.exp(x), steps, target_epsilon) - log_d)
                    except (ArithmeticError, ValueError):
                        r_step = math.inf
                    if abs(r_step) < abs(pts[0][1]):
                        step_model = True
                        far = False  # (the damping below is the saddle-point model's)
                        pts[0] = (x, r_step)
                        slope.clear()
                root = model_root(correction, x)
                if fx <= 0.0 and x - root <= rtol:
                    return math.exp(x), evals, acc_x, None
                nxt = root + 0.5 * rtol
                if (shortcut and step_model and len(pts) == 1 and above < nxt < below and nxt != x
                        and abs(nxt - x) <= _SHORTCUT_NEAR):
                    done = _final_at(nxt)
                    if done is not None:
                        return done
                    evals += 1  # that eps query, not accepted
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


def _fewpart_supports(q: float, steps: int) -> bool:
    """Whether the few-participation quadrature applies to q, T at some sigma (its q T limit)."""
    from .methods import fewpart

    return q * steps <= fewpart.SUPPORT_QN


def _fewpart_log_delta(q: float, sigma: float, steps: int, eps: float, rtol: float | None = None) -> float:
    """log delta_remove(eps) by the few-participation quadrature; ContourError where it does not apply.

    ``rtol``: the quadrature's relative tolerance (its default, 1e-8, where None); where a looser one is
    refused with an error estimate near the quadrature's acceptance (<= 1e-3), the default is asked."""
    from .methods import fewpart
    from .methods.contour import ContourError

    g = [(q, sigma, int(steps))]
    if not fewpart.supports(g):
        raise ContourError("few-participation quadrature not applicable")
    try:
        try:
            if rtol is None:
                raise fewpart.FewPartError("default tolerance")
            d, _, _ = fewpart.fewpart_delta(g, eps, direction="remove", rtol=rtol)
        except fewpart.FewPartError as exc:
            est = exc.estimate
            if est is not None and not est[1] <= 1e-3:
                raise  # far from the acceptance (cancellation): the default tolerance fails as well
            d, _, _ = fewpart.fewpart_delta(g, eps, direction="remove")
    except (ArithmeticError, ValueError) as exc:
        raise ContourError(f"few-participation quadrature: {exc}") from exc
    if not d > 0.0:
        raise ContourError("few-participation delta not positive")
    return math.log(d)


def _gdp_mu(eps: float, delta: float, iters: int, none_below: bool) -> float | None:
    """mu of the mu-GDP pair whose delta at ``eps`` is ``delta``, by bisection in log mu over [1e-3, 50]
    (the largest mu with delta_mu(eps) <= delta, to ``iters`` halvings).  None where delta_mu(eps) stays
    below ``delta`` up to mu = 50, or (``none_below``) is above it already at mu = 1e-3."""
    def gdp_delta(mu: float) -> float:
        return 0.5 * math.erfc((eps / mu - mu / 2.0) / math.sqrt(2.0)) - math.exp(eps) * 0.5 * math.erfc(
            (eps / mu + mu / 2.0) / math.sqrt(2.0))

    lo, hi = 1e-3, 50.0
    if gdp_delta(hi) < delta or (none_below and gdp_delta(lo) > delta):
        return None
    for _ in range(iters):
        mid = math.sqrt(lo * hi)
        if gdp_delta(mid) > delta:
            hi = mid
        else:
            lo = mid
    return lo


def _clt_steps(q: float, sigma: float, eps: float, delta: float) -> int | None:
    """The step count from the Gaussian (CLT) approximation of DP-SGD, mu = q sqrt(T (e^{1/sigma^2} - 1)) at the
    mu-GDP pair's mu for (eps, delta) (a starting point only; None where it does not apply)."""
    try:
        mu = _gdp_mu(eps, delta, 60, none_below=True)
        if mu is None:
            return None
        t = (mu / q) ** 2 / math.expm1(1.0 / sigma ** 2)
        return int(t) if math.isfinite(t) and t < 1e18 else None
    except (ValueError, OverflowError, ZeroDivisionError):
        return None


def _clt_log_sigma(q: float, steps: int, eps: float, delta: float) -> float:
    """log sigma from the Gaussian (CLT) approximation of DP-SGD (a starting point only).

    T-fold Poisson-subsampled Gaussian ~ mu-GDP with mu = q sqrt(T (e^{1/sigma^2} - 1)); mu from
    delta(eps) of the Gaussian pair, then sigma.  Clamped to the searched range.
    """
    try:
        mu = _gdp_mu(eps, delta, 80, none_below=False)
        if mu is None:
            return 0.0
        ratio = (mu / q) ** 2 / steps
        sigma = 1.0 / math.sqrt(math.log1p(ratio))
        return min(max(math.log(sigma), math.log(SIGMA_MIN)), math.log(SIGMA_MAX))
    except (ValueError, OverflowError, ZeroDivisionError):
        return 0.0


def _achievable(sigma: float, q: float, steps: int, delta: float) -> float:
    """The exact epsilon at ``sigma`` (for the infeasibility message)."""
    return float(_eps(sigma, q, steps, delta, "exact", fallback=True).value)


class _OutOfTime(Exception):
    """A calibration search's CPU allowance (SEARCH_CPU) is spent and a safe point is known."""


#: CPU seconds (budget.clock, from the start of the call) after which the bracketing searches of calibrate_noise
#: and calibrate_steps stop at the best safe point found so far (one whose evaluation met the target), with a
#: note and a warning: the noise / step count stays safe, the gap to the optimum is reported.  The model-
#: corrected search, which answers almost everywhere, ends well before (<= 0.8 s on the random scans)
SEARCH_CPU = 0.8


def _search(f, q: float, steps: int, target_delta: float, target_epsilon: float, rtol: float,
            started: float | None = None, stop: dict[str, Any] | None = None) -> tuple[float, int]:
    """Bracket by doubling, Brent on log sigma, then nudge to the safe side; returns (sigma, evaluations).

    Past SEARCH_CPU of the call (``started``: its budget.clock at the start) the search stops at the smallest
    log sigma whose f was <= 0 (met), once one is known; ``stop["note"]`` then says so."""
    from .methods.budget import clock

    calls = 0
    met = [math.inf]     # smallest x with f(x) <= 0
    failed = [-math.inf]  # largest x with f(x) > 0

    def g(x: float) -> float:
        nonlocal calls
        if started is not None and math.isfinite(met[0]) and clock() - started > SEARCH_CPU:
            raise _OutOfTime
        calls += 1
        v = f(x)
        if v <= 0.0:
            met[0] = min(met[0], x)
        else:
            failed[0] = max(failed[0], x)
        return v

    try:
        return _search_in(g, q, steps, target_delta, target_epsilon, rtol) + (calls,)
    except _OutOfTime:
        if stop is not None:
            stop["note"] = (f"the search stopped after {SEARCH_CPU:g} s of CPU: sigma {math.exp(met[0]):.9g} meets "
                            f"the target" + (f", {math.exp(failed[0]):.9g} does not (the smallest sigma lies "
                                             f"between)" if math.isfinite(failed[0]) else ""))
        return math.exp(met[0]), calls


def _search_in(g, q: float, steps: int, target_delta: float, target_epsilon: float, rtol: float) -> tuple[float]:
    """The body of :func:`_search` on g (counting, timed); returns (sigma,)."""

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
    return (sigma,)


class CertificationError(ValueError):
    """``guarantee="certified"``: no noise multiplier (or step count) tried within the bounded search
    has a certified upper epsilon <= the target (the message names the closest certificate seen and
    why the contour certificate did not apply)."""


#: a certified sigma more than this above the exact one is reported (details["certificate_note"] and a warning)
CERT_FAR = 0.01
#: most certified evaluations of one certified calibration (each 0.02-0.3 s, none over
#: CERT_FIRST_BUDGET + ~0.05 s): past this the search stops with a CertificationError
CERT_MAX_EVALS = 14
#: a bracket with (upper - lower) / upper above this is "wide" (the proven fallback): the search then
#: refines its first pass to CERT_RTOL_WIDE in sigma (relative) with at most CERT_REFINE_EVALS more
CERT_WIDE = 1e-3
CERT_RTOL_WIDE = 5e-3
CERT_REFINE_EVALS = 5
#: the contour enclosure's CPU budget (s) for the rungs after certificates that cost CERT_SPEND CPU
#: seconds in all and fell back to the proven bracket (which answers in ~0.03 s); before that each rung
#: has the certificate's default budget (where the contour's node count is over its budget it refuses
#: in ~0.05 s, and a few per cent away it may apply: those rungs stay cheap and narrow)
CERT_RETRY_BUDGET = 0.02
CERT_SPEND = 0.3
#: the contour enclosure's CPU budget (s) for each rung until then (the certificate's default is 1 s;
#: where the enclosure applies it takes 0.01-0.3 s, where it does not it can spend the whole budget
#: before the proven bracket answers: 0.65-0.9 s at q = 1e-7, T = 1e7, delta = 1e-12)
CERT_FIRST_BUDGET = 0.4
#: the first step's margin over the predicted move (the upper end's excess over the target divided
#: by the elasticity -d log eps / d log sigma)
CERT_STEP_MARGIN = 1.25


#: CPU seconds (budget.clock, from the start of the calibration) after which the certified ladders do not refine
#: a first certified rung further (its answer stays certified; the refinement narrows the gap to the smallest
#: certifiable sigma / largest certifiable step count, 0.08-0.25 s per rung where the bracket is the proven
#: fallback): the confirmation that follows costs 0.03-0.25 s, so the whole call stays near 1 s (issue 9)
CERT_REFINE_CPU = 0.85


#: ... or this many, where the gap the refinement narrows is still wider than CERT_FAR_GAP (relative in sigma): the
#: certified sigma there is far above the smallest certifiable one (sigma 0.385, q 1.12e-5, T 75, delta 1.1e-6:
#: the Chernoff route's 2.85x the exact sigma, where the contour enclosure applies from ~2x)
CERT_REFINE_CPU_FAR = 2.0
CERT_FAR_GAP = 0.05


def _refine_limit(gap: float) -> float:
    """The refinement's CPU allowance (s, for the whole call) where the gap it would narrow is ``gap`` (relative)."""
    return max(CERT_REFINE_CPU_FAR, CERT_REFINE_CPU) if gap > CERT_FAR_GAP else CERT_REFINE_CPU


def _out_of_time(started: float | None, gap: float = 0.0) -> bool:
    """Past the refinement's CPU allowance (gap: the relative width in sigma it would narrow)."""
    from .methods.budget import clock

    return started is not None and clock() - started > _refine_limit(gap)


#: the certified calibration's first certificate is at the exact sigma x (1 + CERT_TOL): where the certificate
#: there is narrow (relative width <= ~CERT_TOL / 2) it passes and the certified sigma is within CERT_TOL of the
#: smallest certifiable one
CERT_TOL = 1e-4
#: a first certificate that passed is followed by the narrower second one (s0 (1 + 2 w + CERT_TIGHT_SLACK), w its
#: relative width) only where the CPU seconds of the call so far (budget.clock) plus those of the first
#: certificate (what the second is expected to cost) are at most this.  The answer's confirmation (the engine's
#: estimate at the certified sigma, 0.05-0.2 s in the few-participation corner) follows: 0.8 let such calls end at
#: 0.8-0.9 s for a gain of < 1e-4 in sigma (q 2.88e-5, T 562; q 1.83e-5, T 12419)
CERT_TIGHTEN_CPU = 0.4
#: ... at s0 (1 + 2 w + CERT_TIGHT_SLACK): the slack covers the exact engine's own error in eps(s0) <= target
CERT_TIGHT_SLACK = 1e-8

#: relative tolerance in sigma of the search on the proven Chernoff upper end (:func:`_chernoff_root`)
CERT_CHERNOFF_RTOL = 1e-4


def _is_proven(c: Any) -> bool:
    """A certificate from the proven wide fallback (whose upper end is the Chernoff bound of bounds/proven.py)."""
    from .bounds.certify import PROVEN_SOURCE

    return str(getattr(c, "source", "")).startswith(PROVEN_SOURCE)


def _is_chernoff_only(c: Any) -> bool:
    """A wide certificate whose upper end is the proven Chernoff bound alone (no few-participation bracket
    narrowed it): the smallest sigma it certifies is found on that bound (:func:`_chernoff_root`)."""
    from .bounds.certify import COND_SOURCE, FEWPART_SOURCE

    src = str(getattr(c, "source", ""))
    return _is_proven(c) and _is_wide(c) and FEWPART_SOURCE not in src and COND_SOURCE not in src


def _chernoff_root(q: float, steps: int, delta: float, target: float, x_fail: float,
                   x_pass: float | None) -> tuple[float, float] | None:
    """The smallest log sigma in (x_fail, x_pass] (to CERT_CHERNOFF_RTOL, on the safe side) whose proven Chernoff
    upper end of eps(delta) (both directions, as :func:`ewacct.bounds.proven.proven_epsilon_bracket` computes it,
    a rigorous upper bound) is <= target: Illinois regula falsi on log(upper / target), after a bracket by
    doubling steps up from x_fail where x_pass is None.  Returns (that point, the largest failing point seen),
    or None where it fails.  Only a search: the caller certifies the point it returns."""
    from .bounds.closed_form import illinois_upper_end
    from .bounds.proven import _Dir, chernoff_eps_upper

    ld = math.log(delta)

    def y(x: float) -> float:
        g = [(PoissonSubsampledGaussian(min(math.exp(x), SIGMA_MAX), q), steps)]
        hi = 0.0
        for d in ("remove", "add"):
            cd = _Dir(g, d)
            hi = max(hi, min(chernoff_eps_upper(cd, ld)[0], cd.loss_sup))
        return math.log(hi / target) if hi > 0.0 else -math.inf

    try:
        a = x_fail
        ya = y(a)
        if x_pass is None:
            if not (ya > 0.0 and math.isfinite(ya)):
                return None
            x_max = math.log(SIGMA_MAX)
            step = min(max(ya, 0.01), 1.0)
            b = min(a + step, x_max)
            yb = y(b)
            while yb > 0.0:
                if b >= x_max:
                    return None
                a, ya = b, yb
                step *= 2.0
                b = min(a + step, x_max)
                yb = y(b)
        else:
            b = x_pass
            yb = y(b)
        if not (ya > 0.0 >= yb) or not math.isfinite(ya):
            return None
        # the certified eps search's Illinois regula falsi: b stays a passing point, a a failing one
        a, b = illinois_upper_end(y, a, ya, b, yb, 0.0, math.log1p(CERT_CHERNOFF_RTOL))
        return b, a
    except (ArithmeticError, ValueError, ImportError):
        return None


def _why_not_contour(c: Any) -> str:
    """Why a certificate is not the contour enclosure ("" when it is, or for the exact closed forms)."""
    a = getattr(c, "analytic", None)
    if isinstance(a, dict) and isinstance(a.get("contour"), str):
        return a["contour"]
    return ""


def _is_wide(c: Any) -> bool:
    return c.upper > 0.0 and (c.upper - c.lower) > CERT_WIDE * c.upper


class _Certifier:
    """One certificate per rung, with the shared CPU budget rule of the certified ladders: the contour
    enclosure gets CERT_FIRST_BUDGET per rung until fallbacks have cost CERT_SPEND in all, then
    CERT_RETRY_BUDGET (the proven bracket then answers in ~0.03 s)."""

    def __init__(self) -> None:
        self.budget = CERT_FIRST_BUDGET
        self.spent = 0.0

    def __call__(self, acc: Accountant, delta: float) -> tuple[Any, float]:
        """(certificate, the time budget it was computed with: part of the certificate's memo key)."""
        from .bounds.certify import certified_epsilon
        from .methods.budget import clock  # CPU time less Numba's kernel loading, as the budget itself

        t, used = clock(), self.budget
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = certified_epsilon(acc, delta, time_budget=used)
        self.spent += clock() - t
        if used > CERT_RETRY_BUDGET and _why_not_contour(c) not in ("", "ok") and self.spent > CERT_SPEND:
            self.budget = CERT_RETRY_BUDGET
        return c, used

    @staticmethod
    def confirm(sigma: float, q: float, steps: int, delta: float, method: str, target: float, c_pass: Any,
                budget: float, what: str) -> EpsilonResult:
        """The certified EpsilonResult at the rung a ladder accepted, re-checked against the target.

        The certificate is memoised (the budget is part of its key), so this is the one the ladder just
        checked; a changed one raises rather than returning an unchecked parameter."""
        res = _eps(sigma, q, steps, delta, method, fallback=True, certify=True,
                   certify_options={"time_budget": budget})
        if not (res.upper is not None and res.upper <= target):
            raise CertificationError(
                f"internal error: the certificate at {what} changed between the search and the result "
                f"(upper {c_pass.upper!r}, then {res.upper!r}); please report")
        return res


def _certified_search(s0: float, q: float, steps: int, delta: float, target: float, method: str,
                      started: float | None = None, api_budget: float | None = None
                      ) -> tuple[float, EpsilonResult, int, dict[str, Any]]:
    """The smallest sigma (to ~2 w relative, w the certificate's relative width, where it is narrow) whose
    certified upper eps(delta) is <= target, every certificate the API's own
    (:func:`ewacct.bounds.certify.certified_epsilon` without a time budget: what
    ``get_epsilon(delta, certify=True)`` returns, few-participation brackets included).

    s0 is the exact engine's sigma (true to the search's rtol, 1e-6 by default): any certified sigma s has
    eps(s) <= upper(s) <= target, so s >= s0 (1 - rtol), and a certificate at s0 fails unless its bracket is
    narrower than the gap target - eps(s0).  The first certificate is at s0 (1 + CERT_TIGHT_SLACK), or with
    few participations (q T <= FEWPART_QN, where the API's certificate may be the few-participation bracket,
    1e-5-1e-4 wide and 1-2 s) at s0 (1 + CERT_TOL).  Where that passes and is narrow (relative width w much
    below CERT_TOL) one more at s0 (1 + 2 w + CERT_TIGHT_SLACK) narrows the gap, unless CERT_TIGHTEN_CPU
    seconds of the call are spent.  Where it fails with a narrow bracket the next rung is 2 log(upper /
    target) + CERT_TIGHT_SLACK higher in log sigma (it passes where eps(s0) <= target,
    -d log eps / d log sigma >= 1/2 and the width stays w); with a wide one CERT_STEP_MARGIN x
    log(upper / target) / E higher (E the exact engine's elasticity), then by the secant through the last two
    rungs; where the failing certificate is the proven Chernoff bound alone, the smallest sigma that bound
    certifies is found on it (~6 ms per point, :func:`_chernoff_root`) and certified once.  Where the first
    certificate is the Chernoff bound alone (the API's other sources did not apply there, after up to ~5 s of
    trying), the later rungs take the quick certificate of :class:`_Certifier` (contour enclosure with a short
    budget, else the proven bracket; ``details["certificate"]["certificate_budget_s"]`` names the budget of the
    one returned).  A first pass
    found through wide brackets is refined by regula falsi to CERT_RTOL_WIDE (certified sigma as a function
    of the source that answers is not monotone: at sigma 0.385, q 1.12e-5, T 75, delta 1.1e-6 only the
    Chernoff bound answers up to sigma ~0.6, the contour enclosure from ~0.8); no refinement starts after
    CERT_REFINE_CPU s of the call.  At most CERT_MAX_EVALS certificates; none passing raises
    CertificationError.

    Returns:
        (sigma, EpsilonResult with the certificate at sigma, certified evaluations, details).
    """
    from .methods.budget import clock

    tried: list[tuple[float, Any]] = []
    passes: dict[float, Any] = {}
    spent = [0.0]

    def sig(x: float) -> float:
        return min(math.exp(x), SIGMA_MAX)  # exp(log(1e4)) rounds above 1e4

    certifier = _Certifier()
    quick = [False]  # the later rungs take the quick certificate (see below)
    cond_mode: list[Any] = [False]  # the rungs take the conditioned bracket (its CPU budget; see below)
    cond_first = [False]  # ... tried before the API's certificate (not after a Chernoff-only one)
    budgets: dict[float, Any] = {}

    def cert(x: float):
        from .bounds.certify import certified_epsilon

        s = sig(x)
        acc = Accountant(method=method).compose(PoissonSubsampledGaussian(s, q), steps)
        t = clock()
        c = None
        if cond_mode[0]:
            c, used = _cond_certificate(s, q, steps, delta, target, cond_mode[0]), _COND_RUNG
            if c is not None and cond_first[0] and _is_wide(c):
                # tried first and wide (its grid did not reach the width here: 1 % at sigma 0.5276, q 2.88e-5, T 562,
                # where the ladder then ended 1.0013x the exact sigma): the API's certificate answers instead
                c = None
            if c is None:
                cond_mode[0] = False  # (declined: the API's or the quick certificates take over, as before)
        if c is not None:
            pass
        elif quick[0]:
            c, used = certifier(acc, delta)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # the API's certificate at the caller's budget (None: the default; its memo entry is what the
                # confirmation, and a later get_epsilon(delta, certify=True, certify_options=...), reuses)
                c, used = certified_epsilon(acc, delta, time_budget=api_budget), None
        spent[0] += clock() - t
        tried.append((s, c))
        if c.upper <= target:
            passes[x] = c
            budgets[x] = used  # (part of the certificate's memo key)
        return c

    def y(c) -> float:  # log(upper / target), -inf for a certified 0
        return math.log(c.upper / target) if c.upper > 0.0 else -math.inf

    x0 = math.log(s0)
    # with few participations (sum q T <= FEWPART_QN) the API's certificate may be the few-participation
    # bracket (relative width ~1e-5-1e-4, 1-2 s): the first rung is then CERT_TOL above s0, where that width
    # passes at once; elsewhere (the contour enclosure, 1e-10-1e-6 wide, or the proven bracket) just above s0
    from .bounds.certify import FEWPART_QN

    first = CERT_TOL if q * steps <= FEWPART_QN else CERT_TIGHT_SLACK
    x1 = min(x0 + math.log1p(first), math.log(SIGMA_MAX))
    if api_budget is None and q * steps <= CERT_COND_FIRST_QT and _cond_applies(q, steps):
        # few participations: the conditioned bracket first, under CERT_COND_FIRST_BUDGET (0.03-0.2 s where the API's
        # certificate took 0.25-2.3 s: the contour 0.3-1 s, then the same bracket; where it declines the API's
        # certificate follows, as before)
        cond_mode[0], cond_first[0] = CERT_COND_FIRST_BUDGET, True
    c1 = cert(x1)
    cond_first[0] = False
    info: dict[str, Any] = {"exact_sigma": s0, "first_sigma": sig(x1), "first_certificate": [c1.lower, c1.upper],
                            "first_source": c1.source}
    why1 = _why_not_contour(c1)
    if why1:
        info["first_contour"] = why1
    if _is_chernoff_only(c1):
        # the API's certificate is the proven Chernoff bound alone here: the contour enclosure did not apply and the
        # few-participation brackets (where q T <= 1) did not narrow it, after up to ~1 + 2 + 2 s of trying.  The
        # later rungs take the quick certificate (:class:`_Certifier`: the contour with a 0.4 s, later 0.02 s budget,
        # else the proven bracket; a valid certificate of its own, not retried by the slower sources): at sigma 0.349,
        # q 3.81e-4, T 36 the API's certificate took ~4 s per rung
        quick[0] = True
        info["quick_rungs"] = ("after the first, the rungs are certified by the contour enclosure with a short budget "
                               "or the proven bracket (the API's certificate at the first was the Chernoff bound alone)")
    x_pass = x1 if c1.upper <= target else None
    x_chernoff = None
    x_fail, y_fail = x0, math.inf  # (s0 itself is not certified: a failing point only by the argument above)
    if x_pass is not None:
        w = (c1.upper - c1.lower) / c1.upper if c1.upper > 0.0 else 0.0
        xt = x0 + math.log1p(2.0 * w + CERT_TIGHT_SLACK)
        # (one more certificate costs about what the first did: only where the call stays within CERT_TIGHTEN_CPU)
        if (xt < x1 - math.log1p(0.25 * first) and len(tried) < CERT_MAX_EVALS
                and not (started is not None and clock() - started + spent[0] > CERT_TIGHTEN_CPU)):
            ct = cert(xt)
            if ct.upper <= target:
                x_pass = xt
                info["tightened"] = f"at sigma x (1 + {math.expm1(xt - x0):.3g}) from the width {w:.3g} at the first"
            else:
                x_fail, y_fail = xt, y(ct)
    else:
        x_fail, y_fail = x1, y(c1)
        x_max = math.log(SIGMA_MAX)
        if _is_chernoff_only(c1) and _cond_applies(q, steps) and len(tried) < CERT_MAX_EVALS:
            # the API's certificate is the Chernoff bound alone (its contour refused or ran out of budget, and the
            # conditioned bracket on issue 9's fine grid ran past its budget: breaker F1, PSG(0.3055, 1.42e-3) x 229,
            # where the Chernoff ladder then ended 1.07x the exact sigma): the rungs take the same conditioned
            # bracket on a grid for CERT_COND_WIDTH (a proof on its own), first where that width passes: 1.25
            # CERT_COND_WIDTH / E above the exact sigma (E the exact engine's elasticity), else the ladder continues
            el_c = _elasticity(s0, q, steps, delta, target)
            xr = min(x0 + math.log1p(max(first, CERT_STEP_MARGIN * CERT_COND_WIDTH / el_c)), x_max)
            t_c = clock()
            cc = _cond_certificate(sig(xr), q, steps, delta, target, CERT_COND_BUDGET)
            spent[0] += clock() - t_c
            if cc is not None:
                cond_mode[0] = CERT_COND_BUDGET
                tried.append((sig(xr), cc))
                info["conditioned_rungs"] = (f"the rungs after the first are certified by the {_cond_source()} (the API's "
                                             "certificate at the first was the Chernoff bound alone)")
                if cc.upper <= target:
                    x_pass = xr
                    passes[xr], budgets[xr] = cc, _COND_RUNG
                else:
                    x_fail, y_fail = xr, y(cc)
        # (the Chernoff route needs no elasticity; the conditioned rungs' brackets are ~CERT_COND_WIDTH wide: the
        # elasticity sizes their step, 2 y_fail would overshoot by ~4x)
        wide = (_is_wide(tried[-1][1]) or cond_mode[0]) and not _is_chernoff_only(tried[-1][1])
        el = _elasticity(s0, q, steps, delta, target) if wide and x_pass is None else 1.0
        if wide:
            step = CERT_STEP_MARGIN * y_fail / el + 4.0 * 2.0 ** -52
        else:
            # narrow (relative width w >= the excess y_fail): 2 y_fail + CERT_TIGHT_SLACK passes where
            # -d log eps / d log sigma >= 1/2 and the width stays w (eps there <= eps(s0) (1 - y_fail) <= target)
            step = 2.0 * y_fail + CERT_TIGHT_SLACK
        while x_pass is None and len(tried) < CERT_MAX_EVALS:
            c_last = tried[-1][1]
            if _is_chernoff_only(c_last) and x_chernoff is None:
                # the failing certificate is the proven Chernoff upper end alone (no contour, no few-participation
                # bracket narrowed it): the first sigma whose Chernoff upper end meets the target, found on that
                # bound alone (~6 ms per point), then certified once, instead of rungs at 0.07-1 s each
                found = _chernoff_root(q, steps, delta, target, x_fail, None)
                if found is not None:
                    xs, xf = found
                    x_chernoff = xs
                    cc = cert(xs)
                    if cc.upper <= target:
                        x_pass = xs
                        info["chernoff_ladder"] = (
                            f"sigma from the proven Chernoff upper end to {CERT_CHERNOFF_RTOL:g} (the contour "
                            f"enclosure did not apply at {sig(x_fail):.6g}; the Chernoff bound misses the target at "
                            f"{sig(xf):.9g})")
                        break
                    if xs > x_fail:
                        x_fail, y_fail = xs, y(cc)
                    continue
            x = min(x_fail + step, x_max)
            if x <= x_fail:
                break
            c = cert(x)
            if c.upper <= target:
                x_pass = x
                break
            yx = y(c)
            slope = (yx - y_fail) / (x - x_fail)
            x_fail, y_fail = x, yx
            if slope < 0.0:
                step = max(step, CERT_STEP_MARGIN * yx / -slope)
            else:
                step *= 2.0
        if x_pass is None:
            best = min(tried, key=lambda t: t[1].upper)
            why = _why_not_contour(best[1])
            raise CertificationError(
                f"guarantee='certified': no noise multiplier in [{sig(x1):.6g}, {tried[-1][0]:.6g}] tried "
                f"({len(tried)} certificates) has a certified upper epsilon <= {target:g} at delta={delta:g} "
                f"(q={q:g}, steps={steps}); the exact engine's sigma is {s0:.6g}; the lowest certified upper "
                f"end seen is {best[1].upper:.6g} at sigma {best[0]:.6g} from {best[1].source}"
                + (f" ({why})" if why and why != "ok" else "")
                + "; use guarantee='estimate' (the exact engine, 1e-6 relative) or a larger target_epsilon")
        # refine a first pass found through wide brackets (regula falsi on log(upper / target))
        c_pass = passes[x_pass]
        # (found on the Chernoff bound and certified by it: no refinement; where another source certified that
        # point far below the target, e.g. the contour enclosure applying again, the smallest certified sigma
        # can be much lower: sigma 0.385, q 1.12e-5, T 75, delta 1.1e-6, eps 0.353 was 2.85x the exact one)
        n_ref = CERT_REFINE_EVALS if x_pass == x_chernoff and _is_proven(c_pass) else 0
        while (x_pass - x_fail > math.log1p(CERT_RTOL_WIDE) and n_ref < CERT_REFINE_EVALS
               and len(tried) < CERT_MAX_EVALS and (_is_wide(c_pass) or y_fail > math.log1p(CERT_WIDE))):
            gap = math.expm1(x_pass - x_fail)
            if _out_of_time(started, gap):
                info["refinement_stopped"] = (
                    f"the refinement stopped after {_refine_limit(gap):g} "
                    f"s of CPU for the whole calibration: the "
                    f"smallest certified sigma on this ladder lies in ({sig(x_fail):.6g}, {sig(x_pass):.6g}]")
                break
            yp = y(c_pass)
            if math.isfinite(yp) and yp < y_fail:
                xm = x_fail + y_fail * (x_pass - x_fail) / (y_fail - yp)
            else:
                xm = 0.5 * (x_fail + x_pass)
            # keep the probe off the ends (a quarter of the interval), bisect every other time
            lo_m = x_fail + 0.25 * (x_pass - x_fail)
            hi_m = x_pass - 0.25 * (x_pass - x_fail)
            xm = min(max(xm, lo_m), hi_m) if n_ref % 2 == 0 else 0.5 * (x_fail + x_pass)
            c = cert(xm)
            n_ref += 1
            if c.upper <= target:
                x_pass, c_pass = xm, c
            else:
                x_fail, y_fail = xm, y(c)
    info["ladder"] = [(s, c.upper) for s, c in tried]
    c_pass = passes[x_pass]
    s = sig(x_pass)
    if budgets[x_pass] is _COND_RUNG:
        res = _cond_result(s, q, steps, delta, method, c_pass)
        info["certificate_source"] = "conditioned bracket on the calibration's grid (not the API's memo entry)"
    elif budgets[x_pass] is None:
        # the API's answer at s (get_epsilon(delta, certify=True): the memoised certificate just checked)
        res = _eps(s, q, steps, delta, method, fallback=True, certify=True,
                   certify_options=None if api_budget is None else {"time_budget": api_budget})
        if not (res.upper is not None and res.upper <= target):
            raise CertificationError(
                f"internal error: the certificate at sigma {s:.9g} changed between the search and the result "
                f"(upper {c_pass.upper!r}, then {res.upper!r}); please report")
    else:
        res = _Certifier.confirm(s, q, steps, delta, method, target, c_pass, budgets[x_pass], f"sigma {s:.9g}")
        info["certificate_budget_s"] = budgets[x_pass]
    info["certified_by"] = res.certified_by
    info["certificate_cpu_s"] = spent[0]
    info["sigma_over_exact"] = s / s0
    return s, res, len(tried), info


#: the conditioned bracket's relative eps width (the grid it plans) on the calibration's rungs, where
#: bounds/fewpart_cond.epsilon_bracket takes a ``width`` (else its default, issue 9's 1e-4): the certified sigma then
#: ends ~1.25 CERT_COND_WIDTH / E above the exact one at most (E = -d log eps / d log sigma, ~1-4 there)
CERT_COND_WIDTH = 3e-4
#: CPU seconds each conditioned rung may take after the API's certificate was the Chernoff bound alone (it declines
#: past them; the quick certificates then take over, as before)
CERT_COND_BUDGET = 3.0
#: with q T at most this (and one group of T >= 3 steps) the rungs take the conditioned bracket first, each under
#: CERT_COND_FIRST_BUDGET CPU seconds (where it declines, the API's certificate, as before); not where the caller set
#: the API certificate's budget (certify_options: ewacct_torch, whose accountant reports that certificate).  The API's
#: certificate there runs the contour (0.3-1 s) and then this same bracket: 1 s lets the bracket finish under load
#: (0.15-0.45 s quiet at q 2.3e-5-2.9e-5, T 66-176; at 0.5 s it declined there under a load of 8 and the API's
#: certificate followed: 1.2-1.4 s in all instead of 0.6-0.8)
CERT_COND_FIRST_QT = 0.01
CERT_COND_FIRST_BUDGET = 1.0
#: marks a rung certified by :func:`_cond_certificate` (in place of a certificate budget)
_COND_RUNG = object()


def _cond_source() -> str:
    from .bounds.certify import COND_SOURCE

    return COND_SOURCE


def _cond_applies(q: float, steps: int) -> bool:
    """Whether the conditioned bracket (bounds/fewpart_cond.py) can serve the calibration's rungs: one Poisson-
    subsampled Gaussian group of T >= 3 steps in the few-participation corner (q T <= certify.FEWPART_QN)."""
    from .bounds.certify import FEWPART_QN

    return q < 1.0 and steps >= 3 and q * steps <= FEWPART_QN


def _takes_width() -> bool:
    """Whether bounds/fewpart_cond.epsilon_bracket takes the grid's ``width``."""
    import inspect

    from .bounds import fewpart_cond

    try:
        return "width" in inspect.signature(fewpart_cond.epsilon_bracket).parameters
    except (TypeError, ValueError):
        return False


def _cond_certificate(sigma: float, q: float, steps: int, delta: float, target: float, cpu: float) -> Any:
    """The conditioned body / tail bracket of eps(delta) (bounds/fewpart_cond.py: proven on its own, both
    directions, docs/certified_fewpart.md C1-C14) on a grid for the relative width CERT_COND_WIDTH where it takes one,
    centred on the target (any centre gives a valid bracket; the rungs sit within ~1e-3 of it), as a
    certify.Certificate; None where it declines (its plan, its CPU budget ``cpu``) or fails."""
    from .bounds import fewpart_cond
    from .bounds.certify import Certificate
    from .methods.budget import clock

    t = clock()
    kw = {"width": 0.8 * CERT_COND_WIDTH * target} if _takes_width() else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            br = fewpart_cond.epsilon_bracket([(PoissonSubsampledGaussian(sigma, q), steps)], delta, target,
                                              time_budget=cpu, **kw)
    except Exception:  # noqa: BLE001 - one source of the ladder: where it fails the others certify, as before
        return None
    if br is None or not (0.0 <= br[0] <= br[1]) or not math.isfinite(br[1]):
        return None
    return Certificate(float(br[0]), float(br[1]),
                       f"{_cond_source()} (the certified calibration's rung"
                       + (f", a grid for the relative width {CERT_COND_WIDTH:g})" if kw else ")"),
                       None, clock() - t, {"conditioned": br[2]})


def _cond_result(sigma: float, q: float, steps: int, delta: float, method: str, c: Any) -> EpsilonResult:
    """The EpsilonResult at a rung the conditioned bracket certified: its bracket, and the engine's estimate (flagged,
    valid=False, where that falls outside the bracket)."""
    est = _eps(sigma, q, steps, delta, method, fallback=True)
    e = float(est.estimate)
    inside = c.lower <= e <= c.upper
    diag = dict(est.diagnostics) if isinstance(est.diagnostics, dict) else {}
    diag["certificate"] = c.analytic
    if not inside:
        diag["certificate_note"] = f"the estimate {e!r} lies outside the certified bracket [{c.lower!r}, {c.upper!r}]"
    return EpsilonResult(value=c.upper, estimate=e, lower=c.lower, upper=c.upper, method=est.method,
                         direction=est.direction, valid=bool(est.valid) and inside, certified_by=c.source,
                         diagnostics=diag, delta=delta)


def _elasticity(s0: float, q: float, steps: int, delta: float, target: float) -> float:
    """-d log eps / d log sigma at s0 from one exact evaluation 2 % above (eps(s0) ~ target), clamped to
    [0.5, 50]; 1 where the engine does not answer."""
    try:
        e1 = float(_eps(s0 * 1.02, q, steps, delta, "exact", fallback=True).estimate)
        if e1 > 0.0:
            return min(max(-math.log(e1 / target) / math.log(1.02), 0.5), 50.0)
    except (ArithmeticError, ValueError):
        pass
    return 1.0


def calibrate_steps(*, target_epsilon: float, target_delta: float, sampling_probability: float,
                    noise_multiplier: float, method: str | None = None, max_steps: int = 10**9,
                    guarantee: str = "estimate") -> int:
    """Largest number of DP-SGD steps whose epsilon stays <= target_epsilon (0, with a warning, if none;
    ``max_steps``, with a warning, if the target is still met there).

    With ``guarantee="certified"`` the largest step count (found from the exact engine's and descended
    as in :func:`calibrate_noise`) whose *certified upper* epsilon is <= target_epsilon.

    Raises:
        ValueError: on bad input; CertificationError (a ValueError) when no step count tried within the
            bounded certified search is certified (the message says what was tried).
    """
    target_epsilon = V.check_positive("target_epsilon", target_epsilon)
    target_delta = V.check_open_unit("target_delta", target_delta)
    q = V.check_probability("sampling_probability", sampling_probability)
    sigma = V.check_positive("noise_multiplier", noise_multiplier)
    max_steps = V.check_dpsgd_steps(max_steps, "max_steps")
    if guarantee not in GUARANTEES:
        raise ValueError(f"guarantee must be one of {list(GUARANTEES)}, got {guarantee!r}")
    m = Accountant(method=method).method
    from .methods.budget import clock

    started = clock()
    T = _estimate_steps(target_epsilon, target_delta, q, sigma, m, max_steps, started)
    if guarantee == "certified" and T > 0:
        if m != "exact":
            T = _estimate_steps(target_epsilon, target_delta, q, sigma, "exact", max_steps)
        T_exact = T
        T = _certified_steps(T, sigma, q, target_delta, target_epsilon, m, started=started)
        if 0 < T < 0.99 * T_exact:
            warnings.warn(f"guarantee='certified': {T} steps are certified within target_epsilon={target_epsilon:g}, "
                          f"while the exact engine allows {T_exact}: the certified bracket is wide here (the "
                          "proven fallback); guarantee='estimate' gives the exact count", UserWarning, stacklevel=2)
        if T == 0:
            warnings.warn(f"even one step is not certified within target_epsilon={target_epsilon:g} at "
                          f"noise_multiplier={sigma:g}, sampling_probability={q:g}: returning 0 steps",
                          UserWarning, stacklevel=2)
    return T


def _estimate_steps(target_epsilon: float, target_delta: float, q: float, sigma: float, m: str,
                    max_steps: int, started: float | None = None) -> int:
    """Largest T <= max_steps with eps(T) <= target by the chosen method (0 with a warning if none).

    g(T) = eps(T) - target is increasing in T and smooth in log T: a bracket by factors of 16, then
    Illinois regula falsi on log T, rounded to integers (every probe shrinks the integer bracket; a
    probe that leaves more than half of it is followed by a bisection in log T), to hi - lo = 1:
    ~8-12 evaluations instead of the 2 log2 T of doubling and bisection."""
    vals: dict[int, float] = {}
    res_at: dict[int, EpsilonResult] = {}
    flagged: list[EpsilonResult] = []

    def g(T: int) -> float:
        if T not in vals:
            r = res_at[T] = _eps(sigma, q, T, target_delta, m, fallback=True)
            if not r.valid:
                flagged.append(r)
            vals[T] = float(r.estimate) - target_epsilon
        return vals[T]

    stop: dict[str, Any] = {}
    T = _estimate_steps_search(g, target_epsilon, target_delta, q, sigma, max_steps, started, stop)
    if "note" in stop:
        warnings.warn(f"calibrate_steps: {stop['note']}", UserWarning, stacklevel=3)
    if flagged:
        warnings.warn(_flag_note(flagged, res_at.get(T, flagged[-1]), "step count"), UserWarning, stacklevel=3)
    return T


def _estimate_steps_search(g, target_epsilon: float, target_delta: float, q: float, sigma: float,
                           max_steps: int, started: float | None = None, stop: dict[str, Any] | None = None) -> int:
    """The search of :func:`_estimate_steps` on g(T) = eps(T) - target; past SEARCH_CPU of the call (from
    ``started``) the bracket's lower end (met) is returned and ``stop["note"]`` says where the largest count lies."""
    from .methods.budget import clock


    if g(1) > 0.0:
        warnings.warn(f"even one step exceeds target_epsilon={target_epsilon:g} at noise_multiplier={sigma:g}, "
                      f"sampling_probability={q:g}: returning 0 steps", UserWarning, stacklevel=4)
        return 0
    lo, hi = 1, 16
    near = _steps_newton(g, target_epsilon, target_delta, q, sigma, max_steps)
    if near is not None:
        lo, hi = near
        if hi - lo == 1:
            return lo
    else:
        # from the Gaussian (CLT) guess instead of 16, 256, ... (each a query): a bracket around it by factors
        # of 4 (g is increasing: the answer does not depend on the start)
        tc = _clt_steps(q, sigma, target_epsilon, target_delta)
        if tc is not None and 16 < tc < max_steps // 4:
            if g(tc) <= 0.0:
                lo, hi = tc, 4 * tc
            else:
                hi, lo = tc, tc // 4
                while lo > 1 and g(lo) > 0.0:
                    hi, lo = lo, max(1, lo // 16)
    while hi <= max_steps and g(hi) <= 0.0:
        lo, hi = hi, hi * 16
    if hi > max_steps:
        if g(max_steps) <= 0.0:
            warnings.warn(f"the target is still met at max_steps={max_steps}; the largest number of steps may be "
                          "larger (raise max_steps)", UserWarning, stacklevel=4)
            return max_steps
        hi = max_steps
    g_lo, g_hi = g(lo), g(hi)
    side = 0
    bisect = False
    while hi - lo > 1:
        if started is not None and clock() - started > SEARCH_CPU:
            if stop is not None:
                stop["note"] = (f"the search stopped after {SEARCH_CPU:g} s of CPU: {lo} steps meet the target, "
                                f"{hi} do not (the largest count lies between)")
            return lo
        width = hi - lo
        if bisect or not (g_hi > 0.0 >= g_lo) or g_hi == g_lo:
            mid = int(round(math.sqrt(lo * hi))) if hi > 2 * lo else (lo + hi) // 2
        else:
            t = math.log(lo) + (-g_lo) / (g_hi - g_lo) * (math.log(hi) - math.log(lo))
            mid = int(round(math.exp(t)))
        mid = min(max(mid, lo + 1), hi - 1)
        gm = g(mid)
        if gm <= 0.0:
            lo, g_lo = mid, gm
            if side == -1:
                g_hi *= 0.5  # Illinois: the retained end's value halved
            side = -1
        else:
            hi, g_hi = mid, gm
            if side == 1:
                g_lo *= 0.5
            side = 1
        bisect = (hi - lo) > width // 2 and not bisect
    return lo


def _steps_newton(g, eps: float, delta: float, q: float, sigma: float, max_steps: int) -> tuple[int, int] | None:
    """Few participations: the step count where eps(T) = target by Newton steps on log T from the model
    delta(eps; T) ~ T delta_1(eps) (:func:`_log_step_model`), then the two integers around it.

    The model's root is T0 = delta / delta_1(eps) and its slope d eps / d log T = -1 / (d log delta_1 /
    d eps); after two evaluations the secant's.  Only a start: returns the tightest (lo, hi) seen with
    g(lo) <= 0 < g(hi) (hi = lo + 1: the answer; g evaluated at both, as the bracket search ends), or
    None where the model does not apply (q T0 > _STEP_MODEL_QT) or no bracket was found; the caller's
    bracket search then continues from it.  At q = 1e-6, sigma = 0.5, eps = 0.1, delta = 1e-10 (408):
    4 evaluations instead of 10."""
    if not q < 1.0:
        return None
    try:
        m1 = _log_step_model(q, sigma, 1, eps)
        h = 1e-4 * eps
        dm = (_log_step_model(q, sigma, 1, eps + h) - _log_step_model(q, sigma, 1, eps - h)) / (2.0 * h)
        t0 = math.log(delta) - m1
    except (ArithmeticError, ValueError, OverflowError):
        return None
    if not (math.isfinite(t0) and dm < 0.0) or t0 < math.log(2.0) or t0 > math.log(max_steps) or \
            q * math.exp(t0) > _STEP_MODEL_QT:
        return None
    slope = -1.0 / dm   # d eps / d log T > 0
    lo, hi = 1, None
    prev: tuple[float, float] | None = None
    t = t0
    for _ in range(6):
        T = min(max(int(math.floor(math.exp(t))), lo + 1), max_steps)
        if hi is not None:
            T = min(T, hi - 1)
        if T <= lo:
            break
        for Tc in (T, T + 1):   # the pair around the estimate (memoised: the second is the check)
            if Tc > max_steps or (hi is not None and Tc >= hi):
                break
            gc = g(Tc)
            if gc <= 0.0:
                lo = max(lo, Tc)
            else:
                hi = Tc if hi is None else min(hi, Tc)
                break
        if hi is not None and hi - lo == 1:
            return lo, hi
        gT = g(T)
        if prev is not None and T != prev[0]:
            sl = (gT - prev[1]) / (math.log(T) - math.log(prev[0]))
            if sl > 0.0:
                slope = sl
        prev = (T, gT)
        t = math.log(T) - gT / slope
        if not math.isfinite(t):
            break
        t = min(t, math.log(max_steps))
    return (lo, hi) if hi is not None else None


#: the largest factor one rung of the certified step ladder descends by
CERT_MAX_DESCENT = 4.0


def _certified_steps(T0: int, sigma: float, q: float, delta: float, target: float, method: str,
                     started: float | None = None) -> int:
    """The largest step count <= T0 found on a geometric ladder down from T0 (the exact engine's count,
    so no larger one can be certified) whose certified upper eps(delta) is <= target: the first passing
    rung, refined by bisection where the brackets are wide (see :func:`_certified_search`); 0 where
    even one step fails.  At most CERT_MAX_EVALS certificates, else CertificationError."""
    certifier = _Certifier()
    tried: list[tuple[int, Any]] = []
    memo: dict[int, Any] = {}
    quick = [False]  # as in _certified_search: the API's certificate until it is the Chernoff bound alone

    def cert(T: int):
        from .bounds.certify import certified_epsilon

        if T in memo:
            return memo[T]
        if q * T <= CERT_COND_FIRST_QT and _cond_applies(q, T):
            # few participations: the conditioned bracket first, as calibrate_noise's rungs (where it declines or is
            # wide, the API's certificate): q 3.42e-4, sigma 0.481, delta 6.4e-10, 21 steps: 2.26 -> ~0.2 s
            cc = _cond_certificate(sigma, q, T, delta, target, CERT_COND_FIRST_BUDGET)
            if cc is not None and not _is_wide(cc):
                tried.append((T, cc))
                memo[T] = (cc, _COND_RUNG)
                return memo[T]
        acc = Accountant(method=method).compose(PoissonSubsampledGaussian(sigma, q), T)
        if quick[0]:
            c, used = certifier(acc, delta)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c, used = certified_epsilon(acc, delta), None  # the API's (get_epsilon(delta, certify=True))
            if _is_chernoff_only(c):
                quick[0] = True
        tried.append((T, c))
        memo[T] = (c, used)
        return memo[T]

    def y(c) -> float:
        return math.log(c.upper / target) if c.upper > 0.0 else -math.inf

    c0, _ = cert(T0)
    if c0.upper <= target:
        return T0
    # elasticity d log eps / d log T: 1/2 (a lower bound in the CLT regime; larger steps) for a narrow
    # bracket, the exact engine's over 2 % of the steps for a wide one
    el = 0.5
    if _is_wide(c0) and T0 >= 2:
        try:
            T1 = max(1, int(T0 / 1.02))
            e1 = float(_eps(sigma, q, T1, delta, "exact", fallback=True).estimate)
            if 0.0 < e1 < target:
                el = min(max(math.log(target / e1) / math.log(T0 / T1), 0.02), 2.0)
        except (ArithmeticError, ValueError):
            pass
    t_fail, y_fail = T0, y(c0)
    step = CERT_STEP_MARGIN * y_fail / el
    t_pass = None
    while len(tried) < CERT_MAX_EVALS:
        # at most a factor CERT_MAX_DESCENT per rung: a wide bracket's slope said "divide by 2e7" at q = 1e-9,
        # sigma = 0.3 (159,812,952 exact -> 7 certified, the refinement then too short to climb back)
        step = min(step, math.log(CERT_MAX_DESCENT))
        T = min(int(math.floor(t_fail * math.exp(-step))), t_fail - 1)
        if T < 1:
            T = 1
        c, _ = cert(T)
        if c.upper <= target:
            t_pass = T
            break
        if T == 1:
            return 0
        yT = y(c)
        slope = (y_fail - yT) / math.log(t_fail / T)
        t_fail, y_fail = T, yT
        step = max(step, CERT_STEP_MARGIN * yT / slope) if slope > 0.0 else 2.0 * step
    if t_pass is None:
        best = min(tried, key=lambda t: t[1].upper)
        raise CertificationError(
            f"guarantee='certified': no step count in [{tried[-1][0]}, {T0}] tried ({len(tried)} certificates) "
            f"has a certified upper epsilon <= {target:g} at delta={delta:g} (q={q:g}, noise_multiplier={sigma:g}); "
            f"the exact engine allows {T0}; the lowest certified upper end seen is {best[1].upper:.6g} at "
            f"{best[0]} steps from {best[1].source}; use guarantee='estimate' or a larger target_epsilon")
    n_ref = 0
    while t_fail - t_pass > max(1, CERT_RTOL_WIDE * t_pass) and n_ref < CERT_REFINE_EVALS:
        if _out_of_time(started):
            break  # (the step count stays certified; the largest certified one lies in [t_pass, t_fail))
        # bisection in log T (the ladder's first step can span a factor of 20 where the bracket is wide)
        mid = int(math.sqrt(t_pass * t_fail)) if t_fail > 1.1 * t_pass else (t_pass + t_fail) // 2
        mid = min(max(mid, t_pass + 1), t_fail - 1)
        c, _ = cert(mid)
        n_ref += 1
        if c.upper <= target:
            t_pass = mid
        else:
            t_fail = mid
    c_pass, b_pass = memo[t_pass]
    if b_pass is _COND_RUNG:
        return t_pass  # (certified by the conditioned bracket itself, a proof on its own: c_pass.upper <= target)
    # the certificate get_epsilon(delta, certify=True) reports at t_pass (dispatch.certify_epsilon's upper end is
    # certified_epsilon's, the same memo entry, the budget part of its key), re-checked against the target; no
    # EpsilonResult is returned here, so the engine's estimate that get_epsilon would add is not computed (0.05-0.25 s
    # of a 0.5-1 s call at q ~1e-5, T 1e4-4e4)
    from .bounds.certify import certified_epsilon

    acc = Accountant(method=method).compose(PoissonSubsampledGaussian(sigma, q), t_pass)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = certified_epsilon(acc, delta) if b_pass is None else certified_epsilon(acc, delta, time_budget=b_pass)
    if not c.upper <= target:
        raise CertificationError(
            f"internal error: the certificate at {t_pass} steps changed between the search and the result "
            f"(upper {c_pass.upper!r}, then {c.upper!r}); please report")
    return t_pass
