"""Certified delta(eps) and eps(delta) from the contour integral (docs/certified.md).

For one direction with upper measure P, the trapezoidal sum on z = c + i k h (k in Z) of the contour
integral equals, by Poisson summation, ``delta(eps) + A`` with an alias sum ``A >= 0`` (contour.py).
The sum is evaluated on the nodes k = 0..N-1 with the rigorous kernel enclosures of
:mod:`ewacct._kernels.mgf_cert`; so

    S - E - T - A_bound <= delta(eps) <= S + E + T,

where S is the computed sum, E bounds the node errors (kernel enclosures, the rounding of the node
values and of the sum), T bounds the nodes beyond N - 1 (from the decay bound of
:func:`sg_decay_bound`, an integration by parts), and A_bound is the alias bound of contour.py
evaluated with rigorous upper bounds on K(s).  eps(delta) is bracketed by the monotonicity of delta:
an upper end where the upper bound on delta is <= the target, a lower end where the lower bound is
above it.

Many segments sharing q (a noise schedule) go through the cross-segment kernel
:func:`ewacct._kernels.mgf_cert_multi.sg_g_enclose_multi` (docs/certified.md section 3c): one call
encloses every segment's G at every node, the same ``(log G~, log r)`` contract as the one-segment
kernel, filling the same caches; their decay bounds are computed in array passes.

Supported: compositions of Poisson-subsampled Gaussian and Gaussian steps (the kernels with
enclosures).  Everything else raises :class:`NotCertifiable` and the caller uses another source.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from numba import njit
from scipy.special import gammaln, log_ndtr, ndtr

from .._kernels.mgf import sg_log_g
from .._kernels.mgf_cert import sg_g_enclose_cut as _enc_cut, sg_g_enclose_many as _enc_many
from .._kernels.mgf_cert_multi import sg_g_enclose_multi as _enc_multi

#: work done by this process's certificates: the number of (group, point) enclosures of G (the kernels below count
#: them).  The quantised path's settle decisions read it instead of CPU time (SETTLE_AFTER_WORK, SETTLE_IN_LOOP_WORK),
#: so that the same query settles the same way on any machine and under any load
_WORK = [0]


def sg_g_enclose_many(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool):
    """:func:`ewacct._kernels.mgf_cert.sg_g_enclose_many`, counted in _WORK."""
    _WORK[0] += int(w.shape[0])
    return _enc_many(q, mu, w, log_tol, fform)


def sg_g_enclose_cut(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool, cutv: np.ndarray):
    """:func:`ewacct._kernels.mgf_cert.sg_g_enclose_cut`, counted in _WORK."""
    _WORK[0] += int(w.shape[0])
    return _enc_cut(q, mu, w, log_tol, fform, cutv)


def sg_g_enclose_multi(q: float, mus: np.ndarray, w: np.ndarray, log_tols: np.ndarray, fform: bool):
    """:func:`ewacct._kernels.mgf_cert_multi.sg_g_enclose_multi`, counted in _WORK (segments x points)."""
    _WORK[0] += int(mus.shape[0]) * int(w.shape[0])
    return _enc_multi(q, mus, w, log_tols, fform)

U_MACH = 2.0 ** -53
#: relative error the node enclosures aim at (on delta)
NODE_RTOL = 1e-10
#: relative width the eps bracket is built for; the truncation is marched to a fraction of it
TARGET_RTOL = 1e-7
#: node budget of one certified contour (per direction)
MAX_NODES = 6_000
#: cut points of the decay bound's split (docs/certified.md, section 4)
_X0 = (-math.inf, -8.0, -6.0, -5.0, -4.0, -3.0, -2.5, -2.0, -1.5, -1.0, 0.0, 1.0)


#: per-mechanism caches shared by every composition (a query after one more training step reuses
#: them): real enclosures, decay bounds and node enclosures depend on (q, mu, abscissa), not on counts
_REAL: dict[tuple[float, float, float], tuple[float, float, float]] = {}
_DECAY: dict[tuple[float, float, float], list[tuple[float, float, bool]]] = {}
#: (q, mu, a) -> (log G_hi(a), sg_floor_pieces) of the density-floor bound
_FLOOR: dict[tuple[float, float, float], tuple[float, list]] = {}
_MOMENTS: dict[tuple[float, float, float], tuple[float, float]] = {}
_NODES: "OrderedDict[tuple[float, float, str, float, float], list]" = OrderedDict()
_NODES_MAX = 4096
#: at most this many cached node enclosures in all (24 bytes each: ~36 MB)
_NODES_TOTAL = 1_500_000
_NODES_COUNT = [0]
#: the last contour (c, h, N, alias s-values, direction) of a composition's shape (counts excluded)
_LAST: "OrderedDict[tuple, tuple]" = OrderedDict()
_DERIV: dict[tuple[float, float, float], float] = {}
_PROBES: dict[tuple, float] = {}
_PROBES2: dict[tuple, float] = {}
_D2: dict[tuple[float, float, float], float] = {}
#: also try the first-order (midpoint + D1) probes where the second-order ones leave a cell too high
PROBE_D1 = True
#: groups probed together before the truncation cells are checked again (log_trunc)
PROBE_CHUNK = 8
#: the cross-segment kernel (mgf_cert_multi, docs/certified.md 3c) serves runs of at least this many
#: groups sharing q and the form, mu within MULTI_RATIO, all mu at most MULTI_MU_MAX (sigma >= 0.25)
MULTI_MIN = 4
MULTI_MU_MAX = 4.0
#: the largest ratio of mu within one call of the cross-segment kernel, and the most groups a call
MULTI_RATIO = 1.5
MULTI_MAX_SEG = 128


def clear_caches() -> None:
    """Forget every cached enclosure (tests; answers never depend on the caches)."""
    for d in (_REAL, _DECAY, _MOMENTS, _NODES, _LAST, _DERIV, _PROBES, _PROBES2, _D2, _FLOOR):
        d.clear()
    _NODES_COUNT[0] = 0
    _PRE.clear()
    from ..bounds.certify import clear_memo
    from . import certified_quant

    clear_memo()
    certified_quant.clear()


class NotCertifiable(TypeError):
    """The composition has no rigorous contour certificate (another source must be used)."""


class CertInconsistent(RuntimeError):
    """Two certified brackets of the same number are disjoint: one of the proofs is wrong.  Not an
    ArithmeticError, so that no fallback swallows it."""


class CertError(ArithmeticError):
    """The certificate could not be completed within its budget."""


# ----------------------------------------------------------------------------- decay bound
def _e_abs_tail(m: float, s: float, x0: float) -> float:
    """E[|Y + s| ; Y >= x0] for Y ~ N(m, 1)."""

    def part(a: float, b: float) -> float:  # E[(Y + s) 1{a <= Y < b}]
        pa = ndtr(a - m) if a > -math.inf else 0.0
        pb = ndtr(b - m) if b < math.inf else 1.0
        da = math.exp(-0.5 * (a - m) ** 2) / math.sqrt(2 * math.pi) if a > -math.inf else 0.0
        db = math.exp(-0.5 * (b - m) ** 2) / math.sqrt(2 * math.pi) if b < math.inf else 0.0
        return (m + s) * (pb - pa) + da - db

    if x0 >= -s:
        return max(part(x0, math.inf), 0.0)
    return max(-part(x0, -s), 0.0) + max(part(-s, math.inf), 0.0)


#: largest tilt a whose binomial expansion (ceil(a) + 1 terms) the decay and derivative bounds use
POWER_TERMS_MAX = 4000.0


def _power_coefs(a: float) -> list[tuple[int, float]]:
    """(j, log b_j) with (1 + t)^a <= sum_j b_j t^j for every t >= 0: b = (1) for a <= 0 ((1+t)^a <= 1),
    (1, a) for 0 < a <= 1 (concavity), the binomial coefficients of ceil(a) for a > 1 (1 + t >= 1)."""
    if a <= 0.0:
        return [(0, 0.0)]
    if a <= 1.0:
        return [(0, 0.0), (1, math.log(a))]
    if a > POWER_TERMS_MAX:
        # ceil(a) + 1 terms, each a Python-level Gaussian integral per x0: at large sigma the tilt reaches
        # 1e5-1e7 (minutes of CPU without a deadline check); the bound is not used there
        raise OverflowError(f"tilt {a:.4g} beyond POWER_TERMS_MAX")
    n = int(math.ceil(a))
    return [(j, math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)) for j in range(n + 1)]


def _e_abs_tail_vec(m, s, x0: np.ndarray) -> np.ndarray:
    """:func:`_e_abs_tail` for an array of x0 (the same formulas; -inf allowed); m and s may be arrays
    that broadcast against x0 (one row per group)."""
    r2pi = math.sqrt(2 * math.pi)
    with np.errstate(over="ignore", invalid="ignore"):
        pa = ndtr(x0 - m)
        da = np.exp(-0.5 * (x0 - m) ** 2) / r2pi
        ps = ndtr(-s - m)
        ds = np.exp(-0.5 * (-s - m) ** 2) / r2pi
        above = (m + s) * (1.0 - pa) + da                  # part(x0, inf)
        below = (m + s) * (ps - pa) + da - ds              # part(x0, -s)
        right = (m + s) * (1.0 - ps) + ds                  # part(-s, inf)
    return np.where(x0 >= -s, np.maximum(above, 0.0), np.maximum(-below, 0.0) + np.maximum(right, 0.0))


#: the most elements (terms x groups x cut points) of one array pass of sg_decay_bounds_many
DECAY_CHUNK = 1 << 17


def _coef_arrays(a: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_power_coefs` as two arrays (j, log b_j); the binomial logs by gammaln in one pass."""
    if a <= 1.0:
        c = _power_coefs(a)
        return np.array([float(j) for j, _ in c]), np.array([lb for _, lb in c])
    if a > POWER_TERMS_MAX:
        raise OverflowError(f"tilt {a:.4g} beyond POWER_TERMS_MAX")
    n = int(math.ceil(a))
    js = np.arange(n + 1, dtype=float)
    return js, gammaln(n + 1.0) - gammaln(js + 1.0) - gammaln(n - js + 1.0)


def sg_decay_bounds_many(q: float, mus: np.ndarray, a: float, x0s: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """(log A0, log V), arrays of shape (groups, cut points): :func:`sg_decay_bounds` for several mu at
    once (the same formulas in array arithmetic, one row per group; log A0 = -inf where x0 = -inf).

    The binomial terms j of (1 + t)^a are a third array axis (chunks of at most DECAY_CHUNK elements),
    reduced by logaddexp: the same sums as a loop over j (at a ~ 1e3-4e3 that loop of ~10 array
    operations per term was 0.1-0.4 s of a certified query at sigma >= 10)."""
    x0 = np.asarray(x0s, dtype=float)[None, :]
    mu = np.asarray(mus, dtype=float)[:, None]
    m2 = mu * mu
    # q: one value, or one per group (the same formulas elementwise: groups of any q in one pass)
    qa = np.broadcast_to(np.asarray(q, dtype=float).reshape(-1), (mu.shape[0],))[:, None]
    l1q = np.log1p(-qa)
    lr = np.log(qa) - l1q  # log(q / (1-q))
    js_all, lbs_all = _coef_arrays(a)
    finite = x0 > -math.inf
    x0f = np.where(finite, x0, 0.0)
    mu3, m23, x03, x0f3 = mu[None], m2[None], x0[None], x0f[None]
    q3, l1q3, lr3 = qa[None], l1q[None], lr[None]

    def lJ(k: np.ndarray, s) -> np.ndarray:  # log int_{x0}^inf phi(x) e^{k v} |x + s| dx
        e = _e_abs_tail_vec(k * mu3, s, x03)
        with np.errstate(divide="ignore"):
            return 0.5 * k * (k - 1.0) * m23 + np.where(e > 0.0, np.log(np.where(e > 0.0, e, 1.0)), -np.inf)

    lV = None
    lA0 = None
    step = max(1, DECAY_CHUNK // max(1, mu.shape[0] * x0.shape[1]))
    for i0 in range(0, js_all.shape[0], step):
        j = js_all[i0:i0 + step][:, None, None]
        base = a * l1q3 + lbs_all[i0:i0 + step][:, None, None] + j * lr3
        t1 = base + l1q3 - np.log(q3 * mu3) + lJ(j - 1.0, mu3)
        t2 = base - np.log(mu3) + lJ(j, 0.0)
        ms = base + 0.5 * j * (j - 1.0) * m23 + log_ndtr(x0f3 - j * mu3)
        t = np.logaddexp.reduce(np.logaddexp(t1, t2), axis=0)
        msr = np.logaddexp.reduce(ms, axis=0)
        lV = t if lV is None else np.logaddexp(lV, t)
        lA0 = msr if lA0 is None else np.logaddexp(lA0, msr)
    v0 = mu * x0f - 0.5 * m2
    l_one_u = np.log1p(qa * np.expm1(v0))
    # boundary term phi(x0) e^{a l(x0)} / l'(x0), l' = q mu e^v / (1 + u)
    lbd = -0.5 * x0f * x0f - 0.5 * math.log(2 * math.pi) + a * l_one_u - (np.log(qa * mu) + v0 - l_one_u)
    lV_out = np.where(finite, np.logaddexp(lV, lbd), lV) + 1e-9
    lA0_out = np.where(finite, lA0 + 1e-9, -np.inf)
    return lA0_out, lV_out


def sg_decay_bounds(q: float, mu: float, a: float, x0s: Sequence[float]) -> list[tuple[float, float]]:
    """(log A0, log V) for each cut point x0 in x0s: |G(w)| <= A0 + V / |w| for every complex w with
    Re w = a (docs/certified.md §4).

    G(w) = E[(1 - q + q e^{mu X - mu^2/2})^w]; the integral is split at x0: the part below x0 is
    bounded by its mass, the part above by one integration by parts in x.  With t = q e^v / (1 - q),
    v = mu x - mu^2/2, e^{a l} = (1-q)^a (1+t)^a <= (1-q)^a sum_j b_j t^j: b = (1) for a <= 0,
    (1, a) for 0 < a <= 1 (concavity), the binomial coefficients of ceil(a) for a > 1 (1 + t >= 1);
    every term is then a Gaussian integral in closed form.  (All cut points in one pass of array
    arithmetic, :func:`sg_decay_bounds_many` with one group; several groups at once there.)
    """
    lA0, lV = sg_decay_bounds_many(q, np.array([float(mu)]), a, x0s)
    return [(float(x), float(y)) for x, y in zip(lA0[0], lV[0])]


def sg_decay_bound(q: float, mu: float, a: float, x0: float) -> tuple[float, float]:
    """(log A0, log V) with |G(w)| <= A0 + V / |w| for every complex w with Re w = a, split at x0
    (:func:`sg_decay_bounds` at one cut point)."""
    return sg_decay_bounds(q, mu, a, [x0])[0]


def sg_tv_bound(q: float, mu: float, a: float) -> float:
    """log V with |G(a + ib)| <= V / |b| (docs/certified.md §4), or inf where the proof does not apply.

    With h(x) = phi(x) e^{a l(x)} / l'(x), one integration by parts gives |G(a + ib)| <= TV(h) / |b|.
    log h = -x^2/2 + (a+1) l(x) - mu x + const has second derivative -1 + (a+1) l''(x) <= -kappa,
    kappa = 1 - max(a+1, 0) mu^2 / 4 (0 <= l'' <= mu^2/4); where kappa > 0, h is log-concave, so
    TV(h) = 2 max h, and max log h <= f(x) + f'(x)^2 / (2 kappa) at any x (strong concavity).
    """
    kappa = 1.0 - max(a + 1.0, 0.0) * mu * mu / 4.0
    if kappa <= 1e-3:
        return math.inf
    lq = math.log(q) - math.log1p(-q)
    half = 0.5 * mu * mu

    def f_and_d(x: float) -> tuple[float, float]:
        v = mu * x - half
        t = v + lq
        ell = math.log1p(-q) + (t + math.log1p(math.exp(-t)) if t > 0 else math.log1p(math.exp(t)))
        s = 1.0 / (1.0 + math.exp(-t)) if t > -700 else 0.0
        f = -0.5 * x * x - 0.5 * math.log(2 * math.pi) + (a + 1.0) * ell - math.log(q * mu) - v
        d = -x + (a + 1.0) * mu * s - mu
        return f, d

    lo, hi = -60.0, 60.0 + max(a + 1.0, 0.0) * mu
    for _ in range(200):  # f' is decreasing: bisection for its zero, to 1e-3 ...
        mid = 0.5 * (lo + hi)
        if f_and_d(mid)[1] > 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-3 * (1.0 + abs(mid)):
            break
    # ... then Newton inside [lo, hi] (f'' = -1 + (a+1) mu^2 s (1 - s) <= -kappa < 0: f' is strongly
    # decreasing, so Newton converges fast; any x gives a valid bound, the zero of f' the best one: 47
    # bisection steps of Python floats were ~35 ms of a 200-segment certificate)
    x = 0.5 * (lo + hi)
    for _ in range(30):
        t = mu * x - half + lq
        sg = 1.0 / (1.0 + math.exp(-t)) if t > -700 else 0.0
        d = -x + (a + 1.0) * mu * sg - mu
        d2 = -1.0 + (a + 1.0) * mu * mu * sg * (1.0 - sg)
        if d > 0.0:
            lo = max(lo, x)
        else:
            hi = min(hi, x)
        xn = x - d / d2 if d2 < 0.0 else 0.5 * (lo + hi)
        if not (lo <= xn <= hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - x) < 1e-13 * (1.0 + abs(x)):
            x = xn
            break
        x = xn
    f, d = f_and_d(x)
    return math.log(2.0) + f + d * d / (2.0 * kappa) + 1e-9 * (abs(f) + 1.0)


#: the tilt from which the decay tables also carry :func:`sg_ibp_bound` (where the log-concave bound of
#: sg_tv_bound does not apply); the split bounds' binomial expansion stops at POWER_TERMS_MAX
IBP_MIN_A = 1000.0


#: the Hoelder exponents 1 + d of the tilted factor tried by CertDirection._ibp_entry (the smallest V wins)
IBP_DELTAS = (1.0, 0.5, 0.25, 0.1, 0.03)


def sg_ibp_bound(q: float, mu: float, a: float, log_g_a: float, log_g_pw: float, d: float = 1.0) -> float:
    """log V with |G(a + ib)| <= V / |b| for every real b (docs/certified.md section 4, "the global
    integration by parts"), from rigorous upper bounds log_g_a >= log G(a) and
    log_g_pw >= log G((a + 1)(1 + d)) (real values), d > 0; valid for every real a, no expansion in a
    (the split bounds need ceil(a) + 1 terms).

    With l = log(1 + u), u = q (e^v - 1), v = mu x - mu^2/2 and h = phi e^{a l} / l' (l' > 0; h -> 0 at
    both ends), one integration by parts gives |G(a + ib)| <= |b|^-1 int |h'|.  log l' = log(q mu) + v - l,
    so (log h)' = -x - mu + (a+1) l' and |h'| <= h (|x| + mu + |a+1| l'); int h l' = G(a), and
    h = phi e^{(a+1) l} e^{-v} / (q mu).  Hoelder with exponents p = (1+d)/d and 1 + d:
    E[e^{-v} (|x| + mu) e^{(a+1) l}] <= E[e^{-pv} (|x| + mu)^p]^{1/p} G((a+1)(1+d))^{1/(1+d)}, and
    E[e^{-pv} (|x| + mu)^p] = e^{(p + p^2) mu^2 / 2} E[(|Y| + mu)^p], Y ~ N(-p mu, 1), |Y| + mu <=
    |Z| + (p+1) mu (Z standard), (s + t)^p <= 2^{p-1} (s^p + t^p), E|Z|^p = 2^{p/2} Gamma((p+1)/2) / sqrt(pi).
    So V = |a+1| G(a) + e^{(1 + p) mu^2 / 2} M_p^{1/p} G((a+1)(1+d))^{1/(1+d)} / (q mu),
    M_p = 2^{p-1} (2^{p/2} Gamma((p+1)/2) / sqrt(pi) + ((p+1) mu)^p).
    """
    if not (math.isfinite(log_g_a) and math.isfinite(log_g_pw) and 0.0 < q < 1.0 and mu > 0.0 and d > 0.0):
        return math.inf
    p = (1.0 + d) / d
    lm = (p - 1.0) * math.log(2.0) + float(np.logaddexp(
        0.5 * p * math.log(2.0) + math.lgamma(0.5 * (p + 1.0)) - 0.5 * math.log(math.pi),
        p * math.log((p + 1.0) * mu)))
    t2 = 0.5 * (1.0 + p) * mu * mu + lm / p + log_g_pw / (1.0 + d) - math.log(q) - math.log(mu)
    t1 = math.log(abs(a + 1.0)) + log_g_a if a != -1.0 else -math.inf
    # (each float operation above is within a few ulps of exact, on values below ~1e6 in log: the
    # relative margin covers them and the logaddexp)
    return float(np.logaddexp(t1, t2)) + 1e-9 * (1.0 + abs(t1 if math.isfinite(t1) else 0.0) + abs(t2) + abs(lm))


#: the density-floor bound (sg_floor_bound) among the decay bounds of section 4
FLOOR_BOUND = True
#: piece widths in x of :func:`sg_floor_pieces` (each partition gives a valid bound; the best is used)
FLOOR_DX = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125)
#: at most this many pieces per partition (wider pieces where the tilted mass is spread wider)
FLOOR_MAX_PIECES = 4096


def sg_floor_pieces(q: float, mu: float, a: float, log_g_hi: float, x_cut: float = math.inf
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pieces of :func:`sg_floor_bound`: for each partition of x (widths FLOOR_DX) the arrays
    (dt, r): dt_j a lower bound on l(x_{j+1}) - l(x_j) >= 0 and r_j a lower bound on
    m_j / G_hi(a) >= 0, m_j a lower bound on g(t) = phi(x(t)) e^{a t} / l'(x(t)) for t between l(x_j) and
    l(x_{j+1}) (docs/certified.md section 4, "density floor"), G_hi(a) = e^{log_g_hi} >= G(a).

    log g = log phi(x) + (a+1) l(x) - v(x) - log(q mu) (l' = q mu e^{v - l}); on [x_j, x_{j+1}]:
    -x^2/2 is least at the end of larger |x| (concave), (a+1) l at one end (l increasing), -v at the
    right end (v increasing): the sum of these minima bounds the minimum of the sum from below.

    ``x_cut`` finite: the pieces lie in (-inf, x_cut] (the truncated measure of docs/certified.md section 8,
    whose G_cut(a) upper bound is then log_g_hi)."""
    if not (0.0 < q < 1.0 and mu > 0.0 and math.isfinite(a) and math.isfinite(log_g_hi)):
        return []
    l1q = math.log1p(-q)
    m2 = mu * mu

    def ell(x: np.ndarray) -> np.ndarray:
        return np.log1p(q * np.expm1(mu * x - 0.5 * m2))

    # where the tilted mass phi e^{a l} lives (floats: only which pieces are used)
    x_hi = max(40.0, a * mu + 40.0) if a > 0.0 else 40.0
    x_hi = min(x_hi, x_cut)
    x_lo = -40.0 if a >= 0.0 else min(-40.0, -math.sqrt(max(2.0 * (a * l1q + 80.0), 0.0)))
    xs = np.linspace(x_lo, x_hi, 8001)
    with np.errstate(over="ignore", invalid="ignore"):
        f = -0.5 * xs * xs + a * ell(xs)
    if not np.isfinite(f).any():
        return []
    fm = np.nanmax(f)
    keep = np.nonzero(f >= fm - 40.0)[0]
    step = xs[1] - xs[0]
    xa, xb = xs[keep[0]] - step, xs[keep[-1]] + step
    out = []
    lq = math.log(q) + math.log(mu)
    for dx in FLOOR_DX:
        n = int(math.ceil((xb - xa) / dx))
        if n > FLOOR_MAX_PIECES or n < 1:
            continue
        x = xa + dx * np.arange(n + 1, dtype=float)  # (any points: each piece's bounds use its own ends)
        x = np.minimum(x, x_cut)  # (pieces inside (-inf, x_cut]; a repeated end gives dt <= 0: dropped)
        with np.errstate(over="ignore", invalid="ignore"):
            l = ell(x)
            v = mu * x - 0.5 * m2
            # |error of l| <= err_l: v within 2u (|mu x| + mu^2) + u, d l / d v <= 1; expm1 and the
            # product q (e^v - 1) within 2u relative, which moves l by <= 2u q |e^v - 1| / (1 + u)
            # <= 2u max(1, q / (1 - q)); log1p within u |l| -- budgeted 2^10-fold
            err_l = 1024.0 * U_MACH * (np.abs(mu * x) + m2 + 2.0 + np.abs(l) + q / (1.0 - q))
            dt = (l[1:] - l[:-1]) * (1.0 - 4.0 * U_MACH) - err_l[1:] - err_l[:-1]
            x2 = np.maximum(x[:-1] * x[:-1], x[1:] * x[1:])
            al = np.minimum((a + 1.0) * (l[:-1] - np.sign(a + 1.0) * err_l[:-1]),
                            (a + 1.0) * (l[1:] - np.sign(a + 1.0) * err_l[1:]))
            lg = -0.5 * x2 - 0.5 * math.log(2.0 * math.pi) + al - v[1:] - lq - log_g_hi
            mag = 0.5 * x2 + 1.0 + np.abs(al) + np.abs(v[1:]) + np.abs(mu * x[1:]) + m2 + abs(lq) + abs(log_g_hi)
            lg = lg - 1e-12 * mag - 2.0 * U_MACH * np.abs(mu * x[1:]) - 1e-15
            r = np.exp(lg) * (1.0 - 1e-12)
        ok = np.isfinite(dt) & np.isfinite(r) & (dt > 0.0) & (r > 0.0)
        if ok.any():
            out.append((dt[ok], r[ok]))
    return out


def sg_floor_bound(pieces: list[tuple[np.ndarray, np.ndarray]], log_g_hi: float, b: np.ndarray) -> np.ndarray:
    """log of an upper bound on |G(a + ib')| for every |b'| >= |b| (elementwise; non-increasing in |b|),
    from :func:`sg_floor_pieces` (docs/certified.md section 4, "density floor").

    On a piece [t1, t2] of the loss where g >= m >= 0 (g the density in t = l(x) of phi e^{a l}),
    |int g e^{ibt} dt| <= int (g - m) + m |int e^{ibt} dt| <= int g - m (t2 - t1 - 2/|b|); the rest of the
    line is bounded by its real integral, so |G(a + ib)| <= G(a) - sum_j m_j (dt_j - 2/|b|)_+."""
    b = np.abs(np.asarray(b, dtype=float))
    best = np.zeros(b.shape)
    with np.errstate(divide="ignore"):
        inv = np.where(b > 0.0, 2.0 / b, np.inf) * (1.0 + 4.0 * U_MACH)
    for dt, r in pieces:
        # sum_j r_j (dt_j - inv)_+ for every b: sorted by dt, prefix sums (the float sum of
        # non-negative terms is within (count) u of the exact one: the factor below covers it)
        o = np.argsort(dt)
        dts, rs = dt[o], r[o]
        crd = np.concatenate([[0.0], np.cumsum((rs * dts)[::-1])])[::-1]  # sum_{j >= k} r_j dt_j
        cr = np.concatenate([[0.0], np.cumsum(rs[::-1])])[::-1]  # sum_{j >= k} r_j
        k = np.searchsorted(dts, inv, side="right")
        with np.errstate(invalid="ignore"):
            tail = inv * cr[k]
            s = crd[k] - tail - (dts.shape[0] + 8) * 8.0 * U_MACH * (crd[k] + tail)
        best = np.maximum(best, np.where(np.isfinite(s), s, 0.0))
    # (mathematically best <= G(a) / G_hi(a) <= 1; the cap only guards the logarithm)
    best = np.minimum(best, 1.0 - 2.0 ** -20)
    with np.errstate(divide="ignore"):
        lv = np.log1p(-best)
    out = log_g_hi + lv
    return out + 1e-12 * (abs(log_g_hi) + np.abs(lv)) + 1e-300


def sg_deriv_bound(q: float, mu: float, a: float) -> float:
    """log D1 with |d/du G(a + iu)| <= D1 for all u (docs/certified.md §4).

    |dG/du| = |E[l e^{(a+iu) l}]| <= E[|l| e^{a l}]; |l| <= -log(1-q) + q e^v (l <= q (e^v - 1) for
    v >= 0, l >= log(1-q) for v < 0) and e^{a l} <= (1-q)^a sum_j b_j t^j as in sg_decay_bound, so
    D1 <= (1-q)^a sum_j b_j (q/(1-q))^j (-log(1-q) E e^{jv} + q E e^{(j+1)v}), E e^{kv} = e^{k(k-1) mu^2/2}.
    """
    m2 = mu * mu
    l1q = math.log1p(-q)
    lr = math.log(q) - l1q
    j, lb = _coef_arrays(a)
    base = a * l1q + lb + j * lr
    terms = np.concatenate([base + math.log(-l1q) + 0.5 * j * (j - 1.0) * m2,
                            base + math.log(q) + 0.5 * (j + 1.0) * j * m2])
    return float(np.logaddexp.reduce(terms)) + 1e-9


def sg_moment_bound(q: float, mu: float, a: float) -> tuple[float, float]:
    """(m2, M3) with |G(w) - 1 - w (w-1) m2 / 2| <= |w (w-1) (w-2)| M3 / 6 for Re w = a (§4).

    Taylor's formula for (1+u)^w around u = 0 along the real segment (E[u] = 0):
    m2 = E[u^2] = q^2 (e^{mu^2} - 1) and M3 >= E[|u|^3 sup_theta (1 + theta u)^{a-3}].  For a <= 3
    the sup is <= (1-q)^{a-3}; for a > 3 it is <= (1 + q e^v)^{a-3} <= sum_j C(n, j) q^j e^{j v},
    n = ceil(a - 3).  E[|e^v - 1|^3 e^{j v}] <= sqrt(E[(e^v-1)^2 e^{jv}] E[(e^v-1)^4 e^{jv}]) (Cauchy-
    Schwarz), each an alternating sum of E[e^{k v}] = e^{k (k-1) mu^2 / 2} (floats with a rounding
    margin, log space where large).  Returns M3 = inf where n > 20000 (the bound is then not used).
    """
    m2 = q * q * math.expm1(mu * mu)
    m = mu * mu
    if a <= 3.0:
        js = np.array([0.0])
        lc = np.array([0.0])
        lpre = (a - 3.0) * math.log1p(-q)
    else:
        n = int(math.ceil(a - 3.0))
        if n > 20000:
            return m2 * (1.0 + 1e-15), math.inf
        js = np.arange(n + 1, dtype=float)
        lc = gammaln(n + 1.0) - gammaln(js + 1.0) - gammaln(n - js + 1.0) + js * math.log(q)
        lpre = 0.0

    def log_mom(k: int, j: np.ndarray) -> np.ndarray:
        """log of an upper bound on |E[(e^v - 1)^k e^{j v}]| = E_j |sum_i C(k,i) (-1)^(k-i) e^{(i^2 - i + 2ij) m/2}|,
        E_j = e^{j(j-1) m/2}, for an array of j: the sum in floats plus a margin of (64 + 4 max|exponent|)
        u on the sum of |terms| (the sum's rounding, each exp's few ulps, and the exponents' own rounding
        error of a few ulps of their size), or the sum of |terms| itself where the exponents exceed 50
        (no cancellation to resolve)."""
        i = np.arange(k + 1, dtype=float)[None, :]
        ex = (i * i - i + 2.0 * i * j[:, None]) * (m / 2)
        lj = 0.5 * j * (j - 1.0) * m
        comb = np.array([float(math.comb(k, int(ii))) for ii in range(k + 1)])[None, :]
        sign = np.array([(-1.0) ** (k - ii) for ii in range(k + 1)])[None, :]
        big = ex.max(axis=1) > 50.0
        with np.errstate(over="ignore", invalid="ignore"):
            lbig = np.logaddexp.reduce(np.log(comb) + ex, axis=1)
            exs = np.where(big[:, None], 0.0, ex)
            tm = comb * np.exp(exs)
            val = (sign * tm).sum(axis=1)
            mag = tm.sum(axis=1)
            if k == 2:
                # the two-term form without the cancellation of 1 - 2 e^x + e^y at small m
                e1 = np.expm1((2.0 * j + 1.0) * m)
                e2 = np.expm1(j * m)
                val = e1 - 2.0 * e2
                mag = np.abs(e1) + 2.0 * np.abs(e2)
            marg = (64.0 + 4.0 * np.abs(exs).max(axis=1)) * U_MACH * mag
            lsmall = np.log(np.abs(val) + marg + 1e-300)
        return lj + np.where(big, lbig, lsmall)

    lt = lc + 0.5 * (log_mom(2, js) + log_mom(4, js))
    lM3 = 3.0 * math.log(q) + lpre + float(np.logaddexp.reduce(lt))
    M3 = math.exp(lM3) if lM3 < 700.0 else math.inf
    return m2 * (1.0 + 1e-15), M3 * (1.0 + 1e-9)


# ----------------------------------------------------------------------------- groups
def _mu_buckets(items: list, mus: list[float]) -> list[list]:
    """items split into runs of increasing mu whose largest mu is at most MULTI_RATIO times the
    smallest (the cross-segment kernel's panels are as narrow as the smallest mu of its call)."""
    order = sorted(range(len(items)), key=lambda k: mus[k])
    out: list[list] = []
    start = -1.0
    for k in order:
        if not out or mus[k] > MULTI_RATIO * start:
            out.append([])
            start = mus[k]
        out[-1].append(items[k])
    return out


@dataclass(frozen=True)
class _SG:
    q: float
    mu: float
    n: int


def _split(groups: Sequence[tuple[Any, int]]) -> tuple[list[_SG], float]:
    """Subsampled-Gaussian groups and the total mu^2 of the Gaussian ones; NotCertifiable otherwise."""
    sg: list[_SG] = []
    mu2 = 0.0
    for m, n in groups:
        name = getattr(m, "name", type(m).__name__)
        if name not in ("poisson_subsampled_gaussian", "gaussian"):
            raise NotCertifiable(f"no rigorous contour certificate for the mechanism {name!r}")
        q = float(getattr(m, "sampling_probability", 1.0))
        mu = 1.0 / float(m.noise_multiplier)
        if q >= 1.0:
            mu2 += int(n) * mu * mu
        else:
            sg.append(_SG(q, mu, int(n)))
    return sg, mu2


@njit(cache=True)
def _cert_sums(logk: np.ndarray, loge: np.ndarray, c: float, h: float, eps: float):
    """(log S, log E, d log S / d eps): the trapezoidal sum and the bound on its error at eps.

    logk: K~ at the nodes (complex); loge: log of the bound on |e^K - e^K~| at each node.
    """
    m = logk[0].real - c * eps
    s = 0.0
    d = 0.0
    e = 0.0
    a = 0.0
    n = logk.shape[0]
    for k in range(n):
        z = complex(c, k * h)
        zz = z * (z + 1.0)
        v = np.exp(logk[k] - z * eps - m) / zz
        wt = 0.5 if k == 0 else 1.0
        s += wt * v.real
        d -= wt * (v * z).real
        av = abs(v)
        a += wt * av
        # the node's enclosure, and the rounding of exp(K - z eps - m) / (z (z+1)): the exponent's
        # absolute error is <= 4 u (|K| + |z| eps + |m|), the rest a few u
        rnd = 4.0 * U_MACH_NB * (abs(logk[k]) + abs(z) * eps + abs(m) + 16.0)
        e += wt * (math.exp(loge[k] - c * eps - m) / abs(zz) + av * rnd * 1.01)
    e += (n + 4) * U_MACH_NB * a
    scale = h / math.pi
    ls = math.log(s * scale) + m if s > 0.0 else -math.inf
    return ls, math.log(e * scale) + m, (d / s if s > 0.0 else 0.0)


U_MACH_NB = U_MACH


@njit(cache=True)
def _cert_pre(logk: np.ndarray, loge: np.ndarray, c: float, h: float):
    """The parts of _cert_sums that do not depend on eps, for :func:`_cert_sums_at` (docs/certified.md
    section 2, "The sums").  With r0 = Re K~_0 and m = r0 - c eps (_cert_sums' scale), node k's term is
    e^{K~_k - z_k eps - m} / (z_k (z_k + 1)) = B_k e^{-i k h eps}, B_k = e^{K~_k - r0} / (z_k (z_k + 1)):
    only the phase depends on eps.  Returns (B, r0, a, e0, rk, rz) with the weights wt (1/2 at k = 0):
    a = sum wt |B_k|, e0 = sum wt e^{loge_k - r0} / |z_k (z_k + 1)| (the node errors in units of e^m,
    eps-free: loge_k - c eps - m = loge_k - r0), rk = sum wt |B_k| (|K~_k| + 16), rz = sum wt |B_k| |z_k|."""
    n = logk.shape[0]
    r0 = logk[0].real
    B = np.empty(n, dtype=np.complex128)
    a = 0.0
    e0 = 0.0
    rk = 0.0
    rz = 0.0
    for k in range(n):
        z = complex(c, k * h)
        zz = z * (z + 1.0)
        v = np.exp(logk[k] - r0) / zz
        B[k] = v
        wt = 0.5 if k == 0 else 1.0
        av = abs(v)
        a += wt * av
        e0 += wt * math.exp(loge[k] - r0) / abs(zz)
        rk += wt * av * (abs(logk[k]) + 16.0)
        rz += wt * av * abs(z)
    return B, r0, a, e0, rk, rz


@njit(cache=True)
def _cert_sums_at(B: np.ndarray, r0: float, a: float, e0: float, rk: float, rz: float, c: float, h: float,
                  eps: float):
    """_cert_sums from _cert_pre's parts: (log S, log E, d log S / d eps).

    v_k = B_k e^{-i k h eps} (k h exact: h is a power of two on every contour the driver builds, and in
    any case its rounding is inside the budget below).  The computed v_k differs from the exact term
    by a relative error of at most u (|K~_k - r0| + |r0| + |z_k| eps + 12) to first order (the
    subtraction K~_k - r0, the complex exp, the division by z (z+1), the phase k h eps and its cos/sin,
    one complex product), which the budget 4u (|K~_k| + |z_k| eps + |r0| + c eps + 16) |v_k| covers
    (|K~_k - r0| <= |K~_k| + |r0|); it is at least _cert_sums' 4u (|K~_k| + |z_k| eps + |m| + 16) |v_k|
    (|m| <= |r0| + c eps), so E here is never below _cert_sums' E.  The budget is summed from the
    eps-free sums: sum wt |v_k| rnd_k = 4u (rk + eps rz + (|r0| + c eps) a)."""
    n = B.shape[0]
    m = r0 - c * eps
    s = 0.0
    d = 0.0
    for k in range(n):
        ph = -(k * h) * eps
        v = B[k] * complex(math.cos(ph), math.sin(ph))
        wt = 0.5 if k == 0 else 1.0
        s += wt * v.real
        d -= wt * (v * complex(c, k * h)).real
    e = e0 + 4.0 * U_MACH_NB * (rk + eps * rz + (abs(r0) + c * eps) * a) * 1.01
    e += (n + 4) * U_MACH_NB * a
    scale = h / math.pi
    ls = math.log(s * scale) + m if s > 0.0 else -math.inf
    return ls, math.log(e * scale) + m, (d / s if s > 0.0 else 0.0)


#: _cert_pre's parts of the last few contours (the arrays themselves are kept and compared by identity)
_PRE: "OrderedDict[int, tuple]" = OrderedDict()


def _sums(logk: np.ndarray, loge: np.ndarray, c: float, h: float, eps: float) -> tuple[float, float, float]:
    """(log S, log E, d log S / d eps) at eps: _cert_sums_at on the memoised eps-free parts of this
    contour (Newton and the bracket's bisection evaluate the same nodes at ~10-30 values of eps)."""
    key = id(logk)
    ent = _PRE.get(key)
    if ent is None or ent[0] is not logk or ent[1] is not loge or ent[2] != c or ent[3] != h:
        ent = (logk, loge, c, h, _cert_pre(logk, loge, c, h))
        _PRE[key] = ent
        while len(_PRE) > 16:
            _PRE.popitem(last=False)
    B, r0, a, e0, rk, rz = ent[4]
    return _cert_sums_at(B, r0, a, e0, rk, rz, c, h, float(eps))


@njit(cache=True)
def _group_bounds_nb(gh, A, V, byb, nent, lbl, law, m2s, m3s, wwl, wwr, cubr, moments):
    """out[g, k]: min(gh[g], min_e logaddexp(A[g,e], V[g,e] - (lbl[k] if byb[g,e] else law[k])),
    log(max(|1 + m2 wwl/2|, |1 + m2 wwr/2|) (1 + 1e-14) + cubr M3 / 6)) -- CertDirection._log_group_bound
    for every group and cell (entries whose larger term is already >= the best are skipped)."""
    G = gh.shape[0]
    C = lbl.shape[0]
    out = np.empty((G, C))
    for g in range(G):
        for k in range(C):
            best = gh[g]
            for e in range(nent[g]):
                x = A[g, e]
                y = V[g, e] - (lbl[k] if byb[g, e] else law[k])
                mx = max(x, y)
                if not (mx < best):
                    continue
                if x == -np.inf:
                    v = y
                elif x == y:
                    v = x + LOG2_NB
                else:
                    v = mx + math.log1p(math.exp(-abs(x - y)))
                if v < best:
                    best = v
            if moments and m3s[g] < np.inf:
                ql = abs(1.0 + 0.5 * m2s[g] * wwl[k])
                qr = abs(1.0 + 0.5 * m2s[g] * wwr[k])
                mb = max(ql, qr) * (1.0 + 1e-14) + cubr[k] * m3s[g] / 6.0
                v = math.log(mb) if mb > 0.0 else -np.inf
                if v < best:
                    best = v
            out[g, k] = best
    return out


LOG2_NB = math.log(2.0)


def _excess_cells(lb: np.ndarray, last: float, target: float) -> np.ndarray:
    """Indices (sorted) of the truncation cells to probe: none where the cells' bounds lb and the part
    beyond the grid ``last`` already sum (log) to at most target - 0.05; else the fewest largest cells
    whose removal leaves the rest (with ``last``) at most target - 1.  Only which cells are probed
    depends on it: every cell keeps a valid bound."""
    if not (np.logaddexp(np.logaddexp.reduce(lb), last) > target - 0.05):
        return np.empty(0, dtype=np.int64)
    order = np.argsort(-lb, kind="stable")
    with np.errstate(invalid="ignore"):
        rest = np.logaddexp(np.logaddexp.accumulate(lb[order][::-1])[::-1], last)  # rest[j]: cells j.. on
    ok = np.nonzero(rest <= target - 1.0)[0]
    j = int(ok[0]) if ok.size else lb.shape[0]
    return np.sort(order[:max(j, 1)])


def _ladder(c: float, u: np.ndarray, rho: float) -> np.ndarray:
    """log of the factor a node's tolerance is loosened by at height u (quantised path, rho > 0):
    max(1, |c + iu| / (rho c)) rounded down to a power of two, at most NODE_LADDER_CAP; 0 where rho <= 0.
    A function of (c, u) only, so the nodes of step 2h (even nodes of step h) have the same factor."""
    if rho <= 0.0:
        return np.zeros(u.shape)
    x = np.log2(np.maximum(np.abs(c + 1j * u) / (rho * c), 1.0))
    return np.minimum(np.floor(x), math.log2(NODE_LADDER_CAP)) * LOG2_NB


#: the direct form for f-form groups' nodes where its rounding floor is this far below the tolerance
DIRECT_FAR = True
#: ... log of the margin asked of the floor estimate (_enclose_nodes)
DIRECT_MARGIN = math.log(1e3)


def _enclose_nodes(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool, rel: float,
                   cutv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """sg_g_enclose_many at the nodes w, where ``fform``: in the direct form (G itself, not 1 + E f_w)
    at the nodes whose tolerance is loose against the direct form's rounding.

    Both forms enclose the same G(w) (docs/certified.md section 3), so the choice decides only the
    radius and the cost.  The f-form exists for G ~ 1 at tight tolerances (no cancellation); at large
    |Im w| its per-term work (the chained e^{w l}, the series pieces, the sensitivity) costs ~2x the
    direct form's, whose radius is then no larger (q = 1e-4, sigma = 1, w = 9 + iu, u = 2,000-38,000:
    1.9-3.1 against 3.2-5.2 us a node, radii e^-0.3..-0.8 smaller).  The direct form's rounding part is
    about ROUND (8 + 4 (y^2 + mu |w| (|y| + mu))) e^{y^2/2} G(a) (_direct_cannot_win's lower bound, y
    the line height), so a node goes direct where that is e^DIRECT_MARGIN below its tolerance, ``rel``
    = log_tol - log G(a) (nan: none does).  A direct node whose radius still misses its tolerance by
    more than e^2.3 is enclosed again in the f-form, the smaller radius kept.  ``cutv``: the truncated
    G_cut of docs/certified.md section 8 (``sg_g_enclose_cut``, its own choice of form)."""
    if cutv is not None:
        return sg_g_enclose_cut(q, mu, w, log_tol, fform, cutv)
    if not (fform and DIRECT_FAR and rel == rel):
        return sg_g_enclose_many(q, mu, w, log_tol, fform)
    b = np.abs(w.imag)
    ymax = min(0.3 * math.pi / mu, 3.0)
    y = np.where(b * mu > 1.0, np.minimum(0.25 + 0.25 * b * mu, ymax), 0.0)
    floor = (math.log(64.0 * 2.0 ** -53) + np.log(8.0 + 4.0 * (y * y + mu * np.abs(w) * (y + mu)))
             + 0.5 * y * y)
    d = floor + DIRECT_MARGIN <= rel
    if not d.any():
        return sg_g_enclose_many(q, mu, w, log_tol, True)
    lg = np.empty(w.shape[0], dtype=np.complex128)
    lr = np.empty(w.shape[0])
    if (~d).any():
        lg[~d], lr[~d] = sg_g_enclose_many(q, mu, np.ascontiguousarray(w[~d]), log_tol, True)
    lgd, lrd = sg_g_enclose_many(q, mu, np.ascontiguousarray(w[d]), log_tol, False)
    miss = ~(lrd <= log_tol + 2.3)
    if miss.any():
        lgf, lrf = sg_g_enclose_many(q, mu, np.ascontiguousarray(w[d][miss]), log_tol, True)
        better = (lrf < lrd[miss]) | ~(lrd[miss] == lrd[miss])
        idx = np.nonzero(miss)[0][better]
        lgd[idx], lrd[idx] = lgf[better], lrf[better]
    lg[d], lr[d] = lgd, lrd
    return lg, lr


def _group_nodes(g: _SG, direction: str, c: float, h: float, k0: int, k1: int, log_tol: float,
                 fform: bool, slack: float = math.log(10.0), rho: float = 0.0, rel: float = math.nan,
                 cutv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Enclosures (log G~, log r) of one group at nodes k0..k1-1, from the cache where it covers them
    at a tolerance at most e^slack (10x) looser than asked; missing nodes are computed and appended.
    The cache holds at most _NODES_TOTAL nodes in all (least recently used entries dropped first).
    ``rho`` > 0 (the quantised path): node k is asked for the entry's tolerance times
    _ladder(c, k h, rho) (its radius enters the error bound as it is: only the width can change).
    ``rel``: log_tol - log G(a), where known (_enclose_nodes: the direct form at loose tolerances)."""
    ck = () if cutv is None else (float(cutv[0]),)  # the truncated G_cut (section 8): its own entries
    key = (g.q, g.mu, direction, c, h) + ck
    ent = _NODES.get(key)
    old = 0 if ent is None else ent[0].shape[0]
    if ent is None or ent[2] > log_tol + slack or ent[3] != fform:
        ent = [np.empty(0, dtype=np.complex128), np.empty(0), log_tol, fform]
    have = ent[0].shape[0]
    if have < k1:
        ks = np.arange(have, k1)
        lg = np.empty(ks.shape[0], dtype=np.complex128)
        lr = np.empty(ks.shape[0])
        todo = np.ones(ks.shape[0], dtype=bool)
        # the nodes of step 2h are the even nodes of step h (same c, the same tolerance or tighter)
        co = _NODES.get((g.q, g.mu, direction, c, 2.0 * h) + ck)
        if co is not None and co[3] == fform and co[2] <= ent[2] + math.log(10.0):
            sel = (ks % 2 == 0) & (ks // 2 < co[0].shape[0])
            lg[sel] = co[0][ks[sel] // 2]
            lr[sel] = co[1][ks[sel] // 2]
            todo &= ~sel
        if todo.any():
            kt = ks[todo]
            z = c + 1j * h * kt
            w = z + 1.0 if direction == "remove" else -z
            lad = rho(h * kt) if callable(rho) else _ladder(c, h * kt, rho)
            lgt = np.empty(kt.shape[0], dtype=np.complex128)
            lrt = np.empty(kt.shape[0])
            for lv in np.unique(lad):  # one kernel call per tolerance
                s_ = lad == lv
                lgt[s_], lrt[s_] = _enclose_nodes(g.q, g.mu, np.ascontiguousarray(w[s_]), ent[2] + lv, fform,
                                                  rel + (ent[2] - log_tol) + lv, cutv)
            lg[todo], lr[todo] = lgt, lrt
        ent[0] = np.concatenate([ent[0], lg])
        ent[1] = np.concatenate([ent[1], lr])
    _NODES[key] = ent
    _NODES.move_to_end(key)
    _NODES_COUNT[0] += ent[0].shape[0] - old
    while len(_NODES) > 1 and (len(_NODES) > _NODES_MAX or _NODES_COUNT[0] > _NODES_TOTAL):
        _, ev = _NODES.popitem(last=False)
        _NODES_COUNT[0] -= ev[0].shape[0]
    return ent[0][k0:k1], ent[1][k0:k1]


@dataclass
class CertContour:
    c: float
    h: float
    logk: np.ndarray
    loge: np.ndarray
    log_trunc_base: float   # log bound of the nodes beyond the last, without the e^{-c eps} factor
    seconds: float


class CertDirection:
    """Rigorous enclosures for one direction of a composition."""

    def __init__(self, groups: Sequence[tuple[Any, int]], direction: str) -> None:
        self.sg, self.mu2 = _split(groups)
        #: the number of Gaussian groups summed into mu2 (the rounding of mu2, nodes())
        self.n_gauss = sum(1 for m, _ in groups if float(getattr(m, "sampling_probability", 1.0)) >= 1.0)
        self.direction = direction
        #: how much looser than asked a cached node enclosure may be (log); the quantised path widens it
        self.node_slack = math.log(10.0)
        #: the relative node tolerance (the quantised path loosens it to QUANT_NODE_RTOL)
        self.node_rtol = NODE_RTOL
        #: > 0: node tolerances loosened with |z| (_ladder; the quantised path sets QUANT_NODE_LADDER)
        self.node_ladder = 0.0
        #: the truncated measure of docs/certified.md section 8 (CutDirection): per group the kernel's
        #: constants (x_cut, c0, err, c1, err); None for the composition itself
        self.cutv: list[np.ndarray] | None = None
        self._ck: tuple = ()
        #: an upper bound on delta - delta_cut (section 8: 1 - (1 - p)^n); 0 for the composition itself
        self.tail_hi = 0.0

    def _kern(self, i: int, w: np.ndarray, log_tol: float, fform: bool) -> tuple[np.ndarray, np.ndarray]:
        """section 3's kernel for group i, or the truncated one (section 8) on a CutDirection."""
        g = self.sg[i]
        if self.cutv is None:
            return sg_g_enclose_many(g.q, g.mu, w, log_tol, fform)
        return sg_g_enclose_cut(g.q, g.mu, w, log_tol, fform, self.cutv[i])

    # -- the argument of G for a group
    def _w(self, z: np.ndarray) -> np.ndarray:
        return z + 1.0 if self.direction == "remove" else -z

    def _a(self, c: float) -> float:
        return c + 1.0 if self.direction == "remove" else -c

    # -- real values
    def _real_G(self, i: int, a: float) -> tuple[float, float]:
        """(log G~, log r) of group i at real a, |G(a) - G~| <= r."""
        g = self.sg[i]
        key = (g.q, g.mu, a) + self._ck
        want = math.log(1e-13 / max(g.n, 1))
        hit = _REAL.get(key)
        if hit is None or hit[2] > want + math.log(10.0):
            # the float value only sets the tolerance and the form: certified_quant's (a grid sum where
            # |a| mu is large, ~1 ms where the complex kernel took up to ~20 ms; memoised)
            from .certified_quant import _log_gf

            if self.cutv is not None:
                est = _log_g_cut_float(g.q, g.mu, a, float(self.cutv[i][0]))
            else:
                est = _log_gf(g.q, g.mu, a)
                if not math.isfinite(est):
                    est = sg_log_g(g.q, g.mu, complex(a, 0.0)).real
            lg, lr = self._kern(i, np.array([complex(a, 0.0)]), est + want, abs(est) < 1.0)
            hit = (float(lg[0].real), float(lr[0]), want)
            if len(_REAL) > 4096:
                _REAL.clear()
            _REAL[key] = hit
        return hit[0], hit[1]

    def log_G_hi(self, i: int, a: float) -> float:
        """log of a rigorous upper bound on G_i(a) (inf where the enclosure failed)."""
        lg, lr = self._real_G(i, a)
        v = float(np.logaddexp(lg, lr))
        return v if v == v else math.inf

    def K_hi(self, s: float) -> float:
        """A rigorous upper bound on K(s), s > 0 real."""
        a = self._a(s)
        self._prefetch_real(a)
        k = 0.5 * self.mu2 * s * (s + 1.0) * (1.0 + 1e-14)
        for i, g in enumerate(self.sg):
            lg = self.log_G_hi(i, a)
            k += g.n * lg + 1e-14 * abs(g.n * lg)
        return k

    def K_lo(self, s: float) -> float:
        """A rigorous lower bound on K(s), s > 0 real (-inf where an enclosure does not separate G
        from 0): log(G~ - r) per group, with the rounding margins of :meth:`K_hi` turned around."""
        a = self._a(s)
        k = 0.5 * self.mu2 * s * (s + 1.0) * (1.0 - 1e-14)
        for i, g in enumerate(self.sg):
            lg, lr = self._real_G(i, a)
            if not (lg == lg and lr == lr) or not lr < lg:
                return -math.inf
            lo = lg + math.log1p(-math.exp(lr - lg))
            k += g.n * lo - 1e-14 * abs(g.n * lo) - 1e-300
        return k

    def psi_hi(self, s: float) -> float:
        v = self.K_hi(s) + s * math.log(s) - (s + 1.0) * math.log1p(s)
        return v + 1e-13 * (abs(v) + 1.0)

    def chernoff_log_delta_hi(self, eps: float, s_grid: Sequence[float]) -> float:
        best = math.inf
        for s in s_grid:
            try:
                best = min(best, self.psi_hi(float(s)) - float(s) * eps)
            except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
                continue
        return best

    # -- decay of |e^{K(c + iu)}|
    def _decay_table(self, i: int, a: float) -> list[tuple[float, float, bool]]:
        if self.cutv is not None:
            return []  # the integration-by-parts bounds need boundary terms at x_cut (section 8): none
        g = self.sg[i]
        key = (g.q, g.mu, a)
        if key not in _DECAY:
            out = []
            ltv = sg_tv_bound(g.q, g.mu, a)
            if math.isfinite(ltv):
                out.append((-math.inf, ltv, True))  # V / |Im w|
            else:
                out.extend(self._ibp_entry(i, a))
            try:
                got = sg_decay_bounds(g.q, g.mu, a, _X0)
            except (OverflowError, ValueError, ZeroDivisionError):
                got = []
            for lA0, lV in got:
                if math.isfinite(lV):
                    out.append((lA0, lV, False))  # A0 + V / |w|
            if len(_DECAY) > 4096:
                _DECAY.clear()
            _DECAY[key] = out
        return _DECAY[key]

    def _ibp_entry(self, i: int, a: float) -> list[tuple[float, float, bool]]:
        """[(-inf, log V, True)] of :func:`sg_ibp_bound` (|G| <= V / |Im w|), the least over IBP_DELTAS,
        where |a| >= IBP_MIN_A (real enclosures at a and (a + 1)(1 + d)), else []."""
        if not (abs(a) >= IBP_MIN_A):
            return []
        g = self.sg[i]
        lv = math.inf
        for d in IBP_DELTAS:
            try:
                lv = min(lv, sg_ibp_bound(g.q, g.mu, a, self.log_G_hi(i, a),
                                          self.log_G_hi(i, (a + 1.0) * (1.0 + d)), d))
            except (OverflowError, ValueError, ZeroDivisionError):
                continue
        return [(-math.inf, lv, True)] if math.isfinite(lv) else []

    def _prefetch_decay(self, a: float) -> None:
        """_decay_table's entries of every group at a, the split bounds of all groups in one array pass
        (:func:`sg_decay_bounds_many`: the same formulas, one row per group, q per row; those sharing q
        only, before 2026-12: 200 segments of distinct q took 200 passes, ~45 ms)."""
        if len(self.sg) < MULTI_MIN or self.cutv is not None:
            return
        # every group missing its table, whatever its q, in one pass (q one per row: sg_decay_bounds_many)
        idx = [i for i, g in enumerate(self.sg) if (g.q, g.mu, a) not in _DECAY]
        for _ in ((),) if len(idx) >= MULTI_MIN else ():
            try:
                lA0, lV = sg_decay_bounds_many(np.array([self.sg[i].q for i in idx]),
                                               np.array([self.sg[i].mu for i in idx]), a, _X0)
            except (OverflowError, ValueError, ZeroDivisionError):
                continue
            for r, i in enumerate(idx):
                g = self.sg[i]
                out = []
                ltv = sg_tv_bound(g.q, g.mu, a)
                if math.isfinite(ltv):
                    out.append((-math.inf, ltv, True))  # V / |Im w|
                else:
                    out.extend(self._ibp_entry(i, a))
                for x, y in zip(lA0[r], lV[r]):
                    if math.isfinite(y):
                        out.append((float(x), float(y), False))  # A0 + V / |w|
                if len(_DECAY) > 4096:
                    _DECAY.clear()
                _DECAY[(g.q, g.mu, a)] = out

    def _floor(self, i: int, a: float, u: np.ndarray) -> np.ndarray:
        """log of the density-floor bound (:func:`sg_floor_bound`) on |G_i(a + ib)| for every |b| >= |u|
        (|Im w| = |u| in both directions)."""
        g = self.sg[i]
        key = (g.q, g.mu, a) + self._ck
        hit = _FLOOR.get(key)
        if hit is None:
            lgh = self.log_G_hi(i, a)
            xc = math.inf if self.cutv is None else float(self.cutv[i][0])
            try:
                pcs = sg_floor_pieces(g.q, g.mu, a, lgh, xc) if math.isfinite(lgh) else []
            except (OverflowError, ValueError, ZeroDivisionError, FloatingPointError):
                pcs = []
            hit = (lgh, pcs)
            if len(_FLOOR) > 4096:
                _FLOOR.clear()
            _FLOOR[key] = hit
        lgh, pcs = hit
        if not pcs:
            return np.full(np.shape(u), np.inf)
        return sg_floor_bound(pcs, lgh, u)

    def _moment(self, i: int, a: float) -> tuple[float, float]:
        if self.cutv is not None:
            return 0.0, math.inf  # the Taylor bound uses E[u] = 0 and E[1] = 1 (section 8): none
        g = self.sg[i]
        key = (g.q, g.mu, a)
        if key not in _MOMENTS:
            try:
                _MOMENTS[key] = sg_moment_bound(g.q, g.mu, a)
            except (OverflowError, ValueError, ZeroDivisionError):
                _MOMENTS[key] = (0.0, math.inf)
            if len(_MOMENTS) > 4096:
                _MOMENTS.clear()
        return _MOMENTS[key]

    def _log_group_bound(self, i: int, c: float, ul: np.ndarray, ur: np.ndarray) -> np.ndarray:
        """log of a bound on |G_i(w(c + iu))| valid for every u in [ul, ur] (elementwise)."""
        a = self._a(c)
        best = np.full(ul.shape, self.log_G_hi(i, a))
        awl = np.abs(self._w(c + 1j * ul))
        with np.errstate(divide="ignore"):
            lbl = np.log(np.abs(ul))
        for lA0, lV, by_b in self._decay_table(i, a):  # decreasing in u: their values at ul
            best = np.minimum(best, np.logaddexp(lA0, lV - (lbl if by_b else np.log(awl))))
        m2, M3 = self._moment(i, a)
        if math.isfinite(M3):
            # |1 + w(w-1) m2/2|^2 is convex in u^2: its largest value on the cell is at an end;
            # |w (w-1) (w-2)| grows with u: its value at ur
            def quad(u: np.ndarray) -> np.ndarray:
                w = self._w(c + 1j * u)
                return np.abs(1.0 + 0.5 * m2 * w * (w - 1.0))
            wr = self._w(c + 1j * ur)
            mb = np.maximum(quad(ul), quad(ur)) * (1.0 + 1e-14) + np.abs(wr * (wr - 1.0) * (wr - 2.0)) * M3 / 6.0
            with np.errstate(divide="ignore"):
                best = np.minimum(best, np.log(mb))
        if FLOOR_BOUND:
            best = np.minimum(best, self._floor(i, a, ul))  # non-increasing in |u|: its value at ul
        return best

    def _log_group_bounds(self, c: float, ul: np.ndarray, ur: np.ndarray, moments: bool = True,
                          floor: bool = True) -> np.ndarray:
        """:meth:`_log_group_bound` of every group at once, shape (groups, cells): the same bounds (the
        real value, the decay table's entries at ul, the Taylor moment bound unless ``moments`` is
        False) in one compiled pass (:func:`_group_bounds_nb`); a minimum skips an entry only where
        the larger of its two terms is already at least the best bound found (logaddexp >= max).
        ``floor`` False: without the density floor (each bound is valid on its own; the floor only
        lowers it, at ~1 ms a group -- log_trunc asks for it only where the rest misses its target)."""
        a = self._a(c)
        G = len(self.sg)
        tabs = [self._decay_table(i, a) for i in range(G)]
        K = max([len(t) for t in tabs] + [1])
        A = np.full((G, K), -np.inf)
        V = np.full((G, K), np.inf)
        byb = np.zeros((G, K), dtype=bool)
        nent = np.zeros(G, dtype=np.int64)
        gh = np.empty(G)
        m2s = np.zeros(G)
        m3s = np.full(G, np.inf)
        for i, t in enumerate(tabs):
            gh[i] = self.log_G_hi(i, a)
            nent[i] = len(t)
            for e, (lA0, lV, by_b) in enumerate(t):
                A[i, e], V[i, e], byb[i, e] = lA0, lV, by_b
            if moments:
                m2s[i], m3s[i] = self._moment(i, a)
        wl = self._w(c + 1j * ul)
        wr = self._w(c + 1j * ur)
        with np.errstate(divide="ignore"):
            lbl = np.log(np.abs(ul))
            law = np.log(np.abs(wl))
        out = _group_bounds_nb(gh, A, V, byb, nent, lbl, law, m2s, m3s, wl * (wl - 1.0), wr * (wr - 1.0),
                               np.abs(wr * (wr - 1.0) * (wr - 2.0)), moments)
        if FLOOR_BOUND and floor:
            for i in range(G):  # the density floor, non-increasing in |u|: its value at ul
                out[i] = np.minimum(out[i], self._floor(i, a, ul))
        return out

    def log_abs_bound(self, c: float, u: np.ndarray) -> np.ndarray:
        """log of an upper bound on |e^{K(c + iu)}| (at the points u)."""
        u = np.asarray(u, dtype=float)
        out = 0.5 * self.mu2 * (c * c + c - u * u)
        out = out + 1e-14 * np.abs(out)
        for i, g in enumerate(self.sg):
            out = out + g.n * self._log_group_bound(i, c, u, u)
        return out

    def log_trunc(self, c: float, h: float, n_nodes: int, target: float | None = None,
                  deadline: float = math.inf, probe: bool = True) -> float:
        """log of a bound on sum_{k >= n_nodes} h |e^{K(z_k)}| / |z_k (z_k + 1)| (without e^{-c eps}).

        ``target``: where the analytic bounds leave a cell above its share of this level, the cell is
        probed (section 4 of docs/certified.md): |G(w)| <= |G~(w_m)| + r_m + D1 |u - u_m| on the cell,
        with an enclosure at its midpoint u_m and D1 >= |dG/du| (``sg_deriv_bound``).  With a target,
        the density floor (section 4) is added only where the other analytic bounds miss it (the floor
        only lowers a valid bound: at 200 segments it was ~2/3 of the bound's cost where it changed
        nothing); ``probe`` False: no probes (the analytic bound only, a cheap test of a node count).
        """
        if target is not None and self.sg and FLOOR_BOUND:
            v = self._log_trunc(c, h, n_nodes, target, deadline, probe=False, floor=False)
            if v <= target or not probe and math.isinf(v):
                return v
        return self._log_trunc(c, h, n_nodes, target, deadline, probe=probe, floor=True)

    def _log_trunc(self, c: float, h: float, n_nodes: int, target: float | None, deadline: float,
                   probe: bool, floor: bool) -> float:
        """:meth:`log_trunc` with or without the density floor and the probes."""
        u0 = max(n_nodes - 0.5, 0.5) * h
        self._prefetch_real(self._a(c))
        self._prefetch_decay(self._a(c))
        # cells of a geometric ladder anchored at R^k (fixed points: probes are reused across
        # calls), the first cell from u0; on each, a bound valid on the whole cell, times
        # h * (number of nodes in the cell) <= width + h, times 1/|z (z+1)| at the cell's left end
        # (anchored at u = 1, not at h: the probes are also reused when the step changes)
        R = 1.027
        k0 = int(math.floor(math.log(u0) / math.log(R))) + 1
        grid = np.concatenate([[u0], R ** np.arange(k0, k0 + 700, dtype=float)])
        ul, ur = grid[:-1], grid[1:]
        base = 0.5 * self.mu2 * (c * c + c - ul * ul)
        base = base + 1e-14 * np.abs(base)
        base = base - np.log(np.abs((c + 1j * ul) * (c + 1.0 + 1j * ul))) + np.log(ur - ul + h)
        per = (np.array([g.n for g in self.sg], dtype=float)[:, None] * self._log_group_bounds(c, ul, ur, floor=floor)
               if self.sg else [])
        lb = base + (np.sum(per, axis=0) if self.sg else 0.0)
        # beyond the grid: the decreasing bounds only (G_hi, A0 + V/|w|, the Gaussian factor), times
        # sum_{u_k >= u_e} h / u_k^2 <= 1 / (u_e - h)
        ue = grid[-1:]
        le = 0.5 * self.mu2 * (c * c + c - ue * ue)
        if self.sg:
            ns = np.array([g.n for g in self.sg], dtype=float)
            le = le + np.sum(ns[:, None] * self._log_group_bounds(c, ue, ue, moments=False, floor=floor), axis=0)
        last = float(le[0]) - math.log(ue[0] - h)
        if target is not None and self.sg and probe:
            # the cells to probe: the largest bounds, as many as leave the others (and the part beyond
            # the grid) summing below e^-1 of the target (_excess_cells); none once the whole sum is
            # below the target.  (Each cell above its 1/(700 e) share of the target was probed before:
            # at q = 0.01, sigma = 0.6421, T = 10 every cell to u = 2,500 at 16 sub-cells, ~800 probe
            # enclosures, where the sum needed far fewer)
            bad = _excess_cells(lb, last, target)
            # groups with more steps first (their probes lower the cell bounds most), PROBE_CHUNK at a
            # time: a group left unprobed keeps its analytic bound (valid, only looser), so the probing
            # stops as soon as the cells' sum meets the target -- at 200 segments of 10 steps the cells
            # were met 22 nats below the target once all groups were probed: most probes were not needed
            order = sorted(range(len(self.sg)), key=lambda j: -self.sg[j].n)
            for m in (1, 4, 16):
                if bad.size == 0:
                    break
                for j0 in range(0, len(order), PROBE_CHUNK):
                    chunk = order[j0:j0 + PROBE_CHUNK]
                    a_c = self._a(c)
                    for d2 in (0.0, 2.0 ** -3, -2.0 ** -3, 2.0 ** -6, -2.0 ** -6):  # log_d2's points
                        self._prefetch_real(a_c + d2, chunk)
                    self._prefetch_probes2(chunk, c, ul[bad], ur[bad], m, deadline)
                    for i in chunk:
                        g = self.sg[i]
                        pb = self._probe2(i, c, ul[bad], ur[bad], deadline, m)
                        per[i][bad] = np.minimum(per[i][bad], g.n * pb)
                    lb = base + np.sum(per, axis=0)
                    bad = _excess_cells(lb, last, target)
                    if bad.size == 0:
                        break
            if bad.size > 0 and PROBE_D1:
                for i, g in enumerate(self.sg):
                    per[i][bad] = np.minimum(per[i][bad], g.n * self._probe(i, c, ul[bad], ur[bad], deadline))
                lb = base + np.sum(per, axis=0)
        v = float(np.logaddexp(np.logaddexp.reduce(lb), last))
        return v if v == v else math.inf  # NaN: no bound

    def log_d2(self, i: int, a: float) -> float:
        """log of D2 >= E[l^2 e^{a l}] = G''(a) >= |d^2/du^2 G(a + iu)| (docs/certified.md section 4).

        G'' is convex in a (its own second derivative is E[l^4 e^{al}] >= 0), so by Jensen it is at most
        its average against the triangular kernel of half-width d, which is the second difference
        (G(a+d) - 2 G(a) + G(a-d)) / d^2: three rigorous real enclosures (upper, upper, lower) and a
        rounding margin.  The smaller over d = 1/8, 1/64 (powers of two: d^2 exact) is kept."""
        g = self.sg[i]
        key = (g.q, g.mu, a) + self._ck
        hit = _D2.get(key)
        if hit is not None:
            return hit
        best = math.inf

        def lin(x: float, up: bool) -> float:
            lg, lr = self._real_G(i, x)
            if not (lg == lg and lr == lr):
                return math.inf if up else -math.inf
            v = math.exp(lg) + (1.0 if up else -1.0) * math.exp(lr)
            return v * (1.0 + 8.0 * U_MACH) if up else v * (1.0 - 8.0 * U_MACH)

        try:
            g0 = lin(a, False)
            for d in (2.0 ** -3, 2.0 ** -6):
                gp, gm = lin(a + d, True), lin(a - d, True)
                if not (math.isfinite(gp) and math.isfinite(gm) and g0 > 0.0):
                    continue
                num = gp + gm - 2.0 * g0
                num += 8.0 * U_MACH * (gp + gm + 2.0 * g0)
                if num > 0.0:
                    best = min(best, math.log(num) - 2.0 * math.log(d))
        except (OverflowError, ValueError, ZeroDivisionError):
            pass
        if len(_D2) > 4096:
            _D2.clear()
        _D2[key] = best
        return best

    def _enclose_abs(self, i: int, c: float, us: np.ndarray, deadline: float, rtol: float) -> np.ndarray:
        """log(|G~| + r) of group i at w(c + iu) for each u: an upper bound on |G| there (cached)."""
        g = self.sg[i]
        a = self._a(c)
        out = np.empty(us.shape)
        lrt = int(math.floor(math.log2(rtol)))
        todo = []
        for j, u in enumerate(us):
            v = _PROBES2.get((g.q, g.mu, self.direction, c, float(u), lrt) + self._ck)
            if v is None:
                todo.append(j)
            else:
                out[j] = v
        if todo and self.cutv is not None:
            vals = self._cut_abs(i, a, us[todo], lrt, deadline)
            for j, v in zip(todo, vals):
                out[j] = v
                _PROBES2[(g.q, g.mu, self.direction, c, float(us[j]), lrt) + self._ck] = float(v)
            todo = []
        if todo:
            w = self._w(c + 1j * us[todo])
            lg = np.empty(len(todo), dtype=np.complex128)
            lr = np.empty(len(todo))
            ltol = self.log_G_hi(i, a) + lrt * math.log(2.0)
            ff = abs(self._real_G(i, a)[0]) < 1.0
            for j0 in range(0, len(todo), 16):
                if _now() > deadline:
                    raise CertError("certified contour ran out of time (probing the truncation)")
                lg[j0:j0 + 16], lr[j0:j0 + 16] = self._kern(i, np.ascontiguousarray(w[j0:j0 + 16]), ltol, ff)
            with np.errstate(invalid="ignore"):
                vals = np.logaddexp(lg.real, lr) + 1e-12
            vals = np.where(np.isfinite(vals) | (vals == -np.inf), vals, np.inf)
            if len(_PROBES2) > 50000:
                _PROBES2.clear()
            for j, v in zip(todo, vals):
                out[j] = v
                _PROBES2[(g.q, g.mu, self.direction, c, float(us[j]), lrt) + self._ck] = float(v)
        return out

    #: the split of _cut_abs: the lower cut x_1 keeps |Im w| q mu e^{mu x_1 - mu^2/2} at most this
    CUT_FREQ = 200.0

    def _cut_abs(self, i: int, a: float, us: np.ndarray, lrt: int, deadline: float) -> np.ndarray:
        """log of upper bounds on |G_cut(a + iu)| (docs/certified.md section 8): for any x_1 <= x_cut,
        |G_cut(a + iu)| <= |G_{x_1}(a + iu)| + (G_cut(a) - G_{x_1}(a)) (the triangle inequality on
        [x_1, x_cut], where |(1+u)^w| = |1+u|^a on the real line); x_1 on a grid of CUT_DX, the largest
        where |u| q mu e^{mu x_1 - mu^2/2} <= CUT_FREQ (the unshifted line's kernel resolves the oscillation
        there), the difference from the real enclosures' upper and lower ends with a rounding margin."""
        g = self.sg[i]
        xc = float(self.cutv[i][0])
        ltol = self.log_G_hi(i, a) + lrt * math.log(2.0)
        ff = abs(self._real_G(i, a)[0]) < 1.0
        with np.errstate(divide="ignore"):
            x1 = (np.log(self.CUT_FREQ / (np.abs(us) * g.q * g.mu)) + 0.5 * g.mu * g.mu) / g.mu
        x1 = np.minimum(np.floor(x1 / CUT_DX) * CUT_DX, xc)
        out = np.full(us.shape, np.inf)
        lgc, lrc = self._real_G(i, a)
        ghi = (math.exp(lgc) + math.exp(lrc)) * (1.0 + 4.0 * U_MACH)
        for xv in np.unique(x1):
            sel = np.nonzero(x1 == xv)[0]
            if not (xv > -30.0):
                continue  # (no useful split: left at inf, the cell keeps its other bounds)
            cv = self.cutv[i] if xv == xc else _cut_consts(g.q, g.mu, float(xv))
            extra = 0.0
            if xv < xc:
                lg1, lr1 = sg_g_enclose_cut(g.q, g.mu, np.array([complex(a, 0.0)]), ltol, ff, cv)
                lo1 = (math.exp(lg1[0].real) - math.exp(lr1[0])) * (1.0 - 4.0 * U_MACH)
                if not (lo1 == lo1):
                    continue
                extra = max(0.0, ghi - lo1) + 4.0 * U_MACH * (ghi + abs(lo1))
            w = np.ascontiguousarray(self._w(a - 1.0 + 1j * us[sel]) if self.direction == "remove"
                                     else self._w(-a + 1j * us[sel]))
            for j0 in range(0, sel.shape[0], 16):
                if _now() > deadline:
                    raise CertError("certified contour ran out of time (probing the truncation)")
                lg, lr = sg_g_enclose_cut(g.q, g.mu, np.ascontiguousarray(w[j0:j0 + 16]), ltol, ff, cv)
                with np.errstate(invalid="ignore", divide="ignore"):
                    v = np.log(np.exp(lg.real) + np.exp(lr) + extra) + 1e-12
                out[sel[j0:j0 + 16]] = np.where(np.isfinite(v) | (v == -np.inf), v, np.inf)
        return out

    def _prefetch_probes2(self, which: Sequence[int], c: float, ul: np.ndarray, ur: np.ndarray, m: int,
                          deadline: float) -> None:
        """_enclose_abs's cache entries for the probes _probe2 will ask of the groups ``which`` (the
        same points, tolerances and forms), by one cross-segment kernel call per bucket; entries it
        misses are left to _enclose_abs (the one-segment kernel)."""
        if len(self.sg) < MULTI_MIN or len(which) < MULTI_MIN or self.cutv is not None:
            return
        a = self._a(c)
        fr = np.arange(m + 1) / m
        ends = ul[:, None] + (ur - ul)[:, None] * fr[None, :]
        ends[:, 0], ends[:, -1] = ul, ur
        pts = np.unique(ends.ravel())
        buckets: dict[tuple, list] = {}
        for i in which:
            g = self.sg[i]
            if g.mu > MULTI_MU_MAX or not math.isfinite(self.log_d2(i, a)):
                continue  # _probe2 asks nothing of this group
            lrt = int(math.floor(math.log2(min(1e-4, 1e-2 / max(g.n, 1)))))
            miss = np.array([_PROBES2.get((g.q, g.mu, self.direction, c, float(u), lrt)) is None for u in pts])
            if not miss.any():
                continue
            ltol = self.log_G_hi(i, a) + lrt * math.log(2.0)
            ff = abs(self._real_G(i, a)[0]) < 1.0
            buckets.setdefault((g.q, ff), []).append((i, ltol, lrt, miss))
        for q, ff, items in self._buckets(buckets):
            if _now() > deadline:
                raise CertError("certified contour ran out of time (probing the truncation)")
            need = np.zeros(pts.shape, dtype=bool)
            for it in items:
                need |= it[3]
            us = pts[need]
            w = np.ascontiguousarray(self._w(c + 1j * us))
            lgm, lrm = sg_g_enclose_multi(q, np.array([self.sg[it[0]].mu for it in items]), w,
                                          np.array([it[1] for it in items]), ff)
            if len(_PROBES2) > 50000:
                _PROBES2.clear()
            for r, (i, ltol, lrt, miss) in enumerate(items):
                g = self.sg[i]
                with np.errstate(invalid="ignore"):
                    vals = np.logaddexp(lgm[r].real, lrm[r]) + 1e-12
                vals = np.where(np.isfinite(vals) | (vals == -np.inf), vals, np.inf)
                for j, u in enumerate(us):
                    if lrm[r, j] <= ltol + 2.3:
                        _PROBES2[(g.q, g.mu, self.direction, c, float(u), lrt)] = float(vals[j])

    def _probe2(self, i: int, c: float, ul: np.ndarray, ur: np.ndarray, deadline: float = math.inf,
                m: int = 1) -> np.ndarray:
        """log of max(|G~| + r at u_l, at u_r) + D2 (u_r - u_l)^2 / 8 on each cell [u_l, u_r]: a bound on
        |G_i| there (docs/certified.md section 4: the linear interpolant of the two end values is at
        most their larger modulus, and it is off by at most D2 (u - u_l)(u_r - u) / 2, Peano's kernel
        with |d^2 G / du^2| <= D2)."""
        g = self.sg[i]
        if g.mu > 4.0:
            return np.full(ul.shape, np.inf)
        a = self._a(c)
        ld2 = self.log_d2(i, a)
        if not math.isfinite(ld2):
            return np.full(ul.shape, np.inf)
        # the enclosures' tolerance: a small fraction of the per-step decay the bound must resolve
        rtol = min(1e-4, 1e-2 / max(g.n, 1))
        # m sub-cells per cell (the largest of their bounds); the sub-cell ends are fixed fractions of
        # the ladder's cells, so repeated calls reuse the cached enclosures
        fr = np.arange(m + 1) / m
        ends = ul[:, None] + (ur - ul)[:, None] * fr[None, :]
        ends[:, 0], ends[:, -1] = ul, ur
        pts = np.unique(ends.ravel())
        vals = self._enclose_abs(i, c, pts, deadline, rtol)
        ve = vals[np.searchsorted(pts, ends)]
        with np.errstate(divide="ignore"):
            slack = ld2 + 2.0 * np.log(np.diff(ends, axis=1)) - math.log(8.0)
        sub = np.logaddexp(np.maximum(ve[:, :-1], ve[:, 1:]), slack)
        return np.max(sub, axis=1) + 1e-12

    def _probe(self, i: int, c: float, ul: np.ndarray, ur: np.ndarray, deadline: float = math.inf) -> np.ndarray:
        """log of |G~(w_m)| + r_m + D1 (ur - ul)/2 on each cell (u_m its midpoint): a bound on |G_i| there."""
        g = self.sg[i]
        if g.mu > 4.0 or self.cutv is not None:
            # (the truncated measure of section 8: not used there)
            # sigma < 0.25: one enclosure at large |Im w| costs ~1 s of CPU there, and the probes do not
            # bring the truncation down in any case measured (sigma = 0.05): no probe
            return np.full(ul.shape, np.inf)
        a = self._a(c)
        key = (g.q, g.mu, a)
        if key not in _DERIV:
            try:
                _DERIV[key] = sg_deriv_bound(g.q, g.mu, a)
            except (OverflowError, ValueError, ZeroDivisionError):
                _DERIV[key] = math.inf  # no derivative bound: the probes bound nothing
        ld1 = _DERIV[key]
        um = 0.5 * (ul + ur)
        out = np.empty(um.shape)
        todo = []
        for j, u in enumerate(um):
            pk = (g.q, g.mu, self.direction, c, float(u))
            if pk in _PROBES:
                out[j] = _PROBES[pk]
            else:
                todo.append(j)
        if todo:
            w = self._w(c + 1j * um[todo])
            lg = np.empty(len(todo), dtype=np.complex128)
            lr = np.empty(len(todo))
            ch = 16 if g.mu <= 4.0 else 1  # chunks (the deadline is checked between them): at small
            for j0 in range(0, len(todo), ch):  # sigma one enclosure at large |Im w| takes ~0.3 s
                if _now() > deadline:
                    raise CertError("certified contour ran out of time (probing the truncation)")
                lg[j0:j0 + ch], lr[j0:j0 + ch] = sg_g_enclose_many(
                    g.q, g.mu, np.ascontiguousarray(w[j0:j0 + ch]), self.log_G_hi(i, a) + math.log(1e-4),
                    abs(self._real_G(i, a)[0]) < 1.0)
            with np.errstate(invalid="ignore"):
                vals = np.logaddexp(lg.real, lr)
            vals = np.where(np.isfinite(vals) | (vals == -np.inf), vals, np.inf)
            for j, v in zip(todo, vals):
                out[j] = v
                if len(_PROBES) > 20000:
                    _PROBES.clear()
                _PROBES[(g.q, g.mu, self.direction, c, float(um[j]))] = float(v)
        with np.errstate(divide="ignore"):
            return np.logaddexp(out, ld1 + np.log(0.5 * (ur - ul)))

    # -- nodes
    def nodes(self, c: float, h: float, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """(K~, log |e^K - e^K~| bound) at z_k = c + i k h, k0 <= k < k1."""
        z = c + 1j * h * np.arange(k0, k1)
        w = self._w(z)
        a = self._a(c)
        K = 0.5 * self.mu2 * z * (z + 1.0)
        # Gaussian part: exact formula, its rounding in the exponent <= (16 + groups) u |mu2 z (z+1)/2|
        # (mu2 = sum n fl(1/sigma)^2 within (4 + groups) u of the true sum, first order; then the
        # complex product z (z+1) within sqrt(5) u, z + 1 and the real factors within 1 u each)
        lrel = (16.0 + self.n_gauss) * U_MACH * np.abs(K)
        # |e^K~| = e^{Re K~_gauss} prod |G~|^n: the Gaussian factor starts both sums (it was left out
        # before 2026-12: the node errors were taken e^{-Re K_gauss} too small wherever Re K_gauss > 0,
        # i.e. u^2 < c^2 + c -- docs/certified.md section 3, "The node value")
        big = K.real.copy()          # Re K~_gauss + sum n log(|G~| + r)
        small = K.real.copy()        # Re K~_gauss + sum n log |G~|
        zero = np.zeros(z.shape, dtype=bool)
        ng = max(len(self.sg), 1)
        if len(self.sg) >= MULTI_MIN and self.cutv is None:
            self._prefetch_real(a)
            self._multi_nodes(c, h, k1, a, ng)
        for i, g in enumerate(self.sg):
            lga = self.log_G_hi(i, a)
            fform = abs(self._real_G(i, a)[0]) < 1.0
            # the tolerance depends on the count only through the power of two at or above n x groups
            # (at least 8), so that sum_g n_g r_g / G_g <= node_rtol: a history that grows reuses the
            # cached enclosures (the cache accepts entries up to 10x looser, 100x on the quantised
            # path).  (It was the decade: up to 10x tighter than needed, 1e-14 relative at 200
            # segments of 10 steps, where 2^11 gives 5e-12: ~12 % fewer Gauss-Legendre points.)
            nb = 2.0 ** max(3, math.ceil(math.log2(max(g.n * ng, 1))))
            log_tol = lga + math.log(self.node_rtol / nb)
            lg, lr = _group_nodes(g, self.direction, c, h, k0, k1, log_tol, fform, self.node_slack,
                                  self.node_ladder, rel=log_tol - lga,
                                  cutv=None if self.cutv is None else self.cutv[i])
            zero |= ~np.isfinite(lg.real)
            lg = np.where(np.isfinite(lg), lg, complex(-1e4, 0.0))  # G~ = 0: the node value is 0
            K = K + g.n * lg
            lrel = lrel + 4.0 * U_MACH * g.n * np.abs(lg)  # rounding of n log G
            small = small + g.n * lg.real
            big = big + g.n * np.logaddexp(lg.real, lr)
            zero |= ~np.isfinite(lg.real)
        # |e^K - e^K~| <= prod (|G~| + r)^n - prod |G~|^n, plus the rounding of K~ (relative lrel)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            d = np.where(zero, 0.0, big - small)
            loge = np.where(zero, big, small + np.log(np.expm1(d + lrel) + 1e-300))
            loge = np.maximum(loge, small + np.log(np.expm1(lrel) + 1e-300))
        return K, loge

    def _node_tol(self, i: int, a: float, ng: int) -> float:
        g = self.sg[i]
        nb = 2.0 ** max(3, math.ceil(math.log2(max(g.n * ng, 1))))
        return self.log_G_hi(i, a) + math.log(self.node_rtol / nb)

    def _buckets(self, buckets: dict[tuple, list]):
        """(q, fform, items) for every run of at least MULTI_MIN items (first entry: the group index)
        sharing q and the form, with mu within a factor MULTI_RATIO (:func:`_mu_buckets`)."""
        for (q, fform), its in buckets.items():
            for items in _mu_buckets(its, [self.sg[it[0]].mu for it in its]):
                if len(items) >= MULTI_MIN:
                    # at most MULTI_MAX_SEG groups a call (its work arrays: ~200 KB a group), in
                    # near-equal parts
                    parts = -(-len(items) // MULTI_MAX_SEG)
                    step = -(-len(items) // parts)
                    for j in range(0, len(items), step):
                        yield q, fform, items[j:j + step]

    def _multi_nodes(self, c: float, h: float, k1: int, a: float, ng: int) -> None:
        """Fill the node cache (_group_nodes' entries) of the groups that share q, the form and a
        mu-bucket (mu within a factor MULTI_RATIO) with one cross-segment kernel call per bucket
        (:func:`sg_g_enclose_multi`, docs/certified.md section 3c): the same (log G~, log r) contract,
        |G(w) - G~| <= r, at the same tolerance the one-segment path would ask.  Entries the shared
        kernel misses by more than e^2.3 (or fails) are recomputed by the one-segment kernel."""
        buckets: dict[tuple, list] = {}
        for i, g in enumerate(self.sg):
            if g.mu > MULTI_MU_MAX:
                continue
            log_tol = self._node_tol(i, a, ng)
            fform = abs(self._real_G(i, a)[0]) < 1.0
            key = (g.q, g.mu, self.direction, c, h)
            ent = _NODES.get(key)
            have = 0
            if ent is not None and not (ent[2] > log_tol + self.node_slack or ent[3] != fform):
                have = ent[0].shape[0]
                log_tol = ent[2]  # as _group_nodes: appended nodes at the entry's tolerance
            if have >= k1:
                continue
            buckets.setdefault((g.q, fform), []).append((i, log_tol, have))
        for q, fform, items in self._buckets(buckets):
            kmin = min(it[2] for it in items)
            ks = np.arange(kmin, k1)
            z = c + 1j * h * ks
            w = np.ascontiguousarray(self._w(z))
            mus = np.array([self.sg[i].mu for i, _, _ in items])
            ltol = np.array([lt for _, lt, _ in items])
            lgm, lrm = sg_g_enclose_multi(q, mus, w, ltol, fform)
            for r, (i, log_tol, have) in enumerate(items):
                g = self.sg[i]
                lg = lgm[r, have - kmin:].copy()
                lr = lrm[r, have - kmin:].copy()
                bad = ~(lr <= log_tol + 2.3)
                if bad.any():
                    wb = np.ascontiguousarray(w[have - kmin:][bad])
                    lg[bad], lr[bad] = sg_g_enclose_many(g.q, g.mu, wb, log_tol, fform)
                key = (g.q, g.mu, self.direction, c, h)
                ent = _NODES.get(key)
                if have == 0 or ent is None:
                    old = 0 if ent is None else ent[0].shape[0]
                    ent = [lg, lr, log_tol, fform]
                else:
                    old = ent[0].shape[0]
                    ent = [np.concatenate([ent[0], lg]), np.concatenate([ent[1], lr]), ent[2], fform]
                _NODES[key] = ent
                _NODES.move_to_end(key)
                _NODES_COUNT[0] += ent[0].shape[0] - old

    def _prefetch_real(self, a: float, which: Sequence[int] | None = None) -> None:
        """The real enclosures of the groups ``which`` (all by default) at a (_real_G's cache entries,
        same tolerance) by one cross-segment kernel call per bucket; entries it misses are left to
        _real_G."""
        if len(self.sg) < MULTI_MIN or self.cutv is not None:
            return
        buckets: dict[tuple, list] = {}
        for i in (range(len(self.sg)) if which is None else which):
            g = self.sg[i]
            if g.mu > MULTI_MU_MAX:
                continue
            want = math.log(1e-13 / max(g.n, 1))
            hit = _REAL.get((g.q, g.mu, a))
            if hit is not None and not hit[2] > want + math.log(10.0):
                continue
            # a guide for the tolerance and the form (not part of any bound): the second-order
            # expansion log G(a) ~ a (a-1) E[u^2] / 2 (the float quadrature sg_log_g cost ~20 us a
            # group); an entry is kept only where its radius meets the tolerance relative to the
            # enclosure found and the form agrees with it (else _real_G computes it as before)
            m2 = g.q * g.q * math.expm1(min(g.mu * g.mu, 700.0))
            est = math.log1p(min(0.5 * a * (a - 1.0) * m2, 1e300))
            buckets.setdefault((g.q, abs(est) < 1.0), []).append((i, est, want))
        for q, fform, items in self._buckets(buckets):
            mus = np.array([self.sg[i].mu for i, _, _ in items])
            ltol = np.array([e + wt for _, e, wt in items])
            lgm, lrm = sg_g_enclose_multi(q, mus, np.array([complex(a, 0.0)]), ltol, fform)
            for r, (i, est, want) in enumerate(items):
                lg0 = float(lgm[r, 0].real)
                if not (lrm[r, 0] <= lg0 + want + 2.3 and (abs(lg0) < 1.0) == fform):
                    continue
                g = self.sg[i]
                if len(_REAL) > 4096:
                    _REAL.clear()
                _REAL[(g.q, g.mu, a)] = (float(lgm[r, 0].real), float(lrm[r, 0]), want)

    def contour(self, c: float, h: float, n_min: int, eps_ref: float, log_delta_ref: float,
                deadline: float) -> CertContour:
        """Nodes from k = 0 until the truncation bound at eps_ref is below TARGET_RTOL * delta / 100."""
        t0 = time.perf_counter()
        target = log_delta_ref + math.log(TARGET_RTOL * 1e-2) + c * eps_ref + math.log(math.pi)
        # the smallest node count whose truncation bound meets the target (bisection on the bound,
        # which is non-increasing in the count), then the nodes in one pass
        n = max(int(n_min), 16)
        if self.log_trunc(c, h, n, target, deadline) > target:
            lo_n, hi_n = n, n
            while self.log_trunc(c, h, hi_n, target, deadline) > target:
                if hi_n >= MAX_NODES:
                    raise CertError(f"certified contour: truncation bound not met within {MAX_NODES} nodes")
                if _now() > deadline:
                    raise CertError("certified contour ran out of time (node count)")
                lo_n, hi_n = hi_n, min(2 * hi_n, MAX_NODES)
            while hi_n - lo_n > max(4, lo_n // 50):
                mid = (lo_n + hi_n) // 2
                if self.log_trunc(c, h, mid, target, deadline) > target:
                    lo_n = mid
                else:
                    hi_n = mid
            n = hi_n
        lt = self.log_trunc(c, h, n, target, deadline)
        K = np.empty(n, dtype=np.complex128)
        E = np.empty(n)
        for k0 in range(0, n, 128):  # chunks: the deadline is checked between them
            if _now() > deadline:
                raise CertError("certified contour ran out of time")
            k1 = min(n, k0 + 128)
            K[k0:k1], E[k0:k1] = self.nodes(c, h, k0, k1)
        return CertContour(c, h, K, E, lt, time.perf_counter() - t0)


# ----------------------------------------------------------------------------- the truncated measure
#: section 8 of docs/certified.md: tiny q, huge T.  The cut x_cut is the smallest (on a grid of CUT_DX)
#: with n P(X > x_cut) <= CUT_TAIL delta (floats choose it; the bound added is the Arb one)
#: the one-large-step enclosure of section 9 (certified_onejump), tried first for one tiny-q group, with at most
#: ONEJUMP_SHARE of the budget
ONEJUMP_PATH = True
ONEJUMP_SHARE = 0.5
#: ... and answers where it is within this relative width (issue 9 asks 1e-4; the contours it runs before cancel
#: e^20 and more where it applies, so they do not narrow it: sigma 0.5182, q 2.4e-7, T 8036564, delta 3.92e-12,
#: 5.9e-5 wide after 0.13 s, then the same bracket after 1.2 s)
ONEJUMP_SETTLE = 9e-5
CUT_PATH = True
CUT_TAIL = 1e-5
CUT_DX = 0.25
#: the conditioned contour is tried only where its float cancellation (log of the integrand at u = 0 over
#: delta) is at least this much below the composition's own at its best abscissa
CUT_GAIN = 2.0
CUT_MAX_GROUPS = 3
CUT_LAM_SLACK = 0.7
CUT_WALL_RATIO = 4.0
#: ... and only where the composition's own contour cancels at least e^CUT_LAM_MIN (below that its brackets
#: met 1e-5 on the sweeps)
CUT_LAM_MIN = 15.0
#: ... and not where the conditioned sum itself still cancels more than e^CUT_LAM_MAX (its node errors then
#: miss the width within the budget: sigma 0.54, q 1.2e-7, T 6.3e7, delta 1.5e-12, e^17.4: 1.4e-4 after ~1 s)
CUT_LAM_MAX = 16.0
#: _cut_candidate's filter: the regime where single large steps carry delta and the wall holds c down
CUT_Q_MAX = 1e-4
#: ... at least this many expected participations (sum q n).  Session 17 (H-SL): 0 (was 1.0).  With q T << 1 the
#: wall holds c down just the same where delta is carried by the near-Gaussian sum of the T small losses rather than
#: by a participation (eps ~ 25 q: sigma 2.143, q 2.08e-6, T 212, delta 1.7e-9 -- REMOVE's saddle c ~ 2.2e5 lies far
#: beyond its wall ~ 120, the quantised contour failed its truncation and the proven fallback plus the rounded /
#: conditioned brackets gave [5.4e-6, 0.12] after 7.8 s; the conditioned contour answers [5.3178761e-5, 5.3178852e-5]
#: in ~0.05 s, checked against an independent mpmath evaluation).  The floats of _cut_plan still decide (CUT_GAIN,
#: CUT_LAM_MIN, CUT_LAM_MAX); the bound (delta_cut <= delta <= delta_cut + tail_hi) holds at any q T
CUT_QT_MIN = 0.0
#: _cut_plan's abscissae: 2^(j/4), j = 0 .. CUT_C_J.  Session 17 (H-SL): 80 (was 60, i.e. c <= 32768).  Where delta is
#: carried by the sum of the small losses the saddle of the conditioned sum lies at c ~ 1e5-6e5 (eps ~ 1e-5, the sum's
#: standard deviation ~ 5e-6); at the grid's old top the sum cancelled beyond its node errors: sigma 2.507, q 1.16e-6,
#: T 286, delta 1.52e-9 -- 3.5e-7 wide, then 5.8 s in the rounded / conditioned loss brackets (declined); now 1.3e-11
#: wide in 0.03 s (sigma 2.643, q 1e-6, T 139, delta 2.77e-9: [0, 3.7e-3] -> 1.1e-11 wide)
CUT_C_J = 80
#: the step: the longest whose float positive-alias bound is below this fraction of delta (it moves the lower
#: end by about that over |d log delta / d eps|)
CUT_ALIAS = 1e-7
#: the conditioned path's share of the budget (the other paths keep the rest)
CUT_SHARE = 0.5
_CUT_F: dict[tuple, float] = {}


def _k_cut_many(sg: Sequence[_SG], a: np.ndarray, x_cut: float) -> np.ndarray:
    """sum n log E[(1 + u(X))^a; X <= x_cut] at every a > 0 in floats (a Riemann sum on 2,001 points in x,
    all a at once; estimates only: _cut_plan's choice of c and its test against the full measure)."""
    out = np.zeros(a.shape)
    for g in sg:
        hi = min(x_cut, max(40.0, float(np.max(a)) * g.mu + 40.0))
        xs = np.linspace(-40.0, hi, 2001)
        with np.errstate(over="ignore", invalid="ignore"):
            f = -0.5 * xs[None, :] * xs[None, :] + a[:, None] * np.log1p(g.q * np.expm1(g.mu * xs - 0.5 * g.mu * g.mu))[None, :]
        m = np.nanmax(f, axis=1)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            v = m + np.log(np.nansum(np.exp(f - m[:, None]), axis=1) * (xs[1] - xs[0])) - 0.5 * math.log(2.0 * math.pi)
        out = out + g.n * v
    return np.where(np.isfinite(out), out, np.inf)


def _log_g_cut_float(q: float, mu: float, a: float, x_cut: float) -> float:
    """log E[(1 + u(X))^a; X <= x_cut] in floats (a Riemann sum on a grid in x; estimates only: the
    tolerance and form of the real enclosures, the choice of x_cut, c, h and N)."""
    key = (q, mu, a, x_cut)
    v = _CUT_F.get(key)
    if v is None:
        hi = min(x_cut, max(40.0, a * mu + 40.0) if a > 0.0 else 40.0)
        lo = -40.0 if a >= 0.0 else min(-40.0, -math.sqrt(max(2.0 * (a * math.log1p(-q) + 80.0), 0.0)))
        xs = np.linspace(lo, hi, 16001)
        with np.errstate(over="ignore", invalid="ignore"):
            f = -0.5 * xs * xs + a * np.log1p(q * np.expm1(mu * xs - 0.5 * mu * mu))
        m = float(np.nanmax(f))
        v = m + math.log(float(np.nansum(np.exp(f - m))) * (xs[1] - xs[0])) - 0.5 * math.log(2.0 * math.pi)
        if len(_CUT_F) > 20000:
            _CUT_F.clear()
        _CUT_F[key] = v
    return v


def _cut_eps_float(sg: Sequence[_SG], delta: float) -> float:
    """A float guide to eps(delta) where single large steps carry delta (docs/certified.md section 8; only
    where the conditioned contour starts: Newton on its certified sum follows): delta ~ delta_1 + delta_G,
    delta_1(eps) = sum n E[(1 - e^{eps - l(X)})_+] (one step's loss alone, X ~ P_1), delta_G the Gaussian
    mechanism's delta at mu_G^2 = sum n q^2 (e^{mu^2} - 1) (the rest as a Gaussian); bisection in log eps."""
    xs = np.linspace(-12.0, 40.0, 4001)
    dx = xs[1] - xs[0]
    terms = []
    mg2 = 0.0
    for g in sg:
        with np.errstate(over="ignore", invalid="ignore"):
            l = np.log1p(g.q * np.expm1(g.mu * xs - 0.5 * g.mu * g.mu))
            w = np.exp(-0.5 * xs * xs - 0.5 * math.log(2.0 * math.pi) + l) * dx  # P_1's density
        terms.append((g.n, l, w))
        mg2 += g.n * g.q * g.q * math.expm1(min(g.mu * g.mu, 700.0))
    mg = math.sqrt(mg2)

    def dl(e: float) -> float:
        d1 = 0.0
        for n, l, w in terms:
            with np.errstate(over="ignore", invalid="ignore"):
                d1 += n * float(np.nansum(w * np.maximum(-np.expm1(e - l), 0.0)))
        dg = float(ndtr(-e / mg + 0.5 * mg) - math.exp(e) * ndtr(-e / mg - 0.5 * mg)) if mg > 0.0 else 0.0
        return math.log(max(d1 + max(dg, 0.0), 1e-320))

    lt = math.log(delta)
    lo, hi = math.log(1e-8), math.log(1e3)
    if not (dl(math.exp(lo)) > lt):
        return math.nan
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if dl(math.exp(mid)) > lt:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def _arb_phibar(x: float):
    from flint import arb

    return (arb(x) / arb(2).sqrt()).erfc() / 2


_CUT_CONSTS: dict[tuple, np.ndarray] = {}


def _cut_consts(q: float, mu: float, x_cut: float) -> np.ndarray:
    """``sg_g_enclose_cut``'s constants (x_cut, c0, err, c1, err): c0 = P(X > x_cut), c1 = q (P(X > x_cut -
    mu) - P(X > x_cut)) in Arb at 256 bits, each error the ball's radius plus the rounding to a double."""
    from flint import arb, ctx

    key = (q, mu, x_cut)
    hit = _CUT_CONSTS.get(key)
    if hit is not None:
        return hit
    old = ctx.prec
    ctx.prec = 256
    try:
        c0 = _arb_phibar(x_cut)
        pm = ((arb(x_cut) - arb(mu)) / arb(2).sqrt()).erfc() / 2
        c1 = arb(q) * (pm - c0)
        row = [x_cut]
        for b in (c0, c1):
            mid = float(b.mid())
            row += [mid, float(b.rad()) * (1.0 + 1e-15) + abs(mid) * 2.0 ** -52 + 1e-320]
    finally:
        ctx.prec = old
    if len(_CUT_CONSTS) > 4096:
        _CUT_CONSTS.clear()
    _CUT_CONSTS[key] = np.array(row)
    return _CUT_CONSTS[key]


def cut_direction(groups: Sequence[tuple[Any, int]], x_cut: float) -> CertDirection:
    """The REMOVE direction of the composition restricted to {every step's X <= x_cut} (docs/certified.md
    section 8): node, real and probe enclosures of G_cut (``sg_g_enclose_cut``), the decay bounds that hold
    for the sub-measure, the k < 0 aliases with the masses (1 - p)^n and Phi(x_cut)^n, and
    ``tail_hi`` >= 1 - (1 - p)^n >= delta - delta_cut added to every upper bound (``delta_bounds``).
    All in Arb at 256 bits, the balls rounded outward to doubles."""
    from flint import arb, ctx

    cd = CertDirection(groups, "remove")
    if cd.mu2 != 0.0 or not cd.sg:
        raise NotCertifiable("the truncated measure is built for subsampled-Gaussian compositions only")
    old = ctx.prec
    ctx.prec = 256
    try:
        c0 = _arb_phibar(x_cut)
        logm = arb(0)
        loga = arb(0)
        cutv = []
        for g in cd.sg:
            qa, ma = arb(g.q), arb(g.mu)
            cm = arb(x_cut) - ma  # (x_cut - mu in Arb, no rounding)
            pm = (cm / arb(2).sqrt()).erfc() / 2          # P(X > x_cut - mu)
            c1 = qa * (pm - c0)
            p = (1 - qa) * c0 + qa * pm                    # P_1(X > x_cut), P_1 = (1-q) N(0,1) + q N(mu,1)
            logm += arb(g.n) * (1 - p).log()
            loga += arb(g.n) * (1 - c0).log()
            cutv.append(_cut_consts(g.q, g.mu, x_cut))
        mass = logm.exp()
        amass = loga.exp()
        tail = 1 - mass

        def ends(b) -> tuple[float, float]:
            mid, rad = float(b.mid()), float(b.rad())
            return ((mid - rad) * (1.0 - 4.0 * U_MACH) - 1e-320, (mid + rad) * (1.0 + 4.0 * U_MACH) + 1e-320)
    finally:
        ctx.prec = old
    cd.cutv = cutv
    cd._ck = (float(x_cut),)
    cd.masses = (ends(mass), ends(amass))
    cd.tail_hi = max(0.0, ends(tail)[1])
    cd.x_cut = float(x_cut)
    return cd


def _log_expm1(x: float) -> float:
    """log(e^x - 1) for x > 0, without overflow."""
    return x + math.log1p(-math.exp(-x)) if x > 1.0 else math.log(math.expm1(x))


def delta_bounds(cd: CertDirection, ct: CertContour, eps: float, alias_s: Sequence[float]) -> tuple[float, float, float]:
    """(lower, upper, d log S / d eps) of delta(eps) in one direction from a certified contour."""
    ls, le, dls = _sums(ct.logk, ct.loge, ct.c, ct.h, float(eps))
    lt = ct.log_trunc_base - ct.c * eps - math.log(math.pi)
    lerr = float(np.logaddexp(le, lt))
    P = 2.0 * math.pi / ct.h
    # aliases: k < 0 sum to <= 1/(e^{cP} - 1); k > 0 to <= exp(psi(s) - s eps) / (e^{(s-c)P} - 1)
    la = -_log_expm1(ct.c * P) if ct.c * P > 1e-300 else math.inf
    # where the loss is bounded below (REMOVE of subsampled Gaussians only: L_T > sum n log(1-q)) and
    # eps - P is below that bound, the k < 0 aliases are known exactly (docs/certified.md section 2):
    # [neg_lo, neg_hi] encloses their sum, which is subtracted from both ends
    neg = _neg_alias(cd, ct.c, P, float(eps))
    if neg is not None:
        la = -math.inf
    hi_alias = math.inf
    for s in alias_s:
        g = (s - ct.c) * P
        if g > 1e-12:
            hi_alias = min(hi_alias, cd.psi_hi(s) - s * eps - _log_expm1(g))
    la = float(np.logaddexp(la, hi_alias))
    S = math.exp(ls) if math.isfinite(ls) else 0.0
    if not (lerr == lerr and la == la and S == S):  # NaN anywhere: no information
        return 0.0, 1.0, dls
    neg_lo, neg_hi = (0.0, 0.0) if neg is None else neg
    # (a CutDirection's sum encloses delta_cut <= delta <= delta_cut + tail_hi: docs/certified.md section 8)
    upper = min(1.0, max(0.0, S + math.exp(min(lerr, 700.0)) - neg_lo) + cd.tail_hi * (1.0 + 4.0 * U_MACH))
    lower = max(0.0, S - math.exp(min(lerr, 700.0)) - math.exp(min(la, 700.0)) - neg_hi)
    return lower, upper, dls


def _neg_alias(cd: CertDirection, c: float, P: float, eps: float) -> tuple[float, float] | None:
    """An enclosure [lo, hi] of the k < 0 aliases sum_{k >= 1} e^{-ckP} delta(eps - kP), or None.

    REMOVE with subsampled-Gaussian groups only: L_T > L_min = sum n log(1 - q) almost surely and
    E_P[e^{-L_T}] = 1, so delta(x) = E_P[1 - e^{x - L_T}] = 1 - e^x for x <= L_min; where
    eps - P <= L_min every alias has that form and the sum is 1/(e^{cP} - 1) - e^eps / (e^{(c+1)P} - 1).
    L_min is taken 1e-10 relative lower (its float rounding), the two terms with a relative margin of
    8 u each (exp, expm1 and the division, each within a few u)."""
    if cd.direction != "remove" or cd.mu2 != 0.0 or not cd.sg:
        return None
    lmin = sum(g.n * math.log1p(-g.q) for g in cd.sg)
    lmin -= 1e-10 * abs(lmin) + 1e-300
    if not (eps - P <= lmin) or not (c * P > 1e-300):
        return None
    try:
        t1 = 1.0 / math.expm1(c * P) if c * P < 700.0 else 0.0
        t2 = math.exp(eps - (c + 1.0) * P) / -math.expm1(-(c + 1.0) * P) if (c + 1.0) * P > 1e-300 else math.inf
    except (OverflowError, ZeroDivisionError):
        return None
    if not (math.isfinite(t1) and math.isfinite(t2)):
        return None
    m = 8.0 * U_MACH * (t1 + t2)
    masses = getattr(cd, "masses", None)
    if cd.cutv is not None:
        # the truncated measure (section 8): delta_cut(x) = (1 - p)^n - e^x Phi(x_cut)^n for x <= L_min, so
        # the sum is (1 - p)^n t1 - Phi(x_cut)^n t2, both masses in [lo, hi] (Arb, rounded outward)
        if masses is None:
            return None
        (m_lo, m_hi), (a_lo, a_hi) = masses
        return (max(0.0, m_lo * t1 - a_hi * t2 - 2.0 * m),
                max(0.0, m_hi * t1 - a_lo * t2 + 2.0 * m))
    return max(0.0, t1 - t2 - m), max(0.0, t1 - t2 + m)


def _grow_n(cd: CertDirection, c: float, h: float, n: int, lt: float, target: float, deadline: float
            ) -> tuple[int, float]:
    """(N, its log truncation bound): the given N where its bound lt meets the target, else a larger one
    that does -- up to three steps of 1/8 first (the float estimate it starts from is usually close,
    and the cells beyond were probed already), then doubling and bisection on the rigorous bound."""
    if lt <= target:
        return n, lt
    lo_n, hi_n = n, n
    for _ in range(3):
        lo_n, hi_n = hi_n, hi_n + max(8, hi_n // 8)
        if _now() > deadline:
            raise CertError("quantised contour ran out of time (node count)")
        lt = cd.log_trunc(c, h, hi_n, target, deadline)
        if lt <= target:
            break
    while lt > target:
        lo_n, hi_n = hi_n, 2 * hi_n
        if hi_n > Q_MAX_NODES:
            raise CertError(f"quantised contour: truncation bound not met within {Q_MAX_NODES} nodes")
        if _now() > deadline:
            raise CertError("quantised contour ran out of time (node count)")
        lt = cd.log_trunc(c, h, hi_n, target, deadline)
    while hi_n - lo_n > max(8, lo_n // 16):
        mid = (lo_n + hi_n) // 2
        v = cd.log_trunc(c, h, mid, target, deadline)
        if v > target:
            lo_n = mid
        else:
            hi_n, lt = mid, v
    return hi_n, lt


def _qnodes(cd: CertDirection, c: float, h: float, n: int, e: float, log_delta: float, deadline: float,
            rtol: float = 0.0, slack: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The quantised contour's node values (K~, log error bound) for k < n (docs/certified.md 5b: node
    tolerance ``rtol``, default QUANT_NODE_RTOL, cache slack ``slack``, default NODE_SLACK, the node
    ladder)."""
    from . import certified_quant as Q

    rtol = rtol if rtol > 0.0 else QUANT_NODE_RTOL
    K = np.empty(n, dtype=np.complex128)
    E = np.empty(n)
    cd.node_slack = math.log(slack if slack > 0.0 else Q.NODE_SLACK)
    cd.node_rtol = rtol
    cd.node_ladder = QUANT_NODE_LADDER
    if NODE_WEIGHTED and len(cd.sg) <= Q.N_EST_GROUPS:
        # built on the first node that is not cached (a later query of a training loop finds all)
        memo: list = []

        def lazy(us: np.ndarray) -> np.ndarray:
            if not memo:
                memo.append(Q.node_ladder(cd, c, h, n, e, log_delta, rtol))
            f = memo[0]
            return f(us) if f is not None else _ladder(c, us, QUANT_NODE_LADDER)

        cd.node_ladder = lazy
    try:
        for k0 in range(0, n, 256):  # chunks: the deadline is checked between them
            if _now() > deadline:
                raise CertError("quantised contour ran out of time")
            k1 = min(n, k0 + 256)
            K[k0:k1], E[k0:k1] = cd.nodes(c, h, k0, k1)
    finally:
        cd.node_slack = math.log(10.0)
        cd.node_rtol = NODE_RTOL
        cd.node_ladder = 0.0
    return K, E


def _newton_eps(cd: CertDirection, K: np.ndarray, E: np.ndarray, c: float, h: float, e: float,
                lt: float) -> float:
    """The eps where the sum, less the exact k < 0 aliases where they are known (_neg_alias: their
    midpoint), equals e^lt: Newton from e; NaN where it fails.  Only the point the bracket is built
    around (_bracket verifies both ends with delta_bounds): without the alias term the point sat
    e^{-cP} / (delta |d log delta / d eps|) above the truth (7e-5 of delta at c = 2^(3/4), h = 1/2,
    q = 0.01, sigma = 0.6421, T = 10), and the upper end is never searched below it."""
    P = 2.0 * math.pi / h
    best, stall = (math.inf, math.nan), 0
    for _ in range(60):
        ls, _, dls = _sums(K, E, c, h, e)
        if not math.isfinite(ls) or dls >= 0.0:
            e *= 0.25  # the sum is lost in its rounding this far out: towards the root from above
            continue
        neg = _neg_alias(cd, c, P, e)
        if neg is None:
            f, df = ls - lt, dls
        else:
            # S - A_-, A_- = 1/(e^{cP} - 1) - e^eps / (e^{(c+1)P} - 1): d(S - A_-)/d eps = S dls + t2
            S = math.exp(ls)
            am = 0.5 * (neg[0] + neg[1])
            t2 = math.exp(e - (c + 1.0) * P) / -math.expm1(-(c + 1.0) * P)
            if not (S - am > 0.0):
                e *= 0.25
                continue
            f = math.log(S - am) - lt
            df = (S * dls + t2) / (S - am)
            if not (df < 0.0):
                e *= 0.25
                continue
        # (or a step below 1e-11 of eps: where the sum cancels ~e^14-fold its rounding is ~1e-9 relative,
        # Newton hopped around the root at that level for its 60 rounds and returned NaN -- q = 0.0019,
        # sigma = 1.32, T = 50, delta = 1e-10 -- so the bracket fell to the other direction's contour)
        if abs(f) <= 1e-12 or abs(f / df) <= 1e-11 * e:
            return e
        if abs(f) < best[0]:
            best, stall = (abs(f), e), 0
        else:
            stall += 1
            if stall >= 4 and best[0] <= 1e-6:
                return best[1]  # no progress: the sum's rounding floor (a guide only; the bracket checks)
        e_new = e - f / df
        if not math.isfinite(e_new):
            return math.nan
        # a step to eps <= 0 (a start far above the root, where log delta is convex and flat: the float
        # estimate 0.239 at q = 1e-4, sigma = 1, T = 10, delta = 1e-5, root 1.07e-3) quarters eps instead
        e = e_new if e_new > 0.0 else 0.25 * e
        if not (e > 1e-300):
            return math.nan
    return best[1] if best[0] <= 1e-6 else math.nan


# ----------------------------------------------------------------------------- brackets
def _bisect_end(ok, good: float, bad: float, tol: float, deadline: float, iters: int) -> float:
    """A bracket's end by bisection: ``good`` (where the monotone test ``ok`` holds) moved towards ``bad`` (where it
    fails) until they are within ``tol``, ``iters`` halvings are done or the CPU ``deadline`` passed."""
    for _ in range(iters):
        if abs(good - bad) <= tol or _now() > deadline:
            break
        mid = 0.5 * (good + bad)
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def _now() -> float:
    """The certificate's clock: this process's CPU time, so that the budget (hence which source
    answers, and the bracket's width) does not depend on what else the machine is running; Numba's
    kernel compilation and loading are left out (:func:`ewacct.methods.budget.clock`)."""
    from . import budget

    return budget.clock()


#: eps(delta) from quantised contours first (certified_quant; their node enclosures are reused across
#: counts), accepted where the bracket is at most QUANT_RTOL wide relative
QUANTISED = True
QUANT_RTOL = 1e-5
#: a bracket kept by the quantised path (wider than QUANT_RTOL) at most this wide (relative) is the
#: answer, without the retry and the engine-guided contour (issue 9 asks for 1e-4)
SETTLE_RTOL = 5e-5
#: ... once the query has used at least this much CPU time (s); before that, the retry and the
#: engine-guided contour are tried for a bracket within QUANT_RTOL (q 0.0019, sigma 1.32, T 50,
#: delta 1e-10: the kept bracket 2.6e-5 wide after ~70 ms, the retry's 6.5e-6 after ~0.2 s)
SETTLE_AFTER = 0.1
#: inside the quantised path: its first direction's bracket within SETTLE_RTOL is the answer once the path has
#: spent this much CPU time (the next step is a second quantised contour, the other direction dominating)
SETTLE_IN_LOOP = 0.03
#: the two settle decisions above by work instead of CPU time (WORK_SETTLE, session 17): the query has done at
#: least SETTLE_AFTER_WORK enclosures of G (_WORK: one per group and point), the quantised path SETTLE_IN_LOOP_WORK
#: (~0.1 s and ~0.03 s at ~40,000 enclosures per CPU second: 16,000-65,000 measured, the rest of a query being the
#: engine's estimate, saddles and real enclosures); False: CPU time as before.  The
#: same query then takes the same path whatever the load (the bracket never depended on it beyond which proof
#: answered, but that was enough to change its width between runs)
WORK_SETTLE = True
SETTLE_AFTER_WORK = 4096
SETTLE_IN_LOOP_WORK = 1024
#: ... and a kept bracket within SETTLE_NEAR at any time: the retry aims at QUANT_RTOL, at most 2x narrower
#: (session 15: sigma 9.631, q 2.755e-4, T 4, delta 1.2e-10 -- kept 1.05e-5 wide after ~0.1 s, the retry's
#: contour of 15,290 nodes 9.2e-6 after 0.67 s)
SETTLE_NEAR = 2.0 * QUANT_RTOL


def _ewidth(b: "Bracket") -> float:
    """The bracket's width relative to max(upper, certified_quant.EPS_ABS): below eps 1e-3 issue 9's target is
    absolute (1e-7), so QUANT_RTOL / SETTLE_RTOL / SETTLE_NEAR read as 1e-8 / 5e-8 / 2e-8 absolute there (session 17:
    eps 8.88e-5 was pushed from 4.3e-8 to 1.8e-9 wide by ~0.3 s of node tightening)."""
    from .certified_quant import EPS_ABS

    return (b.upper - b.lower) / max(b.upper, EPS_ABS)
#: after the quantised path found that its contour needs more than its node budget (ContourCertifier._q_over),
#: the engine-guided contour is tried only where this is True (False: CertError at once, the proven fallback answers)
ENGINE_AFTER_OVER = False
#: ... which it also finds where one of its contours in this query has at least this many nodes (3 x MAX_NODES: the
#: engine's step is at most ~2x the quantised one; sigma 0.4984, q 1.95e-6, T 57483, delta 8.07e-11: 20,351 nodes,
#: the engine then failed after 0.2-0.3 s; sigma 0.5573, q 1.71e-5, T 198: 27,087 nodes, 0.12-0.15 s)
ENGINE_OVER_N = 3 * MAX_NODES
#: the share of the time budget the quantised path may use before the engine-guided contour runs
QUANT_SHARE = 0.8
#: node budget of one quantised contour (the CPU-time budget usually ends it first)
Q_MAX_NODES = 40_000
#: the quantised contour is refused at once where its float node estimate exceeds this many times Q_MAX_NODES
REFUSE_EST = 1.5
#: ask the exact engine for its estimate (direction and eps) before the quantised contour; False: the
#: float estimates of certified_quant (Chernoff bound and one saddle-point correction) choose the
#: dominating direction and the first abscissa; None: the floats in the few-participation corner
#: (expected participations sum q n <= FLOAT_HINT_QT, at most certified_quant.N_EST_GROUPS groups),
#: the engine elsewhere.  At q T = 0.1 the engine's estimate cost ~40 ms, the floats ~8; at 200 groups
#: the floats cost ~75 ms (one real log G per group and point), the engine ~55; at tiny q and large
#: sigma (q = 4e-6, sigma = 5, T = 2.3e6: eps = 0.0035) the floats ranked the two directions wrongly
#: (25 -> 125 ms).  Either is only a guide: eps comes from Newton on the certified sum
QUANT_ENGINE_HINT: bool | None = None
FLOAT_HINT_QT = 1.0
#: a fresh quantised contour starts at this fraction of the float node-count estimate (no margin)
FRESH_N = 1.0
#: ... and, where there is no estimate, at the first of these counts whose analytic truncation bound meets
#: the level (else at 64)
FRESH_SHORT = (16, 24, 32, 48)
#: the short count's bound is the contour's truncation bound (False: computed again by log_trunc, as before session 17)
SHORT_REUSE = True
#: relative node tolerance (NODE_RTOL's role) on the quantised path, accepted at QUANT_RTOL: the node
#: errors add ~this times the cancellation ratio sum|v_k| / delta to the relative width on delta
QUANT_NODE_RTOL = 1e-8
#: node k's tolerance on the quantised path is loosened by max(1, |z_k| / (QUANT_NODE_LADDER c)) (a power
#: of two at or below it, at most NODE_LADDER_CAP; 0: off).  Its error weight is h |G|^{n-1} / |z (z+1)|
#: <= G(a)^{n-1} h / |z|^2, so the loosened error sum is at most sum h / (|z| rho c) over |z| > rho c
#: on top of the unchanged part: ~ln(u_max / (rho c)) / (rho c) against ~pi / (2 c) -- at rho = 4 a
#: factor <= ~1.9 on the (already small) node part of the width at u_max = 661 (q T = 0.1)
QUANT_NODE_LADDER = 4.0
#: on the quantised path with at most certified_quant.N_EST_GROUPS groups, the node tolerances follow
#: the float size of the integrand instead (certified_quant.node_ladder; only the width can change)
NODE_WEIGHTED = True
NODE_LADDER_CAP = 1024.0
#: the most the quantised path divides its node tolerance by where the node errors dominate the width
#: (ContourCertifier._qtight)
TIGHT_MAX = 1e4
#: ... only where the nodes re-enclosed (the prefix carrying the node errors, _qtight) are at most
#: TIGHT_CHEAP_N, or where the bracket is wider than TIGHT_WIDE (relative): re-enclosing ~25,000 nodes
#: costs ~0.3 s (sigma 0.457, q 1e-5, T 1000, delta 1e-5: all 11,488 nodes 1.3e-5 -> 2.7e-6 wide,
#: 0.31 -> 0.64 s; its prefix of 1,280 nodes: 3.0e-6 wide, ~0.16 s in all)
TIGHT_CHEAP_N = 8192
TIGHT_WIDE = 1e-4

#: CPU-time budget of one certificate (seconds), the exact engine's estimate included; past it the
#: caller falls back to the proven (wider) bracket of ewacct.bounds.proven, so that a certified query
#: stays around a second (the training-loop user calls it often)
TIME_BUDGET = 1.0
#: delta(eps) (ContourCertifier._delta_direction, docs/certified.md section 5c): a direction's bracket is
#: final once its contours' intersection is at most this wide (relative); the quantised contour's truncation
#: is held to DELTA_TRUNC_RTOL of delta, and the engine-guided contour has DELTA_ENGINE_SHARE of the budget
DELTA_RTOL = 1e-5
DELTA_TRUNC_RTOL = 1e-7
DELTA_ENGINE_SHARE = 0.5
#: ... and is refused at once where the engine's node count is at least this and the float estimate says
#: the truncation needs more than REFUSE_EST x MAX_NODES (ContourCertifier._contour's precheck)
PRECHECK_N = 1024


_WARM = [False]


def _warm_once() -> None:
    """Load (or compile) the Numba kernels once per process before a certificate's clock starts, so
    that the first query of a process is not pushed into the fallback by the loading time."""
    if _WARM[0]:
        return
    _WARM[0] = True
    from ..mechanisms import PoissonSubsampledGaussian
    from .exact import ExactMethod

    sg_g_enclose_many(0.01, 1.0, np.array([2.0 + 1.0j]), -20.0, True)
    sg_g_enclose_many(0.01, 1.0, np.array([2.0 + 1.0j]), -20.0, False)
    sg_g_enclose_multi(0.01, np.array([1.0, 0.9]), np.array([2.0 + 1.0j]), np.array([-20.0, -20.0]), True)
    sg_g_enclose_multi(0.01, np.array([1.0, 0.9]), np.array([2.0 + 1.0j]), np.array([-20.0, -20.0]), False)
    _group_bounds_nb(np.zeros(1), np.zeros((1, 1)), np.ones((1, 1)), np.zeros((1, 1), dtype=bool),
                     np.ones(1, dtype=np.int64), np.zeros(2), np.zeros(2), np.zeros(1), np.ones(1),
                     np.ones(2, dtype=np.complex128), np.ones(2, dtype=np.complex128), np.ones(2), True)
    _cert_sums(np.zeros(2, dtype=np.complex128), np.full(2, -50.0), 1.0, 0.5, 1.0)
    _sums(np.zeros(2, dtype=np.complex128), np.full(2, -50.0), 1.0, 0.5, 1.0)
    from .._kernels.mgf import sg_composition_complex  # certified_quant.n_estimate's kernel

    sg_composition_complex(np.array([0.01]), np.array([1.0]), np.array([10.0]), np.array([2.0 + 1.0j]))
    try:
        ExactMethod([(PoissonSubsampledGaussian(1.0, 0.01), 100)]).epsilon(1e-5)
    except ArithmeticError:
        pass


class _CertClock:
    """The certificate's deadline where no other check reaches (docs/certified.md section 7): while a
    certified query runs, every real evaluation of the exact engine's K (``LogMgf.real_fn``: the saddle
    search, the psi grid of its contour choice) and every float K of certified_quant (``k_float``: the
    quantised contour's saddle and step choice, the Chernoff grid's ordering) first checks the clock
    and raises ContourError past the deadline; the caller's proven fallback then answers (a proof too).
    Before: those paths had no check, and at sigma = 681.6, q = 1.91e-6, T = 96, delta = 3.13e-10 the
    saddle searches walked to |w| ~ 1e8, where one real kernel call takes up to 250 ms (8.3 s of CPU
    for a 1 s budget).  The clock is read only once the wall clock says the budget may be spent (the
    CPU time of this thread never runs ahead of the wall time); the wrappers are removed on exit, so
    the engine answers estimates without a deadline afterwards."""

    def __init__(self, exact: Any, deadline: float) -> None:
        self.exact = exact
        self.deadline = deadline

    def check(self) -> None:
        if time.perf_counter() >= self.wall_until and _now() > self.deadline:
            from .contour import ContourError

            raise ContourError("the certified contour ran past its time budget")

    def __enter__(self) -> "_CertClock":
        from . import certified_quant as Q

        self.wall_until = time.perf_counter() + max(0.0, self.deadline - _now())
        self.saved = []
        for ed in getattr(self.exact, "dirs", {}).values():
            K = ed.K
            fn = K.__dict__.get("real_fn")
            if fn is None or getattr(fn, "_cert_clock", False):
                continue

            def real_fn(t: float, nmax: int, _fn: Any = fn) -> np.ndarray:
                self.check()
                return _fn(t, nmax)

            real_fn._cert_clock = True  # type: ignore[attr-defined]
            K.real_fn = real_fn
            self.saved.append((K, fn))
        self.prev_q = Q.CLOCK[0]
        Q.CLOCK[0] = self
        return self

    def __exit__(self, *exc: Any) -> None:
        from . import certified_quant as Q

        for K, fn in self.saved:
            K.real_fn = fn
        Q.CLOCK[0] = self.prev_q


class _EngineBudget:
    """Caps the exact engine's own CPU-time net (ExactDirection.TIME_BUDGET, 3 s) by the
    certificate's remaining time while the certifier asks it for its estimate and contours."""

    def __init__(self, exact: Any, deadline: float) -> None:
        self.dirs = list(exact.dirs.values())
        self.deadline = deadline

    def __enter__(self) -> None:
        # the engine's net is on CPU time too (ewacct.methods.exact.clock)
        left = max(0.05, self.deadline - _now())
        for ed in self.dirs:
            ed.TIME_BUDGET = min(type(ed).TIME_BUDGET, left)

    def __exit__(self, *exc: Any) -> None:
        for ed in self.dirs:
            ed.__dict__.pop("TIME_BUDGET", None)


@dataclass
class Bracket:
    lower: float
    upper: float
    info: dict[str, Any]


class ContourCertifier:
    """Certified brackets for a composition of subsampled-Gaussian and Gaussian steps.

    Uses the exact engine (``ExactMethod``) for the estimate and the contour's abscissa and step; the
    enclosures themselves are independent of the engine's error estimates.  eps(delta) is tried first
    on a quantised contour (``certified_quant``, docs/certified.md section 5b: c on a geometric grid,
    h a power of two, nodes cached across step counts), then on the engine's contour.
    """

    def __init__(self, groups: Sequence[tuple[Any, int]], exact: Any) -> None:
        self.groups = list(groups)
        self.exact = exact
        self.dirs = {d: CertDirection(self.groups, d) for d in ("remove", "add")}
        self._cache: dict[tuple[str, float, float], CertContour] = {}

    def _contour(self, d: str, eps: float, log_delta: float, deadline: float, precheck: bool = False
                 ) -> tuple[CertContour, list[float]]:
        """The engine-guided certified contour of direction d at eps (the engine's c and h; section 2).
        ``precheck``: where the engine's own node count is at least PRECHECK_N, CertError at once where the
        float node-count estimate (certified_quant.n_estimate, at most N_EST_GROUPS groups) at the contour's
        truncation level exceeds REFUSE_EST x MAX_NODES -- the rigorous search would fail there after probing."""
        ed = self.exact.dirs[d]
        with ed._deadline():
            # (the engine's deadline is on CPU time too)
            ed.K.state["deadline"] = min(ed.K.state["deadline"], deadline)
            ct = ed._contour_for(eps, log_delta, ed.K.state["deadline"])
        key = (d, ct.c, ct.h)
        if key not in self._cache and precheck and ct.n >= PRECHECK_N:
            from . import certified_quant as Q

            target = log_delta + math.log(TARGET_RTOL * 1e-2) + ct.c * eps + math.log(math.pi)
            n_est = Q.n_estimate(self.dirs[d], ct.c, ct.h, target)
            if n_est is not None and n_est > REFUSE_EST * MAX_NODES:
                raise CertError(f"certified contour would need ~{n_est} nodes (float estimate), beyond {MAX_NODES}")
        if key not in self._cache:
            self._cache[key] = self.dirs[d].contour(ct.c, ct.h, ct.n, eps, log_delta, deadline)
            if len(self._cache) > 32:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key], [s for s, _ in ct.alias_s]

    def _chernoff_hi(self, d: str, eps: float, c_ref: float, stop: float | None = None) -> float:
        """log of a rigorous upper bound on delta(eps) of direction d (the Chernoff bound on the payoff,
        the smallest over a grid of s around c_ref).  With ``stop``: the grid's points in the order of
        their float values (certified_quant.k_float; only an ordering), returning at the first whose
        rigorous bound is <= stop -- each point costs one real enclosure per group (200 groups: ~10 ms)."""
        grid = [f * c_ref for f in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0) if f * c_ref > 1e-6]
        cd = self.dirs[d]
        from . import certified_quant as Q

        clock = Q.CLOCK[0]  # (each point's real enclosures cost up to ~80 ms where w mu is large)
        if stop is None:
            if clock is None:
                return cd.chernoff_log_delta_hi(eps, grid)
            best = math.inf
            for s in grid:
                clock.check()
                best = min(best, cd.chernoff_log_delta_hi(eps, [s]))
            return best

        def fl(s: float) -> float:
            try:
                v = Q.k_float(cd, s) + s * math.log(s) - (s + 1.0) * math.log1p(s) - s * eps
            except (ValueError, OverflowError, ZeroDivisionError):
                return math.inf
            return v if v == v else math.inf

        best = math.inf
        for s in sorted(grid, key=fl):
            if clock is not None:
                clock.check()
            best = min(best, cd.chernoff_log_delta_hi(eps, [s]))
            if best <= stop:
                break
        return best

    def delta(self, eps: float, time_budget: float | None = None) -> Bracket:
        """Certified [lower, upper] on delta(eps) = max over both directions (CertError past
        ``time_budget`` seconds, default ``TIME_BUDGET``)."""
        self._budget = TIME_BUDGET if time_budget is None else float(time_budget)
        self._eng = {}  # (per query, as in epsilon())
        _warm_once()
        try:
            with _CertClock(self.exact, _now() + self._budget):
                return self._delta(eps)
        except (OverflowError, FloatingPointError, ZeroDivisionError, ValueError) as exc:
            raise CertError(f"certified delta failed numerically: {type(exc).__name__}: {exc}") from exc

    def epsilon(self, delta: float, time_budget: float | None = None) -> Bracket:
        """Certified [lower, upper] on eps(delta) (CertError past ``time_budget`` seconds, default
        ``TIME_BUDGET``)."""
        self._budget = TIME_BUDGET if time_budget is None else float(time_budget)
        self._eng = {}  # this query's engine answers and failures (_engine_epsilon, _qcontour)
        _warm_once()
        try:
            with _CertClock(self.exact, _now() + self._budget):
                return self._epsilon(delta)
        except (OverflowError, FloatingPointError, ZeroDivisionError, ValueError) as exc:
            raise CertError(f"certified eps failed numerically: {type(exc).__name__}: {exc}") from exc

    def _delta(self, eps: float) -> Bracket:
        t0 = time.perf_counter()
        deadline = _now() + getattr(self, "_budget", TIME_BUDGET)
        try:
            with _EngineBudget(self.exact, deadline):
                est, d_est, _, diag = self.exact.delta(eps)
        except (ArithmeticError, ValueError):  # (ContourError is an ArithmeticError)
            # the engine has no estimate here (the few-participation corner: its contour refused for its
            # node count); a float guide instead (only the contours' targets depend on it)
            got = self._float_delta_guide(eps)
            if got is None:
                raise
            est, d_est = got
        if est <= 0.0:
            # the engine's far tail (its Chernoff bound is below the smallest double): the upper end is
            # the Chernoff bound computed here from the rigorous real enclosures
            hi = max(math.exp(min(self._chernoff_hi(d, eps, 1.0), 0.0)) for d in ("remove", "add"))
            return Bracket(0.0, hi, {"seconds": time.perf_counter() - t0, "note": "far tail (Chernoff bound)",
                                     "estimate": 0.0, "direction": d_est})
        order = [d_est] + [d for d in ("remove", "add") if d != d_est]
        lo_all, hi_all = 0.0, 0.0
        info: dict[str, Any] = {}
        for i, d in enumerate(order):
            if eps >= self.exact.dirs[d].K.loss_sup:
                info[d] = {"skipped": "eps at or beyond the largest privacy loss: delta = 0"}
                continue
            ld = math.log(est)
            if i > 0:
                c_ref = float(info.get(order[0], {}).get("c", 1.0))
                ch = self._chernoff_hi(d, eps, c_ref, stop=math.log(max(lo_all, 1e-320)))
                if ch <= math.log(max(lo_all, 1e-320)):
                    info[d] = {"skipped": "Chernoff bound below the other direction's lower bound"}
                    continue
                ld = min(ld, ch)
            lo, hi, dinfo = self._delta_direction(d, eps, ld, deadline)
            info[d] = dinfo
            lo_all, hi_all = max(lo_all, lo), max(hi_all, hi)
        info["seconds"] = time.perf_counter() - t0
        return Bracket(lo_all, hi_all, info)

    def _float_delta_guide(self, eps: float) -> tuple[float, str] | None:
        """(delta, direction): a float guide to delta(eps) where the engine gives none -- per direction the
        saddle-point value e^{f(c)} / sqrt(2 pi f''(c)) of the contour integral, f(c) = K(c) - c eps -
        log(c (c + 1)) at the float saddle c (certified_quant.saddle_at, k_float3); the larger direction.
        Not part of any bound: it sets the truncation and node targets only."""
        from . import certified_quant as Q

        best: tuple[float, str] | None = None
        for d in ("remove", "add"):
            cd = self.dirs[d]
            try:
                c = Q.saddle_at(cd, eps)
                k = Q.k_float3(cd, c)
            except (ArithmeticError, ValueError):
                continue
            if k is None or not (c > 0.0):
                continue
            f2 = k[2] + (2.0 * c * c + 2.0 * c + 1.0) / (c * c * (c + 1.0) ** 2)
            if not (f2 > 0.0 and math.isfinite(k[0])):
                continue
            ld = k[0] - c * eps - math.log(c * (c + 1.0)) - 0.5 * math.log(2.0 * math.pi * f2)
            if ld == ld and (best is None or ld > math.log(max(best[0], 1e-320))):
                best = (math.exp(min(ld, 0.0)), d)
        return best

    def _delta_direction(self, d: str, eps: float, log_delta: float, deadline: float
                         ) -> tuple[float, float, dict[str, Any]]:
        """(lower, upper, info) on direction d's delta(eps) (docs/certified.md section 5c): the intersection of
        the brackets of up to three contours, each a proof on its own, tried in this order until the
        intersection is at most DELTA_RTOL wide (relative):

        1. the engine-guided contour (section 2; ~1e-9 wide where it finishes), refused at once where the
           float node-count estimate at its (c, h) exceeds MAX_NODES (it would fail there after probing),
           and given DELTA_ENGINE_SHARE of the budget;
        2. REMOVE where section 8 applies (tiny q, huge T): the conditioned contour planned at this eps
           (delta_cut <= delta <= delta_cut + tail_hi: delta_bounds adds tail_hi to the upper end);
        3. the quantised contour of section 5b at this eps (c, h from the floats / the engine's contour,
           the truncation at DELTA_TRUNC_RTOL of delta), its node prefix enclosed more tightly
           (``_tighten``) where the node errors alone exceed DELTA_RTOL / 4 of delta.

        ``log_delta``: a guide to log delta (the engine's estimate; only the targets of the truncation,
        node tolerances and the conditioned path's x_cut depend on it).  CertError where no contour gave a
        bracket (the caller then answers the proven fallback)."""
        cd = self.dirs[d]
        info: dict[str, Any] = {}
        lohi = [0.0, math.inf]

        def take(name: str, lo: float, hi: float, extra: dict[str, Any]) -> None:
            if max(lo, lohi[0]) > min(hi, lohi[1]):
                raise CertInconsistent(f"internal error: certified brackets [{lohi[0]!r}, {lohi[1]!r}] and "
                                       f"[{lo!r}, {hi!r}] of the same delta are disjoint; please report")
            lohi[0], lohi[1] = max(lo, lohi[0]), min(hi, lohi[1])
            info[name] = dict(extra, lower=lo, upper=hi)
            if "c" not in info and "c" in extra:
                info["c"] = extra["c"]

        def settled() -> bool:
            return math.isfinite(lohi[1]) and lohi[1] - lohi[0] <= DELTA_RTOL * lohi[1]

        budget_s = getattr(self, "_budget", TIME_BUDGET)
        try:
            cc, s_alias = self._contour(d, eps, log_delta, min(deadline, _now() + DELTA_ENGINE_SHARE * budget_s),
                                        precheck=True)
            lo, hi, _ = delta_bounds(cd, cc, eps, s_alias)
            take("engine_contour", lo, hi, {"c": cc.c, "h": cc.h, "nodes": int(cc.logk.shape[0])})
        except (CertError, ArithmeticError, ValueError) as exc:  # (ContourError is an ArithmeticError)
            info["engine_contour"] = {"failed": f"{type(exc).__name__}: {exc}"}
        if not settled() and d == "remove" and CUT_PATH and _now() < deadline:
            try:
                delta_g = math.exp(min(log_delta, 0.0))
                got = self._cut_contour(delta_g, eps, deadline) if self._cut_candidate(delta_g) else None
                if got is not None:
                    cdc, cc, s_alias, _, xc = got
                    lo, hi, _ = delta_bounds(cdc, cc, eps, s_alias)
                    take("conditioned", lo, hi, {"x_cut": xc, "tail_hi": cdc.tail_hi, "c": cc.c, "h": cc.h,
                                                 "nodes": int(cc.logk.shape[0])})
            except (CertError, ArithmeticError, ValueError, NotCertifiable) as exc:
                info["conditioned"] = {"failed": f"{type(exc).__name__}: {exc}"}
        if not settled() and _now() < deadline:
            try:
                cc, s_alias, _ = self._qcontour(d, log_delta, deadline, eps=eps, trunc_rt=DELTA_TRUNC_RTOL)
                lo, hi, _ = delta_bounds(cd, cc, eps, s_alias)
                take("quantised_contour", lo, hi, {"c": cc.c, "h": cc.h, "nodes": int(cc.logk.shape[0])})
                _, le, _ = _sums(cc.logk, cc.loge, cc.c, cc.h, eps)
                r_node = 2.0 * math.exp(min(le, 700.0)) / max(lo, 1e-300)
                if not settled() and r_node > 0.25 * DELTA_RTOL and _now() < deadline:
                    f = min(r_node / (0.125 * DELTA_RTOL), TIGHT_MAX)
                    ct = self._tighten(d, cc, f, eps, log_delta, deadline)
                    if ct is not None:
                        lo, hi, _ = delta_bounds(cd, ct, eps, s_alias)
                        take("quantised_tightened", lo, hi, {"c": ct.c, "h": ct.h, "factor": f})
            except (CertError, ArithmeticError, ValueError) as exc:
                info["quantised_contour"] = dict(info.get("quantised_contour", {}),
                                                 failed=f"{type(exc).__name__}: {exc}")
        if not math.isfinite(lohi[1]):
            raise CertError("certified delta: no contour finished (" + "; ".join(
                f"{k}: {v.get('failed', '')}" for k, v in info.items() if isinstance(v, dict)) + ")")
        info.update(lower=lohi[0], upper=min(lohi[1], 1.0))
        return lohi[0], min(lohi[1], 1.0), info

    def _shape(self) -> tuple:
        """The composition's shape without its counts (the key of the reusable contour)."""
        return tuple((getattr(m, "name", ""), float(getattr(m, "sampling_probability", 1.0)),
                      float(m.noise_multiplier)) for m, _ in self.groups)

    def _epsilon(self, delta: float) -> Bracket:
        t0 = time.perf_counter()
        deadline = _now() + getattr(self, "_budget", TIME_BUDGET)
        b0 = self.exact.delta_at_zero_bound()
        if b0 <= delta:
            return Bracket(0.0, 0.0, {"note": "delta(0) <= target by the joint-convexity bound", "seconds": 0.0,
                                      "estimate": 0.0, "direction": "remove"})
        self._qmode = False
        self._work0 = _WORK[0]
        self._kept = None  # the narrowest proven bracket seen so far (any width; _keep)
        try:
            return self._epsilon_paths(delta, t0, deadline)
        except (CertError, ArithmeticError, ValueError):
            # (ContourError is an ArithmeticError) a later path failed: a bracket an earlier one proved
            # (wider than its own acceptance) still beats the proven fallback's
            if self._kept is None:
                raise
            b = self._kept
            b.info["kept"] = "narrowest contour bracket proved before a later path failed"
            return b

    def _engine_epsilon(self, delta: float, deadline: float) -> tuple:
        """The exact engine's eps(delta) (estimate, direction, rel. error, diagnostics), asked at most
        once per certified query: its answer or its failure is remembered (the quantised path, its
        retry and the engine-guided path each asked again -- sigma 1.004, q 3.45e-5, T 45756,
        delta 1.48e-10: the engine fails there ("cancellation"), 234 + 67 + 68 ms of the 0.9 s)."""
        memo = self.__dict__.setdefault("_eng", {})
        key = ("epsilon", delta)
        got = memo.get(key)
        if got is None:
            try:
                with _EngineBudget(self.exact, deadline):
                    got = ("ok", self.exact.epsilon(delta))
            except Exception as exc:  # noqa: BLE001 - remembered and raised again, unchanged
                got = ("raised", exc)
            memo[key] = got
        if got[0] == "raised":
            raise got[1]
        return got[1]

    def _keep(self, b: Bracket) -> Bracket:
        """Remember b (a proven bracket on eps(delta)) if it is the narrowest so far; return the
        intersection of b with the kept one where both exist (two proofs about the same number: their
        intersection is one too; disjoint brackets would mean one proof is wrong: raise)."""
        if not (b.upper > 0.0 and math.isfinite(b.upper) and 0.0 <= b.lower <= b.upper):
            return b
        k = getattr(self, "_kept", None)
        if k is not None:
            lo, hi = max(k.lower, b.lower), min(k.upper, b.upper)
            if lo > hi:
                raise CertInconsistent(f"internal error: certified brackets [{k.lower!r}, {k.upper!r}] and "
                                         f"[{b.lower!r}, {b.upper!r}] of the same eps are disjoint; please report")
            if (lo, hi) != (b.lower, b.upper):
                b = Bracket(lo, hi, dict(b.info, intersected=True))
                if "onejump" in k.info and "onejump" not in b.info:
                    b.info["onejump"] = k.info["onejump"]  # (the one-large-step bracket is part of this one)
        self._kept = b
        return b

    def _epsilon_paths(self, delta: float, t0: float, deadline: float) -> Bracket:
        self._q_over = False
        if ONEJUMP_PATH:
            # one group, tiny q, huge T, delta carried by single large steps (docs/certified.md section 9): the
            # composition conditioned on the number of steps beyond x_b, no contour; kept (and answering) where it
            # is within ONEJUMP_SETTLE, else the paths below run (their brackets intersected with it)
            try:
                odl = _now() + ONEJUMP_SHARE * getattr(self, "_budget", TIME_BUDGET)
                ob = self._onejump_epsilon(delta, t0, min(deadline, odl))
            except (CertError, ArithmeticError, ValueError, NotCertifiable):
                ob = None
            if ob is not None and ob.upper > 0.0 and ob.upper - ob.lower <= ONEJUMP_SETTLE * ob.upper:
                return ob
        if CUT_PATH and self._cut_candidate(delta):
            # tiny q, huge T (docs/certified.md section 8): the contour conditioned on no step beyond x_cut,
            # where the floats show it cancels CUT_GAIN nats less; kept (and answering) where it is within
            # SETTLE_RTOL, else the paths below run (their brackets intersected with it)
            try:
                cdl = _now() + CUT_SHARE * getattr(self, "_budget", TIME_BUDGET)
                cb = self._cut_epsilon(delta, None, t0, min(deadline, cdl))
            except (CertError, ArithmeticError, ValueError, NotCertifiable):
                cb = None
            if cb is not None and cb.upper > 0.0 and _ewidth(cb) <= SETTLE_RTOL:
                return cb
        if QUANTISED:
            try:
                # at most QUANT_SHARE of the budget, so that the engine-guided contour keeps a chance
                qdl = _now() + QUANT_SHARE * getattr(self, "_budget", TIME_BUDGET)
                self._below_used, self._no_below, self._q_zero = False, False, False
                q_raised = False
                try:
                    qb = self._quant_epsilon(delta, t0, min(deadline, qdl))
                except (CertError, ArithmeticError, ValueError):
                    qb, q_raised = None, True
                k = self._kept
                spent = _now() - (deadline - getattr(self, "_budget", TIME_BUDGET))
                late = (_WORK[0] - self._work0 >= SETTLE_AFTER_WORK) if WORK_SETTLE else spent >= SETTLE_AFTER
                if (qb is None and k is not None and k.upper > 0.0
                        and (_ewidth(k) <= SETTLE_RTOL and late
                             or _ewidth(k) <= SETTLE_NEAR)):
                    # a proven bracket within issue 9's width is in hand: the retry and the engine-guided
                    # contour aim only at QUANT_RTOL, and seldom reach it where the quantised path did not
                    # (sigma 1.004, q 3.45e-5, T 45756, delta 1.48e-10: 2.26e-5 wide after ~0.3 s, the same
                    # bracket after 0.82 s)
                    k.info["settled"] = f"kept bracket within SETTLE_RTOL = {SETTLE_RTOL:g}"
                    return k
                if (qb is None and self._below_used and not self._q_zero and not q_raised
                        and _now() < min(deadline, qdl)):
                    # an abscissa below the saddle's grid point (certified_quant.choose) can leave the
                    # sum cancelling too much for the 1e-5 width: once more at the saddle's grid point,
                    # the recorded contours of this shape forgotten (not where the quantised path
                    # failed -- no truncation within Q_MAX_NODES, no time: the retry failed the same
                    # way at sigma 0.328, q 3.23e-6, T 29558, delta 0.0135, 0.26 s, before the
                    # engine-guided contour answered)
                    from . import certified_quant as Q

                    Q.forget(self.dirs["remove"], math.log(delta))
                    self._no_below = True
                    qb = self._quant_epsilon(delta, t0, min(deadline, qdl))
            except (CertError, ArithmeticError, ValueError):
                qb = None  # (ContourError is an ArithmeticError) the engine-guided contour is tried
            finally:
                self._no_below = False
            if qb is not None:
                return qb
        self._qmode = False
        if QUANTISED and getattr(self, "_q_zero", False):
            # both float estimates say eps = 0: the rigorous Chernoff bound at eps = 0 of each direction
            # may settle it before any contour (sigma 73.91, q 2.22e-7, T 5709271, delta 2e-5: 0.21 s of
            # the engine-guided contour at c ~ 1e5, h ~ 2e4 for [0, 0])
            zb = self._zero_by_chernoff(delta, t0)
            if zb is not None:
                return zb
        fast = self._fast_epsilon(delta, t0, deadline)
        if fast is not None:
            return fast
        if QUANTISED and ENGINE_AFTER_OVER is False and getattr(self, "_q_over", False):
            # the quantised contour needs more than Q_MAX_NODES (its rigorous truncation search, or REFUSE_EST x
            # that by the float estimate), or one of its contours had ENGINE_OVER_N nodes: the engine-guided contour,
            # at most MAX_NODES nodes at a step at most ~2x the quantised one (a power of two at or below it), is not
            # expected to finish; its estimate and contour failed there after 66-300 ms (session 15, sweeps seed 9 and
            # wide-grid seed 3: none of 11 such attempts answered).  Only which source answers changes: a bracket the
            # quantised path proved is kept (_epsilon), else the proven fallback and the narrowing sources answer
            raise CertError("quantised contour needs more than its node budget: the engine-guided contour is not tried")
        est, d_est, _, diag = self._engine_epsilon(delta, deadline)
        # the dominating direction's certified contour at the estimate
        e_ref = est if est > 0.0 else 0.0
        cc, s_alias = self._contour(d_est, e_ref, math.log(delta), deadline)
        b = self._keep(self._bracket(cc, s_alias, d_est, e_ref, delta, t0, deadline))
        if b.upper > 0.0:
            _LAST[self._shape()] = (d_est, cc.c, cc.h, int(cc.logk.shape[0]), tuple(s_alias), e_ref)
            _LAST.move_to_end(self._shape())
            while len(_LAST) > 64:
                _LAST.popitem(last=False)
        return b

    def _float_estimate(self, d: str, log_delta: float) -> tuple[float, float] | None:
        """certified_quant.estimate of direction d, memoised per query (ranking the directions and
        building the first contour ask for the same one)."""
        from . import certified_quant as Q

        memo = self.__dict__.setdefault("_qest", {})
        key = (d, log_delta)
        if key not in memo:
            if len(memo) > 64:
                memo.clear()
            memo[key] = Q.estimate(self.dirs[d], log_delta)
        return memo[key]

    def _qcontour(self, d: str, log_delta: float, deadline: float, eps: float | None = None,
                  trunc_rt: float | None = None) -> tuple[CertContour, list[float], float]:
        """The quantised certified contour of direction d (certified_quant; docs/certified.md 5b):
        (contour, alias s-values, the float eps estimate it was built for).  ``trunc_rt``: the truncation
        bound's level relative to delta (default certified_quant.trunc_target's, which is aimed at eps;
        delta(eps) asks for a fixed fraction of delta, section 5c)."""
        from . import certified_quant as Q

        cd = self.dirs[d]
        eng = None
        if eps is None:
            est = self._float_estimate(d, log_delta)
            if est is None:
                raise CertError("quantised contour: no estimate")
            e, cs = est
        else:
            e = eps
            memo = self.__dict__.setdefault("_eng", {})
            fkey = ("contour failed", d, log_delta)
            if fkey not in memo:
                try:
                    # the engine's contour where it has one (its c and h make short sums; only a guide)
                    ed = self.exact.dirs[d]
                    with ed._deadline():
                        ed.K.state["deadline"] = min(ed.K.state["deadline"], deadline)
                        ct = ed._contour_for(eps, log_delta, ed.K.state["deadline"])
                    if ct.c > 0.0 and ct.h > 0.0 and math.isfinite(ct.c) and math.isfinite(ct.h):
                        eng = (float(ct.c), float(ct.h), [float(sv) for sv, _ in ct.alias_s])
                except Exception:  # noqa: BLE001 - only a guide: the float saddle takes over
                    # (not asked again in this query for this direction: each failure cost 55-75 ms at
                    # sigma 1.004, q 3.45e-5, T 45756, delta 1.48e-10, five of them)
                    memo[fkey] = True
                    eng = None
            cs = eng[0] if eng is not None else Q.saddle_at(cd, eps)
        if not (cs > 0.0 and math.isfinite(cs)):
            raise CertError("quantised contour: no saddle")
        got = Q.choose(cd, d, cs, e, log_delta, eng, below=not getattr(self, "_no_below", False))
        self._below_used = getattr(self, "_below_used", False) or Q.LAST_BELOW[0]
        if got is None:
            raise CertError("quantised contour: no step with negligible aliases")
        c, h, s_alias, n = got
        target = (Q.trunc_target(log_delta, c, e) if trunc_rt is None
                  else log_delta + math.log(trunc_rt) + c * e + math.log(math.pi))
        fresh = n <= 0
        if fresh:  # no previous contour of this (c, h): start where the float integrand has decayed
            # (the float tail estimate without margin, FRESH_N of it: the rigorous count was 0.92-0.97
            # of that estimate at sigma 0.6421-2, q 0.001-0.05, T 10-20; a count too low is grown in
            # steps of 1/8, whose truncation cells were probed already, while each probe pass that
            # ends below the count used is lost)
            n_est = Q.n_estimate(cd, c, h, target + 1.0)
            if n_est is not None and FRESH_N * n_est > REFUSE_EST * Q_MAX_NODES:
                # the rigorous count was 0.92-0.97 of this estimate where it was checked: the truncation search
                # would grow past Q_MAX_NODES and fail after probing tens of thousands of cells (few-participation
                # corner: sigma 0.2719, q 5.62e-5, T 65: 0.19 -> 0.05 s for the same refusal)
                self._q_over = True
                raise CertError(f"quantised contour would need ~{n_est} nodes (float estimate), beyond {Q_MAX_NODES}")
            n = 64 if n_est is None else max(64, min(int(FRESH_N * n_est), Q_MAX_NODES // 2))
            lt_short = None
            if n_est is None:
                # no float estimate (more than N_EST_GROUPS groups, or none found): the fewest of a few
                # short counts whose analytic truncation bound (no probes, no density floor: ~10 ms at
                # 200 groups) meets the level -- with many steps the integrand is gone within a few nodes
                # (200 heterogeneous segments, 55,000 steps: 24 nodes where 64 were enclosed, each node
                # one enclosure per segment); else 64 as before (the rigorous search decides)
                for n_try in FRESH_SHORT:
                    v = cd._log_trunc(c, h, n_try, target, deadline, probe=False, floor=False)
                    if v <= target:
                        n, lt_short = n_try, v
                        break
        else:
            lt_short = None
        # (where a short count met the level, its bound is log_trunc's own first step: not computed again, ~12 ms at
        # 200 segments)
        lt = lt_short if lt_short is not None and SHORT_REUSE else cd.log_trunc(c, h, n, target, deadline)
        try:
            n, lt = _grow_n(cd, c, h, n, lt, target, deadline)
        except CertError as exc:
            if "not met within" in str(exc):
                self._q_over = True
            raise
        if n >= ENGINE_OVER_N:
            self._q_over = True
        K, E = _qnodes(cd, c, h, n, e, log_delta, deadline)
        Q.record(cd, d, log_delta, c, h, n)
        return CertContour(c, h, K, E, lt, 0.0), list(s_alias), e

    def _qslope(self, d: str, cc: CertContour, e: float, lt: float, deadline: float
                ) -> tuple[CertContour, float]:
        """The quantised contour cc (direction d) with its node count grown where its truncation bound
        would make the bracket wider than intended, and eps again by Newton.

        The contour's truncation level (certified_quant.trunc_target) took |d log delta / d eps| to be
        at least c; it is known now (the sum's own derivative at Newton's eps, d log S / d eps): the
        bound T moves each end by about T / (delta |d log S / d eps|), so the level wanted is
        TRUNC_EPS_RTOL eps |d log S / d eps| of delta (clipped as there).  With few participations the
        slope is far below c (q = 0.01, sigma = 1, T = 10: 0.9 against c = 6.7; the bracket was 2.3e-5
        wide and the engine-guided contour answered, 18 -> 44 ms).  Only the node count changes (the
        appended nodes are new, the others cached); the bracket is then checked as always."""
        from . import certified_quant as Q

        _, _, dls = _sums(cc.logk, cc.loge, cc.c, cc.h, e)
        if not (dls < 0.0 and math.isfinite(dls)):
            return cc, e
        rt = min(Q.TRUNC_RTOL, max(Q.TRUNC_RTOL_MIN, Q.TRUNC_EPS_RTOL * max(e, Q.EPS_ABS) * -dls))
        target = lt + math.log(rt) + cc.c * e + math.log(math.pi)
        if cc.log_trunc_base <= target:
            return cc, e
        cd = self.dirs[d]
        n0 = int(cc.logk.shape[0])
        # a first guess from the float tail estimate at the new level (the rigorous search decides)
        n_est = Q.n_estimate(cd, cc.c, cc.h, target + 1.0)
        n = max(n0 + 8, n_est if n_est is not None else n0)
        n = min(n, Q_MAX_NODES)
        n, ltr = _grow_n(cd, cc.c, cc.h, n, cd.log_trunc(cc.c, cc.h, n, target, deadline), target, deadline)
        if n >= ENGINE_OVER_N:
            self._q_over = True
        K, E = _qnodes(cd, cc.c, cc.h, n, e, lt, deadline)
        Q.record(cd, d, lt, cc.c, cc.h, n)
        cc = CertContour(cc.c, cc.h, K, E, ltr, 0.0)
        return cc, _newton_eps(cd, K, E, cc.c, cc.h, e, lt)

    def _qtight(self, d: str, cc: CertContour, e: float, lt: float, deadline: float, cheap_only: bool = False
                ) -> tuple[CertContour, float] | None:
        """The quantised contour cc (direction d) with its nodes enclosed more tightly where their error
        bound alone would make the bracket wider than QUANT_RTOL / 4, and eps again by Newton.

        The node errors E move each end of the eps bracket by about E / (delta |d log S / d eps|).  The
        node tolerance QUANT_NODE_RTOL is relative to G(Re w), so E ~ QUANT_NODE_RTOL x the sum of
        |terms|: where the sum cancels much more than usual (the integrand at the contour ~e^14 above
        delta: q = 0.0019, sigma = 1.32, T = 50, delta = 1e-10, eps = 0.168, where the float saddle
        estimate sits at eps 0.735), E was ~1 % of delta and the bracket 2 % wide.  The tolerance is
        divided by the factor that brings this part to QUANT_RTOL / 8 (at most 1e4: past it the
        sum's own rounding and the kernel's floor dominate); the bracket is checked as always.  None
        where the node errors do not dominate.

        Only a prefix of the nodes where it suffices (2026-12): node k adds e^{loge_k - r0} /
        |z_k (z_k + 1)| (units e^{m}) to E whatever eps, and the first nodes usually carry most of it
        (sigma 0.457, q 1e-5, T 1000, delta 1e-5: 79 % in the first 100 of 11,488).  The shortest prefix
        whose complement carries at most 1/(2f) of E is enclosed at the tolerance divided by 2f (at
        most TIGHT_MAX), the other nodes kept as they are: E then drops about f-fold, as before.  The
        prefix's tight enclosures do not replace the cache entries (those are restored afterwards:
        a later query would append its far nodes at the tight tolerance).  ``cheap_only``: None
        where that prefix exceeds TIGHT_CHEAP_N nodes."""
        if not (e > 0.0):
            return None
        _, le, dls = _sums(cc.logk, cc.loge, cc.c, cc.h, e)
        if not (dls < 0.0 and math.isfinite(le)):
            return None
        from .certified_quant import EPS_ABS

        r_node = 2.0 * math.exp(min(le - lt, 50.0)) / (-dls * max(e, EPS_ABS))
        if not (r_node > 0.25 * QUANT_RTOL):
            return None
        f = min(r_node / (0.125 * QUANT_RTOL), TIGHT_MAX)
        cc2 = self._tighten(d, cc, f, e, lt, deadline, cheap_only)
        if cc2 is None:
            return None
        return cc2, _newton_eps(self.dirs[d], cc2.logk, cc2.loge, cc2.c, cc2.h, e, lt)

    def _tighten(self, d: str, cc: CertContour, f: float, e: float, lt: float, deadline: float,
                 cheap_only: bool = False) -> CertContour | None:
        """The contour cc (direction d) with the prefix of its nodes that carries all but 1/(2f) of the node
        error bound enclosed again at the tolerance divided by 2f (at most TIGHT_MAX; all nodes at f where the
        prefix is all of them): _qtight's re-enclosure, shared by eps(delta) and delta(eps) (section 5c).
        ``cheap_only``: None where that prefix exceeds TIGHT_CHEAP_N nodes."""
        cd = self.dirs[d]
        n = int(cc.logk.shape[0])
        z = cc.c + 1j * cc.h * np.arange(n)
        with np.errstate(over="ignore", invalid="ignore"):
            ev = np.exp(cc.loge - np.max(cc.loge)) / np.abs(z * (z + 1.0))
        ev[0] *= 0.5
        kp = n
        if np.all(np.isfinite(ev)) and ev.sum() > 0.0:
            tail = np.cumsum(ev[::-1])[::-1]  # tail[k]: the nodes k.. (a guide: only which nodes are redone)
            ok = np.nonzero(tail <= tail[0] / (2.0 * f))[0]
            if ok.size:
                kp = min(n, max(256, -(-int(ok[0]) // 256) * 256))
        if cheap_only and kp > TIGHT_CHEAP_N:
            return None
        # (a cached entry is accepted up to 2x looser than asked here, not NODE_SLACK = 100x: the point
        # is a smaller radius)
        if kp >= n:
            K, E = _qnodes(cd, cc.c, cc.h, n, e, lt, deadline, rtol=QUANT_NODE_RTOL / f, slack=2.0)
        else:
            keys = [(g.q, g.mu, cd.direction, cc.c, cc.h) for g in cd.sg]
            saved = {k: _NODES.get(k) for k in keys}
            try:
                Kp, Ep = _qnodes(cd, cc.c, cc.h, kp, e, lt, deadline,
                                 rtol=QUANT_NODE_RTOL / min(2.0 * f, TIGHT_MAX), slack=2.0)
            finally:
                for k, ent in saved.items():
                    if ent is None:
                        _NODES.pop(k, None)
                    else:
                        _NODES[k] = ent
                _NODES_COUNT[0] = sum(int(v[0].shape[0]) for v in _NODES.values())
            # every node's (K~, error bound) pair is an enclosure on its own: any mix of them is one
            K = np.concatenate([Kp, cc.logk[kp:]])
            E = np.concatenate([Ep, cc.loge[kp:]])
        return CertContour(cc.c, cc.h, K, E, cc.log_trunc_base, 0.0)

    def _quant_epsilon(self, delta: float, t0: float, deadline: float) -> Bracket | None:
        """eps(delta) from quantised contours (the engine is not asked): the dominating direction by
        the float estimates, eps by Newton on its certified sum, then the usual bracket (the other
        direction by its Chernoff bound or its own quantised contour).  None where the bracket is
        wider than QUANT_RTOL (the other paths then run)."""
        from . import certified_quant as Q

        lt = math.log(delta)
        hint = None
        use_engine = QUANT_ENGINE_HINT
        if use_engine is None:
            sg = self.dirs["remove"].sg
            use_engine = len(sg) > Q.N_EST_GROUPS or sum(g.q * g.n for g in sg) > FLOAT_HINT_QT
            if use_engine and any(Q.shape_key(self.dirs[d], d, lt) in Q._QREC for d in ("remove", "add")
                                  if d in self.dirs):
                # a quantised contour of this shape (the same segments, any step counts) is on record:
                # the floats guide as well as the engine there (the training loop's later calls; H-T:
                # 300-step replay every 10 steps 177 -> 148 ms, 2,000 steps 383 -> 249 ms)
                use_engine = False
        if use_engine:
            try:
                # the engine's estimate, else floats
                est, first, _, _ = self._engine_epsilon(delta, deadline)
                if est > 0.0 and math.isfinite(est) and first in ("remove", "add"):
                    hint = float(est)
            except Exception:  # noqa: BLE001 - only an estimate: the float estimates below take over
                hint = None
        if hint is None:
            ests = {}
            for d in ("remove", "add"):
                e = self._float_estimate(d, lt)
                ests[d] = e[0] if e is not None else -math.inf
            first = max(ests, key=lambda k: ests[k])
            if not math.isfinite(ests[first]):
                return None
            if ests[first] <= 0.0:
                # both float estimates say eps = 0 (delta(0) at or below the target): the engine-guided
                # contour at eps = 0 settles it (one contour; the quantised one aims at a positive eps:
                # sigma 0.328, q 3.23e-6, T 29558, delta 0.0135 -- two failed quantised contours, 0.54 s,
                # before the engine's answered in 0.35 s)
                self._q_zero = True
                return None
        self._qmode = True
        # the float estimates can rank the directions wrongly (tiny eps): where the bracket of the
        # first is too wide and the other direction had to be certified, the other is tried as the
        # dominating one (its contour is cached by then)
        second = "add" if first == "remove" else "remove"
        q0 = _now()
        w0 = _WORK[0]
        no_eps = 0
        zero_ok: dict[str, bool] = {}
        for d in (first, second, first):
            cc, s_alias, e = self._qcontour(d, lt, deadline, eps=hint)
            e = _newton_eps(self.dirs[d], cc.logk, cc.loge, cc.c, cc.h, e, lt)
            if e > 0.0:
                cc, e = self._qslope(d, cc, e, lt, deadline)
            if not (e > 0.0):
                # no eps > 0 on this direction's certified sum: its upper bound on delta(0) from the same contour
                # (delta_bounds holds at any eps) may show delta(0) <= delta in this direction
                zero_ok[d] = zero_ok.get(d, False) or delta_bounds(self.dirs[d], cc, 0.0, s_alias)[1] <= delta
                if zero_ok.get("remove") and zero_ok.get("add"):
                    # both directions: delta(0) <= delta, and delta(eps) is non-increasing, so eps(delta) = 0
                    # (session 15: sigma 0.328, q 3.23e-6, T 29558, delta 0.0135 -- 0.66 s, a retry and the
                    # engine-guided contour at eps = 0, before; the two quantised contours already show it)
                    return Bracket(0.0, 0.0, {"note": "delta(0) <= target by both directions' quantised contours",
                                              "estimate": 0.0, "direction": first, "quantised_contour": True,
                                              "seconds": time.perf_counter() - t0})
                no_eps += 1
                if no_eps == 3:
                    # no direction's certified sum has an eps > 0 at delta: as where both float estimates say
                    # eps = 0 (_q_zero), the Chernoff bounds at eps = 0 are tried next and the retry at the
                    # saddle's grid point is not (session 15: sigma 0.328, q 3.23e-6, T 29558, delta 0.0135 --
                    # the retry spent 0.25 s on a contour at c 1.68, h 1/16 that gave no eps either, before
                    # the engine-guided contour proved [0, 0])
                    self._q_zero = True
                continue  # no eps on this direction's sum: the other direction is tried
            b = self._bracket(cc, s_alias, d, e, delta, t0, deadline)
            b.info["quantised_contour"] = True
            b = self._keep(b)
            if b.upper > 0.0 and _ewidth(b) <= QUANT_RTOL:
                return b
            # where the node errors dominate the width: the nodes again, tighter (the bracket above is
            # kept, should this run out of time)
            n_cc = int(cc.logk.shape[0])
            tight = self._qtight(d, cc, e, lt, deadline,
                                 cheap_only=n_cc > TIGHT_CHEAP_N and _ewidth(b) <= TIGHT_WIDE)
            if tight is not None and tight[1] > 0.0:
                cc, e = tight
                b = self._bracket(cc, s_alias, d, e, delta, t0, deadline)
                b.info["quantised_contour"] = True
                b.info["tightened_nodes"] = True
                b = self._keep(b)
                if b.upper > 0.0 and _ewidth(b) <= QUANT_RTOL:
                    return b
            if b.info.get("other_direction") != "certified":
                return None
            if (b.upper > 0.0 and _ewidth(b) <= SETTLE_RTOL
                    and ((_WORK[0] - w0 >= SETTLE_IN_LOOP_WORK) if WORK_SETTLE else _now() - q0 >= SETTLE_IN_LOOP)):
                # within issue 9's width (SETTLE_RTOL, half of its 1e-4) already, its nodes tightened where that
                # paid, and the other direction had to be certified: the next step, that direction as the
                # dominating one, is a second quantised contour of thousands of nodes (session 15: sigma 9.631,
                # q 2.75e-4, T 4, delta 1.2e-10 -- 1.05e-5 wide after 80 ms, then 9.2e-6 after 0.45 s)
                b.info["settled"] = f"quantised bracket within SETTLE_RTOL = {SETTLE_RTOL:g}"
                return b
            hint = b.upper  # the other direction set the upper end: its eps is near there
        return None

    def _onejump_epsilon(self, delta: float, t0: float, deadline: float) -> Bracket | None:
        """eps(delta) from the one-large-step enclosure of docs/certified.md section 9 (REMOVE; ADD by its
        Chernoff bound, or beyond its largest loss), None where the floats see no fit (certified_onejump.choose)
        or ADD is not shown below delta.  Both ends verified: an upper end where REMOVE's upper bound is <= delta
        and ADD's Chernoff bound is too, a lower end where REMOVE's lower bound is > delta."""
        from . import certified_onejump as OJ

        cdr = self.dirs["remove"]
        if not OJ.candidate(cdr.sg, cdr.mu2):
            return None
        g = cdr.sg[0]
        sig = [float(m.noise_multiplier) for m, _ in self.groups if float(getattr(m, "sampling_probability", 1.0)) < 1.0]
        if len(sig) != 1:
            return None
        e0 = OJ.float_eps(g.q, g.mu, g.n, delta)
        if e0 is None:
            return None
        got = OJ.choose(g.q, sig[0], g.n, delta, e0, deadline, _now)
        if got is None:
            return None
        oj, lo0, hi0, info0 = got
        lt = math.log(delta)

        def lmid(e: float) -> float:
            lo, hi, _ = oj.delta_bounds(e)
            return math.log(0.5 * (lo + hi)) if lo + hi > 0.0 else -math.inf

        # the point where the bracket's midpoint is delta: secant on log (a guide; both ends are verified)
        ea, fa = e0, lmid(e0) - lt
        eb = e0 * (1.0 + 1e-3)
        fb = lmid(eb) - lt
        for _ in range(8):
            if not (math.isfinite(fa) and math.isfinite(fb)) or fb == fa:
                return None
            ec = eb - fb * (eb - ea) / (fb - fa)
            if not ec > 0.0:
                return None
            ea, fa, eb = eb, fb, ec
            fb = lmid(eb) - lt
            if abs(fb) <= 1e-9 or abs(eb - ea) <= 1e-12 * eb:
                break
            if _now() > deadline:
                raise CertError("one-jump path ran out of time")
        es = eb
        slope = abs((fb - fa) / (eb - ea)) if eb != ea else 0.0
        lo_s, hi_s, info_s = oj.delta_bounds(es)
        if not (slope > 0.0 and lo_s > 0.0):
            return None
        eta = max(0.5 * math.log(hi_s / lo_s) / slope, 1e-15 * es)
        add_ok = [math.inf]
        o_est = self._float_estimate("add", lt)
        c_ref = o_est[1] if o_est is not None and o_est[1] > 0.0 and math.isfinite(o_est[1]) else 1.0

        def upper_ok(e: float) -> bool:
            _, hi, _ = oj.delta_bounds(e)
            if hi > delta:
                return False
            if e >= add_ok[0]:
                return True
            if e >= self.exact.dirs["add"].K.loss_sup or self._chernoff_hi("add", e, c_ref, stop=lt) <= lt:
                add_ok[0] = e
                return True
            raise CertError("one-jump path: ADD not shown below delta")

        def lower_ok(e: float) -> bool:
            return e <= 0.0 or oj.delta_bounds(e)[0] > delta

        def end(ok, sign: float) -> float:
            step, failed = 1.05 * eta, es
            x = es + sign * step
            for _ in range(40):
                if ok(x):
                    break
                if _now() > deadline:
                    raise CertError("one-jump path ran out of time")
                failed, step = x, 2.0 * step
                x = max(0.0, es + sign * step)
            else:
                raise CertError("one-jump path: no end found")
            return _bisect_end(ok, x, failed, 1e-2 * eta, deadline, 6)  # to ~1e-2 of the expected width

        upper = end(upper_ok, 1.0)
        lower = end(lower_ok, -1.0)
        info = {"estimate": es, "direction": "remove", "other_direction": "skipped: its Chernoff bound is below the target",
                "onejump": dict(info_s, x_b=oj.x_b, body_mean=oj.m, body_sd=oj.sd),
                "seconds": time.perf_counter() - t0}
        return self._keep(Bracket(lower, upper, info))

    def _cut_candidate(self, delta: float) -> bool:
        """The cheap filter before _cut_plan's floats: subsampled-Gaussian groups only (at most
        CUT_MAX_GROUPS, sigma >= 0.25), q <= CUT_Q_MAX, at least CUT_QT_MIN expected participations, and
        the wall far below the Gaussian saddle: the loss as a Gaussian of variance v = sum n q^2 (e^{mu^2} - 1)
        has its saddle near eps_G / v (eps_G that Gaussian's eps(delta)), the lognormal tail makes log G(w)
        turn positive past w ~ 1 - 2 log q / mu^2; CUT_WALL_RATIO between them (floats, a filter only)."""
        sg = self.dirs["remove"].sg
        if not (self.dirs["remove"].mu2 == 0.0 and 0 < len(sg) <= CUT_MAX_GROUPS and all(g.mu <= 4.0 for g in sg)
                and max(g.q for g in sg) <= CUT_Q_MAX and sum(g.q * g.n for g in sg) >= CUT_QT_MIN):
            return False
        v = sum(g.n * g.q * g.q * math.expm1(min(g.mu * g.mu, 700.0)) for g in sg)
        wall = min(-2.0 * math.log(g.q) / (g.mu * g.mu) for g in sg)
        m = math.sqrt(v)
        if not (m > 0.0 and math.isfinite(m)):
            return False

        def dg(x: float) -> float:
            return float(ndtr(-x / m + 0.5 * m) - math.exp(x) * ndtr(-x / m - 0.5 * m))

        lo, hi = 0.0, 50.0 * m + 50.0
        if not dg(lo) > delta:
            return False
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if dg(mid) > delta else (lo, mid)
        return hi / v >= CUT_WALL_RATIO * wall

    def _cut_plan(self, delta: float, e: float | None) -> tuple | None:
        """Floats only (docs/certified.md section 8): (x_cut, c, h, s_alias, n0, log cancellation, eps) of
        the conditioned contour where it beats the composition's own by CUT_GAIN nats at eps e (None: the
        float eps of the conditioned sum), else None."""
        cdr = self.dirs["remove"]
        sg = cdr.sg
        if (not CUT_PATH or cdr.mu2 != 0.0 or not sg or len(sg) > CUT_MAX_GROUPS or any(g.mu > 4.0 for g in sg)
                or not (e is None or (e > 0.0 and math.isfinite(e)))):
            return None
        lt = math.log(delta)
        xc = math.nan
        for x in np.arange(4.0, 40.0, CUT_DX):
            lp = float(np.logaddexp.reduce([math.log(g.n) + np.logaddexp(math.log1p(-g.q) + float(log_ndtr(-x)),
                                                                           math.log(g.q) + float(log_ndtr(g.mu - x)))
                                            for g in sg]))
            if lp <= lt + math.log(CUT_TAIL):
                xc = float(x)
                break
        if not math.isfinite(xc):
            return None

        cs = [2.0 ** (j / 4.0) for j in range(0, CUT_C_J + 1)]
        ca = np.array(cs)
        kcs = _k_cut_many(sg, ca + 1.0, xc)
        if e is None:
            e = _cut_eps_float(sg, delta)
            if not (e > 0.0 and math.isfinite(e)):
                return None
        lam_c = [kcs[k] - c * e - math.log(c * (c + 1.0)) - lt for k, c in enumerate(cs)]
        # the smallest abscissa within CUT_LAM_SLACK nats of the least cancellation: the edge term
        # phi(x_cut) (1 + u(x_cut))^{c+1}, which the kernel integrates on the unshifted line, grows with c
        jm = int(np.argmin(lam_c))
        j = next(k for k in range(jm + 1) if lam_c[k] <= lam_c[jm] + CUT_LAM_SLACK)
        # the composition's own cancellation at abscissae up to the one chosen (floats, x up to a mu + 40)
        kfs = _k_cut_many(sg, ca[:j + 1] + 1.0, math.inf)
        lam_f = float(np.min(kfs - ca[:j + 1] * e - np.log(ca[:j + 1] * (ca[:j + 1] + 1.0)) - lt))
        if not (lam_f >= CUT_LAM_MIN and lam_f - lam_c[j] >= CUT_GAIN and lam_c[j] <= CUT_LAM_MAX):
            return None
        c = cs[j]
        lmin = sum(g.n * math.log1p(-g.q) for g in sg)
        ss = np.array([c * 2.0 ** (k / 8.0) for k in range(1, 41)])
        kss = _k_cut_many(sg, ss + 1.0, xc)
        ps = [(float(kss[k] + sv * math.log(sv) - (sv + 1.0) * math.log1p(sv) - sv * e), float(sv))
              for k, sv in enumerate(ss)]
        for k in range(10, -16, -1):
            h = 2.0 ** k
            P = 2.0 * math.pi / h
            if not (e - P <= lmin - 1e-10 * abs(lmin) - 1e-300):
                continue  # (the k < 0 aliases exactly: section 8)
            best = sorted((v - _log_expm1((s - c) * P), s) for v, s in ps)
            if best[0][0] <= lt + math.log(CUT_ALIAS):
                s_alias = [s for _, s in best[:3]]
                break
        else:
            return None
        # the node count's first guess: the tilted variance at c (a second difference of the float K_cut)
        d = 0.05
        k3 = _k_cut_many(sg, np.array([c * (1.0 - d), c, c * (1.0 + d)]) + 1.0, xc)
        var = (k3[2] - 2.0 * k3[1] + k3[0]) / (c * d) ** 2
        umax = math.sqrt(2.0 * (max(lam_c[j], 0.0) + 40.0) / var) if var > 0.0 else 64.0 * h
        n0 = int(min(max(64, umax / h), Q_MAX_NODES // 2))
        # (the ladder's decay rate: the untilted variance of the loss, sum n q^2 (e^{mu^2} - 1); the tilted
        # K_cut'' is carried by the few steps near x_cut, which do not make |e^K| decay like a Gaussian)
        vb = sum(g.n * g.q * g.q * math.expm1(min(g.mu * g.mu, 700.0)) for g in sg)
        return xc, c, h, s_alias, n0, lam_c[j], e, vb

    def _cut_epsilon(self, delta: float, e: float | None, t0: float, deadline: float) -> Bracket | None:
        """eps(delta) from the conditioned contour of docs/certified.md section 8 (REMOVE restricted to
        every step's X <= x_cut: delta_cut <= delta <= delta_cut + tail_hi), the bracket of section 5 with
        the other direction as always; None where the floats see no gain (_cut_plan)."""
        got = self._cut_contour(delta, e, deadline)
        if got is None:
            return None
        cd, cc, s_alias, e, xc = got
        lt = math.log(delta)
        K, E, c, h, n = cc.logk, cc.loge, cc.c, cc.h, int(cc.logk.shape[0])
        e2 = _newton_eps(cd, K, E, c, h, e, lt)
        if not (e2 > 0.0):
            return None
        self._cut_last = (cd, cc, s_alias, e2)
        full = self.dirs["remove"]
        self.dirs["remove"] = cd  # (the bracket's REMOVE checks on the conditioned sums; ADD as always)
        qm = getattr(self, "_qmode", False)
        self._qmode = True
        try:
            b = self._bracket(cc, s_alias, "remove", e2, delta, t0, deadline)
        finally:
            self.dirs["remove"] = full
            self._qmode = qm
        b.info.update(conditioned={"x_cut": xc, "tail_hi": cd.tail_hi, "nodes": n, "c": c, "h": h})
        return self._keep(b)

    def _cut_contour(self, delta: float, e: float | None, deadline: float) -> tuple | None:
        """The conditioned contour of docs/certified.md section 8 planned for delta at eps e (None: the
        float eps of the conditioned sum): (its CutDirection, contour, alias s-values, the eps it was
        planned at, x_cut), or None where the floats see no gain (_cut_plan)."""
        from . import certified_quant as Q

        plan = self._cut_plan(delta, e)
        if plan is None:
            return None
        xc, c, h, s_alias, n0, lam, e, var = plan
        lt = math.log(delta)
        memo = self.__dict__.setdefault("_cutdirs", {})
        cd = memo.get(xc)
        if cd is None:
            cd = memo[xc] = cut_direction(self.groups, xc)
        target = Q.trunc_target(lt, c, e)
        n, ltr = _grow_n(cd, c, h, n0, cd.log_trunc(c, h, n0, target, deadline), target, deadline)
        # node tolerance: the node errors ~ rtol x the integrand's size, e^lam delta at u = 0
        rtol = min(QUANT_NODE_RTOL, max(1e-15, 1e-7 * math.exp(-lam)))
        K = np.empty(n, dtype=np.complex128)
        E = np.empty(n)
        # node k's tolerance loosened by its float weight against the node at u = 0: |e^{K(c + iu)}| decays
        # about like e^{-var u^2 / 2} and 1/|z (z+1)| like (c/|z|)^2 (half the float variance: a guide; each
        # radius enters the error bound as it is, so only the width depends on it), powers of two up to 2^60

        def ladder(us: np.ndarray) -> np.ndarray:
            x = (0.25 * var * us * us + 2.0 * np.log(np.abs(c + 1j * us) / c)) / LOG2_NB
            return np.minimum(np.floor(np.maximum(x, 0.0)), 60.0) * LOG2_NB

        cd.node_rtol, cd.node_slack, cd.node_ladder = rtol, math.log(2.0), ladder
        try:
            for k0 in range(0, n, 256):
                if _now() > deadline:
                    raise CertError("conditioned contour ran out of time")
                k1 = min(n, k0 + 256)
                K[k0:k1], E[k0:k1] = cd.nodes(c, h, k0, k1)
        finally:
            cd.node_slack, cd.node_rtol, cd.node_ladder = math.log(10.0), NODE_RTOL, 0.0
        return cd, CertContour(c, h, K, E, ltr, 0.0), s_alias, e, xc

    def _zero_by_chernoff(self, delta: float, t0: float) -> Bracket | None:
        """[0, 0] where each direction's rigorous Chernoff bound on the payoff at eps = 0 (psi_hi from
        the real enclosures, docs/certified.md section 7) is at most delta: delta(0) = the larger of the
        two directions' delta(0) <= delta, and delta(eps) is non-increasing, so eps(delta) = 0.  The
        s-grid is centred on each direction's float saddle (any s > 0 is valid); None where a direction
        is not shown."""
        lt = math.log(delta)
        for d in ("remove", "add"):
            est = self.__dict__.get("_qest", {}).get((d, lt))
            c_ref = est[1] if est is not None and est[1] > 0.0 and math.isfinite(est[1]) else 1.0
            if not (self._chernoff_hi(d, 0.0, c_ref, stop=lt) <= lt):
                return None
        return Bracket(0.0, 0.0, {"note": "delta(0) <= target by both directions' Chernoff bounds",
                                  "estimate": 0.0, "direction": "remove", "seconds": time.perf_counter() - t0})

    def _fast_epsilon(self, delta: float, t0: float, deadline: float) -> Bracket | None:
        """The last contour of this shape (same mechanisms, other counts), its nodes from the cache:
        eps by Newton on the certified sum, then the usual bracket; None when it is not tight enough
        (the full path then runs).  Any abscissa and step are valid: only the width can suffer."""
        ent = _LAST.get(self._shape())
        if ent is None:
            return None
        d, c, h, n, s_alias, e = ent
        cd = self.dirs[d]
        K, E = cd.nodes(c, h, 0, n)
        lt = math.log(delta)
        e = _newton_eps(cd, K, E, c, h, e, lt)
        if not (e > 0.0):
            return None
        tgt = lt + math.log(TARGET_RTOL * 1e-2) + c * e + math.log(math.pi)
        ltr = cd.log_trunc(c, h, n, tgt)
        if ltr > tgt:
            return None
        cc = CertContour(c, h, K, E, ltr, 0.0)
        b = self._bracket(cc, list(s_alias), d, e, delta, t0, deadline)
        if not (b.upper > 0.0 and b.upper - b.lower <= 1e-8 * b.upper):
            return None  # the full path is ~1e-10 wide: answers of one history stay within ~1e-8
        b.info["reused_contour"] = True
        return b

    def _bracket(self, cc: CertContour, s_alias: list[float], d_est: str, e_ref: float, delta: float,
                 t0: float, deadline: float) -> Bracket:
        """[lower, upper] on eps(delta) around e_ref from the certified contour of direction d_est."""
        lt = math.log(delta)
        order = [d_est] + [d for d in ("remove", "add") if d != d_est]
        lo0, hi0, dls = delta_bounds(self.dirs[d_est], cc, e_ref, s_alias)
        rel = (hi0 - lo0) / max(lo0, 1e-300) if lo0 > 0 else 1e-6
        slope = abs(dls) if dls < 0 else 1.0
        eta = max(2.0 * rel / slope, 8.0 * U_MACH * e_ref, 1e-15)
        other = order[1]
        c_ref = cc.c
        # the other direction's Chernoff grid around its own float saddle where this query has it (any
        # s gives a valid bound; the grid only decides which are tried): around this contour's c it sat
        # far off when the directions were tried the other way round -- q = 0.001, sigma = 1, T = 10:
        # REMOVE's real enclosures at s = 512..6144 (ADD's c = 2048; REMOVE's saddle ~8), 12-52 ms each
        o_est = self.__dict__.get("_qest", {}).get((other, lt))
        if o_est is not None and o_est[1] > 0.0 and math.isfinite(o_est[1]):
            c_ref = o_est[1]
        others: dict[str, Any] = {}

        def upper_ok(e: float) -> bool:
            _, hi, _ = delta_bounds(self.dirs[d_est], cc, e, s_alias)
            if hi > delta:
                return False
            if e >= self.exact.dirs[other].K.loss_sup:
                others[other] = "skipped: eps beyond its largest privacy loss"
                return True
            if self._chernoff_hi(other, e, c_ref, stop=lt) <= lt:
                others[other] = "skipped: its Chernoff bound is below the target"
                return True
            if other not in others or not isinstance(others[other], tuple):
                if getattr(self, "_qmode", False):
                    oc, os_, _ = self._qcontour(other, lt, deadline, eps=e)
                else:
                    oc, os_ = self._contour(other, e, lt, deadline)
                others[other] = (oc, os_)
            oc, os_ = others[other]
            _, ohi, _ = delta_bounds(self.dirs[other], oc, e, os_)
            return ohi <= delta

        def lower_ok(e: float) -> bool:
            if e <= 0.0:
                return True
            lo, _, _ = delta_bounds(self.dirs[d_est], cc, e, s_alias)
            return lo > delta

        # the upper end: eps = 0 first when the estimate is 0
        # both ends: steps growing 4x from the estimate until verified, then a bisection between the
        # last failed and the verified point (a 4x step alone left [0.0972, 0.2623] at sigma = 1e3,
        # q = 0.5, T = 1000, delta = 1e-12, where the other direction needed a longer step)
        # (the ends to 1e-9 of eps, or to 1e-3 of the expected width eta where that is coarser: a quantised
        # bracket ~2e-6 wide took ~12 bisection steps per end to 1e-9, each a certified sum)
        want = max(TARGET_RTOL * 1e-2 * max(e_ref, 1e-300), 1e-3 * eta, 1e-15)
        if e_ref == 0.0 and upper_ok(0.0):
            upper = 0.0
        else:
            step = eta
            failed = e_ref
            upper = e_ref + step
            for _ in range(60):
                if upper_ok(upper):
                    break
                if _now() > deadline:
                    raise CertError("certified eps: the upper end was not reached within the time budget")
                failed = upper
                step *= 4.0
                upper = e_ref + step
            else:
                raise CertError("certified eps: no upper end found")
            upper = _bisect_end(upper_ok, upper, failed, want, deadline, 60)
        step = eta
        failed = e_ref
        lower = max(0.0, e_ref - step)
        for _ in range(60):
            if lower_ok(lower):
                break
            failed = lower
            step *= 4.0
            lower = max(0.0, e_ref - step)
        else:
            lower = 0.0
        lower = _bisect_end(lower_ok, lower, failed, want, deadline, 60)
        info = {"estimate": e_ref, "direction": d_est, "c": cc.c, "h": cc.h, "nodes": int(cc.logk.shape[0]),
                "other_direction": (others.get(other) if isinstance(others.get(other), str) else
                                    ("certified" if other in others else "not needed")),
                "seconds": time.perf_counter() - t0}
        return Bracket(lower, upper, info)
