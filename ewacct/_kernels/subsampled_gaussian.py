"""Tilted cumulants of the Poisson-subsampled Gaussian privacy-loss random variable.

The PLRV of one DP-SGD step (remove direction) is ``l(x) = log(1 - q + q exp(mu x - mu^2/2))``
with ``x ~ N(0, 1)`` under the null and ``mu = 1 / noise_multiplier``.  For a tilt ``t`` the
kernel returns the cumulant generating function ``K(t) = log E_null[exp(t l)]`` and its
derivatives ``K^{(j)}(t)``, which are the cumulants of ``l`` under the exponentially tilted law.
``t = 0`` gives the null cumulants and ``t = 1`` the alternative's (tilting identity).

Numerics (see docs/math.md):
  * composite 16-point Gauss-Legendre panels of width ``min(1, 1/mu)`` over the region where the
    tilted log-weight is within e^-60 of its maximum (found by a coarse scan);
  * ``l`` itself via ``log1p(u)``, ``u = q expm1(z)``, whenever ``log u < 30`` (both signs of z), and
    ``log u + log1p(1/u)`` above: no cancellation even when ``q e^z`` is small;
  * the tilted mean uses the exact identity ``E_null[W] = 0`` (``W = e^z - 1``) to cancel the
    O(q) part analytically, so ``K'(t)`` keeps its relative accuracy when it is O(q^2);
  * ``K(t)`` is recomputed as ``log1p(E[(1+u)^t - 1 - t u])`` when it is small, for the same reason;
  * central moments in a second pass, then cumulants by the moment-cumulant recursion.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .special import GL_W, GL_X, LOG_SQRT_2PI

MAX_ORDER = 8


@njit(cache=True)
def _log1p_minus_u(u: float, ell: float) -> float:
    """r = log1p(u) - u; by its alternating series for |u| < 1e-2 (16 digits), else from ell = log1p(u)."""
    if abs(u) >= 1e-2:
        return ell - u
    s = 0.0
    p = u * u
    for k in range(2, 11):
        s += (-p / k) if (k % 2 == 0) else (p / k)
        p *= u
    return s


@njit(cache=True)
def _ell_u_r(x: float, q: float, mu: float):
    """Return (l, u, r, log|u|, big) at x: l = PLRV, u = q (e^z - 1), r = l - u."""
    z = mu * x - 0.5 * mu * mu
    if z <= 0.0:
        w = math.expm1(z)
        u = q * w
        ell = math.log1p(u)
        r = _log1p_minus_u(u, ell)
        logabs_u = math.log(abs(u)) if u != 0.0 else -math.inf
        return ell, u, r, logabs_u, False
    # z > 0: u = q (e^z - 1) > 0. l = log1p(u) has no cancellation for any u (the form
    # z + log(q + (1-q) e^-z) cancels when q e^z is small: at q = 1e-9 it lost 7 digits).
    logu = math.log(q) + z + math.log1p(-math.exp(-z))
    if logu < 30.0:
        u = q * math.expm1(z) if z < 700.0 else math.exp(logu)
        ell = math.log1p(u)
        r = _log1p_minus_u(u, ell)
        return ell, u, r, logu, False
    # u is huge (l >= 30): l = log u + log1p(1/u), no cancellation; keep u in log space (r ~ -u)
    ell = logu + math.log1p(math.exp(-logu))
    return ell, math.inf, -math.inf, logu, True


@njit(cache=True)
def _pow1p_m1_lin(u: float, t: float) -> float:
    """(1 + u)^t - 1 - t u, accurate for small u."""
    if abs(u) < 1e-2:
        c = t
        p = u
        s = 0.0
        for k in range(2, 14):
            c *= (t - k + 1.0) / k
            p *= u
            s += c * p
        return s
    return math.expm1(t * math.log1p(u)) - t * u


@njit(cache=True)
def _gaussian_tilted(mu: float, t: float, nmax: int, out: np.ndarray) -> None:
    m2 = mu * mu
    out[0] = 0.5 * t * (t - 1.0) * m2
    out[1] = (t - 0.5) * m2
    out[2] = m2
    for j in range(3, nmax + 1):
        out[j] = 0.0


@njit(cache=True)
def _g(x: float, q: float, mu: float, t: float) -> float:
    return t * _ell_u_r(x, q, mu)[0] - 0.5 * x * x


@njit(cache=True)
def _walk(x0: float, q: float, mu: float, t: float, gref: float, direction: float) -> float:
    """Step from x0 in steps of 0.5 until the log-weight is 60 below gref (at most 100000 steps)."""
    x = x0
    for _ in range(100000):
        x += 0.5 * direction
        if _g(x, q, mu, t) < gref - 60.0:
            return x
    return x


@njit(cache=True)
def _domain(q: float, mu: float, t: float):
    """Interval outside which the tilted weight ``exp(t l(x) - x^2/2)`` is below e^-60 of its peak.

    For t <= 0 the log-weight is strictly concave (l is convex), so its mode is found by bisection
    on the derivative ``t l'(x) - x``; for t > 0 it may have two modes (near 0 and near t mu), and
    both are located on a coarse grid.
    """
    if t <= 0.0:
        a = min(0.0, t * mu) - 1.0
        b = 1.0
        for _ in range(200):
            m = 0.5 * (a + b)
            z = mu * m - 0.5 * mu * mu
            # l'(x) = mu p, p = q e^z / (1 - q + q e^z)
            if z > 0.0:
                pz = q / (q + (1.0 - q) * math.exp(-z))
            else:
                ez = math.exp(z)
                pz = q * ez / (1.0 - q + q * ez)
            if t * mu * pz - m > 0.0:
                a = m
            else:
                b = m
            if b - a < 1e-9:
                break
        mode = 0.5 * (a + b)
        gmax = _g(mode, q, mu, t)
        return _walk(mode, q, mu, t, gmax, -1.0) - 1.0, _walk(mode, q, mu, t, gmax, 1.0) + 1.0, gmax
    xa = -12.0
    xb = t * mu + mu + 12.0
    step = 0.5
    n = int((xb - xa) / step) + 1
    gmax = -math.inf
    imax = 0
    for i in range(n):
        gi = _g(xa + i * step, q, mu, t)
        if gi > gmax:
            gmax = gi
            imax = i
    lo = xb
    hi = xa
    for i in range(n):
        x = xa + i * step
        if _g(x, q, mu, t) > gmax - 60.0:
            lo = min(lo, x)
            hi = max(hi, x)
    lo = _walk(lo, q, mu, t, gmax, -1.0)
    hi = _walk(hi, q, mu, t, gmax, 1.0)
    return lo - 1.0, hi + 1.0, gmax


@njit(cache=True)
def _h(x: float, q: float, mu: float, t: float, nmax: int) -> float:
    """Log of the integrand of the nmax-th moment, ``t l - x^2/2 + nmax log|l|`` (up to constants)."""
    ell = _ell_u_r(x, q, mu)[0]
    return t * ell - 0.5 * x * x + nmax * math.log(abs(ell) + 1e-300)


@njit(cache=True)
def _extend_for_moments(q: float, mu: float, t: float, nmax: int, lo: float, hi: float):
    """Widen [lo, hi] until the nmax-th moment's integrand, not only the weight, is e^-60 of its peak.

    The weight alone is the wrong criterion for the high moments when l grows like q e^{mu x} (tiny q):
    |l|^6 moves the sixth moment's mass about 6 mu to the right, and truncating at the weight's
    e^-60 point cost 1e-9 relative in kappa_6 at q = 1e-7, sigma = 1.
    """
    step = 0.5
    n = int((hi - lo) / step) + 1
    hmax = -math.inf
    for i in range(n):
        hmax = max(hmax, _h(lo + i * step, q, mu, t, nmax))
    x = hi
    for _ in range(100000):
        if _h(x, q, mu, t, nmax) < hmax - 60.0 and x - hi > 1.0:
            break
        x += step
    new_hi = x
    x = lo
    for _ in range(100000):
        if _h(x, q, mu, t, nmax) < hmax - 60.0 and lo - x > 1.0:
            break
        x -= step
    return x, new_hi


@njit(cache=True)
def sg_tilted_cumulants(q: float, mu: float, t: float, nmax: int, out: np.ndarray) -> None:
    """Fill out[0] = K(t), out[1] = K'(t), out[j] = K^{(j)}(t) for j = 2..nmax (nmax <= 8)."""
    if q >= 1.0:
        _gaussian_tilted(mu, t, nmax, out)
        return
    lo, hi, gmax = _domain(q, mu, t)
    if nmax >= 2:
        lo, hi = _extend_for_moments(q, mu, t, nmax, lo, hi)
    # the mean and the small-K correction subtract E_null[u] = 0 node by node; that identity holds on
    # the integration range only if the range also holds the mass of u phi = q (phi(x - mu) - phi(x))
    # (peaks at 0 and mu) down to e^-60 of the tilted peak. For mu > ~10 (sigma < 0.1) the weight's own
    # range misses x ~ mu and the null mean came out O(q) wrong.
    room = math.log(q) - gmax + 60.0
    if room > 0.0:
        d = math.sqrt(2.0 * room) + 1.0
        lo = min(lo, -d)
        hi = max(hi, mu + d)
    # panel width: the Gaussian factor is resolved to machine precision by GL16 on width 1; the
    # PLRV's complex singularity sits pi/mu off the real axis, so width 1/mu keeps the same margin.
    h = min(1.0, 1.0 / mu)
    npan = int(math.ceil((hi - lo) / h))
    h = (hi - lo) / npan
    half = 0.5 * h
    nnode = GL_X.shape[0]
    n = npan * nnode
    ells = np.empty(n)
    wts = np.empty(n)
    # pass 1: normaliser Z (tilted mass, offset by gmax), mean numerator, small-K correction
    Z = 0.0
    smean = 0.0
    mm1 = 0.0
    i = 0
    for p in range(npan):
        c = lo + (p + 0.5) * h
        for k in range(nnode):
            x = c + half * GL_X[k]
            ell, u, r, logu, big = _ell_u_r(x, q, mu)
            lb = math.log(half * GL_W[k]) - 0.5 * x * x - LOG_SQRT_2PI
            tl = t * ell
            wt = math.exp(lb + tl - gmax)
            ells[i] = ell
            wts[i] = wt
            i += 1
            Z += wt
            # tilted mean numerator: E[e^{tl} l] = E[e^{tl} l - u] because E_null[u] = 0 exactly.
            # For |u| < 1 the point value (t - 1/2) u^2 + ... is formed without cancellation as
            # expm1(t l) u + e^{t l} r; for larger u the plain form has no cancellation.
            if big:
                smean += wt * ell - math.exp(lb + logu - gmax)
            elif abs(u) < 1.0:
                if tl < 1.0:
                    smean += math.exp(lb - gmax) * math.expm1(tl) * u + wt * r
                else:
                    smean += wt * (-math.expm1(-tl)) * u + wt * r
                mm1 += math.exp(lb) * _pow1p_m1_lin(u, t)
            else:
                smean += wt * ell - math.exp(lb - gmax) * u
                mm1 += math.exp(lb) * _pow1p_m1_lin(u, t)
    K = gmax + math.log(Z)
    if abs(K) < 0.1 and math.isfinite(mm1) and mm1 > -1.0:
        K = math.log1p(mm1)
    mean = smean / Z
    # pass 2: central moments under the tilted law
    cm = np.zeros(MAX_ORDER + 1)
    invZ = 1.0 / Z
    for i in range(n):
        d = ells[i] - mean
        pw = wts[i] * invZ * d
        for j in range(2, nmax + 1):
            pw *= d
            cm[j] += pw
    out[0] = K
    out[1] = mean
    cumulants_from_central(cm, nmax, out)


@njit(cache=True)
def cumulants_from_central(cm: np.ndarray, nmax: int, out: np.ndarray) -> None:
    """out[j] = kappa_j (j = 2..nmax) from central moments cm[j] (cm[0] = 1, cm[1] = 0 implied)."""
    mom = np.zeros(MAX_ORDER + 1)
    mom[0] = 1.0
    for j in range(2, nmax + 1):
        mom[j] = cm[j]
    kap = np.zeros(MAX_ORDER + 1)
    for n in range(2, nmax + 1):
        s = mom[n]
        binom = 1.0  # C(n-1, k-1) for k = 1 .. n-1
        for k in range(1, n):
            if k > 1:
                binom = binom * (n - k + 1) / (k - 1)
            if k >= 2:
                s -= binom * kap[k] * mom[n - k]
        kap[n] = s
        out[n] = s
