"""Rigorous enclosures of G_g(w) for many subsampled-Gaussian segments sharing q (Numba).

``G_g(w) = E[(1 + u_g(X))^w]``, ``u_g(x) = q (e^{mu_g x - mu_g^2/2} - 1)``, X ~ N(0, 1).  With
``s = mu_g x - mu_g^2/2 + 1/2`` (so that ``v = s - 1/2`` is the exponent of the loss),

    G_g(w) = int psi_g(s) F_w(s) ds,   psi_g(s) = phi((s - m_g) / mu_g) / mu_g,   m_g = (1 - mu_g^2) / 2,

and ``F_w(s) = (1 + q (e^{s - 1/2} - 1))^w`` (or the f-form ``F_w - 1 - w u``, where G_g = 1 + the
integral since E_g[u] = 0 for every segment) depends on (q, w, s) only: it is the integrand of the
one-segment kernel at mu = 1 (:mod:`ewacct._kernels.mgf_cert` with x = s).  So one set of panels and
Gauss-Legendre points in s serves every segment: ``F_w`` (the complex logs and exponentials) is
evaluated once per point and node, each segment only weights the points by its own Gaussian density.
The derivation is docs/certified.md section 3c; in short, for each segment g and node w:

* **Tails** outside ``[s_lo, s_hi]`` (the union of the segments' own x-ranges mapped to s): the
  substitution is exact, so they are the one-segment kernel's tail bounds at the segment's own
  ``x_lo = (s_lo - m_g) / mu_g``, ``x_hi`` and line height ``y = eta / mu_g`` (rounded outward).
* **Skipped panels and Gauss-Legendre error:** the rectangle bound of |F_w| (mu = 1 rectangle
  quantities, shared) times a closed-form bound of |psi_g| on the same rectangle; Trefethen's bound
  for the n-point rule (ATAP Thm 19.3) on the Bernstein ellipse's bounding box (on the whole panel
  the smallest n of mgf_cert's RULE_N = 4..32 that meets the share, else the 16-point rule on 2, 4,
  ..., 256 sub-panels).  The skip decision
  and refinement level of a (node, panel) serve all segments: with ``S(box) = max_g (log max|psi_g| -
  share_g)`` the per-segment bound ``max|psi_g| M_F e^{kappa}`` is at most ``e^{share_g} e^{S + log
  M_F + kappa}``, so a node's normalised sum ``T`` over panels (or sub-panels) gives every segment
  the bound ``e^{share_g + T}``.
* **Rounding**: the one-segment kernel's first-order budget (ROUND = 64 u times the first-order
  terms) split into a node part (F's pieces, the sensitivity of F to the evaluation point) and a
  segment part (psi's exponent, the point's and m_g's rounding through |d log psi / ds| = |x| / mu_g,
  the weights), plus (terms + 16) u times the sum of |terms| (summation and products), and the
  underflow floor.  The node part includes ell = log(1 + u)'s conditioning (absolute error
  4 u |u| / |1 + u|, large for q near 1), as the one-segment kernel's.

The integration line is ``Im s = eta`` (sign of Im w, |eta| <= min(0.3 pi, 3 min mu_g), quantised as
the one-segment kernel's height at the smallest mu); every segment's Gaussian factor grows at most by
e^{eta^2 / (2 mu_g^2)} <= e^{4.5} on it.  The caller groups segments whose mu lie within a factor
1.5 (certified.MULTI_RATIO; the panel width is min mu_g).  Returns ``(log G~, log r)`` arrays of
shape (segments, nodes), r = inf where the enclosure failed (the caller then uses the one-segment
kernel).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

from .gl_tables import RULE_N, RULE_W, RULE_X
from .mgf import _cexpm1, _log1p_minus, _loss
from .mgf_cert import (LOG_GL, LOG_SQRT_2PI, LV_MAX, NR, ROUND, RULE_AT, U_MACH, X_LO, X_PAD,
                       _cabs, _clog1p_local, _e2m, _lae, _level_rule, _log_1mq_qe, _log_mills, _node_consts,
                       _rect_log_g, _rect_q, _rect_wn, _shift)


@njit(cache=True)
def _psi_box(mu: float, m: float, lmu: float, t0: float, t1: float, e0: float, e1: float) -> float:
    """Upper bound of log|psi(s)| over the box [t0, t1] x [e0, e1] (s = t + i e), psi(s) =
    phi((s - m)/mu)/mu: |phi(x)| = phi(Re x) e^{(Im x)^2/2}; (Re x)^2 is smallest at 0 or the nearer
    end, (Im x)^2 largest at an end; a relative margin covers this bound's own rounding."""
    x0 = (t0 - m) / mu
    x1 = (t1 - m) / mu
    if x0 <= 0.0 <= x1:
        tm = 0.0
    else:
        tm = min(x0 * x0, x1 * x1)
    ym = max(e0 * e0, e1 * e1) / (mu * mu)
    v = -0.5 * (tm - ym) - LOG_SQRT_2PI - lmu
    return v + 1e-12 * (tm + ym + 2.0)


@njit(cache=True)
def _tails_seg(q: float, mu: float, logq: float, l1q: float, a: float, aw: float, y: float,
               x_lo: float, x_hi: float, rfl: float, fform: bool) -> float:
    """The one-segment kernel's tail bound (mgf_cert._tails) with the left tail's rectangle bound of
    |F| (rfl, shared by the segments: F depends on s only) given."""
    ey = 0.5 * y * y
    left = _log_mills(-x_lo) + ey + rfl
    if a >= 0.0:
        lxh = _log_1mq_qe(mu * x_hi - 0.5 * mu * mu, q, logq, l1q)
        r = a * lxh - a * mu * x_hi + 0.5 * a * a * mu * mu + _log_mills(x_hi - a * mu)
        r += 1e-12 * (abs(a * lxh) + abs(a * mu * x_hi) + 0.5 * a * a * mu * mu)
    else:
        cy = math.cos(mu * abs(y))
        lre = _log_1mq_qe(mu * x_hi - 0.5 * mu * mu + math.log(cy), q, logq, l1q) if cy > 0.0 else l1q
        r = a * lre + _log_mills(x_hi)
        r += 1e-12 * (abs(a * lre) + 1.0)
    if fform:
        r = _lae(r, _log_mills(x_hi) + math.log1p(aw * q))
        if aw > 0.0:
            r = _lae(r, math.log(aw) + logq + _log_mills(x_hi - mu))
    right = r + ey + math.log(2.0)
    return _lae(left, right)


@njit(cache=True)
def _ellipse_boxes(q: float, logq: float, l1q: float, fform: bool, S: int, mus: np.ndarray, mg: np.ndarray,
                   lmu: np.ndarray, share: np.ndarray, cen: float, hw: float, eta: float, fracs: np.ndarray,
                   bmax: float, fq: np.ndarray, fps: np.ndarray, flr: np.ndarray, fr2: np.ndarray) -> None:
    """The four Bernstein ellipses (heights fracs * bmax) of the (sub-)panel [cen - hw, cen + hw] on the
    line Im s = eta: per ellipse f, the mu = 1 rectangle bounds of its bounding box (fq; the half-width
    rounded up by 1e-12 relative), fps = max over segments of log max |psi_g| - share_g, flr = log rho and
    fr2 = log(rho^2 - 1)."""
    for f in range(4):
        B = fracs[f] * bmax
        rat = B / hw
        rh = rat + math.sqrt(rat * rat + 1.0)
        A = 0.5 * hw * (rh + 1.0 / rh) * (1.0 + 1e-12)
        (fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5],
         fq[f, 6]) = _rect_q(q, 1.0, logq, l1q, cen - A, cen + A, eta - B, eta + B, fform)
        sm = -math.inf
        for g in range(S):
            sm = max(sm, _psi_box(mus[g], mg[g], lmu[g], cen - A, cen + A, eta - B, eta + B) - share[g])
        fps[f] = sm
        flr[f] = math.log(rh)
        fr2[f] = math.log(rh * rh - 1.0)


@njit(cache=True)
def _line(q: float, mus: np.ndarray, ltol: np.ndarray, w: np.ndarray, idx: np.ndarray, m: int,
          eta: float, fform: bool, lg_out: np.ndarray, lr_out: np.ndarray) -> None:
    """Enclosures of every segment at the nodes w[idx[:m]] (same Re w, line Im s = eta)."""
    S = mus.shape[0]
    logq = math.log(q)
    l1q = math.log1p(-q)
    a = w[idx[0]].real
    mu_min = mus.min()
    # the union of the segments' x-ranges (mgf_cert._layout), in s
    x_lo = X_LO
    if a < 0.0:
        x_lo = min(X_LO, -math.sqrt(2.0 * (a * l1q + 80.0)))
    s_lo = math.inf
    s_hi = -math.inf
    mg = np.empty(S)
    lmu = np.empty(S)
    for g in range(S):
        mu = mus[g]
        mg[g] = 0.5 * (1.0 - mu * mu)
        lmu[g] = math.log(mu)
        xh = max(X_PAD, mu + X_PAD)
        if a > 0.0:
            xh = max(xh, a * mu + X_PAD)
        s_lo = min(s_lo, mu * x_lo + mg[g])
        s_hi = max(s_hi, mu * xh + mg[g])
    s_lo -= 1e-9 * (abs(s_lo) + 1.0)
    s_hi += 1e-9 * (abs(s_hi) + 1.0)
    if fform and s_hi - 0.5 + logq > 600.0:
        fform = False
    pw = min(mu_min, 0.5 * (math.pi - abs(eta)))
    npan = int(math.ceil((s_hi - s_lo) / pw))
    pw = (s_hi - s_lo) / npan
    bmax = min(0.5 * math.pi - abs(eta), 2.0 * mu_min)
    share = np.empty(S)
    pgref = np.empty(S)   # log of the largest |psi_g| on the line (the segment's scale)
    for g in range(S):
        share[g] = ltol[g] - math.log(2.0 * npan + 2.0)
        pgref[g] = -LOG_SQRT_2PI - lmu[g] + 0.5 * eta * eta / (mus[g] * mus[g])
    # per node: constants, the shared left-tail rectangle bound
    n_aw = np.empty(m)
    n_c2 = np.empty(m)
    n_c3 = np.empty(m)
    rfl = np.empty(m)
    for jj in range(m):
        wj = w[idx[jj]]
        n_aw[jj], n_c2[jj], n_c3[jj] = _node_consts(wj)
        rfl[jj] = _rect_log_g(q, 1.0, logq, l1q, wj, -math.inf, s_lo + 1e-9 * (abs(s_lo) + 1.0),
                              eta, eta, fform)
    # pass 1: every panel's rectangle quantities and psi bounds; each node's skip decisions and its
    # reference scale (the largest rectangle bound of |F| over the panels it evaluates)
    pq = np.empty((npan, 7))
    smax = np.empty(npan)
    rf = np.empty((m, npan))
    pnref = np.full(m, -math.inf)
    t1s = np.empty(npan + 1)
    for i in range(npan + 1):
        t1s[i] = s_lo + i * pw
    t1s[npan] = s_hi
    lpw = math.log(pw) + 1e-12
    T1 = np.full(m, -math.inf)   # normalised sum over skipped panels
    T2 = np.full(m, -math.inf)   # normalised Gauss-Legendre bounds
    for i in range(npan):
        t0 = t1s[i]
        t1 = t1s[i + 1]
        (pq[i, 0], pq[i, 1], pq[i, 2], pq[i, 3], pq[i, 4], pq[i, 5],
         pq[i, 6]) = _rect_q(q, 1.0, logq, l1q, t0, t1, eta, eta, fform)
        sm = -math.inf
        for g in range(S):
            sm = max(sm, _psi_box(mus[g], mg[g], lmu[g], t0, t1, eta, eta) - share[g])
        smax[i] = sm
        for jj in range(m):
            v = _rect_wn(pq[i, 0], pq[i, 1], pq[i, 2], pq[i, 3], pq[i, 4], pq[i, 5], pq[i, 6], logq,
                         w[idx[jj]], n_aw[jj], n_c2[jj], n_c3[jj], fform)
            rf[jj, i] = v
            if sm + v + lpw <= 0.0:
                T1[jj] = _lae(T1[jj], sm + v + lpw)
            else:
                pnref[jj] = max(pnref[jj], v)
    # accumulators (in units of e^{pgref_g + pnref_n})
    acc = np.zeros((S, m), dtype=np.complex128)
    mags = np.zeros((S, m))
    sabs = np.zeros((S, m))
    nterms = np.zeros(m, dtype=np.int64)
    act = np.empty(m, dtype=np.int64)
    und = np.empty(m, dtype=np.int64)
    lev = np.empty(m, dtype=np.int64)
    lsub = np.empty((m, 256))
    fq = np.empty((4, 7))
    fps = np.empty(4)
    fk = np.empty(4)
    fcs = np.empty(4)
    flr = np.empty(4)
    fr2 = np.empty(4)
    fbs = np.empty(4)
    fracs = np.array([1.0, 0.5, 0.25, 0.1])
    npt_max = 16 * 256
    p_s = np.empty(npt_max)
    p_wt = np.empty(npt_max)
    p_ell = np.empty(npt_max, dtype=np.complex128)
    p_lm = np.empty(npt_max, dtype=np.complex128)
    p_au = np.empty(npt_max)
    p_al = np.empty(npt_max)
    p_ez = np.empty(npt_max)
    p_i1u = np.empty(npt_max)
    p_kap = np.empty(npt_max)
    psi = np.empty((S, npt_max), dtype=np.complex128)
    apsi = np.empty((S, npt_max))
    rho = np.empty(S)
    fv = np.empty(npt_max, dtype=np.complex128)
    fa = np.empty(npt_max)
    fr = np.empty(npt_max)
    for i in range(npan):
        t0 = t1s[i]
        t1 = t1s[i + 1]
        nact = 0
        for jj in range(m):
            if smax[i] + rf[jj, i] + lpw > 0.0:
                act[nact] = jj
                nact += 1
        if nact == 0:
            continue
        pwi = t1 - t0
        nund = nact
        for k in range(nact):
            und[k] = act[k]
        # the whole panel first: the ellipses do not depend on n, so each node takes the smallest
        # tabulated rule (RULE_N) whose bound meets the share (as mgf_cert); else the 16-point rule
        # on 2, 4, ..., 256 sub-panels (levels NR..LV_MAX)
        hw = 0.5 * pwi
        lhw = math.log(hw) + 1e-12
        cen = t0 + hw
        _ellipse_boxes(q, logq, l1q, fform, S, mus, mg, lmu, share, cen, hw, eta, fracs, bmax, fq, fps, flr, fr2)
        for f in range(4):
            fk[f] = LOG_GL + lhw - fr2[f] + 1e-12
            fcs[f] = 2.0 * flr[f]
        nund = 0
        for k in range(nact):
            jj = act[k]
            wj = w[idx[jj]]
            for f in range(4):
                fbs[f] = fps[f] + _rect_wn(fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5],
                                           fq[f, 6], logq, wj, n_aw[jj], n_c2[jj], n_c3[jj], fform) + fk[f]
            nmin = math.inf
            for f in range(4):
                nmin = min(nmin, fbs[f] / fcs[f])
            r0 = NR
            if nmin <= float(RULE_N[NR - 1]):
                r0 = RULE_AT[max(0, int(math.ceil(nmin)))] if nmin > 0.0 else 0
            got = False
            for r in range(r0, NR):
                best = math.inf
                for f in range(4):
                    best = min(best, fbs[f] - float(RULE_N[r]) * fcs[f])
                if best <= 0.0:
                    lev[jj] = r
                    T2[jj] = _lae(T2[jj], best + 1e-12)
                    got = True
                    break
            if not got:
                und[nund] = jj
                nund += 1
        L = NR
        while nund > 0:
            nsub = 1 << (L - NR + 1)
            twon = 32.0
            hw = 0.5 * pwi / nsub
            lhw = math.log(hw) + 1e-12
            for sb in range(nsub):
                cen = t0 + (2 * sb + 1) * hw
                _ellipse_boxes(q, logq, l1q, fform, S, mus, mg, lmu, share, cen, hw, eta, fracs, bmax, fq, fps, flr,
                               fr2)
                for f in range(4):
                    fk[f] = LOG_GL + lhw - twon * flr[f] - fr2[f] + 1e-12
                for k in range(nund):
                    jj = und[k]
                    wj = w[idx[jj]]
                    best = math.inf
                    for f in range(4):
                        lm = _rect_wn(fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5],
                                      fq[f, 6], logq, wj, n_aw[jj], n_c2[jj], n_c3[jj], fform)
                        best = min(best, fps[f] + lm + fk[f])
                    lsub[jj, sb] = best
            nkeep = 0
            for k in range(nund):
                jj = und[k]
                mx = -math.inf
                for k2 in range(nsub):
                    mx = max(mx, lsub[jj, k2])
                sm_ = 0.0
                for k2 in range(nsub):
                    sm_ += math.exp(lsub[jj, k2] - mx)
                tot = mx + math.log(sm_) + 1e-12
                if tot <= 0.0 or L >= LV_MAX:
                    lev[jj] = L
                    T2[jj] = _lae(T2[jj], tot)
                else:
                    und[nkeep] = jj
                    nkeep += 1
            nund = nkeep
            L += 1
        for lv in range(LV_MAX + 1):
            any_at = False
            for k in range(nact):
                if lev[act[k]] == lv:
                    any_at = True
                    break
            if not any_at:
                continue
            nsub, rr = _level_rule(lv)
            npt = RULE_N[rr]
            hw = 0.5 * pwi / nsub
            np_ = npt * nsub
            for sb in range(nsub):
                cen = t0 + (2 * sb + 1) * hw
                for kk in range(npt):
                    p = npt * sb + kk
                    sr = cen + hw * RULE_X[rr, kk]
                    p_wt[p] = hw * RULE_W[rr, kk]
                    p_s[p] = sr
                    sc_ = complex(sr, eta)
                    ell, u, lu = _loss(sc_, q, 1.0, logq)
                    p_ell[p] = ell
                    # ell's conditioning: absolute error <= 4 u kap, kap = |u| / |1 + u| (mgf_cert)
                    p_kap[p] = abs(u) * math.exp(-ell.real) if u != 0.0j else 0.0
                    if fform:
                        z = sc_ - 0.5
                        if u == 0.0j and lu > -745.0:
                            u = q * _cexpm1(z)
                        p_lm[p] = _log1p_minus(u, ell)
                        p_au[p] = abs(u)
                        p_al[p] = abs(ell)
                        p_ez[p] = math.exp(min(z.real, 700.0))
                        p_i1u[p] = math.exp(-ell.real)
            # the segments' weights W_p psi_g(s_p) e^{-pgref_g} and their relative rounding (units of u)
            for g in range(S):
                mu = mus[g]
                rmax = 0.0
                for p in range(np_):
                    xc = complex((p_s[p] - mg[g]) / mu, eta / mu)
                    lp = -0.5 * xc * xc - LOG_SQRT_2PI - lmu[g] - pgref[g]
                    v = p_wt[p] * cmath.exp(lp)
                    psi[g, p] = v
                    apsi[g, p] = _cabs(v)
                    ax = _cabs(xc)
                    r_ = (4.0 * (ax * ax + 1.0) + 4.0 * ax * (abs(p_s[p]) + 3.0 + mu * mu) / mu
                          + 2.0 * (abs(lp.real) + 2.0 * abs(pgref[g]) + 4.0) + 5.0)
                    rmax = max(rmax, r_)
                rho[g] = rmax
            for k in range(nact):
                jj = act[k]
                if lev[jj] != lv:
                    continue
                wj = w[idx[jj]]
                aw = n_aw[jj]
                aw1 = abs(wj - 1.0)
                P = pnref[jj]
                ok = True
                for p in range(np_):
                    ell = p_ell[p]
                    sp = abs(p_s[p]) + 2.0
                    if fform:
                        wl = wj * ell
                        p1 = wj * p_lm[p]
                        awl2 = wl.real * wl.real + wl.imag * wl.imag
                        p2, m2, E = _e2m(wl, awl2)
                        ap1 = _cabs(p1)
                        au = p_au[p]
                        al = p_al[p]
                        m1 = ap1 if au < 0.01 else aw * (al + au)
                        sm = E * p_i1u[p] + 1.0
                        xa = aw1 * al
                        if xa < 0.5:
                            sm = min(sm, xa * (1.0 + 1.65 * xa))
                        sens = aw * sm * q * p_ez[p]
                        eP = math.exp(-P)
                        fv[p] = (p1 + p2) * eP
                        fa[p] = _cabs(fv[p])
                        # (ell's conditioning as in mgf_cert: where |u| < 0.01, p1 comes from the series
                        # in u and ell's error moves only p2, by <= |w| (E - 1) times it, u's rounding
                        # f by <= |w| sm 3 u |u|; else |w| E)
                        kapt = (aw * (p_kap[p] * (E - 1.0) + sm * au) if au < 0.01 else aw * p_kap[p] * E)
                        fr[p] = ((m1 + m2) * (8.0 * (1.0 + math.sqrt(awl2)) + abs(P) + 3.0)
                                 + 4.0 * sens * sp + 4.0 * kapt) * eP
                    else:
                        e = wj * ell - P
                        if e.real > 700.0:
                            ok = False
                            break
                        t = cmath.exp(e)
                        fv[p] = t
                        fa[p] = _cabs(t)
                        fr[p] = fa[p] * (8.0 + 4.0 * (_cabs(wj * ell) + abs(P) + 2.0 * aw * sp
                                                      + aw * p_kap[p]))
                    if not (fa[p] < 1e300 and fr[p] < 1e300):
                        ok = False
                        break
                if not ok:
                    for g in range(S):
                        mags[g, jj] = math.inf
                    continue
                for g in range(S):
                    sacc = 0.0j
                    sa = 0.0
                    sb_ = 0.0
                    for p in range(np_):
                        sacc += psi[g, p] * fv[p]
                        sa += apsi[g, p] * fr[p]
                        sb_ += apsi[g, p] * fa[p]
                    acc[g, jj] += sacc
                    mags[g, jj] += sa + rho[g] * sb_
                    sabs[g, jj] += sb_
                nterms[jj] += np_
    for jj in range(m):
        j = idx[jj]
        wj = w[j]
        aw = n_aw[jj]
        P = pnref[jj]
        n_t = nterms[jj]
        for g in range(S):
            mu = mus[g]
            y = eta / mu
            xlo = (s_lo - mg[g]) / mu
            xlo += 1e-12 * (abs(xlo) + 1.0)
            xhi = (s_hi - mg[g]) / mu
            xhi -= 1e-12 * (abs(xhi) + 1.0)
            lerr = _tails_seg(q, mu, logq, l1q, a, aw, y, xlo, xhi, rfl[jj], fform)
            lerr = _lae(lerr, share[g] + T1[jj])
            lerr = _lae(lerr, share[g] + T2[jj])
            scale = pgref[g] + P
            if n_t > 0:
                rnd = ROUND * mags[g, jj] + (1.25 * n_t + 16) * U_MACH * sabs[g, jj] + (n_t + 16) * 1e-300
                lerr = _lae(lerr, scale + math.log(rnd))
            if not (lerr == lerr):
                lerr = math.inf
            lerr += 1e-10
            lr_out[g, j] = lerr
            if n_t == 0:
                F = 0.0j
                lsc = 0.0
            else:
                F = acc[g, jj]
                lsc = scale
            if fform:
                Fv = F * math.exp(lsc) if n_t > 0 else 0.0j
                if not (abs(Fv) < math.inf) or not (lsc < 700.0):
                    lg_out[g, j] = complex(math.nan, 0.0)
                    lr_out[g, j] = math.inf
                else:
                    lg_out[g, j] = cmath.log(1.0 + Fv) if abs(Fv) >= 0.5 else _clog1p_local(Fv)
            elif F == 0.0:
                lg_out[g, j] = complex(-math.inf, 0.0)
            else:
                lg_out[g, j] = lsc + cmath.log(F)


_CHUNK = 64


@njit(cache=True)
def sg_g_enclose_multi(q: float, mus: np.ndarray, w: np.ndarray, ltol: np.ndarray, fform: bool):
    """(log G~, log r), each of shape (segments, nodes): |G_g(w_j) - G~| <= r, aiming at
    r <= exp(ltol[g]).  ``mus``: the segments' mu (within a factor ~1.5 of each other for speed, any
    values for validity, all <= 4); ``fform``: G - 1 computed (where G is near 1).  Nodes are
    grouped by (Re w, line height); w = 0 gives G = 1 exactly.  r = inf (and G~ NaN) where the
    enclosure failed: the caller computes that entry another way."""
    S = mus.shape[0]
    n = w.shape[0]
    lg = np.empty((S, n), dtype=np.complex128)
    lr = np.full((S, n), math.inf)
    mu_min = mus.min()
    etas = np.empty(n)
    done = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        if w[i] == 0.0:
            for g in range(S):
                lg[g, i] = 0.0j
                lr[g, i] = -math.inf
            done[i] = True
        etas[i] = mu_min * _shift(mu_min, w[i].imag)
    idx = np.empty(_CHUNK, dtype=np.int64)
    for k in range(n):
        if done[k]:
            continue
        a = w[k].real
        e = etas[k]
        done[k] = True
        idx[0] = k
        m = 1
        for k2 in range(k + 1, n):
            if m == _CHUNK:
                break
            if not done[k2] and w[k2].real == a and etas[k2] == e:
                done[k2] = True
                idx[m] = k2
                m += 1
        _line(q, mus, ltol, w, idx, m, e, fform, lg, lr)
    return lg, lr
