"""A rigorous upper bound on delta(eps) of Poisson-subsampled Gaussian compositions, for the far tail.

Where few records participate (sum q n << 1) and the noise is large, delta(eps) is often astronomically
small (sigma 199.6, q 6.4e-7, T 8, eps 1.3e-5: delta < 1e-13000), while the engines' own bounds stay
near delta(0) (the Hellinger bound 4.6e-9 there), and the contour / quadratures cancel at their absolute
floating-point floor.  This module proves a bound that follows the truth's exponent, in milliseconds; the
dispatch answers 0 (valid) where it is below the smallest double, and caps its flagged bound with it
elsewhere.

Notation per step of a group (q, mu = 1/sigma, count n): r = q / (1 - q), a = log(1 - q) < 0,
W = e^{mu Z - mu^2/2} with Z ~ N(0, 1), and the excess loss g(z) = log(1 + r e^{mu z - mu^2/2}) >= 0, so
that the step's loss is l = a + g.  With G = sum of g(Z_i) over all steps (Z_i iid N(0, 1)), and
A = sum n |a|:

* REMOVE (P = (1 - q) N(mu B, 1), Q = N(0, 1) per step): dP/dQ = (1 - q) e^{g}, so
  delta(eps) = E_P[(1 - e^{eps - L})_+] = (1 - q)^T E_Q[(e^G - e^{eps'})_+],  eps' = eps + A.
  For thresholds t_g (one per group; all set from one excess-loss level) split on whether every
  Z_i <= t_{g(i)}:
    - some Z_i > t: the payoff is <= (1 - q)^T e^G = the density of P, so this part is at most
      P_T(some X_i > t) <= sum_g n_g [(1 - q) Phibar(t_g) + q Phibar(t_g - mu_g)]  (union bound);
    - every Z_i <= t: for real lam > 1, (e^y - 1)_+ <= C_lam e^{lam y} with
      C_lam = sup_{y > 0} (e^y - 1) e^{-lam y} = (lam - 1)^{lam - 1} / lam^lam, so with y = G - eps' this
      part is at most C_lam e^{-(lam - 1) eps'} prod_g [(1 - q_g)^{n_g} M_g(lam)^{n_g}],
      M_g(lam) = E[(1 + r W)^lam; Z <= t_g]  (Markov / Chernoff on the truncated product measure).
* ADD (P = N(0, 1), Q = the mixture): the loss is A - G <= A, so delta(eps) = E[(1 - e^{G - c})_+] with
  c = A - eps: 0 where c <= 0; else, for real lam > 0, (1 - e^{-y})_+ <= D_lam e^{lam y} with
  D_lam = sup_{y > 0} (1 - e^{-y}) e^{-lam y} = lam^lam / (lam + 1)^{lam + 1}, so
  delta <= D_lam e^{lam c} prod_g N_g(lam)^{n_g},  N_g(lam) = E[(1 + r W)^{-lam}].

The expectations M_g (increasing integrand) and N_g (decreasing integrand) of the one-dimensional
Gaussian are bounded above by Riemann sums on a grid z_0 < ... < z_K: on each cell the integrand is at
most its value at the cell's upper (M) or lower (N) end, times the cell's Gaussian mass
Phi(z_{k+1}) - Phi(z_k); below z_0 at most h(z_0) Phi(z_0) (M; h increasing) or 1 * Phi(z_0) (N; h <= 1),
above z_K at most h(z_K) Phibar(z_K) (N).  Every step is in logarithms (scipy's log_ndtr, log1p, logaddexp,
each a few ulps); the final logarithm carries a margin of 1e-9 relative plus 1e-9 absolute per summed
term (:data:`LOG_MARGIN`).  Any (t, lam) gives a valid bound: the search over them only makes it tighter.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy.special import erfcx, log_ndtr

#: the cells of the upper sums: width DZ over [Z_LO, Z_HI] (REMOVE from Z_LO_REMOVE: below it the bound keeps
#: h(z_0) Phi(z_0) <= 1e-33 h(t), negligible beside M >= Phi(t))
DZ = 0.25
Z_LO = -40.0
Z_LO_REMOVE = -12.0
Z_HI = 40.0
#: relative (and absolute) allowance on each computed logarithm for the floating-point rounding of the
#: special functions and sums (a few ulps each: 1e-9 is seven orders of magnitude above them)
LOG_MARGIN = 1e-9
#: the search grids: log(lam - 1) (REMOVE) or log lam (ADD), and the truncation levels
LLAM = np.linspace(-6.0, 46.0, 53)
LEVELS = 12


def _logdiff(lb: np.ndarray, la: np.ndarray) -> np.ndarray:
    """log(e^lb - e^la) for lb >= la (-inf where equal)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))


def _e_stable(x: np.ndarray) -> np.ndarray:
    """log Phi(x) + x^2 / 2 (finite and accurate at very negative x: log(erfcx(-x / sqrt 2) / 2))."""
    x = np.asarray(x, dtype=float)
    out = np.empty(x.shape)
    neg = x < 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out[neg] = np.log(0.5 * erfcx(x[neg] * -_RSQRT2))
        xp = x[~neg]
        out[~neg] = log_ndtr(xp) + 0.5 * xp * xp
    return out


_RSQRT2 = 1.0 / math.sqrt(2.0)


def _log_line_int(la: np.ndarray, lb: np.ndarray, beta: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log of the integral over [a, b] of phi(z) e^{l(z)} for the line l of slope ``beta`` with l(a) = la,
    l(b) = lb (b may be +inf, lb then unused): e^{alpha + beta^2/2} (Phi(b - beta) - Phi(a - beta)), written
    without the cancellation of alpha + beta^2 / 2 against log Phi (beta reaches 1e17 at lam ~ 1e20): with
    hi the upper of the two shifted ends after reflecting a cell right of 0 (Phi(b') - Phi(a') =
    Phi(-a') - Phi(-b')) and p its unshifted end, alpha + beta^2/2 + log Phi(hi) = l(p) - p^2/2 + E(hi),
    E = :func:`_e_stable`."""
    ap, bp = a - beta, b - beta
    right = ap + bp > 0.0
    hi = np.where(right, -ap, bp)
    lo = np.where(right, -bp, ap)
    p = np.where(right, a, b)
    lp = np.where(right, la, lb)
    e_hi, e_lo = _e_stable(hi), _e_stable(lo)
    with np.errstate(invalid="ignore", over="ignore"):
        # log Phi(lo) - log Phi(hi) <= 0; hi - lo = b - a exactly (the shifted ends lose it at large beta)
        d = e_lo - e_hi + 0.5 * (b - a) * (hi + lo)
        d = np.where(np.isneginf(lo), -np.inf, np.minimum(d, 0.0))
        return lp - 0.5 * p * p + e_hi + np.log1p(-np.exp(d))


def _lse_rows(v: np.ndarray) -> np.ndarray:
    """log sum exp along the last axis."""
    m = np.max(v, axis=-1)
    mm = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return mm + np.log(np.sum(np.exp(v - mm[..., None]), axis=-1))


def _margin(x, terms: int):
    """An upper end of a computed logarithm x (its rounding allowance added)."""
    return x + LOG_MARGIN * (np.abs(x) + terms)


class _Group:
    """One group: its excess loss g on the shared grid of nodes.

    Upper bounds of the one-dimensional Gaussian expectations, cell by cell: g is convex (a softplus of
    an affine function of z), so on a cell [a, b] lam g lies below its chord (lam > 0; REMOVE's M) and -lam g
    below its tangent at the cell's midpoint (ADD's N); the Gaussian integral of the exponential of a line
    is in closed form (:func:`_log_lin_mass`)."""

    def __init__(self, q: float, sigma: float, n: int) -> None:
        self.q, self.mu, self.n = q, 1.0 / sigma, n
        self.logr = math.log(q) - math.log1p(-q)
        self.a = math.log1p(-q)
        k = int(round((Z_HI - Z_LO) / DZ))
        self.z = np.linspace(Z_LO, Z_HI, k + 1)
        self.gz = self.g(self.z)
        self.zm = 0.5 * (self.z[:-1] + self.z[1:])
        self.gm, self.dgm = self.g(self.zm), self.dg(self.zm)

    def g(self, z):
        """log(1 + r e^{mu z - mu^2/2}) (the step's excess loss)."""
        return np.logaddexp(0.0, self.logr + self.mu * np.asarray(z, dtype=float) - 0.5 * self.mu * self.mu)

    def dg(self, z):
        """g'(z) = mu r e^{.} / (1 + r e^{.})."""
        x = self.logr + self.mu * np.asarray(z, dtype=float) - 0.5 * self.mu * self.mu
        return self.mu * np.exp(-np.logaddexp(0.0, -x))

    def t_of_level(self, v: float) -> float:
        """z where g(z) = v (v > 0)."""
        return (math.log(math.expm1(v)) - self.logr + 0.5 * self.mu * self.mu) / self.mu

    def log_m_trunc(self, lam: np.ndarray, t: float) -> np.ndarray:
        """Upper bounds on log E[(1 + r W)^lam; Z <= t] for each lam > 0: lam g below its chord on each cell
        of [z_i0, t] (the last one ends at t), and h <= h(z_i0) below z_i0."""
        lam = np.asarray(lam, dtype=float)[:, None]
        gt = float(self.g(t))
        if t <= Z_LO_REMOVE + 2.0 * DZ:
            return _margin(lam[:, 0] * gt + float(log_ndtr(t)), 2)
        i0 = int(round((Z_LO_REMOVE - Z_LO) / DZ))
        kt = min(int(math.floor((t - Z_LO) / DZ)), self.z.size - 1)  # nodes i0..kt lie below t
        za = self.z[i0:kt + 1]
        zb = np.append(self.z[i0 + 1:kt + 1], t)
        ga = self.gz[i0:kt + 1]
        gb = np.append(self.gz[i0 + 1:kt + 1], gt)
        keep = zb > za
        za, zb, ga, gb = za[keep], zb[keep], ga[keep], gb[keep]
        beta = lam * ((gb - ga) / (zb - za))[None, :]
        body = _log_line_int(lam * ga[None, :], lam * gb[None, :], beta, za[None, :], zb[None, :])
        v = np.concatenate([body, lam * self.gz[i0] + float(log_ndtr(self.z[i0]))], axis=1)
        return _margin(_lse_rows(v), v.shape[1])

    def log_m_trunc_grid(self, lam: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """:meth:`log_m_trunc` for every (t, lam) pair at once: shape (len(ts), len(lam)).  The whole cells
        do not depend on t (each t keeps those below it), the cell holding t is its own column."""
        lam = np.asarray(lam, dtype=float)
        ts = np.asarray(ts, dtype=float)
        out = np.empty((ts.size, lam.size))
        low = ts <= Z_LO_REMOVE + 2.0 * DZ
        if low.any():
            out[low] = _margin(lam[None, :] * self.g(ts[low])[:, None] + log_ndtr(ts[low])[:, None], 2)
        if low.all():
            return out
        th = ts[~low]
        i0 = int(round((Z_LO_REMOVE - Z_LO) / DZ))
        kt = np.minimum(np.floor((th - Z_LO) / DZ).astype(int), self.z.size - 1)  # nodes i0..kt below t
        kmax = int(kt.max())
        lam2 = lam[:, None]
        za, zb = self.z[i0:kmax], self.z[i0 + 1:kmax + 1]
        ga, gb = self.gz[i0:kmax], self.gz[i0 + 1:kmax + 1]
        beta = lam2 * ((gb - ga) / (zb - za))[None, :]
        body = _log_line_int(lam2 * ga[None, :], lam2 * gb[None, :], beta, za[None, :], zb[None, :])  # (lam, cell)
        # the cell [z_kt, t] of each t (empty where t is a node)
        zk, gk, gt = self.z[kt], self.gz[kt], self.g(th)
        wid = th - zk
        with np.errstate(divide="ignore", invalid="ignore"):
            bp = lam2 * np.where(wid > 0.0, (gt - gk) / np.where(wid > 0.0, wid, 1.0), 0.0)[None, :]
            part = _log_line_int(lam2 * gk[None, :], lam2 * gt[None, :], bp, zk[None, :], th[None, :])
        part = np.where(wid[None, :] > 0.0, part, -np.inf)  # (lam, t)
        left = lam * self.gz[i0] + float(log_ndtr(self.z[i0]))  # (lam,)
        keep = (np.arange(i0, kmax)[None, :] < kt[:, None])  # (t, cell): cells wholly below t
        full = np.where(keep[:, None, :], body[None, :, :], -np.inf)  # (t, lam, cell)
        m = np.maximum(np.max(full, axis=2), np.maximum(part.T, left[None, :]))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            tot = (np.sum(np.exp(full - m[:, :, None]), axis=2) + np.exp(part.T - m) + np.exp(left[None, :] - m))
        out[~low] = _margin(m + np.log(tot), (kmax - i0) + 2)
        return out

    def log_n(self, lam: np.ndarray) -> np.ndarray:
        """Upper bounds on log E[(1 + r W)^{-lam}] for each lam > 0: -lam g below its tangent at each cell's
        midpoint (and at Z_HI on [Z_HI, inf)), h <= 1 below Z_LO."""
        lam = np.asarray(lam, dtype=float)[:, None]
        zm = np.append(self.zm, Z_HI)
        gm = np.append(self.gm, self.gz[-1])
        slope = -np.append(self.dgm, self.dg(Z_HI))
        za = self.z
        zb = np.append(self.z[1:], np.inf)
        beta = lam * slope[None, :]
        la = -lam * gm[None, :] + beta * (za - zm)[None, :]
        with np.errstate(invalid="ignore"):
            lb = -lam * gm[None, :] + beta * (zb - zm)[None, :]
        body = _log_line_int(la, lb, beta, za[None, :], zb[None, :])
        v = np.concatenate([body, np.full((lam.shape[0], 1), float(log_ndtr(Z_LO)))], axis=1)
        return _margin(_lse_rows(v), v.shape[1])

    def log_tail(self, t: float) -> float:
        """log P(X > t), X ~ (1 - q) N(0, 1) + q N(mu, 1)."""
        return float(np.logaddexp(self.a + log_ndtr(-t), math.log(self.q) + log_ndtr(self.mu - t)))


def _groups(groups: Sequence[tuple[Any, int]]) -> list[_Group] | None:
    from ..mechanisms import PoissonSubsampledGaussian

    out = []
    for m, n in groups:
        if int(n) <= 0:
            continue
        if not (isinstance(m, PoissonSubsampledGaussian) and 0.0 < m.sampling_probability < 1.0):
            return None
        out.append(_Group(float(m.sampling_probability), float(m.noise_multiplier), int(n)))
    return out or None


def _union(gs: list[_Group], v: float) -> float:
    """log of sum_g n_g P(X_g > t_g(v)) (every step's excess loss at most v outside this event)."""
    return float(np.logaddexp.reduce([math.log(g.n) + g.log_tail(g.t_of_level(v)) for g in gs]))


def _remove_log_bound(gs: list[_Group], eps: float, full: bool = True) -> tuple[float, dict[str, float]]:
    eps_p = eps + sum(g.n * -g.a for g in gs)
    steps = sum(g.n for g in gs)
    log_q_t = sum(g.n * g.a for g in gs)
    # every step's excess loss at most eps' / T: G <= eps', the payoff vanishes; the union bound alone
    v0 = eps_p / steps
    best = (_margin(_union(gs, v0), 2), {"level": v0, "lam": math.inf})
    if not full:
        return best

    def table(lvs: np.ndarray, llams: np.ndarray) -> np.ndarray:
        """The bound at every (level, lam) pair: union part (+) truncated part."""
        lam = 1.0 + np.exp(llams)
        lead = llams * (lam - 1.0) - lam * np.log(lam)  # log C_lam
        lin = -(lam - 1.0) * eps_p
        c = (lead + lin + log_q_t)[None, :]
        mag = (np.abs(lead) + np.abs(lin) + abs(log_q_t) + 3.0)[None, :]
        for g in gs:
            ts = np.array([g.t_of_level(math.exp(lv)) for lv in lvs])
            mg = g.n * g.log_m_trunc_grid(lam, ts)
            c = c + mg
            mag = mag + np.abs(mg)
        # a sum of terms up to ~1e17 that nearly cancel: the rounding allowance scales with the terms
        c = c + LOG_MARGIN * mag
        u = np.array([_union(gs, math.exp(lv)) for lv in lvs])
        return np.logaddexp(u[:, None], c)

    lv_lo, lv_hi = math.log(v0), math.log(eps_p) + 1.0
    lvs, llams = np.linspace(lv_lo, lv_hi, LEVELS), LLAM
    for shrink in (None, 4.0, 4.0):
        if shrink is not None:
            dl, dm = (lvs[1] - lvs[0]) if lvs.size > 1 else 0.0, llams[1] - llams[0]
            lvs = np.clip(np.linspace(lv - dl, lv + dl, 9), lv_lo, None)
            llams = np.linspace(llam - dm, llam + dm, 2 * int(shrink) + 1)
        tab = table(lvs, llams)
        i, j = np.unravel_index(int(np.argmin(tab)), tab.shape)
        lv, llam, val = float(lvs[i]), float(llams[j]), float(tab[i, j])
    if val < best[0]:
        best = (_margin(val, 2), {"level": math.exp(lv), "lam": 1.0 + math.exp(llam)})
    return best


def _golden(f, lo: float, hi: float, iters: int) -> tuple[float, float]:
    """(argmin, min) of f on [lo, hi] by golden section (any point is a valid bound: unimodality only
    makes the search find the best)."""
    gr = 0.5 * (math.sqrt(5.0) - 1.0)
    a, b = lo, hi
    c, d = b - gr * (b - a), a + gr * (b - a)
    fc, fd = f(c), f(d)
    best = (c, fc) if fc <= fd else (d, fd)
    for _ in range(iters):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - gr * (b - a)
            fc = f(c)
            if fc < best[1]:
                best = (c, fc)
        else:
            a, c, fc = c, d, fd
            d = a + gr * (b - a)
            fd = f(d)
            if fd < best[1]:
                best = (d, fd)
    return best


def _add_log_bound(gs: list[_Group], eps: float) -> float:
    c = sum(g.n * -g.a for g in gs) - eps
    if c <= 0.0:
        return -math.inf  # the ADD loss is at most sum n log(1 / (1 - q)) <= eps: delta_ADD = 0

    def f(llam: np.ndarray) -> np.ndarray:
        lam = np.exp(llam)
        terms = [lam * llam - (lam + 1.0) * np.log1p(lam), lam * c]  # log(D_lam e^{lam c})
        for g in gs:
            terms.append(g.n * g.log_n(lam))
        return sum(terms) + LOG_MARGIN * (sum(np.abs(x) for x in terms) + len(terms))

    s = f(LLAM)
    i = int(np.argmin(s))
    d = LLAM[1] - LLAM[0]
    s2 = f(np.linspace(LLAM[i] - d, LLAM[i] + d, 9))
    return float(_margin(min(float(s[i]), float(np.min(s2)), 0.0), 2))


def log_delta_bound(groups: Sequence[tuple[Any, int]], eps: float,
                    below: float | None = None) -> tuple[float, dict[str, Any]] | None:
    """(log of a rigorous upper bound on delta(eps), both directions; details) for a composition of
    Poisson-subsampled Gaussians (``(mechanism, count)`` pairs, q < 1); None where it does not apply.
    ``below``: stop as soon as the bound is proven below this log (the union bound alone first)."""
    gs = _groups(groups)
    if gs is None or not (eps >= 0.0 and math.isfinite(eps)):
        return None
    return _log_bound(gs, float(eps), below)


def add_log_delta_bound(groups: Sequence[tuple[Any, int]], eps: float) -> float | None:
    """log of a rigorous upper bound on the ADD direction's delta(eps) alone (the D_lam bound of the module
    docstring, lam on the grid LLAM: up to e^46, where the engines' Chernoff search stops at s = 1e3); None where
    it does not apply.  2-4 ms."""
    gs = _groups(groups)
    if gs is None or not (eps >= 0.0 and math.isfinite(eps)):
        return None
    with np.errstate(over="ignore", under="ignore"):
        return _add_log_bound(gs, float(eps))


def _log_bound(gs: list[_Group], eps: float, below: float | None) -> tuple[float, dict[str, Any]]:
    with np.errstate(over="ignore", under="ignore"):
        add = _add_log_bound(gs, eps)
        rem, info = _remove_log_bound(gs, eps, full=False)
        if below is None or not max(rem, add) < below:
            rem, info = _remove_log_bound(gs, eps)
    return max(rem, add), {"remove": rem, "add": add, **info}


#: the inverse search's stopping rules (:func:`epsilon_bound`): relative width of the bracket of the bound's
#: root, evaluations (2-10 ms each) and CPU seconds
EPS_RTOL = 1e-4
EPS_EVALS = 16
EPS_SECONDS = 0.1


class _Stop(Exception):
    pass


def epsilon_bound(groups: Sequence[tuple[Any, int]], delta: float,
                  eps_hi: float) -> tuple[float, dict[str, Any]] | None:
    """A rigorous upper bound on eps(delta) (both directions) below ``eps_hi`` from :func:`log_delta_bound`;
    None where the bound does not apply or is not below ``delta`` at ``eps_hi`` (it then gives nothing
    better than that upper end).

    eps(delta) = inf{e >= 0 : delta(e) <= delta} and delta(e) is non-increasing, so every e whose proven
    bound is at most delta is itself an upper bound on eps(delta): the answer is the smallest e evaluated
    whose bound is at most delta (the bound need not be monotone or continuous in e for this: its parameter
    grids move with e; that only limits how close the search gets to its root).  0.0 (proven: delta(0) <=
    delta) where the bound at e = 0 is already at most delta.  Brent's method on the log bound (bisection
    where it stalls), to EPS_RTOL relative or EPS_EVALS evaluations or EPS_SECONDS of CPU, whichever comes
    first."""
    import time

    from scipy.optimize import brentq

    gs = _groups(groups)
    if gs is None or not (0.0 < delta < 1.0) or not (eps_hi > 0.0 and math.isfinite(eps_hi)):
        return None
    ld = math.log(delta)
    t0 = time.process_time()
    best = [math.inf]
    n = [0]

    def g(e: float) -> float:
        if n[0] >= EPS_EVALS or (n[0] > 2 and time.process_time() - t0 > EPS_SECONDS):
            raise _Stop
        n[0] += 1
        v = _log_bound(gs, float(e), ld)[0] - ld
        if v <= 0.0:
            best[0] = min(best[0], float(e))
        return v if math.isfinite(v) else (1e300 if v > 0.0 or math.isnan(v) else -1e300)

    if not g(eps_hi) <= 0.0:
        return None
    if g(0.0) <= 0.0:
        return 0.0, {"evaluations": n[0], "note": "the bound at eps = 0 is below delta"}
    try:
        brentq(g, 0.0, eps_hi, xtol=1e-300, rtol=EPS_RTOL, maxiter=EPS_EVALS, full_output=True, disp=False)
    except _Stop:
        pass
    return best[0], {"evaluations": n[0]}
