"""Two Poisson-subsampled Gaussian steps: delta(eps) as a one-dimensional integral, enclosed rigorously.

Where sigma >= 0.1 (both steps) the enclosure is the cell enclosure of docs/certified_small_t.md (the
float kernel :mod:`._two_step_kernel` with directed error bounds; ``two_step_epsilon_bracket`` /
``two_step_delta_bracket`` below): ~10-20 ms at any q.  Below, the Arb integral described next
(``_arb_epsilon_bracket``), slow at small q.

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
from typing import Any

import numpy as np
from ..methods import budget

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


def _arb_epsilon_bracket(p, delta: float, estimate: float | None = None,
                         rel: float = 1e-6) -> tuple[float, float] | None:
    """The Arb integral's verified [lower, upper] on eps(delta) (slow at small q: kept for sigma below
    the cell kernel's range), or None."""
    ld = math.log(delta)
    deadline = budget.clock() + TIME_BUDGET

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
        if budget.clock() > deadline:
            return None
        w = widen * max(rel * est, 2e-9)
        up, dn = est + w, max(0.0, est - w)
        if _bounds(p, up, prec)[1] <= delta and (dn == 0.0 or _bounds(p, dn, prec)[0] > delta):
            return dn, up
    return None


def _arb_delta_bracket(p, eps: float) -> tuple[float, float] | None:
    lo, hi = _bounds(p, float(eps), 128)
    return (lo, hi) if hi < 1.0 or lo > 0.0 else None


# ---------------------------------------------------------------------------------------------------
# The cell enclosure (docs/certified_small_t.md): float kernel with directed error bounds, fast at
# every q.  The Arb integral above answers only where the kernel does not apply (sigma below ~0.1).

#: the cell kernel's range: exp(mu (x - mu/2)) must stay finite on x <= mu + X_SPAN
KERNEL_MU_MAX = 10.0
#: the grid spans [-X_SPAN, X_SPAN] (+ mu1 for REMOVE); P(|N(0,1)| > 37) < 1e-299 joins the bounds
X_SPAN = 37.0
#: the uniform pilot grid's step
PILOT_H = 0.05
#: the most grid points of one direction's enclosure
MAX_POINTS = 300_000
#: the eps bracket's half-width: relative (then at least the absolute floor)
W_REL = 1e-6
W_ABS = 1e-12


def _mus(s: float) -> tuple[float, float, float]:
    """(mu_lo, mu, mu_hi) around 1/s: delta is increasing in mu (N(mu', 0) vs N(0, 1) for mu' < mu is
    a post-processing of the pair at mu, and subsampling and composition keep that), so mu_hi gives
    upper bounds and mu_lo lower bounds for the exact 1/s."""
    m = 1.0 / s
    return math.nextafter(m, -math.inf), m, math.nextafter(m, math.inf)


class _Cells:
    """One direction's grid and the enclosures on it."""

    def __init__(self, p, remove: bool):
        (self.q1, s1), (self.q2, s2) = p
        self.mu1 = _mus(s1)
        self.mu2 = _mus(s2)
        self.remove = remove
        hi = X_SPAN + (self.mu1[1] if remove else 0.0)
        n = int(math.ceil((hi + X_SPAN) / PILOT_H))
        self.xs = np.linspace(-X_SPAN, hi, n + 1)
        self.w = np.empty(n)

    def run(self, eps: float, which: int = 1):
        """(lower, upper, estimate, slope) at eps with mu rounded down (0), as is (1) or up (2)."""
        from ._two_step_kernel import enclose

        if self.w.shape[0] != self.xs.shape[0] - 1:
            self.w = np.empty(self.xs.shape[0] - 1)
        return enclose(self.remove, self.q1, self.mu1[which], self.q2, self.mu2[which], float(eps), self.xs, self.w)

    def refine(self, target: float) -> bool:
        """Split the cells so that the modelled width (cell widths ~ h^4: a cell cut in k has 1/k^3 of
        its width; k ~ w^(1/4) minimises the count) is about target; False where that needs more than
        MAX_POINTS points."""
        w = np.maximum(self.w, 0.0)
        c = np.sqrt(np.sqrt(w))
        tot = float(c.sum())
        if not (tot > 0.0 and target > 0.0):
            return True
        lam = (tot / target) ** (1.0 / 3.0) * 1.1
        k = np.ceil(lam * c)
        total = float(k.sum()) + float((k == 0).sum())
        capped = total > MAX_POINTS
        if capped:
            k = np.ceil(k * (MAX_POINTS / total))
        k = np.maximum(k, 1).astype(np.int64)
        a = self.xs[:-1]
        h = np.diff(self.xs)
        idx = np.repeat(np.arange(a.shape[0]), k)
        off = np.arange(idx.shape[0]) - np.repeat(np.cumsum(k) - k, k)
        x = a[idx] + off * (h[idx] / k[idx])
        self.xs = np.append(x, self.xs[-1])
        return not capped


def _kernel_ok(p) -> bool:
    return all(1.0 / s <= KERNEL_MU_MAX and 0.0 < q < 1.0 for q, s in p)


def _search(cells, delta: float, e: float, tol: float) -> tuple[float, float]:
    """Safeguarded Newton on log(max of the directions' estimates) = log delta: (eps, |slope|)."""
    ld = math.log(delta)
    lo_e, hi_e = 0.0, math.inf
    slope = 0.0
    prev = None  # (e, g) of the last step: secant slopes after the first (the kernel's slope is a
    # Riemann sum, coarse where B varies fast on a cell)
    for _ in range(80):
        best = (-math.inf, 0.0, 0.0)
        for c in cells:
            _, _, m, s = c.run(e)
            if m > best[1]:
                best = (m, m, s)
        m, s = best[1], best[2]
        g = math.log(m) - ld if m > 0.0 else -math.inf
        if g > 0.0:
            lo_e = max(lo_e, e)
        else:
            hi_e = min(hi_e, e)
        slope = -s
        if m > 0.0 and s < 0.0:
            dg = s / m  # d log m / d e
            if prev is not None and math.isfinite(prev[1]) and prev[0] != e and prev[1] != g:
                dg = (g - prev[1]) / (e - prev[0])
            en = e - g / dg if dg < 0.0 else math.nan
        else:
            en = math.nan
        prev = (e, g)
        if not (lo_e < en < hi_e):
            if hi_e == math.inf:
                en = 4.0 * e if e > 0.0 else 1.0
            elif lo_e == 0.0:
                en = 0.25 * hi_e
            else:
                en = math.sqrt(lo_e * hi_e)
        done = abs(en - e) <= tol * max(e, 1e-300) or hi_e - lo_e <= tol * max(lo_e, 1e-300)
        e = en
        if done or (hi_e < 1e-14):
            break
    return e, slope


def two_step_epsilon_bracket(acc: Any, delta: float, estimate: float | None = None,
                             rel: float = W_REL) -> tuple[float, float] | None:
    """A verified [lower, upper] on eps(delta) for two subsampled-Gaussian steps, or None."""
    p = _params(acc)
    if p is None:
        return None
    from ..methods.exact import ExactMethod

    if ExactMethod(list(acc.groups())).delta_at_zero_bound() <= delta:
        return 0.0, 0.0  # the joint-convexity bound on delta(0)
    if not _kernel_ok(p):
        return _arb_epsilon_bracket(p, delta, estimate)
    cells = [_Cells(p, True), _Cells(p, False)]
    e0 = estimate if estimate and estimate > 0 else 1.0
    e, slope = _search(cells, delta, e0, 1e-4)
    if not (e > 0.0 and math.isfinite(e)):
        return None
    w = max(rel * e, W_ABS)
    # refine each direction at e: the dominating one to a fraction of the change of delta over w, the
    # other until its upper end clears delta
    for c in cells:
        for _ in range(3):
            lo, hi, m, s = c.run(e)
            target = 0.25 * slope * w + 0.5 * max(0.0, delta - m - slope * w)
            if hi - lo <= target or not c.refine(target):
                break
    for attempt in range(8):
        e, slope2 = _search(cells, delta, e, 0.02 * w / max(e, 1e-300))
        slope = slope2 if slope2 > 0.0 else slope
        up, dn = e + w, max(0.0, e - w)
        target = 0.25 * slope * w
        again = False  # a check failed on a cell grid too coarse there (the kink x* moves with eps)
        ok = True
        for c in cells:
            lo, hi, _, _ = c.run(up, 2)
            if hi > delta:
                ok = False
                if hi - lo > target and c.refine(target):
                    again = True
        if ok:
            if dn == 0.0:
                return 0.0, up
            for c in cells:
                lo, hi, _, _ = c.run(dn, 0)
                if lo > delta:
                    return dn, up
            for c in cells:
                lo, hi, _, _ = c.run(dn, 0)
                if hi > delta and hi - lo > target and c.refine(target):
                    again = True
        if not again:
            w *= 4.0
    return None


def two_step_delta_bracket(acc: Any, eps: float, rel: float = 2e-10) -> tuple[float, float] | None:
    """A verified [lower, upper] on delta(eps) for two subsampled-Gaussian steps, or None."""
    p = _params(acc)
    if p is None:
        return None
    if not _kernel_ok(p):
        return _arb_delta_bracket(p, eps)
    eps = float(eps)
    lo_t, hi_t = 0.0, 0.0
    for c in (_Cells(p, True), _Cells(p, False)):
        for _ in range(4):
            lo, hi, m, s = c.run(eps)
            if hi - lo <= rel * m or not c.refine(0.5 * rel * m):
                break
        lo_t = max(lo_t, c.run(eps, 0)[0])
        hi_t = max(hi_t, c.run(eps, 2)[1])
    lo_t, hi_t = max(0.0, lo_t), min(1.0, hi_t)
    return (lo_t, hi_t) if hi_t < 1.0 or lo_t > 0.0 else None
