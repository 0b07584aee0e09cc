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

# 8-point Gauss-Legendre on [-1, 1]
_GX = np.array([-0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
                0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363])
_GW = np.array([0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
                0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763])

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
    if w == 0.0:
        return 0.0j
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
                if big:
                    acc += wt * cmath.exp(lphi + wl - amax)
                elif ok:
                    acc += wt * cmath.exp(lphi) * f
    if big:
        return amax + cmath.log(acc)
    return _clog1p(acc)


@njit(cache=True)
def sg_log_g_many(q: float, mu: float, w: np.ndarray) -> np.ndarray:
    out = np.empty(w.shape[0], dtype=np.complex128)
    for i in range(w.shape[0]):
        out[i] = sg_log_g(q, mu, w[i])
    return out
