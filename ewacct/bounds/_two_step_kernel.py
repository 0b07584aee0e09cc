"""Float kernel of the two-step cell enclosure (docs/certified_small_t.md): directed bounds, no Arb.

For two Poisson-subsampled Gaussian steps, delta(eps) of one direction is ``E_X[f(X)]`` with ``f``
monotone (REMOVE: ``f = d2(eps - l1(x))`` increasing, X ~ P1; ADD: ``f = a2(eps + l1(x))`` decreasing,
X ~ N(0, 1)).  On a cell [a, b] (f increasing; the decreasing case is mirrored)

    E[f(X); a < X < b] = f(a) P(a < X < b) + int_a^b f'(t) P(t < X < b) dt,

and ``f' = E(t) B(t) l1'(t)`` is a product of three monotone factors (E decreasing, B and l1'
increasing), so ``f'`` on the cell lies between ``E(b) B(a) l1'(a)`` and ``E(a) B(b) l1'(b)``; with the
density between p_lo and p_hi on the cell, ``P(t < X < b)`` is within ``[p_lo, p_hi] (b - t)`` and the
integral of ``(b - t)`` is ``h^2 / 2``.  Every cell is thus enclosed with a width O(h^3).

Every value below is a double with a bound on its rounding error: the basic operations are IEEE
double (unit roundoff U = 2^-53), and exp, expm1, log, log1p, erfc are assumed accurate to RL = 16 U
relative (faithful libm functions are within 2 U; the margin covers erfc's usual 2-5 ulp).  Each bound
below is first order in U and carries a factor >= 2 of margin over the terms it omits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

U = 2.0 ** -53
RL = 16.0 * U
INV_SQRT2 = 0.7071067811865476  # within U of 1/sqrt(2)
INV_SQRT_2PI = 0.3989422804014327  # within U of 1/sqrt(2 pi)
#: below this a computed tail may be subnormal (relative error bounds fail): it is replaced by [0, TINY]
TINY = 1e-290
#: stands for an unknown factor (a finite product keeps min() free of NaN)
BIG = 1e300


@njit(cache=True)
def _pb(z, dz):
    """(value, lower, upper) on Phibar(z') for every |z' - z| <= dz (Phibar = the N(0,1) upper tail).

    The argument of erfc, z * INV_SQRT2, is within 2 U |z| of z / sqrt(2) (one rounding, the constant);
    log Phibar is Lipschitz with the hazard phi/Phibar <= max(z, 0) + 1 (Mills ratio bound
    Phibar(z)/phi(z) > 2/(z + sqrt(z^2 + 4)) for z >= 0; phi/Phibar <= 2 phi(0) < 1 for z <= 0)."""
    v = 0.5 * math.erfc(z * INV_SQRT2)
    d = dz + 2.0 * U * abs(z)
    eh = d * (max(z, 0.0) + 1.0)
    el = d * (max(z + d, 0.0) + 1.0)
    hi = v * (1.0 + 2.0 * RL) * math.exp(eh) * (1.0 + 4.0 * RL)
    lo = v * (1.0 - 2.0 * RL) * math.exp(-el) * (1.0 - 4.0 * RL)
    if v < TINY:
        lo = 0.0
        hi = max(hi, 2.0 * TINY * math.exp(eh))
    return v, max(lo, 0.0), min(hi, 1.0)


@njit(cache=True)
def _phi_b(z, dz):
    """(lower, upper) on the N(0,1) density at every |z' - z| <= dz."""
    e = 0.5 * z * z
    d = dz + U * abs(z)
    # |d(z^2/2)| <= (|z| + d) d, plus the rounding of z*z (U z^2)
    de = (abs(z) + d) * d + 2.0 * U * e
    v = INV_SQRT_2PI * math.exp(-e)
    hi = v * (1.0 + 2.0 * RL) * math.exp(de) * (1.0 + 4.0 * RL)
    lo = v * (1.0 - 2.0 * RL) * math.exp(-de) * (1.0 - 4.0 * RL)
    if v < TINY:
        lo = 0.0
        hi = max(hi, 2.0 * TINY)
    return lo, hi


@njit(cache=True)
def _l1(x, q1, mu1):
    """(l1, dl1, lp_lo, lp_hi): l1(x) = log(1 - q1 + q1 e^{mu1 x - mu1^2/2}) within dl1, and bounds on
    l1'(x) = mu1 q1 e^a / (1 + v).  First-order rounding analysis (docs/certified_small_t.md, 2)."""
    t1 = mu1 * x
    m2 = 0.5 * (mu1 * mu1)
    a = t1 - m2
    da = 3.0 * U * (abs(t1) + m2)
    em = math.expm1(a)
    v = q1 * em
    l1 = math.log1p(v)
    ea = math.exp(a)
    # |v - q1 expm1(a_true)| <= q1 (|expm1 a| (RL + U) + e^a (e^da - 1))
    dv = q1 * (abs(em) * (RL + 2.0 * U) + ea * math.expm1(1.01 * da) * 1.01)
    opv = 1.0 + v
    den = opv * (1.0 - 2.0 * U) - dv
    if not den > 0.0:
        return l1, math.inf, 0.0, BIG
    dl1 = (RL + 2.0 * U) * abs(l1) + 1.01 * dv / den
    lp = mu1 * q1 * ea / opv
    rel = 2.0 * RL + 6.0 * U + math.expm1(1.01 * da) * 1.01 + (dv + 2.0 * U * opv) / den
    lp_hi = lp * (1.0 + 2.0 * rel)
    lp_lo = lp * max(1.0 - 2.0 * rel, 0.0)
    return l1, dl1, lp_lo, lp_hi


@njit(cache=True)
def _remove_point(x, q1, mu1, q2, mu2, eps):
    """REMOVE at x: (f_lo, f_hi, E_lo, E_hi, B_lo, B_hi, lp_lo, lp_hi) with f = d2(eps - l1(x)),
    E = e^{eps - l1(x)}, B = Phibar(x_c) (1 where c <= 0), so that f'(x) = E B l1'(x)."""
    l1, dl1, lp_lo, lp_hi = _l1(x, q1, mu1)
    e = eps - l1
    de = dl1 + U * abs(e)
    if not de < 1e-3:
        return 0.0, 1.0, 0.0, BIG, 0.0, 1.0, lp_lo, lp_hi, 0.0, BIG, -BIG, BIG, 0.0
    E = math.exp(e)
    xde = math.expm1(1.01 * de) * 1.01  # e^{de} - 1, outward
    E_hi = E * (1.0 + 2.0 * RL) * (1.0 + xde)
    E_lo = E * (1.0 - 2.0 * RL) / (1.0 + xde)
    em2 = math.expm1(e)
    c = em2 + q2
    # |c - c(e_true)| <= rounding of expm1 and the sum + e^e (e^{de} - 1)
    Dc = 2.0 * (abs(em2) * (RL + U) + U * abs(c) + E_hi * xde)
    if c > 2.0 * Dc:
        # D(c) = sup_t [q2 Phibar(t - mu2) - c Phibar(t)], attained at x_c; convex decreasing in c with
        # slope -Phibar(x_c(c)): D(c') in [D(c) - Dc Phibar(x_c(c)), D(c) + Dc Phibar(x_c(c - Dc))]
        L = math.log(c / q2)
        m22 = 0.5 * (mu2 * mu2)
        t = (L + m22) / mu2
        rt = 2.0 * ((abs(L) * (RL + 2.0 * U) + 2.0 * U + U * m22) / mu2 + 2.0 * U * abs(t))
        z1 = t - mu2
        _, A_lo, A_hi = _pb(z1, U * abs(z1))
        vb, Pb_lo, Pb_hi = _pb(t, 0.0)
        gA_lo = q2 * A_lo * (1.0 - U)
        gA_hi = q2 * A_hi * (1.0 + U)
        gB_lo = c * Pb_lo * (1.0 - U)
        gB_hi = c * Pb_hi * (1.0 + U)
        g_lo = (gA_lo - gB_hi) - 2.0 * U * (gA_hi + gB_hi)
        # D(c) - g(t) <= c phi_max mu2 rt^2 / 2 (g' = c phi (1 - e^{mu2 (s - x_c)}), zero at x_c), with
        # phi_max on [t - rt, t + rt] <= 1.01 phi(t) <= 1.01 (max(t, 0) + 1) Phibar(t) (the hazard bound)
        hz = max(t, 0.0) + 1.0
        g_hi = (gA_hi - gB_lo) + 2.0 * U * (gA_hi + gB_hi) + 0.52 * c * mu2 * rt * rt * Pb_hi * hz
        s_m = 1.01 * Dc / ((c - Dc) * mu2)  # x_c(c) - x_c(c - Dc) <= Dc / ((c - Dc) mu2)
        s_p = 1.01 * Dc / (c * mu2)
        B_hi = min(1.0, Pb_hi * math.exp((rt + s_m) * (max(t, 0.0) + 1.0)) * (1.0 + 4.0 * U))
        B_lo = Pb_lo * math.exp(-(rt + s_p) * (max(t + rt + s_p, 0.0) + 1.0)) * (1.0 - 4.0 * U)
        Bt_hi = min(1.0, Pb_hi * math.exp(rt * hz) * (1.0 + 4.0 * U))
        f_lo = g_lo - Dc * Bt_hi * (1.0 + 4.0 * U)
        f_hi = g_hi + Dc * B_hi * (1.0 + 4.0 * U)
        # the hazard phi(x_c)/Phibar(x_c) at the true x_c (within rt + s of t)
        ph_lo, ph_hi = _phi_b(t, rt + max(s_m, s_p))
        k_lo = ph_lo / B_hi * (1.0 - 2.0 * U)
        k_hi = ph_hi / B_lo * (1.0 + 2.0 * U) if B_lo > 0.0 else BIG
        c_lo = c - Dc
        c_hi = c + Dc
    else:
        # c(e_true) <= 3 Dc: D(c) = q2 - c for c <= 0, D decreasing, D(c) >= q2 - c always, so
        # D(c') in [q2 - c', q2 - min(c', 0)], q2 - c' = -expm1(e_true) within Dc / 2 of -expm1(e)
        # (c(e_true) <= max(c, 0) + Dc / 2 where it is positive, and D = q2 = -expm1(e_true) + c there)
        f0 = -em2
        f_lo = f0 - Dc - 2.0 * U * abs(f0)
        f_hi = f0 + max(c, 0.0) + 1.5 * Dc + 2.0 * U * abs(f0)
        if c < -2.0 * Dc:
            B_lo = 1.0
        else:
            B_lo = 0.0
        B_hi = 1.0
        k_lo = 0.0
        k_hi = BIG
        c_lo = c - Dc
        c_hi = c + Dc
    return (max(f_lo, 0.0), min(f_hi, 1.0), E_lo, E_hi, max(B_lo, 0.0), B_hi, lp_lo, lp_hi,
            k_lo, k_hi, c_lo, c_hi, 0.0)


@njit(cache=True)
def _add_point(x, q1, mu1, q2, mu2, eps):
    """ADD at x: (f_lo, f_hi, E_lo, E_hi, B_lo, B_hi, lp_lo, lp_hi) with f = a2(eps + l1(x)),
    E = e^{eps + l1(x)}, B = P2(Y < y) = (1 - q2) Phi(y) + q2 Phi(y - mu2), so that
    -f'(x) = E B l1'(x); a2(e) = e^e H(c'), c' = e^{-e} - 1 + q2, H(c') = sup_t [c' Phi(t) - q2 Phi(t - mu2)]
    (0 for c' <= 0), convex increasing in c' with slope Phi(y(c'))."""
    l1, dl1, lp_lo, lp_hi = _l1(x, q1, mu1)
    e = eps + l1
    de = dl1 + U * abs(e)
    if not de < 1e-3:
        return 0.0, 1.0, 0.0, BIG, 0.0, 1.0, lp_lo, lp_hi, 0.0, BIG, -BIG, BIG, 0.0
    E = math.exp(e)
    xde = math.expm1(1.01 * de) * 1.01
    E_hi = E * (1.0 + 2.0 * RL) * (1.0 + xde)
    E_lo = E * (1.0 - 2.0 * RL) / (1.0 + xde)
    emm = math.expm1(-e)
    c = emm + q2
    Dc = 2.0 * (abs(emm) * (RL + U) + U * abs(c) + math.exp(-e) * (1.0 + 2.0 * RL) * xde)
    if c > 2.0 * Dc:
        L = math.log(c / q2)
        m22 = 0.5 * (mu2 * mu2)
        t = (L + m22) / mu2
        rt = 2.0 * ((abs(L) * (RL + 2.0 * U) + 2.0 * U + U * m22) / mu2 + 2.0 * U * abs(t))
        # Phi(t) = Phibar(-t), Phi(t - mu2) = Phibar(mu2 - t)
        _, C_lo, C_hi = _pb(-t, 0.0)
        z1 = mu2 - t
        _, D_lo, D_hi = _pb(z1, U * abs(z1))
        hA_lo = c * C_lo * (1.0 - U)
        hA_hi = c * C_hi * (1.0 + U)
        hB_lo = q2 * D_lo * (1.0 - U)
        hB_hi = q2 * D_hi * (1.0 + U)
        h_lo = (hA_lo - hB_hi) - 2.0 * U * (hA_hi + hB_hi)
        h_hi = (hA_hi - hB_lo) + 2.0 * U * (hA_hi + hB_hi) + 0.52 * c * mu2 * rt * rt * C_hi * (max(-t, 0.0) + 1.0)
        s_m = 1.01 * Dc / ((c - Dc) * mu2)
        s_p = 1.01 * Dc / (c * mu2)
        # y(c') in [t - rt - s_m, t + rt + s_p]; Phi(y) increasing: bounds from Phibar(-y)
        w = -t
        hz = max(w, 0.0) + 1.0
        Phi_hi = min(1.0, C_hi * math.exp((rt + s_p) * hz) * (1.0 + 4.0 * U))
        Phi_lo = C_lo * math.exp(-(rt + s_m) * (max(w + rt + s_m, 0.0) + 1.0)) * (1.0 - 4.0 * U)
        Phit_hi = min(1.0, C_hi * math.exp(rt * hz) * (1.0 + 4.0 * U))
        H_lo = h_lo - Dc * Phit_hi * (1.0 + 4.0 * U)
        H_hi = h_hi + Dc * Phi_hi * (1.0 + 4.0 * U)
        w2 = mu2 - t
        hz2 = max(w2, 0.0) + 1.0
        P1_hi = min(1.0, D_hi * math.exp((rt + s_p) * hz2) * (1.0 + 4.0 * U))
        P1_lo = D_lo * math.exp(-(rt + s_m) * (max(w2 + rt + s_m, 0.0) + 1.0)) * (1.0 - 4.0 * U)
        B_hi = min(1.0, ((1.0 - q2) * Phi_hi + q2 * P1_hi) * (1.0 + 4.0 * U))
        B_lo = ((1.0 - q2) * Phi_lo + q2 * P1_lo) * (1.0 - 4.0 * U)
        # phi(y) at the true y (within rt + s of t)
        k_lo, k_hi = _phi_b(t, rt + max(s_m, s_p))
        y = t
    elif c < -2.0 * Dc:
        H_lo = 0.0
        H_hi = 0.0
        B_lo = 0.0
        B_hi = 0.0
        k_lo = 0.0
        k_hi = 0.0
        y = 0.0
    else:
        # |c'| <= 2 Dc: 0 <= H(c') <= max(c', 0) <= c + Dc
        H_lo = 0.0
        H_hi = max(c + Dc, 0.0) * (1.0 + 4.0 * U)
        B_lo = 0.0
        B_hi = 1.0
        k_lo = 0.0
        k_hi = BIG
        y = 0.0
    f_lo = E_lo * max(H_lo, 0.0) * (1.0 - 2.0 * U)
    f_hi = E_hi * H_hi * (1.0 + 2.0 * U)
    return (max(f_lo, 0.0), min(f_hi, 1.0), E_lo, E_hi, max(B_lo, 0.0), B_hi, lp_lo, lp_hi,
            k_lo, k_hi, c - Dc, c + Dc, y)


@njit(cache=True)
def _cell_mass(kap, dkap, h):
    """(lower, upper) on int_0^h phi(k + s) ds for every |k - kap| <= dkap, h > 0 (h within U h of the
    true width).  phi(k + s) = phi(k) e^{-k s} e^{-s^2/2} and 1 - s^2/2 <= e^{-s^2/2} <= 1 - s^2/2 + s^4/8:
    the integral is phi(k) (I0 - J + [0, K]) with I0 = int_0^h e^{-k s} = -expm1(-k h)/k,
    J = int_0^h s^2/2 e^{-k s} in [min(1, e^{-kh}), max(1, e^{-kh})] h^3/6, K <= max(1, e^{-kh}) h^5/40;
    a shift of k by d changes the integral by a factor within e^{+-(|k| + h + d) d}.  Third order in h
    (the differences of tails lose u / h relative)."""
    p_lo, p_hi = _phi_b(kap, 0.0)
    kh = kap * h
    if kh != 0.0:
        I0 = -math.expm1(-kh) / kap
    else:
        I0 = h
    rI = 2.0 * RL + 6.0 * U * (1.0 + abs(kh))
    E1 = math.exp(-kh)
    mx = max(1.0, E1) * (1.0 + 2.0 * RL)
    mn = min(1.0, E1) * (1.0 - 2.0 * RL)
    h3 = h * h * h / 6.0
    J_lo = mn * h3 * (1.0 - 4.0 * U)
    J_hi = mx * h3 * (1.0 + 4.0 * U)
    K = mx * h3 * h * h * 0.15 * (1.0 + 4.0 * U)
    sh = (abs(kap) + h + dkap) * dkap + 4.0 * U * mx
    lo = p_lo * (I0 * (1.0 - rI) - J_hi) * math.exp(-sh) * (1.0 - 4.0 * U)
    hi = p_hi * (I0 * (1.0 + rI) - J_lo + K) * math.exp(sh) * (1.0 + 4.0 * U)
    return max(lo, 0.0), hi


@njit(cache=True)
def _cell_first_moment(kap, dkap, h):
    """(lower, upper) on int_0^h s phi(k + s) ds for every |k - kap| <= dkap: phi(k) times
    int s e^{-k s} e^{-s^2/2}; with e^{-k s} = 1 - k s + (k s)^2/2 e^{-xi} (xi between 0 and k s,
    e^{-xi} in [min(1, e^{-kh}), max(1, e^{-kh})]) and 1 - s^2/2 <= e^{-s^2/2} <= 1, the integral lies in
    [A(mn) - mx h^4/8, A(mx)], A(m) = h^2/2 - k h^3/3 + m k^2 h^4/8: relative width O(h^2)."""
    p_lo, p_hi = _phi_b(kap, 0.0)
    E1 = math.exp(-kap * h)
    mx = max(1.0, E1) * (1.0 + 2.0 * RL)
    mn = min(1.0, E1) * (1.0 - 2.0 * RL)
    h2 = h * h
    t0 = 0.5 * h2
    t1 = kap * h2 * h / 3.0
    t2 = kap * kap * h2 * h2 / 8.0
    err = 8.0 * U * (t0 + abs(t1) + mx * t2)
    A_lo = t0 - t1 + mn * t2 - mx * h2 * h2 / 8.0 - err
    A_hi = t0 - t1 + mx * t2 + err
    sh = (abs(kap) + h + dkap) * dkap + 4.0 * U * mx
    lo = p_lo * max(A_lo, 0.0) * math.exp(-sh) * (1.0 - 4.0 * U)
    hi = p_hi * A_hi * math.exp(sh) * (1.0 + 4.0 * U)
    return lo, hi


@njit(cache=True)
def _cdf_pair(z):
    """(sf, sf_err, cdf, cdf_err): Phibar(z) and Phi(z) = Phibar(-z) with absolute error bounds."""
    v, lo, hi = _pb(z, U * abs(z))
    w, lo2, hi2 = _pb(-z, U * abs(z))
    return v, max(hi - v, v - lo), w, max(hi2 - w, w - lo2)


@njit(cache=True)
def enclose(remove, q1, mu1, q2, mu2, eps, xs, widths):
    """Enclosure of one direction's delta(eps) on the cells of the sorted grid ``xs`` (plus its two
    tails): returns (lower, upper, estimate, slope); ``widths[i]`` receives cell i's width.

    Each cell is enclosed twice and the intersection kept:
    * second order: f(a) P + int f' S, f' between the products of its monotone factors' end values;
    * third order (where the factors of (log f')' are bounded on the cell): f(a) P + f'(a) M + R with
      M = int (x - a) p(x) dx and R = int f''(s) N(s) ds, N(s) = int_s^b (x - s) p(x) dx >= 0,
      int N = int (x - a)^2/2 p in [p_lo, p_hi] h^3/6, f'' = f' (log f')' enclosed as an interval product.
    (mirrored for ADD, where f decreases.)  ``estimate`` is the mean of the cell bounds, ``slope`` an
    estimate of d delta / d eps (< 0): both for the search only."""
    n = xs.shape[0]
    f_lo = np.empty(n)
    f_hi = np.empty(n)
    E_lo = np.empty(n)
    E_hi = np.empty(n)
    B_lo = np.empty(n)
    B_hi = np.empty(n)
    L_lo = np.empty(n)
    L_hi = np.empty(n)
    K_lo = np.empty(n)
    K_hi = np.empty(n)
    C_lo = np.empty(n)
    C_hi = np.empty(n)
    Y = np.empty(n)
    # the law of X: weights (w0, w1) at means (0, m1)
    if remove:
        w0, w1, m1 = 1.0 - q1, q1, mu1
    else:
        w0, w1, m1 = 1.0, 0.0, 0.0
    sf0 = np.empty(n)
    sfe0 = np.empty(n)
    cd0 = np.empty(n)
    cde0 = np.empty(n)
    sf1 = np.zeros(n)
    sfe1 = np.zeros(n)
    cd1 = np.zeros(n)
    cde1 = np.zeros(n)
    for i in range(n):
        x = xs[i]
        if remove:
            r = _remove_point(x, q1, mu1, q2, mu2, eps)
        else:
            r = _add_point(x, q1, mu1, q2, mu2, eps)
        (f_lo[i], f_hi[i], E_lo[i], E_hi[i], B_lo[i], B_hi[i], L_lo[i], L_hi[i],
         K_lo[i], K_hi[i], C_lo[i], C_hi[i], Y[i]) = r
        sf0[i], sfe0[i], cd0[i], cde0[i] = _cdf_pair(x)
        if w1 > 0.0:
            z = x - m1
            sf1[i], sfe1[i], cd1[i], cde1[i] = _cdf_pair(z)
    lo = 0.0
    hi = 0.0
    mid = 0.0
    slope = 0.0
    for i in range(n - 1):
        a = xs[i]
        b = xs[i + 1]
        hh = b - a
        h = hh * (1.0 + 2.0 * U)
        # the cell's probability P(a < X < b), from the tail on the cell's side of each mean
        P = 0.0
        Pe = 0.0
        if a >= 0.0:
            P += w0 * (sf0[i] - sf0[i + 1])
            Pe += w0 * (sfe0[i] + sfe0[i + 1])
        else:
            P += w0 * (cd0[i + 1] - cd0[i])
            Pe += w0 * (cde0[i] + cde0[i + 1])
        if w1 > 0.0:
            if a - m1 >= 0.0:
                P += w1 * (sf1[i] - sf1[i + 1])
                Pe += w1 * (sfe1[i] + sfe1[i + 1])
            else:
                P += w1 * (cd1[i + 1] - cd1[i])
                Pe += w1 * (cde1[i] + cde1[i + 1])
        Pe = 1.01 * (Pe + 4.0 * U * abs(P))
        # the density on the cell: each component between its values at the ends (its maximum where
        # the cell holds its mean)
        p0a_lo, p0a_hi = _phi_b(a, 0.0)
        p0b_lo, p0b_hi = _phi_b(b, 0.0)
        plo = w0 * min(p0a_lo, p0b_lo)
        if a < 0.0 < b:
            phi_ = w0 * INV_SQRT_2PI * (1.0 + 2.0 * RL)
        else:
            phi_ = w0 * max(p0a_hi, p0b_hi)
        za = a - m1
        if w1 > 0.0:
            zb = b - m1
            p1a_lo, p1a_hi = _phi_b(za, U * abs(za))
            p1b_lo, p1b_hi = _phi_b(zb, U * abs(zb))
            plo += w1 * min(p1a_lo, p1b_lo)
            if za < 0.0 < zb:
                phi_ += w1 * INV_SQRT_2PI * (1.0 + 2.0 * RL)
            else:
                phi_ += w1 * max(p1a_hi, p1b_hi)
        plo *= 1.0 - 4.0 * U
        phi_ *= 1.0 + 4.0 * U
        P_lo = max(P - Pe, plo * h * (1.0 - 2.0 * U))
        P_hi = min(P + Pe, phi_ * h * (1.0 + 2.0 * U))
        if Pe > 1e-6 * P:  # narrow cells: the local expansion of the density (third order in h)
            m0_lo, m0_hi = _cell_mass(a, 0.0, hh)
            M_lo = w0 * m0_lo
            M_hi = w0 * m0_hi
            if w1 > 0.0:
                m1_lo, m1_hi = _cell_mass(za, U * abs(za), hh)
                M_lo += w1 * m1_lo
                M_hi += w1 * m1_hi
            P_lo = max(P_lo, M_lo * (1.0 - 4.0 * U))
            P_hi = min(P_hi, M_hi * (1.0 + 4.0 * U))
        if P_hi < P_lo:  # (cannot happen with valid bounds; keep the wider reading)
            P_lo, P_hi = min(P_lo, P_hi), max(P_lo, P_hi)
        # h^2/2 and h^3/6 from above and below (the true b - a is within U of hh; the products round)
        h_dn = hh * (1.0 - 2.0 * U)
        h2 = 0.5 * h * h * (1.0 + 4.0 * U)
        h2_dn = 0.5 * h_dn * h_dn * (1.0 - 4.0 * U)
        h3 = h * h * h / 6.0 * (1.0 + 8.0 * U)
        h3_dn = h_dn * h_dn * h_dn / 6.0 * (1.0 - 8.0 * U)
        # (log f')' on the cell, where its factors are bounded (else the third-order bound is skipped)
        third = False
        kl = 0.0
        kh = 0.0
        fa_lo = 0.0
        fa_hi = 0.0
        g_lo = 0.0
        g_hi = 0.0
        if remove:  # f increasing: f(a) P + int f' P(t < X < b)
            d_lo = E_lo[i + 1] * B_lo[i] * L_lo[i]
            d_hi = E_hi[i] * B_hi[i + 1] * L_hi[i + 1]
            c_lo = f_lo[i] * P_lo + d_lo * plo * h2_dn
            c_hi = f_hi[i] * P_hi + d_hi * phi_ * h2
            c_hi = min(c_hi, f_hi[i + 1] * P_hi)  # (monotone: f <= f(b) on the cell)
            slope -= P * E_lo[i] * B_lo[i]
            # (log f')' = mu1 - 2 l1' + (log B)', (log B)' = hz(x_c) e^e l1' / (c mu2) >= 0 (0 beyond x*)
            if C_hi[i] < 0.0:
                third = True
                kl = mu1 - 2.0 * L_hi[i + 1]
                kh = mu1 - 2.0 * L_lo[i]
            elif C_lo[i + 1] > 0.0 and K_hi[i] < BIG:
                third = True
                bl = K_lo[i + 1] * E_lo[i + 1] * L_lo[i] / (C_hi[i] * mu2)
                bh = K_hi[i] * E_hi[i] * L_hi[i + 1] / (C_lo[i + 1] * mu2)
                kl = mu1 - 2.0 * L_hi[i + 1] + bl * (1.0 - 8.0 * U)
                kh = mu1 - 2.0 * L_lo[i] + bh * (1.0 + 8.0 * U)
            if third:
                kl -= 4.0 * U * (mu1 + 2.0 * L_hi[i + 1])
                kh += 4.0 * U * (mu1 + 2.0 * L_hi[i + 1])
                fa_lo = f_lo[i]
                fa_hi = f_hi[i]
                g_lo = E_lo[i] * B_lo[i] * L_lo[i]  # f'(a)
                g_hi = E_hi[i] * B_hi[i] * L_hi[i]
        else:  # f decreasing: f(b) P + int |f'| P(a < X < t)
            d_lo = E_lo[i] * B_lo[i + 1] * L_lo[i]
            d_hi = E_hi[i + 1] * B_hi[i] * L_hi[i + 1]
            c_lo = f_lo[i + 1] * P_lo + d_lo * plo * h2_dn
            c_hi = f_hi[i + 1] * P_hi + d_hi * phi_ * h2
            c_hi = min(c_hi, f_hi[i] * P_hi)
            slope -= P * E_lo[i] * B_lo[i]
            # (log |f'|)' = mu1 + (log B)', (log B)' = -e^{-2e} phi(y) l1' / (B c' mu2) <= 0
            if C_hi[i] < 0.0:
                third = True  # f = 0 on the cell
                kl = 0.0
                kh = 0.0
            elif C_lo[i + 1] > 0.0 and B_lo[i + 1] > 0.0 and K_hi[i] < BIG and K_hi[i + 1] < BIG:
                third = True
                if min(Y[i], Y[i + 1]) <= 1e-6 and max(Y[i], Y[i + 1]) >= -1e-6:
                    py_hi = INV_SQRT_2PI * (1.0 + 2.0 * RL)
                else:
                    py_hi = max(K_hi[i], K_hi[i + 1])
                py_lo = min(K_lo[i], K_lo[i + 1])
                ea = 1.0 / E_lo[i]
                eb = 1.0 / E_hi[i + 1]
                bh = ea * ea * py_hi * L_hi[i + 1] / (B_lo[i + 1] * C_lo[i + 1] * mu2) * (1.0 + 16.0 * U)
                bl = eb * eb * py_lo * L_lo[i] / (B_hi[i] * C_hi[i] * mu2) * (1.0 - 16.0 * U)
                kl = mu1 - bh - 4.0 * U * (mu1 + bh)
                kh = mu1 - bl + 4.0 * U * (mu1 + bh)
            if third:
                fa_lo = f_lo[i + 1]
                fa_hi = f_hi[i + 1]
                g_lo = E_lo[i + 1] * B_lo[i + 1] * L_lo[i + 1]  # |f'(b)|
                g_hi = E_hi[i + 1] * B_hi[i + 1] * L_hi[i + 1]
        if third:
            # the first moment of the cell from its near end: M (REMOVE) = int (x - a) p; M' (ADD) =
            # int (b - x) p = h P - M
            q_lo, q_hi = _cell_first_moment(a, 0.0, hh)
            M_lo = w0 * q_lo
            M_hi = w0 * q_hi
            if w1 > 0.0:
                r_lo, r_hi = _cell_first_moment(za, U * abs(za), hh)
                M_lo += w1 * r_lo
                M_hi += w1 * r_hi
            M_lo *= 1.0 - 4.0 * U
            M_hi *= 1.0 + 4.0 * U
            if not remove:
                M_lo, M_hi = max(hh * P_lo * (1.0 - 2.0 * U) - M_hi, 0.0), hh * P_hi * (1.0 + 2.0 * U) - M_lo
            # f'' (REMOVE) or (|f'|)' (ADD) = |f'| (log |f'|)' on the cell: interval product
            s_lo = d_lo * kl if kl >= 0.0 else d_hi * kl
            s_hi = d_hi * kh if kh >= 0.0 else d_lo * kh
            # int s(t) N(t) dt with int N in [plo, phi_] h^3/6
            R_lo = min(s_lo * plo, s_lo * phi_) * (h3 if s_lo < 0.0 else h3_dn)
            R_hi = max(s_hi * plo, s_hi * phi_) * (h3 if s_hi > 0.0 else h3_dn)
            if remove:
                t_lo = fa_lo * P_lo + g_lo * M_lo + R_lo
                t_hi = fa_hi * P_hi + g_hi * M_hi + R_hi
            else:  # f(b) P + |f'(b)| M' - R
                t_lo = fa_lo * P_lo + g_lo * M_lo - R_hi
                t_hi = fa_hi * P_hi + g_hi * M_hi - R_lo
            # (the roundings of the products and sums: a few u of each term's size)
            err = 16.0 * U * (abs(fa_hi * P_hi) + abs(g_hi * M_hi) + abs(R_lo) + abs(R_hi))
            c_lo = max(c_lo, t_lo - err)
            c_hi = min(c_hi, t_hi + err)
        c_lo = max(c_lo, 0.0) * (1.0 - 8.0 * U)
        c_hi = c_hi * (1.0 + 8.0 * U)
        if c_hi < c_lo:  # (cannot happen with valid bounds)
            c_hi = c_lo
        widths[i] = c_hi - c_lo
        lo += c_lo
        hi += c_hi
        mid += 0.5 * (c_lo + c_hi)
    # tails: X < xs[0] and X > xs[-1] (f in [0, 1], monotone)
    t0 = w0 * (cd0[0] + cde0[0]) + w1 * (cd1[0] + cde1[0])  # P(X < x0), upper
    t1 = w0 * (sf0[n - 1] + sfe0[n - 1]) + w1 * (sf1[n - 1] + sfe1[n - 1])  # P(X > x1), upper
    t0 = (t0 + TINY) * (1.0 + 4.0 * U)
    t1 = (t1 + TINY) * (1.0 + 4.0 * U)
    if remove:
        hi += t0 * f_hi[0] + t1
        t1_lo = max(w0 * (sf0[n - 1] - sfe0[n - 1]) + w1 * (sf1[n - 1] - sfe1[n - 1]), 0.0)
        lo += t1_lo * f_lo[n - 1] * (1.0 - 4.0 * U)
    else:
        hi += t0 + t1 * f_hi[n - 1]
        lo += max(w0 * (cd0[0] - cde0[0]), 0.0) * f_lo[0] * (1.0 - 4.0 * U)
    # summation of n nonnegative terms: relative error <= n U
    g = (n + 4) * U
    return lo * (1.0 - g), hi * (1.0 + g), mid, slope
