"""A rigorous enclosure of G(w) = E[(1 + u(X))^w] for the Poisson-subsampled Gaussian (Numba).

``u(x) = q (exp(mu x - mu^2/2) - 1)``, ``X ~ N(0, 1)``, w complex.  :func:`sg_g_enclose` returns
``(log G~, log r)`` with ``|G(w) - G~| <= r``.  The derivation is in docs/certified.md, section 3;
in short, the integral over the (shifted) line ``Im x = y`` is split into

* the two tails outside ``[x_lo, x_hi]``: bounded in closed form (Mills' ratio, Jensen);
* panels where a rigorous bound of the integrand (interval arithmetic over a rectangle, function
  :func:`_rect_log_bound`) times the panel width is below the panel's share of the tolerance:
  skipped, the bound added to ``r``;
* the other panels: 8-point Gauss-Legendre on sub-panels, refined until Trefethen's bound for
  analytic integrands (ATAP Thm 19.3: ``|I - I_8| <= (64/15) M rho^-16 / (rho^2 - 1)`` per unit
  half-width, ``M`` = max of ``|integrand|`` on the Bernstein ellipse ``E_rho``, itself bounded over
  a rectangle containing the ellipse) meets the share;
* floating-point rounding: a first-order budget in the standard model (every operation and libm
  function within 1 ulp), widened by 2^12; see docs/certified.md for what this assumes.

Validity: the rectangle bounds need ``mu |Im x| <= pi/2`` (then ``Re(1 + u) >= 1 - q > 0``, the
principal log is analytic and ``arg(1 + u)`` is monotone in ``Re x`` and ``Im x``); the shift and the
ellipse heights are chosen inside that strip.  ``q < 1``.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

from .mgf import _GW, _GX, _cexpm1, _e2, _log1p_minus, _loss

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
U_MACH = 2.0 ** -53
#: first-order rounding budget: unit roundoff times a safety factor 64 (docs/certified.md)
ROUND = 64.0 * 2.0 ** -53
LOG_GL = math.log(64.0 / 15.0)
X_LO = -14.0
X_PAD = 14.0


@njit(cache=True)
def _log_1mq_qe(r: float, q: float, logq: float, l1q: float) -> float:
    """log(1 - q + q e^r) for real r (no overflow)."""
    if r == -math.inf:
        return l1q
    if r + logq > 0.0:
        return r + logq + math.log1p(math.exp(l1q - logq - r))
    return math.log1p(q * math.expm1(r))


@njit(cache=True)
def _log_mills(x: float) -> float:
    """log of an upper bound of P(N(0,1) > x) for x > 0: phi(x) / x."""
    return -0.5 * x * x - LOG_SQRT_2PI - math.log(x)


@njit(cache=True)
def _argf(r: float, th: float, q: float, logq: float, l1q: float) -> float:
    """arg(1 - q + q e^{r + i th}) for |th| <= pi/2."""
    return math.atan2(math.sin(th), math.exp(l1q - logq - r) + math.cos(th))


@njit(cache=True)
def _rect_log_g(q: float, mu: float, logq: float, l1q: float, w: complex,
                t0: float, t1: float, y0: float, y1: float, fform: bool) -> float:
    """log of an upper bound of |g(x)| over the rectangle [t0, t1] x [y0, y1] (no Gaussian factor).

    g = f_w(u) = (1+u)^w - 1 - w u (``fform``) or (1+u)^w.  Needs mu max|y| <= pi/2; t0 may be -inf.
    """
    a = w.real
    b = w.imag
    r0 = mu * t0 - 0.5 * mu * mu
    r1 = mu * t1 - 0.5 * mu * mu
    th0 = mu * y0
    th1 = mu * y1
    thm = max(abs(th0), abs(th1))
    cm = math.cos(thm)
    # log|1+u|: above by |1+u| <= 1 - q + q e^{r1}; below by Re(1+u) >= 1 - q + q e^{r0} cos(thm)
    lhi = _log_1mq_qe(r1, q, logq, l1q)
    if cm > 0.0 and r0 > -math.inf:
        llo = _log_1mq_qe(r0 + math.log(cm), q, logq, l1q)
    else:
        llo = l1q
    # arg(1+u) is increasing in th and, for th > 0 (< 0), increasing (decreasing) in r
    if r0 == -math.inf:
        amax = max(0.0, _argf(r1, th1, q, logq, l1q))
        amin = min(0.0, _argf(r1, th0, q, logq, l1q))
    else:
        amax = max(_argf(r0, th1, q, logq, l1q), _argf(r1, th1, q, logq, l1q))
        amin = min(_argf(r0, th0, q, logq, l1q), _argf(r1, th0, q, logq, l1q))
    re_wl = max(a * llo, a * lhi) + max(-b * amin, -b * amax)
    re_wl += 1e-12 * (abs(re_wl) + 1.0)  # margin for the rounding of this bound itself
    if not fform:
        return re_wl
    aw = abs(w)
    # |u| <= q |e^z - 1|; |e^z - 1|^2 = rho^2 - 2 rho cos(th) + 1, largest at an end of the rho range
    if r1 > 300.0:
        return max(re_wl, 0.0) + math.log(3.0) + max(0.0, math.log(aw + 1.0) + logq + r1)
    rho1 = math.exp(r1)
    e1 = rho1 * rho1 - 2.0 * rho1 * cm + 1.0
    if r0 > -math.inf:
        rho0 = math.exp(r0)
        e0 = rho0 * rho0 - 2.0 * rho0 * cm + 1.0
    else:
        e0 = 1.0
    um = q * math.sqrt(max(e0, e1, 0.0)) * (1.0 + 1e-12)
    # generic: |f| <= |(1+u)^w| + 1 + |w| |u|
    gen = max(re_wl, math.log1p(aw * um)) + math.log(2.0)
    if um <= 0.5 and um > 0.0:
        # |log1p(u) - u| <= |u|^2, |log1p(u)| <= 2 |u|, |e2(s)| <= |s|^2 e^|s| / 2:
        # |f| <= |w| |u|^2 + 2 |w|^2 |u|^2 e^{2 |w| |u|}
        small = 2.0 * math.log(um) + math.log(aw + 2.0 * aw * aw * math.exp(min(2.0 * aw * um, 700.0)))
        small += 1e-12 * (abs(small) + 1.0)
        return min(gen, small)
    return gen


@njit(cache=True)
def _log_phi_max(t0: float, t1: float, y0: float, y1: float) -> float:
    """max over the rectangle of log|phi(t + i y)| = -(t^2 - y^2)/2 - log sqrt(2 pi)."""
    if t0 <= 0.0 <= t1:
        tm = 0.0
    else:
        tm = min(t0 * t0, t1 * t1)
    return -0.5 * (tm - max(y0 * y0, y1 * y1)) - LOG_SQRT_2PI


@njit(cache=True)
def _lae(a: float, b: float) -> float:
    """log(e^a + e^b)."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


@njit(cache=True)
def _tails(q: float, mu: float, logq: float, l1q: float, w: complex, y: float,
           x_lo: float, x_hi: float, fform: bool) -> float:
    """log of a bound on the integral of |phi g| along Im x = y outside [x_lo, x_hi]."""
    a = w.real
    aw = abs(w)
    ey = 0.5 * y * y  # |phi(x + iy)| = phi(x) e^{y^2/2}
    # left: sup |g| over (-inf, x_lo] times P(X < x_lo)
    left = _log_mills(-x_lo) + ey + _rect_log_g(q, mu, logq, l1q, w, -math.inf, x_lo, y, y, fform)
    # right: |(1+u)^w| <= |1+u|^a (the shift's sign makes exp(-Im(w) arg(1+u)) <= 1);
    # a >= 0: |1+u| <= 1 - q + q e^v, whose log l(x) has slope <= mu, so
    #         |1+u|^a <= e^{a l(x_hi) + a mu (x - x_hi)} and
    #         int_{x_hi} phi(x) e^{a mu (x - x_hi)} = e^{-a mu x_hi + a^2 mu^2/2} P(X > x_hi - a mu);
    # a < 0:  |1+u|^a <= (1-q)^a (Re(1+u) >= 1-q)
    if a >= 0.0:
        lxh = _log_1mq_qe(mu * x_hi - 0.5 * mu * mu, q, logq, l1q)
        r = a * lxh - a * mu * x_hi + 0.5 * a * a * mu * mu + _log_mills(x_hi - a * mu)
        r += 1e-12 * (abs(a * lxh) + abs(a * mu * x_hi) + 0.5 * a * a * mu * mu)
    else:
        # a < 0: Re(1+u) >= 1 - q + q e^{v(x_hi)} cos(mu y) on [x_hi, inf) (increasing in x), so
        # |1+u|^a <= (1 - q + q e^{v(x_hi)} cos(mu y))^a there (not merely (1-q)^a)
        cy = math.cos(mu * abs(y))
        lre = _log_1mq_qe(mu * x_hi - 0.5 * mu * mu + math.log(cy), q, logq, l1q) if cy > 0.0 else l1q
        r = a * lre + _log_mills(x_hi)
        r += 1e-12 * (abs(a * lre) + 1.0)
    if fform:
        # + 1 + |w| |u|, |u| <= q (e^v + 1)
        r = _lae(r, _log_mills(x_hi) + math.log1p(aw * q))
        if aw > 0.0:
            r = _lae(r, math.log(aw) + logq + _log_mills(x_hi - mu))
    right = r + ey + math.log(2.0)
    return _lae(left, right)


@njit(cache=True)
def _rescale(key: float, sc: float, acc: complex, mags: float, sabs: float):
    """The running sums re-expressed in units of e^key when the new term's log-magnitude key exceeds sc."""
    if key > sc:
        fac = math.exp(sc - key) if sc > -math.inf else 0.0
        return key, acc * fac, mags * fac, sabs * fac
    return sc, acc, mags, sabs


@njit(cache=True)
def sg_g_enclose(q: float, mu: float, w: complex, log_tol: float, fform: bool):
    lg, lr, ff, parts = sg_g_enclose_parts(q, mu, w, log_tol, fform)
    if ff and not lr <= log_tol + 2.3:
        # the f-form's rectangle bounds can be far too loose (mu = 20: r ~ e^244 where the direct form
        # gives e^-25); both are enclosures of the same G: keep the smaller radius
        lg2, lr2, ff2, parts2 = sg_g_enclose_parts(q, mu, w, log_tol, False)
        if lr2 < lr or not lr == lr:
            return lg2, lr2, ff2
    return lg, lr, ff


@njit(cache=True)
def sg_g_enclose_parts(q: float, mu: float, w: complex, log_tol: float, fform: bool):
    """(log G~, log r, used f-form): |G(w) - G~| <= r, aiming at r <= exp(log_tol).

    ``fform``: compute G - 1 = E[f_w(u)] (no cancellation where G is near 1); otherwise G directly
    (log-scaled).  The f-form is abandoned where q e^{mu x - mu^2/2} would overflow in range.
    """
    # logs of the error parts (tails, skipped panels, Gauss-Legendre, rounding + underflow): accumulated
    # in log space, so that no part can underflow against another
    parts = np.full(4, -math.inf)
    if w == 0.0:
        return 0.0j, -math.inf, fform, parts
    logq = math.log(q)
    l1q = math.log1p(-q)
    a = w.real
    b = w.imag
    y = 0.0
    if abs(b) * mu > 1.0:
        y = min(0.3 * math.pi / mu, 3.0, 0.25 + 0.25 * abs(b) * mu)
        if b < 0.0:
            y = -y
    bmax = min(0.5 * math.pi / mu - abs(y), 2.0)
    x_lo = X_LO
    if a < 0.0:
        # the left tail is bounded with |1+u|^a <= (1-q)^a: start the panels where the Gaussian mass
        # below them outweighs that factor (a = -1000, q = 0.5 needs x_lo ~ -39)
        x_lo = min(X_LO, -math.sqrt(2.0 * (a * l1q + 80.0)))
    x_hi = max(X_PAD, mu + X_PAD)
    if a > 0.0:
        x_hi = max(x_hi, a * mu + X_PAD)
    if fform and mu * x_hi - 0.5 * mu * mu + logq > 600.0:
        fform = False
    pw = min(1.0, 0.5 * (math.pi / mu - abs(y)))
    npan = int(math.ceil((x_hi - x_lo) / pw))
    pw = (x_hi - x_lo) / npan
    lpw = math.log(pw)
    lb = np.empty(npan)
    for i in range(npan):
        t0 = x_lo + i * pw
        lb[i] = (_log_phi_max(t0, t0 + pw, y, y)
                 + _rect_log_g(q, mu, logq, l1q, w, t0, t0 + pw, y, y, fform) + lpw)
    parts[0] = _tails(q, mu, logq, l1q, w, y, x_lo, x_hi, fform)
    share = log_tol - math.log(2.0 * npan + 2.0)
    # the sum is kept scaled by e^-sc, sc the largest term's log-magnitude so far (rescaled when a
    # larger one comes): the largest term is O(1), so only terms negligible against it can underflow
    sc = -math.inf
    acc = 0.0j
    mags = 0.0
    sabs = 0.0
    nterms = 0
    lsub = np.empty(1024)
    for i in range(npan):
        t0 = x_lo + i * pw
        if lb[i] <= share:
            parts[1] = _lae(parts[1], lb[i])
            continue
        nsub = 1
        tot = math.inf
        while True:
            hw = 0.5 * pw / nsub
            for s in range(nsub):
                cen = t0 + (2 * s + 1) * hw
                best = math.inf
                for frac in (1.0, 0.5, 0.25, 0.1):
                    B = frac * bmax
                    rat = B / hw
                    rho = rat + math.sqrt(rat * rat + 1.0)
                    A = 0.5 * hw * (rho + 1.0 / rho)
                    lm = (_log_phi_max(cen - A, cen + A, y - B, y + B)
                          + _rect_log_g(q, mu, logq, l1q, w, cen - A, cen + A, y - B, y + B, fform))
                    le = LOG_GL + lm + math.log(hw) - 16.0 * math.log(rho) - math.log(rho * rho - 1.0)
                    best = min(best, le)
                lsub[s] = best
            m = lsub[:nsub].max()
            tot = m + math.log(np.exp(lsub[:nsub] - m).sum())
            if tot <= share or nsub >= 512:
                break
            nsub *= 2
        parts[2] = _lae(parts[2], tot)
        hw = 0.5 * pw / nsub
        for s in range(nsub):
            cen = t0 + (2 * s + 1) * hw
            for k in range(8):
                xc = complex(cen + hw * _GX[k], y)
                wt = hw * _GW[k]
                nterms += 1
                if fform:
                    z = mu * xc - 0.5 * mu * mu
                    ell, u, lu = _loss(xc, q, mu, logq)
                    if u == 0.0j and lu > -745.0:
                        u = q * _cexpm1(z)
                    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
                    wl = w * ell
                    p1 = w * _log1p_minus(u, ell)
                    p2 = _e2(wl)
                    key = lphi.real + math.log(abs(p1) + abs(p2) + 1e-300)
                    sc, acc, mags, sabs = _rescale(key, sc, acc, mags, sabs)
                    pre = wt * math.exp(lphi.real - sc)
                    acc += pre * cmath.exp(complex(0.0, lphi.imag)) * (p1 + p2)
                    # rounding: each piece relative to its own size where it is a series, else to the
                    # sizes of the two quantities subtracted; plus the sensitivity of f to the
                    # evaluation point, |f'(u)| q |e^z| (|f'(u)| = |w| |(1+u)^(w-1) - 1|)
                    au = abs(u)
                    al = abs(ell)
                    awl = abs(wl)
                    m1 = abs(p1) if au < 0.01 else abs(w) * (al + au)
                    m2 = abs(p2) if awl < 0.02 else abs(_cexpm1(wl)) + awl
                    aw1 = abs(w - 1.0)
                    s1 = aw1 * al * math.exp(min(aw1 * al, 700.0))
                    s2 = math.exp(min(((w - 1.0) * ell).real, 700.0)) + 1.0
                    sens = abs(w) * min(s1, s2) * q * math.exp(min(z.real, 700.0))
                    # z = mu x - mu^2/2 carries an absolute error <= 2 u (mu |x| + mu^2): a shift of the
                    # evaluation point, |d f / d z| = sens; ell's relative error moves w ell by u |w ell|
                    mags += pre * (8.0 * (m1 + m2) * (1.0 + awl) + 2.0 * sens * (mu * abs(xc.real) + mu * mu))
                    sabs += pre * (m1 + m2)
                else:
                    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
                    ell, u, lu = _loss(xc, q, mu, logq)
                    key = lphi.real + (w * ell).real
                    sc, acc, mags, sabs = _rescale(key, sc, acc, mags, sabs)
                    t = wt * cmath.exp(lphi + w * ell - sc)
                    acc += t
                    # exp of an exponent with absolute error <= 4 u (|w ell| + |x|^2 + mu |w| (|x| + mu))
                    mags += abs(t) * (8.0 + 4.0 * (abs(w * ell) + abs(xc) ** 2 + mu * abs(w) * (abs(xc) + mu)))
                    sabs += abs(t)
    if nterms > 0:
        # rounding, and the terms that underflowed against e^sc (each below 2^-1074 e^sc)
        rnd = ROUND * mags + (nterms + 8) * U_MACH * sabs + nterms * 5e-324
        parts[3] = sc + math.log(rnd) if rnd > 0.0 else -math.inf
    lerr = -math.inf
    for k in range(4):
        lerr = _lae(lerr, parts[k])
    if not (lerr == lerr):  # NaN: no enclosure
        lerr = math.inf
    lerr += 1e-10
    if fform:
        F = acc * math.exp(sc) if nterms > 0 else 0.0j  # G~ = 1 + F~; sc is small in the f-form
        if not (abs(F) < math.inf):
            return complex(math.nan, 0.0), math.inf, True, parts
        lg = cmath.log(1.0 + F) if abs(F) >= 0.5 else _clog1p_local(F)
        return lg, lerr, True, parts
    if acc == 0.0:
        return complex(-math.inf, 0.0), lerr, False, parts
    return sc + cmath.log(acc), lerr, False, parts


@njit(cache=True)
def _clog1p_local(u: complex) -> complex:
    a = u.real
    b = u.imag
    return complex(0.5 * math.log1p(2.0 * a + a * a + b * b), math.atan2(b, 1.0 + a))


@njit(cache=True)
def sg_g_enclose_many(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool):
    n = w.shape[0]
    lg = np.empty(n, dtype=np.complex128)
    lr = np.empty(n)
    for i in range(n):
        g, r, _ = sg_g_enclose(q, mu, w[i], log_tol, fform)
        lg[i] = g
        lr[i] = r
    return lg, lr
