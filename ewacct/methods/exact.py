"""The exact method: delta(eps) and eps(delta) from the saddle-point contour integral.

Both neighbouring directions (REMOVE and ADD, add-or-remove-one adjacency) are evaluated and the
worse is reported; the ADD direction is skipped, exactly, when its Chernoff bound already lies below
the REMOVE value.  Every answer carries an error estimate: the rigorous aliasing bound of the
trapezoidal rule (given K), the truncation estimate of the u-range, the floating-point budget of
the node sum, and the log-MGF kernel's own x-quadrature error (each node's error estimate from
``ewacct._kernels.mgf.sg_log_g_fast_err`` weighted by its term; diagnostics ``kernel_rel_error``).  A contour that cannot reach its tolerance raises :class:`ContourError`; the caller
turns that into an invalid result, never a silent number.

Cost: one log-MGF evaluation per node per distinct group; the number of steps only multiplies K.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .contour import (MAX_NODES, Contour, ContourError, LogMgf, _logaddexp, build_contour, choose_abscissa,
                      first_chunk, log_delta_on, newton_eps, psi_grid, saddle, saddle_estimate)
from .._kernels.mgf import TRAP_L, sg_composition_complex_err, sg_composition_real, sg_composition_real_many
from ..mechanisms import PoissonSubsampledGaussian
from . import budget

DIRECTIONS = ("remove", "add")
#: relative accuracy the quadrature aims at (on delta) ...
DEFAULT_RTOL = 1e-9
#: ... and the largest estimated relative error (on delta) an answer may carry
ACCEPT_RTOL = 1e-8
EPS_MACH = 2.2e-16
LOG2 = math.log(2.0)
#: below this noise multiplier the real cumulant kernel is not trusted for derivatives
CUMULANT_SIGMA_MIN = 0.3
#: expected participations (sum of q n over the subsampled groups) up to which the contour's abscissa
#: choice checks its Gaussian model of the u-decay (contour.choose_abscissa): at q = 0.01, sigma = 1 the
#: check pays up to q T ~ 5 (T = 500: 76 -> 58 nodes) and at q T = 10 the model already holds
PROBE_QN = 8.0
#: a contour whose expected node count (contour.choose_abscissa's probe) exceeds this multiple of the node
#: budget is refused before it is built (it would fail at the budget anyway)
REFUSE_PREDICTED = 1.1
#: log of the smallest positive double: a delta below it is reported as 0
LOG_TINY = math.log(5e-324)


@dataclass
class DirectionAnswer:
    value: float            # delta or eps
    log_delta: float        # log delta at the answer
    rel_err: float          # estimated relative error of value (0 if exact by structure)
    diag: dict[str, Any] = field(default_factory=dict)


def supports(groups: Sequence[tuple[Any, int]]) -> bool:
    """True when every group has a complex log-MGF (no atoms or lattices)."""
    return bool(groups) and all(hasattr(m, "log_mgf") and m.supports_log_mgf() for m, _ in groups)



def over_budget() -> str:
    """Why an evaluation stopped on its deadline: the call's budget (methods/budget.py) or the engine's net."""
    return f"the exact quadrature ran past its time budget ({budget.NOTE})" if budget.expired() else \
        "the exact quadrature ran past its time budget"


def clock() -> float:
    """The exact engine's clock for its safety-net budgets: this process's CPU time, so that whether a
    query settles (or ends in the flagged Chernoff bound) does not depend on the machine's load; Numba's
    kernel compilation and loading are not counted (:func:`ewacct.methods.budget.clock`)."""
    return budget.clock()


_WARM = [False]


def warm_kernels() -> None:
    """Load (or compile) the engine's Numba kernels once per process, before any budget starts: a cold
    cache must not push the first queries of a process into the fallback."""
    if _WARM[0]:
        return
    _WARM[0] = True
    from .._kernels.mgf import sg_composition_complex_err, sg_composition_real

    one = np.ones(1)
    sg_composition_complex_err(np.full(1, 0.01), one, one, np.array([2.0 + 1.0j]), TRAP_L, np.empty(1))
    sg_composition_real(np.full(1, 0.01), one, one, 2.0, np.empty(3))

def composition_log_mgf(groups: Sequence[tuple[Any, int]], direction: str) -> LogMgf:
    """K(z) = sum_g n_g log E_P[exp(z L_g)] of a composition in ``direction``.

    Poisson-subsampled Gaussian groups (q < 1) are evaluated together, one Numba call per batch of
    nodes for the whole history (``ewacct._kernels.mgf``: ``sg_composition_complex`` on the contour,
    ``sg_composition_real`` for K, K', K'' on the real axis); the others through their mechanism.
    """
    groups = list(groups)
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    fast = []
    slow = []
    for m, n in groups:
        (fast if isinstance(m, PoissonSubsampledGaussian) and m.sampling_probability < 1.0 else slow).append((m, n))
    qs = np.array([m.sampling_probability for m, _ in fast], dtype=np.float64)
    mus = np.array([m.mu for m, _ in fast], dtype=np.float64)
    ns = np.array([float(n) for _, n in fast], dtype=np.float64)
    # REMOVE: log E_P1[e^{zl}] = log G(z + 1); ADD: log E_P0[e^{-zl}] = log G(-z)
    w_shift, w_sign = (1.0, 1.0) if direction == "remove" else (0.0, -1.0)

    state = {"deadline": math.inf, "dl_set": math.nan, "wall_until": -math.inf}

    def check_deadline() -> None:
        """Raise ContourError past the running query's deadline.  The CPU clock is a system call (0.02-0.5 ms
        under load); while the wall clock (cheap) says less than the budget has passed since
        ExactDirection._deadline set this deadline, so does the CPU clock of a single thread: no need to
        read it."""
        dl = state["deadline"]
        if dl != math.inf and not (dl == state["dl_set"] and time.perf_counter() < state["wall_until"]):
            if clock() > dl:
                raise ContourError(over_budget())

    def complex_err_fn(z: np.ndarray, trap_l: float = TRAP_L) -> tuple[np.ndarray, np.ndarray]:
        """(K(z), estimate of the x-quadrature's absolute error of K(z)) with the fast kernels aimed
        at a relative aliasing error exp(-trap_l) (ewacct._kernels.mgf.sg_log_g_fast_err); the other
        groups are closed forms (Gaussian) or the Gauss-Legendre kernel at its fixed accuracy, not
        counted here (their rounding is in the contour's floating-point budget)."""
        check_deadline()
        z = np.ascontiguousarray(z, dtype=np.complex128)
        err = np.zeros(z.shape[0])
        if fast:
            out = sg_composition_complex_err(qs, mus, ns, w_sign * z + w_shift, float(trap_l), err)
        else:
            out = np.zeros(z.shape, dtype=np.complex128)
        for m, n in slow:
            out += n * m.log_mgf(z, direction=direction)
        return out, err

    def complex_fn(z: np.ndarray) -> np.ndarray:
        return complex_err_fn(z)[0]

    # K itself (which the rigorous alias and Chernoff bounds use) comes from kernels checked against
    # mpmath over the whole domain; its derivatives only place the contour.  The fast groups give
    # K, K', K'' in one real quadrature; the others their value from the complex kernel and their
    # derivatives from the real cumulant kernel where it is accurate, finite differences elsewhere
    cumulant_ok = all(getattr(m, "noise_multiplier", 1.0) >= CUMULANT_SIGMA_MIN for m, _ in slow)
    buf = np.zeros(3)
    memo: dict[float, np.ndarray] = {}

    def slow_value(t: float) -> float:
        tot = 0.0
        for m, n in slow:
            tot += n * float(m.log_mgf(np.array([complex(t, 0.0)]), direction=direction)[0].real)
        return tot

    def k012(t: float) -> np.ndarray:
        hit = memo.get(t)
        if hit is not None:
            return hit
        # the query's deadline (as in complex_err_fn): the saddle search's real kernel, 50-250 ms a call
        # where w mu >> 1 (sigma 681.6, q 1.91e-6, T 96, eps 1e-3: 99 calls, 5 s without this check)
        check_deadline()
        if fast:
            sg_composition_real(qs, mus, ns, w_sign * t + w_shift, buf)
            out = buf.copy()
            if w_sign < 0.0:
                out[1] = -out[1]  # d/dt of log G(-t)
        else:
            out = np.zeros(3)
        if slow:
            out[0] += slow_value(t)
            if cumulant_ok:
                for m, n in slow:
                    out[1:] += n * m.cgf(t, 2, direction=direction)[1:3]
            else:
                h = 1e-4 * max(abs(t), 1e-2)
                kp, km, k0 = slow_value(t + h), slow_value(t - h), slow_value(t)
                out[1] += (kp - km) / (2.0 * h)
                out[2] += max((kp - 2.0 * k0 + km) / (h * h), 1e-300)
        if len(memo) > 4096:
            memo.clear()
        memo[t] = out
        return out

    def prefetch(ts) -> None:
        """K, K', K'' at several real t in one kernel call, into the memo (only the fast groups' composition:
        with other groups k012 answers each t itself)."""
        todo = [float(t) for t in ts if float(t) not in memo]
        if not todo or slow:
            return
        check_deadline()
        ws = w_sign * np.array(todo) + w_shift
        rows = np.empty((len(todo), 3))
        sg_composition_real_many(qs, mus, ns, ws, rows)
        if w_sign < 0.0:
            rows[:, 1] = -rows[:, 1]
        if len(memo) > 4096:
            memo.clear()
        for t, row in zip(todo, rows):
            memo[t] = row

    def real_fn(t: float, nmax: int) -> np.ndarray:
        if nmax > 2:
            raise ValueError("the exact engine's real log-MGF gives K, K' and K'' only")
        k = k012(float(t))
        return k.copy() if nmax == 2 else k[: max(nmax, 0) + 1].copy()

    sup = 0.0
    for m, n in groups:
        s = m.loss_sup(direction)
        sup = math.inf if not math.isfinite(s) else sup + n * s

    budget = max(600, MAX_NODES // max(1, sum(1 for m, _ in groups if getattr(m, "sampling_probability", 1.0) < 1.0)))
    # the u-decay of the contour's terms can be far slower than the Gaussian model of choose_abscissa only
    # with few expected participations (the near-atom of the loss near 0)
    slow_decay = bool(fast) and float(np.dot(qs, ns)) <= PROBE_QN
    # REMOVE of subsampled Gaussians alone: L_g = log(1 - q + q e^{mu x - mu^2/2}) > log(1 - q), so
    # L_T > sum n log(1 - q), and E_P[e^{-L_T}] = 1 (P ~ Q): the contour subtracts its k < 0 aliases
    # exactly (contour module docstring)
    loss_inf = float(np.dot(ns, np.log1p(-qs))) if direction == "remove" and fast and not slow else -math.inf
    K = LogMgf(complex_fn=complex_fn, real_fn=real_fn, loss_sup=sup, max_nodes=budget, complex_err_fn=complex_err_fn,
               slow_decay=slow_decay, loss_inf=loss_inf, mgf_minus1=1.0,
               interp_n=float(sum(n for _, n in groups)) if fast else 0.0)
    K.state = state  # the running query's deadline (ExactDirection sets and clears it)
    K.prefetch = prefetch if fast and not slow else None
    return K


class ExactDirection:
    """delta(eps) / eps(delta) in one direction, with a cache of contours."""

    #: wall-clock safety net of one query in one direction (seconds). The node budget (deterministic)
    #: normally ends a query that cannot settle first; where the u-range heads to 1/q the kernel's cost
    #: grows with |Im z| and this net keeps every call bounded (its answer, the Chernoff bound, is the
    #: same whenever it fires)
    TIME_BUDGET = 3.0
    #: eps(delta): whether an answer is accepted by its error on eps (the error estimate on delta divided by
    #: |d log delta / d log eps| where that exceeds 1) rather than on delta alone (the full engine: off,
    #: its answers unchanged; the truncated composition: on, see truncation.TruncatedRemove)
    EPS_ACCEPT = False

    def __init__(self, K: LogMgf, rtol: float = DEFAULT_RTOL) -> None:
        self.K = K
        self.log_tol = math.log(rtol)                          # what contours are built for
        self.log_accept = math.log(max(rtol, ACCEPT_RTOL))     # what an answer must meet
        self._contours: list[Contour] = []
        #: abscissa of the last saddle-point start (a starting point for the saddle search)
        self._c_hint: float | None = None
        #: (eps, log_round) of the last contour built: a rebuild at the same eps asks less rounding of the
        #: abscissa (choose_abscissa), so that a contour refused for its floating-point budget is not
        #: built again unchanged
        self._last_build: tuple[float, float] | None = None
        #: whether the last contour _contour_for returned is the one it would return again for the same
        #: (eps, log_delta) (see _epsilon's fixed-point exit)
        self._repeat_same = False
        #: (log_target, saddle_curve_start's answer) of the last _initial: the routing of
        #: methods/truncation.py asks it before the query does (the same Newton iteration twice)
        self._init_memo: tuple[float, tuple[float, float, float]] | None = None

    # -- contours
    def _contour_for(self, eps: float, log_delta: float, deadline: float) -> Contour:
        """A cached contour that meets the tolerance at (eps, log_delta), else a new one."""
        self._repeat_same = True  # a cached contour: the same one again (the cache is only appended to)
        for ct in reversed(self._contours):
            ok, _ = self._check(ct, eps, log_delta)
            if ok:
                return ct
        K = self.K
        c_star = saddle(K, eps, self._c_hint)
        grid = psi_grid(K, c_star, fine=K.slow_decay)
        lt = self.log_tol - 2.3  # build with a margin below the acceptance tolerance
        # the expected rounding of the node sum may take half of what an answer may carry; less at a
        # rebuild for the same eps (the last contour there was refused)
        lr = self.log_accept - LOG2
        last = self._last_build
        if last is not None and abs(last[0] - eps) <= 1e-6 * abs(eps):
            lr = last[1] - 3.0
        self._last_build = (eps, lr)
        info: dict = {}
        c, P, used = choose_abscissa(K, eps, c_star, lt, log_delta, grid, log_round=lr, info=info)
        # a rebuild at the same eps lowers only log_round, which only removes candidates c < c_star
        # (choose_abscissa): a choice at c >= c_star is the choice again (nearly the same eps: the
        # same c* and choice up to its last digits)
        self._repeat_same = c >= c_star
        if info.get("nodes", 0.0) > REFUSE_PREDICTED * K.max_nodes:
            # the probe's node count was 3-19 % below what the contour then took on a 14-point check
            # (q T 0.1..1, sigma 0.5..1): refuse now rather than after the budget's worth of nodes
            raise ContourError(f"contour quadrature would need ~{info['nodes']:.0f} nodes (c={c:.4g}, "
                               f"h={2.0 * math.pi / P:.4g}), beyond its budget of {K.max_nodes}")
        key = (eps, log_delta, lt, c, P)
        for old in self._contours:
            if _same_build(getattr(old, "built_for", None), key):
                # the same contour again (deterministic given key): the cached one, not a rebuild (q = 0.001,
                # sigma = 1, T = 100, delta = 1e-9: eps(delta) rebuilt 11,638 nodes in each of its 7 last
                # rounds, 170 ms, before the caller's fallback answered)
                return old
        ct = build_contour(K, eps, c, P, lt, log_delta, used, deadline, first_chunk(info.get("u_model"), P))
        ct.built_for = key
        self._contours.append(ct)
        if len(self._contours) > 24:
            self._contours.pop(0)
        return ct

    def _check(self, ct: Contour, eps: float, log_delta: float) -> tuple[bool, float]:
        """(within tolerance, log absolute error estimate) of delta_h at eps: aliasing (rigorous given
        K), u-tail, floating point, and the log-MGF kernel's own x-quadrature error (sum over nodes of
        |term| times the kernel's error estimate of K there, :meth:`Contour.kernel_bound`)."""
        ld, _, labs, ltail = log_delta_on(ct, eps)
        if not math.isfinite(ld):
            return False, math.inf
        lalias = ct.alias_bound(eps)
        # floating point: the node sum (~sqrt(n) roundings of size eps_mach |term|) and the relative
        # error of each exp(K_n), about eps_mach |K_n| (K is a sum of n_g log-MGFs)
        lround = labs + math.log(EPS_MACH * (32.0 * math.sqrt(ct.n) + 8.0 * ct.kmax))
        # (np.logaddexp.reduce's left fold, in plain Python: a ufunc reduce over a 4-list costs ~5 us)
        lerr = _logaddexp(_logaddexp(_logaddexp(lalias, ltail), lround), ct.kernel_bound(eps))
        return lerr <= self.log_accept + min(ld, log_delta), lerr

    @contextmanager
    def _deadline(self):
        """The running query's deadline (CPU time, see :func:`clock`), checked inside every log-MGF
        evaluation; the kernels are loaded (or compiled) before it starts."""
        warm_kernels()
        st = self.K.state
        now = clock()
        # the engine's own net, capped by the call's budget (methods/budget.py): one budget for the chain
        st["deadline"] = st["dl_set"] = dl = budget.cap(now + self.TIME_BUDGET)
        st["wall_until"] = time.perf_counter() + (dl - now)
        try:
            yield self.K.state["deadline"]
        finally:
            self.K.state["deadline"] = math.inf

    # -- delta(eps)
    def log_delta(self, eps: float) -> DirectionAnswer:
        with self._deadline():
            return self._log_delta(eps)

    def _log_delta(self, eps: float) -> DirectionAnswer:
        K = self.K
        if eps >= K.loss_sup:
            return DirectionAnswer(0.0, -math.inf, 0.0, {"note": "eps beyond the largest privacy loss"})
        deadline = K.state["deadline"]
        c = saddle(K, eps, self._c_hint)
        self._c_hint = c
        _, guess = saddle_estimate_at(K, c, eps)
        for _ in range(4):
            ct = self._contour_for(eps, guess, deadline)
            ld, _, _, _ = log_delta_on(ct, eps)
            ok, lerr = self._check(ct, eps, ld)
            if ok:
                return DirectionAnswer(math.exp(ld), ld, math.exp(lerr - ld),
                                       {"c": ct.c, "h": ct.h, "nodes": ct.n,
                                        "kernel_rel_error": _kernel_rel(ct, eps, ld)})
            # the scale guess was off: rebuild with the measured delta (or a smaller guess)
            guess = ld if math.isfinite(ld) and ld < guess else guess - 5.0
        raise ContourError(f"contour quadrature missed its tolerance at eps={eps:.6g}")

    # -- eps(delta)
    def epsilon(self, log_target: float) -> DirectionAnswer:
        with self._deadline():
            return self._epsilon(log_target)

    def _epsilon(self, log_target: float) -> DirectionAnswer:
        K = self.K
        deadline = K.state["deadline"]
        c0, eps = self._initial(log_target)
        # the Chernoff bound is a rigorous upper bound on eps: never start above it (checked cheaply at
        # the initial abscissa; the full minimisation only when the saddle-point start failed)
        if not (eps > 0.0) or not math.isfinite(eps):
            eps = self._chernoff_eps(log_target)
        else:
            try:
                eps = min(eps, (K.psi(c0) - log_target) / c0)
            except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
                pass
        last_sig = None
        for _round in range(8):
            if eps <= 0.0 or not math.isfinite(eps):
                d0 = self._log_delta(0.0)
                if d0.log_delta <= log_target:
                    return DirectionAnswer(0.0, d0.log_delta, 0.0, {"note": "delta(0) <= target: eps = 0", **d0.diag})
                eps = 1e-6 if not math.isfinite(eps) else max(eps, 1e-6)
            ct = self._contour_for(eps, log_target, deadline)
            eps_new, ld, dld = _newton_eps(ct, eps, log_target)
            if eps_new <= 0.0 or (eps_new < 1e-200 and ld < log_target):
                # the root lies at eps <= 0 (Newton bisected down to the underflow): settle delta(0)
                d0 = self._log_delta(0.0)
                if d0.log_delta <= log_target:
                    return DirectionAnswer(0.0, d0.log_delta, 0.0, {"note": "delta(0) <= target: eps = 0", **d0.diag})
                eps = 0.5 * eps
                continue
            ok, lerr = self._check(ct, eps_new, log_target)
            # the acceptance on the answer eps itself (EPS_ACCEPT): delta's error estimate divided by
            # |d log delta / d log eps| (the root's first-order shift), where that divisor exceeds 1
            lslack = math.log(max(1.0, abs(dld) * eps_new)) if self.EPS_ACCEPT and math.isfinite(dld) else 0.0
            if lslack > 0.0 and not ok and math.isfinite(lerr):
                ok = lerr <= self.log_accept + min(ld, log_target) + lslack
            sig = (ct.c, ct.h, ct.n)
            # the same contour as the last round's, which _contour_for would return again, Newton held
            # within 1e-9 of eps (on the node sum's rounding floor), and the error estimate above what an
            # answer may carry by more than e^0.5 (it moves by ~c |d eps| there): another round repeats this one.
            # The step h within 1e-6 (the truncated composition rebuilds each round, its alias period moving in
            # the last digits with the Newton iterate: PSG(0.557, 1.269e-5) x 56876 at delta 5.41e-10 ran all
            # 8 rounds, 0.35 s, on identical contours before the few-participation quadrature answered)
            stuck = (self._repeat_same and last_sig is not None and sig[2] == last_sig[2]
                     and abs(sig[1] - last_sig[1]) <= 1e-6 * sig[1]
                     and abs(sig[0] - last_sig[0]) <= 1e-6 * sig[0] and abs(eps_new - eps) <= 1e-9 * eps
                     and not ok and lerr > self.log_accept + min(ld, log_target) + 0.5)
            last_sig = sig
            eps = eps_new
            if ok and abs(ld - log_target) <= 1e-10:
                # relative error of eps from that of delta: d eps = d delta / |delta'|
                rel = math.exp(lerr - ld) / max(abs(dld) * eps, 1e-300)
                return DirectionAnswer(eps, ld, rel, {"c": ct.c, "h": ct.h, "nodes": ct.n,
                                                      "kernel_rel_error": _kernel_rel(ct, eps_new, ld)})
            if stuck:
                # the same refusal now (q = 0.01, sigma = 2, T = 10, delta = 1e-10: the node sum's
                # cancellation exceeds the floating-point budget at every abscissa; 8 rounds, 6 of them
                # alike, in each of two engines before the few-participation quadrature answered)
                break
            if clock() > deadline:
                break
        raise ContourError(f"eps(delta) did not converge (last eps={eps:.6g})")

    def _chernoff_eps(self, log_target: float) -> float:
        """A rigorous upper bound on eps: min over s of (psi(s) - log delta) / s."""
        return chernoff_eps(self.K, log_target)

    def _initial(self, log_target: float) -> tuple[float, float]:
        """(c, eps) where the leading saddle-point approximation of log delta equals log_target
        (:func:`saddle_curve_start`; its abscissa becomes the saddle search's hint)."""
        memo = self._init_memo
        if memo is not None and memo[0] == log_target:
            c, e, g = memo[1]
        else:
            c, e, g = saddle_curve_start(self.K, log_target)
            self._init_memo = (log_target, (c, e, g))
        if abs(g) < 1.0:
            self._c_hint = c
        return c, (e if abs(g) < 1.0 else math.nan)


def _same_build(a: tuple | None, b: tuple) -> bool:
    """Whether two contour builds (eps, log delta, tolerance, c, P) are the same: log delta and the
    tolerance equal, eps within 1e-8 relative (a Newton iterate on the node sum's rounding floor), c and
    P within 1e-6 relative (the saddle search from another hint moves c* in its last digits)."""
    return (a is not None and a[1:3] == b[1:3] and abs(a[0] - b[0]) <= 1e-8 * abs(b[0])
            and all(abs(x - y) <= 1e-6 * abs(y) for x, y in zip(a[3:], b[3:])))


def saddle_curve_start(K: LogMgf, log_target: float, c_max: float = 1e8, iters: int = 40) -> tuple[float, float, float]:
    """(c, eps, g): a point of the saddle curve where the leading saddle-point log delta is near log_target.

    Newton in c: along the saddle curve eps(c) = K'(c) - 1/c - 1/(c+1), d log delta / dc is about
    -c Phi''(c); steps are clamped to a factor 4 and kept inside the bracket the iterates give (log delta
    decreases along the curve), and the iteration stops at |g| < 0.03, g = log delta(c) - log_target
    (only a starting point is needed: the contour then solves exactly), or when the next c leaves
    (1e-12, c_max].  The caller trusts eps where |g| < 1.  Used by the full engine (c_max = 1e8) and
    the truncated composition of methods/truncation.py (K_A is entire: c_max = 1e15).
    """
    c = 1.0
    e = math.nan
    g = math.inf
    lo, hi = 0.0, math.inf  # log delta decreases along the saddle curve: g > 0 <=> c too small
    for _ in range(iters):
        k = K.real_fn(c, 2)
        e = float(k[1]) - 1.0 / c - 1.0 / (c + 1.0)
        phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
        ld = float(k[0]) - c * e - math.log(c) - math.log1p(c) - 0.5 * math.log(2.0 * math.pi * phi2)
        g = ld - log_target
        if abs(g) < 3e-2:
            return c, e, g
        if not math.isfinite(g):
            hi = c
            c_new = 0.5 * (lo + c) if lo > 0.0 else 0.25 * c
        else:
            if g > 0.0:
                lo = c
            else:
                hi = c
            c_new = min(max(c + g / (c * phi2), 0.25 * c), 4.0 * c)
            if not (lo < c_new < hi):
                c_new = math.sqrt(lo * hi) if lo > 0.0 and math.isfinite(hi) else c_new
        if not math.isfinite(c_new) or c_new <= 1e-12 or c_new > c_max or (
                math.isfinite(hi) and hi - lo <= 1e-9 * hi):
            break
        c = c_new
    return c, e, g


def _kernel_rel(ct: Contour, eps: float, ld: float) -> float | None:
    """The kernel's estimated share of the relative error of delta (None where the kernel gives no
    estimate: the truncated composition's Gauss-Legendre kernel, methods/fewpart.py)."""
    lk = ct.kernel_bound(eps)
    return math.exp(lk - ld) if lk > -math.inf else None


def _psi012(K: LogMgf, s: float) -> tuple[float, float, float]:
    """psi(s), psi'(s), psi''(s) (psi(s) = K(s) + s log s - (s+1) log(s+1)); non-finite on failure."""
    try:
        k = K.real_fn(s, 2)
    except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
        return math.inf, math.inf, math.inf
    ls, l1 = math.log(s), math.log1p(s)
    return (float(k[0]) + s * ls - (s + 1.0) * l1, float(k[1]) + ls - l1,
            float(k[2]) + 1.0 / s - 1.0 / (s + 1.0))


def _newton_min(fn, s0: float, s_lo: float = 1e-3, s_hi: float = 1e3) -> float:
    """min over s in [s_lo, s_hi] of a convex objective, by safeguarded Newton on its derivative.

    ``fn(s) -> (value, derivative, second derivative)``; every value evaluated is a valid candidate,
    the smallest is returned (inf when none was finite).
    """
    lo, hi = s_lo, s_hi
    s = min(max(s0, s_lo), s_hi)
    best = math.inf
    for _ in range(40):
        v, g, gp = fn(s)
        if math.isfinite(v):
            best = min(best, v)
        if not (math.isfinite(g) and math.isfinite(v)):
            hi = s
            sn = math.sqrt(lo * s)
        else:
            if (s <= s_lo and g > 0.0) or (s >= s_hi and g < 0.0):
                break  # the minimum over the interval is at its end
            if g > 0.0:
                hi = s
            else:
                lo = s
            sn = s - g / gp if gp > 0.0 else math.nan
            if sn <= lo == s_lo < s:
                sn = s_lo  # try the end of the interval once
            elif sn >= hi == s_hi > s:
                sn = s_hi
            elif not (lo < sn < hi):
                sn = math.sqrt(lo * hi)
        # s to 1e-6 relative: the objective is flat at its minimum (second order: ~1e-12)
        if hi <= lo * (1.0 + 1e-6) or abs(sn - s) <= 1e-10 * s:
            break
        s = sn
    return best


def chernoff_eps(K: LogMgf, log_target: float, s0: float = 1.0) -> float:
    """max(0, min over s > 0 of (psi(s) - log delta) / s): a rigorous upper bound on eps(delta) given K.

    Any s gives a valid bound; s is searched in [1e-3, 1e3] by Newton on the derivative (the
    objective's stationarity condition s psi'(s) - psi(s) + log delta = 0 has an increasing left side,
    psi being convex), from ``s0``; the grid search below is the fallback.
    """
    def fn(s: float) -> tuple[float, float, float]:
        p, dp, d2 = _psi012(K, s)
        v = (p - log_target) / s
        return v, (dp * s - p + log_target) / (s * s), d2 / s

    best = _newton_min(fn, s0)
    if math.isfinite(best):
        # a negative value means delta(0) <= target already: eps = 0
        return max(best, 0.0)
    return _chernoff_eps_grid(K, log_target)


def _chernoff_eps_grid(K: LogMgf, log_target: float) -> float:
    """chernoff_eps by a grid and golden-section search (no derivatives)."""
    def f(ls: float) -> float:
        s = math.exp(ls)
        try:
            v = (K.psi(s) - log_target) / s
        except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
            return math.inf
        return v if math.isfinite(v) else math.inf

    grid = np.linspace(math.log(1e-3), math.log(1e3), 15)
    vals = [f(float(x)) for x in grid]
    i = int(np.argmin(vals))
    best = vals[i]
    # golden-section refinement between the neighbours of the best grid point (f is unimodal)
    from .._golden import golden_section

    *_, f1, _, f2 = golden_section(f, float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)]), iters=12)
    # a negative value means delta(0) <= target already: eps = 0
    return max(min(best, f1, f2), 0.0)


def saddle_estimate_at(K: LogMgf, c: float, eps: float) -> tuple[float, float]:
    """(Phi''(c), leading saddle-point log delta at eps with abscissa c)."""
    k = K.real_fn(c, 2)
    phi = float(k[0]) - c * eps - math.log(c) - math.log1p(c)
    phi2 = float(k[2]) + 1.0 / (c * c) + 1.0 / ((c + 1.0) ** 2)
    return phi2, phi - 0.5 * math.log(2.0 * math.pi * phi2)


def _newton_eps(ct: Contour, eps: float, log_target: float) -> tuple[float, float, float]:
    """Solve log delta_h(eps) = log_target on fixed nodes (safeguarded Newton on a decreasing function):
    one compiled call (contour.newton_eps)."""
    return newton_eps(ct, eps, log_target)


class ExactMethod:
    """Both directions of a composition; the accountant's entry point to the exact engine."""

    name = "exact"

    def __init__(self, groups: Sequence[tuple[Any, int]], rtol: float = DEFAULT_RTOL) -> None:
        self.groups = list(groups)
        self.dirs = {d: ExactDirection(composition_log_mgf(self.groups, d), rtol) for d in DIRECTIONS}

    def clear(self) -> None:
        """Forget cached contours, so that an answer does not depend on the queries before it."""
        for d in self.dirs.values():
            d._contours.clear()
            d._c_hint = None
            d._last_build = None
            d._init_memo = None
        # the truncated REMOVE / wide ADD directions of methods/truncation.py (rebuilt on demand)
        self.__dict__.pop("_trunc_remove", None)
        self.__dict__.pop("_wide_add", None)

    def _add_bound_eps(self, log_target: float) -> float:
        """A rigorous upper bound on eps_add(delta): min over s of (psi(s) - log delta) / s."""
        return chernoff_eps(self.dirs["add"].K, log_target)

    def _add_bound_logdelta(self, eps: float) -> float:
        return chernoff_log_delta(self.dirs["add"].K, eps)

    def _add_loss_sup(self) -> float:
        """The essential supremum of the ADD direction's privacy loss over the composition (inf where unbounded),
        rounded up: ADD's delta(eps) = E[(1 - e^{eps - L})_+] is 0 for every eps at or beyond it, so it bounds
        eps_add(delta) above for every delta > 0.  Poisson-subsampled Gaussians: dP1/dP0 = 1 - q + q e^{...} >=
        1 - q, L_add = -log(dP1/dP0) <= -log(1 - q) per step (the mechanism's ``loss_sup("add")``); the
        composition's sum carries a relative margin 1e-12 for its rounding."""
        sup = self.dirs["add"].K.loss_sup
        return sup * (1.0 + 1e-12) if math.isfinite(sup) and sup >= 0.0 else math.inf

    def _add_bound_quick(self, log_target: float, c_ref: float, stop: float = -math.inf) -> float:
        """A rigorous (not minimised) upper bound on eps_add: (psi(s) - log delta)/s at a few s near c_ref
        (the first at or below ``stop`` ends the search: the caller only compares with it)."""
        K = self.dirs["add"].K
        best = math.inf
        for f in (0.5, 1.0, 2.0):
            s = max(f * c_ref, 1e-3)
            try:
                best = min(best, (K.psi(s) - log_target) / s)
            except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
                continue
            if best <= stop:
                break
        return best

    def delta_at_zero_bound(self) -> float:
        """A rigorous upper bound on delta(0) (both directions) by joint convexity of the hockey stick.

        Poisson subsampling makes each neighbour a mixture over the set S of steps that used the
        record, each component a Gaussian shift of norm mu_S; delta(0) of a mu-Gaussian pair is
        f(mu) = 2 Phi(mu/2) - 1, concave, so delta(0) <= E f(mu_S) <= f(E mu_S), and
        E mu_S <= sum_g n_g q_g mu_g + sqrt(sum over Gaussian groups n mu^2) (triangle inequality).

        Second bound: delta(0) is the total variation distance, and the two neighbours coincide on the
        event that no step used the record (couple them on the same sampling and noise), so
        delta(0) <= P(S nonempty) = 1 - prod_g (1 - q_g)^{n_g}; it is the smaller one where the
        record is rarely used (q T << 1 with a small sigma).  The smaller of the two is returned.
        """
        m = 0.0
        g2 = 0.0
        log_unused = 0.0
        for mech, n in self.groups:
            q = getattr(mech, "sampling_probability", 1.0)
            mu = 1.0 / mech.noise_multiplier
            if q < 1.0:
                m += n * q * mu
                log_unused += n * math.log1p(-q)
            else:
                g2 += n * mu * mu
                log_unused = -math.inf
        m += math.sqrt(g2)
        # 2 Phi(m/2) - 1 = erf(m / (2 sqrt 2)), without the cancellation of the former at tiny m; the
        # sums above round up by at most a few ulps: a relative margin covers them
        convex = math.erf(m / (2.0 * math.sqrt(2.0))) * (1.0 + 1e-12) + 1e-300
        used = -math.expm1(log_unused) * (1.0 + 1e-12) + 1e-300
        return float(min(1.0, convex, used))

    def epsilon(self, delta: float) -> tuple[float, str, float, dict[str, Any]]:
        """(eps, dominating direction, relative error estimate, diagnostics), memoised per engine (a
        composition) and delta: a certified query asks the engine inside the contour certifier and the
        accountant asks again for its estimate where the certificate's own does not stand (0.24 s twice
        at sigma 0.5044, q 6.36e-6, T 214907, delta 9.76e-9).  Only answers are kept (a raised query is
        asked again)."""
        memo = self.__dict__.setdefault("_eps_memo", {})
        hit = memo.get(delta)
        if hit is not None:
            return hit[0], hit[1], hit[2], dict(hit[3])
        r = self._epsilon_query(delta)
        if len(memo) > 32:
            memo.clear()
        memo[delta] = (r[0], r[1], r[2], dict(r[3]))
        return r

    def _epsilon_query(self, delta: float) -> tuple[float, str, float, dict[str, Any]]:
        b0 = self.delta_at_zero_bound()
        if b0 <= delta:
            return 0.0, "remove", 0.0, {"note": f"delta(0) <= {b0:.3g} <= target (joint-convexity bound): eps = 0"}
        lt = math.log(delta)
        r = self._remove_epsilon(lt)
        if r.value == 0.0 and r.log_delta <= lt:
            # delta(0) is the total variation distance, the same in both directions: eps_add = 0 too
            return 0.0, "remove", 0.0, {**r.diag, "add": "delta_add(0) = delta_remove(0) <= target"}
        if r.value > 0.0 and self._add_loss_sup() <= r.value:
            # eps_add(delta) <= ess sup of ADD's loss (delta_add = 0 beyond it): the REMOVE value is the larger
            return r.value, "remove", r.rel_err, {**r.diag, "add": "below the REMOVE value (ADD's largest privacy loss)"}
        c_ref = float(r.diag.get("c", 1.0))
        if r.value > 0.0 and self._add_bound_quick(lt, c_ref, r.value) <= r.value:
            return r.value, "remove", r.rel_err, {**r.diag, "add": "below the REMOVE value (Chernoff bound)"}
        if self._add_bound_eps(lt) <= r.value:
            return r.value, "remove", r.rel_err, {**r.diag, "add": "below the REMOVE value (Chernoff bound)"}
        a = self._add_epsilon(lt)
        if a.value > r.value:
            return a.value, "add", a.rel_err, {**a.diag, "remove_eps": r.value}
        return r.value, "remove", r.rel_err, {**r.diag, "add_eps": a.value}

    # -- REMOVE routed to the truncated composition in the far mode, ADD to the wide saddle search when
    #    the full engine cannot settle (methods/truncation.py)
    def _remove_epsilon(self, log_target: float) -> DirectionAnswer:
        from .truncation import remove_epsilon

        return remove_epsilon(self, log_target)

    def _remove_log_delta(self, eps: float) -> DirectionAnswer:
        from .truncation import remove_log_delta

        return remove_log_delta(self, eps)

    def _add_epsilon(self, log_target: float) -> DirectionAnswer:
        from .truncation import add_epsilon

        return add_epsilon(self, log_target)

    def _add_log_delta(self, eps: float) -> DirectionAnswer:
        from .truncation import add_log_delta

        return add_log_delta(self, eps)

    def delta_underflow(self, eps: float) -> str | None:
        """The note of a delta that is 0 in double precision (the Chernoff bound of both directions below the
        smallest double), else None.  Milliseconds (a Newton search on the real kernel); the dispatch asks
        it before any stage (the few-participation quadrature, first at sum q n <= 1e-2, spent 1.8 s failing
        at q 6.06e-9, sigma 10.95, T 197887, eps 1.933 before the contour's check found delta < e^-1941)."""
        bounds = {d: chernoff_log_delta(self.dirs[d].K, eps) for d in DIRECTIONS}
        if max(bounds.values()) < LOG_TINY:
            return f"delta < exp({max(bounds.values()):.4g}) (Chernoff bound): 0 in double precision"
        return None

    def delta(self, eps: float) -> tuple[float, str, float, dict[str, Any]]:
        # far tail: when the Chernoff bound of both directions is below the smallest double, delta is 0
        # to double precision (and the contour's saddle would run off to infinity)
        note = self.delta_underflow(eps)
        if note is not None:
            return 0.0, "remove", 0.0, {"note": note}
        r = self._remove_log_delta(eps)
        if r.value > 1.0:  # delta <= 1: an overshoot inside the quadrature's tolerance
            r = DirectionAnswer(1.0, 0.0, r.rel_err, {**r.diag, "clamped": r.value})
        if self._add_bound_logdelta(eps) <= r.log_delta:
            return r.value, "remove", r.rel_err, {**r.diag, "add": "below the REMOVE value (Chernoff bound)"}
        a = self._add_log_delta(eps)
        if a.value > 1.0:
            a = DirectionAnswer(1.0, 0.0, a.rel_err, {**a.diag, "clamped": a.value})
        if a.log_delta > r.log_delta:
            return a.value, "add", a.rel_err, {**a.diag, "remove_delta": r.value}
        return r.value, "remove", r.rel_err, {**r.diag, "add_delta": a.value}


def chernoff_log_delta(K: LogMgf, eps: float, s0: float = 1.0) -> float:
    """min over s > 0 of psi(s) - s eps: log of a rigorous upper bound on delta(eps) given K.

    Searched in [1e-3, 1e3] by Newton on psi'(s) = eps (psi convex), from ``s0``; the grid is the
    fallback.  Any s gives a valid bound.
    """
    if eps >= K.loss_sup:
        return -math.inf

    def fn(s: float) -> tuple[float, float, float]:
        p, dp, d2 = _psi012(K, s)
        return p - s * eps, dp - eps, d2

    best = _newton_min(fn, s0)
    if math.isfinite(best):
        return best
    for s in np.geomspace(1e-3, 1e3, 31):
        try:
            v = K.psi(float(s)) - float(s) * eps
        except (ValueError, OverflowError, FloatingPointError, ZeroDivisionError):
            continue
        if math.isfinite(v):
            best = min(best, v)
    return best
