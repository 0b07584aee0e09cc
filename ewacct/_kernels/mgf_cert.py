"""A rigorous enclosure of G(w) = E[(1 + u(X))^w] for the Poisson-subsampled Gaussian (Numba).

``u(x) = q (exp(mu x - mu^2/2) - 1)``, ``X ~ N(0, 1)``, w complex.  :func:`sg_g_enclose_many` (and
:func:`sg_g_enclose`, one node) return ``(log G~, log r)`` with ``|G(w) - G~| <= r``.  The derivation
is in docs/certified.md, section 3; in short, the integral over the (shifted) line ``Im x = y`` is
split into

* the two tails outside ``[x_lo, x_hi]``: bounded in closed form (Mills' ratio, Jensen);
* panels where a rigorous bound of the integrand (interval arithmetic over a rectangle, functions
  :func:`_rect_q` and :func:`_rect_w`) times the panel width is below the panel's share of the
  tolerance: skipped, the bound added to ``r``;
* the other panels: Gauss-Legendre with the error bound for analytic integrands (Trefethen, ATAP
  Thm 19.3, any n: ``|I - I_n| <= (64/15) M rho^-2n / (rho^2 - 1)`` per unit half-width, ``M`` = max
  of ``|integrand|`` on the Bernstein ellipse ``E_rho``, itself bounded over a rectangle containing
  the ellipse; the least of the bounds of four ellipses).  On the whole panel the ellipses, hence
  ``M``, do not depend on n: each node takes the smallest n of RULE_N = 4, 6, ..., 16, 20, 24, 32
  whose bound meets the share (the rules of :mod:`.gl_tables`); where none does, the 16-point rule
  on 2, 4, ..., 256 sub-panels, refined until the bound meets the share;
* joint bound (where Re w = a >= 0 and a mu >= 8): over a rectangle, ``|phi (1+u)^w|`` is also
  bounded by maximising ``-t^2/2 + a lam(t)`` (``lam(t) = log(1 - q + q e^{mu t - mu^2/2}) >=
  log|1+u|``, convex, replaced by its chord: a concave quadratic, :func:`_joint`) instead of taking
  the two factors' maxima separately; for the f-form through ``|g| <= 2 max(|(1+u)^w|, 1 + |w||u|)``.
  The smaller of the two bounds is used (skip tests and Trefethen's M).  At a mu ~ 6,000 (the
  certified truncation's real nodes at q = 1e-3, sigma = 1) the separate maxima lose
  ``e^{a mu (t1 - t*)}`` and no refinement level met the share (radius e^1758 G(a), now 3e-6 G(a));
* floating-point rounding: a first-order budget in the standard model (every operation and libm
  function within 1 ulp), with a safety factor 64 (``ROUND``); see docs/certified.md for what this
  assumes.  It includes the conditioning of ``l = log(1 + u)`` formed from ``u``: the rounding of ``u``
  and of ``1 + u`` give ``l`` an absolute error ``<= 4 u kap``, ``kap = |u| / |1 + u|``, which moves the
  exponent ``w l`` by ``4 u |w| kap`` (for q near 1, ``|1 + u|`` can be as small as ``1 - q``: at
  q = 1 - 1e-6, mu = 5, w = 0.4 + 60i the error of G~ was 5x the radius before this term).

Validity: the rectangle bounds need ``mu |Im x| <= pi/2`` (then ``Re(1 + u) >= 1 - q > 0``, the
principal log is analytic and ``arg(1 + u)`` is monotone in ``Re x`` and ``Im x``); the shift and the
ellipse heights are chosen inside that strip.  ``q < 1``.

Batches (the certified contour asks for nodes ``w = c + 1 + i k h`` or ``-(c + i k h)``, one vertical
line per call).  Nodes with the same ``Re w`` and the same line height ``y`` share the panel layout
(``x_lo``, ``x_hi``, the panel width and count depend only on ``Re w``, ``mu`` and ``y``), and every
quantity that does not depend on w is computed once per batch:

* every rectangle bound splits into a w-independent part (:func:`_rect_q`: ranges of
  ``log|1+u|`` and ``arg(1+u)``, the bound ``um`` of ``|u|``; ~15 libm calls) and a cheap
  combination with w (:func:`_rect_wn`): ``a log|1+u| - b arg(1+u)`` is largest at an end of each
  range;
* at each Gauss-Legendre point of a panel at a refinement level used by some node: the loss
  ``l = log(1+u)``, ``log1p(u) - u``, ``log phi``, ``e^{i Im log phi}``, ``|u|``, ``|l|``,
  ``q e^{Re z}``, ``1/|1+u| = e^{-Re l}`` and the scale factor ``e^{Re log phi - P}``.

Each node still gets its own skip decisions, rule or refinement level, error parts and sum, in the
one-node order; the one quantity shared between nodes is ``e^{w l}`` in the f-form (below), so a
node's enclosure depends on its batch only through that value's rounding (radius within e^0.25 of
the one-node radius, tested).  Where the per-node work was re-derived, every step is an upper bound:

* chained ``e^{w l}`` (f-form, at the points where ``w l`` is outside ``_e2m``'s series and expm1
  box ``|Re|, |Im| < 0.5``): the nodes of a group at one panel and rule are taken in order; every
  ``CH_MAX``-th (8) gets a fresh ``cexp(w l)``, each other node the previous node's value times
  ``F = e^{i d l}``, ``d = Im w - Im w_prev`` (``F`` recomputed where d changes).  After j steps the
  value's relative error is, to first order, at most ``u (8 j + |l| sum |d|)``: each ``F`` within 6 u
  (cexp: exp, cos, sin and two products, each within 1 ulp) and each complex product within
  ``sqrt(5) u < 2.3 u``; the rounding of ``i d l`` moves the exponent by ``u |d l|``; the error of
  ``l`` itself enters ``w l`` as in the one-node formula.  The term's budget gets
  ``(8 j + |l| sum |d|) E`` more (E >= |e^{w l}|; times ROUND, as every first-order term).  Values
  outside [1e-290, 1e290] are dropped (the term's own cexp is used), so no chained value is ever
  subnormal;

* line height: below its cap ``min(0.3 pi / mu, 3)`` the height ``0.25 + 0.25 |Im w| mu`` is rounded
  down to a multiple of cap / 8 (any height of the right sign inside the strip is valid; this only
  makes nodes share lines);
* small-|u| rectangle bound, ``|w| >= 8``: ``log(|w| + 2 |w|^2 e^{2|w|um}) <= log(2 |w|^2) + 2 |w| um
  + 1/(2|w|)`` (``log(X + |w|) <= log X + |w|/X``); the generic bound's log1p only where it could be
  the smaller;
* ``e2(L) = e^L - 1 - L`` (:func:`_e2m`): Taylor for ``|L| < 0.02`` (rounding relative to ``|e2|``),
  else ``e^L - 1`` without cancellation minus ``L`` (rounding relative to ``|e^L - 1| + |L|``), as
  before; it also returns ``E >= |e^L|``;
* the sensitivity ``|f'(u)| = |w| |(1+u)^{w-1} - 1| <= |w| min(s1, s2)``: ``s2 = E / |1+u| + 1`` and,
  for ``x = |(w-1) l| < 0.5``, ``s1 = x (1 + 1.65 x) >= x e^x`` (no libm call per term);
* the term's scale ``e^{Re log phi - sc} = e^{Re log phi - P} e^{P - sc}`` (P: the largest
  ``Re log phi`` of the panel's points; the second factor once per node and panel, within
  [1e-250, 1e250], else the one-node formula): the split adds at most ``u (|Re log phi - P| + 3)``
  relative, budgeted 8-fold (``p_dl``) on top of the one-node budget.  The running scale ``sc`` is
  raised once per node and panel to the panel's largest term (its pieces are computed in a first
  pass), not term by term (~85 rescales of 4 libm calls each per node before); any scale is valid:
  terms lost to underflow against ``e^sc`` are each below ``2^-1074 e^sc``, budgeted;
* the direct-form retry (where the f-form's radius misses its tolerance by more than e^2.3) is not
  run where its radius is provably at least half the f-form's: its rounding part alone is
  ``>= ROUND (8 + 4 (y^2 + mu |w| (|y| + mu))) |G~_d|`` (:func:`_direct_cannot_win`).

Measured on the batches the certified contour requests (q = 0.01, sigma = 0.6421, T = 110..210;
a 200-segment history): 4.4-6.4x less CPU time than the one-node kernel, radii within
e^-3.7..e^+0.26 of its (the largest increase where the skipped retry would have won by 4 %).
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

from .gl_tables import RULE_N, RULE_W, RULE_X
from .mgf import _cexpm1, _log1p_minus, _loss

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
U_MACH = 2.0 ** -53
#: first-order rounding budget: unit roundoff times a safety factor 64 (docs/certified.md)
ROUND = 64.0 * 2.0 ** -53
LOG_GL = math.log(64.0 / 15.0)
#: the 16-point Gauss-Legendre rule on [-1, 1] (nodes and weights from a 40-digit Newton iteration in
#: mpmath, rounded to doubles: exact to 2^-53 relative, as the 8-point rule's _GX, _GW)
_GX16 = np.array([-0.9894009349916499, -0.9445750230732326, -0.8656312023878318, -0.755404408355003,
                  -0.6178762444026438, -0.45801677765722737, -0.2816035507792589, -0.09501250983763744,
                  0.09501250983763744, 0.2816035507792589, 0.45801677765722737, 0.6178762444026438,
                  0.755404408355003, 0.8656312023878318, 0.9445750230732326, 0.9894009349916499])
_GW16 = np.array([0.027152459411754096, 0.062253523938647894, 0.09515851168249279, 0.12462897125553388,
                  0.14959598881657674, 0.16915651939500254, 0.18260341504492358, 0.1894506104550685,
                  0.1894506104550685, 0.18260341504492358, 0.16915651939500254, 0.14959598881657674,
                  0.12462897125553388, 0.09515851168249279, 0.062253523938647894, 0.027152459411754096])
#: the cross-segment kernel's (mgf_cert_multi) refinement levels L = 0..L_MAX: the 8-point rule on the
#: whole panel (L = 0), then the 16-point rule on 1, 2, 4, ..., 256 sub-panels (L = 1..9)
L_MAX = 9
#: the one-node kernel's levels: 0..NR-1 the RULE_N[k]-point rule on the whole panel (4..32 points),
#: then NR..LV_MAX the 16-point rule on 2, 4, ..., 256 sub-panels (at most 4,096 points per panel)
NR = RULE_N.shape[0]
R16 = int(np.nonzero(RULE_N == 16)[0][0])  # RULE_N[R16] = 16
#: RULE_AT[n]: the first rule with at least n points (n <= RULE_N[-1])
RULE_AT = np.array([int(np.nonzero(RULE_N >= n)[0][0]) for n in range(int(RULE_N[-1]) + 1)], dtype=np.int64)
LV_MAX = NR + 7
assert RULE_N[R16] == 16
LOG2 = math.log(2.0)
#: the f-form's e^{w ell}: one fresh cexp per point every CH_MAX nodes, chained in between
CH_MAX = 8
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
def _rect_q(q: float, mu: float, logq: float, l1q: float, t0: float, t1: float, y0: float, y1: float,
            fform: bool):
    """The w-independent part of :func:`_rect_log_g` over the rectangle [t0, t1] x [y0, y1].

    Returns ``(llo, lhi, amin, amax, r1, um, l2um)``: bounds ``llo <= log|1+u| <= lhi`` and
    ``amin <= arg(1+u) <= amax``, ``r1 = mu t1 - mu^2/2``, ``um >= |u|`` and ``2 log um`` (f-form only).
    Needs mu max|y| <= pi/2; t0 may be -inf.
    """
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
    um = 0.0
    l2um = -math.inf
    if fform and not r1 > 300.0:
        # |u| <= q |e^z - 1|; |e^z - 1|^2 = rho^2 - 2 rho cos(th) + 1, largest at an end of the rho range
        rho1 = math.exp(r1)
        e1 = rho1 * rho1 - 2.0 * rho1 * cm + 1.0
        if r0 > -math.inf:
            rho0 = math.exp(r0)
            e0 = rho0 * rho0 - 2.0 * rho0 * cm + 1.0
        else:
            e0 = 1.0
        um = q * math.sqrt(max(e0, e1, 0.0)) * (1.0 + 1e-12)
        if um > 0.0:
            l2um = 2.0 * math.log(um)
    return llo, lhi, amin, amax, r1, um, l2um


@njit(cache=True)
def _rect_w(llo: float, lhi: float, amin: float, amax: float, r1: float, um: float, l2um: float,
            logq: float, w: complex, fform: bool) -> float:
    """log of an upper bound of |g| over a rectangle from its :func:`_rect_q` quantities.

    g = f_w(u) = (1+u)^w - 1 - w u (``fform``) or (1+u)^w.
    """
    a = w.real
    b = w.imag
    # |(1+u)^w| = exp(a log|1+u| - b arg(1+u)), each product largest at an end of its range
    re_wl = max(a * llo, a * lhi) + max(-b * amin, -b * amax)
    re_wl += 1e-12 * (abs(re_wl) + 1.0)  # margin for the rounding of this bound itself
    if not fform:
        return re_wl
    aw = abs(w)
    if r1 > 300.0:
        return max(re_wl, 0.0) + math.log(3.0) + max(0.0, math.log(aw + 1.0) + logq + r1)
    # generic: |f| <= |(1+u)^w| + 1 + |w| |u|
    gen = max(re_wl, math.log1p(aw * um)) + math.log(2.0)
    if um <= 0.5 and um > 0.0:
        # |log1p(u) - u| <= |u|^2, |log1p(u)| <= 2 |u|, |e2(s)| <= |s|^2 e^|s| / 2:
        # |f| <= |w| |u|^2 + 2 |w|^2 |u|^2 e^{2 |w| |u|}
        small = l2um + math.log(aw + 2.0 * aw * aw * math.exp(min(2.0 * aw * um, 700.0)))
        small += 1e-12 * (abs(small) + 1.0)
        return min(gen, small)
    return gen


@njit(cache=True)
def _node_consts(w: complex):
    """(|w|, c2, c3) for :func:`_rect_wn`: c2 = log(2 |w|^2) and c3 = 1 / (2 |w|) where |w| >= 8
    (else c3 = -1: the exact form is used)."""
    aw = abs(w)
    if aw >= 8.0:
        return aw, math.log(2.0 * aw * aw), 0.5 / aw
    return aw, 0.0, -1.0


@njit(cache=True)
def _rect_wn(llo: float, lhi: float, amin: float, amax: float, r1: float, um: float, l2um: float,
             logq: float, w: complex, aw: float, c2: float, c3: float, fform: bool) -> float:
    """:func:`_rect_w` with the node's constants from :func:`_node_consts` (an upper bound at
    least as large, by at most c3 = 1 / (2 |w|) in the log).

    For |w| >= 8 the small-|u| bound log(|w| + 2 |w|^2 e^{2 |w| |u|}) (+ 2 log |u|) is taken as
    log(2 |w|^2) + 2 |w| |u| + 1 / (2 |w|), since log(X + |w|) <= log X + |w| / X; and the generic
    bound (one log1p) is only evaluated where it could be the smaller, and where
    log1p(x) <= x / sqrt(1 + x) (x >= 0) shows it is re_wl + log 2 it is taken without the call.
    """
    if not fform or c3 < 0.0 or r1 > 300.0 or not (um <= 0.5 and um > 0.0):
        return _rect_w(llo, lhi, amin, amax, r1, um, l2um, logq, w, fform)
    a = w.real
    b = w.imag
    re_wl = max(a * llo, a * lhi) + max(-b * amin, -b * amax)
    re_wl += 1e-12 * (abs(re_wl) + 1.0)  # margin for the rounding of this bound itself
    small = l2um + c2 + 2.0 * aw * um + c3
    small += 1e-12 * (abs(small) + 1.0)
    if small <= re_wl + LOG2:
        return small  # gen >= re_wl + log 2
    x = aw * um
    if re_wl >= 0.0 and x * x <= re_wl * re_wl * (1.0 + x):
        # log1p(x) <= x / sqrt(1 + x) <= re_wl: gen = re_wl + log 2 (no log1p call)
        return re_wl + LOG2
    gen = max(re_wl, math.log1p(x)) + LOG2
    return min(gen, small)


@njit(cache=True)
def _rect_log_g(q: float, mu: float, logq: float, l1q: float, w: complex,
                t0: float, t1: float, y0: float, y1: float, fform: bool) -> float:
    """log of an upper bound of |g(x)| over the rectangle [t0, t1] x [y0, y1] (no Gaussian factor).

    g = f_w(u) = (1+u)^w - 1 - w u (``fform``) or (1+u)^w.  Needs mu max|y| <= pi/2; t0 may be -inf.
    """
    llo, lhi, amin, amax, r1, um, l2um = _rect_q(q, mu, logq, l1q, t0, t1, y0, y1, fform)
    return _rect_w(llo, lhi, amin, amax, r1, um, l2um, logq, w, fform)


@njit(cache=True)
def _joint(q: float, mu: float, logq: float, l1q: float, a: float, t0: float, t1: float,
           y0: float, y1: float) -> float:
    """For a >= 0: log of an upper bound of |phi(x)| |1+u(x)|^a over [t0, t1] x [y0, y1] (finite t0).

    |1+u| <= 1 - q + q e^{Re z} = e^{lam(t)}, t = Re x; lam is convex (a log-sum-exp of an affine
    function), so below its chord on [t0, t1]: lam(t) <= lam0 + s (t - t0).  Hence
    log|phi (1+u)^a| <= -t^2/2 + a lam0 + a s (t - t0) + max y^2/2 - log sqrt(2 pi), a concave
    quadratic in t, largest at t* = clamp(a s, t0, t1).  Unlike the product of the two factors'
    separate maxima it keeps the Gaussian's decay against (1+u)^a's growth (a mu = 6,000: the separate
    bound is e^{a mu (t1 - t*)} larger).  A margin 1e-12 (|terms| + 1) covers the rounding.
    """
    lam0 = _log_1mq_qe(mu * t0 - 0.5 * mu * mu, q, logq, l1q)
    lam1 = _log_1mq_qe(mu * t1 - 0.5 * mu * mu, q, logq, l1q)
    s = (lam1 - lam0) / (t1 - t0)
    ts = min(max(a * s, t0), t1)
    v = -0.5 * ts * ts + a * lam0 + a * s * (ts - t0)
    v += 0.5 * max(y0 * y0, y1 * y1) - LOG_SQRT_2PI
    return v + 1e-12 * (0.5 * ts * ts + abs(a * lam0) + abs(a * lam1) + abs(a * s * ts) + abs(a * s * t0)
                        + 0.5 * max(y0 * y0, y1 * y1) + 1.0)


@njit(cache=True)
def _joint_w(cur: float, J: float, amin: float, amax: float, lpm: float, um: float, r1: float,
             w: complex, aw: float, fform: bool) -> float:
    """min(cur, log of an upper bound of |phi g| over a rectangle from its :func:`_joint` value J)
    (a >= 0; cur: another such bound).

    |phi (1+u)^w| = |phi| |1+u|^a e^{-b arg(1+u)} <= e^{J + max(-b amin, -b amax)}; the direct form's
    g is that; the f-form's |g| <= |(1+u)^w| + 1 + |w||u| <= 2 max(|(1+u)^w|, 1 + |w| um), with
    |phi| <= e^lpm on the second (inf where um is not available, r1 > 300).
    """
    b = w.imag
    jr = J + max(-b * amin, -b * amax)
    jr += 1e-12 * (abs(jr) + 1.0)
    if not fform:
        return min(cur, jr)
    if r1 > 300.0 or jr + LOG2 >= cur:
        return cur  # (the f-form's bound is >= jr + log 2)
    return min(cur, LOG2 + max(jr, lpm + math.log1p(aw * um)))


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
           x_lo: float, x_hi: float, fform: bool, cut: bool = False) -> float:
    """log of a bound on the integral of |phi g| along Im x = y outside [x_lo, x_hi] (``cut``: the
    truncated integral of :func:`sg_g_enclose_cut`, which ends at x_hi: the left tail only)."""
    a = w.real
    aw = abs(w)
    ey = 0.5 * y * y  # |phi(x + iy)| = phi(x) e^{y^2/2}
    # left: sup |g| over (-inf, x_lo] times P(X < x_lo)
    left = _log_mills(-x_lo) + ey + _rect_log_g(q, mu, logq, l1q, w, -math.inf, x_lo, y, y, fform)
    if cut:
        return left
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


_INVFACT = np.array([1.0 / math.factorial(k) for k in range(18)])


@njit(cache=True)
def _cabs(z: complex) -> float:
    """|z| (sqrt of the sum of squares, within 2 ulp; hypot where the squares could overflow)."""
    x = abs(z.real)
    y = abs(z.imag)
    if x < 1e150 and y < 1e150:
        return math.sqrt(x * x + y * y)
    return abs(z)


@njit(cache=True)
def _e2m(L: complex, a2: float):
    """(e2(L), m, E): e2(L) = e^L - 1 - L, m the size its rounding is relative to, E >= |e^L|;
    a2 = |L|^2.

    |L| < 0.02: Taylor series (Horner) through L^9/9!: truncation < 1e-17 |e2|, rounding a few u
    |e2| (the terms decrease by |L|/k, |e2| >= 0.49 |L|^2), so m = |e2|; E = 1 + 1.65 |L|
    (e^|L| - 1 <= |L| e^0.5).  Beyond: e^L - 1 - L, with e^L - 1 formed without cancellation (as
    :func:`_cexpm1`, a few u relative), rounding relative to |e^L - 1| + |L|, E = |e^L - 1| + 1.  The caller's budget
    is 8 (m1 + m2) (1 + |L|) ROUND = 512 u (1 + |L|) (m1 + m2).
    """
    if a2 < 4e-4:
        p = complex(_INVFACT[9], 0.0)
        for k in range(8, 1, -1):
            p = p * L + _INVFACT[k]
        p = p * L * L
        return p, _cabs(p), 1.0 + 1.65 * math.sqrt(a2)
    x = L.real
    y = L.imag
    if abs(x) < 0.5 and abs(y) < 0.5:
        # e^L - 1 = (expm1(x) cos y - 2 sin^2(y/2)) + i e^x sin y, with cos y = 1 - 2 s^2,
        # sin y = 2 s c (s, c = sin, cos of y/2): no cancellation, three libm calls
        s = math.sin(0.5 * y)
        c = math.cos(0.5 * y)
        ex = math.expm1(x)
        em1 = complex(ex * (1.0 - 2.0 * s * s) - 2.0 * s * s, (ex + 1.0) * (2.0 * s * c))
    else:
        em1 = cmath.exp(L) - 1.0
    aem1 = _cabs(em1)
    return em1 - L, aem1 + math.sqrt(a2), aem1 + 1.0


@njit(cache=True)
def _shift(mu: float, b: float) -> float:
    """The height y of the integration line Im x = y for Im w = b (sign of b; mu |y| <= 0.3 pi).

    Below its cap the height is rounded down to a multiple of cap / 8, so that the nodes of a batch
    share few lines (and with them the panel layout and the w-independent work).
    """
    y = 0.0
    if abs(b) * mu > 1.0:
        ymax = min(0.3 * math.pi / mu, 3.0)
        y = 0.25 + 0.25 * abs(b) * mu
        if y >= ymax:
            y = ymax
        else:
            y = ymax * math.floor(8.0 * y / ymax) / 8.0
        if b < 0.0:
            y = -y
    return y


@njit(cache=True)
def _layout(q: float, mu: float, a: float, y: float, fform: bool, x_cut: float = math.inf):
    """(x_lo, x_hi, panel width, panel count, f-form kept) for Re w = a on the line Im x = y (x_hi =
    x_cut where that is finite: the truncated integral of :func:`sg_g_enclose_cut`)."""
    logq = math.log(q)
    l1q = math.log1p(-q)
    x_lo = X_LO
    if a < 0.0:
        # the left tail is bounded with |1+u|^a <= (1-q)^a: start the panels where the Gaussian mass
        # below them outweighs that factor (a = -1000, q = 0.5 needs x_lo ~ -39)
        x_lo = min(X_LO, -math.sqrt(2.0 * (a * l1q + 80.0)))
    x_hi = max(X_PAD, mu + X_PAD)
    if a > 0.0:
        x_hi = max(x_hi, a * mu + X_PAD)
    if x_cut < math.inf:
        x_hi = x_cut
    if fform and mu * x_hi - 0.5 * mu * mu + logq > 600.0:
        fform = False
    pw = min(1.0, 0.5 * (math.pi / mu - abs(y)))
    npan = int(math.ceil((x_hi - x_lo) / pw))
    pw = (x_hi - x_lo) / npan
    return x_lo, x_hi, pw, npan, fform


@njit(cache=True)
def _level_rule(lv: int):
    """(sub-panels, index into RULE_N) of refinement level lv: levels below NR are the whole panel with
    rule RULE_N[lv]; level NR + k is the 16-point rule on 2^(k+1) sub-panels."""
    if lv < NR:
        return 1, lv
    return 1 << (lv - NR + 1), R16


@njit(cache=True)
def _ellipse_boxes(q: float, mu: float, logq: float, l1q: float, a: float, use_jnt: bool, fform: bool,
                   cen: float, hw: float, y: float, fracs: np.ndarray, bmax: float, fphi: np.ndarray,
                   fq: np.ndarray, flr: np.ndarray, frho: np.ndarray, fjnt: np.ndarray) -> None:
    """The four Bernstein ellipses (heights fracs * bmax) of the (sub-)panel [cen - hw, cen + hw] on the
    line Im x = y: per ellipse f, the w-independent rectangle bounds of its bounding box (fphi: log max
    |phi|, fq: _rect_q's ranges, fjnt: the joint bound or inf), flr = log rho and frho = log(rho^2 - 1)
    (the caller scales flr by 2 n)."""
    for f in range(4):
        B = fracs[f] * bmax
        rat = B / hw
        rho = rat + math.sqrt(rat * rat + 1.0)
        A = 0.5 * hw * (rho + 1.0 / rho)
        fphi[f] = _log_phi_max(cen - A, cen + A, y - B, y + B)
        (fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5],
         fq[f, 6]) = _rect_q(q, mu, logq, l1q, cen - A, cen + A, y - B, y + B, fform)
        flr[f] = math.log(rho)
        frho[f] = math.log(rho * rho - 1.0)
        fjnt[f] = _joint(q, mu, logq, l1q, a, cen - A, cen + A, y - B, y + B) if use_jnt else math.inf


@njit(cache=True)
def _enclose_group(q: float, mu: float, w: np.ndarray, idx: np.ndarray, m: int, y: float,
                   log_tol: float, fform: bool, lg_out: np.ndarray, lr_out: np.ndarray,
                   ff_out: np.ndarray, cutv: np.ndarray) -> None:
    """Enclosures of G at the nodes w[idx[:m]], which share Re w and the line height y (none is 0).

    Every node gets exactly the computation of the one-node algorithm (docs/certified.md section 3:
    the same panels, skip decisions, Gauss-Legendre refinement levels and error parts, summed in
    the same order); what the batch shares is the work that does not depend on w: the rectangle
    quantities of every bound (:func:`_rect_q`) and the loss, Gaussian factor and rounding
    ingredients at every Gauss-Legendre point (evaluated once per panel and refinement level
    used by some node).  Writes lg_out, lr_out, ff_out (f-form used) at the nodes' indices.

    ``cutv`` = (x_cut, c0, c0 error, c1, c1 error): x_cut = inf for G itself; finite for the truncated
    G_cut(w) = E[(1 + u(X))^w; X <= x_cut] (:func:`sg_g_enclose_cut`: the panels end at x_cut, no right
    tail, y = 0; the f-form's constant part is 1 - c0 - w c1 instead of 1).
    """
    x_cut = cutv[0]
    cut = x_cut < math.inf
    logq = math.log(q)
    l1q = math.log1p(-q)
    a = w[idx[0]].real
    # the joint bound (_joint) where (1+u)^a's growth across a rectangle is large: a mu >= 8
    use_jnt = a >= 0.0 and a * mu >= 8.0
    bmax = min(0.5 * math.pi / mu - abs(y), 2.0)
    x_lo, x_hi, pw, npan, fform = _layout(q, mu, a, y, fform, x_cut)
    lpw = math.log(pw)
    share = log_tol - math.log(2.0 * npan + 2.0)
    # per node: logs of the error parts (tails, skipped panels, Gauss-Legendre, rounding), kept in log
    # space so that no part can underflow against another; the sum under a running scale e^sc
    parts = np.full((m, 4), -math.inf)
    # the skipped panels' and the Gauss-Legendre bounds, each <= e^share except at the last refinement
    # level, summed linearly in units of e^share (one exp per panel): a bound e^b enters as
    # e^{b - share}, or as 4.3e-18 >= e^-40 >= e^{b - share} below e^{share - 40} (no exp, no
    # underflow); those above e^{share + 600} in log space, parts[:, 1..2]
    lin = np.zeros((m, 2))
    sc = np.full(m, -math.inf)
    acc = np.zeros(m, dtype=np.complex128)
    mags = np.zeros(m)
    sabs = np.zeros(m)
    nterms = np.zeros(m, dtype=np.int64)
    n_aw = np.empty(m)
    n_c2 = np.empty(m)
    n_c3 = np.empty(m)
    n_aw1 = np.empty(m)
    for jj in range(m):
        parts[jj, 0] = _tails(q, mu, logq, l1q, w[idx[jj]], y, x_lo, x_hi, fform, cut)
        n_aw[jj], n_c2[jj], n_c3[jj] = _node_consts(w[idx[jj]])
        n_aw1[jj] = abs(w[idx[jj]] - 1.0)
    act = np.empty(m, dtype=np.int64)
    lev = np.empty(m, dtype=np.int64)
    und = np.empty(m, dtype=np.int64)
    lsub = np.empty((m, 512))
    # the ellipse rectangles of one sub-panel (4 heights)
    fq = np.empty((4, 7))
    fphi = np.empty(4)
    fcst = np.empty(4)
    frho = np.empty(4)
    fbase = np.empty(4)
    fjnt = np.empty(4)
    fracs = np.array([1.0, 0.5, 0.25, 0.1])
    # the Gauss-Legendre points of one panel at one level (at most 4,096: 16 x 256 sub-panels)
    npt = 8 * 512
    p_wt = np.empty(npt)
    p_lphi = np.empty(npt, dtype=np.complex128)
    p_ell = np.empty(npt, dtype=np.complex128)
    p_lm = np.empty(npt, dtype=np.complex128)
    p_eiphi = np.empty(npt, dtype=np.complex128)
    p_au = np.empty(npt)
    p_al = np.empty(npt)
    p_ez = np.empty(npt)
    p_xf = np.empty(npt)
    p_ax = np.empty(npt)
    p_ephi = np.empty(npt)
    p_i1u = np.empty(npt)
    p_dl = np.empty(npt)
    p_kap = np.empty(npt)
    p_eL = np.zeros(npt, dtype=np.complex128)
    p_F = np.empty(npt, dtype=np.complex128)
    t_f = np.empty(npt, dtype=np.complex128)
    t_mg = np.empty(npt)
    t_bm = np.empty(npt)
    t_bs = np.empty(npt)
    for i in range(npan):
        t0 = x_lo + i * pw
        # skip test: a rigorous bound of the panel's integral against the panel's share
        llo, lhi, amin, amax, r1, um, l2um = _rect_q(q, mu, logq, l1q, t0, t0 + pw, y, y, fform)
        lpm = _log_phi_max(t0, t0 + pw, y, y)
        jnt = _joint(q, mu, logq, l1q, a, t0, t0 + pw, y, y) if use_jnt else math.inf
        nact = 0
        for jj in range(m):
            lb = lpm + _rect_wn(llo, lhi, amin, amax, r1, um, l2um, logq, w[idx[jj]], n_aw[jj],
                                n_c2[jj], n_c3[jj], fform) + lpw
            if lb > share and jnt < math.inf:
                lb = _joint_w(lb - lpw, jnt, amin, amax, lpm, um, r1, w[idx[jj]], n_aw[jj], fform) + lpw
            if lb <= share:
                lin[jj, 0] += math.exp(lb - share) if lb - share > -40.0 else 4.3e-18
            else:
                act[nact] = jj
                nact += 1
        if nact == 0:
            continue
        # refinement, first on the whole panel: the ellipses (hence every node's M) do not depend on
        # the rule's n, so each node takes the smallest tabulated n (RULE_N) whose Trefethen bound
        # meets the share; where none does, the 16-point rule on 2, 4, ..., 256 sub-panels (levels
        # NR.., raised until the bound meets the share, or LV_MAX)
        hw = 0.5 * pw
        lhw = math.log(hw)
        cen = t0 + hw
        _ellipse_boxes(q, mu, logq, l1q, a, use_jnt, fform, cen, hw, y, fracs, bmax, fphi, fq, fcst, frho, fjnt)
        for f in range(4):
            fcst[f] = 2.0 * fcst[f]
        nund = 0
        for k in range(nact):
            jj = act[k]
            wj = w[idx[jj]]
            for f in range(4):
                lm = fphi[f] + _rect_wn(fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5], fq[f, 6],
                                        logq, wj, n_aw[jj], n_c2[jj], n_c3[jj], fform)
                if fjnt[f] < math.inf:
                    lm = _joint_w(lm, fjnt[f], fq[f, 2], fq[f, 3], fphi[f], fq[f, 5], fq[f, 4], wj,
                                  n_aw[jj], fform)
                fbase[f] = LOG_GL + lm + lhw - frho[f]
            got = False
            # the least n any ellipse needs (fbase - n fcst <= share), then the first rule with at least
            # that many points; its bound is checked as computed (the next rules where rounding fails it)
            nmin = math.inf
            for f in range(4):
                nmin = min(nmin, (fbase[f] - share) / fcst[f])
            r0 = NR
            if nmin <= float(RULE_N[NR - 1]):
                r0 = RULE_AT[max(0, int(math.ceil(nmin)))] if nmin > 0.0 else 0
            for r in range(r0, NR):
                nr_ = float(RULE_N[r])
                best = math.inf
                for f in range(4):
                    best = min(best, fbase[f] - nr_ * fcst[f])
                if best <= share:
                    lev[jj] = r
                    lin[jj, 1] += math.exp(best - share) if best - share > -40.0 else 4.3e-18
                    got = True
                    break
            if not got:
                und[nund] = jj
                nund += 1
        L = NR
        while nund > 0:
            nsub = 1 << (L - NR + 1)
            twon = 32.0  # 2 n: the bound's rho^(-2n)
            hw = 0.5 * pw / nsub
            lhw = math.log(hw)
            for s in range(nsub):
                cen = t0 + (2 * s + 1) * hw
                # (the truncated form, on Im x = 0 without the shift's damping: ellipse heights up to 8
                # half-widths of the sub-panel, so that e^{|Im w| |arg(1+u)|} stays bounded on them at
                # large |Im w| -- any ellipse inside the strip is valid)
                _ellipse_boxes(q, mu, logq, l1q, a, use_jnt, fform, cen, hw, y, fracs,
                               min(bmax, 8.0 * hw) if cut else bmax, fphi, fq, fcst, frho,
                               fjnt)
                for f in range(4):
                    fcst[f] = twon * fcst[f]
                for k in range(nund):
                    jj = und[k]
                    wj = w[idx[jj]]
                    best = math.inf
                    for f in range(4):
                        lm = fphi[f] + _rect_wn(fq[f, 0], fq[f, 1], fq[f, 2], fq[f, 3], fq[f, 4], fq[f, 5],
                                                fq[f, 6], logq, wj, n_aw[jj], n_c2[jj], n_c3[jj], fform)
                        if fjnt[f] < math.inf:
                            lm = _joint_w(lm, fjnt[f], fq[f, 2], fq[f, 3], fphi[f], fq[f, 5], fq[f, 4],
                                          wj, n_aw[jj], fform)
                        le = LOG_GL + lm + lhw - fcst[f] - frho[f]
                        best = min(best, le)
                    lsub[jj, s] = best
            nkeep = 0
            for k in range(nund):
                jj = und[k]
                mx = -math.inf
                for k2 in range(nsub):
                    mx = max(mx, lsub[jj, k2])
                sm_ = 0.0
                for k2 in range(nsub):
                    sm_ += math.exp(lsub[jj, k2] - mx)
                tot = mx + math.log(sm_)
                if tot <= share or L >= LV_MAX:
                    lev[jj] = L
                    if tot - share <= 600.0:
                        lin[jj, 1] += math.exp(max(tot - share, -600.0))
                    else:
                        parts[jj, 2] = _lae(parts[jj, 2], tot)
                else:
                    und[nkeep] = jj
                    nkeep += 1
            nund = nkeep
            L += 1
        # evaluation, one refinement level at a time: the w-independent values once per point
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
            hw = 0.5 * pw / nsub
            np_ = npt * nsub
            for s in range(nsub):
                cen = t0 + (2 * s + 1) * hw
                for kk in range(npt):
                    p = npt * s + kk
                    xc = complex(cen + hw * RULE_X[rr, kk], y)
                    p_wt[p] = hw * RULE_W[rr, kk]
                    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
                    p_lphi[p] = lphi
                    ell, u, lu = _loss(xc, q, mu, logq)
                    p_ell[p] = ell
                    # ell = log(1 + u) formed from u (|u| q |e^z| <= 1): its absolute error carries
                    # u's and 1 + u's rounding, 4 u |u| / |1 + u| (kap; 0 where _loss took the
                    # log-space form, which has no cancellation)
                    p_kap[p] = abs(u) * math.exp(-ell.real) if u != 0.0j else 0.0
                    if fform:
                        z = mu * xc - 0.5 * mu * mu
                        if u == 0.0j and lu > -745.0:
                            u = q * _cexpm1(z)
                        p_lm[p] = _log1p_minus(u, ell)
                        p_eiphi[p] = cmath.exp(complex(0.0, lphi.imag))
                        p_au[p] = abs(u)
                        p_al[p] = abs(ell)
                        p_ez[p] = math.exp(min(z.real, 700.0))
                        p_xf[p] = mu * abs(xc.real) + mu * mu
                        p_i1u[p] = math.exp(-ell.real)
                    else:
                        p_ax[p] = abs(xc)
            P = -math.inf
            for p in range(np_):
                P = max(P, p_lphi[p].real)
            for p in range(np_):
                dl = p_lphi[p].real - P
                p_ephi[p] = math.exp(dl)
                p_dl[p] = (abs(dl) + 3.0) / 8.0  # x ROUND = 8 u (|dl| + 3)
            ch_n = -1  # steps since the last fresh e^{w ell} (-1: none yet at this panel and level)
            ch_b = 0.0
            ch_d = math.nan
            ch_ds = 0.0
            for k in range(nact):
                jj = act[k]
                if lev[jj] != lv:
                    continue
                wj = w[idx[jj]]
                aw = n_aw[jj]
                aw1 = n_aw1[jj]
                if fform:
                    # e^{w ell} at every point where |w ell| is past _e2m's series and expm1 ranges:
                    # fresh (cexp) every CH_MAX-th node, else the previous node's value times
                    # e^{i d ell}, d = Im w - Im w_prev (nodes of a group share Re w); values
                    # outside [1e-290, 1e290] (never subnormal) are dropped (0: the term's own cexp)
                    if ch_n >= 0 and ch_n < CH_MAX - 1:
                        d = wj.imag - ch_b
                        if not d == ch_d:
                            ch_d = d
                            for p in range(np_):
                                p_F[p] = cmath.exp(complex(0.0, d) * p_ell[p])
                        for p in range(np_):
                            v = p_eL[p]
                            if v != 0.0j:
                                v = v * p_F[p]
                                mv = max(abs(v.real), abs(v.imag))
                                p_eL[p] = v if (mv > 1e-290 and mv < 1e290) else 0.0j
                        ch_n += 1
                        ch_ds += abs(d)
                    else:
                        for p in range(np_):
                            L = wj * p_ell[p]
                            v = 0.0j
                            if not (abs(L.real) < 0.5 and abs(L.imag) < 0.5):
                                v = cmath.exp(L)
                                mv = max(abs(v.real), abs(v.imag))
                                if not (mv > 1e-290 and mv < 1e290):
                                    v = 0.0j
                            p_eL[p] = v
                        ch_n = 0
                        ch_ds = 0.0
                    ch_b = wj.imag
                s_c = sc[jj]
                s_acc = acc[jj]
                s_mags = mags[jj]
                s_sabs = sabs[jj]
                g = math.exp(P - s_c)
                if fform:
                    # pass 1: the terms' pieces, and the largest e^{Re log phi - P} |term| (Mx)
                    Mx = 0.0
                    for p in range(np_):
                        ell = p_ell[p]
                        wl = wj * ell
                        p1 = wj * p_lm[p]
                        awl2 = wl.real * wl.real + wl.imag * wl.imag
                        ev = p_eL[p]
                        if ch_n > 0 and ev != 0.0j and not (abs(wl.real) < 0.5 and abs(wl.imag) < 0.5):
                            # _e2m's last branch with the chained e^{w ell}: after ch_n steps its
                            # relative error is <= u ch_n 8 (each factor e^{i d ell} and product
                            # within 8 u) + u |ell| sum |d| (the rounding of each i d ell)
                            em1 = ev - 1.0
                            aem1 = _cabs(em1)
                            p2 = em1 - wl
                            m2 = aem1 + math.sqrt(awl2)
                            E = aem1 + 1.0
                            chx = (8.0 * ch_n + ch_ds * p_al[p]) * E
                        else:
                            p2, m2, E = _e2m(wl, awl2)
                            chx = 0.0
                        ap1 = _cabs(p1)
                        mag = ap1 + _cabs(p2) + 1e-300
                        # rounding: each piece relative to its own size where it is a series, else to
                        # the sizes of the two quantities subtracted (m2, from _e2m); plus the
                        # sensitivity of f to the evaluation point, |f'(u)| q |e^z| with
                        # |f'(u)| = |w| |(1+u)^(w-1) - 1| <= |w| min(s1, s2),
                        # s1 = |(w-1) l| e^{|(w-1) l|}, s2 = |e^{w l}| / |1+u| + 1
                        au = p_au[p]
                        al = p_al[p]
                        awl = math.sqrt(awl2)
                        m1 = ap1 if au < 0.01 else aw * (al + au)
                        sm = E * p_i1u[p] + 1.0
                        xa = aw1 * al
                        if xa < 0.5:
                            sm = min(sm, xa * (1.0 + 1.65 * xa))  # x e^x <= x (1 + 1.65 x), x < 0.5
                        sens = aw * sm * q * p_ez[p]
                        # z = mu x - mu^2/2 carries an absolute error <= 2 u (mu |x| + mu^2): a shift
                        # of the evaluation point, |d f / d z| = sens; ell's relative error moves
                        # w ell by u |w ell|; the split scale adds <= u |Re log phi - P| + 3 u
                        # relative (p_dl, taken 8x)
                        # ell's absolute error 4 u kap moves p1 + p2 = (1+u)^w - 1 - w u by
                        # |w e^{w ell}| 4 u kap <= 4 u |w| kap E
                        t_f[p] = p1 + p2
                        t_mg[p] = mag
                        # (where |u| < 0.01, p1 = w (log1p(u) - u) comes from the series in u, not from
                        # ell: ell's error moves only p2 = e^{w ell} - 1 - w ell, by |w (e^{w ell} - 1)|
                        # <= |w| (E - 1) times it; u's own rounding (<= 3 u |u|) moves f by |f'(u)| 3 u |u|
                        # <= |w| sm 3 u |u|.  Elsewhere p1 = w (ell - u) moves with ell too: |w e^{w ell}|
                        # <= |w| E)
                        kapt = (aw * (p_kap[p] * (E - 1.0) + sm * au) if au < 0.01 else aw * p_kap[p] * E)
                        t_bm[p] = ((m1 + m2) * (8.0 * (1.0 + awl) + p_dl[p]) + 2.0 * sens * p_xf[p]
                                   + 4.0 * kapt + chx)
                        t_bs[p] = m1 + m2
                        Mx = max(Mx, mag * p_ephi[p])
                    # one scale for the node's panel, e^{P} Mx >= every term (the per-term rescale
                    # below then only where rounding puts a term a hair above e^sc)
                    if Mx > 0.0 and Mx < 1e300:
                        s_c, s_acc, s_mags, s_sabs = _rescale(P + math.log(Mx) + 1e-12 * (1.0 + abs(P)),
                                                              s_c, s_acc, s_mags, s_sabs)
                        g = math.exp(P - s_c)
                    # pass 2: the sums under the scale e^sc
                    for p in range(np_):
                        mag = t_mg[p]
                        # the term's scale e^{Re log phi - sc} = e^{Re log phi - P} e^{P - sc}, the
                        # first factor shared by the batch; where the term would exceed e^sc (or the
                        # second factor leaves [1e-250, 1e250]) the one-node path: rescale, then
                        # e^{Re log phi - sc} directly
                        pe = p_ephi[p] * g
                        if not (g < 1e250 and g > 1e-250 and mag * pe <= 1.0):
                            key = p_lphi[p].real + math.log(mag)
                            s_c, s_acc, s_mags, s_sabs = _rescale(key, s_c, s_acc, s_mags, s_sabs)
                            g = math.exp(P - s_c)
                            pe = math.exp(p_lphi[p].real - s_c)
                        pre = p_wt[p] * pe
                        s_acc += pre * p_eiphi[p] * t_f[p]
                        s_mags += pre * t_bm[p]
                        s_sabs += pre * t_bs[p]
                else:
                    # one scale for the node's panel first (the largest term's log-magnitude), then
                    # the per-term rescale only where rounding puts a term above it
                    kmx = -math.inf
                    for p in range(np_):
                        kmx = max(kmx, p_lphi[p].real + (wj * p_ell[p]).real)
                    if kmx < math.inf:
                        s_c, s_acc, s_mags, s_sabs = _rescale(kmx, s_c, s_acc, s_mags, s_sabs)
                    for p in range(np_):
                        wt = p_wt[p]
                        lphi = p_lphi[p]
                        ell = p_ell[p]
                        key = lphi.real + (wj * ell).real
                        s_c, s_acc, s_mags, s_sabs = _rescale(key, s_c, s_acc, s_mags, s_sabs)
                        t = wt * cmath.exp(lphi + wj * ell - s_c)
                        s_acc += t
                        # exp of an exponent with absolute error
                        # <= 4 u (|w ell| + |x|^2 + mu |w| (|x| + mu) + |w| kap)
                        ax = p_ax[p]
                        s_mags += abs(t) * (8.0 + 4.0 * (abs(wj * ell) + ax ** 2 + mu * aw * (ax + mu)
                                                         + aw * p_kap[p]))
                        s_sabs += abs(t)
                sc[jj] = s_c
                acc[jj] = s_acc
                mags[jj] = s_mags
                sabs[jj] = s_sabs
                nterms[jj] += np_
    for jj in range(m):
        j = idx[jj]
        n_t = nterms[jj]
        if n_t > 0:
            # rounding, and the terms that underflowed against e^sc (each below 2^-1074 e^sc)
            rnd = ROUND * mags[jj] + (n_t + 8) * U_MACH * sabs[jj] + n_t * 5e-324
            parts[jj, 3] = sc[jj] + math.log(rnd) if rnd > 0.0 else -math.inf
        for k in range(2):
            if lin[jj, k] > 0.0:
                # the linear sum's rounding (< 1e-12 relative) is covered by the 1e-10 below
                parts[jj, 1 + k] = _lae(parts[jj, 1 + k], share + math.log(lin[jj, k]))
        lerr = -math.inf
        for k in range(4):
            lerr = _lae(lerr, parts[jj, k])
        if not (lerr == lerr):  # NaN: no enclosure
            lerr = math.inf
        lerr += 1e-10
        ff_out[j] = fform
        lr_out[j] = lerr
        if fform:
            F = acc[jj] * math.exp(sc[jj]) if n_t > 0 else 0.0j  # G~ = 1 + F~; sc is small here
            if cut and abs(F) < math.inf:
                # G_cut = P(X <= x_cut) + w E[u; X <= x_cut] + int f_w = 1 - c0 - w c1 + F: the
                # constants' enclosure errors, and the rounding of the product and the two differences
                # (each within a few u of the sizes involved; budgeted as ROUND, as every first-order term)
                wj = w[j]
                awj = abs(wj)
                extra = cutv[2] + awj * cutv[4] + ROUND * (abs(F) + cutv[1] + awj * cutv[3])
                F = F - cutv[1] - wj * cutv[3]
                if extra > 0.0:
                    lerr = _lae(lerr, math.log(extra))
                    lr_out[j] = lerr
            if not (abs(F) < math.inf):
                lg_out[j] = complex(math.nan, 0.0)
                lr_out[j] = math.inf
            else:
                lg_out[j] = cmath.log(1.0 + F) if abs(F) >= 0.5 else _clog1p_local(F)
        elif acc[jj] == 0.0:
            lg_out[j] = complex(-math.inf, 0.0)
        else:
            lg_out[j] = sc[jj] + cmath.log(acc[jj])


@njit(cache=True)
def _clog1p_local(u: complex) -> complex:
    a = u.real
    b = u.imag
    return complex(0.5 * math.log1p(2.0 * a + a * a + b * b), math.atan2(b, 1.0 + a))


#: nodes per shared batch (bounds the work arrays: 512 x this many floats)
_CHUNK = 256


@njit(cache=True)
def _enclose_sel(q: float, mu: float, w: np.ndarray, sel: np.ndarray, log_tol: float, fform: bool,
                 lg: np.ndarray, lr: np.ndarray, ff: np.ndarray, cutv: np.ndarray) -> None:
    """Enclosures at the nodes w[sel], in groups sharing Re w and the line height (chunks of _CHUNK).
    ``cutv``: :func:`_enclose_group`'s (x_cut = inf: G itself; finite: the truncated G, on Im x = 0)."""
    ns = sel.shape[0]
    ys = np.empty(ns)
    for k in range(ns):
        ys[k] = _shift(mu, w[sel[k]].imag) if cutv[0] == math.inf else 0.0
    done = np.zeros(ns, dtype=np.bool_)
    idx = np.empty(_CHUNK, dtype=np.int64)
    for k in range(ns):
        if done[k]:
            continue
        a = w[sel[k]].real
        y = ys[k]
        done[k] = True
        idx[0] = sel[k]
        m = 1  # the node itself (also where Re w or y is NaN and compares unequal to itself)
        if m == _CHUNK:
            _enclose_group(q, mu, w, idx, m, y, log_tol, fform, lg, lr, ff, cutv)
            m = 0
        for k2 in range(k + 1, ns):
            if not done[k2] and w[sel[k2]].real == a and ys[k2] == y:
                done[k2] = True
                idx[m] = sel[k2]
                m += 1
                if m == _CHUNK:
                    _enclose_group(q, mu, w, idx, m, y, log_tol, fform, lg, lr, ff, cutv)
                    m = 0
        if m > 0:
            _enclose_group(q, mu, w, idx, m, y, log_tol, fform, lg, lr, ff, cutv)


_NOCUT = np.array([math.inf, 0.0, 0.0, 0.0, 0.0])


@njit(cache=True)
def sg_g_enclose_many(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool):
    """(log G~, log r) at every w[i]: |G(w[i]) - G~| <= r (:func:`_enclose_many`)."""
    return _enclose_many(q, mu, w, log_tol, fform, _NOCUT)


@njit(cache=True)
def sg_g_enclose_cut(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool, cutv: np.ndarray):
    """(log G~, log r) with |G_cut(w[i]) - G~| <= r, G_cut(w) = E[(1 + u(X))^w; X <= x_cut], X ~ N(0, 1):
    the integral over (-inf, x_cut] on the real line (no shift: a shifted line would need the vertical
    segment at x_cut), the panels of section 3 up to x_cut and the left tail; in the f-form
    G_cut = 1 - c0 - w c1 + int_{-inf}^{x_cut} phi f_w(u), c0 = P(X > x_cut), c1 = q (P(X > x_cut - mu) -
    P(X > x_cut)) (E[u; X <= x_cut] = -c1).  cutv = (x_cut, c0~, |c0 - c0~| bound, c1~, |c1 - c1~|
    bound) -- the constants enclosed by the caller (Arb).  docs/certified.md section 8."""
    return _enclose_many(q, mu, w, log_tol, fform, cutv)


@njit(cache=True)
def _enclose_many(q: float, mu: float, w: np.ndarray, log_tol: float, fform: bool, cutv: np.ndarray):
    """(log G~, log r) at every w[i]: |G(w[i]) - G~| <= r, aiming at r <= exp(log_tol).

    ``fform``: compute G - 1 = E[f_w(u)] (no cancellation where G is near 1); otherwise G directly
    (log-scaled).  The f-form is abandoned where q e^{mu x - mu^2/2} would overflow in range, and
    where its radius misses the tolerance by more than 10x the direct form is computed too and the
    smaller radius kept (the f-form's rectangle bounds can be far too loose: mu = 20, r ~ e^244 where
    the direct form gives e^-25) -- unless the direct form's radius is provably at least half the
    f-form's (:func:`_direct_cannot_win`: its rounding budget alone is that large).
    """
    n = w.shape[0]
    lg = np.empty(n, dtype=np.complex128)
    lr = np.empty(n)
    ff = np.zeros(n, dtype=np.bool_)
    sel = np.empty(n, dtype=np.int64)
    ns = 0
    for i in range(n):
        if w[i] == 0.0:
            lg[i] = 0.0j
            lr[i] = -math.inf
        else:
            sel[ns] = i
            ns += 1
    _enclose_sel(q, mu, w, sel[:ns], log_tol, fform, lg, lr, ff, cutv)
    if not fform:
        return lg, lr
    # the direct-form retry where the f-form missed its tolerance by more than e^2.3
    redo = np.empty(ns, dtype=np.int64)
    nr = 0
    for k in range(ns):
        i = sel[k]
        if ff[i] and not lr[i] <= log_tol + 2.3:
            if cutv[0] == math.inf and lr[i] == lr[i] and _direct_cannot_win(mu, w[i], lg[i], lr[i]):
                continue
            redo[nr] = i
            nr += 1
    if nr > 0:
        lg2 = np.empty(n, dtype=np.complex128)
        lr2 = np.empty(n)
        ff2 = np.zeros(n, dtype=np.bool_)
        _enclose_sel(q, mu, w, redo[:nr], log_tol, False, lg2, lr2, ff2, cutv)
        for k in range(nr):
            i = redo[k]
            if lr2[i] < lr[i] or not lr[i] == lr[i]:
                lg[i] = lg2[i]
                lr[i] = lr2[i]
    return lg, lr


@njit(cache=True)
def _direct_cannot_win(mu: float, w: complex, lg: complex, lr: float) -> bool:
    """True where the direct form's radius r_d is provably >= r / 2, r = e^lr the f-form's radius:
    the direct-form retry could at best halve the radius, and is not run.

    The direct form's rounding part alone is >= ROUND c Sum|t| e^sc with
    c = 8 + 4 (y^2 + mu |w| (|y| + mu)): every term's weight is
    8 + 4 (|w l| + |x|^2 + mu |w| (|x| + mu) + |w| kap) >= c
    and |x| >= |y| on the line Im x = y; and Sum|t| e^sc >= |G~_d|.  If r_d < r, then
    |G~_d| >= |G| - r_d > |G~| - 2 r, so r_d > ROUND c (|G~| - 2 r).  Hence
    ROUND c (|G~| - 2 r) >= r / 2 implies r_d >= r / 2.  (Margins 1e-6 cover this test's rounding.)
    """
    g = math.exp(lg.real)
    r = math.exp(lr)
    d = g - 2.0 * r
    if not (d > 0.0) or not (r < math.inf):
        return False
    y = abs(_shift(mu, w.imag))
    c = ROUND * (8.0 + 4.0 * (y * y + mu * abs(w) * (y + mu)))
    return c * d * (1.0 - 1e-6) >= 0.5 * r * (1.0 + 1e-6)


@njit(cache=True)
def sg_g_enclose(q: float, mu: float, w: complex, log_tol: float, fform: bool):
    """(log G~, log r, f-form used) at one w: :func:`sg_g_enclose_many` at a one-node batch."""
    n = 1
    wa = np.empty(n, dtype=np.complex128)
    wa[0] = w
    if w == 0.0:
        return 0.0j, -math.inf, fform
    lg = np.empty(n, dtype=np.complex128)
    lr = np.empty(n)
    ff = np.zeros(n, dtype=np.bool_)
    sel = np.zeros(n, dtype=np.int64)
    _enclose_sel(q, mu, wa, sel, log_tol, fform, lg, lr, ff, _NOCUT)
    if ff[0] and not lr[0] <= log_tol + 2.3:
        if not (lr[0] == lr[0] and _direct_cannot_win(mu, w, lg[0], lr[0])):
            lg2 = np.empty(n, dtype=np.complex128)
            lr2 = np.empty(n)
            ff2 = np.zeros(n, dtype=np.bool_)
            _enclose_sel(q, mu, wa, sel, log_tol, False, lg2, lr2, ff2, _NOCUT)
            if lr2[0] < lr[0] or not lr[0] == lr[0]:
                return lg2[0], lr2[0], ff2[0]
    return lg[0], lr[0], ff[0]
