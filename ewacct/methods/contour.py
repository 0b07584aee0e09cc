"""The saddle-point contour integral for delta(eps) of a composition, in one direction.

For the upper measure P of a direction, privacy loss L_T and K(z) = log E_P[exp(z L_T)],

    delta(eps) = E_P[(1 - exp(eps - L_T))_+] = (1/2 pi i) int_{c - i inf}^{c + i inf} exp(K(z) - z eps) / (z (z+1)) dz

for every real c > 0 (the two-sided Laplace transform of l -> (1 - e^{eps - l})_+ is
e^{-z eps} / (z (z+1))).  On z = c + i u the integrand is conjugate-symmetric, so

    delta(eps) = (1/pi) int_0^inf Re[exp(K(c + iu) - (c + iu) eps) / ((c + iu)(c + 1 + iu))] du .

Discretisation (docs/math.md, "The exact engine").  The trapezoidal rule with step h equals, by the
Poisson summation formula, the exact value plus the aliases

    delta_h(eps) = delta(eps) + sum_{k != 0} exp(c k P) delta(eps + k P),     P = 2 pi / h,

all of them >= 0.  The k < 0 aliases sum to at most 2 exp(-c P) (delta <= 1); the k > 0 aliases to at
most 2 exp(psi(s) - s eps - (s - c) P) for any s > c, where delta(x) <= exp(psi(s) - s x),
psi(s) = K(s) + s log s - (s+1) log(s+1) (a Chernoff bound on the payoff).  P is chosen from these
(rigorous, given K) bounds; the u-range is marched until the remaining tail is negligible.

Exact k < 0 aliases.  For every real x, (1 - e^{x - L})_+ = 1 - e^{x - L} + (e^{x - L} - 1)_+, and the
last term vanishes where x <= L.  So where the loss is bounded below under P (ess inf L_T = l_inf > -inf,
``LogMgf.loss_inf``: the REMOVE direction of Poisson-subsampled Gaussians, L >= sum_g n_g log(1 - q_g)),

    delta(x) = 1 - m e^x     for every x <= l_inf,     m = E_P[e^{-L_T}] = exp(K(-1)) (1 when Q << P),

and when eps - P <= l_inf every k < 0 alias is known in closed form:

    A(eps) = sum_{k >= 1} e^{-c k P} (1 - m e^{eps - k P})
           = e^{-cP} / (1 - e^{-cP}) - m e^{eps} e^{-(c+1)P} / (1 - e^{-(c+1)P})   (>= 0).

:func:`log_delta_on` subtracts it: the k < 0 aliases then leave only rounding, and P is set by the
k > 0 aliases alone (:func:`alias_period`; its floor is eps - l_inf plus a margin, and
e^{-cP} <= e^{NEG_PEN} delta keeps the subtraction's cancellation small).  The k > 0 bound needs s > c
only, so a small abscissa now has a short period: at q = 0.01, sigma = 1, T = 10, c = 0.3 c* gives
P = 5 where the e^{-cP} bound needed P = 17.6.

Only values of the per-group log-MGF enter; the method knows nothing of mechanisms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from numba import njit

from . import budget

#: nodes evaluated per batch while marching along the contour
CHUNK = 48
#: most nodes of one chunk of build_contour (one kernel call: ~0.1-0.5 ms at 128)
CHUNK_MAX = 128
#: node budget of one contour for one group; divided among the groups of a heterogeneous history
MAX_NODES = 12_000
#: the kernel accuracy (log of its relative aliasing target) of the contour's first chunk, and the
#: least asked of any chunk (ewacct._kernels.mgf.TRAP_L, TRAP_L_MIN)
TRAP_L_FULL = 38.0
TRAP_L_FLOOR = 14.0
#: the kernel's error budget on delta is spread over this many chunks (a contour has at most ~100)
KERNEL_CHUNKS = 32.0
LOG2 = math.log(2.0)
EPS_MACH = 2.2e-16


class ContourError(ArithmeticError):
    """The quadrature could not reach its tolerance (the result must not be trusted)."""


@dataclass
class LogMgf:
    """K(z) of a composition in one direction: complex values and real derivatives.

    Args:
        complex_fn: z (complex array) -> K(z) (complex array), the sum over groups.
        real_fn: (t, nmax) -> [K(t), K'(t), ..., K^(nmax)(t)] for real t >= 0.
        loss_sup: essential supremum of L_T under P (inf if unbounded); delta(eps) = 0 beyond.
    """

    complex_fn: Callable[[np.ndarray], np.ndarray]
    real_fn: Callable[[float, int], np.ndarray]
    loss_sup: float = math.inf
    #: node budget of one contour (deterministic: a query that cannot settle within it fails loudly)
    max_nodes: int = 12_000
    #: optional (z, trap_l) -> (K(z), estimated absolute error of K(z)) with the kernel aimed at a
    #: relative error exp(-trap_l): build_contour then asks far less accuracy of nodes whose terms are
    #: far below the peak and carries the kernel's error (Contour.kernel_bound)
    complex_err_fn: Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]] | None = None
    #: whether |exp(K(c + iu))| may decay far slower than its Gaussian model (few participations: the
    #: composition sets it); choose_abscissa then checks the model with a node (and probes the decay)
    slow_decay: bool = True
    #: essential infimum of L_T under P (-inf if unbounded below or unknown); where finite, the k < 0
    #: aliases are subtracted exactly (module docstring), with m = E_P[e^{-L_T}] = ``mgf_minus1``
    loss_inf: float = -math.inf
    mgf_minus1: float = 1.0
    #: N > 0 where exp(K / N) is smooth enough along the contour to be interpolated (the composition's
    #: total step count: K / N is the mean per-step log-MGF); 0: every node from the kernel
    #: (:func:`_interp_chunk`)
    interp_n: float = 0.0

    def psi(self, s: float) -> float:
        """Chernoff exponent: delta(x) <= exp(psi(s) - s x) for every s > 0."""
        return float(self.real_fn(s, 0)[0]) + s * math.log(s) - (s + 1.0) * math.log1p(s)


@dataclass
class Contour:
    """Node values exp(K(z_n)) on z_n = c + i n h, n = 0..N-1, reusable for every eps nearby."""

    c: float
    h: float
    logk: np.ndarray  # K(z_n), complex
    alias_s: list[tuple[float, float]] = field(default_factory=list)  # (s, psi(s)) used for the k > 0 bound
    #: log of (h/pi) sum_n |exp(K_n)| / |z_n (z_n + 1)| * err_n, err_n the kernel's error estimate of
    #: K_n (-inf when the kernel gives none): the kernel's error of delta_h at eps is this times e^{-c eps}
    lkern0: float = -math.inf
    #: LogMgf.loss_inf and mgf_minus1 of the composition (the exact k < 0 aliases, :meth:`neg_exact`)
    loss_inf: float = -math.inf
    mgf_minus1: float = 1.0
    #: the terms' eps-independent weights (:func:`_node_weights`), made by the first log_delta_on
    w1: np.ndarray | None = None

    @property
    def period(self) -> float:
        return 2.0 * math.pi / self.h

    def neg_exact(self, eps: float) -> bool:
        """Whether every k < 0 alias at eps is known in closed form (eps - P <= ess inf L_T)."""
        return eps - self.period <= self.loss_inf

    def log_neg_alias(self, eps: float) -> tuple[float, float]:
        """(log A(eps), A'(eps) / A(eps)): the k < 0 aliases' sum where :meth:`neg_exact` (module
        docstring); A > 0 there (eps - kP <= l_inf <= 0 for every k >= 1)."""
        P, c = self.period, self.c
        la = -c * P - math.log(-math.expm1(-c * P))
        lb = math.log(self.mgf_minus1) + eps - (c + 1.0) * P - math.log(-math.expm1(-(c + 1.0) * P))
        r = math.exp(lb - la)  # < e^{eps - P} <= e^{l_inf} <= 1
        return la + math.log1p(-r), -r / (1.0 - r)

    def kernel_bound(self, eps: float) -> float:
        """log of the estimated error of delta_h(eps) from the log-MGF kernel's own quadrature error
        (first order: |d exp(K_n)| = |exp(K_n)| |dK_n|; every term scales as e^{-c eps})."""
        return self.lkern0 - self.c * eps

    @property
    def kmax(self) -> float:
        """max |K(z_n)|: sets the floating-point error of the node values (computed once: nodes are fixed)."""
        v = self.__dict__.get("_kmax")
        if v is None:
            v = self.__dict__["_kmax"] = float(np.max(np.abs(self.logk)))
        return v

    @property
    def n(self) -> int:
        return int(self.logk.shape[0])

    @property
    def u(self) -> np.ndarray:
        return self.h * np.arange(self.n)

    def alias_bound(self, eps: float) -> float:
        """log of a rigorous bound on the aliasing error of delta_h(eps) (given exact K values)."""
        P = 2.0 * math.pi / self.h
        if self.neg_exact(eps):
            lo = -math.inf  # subtracted exactly by log_delta_on (its rounding is the node sum's)
        else:
            lo = LOG2 - self.c * P if self.c * P > LOG2 else math.inf
        hi = math.inf
        for s, ps in self.alias_s:
            g = (s - self.c) * P
            if g > LOG2:
                hi = min(hi, LOG2 + ps - s * eps - g)
        return float(np.logaddexp(lo, hi))


#: nodes between exact phase factors in :func:`_node_sums_pre` (the recurrence in between drifts by
#: ~ROT_SYNC eps_mach, within the node sum's rounding budget, 32 sqrt(n) eps_mach)
ROT_SYNC = 16


@njit(cache=True)
def _node_weights(logk: np.ndarray, c: float, h: float) -> np.ndarray:
    """exp(K_n - Re K_0) / (z_n (z_n + 1)), z_n = c + i n h: the eps-independent part of the terms."""
    n = logk.shape[0]
    out = np.empty(n, dtype=np.complex128)
    r0 = logk[0].real
    for k in range(n):
        z = complex(c, k * h)
        out[k] = np.exp(logk[k] - r0) / (z * (z + 1.0))
    return out


@njit(cache=True)
def _node_sums_pre(w1: np.ndarray, r0: float, c: float, h: float, eps: float):
    """:func:`_node_sums` from the weights of :func:`_node_weights`: the term of node n at eps is
    w1_n e^{-i n h eps} times e^{m}, m = Re K_0 - c eps; the phase by a recurrence, exact every
    ROT_SYNC nodes (one complex product per node instead of a complex exp and two divisions)."""
    m = r0 - c * eps
    s = 0.0
    d = 0.0
    a = 0.0
    tail = 0.0
    n = w1.shape[0]
    step = complex(math.cos(h * eps), -math.sin(h * eps))
    rot = 1.0 + 0.0j
    for k in range(n):
        if k % ROT_SYNC == 0:
            ph = k * h * eps
            rot = complex(math.cos(ph), -math.sin(ph))
        t1 = w1[k] * rot
        rot = rot * step
        wt = 0.5 if k == 0 else 1.0
        s += wt * t1.real
        # t2 = t1 z: its real part
        d -= wt * (t1.real * c - t1.imag * (k * h))
        at = abs(t1)
        a += wt * at
        if k >= n - 8:
            tail = max(tail, at * k * h / math.pi)
    scale = h / math.pi
    if s <= 0.0:
        return -np.inf, 0.0, math.log(a * scale) + m, math.log(tail + 1e-300) + m
    return math.log(s * scale) + m, d / s, math.log(a * scale) + m, math.log(tail + 1e-300) + m


@njit(cache=True)
def _node_sums(logk: np.ndarray, c: float, h: float, eps: float):
    """(log delta_h, delta_h' / delta_h, log sum|terms|, log tail estimate) at eps.

    Terms are scaled by exp(-m), m = Re K(c) - c eps, to stay in range.  The plain form (one complex exp
    per node); :func:`log_delta_on` uses :func:`_node_sums_pre` (tests/test_exact.py compares them).
    """
    m = logk[0].real - c * eps
    s = 0.0
    d = 0.0
    a = 0.0
    tail = 0.0
    n = logk.shape[0]
    for k in range(n):
        z = complex(c, k * h)
        v = np.exp(logk[k] - z * eps - m)
        t1 = v / (z * (z + 1.0))
        t2 = v / (z + 1.0)
        wt = 0.5 if k == 0 else 1.0
        s += wt * t1.real
        d -= wt * t2.real
        at = abs(t1)
        a += wt * at
        if k >= n - 8:
            tail = max(tail, at * k * h / math.pi)
    scale = h / math.pi
    if s <= 0.0:
        return -np.inf, 0.0, math.log(a * scale) + m, math.log(tail + 1e-300) + m
    return math.log(s * scale) + m, d / s, math.log(a * scale) + m, math.log(tail + 1e-300) + m


def saddle(K: LogMgf, eps: float, c0: float | None = None) -> float:
    """Minimiser c > 0 of Phi(c) = K(c) - c eps - log c - log(c + 1) (convex)."""

    def dphi(c: float) -> tuple[float, float]:
        k = K.real_fn(c, 2)
        return (float(k[1]) - eps - 1.0 / c - 1.0 / (c + 1.0),
                float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2))

    lo, hi = 0.0, math.inf
    c = c0 if c0 and c0 > 0 else 1.0
    for _ in range(200):
        g, gp = dphi(c)
        if g > 0.0:
            hi = c
        else:
            lo = c
        if abs(g) <= 1e-12 * (abs(eps) + 1.0 / c):
            return c
        cn = c - g / gp
        if not (lo < cn < hi) or not math.isfinite(cn):
            cn = 0.5 * (lo + hi) if math.isfinite(hi) else max(2.0 * c, lo * 2.0)
        if hi - lo < 1e-14 * hi:
            return 0.5 * (lo + hi)
        c = cn
        if c > 1e8:
            raise ContourError("no saddle point below 1e8 (eps at or beyond the largest privacy loss)")
    return c


#: where the k < 0 aliases are exact: P at least eps - ess inf L_T + NEG_MARGIN (the contour serves eps
#: up to NEG_MARGIN above the one it was built for) and e^{-cP} <= e^{NEG_PEN} delta (the subtraction's
#: cancellation)
NEG_MARGIN = 1.0
NEG_PEN = 4.0


def alias_period(K: LogMgf, eps: float, c: float, target: float,
                 s_grid: Sequence[tuple[float, float]], log_delta: float | None = None) -> tuple[float, list[tuple[float, float]]]:
    """Smallest alias period P with both alias sums <= exp(target) (rigorous given K), and the s used.

    ``s_grid`` holds (s, psi(s)) pairs; those with s > c serve the k > 0 bound.  Where the loss is
    bounded below (``K.loss_inf``) and ``log_delta`` is given, the k < 0 aliases are subtracted
    exactly (module docstring) and only NEG_MARGIN / NEG_PEN bound P from below.
    """
    p_lo = (LOG2 - target) / c
    if log_delta is not None and math.isfinite(K.loss_inf):
        # the exact subtraction's floor where it is the lower one (l_inf = sum n log(1 - q) is far
        # below 0 with many participations: there the bound 2 e^{-cP} needs the shorter period)
        p_lo = min(p_lo, max(eps - K.loss_inf + NEG_MARGIN, -(log_delta + NEG_PEN) / c))
    best = math.inf
    used = []
    for s, ps in s_grid:
        if s <= c * (1.0 + 1e-9) or not math.isfinite(ps):
            continue
        used.append((s, ps))
        best = min(best, (LOG2 + ps - s * eps - target) / (s - c))
    return max(p_lo, best, 1e-12), used


#: psi_grid's abscissae (fractions of c_ref), and the finer set of ``psi_grid(fine=True)``: the k > 0 alias
#: bound (P - c) ... is minimised over the grid's s, and where psi bends up sharply just beyond the saddle
#: (the far mode at few participations) the points 0.94-1.13 c_ref lower P by 4-16 % (q = 0.01, sigma = 1,
#: T = 10, delta = 1e-5: 942 -> 906 nodes; sigma = 0.5, T = 100, delta = 1e-10: 972 -> 814) for five more
#: real evaluations of K (~20 us with the fast real kernel)
PSI_FRACTIONS = (0.4, 0.62, 0.87, 1.0, 1.3, 2.0)
PSI_FRACTIONS_FINE = (0.4, 0.62, 0.75, 0.87, 0.94, 1.0, 1.06, 1.13, 1.3, 1.6, 2.0)


def psi_grid(K: LogMgf, c_ref: float, fine: bool = False) -> list[tuple[float, float]]:
    """psi(s) on a grid of abscissae around ``c_ref`` (for the alias bounds of nearby contours; any s
    gives a valid bound, a finer grid only a shorter period)."""
    out = []
    for f in (PSI_FRACTIONS_FINE if fine else PSI_FRACTIONS):
        s = f * c_ref
        out.append(s)
    out += [c_ref + 1.0]
    pre = getattr(K, "prefetch", None)
    if pre is not None:
        try:
            pre(out)  # one kernel call for the whole grid (the same values as one call each)
        except (FloatingPointError, OverflowError, ValueError, ZeroDivisionError):
            pass
    grid = []
    for s in sorted(out):
        try:
            ps = K.psi(s)
        except (FloatingPointError, OverflowError, ValueError, ZeroDivisionError):
            continue
        if math.isfinite(ps):
            grid.append((s, ps))
    return grid


#: share of the cancellation penalty pen taken off the alias target of a candidate abscissa
ALIAS_PEN = 0.0
#: abscissae tried by :func:`choose_abscissa`, as fractions of the saddle point (where the terms decay
#: as the Gaussian model says), and the ones added where the probe finds them decaying slower
ABSCISSA_FRACTIONS = (1.0, 0.62, 0.4)
ABSCISSA_FRACTIONS_SLOW = (0.8, 0.5)
#: the same where the k < 0 aliases are exact (LogMgf.loss_inf finite): P then shrinks with c down to
#: where the cancellation (pen) or the rounding check stops it
ABSCISSA_FRACTIONS_NEG = (1.0, 0.62, 0.4, 0.25)
ABSCISSA_FRACTIONS_SLOW_NEG = (0.8, 0.5, 0.3, 0.18)
#: the Gaussian model's u-range is trusted where the terms at GATE times it are below the tail budget
#: (q = 0.01, sigma = 1: T >= 1000 pass, T <= 300 do not)
GATE = 4.0
#: nodes per batch of the u-decay probe (:func:`_u_probe`), and its length (the last u is u0 2^(n-1))
PROBE_BATCH = 4
PROBE_MAX_DOUBLINGS = 16


def _probe_k(K: LogMgf, c: float, u: np.ndarray) -> list[complex]:
    """K(c + iu) at the kernel's least accuracy (only the terms' size matters to the probe)."""
    z = c + 1j * u
    kv = K.complex_fn(z) if K.complex_err_fn is None else K.complex_err_fn(z, TRAP_L_FLOOR)[0]
    return [complex(x) for x in kv]


def _u_probe(K: LogMgf, c: float, u0: float, done) -> tuple[np.ndarray, np.ndarray]:
    """(u, K(c + iu)) on the doubling ladder u0 2^j, in batches of PROBE_BATCH (one kernel call each: a
    call's fixed cost is several nodes' worth) until ``done(u, k)`` (the nodes so far, as arrays) says the
    terms have fallen far enough, or 2^(PROBE_MAX_DOUBLINGS - 1) u0 (the caller's ``done`` also stops where
    no contour could reach: the kernel's cost grows with u)."""
    us = np.empty(0)
    kz = np.empty(0, dtype=np.complex128)
    u = u0
    while us.shape[0] < PROBE_MAX_DOUBLINGS:
        batch = u * 2.0 ** np.arange(PROBE_BATCH)
        us = np.concatenate((us, batch))
        kz = np.concatenate((kz, _probe_k_arr(K, c, batch)))
        u = 2.0 * float(us[-1])
        if done(us, kz):
            break
    return us, kz


def _probe_k_arr(K: LogMgf, c: float, u: np.ndarray) -> np.ndarray:
    """:func:`_probe_k` as a complex array."""
    z = c + 1j * u
    kv = K.complex_fn(z) if K.complex_err_fn is None else K.complex_err_fn(z, TRAP_L_FLOOR)[0]
    return np.asarray(kv, dtype=np.complex128)


@njit(cache=True)
def _probe_need(cc: np.ndarray, cre: np.ndarray, cug: np.ndarray, us: np.ndarray, kre: np.ndarray, eps: float,
                tail_target: float) -> np.ndarray:
    """choose_abscissa's u-range per candidate (compiled; the same arithmetic as its plain-Python ``term`` and
    ``u_need`` before): the larger of the Gaussian model's u_g and the u where the modelled terms
    min(Re K(c_star + iu), Re K(c)) - c eps - log|z (z + 1)| + log(u / pi) on the ladder fall below
    tail_target (log-linear between ladder points; inf when not on the ladder)."""
    nc = cc.shape[0]
    m = us.shape[0]
    need = np.empty(nc)
    for i in range(nc):
        c = cc[i]
        re_kc = cre[i]
        un = np.inf
        prev_u = 0.0
        prev_t = 0.0
        for j in range(m):
            u = us[j]
            kr = kre[j]
            lz = 0.5 * (math.log(c * c + u * u) + math.log((c + 1.0) ** 2 + u * u))
            t = (re_kc if re_kc < kr else kr) - c * eps - lz + math.log(u / math.pi)
            if t <= tail_target:
                if j == 0:
                    un = u
                else:
                    d = prev_t - t
                    if 1e-300 > d:
                        d = 1e-300
                    a = (prev_t - tail_target) / d
                    un = prev_u * (u / prev_u) ** a
                break
            prev_u = u
            prev_t = t
        need[i] = un if un > cug[i] else cug[i]
    return need


def _candidate(K: LogMgf, eps: float, c: float, target: float, log_delta: float,
               grid: Sequence[tuple[float, float]]) -> tuple:
    """(c, P, s used, Gaussian-model u-range, K(c), cancellation penalty) of abscissa c."""
    k = K.real_fn(c, 2)
    phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
    phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
    pen = phi - 0.5 * math.log(2.0 * math.pi * phi2) - log_delta
    P, used = alias_period(K, eps, c, target - ALIAS_PEN * max(pen, 0.0), grid, log_delta)
    u_g = math.sqrt(2.0 * (-target + max(pen, 0.0)) / phi2)
    return c, P, used, u_g, float(k[0]), pen


def choose_abscissa(K: LogMgf, eps: float, c_star: float, log_tol: float, log_delta: float,
                    grid: Sequence[tuple[float, float]], log_round: float | None = None,
                    info: dict | None = None) -> tuple[float, float, list[tuple[float, float]]]:
    """(c, P, s used): the abscissa among c_star * ABSCISSA_FRACTIONS with the fewest expected nodes.

    Expected nodes ~ P * U with U the Gaussian model sqrt(2 (L + pen) / Phi''(c)) (pen = Phi(c) -
    log delta, the cancellation penalty: the node sum loses exp(pen) in relative accuracy; limited to
    11.5).  Where the composition says the decay may be slow (``K.slow_decay``), that model is checked
    by one node at c_star + i GATE U(c_star): where the term there is
    below the tail budget, the choice is the model's (it is off by a factor ~2 even at q T ~ 10: Phi''
    counts the far mode's variance, whose share of the integrand decays fast, the bulk's slower).

    Elsewhere the terms decay slower than the model says (with few participations, q T < ~1, the
    near-atom of the loss near 0 makes |exp(K(c + iu))| decay only like e^{-a u}, a ~ q T / 4): then
    the fractions ABSCISSA_FRACTIONS_SLOW join, and U is the larger of the model and the u where the
    terms measured along c_star + iu (:func:`_u_probe`) fall below the budget, a term at another c
    being modelled as min(Re K(c), Re K(c_star + iu)) - c eps (at large u only the near-atom is left,
    whose modulus hardly depends on c).  A smaller c, whose alias period is 2-4x shorter, then usually
    wins; it is taken only where the node sum's expected rounding, e^{pen + 0.5} eps_mach
    (32 sqrt(n) + 8 max|K|) relative to delta (the floating-point budget of ExactDirection._check, n and
    max|K| from the probe), stays below e^{log_round} (default: 10 times the quadrature's tolerance, a
    tenth of what an answer may carry): a smaller c lowers the alias period but raises the
    cancellation.  The choice only sets the cost: accuracy is the contour's own business.  ``info``
    (a dict, when given) receives "nodes": the node count expected of the choice where the probe ran
    (P U / 2 pi; where it saw no end, a lower bound: the least of P U, U the ladder's last u where
    none was found, over 2 pi), else nothing; and "u_model": the Gaussian model's u-range of the choice where
    that model was trusted (no probe), which sizes build_contour's first chunk (:func:`first_chunk`).
    """
    if log_round is None:
        log_round = log_tol + 2.3
    target = log_tol + log_delta
    tail_target = target - 2.3  # build_contour's tail test
    cands = []
    neg = math.isfinite(K.loss_inf) and K.slow_decay
    for f in (ABSCISSA_FRACTIONS_NEG if neg else ABSCISSA_FRACTIONS):
        cd = _candidate(K, eps, f * c_star, target, log_delta, grid)
        if f < 1.0 and cd[5] > 11.5:
            break
        cands.append(cd)
        if f == 1.0 and not neg and cd[1] <= 1.5 * (LOG2 - target) / cd[0]:
            break  # the k < 0 aliases set P: a smaller c cannot help
    if len(cands) == 1:
        if info is not None:
            info["u_model"] = cands[0][3]
        return cands[0][0], cands[0][1], cands[0][2]

    def term(c: float, re_kc: float, u: float, k: complex) -> float:
        lz = 0.5 * (math.log(c * c + u * u) + math.log((c + 1.0) ** 2 + u * u))
        return min(k.real, re_kc) - c * eps - lz + math.log(u / math.pi)

    u0 = cands[0][3]
    if not K.slow_decay or (term(c_star, cands[0][4], GATE * u0, _probe_k(K, c_star, np.array([GATE * u0]))[0])
                            <= tail_target):
        # the Gaussian model holds
        best = min(((P * u_g, i, c, P, used, u_g) for i, (c, P, used, u_g, _, _) in enumerate(cands)),
                   key=lambda b: b[:2])
        if info is not None:
            info["u_model"] = best[5]
        return best[2], best[3], best[4]
    for f in (ABSCISSA_FRACTIONS_SLOW_NEG if neg else ABSCISSA_FRACTIONS_SLOW):
        cd = _candidate(K, eps, f * c_star, target, log_delta, grid)
        if cd[5] <= 11.5:
            cands.append(cd)
    cands.sort(key=lambda cd: -cd[0])

    cc = np.array([cd[0] for cd in cands])
    cre = np.array([cd[4] for cd in cands])
    cug = np.array([cd[3] for cd in cands])
    cP = [cd[1] for cd in cands]

    def settled(us: np.ndarray, kz: np.ndarray) -> bool:
        """Whether the probe has gone far enough: every candidate's u-range (:func:`_probe_need`) is found on
        it, or one not found would cost more (P times the probe's last u) than the cheapest found."""
        need[:] = _probe_need(cc, cre, cug, us, np.ascontiguousarray(kz.real), eps, tail_target).tolist()
        found = [P * U for P, U in zip(cP, need)]
        best_found = min(found)
        u_last = float(us[-1])
        if all(P * u_last > 2.0 * math.pi * K.max_nodes for P in cP):
            return True  # beyond any contour's node budget
        return all(math.isfinite(f) or P * u_last >= best_found for f, P in zip(found, cP))

    need: list[float] = []
    us, kz = _u_probe(K, c_star, u0, settled)
    us_l = us.tolist()
    ka_l = np.abs(kz).tolist()
    best = None
    for (c, P, used, u_g, re_kc, pen), U in zip(cands, need):
        if c < c_star and math.isfinite(U):
            n_est = P * U / (2.0 * math.pi)
            kmax = max([abs(re_kc)] + [k for u, k in zip(us_l, ka_l) if u <= 2.0 * U])
            if max(pen, 0.0) + 0.5 + math.log(EPS_MACH * (32.0 * math.sqrt(n_est) + 8.0 * kmax)) > log_round:
                continue
        cost = P * U
        if best is None or cost < best[0]:
            best = (cost, c, P, used)
    if info is not None:
        # where no u-range was found on the ladder, P times its last u bounds a candidate's from below
        low = min(cd[1] * (U if math.isfinite(U) else us_l[-1]) for cd, U in zip(cands, need))
        info["nodes"] = (best[0] if math.isfinite(best[0]) else low) / (2.0 * math.pi)
    if not math.isfinite(best[0]):  # the probe saw no end: the Gaussian model alone
        best = min(((P * u_g, c, P, used) for c, P, used, u_g, _, _ in cands), key=lambda b: b[0])
    return best[1], best[2], best[3]


def _next_size(size: int, mag: np.ndarray, u: np.ndarray, tail_target: float, cap: int = CHUNK_MAX,
               factor: float = 1.5) -> int:
    """Nodes of the next chunk: 1.5 times the last, at most CHUNK_MAX (short kernel calls: deadline checks and
    Ctrl-C stay prompt), and no more than the tail test is expected to need (the decay of the last
    chunk's tail values |term| u / pi extrapolated linearly, with a 25 % margin and 8 nodes for the
    test itself): the last chunk then overshoots the end of the u-range by a few nodes, not by up to
    127.  Only the cost depends on it: the tail test decides where the contour ends."""
    grow = min(int(size * factor), cap)
    k = min(int(mag.shape[0]), 24)
    if k < 8 or not u[-k] > 0.0:
        return grow
    tv_last = mag[-1] + math.log(u[-1] / math.pi)
    slope = (tv_last - (mag[-k] + math.log(u[-k] / math.pi))) / (k - 1)
    if not (slope < 0.0) or not math.isfinite(slope):
        return grow
    rem = (float(np.max(mag[-8:] + np.log(u[-8:] / math.pi))) - tail_target) / -slope
    if not math.isfinite(rem):
        return grow
    return min(grow, max(16, int(1.25 * max(rem, 0.0)) + 8))


@njit(cache=True)
def _chunk_terms(kz: np.ndarray, ek: np.ndarray, u: np.ndarray, c: float, eps: float, lh: float):
    """(mag, lc) of a chunk of build_contour (one compiled pass instead of ~10 numpy calls): mag_n = Re K_n
    - c eps - log|z_n (z_n + 1)| at z_n = c + i u_n, the log size of each term (up to the factor h/pi), and
    lc = lh + log sum_n e^{mag_n} ek_n (lh = log(h/pi)): the log of the kernel's error share of the chunk,
    nan where a term's log error is nan (as numpy's logaddexp.reduce)."""
    n = kz.shape[0]
    mag = np.empty(n)
    ce = c * eps
    c2 = c * c
    c12 = (c + 1.0) * (c + 1.0)
    mx = -np.inf
    for i in range(n):
        u2 = u[i] * u[i]
        mag[i] = kz[i].real - ce - 0.5 * (math.log(c2 + u2) + math.log(c12 + u2))
        v = mag[i] + math.log(ek[i])
        if math.isnan(v):
            return mag, math.nan
        if v > mx:
            mx = v
    if not math.isfinite(mx):
        return mag, mx + lh
    acc = 0.0
    for i in range(n):
        acc += math.exp(mag[i] + math.log(ek[i]) - mx)
    return mag, mx + math.log(acc) + lh


@njit(cache=True)
def _chunk_next(mag: np.ndarray, u: np.ndarray, ek: np.ndarray, size: int, tail_target: float, cap: int,
                factor: float):
    """The bookkeeping of build_contour after a chunk (compiled): (next chunk's size as :func:`_next_size`,
    max log ek over the last 8 nodes, max mag over them, the tail value max(mag + log(u / pi)) there, and
    whether mag rose by less than 1 between each two of them); nan propagates as in numpy."""
    n = mag.shape[0]
    r = -np.inf
    mm = -np.inf
    tail = -np.inf
    calm = True
    for i in range(n - 8, n):
        le = math.log(ek[i])
        if math.isnan(le) or math.isnan(r):
            r = math.nan
        elif le > r:
            r = le
        if math.isnan(mag[i]) or math.isnan(mm):
            mm = math.nan
        elif mag[i] > mm:
            mm = mag[i]
        tv = mag[i] + math.log(u[i] / math.pi)
        if math.isnan(tv) or math.isnan(tail):
            tail = math.nan
        elif tv > tail:
            tail = tv
        if i > n - 8 and not (mag[i] - mag[i - 1] < 1.0):
            calm = False
    # _next_size
    grow = min(int(size * factor), cap)
    nxt = grow
    k = min(n, 24)
    if k >= 8 and u[n - k] > 0.0:
        tv_last = mag[n - 1] + math.log(u[n - 1] / math.pi)
        slope = (tv_last - (mag[n - k] + math.log(u[n - k] / math.pi))) / (k - 1)
        if slope < 0.0 and math.isfinite(slope):
            rem = (tail - tail_target) / -slope
            if math.isfinite(rem) and rem < 1e9:
                nxt = min(grow, max(16, int(1.25 * max(rem, 0.0)) + 8))
    return nxt, r, mm, tail, calm


def _logaddexp(a: float, b: float) -> float:
    """np.logaddexp for two floats (plain Python: a scalar numpy ufunc call costs ~1 us)."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    hi, lo = (a, b) if a >= b else (b, a)
    if lo == -math.inf or hi == math.inf:
        return hi
    return hi + math.log1p(math.exp(lo - hi))


#: chunks of build_contour beyond its first with at least INTERP_MIN nodes take K from an interpolant of
#: exp(K / N) of degree INTERP_DEG in u (Chebyshev points, :func:`_interp_chunk`).  32 (was 48): the third
#: chunk (36 nodes after 16 and 24) is interpolated from 19 kernel values instead of evaluated node by node;
#: kernel evaluations per eps(delta) query at sigma 1, delta 1e-5: q 0.001 T 1000 131 -> 87, T 100 146 -> 129,
#: q 0.01 T 10 181 -> 148, T 100 85 -> 68, q 0.1 T 10 123 -> 106 (24 was worse: interpolants refused near the
#: peak and evaluated again)
INTERP_MIN = 32
INTERP_DEG = 16
#: longest interpolated chunk
INTERP_CHUNK_MAX = 512
#: safety factor on the interpolant's error estimate, and the largest relative error of exp(K / N) it may
#: carry at a node (first order in the error of K, N times it, must hold)
INTERP_SAFETY = 10.0
INTERP_MAX_REL = 1e-4
_CHEB_X = np.cos(np.pi * (np.arange(INTERP_DEG + 1) + 0.5) / (INTERP_DEG + 1))


@njit(cache=True)
def _cheb_nodes(kz: np.ndarray, ek: np.ndarray, u: np.ndarray, mid: float, half: float, n_norm: float,
                j1: int, j2: int, safety: float, max_rel: float):
    """The arithmetic of :func:`_interp_chunk`: (N log p(u), error estimate of it) at the nodes u from the
    kernel's values kz (Chebyshev points, then the check nodes j1, j2) and their error estimates ek;
    empty arrays where the interpolant fails its accuracy test."""
    m = kz.shape[0] - 2
    n = u.shape[0]
    empty = (np.empty(0, dtype=np.complex128), np.empty(0))
    g = np.empty(m, dtype=np.complex128)
    ekmax = 0.0
    for j in range(m + 2):
        if not (math.isfinite(kz[j].real) and math.isfinite(kz[j].imag) and math.isfinite(ek[j])):
            return empty
        ekmax = max(ekmax, ek[j])
    for j in range(m):
        if kz[j].real / n_norm < -640.0:
            return empty
        g[j] = np.exp(kz[j] / n_norm)
    a = np.empty(m, dtype=np.complex128)
    for k in range(m):
        acc = 0.0 + 0.0j
        for j in range(m):
            acc += g[j] * math.cos(math.pi * k * (j + 0.5) / m)
        a[k] = (2.0 / m) * acc
    a[0] *= 0.5
    tail = max(abs(a[m - 1]), max(abs(a[m - 2]), abs(a[m - 3])))
    p = np.empty(n, dtype=np.complex128)
    for i in range(n):
        t = (u[i] - mid) / half
        b1 = 0.0 + 0.0j
        b2 = 0.0 + 0.0j
        for k in range(m - 1, 0, -1):
            b0 = a[k] + 2.0 * t * b1 - b2
            b2 = b1
            b1 = b0
        p[i] = a[0] + t * b1 - b2
    obs = 0.0
    for jj in range(2):
        i = j1 if jj == 0 else j2
        obs = max(obs, abs(p[i] - np.exp(kz[m + jj] / n_norm)))
    est = safety * max(tail, obs)
    out = np.empty(n, dtype=np.complex128)
    err = np.empty(n)
    for i in range(n):
        ap = abs(p[i])
        if not (ap > 0.0) or est > max_rel * ap:
            return empty
        out[i] = n_norm * np.log(p[i])
        err[i] = n_norm * est / ap + ekmax
    return out, err


def _interp_chunk(kfn, c: float, u: np.ndarray, trap_l: float, n_norm: float):
    """(K, error estimate of K) at the nodes c + i u of a chunk (u equispaced) from INTERP_DEG + 1 kernel
    values at Chebyshev points of [u_0, u_-1] and two check nodes, or None where the interpolant is not
    accurate enough (the caller then evaluates every node).

    g(u) = exp(K(c + iu) / N) is analytic in u (K / N is the mean per-step log-MGF: smooth along the
    contour far from its peak, q = 0.01, sigma = 1, T = 10: degree 16 over 128 nodes reproduces K to
    ~1e-12), and exp(K) = g^N whatever branch of log g is taken, so K = N log p(u) with p the
    interpolant.  Error estimate of g at a node: INTERP_SAFETY times the larger of the last three
    Chebyshev coefficients' size (the interpolant's truncation, chebfun's rule) and the difference
    measured at the two check nodes (taken from the kernel: they keep its values); that relative to |p|,
    times N, plus the kernel's own estimate at the sampled points, is the node's error of K, which
    build_contour weights by the node's term and charges to the quadrature's error budget as it does
    the kernel's (Contour.kernel_bound)."""
    m = INTERP_DEG + 1
    n = u.shape[0]
    mid, half = 0.5 * (u[0] + u[-1]), 0.5 * (u[-1] - u[0])
    j1, j2 = n // 3, (2 * n) // 3
    z = c + 1j * np.concatenate((mid + half * _CHEB_X, u[[j1, j2]]))
    kz, ek = kfn(z, trap_l)
    out, err = _cheb_nodes(kz, ek, u, mid, half, float(n_norm), j1, j2, INTERP_SAFETY, INTERP_MAX_REL)
    if out.shape[0] == 0:
        return None
    out[j1], out[j2] = kz[m], kz[m + 1]
    err[j1], err[j2] = ek[m], ek[m + 1]
    return out, err


def _interp_split(kfn, c: float, u: np.ndarray, trap_l: float, n_norm: float):
    """:func:`_interp_chunk` on u, else on its two halves (recursively, down to INTERP_MIN nodes), else
    None (every node from the kernel)."""
    got = _interp_chunk(kfn, c, u, trap_l, n_norm)
    if got is not None or u.shape[0] < 2 * INTERP_MIN:
        return got
    k = u.shape[0] // 2
    a = _interp_split(kfn, c, u[:k], trap_l, n_norm)
    if a is None:
        return None
    b = _interp_split(kfn, c, u[k:], trap_l, n_norm)
    if b is None:
        return None
    return np.concatenate((a[0], b[0])), np.concatenate((a[1], b[1]))


#: build_contour's first chunk where the Gaussian model of the u-range is trusted (choose_abscissa's
#: "u_model"): FIRST_FACTOR times the model's node count plus the tail test's 8 nodes, in [16, FIRST_MAX].
#: The tail test passed at 18-32 nodes where the model said 10.4-19.6 (q 0.001..0.1, sigma 1, T 100..1e9,
#: delta 1e-5), and a first chunk of 16 then a second of 16-24 evaluated 40 in two kernel calls (the last
#: ones at the largest |Im z|, the kernel's costliest); only the cost depends on it (the tail test decides)
FIRST_FACTOR = 1.6
FIRST_MAX = 64


def first_chunk(u_model: float | None, P: float) -> int:
    """Nodes of build_contour's first chunk from the model's u-range (16 without one)."""
    if u_model is None or not math.isfinite(u_model) or not u_model > 0.0:
        return 16
    n = FIRST_FACTOR * u_model * P / (2.0 * math.pi) + 8.0
    return int(min(FIRST_MAX, max(16.0, math.ceil(n))))


def build_contour(K: LogMgf, eps: float, c: float, P: float, log_tol: float, log_delta_scale: float,
                  alias_s: list[tuple[float, float]], deadline: float = math.inf, first: int = 16) -> Contour:
    """Nodes on z = c + i n h, h = 2 pi / P, marched until the u-tail is below the budget.

    ``log_tol + log_delta_scale`` is the log of the absolute error budget on delta near ``eps``; ``first``:
    the first chunk's node count where K gives its own error estimate (:func:`first_chunk`).
    """
    import time

    target = log_tol + log_delta_scale
    h = 2.0 * math.pi / P
    chunks: list[np.ndarray] = []
    total = 0
    size = 16
    kfn = K.complex_err_fn
    # the kernel's error budget on delta: e^{2.3} times the quadrature's tolerance (a tenth of what an
    # answer may carry, ACCEPT_RTOL), a 1/KERNEL_CHUNKS share per chunk; each chunk's kernel accuracy is
    # set from the previous chunk's terms (the first at the kernel's full accuracy) and checked after
    # the evaluation (re-evaluated when over its share).  Only far-tail chunks reach their share: near
    # the peak the kernel's full accuracy keeps them far below it
    lchunk = target + 2.3 - math.log(KERNEL_CHUNKS)
    lh = math.log(h / math.pi)
    lkern = -math.inf
    trap_l = TRAP_L_FULL
    if kfn is not None:
        return _build_err(K, kfn, eps, c, h, target, lchunk, lh, alias_s, first)
    while True:
        z = c + 1j * h * np.arange(total, total + size)
        lz = np.log(np.abs(z * (z + 1.0)))
        kz = K.complex_fn(z)
        mag = kz.real - c * eps - lz
        chunks.append(kz)
        total += size
        # tail test on the last nodes: |term| * u / pi <= budget (a 1/u^2 envelope beyond)
        tail = np.max(mag[-8:] + np.log(z.imag[-8:] / math.pi))
        if tail <= target - 2.3 and np.all(np.diff(mag[-8:]) < 1.0):
            break
        if total >= K.max_nodes:
            raise ContourError(
                f"contour quadrature did not converge within {K.max_nodes} nodes (c={c:.4g}, h={h:.4g})")
        if budget.clock() > deadline:  # CPU time, as ewacct.methods.exact.clock
            # (a K with complex_err_fn checks the query's deadline itself, in every evaluation)
            raise ContourError(f"contour quadrature ran out of time after {total} nodes (c={c:.4g}, h={h:.4g})")
        size = _next_size(size, mag, z.imag, target - 2.3)
    return Contour(c=c, h=h, logk=np.concatenate(chunks), alias_s=list(alias_s), lkern0=lkern + c * eps,
                   loss_inf=K.loss_inf, mgf_minus1=K.mgf_minus1)


def _build_err(K: LogMgf, kfn, eps: float, c: float, h: float, target: float, lchunk: float, lh: float,
               alias_s: list[tuple[float, float]], first: int = 16) -> Contour:
    """build_contour's march where K gives its own error estimate (``K.complex_err_fn``): each chunk's kernel
    accuracy set from the previous chunk's terms (the first at the kernel's full accuracy), checked after the
    evaluation (re-evaluated when over its share), far chunks interpolated (:func:`_interp_split`); the
    per-chunk arithmetic in two compiled passes (:func:`_chunk_terms`, :func:`_chunk_next`)."""
    chunks: list[np.ndarray] = []
    total = 0
    size = max(int(first), 16)
    lkern = -math.inf
    trap_l = TRAP_L_FULL
    tail_target = target - 2.3
    ce = c * eps
    while True:
        u = h * np.arange(total, total + size, dtype=np.float64)
        z = c + 1j * u
        ip = None
        if K.interp_n > 0.0 and total > 0 and size >= INTERP_MIN:
            ip = _interp_split(kfn, c, u, trap_l, K.interp_n)
        kz, ek = ip if ip is not None else kfn(z, trap_l)
        mag, lc = _chunk_terms(kz, ek, u, c, eps, lh)
        if ip is not None and not lc <= lchunk + 1.0:
            # the interpolant over its share: every node from the kernel
            kz, ek = kfn(z, trap_l)
            mag, lc = _chunk_terms(kz, ek, u, c, eps, lh)
        if not lc <= lchunk + 1.0 and trap_l < TRAP_L_FULL:
            # over its share (a rise of the terms, or a poor guess): again at the accuracy it needs
            trap_l = min(TRAP_L_FULL, trap_l + (lc - lchunk if math.isfinite(lc) else TRAP_L_FULL) + 2.0)
            kz, ek = kfn(z, trap_l)
            mag, lc = _chunk_terms(kz, ek, u, c, eps, lh)
        lkern = _logaddexp(lkern, lc) if not math.isnan(lc) else math.inf
        # the next chunk: ek ~ e^{ALIAS_MARGIN - trap_l} R (R = n sum|terms| / |G|, read off the last
        # nodes); allowed per node: e^{lchunk - mag - lh} / size; the terms may rise by e^1.  An interpolated
        # chunk costs INTERP_DEG + 3 kernel values whatever its size: the next may be twice as long (up to
        # INTERP_CHUNK_MAX; _interp_split halves one it cannot represent)
        nxt, r, m_next, tail, calm = (_chunk_next(mag, u, ek, size, tail_target, INTERP_CHUNK_MAX, 2.0)
                                      if ip is not None else _chunk_next(mag, u, ek, size, tail_target, CHUNK_MAX, 1.5))
        r += trap_l
        m_next += 1.0
        want = r - (lchunk - m_next - lh - math.log(nxt))
        trap_l = min(TRAP_L_FULL, max(TRAP_L_FLOOR, want)) if math.isfinite(want) else TRAP_L_FULL
        chunks.append(kz)
        total += size
        # tail test on the last nodes: |term| * u / pi <= budget (a 1/u^2 envelope beyond)
        if tail <= tail_target and calm:
            break
        if total >= K.max_nodes:
            raise ContourError(
                f"contour quadrature did not converge within {K.max_nodes} nodes (c={c:.4g}, h={h:.4g})")
        size = nxt
    return Contour(c=c, h=h, logk=np.concatenate(chunks) if len(chunks) > 1 else chunks[0], alias_s=list(alias_s),
                   lkern0=lkern + ce, loss_inf=K.loss_inf, mgf_minus1=K.mgf_minus1)


@njit(cache=True)
def _log_delta_pre(w1: np.ndarray, r0: float, c: float, h: float, P: float, loss_inf: float, mgf_minus1: float,
                   eps: float):
    """(log delta_h(eps), d log delta / d eps) of :func:`log_delta_on` (compiled: the same operations, the k < 0
    aliases of :meth:`Contour.log_neg_alias` subtracted where :meth:`Contour.neg_exact`)."""
    ld, dld, labs, ltail = _node_sums_pre(w1, r0, c, h, eps)
    if not (eps - P <= loss_inf) or not math.isfinite(ld):
        return ld, dld
    la = -c * P - math.log(-math.expm1(-c * P))
    lb = math.log(mgf_minus1) + eps - (c + 1.0) * P - math.log(-math.expm1(-(c + 1.0) * P))
    r0a = math.exp(lb - la)
    la, dla = la + math.log1p(-r0a), -r0a / (1.0 - r0a)
    r = math.exp(la - ld)
    if not r < 1.0:
        return -np.inf, 0.0
    return ld + math.log1p(-r), (dld - r * dla) / (1.0 - r)


@njit(cache=True)
def _newton_pre(w1: np.ndarray, r0: float, c: float, h: float, P: float, loss_inf: float, mgf_minus1: float,
                eps: float, log_target: float):
    """exact._newton_eps on a contour's weights (compiled; the same iteration: safeguarded Newton on the
    decreasing log delta_h, |f| <= 1e-13 or a bracket of 1e-15 relative): (eps, log delta, its derivative)."""
    lo = 0.0
    hi = np.inf
    ld, dld = _log_delta_pre(w1, r0, c, h, P, loss_inf, mgf_minus1, eps)
    for _ in range(100):
        if not math.isfinite(ld):
            hi = eps
            eps = 0.5 * (lo + eps)
            ld, dld = _log_delta_pre(w1, r0, c, h, P, loss_inf, mgf_minus1, eps)
            continue
        f = ld - log_target
        if f > 0.0:
            lo = eps
        else:
            hi = eps
        if abs(f) <= 1e-13:
            return eps, ld, dld
        step = -f / dld if dld < 0.0 else np.inf
        en = eps + step
        if not (lo < en < hi):
            en = 0.5 * (lo + hi) if math.isfinite(hi) else max(2.0 * eps, eps + 1.0)
        if hi - lo <= 1e-15 * max(hi, 1e-300):
            ld, dld = _log_delta_pre(w1, r0, c, h, P, loss_inf, mgf_minus1, en)
            return en, ld, dld
        eps = en
        ld, dld = _log_delta_pre(w1, r0, c, h, P, loss_inf, mgf_minus1, eps)
        if eps <= 1e-300 and ld > log_target:
            return 0.0, ld, dld
    return eps, ld, dld


def newton_eps(ct: Contour, eps: float, log_target: float) -> tuple[float, float, float]:
    """Solve log delta_h(eps) = log_target on the contour's fixed nodes (:func:`_newton_pre`, one compiled call)."""
    if ct.w1 is None:
        ct.w1 = _node_weights(ct.logk, ct.c, ct.h)
    e, ld, dld = _newton_pre(ct.w1, float(ct.logk[0].real), ct.c, ct.h, ct.period, float(ct.loss_inf),
                             float(ct.mgf_minus1), float(eps), float(log_target))
    return float(e), float(ld), float(dld)


def log_delta_on(ct: Contour, eps: float) -> tuple[float, float, float, float]:
    """(log delta_h(eps), d log delta / d eps, log sum |terms|, log tail estimate), the k < 0 aliases
    subtracted where they are exact (:meth:`Contour.neg_exact`; -inf where nothing is left)."""
    if ct.w1 is None:
        ct.w1 = _node_weights(ct.logk, ct.c, ct.h)
    ld, dld, labs, ltail = _node_sums_pre(ct.w1, float(ct.logk[0].real), ct.c, ct.h, float(eps))
    if not ct.neg_exact(eps) or not math.isfinite(ld):
        return ld, dld, labs, ltail
    la, dla = ct.log_neg_alias(float(eps))
    r = math.exp(la - ld)
    if not r < 1.0:
        return -math.inf, 0.0, labs, ltail
    # delta = D - A: log delta = ld + log(1 - r); d delta / d eps = D dld - A dla
    return ld + math.log1p(-r), (dld - r * dla) / (1.0 - r), labs, ltail


def saddle_estimate(K: LogMgf, c: float) -> tuple[float, float]:
    """(eps(c), log delta(c)) of the leading saddle-point approximation at contour abscissa c."""
    k = K.real_fn(c, 2)
    eps = float(k[1]) - 1.0 / c - 1.0 / (c + 1.0)
    phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
    phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
    return eps, phi - 0.5 * math.log(2.0 * math.pi * phi2)
