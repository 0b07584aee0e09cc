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

Only values of the per-group log-MGF enter; the method knows nothing of mechanisms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from numba import njit

#: nodes evaluated per batch while marching along the contour
CHUNK = 48
#: node budget of one contour for one group; divided among the groups of a heterogeneous history
MAX_NODES = 12_000
#: the kernel accuracy (log of its relative aliasing target) of the contour's first chunk, and the
#: least asked of any chunk (ewacct._kernels.mgf.TRAP_L, TRAP_L_MIN)
TRAP_L_FULL = 38.0
TRAP_L_FLOOR = 14.0
#: the kernel's error budget on delta is spread over this many chunks (a contour has at most ~100)
KERNEL_CHUNKS = 32.0
LOG2 = math.log(2.0)


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

    def kernel_bound(self, eps: float) -> float:
        """log of the estimated error of delta_h(eps) from the log-MGF kernel's own quadrature error
        (first order: |d exp(K_n)| = |exp(K_n)| |dK_n|; every term scales as e^{-c eps})."""
        return self.lkern0 - self.c * eps

    @property
    def kmax(self) -> float:
        """max |K(z_n)|: sets the floating-point error of the node values."""
        return float(np.max(np.abs(self.logk)))

    @property
    def n(self) -> int:
        return int(self.logk.shape[0])

    @property
    def u(self) -> np.ndarray:
        return self.h * np.arange(self.n)

    def alias_bound(self, eps: float) -> float:
        """log of a rigorous bound on the aliasing error of delta_h(eps) (given exact K values)."""
        P = 2.0 * math.pi / self.h
        lo = LOG2 - self.c * P if self.c * P > LOG2 else math.inf
        hi = math.inf
        for s, ps in self.alias_s:
            g = (s - self.c) * P
            if g > LOG2:
                hi = min(hi, LOG2 + ps - s * eps - g)
        return float(np.logaddexp(lo, hi))


@njit(cache=True)
def _node_sums(logk: np.ndarray, c: float, h: float, eps: float):
    """(log delta_h, delta_h' / delta_h, log sum|terms|, log tail estimate) at eps.

    Terms are scaled by exp(-m), m = Re K(c) - c eps, to stay in range.
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


def alias_period(K: LogMgf, eps: float, c: float, target: float,
                 s_grid: Sequence[tuple[float, float]]) -> tuple[float, list[tuple[float, float]]]:
    """Smallest alias period P with both alias sums <= exp(target) (rigorous given K), and the s used.

    ``s_grid`` holds (s, psi(s)) pairs; those with s > c serve the k > 0 bound.
    """
    p_lo = (LOG2 - target) / c
    best = math.inf
    used = []
    for s, ps in s_grid:
        if s <= c * (1.0 + 1e-9) or not math.isfinite(ps):
            continue
        used.append((s, ps))
        best = min(best, (LOG2 + ps - s * eps - target) / (s - c))
    return max(p_lo, best, 1e-12), used


def psi_grid(K: LogMgf, c_ref: float) -> list[tuple[float, float]]:
    """psi(s) on a grid of abscissae around ``c_ref`` (for the alias bounds of nearby contours)."""
    out = []
    for f in (0.4, 0.62, 0.87, 1.0, 1.3, 2.0):
        s = f * c_ref
        out.append(s)
    out += [c_ref + 1.0]
    grid = []
    for s in sorted(out):
        try:
            ps = K.psi(s)
        except (FloatingPointError, OverflowError, ValueError, ZeroDivisionError):
            continue
        if math.isfinite(ps):
            grid.append((s, ps))
    return grid


def choose_abscissa(K: LogMgf, eps: float, c_star: float, log_tol: float, log_delta: float,
                    grid: Sequence[tuple[float, float]]) -> tuple[float, float, list[tuple[float, float]]]:
    """(c, P, s used): the abscissa among c_star * {1, 0.87, ..., 0.3} with the fewest expected nodes.

    Expected nodes ~ P * U with U ~ sqrt(2 (L + pen) / Phi''(c)), pen = Phi(c) - log delta the
    cancellation penalty (the node sum loses exp(pen) in relative accuracy; limited to 11.5).
    """
    target = log_tol + log_delta
    best = None
    for f in (1.0, 0.62, 0.4):
        c = f * c_star
        k = K.real_fn(c, 2)
        phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
        phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
        pen = phi - 0.5 * math.log(2.0 * math.pi * phi2) - log_delta
        if f < 1.0 and pen > 11.5:
            break
        P, used = alias_period(K, eps, c, target - max(pen, 0.0), grid)
        cost = P * math.sqrt(2.0 * (-target + max(pen, 0.0)) / phi2)
        if best is None or cost < best[0]:
            best = (cost, c, P, used)
        if f == 1.0 and P <= 1.5 * (LOG2 - target) / c:
            break  # the k < 0 aliases set P: a smaller c cannot help
    return best[1], best[2], best[3]


def build_contour(K: LogMgf, eps: float, c: float, P: float, log_tol: float, log_delta_scale: float,
                  alias_s: list[tuple[float, float]], deadline: float = math.inf) -> Contour:
    """Nodes on z = c + i n h, h = 2 pi / P, marched until the u-tail is below the budget.

    ``log_tol + log_delta_scale`` is the log of the absolute error budget on delta near ``eps``.
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
    while True:
        z = c + 1j * h * np.arange(total, total + size)
        lz = np.log(np.abs(z * (z + 1.0)))
        if kfn is None:
            kz = K.complex_fn(z)
            mag = kz.real - c * eps - lz
        else:
            kz, ek = kfn(z, trap_l)
            mag = kz.real - c * eps - lz
            with np.errstate(divide="ignore", invalid="ignore"):
                lc = float(np.logaddexp.reduce(mag + np.log(ek))) + lh
            if not lc <= lchunk + 1.0 and trap_l < TRAP_L_FULL:
                # over its share (a rise of the terms, or a poor guess): again at the accuracy it needs
                trap_l = min(TRAP_L_FULL, trap_l + (lc - lchunk if math.isfinite(lc) else TRAP_L_FULL) + 2.0)
                kz, ek = kfn(z, trap_l)
                mag = kz.real - c * eps - lz
                with np.errstate(divide="ignore", invalid="ignore"):
                    lc = float(np.logaddexp.reduce(mag + np.log(ek))) + lh
            lkern = float(np.logaddexp(lkern, lc)) if not math.isnan(lc) else math.inf
            # the next chunk: ek ~ e^{ALIAS_MARGIN - trap_l} R (R = n sum|terms| / |G|, read off the last
            # nodes); allowed per node: e^{lchunk - mag - lh} / size; the terms may rise by e^1
            with np.errstate(divide="ignore", invalid="ignore"):
                r = float(np.max(np.log(ek[-8:]))) + trap_l
                m_next = float(np.max(mag[-8:])) + 1.0
            nxt = min(int(size * 1.5), 128)
            want = r - (lchunk - m_next - lh - math.log(nxt))
            trap_l = min(TRAP_L_FULL, max(TRAP_L_FLOOR, want)) if math.isfinite(want) else TRAP_L_FULL
        chunks.append(kz)
        total += size
        # tail test on the last nodes: |term| * u / pi <= budget (a 1/u^2 envelope beyond)
        tail = np.max(mag[-8:] + np.log(z.imag[-8:] / math.pi))
        if tail <= target - 2.3 and np.all(np.diff(mag[-8:]) < 1.0):
            break
        if total >= K.max_nodes:
            raise ContourError(
                f"contour quadrature did not converge within {K.max_nodes} nodes (c={c:.4g}, h={h:.4g})")
        if kfn is None and time.process_time() > deadline:  # CPU time, as ewacct.methods.exact.clock
            # (a K with complex_err_fn checks the query's deadline itself, in every evaluation)
            raise ContourError(f"contour quadrature ran out of time after {total} nodes (c={c:.4g}, h={h:.4g})")
        size = min(int(size * 1.5), 128)  # short kernel calls: deadline checks and Ctrl-C stay prompt
    return Contour(c=c, h=h, logk=np.concatenate(chunks), alias_s=list(alias_s), lkern0=lkern + c * eps)


def log_delta_on(ct: Contour, eps: float) -> tuple[float, float, float, float]:
    """(log delta_h(eps), d log delta / d eps, log sum |terms|, log tail estimate)."""
    return _node_sums(ct.logk, ct.c, ct.h, float(eps))


def saddle_estimate(K: LogMgf, c: float) -> tuple[float, float]:
    """(eps(c), log delta(c)) of the leading saddle-point approximation at contour abscissa c."""
    k = K.real_fn(c, 2)
    eps = float(k[1]) - 1.0 / c - 1.0 / (c + 1.0)
    phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
    phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
    return eps, phi - 0.5 * math.log(2.0 * math.pi * phi2)
