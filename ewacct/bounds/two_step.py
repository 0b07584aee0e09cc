"""Two Poisson-subsampled Gaussian steps: delta(eps) as a one-dimensional integral, enclosed in Arb.

For T = 2 the contour enclosure does not finish (issue 8: the exact engine has no contour there), and
the proven fallback is wide.  Conditioning on the first step (outer group 1: q1, mu1; inner group 2):

* REMOVE (P = P1 x P1', loss l1(X) + l2(Y), X ~ P1 = (1-q1) N(0,1) + q1 N(mu1,1)):
  ``delta(eps) = E_X[d2(eps - l1(X))]`` with ``d2`` the one-step REMOVE profile of group 2 at any real
  argument (docs/certified.md section 6): ``d2(e) = q2 Phibar(x_c - mu2) - c Phibar(x_c)``,
  ``c = e^e - 1 + q2``, ``x_c = (log(c/q2) + mu2^2/2)/mu2`` where c > 0, and ``1 - e^e`` where c <= 0.
  l1 is increasing; c <= 0 exactly for x >= x*, ``l1(x*) = eps - log(1-q2)``, and there the integral
  is closed-form: ``int_{x*}^inf p1 (1 - e^{eps - l1}) = P1(X > x*) - e^eps Phibar(x*)`` (p1 / (1 + u1)
  is the N(0,1) density).  Below x* the integrand is analytic: ``acb.integral`` (rigorous) on
  [-A, x*], and the part below -A is in [0, P1(X < -A)] (the integrand lies in [0, 1]).
* ADD (P = N(0,1) x N(0,1), loss -l1(X) - l2(Y)): ``delta(eps) = E_X[a2(eps + l1(X))]`` with the
  one-step ADD profile ``a2(e) = Phi(x) - e^e ((1-q2) Phi(x) + q2 Phi(x - mu2))``,
  ``x = (log(c'/q2) + mu2^2/2)/mu2``, ``c' = e^-e - 1 + q2``, and 0 where c' <= 0, i.e. for x >= x_a*.

Both integrals have an endpoint where c (c') vanishes: the integrand stays bounded there and Arb's
integration bisects toward it.  eps(delta) is then found by a secant search on the midpoints and
verified at two points: an upper end whose upper delta bound (both directions) is <= delta and a
lower end whose lower bound (one direction) is > delta.
"""

from __future__ import annotations

import math
import time
from typing import Any

A_LEFT = 40.0  # P(N(mu, 1) < -40 + mu) < 1e-349: the left tail's share
#: integrand evaluations per integral (Arb returns a wider ball past it, which then fails to verify;
#: at q = 1e-4 one integral took 70,000 evaluations, 5 s)
EVAL_LIMIT = 3000
#: CPU-time budget of one eps bracket (seconds; process time, independent of the machine's load);
#: past it None (the next source answers)
TIME_BUDGET = 1.5


def _flint():
    from flint import acb, arb, ctx

    return acb, arb, ctx


def _params(acc: Any):
    """((q1, s1), (q2, s2)) when the composition is exactly two subsampled-Gaussian steps (q < 1)."""
    from ..mechanisms import PoissonSubsampledGaussian

    try:
        groups = list(acc.groups())
    except Exception:  # noqa: BLE001
        return None
    steps = []
    for m, n in groups:
        if not (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0):
            return None
        if int(n) > 2 or len(steps) + int(n) > 2:  # (counted before any list is built: n can be 1e9)
            return None
        steps += [(float(m.sampling_probability), float(m.noise_multiplier))] * int(n)
    return (steps[0], steps[1]) if len(steps) == 2 else None


def _delta_dir(p1, p2, eps: float, direction: str, prec: int):
    """Arb ball containing one direction's delta(eps) (None where the integration failed)."""
    acb, arb, ctx = _flint()
    old = ctx.prec
    ctx.prec = prec
    try:
        q1, mu1 = arb(p1[0]), 1 / arb(p1[1])
        q2, mu2 = arb(p2[0]), 1 / arb(p2[1])
        E = arb(eps)
        half = arb(0.5)

        def pbar(z):
            return (z * half.sqrt()).erfc() / 2

        def l1(x, d):
            return (1 - q1 + q1 * (mu1 * x - mu1 * mu1 / 2).exp()).log(analytic=d)

        if direction == "remove":
            arg = (E.exp() / (1 - q2) - 1 + q1) / q1
            xs = (arg.log() + mu1 * mu1 / 2) / mu1  # arg > 1 - ... > 0 always (eps >= 0)
            closed = (1 - q1) * pbar(xs) + q1 * pbar(xs - mu1) - E.exp() * pbar(xs)

            def f(x, d):
                e = E - l1(x, d)
                c = e.exp() - 1 + q2
                xc = ((c / q2).log(analytic=d) + mu2 * mu2 / 2) / mu2
                inner = q2 * pbar(xc - mu2) - c * pbar(xc)
                dens = (1 - q1) * (-x * x / 2).exp() + q1 * (-(x - mu1) * (x - mu1) / 2).exp()
                return dens * inner / (2 * arb.pi()).sqrt()

            left_mass = (1 - q1) * pbar(arb(A_LEFT)) + q1 * pbar(arb(A_LEFT) + mu1)
        else:
            arg = ((-E).exp() / (1 - q2) - 1 + q1) / q1
            if not arg > 0:
                return arb(0)
            xs = (arg.log() + mu1 * mu1 / 2) / mu1
            closed = arb(0)

            def f(x, d):
                e = E + l1(x, d)
                c = (-e).exp() - 1 + q2
                xa = ((c / q2).log(analytic=d) + mu2 * mu2 / 2) / mu2
                phi = 1 - pbar(xa)
                inner = phi - e.exp() * ((1 - q2) * phi + q2 * (1 - pbar(xa - mu2)))
                return (-x * x / 2).exp() * inner / (2 * arb.pi()).sqrt()

            left_mass = pbar(arb(A_LEFT))
        lo_x = arb(-A_LEFT)
        if not xs > lo_x:
            return closed + left_mass * arb(0.5, 0.5)  # (an empty body: [0, left mass] for the rest)
        # Arb's integration cannot close at the endpoint where c vanishes (a log singularity): it
        # stops at xm = x* - eta, and the piece [xm, x*] is in [0, (x* - xm) / sqrt(2 pi)] (the
        # integrand is a density <= 1/sqrt(2 pi) times a delta in [0, 1])
        xm = xs.mid() - arb(2.0 ** -(prec - 28)) * max(1.0, abs(float(xs.mid())))
        if not xm < xs:
            return None
        body = acb.integral(f, acb(lo_x), acb(xm), rel_tol=2.0 ** (-prec // 2 - 8), eval_limit=EVAL_LIMIT)
        if not body.is_finite():
            return None
        w = arb((xs - xm).abs_upper()) / (2 * arb.pi()).sqrt()
        val = body.real + closed + w * arb(0.5, 0.5) + left_mass * arb(0.5, 0.5)
        return val
    except (ValueError, ZeroDivisionError, ArithmeticError):
        return None
    finally:
        ctx.prec = old


def _delta_float(p, eps: float) -> float:
    """The same delta(eps) in floating point (scipy quad): for the search only, never a bound."""
    from scipy.integrate import quad
    from scipy.special import ndtr

    (q1, s1), (q2, s2) = p
    mu1, mu2 = 1.0 / s1, 1.0 / s2
    c0 = 1.0 / math.sqrt(2.0 * math.pi)

    def l1(x):
        return math.log1p(q1 * math.expm1(mu1 * x - 0.5 * mu1 * mu1))

    out = 0.0
    arg = (math.exp(eps) / (1.0 - q2) - 1.0 + q1) / q1
    xs = (math.log(arg) + 0.5 * mu1 * mu1) / mu1

    def fr(x):
        e = eps - l1(x)
        c = math.expm1(e) + q2
        if c <= 0.0:
            return 0.0
        xc = (math.log(c / q2) + 0.5 * mu2 * mu2) / mu2
        inner = q2 * ndtr(mu2 - xc) - c * ndtr(-xc)
        return c0 * ((1 - q1) * math.exp(-0.5 * x * x) + q1 * math.exp(-0.5 * (x - mu1) ** 2)) * max(inner, 0.0)

    pts = sorted({p_ for p_ in (-8.0, -3.0, 0.0, mu1, xs - 1.0, xs - 0.1) if -A_LEFT < p_ < xs})
    out = quad(fr, -A_LEFT, xs, points=pts or None, limit=200, epsabs=0.0, epsrel=1e-11)[0]
    out += (1 - q1) * ndtr(-xs) + q1 * ndtr(mu1 - xs) - math.exp(eps) * ndtr(-xs)
    add = 0.0
    arg = (math.exp(-eps) / (1.0 - q2) - 1.0 + q1) / q1
    if arg > 0.0:
        xa = (math.log(arg) + 0.5 * mu1 * mu1) / mu1

        def fa(x):
            e = eps + l1(x)
            c = math.expm1(-e) + q2
            if c <= 0.0:
                return 0.0
            y = (math.log(c / q2) + 0.5 * mu2 * mu2) / mu2
            inner = ndtr(y) - math.exp(e) * ((1 - q2) * ndtr(y) + q2 * ndtr(y - mu2))
            return c0 * math.exp(-0.5 * x * x) * max(inner, 0.0)

        pts = sorted({p_ for p_ in (-8.0, -3.0, 0.0, xa - 1.0, xa - 0.1) if -A_LEFT < p_ < xa})
        add = quad(fa, -A_LEFT, xa, points=pts or None, limit=200, epsabs=0.0, epsrel=1e-11)[0]
    return max(out, add)


def _bounds(p, eps: float, prec: int) -> tuple[float, float]:
    """(lower, upper) on delta(eps) = max over directions (outward-rounded doubles)."""
    from .closed_form import _down, _up

    lo, hi = 0.0, 0.0
    for d in ("remove", "add"):
        b = _delta_dir(p[0], p[1], eps, d, prec)
        if b is None or not b.is_finite():
            return 0.0, 1.0
        lo = max(lo, _down(b))
        hi = max(hi, _up(b))
    return max(0.0, lo), min(1.0, hi)


def two_step_epsilon_bracket(acc: Any, delta: float, estimate: float | None = None,
                             rel: float = 1e-6) -> tuple[float, float] | None:
    """A verified [lower, upper] on eps(delta) for two subsampled-Gaussian steps, or None."""
    p = _params(acc)
    if p is None:
        return None
    ld = math.log(delta)
    deadline = time.process_time() + TIME_BUDGET
    from ..methods.exact import ExactMethod

    if ExactMethod(list(acc.groups())).delta_at_zero_bound() <= delta:
        return 0.0, 0.0  # the joint-convexity bound on delta(0)

    def g(e: float) -> float:  # log delta(e) - log delta in floating point (the search only)
        try:
            m = _delta_float(p, e)
        except (ValueError, OverflowError, ZeroDivisionError):
            return math.nan
        return math.log(m) - ld if m > 0 else -math.inf

    # secant on log delta from the estimate (or 1)
    e0 = estimate if estimate and estimate > 0 else 1.0
    e1 = e0 * 1.01 + 1e-6
    g0, g1 = g(e0), g(e1)
    for _ in range(30):
        if not (math.isfinite(g0) and math.isfinite(g1)) or g1 == g0:
            return None
        e2 = e1 - g1 * (e1 - e0) / (g1 - g0)
        if not e2 > 0:
            e2 = 0.5 * e1
        e0, g0, e1, g1 = e1, g1, e2, g(e2)
        if abs(e1 - e0) <= 1e-9 * e1:
            break
    est = e1
    prec = 128
    for widen in (1.0, 10.0, 100.0):
        if time.process_time() > deadline:
            return None
        w = widen * max(rel * est, 2e-9)
        up, dn = est + w, max(0.0, est - w)
        if _bounds(p, up, prec)[1] <= delta and (dn == 0.0 or _bounds(p, dn, prec)[0] > delta):
            return dn, up
    return None


def two_step_delta_bracket(acc: Any, eps: float) -> tuple[float, float] | None:
    """A verified [lower, upper] on delta(eps) for two subsampled-Gaussian steps, or None."""
    p = _params(acc)
    if p is None:
        return None
    lo, hi = _bounds(p, float(eps), 128)
    return (lo, hi) if hi < 1.0 or lo > 0.0 else None
