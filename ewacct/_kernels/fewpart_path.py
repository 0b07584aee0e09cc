"""Cached x-path for the truncated subsampled-Gaussian log-MGF of ``ewacct.methods.fewpart`` (Numba).

``fewpart.batch_log_g`` evaluates log G_A(w) = log E[(1 + u(X))^w ; X <= x0] on the horizontal path
Im x = y by composite 8-point Gauss-Legendre panels, subdividing a panel by the phase variation of
exp(w l) across it.  Its subdivided points are recomputed (a complex log and several complex
exponentials each) for every w; in the few-participation corner the contour needs thousands of w
on the same path, and those recomputations were ~90 % of the query time.

Here the path's points are cached, and an oscillating panel gets one Gauss-Legendre rule of
enough points (:func:`rule_for`: about 0.8 dph + 10 points for a phase variation dph) instead of
dph / 2 sub-panels of 8 points (4-5x fewer points at large dph).  For panel i and rule k the
points, with log phi(x), l(x), log1p(u) - u and exp(log phi), are computed the first time some w
needs that rule and then reused by every later w.  Panels, cut-offs and the f-form are those of
``batch_log_g``; phase variations beyond the largest rule (256 points) fall back to its on-the-fly
8-point subdivision.

A panel whose integrand lies far below the largest panel's (by e^{slack}) needs its rule accurate only to
1e-15 e^{slack} of itself (:func:`rule_for_slack`, from a table of the rules' measured errors on the model
integrand of :func:`rule_for`): 5-15 % fewer points at sigma = 0.5 in the few-participation corner, values
within 0.09 of the kernel's own error estimate of the per-rule choice (2e-13 in log G at most).

The per-point work, e2(w l) = exp(w l) - 1 - w l times the weighted phi (a complex exponential at ~62 % of the
points, a Taylor polynomial at the rest), and the panel edges' moduli run in real arithmetic that LLVM
vectorises (:func:`_e2_terms`: exp, sin and cos as polynomials after Cody-Waite reduction, no libm call, no
branch; ~13 ns a point instead of ~37); the part of the node sum linear in w, w sum_k w_k phi_k lm_k, is
summed once per panel and rule when the rule is filled.  A panel holding a point beyond the vectorised range
(Re(w l) > 709.7 or |Im(w l)| > 1e8) is summed by the scalar loop.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic
from llvmlite import ir as _llir

from .mgf import _GW, _GX, _e2, _f_form, _loss, _cexpm1, _log1p_minus, _clog1p

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT2 = math.sqrt(2.0)
#: integrand magnitudes below exp(-CUT) times the largest are not integrated (as fewpart.CUT)
CUT = 42.0
EPS_MACH = 2.220446049250313e-16
#: (pi / 4) sin(0.4 pi) / (0.4 pi) = 0.59447..., rounded down: the damping rate of the vertical segment (cached_log_g)
KAPPA_V = 0.5944
#: the vertical segment is integrated where its bound is above e^-V_CUT of the largest panel (cached_log_g)
V_CUT = 38.0
LOG_1E15 = math.log(1e-15)
#: Gauss-Legendre rule sizes a panel may use (one rule per panel, chosen by its phase variation)
RULES = np.array([8, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256], dtype=np.int64)
NRULES = RULES.shape[0]
ROFF = np.concatenate([[0], np.cumsum(RULES)[:-1]]).astype(np.int64)
PER_PANEL = int(RULES.sum())


def _gauss_legendre(m: int) -> tuple[np.ndarray, np.ndarray]:
    """m-point Gauss-Legendre nodes (ascending) and weights on [-1, 1] by Newton's method on P_m.

    (numpy's leggauss solves an eigenproblem through multithreaded LAPACK: 1.5-9 s at import under
    load for these 15 rules; this recurrence takes about a millisecond.)
    """
    k = np.arange(1, m + 1, dtype=float)
    x = np.cos(np.pi * (k - 0.25) / (m + 0.5))
    for _ in range(100):
        p0, p1 = np.ones_like(x), x.copy()
        for j in range(2, m + 1):
            p0, p1 = p1, ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j
        dp = m * (x * p1 - p0) / (x * x - 1.0)
        dx = p1 / dp
        x -= dx
        if np.max(np.abs(dx)) < 1e-16:
            break
    p0, p1 = np.ones_like(x), x.copy()
    for j in range(2, m + 1):
        p0, p1 = p1, ((2.0 * j - 1.0) * x * p1 - (j - 1.0) * p0) / j
    dp = m * (x * p1 - p0) / (x * x - 1.0)
    w = 2.0 / ((1.0 - x * x) * dp * dp)
    return x[::-1].copy(), w[::-1].copy()


_RULES_XW = [_gauss_legendre(int(m)) for m in RULES]
RX = np.concatenate([r[0] for r in _RULES_XW])
RW = np.concatenate([r[1] for r in _RULES_XW])


def _rule_err_table(n_om: int = 241) -> np.ndarray:
    """log of each rule's error for exp(g x) on [-1, 1], g = (1 + i) omega (the model of rule_for), relative to
    the integral of |exp(g x)|, at omega = 0, 1, ..., n_om - 1 (rows), measured in double precision and made
    monotone (non-increasing in the rule size, non-decreasing in omega); floored at 1e-15 (rounding)."""
    t = np.empty((n_om, NRULES))
    for i in range(n_om):
        om = float(i)
        g = (1.0 + 1.0j) * om
        exact = (np.exp(g) - np.exp(-g)) / g if om > 0.0 else 2.0
        scale = 2.0 * np.sinh(om) / om if om > 0.0 else 2.0
        for k in range(NRULES):
            x, w = _RULES_XW[k]
            t[i, k] = max(abs((w * np.exp(g * x)).sum() - exact) / scale, 1e-15)
    t = np.log(t)
    t = np.minimum.accumulate(t, axis=1)
    return np.maximum.accumulate(t, axis=0)


RULE_LOG_ERR = _rule_err_table()


@njit(cache=True)
def rule_for(dph: float) -> int:
    """Index of the smallest rule resolving a phase variation dph across the panel.

    An m-point Gauss-Legendre rule integrates exp(g x) on [-1, 1], |g| = (1 + i) omega, to 1e-15
    relative once m >= omega + 10 (measured for omega up to 80).  The local frequency of exp(w l)
    inside a panel may exceed the panel's mean (dph / 2) by up to e^{mu pw} / (e^{mu pw} - 1) <= 1.6
    (pw mu <= 1.73), hence omega = 0.8 dph.  Returns NRULES when no rule is large enough.
    """
    need = 0.8 * dph + 10.0
    for k in range(NRULES):
        if RULES[k] >= need:
            return k
    return NRULES


@njit(cache=True)
def rule_for_slack(dph: float, slack: float, lerr: np.ndarray) -> int:
    """:func:`rule_for` for a panel whose integrand lies e^{slack} below the largest one's: the smallest
    rule whose modelled error (``lerr`` = RULE_LOG_ERR at omega = 0.8 dph, rounded up) times e^{-slack} is
    at most 1e-15 (what :func:`rule_for` asks of every panel relative to itself), and never a larger
    rule than rule_for's.  Each panel's error then stays below 1e-15 of the largest panel's scale, the
    sum over panels within the error units' 4 eps_mach times the L1 norm (see cached_log_g)."""
    k0 = rule_for(dph)
    if slack <= 0.0 or k0 >= NRULES:
        return k0
    io = int(0.8 * dph) + 1
    if io >= lerr.shape[0]:
        return k0
    for k in range(k0):
        if lerr[io, k] - slack <= LOG_1E15:
            return k
    return k0


@njit(cache=True)
def _phibar(x: float) -> float:
    return 0.5 * math.erfc(x / SQRT2)


@njit(cache=True)
def _pp(xc: complex, q: float, mu: float, logq: float):
    """(log phi, l, log1p(u) - u, overflow) at a complex path point."""
    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
    ell, u, lu = _loss(xc, q, mu, logq)
    if lu > 700.0:
        return lphi, ell, 0.0j, True
    if u == 0.0j and lu > -745.0:
        u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
    return lphi, ell, _log1p_minus(u, ell), False


_INVFACT = np.array([1.0 / math.factorial(k) for k in range(14)])


@njit(cache=True)
def _e2f(L: complex) -> complex:
    """exp(L) - 1 - L: Taylor (Horner, through L^13/13!; relative error < 1e-19) for |L| < 0.2, else
    exp(L) - 1 - L directly (absolute error ~1e-16 max(1, |e^L|) against |e2| >= 0.017: < 1e-14
    relative).  One complex exponential at most (``mgf._e2`` uses up to five real transcendentals
    for 0.02 <= |L| < 0.7)."""
    if abs(L.real) + abs(L.imag) < 0.2:
        # Estrin's scheme on sum_{k=2}^{13} L^k / k! = L^2 sum_{j=0}^{11} L^j / (j+2)!: a short
        # dependency chain (Horner's 11 dependent complex multiply-adds were slower than one exp)
        L2 = L * L
        L4 = L2 * L2
        a0 = _INVFACT[2] + _INVFACT[3] * L
        a1 = _INVFACT[4] + _INVFACT[5] * L
        a2 = _INVFACT[6] + _INVFACT[7] * L
        a3 = _INVFACT[8] + _INVFACT[9] * L
        a4 = _INVFACT[10] + _INVFACT[11] * L
        a5 = _INVFACT[12] + _INVFACT[13] * L
        b0 = a0 + a1 * L2
        b1 = a2 + a3 * L2
        b2 = a4 + a5 * L2
        return (b0 + (b1 + b2 * L4) * L4) * L2
    return cmath.exp(L) - 1.0 - L


@intrinsic
def _bits_to_f64(typingctx, x):
    """The float64 whose bit pattern is the int64 x (for 2^n in :func:`_e2_terms`)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], _llir.DoubleType())

    return sig, codegen


_LOG2E = 1.4426950408889634
# ln 2 split for Cody-Waite reduction (fdlibm's e_exp.c; |n| <= 1024); pi/2 split into three parts of at most
# 26 significant bits (n times each exact for |n| < 2^27; each subtraction then exact by Sterbenz's lemma) and a
# fourth, pi/2 - sum of the four = 2.3e-41
_LN2HI = 6.93147180369123816490e-01
_LN2LO = 1.90821492927058770002e-10
_PIO2_1 = float.fromhex("0x1.921fb58000000p+0")
_PIO2_2 = float.fromhex("-0x1.dde9740000000p-27")
_PIO2_3 = float.fromhex("0x1.1a62630000000p-54")
_PIO2_4 = float.fromhex("0x1.8a2e03707344ap-81")
_TWO_OVER_PI = 6.36619772367581382433e-01
_MAGIC = 6755399441055744.0  # 1.5 * 2^52: (x + _MAGIC) - _MAGIC rounds x to an integer
# fdlibm's k_sin.c / k_cos.c kernels on |x| <= pi/4
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11
_F2, _F3, _F4, _F5, _F6, _F7, _F8, _F9, _F10, _F11, _F12, _F13 = [1.0 / math.factorial(k) for k in range(2, 14)]
#: largest |Im(w l)| the vectorised terms reduce (|n| < 2^26 quadrants; checked against mpmath to 1e8)
_B_MAX = 1.0e8


@njit(fastmath={"contract"}, cache=True)
def _e2_terms(lr, li, er, ei, m: int, wr: float, wi: float, out_r, out_i) -> None:
    """out[k] = (er + i ei)[k] e2(w (lr + i li)[k]), e2(L) = exp(L) - 1 - L, k < m: :func:`_e2f` in real
    arithmetic that LLVM vectorises (exp, sin and cos as polynomials after Cody-Waite reduction; no libm call,
    no branch): ~13 ns a point instead of ~37 ns for the scalar loop (2.8x), within 4e-16 of mpmath relative
    to the terms' size (as cmath's).  A point with Re(w l) > 709.7 (exp overflows) or |Im(w l)| > _B_MAX gives
    a non-finite term: the caller then sums that panel by the scalar loop."""
    for k in range(m):
        a = wr * lr[k] - wi * li[k]
        b = wr * li[k] + wi * lr[k]
        # exp(a) = 2^n p(r), r = a - n ln 2 in [-ln2/2, ln2/2]: Taylor to degree 13 (r^14/14! < 4e-18);
        # below -708 flushed to 0 (e2 = e^L - 1 - L is then -1 - L to far below an ulp); above 709.7, 2^1024 = inf
        ac = min(max(a, -708.0), 710.0)
        nf = (ac * _LOG2E + _MAGIC) - _MAGIC
        r = (ac - nf * _LN2HI) - nf * _LN2LO
        p = 1.0 + r * (1.0 + r * (_F2 + r * (_F3 + r * (_F4 + r * (_F5 + r * (_F6 + r * (_F7 + r * (
            _F8 + r * (_F9 + r * (_F10 + r * (_F11 + r * (_F12 + r * _F13))))))))))))
        ea = p * _bits_to_f64((np.int64(nf) + 1023) << 52)
        ea = ea if a >= -708.0 else 0.0
        # cos b, sin b: b = n pi/2 + x, |x| <= pi/4
        nq = (b * _TWO_OVER_PI + _MAGIC) - _MAGIC
        x = (((b - nq * _PIO2_1) - nq * _PIO2_2) - nq * _PIO2_3) - nq * _PIO2_4
        z = x * x
        sn = x + x * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
        cs = 1.0 - 0.5 * z + z * z * (_C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6)))))
        iq = np.int64(nq) & 3
        sg = 1.0 - 2.0 * ((iq >> 1) & 1)
        odd = (iq & 1) == 1
        s_ = sg * (cs if odd else sn)
        c_ = sg * (-sn if odd else cs)
        e_r = ea * c_ - 1.0 - a
        e_i = ea * s_ - b
        # |L| small: sum_{k=2}^{13} L^k / k! by Estrin's scheme (as _e2f)
        l2r = a * a - b * b
        l2i = 2.0 * a * b
        l4r = l2r * l2r - l2i * l2i
        l4i = 2.0 * l2r * l2i
        a0r, a0i = _F2 + _F3 * a, _F3 * b
        a1r, a1i = _F4 + _F5 * a, _F5 * b
        a2r, a2i = _F6 + _F7 * a, _F7 * b
        a3r, a3i = _F8 + _F9 * a, _F9 * b
        a4r, a4i = _F10 + _F11 * a, _F11 * b
        a5r, a5i = _F12 + _F13 * a, _F13 * b
        b0r, b0i = a0r + (a1r * l2r - a1i * l2i), a0i + (a1r * l2i + a1i * l2r)
        b1r, b1i = a2r + (a3r * l2r - a3i * l2i), a2i + (a3r * l2i + a3i * l2r)
        b2r, b2i = a4r + (a5r * l2r - a5i * l2i), a4i + (a5r * l2i + a5i * l2r)
        t1r, t1i = b1r + (b2r * l4r - b2i * l4i), b1i + (b2r * l4i + b2i * l4r)
        t2r, t2i = b0r + (t1r * l4r - t1i * l4i), b0i + (t1r * l4i + t1i * l4r)
        small = abs(a) + abs(b) < 0.2
        fr = (t2r * l2r - t2i * l2i) if small else e_r
        fi = (t2r * l2i + t2i * l2r) if small else e_i
        fr = fr if abs(b) <= _B_MAX else math.inf
        out_r[k] = er[k] * fr - ei[k] * fi
        out_i[k] = er[k] * fi + ei[k] * fr


@njit(cache=True)
def _fill(q: float, mu: float, logq: float, x_lo: float, pw: float, y: float, i: int, lev: int,
          c_lphi, c_ephi, c_l, c_lm, c_ov, filled, rx, roff, rules, rw, c_slm, c_soa) -> None:
    base = i * PER_PANEL + roff[lev]
    xa = x_lo + i * pw
    slm = 0.0j
    for k in range(rules[lev]):
        j = base + k
        a, b, c, d = _pp(complex(xa + 0.5 * pw * (rx[roff[lev] + k] + 1.0), y), q, mu, logq)
        c_lphi[j] = a
        c_l[j] = b
        c_lm[j] = c
        c_ov[j] = d
        # the rule's weight folded in: the node sum is sum_k c_ephi (w lm + e2(w l)), and its part linear in
        # w, w sum_k c_ephi lm, is w-independent up to the factor w (c_slm)
        c_ephi[j] = rw[roff[lev] + k] * cmath.exp(a) if a.real > -745.0 else 0.0j
        if not d:
            slm += c_ephi[j] * c
        # the same in real arrays for _e2_terms (an overflowing point: weight 0 and l = 0, never non-finite)
        c_soa[0, j] = 0.0 if d else b.real
        c_soa[1, j] = 0.0 if d else b.imag
        c_soa[2, j] = 0.0 if d else c_ephi[j].real
        c_soa[3, j] = 0.0 if d else c_ephi[j].imag
    c_slm[i, lev] = slm
    filled[i, lev] = True


@njit(cache=True)
def _seg_sum(w: complex, q: float, mu: float, logq: float, big: bool, amax: float,
             x_a: complex, dx: complex) -> complex:
    acc = 0.0j
    for k in range(8):
        xc = x_a + 0.5 * (_GX[k] + 1.0) * dx
        wt = 0.5 * _GW[k]
        lphi, wl, f, ok = _f_form(xc, w, q, mu, logq)
        if big:
            acc += wt * cmath.exp(lphi + wl - amax)
        elif ok:
            acc += wt * cmath.exp(lphi) * f
    return acc * dx


@njit(cache=True)
def _seg_sum_exp(w: complex, q: float, mu: float, logq: float, shift: float, x_a: complex, dx: complex) -> complex:
    """8-point Gauss-Legendre sum of phi(x) e^{w l(x) - shift} over x_a + [0, 1] dx."""
    acc = 0.0j
    for k in range(8):
        xc = x_a + 0.5 * (_GX[k] + 1.0) * dx
        lphi = -0.5 * xc * xc - LOG_SQRT_2PI
        ell = _loss(xc, q, mu, logq)[0]
        acc += 0.5 * _GW[k] * cmath.exp(lphi + w * ell - shift)
    return acc * dx


@njit(cache=True)
def vert_smooth(q: float, mu: float, x0: float, y: float):
    """(S0, S1): the integrals of phi(x) and phi(x) u(x) along the vertical segment from x0 + iy down to
    x0 (dx = -i sgn(y) dt), independent of w.  On that segment the f-form's integrand is
    phi (e^{w l} - 1 - w u): its smooth part -phi (1 + w u) is -(S0 + w S1), and only phi e^{w l},
    which the damping exp(-Im(w) Im(l)) makes negligible beyond a short stretch near t = 0, needs a
    rule per w.  Composite 8-point Gauss-Legendre, sub-segments of phase variation <= 1/4
    (the Gaussian's at rate |x0| + |y|, u's at rate mu)."""
    if y == 0.0:
        return 0.0j, 0.0j
    logq = math.log(q)
    ay = abs(y)
    sgn = 1.0 if y > 0.0 else -1.0
    ns = int(4.0 * (abs(x0) + ay + mu + 1.0) * ay) + 4
    ht = ay / ns
    s0 = 0.0j
    s1 = 0.0j
    for s in range(ns):
        xa = complex(x0, sgn * (s + 1) * ht)
        dx = complex(0.0, -sgn * ht)
        for k in range(8):
            xc = xa + 0.5 * (_GX[k] + 1.0) * dx
            ph = cmath.exp(-0.5 * xc * xc - LOG_SQRT_2PI)
            u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
            s0 += 0.5 * _GW[k] * ph * dx
            s1 += 0.5 * _GW[k] * ph * u * dx
    return s0, s1


@njit(cache=True)
def cached_log_g(q: float, mu: float, x0: float, w: np.ndarray, y: float, x_lo: float, x_hi: float,
                 npan: int, e_lphi, e_l, e_lm, e_ov, c_lphi, c_ephi, c_l, c_lm, c_ov, filled, stats,
                 v_s0: complex, v_s1: complex, c_slm, c_soa) -> np.ndarray:
    """(log G_A(w), error units) for a batch of w on the cached path (see the module docstring).

    The error units estimate the absolute floating-point error of log G_A(w) in units of eps_mach:
    4 times the integrand's L1 norm (from its modulus at the panel edges; each term carries a few
    eps_mach, and their rounding errors add up like a random walk rather than in the worst case)
    against |G_A(w)|, plus 4
    times |log G_A(w)| (4 (|amax| + |log acc|) on the scaled branch).

    The caller guarantees x_hi >= max(13, mu + 13, max Re(w) mu + 13) or x_hi == x0 (truncation).
    """
    logq = math.log(q)
    nw = w.shape[0]
    out = np.empty(nw, dtype=np.complex128)
    errs = np.empty(nw)
    pw = (x_hi - x_lo) / npan
    trunc = x_hi == x0
    amp_b = np.empty(npan + 1)
    amp_f = np.empty(npan + 1)
    v_lbound = -1e300
    l0 = 0.0
    kap = 0.0
    if trunc and y != 0.0:
        v_lphi, v_l, v_lm, v_ov = _pp(complex(x0, 0.0), q, mu, logq)
        v_lbound = v_lphi.real + 0.5 * y * y + math.log(abs(y))
        l0 = v_l.real
        # Im l(x0 + it) >= KAPPA_V l'(x0) |t| on the segment (see need_v below)
        zz0 = mu * x0 - 0.5 * mu * mu
        kap = KAPPA_V * (mu / (1.0 + math.exp(math.log1p(-q) - logq - zz0)) if q < 1.0 else mu)
    tail0 = _phibar(x0) if trunc else 0.0
    eu = q * (tail0 - _phibar(x0 - mu)) if trunc else 0.0
    rx = RX
    rw = RW
    t_r = np.empty(max(PER_PANEL, npan + 1))
    t_i = np.empty(max(PER_PANEL, npan + 1))
    ed_lr = np.empty(npan + 1)
    ed_li = np.empty(npan + 1)
    for i in range(npan + 1):
        # (an overflowing edge: l = 0, its modulus is not used)
        ed_lr[i] = 0.0 if e_ov[i] else e_l[i].real
        ed_li[i] = 0.0 if e_ov[i] else e_l[i].imag
    log_npan = math.log(npan)
    ed_one = np.ones(npan + 1)
    ed_zero = np.zeros(npan + 1)
    roff = ROFF
    rules = RULES
    lerr = RULE_LOG_ERR
    for iw in range(nw):
        ww = w[iw]
        if ww == 0.0:
            out[iw] = _clog1p(complex(-tail0, 0.0))
            errs[iw] = 4.0
            continue
        # e2(w l) at the panel edges by the vectorised terms (weight 1); an edge beyond their range (non-finite)
        # by mgf._e2 as before (the edges' moduli were ~37 % of the kernel's time)
        _e2_terms(ed_lr, ed_li, ed_one, ed_zero, npan + 1, ww.real, ww.imag, t_r, t_i)
        for i in range(npan + 1):
            wl = ww * e_l[i]
            amp_b[i] = e_lphi[i].real + wl.real
            if e_ov[i]:
                amp_f[i] = 1e300
            else:
                e2 = complex(t_r[i], t_i[i])
                if not (math.isfinite(t_r[i]) and math.isfinite(t_i[i])):
                    e2 = _e2(wl)
                fe = ww * e_lm[i] + e2
                af2 = fe.real * fe.real + fe.imag * fe.imag
                if 1e-290 < af2 < 1e290:
                    amp_f[i] = e_lphi[i].real + 0.5 * math.log(af2)
                else:
                    af = abs(fe)
                    amp_f[i] = e_lphi[i].real + (math.log(af) if af > 0.0 else -1e300)
        bmax = amp_b.max()
        vb = -1e300
        if trunc and y != 0.0:
            vb = v_lbound + ww.real * l0 if ww.real > 0.0 else v_lbound
            bmax = max(bmax, vb)
        big = bmax - 0.5 * y * y > 25.0
        amax = bmax
        if not big:
            amax = amp_f.max()
            if amax > 700.0:
                big = True
                amax = bmax
        amp = amp_b if big else amp_f
        acc = 0.0j
        # the integrand's L1 norm (in acc's scale), from its modulus at the panel edges: the
        # floating-point error of the sum is a few eps_mach times it
        l1 = 0.0
        for i in range(npan):
            m = -1e300
            mo = -1e300
            for j in range(max(i - 1, 0), min(i + 2, npan) + 1):
                m = max(m, amp[j])
                mo = max(mo, amp_b[j])
            m = max(m, mo)
            if m < amax - CUT:
                continue
            l1 += pw * math.exp(max(amp[i], amp[i + 1]) - (amax if big else 0.0))
            lev = 0
            dph = 0.0
            if mo >= amax - CUT:
                dph = abs(ww * (e_l[i + 1] - e_l[i]))
                # the panel's slack below the largest panel (amax, in the form summed), less log(npan): the
                # panels' rule errors together stay below 1e-15 of the largest one's scale
                lev = rule_for_slack(dph, amax - m - log_npan, lerr)
            if lev >= NRULES:
                nsub = int(dph / 2.0) + 1
                stats[1] += 8 * nsub
                hw = pw / nsub
                for s in range(nsub):
                    acc += _seg_sum(ww, q, mu, logq, big, amax, complex(x_lo + i * pw + s * hw, y),
                                    complex(hw, 0.0))
                continue
            if not filled[i, lev]:
                _fill(q, mu, logq, x_lo, pw, y, i, lev, c_lphi, c_ephi, c_l, c_lm, c_ov, filled, rx, roff, rules, rw, c_slm,
                      c_soa)
            base = i * PER_PANEL + roff[lev]
            stats[0] += rules[lev]
            part = 0.0j
            if big:
                for k in range(rules[lev]):
                    j = base + k
                    part += rw[roff[lev] + k] * cmath.exp(c_lphi[j] + ww * c_l[j] - amax)
            else:
                mk = rules[lev]
                _e2_terms(c_soa[0, base:base + mk], c_soa[1, base:base + mk], c_soa[2, base:base + mk],
                          c_soa[3, base:base + mk], mk, ww.real, ww.imag, t_r, t_i)
                sr = 0.0
                si = 0.0
                for k in range(mk):
                    sr += t_r[k]
                    si += t_i[k]
                if math.isfinite(sr) and math.isfinite(si):
                    part = complex(sr, si)
                else:
                    # a point beyond the vectorised range (exp overflow, |Im(w l)| > _B_MAX): the scalar loop
                    for k in range(mk):
                        j = base + k
                        if not c_ov[j]:
                            part += c_ephi[j] * _e2f(ww * c_l[j])
                part += ww * c_slm[i, lev]
            acc += part * (0.5 * pw)
        # the vertical closing segment's phi e^{w l} part is integrated where its bound e^vb (|phi| <= phi(x0)
        # e^{y^2/2}, |e^{w l}| <= e^{Re(w) l(x0)}: |1 + u| <= e^{l(x0)} on the segment and Im(w) Im(l) >= 0 there,
        # times the length |y|) is not below the cut against the largest panel (amax, in the form summed).  It
        # was skipped on the f-form branch below an absolute e^-41: against |G - 1| ~ q that is no cut at all
        # (the f-form carries G - 1 to ~1e-25 absolute), and the skipped boundary term phi(x0) e^{w l(x0)} /
        # (w l'(x0)) biased K by T times it (sigma 0.52, q 8.86e-7, T 37725, eps 0.9085562: delta 3.6e-6 ..
        # 6.9e-6 low on contours at c 2.9 .. 3.1, where e^vb is e^-44 .. e^-41, at estimates 0.7e-6 .. 1.4e-6;
        # 0.3e5x the stated error of log G against mpmath at w = 4 + 2i).  A segment left out is charged in the
        # error units (omit); the smooth part -(S0 + w S1) is w-linear and always added (f-form branch)
        # ... and with the damping: on x0 + it, 1 + u = (1 - q)(1 + r e^{i theta}), r = q e^v / (1 - q),
        # theta = mu t, |theta| <= 0.4 pi; arg(1 + r e^{i theta}) >= atan(r |sin theta| / (1 + r))
        # >= (pi/4) 0.7569 (r / (1 + r)) mu |t| (atan(X) >= X pi/4 on [0, 1], sin theta >= theta sin(0.4 pi) /
        # (0.4 pi) on [0, 0.4 pi]), i.e. Im l >= KAPPA_V l'(x0) |t| with the sign of t, and |e^{w l}| <=
        # e^{Re(w) l0 - |Im w| kap |t|}: the segment's phi e^{w l} part is at most e^vb min(1, 1 / (|y| |Im w| kap))
        # (Re w > 0: the REMOVE direction, the only one truncated)
        vseg = trunc and y != 0.0
        vbt = vb
        if vseg and ww.real > 0.0:
            damp = abs(y) * abs(ww.imag) * kap
            if damp > 1.0:
                vbt = vb - math.log(damp)
        # (a segment left out is charged in full in the error units (omit below): it is integrated only where its
        # bound is above e^-38 of the largest panel's pw e^amax, ~0.14 eps_mach of the sum's L1 norm)
        need_v = vseg and vbt >= amax + math.log(pw) - V_CUT
        if need_v:
            zz = mu * x0 - 0.5 * mu * mu
            lp = mu / (1.0 + math.exp(math.log1p(-q) - logq - zz)) if q < 1.0 else mu
            ay = abs(y)
            t1 = min(ay, 1.0 / (1.0 + abs(ww) * lp))
            sgn = 1.0 if y > 0.0 else -1.0
            ta = 0.0
            tb = t1
            shift = amax if big else 0.0
            # phi e^{w l} only (the f-form's smooth part -(S0 + w S1) is added below): graded towards
            # t = 0, and stopped once it is below the cut (it decays along the segment: |1 + u| and
            # hence Re l decrease, Im l grows; the Gaussian grows by at most e^{y^2/2}, the margin)
            while ta < ay:
                xt = complex(x0, sgn * ta)
                lphi = -0.5 * xt * xt - LOG_SQRT_2PI
                wl = ww * _loss(xt, q, mu, logq)[0]
                if lphi.real + wl.real < amax - CUT - 0.5 * y * y:
                    break
                rate = abs(x0) + 1.0 + (abs(ww.real) + 1.0) * lp
                ns = int(rate * (tb - ta) / 2.0) + 1
                ht = (tb - ta) / ns
                for s in range(ns):
                    acc += _seg_sum_exp(ww, q, mu, logq, shift, complex(x0, sgn * (ta + (s + 1) * ht)),
                                        complex(0.0, -sgn * ht))
                ta = tb
                tb = min(ay, 2.0 * tb)
        omit = 0.0
        if vseg and not big:
            sm = v_s0 + ww * v_s1
            acc -= sm
            l1 += abs(sm)
        if need_v:
            l1 += math.exp(vb - (amax if big else 0.0))
        elif vseg:
            omit = math.exp(vbt - (amax if big else 0.0)) / EPS_MACH
        if big:
            la = cmath.log(acc)
            out[iw] = amax + la
            errs[iw] = (4.0 * l1 + omit) / max(abs(acc), 1e-300) + 4.0 * (abs(amax) + abs(la))
        else:
            g1 = acc - tail0 + ww * eu
            out[iw] = _clog1p(g1)
            errs[iw] = ((4.0 * l1 + omit + 4.0 * (tail0 + abs(ww * eu))) / max(abs(1.0 + g1), 1e-300)
                        + 4.0 * abs(out[iw]))
    return out, errs


@njit(cache=True)
def path_edges(q: float, mu: float, y: float, x_lo: float, x_hi: float, npan: int):
    logq = math.log(q)
    pw = (x_hi - x_lo) / npan
    e_lphi = np.empty(npan + 1, dtype=np.complex128)
    e_l = np.empty(npan + 1, dtype=np.complex128)
    e_lm = np.empty(npan + 1, dtype=np.complex128)
    e_ov = np.zeros(npan + 1, dtype=np.bool_)
    for i in range(npan + 1):
        a, b, c, d = _pp(complex(x_lo + i * pw, y), q, mu, logq)
        e_lphi[i], e_l[i], e_lm[i], e_ov[i] = a, b, c, d
    return e_lphi, e_l, e_lm, e_ov


class CachedPath:
    """One group's path Im x = y over [x_lo, x_hi] (x_hi = x0 when truncated), cached across calls."""

    def __init__(self, q: float, mu: float, x0: float, y: float, are_max: float) -> None:
        self.q, self.mu, self.x0, self.y = float(q), float(mu), float(x0), float(y)
        self.x_lo = -13.0
        x_hi = max(13.0, mu + 13.0, max(are_max, 0.0) * mu + 13.0)
        if x0 < x_hi:
            x_hi = x0
        self.x_hi = x_hi
        self.are_max = are_max
        pw = min(1.0, 0.55 * (math.pi / mu - abs(y)))
        self.npan = int((x_hi - self.x_lo) / pw) + 1
        self.edges = path_edges(self.q, self.mu, self.y, self.x_lo, self.x_hi, self.npan)
        n = self.npan * PER_PANEL
        self.c_lphi = np.empty(n, dtype=np.complex128)
        self.c_ephi = np.empty(n, dtype=np.complex128)
        self.c_l = np.empty(n, dtype=np.complex128)
        self.c_lm = np.empty(n, dtype=np.complex128)
        self.c_ov = np.empty(n, dtype=np.bool_)
        self.filled = np.zeros((self.npan, NRULES), dtype=np.bool_)
        #: per panel and rule, sum_k w_k phi(x_k) (log1p(u) - u)(x_k) (the node sum's part linear in w)
        self.c_slm = np.zeros((self.npan, NRULES), dtype=np.complex128)
        #: l and the weighted phi of the cached points as real arrays (rows Re l, Im l, Re, Im) for _e2_terms
        self.c_soa = np.zeros((4, n))
        #: the vertical closing segment's w-independent integrals (:func:`vert_smooth`)
        self.v_s = vert_smooth(self.q, self.mu, self.x0, self.y) if x_hi == x0 else (0.0j, 0.0j)
        #: points summed from the cache, points computed on the fly (diagnostics)
        self.stats = np.zeros(2, dtype=np.int64)

    def covers(self, are_max: float) -> bool:
        return self.x_hi == self.x0 or self.x_hi >= max(are_max, 0.0) * self.mu + 13.0

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return self.with_error(w)[0]

    def with_error(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log G_A(w), its absolute floating-point error in units of eps_mach, an estimate)."""
        return cached_log_g(self.q, self.mu, self.x0, w, self.y, self.x_lo, self.x_hi, self.npan,
                            *self.edges, self.c_lphi, self.c_ephi, self.c_l, self.c_lm, self.c_ov,
                            self.filled, self.stats, self.v_s[0], self.v_s[1], self.c_slm, self.c_soa)


# ----------------------------------------------------------------------------------------------------
# the contour panels' sums (fewpart.Panels._sums_on) in one compiled pass
# ----------------------------------------------------------------------------------------------------

@njit(cache=True)
def sph_jn15(x: float, out) -> None:
    """j_k(|x|), k = 0..14 (spherical Bessel functions of the first kind) into ``out``.

    |x| > 20: upward recurrence j_{k+1} = (2k + 1)/x j_k - j_{k-1} from j_0 = sin x / x, j_1 = sin x / x^2 - cos x / x
    (stable for k < x).  Else Miller's downward recurrence from k = 2|x| + 40 (j_N / j_14 < 1e-30 there), rescaled
    against overflow, normalised by whichever of j_0, j_1 is the larger in modulus (j_1 by its series below |x| 0.1)."""
    x = abs(x)
    if x == 0.0:
        out[0] = 1.0
        for k in range(1, 15):
            out[k] = 0.0
        return
    s = math.sin(x)
    co = math.cos(x)
    j0 = s / x
    if x > 20.0:
        out[0] = j0
        out[1] = s / (x * x) - co / x
        for k in range(1, 14):
            out[k + 1] = (2.0 * k + 1.0) / x * out[k] - out[k - 1]
        return
    if x < 0.1:
        x2 = x * x
        j1 = x / 3.0 * (1.0 - x2 / 10.0 * (1.0 - x2 / 28.0 * (1.0 - x2 / 54.0)))
    else:
        j1 = s / (x * x) - co / x
    nn = int(2.0 * x) + 40
    fp1 = 0.0
    f = 1e-300
    for k in range(nn, 0, -1):
        # f = f_k, fp1 = f_{k+1}; f_{k-1} = (2k + 1)/x f_k - f_{k+1}
        fm1 = (2.0 * k + 1.0) / x * f - fp1
        if k <= 15:
            out[k - 1] = fm1
        fp1 = f
        f = fm1
        if abs(f) > 1e250:
            f *= 1e-250
            fp1 *= 1e-250
            for i in range(max(k - 1, 0), 15):
                out[i] *= 1e-250
    sc = j0 / out[0] if abs(j0) >= abs(j1) else j1 / out[1]
    for k in range(15):
        out[k] *= sc


@njit(cache=True)
def filon_weights(om: float, vk, vg, wk_out, wg_out) -> None:
    """Filon weights (fewpart_filon.FilonGK.weights) at one omega: W_K[j] = sum_k m_k vk[k, j], W_G[j] = sum_{k < 7}
    m_k vg[k, j], m_k = 2 (-i)^k j_k(|omega|)."""
    jn = np.empty(15)
    sph_jn15(om, jn)
    mr = np.empty(15)
    mi = np.empty(15)
    for k in range(15):
        # (-i)^k: 1, -i, -1, i
        r = k % 4
        v = 2.0 * jn[k]
        mr[k] = v if r == 0 else (-v if r == 2 else 0.0)
        mi[k] = -v if r == 1 else (v if r == 3 else 0.0)
    for j in range(15):
        sr = 0.0
        si = 0.0
        for k in range(15):
            sr += mr[k] * vk[k, j]
            si += mi[k] * vk[k, j]
        wk_out[j] = complex(sr, si)
    for j in range(7):
        sr = 0.0
        si = 0.0
        for k in range(7):
            sr += mr[k] * vg[k, j]
            si += mi[k] * vg[k, j]
        wg_out[j] = complex(sr, si)


@njit(cache=True)
def _resolved_row(v, res_phase: float) -> bool:
    for j in range(v.shape[0] - 1):
        p = v[j + 1] * v[j].conjugate()
        if not abs(math.atan2(p.imag, p.real)) <= res_phase:
            return False
    return True


@njit(cache=True)
def panel_sums(a, b, lk, ke, c: float, eps: float, m: float, u_s: float, sa: float, shift: float, edges,
               n_total: float, alias: bool, alias_factor: float, gk_x, gk_wk, gk_wg, vk, vg, res_phase: float,
               gap_gk: float, eps_mach: float, wfp: float):
    """fewpart.Panels._sums_on's numpy computation panel by panel (see there for what each column is):
    returns (kr, gs, ab, dk, fpb, ok, extra)."""
    n = a.shape[0]
    kr = np.zeros(n)
    gs = np.zeros(n)
    ab = np.zeros(n)
    dk = np.zeros(n)
    fpb = np.zeros(n)
    ok = np.zeros(n)
    extra = np.zeros(n)
    ne = edges.shape[0]
    u = np.empty(15)
    z = np.empty(15, dtype=np.complex128)
    hv = np.empty(15, dtype=np.complex128)
    h = np.empty(15, dtype=np.complex128)
    hd = np.empty(15, dtype=np.complex128)
    f = np.empty(15, dtype=np.complex128)
    azz = np.empty(15)
    nfp = np.empty(15)
    wk = np.empty(15, dtype=np.complex128)
    wg = np.empty(7, dtype=np.complex128)
    wk2 = np.empty(15, dtype=np.complex128)
    wg2 = np.empty(7, dtype=np.complex128)
    g2 = np.empty(15, dtype=np.complex128)
    hf = np.empty(15, dtype=np.complex128)
    S = np.empty(15, dtype=np.complex128)
    wt = np.empty(15, dtype=np.complex128)
    wtg = np.empty(7, dtype=np.complex128)
    esc = math.exp(-c * eps - m)
    for i in range(n):
        half = 0.5 * (b[i] - a[i])
        mid = 0.5 * (a[i] + b[i])
        sub = b[i] <= u_s
        s_ab = 0.0
        for j in range(15):
            u[j] = mid + half * gk_x[j]
            z[j] = complex(c, u[j])
            L = lk[i, j]
            hv[j] = cmath.exp(complex(L.real - c * eps - m, L.imag))
            zz1 = z[j] * (z[j] + 1.0)
            azz[j] = abs(zz1)
            s_ab += abs(hv[j]) * (8.0 * abs(L) + 32.0) / azz[j] * gk_wk[j]
            if sub:
                # numpy's complex expm1: (expm1(x) cos y - 2 sin(y/2)^2) + i e^x sin y
                sy = math.sin(0.5 * L.imag)
                em1 = complex(math.expm1(L.real) * math.cos(L.imag) - 2.0 * sy * sy,
                              math.exp(L.real) * math.sin(L.imag))
                hs = em1 * esc
                nfp[j] = (abs(hv[j]) * ke[i, j] + 3.0 * abs(hs)) / azz[j]
            else:
                hs = hv[j]
                nfp[j] = abs(hv[j]) * (ke[i, j] + 2.0) / azz[j]
            h[j] = hs / zz1
            hd[j] = -hs / (z[j] + 1.0)
        ab[i] = half * s_ab
        s_kr = 0.0
        s_gs = 0.0
        s_dk = 0.0
        s_fp = 0.0
        for j in range(15):
            osc = complex(math.cos(u[j] * eps), -math.sin(u[j] * eps))
            f[j] = osc * h[j]
            s_kr += f[j].real * gk_wk[j]
            s_gs += f[j].real * gk_wg[j]
            s_dk += (osc * hd[j]).real * gk_wk[j]
            s_fp += nfp[j] * gk_wk[j]
        k_i = half * s_kr
        g_i = half * s_gs
        d_i = half * s_dk
        p_i = half * s_fp
        res = _resolved_row(f, res_phase)
        om = half * eps
        taken = False  # the Filon rule taken
        demod = False
        ph = 0.0j
        if om > 0.5:
            filon_weights(om, vk, vg, wk, wg)
            ph = half * cmath.exp(complex(0.0, -mid * eps))
            for j in range(15):
                hf[j] = h[j]
            sk = 0.0j
            sg = 0.0j
            for j in range(15):
                sk += wk[j] * hf[j]
            for j in range(7):
                sg += wg[j] * hf[2 * j + 1]
            kr_f = (ph * sk).real
            gs_f = (ph * sg).real
            ok_p = res
            ok_f = _resolved_row(hf, res_phase)
            d_p = abs(k_i - g_i)
            d_f = abs(kr_f - gs_f)
            if sa != 0.0 and not ok_f:
                om2 = half * (eps - sa)
                if om2 > 0.5:
                    for j in range(15):
                        g2[j] = h[j] * cmath.exp(complex(0.0, -u[j] * sa))
                    if _resolved_row(g2, res_phase):
                        filon_weights(om2, vk, vg, wk2, wg2)
                        ph2 = half * cmath.exp(complex(0.0, -mid * (eps - sa)))
                        sk = 0.0j
                        sg = 0.0j
                        for j in range(15):
                            sk += wk2[j] * g2[j]
                        for j in range(7):
                            sg += wg2[j] * g2[2 * j + 1]
                        kr_f = (ph2 * sk).real
                        gs_f = (ph2 * sg).real
                        ok_f = True
                        d_f = abs(kr_f - gs_f)
                        for j in range(15):
                            wk[j] = wk2[j]
                            hf[j] = g2[j]
                        for j in range(7):
                            wg[j] = wg2[j]
                        ph = ph2
                        demod = True
            better = (ok_f and ((d_f < d_p) or not ok_p)) or (not ok_f and not ok_p and d_f < d_p)
            res = ok_p or ok_f
            if better:
                taken = True
                k_i = kr_f
                g_i = gs_f
                sd = 0.0j
                wmax = 0.0
                sfp = 0.0
                sh = 0.0
                for j in range(15):
                    hdd = hd[j] * cmath.exp(complex(0.0, -u[j] * sa)) if demod else hd[j]
                    sd += wk[j] * hdd
                    aw = abs(wk[j])
                    wmax = max(wmax, aw)
                    sfp += aw * nfp[j]
                    sh += abs(h[j])
                d_i = (ph * sd).real
                p_i = half * (sfp + wfp * wmax * sh)
            else:
                demod = False
        if not res:
            l1 = 0.0
            for j in range(15):
                l1 += abs(h[j]) * gk_wk[j]
            g_i = k_i + max(abs(k_i - g_i), half * l1)
        ex = 0.0
        if alias and ne > 0:
            gap = half * gap_gk
            off = eps + shift
            if taken:
                off = shift + sa if demod else shift
            for e in range(ne):
                la = edges[e, 0]
                l0 = edges[e, 1]
                lp = edges[e, 2]
                x0 = edges[e, 3]
                if not abs(l0 - off) * gap > res_phase:
                    continue
                amp0 = math.exp(la + (c + 1.0) * l0)
                wmin = math.inf
                sb = 0.0
                for j in range(15):
                    wabs = abs(z[j] + 1.0)
                    wmin = min(wmin, wabs)
                    gfac = math.exp(-lk[i, j].real / n_total)
                    sb += abs(hv[j]) / azz[j] * gfac / wabs * gk_wk[j]
                fac = alias_factor * (1.0 + (abs(x0) + 1.0) / (wmin * lp))
                bound = 2.0 * half * sb * amp0 * fac
                est = bound
                if bound > max(eps_mach * ab[i], 0.1 * abs(k_i - g_i)):
                    om_t = l0 - shift - eps
                    for j in range(15):
                        zj1 = z[j] + 1.0
                        gfac = math.exp(-lk[i, j].real / n_total)
                        S[j] = (hv[j] / (z[j] * zj1) * gfac / zj1 * amp0
                                * cmath.exp(complex(0.0, u[j] * shift)))
                    filon_weights(abs(om_t) * half, vk, vg, wt, wtg)
                    se = 0.0j
                    for j in range(15):
                        wj = wt[j].conjugate() if om_t > 0.0 else wt[j]
                        se += wj * S[j]
                    exact = half * cmath.exp(complex(0.0, mid * om_t)) * se
                    rr = 0.0
                    ri = 0.0
                    sr = 0.0j
                    for j in range(15):
                        ht = S[j] * cmath.exp(complex(0.0, u[j] * (l0 - shift)))
                        cf = ht * cmath.exp(complex(0.0, -u[j] * eps))
                        rr += cf.real * gk_wk[j]
                        ri += cf.imag * gk_wk[j]
                        if taken:
                            g = ht * cmath.exp(complex(0.0, -u[j] * sa)) if demod else ht
                            sr += wk[j] * g
                    rule = ph * sr if taken else half * complex(rr, ri)
                    em = abs(rule - exact) * fac
                    est = em if _resolved_row(S, res_phase) else bound
                ex += est
            if ex > 0.0:
                g_i = k_i + abs(k_i - g_i) + ex
        kr[i] = k_i
        gs[i] = g_i
        dk[i] = d_i
        fpb[i] = p_i
        ok[i] = 1.0 if res else 0.0
        extra[i] = ex
    return kr, gs, ab, dk, fpb, ok, extra
