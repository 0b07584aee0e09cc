"""Certified (Arb-enclosed) brackets for a Laplace mechanism composed with itself.

Three sources, all rigorous in Arb ball arithmetic (python-flint), ``theta = sensitivity / scale``
formed in Arb from the two floats:

* **conditioned on k** (first wherever it needs at most KSUM_FIRST_K continuous steps, else after the
  contour, up to KSUM_MAX_K): delta(eps) = sum_k P(k) sum_i P(i | k) h_k(eps - theta (2i - (T - k))) over
  the number k of continuous steps and i of atoms at +theta, with h_k(y) = E[(1 - e^{y - S_k})_+] in
  closed form (exact B-spline pieces, 1F1 moments), the binomial tails by recurrence, and the steps
  beyond K bounded by [0, P(k > K)] (docs/certified_laplace.md).  This is the source where the atoms
  dominate M^T (theta T small), which the contour cannot reach;
* **residues** (T <= RESIDUE_MAX_T = 64): ``M(z)^T`` expanded into exponentials ``e^{m theta w} / w^k``
  (w = z + 1/2), each term of delta(eps) inverted exactly by the residues at z = 0, -1/2, -1 (closed
  form, a finite sum); the precision is raised until the enclosure is narrow;
* **contour** (the float engine's "full" plan): the trapezoidal sum of the Bromwich integral of
  ``M(z)^T`` on the float engine's line and step, every node enclosed in Arb, plus the proven bounds
  of :mod:`.laplace_exact` (aliases by the total mass and Chernoff, truncation by
  ``|M(c + iu)| <= rho(U) M(c)``) evaluated in Arb.

Both directions have the same law (the reflection ``x -> sensitivity - x``), so one bracket serves both.
"""

from __future__ import annotations

import math
from functools import lru_cache
from math import comb
from typing import Any

#: the residue sum is used up to this many steps (about T^3 / 6 terms: ~0.2 s at 64 steps, 5 s at 120)
RESIDUE_MAX_T = 64
#: relative width the residue enclosure is refined to
RESIDUE_RTOL = 1e-12
#: the conditioned sum goes first (before the contour) while it needs at most this many continuous steps
KSUM_FIRST_K = 80
#: ... and is tried at all up to this many (its cost grows like K^3: ~10 ms at K = 60, 0.5 s at 128)
KSUM_MAX_K = 160
#: relative width the conditioned sum is refined to
KSUM_RTOL = 1e-12
#: the source name of the conditioned sum
KSUM_SOURCE = "conditioned on the continuous steps (Arb)"


class NotCertified(ArithmeticError):
    """No certified bracket from this module (the caller uses its other sources)."""


def _theta(sensitivity: float, scale: float):
    from flint import arb

    return arb(sensitivity) / arb(scale)


# ---------------------------------------------------------------------- residues
def residue_delta(sensitivity: float, scale: float, T: int, eps: float):
    """An Arb ball containing delta(eps) of T steps (exact finite sum of residues)."""
    from flint import arb, ctx

    old = ctx.prec
    try:
        prec = 96 + 4 * T
        for _ in range(6):
            ctx.prec = prec
            v = _residue_sum(sensitivity, scale, T, arb(eps))
            if v.rad() <= RESIDUE_RTOL * abs(v.mid()) or v.rad() < arb(10) ** -300:
                return v
            prec *= 2
        return v
    finally:
        ctx.prec = old


def _residue_sum(sensitivity: float, scale: float, T: int, eps):
    from flint import arb

    th = _theta(sensitivity, scale)
    tot = arb(0)
    half = arb(1) / 2
    for k in range(T + 1):
        for i in range(T - k + 1):
            for l in range(k + 1):
                m = 2 * i + 2 * l - T
                y = eps - m * th
                if y >= 0:  # e^{-zy} decays to the right of the line: no residues
                    continue
                coef = (arb(comb(T, k) * comb(T - k, i) * comb(k, l)) * (-1) ** (k - l)
                        * ((m - T) * th * half).exp() / arb(2) ** (T + k))
                r = arb(2) ** k - y.exp() * arb(-2) ** k  # z = 0 and z = -1
                if k >= 1:  # z = -1/2 (order k): e^{-zy} (1/z - 1/(z+1)) around -1/2
                    s = arb(0)
                    for n in range(0, k, 2):
                        s += -4 * arb(2) ** n * (-y) ** (k - 1 - n) / arb.fac_ui(k - 1 - n)
                    r += (y * half).exp() * s
                term = coef * r
                if not (y < 0):  # the ball of y contains 0: the term's exact value is 0 or r (continuous at 0)
                    term = term.union(arb(0))
                tot += term
    return tot


# ---------------------------------------------------------------------- conditioning on k (Arb)
#: the B-spline tables are cached up to this k (memory ~ k^3 log k bits; larger k are rebuilt per call)
BSPLINE_CACHE_K = 100


def _bspline_int(k: int):
    return _bspline_int_cached(k) if k <= BSPLINE_CACHE_K else _bspline_int_build(k)


@lru_cache(maxsize=BSPLINE_CACHE_K)
def _bspline_int_cached(k: int):
    return _bspline_int_build(k)


def _bspline_int_build(k: int):
    """fmpz_mat C (k x k): (k-1)! M_k(j + t) = sum_m C[j, m] t^m on t in [0, 1], M_k the density of a sum
    of k uniforms on (0, 1) (the cardinal B-spline with knots 0..k), exact integers from the truncated
    powers: (k-1)! M_k(x) = sum_l (-1)^l C(k, l) (x - l)_+^{k-1}, so with a = j - l,
    C[j, m] = C(k-1, m) sum_{a <= j} (-1)^{j-a} C(k, j-a) a^{k-1-m}."""
    from flint import fmpz_mat, fmpz_poly

    # piece j + 1 is piece j shifted by one plus the new truncated power: p_{j+1}(t) = p_j(t + 1)
    # + (-1)^{j+1} C(k, j+1) t^{k-1}; p_0(t) = t^{k-1}
    shift = fmpz_poly([1, 1])
    top = [0] * (k - 1)
    p = fmpz_poly(top + [1])
    rows = []
    for j in range(k):
        if j:
            p = p(shift) + fmpz_poly(top + [(-1) ** j * math.comb(k, j)])
        c = p.coeffs()
        rows.extend(c + [0] * (k - len(c)))
    return fmpz_mat(k, k, rows)


def _bspline_arb(k: int, prec: int):
    """_bspline_int(k) as an arb_mat at ``prec`` bits (its integers rounded outward: balls)."""
    return _bspline_arb_cached(k, prec) if k <= BSPLINE_CACHE_K else _bspline_arb_build(k, prec)


@lru_cache(maxsize=2 * BSPLINE_CACHE_K)
def _bspline_arb_cached(k: int, prec: int):
    return _bspline_arb_build(k, prec)


def _bspline_arb_build(k: int, prec: int):
    from flint import arb_mat, ctx

    old = ctx.prec
    try:
        ctx.prec = prec
        return arb_mat(_bspline_int(k))
    finally:
        ctx.prec = old


def _binom_pmf(n: int, i: int, q, lq1):
    """C(n, i) q^i (1 - q)^{n - i} as an Arb ball (lq1 = 1 - q)."""
    from flint import arb, fmpz

    if i < 0 or i > n:
        return arb(0)
    return arb(fmpz.bin_uiui(n, i)) * q ** i * lq1 ** (n - i)


def _binom_upper(n: int, a: int, q, q1, prec: int):
    """An Arb ball containing P(Bin(n, q) >= a) (q1 = 1 - q): the shorter side summed term by term
    from a, the rest bounded by a geometric series (the terms' ratio decreases away from the mode)."""
    from flint import arb

    if a <= 0:
        return arb(1)
    if a > n:
        return arb(0)
    tiny = arb(2) ** (-prec - 20)
    mode = (n + 1) * float(q.mid())
    if a >= mode:  # terms i = a, a+1, ... decrease; ratio b(i+1)/b(i) = (n-i)/(i+1) q/q1
        i, t = a, _binom_pmf(n, a, q, q1)
        s = arb(0)
        r = q / q1
        while True:
            s += t
            if i == n:
                return s
            rho = (n - i) * r / (i + 1)  # ratio to the next term; decreasing in i
            t = t * rho
            i += 1
            if t.upper() < (tiny * s).lower() and rho.upper() < 0.5:
                # the rest: at most t / (1 - rho_next) <= t / (1 - rho) (ratios decrease)
                rest = t / (1 - rho)
                return s + arb(0).union(rest)
    # a below the mode: 1 - P(Bin <= a - 1), terms i = a-1, a-2, ... decrease
    i, t = a - 1, _binom_pmf(n, a - 1, q, q1)
    s = arb(0)
    r = q1 / q
    while True:
        s += t
        if i == 0:
            return 1 - s
        rho = i * r / (n - i + 1)
        t = t * rho
        i -= 1
        if t.upper() < (tiny * s).lower() and rho.upper() < 0.5:
            rest = t / (1 - rho)
            return 1 - (s + arb(0).union(rest))


def _eint(c, m_max: int, r):
    """Arb balls [int_r^1 e^{c t} t^m dt for m = 0..m_max] (1F1: int_0^b e^{ct} t^m dt =
    b^{m+1} 1F1(m+1; m+2; c b) / (m+1))."""
    from flint import arb

    out = []
    for m in range(m_max + 1):
        f1 = c.hypgeom_1f1(m + 1, m + 2)
        if r == 0:
            out.append(f1 / (m + 1))
        else:
            fr = (c * r).hypgeom_1f1(m + 1, m + 2) * r ** (m + 1)
            out.append((f1 - fr) / (m + 1))
    return out


def _ksum_core(th, T: int, eps, N: int, r, K: int, prec: int):
    """sum_{k <= K} P(k) E[h_k(eps - theta(2i - (T - k)))] with the atom count i at x0 = X - i and
    X = N + r (r in [0, 1]); returns (sum, P(k > K) as a ball)."""
    from flint import arb, arb_mat, fmpz

    one = arb(1)
    e_th = (-th).exp()
    pc = (1 - e_th) / 2          # P(continuous step)
    pc1 = (1 + e_th) / 2         # P(atom)
    q = 1 / (1 + e_th)           # P(+theta | atom)
    q1 = e_th / (1 + e_th)       # P(-theta | atom) = 1 - q
    ee = eps.exp()
    a = N + 1                    # the region x0 <= 0 (h = 1 - e^y): i >= N + 1
    # E^{+-}_m on [0, 1] and [r, 1]
    Ep0 = _eint(th, K, 0)
    Em0 = _eint(-th, K, 0)
    Epr = _eint(th, K, r)
    Emr = _eint(-th, K, r)
    e2x = (2 * th * r).exp()     # e^{2 theta r}; e^{2 theta x0} = e2x e^{2 theta n'}
    norm1 = th / (th.exp() - 1)  # 1 / int_0^1 e^{theta t} dt
    total = arb(0)
    # binomial tails U_n = P(Bin(n, q) >= a), V_n = P(Bin(n, q1) >= a) for n = T - K .. T, upward:
    # P(Bin(n) >= a) = P(Bin(n - 1) >= a) + q P(Bin(n - 1) = a - 1)
    n0 = T - K
    U = _binom_upper(n0, a, q, q1, prec)
    V = _binom_upper(n0, a, q1, q, prec)
    full = {n0: (U, V)}
    for n in range(n0 + 1, T + 1):
        U = U + q * _binom_pmf(n - 1, a - 1, q, q1)
        V = V + q1 * _binom_pmf(n - 1, a - 1, q1, q)
        full[n] = (U, V)
    ej = th.exp()
    epow = [one]                 # e^{theta j}, e^{-theta j}, j = 0..K
    for j in range(1, K + 1):
        epow.append(epow[-1] * ej)
    einv = [1 / x for x in epow]
    flat = []
    for m in range(K):
        flat.extend((Ep0[m], Em0[m], Epr[m], Emr[m]))
    qr = q1 / q
    for k in range(K + 1):
        n = T - k
        wk = arb(fmpz.bin_uiui(T, k)) * pc ** k * pc1 ** n
        Uk, Vk = full[n]
        part = Uk - ee * Vk
        if k >= 1:
            J = _bspline_arb(k, prec) * arb_mat(k, 4, flat[:4 * k])
            scale = norm1 ** k / arb.fac_ui(k - 1)
            # suffix sums over pieces j > n' of e^{theta j} J+_j and e^{-theta j} J-_j
            sp = [arb(0)] * (k + 1)
            sm = [arb(0)] * (k + 1)
            for j in range(k - 1, -1, -1):
                sp[j] = sp[j + 1] + epow[j] * J[j, 0]
                sm[j] = sm[j + 1] + einv[j] * J[j, 1]
            # window: i = N - n', n' = 0..k-1, x0 = n' + r
            wi = None
            win = arb(0)
            for nn in range(k):
                i = N - nn
                if i < 0:
                    break
                if i <= n:
                    if wi is None:
                        wi = _binom_pmf(n, i, q, q1)
                    ex = e2x * epow[nn] * epow[nn]
                    hk = (sp[nn + 1] + epow[nn] * J[nn, 2]) - ex * (sm[nn + 1] + einv[nn] * J[nn, 3])
                    win += wi * hk
                    # next i - 1: b(n, i-1) = b(n, i) i / (n - i + 1) (1-q)/q
                    wi = wi * qr * i / (n - i + 1)
            part = part + win * scale
        total += wk * part
    rest = _binom_upper(T, K + 1, pc, pc1, prec)
    return total, rest


def _ksum_K(theta: float, T: int, log_tol: float) -> int:
    """Smallest K with the float estimate of log P(k > K) below log_tol (k ~ Bin(T, p_c))."""
    pc = -math.expm1(-theta) / 2.0
    lp, lq = math.log(pc), math.log1p(-pc)
    mean = T * pc
    K = int(mean)
    lg = math.lgamma
    while K < T:
        # P(k > K) <= b(K + 1) / (1 - rho), rho = (T - K - 1) pc / ((K + 2)(1 - pc)) once below 1
        j = K + 1
        lb = lg(T + 1) - lg(j + 1) - lg(T - j + 1) + j * lp + (T - j) * lq
        rho = (T - j) * pc / ((j + 1) * (1 - pc))
        if rho < 1 and lb - math.log1p(-rho) < log_tol:
            return K
        K += 1
    return T


def ksum_delta(sensitivity: float, scale: float, T: int, eps: float, log_tol: float | None = None):
    """An Arb ball containing delta(eps) of T steps by conditioning on the number k of continuous steps
    (docs/certified_laplace.md), or raises NotCertified where K would exceed KSUM_MAX_K."""
    from flint import arb, ctx

    T = int(T)
    theta = float(sensitivity) / float(scale)
    adaptive = log_tol is None
    if adaptive:
        log_tol = math.log(1e-20)
    K = min(_ksum_K(theta, T, log_tol), T)
    if K > KSUM_MAX_K:
        raise NotCertified(f"the conditioned sum needs {K} continuous steps (> {KSUM_MAX_K})")
    old = ctx.prec
    try:
        prec = 96 + int(3.5 * K) + int(math.log2(T + 1))
        for _ in range(6):
            ctx.prec = prec
            th = _theta(sensitivity, scale)
            e = arb(eps)
            X = e / (2 * th) + arb(T) / 2
            Nl = int(X.lower().floor().unique_fmpz())
            Nu = int(X.upper().floor().unique_fmpz())
            if Nl == Nu:
                tot, rest = _ksum_core(th, T, e, Nl, X - Nl, K, prec)
            else:
                if Nu - Nl != 1:
                    raise NotCertified("eps / theta not resolved")
                rA = arb(0).union(X.upper() - Nu)
                rB = (X.lower() - Nl).union(arb(1))
                tA, restA = _ksum_core(th, T, e, Nu, rA, K, prec)
                tB, restB = _ksum_core(th, T, e, Nl, rB, K, prec)
                tot, rest = tA.union(tB), restA.union(restB)
            v = tot + arb(0).union(rest.upper())
            if adaptive and K < T and rest.upper() > KSUM_RTOL * v.lower() and v.lower() > 0:
                # the truncation is not negligible beside this delta: more continuous steps
                K2 = min(_ksum_K(theta, T, math.log(float(v.lower())) + math.log(KSUM_RTOL * 1e-2)), T)
                if K2 > K:
                    if K2 > KSUM_MAX_K:
                        return v
                    K = K2
                    prec = max(prec, 96 + int(3.5 * K) + int(math.log2(T + 1)))
                    continue
            if v.rad() <= KSUM_RTOL * abs(v.mid()) or v.rad() < arb(10) ** -300 or v.rad() <= rest.upper():
                return v
            prec *= 2
        return v
    finally:
        ctx.prec = old


# ---------------------------------------------------------------------- several scales, few steps (Arb)
#: several Laplace scales are enumerated (every count of continuous steps and of atoms per group) while
#: prod_g (T_g + 1)^2 is at most this (~10 ms per delta at 5 + 5 steps)
GROUPS_MAX_WORK = 2500
#: the source name of the enumerated sum of several scales
GROUPS_SOURCE = "several Laplace scales, every step count enumerated (Arb)"


def groups_work(counts) -> int:
    w = 1
    for T in counts:
        w *= (int(T) + 1) ** 2
    return w


def _anti_poly(c, n: int, v):
    """P with F(v) = e^{cv} P(v) an antiderivative of e^{cv} v^n: P(v) = sum_j (-1)^{n-j} n!/j! v^j /
    c^{n-j+1} (d/dv [e^{cv} P(v)] telescopes to e^{cv} v^n)."""
    from flint import arb

    t = (-1) ** n * arb.fac_ui(n) / c ** (n + 1)
    s = t
    for j in range(n):
        t = -t * v * c / (j + 1)
        s += t
    return s


def _groups_sum(parts, eps):
    """delta(eps) of independent Laplace groups [(theta ball, T)], every (k_g, i_g) enumerated: given the
    continuous counts k_g the continuous part is S = sum_g S_g with density e^{s/2} (B_1 * ... * B_G)(s)
    / prod Z_g^{k_g}, the convolution of the uniform sums by the truncated powers
    (B_1 * ... * B_G)(s) = sum_m prod_g (-1)^{m_g} C(k_g, m_g) (s - a_m)_+^{n} / (n! prod_g (2 theta_g)^{k_g}),
    n = sum k_g - 1, a_m = sum_g theta_g (2 m_g - k_g); h(y) = E[(1 - e^{y - S})_+] term by term with the
    antiderivatives of e^{+-s/2} (s - a)^n (docs/certified_laplace.md section 6)."""
    import itertools

    from flint import arb, fmpz

    half = arb(1) / 2
    e = arb(eps)
    G = []
    for th, T in parts:
        eth = (-th).exp()
        G.append((th, int(T), (1 - eth) / 2, (1 + eth) / 2, 1 / (1 + eth), (th * half).sinh() / (th * half)))
    zero = arb(0)
    total = arb(0)
    for ks in itertools.product(*[range(g[1] + 1) for g in G]):
        Pk = arb(1)
        for (th, T, pc, pa, q, Z), k in zip(G, ks):
            Pk *= arb(fmpz.bin_uiui(T, k)) * pc ** k * pa ** (T - k)
        ntot = sum(ks)
        top = sum((g[0] * k for g, k in zip(G, ks)), arb(0))
        knots = []
        if ntot:
            n = ntot - 1
            norm = 1 / arb.fac_ui(n)
            for g, k in zip(G, ks):
                norm /= (2 * g[0] * g[5]) ** k
            Fp0 = _anti_poly(half, n, zero)
            Fm0 = _anti_poly(-half, n, zero)
            for ms in itertools.product(*[range(k + 1) for k in ks]):
                if ms == ks:
                    continue  # a = top: (s - a)_+ vanishes on (-top, top)
                a = sum((g[0] * (2 * m - k) for g, k, m in zip(G, ks, ms)), arb(0))
                c = 1
                for k, m in zip(ks, ms):
                    c *= (-1) ** m * math.comb(k, m)
                v = top - a
                Fpt = (half * v).exp() * _anti_poly(half, n, v)
                Fmt = (-half * v).exp() * _anti_poly(-half, n, v)
                knots.append((a, c * norm, (half * a).exp(), (-half * a).exp(), Fpt, Fmt))
        ns = [g[1] - k for g, k in zip(G, ks)]
        inner = arb(0)
        for iv in itertools.product(*[range(m + 1) for m in ns]):
            Pi = arb(1)
            y = e
            for (th, T, pc, pa, q, Z), m, i in zip(G, ns, iv):
                Pi *= arb(fmpz.bin_uiui(m, i)) * q ** i * (1 - q) ** (m - i)
                y = y - th * (2 * i - m)
            ey = y.exp()
            if ntot == 0:  # h = (1 - e^y)_+, continuous at y = 0
                h = (1 - ey) if y < 0 else (zero if y >= 0 else (1 - ey).union(zero))
            elif y >= top:
                h = zero
            elif y <= -top:
                h = 1 - ey  # E[e^{-S}] = 1 (the mirror of section 2.2)
            else:
                h = arb(0)
                for a, cn, ea, ema, Fpt, Fmt in knots:
                    # cn int_{max(y, a)}^{top} (e^{s/2} - e^y e^{-s/2}) (s - a)^n ds (0 for y >= top)
                    def phi_y():
                        v = y - a
                        Fp = (half * v).exp() * _anti_poly(half, n, v)
                        Fm = (-half * v).exp() * _anti_poly(-half, n, v)
                        return ea * (Fpt - Fp) - ey * ema * (Fmt - Fm)

                    if y < a:
                        val = ea * (Fpt - Fp0) - ey * ema * (Fmt - Fm0)
                    elif y > a:
                        val = phi_y() if y < top else phi_y().union(zero)
                    else:  # the ball of y holds the knot: both formulas (Phi is continuous in y)
                        val = phi_y().union(ea * (Fpt - Fp0) - ey * ema * (Fmt - Fm0))
                    h += cn * val
            inner += Pi * h
        total += Pk * inner
    return total


def groups_delta_ball(parts, eps: float, theta_balls: bool = False):
    """An Arb ball containing delta(eps) of several Laplace groups: ``parts`` [(sensitivity, scale, T)]
    (theta formed in Arb), or [(theta, T)] with ``theta_balls`` (theta taken as the double given: the
    float engine's fallback).  Raises NotCertified beyond GROUPS_MAX_WORK."""
    from flint import arb, ctx

    counts = [p[-1] for p in parts]
    if groups_work(counts) > GROUPS_MAX_WORK:
        raise NotCertified(f"several Laplace scales with {counts} steps: enumeration beyond {GROUPS_MAX_WORK}")
    old = ctx.prec
    try:
        prec = 128 + 8 * sum(int(T) for T in counts)
        for _ in range(5):
            ctx.prec = prec
            if theta_balls:
                pa = [(arb(float(th)), int(T)) for th, T in parts]
            else:
                pa = [(arb(float(s)) / arb(float(b)), int(T)) for s, b, T in parts]
            v = _groups_sum(pa, float(eps))
            if v.rad() <= 1e-13 * abs(v.mid()) or v.rad() < arb(10) ** -300:
                return v
            prec *= 2
        return v
    finally:
        ctx.prec = old


def _groups_bracket(parts, kind: str, x: float):
    """(lower, upper, info) for several Laplace groups [(sensitivity, scale, T)]: delta at eps = x, or
    eps at delta = x from the float engine's estimate (the accountant's cached LaplaceMixture, whose
    few-step fallback is this sum at the doubles theta; its eps memoised) and two certified deltas."""
    from .laplace_exact import _cached_composition, _cached_mixture

    def dbr(e: float):
        sup = sum(float(s) / float(b) * T for s, b, T in parts)
        if e >= sup * (1 + 1e-15):
            from flint import arb

            if arb(e) >= sum((arb(float(s)) / arb(float(b)) * T for s, b, T in parts), arb(0)):
                return 0.0, 0.0
        v = groups_delta_ball(parts, e)
        lo = max(0.0, float(v.lower()))
        hi = min(1.0, float(v.upper()))
        return (math.nextafter(lo, 0.0) if lo > 0 else 0.0), math.nextafter(hi, math.inf)

    info: dict[str, Any] = {"source": GROUPS_SOURCE}
    if kind == "delta":
        lo, hi = dbr(float(x))
        return lo, hi, info
    delta = float(x)
    counts: dict[float, int] = {}
    for s_, b_, T_ in parts:  # merged by theta as laplace_exact.composition_for does (its cached instance)
        counts[float(s_) / float(b_)] = counts.get(float(s_) / float(b_), 0) + int(T_)
    if len(counts) == 1:
        (th1, T1), = counts.items()
        est, _, _ = _cached_composition(th1, T1).epsilon(delta)
    else:
        est, _, _ = _cached_mixture(tuple(sorted(counts.items()))).epsilon(delta)
    info["estimate"] = est
    if est <= 0.0 and dbr(0.0)[1] <= delta:
        return 0.0, 0.0, info
    sup = sum(float(s) / float(b) * T for s, b, T in parts)
    hi = None
    r = 1e-9
    for _ in range(12):
        e = min(est * (1 + r) + r, sup)
        if dbr(e)[1] <= delta:
            hi = e
            break
        r *= 10
    if hi is None:
        raise NotCertified("no certified upper end for eps")
    return _lower_end(lambda e: dbr(e)[0], est, delta, 1e-9), hi, info


# ---------------------------------------------------------------------- the contour in Arb
def contour_delta(sensitivity: float, scale: float, T: int, eps: float):
    """An Arb ball containing delta(eps) from the full-contour plan of the float engine, or raises
    :class:`NotCertified` where that plan does not apply."""
    from flint import acb, arb, ctx

    from .laplace_exact import LaplaceComposition, LaplaceExactError

    lap = LaplaceComposition(float(sensitivity) / float(scale), T)
    try:
        _, _, diag = lap._full(float(eps))
    except LaplaceExactError as exc:
        raise NotCertified(f"no full-contour plan: {exc}") from None
    c_f, h_f, n = float(diag["abscissa"]), float(diag["step"]), int(diag["nodes"])
    old = ctx.prec
    try:
        ctx.prec = 80 + int(math.log2(T + 1)) + int(math.log2(n + 1))
        th = _theta(sensitivity, scale)
        c, h, e = arb(c_f), arb(h_f), arb(eps)
        half = arb(1) / 2
        P = 2 * arb.pi() / h
        pi = arb.pi()

        def cont(w):
            # sinh(w theta) / (2 w), theta / 2 at w = 0
            return th * half if w == 0 else (w * th).sinh() / (2 * w)

        def log_m_real(t):
            w = t + half
            return (-th * half) + ((w * th).cosh() + cont(w)).log()

        def phi(z):
            w = z + half
            M = (-th * half).exp() * ((w * th).cosh() + cont(w))
            return (T * M.log() - z * e).exp() / (z * (z + 1))

        s = phi(acb(c)).real * half
        for j in range(1, n):
            s += phi(acb(c, j * h)).real
        s *= h / pi
        # truncation beyond the last node u0 = (n - 1) h: (1/pi) M(c)^T rho(u0)^T e^{-c eps} / u0
        u0 = (n - 1) * h
        cp = abs(c_f + 0.5)
        A = (arb(cp) * th).cosh()
        Sb = cont(arb(cp))
        Mc = A + Sb
        # |sinh(w th) / (2w)| is at most Sb and at most A / (2 |w|) <= A / (2 u0): either bound is valid
        other = A / (2 * u0)
        lsb = Sb if Sb.upper() < other.upper() else other
        rho = (A + lsb) / Mc
        tail = (T * log_m_real(c)).exp() * rho ** T * (-c * e).exp() / (pi * u0)
        a = abs(c)
        err = tail + (-a * P).exp() / (1 - (-a * P).exp())
        sup = T * th
        if c_f > 0:
            if not (e + P >= sup):
                best = None
                for t in (1.25 * c_f, 1.5 * c_f, 2 * c_f, 3 * c_f, c_f + 1, c_f + 4, 5 * c_f):
                    ta = arb(t)
                    fac = (ta * ta.log() - (ta + 1) * (ta + 1).log()).exp()
                    rate = ta - c
                    b = (T * log_m_real(ta) - ta * e).exp() * fac * (-rate * P).exp() / (1 - (-rate * P).exp())
                    best = b if best is None or b.upper() < best.upper() else best
                err += best
            val = s
        else:
            best = None
            for f in (0.1, 0.25, 0.5, 0.75, 1.0):
                sv = a + (1 - a) * f
                rate = sv - a
                b = (T * log_m_real(-sv) + sv * e).exp() * (-rate * P).exp() / (1 - (-rate * P).exp())
                best = b if best is None or b.upper() < best.upper() else best
            err += best
            val = s + 1
        return (val - err).union(val + err)
    finally:
        ctx.prec = old


# ---------------------------------------------------------------------- brackets
def certified_delta(sensitivity: float, scale: float, T: int, eps: float) -> tuple[float, float, dict[str, Any]]:
    """(lower, upper, info) on delta(eps): both ends proven (Arb)."""
    from .laplace_exact import LaplaceComposition

    T = int(T)
    theta = float(sensitivity) / float(scale)
    if eps >= T * theta * (1 + 1e-15):
        # delta = 0 beyond the largest loss T theta (checked in Arb)
        from flint import arb

        if arb(eps) >= T * _theta(sensitivity, scale):
            return 0.0, 0.0, {"source": "beyond the largest loss"}
    K = _ksum_K(theta, T, math.log(1e-18))
    order = [(ksum_delta, KSUM_SOURCE)]
    if K > KSUM_FIRST_K:  # many continuous steps: the contour is cheap (and the atoms do not dominate)
        order.insert(0, (contour_delta, "contour (Arb)"))
    if T <= RESIDUE_MAX_T:
        order.append((residue_delta, "residues (Arb)"))
    why = []
    for fn, how in order:
        try:
            v = fn(sensitivity, scale, T, eps)
            break
        except NotCertified as exc:
            why.append(f"{how}: {exc}")
    else:
        raise NotCertified("; ".join(why))
    lo = max(0.0, float(v.lower()))
    hi = min(1.0, float(v.upper()))
    # floats rounded outward: one ulp
    lo = math.nextafter(lo, 0.0) if lo > 0 else 0.0
    hi = math.nextafter(hi, math.inf)
    _ = LaplaceComposition  # (the float engine plans the contour)
    return lo, hi, {"source": how}


def certified_epsilon(sensitivity: float, scale: float, T: int, delta: float,
                      rel: float = 1e-9) -> tuple[float, float, dict[str, Any]]:
    """(lower, upper, info) on eps(delta) = inf{eps >= 0: delta(eps) <= delta}: the upper end is an eps
    whose certified delta is at most ``delta``, the lower end one whose certified delta is above it."""
    from .laplace_exact import _cached_composition

    T = int(T)
    lap = _cached_composition(float(sensitivity) / float(scale), T)  # the accountant's instance (memoised eps)
    est, _, _ = lap.epsilon(delta)
    sup = T * float(sensitivity) / float(scale)
    info: dict[str, Any] = {"estimate": est}
    if est <= 0.0:
        # delta(0) <= delta by the estimate: eps(delta) = 0 where the certified delta(0) agrees
        lo_d, hi_d, src = certified_delta(sensitivity, scale, T, 0.0)
        if hi_d <= delta:
            info["source"] = src["source"]
            return 0.0, 0.0, info
    # upper end
    r = rel
    hi = None
    for _ in range(12):
        e = min(est * (1 + r) + r, sup)
        lo_d, hi_d, src = certified_delta(sensitivity, scale, T, e)
        if hi_d <= delta:
            hi = e
            info["source"] = src["source"]
            break
        r *= 10
    if hi is None:
        raise NotCertified("no certified upper end for eps")
    if est <= 0.0:
        return 0.0, hi, info
    return _lower_end(lambda e: certified_delta(sensitivity, scale, T, e)[0], est, delta, rel), hi, info


def _lower_end(lower_delta, est: float, delta: float, rel: float) -> float:
    """A verified lower end of eps(delta): the first of est (1 - r), r = rel, 10 rel, ... (12 tries) whose
    certified lower delta bound ``lower_delta(e)`` is above delta (delta is non-increasing: every eps below
    it is then below eps(delta)); 0 when none is."""
    r = rel
    for _ in range(12):
        e = max(est * (1 - r), 0.0)
        if lower_delta(e) > delta:
            return e
        if e == 0.0:
            break
        r *= 10
    return 0.0


def certified_bracket(groups, kind: str, x: float) -> tuple[float, float, dict[str, Any]] | None:
    """The hook for :mod:`ewacct.bounds.certify`: (lower, upper, info) for ``kind`` "delta" (x = eps) or
    "epsilon" (x = delta) of a composition of Laplace mechanisms only (one scale composed with itself, or
    several scales with few steps: GROUPS_MAX_WORK); None otherwise or where no source applies."""
    from ..mechanisms import Laplace

    g = [(m, int(n)) for m, n in groups if int(n) > 0]
    if not g or not all(isinstance(m, Laplace) for m, _ in g):
        return None
    pairs: dict[tuple[float, float], int] = {}
    for m, n in g:
        key = (float(m.sensitivity), float(m.scale))
        pairs[key] = pairs.get(key, 0) + n
    if len(pairs) != 1:
        # several scales: the enumerated sum where few steps (the contour's float engine answers the rest;
        # equal theta from different pairs are kept apart: theta's Arb enclosure differs)
        parts = [(s, b, T) for (s, b), T in sorted(pairs.items())]
        if groups_work([T for *_, T in parts]) > GROUPS_MAX_WORK:
            return None
        try:
            return _groups_bracket(parts, kind, float(x))
        except (NotCertified, ArithmeticError, ValueError):
            return None
    m = g[0][0]
    T = sum(n for _, n in g)
    try:
        if kind == "delta":
            return certified_delta(m.sensitivity, m.scale, T, float(x))
        return certified_epsilon(m.sensitivity, m.scale, T, float(x))
    except (NotCertified, ArithmeticError, ValueError):
        return None
