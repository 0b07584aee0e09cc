"""REMOVE delta(eps) and eps(delta) of one Poisson-subsampled Gaussian group at tiny q, conditioned on its
few large losses (issue 8, session 15, H-D4).

The corner: q <~ 1e-5, q T ~ 0.1 .. tens, eps well above the spread of the summed small losses.  There
almost every step's privacy loss l(X) = log(1 - q + q e^{mu X - mu^2/2}) (mu = 1/sigma; X ~ P = (1 - q)
N(0, 1) + q N(mu, 1)) is a near-atom of size ~q e^{mu X}, and delta(eps) comes from the rare steps whose X is
so large that their loss alone is comparable to eps.  The saddle-point contour meets the summed near-atoms as
a plateau of the integrand (|E e^{(c + iu) L}|^T decays only once u ~ 1e3..1e4) and the few-participation
quadrature spends its node budget there; here the sum of the small losses enters only through its
moments, and the large losses through the one-step delta in closed form.

**The expansion.**  Split each step at x_c (its loss at g = l(x_c)): the tail event A_i = {X_i > x_c} has
probability p = (1 - q) Phibar(x_c) + q Phibar(x_c - mu); J = sum 1{A_i} ~ Bin(T, p).  Conditioned on J and
on which steps are in the tail, the steps are independent: body steps have the law of L given X <= x_c, tail
steps that of L given X > x_c.  With phi_eps(s) = (1 - e^{eps - s})_+ and B_k the sum of k body steps,

    delta(eps) = sum_j P(J = j) E[phi_eps(B_{T-j} + C_1 + ... + C_j)]
               = (1-p)^T E phi(B_T) + T (1-p)^{T-1} E G(eps - B_{T-1}) + C(T, 2) (1-p)^{T-2} E H2(eps - B_{T-2}) + R3,

where G(e) = E_P[(1 - e^{e - L})_+ ; X > x_c] (one tail step integrated in closed form: for e >= g it is the
one-step delta  G_an(e) = q Phibar(x(e) - mu) - (e^e - 1 + q) Phibar(x(e)),  x(e) = (log((e^e - 1 + q)/q) +
mu^2/2)/mu the inverse of l; for e < g it is p - e^e Phibar(x_c)), H2(e) = int_{x > x_c} G(e - l(x)) dP(x) (one
more tail step, a 1-D quadrature), and 0 <= R3 <= P(J >= 3) <= C(T, 3) p^3 (phi <= 1; union bound).

* J = 0: 0 <= (1-p)^T E phi(B_T) <= k(th) e^{-th eps} M_b(th)^T for every th > 0 (phi(s) <= k(th) e^{th (s - eps)},
  k(th) = th^th / (th + 1)^(th + 1); M_b(th) = E[e^{th L}; X <= x_c]); the smallest over a grid of th is charged
  to the error.
* J = 1: B = B_{T-1} is a sum of T - 1 body steps, concentrated at its mean m with central moments mu_k from its
  cumulants (T - 1) kappa_k (the body step's cumulants from its raw moments, Gauss-Legendre in x on (-40, x_c]). E
  G_an(eps - B) ~ sum_{k < N} c_k (-1)^k mu_k (N = N_MOM = 24), c_k the Taylor coefficients of G_an at e0 = eps - m
  from G_an on the circle |e - e0| = r (r = min(dist / 2, 2, 8 / |d log G_an / de|, dist (1e-12 G_an(e0))^(1/64)),
  dist = e0 - log(1 - q) the distance to G_an's branch point) by the FFT (Cauchy's formula; G_an at complex e
  through the scaled form G_an = A phi(x) [R(x - mu) - R(x)], A = e^e - 1 + q, R the Mills ratio via erfcx, and log
  A continued analytically, _log_a).  Charged (_series_error): with M_r the largest |G_an| on the circle and rho =
  0.9 r, Taylor's remainder on |B - m| <= rho, M_r mu_N (10 / r^N + N / rho^N) (Cauchy's estimate; the polynomial
  where |B - m| > rho), G_an(g) P(B - m > rho) + P(B > eps - g) (Chernoff for B), the coefficients' rounding
  N_CIRCLE U M_r sum |mu_k| / r^k and their aliasing (the 32-point rule against the 64-point one, _taylor). And
  where eps - B < g, G differs from G_an by at most P(L > eps - B): the continuation charge sum over levels e_k of
  P(L > e_k) P(B > eps - e_{k-1}) (_continuation).
* J = 2: H2 at e0' = eps - m' (m' the mean of B_{T-2}) by Gauss-Legendre panels in x (split where e - l(x) = g); the
  spread of B_{T-2} to fourth order, f + f2 mu2 / 2 - f3 mu3 / 6 + f4 mu4 / 24 (fk: k-th derivatives) with 5-point
  differences (_smooth); charged: a tenth of the fourth-order term and the difference between step sizes h, 2h.
* J = 3: C(T, 3) (1-p)^{T-3} H3(e) with H3 a fixed-node double quadrature (5 % of it charged) where C(T, 3) p^3 is
  not already negligible; J >= 4 (or J >= 3): C(T, j) p^j charged in full (one-sided).

**A wide body sum** (session 16, H-DF).  Where the summed small losses are not narrow against the Cauchy radius
(sd >= r / 5: q T in the tens to hundreds at q ~1e-7, sigma ~0.6; benchmarks/trunc_d3_scan.py seed 14 point 53 and
seed 15 point 36 were flagged Chernoff bounds 2.540 / 1.634 for 0.1634149643 / 0.3268256675), eps(delta) switches to
the tilted-density mode (FFT_ENABLED): J = 1 is E G(eps - B) = e^{K(th)} int G(eps - b) e^{-th b} f_th(b) db with
f_th the density of B tilted by e^{th b}, from one FFT of its characteristic function e^{K(th + it) - K(th)}
(:class:`_TiltedSum`; K from the body nodes, the complex log1p without cancellation, _clog1p), th balancing the slope
of log G, the trapezoidal rule on +-FFT_HALF_SD standard deviations; J = 0 (all steps in the body: no longer negligible
there) is computed, the trapezoidal rule on the Bromwich line of the body's entire K_T with the same kind of samples.
Charged (CondRemove._fft_j1 / _fft_j0): Chernoff bounds outside the window (levels on the right), the period's images,
the characteristic function beyond t_max, rounding (the FFT's, K's per sample), the trapezoidal rule's error (every
other point); J = 2 and J >= 3 as above.  Any tilt is exact, and the answers agree to 3e-10 over window / grid
choices; the certified brackets contain both (tests/test_flag_s16_wide.py).

x_c is chosen among candidates (g = r 2^-k, k = 1..9) as the one with the smallest of the charges that depend on
it (_proxy; in the tilted-density mode the union bound on the tail steps).  eps(delta): the root of log delta(eps) = log(target) by the secant from the one-large-step root
T G_an(e) = target, x_c fixed during the search (re-chosen once where the root moved by > 5 %); the relative
error of eps is that of delta over |d log delta / d log eps|.  It declines at once (CondError, in ~10 ms)
where the summed small losses are not narrow against eps (sd >= r / 5: a CLT regime) or the charges at the start
exceed 1e-3 of the target (several participations matter: small sigma, larger q T).  The result is an estimate
with its error estimate (the charges).  The exact chain (methods/dispatch.py, patch D4-1 of session 15) asks
:func:`dispatch_epsilon` first for eps(delta) where :func:`first` says so (one group, q <= 1e-5, q T <= 30): REMOVE
by the expansion where its estimate is <= DISPATCH_ACCEPT, ADD settled by its loss bound or its rigorous
Chernoff bound (fewpart._Direction); where it declines the chain runs as before.

Measured (benchmarks/trunc_d3_scan.py --ab-cond, seed 14, 64 points sigma 0.44-0.62, q 1e-7..3e-6, q T 0.5..500,
delta 1e-13..1.5e-10, the dispatch patch D4-1 emulated; CPU, loaded 2-core machine): exact 58 -> 63, flagged 6 -> 1
(q T 300, outside the domain), median 0.149 -> 0.036 s, max 0.677 -> 0.371 s; no valid answer outside the certified
bracket.  Against the other engines where both settle (benchmarks/fewpart_d4_scan.py, seeds 1-3): within 2e-8,
inside the stated errors.  Tests: tests/test_fewpart_d4_cond.py (three steps against an independent direct
quadrature checked against mpmath; T ~ 4e6 against the truncated-MGF quadrature).

Public functions: :func:`applies`, :func:`first`, :func:`cond_delta`, :func:`cond_epsilon`, :func:`dispatch_epsilon`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

from . import budget

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT_HALF_PI = math.sqrt(0.5 * math.pi)

#: Gauss-Legendre nodes of one panel
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
#: points on the Cauchy circle
N_CIRCLE = 64
#: moments of the body sum used (the series' order)
N_MOM = 24
#: the Cauchy radius as a fraction of the distance to G_an's branch point log(1 - q)
R_FRAC = 0.5
#: secant steps of the eps(delta) search
MAX_SECANT = 12
#: the largest Cauchy radius
R_MAX = 2.0
#: the largest Cauchy radius times |d log G_an / de|
R_SLOPE = 8.0
#: where q T or q exceeds these, the method is not offered (the Taylor series needs the summed small losses to be a
#: narrow near-atom, the tilted-density mode only that few steps are large: it declines in ~10-20 ms where the
#: charges that depend on the split are not small against the target, else after its solve where its error estimate
#: is above ACCEPT; 50 -> 500 in session 16 with that mode)
MAX_QT = 500.0
MAX_Q = 1e-4
#: levels of the continuation charge (see CondRemove._continuation)
CONT_LEVELS = 8
#: the relative error of delta aimed at, and the largest accepted
RTOL = 1e-9
ACCEPT = 1e-7


class CondError(ArithmeticError):
    """The conditioned expansion does not reach its tolerance here (the caller falls back)."""


class _WideBody(CondError):
    """The summed small losses are too wide for the Taylor series (the tilted-density J = 1 may answer)."""


#: where the body sum is too wide for the Taylor series, J = 1 by its tilted density (CondRemove._fft_j1)
FFT_ENABLED = True
#: the tilted density's window half-width in its standard deviations, first and largest FFT sizes
FFT_HALF_SD = 16.0
FFT_N0 = 512
#: Chebyshev nodes of J = 2's log H2 over the window above 2g at eps within 10 % (its error: against half as many;
#: below 2g H2 is in closed form)
FFT_J2_NODES = 40
FFT_N_MAX = 1 << 11
#: CPU-time budget of the tilted-density mode within one eps(delta) (it is tried before the contour: a decline must
#: leave the chain its time; q 1e-5, sigma 0.5, q T 450, delta 1e-12 spent 1.3 s doubling the FFT to 2^16 before)
WIDE_BUDGET_S = 0.35
_U = 2.220446049250313e-16


def _phibar(x):
    return ndtr(-x)


def _loss(q: float, mu: float, x: np.ndarray) -> np.ndarray:
    """l(x) = log(1 - q + q e^{mu x - mu^2/2}), without cancellation."""
    return np.log1p(q * np.expm1(mu * x - 0.5 * mu * mu))


def _x_of(q: float, mu: float, e):
    """The inverse of l: x with l(x) = e (real or complex e, e > log(1 - q) on the real line)."""
    a = np.expm1(e) + q
    return (np.log(a / q) + 0.5 * mu * mu) / mu


def _log_surv(q: float, mu: float, e: float) -> float:
    """log P(L > e) under P (e > log(1 - q))."""
    x = float(_x_of(q, mu, e))
    return float(np.logaddexp(math.log1p(-q) + log_ndtr(-x), math.log(q) + log_ndtr(mu - x)))


def _mills(t):
    """R(t) = Phibar(t) / phi(t) (real or complex t)."""
    return SQRT_HALF_PI * erfcx(t / math.sqrt(2.0))


def g_an(q: float, mu: float, e):
    """The one-step REMOVE delta at e (e > log(1 - q); real or complex), G_an(e) = q Phibar(x - mu) -
    A Phibar(x) with A = e^e - 1 + q and x = x(e), as A phi(x) [R(x - mu) - R(x)] (q phi(x - mu) = A phi(x))."""
    la = _log_a(q, e)
    x = (la - math.log(q) + 0.5 * mu * mu) / mu
    return np.exp(la - 0.5 * x * x - LOG_SQRT_2PI) * (_mills(x - mu) - _mills(x))


def _log_a(q: float, e):
    """log(e^e - 1 + q), analytic on Re e > log(1 - q): the principal log where |Im e| < 1 (there e^e - 1 + q
    stays off the negative axis), e + log1p(-(1 - q) e^{-e}) elsewhere (|(1 - q) e^{-e}| < 1): the principal
    log of e^e - 1 + q jumps where Im e crosses an odd multiple of pi (a Cauchy circle of radius 10 at eps 21
    had it, and its coefficients were garbage: q 1e-9, sigma 0.2, T 1000 gave 21.01 for 14.84)."""
    e = np.asarray(e)
    if not np.iscomplexobj(e):
        return np.log(np.expm1(e) + q)
    out = np.empty(e.shape, dtype=complex)
    near = np.abs(e.imag) < 1.0
    with np.errstate(all="ignore"):
        out[near] = np.log(np.expm1(e[near]) + q)
        far = ~near
        out[far] = e[far] + np.log1p(-(1.0 - q) * np.exp(-e[far]))
    return out


class _Step:
    """One group's step law split at x_c: tail probability, body moments and MGF, tail quadrature."""

    def __init__(self, q: float, sigma: float, x_c: float) -> None:
        self.q, self.mu, self.x_c = q, 1.0 / sigma, x_c
        mu = self.mu
        self.g = float(_loss(q, mu, np.array(x_c)))
        self.qg = float(_phibar(x_c))                       # Q(X > x_c)
        self.p = (1.0 - q) * self.qg + q * float(_phibar(x_c - mu))
        # body nodes on (-40, x_c]: panels of width <= 0.5
        lo = -40.0
        edges = np.concatenate([np.linspace(lo, min(-8.0, x_c - 1.0), 9), np.arange(min(-8.0, x_c - 1.0) + 0.5, x_c, 0.5)])
        edges = np.unique(np.append(edges[edges < x_c], x_c))
        a, b = edges[:-1, None], edges[1:, None]
        xs = (0.5 * (a + b) + 0.5 * (b - a) * _GL_X).ravel()
        ws = (0.5 * (b - a) * _GL_W).ravel()
        dens = (1.0 - q) * np.exp(-0.5 * xs * xs - LOG_SQRT_2PI) + q * np.exp(-0.5 * (xs - mu) ** 2 - LOG_SQRT_2PI)
        self.bx, self.bw = xs, ws * dens
        self.bl = _loss(q, mu, xs)
        mass = float(np.sum(self.bw))
        self.body_mass = 1.0 - self.p                      # exact; the quadrature's mass is a check
        self.quad_mass_err = abs(mass - self.body_mass)
        # raw moments of the body-conditioned loss, k = 0..N_MOM
        pw = np.ones_like(self.bl)
        raw = [1.0]
        for _ in range(N_MOM):
            pw = pw * self.bl
            raw.append(float(np.dot(self.bw, pw)) / self.body_mass)
        self.raw = np.array(raw)
        self.kappa = _cumulants(self.raw)

    def log_mb(self, th: np.ndarray) -> np.ndarray:
        """log E[e^{th L}; X <= x_c] (unnormalized body MGF) at each th >= 0."""
        t = np.atleast_1d(th)[:, None]
        e = t * self.bl[None, :]
        mx = np.max(e, axis=1, keepdims=True)
        return (np.log(np.sum(self.bw[None, :] * np.exp(e - mx), axis=1)) + mx[:, 0])

    def g_tail(self, e: np.ndarray) -> np.ndarray:
        """G(e) = E_P[(1 - e^{e - L})_+; X > x_c] at real e."""
        e = np.asarray(e, dtype=float)
        out = np.empty_like(e)
        hi = e >= self.g
        if np.any(hi):
            out[hi] = g_an(self.q, self.mu, e[hi])
        lo = ~hi
        if np.any(lo):
            out[lo] = self.p - np.exp(e[lo]) * self.qg
        return out

    def tail_nodes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gauss-Legendre nodes of the tail x > x_c (panels of width 0.25): x, weights times dP, l(x)."""
        tn = getattr(self, "_tn", None)
        if tn is None:
            q, mu = self.q, self.mu
            top = max(self.x_c, mu) + 14.0
            ed = np.arange(self.x_c, top + 0.25, 0.25)
            aa, bb = ed[:-1, None], ed[1:, None]
            xs = (0.5 * (aa + bb) + 0.5 * (bb - aa) * _GL_X).ravel()
            ws = (0.5 * (bb - aa) * _GL_W).ravel()
            dens = (1.0 - q) * np.exp(-0.5 * xs * xs - LOG_SQRT_2PI) + q * np.exp(-0.5 * (xs - mu) ** 2 - LOG_SQRT_2PI)
            keep = ws * dens > 1e-40 * np.max(ws * dens)
            tn = self._tn = (xs[keep], (ws * dens)[keep], _loss(q, mu, xs[keep]))
        return tn

    def h3(self, e: float) -> float:
        """H3(e) = int int_{x1, x2 > x_c} G(e - l(x1) - l(x2)) dP dP (an estimate: fixed nodes, G's kink
        not split; used only where the J = 3 term is a small share of delta)."""
        _, w, l = self.tail_nodes()
        ei = e - l
        low = ei <= 2.0 * self.g
        out = float(np.dot(w[low], self.p * self.p - np.exp(ei[low]) * self.qg * self.qg))
        if np.any(~low):
            ee = ei[~low][:, None] - l[None, :]
            out += float(np.dot(w[~low], self.g_tail(ee.ravel()).reshape(ee.shape) @ w))
        return out

    def h2(self, e: float) -> float:
        """H2(e) = int_{x > x_c} G(e - l(x)) dP(x)."""
        q, mu = self.q, self.mu
        top = max(self.x_c, mu) + 14.0
        cuts = [self.x_c]
        if e - self.g > self.g:
            xk = float(_x_of(q, mu, e - self.g))
            if self.x_c < xk < top:
                cuts.append(xk)
        cuts.append(top)
        tot = 0.0
        for a, b in zip(cuts[:-1], cuts[1:]):
            n = max(2, int(math.ceil((b - a) / 0.5)))
            ed = np.linspace(a, b, n + 1)
            aa, bb = ed[:-1, None], ed[1:, None]
            xs = (0.5 * (aa + bb) + 0.5 * (bb - aa) * _GL_X).ravel()
            ws = (0.5 * (bb - aa) * _GL_W).ravel()
            dens = (1.0 - q) * np.exp(-0.5 * xs * xs - LOG_SQRT_2PI) + q * np.exp(-0.5 * (xs - mu) ** 2 - LOG_SQRT_2PI)
            tot += float(np.dot(ws * dens, self.g_tail(e - _loss(q, mu, xs))))
        return tot


def _cumulants(raw: np.ndarray) -> np.ndarray:
    """Cumulants kappa_1.. from raw moments raw[0] = 1, raw[1], ... (the standard recursion)."""
    n = raw.size - 1
    k = np.zeros(n + 1)
    for j in range(1, n + 1):
        s = raw[j]
        for i in range(1, j):
            s -= math.comb(j - 1, i - 1) * k[i] * raw[j - i]
        k[j] = s
    return k


def _central_moments(cum: np.ndarray) -> np.ndarray:
    """Central moments mu_0..mu_n of a law with cumulants cum[1..n] (cum[1] ignored: centred)."""
    n = cum.size - 1
    m = np.zeros(n + 1)
    m[0] = 1.0
    for j in range(2, n + 1):
        s = 0.0
        for i in range(2, j + 1):
            s += math.comb(j - 1, i - 1) * cum[i] * m[j - i]
        m[j] = s
    return m


def _taylor(q: float, mu: float, e0: float, r: float) -> tuple[np.ndarray, float, np.ndarray]:
    """Taylor coefficients c_0..c_{N_MOM} of G_an at e0 (Cauchy's formula on |e - e0| = r, FFT), and the
    largest |G_an| sampled on the circle."""
    k = np.arange(N_CIRCLE)
    w = np.exp(2j * math.pi * k / N_CIRCLE)
    f = g_an(q, mu, e0 + r * w)
    if not np.all(np.isfinite(f)):
        raise CondError("the one-step delta is not finite on the Cauchy circle")
    c = np.fft.fft(f) / N_CIRCLE
    c2 = np.fft.fft(f[::2]) / (N_CIRCLE // 2)
    j = np.arange(N_MOM + 1)
    # aliasing: the half rule's coefficients differ from the full rule's by about the half rule's aliasing,
    # c_{k+32} r^{k+32} + ...; where the coefficients decay geometrically (|c_k| r^k ~ M rho^k) the full rule's,
    # c_{k+64} r^{k+64} ~ M rho^64, is about M (d / M)^2 with d that difference: charged 100 times that, and d
    # itself where d / M > 1e-3 (no clear decay)
    m = float(np.max(np.abs(f)))
    d = np.abs(c[j] - c2[j])
    al = np.where(d <= 1e-3 * m, 100.0 * d * d / m, d) if m > 0.0 else d
    return (c[j] / r ** j).real, m, al / r ** j


def _smooth(fm2: float, fm1: float, f0: float, f1: float, f2: float, h: float, k2: float, k3: float,
            k4: float) -> tuple[float, float]:
    """E f(e0 - Y) ~ f + f2 mu2 / 2 - f3 mu3 / 6 + f4 mu4 / 24 (fk the k-th derivative; Y centred with cumulants
    k2, k3, k4: mu2 = k2, mu3 = k3, mu4 = k4 + 3 k2^2), derivatives by 5-point differences of step h; and the
    last term."""
    d2 = (-fm2 + 16.0 * fm1 - 30.0 * f0 + 16.0 * f1 - f2) / (12.0 * h * h)
    d3 = (-fm2 + 2.0 * fm1 - 2.0 * f1 + f2) / (2.0 * h ** 3)
    d4 = (fm2 - 4.0 * fm1 + 6.0 * f0 - 4.0 * f1 + f2) / h ** 4
    t4 = d4 * (k4 + 3.0 * k2 * k2) / 24.0
    return f0 + 0.5 * d2 * k2 - d3 * k3 / 6.0 + t4, t4


def _radius(dist: float, a: float, g0: float = 1.0) -> float:
    """The Cauchy radius at distance dist from G_an's branch point where |d log G_an / de| = a: R_FRAC dist, at
    most R_MAX and R_SLOPE / a (on a wider circle G_an spans many orders of magnitude: the FFT's aliasing and
    rounding grow with it; q 1e-5, sigma 2, T 3, eps 0.05: a = 680, a radius of 0.025 spanned 1e10 and c_0 came out
    1.2e-64 for G_an(e0) = 1.9e-70)."""
    # and (r / dist)^N_CIRCLE <= 1e-12 G_an(e0): the coefficients decay like (r / dist)^k up to the largest |G_an|
    # near the branch point (<= ~1, the one-step delta at the loss's infimum); G_an(e0) ~ 1e-25 at q 1e-4, sigma 1,
    # eps 1 made a half-distance circle's aliasing ~1e-3 of the value
    frac = min(R_FRAC, math.exp(math.log(1e-12 * max(g0, 1e-300)) / N_CIRCLE))
    return min(frac * dist, R_MAX, R_SLOPE / a)


def _log_slope(q: float, mu: float, e: float) -> tuple[float, float]:
    """(|d log G_an / de|, G_an) at real e: G_an'(e) = -e^e Q(L > e) = -e^e Phibar(x(e))."""
    x = float(_x_of(q, mu, e))
    gv = float(g_an(q, mu, np.array(e)))
    if not gv > 0.0:
        raise CondError("the one-step delta underflows")
    return math.exp(e + float(log_ndtr(-x)) - math.log(gv)), gv


def _union(T: int, j: int, p: float) -> float:
    """C(T, j) p^j >= P(Bin(T, p) >= j) (0 where T < j)."""
    if T < j or not p > 0.0:
        return 0.0
    return math.exp(math.log(math.comb(T, j)) + j * math.log(p))


def _chernoff(log_m: np.ndarray, th: np.ndarray, n: float, level: float) -> float:
    """min over th of -th level + n log_m(th) (log of a Chernoff bound on P(sum > level))."""
    return float(np.min(-th * level + n * log_m))


_TH = np.geomspace(0.05, 5e4, 72)


def _clog1p(w: np.ndarray) -> np.ndarray:
    """log(1 + w) at complex w without cancellation: 0.5 log1p(2 Re w + |w|^2) + i atan2(Im w, 1 + Re w).  (numpy's
    complex log1p forms 1 + w: at |w| ~ 1e-10 its real part was 1.5e-8 off, and times n = 3e9 steps that is a relative
    error of 3e-7 on the characteristic function.)"""
    x, y = w.real, w.imag
    return 0.5 * np.log1p(x * (2.0 + x) + y * y) + 1j * np.arctan2(y, 1.0 + x)


def _balance_tilt(c: "CondRemove", st: _Step, eps: float, n: int) -> float:
    """The tilt th = |d log G / de| at eps - n mean(th) (bisection in log th): the integrand G(eps - b) f(b) then peaks
    near the tilted mean (any th > 0 is exact)."""
    q, mu = c.q, c.mu

    def slope(e: float) -> float:
        if e >= st.g:
            return _log_slope(q, mu, e)[0]
        gv = st.p - math.exp(e) * st.qg
        return math.exp(e) * st.qg / gv if gv > 0.0 else math.inf

    lo, hi = -12.0, 12.0
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        th = math.exp(mid)
        if th > slope(eps - n * _tilted_moments(st, th)[0]):
            hi = mid
        else:
            lo = mid
    return math.exp(0.5 * (lo + hi))


def _tilted_moments(st: _Step, th: float) -> tuple[float, float]:
    """Mean and variance of one body step's loss under the tilt e^{th l} (the body nodes of st)."""
    e = np.exp(th * st.bl)
    m0 = (1.0 - st.p) + float(np.dot(st.bw, np.expm1(th * st.bl)))
    m1 = float(np.dot(st.bw, st.bl * e)) / m0
    return m1, float(np.dot(st.bw, st.bl * st.bl * e)) / m0 - m1 * m1


class _TiltedSum:
    """The sum B of n body steps (split st) tilted by e^{th b}: K(z) = n log E[e^{zL}; X <= x_c] from the body nodes
    (the exact body mass 1 - p plus sum w (e^{zl} - 1): no cancellation), its characteristic function
    phi(t) = e^{K(th + it) - K(th) - i t b0} sampled at t_j = 2 pi j / P (j = 0 .. N/2; N doubled from FFT_N0 until
    the outer 5 % of the samples are below 1e-18, else CondError), and the tilted density on the grid b0 + k P / N,
    |k P / N| <= H = FFT_HALF_SD sd, from one FFT (Poisson summation: the period-P images of the density), with the
    Chernoff bounds the callers charge (B below / above the window, the images)."""

    def __init__(self, st: _Step, n: int, th: float, deadline: float = math.inf,
                 base: "_TiltedSum | None" = None) -> None:
        self.th = th
        mean, var = _tilted_moments(st, th)
        self.b0 = n * mean
        self.sd = math.sqrt(max(n * var, 0.0))
        if not (self.sd > 0.0 and math.isfinite(self.b0)):
            raise CondError("the tilted body sum has no spread")
        bl, bw = st.bl, st.bw
        body = 1.0 - st.p
        lbody = math.log1p(-st.p)
        if base is not None:
            # the same split and tilt, another count (J = 2 from J = 1's samples): the per-step log-MGF samples and the
            # grid are base's (its window, within a step's spread of this one's)
            self._finish(st, n, body, lbody, base.P, base.H, base.N, base.t, base.sv_all, base.mag_all)
            return

        def s_sum(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            out = np.empty(z.shape, dtype=complex)
            mag = np.empty(z.shape)
            for i in range(0, z.size, 128):
                if budget.expired() or budget.clock() > deadline:
                    raise CondError(f"the tilted-density mode ran past its CPU-time budget ({WIDE_BUDGET_S} s)")
                e = np.expm1(np.multiply.outer(z[i:i + 128], bl))
                out[i:i + 128] = e @ bw
                mag[i:i + 128] = np.abs(e) @ bw
            return out, mag

        s_th, _ = s_sum(np.array([complex(th, 0.0)]))
        self.k_th = float(n * (lbody + np.log1p(s_th[0].real / body)))
        self.H = FFT_HALF_SD * self.sd
        self.P = P = 4.0 * self.H
        N = FFT_N0
        done = 0
        t_all = np.zeros(0)
        sv_all = np.zeros(0, dtype=complex)
        mag_all = np.zeros(0)
        while True:
            if budget.expired():
                raise CondError(budget.NOTE)
            t = 2.0 * math.pi * np.arange(N // 2 + 1) / P
            # the samples already computed (every other one of the doubled grid) are kept
            new = np.arange(N // 2 + 1) if done == 0 else np.arange(1, N // 2 + 1, 2)
            sv, mag = s_sum(th + 1j * t[new])
            if done == 0:
                sv_all, mag_all = sv, mag
            else:
                a = np.empty(N // 2 + 1, dtype=complex)
                m = np.empty(N // 2 + 1)
                a[0::2], m[0::2] = sv_all, mag_all
                a[1::2], m[1::2] = sv, mag
                sv_all, mag_all = a, m
            done = N
            kz = n * (lbody + _clog1p(sv_all / body))
            phi = np.exp(kz - self.k_th - 1j * t * self.b0)
            outer = float(np.max(np.abs(phi[int(0.95 * t.size):])))
            if outer <= 1e-18 or N >= FFT_N_MAX:
                break
            N *= 2
        if outer > 1e-18:
            raise CondError(f"the tilted body sum's characteristic function has not decayed ({outer:.2g}) by {N} points")
        self._finish(st, n, body, lbody, P, self.H, N, t, sv_all, mag_all)

    def _finish(self, st: _Step, n: int, body: float, lbody: float, P: float, H: float, N: int, t: np.ndarray,
                sv_all: np.ndarray, mag_all: np.ndarray) -> None:
        th = self.th
        self.P, self.H, self.sv_all, self.mag_all = P, H, sv_all, mag_all
        if not hasattr(self, "k_th"):
            self.k_th = float(n * (lbody + math.log1p(float(np.dot(st.bw, np.expm1(th * st.bl))) / body)))
        kz = n * (lbody + _clog1p(sv_all / body))
        phi = np.exp(kz - self.k_th - 1j * t * self.b0)
        outer = float(np.max(np.abs(phi[int(0.95 * t.size):])))
        self.N, self.t, self.phi, self.outer = N, t, phi, outer
        self.h = h = P / N
        full = np.concatenate([phi[:N // 2], np.conj(phi[N // 2:0:-1])])  # j = 0 .. N/2 - 1, then -N/2 .. -1
        f = np.fft.fftshift(np.fft.fft(full)).real / P
        y = (np.arange(N) - N // 2) * h
        keep = np.abs(y) <= self.H
        self.b, self.f = self.b0 + y[keep], f[keep]
        self.even = (np.arange(N)[keep] - N // 2) % 2 == 0
        # the density's absolute error at every point: the FFT's rounding (log2 N u) and K's error at each sample
        # (n 64 u sum |w (e^{zl} - 1)| / (1 - p): the nodes' rounding and quadrature, measured ~1e-12 relative
        # against a 4x finer rule at T = 3e9), each a relative error of that sample, (2 / P) sum_j |phi_j| (...)
        self.k_errs = n * 64.0 * _U * mag_all / body
        self.k_err = float(self.k_errs[0])
        self.f_err = float(2.0 * np.sum(np.abs(phi) * ((math.log2(N) + 4.0) * _U + self.k_errs)) / P)
        # the characteristic function beyond t_max (an estimate: the outer samples' largest modulus, times their count)
        self.cf = 10.0 * N * outer / P
        # Chernoff bounds: B below the window, above the levels b_hi + sd (2^k - 1), the images |B - b0| >= P - H
        lm_neg = getattr(st, "log_mb_neg", None)
        if lm_neg is None:
            lm_neg = st.log_mb_neg = st.log_mb(-_TH)
        b_lo = self.b0 - self.H
        self.p_below = math.exp(min(0.0, float(np.min(n * lm_neg + _TH * b_lo))))
        self.levels = self.b0 + self.H + self.sd * (2.0 ** np.arange(48) - 1.0)
        self.p_above = np.exp(np.minimum(0.0, np.min(n * st.log_mb_grid[None, :] - _TH[None, :] * self.levels[:, None],
                                                     axis=1)))
        tsd = np.geomspace(1e-3, 1e3, 49) / self.sd
        up, dn = st.log_mb(th + tsd), st.log_mb(th - tsd)
        lim = P - self.H
        self.p_images = (math.exp(min(0.0, float(np.min(n * up - self.k_th - tsd * (self.b0 + lim)))))
                         + math.exp(min(0.0, float(np.min(n * dn - self.k_th + tsd * (self.b0 - lim))))))


class CondRemove:
    """REMOVE delta(eps) of PSG(q, sigma) x T by the conditioned expansion; one x_c per instance."""

    def __init__(self, q: float, sigma: float, steps: int, fft: bool = False) -> None:
        if not (0.0 < q <= MAX_Q and steps >= 3 and q * steps <= MAX_QT and 0.05 <= sigma <= 50.0):
            raise CondError("outside the conditioned expansion's domain")
        self.q, self.sigma, self.T = float(q), float(sigma), int(steps)
        self.mu = 1.0 / sigma
        self.step: _Step | None = None
        self._cache: dict[float, _Step] = {}
        self._mr: tuple[float, float] | None = None
        #: J = 1 by the tilted density of the body sum (_fft_j1) instead of the Taylor series, J = 0 computed (_fft_j0)
        self.fft = bool(fft)
        self._tilt_cache: dict[tuple[float, int], _TiltedSum] = {}
        #: CPU deadline of the tilted-density mode (set where eps(delta) switches to it)
        self._deadline = math.inf
        #: where the Taylor series' answer e is short of ACCEPT, the tilted-density mode is tried only if this
        #: (None: always) says e is worth settling (the dispatch: ADD settled there by its bound)
        self.fallback_ok = None
        #: J = 2's Chebyshev fits of log H2 per (x_c, count): (e_lo, e_hi, coefficients, half-size coefficients)
        self._h2_fits: dict[tuple[float, int], tuple] = {}

    # ---------------------------------------------------------------- pieces
    def _step(self, x_c: float) -> _Step:
        s = self._cache.get(x_c)
        if s is None:
            s = self._cache[x_c] = _Step(self.q, self.sigma, x_c)
            s.log_mb_grid = s.log_mb(_TH)
        return s

    # ---------------------------------------------------------------- a wide body sum: its tilted law
    def _tilted(self, st: _Step, n: int, th: float) -> "_TiltedSum":
        key = (st.x_c, n)
        ts = self._tilt_cache.get(key)
        if ts is None:
            ts = self._tilt_cache[key] = _TiltedSum(st, n, th, self._deadline)
        return ts

    def _fft_j1(self, st: _Step, eps: float, n: int) -> tuple[float, float, dict]:
        """E[G(eps - B); the n steps all in the body] (B their summed loss; the body mass (1 - p)^n included) by the
        density of B tilted by e^{th b}, for a body sum too wide for the Taylor series (sd >= r / 5):

            E[G(eps - B); body] = e^{K(th)} int G(eps - b) e^{-th b} f_th(b) db

        (:class:`_TiltedSum`: f_th on a grid by one FFT of its characteristic function), by the trapezoidal rule on
        |b - b0| <= H.  th (fixed at the first eps asked, reused along the eps(delta) search: any th > 0 is exact)
        balances the slope of log G(eps - b) against the tilt, th = |d log G / de| at eps - b0(th), so that the
        integrand peaks near b0.  Charged: outside the window, G(eps - b) <= G(eps - b_lo) times the Chernoff bound of
        B < b_lo on the left, and on the right a sum over levels b_k of G(eps - b_{k+1}) P(B > b_k) (Chernoff; G <= p
        beyond the last); the period-P images (the tilted Chernoff bound of |B - b0| >= P - H times the window's
        largest weight); the characteristic function beyond t_max; rounding (the FFT's, and K's as a relative error
        of every density value); the trapezoidal rule's error (against every other point).
        (value, absolute error estimate, details)."""
        ts = self._tilt_cache.get((st.x_c, n))
        if ts is None:
            ts = self._tilted(st, n, _balance_tilt(self, st, eps, n))
        th, b0, sd, H, h = ts.th, ts.b0, ts.sd, ts.H, ts.h
        b, fk = ts.b, ts.f
        with np.errstate(divide="ignore", under="ignore"):
            lw = np.log(st.g_tail(eps - b)) + ts.k_th - th * b
        w = np.exp(lw)
        terms = w * fk * h
        val = float(np.sum(terms))
        half = 2.0 * float(np.sum(terms[ts.even]))
        trap = abs(val - half)
        wsum = float(np.sum(w)) * h
        fp = wsum * ts.f_err
        cf = wsum * ts.cf
        # outside the window: left, G(eps - b) <= G(eps - b_lo) and P(B < b_lo) <= min_s e^{K(-s) + s b_lo}
        b_lo, b_hi = b0 - H, b0 + H
        g_lo = float(st.g_tail(np.array([eps - b_lo]))[0])
        left = g_lo * ts.p_below
        # right: levels b_k = b_hi + sd (2^k - 1), G(eps - b_{k+1}) P(B > b_k); G <= p beyond the last
        right = float(np.dot(st.g_tail(eps - ts.levels[1:]), ts.p_above[:-1])) + st.p * float(ts.p_above[-1])
        alias = float(np.max(w)) * ts.p_images
        err = trap + fp + cf + left + right + alias
        return val, err, {"theta": th, "b0": b0, "sd": sd, "fft_points": ts.N, "trap": trap, "fp": fp, "cf": cf,
                          "left": left, "right": right, "alias": alias}

    def _fft_j2(self, st: _Step, eps: float, n: int) -> tuple[float, float, dict]:
        """E[H2(eps - B); the n steps all in the body] (the body mass included) by the tilted density of B (the tilt
        of J = 1's, this count), H2 = int_{x > x_c} G(e - l(x)) dP interpolated in log by Chebyshev polynomials in e
        over the window (FFT_J2_NODES nodes, its error against the half-size interpolant charged times the
        window's weights); outside the window H2 <= p^2 on the right, H2(eps - b_lo) on the left, as in _fft_j1."""
        t1 = self._tilt_cache.get((st.x_c, n + 1))
        ts = self._tilt_cache.get((st.x_c, n))
        if ts is None:
            if t1 is not None:
                ts = self._tilt_cache[(st.x_c, n)] = _TiltedSum(st, n, t1.th, self._deadline, base=t1)
            else:
                ts = self._tilted(st, n, _balance_tilt(self, st, eps, n))
        b, fk, h = ts.b, ts.f, ts.h
        cheb = np.polynomial.chebyshev
        # the fit covers the window at every eps within 10 % of the first one asked (the eps(delta) search): kept
        fits = self._h2_fits.get((st.x_c, n))
        g2 = 2.0 * st.g
        if fits is None or not (fits[0] <= eps - (ts.b0 + ts.H) and eps - (ts.b0 - ts.H) <= fits[1]):
            # below 2g both tail steps' G are on their lower branch: H2(e) = p^2 - e^e Q(X > x_c)^2 exactly; above,
            # log H2 is smooth (the branch point x with e - l(x) = g is inside the tail) and is interpolated
            e_lo, e_hi = 0.9 * eps - (ts.b0 + ts.H), 1.1 * eps - (ts.b0 - ts.H)
            f_lo = max(e_lo, g2)

            def fit(m: int) -> np.ndarray | None:
                if not e_hi > f_lo:
                    return None
                xk = np.cos(math.pi * (np.arange(m) + 0.5) / m)
                ek = 0.5 * (f_lo + e_hi) + 0.5 * (e_hi - f_lo) * xk
                hk = np.array([st.h2(float(e)) for e in ek])
                if not np.all(hk > 0.0):
                    raise CondError("H2 is not positive over the window")
                return cheb.chebfit(xk, np.log(hk), m - 1)

            fits = self._h2_fits[(st.x_c, n)] = (e_lo, e_hi, f_lo, fit(FFT_J2_NODES), fit(FFT_J2_NODES // 2))
        e_lo, e_hi, f_lo, c_full, c_half = fits
        eb = eps - b
        with np.errstate(divide="ignore"):
            lh = np.log(np.maximum(st.p * st.p - np.exp(np.minimum(eb, g2)) * st.qg * st.qg, 0.0))
        lh_half = lh.copy()
        up = eb > g2
        if np.any(up) and c_full is not None:
            xb = (2.0 * eb[up] - (f_lo + e_hi)) / (e_hi - f_lo)
            lh[up] = cheb.chebval(xb, c_full)
            lh_half[up] = cheb.chebval(xb, c_half)
        w = np.exp(lh + ts.k_th - ts.th * b)
        terms = w * fk * h
        val = float(np.sum(terms))
        interp = float(np.sum(np.abs(np.expm1(lh_half - lh)) * np.abs(terms)))
        trap = abs(val - 2.0 * float(np.sum(terms[ts.even])))
        wsum = float(np.sum(w)) * h
        fp = wsum * ts.f_err + wsum * ts.cf
        left = float(st.h2(float(eps - b[0]))) * ts.p_below
        right = st.p * st.p * float(ts.p_above[0])
        alias = float(np.max(w)) * ts.p_images
        err = interp + trap + fp + left + right + alias
        return val, err, {"interp": interp, "trap": trap, "fp": fp, "left": left, "right": right, "alias": alias}

    def _fft_j0(self, st: _Step, eps: float) -> tuple[float, float, dict]:
        """E[(1 - e^{eps - B_T})_+; all T steps in the body] by the trapezoidal rule on the Bromwich line Re z = th of
        the body's K_T (an entire function: the body is bounded), with the samples of :class:`_TiltedSum` (t_j =
        2 pi j / P): e^{K(th) - th eps} (dt / 2 pi) sum_j phi_j e^{i t_j (b0 - eps)} / (z_j (z_j + 1)).  th fixed at the
        first eps asked (the tilted mean at eps).  Charged: the aliases (the body mass e^{-th P} / (1 - e^{-th P}) on
        the left, a Chernoff bound at s > th on the right), the samples beyond t_max, rounding.  (value, absolute
        error estimate, details)."""
        T = self.T
        ts = self._tilt_cache.get((st.x_c, T))
        if ts is None:
            lo, hi = -12.0, 12.0
            for _ in range(48):
                mid = 0.5 * (lo + hi)
                if T * _tilted_moments(st, math.exp(mid))[0] > eps:
                    hi = mid
                else:
                    lo = mid
            ts = self._tilted(st, T, math.exp(0.5 * (lo + hi)))
        th, P = ts.th, ts.P
        z = th + 1j * ts.t
        vals = ts.phi * np.exp(1j * ts.t * (ts.b0 - eps)) / (z * (z + 1.0))
        wts = np.full(vals.size, 1.0)
        wts[0] = 0.5
        scale = math.exp(ts.k_th - th * eps) / P
        val = scale * 2.0 * float(np.dot(wts, vals.real))
        absum = scale * 2.0 * float(np.dot(wts, np.abs(vals)))
        fp = scale * 2.0 * float(np.dot(wts, np.abs(vals) * (64.0 * _U + ts.k_errs)))
        cf = scale * 2.0 * ts.outer * vals.size / (th * th)
        # aliases: left (m < 0), at most the body mass times e^{-th m P}; right (m > 0), e^{th m P} delta_body(eps + m P)
        # <= e^{K(s) - s (eps + m P) + th m P + log[s^s / (s+1)^(s+1)]} for s > th (the Chernoff grid's above th)
        mass = math.exp(T * math.log1p(-st.p))
        alias = mass * math.exp(-th * P) / -math.expm1(-th * P)
        sel = _TH > 1.5 * th
        if np.any(sel):
            sv = _TH[sel]
            kth = sv * np.log(sv) - (sv + 1.0) * np.log1p(sv)
            ex = T * st.log_mb_grid[sel] - sv * (eps + P) + th * P + kth
            rate = (sv - th) * P
            alias += float(np.min(np.exp(np.minimum(ex, 700.0)) / -np.expm1(-rate)))
        else:
            alias += math.inf
        return val, fp + cf + alias, {"theta": th, "points": ts.N, "fp": fp, "cf": cf, "alias": alias}

    def _terms(self, st: _Step, eps: float) -> tuple[float, float, dict]:
        """(delta estimate, its error estimate (absolute), details) at eps with the split st."""
        q, mu, T = self.q, self.mu, self.T
        p, g = st.p, st.g
        l1p = math.log1p(-p)
        # ---- J = 1
        n1 = T - 1
        m1 = n1 * st.kappa[1]
        e0 = eps - m1
        dist = e0 - math.log1p(-q)
        if not dist > 0.0:
            raise CondError("eps below the loss's infimum")
        a, g0 = _log_slope(q, mu, e0)
        r = _radius(dist, a, g0)
        w1 = math.exp(math.log(T) + n1 * l1p)
        fft_info: dict = {}
        if self.fft:
            # a wide body sum: E G(eps - B) by its tilted density (_fft_j1), G itself (no continuation charge)
            v1, e1, fft_info = self._fft_j1(st, eps, n1)
            d1 = v1 / math.exp(n1 * l1p)
            ser, cont, terms, r = T * e1, 0.0, None, math.nan
        else:
            c, m_r, alias = _taylor(q, mu, e0, r)
            mom = _central_moments(n1 * st.kappa)
            terms = c[: N_MOM] * mom[: N_MOM] * (-1.0) ** np.arange(N_MOM)
            d1 = float(np.sum(terms))
            ser = self._series_error(st, m1, n1, r, m_r, mom, eps)
            ser += T * float(np.dot(alias[: N_MOM], np.abs(mom[: N_MOM])))
            cont = self._continuation(st, eps, n1)
        # ---- J = 0: bounded (Chernoff), or computed where the body sum is wide (_fft_j0)
        kth = _TH * np.log(_TH) - (_TH + 1.0) * np.log1p(_TH)
        j0 = math.exp(float(np.min(kth - _TH * eps + T * st.log_mb_grid)))
        j0_val = 0.0
        if self.fft and j0 > 0.1 * RTOL * T * max(d1, 0.0) * math.exp(n1 * l1p):
            j0_val, j0, j0_info = self._fft_j0(st, eps)
            fft_info = {**fft_info, "J0": j0_val, "J0_info": j0_info}
        # ---- J = 2
        n2 = T - 2
        m2 = n2 * st.kappa[1]
        e2 = eps - m2
        w2 = math.exp(math.log(0.5 * T * (T - 1)) + n2 * l1p)
        if self.fft:
            # a wide body: E H2(eps - B) by the tilted density too (the smoothing below is a fourth-order expansion)
            v2, e2abs, j2_info = self._fft_j2(st, eps, n2)
            t2 = v2 / math.exp(n2 * l1p)
            err2 = e2abs / math.exp(n2 * l1p)
            fft_info = {**fft_info, "J2_info": j2_info}
        else:
            h = min(0.05 * dist, 0.01, 0.1 / a)
            hv = {k: st.h2(e2 + k * h) for k in (-4, -2, -1, 0, 1, 2, 4)}
            k2, k3, k4 = n2 * st.kappa[2], n2 * st.kappa[3], n2 * st.kappa[4]
            t2a, ta = _smooth(hv[-2], hv[-1], hv[0], hv[1], hv[2], h, k2, k3, k4)
            t2b, _ = _smooth(hv[-4], hv[-2], hv[0], hv[2], hv[4], 2 * h, k2, k3, k4)
            t2 = t2a
            # the fourth-order term's tenth and the two step sizes' difference (the difference stencils' error)
            err2 = 0.1 * abs(ta) + abs(t2a - t2b) + 1e-3 * abs(t2a - hv[0])
        # ---- J >= 3: bounded by P(J >= 3), or the J = 3 term estimated and J >= 4 bounded
        r3 = _union(T, 3, p)
        val = w1 * d1 + w2 * t2 + j0_val
        t3 = 0.0
        if r3 > 0.1 * RTOL * val:
            w3 = math.exp(math.log(math.comb(T, 3)) + (T - 3) * l1p)
            t3 = w3 * st.h3(eps - (T - 3) * st.kappa[1])
            r3 = 0.05 * t3 + _union(T, 4, p)
            val += t3
        err = ser + cont + j0 + w2 * err2 + r3
        info = {"x_c": st.x_c, "g": g, "p": p, "J1": w1 * d1, "J2": w2 * t2, "series": ser,
                "continuation": cont, "J0_bound": j0, "J2_err": w2 * err2, "J3": t3, "J3_bound": r3,
                "radius": r, "terms": terms, **({"fft": fft_info} if self.fft else {})}
        return val, err, info

    def _continuation(self, st: _Step, eps: float, n1: int) -> float:
        """A bound on T (1-p)^{T-1} E[G_an(eps - B) - G(eps - B); eps - B < g] (>= 0: G_an - G =
        E_P[(1 - e^{e - L}); e < L <= g] <= P(L > e) there): on eps - B in [e_k, e_{k-1}), e_k = g (1 - k/K),
        at most P(L > e_k) P(B > eps - e_{k-1}), and where eps - B < 0 at most P(B > eps) (Chernoff for B)."""
        if not eps > st.g:
            return 1.0
        K = CONT_LEVELS
        tot = 0.0
        for k in range(1, K + 1):
            ek, ek1 = st.g * (1.0 - k / K), st.g * (1.0 - (k - 1) / K)
            lp = _log_surv(self.q, self.mu, ek) if k < K else 0.0
            tot += math.exp(lp + _chernoff(st.log_mb_grid, _TH, n1, eps - ek1))
        tot += math.exp(_chernoff(st.log_mb_grid, _TH, n1, eps))
        return self.T * tot

    def _series_error(self, st: _Step, m1: float, n1: int, r: float, m_r: float, mom: np.ndarray, eps: float) -> float:
        """A bound on T |E G_an(eps - B) - sum_{k < N} c_k (-1)^k mu_k| (N = N_MOM, even), M_r = max |G_an| on
        the circle |e - e0| = r (1.25 x the largest of the sampled values), rho = 0.9 r.  Where |B - m| <= rho
        Taylor's remainder is at most M_r (|B - m| / r)^N / (1 - rho / r); where |B - m| > rho the polynomial
        is at most N M_r (|B - m| / rho)^N, and G_an(eps - B) at most G_an(g) while eps - B >= g (G_an is
        non-increasing), at most 1 beyond (probability P(B > eps - g)).  With E |B - m|^N = mu_N:
        M_r mu_N (10 / r^N + N / rho^N) + G_an(g) P(B - m > rho) + P(B > eps - g) (both by Chernoff; the lower
        tail B - m < -rho is inside the moment term: its G_an is at most G_an(e0 + rho) <= M_r)."""
        rho = 0.9 * r
        mr = 1.25 * m_r
        mom_n, mom_k = mom[N_MOM], mom[:N_MOM]
        mom_part = mr * mom_n * (10.0 / r ** N_MOM + N_MOM / rho ** N_MOM)
        # the coefficients' rounding: the FFT of values up to M_r, each c_k r^k within ~N_CIRCLE U M_r
        k = np.arange(N_MOM)
        mom_part += N_CIRCLE * 2.2e-16 * mr * float(np.sum(np.abs(mom_k) / r ** k))
        gg = float(g_an(self.q, self.mu, np.array(st.g)))
        tail = gg * math.exp(_chernoff(st.log_mb_grid, _TH, n1, m1 + rho))
        tail += math.exp(_chernoff(st.log_mb_grid, _TH, n1, eps - st.g)) if eps > st.g else 1.0
        return self.T * (mom_part + tail)

    def _proxy(self, st: _Step, eps: float) -> float:
        """The x_c-dependent charges without the quadratures of H2 / H3: continuation, and the union bound
        on J >= 4 (J = 3 is then estimated) or J >= 3 where that is already small."""
        T, p = self.T, st.p
        r3, r4 = _union(T, 3, p), _union(T, 4, p)
        n1 = T - 1
        if self.fft:
            # the tilted-density J = 1 has no series or continuation charge and J = 0 is computed: the union bound on
            # the tail steps is the x_c-dependent charge
            return min(r3, r4 + 0.05 * r3 * 1e-3)
        m1 = n1 * st.kappa[1]
        r = _radius(eps - m1 - math.log1p(-self.q), *_log_slope(self.q, self.mu, eps - m1))
        if self._mr is None or self._mr[0] != eps:
            self._mr = (eps, _taylor(self.q, self.mu, eps - m1, r)[1])
        mom = _central_moments(n1 * st.kappa)
        ser = self._series_error(st, m1, n1, r, self._mr[1], mom, eps)
        return ser + self._continuation(st, eps, n1) + min(r3, r4 + 0.05 * r3 * 1e-3)

    def _candidates(self, eps: float) -> list[float]:
        """x_c candidates: losses g = r 2^-k (r the Cauchy radius at eps), k = 2..9."""
        q, mu = self.q, self.mu
        dist = eps - math.log1p(-q)
        out = []
        for k in range(1, 10):
            gk = _radius(dist, *_log_slope(q, mu, eps)) * 2.0 ** -k
            out.append(round(float(_x_of(q, mu, gk)), 3))
        return out

    def choose(self, eps: float) -> float:
        """The x_c (among _candidates) with the smallest proxy charge at eps."""
        best = None
        for xc in self._candidates(eps):
            v = self._proxy(self._step(xc), eps)
            if best is None or v < best[0]:
                best = (v, xc)
        assert best is not None
        return best[1]

    def delta(self, eps: float, x_c: float | None = None) -> tuple[float, float, dict]:
        """(delta, absolute error estimate, details); x_c chosen at eps where not given."""
        if x_c is None:
            x_c = self.choose(eps)
        return self._terms(self._step(x_c), eps)

    # ---------------------------------------------------------------- eps(delta)
    def start(self, log_target: float) -> float:
        """The root of log(T G_an(e)) = log target (the one-large-step approximation), by bisection."""
        lo = math.log1p(-self.q) + 1e-12
        hi = 1.0
        lt = log_target - math.log(self.T)

        def f(e: float) -> float:
            v = float(g_an(self.q, self.mu, np.array(e)))
            return (math.log(v) if v > 0.0 else -math.inf) - lt

        while f(hi) > 0.0:
            hi *= 2.0
            if hi > 1e4:
                raise CondError("no root of the one-large-step approximation")
        lo = max(lo, 1e-9)
        if f(lo) <= 0.0:
            raise CondError("target above the one-step delta at eps ~ 0")
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if f(mid) > 0.0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-13 * hi:
                break
        return 0.5 * (lo + hi)

    def epsilon(self, log_target: float) -> tuple[float, float, dict]:
        """(eps, relative error estimate of eps, details): the root of log delta(eps) = log_target, delta by
        the conditioned expansion with x_c chosen at the one-large-step start, re-chosen (and the root
        refined once more) where the root moved by more than 5 %.  The tilted-density mode (FFT_ENABLED) where the
        summed small losses are too wide for the Taylor series, or where the series' answer is short of ACCEPT
        (there it starts from that answer: trunc_d3_scan seed 14 points 6 and 17, series charges 1.6e-4 / 6e-7 of
        delta, settle to 1e-10 in ~80 ms)."""
        e = self.start(log_target)
        x_c = self.choose(e)
        try:
            self._check(e, x_c, log_target)
        except _WideBody:
            if not FFT_ENABLED or self.fft:
                raise
            # the summed small losses are too wide for the Taylor series: J = 1 by their tilted density
            return self._epsilon_fft(log_target, e)
        e1, rel, info = self._solve(log_target, e, x_c)
        if abs(e1 - e) > 0.05 * e:
            x2 = self.choose(e1)
            if x2 != x_c:
                e1, rel, info = self._solve(log_target, e1, x2)
        if (rel > ACCEPT and FFT_ENABLED and not self.fft and math.isfinite(e1) and e1 > 0.0
                and (self.fallback_ok is None or self.fallback_ok(e1))):
            try:
                res = self._epsilon_fft(log_target, e1)
            except CondError:
                res = None
            if res is not None and res[1] < rel:
                return res
        return e1, rel, info

    def _epsilon_fft(self, log_target: float, e: float) -> tuple[float, float, dict]:
        """eps(delta) in the tilted-density mode from the start e (its own CPU cap WIDE_BUDGET_S); the split re-chosen
        after the first solve only where that answer is short of ACCEPT (its error estimates hold for any split)."""
        self.fft = True
        self._mr = None
        self._deadline = budget.clock() + WIDE_BUDGET_S
        x_c = self.choose(e)
        self._check(e, x_c, log_target)
        e1, rel, info = self._solve(log_target, e, x_c)
        if abs(e1 - e) > 0.05 * e and rel > ACCEPT:
            x2 = self.choose(e1)
            if x2 != x_c:
                e1, rel, info = self._solve(log_target, e1, x2)
        return e1, rel, info

    def _check(self, eps: float, x_c: float, log_target: float) -> None:
        """Decline at once (CondError) where the expansion cannot settle near eps: the body sum's spread not
        well inside the Cauchy radius (sd >= r / 5), or the x_c-dependent charges (_proxy) above 1e-3 of the
        target (more tail steps matter: few participations do not dominate)."""
        st = self._step(x_c)
        dist = eps - (self.T - 1) * st.kappa[1] - math.log1p(-self.q)
        sd = math.sqrt(max((self.T - 1) * st.kappa[2], 0.0))
        if not dist > 0.0:
            raise CondError(f"eps {eps:.4g} below the summed small losses' mean")
        if not self.fft and not sd < _radius(dist, *_log_slope(self.q, self.mu, eps)) / 5.0:
            raise _WideBody(f"the summed small losses (sd {sd:.3g}) are not narrow against eps {eps:.4g}")
        pr = self._proxy(st, eps)
        if not pr <= 1e-3 * math.exp(log_target):
            raise CondError(f"the expansion's charges {pr:.3g} are not small against the target")

    def _solve(self, log_target: float, e: float, x_c: float) -> tuple[float, float, dict]:
        hist: list[tuple[float, float, float]] = []

        def ev(x: float) -> tuple[float, float]:
            if budget.expired():
                raise CondError(budget.NOTE)
            if budget.clock() > self._deadline:
                raise CondError(f"the tilted-density mode ran past its CPU-time budget ({WIDE_BUDGET_S} s)")
            v, err, info = self.delta(x, x_c)
            if not v > 0.0:
                raise CondError("the expansion gave delta <= 0")
            hist.append((x, v, err))
            return math.log(v) - log_target, err / v

        e0 = e
        f0, _ = ev(e0)
        e1 = e0 * (1.0 + 1e-3) if f0 > 0 else e0 * (1.0 - 1e-3)
        f1, _ = ev(e1)
        slope = (f1 - f0) / (e1 - e0)
        for _ in range(MAX_SECANT):
            if f1 == f0:
                break
            e2 = e1 - f1 * (e1 - e0) / (f1 - f0)
            if not (e2 > 0.0):
                raise CondError("the secant left eps > 0")
            e0, f0 = e1, f1
            e1 = e2
            f1, _ = ev(e1)
            if abs(e1 - e0) <= 1e-12 * e1 and abs(f1) < 1e-9:
                break
        else:
            raise CondError("the secant did not converge")
        v, err, info = self.delta(e1, x_c)
        rel_d = err / v
        if not (math.isfinite(slope) and slope < 0.0):
            raise CondError("log delta not decreasing at the root")
        rel_e = (rel_d + abs(f1)) / (abs(slope) * e1) + abs(e1 - e0) / e1
        info = {**info, "evaluations": len(hist), "rel_delta": rel_d, "slope": slope}
        return e1, rel_e, info


#: switch (benchmarks compare with the expansion off)
ENABLED = True


def applies(groups) -> bool:
    """One Poisson-subsampled Gaussian group (q, sigma, T) in the conditioned expansion's domain."""
    if not ENABLED:
        return False
    try:
        (q, s, n), = groups
    except (TypeError, ValueError):
        return False
    return 0.0 < q <= MAX_Q and int(n) >= 3 and q * n <= MAX_QT and 0.05 <= s <= 50.0


def cond_delta(groups, eps: float, fft: bool = False) -> tuple[float, float, dict]:
    """REMOVE delta(eps) of one subsampled-Gaussian group [(q, sigma, T)] by the conditioned expansion:
    (delta, relative error estimate, details); ``fft``: J = 1 by the tilted density of the body sum (and J = 0
    computed) instead of the Taylor series.  Raises :class:`CondError` outside its domain or where the
    estimate is above ``ACCEPT``."""
    if not applies(groups):
        raise CondError("outside the conditioned expansion's domain")
    (q, s, n), = groups
    c = CondRemove(q, s, int(n), fft=fft)
    eps = float(eps)
    if not eps > 0.0:
        raise CondError("eps <= 0")
    v, err, info = c.delta(eps)
    if not (v > 0.0 and math.isfinite(v)):
        raise CondError("the expansion gave no positive delta")
    rel = err / v
    if not rel <= ACCEPT:
        raise CondError(f"estimated relative error {rel:.3g} above {ACCEPT:g}")
    return v, rel, info


def cond_epsilon(groups, delta: float, fallback_ok=None) -> tuple[float, float, dict]:
    """REMOVE eps(delta) of one subsampled-Gaussian group [(q, sigma, T)] by the conditioned expansion:
    (eps, relative error estimate of eps, details).  Raises :class:`CondError` outside its domain or where
    the estimate is above ``ACCEPT``."""
    if not applies(groups):
        raise CondError("outside the conditioned expansion's domain")
    (q, s, n), = groups
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise CondError("delta outside (0, 1)")
    c = CondRemove(q, s, int(n))
    c.fallback_ok = fallback_ok
    e, rel, info = c.epsilon(math.log(delta))
    if not rel <= ACCEPT:
        raise CondError(f"estimated relative error of eps {rel:.3g} above {ACCEPT:g}")
    return e, rel, info


#: the exact chain (methods/dispatch.py) puts the few-participation stage (which tries this expansion first)
#: before the contour for eps(delta) where this applies with q <= FIRST_Q and q T <= FIRST_QT (see first())
FIRST_Q = 1e-5
#: 30 -> 500 (session 16, H-DF) with the tilted-density mode: benchmarks/flag_s16_trunc.py (off = MAX_QT 50, FIRST_QT
#: 30, no tilted mode; on = this), alternated per point, CPU under load: trunc_d3_scan seed 14 (64 points) flagged 1 ->
#: 0 (q T 300: Chernoff 2.540 -> 0.1634149643), median 0.042 -> 0.044 s, max 0.522 -> 0.392 s, total 5.42 -> 5.05 s;
#: seed 15 (40) flagged 1 -> 0 (q T 66: 1.634 -> 0.3268256675), median 0.045 -> 0.043 s, total 3.96 -> 2.85 s; valid
#: answers of both within 1.7e-8 of each other; where the contour answered in 10-20 ms at q T 80-500 the expansion
#: first costs 20-70 ms
FIRST_QT = 30.0
#: ... and sigma <= FIRST_SIGMA: above it the contour (or the quadrature) settled every point of the lead's grid
#: (sigma {0.5, 1, 2, 5} x q {1e-5, 1e-7} x q T {0.1 .. 30} x delta {1e-5, 1e-8, 1e-12}, 120 points, CPU under
#: load ~4): at sigma >= 1 the expansion answered none of the 90 and its declines cost 8-13 ms a query (median
#: 12 -> 19 ms); at sigma 0.5 it settled the 3 flagged points (0.64 s -> 27 ms) and cut the 30 points' total 4.5 -> 2.1 s
FIRST_SIGMA = 0.75
#: the dispatch asks the expansion first for FIRST_QT < q T <= WIDE_FIRST_QT only at delta <= WIDE_FIRST_DELTA (when it
#: passes delta to first()): there the truncated contour met the wide summed small losses with a cancellation beyond
#: its floating-point budget (trunc_d3_scan seed 14 point 53, q T 300, delta 1.5e-12, and seed 15 point 36, q T 66,
#: delta 3.3e-13: flagged Chernoff bounds 2.540 / 1.634 for 0.1634149643 / 0.3268256675) and the tilted-density mode
#: answers; at delta 1e-6 .. 1e-10 the contour settled every point of a sigma {0.5, 0.7} x q {1e-5, 1e-6} x q T
#: {40, 150, 450} grid in 1-20 ms where the expansion first cost 0.1-0.35 s (benchmarks/flag_s16_trunc.py --grid)
WIDE_FIRST_QT = 500.0
WIDE_FIRST_DELTA = 1e-11


def first(groups, kind: str, delta: float | None = None) -> bool:
    """Whether the dispatch should try the few-participation stage (this expansion first) before the contour:
    eps(delta) of one group in the domain with q <= FIRST_Q, q T <= FIRST_QT and sigma <= FIRST_SIGMA.  There the contour fails
    after spending most of the call's budget on the summed near-atoms' plateau (seed-14 scan of
    benchmarks/trunc_d3_scan.py: 5 flagged Chernoff bounds at q T 0.6-3.6), and this answers in ~50 ms.  With the
    target ``delta`` given, also up to q T = WIDE_FIRST_QT where delta <= WIDE_FIRST_DELTA (the tilted-density mode's
    corner: see WIDE_FIRST_DELTA)."""
    if kind != "epsilon" or not applies(groups):
        return False
    (q, s, n), = groups
    if not (q <= FIRST_Q and s <= FIRST_SIGMA):
        return False
    if q * n <= FIRST_QT:
        return True
    return delta is not None and delta <= WIDE_FIRST_DELTA and q * n <= WIDE_FIRST_QT


def dispatch_epsilon(groups, delta: float) -> tuple[float, float, str] | None:
    """eps(delta) over both directions for the exact chain (methods/dispatch.py): REMOVE by the conditioned
    expansion (accepted where its relative error estimate is at most ``DISPATCH_ACCEPT``), ADD settled without a
    contour (its loss bound sum n log(1/(1-q)), or its rigorous Chernoff bound below the target at eps_REMOVE:
    then eps_ADD <= eps_REMOVE, delta being non-increasing).  (eps, relative error, "remove"), or None where it
    declines (the chain then runs as before)."""
    from .fewpart import _Direction

    (q, s, n), = groups
    lt = math.log(delta)

    def add_settled(e: float) -> bool:
        if e >= -n * math.log1p(-q):
            return True
        try:
            if _Direction([(q, s, int(n))], "add", 1e-8).chernoff_log_delta(e) <= lt:
                return True
        except (ArithmeticError, ValueError):
            pass
        # ... or the proven ADD bound of methods/tail_bound.py (lam up to e^46, 2-4 ms), where the Chernoff search
        # (s <= 1e3) stops short: PSG(0.5, 1e-9) x 1e9 at delta 1e-15, ADD's Chernoff bound e^-22.4 at eps 0.0383,
        # that bound e^-8826 (the flagged tail bound 0.4033 was the answer; REMOVE's eps 0.0382767 in 50 ms)
        if not ADD_TAIL_BOUND:
            return False
        from ..mechanisms import PoissonSubsampledGaussian
        from .tail_bound import add_log_delta_bound

        try:
            b = add_log_delta_bound([(PoissonSubsampledGaussian(s, q), int(n))], e)
        except (ArithmeticError, ValueError):
            return False
        return b is not None and b <= lt

    try:
        # the tilted-density fallback (where the series' answer is short) only where ADD would be settled there
        # (~3 ms): else the chain answers both directions, and its budget is not spent here
        e, rel, _ = cond_epsilon(groups, delta, fallback_ok=lambda e: add_settled(0.999 * e))
    except (CondError, ValueError, OverflowError, ZeroDivisionError):
        return None
    if not rel <= DISPATCH_ACCEPT:
        return None
    if not add_settled(e):
        return None
    return e, rel, "remove"


#: whether dispatch_epsilon settles ADD by the proven bound of methods/tail_bound.py where its Chernoff search does
#: not (benchmarks compare it off)
ADD_TAIL_BOUND = True
#: the dispatch takes the expansion's eps where its estimated relative error is at most this (the chain's
#: validity threshold is 1e-6)
DISPATCH_ACCEPT = 1e-7
