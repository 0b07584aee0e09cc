"""One CPU-time budget per default query, shared by every stage of the exact chain.

Issue 8 asks that no single default call run longer than 1 s.  Each engine of the exact chain has its
own safety net (the contour's ``ExactDirection.TIME_BUDGET``, the direct quadrature's, the truncated
composition's, the few-participation quadrature's node budget); a degenerate query could chain them
(3.3 s at PSG(681.6, 1.91e-6) x 96, delta(1e-3): the full engine's 3 s net, then the Chernoff bound).
Here one deadline is set per query point (:func:`limit`, by :class:`ewacct.methods.dispatch.ExactDispatch`)
and every engine's own deadline is ``min``-ed with it (:func:`cap`), so the whole chain, including the
flagged Chernoff bound that answers when it runs out, stays within about a second of CPU.

Rules:

* a scalar query gets :data:`CALL_BUDGET` CPU seconds for its exact stages; the fallback bound (the
  rigorous Chernoff bound, ``valid=False``, with a note that the time budget ran out) is computed after it
  and costs milliseconds (two subsampled-Gaussian steps first try the cell enclosure's bracket, at most
  ``dispatch.TWO_STEP_BUDGET`` more);
* an array query gives each point its own budget (answers do not depend on which other points were asked
  in the same call); such a call takes at most about ``CALL_BUDGET`` per point;
* :meth:`ewacct.Accountant.tradeoff` is one answer: the whole curve (its eps range and every delta(eps) it
  evaluates) shares one budget of :data:`TRADEOFF_BUDGET`; points evaluated after it ran out are the flagged
  upper bounds of delta (a smaller beta: the safe side; the curve is then ``valid=False``).

Budgets nest: an inner :func:`limit` never extends the outer deadline.  The clock is this process's CPU
time (as ``ewacct.methods.exact.clock``), so whether a query settles does not depend on the machine's load.
Set :data:`CALL_BUDGET` to ``math.inf`` to give the engines their own nets back (minutes at worst).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

#: CPU seconds of one query point's exact stages (the fallback bound comes after, in milliseconds).  The
#: work in flight when the deadline passes finishes first (up to ~0.3 s where the real log-MGF kernel is
#: slowest, sigma ~700 at w mu ~ 1e4: 0.66 s in all there), so the whole call stays below 1 s.  No answer
#: that was exact and valid on the random sweeps of the H-D report took more than 0.34 s
CALL_BUDGET = 0.6
#: CPU seconds of a whole trade-off curve (its eps range and all the delta(eps) it evaluates)
TRADEOFF_BUDGET = 0.6
#: the note a stage's error carries when this budget (not the stage's own net) stopped it
NOTE = "the call's time budget ran out"

_DEADLINE: ContextVar[float] = ContextVar("ewacct_call_deadline", default=math.inf)


#: CPU seconds this process has spent holding Numba's compiler lock (compiling a kernel or loading it from
#: the on-disk cache), and the state of the listener that counts them (nesting depth, start time)
_JIT = {"total": 0.0, "depth": 0, "t0": 0.0}


def _count_jit() -> None:
    """Count the CPU time spent under Numba's global compiler lock (``numba:compiler_lock`` events, which
    cover compilation and cache loads alike): the budgets bound the engines' work, not a one-time kernel
    load.  Without this a cold Numba cache (seconds of compilation) or the first use of a kernel in a
    process (0.1-0.5 s to load it) pushed a query past its budget into the flagged fallback."""
    try:
        from numba.core import event as ev
    except ImportError:  # pragma: no cover - numba is a dependency
        return

    class _JitTimer(ev.Listener):
        def on_start(self, event) -> None:
            if _JIT["depth"] == 0:
                _JIT["t0"] = time.process_time()
            _JIT["depth"] += 1

        def on_end(self, event) -> None:
            _JIT["depth"] -= 1
            if _JIT["depth"] == 0:
                _JIT["total"] += time.process_time() - _JIT["t0"]

    ev.register("numba:compiler_lock", _JitTimer())


_count_jit()


def jit_seconds() -> float:
    """CPU seconds spent so far compiling or loading Numba kernels (including one in progress)."""
    j = _JIT["total"]
    if _JIT["depth"] > 0:
        j += time.process_time() - _JIT["t0"]
    return j


#: CPU seconds spent in one-time set-up blocks (:func:`setup`: a module's first import, its tables), less the
#: Numba time inside them (counted by _JIT), and the state of the innermost open block (nesting depth, start)
_SETUP = {"total": 0.0, "depth": 0, "t0": 0.0, "j0": 0.0}


@contextmanager
def setup() -> Iterator[None]:
    """A block of one-time set-up (a lazy import of a module and its tables, once per process) whose CPU time
    :func:`clock` does not count, as it does not count Numba's: a stage that imports what it needs on first use
    (ewacct._kernels.fewpart_path: 0.1-0.3 s under load, its rule tables) must not spend its own short net,
    or the call's budget, on it (a cold worker's first query then ended in the flagged bound)."""
    if _SETUP["depth"] == 0:
        _SETUP["t0"] = time.process_time()
        _SETUP["j0"] = jit_seconds()
    _SETUP["depth"] += 1
    try:
        yield
    finally:
        _SETUP["depth"] -= 1
        if _SETUP["depth"] == 0:
            _SETUP["total"] += max((time.process_time() - _SETUP["t0"]) - (jit_seconds() - _SETUP["j0"]), 0.0)


def setup_seconds() -> float:
    """CPU seconds spent so far in :func:`setup` blocks, Numba's time inside them excluded (including one
    in progress)."""
    s = _SETUP["total"]
    if _SETUP["depth"] > 0:
        s += max((time.process_time() - _SETUP["t0"]) - (jit_seconds() - _SETUP["j0"]), 0.0)
    return s


def clock() -> float:
    """The budgets' clock: this process's CPU time less what Numba spent compiling or loading kernels
    (:func:`jit_seconds`) and what one-time set-up took (:func:`setup`: first imports), so whether a query
    settles depends neither on the machine's load nor on whether its kernels and modules were already
    loaded.  Every engine's deadline is on this clock."""
    if _JIT["depth"] or _SETUP["depth"]:
        return time.process_time() - jit_seconds() - setup_seconds()
    return time.process_time() - _JIT["total"] - _SETUP["total"]  # (the common case: no block open)


def deadline() -> float:
    """The running call's deadline (``clock()`` value), ``inf`` outside any budget."""
    return _DEADLINE.get()


def cap(own_deadline: float) -> float:
    """An engine's own deadline, capped by the running call's."""
    return min(own_deadline, _DEADLINE.get())


def remaining() -> float:
    """CPU seconds left to the running call (``inf`` outside any budget)."""
    dl = _DEADLINE.get()
    return math.inf if dl == math.inf else dl - clock()


def expired() -> bool:
    """Whether the running call's budget has run out."""
    dl = _DEADLINE.get()
    return dl != math.inf and clock() > dl


@contextmanager
def limit(seconds: float | None = None) -> Iterator[float]:
    """Run the block under a deadline ``seconds`` (default :data:`CALL_BUDGET`) of CPU from now, or the
    enclosing block's, whichever is earlier; yields the deadline."""
    s = CALL_BUDGET if seconds is None else seconds
    dl = min(_DEADLINE.get(), clock() + s) if s != math.inf else _DEADLINE.get()
    tok = _DEADLINE.set(dl)
    try:
        yield dl
    finally:
        _DEADLINE.reset(tok)
