"""Complex log-MGF of the Poisson-subsampled Gaussian privacy loss (Numba).

For ``x ~ N(0, 1)``, ``mu = 1/sigma`` and ``u(x) = q (exp(mu x - mu^2/2) - 1)`` the one-step loss in
the REMOVE direction is ``l(x) = log1p(u(x))``, and every direction's log-MGF is a value of

    G(w) = E[(1 + u(X))^w] = E[exp(w l(X))],      w complex,

namely ``log E_P1[exp(z l)] = log G(z + 1)`` (REMOVE, upper measure P1) and
``log E_P0[exp(-z l)] = log G(-z)`` (ADD, upper measure P0).

Numerics (docs/math.md, "The exact engine"):

* Cancellation.  ``E[u] = 0`` exactly, so ``G(w) - 1 = E[f_w(u)]`` with
  ``f_w(u) = (1+u)^w - 1 - w u = w (log1p(u) - u) + e2(w log1p(u))``, ``e2(L) = e^L - 1 - L``;
  both pieces are evaluated by series when small.  ``log G = log1p(G - 1)`` then keeps its relative
  accuracy when it is O(q^2) (q down to 1e-9).  When ``G`` is large the sum is formed in log space.
* Oscillation.  For large ``|Im w|`` the integrand oscillates where ``l`` varies.  ``l`` is analytic
  in the strip ``|Im x| < pi/mu`` (its branch points sit at ``Im x = +-pi/mu``), so the x-line is
  shifted to ``x + i y`` (Cauchy; the Gaussian factor makes the ends vanish).  With
  ``sign(y) = sign(Im w)`` the factor ``|exp(i Im(w) l)|`` becomes ``exp(-|Im w| |y| l'(x))``: the
  oscillating region is damped exponentially and the quadrature cost no longer grows with |w|.
* Quadrature: composite 8-point Gauss-Legendre on panels of width <= 1 and <= 0.55 times the
  distance to the branch points (Bernstein-ellipse parameter >= 7.4: error <= 1e-14), restricted to where the integrand's log-magnitude is within 40 of its
  maximum (scanned once at the panel edges), each panel split further by its phase variation.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)

# 8-point Gauss-Legendre on [-1, 1], from 30-digit values (mpmath: the roots of P_8 by findroot at 50 digits,
# w = 2 / ((1 - x^2) P_8'(x)^2)), so that each double is the correctly rounded value (the earlier 16-digit
# literals left three weights 1-3 ulp off, defect D4; tests/test_kernels.py checks them against mpmath)
_GX_POS = (0.183434642495649804939476142360, 0.525532409916328985817739049189,
           0.796666477413626739591553936476, 0.960289856497536231683560868569)
_GW_POS = (0.362683783378361982965150449277, 0.313706645877887287337962201987,
           0.222381034453374470544355994426, 0.101228536290376259152531354310)
_GX = np.array([-x for x in _GX_POS[::-1]] + list(_GX_POS))
_GW = np.array(list(_GW_POS[::-1]) + list(_GW_POS))

_FACT = np.array([1.0, 1.0, 2.0, 6.0, 24.0, 120.0, 720.0, 5040.0, 40320.0])

#: integrand magnitudes below exp(-CUT) times the largest are not integrated
CUT = 40.0
#: the phase of exp(w l) is resolved where its magnitude is within exp(-CUT_OSC) of the largest
CUT_OSC = 30.0


@njit(cache=True)
def _cexpm1(z: complex) -> complex:
    """exp(z) - 1 without cancellation for small |z|."""
    x = z.real
    y = z.imag
    if abs(x) < 0.5 and abs(y) < 0.5:
        s = math.sin(0.5 * y)
        return complex(math.expm1(x) * math.cos(y) - 2.0 * s * s, math.exp(x) * math.sin(y))
    return cmath.exp(z) - 1.0


@njit(cache=True)
def _clog1p(u: complex) -> complex:
    """log(1 + u) without cancellation for small |u| (principal branch)."""
    a = u.real
    b = u.imag
    if abs(a) < 0.5 and abs(b) < 0.5:
        return complex(0.5 * math.log1p(2.0 * a + a * a + b * b), math.atan2(b, 1.0 + a))
    return cmath.log(1.0 + u)


@njit(cache=True)
def _log1p_minus(u: complex, ell: complex) -> complex:
    """log1p(u) - u: alternating series for |u| < 0.01 (Horner, 10 terms), else from ell = log1p(u)."""
    if abs(u) >= 0.01:
        return ell - u
    # -u^2/2 + u^3/3 - ... - u^10/10 (next term < 1e-22 |u|^2)
    p = -1.0 / 10.0
    for k in range(9, 1, -1):
        p = (1.0 / k if k % 2 == 1 else -1.0 / k) + u * p
    return p * u * u


@njit(cache=True)
def _e2(L: complex) -> complex:
    """exp(L) - 1 - L: Taylor series (Horner) for |L| < 0.02, else expm1(L) - L."""
    if abs(L) >= 0.02:
        return _cexpm1(L) - L
    # L^2/2! + ... + L^8/8!
    p = 1.0 / 40320.0
    for k in range(7, 1, -1):
        p = p * L + 1.0 / _FACT[k]
    return p * L * L


@njit(cache=True)
def _loss(x: complex, q: float, mu: float, logq: float):
    """(l(x), u(x), log|u(x)|) at complex x; l = log(1 - q + q e^z), z = mu x - mu^2/2."""
    z = mu * x - 0.5 * mu * mu
    if z.real + logq > 0.0:
        # q |e^z| > 1: l = z + log q + log1p((1-q)/q e^-z), no overflow, no cancellation
        if q < 1.0:
            ell = z + logq + _clog1p(cmath.exp(math.log1p(-q) - logq - z))
        else:
            ell = z
        lu = logq + z.real
        return ell, complex(0.0, 0.0), lu
    em1 = _cexpm1(z)
    u = q * em1
    ell = _clog1p(u)
    au = abs(u)
    lu = math.log(au) if au > 0.0 else -745.0
    return ell, u, lu


@njit(cache=True)
def _f_form(xc: complex, w: complex, q: float, mu: float, logq: float):
    """(log phi(xc), w l(xc), f_w(u(xc))) with f_w(u) = (1+u)^w - 1 - w u (0 when u overflows)."""
    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
    ell, u, lu = _loss(xc, q, mu, logq)
    wl = w * ell
    if lu > 700.0:
        return lphi, wl, complex(0.0, 0.0), False
    if u == 0.0j and lu > -745.0:
        u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
    return lphi, wl, w * _log1p_minus(u, ell) + _e2(wl), True


@njit(cache=True)
def sg_log_g(q: float, mu: float, w: complex) -> complex:
    """log G(w) = log E[(1 + q (e^{mu X - mu^2/2} - 1))^w], X ~ N(0, 1), for complex w."""
    return _sg_log_g_core(q, mu, w)[0]


@njit(cache=True)
def _sg_log_g_core(q: float, mu: float, w: complex):
    """(log G(w), sum of |weighted terms| / |G| (f-form: of G - 1's terms), number of points): the
    last two size the rule's error (:data:`GL_REL_ERR`, rounding)."""
    if w == 0.0:
        return 0.0j, 0.0, 0
    logq = math.log(q)
    bw = w.imag
    # contour shift: damp the oscillation where the loss varies (see module docstring)
    y = 0.0
    if abs(bw) * mu > 1.0:
        y = min(0.4 * math.pi / mu, 3.0, 0.25 + 0.25 * abs(bw) * mu)
        if bw < 0.0:
            y = -y
    a_re = w.real
    x_lo = -13.0
    # the mass of e^z phi sits at x = mu: the f-form's E[u] = 0 needs it inside the range
    x_hi = max(13.0, mu + 13.0)
    if a_re > 0.0:
        x_hi = max(x_hi, a_re * mu + 13.0)
    # panels well inside the analyticity strip (branch points at Im x = +-pi/mu)
    pw = min(1.0, 0.55 * (math.pi / mu - abs(y)))
    npan = int((x_hi - x_lo) / pw) + 1
    # scan the panel edges once: log-magnitudes of both forms and the loss
    amp_b = np.empty(npan + 1)
    amp_f = np.empty(npan + 1)
    ells = np.empty(npan + 1, dtype=np.complex128)
    for i in range(npan + 1):
        xc = complex(x_lo + i * pw, y)
        lphi = -0.5 * xc * xc - LOG_SQRT_2PI
        ell, u, lu = _loss(xc, q, mu, logq)
        wl = w * ell
        ells[i] = ell
        amp_b[i] = lphi.real + wl.real
        if lu > 700.0:
            amp_f[i] = 1e300
        else:
            if u == 0.0j and lu > -745.0:
                u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
            af = abs(w * _log1p_minus(u, ell) + _e2(wl))
            amp_f[i] = lphi.real + (math.log(af) if af > 0.0 else -1e300)
    bmax = amp_b.max()
    # log space when G is large (no cancellation to fear), else G - 1 in f-form
    big = bmax - 0.5 * y * y > 25.0
    amax = bmax
    if not big:
        amax = amp_f.max()
        if amax > 700.0:  # f overflowed somewhere: G is large after all
            big = True
            amax = bmax
    amp = amp_b if big else amp_f
    acc = 0.0j
    sabs = 0.0
    npts = 0
    for i in range(npan):
        # the panel's magnitude: its edges, widened by one panel on each side (smooth integrand)
        j0 = max(i - 1, 0)
        j1 = min(i + 2, npan)
        m = -1e300
        mo = -1e300
        for j in range(j0, j1 + 1):
            m = max(m, amp[j])
            mo = max(mo, amp_b[j])
        if m < amax - CUT:
            continue
        x0 = x_lo + i * pw
        nsub = 1
        if mo >= amax - CUT_OSC:  # the oscillating part exp(w l) matters here: resolve its phase
            dph = abs(w * (ells[i + 1] - ells[i])) + abs(y) * pw
            nsub = int(dph / 2.5) + 1
        hw = pw / nsub
        for s in range(nsub):
            xs = x0 + s * hw
            for k in range(8):
                xc = complex(xs + 0.5 * hw * (_GX[k] + 1.0), y)
                wt = 0.5 * hw * _GW[k]
                lphi, wl, f, ok = _f_form(xc, w, q, mu, logq)
                npts += 1
                if big:
                    t = wt * cmath.exp(lphi + wl - amax)
                    acc += t
                    sabs += abs(t)
                elif ok:
                    t = wt * cmath.exp(lphi) * f
                    acc += t
                    sabs += abs(t)
    if big:
        return amax + cmath.log(acc), sabs / max(abs(acc), 1e-300), npts
    return _clog1p(acc), sabs / max(abs(1.0 + acc), 1e-300), npts


@njit(cache=True)
def sg_log_g_many(q: float, mu: float, w: np.ndarray) -> np.ndarray:
    out = np.empty(w.shape[0], dtype=np.complex128)
    for i in range(w.shape[0]):
        out[i] = sg_log_g(q, mu, w[i])
    return out


# ----------------------------------------------------------------------------- fast path (trapezoid)
# The exact engine's own kernels (docs/math.md, "The exact engine", fast kernels).  The integrand
# phi(x) (1 + u(x))^w is analytic in the strip |Im x| < pi/mu and decays like a Gaussian, so the
# trapezoidal rule on a uniform grid converges exponentially (it aliases only the integrand's Fourier
# transform at multiples of 2 pi / h):
#
# * Gaussian envelope: a locally Gaussian factor of unit width oscillating at frequency omega aliases
#   exp(-(v - omega)^2 / 2), v = 2 pi / h: v >= omega + sqrt(2 TRAP_L) where the integrand is within
#   exp(-TRAP_L) of the scale of the result (omega from a coarse scan of the phase derivative);
# * branch points of the loss at distance d = pi/mu - |y| from the integration line: v >= TRAP_L / d
#   (relaxed by how far below the result's scale the integrand is near them).
#
# The same contour shift y and the same two forms (log space when G is large, G - 1 in f-form
# otherwise) as sg_log_g.  All nodes z of one batch share the x-grid: phi, l, l - u are evaluated once
# per x and only exp(w l) per (x, w).  Anything outside the fast path's safe domain (an overflowing
# u on the range, a grid over FAST_MAX_X points, mixed signs of Im w) is answered by sg_log_g.

#: log of the relative aliasing error aimed at by the trapezoid step (the contour's peak nodes; the
#: exact engine asks for less where a node's term is far below the peak, never below TRAP_L_MIN)
TRAP_L = 38.0
TRAP_L_MIN = 14.0
#: error estimate of the kernels, relative to the sum of |weighted terms| (see sg_log_g_fast_err): the
#: trapezoid's aliasing is aimed at exp(-trap_l) of the result's scale, counted here with a margin e^3;
#: the Gauss-Legendre panels (Bernstein-ellipse parameter >= 7.4: rho^-16 ~ 1e-14), with a margin 10;
#: the sums' rounding, 8 eps_mach sqrt(points)
ALIAS_MARGIN = 3.0
GL_REL_ERR = 1e-13
EPS_MACH = 2.220446049250313e-16
#: most x-nodes of one fast batch (beyond: sg_log_g)
FAST_MAX_X = 6000
#: sg_log_g is not asked for |Re w| mu beyond this (its work arrays grow with it: a w that far out is
#: answered NaN by the complex batch, +inf by the real kernel, i.e. "beyond reach", never a number)
GL_MAX_REACH = 2.0e4


@njit(cache=True)
def _fast_range(q: float, mu: float, a_lo: float, a_hi: float, cut: float = CUT):
    """(x_lo, x_hi): where phi |f| or phi |e^{wl}| is within exp(-CUT) of the result's scale.

    The peaks of phi |e^{wl}| (a = Re w) lie in [a l'(0), 0] for a < 0 (l' increases) and at most
    at a mu for a > 0 (l' <= mu); those of phi |f| at 0 and mu.  f ~ u^2 near 0 is ~q^2 expm1(mu^2)
    while its tail is ~u(-inf)^2 ~ q^2 min(1, mu^2 x^2): ext covers their ratio.
    """
    em = math.expm1(mu * mu)
    ext = 5.0 + (max(0.0, -math.log(em)) if em > 0.0 else 60.0)
    ext = min(ext, 60.0)
    r = math.sqrt(2.0 * (cut + ext)) + 0.5
    lp0 = mu * q * math.exp(-0.5 * mu * mu) / (1.0 + q * math.expm1(-0.5 * mu * mu))
    return min(0.0, a_lo) * lp0 - r, max(1.0, a_hi) * mu + r


_INVFACT = np.array([1.0 / math.factorial(k) for k in range(18)])


@njit(cache=True)
def _e2_fast(L: complex) -> complex:
    """exp(L) - 1 - L: Taylor series (Horner) for |L| < 0.5 (8 terms below 0.02, 16 below 0.5: the
    next term is < 1e-17 |L|^2), exp(L) - 1 - L beyond (no cancellation there)."""
    a2 = L.real * L.real + L.imag * L.imag
    if a2 < 4e-4:
        p = complex(_INVFACT[9], 0.0)
        for k in range(8, 1, -1):
            p = p * L + _INVFACT[k]
        return p * L * L
    if a2 < 0.25:
        p = complex(_INVFACT[17], 0.0)
        for k in range(16, 1, -1):
            p = p * L + _INVFACT[k]
        return p * L * L
    return cmath.exp(L) - 1.0 - L


@njit(cache=True)
def _strip_v(need: float, mu: float, y: float, a: float) -> float:
    """Smallest 2 pi / h that keeps the branch points' aliasing below exp(-need).

    At distance theta pi/mu - |y| from the line (toward the branch point at pi/mu) |1 + u| shrinks to
    about cos(theta pi/2) of its real-line value near x_s: harmless for a = Re w >= 0 (a zero), a
    growth cos(theta pi/2)^a for a < 0 (a pole-like factor).  Minimised over theta.
    """
    if need <= 0.0:
        return 0.0
    if a >= 0.0:
        return need / (math.pi / mu - abs(y))
    best = 1e300
    for k in range(14):
        th = 0.3 + 0.05 * k
        dist = th * math.pi / mu - abs(y)
        if dist <= 0.0:
            continue
        grow = -a * -math.log(math.cos(0.5 * th * math.pi))
        best = min(best, (need + grow) / dist)
    return best


@njit(cache=True)
def _alias_rel(lw: float, nx: int, mu: float) -> float:
    """The trapezoid's relative error estimate for one w (the factor of sum |terms| / |G|), given the
    aliasing exponent lw it reached (:func:`_sg_batch_shared`): e^{ALIAS_MARGIN - lw} times
    1 + min(2 lw, 4 / expm1(mu^2)), plus the sums' rounding, 8 eps_mach sqrt(points).  The factor: the
    f-form's leading term phi u^2 = q^2 phi (e^{mu x - mu^2/2} - 1)^2 is three shifted Gaussians whose
    transforms at v cancel to ~|e^{mu^2} e^{-2i mu v} - 2 e^{-i mu v} + 1| against their integral's
    e^{mu^2} - 1: ~(mu v)^2 / mu^2 = v^2 ~ 2 lw at small mu (the polynomial x^2), at most ~4 / (e^{mu^2} - 1)
    beyond.

    Defect D4: with e^{3 - trap_l} alone the stated error was too small by 683x at q = 0.7, sigma = 2,
    w = -5, trap_l = 30, by 4e7 at q = 0.01, sigma = 1, w = -794.8 (an ADD abscissa), trap_l = 30, and by
    3-5x at sigma = 4.9 (the polynomial factor).
    """
    em = math.expm1(mu * mu)
    poly = 2.0 * lw if em <= 0.0 else min(2.0 * lw, 4.0 / em)
    return (1.0 + poly) * math.exp(ALIAS_MARGIN - lw) + 8.0 * EPS_MACH * math.sqrt(nx)


@njit(cache=True)
def _scan_v(q: float, mu: float, logq: float, w: np.ndarray, idx: np.ndarray, y: float, x_lo: float,
            x_hi: float, trap_l: float, om_out: np.ndarray) -> float:
    """2 pi / h needed on the line Im x = y: a coarse scan of the integrand's log-magnitude and phase
    derivative, the frequency counted only where the magnitude is within exp(-TRAP_L - 5) of the
    result's scale (see the section comment).  om_out[t] receives w[idx[t]]'s largest frequency there
    (for its error estimate, :func:`_alias_rel`)."""
    n = idx.shape[0]
    hs = min(0.5, 0.5 / mu)
    ns = int((x_hi - x_lo) / hs) + 2
    s_ell = np.empty(ns, dtype=np.complex128)
    s_lp = np.empty(ns, dtype=np.complex128)
    s_x = np.empty(ns)
    for k in range(ns):
        xs = x_lo + k * hs
        xc = complex(xs, y)
        ell, u, lu = _loss(xc, q, mu, logq)
        s_ell[k] = ell
        s_lp[k] = mu * (1.0 - (1.0 - q) * cmath.exp(-ell))
        s_x[k] = xs
    # the branch points of l: Re x = x_s
    x_s = (math.log1p(-q) - logq + 0.5 * mu * mu) / mu
    v = math.sqrt(2.0 * trap_l)
    y2 = 0.5 * y * y
    for t in range(n):
        wi = w[idx[t]]
        a = wi.real
        b = wi.imag
        bmax = -1e300
        for k in range(ns):
            m = -0.5 * s_x[k] * s_x[k] + y2 + a * s_ell[k].real - b * s_ell[k].imag
            if m > bmax:
                bmax = m
        # the result's scale: G itself (log space) or G - 1 ~ q^2 expm1(mu^2) |w (w - 1)| / 2 (f-form)
        ref = bmax
        if bmax - y2 <= 25.0:
            fs = abs(wi * (wi - 1.0)) * 0.5 * q * q * math.expm1(mu * mu)
            ref = bmax + min(0.0, math.log(fs + 1e-300))
        om = 0.0
        ms = -1e300
        for k in range(ns):
            m = -0.5 * s_x[k] * s_x[k] + y2 + a * s_ell[k].real - b * s_ell[k].imag
            if m >= ref - trap_l - 5.0:
                o = abs(-y + (wi * s_lp[k]).imag)
                if o > om:
                    om = o
            if abs(s_x[k] - x_s) <= 1.0 + 2.0 / mu and m > ms:
                ms = m
        om_out[t] = om
        v = max(v, om + math.sqrt(2.0 * trap_l))
        v = max(v, _strip_v(trap_l + 5.0 - (ref - ms), mu, y, a))
    return v


@njit(cache=True)
def _sg_batch_shared(q: float, mu: float, w: np.ndarray, idx: np.ndarray, out: np.ndarray,
                     fallback: np.ndarray, trap_l: float, err: np.ndarray) -> None:
    """log G(w[i]) for i in idx (all Im w[i] of one sign) on one shared trapezoid grid.

    The line: the real axis, or shifted by y (as sg_log_g) when that needs fewer nodes.  On the real
    axis |l'| <= mu bounds the phase derivative |Im(w) l'(x)| everywhere (no scan needed); on the
    shifted line the oscillation is damped and a scan finds where it still matters.
    """
    n = idx.shape[0]
    logq = math.log(q)
    bmax_abs = 0.0
    a_hi = 1.0
    a_lo = 0.0
    sgn = 1.0
    for t in range(n):
        wi = w[idx[t]]
        if abs(wi.imag) > bmax_abs:
            bmax_abs = abs(wi.imag)
            sgn = 1.0 if wi.imag > 0.0 else -1.0
        a_hi = max(a_hi, wi.real)
        a_lo = min(a_lo, wi.real)
    x_lo, x_hi = _fast_range(q, mu, a_lo, a_hi, min(CUT, trap_l + 2.0))
    # u must stay finite on the range (else the f-form is not formed): sg_log_g answers
    if mu * x_hi - 0.5 * mu * mu + logq > 690.0:
        for t in range(n):
            fallback[idx[t]] = True
        return
    if (x_hi - x_lo) / min(0.5, 0.5 / mu) > FAST_MAX_X:
        for t in range(n):
            fallback[idx[t]] = True
        return
    # the real axis, no scan: the phase derivative |Im(w) l'| <= |Im w| mu everywhere, and toward the
    # branch point on the side where Im(w) l grows |e^{wl}| grows by up to exp(|Im w| theta pi)
    # at distance theta pi / mu: both add |Im w| mu to what the Gaussian / the branch points need
    y = 0.0
    v = bmax_abs * mu + max(math.sqrt(2.0 * trap_l), _strip_v(trap_l + 5.0, mu, 0.0, a_lo))
    # per w: its largest frequency (on the real axis the bound |Im w| mu), for its error estimate
    om_w = np.empty(n)
    for t in range(n):
        om_w[t] = abs(w[idx[t]].imag) * mu
    om_s = np.empty(n)
    if bmax_abs * mu > 1.0:
        y_s = sgn * min(0.4 * math.pi / mu, 3.0, 0.25 + 0.25 * bmax_abs * mu)
        v_s = _scan_v(q, mu, logq, w, idx, y_s, x_lo, x_hi, trap_l, om_s)
        if v_s < v:
            y = y_s
            v = v_s
            om_w = om_s
    else:
        v_s = _scan_v(q, mu, logq, w, idx, 0.0, x_lo, x_hi, trap_l, om_s)
        if v_s < v:
            v = v_s
            om_w = om_s
    h = 2.0 * math.pi / v
    nx = int((x_hi - x_lo) / h) + 1
    if nx > FAST_MAX_X:
        for t in range(n):
            fallback[idx[t]] = True
        return
    # per-x work, shared by every w of the batch
    ephi = np.empty(nx, dtype=np.complex128)
    lphis = np.empty(nx, dtype=np.complex128)
    ells = np.empty(nx, dtype=np.complex128)
    rs = np.empty(nx, dtype=np.complex128)
    lpps = np.empty(nx)  # Re l''(x) = Re mu^2 p (1 - p), p = 1 - (1 - q) e^{-l} (_alias_rel)
    for j in range(nx):
        xc = complex(x_lo + j * h, y)
        lphi = -0.5 * xc * xc - LOG_SQRT_2PI
        ell, u, lu = _loss(xc, q, mu, logq)
        pp = 1.0 - (1.0 - q) * cmath.exp(-ell)
        lpps[j] = (mu * mu * pp * (1.0 - pp)).real
        if u == 0.0j and lu > -745.0:
            u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
        lphis[j] = lphi
        ephi[j] = cmath.exp(lphi)
        ells[j] = ell
        rs[j] = _log1p_minus(u, ell)
    for t in range(n):
        i = idx[t]
        wi = w[i]
        if wi == 0.0:
            out[i] = 0.0j
            err[i] = 0.0
            continue
        a = wi.real
        b = wi.imag
        # log space when G is large (the same test as sg_log_g), else G - 1 in f-form
        amax = -1e300
        for j in range(nx):
            m = lphis[j].real + a * ells[j].real - b * ells[j].imag
            if m > amax:
                amax = m
        # the aliasing exponent reached: the step resolves a unit-width Gaussian envelope oscillating at up
        # to om_w (v >= om + sqrt(2 trap_l) where that envelope matters), e^{-(v - om)^2 / 2}; for a < 0 the
        # log of phi |(1 + u)^w| has curvature -(1 - a l''), l'' = mu^2 p (1 - p) >= 0 (p = l' / mu), an
        # envelope narrower by sqrt(kap_j), kap_j = 1 - a Re l''(x_j), whose alias near x_j is
        # ~ e^{m_j - amax} e^{-(v - om)^2 / (2 kap_j)} of the peak's scale: the smallest exponent counts
        dv = v - om_w[t]
        d2 = 0.5 * dv * dv if dv > 0.0 else 0.0
        lw = min(trap_l, d2)
        if a < 0.0 and lw > 0.0:
            for j in range(nx):
                kj = 1.0 - a * lpps[j]
                if kj > 1.0:
                    lj = amax - (lphis[j].real + a * ells[j].real - b * ells[j].imag) + d2 / kj
                    if lj < lw:
                        lw = lj
        rel = _alias_rel(lw, nx, mu)
        acc = 0.0j
        sabs = 0.0
        if amax - 0.5 * y * y + LOG_SQRT_2PI > 25.0:
            for j in range(nx):
                e = lphis[j] + wi * ells[j] - amax
                if e.real > -745.0:
                    acc += cmath.exp(e)
                    sabs += math.exp(e.real)
            out[i] = amax + cmath.log(h * acc)
            err[i] = rel * sabs / max(abs(acc), 1e-300)
        else:
            bad = False
            for j in range(nx):
                wl = wi * ells[j]
                if wl.real > 600.0:
                    # e^{wl} alone would overflow: phi f = e^{lphi + wl} + phi (w r - 1 - w l), exactly
                    # (no cancellation: |e^{wl}| >> |1 + w l|); in the f-form such points are small
                    if not (cmath.isfinite(rs[j]) and lphis[j].real + wl.real < 700.0):
                        bad = True
                        break
                    t2 = cmath.exp(lphis[j] + wl) + ephi[j] * (wi * rs[j] - 1.0 - wl)
                    acc += t2
                    sabs += abs(t2.real) + abs(t2.imag)
                    continue
                t2 = ephi[j] * (wi * rs[j] + _e2_fast(wl))
                acc += t2
                sabs += abs(t2.real) + abs(t2.imag)  # >= |t2| (no square root per point)
            if bad:
                fallback[i] = True
            else:
                out[i] = _clog1p(h * acc)
                err[i] = rel * h * sabs / max(abs(1.0 + h * acc), 1e-300)


@njit(cache=True)
def _sg_log_g_guarded(q: float, mu: float, w: complex):
    """(sg_log_g(q, mu, w), its error estimate), or NaN where Re w mu > GL_MAX_REACH (its arrays would
    be too large; for Re w < 0 its x-range does not grow with |w|, so the ADD direction's far abscissae
    stay in reach)."""
    if w.real * mu > GL_MAX_REACH:
        return complex(math.nan, math.nan), math.nan
    v, srel, npts = _sg_log_g_core(q, mu, w)
    return v, (GL_REL_ERR + 8.0 * EPS_MACH * math.sqrt(npts + 1.0)) * srel


@njit(cache=True)
def sg_log_g_fast(q: float, mu: float, w: np.ndarray) -> np.ndarray:
    """log G(w) for an array of complex w (the exact engine's fast path; same values as sg_log_g).

    The w with Im w >= 0 and those with Im w < 0 form two batches, each on one shared x-grid; a
    batch is best made of nearby nodes (one contour chunk).  Anything outside the fast path's domain
    is evaluated by sg_log_g.
    """
    err = np.empty(w.shape[0])
    return sg_log_g_fast_err(q, mu, w, TRAP_L, err)


@njit(cache=True)
def sg_log_g_fast_err(q: float, mu: float, w: np.ndarray, trap_l: float, err: np.ndarray) -> np.ndarray:
    """sg_log_g_fast with the trapezoid aimed at a relative aliasing error exp(-trap_l) (clamped to
    [TRAP_L_MIN, TRAP_L]); err[i] receives an estimate of the absolute error of log G(w[i]):

        (e^{ALIAS_MARGIN - trap_l} + 8 eps_mach sqrt(points)) * h sum_j |term_j| / |G|

    (f-form: the terms of G - 1), or for points answered by sg_log_g (GL_REL_ERR + rounding) times
    its own sum of |terms| / |G|.  It sizes the x-quadrature's error, not the loss's own rounding
    (eps_mach |log G|, which the contour counts separately).
    """
    trap_l = min(max(trap_l, TRAP_L_MIN), TRAP_L)
    n = w.shape[0]
    out = np.empty(n, dtype=np.complex128)
    fallback = np.zeros(n, dtype=np.bool_)
    if q >= 1.0 or mu > 5.0:
        for i in range(n):
            out[i], err[i] = _sg_log_g_guarded(q, mu, w[i])
        return out
    npos = 0
    for i in range(n):
        if w[i].imag >= 0.0:
            npos += 1
    pos = np.empty(npos, dtype=np.int64)
    neg = np.empty(n - npos, dtype=np.int64)
    a = 0
    b = 0
    for i in range(n):
        if w[i].imag >= 0.0:
            pos[a] = i
            a += 1
        else:
            neg[b] = i
            b += 1
    if npos > 0:
        _sg_batch_shared(q, mu, w, pos, out, fallback, trap_l, err)
    if n - npos > 0:
        _sg_batch_shared(q, mu, w, neg, out, fallback, trap_l, err)
    for i in range(n):
        if fallback[i]:
            out[i], err[i] = _sg_log_g_guarded(q, mu, w[i])
    return out


@njit(cache=True)
def _loss_real(x: float, q: float, mu: float, logq: float):
    """(l, u, l - u) at real x without cancellation (u = inf, l - u = -inf beyond u = e^700)."""
    z = mu * x - 0.5 * mu * mu
    if z + logq < 29.0:
        # log u < 30 (log1p(-e^-z) <= 0): l = log1p(u), no cancellation for either sign of z
        u = q * math.expm1(z)
        ell = math.log1p(u)
    else:
        lu = logq + z + math.log1p(-math.exp(-z))
        if lu < 30.0:
            u = q * math.expm1(z)
            ell = math.log1p(u)
        else:
            # log space: u = inf beyond e^700 (only the log-space form may use such a point)
            u = math.exp(lu) if lu < 700.0 else math.inf
            ell = lu + math.log1p(math.exp(-lu))
    if abs(u) < 0.01:
        # log1p(u) - u by its alternating series (16 digits)
        p = -1.0 / 10.0
        for k in range(9, 1, -1):
            p = (1.0 / k if k % 2 == 1 else -1.0 / k) + u * p
        r = p * u * u
    else:
        r = ell - u
    return ell, u, r


@njit(cache=True)
def _e2_real(L: float) -> float:
    """exp(L) - 1 - L for real L (Taylor series for |L| < 0.02)."""
    if abs(L) >= 0.02:
        return math.expm1(L) - L
    p = 1.0 / 40320.0
    for k in range(7, 1, -1):
        p = p * L + 1.0 / _FACT[k]
    return p * L * L


@njit(cache=True)
def sg_log_g_real(q: float, mu: float, w: float, out: np.ndarray) -> bool:
    """out[0..2] = log G(w), d/dw log G, d^2/dw^2 log G at real w (trapezoid, y = 0); False when the
    fast path does not apply (then out is untouched and sg_log_g must answer).

    G - 1 and the first moment are formed without the O(q) cancellation: E[u] = 0 gives
    G - 1 = E[w (l - u) + e2(w l)] and E[l e^{wl}] = E[expm1(w l) l + (l - u)].
    """
    if q >= 1.0 or mu > 5.0:
        return False
    logq = math.log(q)
    x_lo, x_hi = _fast_range(q, mu, w, w)
    v = max(math.sqrt(2.0 * TRAP_L), _strip_v(TRAP_L + 5.0, mu, 0.0, w))
    h = 2.0 * math.pi / v
    nx = int((x_hi - x_lo) / h) + 1
    if nx > FAST_MAX_X:
        return False
    ells = np.empty(nx)
    rs = np.empty(nx)
    lphis = np.empty(nx)
    bmax = -1e300
    for j in range(nx):
        x = x_lo + j * h
        ell, u, r = _loss_real(x, q, mu, logq)
        ells[j] = ell
        rs[j] = r
        lphis[j] = -0.5 * x * x - LOG_SQRT_2PI
        bmax = max(bmax, lphis[j] + w * ell)
    if bmax + LOG_SQRT_2PI > 25.0:
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for j in range(nx):
            e = lphis[j] + w * ells[j] - bmax
            if e > -745.0:
                p = math.exp(e)
                s0 += p
                s1 += p * ells[j]
                s2 += p * ells[j] * ells[j]
        out[0] = bmax + math.log(h * s0)
        m1 = s1 / s0
        out[1] = m1
        out[2] = max(s2 / s0 - m1 * m1, 0.0)
        return True
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    for j in range(nx):
        wl = w * ells[j]
        if not math.isfinite(rs[j]):
            return False  # an overflowing u in the f-form: sg_log_g answers
        ph = math.exp(lphis[j])
        if wl > 600.0:
            # e^{wl} alone would overflow: form phi e^{wl} in log space (exact; such points are small here)
            if lphis[j] + wl > 700.0:
                return False
            pe = math.exp(lphis[j] + wl)
            f0 += pe + ph * (w * rs[j] - 1.0 - wl)
            f1 += (pe - ph) * ells[j] + ph * rs[j]
            f2 += pe * ells[j] * ells[j]
            continue
        em = math.expm1(wl)
        e2 = em - wl if abs(wl) >= 0.02 else _e2_real(wl)
        f0 += ph * (w * rs[j] + e2)
        f1 += ph * (em * ells[j] + rs[j])
        f2 += ph * ells[j] * ells[j] * (em + 1.0)
    g1 = h * f0
    G = 1.0 + g1
    out[0] = math.log1p(g1)
    m1 = h * f1 / G
    out[1] = m1
    out[2] = max(h * f2 / G - m1 * m1, 0.0)
    return True


@njit(cache=True)
def sg_composition_complex(qs: np.ndarray, mus: np.ndarray, ns: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_g ns[g] log G_g(w) for an array of complex w (one call for a whole history)."""
    err = np.empty(w.shape[0])
    return sg_composition_complex_err(qs, mus, ns, w, TRAP_L, err)


@njit(cache=True)
def sg_composition_complex_err(qs: np.ndarray, mus: np.ndarray, ns: np.ndarray, w: np.ndarray, trap_l: float,
                               err: np.ndarray) -> np.ndarray:
    """sg_composition_complex at accuracy target trap_l (see sg_log_g_fast_err); err[i] receives
    sum_g ns[g] times each group's error estimate of log G_g(w[i]) (the x-quadrature's error of K)."""
    out = np.zeros(w.shape[0], dtype=np.complex128)
    e = np.empty(w.shape[0])
    err[:] = 0.0
    for g in range(qs.shape[0]):
        out += ns[g] * sg_log_g_fast_err(qs[g], mus[g], w, trap_l, e)
        err += ns[g] * e
    return out


@njit(cache=True)
def sg_composition_real(qs: np.ndarray, mus: np.ndarray, ns: np.ndarray, w: float, out: np.ndarray) -> None:
    """out[0..2] = sum_g ns[g] (log G_g, d/dw log G_g, d^2/dw^2 log G_g) at real w."""
    tmp = np.empty(3)
    out[:] = 0.0
    for g in range(qs.shape[0]):
        if sg_log_g_real(qs[g], mus[g], w, tmp):
            for k in range(3):
                out[k] += ns[g] * tmp[k]
        elif w * mus[g] > GL_MAX_REACH:
            # far beyond any saddle point: K and K' are +inf ("too far"), never a number
            out[0] = math.inf
            out[1] = math.inf
            out[2] = math.inf
            return
        else:
            # outside the fast path: the value from sg_log_g, derivatives by central differences
            # (they only place the contour; the value feeds the bounds)
            hd = 1e-4 * max(abs(w), 1e-2)
            f0 = sg_log_g(qs[g], mus[g], complex(w, 0.0)).real
            fp = sg_log_g(qs[g], mus[g], complex(w + hd, 0.0)).real
            fm = sg_log_g(qs[g], mus[g], complex(w - hd, 0.0)).real
            out[0] += ns[g] * f0
            out[1] += ns[g] * (fp - fm) / (2.0 * hd)
            out[2] += ns[g] * max((fp - 2.0 * f0 + fm) / (hd * hd), 1e-300)


@njit(cache=True)
def sg_composition_real_many(qs: np.ndarray, mus: np.ndarray, ns: np.ndarray, ws: np.ndarray, out: np.ndarray) -> None:
    """out[i, 0..2] = sg_composition_real at ws[i] (one call for a grid of real abscissae: the contour's psi
    grid asks 7-12 of them)."""
    row = np.empty(3)
    for i in range(ws.shape[0]):
        sg_composition_real(qs, mus, ns, ws[i], row)
        for k in range(3):
            out[i, k] = row[k]
