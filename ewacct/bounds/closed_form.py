"""Rigorous enclosures of the exact closed forms (Arb ball arithmetic through python-flint).

Three compositions have an exact closed form for the privacy profile delta(eps) (the hockey-stick
divergence ``sup_S P(S) - e^eps Q(S)`` of the dominating pair, maximised over the two directions):

* **Gaussian compositions** (``Gaussian`` and ``PoissonSubsampledGaussian`` with q = 1, any counts and
  noise multipliers): the pair is ``N(mu, 1)`` vs ``N(0, 1)`` with ``mu^2 = sum_i n_i / sigma_i^2``
  (Dong, Roth & Su 2022, Cor. 2.13), the same in both directions:
  ``delta(eps) = Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu)``.
* **One Poisson-subsampled Gaussian step** (q < 1): ``P1 = (1-q) N(0,1) + q N(mu,1)``, ``P0 = N(0,1)``,
  ``mu = 1/sigma``.  The loss ``l(x) = log(1 - q + q e^{mu x - mu^2/2})`` is increasing in ``x``, so the
  optimal set is a half-line cut where ``l(x) = +-eps``: with ``c = e^eps - 1 + q`` and
  ``x_c = (log(c/q) + mu^2/2)/mu``,

  - REMOVE (P = P1, Q = P0): ``delta = q Phi_bar(x_c - mu) - c Phi_bar(x_c)`` (``= 1 - e^eps`` when
    ``c <= 0``);
  - ADD (P = P0, Q = P1): with ``c' = e^-eps - 1 + q``: ``delta = 0`` when ``c' <= 0``, else
    ``delta = Phi(x_c') - e^eps [(1-q) Phi(x_c') + q Phi(x_c' - mu)]``.
* **n-fold binary randomized response** (lattice; both directions coincide): the loss is
  ``eps0 (2k - n)`` with ``k ~ Bin(n, r)``, ``r = e^eps0 / (1 + e^eps0)``, and
  ``delta(eps) = sum_{k: eps0 (2k-n) > eps} Bin(k; n, r) (1 - e^{eps - eps0 (2k - n)})``, an exact
  finite sum.  The terms near the binomial mode are summed in Arb; the two geometric tails of the
  binomial pmf beyond the summed range are enclosed by ``[0, p_K / (1 - rho_K)]`` (the pmf ratio
  ``rho`` is monotone on each side of the mode and each term is at most the pmf), so the sum costs
  ``O(sqrt(n))`` terms, not ``O(n)``.

Every input float is exact in Arb; all operations are ball operations, so every result is a ball
that contains the true real number.  The working precision is raised (128 ... 4096 bits) until the
ball is relatively tight (52 bits) -- the cancellation ``Phi(a) - e^eps Phi(b)`` of two nearly equal
tiny numbers at large eps needs it -- and the ball's end points are rounded outward to doubles.

``eps(delta)`` follows from the delta enclosure because the true ``delta(eps)`` is non-increasing:
any eps with ``upper(eps) <= delta`` is an upper bound on ``eps(delta)`` and any eps with
``lower(eps) > delta`` is a lower bound (strictly below it); a bisection keeps only verified points.

**The estimate lies inside its bracket.**  The double-precision estimate of the same closed form
(:class:`ewacct.methods.closed.ClosedForm`, the worst direction; accurate to ~1e-14 relative) and
this enclosure can still disagree in the last bits: the enclosure is ~1e-15 wide in delta and
~2e-13 in eps, and the true value may sit at either end.  The public brackets are therefore the
union of the Arb enclosure with the estimate: a superset of an interval that contains the true value
still contains it, so the bracket stays rigorous, and it grows only by the estimate's own error.
The union is taken only when the estimate is within ``ESTIMATE_SLACK`` (relative) of the enclosure;
an estimate further off is a defect of the estimate and is left outside (the caller flags it).
"""

from __future__ import annotations

import math

import numpy as np
from fractions import Fraction
from typing import Any

from .._golden import first_true

#: working precisions (bits) tried in turn until the enclosure is tight
PRECISIONS = (128, 256, 512, 1024, 2048, 4096)
#: relative accuracy (bits) wanted of each delta ball before rounding to doubles
TARGET_BITS = 52
#: relative width at which the eps bisection stops (plus an absolute floor)
EPS_REL_TOL = 2e-13
EPS_ABS_TOL = 1e-30
#: an estimate within this relative distance of the enclosure is taken into the bracket (see above)
ESTIMATE_SLACK = 1e-12


# ------------------------------------------------------------------ which composition
def closed_form_kind(acc: Any) -> tuple[str, Any] | None:
    """``("gaussian", [(sigma, n), ...])``, ``("single-step", (q, sigma))``, ``("lattice", (eps0, n))``
    or None when the composition has no closed form (never raises)."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian, RandomizedResponse

    try:
        groups = list(acc.groups())
    except Exception:  # noqa: BLE001 - an accountant we cannot read has no closed form here
        return None
    if not groups:
        return None

    def is_gauss(m: Any) -> bool:
        return isinstance(m, Gaussian) or (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability == 1.0)

    if all(is_gauss(m) for m, _ in groups):
        return "gaussian", [(float(m.noise_multiplier), int(n)) for m, n in groups]
    if len(groups) == 1:
        m, n = groups[0]
        if isinstance(m, PoissonSubsampledGaussian) and int(n) == 1:
            return "single-step", (float(m.sampling_probability), float(m.noise_multiplier))
        if isinstance(m, RandomizedResponse):
            return "lattice", (float(m.epsilon0), int(n))
    return None


# ------------------------------------------------------------------ Arb helpers
def _arb():
    from flint import arb, ctx

    return arb, ctx


def _phi_bar(y):
    """Upper Gaussian tail 1 - Phi(y) of an arb."""
    arb, _ = _arb()
    return (y / arb(2).sqrt()).erfc() / 2


def _phi(y):
    return _phi_bar(-y)


def _down(x) -> float:
    """A double <= every point of the arb ball ``x`` (-inf when unbounded)."""
    if not x.is_finite():
        return -math.inf
    v = float(x.lower())
    return math.nextafter(v, -math.inf) if math.isfinite(v) else v


def _up(x) -> float:
    """A double >= every point of the arb ball ``x`` (inf when unbounded)."""
    if not x.is_finite():
        return math.inf
    v = float(x.upper())
    return math.nextafter(v, math.inf) if math.isfinite(v) else v


def _tight(x) -> bool:
    if not x.is_finite():
        return False
    if x.rel_accuracy_bits() >= TARGET_BITS:
        return True
    # below every positive double: rounding outward gives [0, 5e-324] anyway
    return float(x.upper()) < 1e-310 and float(x.lower()) > -1e-310


# ------------------------------------------------------------------ delta(eps) per direction, as arb balls
def _gaussian_delta(mu2, eps):
    arb, _ = _arb()
    mu = mu2.sqrt()
    e = arb(eps)
    a = mu / 2 - e / mu
    b = mu / 2 + e / mu
    if b > 1000:
        # e^eps phi(b) = phi(a) (eps - b^2/2 = -a^2/2), so e^eps Phibar(b) = phi(a) M(b), M(b) = Phibar(b) / phi(b)
        # Mills' ratio, in [1/b - 1/b^3, 1/b - 1/b^3 + 3/b^5] for b > 0 (the alternating asymptotic series'
        # partial sums bracket it): no e^eps ball.  (At eps ~ 5e11, Gaussian(1) x 1e12, e.exp() * erfc lost
        # every bit of the difference even at 4096 bits: eps brackets 7e-5 wide.)
        lo = 1 / b - 1 / b ** 3
        mills = lo.union(lo + 3 / b ** 5)
        pdf = (-(a * a) / 2).exp() / (2 * arb.pi()).sqrt()
        return _phi(a) - pdf * mills
    return _phi(a) - e.exp() * _phi(-b)


def _single_step_delta(q: float, sigma: float, eps: float, direction: str):
    arb, _ = _arb()
    qa, e = arb(q), arb(eps)
    mu = 1 / arb(sigma)
    half = mu * mu / 2
    if direction == "remove":
        c = e.expm1() + qa  # e^eps - (1 - q)
        if c < 0:
            return -e.expm1()  # every x has l(x) > eps: delta = 1 - e^eps
        if not c > 0:
            return None  # undecided sign (only at the edge); caller raises the precision
        x = ((c / qa).log() + half) / mu
        return qa * _phi_bar(x - mu) - c * _phi_bar(x)
    c = (-e).expm1() + qa  # e^-eps - (1 - q)
    if c < 0:
        return arb(0)  # -l <= -log(1-q) < eps everywhere
    if not c > 0:
        return None
    x = ((c / qa).log() + half) / mu
    return _phi(x) - e.exp() * ((1 - qa) * _phi(x) + qa * _phi(x - mu))


def _single_step_edge(q: float, sigma: float, eps: float, direction: str):
    """Fallback ball when the sign of ``c`` stays undecided at the highest precision."""
    arb, _ = _arb()
    qa, e = arb(q), arb(eps)
    mu = 1 / arb(sigma)
    if direction == "remove":
        c = e.expm1() + qa
        # delta is 1 - e^eps (c <= 0) or, for 0 < c, at most q Phi_bar(x_c - mu) <= q; both <= max(q, 1 - e^eps)
        hi = max(_up(-e.expm1()), q)
        return arb(0).union(arb(hi)) if hi > 0 else arb(0)
    c = (-e).expm1() + qa
    cu = arb(c.upper())
    if not cu > 0:
        return arb(0)
    # delta <= P0(x < x_c) = Phi(x_c), increasing in c: use the ball's upper end
    xu = ((cu / qa).log() + mu * mu / 2) / mu
    return arb(0).union(_phi(xu))


def _rr_kmin(eps0: float, n: int, eps: float) -> int:
    """The least count k with eps0 (2k - n) > eps (n + 1 where there is none), decided in exact rational arithmetic."""
    fe0, fe = Fraction(eps0), Fraction(eps)

    def above(k: int) -> bool:  # exact: eps0 (2k - n) > eps
        return fe0 * (2 * k - n) > fe

    k0 = min(n + 1, max(0, int(math.floor((n + eps / eps0) / 2.0))))
    while k0 > 0 and above(k0 - 1):
        k0 -= 1
    while k0 <= n and not above(k0):
        k0 += 1
    return k0


def _rr_delta(eps0: float, n: int, eps: float, prec: int):
    """n-fold randomized response: the exact sum, near-mode terms in Arb, tails enclosed geometrically."""
    arb, _ = _arb()
    kmin = _rr_kmin(eps0, n, eps)
    if kmin > n:
        return arb(0)
    e0, e = arb(eps0), arb(eps)
    rho = e0.exp()  # r / (1 - r)
    log_r = e0 - (e0.exp() + 1).log()
    log_1r = -(e0.exp() + 1).log()
    lg_n = arb(n + 1).lgamma()

    def pmf(k: int):
        return (lg_n - arb(k + 1).lgamma() - arb(n - k + 1).lgamma() + k * log_r + (n - k) * log_1r).exp()

    def factor(k: int):
        return -(e - e0 * (2 * k - n)).expm1()

    r = 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0
    mode = int(math.floor((n + 1) * r))
    start = min(n, max(kmin, mode))
    tol = arb(2.0) ** (-(prec - 8))
    total = arb(0)
    # upward from start
    p = pmf(start)
    k = start
    total += p * factor(k)
    while k < n:
        p = p * (n - k) / (k + 1) * rho  # pmf(k + 1)
        k += 1
        ratio = rho * (n - k) / (k + 1)  # pmf(j + 1) / pmf(j) for j >= k: non-increasing in j
        if ratio < 1:
            tail = p / (1 - ratio)  # >= sum_{j >= k} pmf(j) >= sum of the remaining terms
            if tail < tol * total:
                total += arb(0).union(tail)
                break
        total += p * factor(k)
    # downward from start - 1 to kmin
    p = pmf(start)
    k = start
    while k > kmin:
        p = p * k / (n - k + 1) / rho  # pmf(k - 1)
        k -= 1
        ratio = k / (n - k + 1) / rho  # pmf(j - 1) / pmf(j) for j <= k: non-increasing as j decreases
        if ratio < 1:
            tail = p / (1 - ratio)
            if tail < tol * total:
                total += arb(0).union(tail)
                break
        total += p * factor(k)
    return total


def _direction_balls(kind: str, params: Any, eps: float, prec: int) -> list:
    arb, _ = _arb()
    if kind == "gaussian":
        mu2 = sum((arb(n) / (arb(s) * arb(s)) for s, n in params), arb(0))
        return [_gaussian_delta(mu2, eps)]
    if kind == "single-step":
        q, sigma = params
        out = []
        for d in ("remove", "add"):
            v = _single_step_delta(q, sigma, eps, d)
            out.append(v)
        return out
    if kind == "lattice":
        eps0, n = params
        return [_rr_delta(eps0, n, eps, prec)]
    raise ValueError(kind)


def _direction_brackets(kind: str, params: Any, eps: float) -> list[tuple[float, float]]:
    """Per-direction [lo, hi] (doubles, outward rounded, clipped to [0, 1]) at the lowest precision that is tight."""
    arb, ctx = _arb()
    old = ctx.prec
    try:
        balls: list = []
        for prec in PRECISIONS:
            ctx.prec = prec
            balls = _direction_balls(kind, params, eps, prec)
            if all(b is not None and _tight(b) for b in balls):
                break
        if kind == "single-step":
            q, sigma = params
            balls = [b if b is not None and b.is_finite() else _single_step_edge(q, sigma, eps, d)
                     for b, d in zip(balls, ("remove", "add"))]
        out = []
        for b in balls:
            lo, hi = (_down(b), _up(b)) if b is not None else (-math.inf, math.inf)
            out.append((min(1.0, max(0.0, lo)), max(0.0, min(1.0, hi))))
        return out
    finally:
        ctx.prec = old


# ------------------------------------------------------------------ the estimate, kept inside
def _estimate(acc: Any, kind: str, x: float) -> float | None:
    """The double-precision closed-form estimate answered for this query (worst direction), or None."""
    from ..methods.base import DIRECTIONS
    from ..methods.closed import ClosedForm

    try:
        cf = ClosedForm(list(acc.groups()))
        fn = cf.delta if kind == "delta" else cf.epsilon
        v = max(float(fn(x, d)[0]) for d in DIRECTIONS)
    except Exception:  # noqa: BLE001 - no estimate: the enclosure alone is the bracket
        return None
    return v if math.isfinite(v) else None


def _with_estimate(lo: float, hi: float, est: float | None) -> tuple[float, float]:
    """``[lo, hi]`` joined with ``est`` when est lies within ESTIMATE_SLACK of it (still rigorous: a
    superset of an enclosure of the true value)."""
    if est is None:
        return lo, hi
    slack = ESTIMATE_SLACK * max(abs(lo), abs(hi)) + 1e-300
    if lo - slack <= est <= hi + slack:
        return min(lo, est), max(hi, est)
    return lo, hi


# ------------------------------------------------------------------ public API
def closed_form_delta_bracket(acc: Any, eps: float) -> tuple[float, float] | None:
    """Rigorous ``(lower, upper)`` on ``delta(eps) = max(delta_remove(eps), delta_add(eps))``.

    Returns None when the composition has no closed form (see :func:`closed_form_kind`).  The
    bracket is an Arb enclosure rounded outward to doubles, joined with the closed-form estimate (see
    the module docstring): it contains the true value and the estimate, and its relative width is
    about 1e-15 (plus the estimate's error, ~1e-14) wherever delta is a normal double (it is
    ``[0, 5e-324]`` when the true delta is below the double range).
    """
    kc = closed_form_kind(acc)
    if kc is None:
        return None
    eps = float(eps)
    if math.isnan(eps):
        raise ValueError("eps is NaN")
    if eps == math.inf:
        return (0.0, 0.0)
    if kc[0] == "lattice" and kc[1][1] > CERT_LATTICE_MAX:
        got = _rr_delta_float(kc[1][0], kc[1][1], eps)
        if got is not None:
            return got
        # [0, the Chernoff bound on P(K >= k_min)]
        eps0, n = kc[1]
        k = _rr_kmin(eps0, n, eps)
        r = 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0
        if k > n:
            return (0.0, 0.0)
        if k <= n * r:
            return (0.0, 1.0)
        arb, ctx = _arb()
        old_prec = ctx.prec
        ctx.prec = 192
        try:
            return (0.0, min(1.0, _up(_log_chernoff_ball(eps0, n, k).exp())))
        finally:
            ctx.prec = old_prec
    br = _direction_brackets(kc[0], kc[1], eps)
    return _with_estimate(max(b[0] for b in br), max(b[1] for b in br), _estimate(acc, "delta", eps))


def illinois_upper_end(g, a: float, ga: float, b: float, gb: float, rel: float, abs_tol: float
                       ) -> tuple[float, float]:
    """Illinois regula falsi for eps(delta) on [a, b], g(e) = log(upper delta bound at e) - log(delta):
    g(a) > 0 >= g(b) on entry, and every point moved to is evaluated, so b stays an eps whose upper delta
    bound is <= delta (a verified upper end) and a one whose bound is above it.  Stops when
    b - a <= max(rel b, abs_tol) or after 200 steps.  Returns (a, b)."""
    side = 0
    for _ in range(200):
        if b - a <= max(rel * b, abs_tol):
            break
        m = b - gb * (b - a) / (gb - ga) if gb != ga else 0.5 * (a + b)
        lo_edge, hi_edge = a + 1e-3 * (b - a), b - 1e-3 * (b - a)
        m = min(max(m, lo_edge), hi_edge) if math.isfinite(m) else 0.5 * (a + b)
        gm = g(m)
        if gm > 0.0:
            a, ga = m, gm
            if side == -1:
                gb *= 0.5
            side = -1
        else:
            b, gb = m, gm
            if side == 1:
                ga *= 0.5
            side = 1
    return a, b


#: randomized response with more runs than this is not enclosed term by term (O(sqrt(n)) Arb operations per
#: evaluation: ~1.2 s for eps(delta) at n = 1e8): the bracket is [0, a Chernoff upper end] instead
CERT_LATTICE_MAX = 200_000_000


def _log_chernoff_ball(eps0: float, n: int, k: int):
    """Arb ball containing -n D(k/n || r) (k/n > r): log of the Chernoff bound on P(K >= k)."""
    arb, _ = _arb()
    e0 = arb(eps0)
    log_r = e0 - (e0.exp() + 1).log()
    log_1r = -(e0.exp() + 1).log()
    x = arb(k) / n
    return -(arb(k) * (x.log() - log_r) + (n - arb(k)) * ((1 - x).log() - log_1r))


#: beyond CERT_LATTICE_MAX runs: the binomial window summed in doubles with a directed error budget (_rr_delta_float)
#: holds at most this many counts per side (n ~ 1e11 at eps0 ~ 1)
FLOAT_WINDOW_MAX = 4_000_000
#: the window stops where the geometric tail bound of the terms left is below this fraction of the sum
FLOAT_TAIL_REL = 1e-18
#: each side of the window spans this many standard deviations of the count (the pmf falls below e^-800 of the
#: start's; the geometric bound on the rest is checked)
WINDOW_SD = 45.0
#: its eps(delta) search stops at this relative width
FLOAT_EPS_REL = 1e-8
#: unit roundoff and the assumed accuracy of libm's exp / expm1 (as bounds/_two_step_kernel.py)
U = 2.0 ** -53
RL = 16.0 * U


def _rr_delta_float(eps0: float, n: int, eps: float) -> tuple[float, float] | None:
    """[lo, hi] on delta(eps) of randomized response (eps0) x n (docs/certified_laplace.md section 7): the
    terms k >= k_min of sum_k Bin(k; n, r) (1 - e^{eps - eps0 (2k - n)}), relative to the pmf at
    start = max(k_min, mode) (an Arb ball), in doubles with directed bounds: the pmf ratios c (n - j) / (j + 1)
    (c = e^eps0 enclosed in Arb; the integer quotient within U, the product within U: 3 U each way), their running
    products within (1 + U) per factor (1.01 k U after k of them), the payoff -expm1(-(d)) with d = eps0 (2k - n) - eps
    within 2 U (|eps0 (2k - n)| + |eps|) and the expm1 within RL, the sum within (W + 2) U; the terms left beyond the
    window by the geometric series of the last ratio (the ratios fall away from the mode), the payoff <= 1.  The lower
    end omits them.  None where the window would exceed FLOAT_WINDOW_MAX counts on a side."""
    arb, ctx = _arb()
    kmin = _rr_kmin(eps0, n, eps)
    if kmin > n:
        return 0.0, 0.0
    r = 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0
    mode = int(math.floor((n + 1) * r))
    start = min(n, max(kmin, mode))
    old = ctx.prec
    ctx.prec = 192
    try:
        e0 = arb(eps0)
        log_r = e0 - (e0.exp() + 1).log()
        log_1r = -(e0.exp() + 1).log()
        lp = (arb(n + 1).lgamma() - arb(start + 1).lgamma() - arb(n - start + 1).lgamma() + start * log_r
              + (n - start) * log_1r)
        p_lo, p_hi = _down(lp.exp()), _up(lp.exp())
        c = e0.exp()
        c_lo, c_hi = _down(c), _up(c)
    finally:
        ctx.prec = old
    if not (p_hi < math.inf and c_lo > 0.0):
        return None
    sd = math.sqrt(n * r * (1.0 - r))
    tot_lo = tot_hi = 0.0
    tail_hi = 0.0
    # upward: k = start .. start + W - 1 (terms relative to pmf(start))
    w_up = min(n - start + 1, int(WINDOW_SD * sd) + 2000)
    if w_up > FLOAT_WINDOW_MAX:
        return None

    def payoff(k: np.ndarray):
        m = 2.0 * k - n  # exact integers
        a = eps0 * m
        d = a - eps
        err = 2.0 * U * (np.abs(a) + abs(eps))
        with np.errstate(over="ignore"):
            f_lo = np.where(d - err > 0.0, -np.expm1(-(d - err)) * (1.0 - RL), 0.0)
            f_hi = np.where(d + err > 0.0, np.minimum(-np.expm1(-(d + err)) * (1.0 + RL), 1.0), 0.0)
        return np.maximum(f_lo, 0.0), f_hi

    ks = start + np.arange(w_up, dtype=np.float64)  # exact (< 2^53)
    q = (n - ks[:-1]) / (ks[:-1] + 1.0)  # pmf(k + 1) / pmf(k) / c
    pr_hi = np.concatenate([[1.0], np.cumprod(q * c_hi * (1.0 + 3.0 * U))])
    pr_lo = np.concatenate([[1.0], np.cumprod(q * c_lo * (1.0 - 3.0 * U))])
    cnt = np.arange(w_up, dtype=np.float64)
    pr_hi = pr_hi * (1.0 + 1.01 * cnt * U)
    pr_lo = pr_lo * (1.0 - 1.01 * cnt * U)
    f_lo, f_hi = payoff(ks)
    s_lo = float(np.sum(pr_lo * f_lo)) * (1.0 - (w_up + 2) * U)
    s_hi = float(np.sum(pr_hi * f_hi)) * (1.0 + (w_up + 2) * U)
    k_end = start + w_up  # the first count not summed
    if k_end <= n:
        rho = (n - k_end) / (k_end + 1.0) * c_hi * (1.0 + 3.0 * U)  # >= every ratio beyond (they fall)
        nxt = float(pr_hi[-1]) * (n - (k_end - 1)) / k_end * c_hi * (1.0 + 4.0 * U)  # >= pmf(k_end) / pmf(start)
        if not rho < 1.0:
            return None
        tail_hi += nxt / (1.0 - rho) * (1.0 + 4.0 * U)
    tot_lo += s_lo
    tot_hi += s_hi
    # downward: k = start - 1 .. kmin (where k_min is below the mode)
    if kmin < start:
        w_dn = min(start - kmin, int(WINDOW_SD * sd) + 2000)
        if w_dn > FLOAT_WINDOW_MAX:
            return None
        kd = start - 1 - np.arange(w_dn, dtype=np.float64)  # k = start - 1, start - 2, ...
        qd = (kd + 1.0) / (n - kd)  # pmf(k) / pmf(k + 1) * c
        prd_hi = np.cumprod(qd / c_lo * (1.0 + 3.0 * U))
        prd_lo = np.cumprod(qd / c_hi * (1.0 - 3.0 * U))
        cnt = np.arange(1, w_dn + 1, dtype=np.float64)
        prd_hi = prd_hi * (1.0 + 1.01 * cnt * U)
        prd_lo = prd_lo * (1.0 - 1.01 * cnt * U)
        fd_lo, fd_hi = payoff(kd)
        tot_lo += float(np.sum(prd_lo * fd_lo)) * (1.0 - (w_dn + 2) * U)
        tot_hi += float(np.sum(prd_hi * fd_hi)) * (1.0 + (w_dn + 2) * U)
        k_last = start - w_dn  # the last count summed
        if k_last > kmin:
            rho = k_last / (n - k_last + 1.0) / c_lo * (1.0 + 3.0 * U)  # >= pmf(j - 1) / pmf(j), j <= k_last
            if not rho < 1.0:
                return None
            tail_hi += float(prd_hi[-1]) * rho / (1.0 - rho) * (1.0 + 4.0 * U)
    if tail_hi > FLOAT_TAIL_REL * tot_lo and tail_hi > 0.0:
        return None
    lo = tot_lo * p_lo * (1.0 - 2.0 * U)
    hi = min(1.0, (tot_hi + tail_hi) * (1.0 + 2.0 * U) * p_hi * (1.0 + 2.0 * U))
    return max(lo, 0.0), hi


def _lattice_chernoff_bracket(params: Any, delta: float) -> tuple[float, float]:
    """[0, upper]: ``upper`` is a lattice eps whose Chernoff bound on delta is verified <= delta in Arb
    (delta(eps) <= P(K >= k_min(eps)) <= exp(-n D(k_min/n || r)); eps(delta) <= upper); the lower end is
    not resolved (0).  O(log n) Arb evaluations at any n (2^53 included)."""
    eps0, n = params
    fe0 = Fraction(eps0)
    r = 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0
    arb, ctx = _arb()
    old_prec = ctx.prec
    ctx.prec = 192  # n D is a difference of terms ~n |k/n - r|: tight balls need the bits
    try:
        return _lattice_chernoff_search(eps0, n, fe0, r, arb(delta).log())
    finally:
        ctx.prec = old_prec


def _lattice_chernoff_search(eps0: float, n: int, fe0: Fraction, r: float, log_d) -> tuple[float, float]:
    def ok(k: int) -> bool:  # the eps just below the loss at k: every count >= k lies above it
        if k > n:
            return True
        if k <= n * r:
            return False
        return bool(_log_chernoff_ball(eps0, n, k) < log_d)

    hi = first_true(ok, int(n * r), n + 1)
    # counts >= hi carry all the loss above eps = eps0 (2 (hi - 1) - n) (the loss at hi - 1): outward up
    top = fe0 * (2 * (hi - 1) - n)
    t = float(top)
    if Fraction(t) < top:
        t = math.nextafter(t, math.inf)
    return 0.0, max(0.0, t)


class _NoWindow(Exception):
    pass


def _lattice_float_bracket(params: Any, delta: float) -> tuple[float, float] | None:
    """eps(delta) of randomized response beyond CERT_LATTICE_MAX runs from _rr_delta_float (both directions alike):
    an upper end whose upper delta bound is <= delta and a lower end whose lower bound is > delta, by the Illinois
    search and the lower-end steps of closed_form_epsilon_bracket; None where a window declines."""
    eps0, n = params

    def bounds(e: float) -> tuple[float, float]:
        got = _rr_delta_float(eps0, n, e)
        if got is None:
            raise _NoWindow
        return got

    try:
        if bounds(0.0)[1] <= delta:
            return (0.0, 0.0)

        def g(e: float) -> float:
            hi = bounds(e)[1]
            v = math.log(max(hi, 5e-324)) - math.log(delta)
            return min(v, 0.0) if hi <= delta else max(v, 1e-300)

        # start: [the mean loss, the Chernoff upper end] (delta at the mean is far above any delta < 1/4; the
        # Chernoff end is an upper end, its g <= 0 unless rounded the other way: then doubled)
        r = 1.0 / (1.0 + math.exp(-eps0)) if eps0 < 700 else 1.0
        a = max(0.0, n * eps0 * (2.0 * r - 1.0))
        ga = g(a)
        if ga <= 0.0:
            a, ga = 0.0, g(0.0)
        b = max(_lattice_chernoff_bracket(params, delta)[1], a * (1.0 + 1e-9) + 1e-9)
        gb = g(b)
        while gb > 0.0:
            a, ga = b, gb
            b *= 2.0
            if not math.isfinite(b):
                return None
            gb = g(b)
        a, b = illinois_upper_end(g, a, ga, b, gb, FLOAT_EPS_REL, EPS_ABS_TOL)
        lower = 0.0
        s_dn = max(b - a, FLOAT_EPS_REL * b, EPS_ABS_TOL)
        while s_dn < b:
            if bounds(b - s_dn)[0] > delta:
                lower = b - s_dn
                break
            s_dn *= 4.0
        return lower, b
    except _NoWindow:
        return None


def _lattice_seeded(params: Any, delta: float, bounds) -> tuple[float, float] | None:
    """Randomized response: verify two points around the windowed double-precision eps(delta) instead of
    searching (each Arb evaluation costs O(sqrt(n)) ball operations: ~60 of them took 3.4 s at n = 1e7).
    ``upper`` is verified by the enclosure's upper delta <= delta, ``lower`` by its lower delta > delta
    (delta(eps) is non-increasing); None where either fails (the search then runs as before)."""
    from ..methods.closed import invert_decreasing
    from ..methods.rr_window import rr_delta_window

    eps0, n = params
    if n < 10_000:
        return None
    try:
        exact = [True]

        def fn(e: float) -> float:
            d, ok = rr_delta_window(e, eps0, n)
            exact[0] = exact[0] and ok
            return d

        est = invert_decreasing(fn, delta)
    except (ArithmeticError, ValueError):
        return None
    if not (exact[0] and est > 0.0 and math.isfinite(est)):
        return None
    for rel in (4.0 * EPS_REL_TOL / 16.0, EPS_REL_TOL / 2.0):
        w = rel * est + EPS_ABS_TOL
        b, a = est + w, est - w
        if bounds(b)[1] <= delta and a > 0.0 and bounds(a)[0] > delta:
            return a, b
    return None


def closed_form_epsilon_bracket(acc: Any, delta: float) -> tuple[float, float] | None:
    """Rigorous ``(lower, upper)`` on ``eps(delta) = inf{eps >= 0: delta(eps) <= delta}``.

    Both ends are verified points of the monotone bisection: ``upper`` has an enclosure of
    ``delta(upper)`` that is ``<= delta``; ``lower`` is 0 or has an enclosure of ``delta(lower)`` that is
    ``> delta``.  The width is at most ~2e-13 relative (1e-15 absolute) unless the delta enclosure
    itself is wider there.  Returns None when the composition has no closed form.
    """
    kc = closed_form_kind(acc)
    if kc is None:
        return None
    delta = float(delta)
    if math.isnan(delta):
        raise ValueError("delta is NaN")
    if delta >= 1.0:
        return (0.0, 0.0)
    kind, params = kc
    big = kind == "lattice" and params[1] > CERT_LATTICE_MAX
    if big and delta > 0.0:
        got = _lattice_float_bracket(params, delta)
        return got if got is not None else _lattice_chernoff_bracket(params, delta)

    def bounds(e: float) -> tuple[float, float]:
        br = _direction_brackets(kind, params, e)
        return max(b[0] for b in br), max(b[1] for b in br)

    lo0, hi0 = bounds(0.0)
    if hi0 <= delta:
        return (0.0, 0.0)
    if delta <= 0.0:
        if kind == "lattice":  # delta(eps) > 0 exactly below the largest loss n eps0, and 0 from there on
            eps0, n = params
            top = Fraction(eps0) * n
            t = float(top)
            lo_t = t if Fraction(t) <= top else math.nextafter(t, -math.inf)
            hi_t = t if Fraction(t) >= top else math.nextafter(t, math.inf)
            return (lo_t, hi_t)
        return (0.0, math.inf)  # the loss is unbounded: delta(eps) > 0 at every finite eps
    if kind == "lattice":
        seeded = _lattice_seeded(params, delta, bounds)
        if seeded is not None:
            return _with_estimate(seeded[0], seeded[1], _estimate(acc, "epsilon", delta))
    # 1. verified upper end: g(e) = log(upper(e) / delta) is non-increasing; g(0) > 0 here
    def g(e: float) -> float:
        # the sign decides (upper(e) <= delta exactly, not through rounded logarithms); the size steers
        hi = bounds(e)[1]
        v = math.log(max(hi, 5e-324)) - math.log(delta)
        return min(v, 0.0) if hi <= delta else max(v, 1e-300)

    a, ga = 0.0, g(0.0)
    b = 1.0
    gb = g(b)
    while gb > 0.0:
        a, ga = b, gb
        b *= 2.0
        if not math.isfinite(b):
            return (0.0, math.inf)
        gb = g(b)
    # 2. Illinois (regula falsi) on [a, b]: b always keeps upper(b) <= delta (a verified upper end)
    a, b = illinois_upper_end(g, a, ga, b, gb, EPS_REL_TOL, EPS_ABS_TOL)
    # 3. verified lower end: the largest tried point below b whose lower delta bound exceeds delta
    lower = 0.0
    s_dn = max(b - a, EPS_REL_TOL * b, EPS_ABS_TOL)
    while s_dn < b:
        if bounds(b - s_dn)[0] > delta:
            lower = b - s_dn
            break
        s_dn *= 4.0
    if lower > 0.0 and s_dn > 4.0 * max(EPS_REL_TOL * b, EPS_ABS_TOL):
        # the enclosure is wider than the step there: tighten the lower end by bisection
        u = b - s_dn / 4.0  # not verified
        for _ in range(100):
            if u - lower <= max(EPS_REL_TOL * b, EPS_ABS_TOL):
                break
            m = 0.5 * (lower + u)
            if bounds(m)[0] > delta:
                lower = m
            else:
                u = m
    return _with_estimate(lower, b, _estimate(acc, "epsilon", delta))
