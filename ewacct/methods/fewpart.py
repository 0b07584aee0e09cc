"""Exact delta(eps) and eps(delta) of Poisson-subsampled Gaussian compositions with few participations.

The corner: sampling rate q, T >= 4 steps, q T <~ 0.3.  The per-step privacy loss is then a near-atom
of width ~ q (a log-normal-like law, l ~ q (e^{mu x - mu^2/2} - 1) for X ~ N(0, 1) or N(mu, 1)) plus
a tail, and delta(eps) is the upper tail of a sum of T log-normal-like variables.  Two things defeat
the trapezoidal contour integral of ``contour.py`` there:

1. the far mode.  For real z above ~ 2 log(1/q) / mu^2 the MGF E[e^{z l}] is dominated by x ~ z mu,
   where l ~ mu x + log q: K(z) there says nothing about the loss near eps, the rigorous Chernoff
   bounds that fix the trapezoid's alias period become useless, and a saddle-point abscissa in that
   range turns the node sum into a cancellation of astronomically large terms;
2. the near-atom.  |E[e^{(c + iu) l}]|^T decays only once u ~ 1/q, while the alias period must
   cover the O(1) spread of the tail: a uniform rule needs ~ (1/q) / h nodes.

What this module does instead (docs/math.md section 4b, "few participations"):

* Truncation (REMOVE only).  With x0 such that T P(X > x0) is below the error budget, split each
  step's upper measure P at x0.  The truncated composition (every step's X <= x0) is a positive
  measure of mass <= 1, and

      delta_A(eps) <= delta(eps) <= delta_A(eps) + P(some X_i > x0) <= delta_A(eps) + sum_g n_g P(X_g > x0),

  because the payoff (1 - e^{eps - L})_+ lies in [0, 1].  delta_A is the same contour integral with
  K_A(z) = sum_g n_g log E_P[e^{z l}; X <= x0], an entire function without the far mode.  The
  ADD direction's loss is bounded above (by -log(1 - q)): it needs no truncation.
* Quadrature along z = c + iu, u in [0, inf), by adaptive Gauss-Kronrod (7-15) panels in u, started
  on a geometric panel ladder: the integrand is smooth at every scale (at large u only the near-atom
  survives, and it oscillates slowly), so the rule spends nodes where the integrand varies, not
  uniformly over the ~1/q range.  The error estimate is the sum of the panels' |K15 - G7| (a
  conservative estimate, not a bound), plus the truncation bound above, plus a floating-point budget.
* c: the saddle point of K_A(c) - c eps - log c - log(c + 1).  The near-atom dominates the integrand
  at large u with a weight ~ e^{-c eps} against delta, so the node sum cancels by about
  e^{Phi(c)} / delta: the abscissa matters.  When the truncation edge would limit it (its tilted
  weight phi(x0) e^{(c + 1) l(x0)} must stay below e^{-28}, else its 1/u tail needs a huge u-range),
  the truncation point is pushed out instead (its error bound only shrinks) and the saddle re-taken
  on the less truncated K, where the far mode now weighs in; only beyond 12 more units of x is c
  capped by the edge.
* The log-MGF of the truncated step at complex w is a Numba quadrature on a horizontal line
  x + iy shifted into the loss's analyticity strip (damping the oscillation of e^{iu l}), closed by a
  vertical segment at x0 (REMOVE), in the cancellation-free f-form of ``ewacct._kernels.mgf`` with the
  truncated moments E[1; X <= x0] and E[u; X <= x0] in closed form.  The path's points are cached
  per contour and an oscillating panel gets one Gauss-Legendre rule of enough points
  (``ewacct._kernels.fewpart_path``): thousands of nodes on one path cost one complex exponential
  per active point.
* eps(delta): safeguarded Newton on log delta from eps = 0 (delta(0) = TV; the iterates then stay
  where delta >= target, where the node sum cancels least), all iterates on one contour whose
  panels and u-range are re-checked and refined for each eps; the contour is rebuilt at the final
  eps (its own saddle) only when its error estimate there misses the tolerance.  Below sigma =
  ``START_GUESS_SIGMA`` (0.3) the search starts instead at the saddle-point estimate of the root
  (:meth:`_Direction.start_guess`, one kernel call on a real grid), on the contour of the shifted
  loss where that estimate is far above the loss's infimum (and below ``SHIFT_SIGMA``): from eps = 0 the iterates crossed
  delta's flat start (delta ~ TV up to eps ~ mu^2 / 2) on a contour whose abscissa suits eps = 0 and
  refined it to the node budget (sigma = 0.05, q = 0.05, T = 10, delta = 1e-9: 29 evaluations,
  2.8 s; now 5, 0.26 s).  Where cancellation
  puts the floating-point budget above the 1e-8 target, it is accepted up to what keeps the
  estimate on eps below ``EPS_ACCEPT`` = 1e-6 (and carried in the reported estimate); beyond that,
  or beyond ``MAX_NODES``, the query raises :class:`FewPartError`.  Where the strict evaluation at the
  root spends the node budget on the unshifted contour (REMOVE, eps >= SHIFT_RATIO |s|), the search moves
  to the shifted loss's contour instead of refusing (unshifted, e^K keeps the phase e^{iu s} out to
  u >> 1/q; defect D1 of 666f31d: q = 2.9e-5, sigma = 0.333, T = 4, delta = 1.16e-6 was refused, now
  0.8655328388 in ~0.9 s).
* ADD (with ``direction="both"``): delta_ADD(eps_REMOVE) is settled without a contour when eps_REMOVE
  is beyond ADD's loss bound sum n log(1/(1-q)) (delta_ADD = 0) or ADD's Chernoff bound (rigorous:
  ADD is not truncated) is already below the target; otherwise ADD is solved as REMOVE.

* Filon panels and the atom removed (:meth:`Panels.sums`): each panel takes the better of plain
  Gauss-Kronrod on F and a Filon rule that integrates e^{-iu eps} exactly (``fewpart_filon``), and
  for eps > 0 with 1 <= c eps the near-atom's plateau is removed (e^K -> e^K - 1 on a prefix of the
  u-range, the rest of the -1 added back in closed form), the abscissa then being the saddle of the
  atom-free integrand.  The kernel reports its own rounding error (from the integrand's L1 norm).
  A rule's |K15 - G7| is taken as its error estimate only where its integrand (F for the plain rule,
  h for Filon) is resolved by the 15 nodes (every phase step between neighbours <= ``RES_PHASE`` =
  pi/3, :func:`_resolved`); a panel where neither is gets at least its L1 norm as estimate, and is
  split where that matters.  Where h is not resolved, the Filon rule is also tried at frequency
  eps - s on h e^{-iu s} (s: the near-atom's position, ``Composition.atom_phase``; the same integral):
  unshifted, e^K keeps the phase e^{iu s} out to u >> 1/q (defect D1 of 666f31d: q = 2.9e-5,
  sigma = 0.333, T = 4, eps(1.16e-6) spent the node budget on 338 such panels at u ~ 3e7 and was
  refused, 1 s; now 0.8655328386 in 0.15 s; a mixed history of 3 groups 1.12 -> 0.79 s).  Before (taking the smaller of the two differences), an aliased
  e^{-iu eps} let the plain rule's K15 and G7 agree by chance: defect D2 (q = 1e-4, sigma = 0.5,
  T = 10, eps(1e-6): one panel at omega = 1568 off by 6.6e-6 of delta at estimate 8e-9, the search's
  bracket closed away from the root and the dispatch answered a flagged Chernoff bound 2.70; now the
  exact 0.1790270884) and D3 (delta(eps) at T = 2-3: 7 of 272 estimates optimistic against the direct
  recursion, worst 1.2e-7 at estimate 7.0e-9; now none, benchmarks/fewpart_d3_scan.py).  Cost ~0.92x.
* A split panel's error estimate reuses its parent's nodes (:meth:`Panels.pair_errors`): where the parent and
  both halves are resolved and halving lowered |K15 - G7| by at least PAIR_RATIO = 16 (the rule converges),
  the pair's estimate is |K15(parent) - K15(halves)| (the parent's error, which bounds the halves' once the
  rule converges) plus the halves' |K15 - G7| extrapolated one halving further, where that is below the
  halves' own |K15 - G7|.  Measured (session 12, old and new interleaved per point in one process, CPU):
  fewpart_sigma05.py's 19 points 26 % fewer kernel nodes, sum 1.03 -> 0.90 s (1.10x per point); 60 random
  points (sigma 0.3-1.5, q 1e-6..1e-2, q T 1e-3..3, delta 1e-12..1e-5) 21 % fewer nodes, 1.05x; eps within
  1.7e-8 of before except one flagged-region point (9.7e-8, both estimates ~4e-7).

Measured (benchmarks/fewpart_bench.py, 168 queries, CPU time per warm query on the loaded 2-core
machine, before/after in one run, 2026-11-30 23:20 UTC): median 14.2 -> 10.1 ms at delta = 1e-5 and
30.1 -> 17.8 ms at delta = 1e-10 (sigma = 0.5: 39 -> 26 and 122 -> 54 ms), max 414 -> 293 ms,
<= 20 ms 90 -> 115 of 168; per query 1.55x faster (median; 0.83x .. 2.56x); every query answered,
largest difference to an independent reference (contour engine, direct recursion; 106 points)
1.1e-8, median 1.5e-12.  What made it faster: the kernel's vertical closing segment (75 % of the
kernel's time; :func:`ewacct._kernels.fewpart_path.vert_smooth`), iterates' delta tolerance set by
the accuracy eps needs (EPS_RTOL), batched kernel calls, a cheaper saddle search.  At sigma = 0.5
and delta = 1e-10, q <= 1e-5 (120-240 ms) the abscissa at the truncation edge's absolute cap left the edge's
oscillating 1/u tail (frequency l(x0) ~ 5) at ~1e5 x delta, and the panels resolved it out to u ~ 1e3 (the
6000-node budget); near the root such a search now rebuilds its contour at an abscissa where that tail is
below e^-18 of the target (:meth:`Composition.edge_cap_rel`, EDGE_REL_LOG; docs/benchmarks_fewpart.md:
max 242 -> 81 ms over those 19 points, same run).

Below sigma = 0.2 (benchmarks/fewpart_ab.py 90516d1 --lowsigma --repeats 1: 120 eps(delta) queries, sigma
0.05-0.19, q 1e-4-0.05, T 3-100, delta 1e-5 / 1e-10, CPU time, old and new interleaved in one run,
2026-12-01 02:00 UTC) the saddle-point start of the search: median 337 -> 88 ms, max 3026 -> 335 ms,
2.1x per query (median; sigma = 0.05: 708 -> 224 ms at delta = 1e-10); answers within 1e-10 of each other
except one, where the old one was 9.6e-8 off the conditioning reference and the new is within 4e-11.

delta(eps) accepts what eps(delta) accepts: where cancellation or the node budget keeps the strict
1e-8 out of reach it refines as far as the budgets go and answers when the estimate reached is at
most ``DELTA_ACCEPT`` = 1e-6 (the dispatch's validity threshold); there the quadrature goes down to 1/4
of the floating-point budget and the Filon panels carrying most of that budget are halved (plain
Gauss-Kronrod carries ~5x less) while it is above ``DELTA_FP_GOAL`` (q = 1e-4, sigma = 1, T = 10:
delta(eps(1e-12)) answered at estimate 7e-7, was refused at 2.5e-6; eps = 0.1, budget ~4e-5 of delta,
is still refused).  :func:`supports` offers the method
up to sum q n = ``SUPPORT_QN`` = 1e4: beyond the designed corner it is the contour's fallback (at
sigma = 1, q = 1e-3, delta = 1e-12 the contour refuses up to q T ~ 13; docs/benchmarks_fewpart.md; at
tiny q and small sigma it refuses at q T in the hundreds, see SUPPORT_QN).

Estimates that understated their error (session 13, H-F4; benchmarks/fewpart_f4_scan.py: delta at each answer's eps
from contours at 7 other abscissae, random points sigma 0.45-0.6, q 1e-7..1e-5, q T 0.005..0.1, delta 1e-13..1e-8):

* the kernel skipped the truncated path's vertical closing segment below an absolute e^-41 on its f-form branch,
  where G - 1 ~ q is carried to ~1e-25: K was biased by T times the skipped boundary term (contours at c 2.9-3.1
  3.6-6.9e-6 low at estimates 0.7-1.4e-6; :func:`ewacct._kernels.fewpart_path.cached_log_g`);
* panels that do not resolve the truncation edge's oscillating term (frequency l(x0)) aliased it with K15 and G7
  agreeing by chance: their estimates now carry a model of that term's aliasing (:meth:`Panels._sums_on`,
  ``EDGE_ALIAS``).
Seed 13 (40 points): contour sets disagreeing beyond their estimates 4 -> 0, eps(delta) answers outside their stated
error against some contour 4 -> 0 (the worst: sigma 0.5797, q 5.14e-6, T 11054, delta 2.03e-12, eps 2.6e-7 off at a
stated 6e-8); seed 14: 0 and 0 after (the session-start kernel off the consensus beyond its estimates at 23 of 40).
Cost (old and new interleaved per point, CPU, load 5-10): fewpart_sigma05.py's 19 points 0.78-0.85x per point
(median), 30 random points (sigma 0.3-1.5, q 1e-6..1e-2) 0.86x: the honest estimates refine further where the edge's
term matters; eps moved by <= 2.2e-10 on the sigma-0.5 points, <= 1e-7 (within both estimates) on the random ones.

Public functions: :func:`fewpart_delta`, :func:`fewpart_epsilon`, :func:`supports`.
"""

from __future__ import annotations

import cmath
import math
from typing import Sequence

import numpy as np
from numba import njit

from . import budget
from .fewpart_filon import WEIGHT_FP_UNITS, FilonGK
from scipy.special import exp1 as _exp1
from .._kernels.mgf import _GW, _GX, _cexpm1, _clog1p, _e2, _f_form, _log1p_minus, _loss

_FP: list = []


def _fp():
    """ewacct._kernels.fewpart_path, imported on first use (its rule tables: 0.1-0.3 s of CPU): the dispatch imports
    this module on every default query (``supports``), most of which never run this quadrature.  The import is
    one-time set-up, outside the CPU budgets (:func:`ewacct.methods.budget.setup`)."""
    if not _FP:
        with budget.setup():
            from .._kernels import fewpart_path

        _FP.append(fewpart_path)
    return _FP[0]


LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
SQRT2 = math.sqrt(2.0)
#: integrand magnitudes below exp(-CUT) times the largest are not integrated (x-quadrature)
CUT = 42.0


@njit(cache=True)
def _phibar(x: float) -> float:
    """P(N(0,1) > x)."""
    return 0.5 * math.erfc(x / SQRT2)


@njit(cache=True)
def _seg_sum(w: complex, q: float, mu: float, logq: float, big: bool, amax: float,
             x_a: complex, dx: complex) -> complex:
    """8-point Gauss-Legendre sum of the (f-form or scaled direct) integrand over x_a + [0, 1] dx."""
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
def trunc_log_g(q: float, mu: float, x0: float, w: complex, fine: float = 1.0) -> complex:
    """log G_A(w), G_A(w) = E[(1 + u(X))^w ; X <= x0], X ~ N(0, 1), u = q (e^{mu X - mu^2/2} - 1).

    ``x0 = inf`` means no truncation.  REMOVE: log E_P[e^{z l}; X <= x0] = log G_A(z + 1); ADD:
    log E_P0[e^{-z l}; X <= x0] = log G_A(-z).
    """
    logq = math.log(q)
    bw = w.imag
    a_re = w.real
    y = 0.0
    if abs(bw) * mu > 1.0:
        y = min(0.4 * math.pi / mu, 3.0, 0.25 + 0.25 * abs(bw) * mu)
        if bw < 0.0:
            y = -y
    x_lo = -13.0
    x_hi = max(13.0, mu + 13.0)
    if a_re > 0.0:
        x_hi = max(x_hi, a_re * mu + 13.0)
    trunc = x0 < x_hi
    if trunc:
        x_hi = x0
    pw = min(1.0, 0.55 * (math.pi / mu - abs(y))) / fine
    npan = int((x_hi - x_lo) / pw) + 1
    pw = (x_hi - x_lo) / npan
    amp_b = np.empty(npan + 1)
    amp_f = np.empty(npan + 1)
    ells = np.empty(npan + 1, dtype=np.complex128)
    for i in range(npan + 1):
        xc = complex(x_lo + i * pw, y)
        lphi, wl, f, ok = _f_form(xc, w, q, mu, logq)
        ells[i] = _loss(xc, q, mu, logq)[0]
        amp_b[i] = lphi.real + wl.real
        if not ok:
            amp_f[i] = 1e300
        else:
            af = abs(f)
            amp_f[i] = lphi.real + (math.log(af) if af > 0.0 else -1e300)
    bmax = amp_b.max()
    # the vertical closing segment at x0 (from x0 + iy down to x0): magnitudes at its ends
    if trunc and y != 0.0:
        for t in (0.0, abs(y)):
            lphi, wl, f, ok = _f_form(complex(x0, t if y > 0 else -t), w, q, mu, logq)
            bmax = max(bmax, lphi.real + wl.real)
    big = bmax - 0.5 * y * y > 25.0
    amax = bmax
    if not big:
        amax = amp_f.max()
        if amax > 700.0:
            big = True
            amax = bmax
    amp = amp_b if big else amp_f
    acc = 0.0j
    for i in range(npan):
        j0 = max(i - 1, 0)
        j1 = min(i + 2, npan)
        m = -1e300
        mo = -1e300
        for j in range(j0, j1 + 1):
            m = max(m, amp[j])
            mo = max(mo, amp_b[j])
        m = max(m, mo)
        if m < amax - CUT:
            continue
        dph = abs(y) * pw
        if mo >= amax - CUT:  # the oscillating part exp(w l) matters here: resolve its phase
            dph += abs(w * (ells[i + 1] - ells[i]))
        nsub = int(fine * dph / 2.0) + 1
        hw = pw / nsub
        x0p = x_lo + i * pw
        for s in range(nsub):
            acc += _seg_sum(w, q, mu, logq, big, amax, complex(x0p + s * hw, y), complex(hw, 0.0))
    if trunc and y != 0.0:
        # vertical segment x0 + i t, t from y to 0 (dx = i dt): graded towards t = 0, where the
        # damping exp(-|Im w| Im l) has not yet set in; along it the phase of w l moves at about
        # |Re w| l'(x0) and the Gaussian's at x0
        zz = mu * x0 - 0.5 * mu * mu
        lp = mu / (1.0 + math.exp(math.log1p(-q) - logq - zz)) if q < 1.0 else mu
        ay = abs(y)
        t1 = min(ay, 1.0 / (1.0 + abs(w) * lp))
        sgn = 1.0 if y > 0.0 else -1.0
        ta = 0.0
        tb = t1
        while ta < ay:
            lphi, wl, f, ok = _f_form(complex(x0, sgn * ta), w, q, mu, logq)
            osc = lphi.real + wl.real >= amax - CUT
            if big and not osc:
                break  # the rest of the segment is damped below the cut
            rate = abs(x0) + 1.0
            if osc:
                rate += (abs(w.real) + 1.0) * lp
            ns = int(fine * rate * (tb - ta) / 2.0) + 1
            ht = (tb - ta) / ns
            for s in range(ns):
                # from x0 + i sgn (ta + (s+1) ht) downwards by ht: dx = -i sgn ht
                acc += _seg_sum(w, q, mu, logq, big, amax, complex(x0, sgn * (ta + (s + 1) * ht)),
                                complex(0.0, -sgn * ht))
            ta = tb
            tb = min(ay, 2.0 * tb)
    if big:
        return amax + cmath.log(acc)
    # G_A - 1 = (P(X <= x0) - 1) + w E[u; X <= x0] + integral of phi f_w(u)
    if trunc:
        tail0 = _phibar(x0)
        eu = q * (tail0 - _phibar(x0 - mu))   # E[u; X <= x0] = -E[u; X > x0]
        acc += -tail0 + w * eu
    return _clog1p(acc)


@njit(cache=True)
def trunc_log_g_many(q: float, mu: float, x0: float, w: np.ndarray, fine: float = 1.0) -> np.ndarray:
    out = np.empty(w.shape[0], dtype=np.complex128)
    for i in range(w.shape[0]):
        out[i] = trunc_log_g(q, mu, x0, w[i], fine)
    return out


@njit(cache=True)
def _path_point(xc: complex, q: float, mu: float, logq: float):
    """(log phi, l, log1p(u) - u, overflow) at a complex point of the path."""
    lphi = -0.5 * xc * xc - LOG_SQRT_2PI
    ell, u, lu = _loss(xc, q, mu, logq)
    if lu > 700.0:
        return lphi, ell, 0.0j, True
    if u == 0.0j and lu > -745.0:
        u = q * _cexpm1(mu * xc - 0.5 * mu * mu)
    return lphi, ell, _log1p_minus(u, ell), False


@njit(cache=True)
def batch_log_g(q: float, mu: float, x0: float, w: np.ndarray, y: float) -> np.ndarray:
    """log G_A(w) for every w of a batch, all on the path Im x = y (the same as :func:`trunc_log_g`).

    The path's points (Gauss-Legendre, 8 per panel of width <= 1) and the loss there are computed
    once for the batch; each w then costs one complex exponential per active point.  Panels whose
    phase variation exceeds what 8 points resolve fall back to on-the-fly subdivision.
    """
    logq = math.log(q)
    nw = w.shape[0]
    out = np.empty(nw, dtype=np.complex128)
    x_lo = -13.0
    x_hi = max(13.0, mu + 13.0)
    are_max = 0.0
    for k in range(nw):
        are_max = max(are_max, w[k].real)
    x_hi = max(x_hi, are_max * mu + 13.0)
    trunc = x0 < x_hi
    if trunc:
        x_hi = x0
    pw = min(1.0, 0.55 * (math.pi / mu - abs(y)))
    npan = int((x_hi - x_lo) / pw) + 1
    pw = (x_hi - x_lo) / npan
    # panel edges and Gauss points
    e_lphi = np.empty(npan + 1, dtype=np.complex128)
    e_l = np.empty(npan + 1, dtype=np.complex128)
    e_lm = np.empty(npan + 1, dtype=np.complex128)
    e_ov = np.zeros(npan + 1, dtype=np.bool_)
    for i in range(npan + 1):
        a, b, c, d = _path_point(complex(x_lo + i * pw, y), q, mu, logq)
        e_lphi[i], e_l[i], e_lm[i], e_ov[i] = a, b, c, d
    g_lphi = np.empty((npan, 8), dtype=np.complex128)
    g_l = np.empty((npan, 8), dtype=np.complex128)
    g_lm = np.empty((npan, 8), dtype=np.complex128)
    g_ov = np.zeros((npan, 8), dtype=np.bool_)
    for i in range(npan):
        for k in range(8):
            a, b, c, d = _path_point(complex(x_lo + (i + 0.5 * (_GX[k] + 1.0)) * pw, y), q, mu, logq)
            g_lphi[i, k], g_l[i, k], g_lm[i, k], g_ov[i, k] = a, b, c, d
    gw = 0.5 * pw * _GW
    amp_b = np.empty(npan + 1)
    amp_f = np.empty(npan + 1)
    # the vertical closing segment (truncation with a shifted path): a bound on its size
    v_lbound = -1e300
    if trunc and y != 0.0:
        v_lphi, v_l, v_lm, v_ov = _path_point(complex(x0, 0.0), q, mu, logq)
        v_lbound = v_lphi.real + 0.5 * y * y + math.log(abs(y))
        l0 = v_l.real
    tail0 = _phibar(x0) if trunc else 0.0
    eu = q * (tail0 - _phibar(x0 - mu)) if trunc else 0.0
    for iw in range(nw):
        ww = w[iw]
        if ww == 0.0:
            out[iw] = _clog1p(complex(-tail0, 0.0))
            continue
        for i in range(npan + 1):
            wl = ww * e_l[i]
            amp_b[i] = e_lphi[i].real + wl.real
            if e_ov[i]:
                amp_f[i] = 1e300
            else:
                af = abs(ww * e_lm[i] + _e2(wl))
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
        for i in range(npan):
            m = -1e300
            mo = -1e300
            for j in range(max(i - 1, 0), min(i + 2, npan) + 1):
                m = max(m, amp[j])
                mo = max(mo, amp_b[j])
            m = max(m, mo)
            if m < amax - CUT:
                continue
            nsub = 1
            if mo >= amax - CUT:
                nsub = int(abs(ww * (e_l[i + 1] - e_l[i])) / 2.0) + 1
            if nsub == 1:
                for k in range(8):
                    wl = ww * g_l[i, k]
                    if big:
                        acc += gw[k] * cmath.exp(g_lphi[i, k] + wl - amax)
                    elif not g_ov[i, k]:
                        acc += gw[k] * cmath.exp(g_lphi[i, k]) * (ww * g_lm[i, k] + _e2(wl))
            else:
                hw = pw / nsub
                for s in range(nsub):
                    acc += _seg_sum(ww, q, mu, logq, big, amax, complex(x_lo + i * pw + s * hw, y), complex(hw, 0.0))
        # the vertical segment: integrated only where its bound is not negligible
        # (on the f-form branch always: an absolute cut e^-41 there biased K, see fewpart_path.cached_log_g)
        need_v = trunc and y != 0.0 and ((big and vb >= amax - CUT) or not big)
        if need_v:
            zz = mu * x0 - 0.5 * mu * mu
            lp = mu / (1.0 + math.exp(math.log1p(-q) - logq - zz)) if q < 1.0 else mu
            ay = abs(y)
            t1 = min(ay, 1.0 / (1.0 + abs(ww) * lp))
            sgn = 1.0 if y > 0.0 else -1.0
            ta = 0.0
            tb = t1
            while ta < ay:
                lphi, wl, f, ok = _f_form(complex(x0, sgn * ta), ww, q, mu, logq)
                osc = lphi.real + wl.real >= amax - CUT
                if big and not osc:
                    break
                rate = abs(x0) + 1.0
                if osc:
                    rate += (abs(ww.real) + 1.0) * lp
                ns = int(rate * (tb - ta) / 2.0) + 1
                ht = (tb - ta) / ns
                for s in range(ns):
                    acc += _seg_sum(ww, q, mu, logq, big, amax, complex(x0, sgn * (ta + (s + 1) * ht)),
                                    complex(0.0, -sgn * ht))
                ta = tb
                tb = min(ay, 2.0 * tb)
        if big:
            out[iw] = amax + cmath.log(acc)
        else:
            out[iw] = _clog1p(acc - tail0 + ww * eu)
    return out


def log_g(q: float, mu: float, x0: float, w: np.ndarray) -> np.ndarray:
    """log G_A at every w: batches by the sign of the path shift (y = 0 where |Im w| mu <= 1)."""
    w = np.ascontiguousarray(w, dtype=np.complex128)
    out = np.empty(w.shape, dtype=np.complex128)
    ys = min(0.4 * math.pi / mu, 3.0)
    small = np.abs(w.imag) * mu <= 1.0
    for mask, y in ((small, 0.0), (~small & (w.imag > 0), ys), (~small & (w.imag < 0), -ys)):
        if mask.any():
            out[mask] = batch_log_g(q, mu, x0, np.ascontiguousarray(w[mask]), y)
    return out


# ----------------------------------------------------------------------------------------------------
# compositions: K(z) of the (truncated) composition in one direction
# ----------------------------------------------------------------------------------------------------

DIRECTIONS = ("remove", "add")
EPS_MACH = 2.2e-16
# Gauss-Kronrod 7-15 on [-1, 1]
_XK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                0.207784955007898467600689403773245, 0.0])
_WK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
GK_X = np.concatenate([-_XK[:-1], _XK[::-1]])                 # 15 nodes, ascending
GK_WK = np.concatenate([_WK[:-1], _WK[::-1]])
GK_WG = np.zeros(15)
GK_WG[[1, 3, 5, 7, 9, 11, 13]] = np.concatenate([_WG[:-1], _WG[::-1]])
_FILON = FilonGK(GK_X)


class Composition:
    """K(z) = sum_g n_g log E[e^{z L_g}; X_g <= x0_g] in one direction, with the truncation bound."""

    def __init__(self, groups: Sequence[tuple[float, float, int]], direction: str, log_budget: float,
                 x0_min: Sequence[float] | None = None, shifted: bool = False) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'remove' or 'add', got {direction!r}")
        self.direction = direction
        self.groups = [(float(q), 1.0 / float(s), int(n)) for q, s, n in groups]
        self.x0 = []
        trunc = 0.0
        for q, mu, n in self.groups:
            if direction == "add":
                self.x0.append(math.inf)
                continue
            # smallest x0 (on a 0.05 grid) with n P(X > x0) <= exp(log_budget) / len(groups), X ~ P
            target = math.exp(log_budget) / len(self.groups)
            x0 = 4.0
            while n * ((1.0 - q) * _phibar(x0) + q * _phibar(x0 - mu)) > target and x0 < 40.0:
                x0 += 0.05
            if x0_min is not None:
                x0 = max(x0, x0_min[len(self.x0)])
            self.x0.append(x0)
            trunc += n * ((1.0 - q) * _phibar(x0) + q * _phibar(x0 - mu))
        #: delta_A <= delta <= delta_A + trunc
        self.trunc = trunc
        self._paths: dict = {}
        self.loss_sup = sum(-n * math.log1p(-q) for q, mu, n in self.groups) if direction == "add" else math.inf
        #: ``shifted`` (REMOVE): K is that of the loss minus its infimum s = sum n log(1 - q), i.e.
        #: K(z) - z s, and callers pass eps - s (delta(eps) = E[(1 - e^{(eps - s) - (L - s)})_+]).  The
        #: near-atom of few participations then sits at 0 (the loss of the steps not sampled is
        #: log(1 - q) up to q e^{mu x - mu^2/2}): without the shift e^K carries its phase e^{iu s}, which
        #: the atom removal (e^K - 1) leaves oscillating against the Filon factor (sigma = 0.1: 4000
        #: Gauss-Kronrod nodes spent on |s| = 0.1 at u ~ 1e3-1e4)
        self.shift = sum(n * math.log1p(-q) for q, mu, n in self.groups) if (shifted and direction == "remove") else 0.0
        #: where the near-atom of the steps not sampled sits on this K's loss axis (REMOVE: s unshifted, 0
        #: shifted; ADD: -s): e^K keeps the phase e^{iu atom_phase} out to u >> 1/q, and a Filon panel
        #: may be taken on h demodulated by it (:meth:`Panels._sums_on`)
        s_inf = sum(n * math.log1p(-q) for q, mu, n in self.groups)
        self.atom_phase = (s_inf - self.shift) if direction == "remove" else -s_inf
        #: per truncated group (log(n phi(x0) / l'(x0)), l(x0), l'(x0), x0): the truncation edge puts into e^K a term
        #: ~ e^K n phi(x0) e^{w l(x0)} / (w l'(x0) G) (the boundary term of the step's MGF), oscillating at frequency
        #: l(x0) in u; a panel whose nodes do not resolve that frequency aliases it (:meth:`Panels._sums_on`)
        self.edges = []
        self.n_total = sum(n for _, _, n in self.groups)
        for (q, mu, n), x0 in zip(self.groups, self.x0):
            if direction != "remove" or not math.isfinite(x0):
                continue
            v = mu * x0 - 0.5 * mu * mu
            l0 = math.log1p(q * math.expm1(v))
            lp = mu / (1.0 + (1.0 - q) / q * math.exp(-v)) if v > -700.0 else mu * q
            self.edges.append((math.log(n) - 0.5 * x0 * x0 - LOG_SQRT_2PI - math.log(lp), l0, lp, x0))

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.with_error(z)[0]

    def with_error(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K(z), an estimate of its absolute floating-point error in units of eps_mach)."""
        z = np.ascontiguousarray(z, dtype=np.complex128)
        w = z + 1.0 if self.direction == "remove" else -z
        w = np.ascontiguousarray(w)
        out = np.zeros(z.shape, dtype=np.complex128)
        err = np.zeros(z.shape)
        if w.size == 0:
            return out, err
        are_max = float(w.real.max())
        for gi, ((q, mu, n), x0) in enumerate(zip(self.groups, self.x0)):
            ys = min(0.4 * math.pi / mu, 3.0)
            small = np.abs(w.imag) * mu <= 1.0
            for mask, y in ((small, 0.0), (~small & (w.imag > 0), ys), (~small & (w.imag < 0), -ys)):
                if not mask.any():
                    continue
                x_hi = min(max(13.0, mu + 13.0, max(are_max, 0.0) * mu + 13.0), x0)
                path = self._paths.get((gi, y, x_hi))
                if path is None:
                    path = _fp().CachedPath(q, mu, x0, y, are_max)
                    self._paths[(gi, y, x_hi)] = path
                lg, eu = path.with_error(np.ascontiguousarray(w[mask]))
                out[mask] += n * lg
                err[mask] += n * eu
        err = err + 4.0 * np.abs(out)
        if self.shift:
            # (the imaginary part reduced to (-pi, pi]: K enters only through e^K, and |K| sizes the
            # error weights; the product z s rounds at ~eps_mach |z s|, counted in the error units.
            # Reducing u s in double-double instead was measured slower: the smaller budget sends the
            # refinement further, 344 -> 681 ms at q = 1e-6, sigma = 0.5, T = 1000, delta = 1e-10)
            zs = z * self.shift
            out = out - zs
            out = out.real + 1j * (np.remainder(out.imag + math.pi, 2.0 * math.pi) - math.pi)
            err = err + 2.0 * np.abs(zs)
        return out, err

    def real(self, c: float) -> float:
        return float(self(np.array([complex(c, 0.0)]))[0].real)

    def real_many(self, c: np.ndarray) -> np.ndarray:
        return self(np.asarray(c, dtype=np.float64).astype(np.complex128)).real

    def edge_x0(self, c: float, log_weight: float = -28.0, reach: float = 12.0) -> list[float]:
        """Per group, the smallest truncation point >= the current one whose edge keeps a tilted weight
        phi(x0) e^{(c + 1) l(x0)} below exp(log_weight) at abscissa c (at most ``reach`` further out)."""
        out = []
        for (q, mu, n), x0 in zip(self.groups, self.x0):
            x = x0
            if self.direction == "remove":
                while x < x0 + reach:
                    l0 = math.log1p(q * math.expm1(mu * x - 0.5 * mu * mu))
                    if (c + 1.0) * l0 - 0.5 * x * x - LOG_SQRT_2PI <= log_weight:
                        break
                    x += 0.25
            out.append(x)
        return out

    def c_reach(self) -> float:
        """The largest abscissa at which the saddle searches evaluate the real kernel.

        The tilted integrand e^{c l(x)} of a truncated step piles up at the edge x0 in a layer of
        width ~ 1 / (c l'(x0)), l'(x0) <= mu, and the kernel's panels resolve it: its cost grows
        like c l'(x0) (sigma = 1, x0 = 40: 0.1 s per 6 points at c ~ 1e7, seconds at 1e8).  The
        reach is C_REACH / max l'(x0) (mu for ADD).  Any c > 0 is exact
        (the saddle only minimises the node sum's cancellation), so the saddle searches stop here;
        a target beyond it (delta far below 1e-30) then fails the tolerance and is answered by the
        dispatch's rigorous bound instead of running for minutes.
        """
        slope = 0.0
        for (q, mu, n), x0 in zip(self.groups, self.x0):
            if self.direction == "add" or not math.isfinite(x0):
                slope = max(slope, mu)
                continue
            # l'(x0) = mu w(x0), w = q e^v / (1 - q + q e^v), v = mu x0 - mu^2/2: ~q at large sigma and
            # tiny q (sigma 742, q 2e-8, T 4118: the saddle of delta(1e-6) lies at c ~ 3e11, and is cheap)
            v = mu * x0 - 0.5 * mu * mu
            w = 1.0 / (1.0 + (1.0 - q) / q * math.exp(-v)) if v > -700.0 else 0.0
            slope = max(slope, mu * w)
        return C_REACH / max(slope, 1e-300)

    def edge_cap(self, log_weight: float = -28.0) -> float:
        """Largest c at which every truncation edge keeps a tilted weight below exp(log_weight).

        The edge at x0 puts a slowly decaying (1/u) term of weight phi(x0) e^{(c+1) l(x0)} into the
        step's transform; it is harmless (and the vertical closing segment of the kernel negligible)
        while that weight is tiny: c + 1 <= (x0^2/2 + log sqrt(2 pi) + log_weight) / l(x0).
        """
        if self.direction == "add":
            return math.inf
        cap = math.inf
        for (q, mu, n), x0 in zip(self.groups, self.x0):
            l0 = math.log1p(q * math.expm1(mu * x0 - 0.5 * mu * mu))
            cap = min(cap, (0.5 * x0 * x0 + LOG_SQRT_2PI + log_weight) / l0 - 1.0)
        return cap

    def edge_cap_rel(self, log_target: float, eps: float, log_rel: float | None = None,
                     min_freq: float = 0.0) -> float:
        """Largest c at which every truncation edge's tilted weight, against the answer, stays below
        exp(``log_rel``) (default ``EDGE_REL_LOG``): n phi(x0) e^{(c + 1) l(x0) - c eps} <= target e^{log_rel}.

        :meth:`edge_cap` bounds the weight absolutely (e^-28); what the quadrature must resolve is that
        weight against delta ~ target: the edge adds to K a term ~ n phi(x0) e^{(c + 1) l(x0)} / (iu l'(x0))
        oscillating at frequency l(x0) (5.2 at q = 1e-6, sigma = 0.5) and decaying only like 1/u, and the
        node sum carries it with the factor e^{-c eps}.  Where it is above ~ rtol delta, the panels resolve its
        oscillation out to u ~ 1e3 (q = 1e-6, sigma = 0.5, T = 1000, delta = 1e-10: c = 4.4, 244 panels of
        width 1.7 at u ~ 1e2, the 6000-node budget spent; c = 2.2: 1155 nodes).  Any c > 0 is exact: the cap
        only picks a cheaper contour.  +inf for ADD (not truncated).  ``min_freq``: only the groups whose
        edge oscillates against e^{-iu eps} at a frequency l(x0) - eps of at least this count.
        """
        if self.direction == "add":
            return math.inf
        lr = EDGE_REL_LOG if log_rel is None else log_rel
        cap = math.inf
        for (q, mu, n), x0 in zip(self.groups, self.x0):
            if not math.isfinite(x0):
                continue
            l0 = math.log1p(q * math.expm1(mu * x0 - 0.5 * mu * mu))
            e0 = eps + self.shift  # (eps on the unshifted loss axis: K_shifted(c) - c (eps - s) = K(c) - c eps)
            if l0 - e0 <= max(min_freq, 0.0):
                continue
            v = (log_target + lr + 0.5 * x0 * x0 + LOG_SQRT_2PI - math.log(n) - l0) / (l0 - e0)
            cap = min(cap, v)
        return cap


#: see :meth:`Composition.edge_cap_rel`: the truncation edge's weight against the answer, at most e^EDGE_REL_LOG
#: (near the root of an eps(delta) search; None: not capped).  A contour above the cap by more than
#: EDGE_REL_SLACK is rebuilt there once
#: (below an abscissa of EDGE_REL_MIN the cap is not applied: the node sum's cancellation grows as c falls).
#: Measured (sigma = 0.5, delta = 1e-10, q = 1e-6, T = 5e5): at e^-8 the edge's tail, ~4e-4 of delta and
#: unresolved by panels whose Kronrod-Gauss differences did not see it, left delta 4.5e-7 low at an
#: estimate of 1.6e-7 (eps 1e-7 low); at e^-14 and e^-18 eps agrees with the uncapped contour to <= 1e-8
EDGE_REL_LOG = -18.0
EDGE_REL_SLACK = 1.25
EDGE_REL_MIN = 0.25
#: ... applied (and the contour rebuilt) only where the search's contour puts the edge's weight above
#: e^EDGE_REL_TRIGGER of the target (elsewhere the lower abscissa only costs cancellation: sigma 1-5 measured
#: 1.6x slower with the cap applied everywhere; not where the search may move to the shifted loss, 2-3 steps
#: or sigma < 0.2: q = 1e-6, sigma = 0.4, T = 2, delta = 1e-12 spent the node budget capped, 0.29 -> 1.3 s)
EDGE_REL_TRIGGER = -8.0
#: ... and whose edge oscillates at a frequency l(x0) - eps of at least EDGE_REL_FREQ (a slower oscillation
#: is resolved by few panels, while the lower abscissa costs cancellation: sigma = 1, q = 1e-3, T = 500,
#: delta = 1e-10, l(x0) - eps = 2.4: 17 -> 39 ms with the cap; sigma = 0.5, q <= 1e-5: 3.0 .. 5.1)
EDGE_REL_FREQ = 2.9


# ----------------------------------------------------------------------------------------------------
# the contour integral by adaptive Gauss-Kronrod panels in u
# ----------------------------------------------------------------------------------------------------

#: see :meth:`Composition.c_reach`
C_REACH = 1e4


def _check_budget() -> None:
    """Stop where the call's CPU budget (methods/budget.py) has run out: checked before every batch of
    nodes, the quadrature's unit of work (this method has no time net of its own, only MAX_NODES)."""
    if budget.expired():
        raise FewPartError(budget.NOTE)


class FewPartError(ArithmeticError):
    """The quadrature could not reach its tolerance.  ``estimate``: where the query ran to its end, the
    (value, estimated relative error, direction) it reached (the dispatch may report it, flagged)."""

    def __init__(self, msg: str, estimate: tuple | None = None) -> None:
        super().__init__(msg)
        self.estimate = estimate


#: the atom at 0 is subtracted from e^K where K(c) is at most this (its weight e^{-K(c)} above ~1e-9)
ATOM_K = 20.0
#: largest number of integrand evaluations of one contour (15 per panel)
MAX_NODES = 6000


def _atomless(k: np.ndarray, eps: float) -> np.ndarray:
    """log(e^K - 1) for eps > 0 (the integrand once the atom at 0 is removed, :meth:`Panels.sums`), else K."""
    if not eps > 0.0:
        return k
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k > 30.0, k, np.log(np.expm1(np.maximum(k, 0.0))))


#: where :func:`_saddle`'s search on the grid of log c starts
SADDLE_START_LOG = 0.0


def _saddle(K: Composition, eps: float) -> float:
    """Minimiser c > 0 of Phi(c) = log(e^{K(c)} - 1) - c eps - log c - log(c + 1) (K(c) for eps = 0).

    (For eps > 0 the atom at 0 is removed from the integrand, :meth:`Panels.sums`: what is left
    is the bulk of the loss, whose saddle lies further right where the atom dominates K.)

    K is evaluated on a grid of log c of step 0.5 (in batched kernel calls, from small c up until
    past the minimum: Phi is convex in c, hence unimodal in log c), then on the step-1/8 grid of the
    bracketing cells (one more batched call), and the minimum is the vertex of the parabola through
    the least point and its neighbours, kept inside them (the abscissa needs no more: any c > 0 is
    exact, the saddle only minimises the node sum's cancellation).
    """
    def phis(lc: np.ndarray) -> np.ndarray:
        cs = np.exp(lc)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            v = _atomless(K.real_many(cs), eps) - cs * eps - lc - np.log1p(cs)
        return np.where(np.isfinite(v), v, np.inf)

    lcs = np.arange(-7.0, 25.0001, 0.5)
    lcs = lcs[lcs <= max(math.log(K.c_reach()), lcs[0] + 3.0)]
    ph = np.full(lcs.size, np.inf)
    # in chunks of 6, from the one starting at c = 1 (log c = SADDLE_START_LOG; the saddles of the benchmarks lie at
    # log c -0.2 .. 9.5, median 1.75), extended left while the least value is the leftmost evaluated, right
    # while it is among the two rightmost: Phi is unimodal in log c, so the least grid point is the one the
    # scan from the smallest c found, in about half the evaluations.  Where every value is infinite, the
    # scan from small c up (stopping once past the minimum; the large-c end, where K grows fastest, is the
    # costliest to evaluate)
    lo = min(max(int(round((SADDLE_START_LOG - lcs[0]) / 0.5)), 0), max(lcs.size - 6, 0))
    hi = min(lo + 6, lcs.size)
    ph[lo:hi] = phis(lcs[lo:hi])
    while True:
        k = lo + int(np.argmin(ph[lo:hi]))
        if not np.isfinite(ph[k]):
            break
        if k == lo and lo > 0:
            n0 = max(lo - 6, 0)
            ph[n0:lo] = phis(lcs[n0:lo])
            lo = n0
        elif k >= hi - 2 and hi < lcs.size:
            n1 = min(hi + 6, lcs.size)
            ph[hi:n1] = phis(lcs[hi:n1])
            hi = n1
        else:
            break
    if not np.isfinite(ph[lo:hi]).any():
        for j in range(0, lcs.size, 6):
            sl = slice(j, min(j + 6, lcs.size))
            if not np.isfinite(ph[sl]).any():
                ph[sl] = phis(lcs[sl])
            k = int(np.argmin(ph[: sl.stop]))
            if k < sl.stop - 2:
                break
    i = int(np.argmin(ph))
    if not np.isfinite(ph[i]):
        return math.exp(lcs[0])
    fine = lcs[i] + 0.125 * np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    fine = fine[(fine >= lcs[0]) & (fine <= lcs[-1])]
    xs = np.concatenate([fine, [lcs[i]]])
    ys = np.concatenate([phis(fine), [ph[i]]])
    o = np.argsort(xs)
    xs, ys = xs[o], ys[o]
    k = int(np.argmin(ys))
    best = xs[k]
    if 0 < k < xs.size - 1 and np.all(np.isfinite(ys[k - 1:k + 2])):
        x0, x1, x2 = xs[k - 1:k + 2]
        y0, y1, y2 = ys[k - 1:k + 2]
        den = (x0 - x1) * (y0 - y2) - (x0 - x2) * (y0 - y1)
        if den != 0.0:
            num = (x0 - x1) ** 2 * (y0 - y2) - (x0 - x2) ** 2 * (y0 - y1)
            v = x0 - 0.5 * num / den
            if x0 <= v <= x2:
                best = v
    return math.exp(best)


class Panels:
    """Gauss-Kronrod panels on z = c + iu, u >= 0, holding K at their 15 nodes (reusable for every eps)."""

    def __init__(self, K: Composition, c: float) -> None:
        self.K = K
        self.c = c
        self.a: list[float] = []
        self.b: list[float] = []
        self.logk: list[np.ndarray] = []
        self.errk: list[np.ndarray] = []
        self.maxre: list[float] = []
        self.u_end = 0.0
        #: the abscissa's cap when built (:meth:`_Direction._contour`: truncation edge, absolute and against the answer)
        self.cap = math.inf
        #: per-panel ids (a split panel gets new ones) and the cache of :meth:`sums` at one (eps, m)
        self.ids: list[int] = []
        self._next = 0
        self._ckey: tuple | None = None
        self._cache: dict = {}
        self._tkey: tuple | None = None
        self._tval = (0.0, 0.0, 0.0)
        #: (left child's id, right child's id) -> the split parent's (a, b, logk, errk) (:meth:`pair_errors`)
        self.pairs: dict = {}
        self.pair_of: dict = {}
        #: K.edges as an (n, 4) array for the compiled panel sums (:func:`fewpart_path.panel_sums`)
        self._edges_arr = None

    def _new_id(self) -> int:
        self._next += 1
        return self._next

    @property
    def n(self) -> int:
        return 15 * len(self.a)

    def add(self, a: float, b: float) -> int:
        return self.add_many([(a, b)])[-1]

    def add_many(self, ab: list[tuple[float, float]]) -> list[int]:
        """Add the panels [a, b] of ``ab`` (their nodes in one kernel call); returns their indices."""
        _check_budget()
        ab = list(ab)
        lo = np.array([x for x, _ in ab])
        hi = np.array([y for _, y in ab])
        u = (0.5 * (lo + hi))[:, None] + (0.5 * (hi - lo))[:, None] * GK_X[None, :]
        kk, ek = self.K.with_error(self.c + 1j * u.ravel())
        kk, ek = kk.reshape(len(ab), 15), ek.reshape(len(ab), 15)
        out = []
        for j, (a, b) in enumerate(ab):
            self.logk.append(kk[j])
            self.errk.append(ek[j])
            self.maxre.append(float(kk[j].real.max()))
            self.a.append(a)
            self.b.append(b)
            self.ids.append(self._new_id())
            self.u_end = max(self.u_end, b)
            out.append(len(self.a) - 1)
        return out

    def split(self, i: int) -> None:
        self.split_many([i])

    def split_many(self, idx) -> None:
        """Halve the panels ``idx`` (all new nodes in one kernel call)."""
        _check_budget()
        idx = [int(i) for i in idx]
        a = np.array([self.a[i] for i in idx])
        b = np.array([self.b[i] for i in idx])
        m = 0.5 * (a + b)
        u = (0.5 * (a + m))[:, None] + (0.5 * (m - a))[:, None] * GK_X[None, :]
        v = (0.5 * (m + b))[:, None] + (0.5 * (b - m))[:, None] * GK_X[None, :]
        kk, ek = self.K.with_error(self.c + 1j * np.concatenate([u, v], axis=1).ravel())
        kk, ek = kk.reshape(len(idx), 30), ek.reshape(len(idx), 30)
        for j, i in enumerate(idx):
            # the parent's nodes are kept for the pair's error estimate (:meth:`pair_errors`)
            parent = (float(a[j]), float(b[j]), self.logk[i], self.errk[i])
            # (a pair whose child is split is no longer live: its parent is dropped)
            pk = self.pair_of.pop(self.ids[i], None)
            if pk is not None:
                self.pairs.pop(pk, None)
            self.a[i], self.b[i], self.logk[i], self.errk[i] = float(a[j]), float(m[j]), kk[j, :15], ek[j, :15]
            self.maxre[i] = float(kk[j, :15].real.max())
            self.maxre.append(float(kk[j, 15:].real.max()))
            self.ids[i] = self._new_id()
            self.ids.append(self._new_id())
            self.a.append(float(m[j]))
            self.b.append(float(b[j]))
            self.logk.append(kk[j, 15:])
            self.errk.append(ek[j, 15:])
            self.pairs[(self.ids[i], self.ids[-1])] = parent
            self.pair_of[self.ids[i]] = self.pair_of[self.ids[-1]] = (self.ids[i], self.ids[-1])

    def sums(self, eps: float, m: float):
        """Per panel: (Kronrod, Gauss, integral of |F| (8 |K| + 32), Kronrod of dF/deps, floating-point
        budget) of the integrand scaled by e^{-m}.

        Two rules on the same 15 nodes, the one with the smaller Kronrod-Gauss difference taken per
        panel: plain Gauss-Kronrod on F (smooth where the bulk of the loss dominates: at the saddle
        e^{K(z) - z eps} has a stationary phase), and Filon weights that integrate the factor
        e^{-iu eps} exactly (:mod:`.fewpart_filon`; smooth where the near-atom at 0 dominates: it
        keeps |F| ~ e^{-c eps} / u^2 out to u ~ 1/q, oscillating only through e^{-iu eps}).  Where
        the atom weighs (:meth:`subtract`) it is removed: e^K is replaced by e^K - 1, whose integral
        differs by that of e^{-z eps} / (z (z + 1)), zero for eps > 0 ((1 - e^eps)_+); beyond the
        last panel the -1 part is added back in closed form (:meth:`atom_tail`).  The third entry
        (the size of e^K, not of e^K - 1) decides the u-range.  The atom is removed on a prefix
        [0, U_s] of the range only (:meth:`atom_end`), and its integral beyond U_s added back in
        closed form.
        """
        u_s = self.atom_end(eps, m)
        key = (eps, m, u_s)
        if self._ckey != key:
            self._ckey, self._cache = key, {}
        todo = [i for i, pid in enumerate(self.ids) if pid not in self._cache]
        # the live split pairs' parents (:meth:`pair_errors`) in the same batch
        ptodo = [k for k in self.pairs if ("p",) + k not in self._cache] if PAIR_ERRORS else []
        if todo or ptodo:
            pp = [self.pairs[k] for k in ptodo]
            vals = self._sums_on(np.array([self.a[i] for i in todo] + [r[0] for r in pp]),
                                 np.array([self.b[i] for i in todo] + [r[1] for r in pp]),
                                 np.array([self.logk[i] for i in todo] + [r[2] for r in pp]),
                                 np.array([self.errk[i] for i in todo] + [r[3] for r in pp]), eps, m, u_s)
            rows = list(zip(*vals))
            for j, i in enumerate(todo):
                self._cache[self.ids[i]] = rows[j]
            for j, k in enumerate(ptodo):
                self._cache[("p",) + k] = rows[len(todo) + j]
        rows = np.array([self._cache[pid] for pid in self.ids])
        return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]

    def pair_errors(self, err: np.ndarray, eps: float, m: float) -> np.ndarray:
        """The panels' quadrature error estimates ``err`` (|K15 - G7| per panel, from :meth:`sums`), where a
        split pair offers a smaller one: |K15(parent) - K15(left) - K15(right)| plus the children's |K15 - G7|
        extrapolated one halving further by their own ratio to the parent's (an estimate of the parent's error,
        which bounds the children's once the rule converges), shared between the two in proportion to their
        |K15 - G7|.  Taken only where the parent's and both children's integrands are resolved by their nodes
        (:func:`_resolved`: an aliased integrand makes rules agree by chance), the atom is removed on all three
        or on none, and halving the panel lowered |K15 - G7| by at least PAIR_RATIO (the rule converges).
        A split panel so reuses its parent's 15 nodes in its error estimate (nested rules without new nodes)."""
        if not self.pairs:
            return err
        u_s = self.atom_end(eps, m)
        pos = {pid: i for i, pid in enumerate(self.ids)}
        self.sums(eps, m)  # (the parents' sums, cached)
        out = err.copy()
        for k in self.pairs:
            i1, i2 = pos[k[0]], pos[k[1]]
            pk, pg, _, _, _, pres, px = self._cache[("p",) + k]
            r1, r2 = self._cache[k[0]], self._cache[k[1]]
            if not (pres and r1[5] and r2[5]):
                continue
            if (self.pairs[k][1] <= u_s) != (self.b[i1] <= u_s):
                continue
            # (the truncation edge's aliasing estimates, column 6, are kept out of the pair's and added back)
            x1, x2 = r1[6], r2[6]
            ep = abs(pk - pg) - px
            e1, e2 = err[i1] - x1, err[i2] - x2
            ec = e1 + e2
            if not (ec > 0.0 and ec * PAIR_RATIO <= ep):  # (ec = ep = 0: nothing to improve, and no 0/0)
                continue
            pe = abs(pk - r1[0] - r2[0]) + ec * (ec / ep)
            if pe < ec:
                out[i1], out[i2] = pe * e1 / ec + x1, pe * e2 / ec + x2
        return out

    def atom_end(self, eps: float, m: float) -> float:
        """U_s: the atom is removed on the panels inside [0, U_s] (none: 0).  U_s is the left end of the
        last stretch of panels where e^K is below e^{-5} everywhere (there the integrand without the
        atom is small and removing it would only leave the -1 to integrate), else the end of the
        range."""
        if not self.subtract(eps, m):
            return 0.0
        order = np.argsort(self.a)
        u_s = self.u_end
        for i in order[::-1]:
            if self.maxre[i] > -5.0:
                break
            u_s = self.a[i]
        return u_s

    def _sums_on(self, a: np.ndarray, b: np.ndarray, lk: np.ndarray, ke: np.ndarray, eps: float, m: float,
                 u_s: float):
        """:meth:`sums` for panels [a, b] with K and its error units ``lk``, ``ke`` at their 15 nodes (each panel's
        values depend only on its nodes, eps and m: they are cached per panel until eps or m changes); a sixth
        column says whether the rule taken resolves its integrand (else its Gauss value is widened to at least
        the L1 norm)."""
        if NUMBA_SUMS:
            panel_sums = _fp().panel_sums
            K = self.K
            edges = self._edges_arr
            if edges is None:
                edges = self._edges_arr = (np.array(K.edges, dtype=np.float64).reshape(-1, 4) if K.edges
                                           else np.zeros((0, 4)))
            return panel_sums(np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64),
                              np.ascontiguousarray(lk, dtype=np.complex128).reshape(-1, 15),
                              np.ascontiguousarray(ke, dtype=np.float64).reshape(-1, 15), float(self.c), float(eps),
                              float(m), float(u_s), float(K.atom_phase), float(K.shift), edges, float(K.n_total),
                              bool(EDGE_ALIAS), float(EDGE_ALIAS_FACTOR), GK_X, GK_WK, GK_WG, _FILON.vk, _FILON.vg,
                              RES_PHASE, GAP_GK, EPS_MACH, WEIGHT_FP_UNITS)
        half = 0.5 * (b - a)
        mid = 0.5 * (a + b)
        u = mid[:, None] + half[:, None] * GK_X[None, :]
        z = self.c + 1j * u
        hv = np.exp(lk - self.c * eps - m)
        zz1 = z * (z + 1.0)
        azz = np.abs(zz1)
        kl = 8.0 * np.abs(lk) + 32.0
        ab = half * ((np.abs(hv) * kl / azz) @ GK_WK)
        # each node's e^K carries an absolute error ~ eps_mach |e^K| (K's error units) from K, plus the
        # rounding of exp (2 units of |e^K|); where the atom is removed, expm1 rounds relative to
        # |e^K - 1| instead (3 units: expm1, the scale factor, the product), not to |e^K|
        sub = (b <= u_s)[:, None]
        if sub.any():
            hs = np.where(sub, np.expm1(lk) * math.exp(-self.c * eps - m), hv)
            node_fp = (np.abs(hv) * (ke + np.where(sub, 0.0, 2.0)) + np.where(sub, 3.0 * np.abs(hs), 0.0)) / azz
        else:
            hs = hv
            node_fp = np.abs(hv) * (ke + 2.0) / azz
        h = hs / zz1
        hd = -hs / (z + 1.0)
        # plain Gauss-Kronrod on F = e^{-iu eps} h
        osc = np.exp(-1j * u * eps)
        f = osc * h
        kr = half * (f.real @ GK_WK)
        gs = half * (f.real @ GK_WG)
        dk = half * ((osc * hd).real @ GK_WK)
        fpb = half * (node_fp @ GK_WK)
        om = half * eps
        fil = om > 0.5
        res_f = _resolved(f)
        demod = np.zeros(len(a), dtype=bool)
        if fil.any():
            wk, wg = _filon_weights(om[fil])
            ph = half[fil] * np.exp(-1j * mid[fil] * eps)
            hf = h[fil]
            kr_f = (ph * np.einsum("ij,ij->i", wk, hf)).real
            gs_f = (ph * np.einsum("ij,ij->i", wg, hf[:, 1::2])).real
            # a rule's |K15 - G7| estimates its error only where its integrand (F for the plain rule, h
            # for Filon) is resolved by the nodes (_resolved): an aliased F makes K15 and G7 agree by chance
            ok_p, ok_f = res_f[fil], _resolved(hf)
            d_p, d_f = np.abs(kr[fil] - gs[fil]), np.abs(kr_f - gs_f)
            sa = self.K.atom_phase
            if sa != 0.0 and not ok_f.all():
                # h itself carries the phase e^{iu s} of the near-atom at s (unshifted contour): F =
                # e^{-iu (eps - s)} (h e^{-iu s}), Filon at frequency eps - s on the demodulated h where
                # that is resolved and h is not (mathematically the same integral, another rule)
                om2 = half[fil] * (eps - sa)
                cand = ~ok_f & (om2 > 0.5)
                if cand.any():
                    ci = np.nonzero(cand)[0]
                    fi = np.nonzero(fil)[0][ci]
                    wk2, wg2 = _filon_weights(om2[ci])
                    ph2 = half[fi] * np.exp(-1j * mid[fi] * (eps - sa))
                    g2 = h[fi] * np.exp(-1j * u[fi] * sa)
                    ok2 = _resolved(g2)
                    if ok2.any():
                        j = ci[ok2]
                        jj = fi[ok2]
                        k2 = (ph2[ok2] * np.einsum("ij,ij->i", wk2[ok2], g2[ok2])).real
                        gg2 = (ph2[ok2] * np.einsum("ij,ij->i", wg2[ok2], g2[ok2][:, 1::2])).real
                        # substituted into the Filon slot (its weights and node values for dk, fpb below)
                        kr_f[j], gs_f[j] = k2, gg2
                        ok_f[j] = True
                        d_f[j] = np.abs(k2 - gg2)
                        wk[j], wg[j] = wk2[ok2], wg2[ok2]
                        ph[j] = ph2[ok2]
                        hf[j] = g2[ok2]
                        demod[jj] = True
            better = ok_f & ((d_f < d_p) | ~ok_p) | (~ok_f & ~ok_p & (d_f < d_p))
            res_f[fil] = ok_p | ok_f
            if better.any():
                idx = np.nonzero(fil)[0][better]
                wk, wg, ph = wk[better], wg[better], ph[better]
                kr[idx], gs[idx] = kr_f[better], gs_f[better]
                hdd = np.where(demod[idx][:, None], hd[idx] * np.exp(-1j * u[idx] * self.K.atom_phase), hd[idx])
                dk[idx] = (ph * np.einsum("ij,ij->i", wk, hdd)).real
                # each Filon weight carries an error ~ eps_mach WEIGHT_FP_UNITS relative to the largest
                wmax = np.abs(wk).max(axis=1)
                fpb[idx] = half[idx] * (np.einsum("ij,ij->i", np.abs(wk), node_fp[idx])
                                        + WEIGHT_FP_UNITS * wmax * np.abs(h[idx]).sum(axis=1))
        if not res_f.all():
            # neither rule resolves its integrand: the panel's estimate is at least the L1 norm of F
            # (it is split until resolved where that matters against the tolerance)
            bad = ~res_f
            l1 = half[bad] * (np.abs(h[bad]) @ GK_WK)
            gs[bad] = kr[bad] + np.maximum(np.abs(kr[bad] - gs[bad]), l1)
        ok = res_f
        extra = None
        if EDGE_ALIAS and self.K.edges:
            # the truncation edge's term in e^K (Composition.edges) is small against e^K, so the integrand's phase
            # passes _resolved, but where the nodes do not resolve its frequency it is aliased, and K15 and G7 can
            # agree by chance (sigma 0.4970, q 5.19e-7, T 40428, eps 0.0713, c = 4.5: 67 of 176 panels at u 240-560,
            # width 14, |K15 - G7| 30-1700x below their actual error, delta 2e-8 off at an estimate of 6e-9;
            # sigma 0.5797, q 5.14e-6, T 11054, delta 2.03e-12: the eps(delta) answer 2.6e-7 off at a stated 6e-8,
            # the edge term 64x delta at c = 5.3).  Such a panel's estimate is widened by the error the rule taken
            # makes on a model of the term, C(u) = S(u) e^{i Omega u}: its first order n phi(x0) e^{w l(x0)} /
            # (w l'(x0) |G|) times the integrand's e^{K - z eps - m} / (z (z + 1)) at the nodes (|G| per step as
            # e^{Re K / n}, exact for one group): |rule(C) - integral of C|, the integral by Filon weights at Omega on
            # the resolved S, times 1 + (|x0| + 1) / (|w| l'(x0)) for the next orders (measured against 16 sub-panels:
            # 0.95-0.98 of the actual error on the worst panels).  Where S itself is not resolved, or where that is
            # not needed (below a tenth of the panel's |K15 - G7| or its floating-point level), twice the L1 norm of C
            # (|rule - integral| <= sum |w_k C_k| + integral |C|).  Returned as a seventh column (kept out of the split
            # pairs' estimates, :meth:`pair_errors`, and added back).
            gap = half * GAP_GK
            # the rule taken per panel: plain on F (the term at frequency l(x0) - shift - eps), Filon on h
            # (l(x0) - shift), Filon on the demodulated h (l(x0) - shift - atom_phase)
            off = np.full(len(a), eps + self.K.shift)
            if fil.any() and better.any():
                off[idx] = np.where(demod[idx], self.K.shift + self.K.atom_phase, self.K.shift)
            extra = np.zeros(len(a))
            for la, l0, lp, x0 in self.K.edges:
                unres = np.abs(l0 - off) * gap > RES_PHASE
                if not unres.any():
                    continue
                ui = np.nonzero(unres)[0]
                hh = half[ui]
                amp0 = math.exp(la + (self.c + 1.0) * l0)
                wabs = np.abs(z[ui] + 1.0)
                gfac = np.exp(-lk[ui].real / self.K.n_total)
                fac = EDGE_ALIAS_FACTOR * (1.0 + (abs(x0) + 1.0) / (wabs.min(axis=1) * lp))
                # the bound 2 L1 (cheap: moduli only), taken as it is where it is below the floating-point level of
                # the panel (eps_mach times its L1 norm weighted 8 |K| + 32) or below a tenth of the panel's own
                # |K15 - G7|; the model elsewhere (its Filon weights cost ~2x the rest of the panel sums)
                bound = 2.0 * hh * ((np.abs(hv[ui]) / azz[ui] * gfac / wabs) @ GK_WK) * amp0 * fac
                est = bound.copy()
                mi = np.nonzero(bound > np.maximum(EPS_MACH * ab[ui], 0.1 * np.abs(kr[ui] - gs[ui])))[0]
                if mi.size:
                    ri = ui[mi]
                    uu = u[ri]
                    hm = hh[mi]
                    om_t = l0 - self.K.shift - eps  # the term in F: S e^{i om_t u}
                    S = hv[ri] / zz1[ri] * gfac[mi] / (z[ri] + 1.0) * amp0 * np.exp(1j * uu * self.K.shift)
                    h_t = S * np.exp(1j * uu * (l0 - self.K.shift))  # the term in h (F's times e^{iu eps})
                    # the integral of the model by Filon weights at om_t on the resolved S
                    w_t, _ = _filon_weights(np.abs(om_t) * hm)
                    if om_t > 0.0:
                        w_t = np.conj(w_t)
                    exact = hm * np.exp(1j * mid[ri] * om_t) * np.einsum("ij,ij->i", w_t, S)
                    # (real matrix products: a complex one stalled at 6-8 ms a call under load, BLAS threads)
                    cf = h_t * np.exp(-1j * uu * eps)
                    rule = hm * ((cf.real @ GK_WK) + 1j * (cf.imag @ GK_WK))
                    if fil.any() and better.any():
                        jmap = np.full(len(a), -1)
                        jmap[idx] = np.arange(len(idx))
                        jj = jmap[ri]
                        sel = jj >= 0
                        if sel.any():
                            g = h_t[sel]
                            dm = demod[ri[sel]]
                            if dm.any():
                                g[dm] = g[dm] * np.exp(-1j * uu[sel][dm] * self.K.atom_phase)
                            rule[sel] = ph[jj[sel]] * np.einsum("ij,ij->i", wk[jj[sel]], g)
                    em = np.abs(rule - exact) * fac[mi]
                    s_ok = _resolved(S)
                    est[mi] = np.where(s_ok, em, bound[mi])
                extra[ui] += est
            if (extra > 0.0).any():
                e = extra > 0.0
                gs[e] = kr[e] + np.abs(kr[e] - gs[e]) + extra[e]
        else:
            extra = np.zeros(len(a))
        return kr, gs, ab, dk, fpb, ok.astype(float), extra

    def totals(self, eps: float, m: float):
        """:meth:`sums` plus (total, d total / d eps, floating-point budget of the total), the atom's
        closed-form tail beyond the last panel included."""
        kr, gs, ab, dk, fpb = self.sums(eps, m)
        u_s = self.atom_end(eps, m)
        at, dat, fpt = self.atom_tail(eps, m, u_s) if u_s > 0.0 else (0.0, 0.0, 0.0)
        return kr, gs, ab, dk, kr.sum() - at, dk.sum() - dat, EPS_MACH * fpb.sum() + fpt

    def subtract(self, eps: float, m: float) -> bool:
        """Whether the atom at 0 is removed: eps > 0, its weight e^{-K(c)} in the integrand not
        negligible (K(c) = m + c eps <= ATOM_K), and its closed form representable (c eps < 600)."""
        return eps > 0.0 and self.c * eps < 600.0 and m + self.c * eps <= ATOM_K

    def atom_tail(self, eps: float, m: float, u_end: float) -> tuple[float, float, float]:
        """(A, dA/deps, fp): A = Re integral over u > u_end of e^{-z eps - m} / (z (z + 1)), in closed form:
        -i [E1(z0 eps) - e^eps E1((z0 + 1) eps)] e^{-m}, z0 = c + i u_end."""
        if not self.subtract(eps, m):
            return 0.0, 0.0, 0.0
        key = (eps, m, u_end)
        if self._tkey == key:
            return self._tval
        self._tkey, self._tval = key, self._atom_tail(eps, m, u_end)
        return self._tval

    def _atom_tail(self, eps: float, m: float, u_end: float) -> tuple[float, float, float]:
        z0 = complex(self.c, u_end)
        a = z0 * eps
        if not (eps <= 1.0 and abs(z0) >= 50.0):
            # in the scale of e^{-a - m} = e^{-K(c) - i u_end eps} (|.| = e^{-K(c)}): E1(a) e^{-m} and
            # e^eps E1(a + eps) e^{-m} are that times e^x E1(x) at x = a, a + eps (no overflow of e^eps
            # or of e^{-m} at large eps)
            ph = cmath.exp(-(m + self.c * eps) - 1j * (u_end * eps))
            sa, sb = _e1_scaled(a), _e1_scaled(a + eps)
            return (-1j * ph * (sa - sb)).real, (1j * ph * sb).real, 16.0 * EPS_MACH * (abs(sa) + abs(sb)) * abs(ph)
        em = math.exp(-m)
        e1a = _exp1(a)
        e1b = math.exp(eps) * _exp1((z0 + 1.0) * eps)
        der = 1j * e1b * em
        if True:
            # E1(a) - e^eps E1(a + eps) cancels to ~1/|z0| of either: expand 1/(z (z + 1)) in 1/z
            # instead, integral = sum_{k >= 2} (-1)^k z0^{1-k} E_k(a), with E_{k+1} = (e^{-a} - a E_k) / k
            # (each step loses |a| / k, the term gains 1 / |z0|: the error stays ~eps_mach |a|)
            ea = cmath.exp(-a)
            ek = e1a
            acc = 0.0j
            zp = 1.0 + 0.0j
            for k in range(1, 12):
                ek = (ea - a * ek) / k          # E_{k+1}
                zp = zp / z0                    # z0^{-k}
                term = (-1) ** (k + 1) * zp * ek
                acc += term
                if abs(term) <= 1e-17 * abs(acc):
                    break
            val = -1j * acc * em
            fp = 16.0 * EPS_MACH * (abs(a) + 1.0) * abs(acc) * em
        return val.real, der.real, fp

    def kmax(self) -> float:
        return float(max(np.max(np.abs(k)) for k in self.logk))


#: largest phase step (radians) of an integrand between neighbouring Gauss-Kronrod nodes for the panel
#: to count as resolved: the widest node gap is 0.208 of the half-width, so a phase rate up to ~5 per
#: half-width (where K15 is accurate to ~5e-7 of the panel and G7 is off by ~7 %, the estimate then
#: conservative).  An aliased e^{-iu eps} passes by chance with probability ~ (1/3)^14 per panel.
#: Found at q = 1e-4, sigma = 0.5, T = 10, eps = 0.179 (eps(1e-6), defect D2): a panel at u ~ 1.3e5,
#: omega = 1568, plain K15 - G7 = 5e-16 where both were 2.6e-11 off (6.6e-6 of delta, estimate 8e-9)
RES_PHASE = math.pi / 3.0
#: a split pair's error estimate (:meth:`Panels.pair_errors`) replaces its children's |K15 - G7| only where
#: halving lowered |K15 - G7| by at least this factor (the rule in its convergent regime)
PAIR_RATIO = 16.0
PAIR_ERRORS = True
#: :meth:`Panels._sums_on` by the compiled pass (:func:`fewpart_path.panel_sums`; the numpy code below it stays as
#: its reference: ~0.4 ms of numpy call overhead a pass, ~530 passes over fewpart_sigma05's 19 points)
NUMBA_SUMS = True
#: the truncation edge's aliased term in the panels' estimates (:meth:`Panels._sums_on`)
EDGE_ALIAS = True
EDGE_ALIAS_FACTOR = 1.0
#: the widest gap between neighbouring Gauss-Kronrod 15 nodes, in units of the half-width
GAP_GK = float(np.max(np.diff(GK_X)))


#: the refinement splits, largest estimate first, as many panels as leave the others' estimates below
#: SPLIT_FILL of the room (target less the floating-point budget), at most SPLIT_MAX (see :func:`_split_choice`;
#: None, the default: the rule of sessions 8-13 alone, the panels within a factor 4 of the worst, at most 8).
#: Off by default: at SPLIT_FILL 0.5 split rounds fell 231 -> 133 over fewpart_sigma05's points (~5 % of the time),
#: but the wider rounds spent the node budget where the old rule converged (fewpart_f4_scan seed 14 #23: sigma 0.5681,
#: q 5e-7, T 23551, delta 6.53e-13 refused at SPLIT_MAX 24 and at SPLIT_FILL 0.25; answered at SPLIT_MAX 12 / 16 and
#: with the old rule, 0.1243304119 at 7.6e-7)
SPLIT_FILL: float | None = None
SPLIT_MAX = 24


def _split_choice(err: np.ndarray, room: float) -> np.ndarray:
    """The panels one refinement round halves: those within a factor 4 of the worst estimate (at most 8, the
    rule of sessions 8-13), and beyond them, largest estimate first, as many as the panels left unsplit need to
    carry estimates summing to at most SPLIT_FILL of ``room`` (those would be split in later rounds anyway,
    one kernel call and one panel-sum pass each: 231 rounds of 1-8 panels over fewpart_sigma05's 19 points, ~0.4 ms
    of numpy overhead a pass), at most SPLIT_MAX in all.  Which panels are split changes the node set, not
    what the estimate means: the loop still stops only where the estimates sum to the target."""
    worst = err.max()
    base = np.nonzero(err >= 0.25 * worst)[0][:8]
    if SPLIT_FILL is None:
        return base
    order = np.argsort(-err, kind="stable")
    # rest[k]: the estimates of the panels outside the k largest
    rest = np.concatenate([np.cumsum(err[order][::-1])[::-1], [0.0]])
    k = int(np.argmax(rest <= SPLIT_FILL * max(room, 0.0))) if (rest <= SPLIT_FILL * max(room, 0.0)).any() else err.size
    k = min(max(k, base.size), SPLIT_MAX)
    if k <= base.size:
        return base
    chosen = set(base.tolist())
    extra = [int(i) for i in order[:k] if int(i) not in chosen]
    return np.concatenate([base, np.array(extra[:k - base.size], dtype=base.dtype)])


def _filon_weights(om: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_FILON.weights at the distinct values of ``om`` only (the panels of a ladder and its halvings share a few
    half-widths: ~3-6x fewer spherical Bessel evaluations, the dearest part of :meth:`Panels._sums_on`)."""
    om = np.asarray(om, dtype=float)
    if om.size < 8:
        return _FILON.weights(om)
    uq, inv = np.unique(om, return_inverse=True)
    if uq.size == om.size:
        return _FILON.weights(om)
    wk, wg = _FILON.weights(uq)
    return wk[inv], wg[inv]


def _resolved(v: np.ndarray) -> np.ndarray:
    """Per row (a panel's 15 node values, ascending u): every phase step between neighbours <= RES_PHASE."""
    return np.all(np.abs(np.angle(v[:, 1:] * np.conj(v[:, :-1]))) <= RES_PHASE, axis=1)


def _e1_scaled(x: complex) -> complex:
    """e^x E1(x) for Re x > 0: directly for |x| < 40, else the asymptotic series sum (-1)^k k! / x^{k+1}
    (its least term at k ~ |x| is below 1e-17 relative; stopped there)."""
    if abs(x) < 40.0:
        return cmath.exp(x) * complex(_exp1(x))
    term = 1.0 / x
    acc = term
    for k in range(1, 60):
        term = -term * k / x
        acc += term
        if abs(term) <= 1e-17 * abs(acc):
            break
    return acc


def _scale(K: Composition, c: float, eps: float) -> float:
    return K.real(c) - c * eps


def _evaluate(P: Panels, eps: float, rtol: float, log_abs_floor: float | None = None, refine: bool = True,
              strict: bool = True, accept: float | None = None, log_target: float | None = None,
              fp_share: float = 2.0, fp_goal: float | None = None):
    """(log delta_A, d log delta_A / d eps, log absolute error estimate) at eps, refining panels as needed.

    ``strict=False`` (the iterates of a root search): where cancellation puts the floating-point
    budget above ``rtol`` the panels are refined only down to that budget, and the node budget
    ends the refinement instead of raising; the returned error estimate says what was reached.
    There the quadrature is refined down to ``fp_share`` times the floating-point budget (an answer of
    :func:`fewpart_delta` asks for 1/4: its estimate, quadrature plus budget, then ~1.25x the budget, not 3x),
    and while the budget is above ``fp_goal`` times the total, the Filon panels carrying most of it are
    halved (see the loop).

    The error estimate: sum over panels of |K15 - G7| (conservative), plus the floating-point budget
    eps_mach * integral of |F| (8 |K| + 32) (each node's exp(K) and the sum's roundings).
    """
    c = P.c
    m = _scale(P.K, c, eps)
    # a non-strict evaluation given the target: accuracy to 1e-3 of the distance to the target is
    # enough to steer the root search (an overshooting iterate far below the target, where the node
    # sum cancels completely, would otherwise spend the whole node budget)
    # (the target in the contour's scale e^{-m}: clamped where it is astronomically above it, an
    # iterate far beyond the root, whose evaluation then needs no refinement at all)
    t_units = math.pi * math.exp(min(log_target - m, 700.0)) if (log_target is not None and not strict) else None
    if refine:
        _extend(P, eps, m, rtol, t_units)
    for _ in range(400):
        # the budget checked every round too, not only where nodes are added: the panel sums are Python and
        # numpy work (PSG(0.7757, 5.13e-7) x 4 at delta 9.49e-28: 53 evaluations, 1.0-1.3 s of a 0.6 s budget)
        _check_budget()
        kr, gs, ab, dk, tot, dtot, fp = P.totals(eps, m)
        err = np.abs(kr - gs)
        target = rtol * abs(tot)
        if log_abs_floor is not None:
            target = max(target, math.exp(log_abs_floor - m))
        if t_units is not None:
            target = max(target, 1e-3 * abs(tot - t_units))
        if PAIR_ERRORS and err.sum() + fp > target and refine:
            # (the split pairs' estimates only where the panels' own miss the target)
            err = P.pair_errors(err, eps, m)
        if err.sum() + fp <= target or not refine:
            break
        if fp > target:
            # cancellation: the floating-point budget is above rtol.  Up to a quarter of the accepted
            # error it is carried in the estimate (the quadrature is refined down to twice it);
            # beyond that a strict evaluation refuses
            if strict and fp > (0.25 * ACCEPT_RTOL if accept is None else accept) * abs(tot):
                raise FewPartError(f"floating-point budget {fp:.3g} above the target {target:.3g} (cancellation)")
            if fp_goal is not None and fp > 100.0 * fp_goal * abs(tot) and err.sum() <= 2.0 * fp:
                # (an answer of fewpart_delta whose budget alone is 100x its goal, beyond what refinement or
                # the halving below can lower: it stops where the default fp_share = 2 stops, and is refused)
                break
            if err.sum() <= fp_share * fp:
                if fp_goal is None or fp <= fp_goal * abs(tot) or P.n >= MAX_NODES:
                    break
                if fp > 10.0 * fp_goal * abs(tot):
                    # out of reach: the halving lowers the budget by ~5x at most (measured 1.02e-6 -> 5.2e-7
                    # of delta within the node budget; q = 1e-4, sigma = 1, T = 10, eps = 0.1: 4.5e-5 -> 3.9e-5,
                    # refused either way, 0.08 -> 0.18 s)
                    break
                # the budget is above fp_goal: where the Filon rule may be taken (omega = half eps > 0.5)
                # its weights' budget (WEIGHT_FP_UNITS units of the largest weight on every node) is ~5x
                # the plain rule's; halving those panels, largest budget first, brings them to plain
                # Gauss-Kronrod (omega <= 0.5)
                fpb = P.sums(eps, m)[4]
                om = 0.5 * (np.array(P.b) - np.array(P.a)) * eps
                cand = np.nonzero(om > 0.5)[0]
                if cand.size == 0:
                    break
                top = cand[np.argsort(-fpb[cand])[:8]]
                P.split_many(top[fpb[top] >= 0.25 * fpb[top[0]]])
                continue
        if P.n >= MAX_NODES:
            if not strict:
                break
            raise FewPartError(f"Gauss-Kronrod quadrature did not converge within {MAX_NODES} nodes")
        P.split_many(_split_choice(err, target - fp))
    scale = math.log(1.0 / math.pi)
    if not tot > 0.0:
        if strict:
            raise FewPartError("non-positive quadrature value")
        # a root-search iterate where delta is below the resolution: report the error level as the
        # value (delta <= about that), with no slope; it is never accepted as an answer
        lvl = math.log(err.sum() + fp + 1e-300) + m + scale
        return lvl, math.nan, lvl
    ld = math.log(tot) + m + scale
    dld = dtot / tot
    lerr = math.log(err.sum() + fp + 1e-300) + m + scale
    return ld, dld, lerr


def _build(K: Composition, eps: float, c: float, rtol: float) -> Panels:
    """Panels on a geometric ladder in u, extended until the integrand is negligible."""
    P = Panels(K, c)
    # width of the central bump: 1 / sqrt(Phi''(c)), by a finite difference of K
    h = 1e-3 * c
    k0, kp, km = K.real_many(np.array([c, c + h, c - h]))
    phi2 = max((kp - 2.0 * k0 + km) / (h * h), 0.0) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
    s0 = 1.0 / math.sqrt(phi2)
    m = k0 - c * eps
    a = s0
    width = s0
    quiet = 0
    first = [(0.0, s0)]
    done = False
    while not done:
        # the ladder's panels two at a time (one kernel call; at most one panel beyond the stop)
        batch = first + [(a, a + width), (a + width, a + 3.0 * width)]
        first = []
        idx = P.add_many(batch)[-2:]
        kr, gs, ab, dk, tot, dtot, fp = P.totals(eps, m)
        for i in idx:
            a += width
            width *= 2.0
            # stop once two consecutive panels carry |F| below rtol * 1e-3 of the running total
            if ab[i] <= 32e-3 * rtol * max(abs(tot), 1e-300):
                quiet += 1
                if quiet >= 2:
                    done = True
                    break
            else:
                quiet = 0
        if done and i != idx[-1]:
            # the batch's last panel lies beyond the stop: it is kept (the range only grows)
            a += width
            width *= 2.0
        if not done and P.n >= MAX_NODES:
            raise FewPartError("the u-range did not settle")
    P.u_end, P.width = a, width
    return P


def _extend(P: Panels, eps: float, m: float, rtol: float, target_units: float | None = None) -> None:
    """Extend the ladder until its last octave [u_end/2, u_end] carries |F| below 32e-3 rtol |total|.

    A contour built at one eps is reused at others (only e^{-z eps} changes); the range that was
    enough for the first eps is re-checked against the total at the new one.
    """
    while True:
        _check_budget()
        kr, gs, ab, dk, tot, dtot, fp = P.totals(eps, m)
        a = np.array(P.a)
        tail = ab[a >= 0.5 * P.u_end - 1e-12 * P.u_end].sum()
        lim = 32e-3 * rtol * max(abs(tot), 1e-300)
        if target_units is not None:  # a root-search iterate: its side of the target is what counts
            lim = max(lim, 1e-4 * abs(tot - target_units))
        if tail <= lim:
            return
        if P.n >= MAX_NODES:
            raise FewPartError("the u-range did not settle")
        P.add(P.u_end, P.u_end + P.width)
        P.u_end += P.width
        P.width *= 2.0


# ----------------------------------------------------------------------------------------------------
# one direction: delta(eps) and eps(delta)
# ----------------------------------------------------------------------------------------------------

#: relative accuracy the quadrature aims at (on delta), and the largest estimate an answer may carry
DEFAULT_RTOL = 1e-8
ACCEPT_RTOL = 1e-7
#: the largest relative error estimate an eps(delta) answer may carry
EPS_ACCEPT = 1e-6
#: the relative accuracy on eps the iterates of an eps(delta) search aim at (their delta tolerance
#: follows from delta's log-slope, :meth:`_Direction.epsilon`), and the loosest delta tolerance used
EPS_RTOL = 2e-8
TOL_MAX = 1e-6
#: an eps(delta) search moves to the contour of the shifted loss once |log delta - log target| is
#: below SHIFT_NEAR at an eps above SHIFT_RATIO times the loss's infimum |s| (:meth:`_Direction.epsilon`)
SHIFT_NEAR = 0.5
SHIFT_RATIO = 100.0
SHIFT_MAX_STEPS = 3
SHIFT_SIGMA = 0.2
#: below this noise multiplier an eps(delta) search starts at the saddle-point estimate of its root
#: (:meth:`_Direction.start_guess`), not at eps = 0.  Measured (fewpart_bench.py's q, T grid, median of 3
#: CPU times per query, same run, without -> with the estimate): sigma = 0.2 median 77 -> 59 ms at
#: delta = 1e-5 and 101 -> 45 ms at 1e-10 (max 605 -> 62 ms); 0.25: 52 -> 46 / 53 -> 41 ms (max 463 -> 48);
#: 0.3: 47 -> 46 / 43 -> 36 ms but 0.77x per query at 1e-5; 0.4: 28 -> 43 ms at 1e-5 (the estimate's
#: kernel call, 61 real points, costs more than the search it shortens)
START_GUESS_SIGMA = 0.3
#: the relative accuracy of the contour that decides on which side of the target the other
#: direction's delta lies (:func:`fewpart_epsilon`)
SIDE_RTOL = 1e-5
#: the largest relative error estimate a delta(eps) answer may carry where cancellation puts the
#: floating-point budget above ``ACCEPT_RTOL`` (a quarter of it accepted as the budget, the quadrature
#: refined down to twice that; as for eps(delta), whose ``EPS_ACCEPT`` allows delta errors of
#: EPS_ACCEPT eps |d log delta / d eps|, often above 1e-6)
DELTA_ACCEPT = 1e-6
#: the floating-point budget (relative to delta) down to which a delta(eps) answer that cancellation
#: keeps from the strict tolerance halves its Filon panels (within the node budget; :func:`_evaluate`).
#: Measured at q = 1e-4, sigma = 1, T = 10, eps = 0.04680706 (eps(1e-12)): estimate 1.2e-6 -> 7.2e-7
#: (refused -> answered), 0.08 -> 0.18 s of CPU
DELTA_FP_GOAL = 0.5 * DELTA_ACCEPT
#: an eps(delta) search rebuilds its contour (once) at an iterate with REBUILD_LATE <= |log delta - log
#: target| <= REBUILD_NEAR whose eps differs from the contour's by more than REBUILD_MOVE of eps, where the
#: contour's abscissa is the truncation edge's cap, it holds REBUILD_NODES nodes and the saddle at that eps is
#: beyond REBUILD_RATIO times its abscissa (:meth:`_Direction._epsilon`)
REBUILD_NEAR = 1.0
REBUILD_MOVE = 0.25
REBUILD_RATIO = 1.6
REBUILD_NODES = 450
REBUILD_LATE = 1e-2
#: abscissae (times the failed contour's) tried once where an eps(delta) search's strict evaluation at its root
#: spent the node budget and the search cannot move to the shifted loss (:meth:`_Direction._lower_contour`)
#: (the lower first: near the root of such searches a contour at half the saddle's abscissa put delta ~1e-6 above
#: those at 0.1-0.25 of it, which agreed to ~3e-9 among themselves, beyond its estimate: sigma 0.5209, q 4.29e-8,
#: T 767929, delta 2.49e-12: eps 0.03745046644 at (0.5, 0.2), 0.03745049182 at (0.25, 0.1))
LOWER_FACTORS = (0.25, 0.1, 0.5)
#: the truncation's (one-sided) error is kept below this fraction of delta
TRUNC_FRACTION = 1e-10


class _Direction:
    """delta(eps) of one direction, caching the truncated composition and the last contour."""

    def __init__(self, groups: Sequence[tuple[float, float, int]], direction: str, rtol: float) -> None:
        self.groups = list(groups)
        self.direction = direction
        self.rtol = rtol
        #: the delta tolerance of the current evaluations: ``rtol``, or during an eps(delta) search the
        #: looser one that still holds eps to ``EPS_RTOL`` (:meth:`epsilon`)
        self.tol = rtol
        #: whether the contour works on the loss shifted by its infimum (Composition.shift); an
        #: eps(delta) search switches to it near the root when eps is far above that infimum's size
        self.shifted = False
        #: measured (eps(delta) at sigma = 0.5 and 0.061, q 1e-6..1e-3, delta 1e-5..1e-10): the switch
        #: pays at 2-3 steps (q = 1e-5, sigma = 0.5, T = 3, delta = 1e-9: 199 -> 119 ms) and is a wash
        #: or a loss at more steps (the contour is rebuilt from scratch; q = 1e-5, sigma = 0.5, T = 100,
        #: delta = 1e-10: 106 -> 221 ms; over the 168-query grid median 1.0x, sum +7 %)
        #: ... and below sigma = 0.2, where the atom of the steps not sampled dominates (measured:
        #: q = 0.01, sigma = 0.1, T = 30, delta = 1e-6 1.3 s -> 0.27 s; the largest of 8 points 1.3 -> 0.8 s)
        self.allow_shift = (sum(n for _, _, n in self.groups) <= SHIFT_MAX_STEPS
                            or min(s for _, s, _ in self.groups) < SHIFT_SIGMA)
        #: False once a search on the shifted contour failed (the retry stays unshifted)
        self.shift_ok = True
        self.K: Composition | None = None
        self.P: Panels | None = None
        self.P_eps = math.nan
        self.x0_min: list[float] | None = None
        #: log target of an eps(delta) search once near its root: the contours built from then on also cap
        #: the abscissa by the truncation edge's weight against it (Composition.edge_cap_rel)
        self.rel_target: float | None = None
        #: False once a search with that cap failed (:meth:`epsilon` retries without it)
        self.rel_ok = True
        self._lb = math.nan
        #: the contour a rebuild replaces (reused when the rebuild would give the same one)
        self._last: Panels | None = None

    def _loss_inf_size(self) -> float:
        return sum(-n * math.log1p(-q) for q, _, n in self.groups)

    def _composition(self, log_delta_guess: float) -> Composition:
        lb = math.log(TRUNC_FRACTION) + log_delta_guess
        if self.K is None or self.K.trunc > math.exp(lb) * 1.0001:
            self._lb = lb
            self.K = Composition(self.groups, self.direction, lb, self.x0_min, shifted=self.shifted)
            self.P = None
        return self.K

    def _contour(self, eps: float) -> Panels:
        K = self.K
        cs = _saddle(K, eps)
        cap = K.edge_cap()
        if self.direction == "remove" and cs > cap:
            # the truncation edge limits the abscissa.  Alternative: push the truncation out (its
            # error bound only shrinks) so that the edge stays negligible at the saddle, and re-take
            # the saddle of the less truncated K (the far mode now weighs in: it moves down).  Taken
            # only when it lowers Phi (the node sum's magnitude against delta, i.e. its cancellation)
            # by more than e^3: a longer x-range costs every node, and a capped abscissa is often
            # as good (large sigma)
            c1 = max(cap, min(cs, 0.05))
            phi_cap = float(_atomless(np.array([K.real(c1)]), eps)[0]) - c1 * eps - math.log(c1) - math.log1p(c1)
            x0_min = K.edge_x0(cs)
            K2 = Composition(self.groups, self.direction, self._lb, x0_min, shifted=self.shifted)
            cs2 = _saddle(K2, eps)
            c2 = max(min(cs2, K2.edge_cap()), min(cs2, 0.05))
            phi_push = float(_atomless(np.array([K2.real(c2)]), eps)[0]) - c2 * eps - math.log(c2) - math.log1p(c2)
            # ... or when it lowers the floating-point floor of the atom-removed sum (each node's e^K
            # rounds relative to |e^K|, not |e^K - 1|: a floor ~ eps_mach e^{K(c) - c eps} / c, independent
            # of Phi) by more than a factor 10: at small eps the capped abscissa leaves that floor above
            # the tolerance (q = 1e-3, sigma = 1, T = 10, eps = 0.53: 1.8e-7 of delta at the cap)
            fp_cap = K.real(c1) - c1 * eps - math.log(c1)
            fp_push = K2.real(c2) - c2 * eps - math.log(c2)
            if phi_push < phi_cap - 3.0 or (fp_push < fp_cap - 2.3 and phi_push < phi_cap + 1.0):
                self.x0_min = x0_min
                self.K = K = K2
                cs = cs2
        cap = K.edge_cap()
        if self.direction == "remove" and EDGE_REL_LOG is not None and self.rel_target is not None:
            # ... and, near the root of an eps(delta) search (:meth:`_epsilon`), by the edge's weight against
            # the target (its oscillating 1/u tail resolved otherwise)
            rc = K.edge_cap_rel(self.rel_target, eps)
            if rc >= EDGE_REL_MIN:
                cap = min(cap, rc)
        c = min(cs, cap)
        c = max(c, min(cs, 0.05))
        last = self._last
        if last is not None and last.K is K and last.c == c:
            # the same contour as the one being replaced (the abscissa capped by the truncation edge,
            # say): keep its refined panels
            self.P, self.P_eps = last, eps
            return last
        P = _build(K, eps, c, self.rtol)
        P.cap = cap
        self.P, self.P_eps = P, eps
        return P

    def log_delta(self, eps: float, log_guess: float = math.log(1e-12), strict: bool = True,
                  accept: float | None = None, steer: bool = True,
                  fp_share: float = 2.0, fp_goal: float | None = None) -> tuple[float, float, float]:
        """(log delta, d log delta / d eps, log absolute error estimate) at eps (-inf: delta = 0 exactly).

        The contour (abscissa and Gauss-Kronrod panels) of an earlier eps is reused: only e^{-z eps}
        changes, and :func:`_evaluate` re-checks the u-range and refines the panels for the new eps.
        Should that fail (cancellation beyond the floating-point budget, or the node budget), the
        contour is rebuilt at this eps once.

        ``strict=False`` with ``steer=False``: the refinement stops at the node budget or where the
        floating-point budget dominates instead of raising, aiming at ``rtol`` (not at the side of
        ``log_guess``): the caller judges the returned estimate.  ``fp_share``, ``fp_goal``: see :func:`_evaluate`.
        """
        K = self._composition(log_guess)
        if eps >= K.loss_sup:
            return -math.inf, 0.0, -math.inf
        lt = log_guess if steer else None
        # the contour works on the shifted loss L - s (Composition.shift): at eps - s
        es = eps - K.shift
        for _ in range(4):
            P = self.P
            fresh = P is None
            if fresh:
                P = self._contour(es)
            try:
                ld, dld, lerr = _evaluate(P, es, self.tol, strict=strict, accept=accept, log_target=lt,
                                          fp_share=fp_share, fp_goal=fp_goal)
            except FewPartError:
                if fresh:
                    raise
                P = self._contour(es)
                ld, dld, lerr = _evaluate(P, es, self.tol, strict=strict, accept=accept, log_target=lt,
                                          fp_share=fp_share, fp_goal=fp_goal)
            # the truncation bound must be negligible against the answer: else truncate further out
            # (not for a root-search iterate far below the target: it only steers the search, and
            # its estimate carries the bound)
            if K.trunc > TRUNC_FRACTION * 10.0 * math.exp(ld) and (strict or ld >= log_guess - 2.3):
                K = self._composition(ld)
                continue
            if K.trunc > 0.0:
                lerr = float(np.logaddexp(lerr, math.log(K.trunc)))
            return ld, dld, lerr
        raise FewPartError("the truncation bound did not settle below the answer")

    def _lower_contour(self, eps: float, log_target: float, accept: float) -> tuple[float, float, float] | None:
        """Where the strict evaluation near the root of an eps(delta) search spent the node budget: contours at
        LOWER_FACTORS times the failed one's abscissa, built at this eps and evaluated strictly (any c > 0 is
        exact; the saddle only minimises the node sum's magnitude).  The first that settles becomes the search's
        contour; returns its (log delta, slope, log error) as :meth:`log_delta` would, or None.

        Measured (sigma 0.5020, q 1.76e-8, T 858863, eps 0.0177, delta ~5e-12): at the saddle c = 11.8 the
        truncation edge's oscillation (frequency l(x0) = 2.5, below EDGE_REL_FREQ) kept 6015 nodes 1.8e-5 of
        delta from converging; at c = 1.2 .. 8.3 the contour settles in 585 .. 1020 nodes, delta within 2e-6
        of each other (non-strict).  Seeds 6 and 5 of benchmarks/fewpart_flagged_scan.py: refusals 16 -> 8,
        21 -> 12 (session 12; docs/benchmarks_fewpart.md)."""
        K = self.K
        P0 = self.P
        if K is None or P0 is None:
            return None
        es = eps - K.shift
        for f in LOWER_FACTORS:
            _check_budget()
            try:
                P = _build(K, es, f * P0.c, self.rtol)
                ld, dld, lerr = _evaluate(P, es, self.tol, accept=accept)
            except FewPartError:
                continue
            if K.trunc > TRUNC_FRACTION * 10.0 * math.exp(ld):
                return None
            if K.trunc > 0.0:
                lerr = float(np.logaddexp(lerr, math.log(K.trunc)))
            self.P, self.P_eps = P, eps
            return ld, dld, lerr
        return None

    def _can_shift(self, eps: float) -> bool:
        """Whether an eps(delta) search at ``eps`` may move to the contour of the shifted loss: REMOVE, not
        shifted yet (nor failed there), eps far above the loss's infimum (SHIFT_RATIO)."""
        return (self.direction == "remove" and not self.shifted and self.shift_ok
                and eps >= SHIFT_RATIO * self._loss_inf_size())

    def _estimate_at(self, eps: float, log_target: float) -> tuple | None:
        """(eps, estimated relative error of eps, direction) at an iterate near the root whose strict
        evaluation spent the node budget: delta evaluated as far as the budgets go (not strict, not
        steered), the estimate its error plus |log delta - log target|, divided by eps |d log delta / d eps|
        (as an answer's).  None where that evaluation fails or has no slope.  For the caller to report,
        flagged (:class:`FewPartError`'s ``estimate``), never as an answer."""
        try:
            ld, dld, lerr = self.log_delta(eps, log_target, strict=False, steer=False)
        except FewPartError:
            return None
        if not (math.isfinite(ld) and math.isfinite(dld) and dld < 0.0 and eps > 0.0):
            return None
        rel = (math.exp(min(lerr - ld, 700.0)) + abs(ld - log_target)) / (abs(dld) * eps)
        return (eps, rel, self.direction)

    def _start_shifted(self) -> bool:
        return (self.direction == "remove" and not self.shifted
                and min(s for _, s, _ in self.groups) < START_GUESS_SIGMA)

    def start_guess(self, log_target: float) -> float | None:
        """A starting point for eps(target): the saddle-point approximation of the contour integral of
        the shifted loss (switches this direction to it), from K on one real grid (one kernel call).

        log delta(eps) ~ Phi(c*) - log sqrt(2 pi Phi''(c*)), Phi(c) = K(c) - c (eps - s) - log c - log(c + 1)
        minimised over the grid c = e^{-7 .. 8} (step 1/4 in log c), Phi'' from the grid's second
        difference in log c (c^2 Phi'' = d^2 Phi / d(log c)^2 at the minimum); the eps where it meets the
        target by bisection.  Only a start (the root search verifies every iterate on the contour; any
        start converges): measured within -3 .. +1 % of the root where the search is costly (sigma 0.05-0.19,
        delta 1e-9-1e-10), up to +30 % where one participation decides delta (q T = 3e-3, delta 1e-5).
        None when the approximation does not cross the target on the grid.
        """
        self.shifted, self.K, self.P, self._last = True, None, None, None
        K = self._composition(log_target)
        lc = np.arange(-7.0, 8.0001, 0.25)
        cs = np.exp(lc)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            kk = K.real_many(cs)
            base = kk - lc - np.log1p(cs)
        base = np.where(np.isfinite(base), base, np.inf)

        def approx(eps: float) -> float:
            ph = base - cs * (eps - K.shift)
            i = int(np.argmin(ph))
            if i == 0:
                return math.inf  # the minimum below the grid: eps still in delta's flat start (delta ~ TV)
            if i == ph.size - 1:
                # the minimum beyond the grid: eps at or beyond the truncated loss's largest values
                # (K'(c) -> that supremum), where delta is far below any target
                return -math.inf
            if not np.isfinite(ph[i - 1:i + 2]).all():
                return math.nan
            d2 = (ph[i + 1] - 2.0 * ph[i] + ph[i - 1]) / (0.0625 * cs[i] * cs[i])
            return float(ph[i]) - 0.5 * math.log(2.0 * math.pi * d2) if d2 > 0.0 else math.nan

        lo, hi = 0.0, 1.0
        while True:
            v = approx(hi)
            if math.isnan(v):
                return None
            if v <= log_target:
                break
            lo, hi = hi, 2.0 * hi
            if hi > 1e7:
                return None
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            v = approx(mid)
            if math.isnan(v):
                return None
            if v > log_target:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-9 * hi:
                break
        return 0.5 * (lo + hi) if lo > 0.0 else None

    def chernoff_log_delta(self, eps: float) -> float:
        """min over t of psi(t) - t eps, psi(t) = K(t) + t log t - (t + 1) log(t + 1): log of an upper
        bound on delta(eps) (of the truncated composition; ADD is not truncated)."""
        K = self._composition(math.log(1e-12)) if self.K is None else self.K
        es = eps - K.shift  # (K of the shifted loss: K(t) - t eps is K_shifted(t) - t (eps - s))

        def f(lt: float) -> float:
            t = math.exp(lt)
            return K.real(t) + t * lt - (t + 1.0) * math.log1p(t) - t * es

        return _golden_min(f, -8.0, 6.0)

    def chernoff_eps(self, log_target: float) -> float:
        """min over t of (psi(t) - log target) / t: an upper bound on eps(target) (truncated K)."""
        K = self._composition(log_target)

        def f(lt: float) -> float:
            t = math.exp(lt)
            return (K.real(t) + t * lt - (t + 1.0) * math.log1p(t) - log_target) / t

        return max(_golden_min(f, -8.0, 6.0) + K.shift, 0.0)

    def epsilon(self, log_target: float, eps_start: float | None = None) -> tuple[float, float, float]:
        """(eps, log delta(eps), relative error of eps) with delta(eps) = target (eps = 0 when delta(0) <= target).

        See :meth:`_epsilon_search`.  Where a search whose contours were capped by the truncation edge's
        weight against the target (EDGE_REL_LOG) fails, it is run again from scratch without that cap
        (the cap only chooses a cheaper abscissa; measured: q = 1e-6, sigma = 0.4, T = 2, delta = 1e-12
        spent the node budget capped, and answers uncapped).
        """
        state = (self.shifted, self.allow_shift, self.shift_ok)
        try:
            return self._epsilon_search(log_target, eps_start)
        except FewPartError:
            if self.rel_target is None:
                raise
            self.shifted, self.allow_shift, self.shift_ok = state
            self.K, self.P, self._last, self.x0_min = None, None, None, None
            self.rel_target, self.rel_ok = None, False
            return self._epsilon_search(log_target, eps_start)

    def _epsilon_search(self, log_target: float, eps_start: float | None = None) -> tuple[float, float, float]:
        """(eps, log delta(eps), relative error of eps) with delta(eps) = target (eps = 0 when delta(0) <= target).

        See :meth:`_epsilon`.  Each iterate's delta is evaluated to the relative tolerance that holds
        eps to ``EPS_RTOL``: a relative error r of delta moves eps by r / (eps |d log delta / d eps|)
        relatively, so the tolerance is max(rtol, EPS_RTOL eps |slope| / 2), with the slope of the
        previous iterate (halved: near the root consecutive slopes agree).  The answer's estimate is
        computed from its own slope, and its acceptance criteria are unchanged.
        """
        try:
            if eps_start is None and self._start_shifted():
                # below sigma = SHIFT_SIGMA: the search starts at the saddle-point estimate of the root, on
                # the contour of the shifted loss (:meth:`start_guess`), not at eps = 0 on the unshifted one
                g = self.start_guess(log_target)
                eps_start = g
                if g is None or not self.allow_shift or g < SHIFT_RATIO * self._loss_inf_size():
                    # (near the loss's infimum: the unshifted contour, and the switch near the root)
                    self.shifted, self.K, self.P, self._last = False, None, None, None
            return self._epsilon(log_target, eps_start)
        except FewPartError:
            if not self.shifted:
                raise
            # the shifted contour did not settle: the search again on the unshifted one
            self.shifted, self.allow_shift, self.shift_ok = False, False, False
            self.K, self.P, self._last = None, None, None
            return self._epsilon(log_target, eps_start)
        finally:
            self.tol = self.rtol

    def _epsilon(self, log_target: float, eps_start: float | None = None) -> tuple[float, float, float]:
        """(eps, log delta(eps), relative error of eps) with delta(eps) = target (eps = 0 when delta(0) <= target).

        Safeguarded Newton on log delta (convex and decreasing), started at ``eps_start`` or at 0;
        every step reuses one contour.
        """
        self._composition(log_target)
        # from the left (delta(0) = TV first): the iterates then keep delta >= target, where the node
        # sum cancels least (the Chernoff bound on eps is far too large in this corner)
        eps = eps_start if eps_start is not None and eps_start > 0.0 else 0.0
        lo, hi = 0.0, math.inf
        lo_known = False  # delta(lo) > target established (lo = 0 is not, until evaluated)
        K = self.K
        if K is not None and math.isfinite(K.loss_sup):
            hi = K.loss_sup
        if not eps > 0.0:
            eps = 0.0
        rebuilt = False
        slope = math.nan  # |d log delta / d eps| at the last iterate where it is known
        prev = (math.nan, -1)  # the previous iterate's eps and node count (a stalled search)
        moved = False  # the contour rebuilt once near the root (REBUILD_NEAR)
        relcapped = False  # ... and once for the truncation edge's weight against the target (EDGE_REL_LOG)
        lowered = False  # ... and once at a lower abscissa where the strict evaluation spent the node budget
        for _ in range(60):
            eps = min(max(eps, lo), hi) if math.isfinite(hi) else max(eps, lo)
            self.tol = self.rtol
            if math.isfinite(slope) and eps > 0.0:
                self.tol = min(max(self.rtol, 0.5 * EPS_RTOL * eps * slope), TOL_MAX)
            ld, dld, lerr = self.log_delta(eps, log_target, strict=False)
            f = ld - log_target
            if math.isfinite(dld) and dld < 0.0:
                slope = -dld
            if (EDGE_REL_LOG is not None and self.rel_ok and not relcapped and self.direction == "remove"
                    and not self.allow_shift and self.P is not None
                    and REBUILD_LATE <= abs(f) <= REBUILD_NEAR
                    and self.P.c > EDGE_REL_SLACK * max(self.K.edge_cap_rel(log_target, eps - self.K.shift,
                                                                            EDGE_REL_TRIGGER, EDGE_REL_FREQ),
                                                    EDGE_REL_MIN)):
                # near the root, on a contour whose abscissa puts the truncation edge's weight above e^-8 of the
                # target (Composition.edge_cap_rel; it depends on eps, unknown when the search's first contour
                # was built at eps = 0): the refinement near the root would resolve the edge's oscillating tail
                # panel by panel (q = 1e-6, sigma = 0.5, T = 1000, delta = 1e-10: c = 4.40, 6015 nodes).  From
                # here on the contours' abscissae are capped at the edge weight e^EDGE_REL_LOG against the
                # target (c 4.40 -> 0.58, the root's contour ~1200 nodes, the query 220 -> 57 ms); the contour
                # is rebuilt here once
                relcapped = True
                self.rel_target = log_target
                self._last, self.P = self.P, None
                continue
            if (REBUILD_NEAR > 0.0 and not moved and abs(f) <= REBUILD_NEAR and self.P is not None
                    and abs(eps - self.P_eps) > REBUILD_MOVE * eps and self.P.n >= REBUILD_NODES
                    and self.P.c >= (1.0 - 1e-9) * getattr(self.P, "cap", self.K.edge_cap())):
                # near the root on a contour built at an eps far from it (eps = 0, the search's start) whose
                # abscissa is the truncation edge's cap: where the saddle at this eps lies far beyond
                # (REBUILD_RATIO), the capped abscissa needs many more panels than the contour rebuilt here
                # (its own abscissa, the truncation pushed out where that pays).  Checked once per search, at
                # the first such iterate whose contour holds REBUILD_NODES, and taken only while |f| >=
                # REBUILD_LATE (later the refinement is already spent).  Measured (fewpart_ab.py, sigma = 0.5,
                # delta = 1e-10, same run): q = 1e-3, T = 10 98 -> 47 ms (2160 -> 450 nodes); q = 1e-2, T = 10
                # 82 -> 57 ms; q = 1e-4, T = 10 134 -> 111 ms; no other point of the grid beyond +-10 %.
                # Without the node and |f| conditions it was a loss (q = 0.05, sigma = 1.5, T = 10, delta =
                # 1e-5: 8.8 -> 14.8 ms; q = 1e-4, sigma = 0.5, T = 100, delta = 1e-10: 42 -> 66 ms)
                moved = True
                if abs(f) >= REBUILD_LATE and _saddle(self.K, eps - self.K.shift) >= REBUILD_RATIO * self.P.c:
                    self._last, self.P = self.P, None
                    continue
            if self.allow_shift and abs(f) <= SHIFT_NEAR and self._can_shift(eps):
                # near the root, with eps far above |s| (s = the loss's infimum, where the steps not
                # sampled put their near-atom): continue on a contour of the shifted loss L - s, whose
                # atom removal takes that near-atom out (Composition.shift); delta is the same function,
                # so the bracket stays
                self.shifted = True
                self.K, self.P, self._last = None, None, None
                self._composition(log_target)
                K = self.K
                continue
            # a floating-point budget on delta that keeps eps's estimate (fp + quadrature <= 3 fp,
            # divided by delta's log-slope) within EPS_ACCEPT
            accept = max(0.25 * ACCEPT_RTOL, 0.3 * EPS_ACCEPT * eps * abs(dld))
            if abs(f) <= 1e-6 and lerr - ld > math.log(max(self.rtol, 0.25 * accept)):
                # near the root, but the contour (built at another eps) misses the tolerance here:
                # rebuild it at this eps (its own abscissa; once per search) and evaluate strictly
                if not rebuilt:
                    self._last, self.P = self.P, None
                    rebuilt = True
                    # the bracket was set by the less accurate contour: start it afresh
                    lo, hi, lo_known = 0.0, (K.loss_sup if K is not None else math.inf), False
                try:
                    ld, dld, lerr = self.log_delta(eps, log_target, accept=accept)
                except FewPartError as exc:
                    if "did not converge" not in str(exc):
                        raise
                    if not self._can_shift(eps):
                        low = self._lower_contour(eps, log_target, accept) if not lowered else None
                        lowered = True
                        if low is None:
                            raise FewPartError(str(exc), self._estimate_at(eps, log_target)) from exc
                        ld, dld, lerr = low
                        f = ld - log_target
                        lo, hi, lo_known = 0.0, (K.loss_sup if K is not None else math.inf), False
                        continue
                    # the node budget spent near the root on the unshifted contour: e^K keeps the phase
                    # e^{iu s} of the loss's infimum s out to u >> 1/q, which the panels must resolve
                    # (RES_PHASE).  The search continues on the contour of the shifted loss, as the switch
                    # above does where allowed (defect D1 of 666f31d: q = 2.9e-5, sigma = 0.333, T = 4,
                    # delta = 1.16e-6: 338 unresolved panels at u ~ 3e7 spent the budget, the query was
                    # refused; shifted, eps = 0.8655328388 at estimate 5.8e-9, in dp_accounting's PLD bracket)
                    self.shifted = True
                    self.K, self.P, self._last = None, None, None
                    self._composition(log_target)
                    K = self.K
                    lo, hi, lo_known = 0.0, (K.loss_sup if math.isfinite(K.loss_sup) else math.inf), False
                    continue
                f = ld - log_target
            if eps == 0.0 and f <= 0.0:
                if lerr - ld > math.log(self.rtol):
                    ld, dld, lerr = self.log_delta(eps, log_target)
                    f = ld - log_target
                if f <= 0.0:
                    return 0.0, ld, 0.0
            if f > 0.0:
                lo = max(lo, eps)
                lo_known = True
            else:
                hi = min(hi, eps)
            en = eps - f / dld if dld < 0.0 and math.isfinite(ld) else math.nan
            # converged: |log delta - log target| at 1e-11, or (near the root, evaluated within its
            # tolerance) a Newton step below 1e-11 of eps (log delta's rounding noise can keep |f|
            # at ~1e-11 where eps |d log delta / d eps| is large)
            # ... or stalled: the contour was not refined since the previous iterate, which lay within
            # 1e-9 of this one, and the Newton step is below 1e-9 of eps (where the node budget stops the
            # refinement, delta's floating-point noise moves the iterates by ~1e-10 and the 1e-11 step is
            # never reached: q = 1e-6, sigma = 0.5, T = 1e4, delta = 1e-10 repeated 9 evaluations until the
            # bracket closed); the remaining |f| is added to the estimate
            n_now = self.P.n if self.P is not None else -1
            stalled = (abs(eps - prev[0]) <= 1e-9 * eps and n_now == prev[1] and abs(en - eps) <= 1e-9 * eps)
            prev = (eps, n_now)
            if abs(f) <= 1e-11 or (abs(f) <= 1e-6 and (abs(en - eps) <= 1e-11 * eps or stalled)
                                   and lerr - ld <= math.log(max(self.rtol, 0.25 * accept))):
                rel = (math.exp(lerr - ld) + abs(f)) / max(abs(dld) * eps, 1e-300)
                return eps, ld, rel
            if not (lo < en < hi):
                if not lo_known and en <= lo:
                    en = 0.0
                else:
                    en = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * max(eps, 1e-12)
            if lo_known and math.isfinite(hi) and hi - lo <= 1e-15 * hi:
                # the bracket closed (delta varies by less than the iterates' resolution across it):
                # answer only after a strict evaluation there confirms the root
                eps = en
                acc = max(0.25 * ACCEPT_RTOL, 0.3 * EPS_ACCEPT * eps * abs(dld)) if math.isfinite(dld) else None
                ld, dld, lerr = self.log_delta(eps, log_target, accept=acc)
                f = ld - log_target
                if not abs(f) <= 1e-6 or not math.isfinite(dld):
                    raise FewPartError(f"eps(delta): the bracket closed at eps={eps:.6g} away from the root")
                rel = math.exp(lerr - ld) / max(abs(dld) * eps, 1e-300)
                return eps, ld, rel
            eps = en
        raise FewPartError(f"eps(delta) did not converge (last eps={eps:.6g})")


def _golden_min(f, lo: float, hi: float, tol: float = 1e-3) -> float:
    """min of a unimodal f on [lo, hi] by golden section (the value)."""
    from .._golden import golden_section

    *_, f1, _, f2 = golden_section(f, lo, hi, tol=tol)
    return min(f1, f2)


def _norm_groups(groups) -> list[tuple[float, float, int]]:
    out = []
    for g in groups:
        q, s, n = g
        q, s, n = float(q), float(s), int(n)
        if not (0.0 < q < 1.0) or not (s > 0.0) or n < 1:
            raise ValueError(f"fewpart: each group must be (q in (0, 1), sigma > 0, count >= 1), got {g!r}")
        out.append((q, s, n))
    if not out:
        raise ValueError("fewpart: no groups")
    return out


#: the largest sum q n where the method is offered (it is designed for sum q n <= 0.5; up to this
#: it is the fallback where the contour does not settle: at small sigma and tiny delta the contour
#: refuses up to sum q n ~ 13 (sigma = 1, q = 1e-3, delta = 1e-12), and this method answers there in
#: ~20-100 ms, agreeing with the contour to <= 3e-9 wherever both settle).  Was 32: the contour also
#: refuses beyond it at tiny q and small sigma (q 2.146e-6, sigma 0.711, delta 3.92e-12: q T = 32 .. 2146
#: gave the flagged Chernoff bound 1.95-2.03 for eps 0.130-1.08, the quadrature answers in 20-110 ms at
#: estimate <= 1.4e-7).  Over the 47 points with q T in 33..2983 of a random sweep (sigma 0.4-1.2, q
#: 1e-8..1e-3, delta 1e-12..1e-6) where the contour settled, this method agreed with it to <= 1.4e-8
#: (median ~2e-12), 15-320 ms; at q T 1e4-3e4 it answers or refuses loudly (sigma 0.4, q 1e-4, q T 3e4:
#: "did not converge")
SUPPORT_QN = 1e4
#: the smallest noise multiplier offered (the accepted domain's; below 0.2 the search finishes on the
#: contour of the shifted loss, agreeing with an independent conditioning reference to <= 4e-11 at
#: sigma 0.05-0.061, and inside dp_accounting's PLD bracket at sigma 0.1-0.15)
SIGMA_MIN = 0.05


def supports(groups) -> bool:
    """True where this method answers: subsampled Gaussian groups with sigma in [SIGMA_MIN, 50], q T summed
    at most ``SUPPORT_QN``.

    It is designed for q T <= 0.5 (few participations); above that the contour engine of ``exact.py``
    is usually faster, and this method is its fallback (at large q T it can refuse, loudly).
    """
    try:
        g = _norm_groups(groups)
    except (ValueError, TypeError):
        return False
    return sum(q * n for q, _, n in g) <= SUPPORT_QN and all(SIGMA_MIN <= s <= 50.0 for _, s, _ in g)


def fewpart_delta(groups, eps: float, direction: str = "both", rtol: float = DEFAULT_RTOL) -> tuple[float, float, str]:
    """Exact delta(eps) of a Poisson-subsampled Gaussian composition; groups: [(q, sigma, count), ...].

    Returns (delta, relative error estimate, direction): with ``direction="both"`` the larger of
    REMOVE and ADD.  Raises :class:`FewPartError` when the estimate exceeds ``ACCEPT_RTOL``.
    """
    g = _norm_groups(groups)
    eps = float(eps)
    dirs = DIRECTIONS if direction == "both" else (direction,)
    best = None
    for d in dirs:
        res = None
        if d == "remove":
            D = _Direction(g, d, rtol)
            if eps >= SHIFT_RATIO * D._loss_inf_size():
                # far above the loss's infimum: on the contour of the shifted loss first (as the end of an
                # eps(delta) search, _Direction.epsilon), the unshifted one should it not settle
                D.shifted = True
                try:
                    res = D.log_delta(eps)
                except FewPartError:
                    res = None
        if res is None:
            D = _Direction(g, d, rtol)
            try:
                res = D.log_delta(eps)
            except FewPartError as exc:
                if "cancellation" not in str(exc) and "did not converge" not in str(exc):
                    raise
                # cancellation beyond ACCEPT_RTOL / 4, or the node budget spent before rtol: refined as far
                # as the budgets allow, the estimate reached (floating-point budget included) accepted up to
                # DELTA_ACCEPT below.  The quadrature is refined to 1/4 of the floating-point budget
                # (fp_share): the estimate then ~1.25x that budget instead of up to 3x (measured, q = 1e-4,
                # sigma = 1, against the direct recursion: T = 2, eps = 0.036 estimate 1.4e-6 -> 6.9e-7,
                # error 3.3e-7 -> 3.0e-8; T = 10, eps = 0.04 estimate 1.2e-6 -> 5.6e-7; ~1.5x the CPU time)
                res = D.log_delta(eps, strict=False, steer=False, fp_share=0.25, fp_goal=DELTA_FP_GOAL)
                if d == "remove" and eps >= SHIFT_RATIO * D._loss_inf_size() and res[2] - res[0] > math.log(DELTA_ACCEPT):
                    # ... and on the shifted loss's contour, the smaller estimate kept: unshifted, e^K keeps the
                    # phase e^{iu s} out to u ~ 1/q, which the panels must resolve (q = 1e-4, sigma = 0.7, T = 2,
                    # eps = 0.22: node budget spent at estimate 4.5e-6 unshifted, 4.1e-8 shifted)
                    D2 = _Direction(g, d, rtol)
                    D2.shifted = True
                    try:
                        r2 = D2.log_delta(eps, strict=False, steer=False, fp_share=0.25, fp_goal=DELTA_FP_GOAL)
                    except FewPartError:
                        r2 = None
                    if r2 is not None and math.isfinite(r2[0]) and r2[2] - r2[0] < res[2] - res[0]:
                        res = r2
        ld, _, lerr = res
        val = math.exp(ld) if math.isfinite(ld) else 0.0
        # (an estimate astronomically above the value, delta far below the floating-point floor: a huge
        # rel, refused below, not an OverflowError)
        rel = math.exp(min(lerr - ld, 700.0)) if math.isfinite(ld) else 0.0
        if best is None or val > best[0]:
            best = (val, rel, d)
    if best[1] > DELTA_ACCEPT:
        raise FewPartError(f"estimated relative error {best[1]:.3g} above {DELTA_ACCEPT:g}", best)
    return best


def fewpart_epsilon(groups, delta: float, direction: str = "both", rtol: float = DEFAULT_RTOL) -> tuple[float, float, str]:
    """Exact eps(delta) (the smallest eps >= 0 with delta(eps) <= delta); groups: [(q, sigma, count), ...].

    Returns (eps, relative error estimate of eps, direction).  With ``direction="both"`` REMOVE is
    solved first and ADD only when delta_ADD(eps_REMOVE) exceeds the target (delta is decreasing in
    eps, so otherwise eps_ADD <= eps_REMOVE).  Raises :class:`FewPartError` when it cannot reach
    ``ACCEPT_RTOL``.
    """
    g = _norm_groups(groups)
    delta = float(delta)
    if not (0.0 < delta < 1.0):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    lt = math.log(delta)
    if direction == "both":
        try:
            e_r, _, rel_r = _Direction(g, "remove", rtol).epsilon(lt)
        except FewPartError as exc:
            # REMOVE's estimate (node budget spent at the root) stands for the answer only where ADD's
            # delta at it is settled below the target without a contour (its loss bound, its rigorous
            # Chernoff bound): else ADD's eps could be the larger one, and no estimate is attached
            est = exc.estimate
            if est is None:
                raise
            add = _Direction(g, "add", rtol)
            if not (est[0] >= sum(-n * math.log1p(-q) for q, _, n in g) or add.chernoff_log_delta(est[0]) <= lt):
                raise FewPartError(str(exc)) from exc
            raise
        add = _Direction(g, "add", rtol)
        # ADD's loss is bounded by sum n log(1/(1-q)), and its Chernoff bound is rigorous (no
        # truncation): either settles delta_ADD(eps_REMOVE) <= target without a contour
        if e_r >= sum(-n * math.log1p(-q) for q, _, n in g) or add.chernoff_log_delta(e_r) <= lt:
            ld_a = -math.inf
        else:
            # only the side of the target matters here: decided when clear by the estimate's own
            # error, else ADD's eps is solved (and compared)
            # (on a contour whose u-range is set for a relative accuracy of SIDE_RTOL, not rtol: the
            # side is taken only with a margin of 1e-2 beyond the estimate, far above that range's error)
            ld_a, _, lerr_a = _Direction(g, "add", SIDE_RTOL).log_delta(e_r, lt, strict=False)
            if not float(np.logaddexp(ld_a, lerr_a)) + 1e-2 <= lt:
                ld_a = math.inf
        if ld_a <= lt:
            best = (e_r, rel_r, "remove")
        else:
            e_a, _, rel_a = add.epsilon(lt, eps_start=e_r)
            best = (e_a, rel_a, "add") if e_a > e_r else (e_r, rel_r, "remove")
    else:
        e, _, rel = _Direction(g, direction, rtol).epsilon(lt)
        best = (e, rel, direction)
    if best[1] > EPS_ACCEPT:
        raise FewPartError(f"estimated relative error of eps {best[1]:.3g} too large", best)
    return best
