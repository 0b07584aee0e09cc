"""Proven brackets where the contour enclosure does not finish (docs/certified.md, section 7).

Every end returned here is a proof, given the rigorous real-MGF enclosures of
:mod:`ewacct._kernels.mgf_cert` (``CertDirection.K_hi`` / ``K_lo``) and Arb ball arithmetic for the
final combination:

* **Upper ends: the Chernoff bound on the payoff.**  For s > 0, ``delta(eps) <= exp(psi(s) - s eps)``
  with ``psi(s) = K(s) + s log s - (s+1) log(s+1)`` (``sup_y (1 - e^-y)_+ e^{-s y}``), in each direction;
  ``psi`` from the rigorous upper bound on the real K.  ADD's delta is 0 beyond its largest privacy
  loss.  s is chosen by a search on the floating-point K (any s > 0 gives a valid bound).
* **Lower ends: a tilted second-moment-free bound on the tail, and sub-compositions.**
  For 0 <= l1 < l < l2 and t < t2, splitting E[e^{l L}] at t and t2:
  ``E e^{lL} <= e^{(l-l1) t} E e^{l1 L} + e^{l t2} P(L > t) + e^{(l-l2) t2} E e^{l2 L}``
  (on L <= t, e^{lL} <= e^{(l-l1) t} e^{l1 L}; on t < L <= t2, e^{lL} <= e^{l t2}; on L > t2,
  e^{lL} <= e^{(l-l2) t2} e^{l2 L}), hence
  ``P(L > t) >= e^{-l t2} (e^{K(l)} - e^{(l-l1) t + K(l1)} - e^{(l-l2) t2 + K(l2)})``, and
  ``delta(eps) >= E[(1 - e^{eps - L})_+] >= (1 - e^{eps - t}) P(L > t)`` for t > eps.  K(l) from below,
  K(l1), K(l2) from above (K(0) = 0).  The parameters come from a grid search on the floating-point
  K; the chosen point is then evaluated in Arb with the rigorous K bounds.  Any one direction's lower
  bound bounds the maximum over directions.
  Sub-compositions: dropping steps is post-processing, so each direction's delta(eps) is at least that
  of one step of any group (and of the Gaussian groups alone): their exact closed forms in Arb
  (:mod:`ewacct.bounds.closed_form`).
* **Laplace and randomized-response steps** enter K through their closed-form MGFs in Arb (class
  ``_Dir``); any other mechanism raises ``NotCertifiable``.

These brackets are wide (the lower end typically a few tilted standard deviations below the truth);
they exist so that ``certify=True`` only ever reports proven ends, in bounded time.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

U = 2.0 ** -53


def _arb():
    from flint import arb

    return arb


def _down(x) -> float:
    if not x.is_finite():
        return -math.inf
    return math.nextafter(float(x.lower()), -math.inf)


def _up(x) -> float:
    if not x.is_finite():
        return math.inf
    return math.nextafter(float(x.upper()), math.inf)


# ----------------------------------------------------------------------------- float K (search only)
def _k_float(cd: Any, s: float) -> float:
    """Floating-point K(s) of one direction (for choosing parameters only; never a bound)."""
    return cd.K_float(s)


def _psi_float(cd: Any, s: float) -> float:
    return _k_float(cd, s) + s * math.log(s) - (s + 1.0) * math.log1p(s)


# ----------------------------------------------------------------------------- upper ends
def _s_max(cd: Any) -> float:
    """The largest s searched: the kernels' cost grows with the x-range a mu (REMOVE) and with the
    left-tail range sqrt(2 s |log(1-q)|) (ADD), so s is capped where those reach a few hundred."""
    sm = 1e8
    inner = getattr(cd, "cd", None)
    for g in (inner.sg if inner is not None else []):
        if cd.direction == "remove":
            sm = min(sm, 400.0 / g.mu)
        else:
            sm = min(sm, 2e4 / max(-math.log1p(-g.q), 1e-300), 400.0 / g.mu)
    return max(sm, 1.0)


def _chernoff_s(cd: Any, f) -> float:
    """argmin over 0 < s <= _s_max of the quasi-convex f(s) (bracketing on log s, then golden section)."""
    cache: dict[float, float] = {}
    lmax = math.log(_s_max(cd))

    def F(ls: float) -> float:
        ls = min(ls, lmax)
        if ls not in cache:
            try:
                v = f(math.exp(ls))
            except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
                v = math.inf
            cache[ls] = v if v == v else math.inf
        return cache[ls]

    x, step = 0.0, math.log(2.0)
    if F(x - step) < F(x):
        step = -step
    a, b = x, x + step
    while F(b) < F(a) and -40.0 < b < lmax:
        a, b = b, b + step
        step *= 1.5
    lo, hi = (a - abs(step), b) if step > 0 else (b, a + abs(step))
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(40):
        if F(c) < F(d):
            hi = d
        else:
            lo = c
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        if hi - lo < 1e-4:
            break
    best = min(cache, key=cache.get)
    return math.exp(min(best, lmax))


def chernoff_eps_upper(cd: Any, log_delta: float) -> tuple[float, float]:
    """(eps_hi, s): eps(delta) <= eps_hi in the direction of ``cd`` (inf where nothing is proven)."""
    s = _chernoff_s(cd, lambda s_: (_psi_float(cd, s_) - log_delta) / s_)
    for cand in (s, 0.5 * s, min(2.0 * s, _s_max(cd))):
        try:
            v = cd.psi_hi(cand)
        except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
            continue
        if math.isfinite(v):
            e = (v - log_delta) / cand
            e += 8.0 * U * (abs(v) + abs(log_delta)) / cand + 1e-300
            return max(e, 0.0), cand
    return math.inf, s


def chernoff_delta_upper(cd: Any, eps: float) -> float:
    """A proven upper bound on this direction's delta(eps) (<= 1)."""
    s = _chernoff_s(cd, lambda s_: _psi_float(cd, s_) - s_ * eps)
    best = 1.0
    for cand in (s, 0.5 * s, min(2.0 * s, _s_max(cd))):
        try:
            v = cd.psi_hi(cand)
        except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
            continue
        if math.isfinite(v):
            x = v - cand * eps
            x += 8.0 * U * (abs(v) + abs(cand * eps)) + 1e-300
            best = min(best, math.exp(min(x, 0.0)) * (1.0 + 4.0 * U))
    return min(best, 1.0)


# ----------------------------------------------------------------------------- lower ends (tilted)
def _tilt_tables(cd: Any, s_ref: float, n: int = 31):
    """(lambda grid with 0 prepended, float K on it)."""
    lam = np.minimum(s_ref * np.geomspace(1.0 / 24.0, 6.0, n), _s_max(cd))
    lam = np.unique(lam)
    K = np.array([_k_float(cd, float(x)) for x in lam])
    return np.concatenate([[0.0], lam]), np.concatenate([[0.0], K])


def _best_tilt(lam: np.ndarray, K: np.ndarray, t: np.ndarray, t2: np.ndarray, score) -> tuple | None:
    """Grid search of the tilted tail bound: the (i, j1, j2, t, t2) maximising ``score(t, logP)``."""
    ok = np.isfinite(K)
    best = None
    with np.errstate(all="ignore"):
        for i in range(1, lam.size):
            if not ok[i]:
                continue
            lo = [j for j in range(0, i) if ok[j]]
            hi = [j for j in range(i + 1, lam.size) if ok[j]]
            if not lo or not hi:
                continue
            la = np.array([(lam[i] - lam[j]) * t + K[j] - K[i] for j in lo])   # (nj, nt)
            ja = np.argmin(la, axis=0)
            A = la[ja, np.arange(t.size)]
            lb = np.array([(lam[i] - lam[j]) * t2 + K[j] - K[i] for j in hi])  # (nj, nt2)
            jb = np.argmin(lb, axis=0)
            B = lb[jb, np.arange(t2.size)]
            # logP[t, t2] = K_i - lam_i t2 + log(1 - e^A[t] - e^B[t2]), for t2 > t
            rest = 1.0 - np.exp(A)[:, None] - np.exp(B)[None, :]
            lp = K[i] - lam[i] * t2[None, :] + np.log(np.where(rest > 0, rest, np.nan))
            lp = np.where(t2[None, :] > t[:, None], lp, np.nan)
            sc = score(t[:, None], lp)
            sc = np.where(np.isfinite(sc), sc, -np.inf)
            k = int(np.argmax(sc))
            a, b = divmod(k, t2.size)
            if sc[a, b] > -np.inf and (best is None or sc[a, b] > best[0]):
                best = (float(sc[a, b]), i, lo[ja[a]], hi[jb[b]], float(t[a]), float(t2[b]))
    return best


def _rigorous_log_tail(cd: Any, lam: np.ndarray, i: int, j1: int, j2: int, t: float, t2: float):
    """An Arb ball lower-bounding P(L > t) via the tilted split (None where nothing is proven)."""
    arb = _arb()
    klo = cd.K_lo(float(lam[i]))
    k1 = 0.0 if j1 == 0 else cd.K_hi(float(lam[j1]))
    k2 = cd.K_hi(float(lam[j2]))
    if not (math.isfinite(klo) and math.isfinite(k1) and math.isfinite(k2)):
        return None
    l, l1, l2 = arb(float(lam[i])), arb(float(lam[j1])), arb(float(lam[j2]))
    T, T2 = arb(t), arb(t2)
    p = (arb(klo).exp() - ((l - l1) * T + arb(k1)).exp() - ((l - l2) * T2 + arb(k2)).exp()) * (-l * T2).exp()
    return p


def tilted_eps_lower(cd: Any, log_delta: float, s_ref: float, eps_hi: float, delta: float | None = None) -> float:
    """A proven lower bound on this direction's eps(delta) (0 where nothing better is proven)."""
    if not (math.isfinite(eps_hi) and eps_hi > 0.0 and s_ref > 0.0):
        return 0.0
    lam, K = _tilt_tables(cd, s_ref)
    t = eps_hi * (1.0 - np.geomspace(1e-6, 1.0, 100))[::-1]
    t2 = np.concatenate([t, eps_hi * (1.0 + np.geomspace(1e-6, 2.0, 50))])

    def score(tt, lp):  # eps_lo = t + log(1 - delta / P)
        with np.errstate(all="ignore"):
            x = np.exp(log_delta - lp)
            return np.where(x < 1.0, tt + np.log1p(-x), -np.inf)

    best = _best_tilt(lam, K, t, t2, score)
    if best is None or best[0] <= 0.0:
        return 0.0
    _, i, j1, j2, tb, t2b = best
    arb = _arb()
    p = _rigorous_log_tail(cd, lam, i, j1, j2, tb, t2b)
    if p is None or not p.is_finite():
        return 0.0
    dl = arb(delta) if delta is not None else arb(log_delta).exp() * arb(1, 1e-13)  # delta itself (exact)
    if not p > dl:
        return 0.0
    e = arb(tb) + (1 - dl / p).log()
    v = _down(e)
    return max(0.0, v) if math.isfinite(v) else 0.0


def tilted_delta_lower(cd: Any, eps: float, s_ref: float) -> float:
    """A proven lower bound on this direction's delta(eps) (0 where nothing better is proven)."""
    if not s_ref > 0.0:
        return 0.0
    lam, K = _tilt_tables(cd, s_ref)
    span = max(abs(eps), 1.0)
    t = eps + span * np.geomspace(1e-6, 3.0, 100)
    t2 = np.concatenate([t, eps + span * (3.0 + np.geomspace(1e-3, 6.0, 30))])

    def score(tt, lp):  # log[(1 - e^{eps - t}) P]
        with np.errstate(all="ignore"):
            return np.log(-np.expm1(eps - tt)) + lp

    best = _best_tilt(lam, K, t, t2, score)
    if best is None:
        return 0.0
    _, i, j1, j2, tb, t2b = best
    arb = _arb()
    p = _rigorous_log_tail(cd, lam, i, j1, j2, tb, t2b)
    if p is None or not p.is_finite():
        return 0.0
    v = _down(p * (1 - (arb(eps) - arb(tb)).exp()))
    return max(0.0, v) if math.isfinite(v) else 0.0


# ----------------------------------------------------------------------------- sub-compositions
def _subcompositions(groups: Sequence[tuple[Any, int]]) -> list[list[tuple[Any, int]]]:
    """Sub-compositions with an exact closed form: one step of a few subsampled-Gaussian groups (the
    strongest by q e^{mu^2/2}), and the Gaussian groups together."""
    from ..mechanisms import Gaussian, PoissonSubsampledGaussian

    gauss = [(m, n) for m, n in groups if isinstance(m, Gaussian) or
             (isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability == 1.0)]
    sg = [m for m, _ in groups if isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0]
    sg.sort(key=lambda m: -(math.log(m.sampling_probability) + min(0.5 / m.noise_multiplier ** 2, 700.0)))
    out = [[(m, 1)] for m in sg[:3]]
    if gauss:
        out.append(gauss)
    return out


class _Sub:
    """The minimal accountant interface the closed forms read (``groups()``)."""

    def __init__(self, groups):
        self._g = list(groups)

    def groups(self):
        return self._g


def subcomposition_eps_lower(groups, delta: float) -> float:
    from .closed_form import closed_form_epsilon_bracket

    best = 0.0
    for sub in _subcompositions(groups):
        br = closed_form_epsilon_bracket(_Sub(sub), delta)
        if br is not None and math.isfinite(br[0]):
            best = max(best, br[0])
    return best


def subcomposition_delta_lower(groups, eps: float) -> float:
    from .closed_form import closed_form_delta_bracket

    best = 0.0
    for sub in _subcompositions(groups):
        br = closed_form_delta_bracket(_Sub(sub), eps)
        if br is not None:
            best = max(best, br[0])
    return best


# ----------------------------------------------------------------------------- directions
class _Dir:
    """One direction of a composition: rigorous bounds on the real K(s) = log E_P e^{s L}.

    Subsampled-Gaussian and Gaussian groups through ``CertDirection`` (the Numba enclosures); Laplace
    and randomized-response groups through their closed-form MGFs in Arb (both directions coincide):
    Laplace with theta = sensitivity / scale, L = theta on x > theta (mass 1/2), -theta on x < 0 (mass
    e^-theta / 2), 2x - theta between (density e^{x - theta} / 2):
    ``M(s) = e^{-theta (1+s)} / 2 [1 + (e^{(2s+1) theta} - 1)/(2s+1)] + e^{s theta} / 2``;
    randomized response: L = +-eps0 with masses r = e^eps0 / (1 + e^eps0) and 1 - r.
    """

    def __init__(self, groups: Sequence[tuple[Any, int]], direction: str) -> None:
        from ..methods.certified import CertDirection, NotCertifiable

        enc, self.lap, self.rr = [], [], []
        sup = 0.0
        for m, n in groups:
            name = getattr(m, "name", type(m).__name__)
            if name in ("poisson_subsampled_gaussian", "gaussian"):
                enc.append((m, n))
                sup += int(n) * float(m.loss_sup(direction))
            elif name == "laplace":
                self.lap.append((float(m.sensitivity), float(m.scale), int(n)))
                sup += int(n) * float(m.sensitivity) / float(m.scale)
            elif name == "randomized_response":
                self.rr.append((float(m.epsilon0), int(n)))
                sup += int(n) * float(m.epsilon0)
            else:
                raise NotCertifiable(f"no proven bound for the mechanism {name!r}")
        self.direction = direction
        self.cd = CertDirection(enc, direction) if enc else None
        #: the essential supremum of L (an upper bound: rounded up); delta = 0 beyond it
        self.loss_sup = sup * (1.0 + 1e-12) if math.isfinite(sup) else math.inf

    def _a(self, s: float) -> float:
        return s + 1.0 if self.direction == "remove" else -s

    def _closed(self, s: float):
        """Arb ball containing the Laplace and randomized-response part of K(s)."""
        arb = _arb()
        tot = arb(0)
        S = arb(s)
        for sens, scale, n in self.lap:
            th = arb(sens) / arb(scale)
            m = ((-th * (1 + S)).exp() / 2 * (1 + ((2 * S + 1) * th).expm1() / (2 * S + 1))
                 + (S * th).exp() / 2)
            tot += n * m.log()
        for e0, n in self.rr:
            E = arb(e0)
            r = E.exp() / (1 + E.exp())
            tot += n * (r * (S * E).exp() + (1 - r) * (-S * E).exp()).log()
        return tot

    def K_float(self, s: float) -> float:
        from .._kernels.mgf import sg_log_g

        k = 0.0
        if self.cd is not None:
            a = self.cd._a(s)
            k = 0.5 * self.cd.mu2 * s * (s + 1.0)
            for g in self.cd.sg:
                k += g.n * sg_log_g(g.q, g.mu, complex(a, 0.0)).real
        if self.lap or self.rr:
            k += float(self._closed(s).mid())
        return k if k == k else math.inf

    def K_hi(self, s: float) -> float:
        k = self.cd.K_hi(s) if self.cd is not None else 0.0
        if self.lap or self.rr:
            e = _up(self._closed(s))
            k = k + e + 4.0 * U * (abs(k) + abs(e))
        return k

    def K_lo(self, s: float) -> float:
        k = self.cd.K_lo(s) if self.cd is not None else 0.0
        if self.lap or self.rr:
            e = _down(self._closed(s))
            k = k + e - 4.0 * U * (abs(k) + abs(e))
        return k

    def psi_hi(self, s: float) -> float:
        v = self.K_hi(s) + s * math.log(s) - (s + 1.0) * math.log1p(s)
        return v + 1e-13 * (abs(v) + 1.0)


# ----------------------------------------------------------------------------- brackets
def proven_epsilon_bracket(groups: Sequence[tuple[Any, int]], delta: float) -> tuple[float, float, dict[str, Any]]:
    """[lower, upper] on eps(delta), both ends proven (see the module docstring)."""
    groups = list(groups)
    ld = math.log(delta)
    info: dict[str, Any] = {}
    hi, lo = 0.0, 0.0
    dirs = {d: _Dir(groups, d) for d in ("remove", "add")}
    s_ref = {}
    for d, cd in dirs.items():
        e, s = chernoff_eps_upper(cd, ld)
        e = min(e, cd.loss_sup)
        s_ref[d] = s
        info[f"chernoff_{d}"] = e
        hi = max(hi, e)
    for d in sorted(dirs, key=lambda d_: -info[f"chernoff_{d_}"]):  # the larger upper end first
        cd = dirs[d]
        if info[f"chernoff_{d}"] <= lo:
            continue  # this direction's eps is below the lower end already proven
        try:
            v = tilted_eps_lower(cd, ld, s_ref[d], info[f"chernoff_{d}"], delta)
        except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
            v = 0.0
        info[f"tilted_{d}"] = v
        lo = max(lo, v)
    sub = subcomposition_eps_lower(groups, delta)
    info["subcomposition"] = sub
    lo = min(max(lo, sub), hi)
    return lo, hi, info


def proven_delta_bracket(groups: Sequence[tuple[Any, int]], eps: float) -> tuple[float, float, dict[str, Any]]:
    """[lower, upper] on delta(eps), both ends proven."""
    groups = list(groups)
    info: dict[str, Any] = {}
    lo, hi = 0.0, 0.0
    for d in ("remove", "add"):
        cd = _Dir(groups, d)
        if eps >= cd.loss_sup:
            info[f"chernoff_{d}"] = 0.0
            continue
        v = chernoff_delta_upper(cd, eps)
        info[f"chernoff_{d}"] = v
        hi = max(hi, v)
        try:
            s = _chernoff_s(cd, lambda s_: _psi_float(cd, s_) - s_ * eps)
            v = tilted_delta_lower(cd, eps, s)
        except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
            v = 0.0
        info[f"tilted_{d}"] = v
        lo = max(lo, v)
    sub = subcomposition_delta_lower(groups, eps)
    info["subcomposition"] = sub
    lo = min(max(lo, sub), hi)
    return lo, hi, info
