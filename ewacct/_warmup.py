"""Compile and cache ewacct's Numba kernels ahead of the first real query: ``ewacct warmup``.

The kernels are ``@njit(cache=True)``: the first process that uses one compiles it (seconds; the
default query's kernels took ~11 s on 2 cores, the certified path's ~50 s) and writes it to Numba's
cache, where later processes load it in milliseconds.  :func:`warmup` runs one small query of each
route of the default engine (the contour at many and at few participations, the truncated
composition, the few-participation and direct quadratures, delta(eps), the ADD direction, closed
forms, Laplace and randomized response) and, unless ``certified=False``, of the certified path, so
that a user's first call finds its kernels cached.  The cache lives next to the package's sources
(``__pycache__``) or under ``NUMBA_CACHE_DIR`` where that is set (e.g. a read-only site-packages):
:func:`cache_location` says which.  Run it once after installing (``make venv`` does) or after
changing the kernels; on a warm cache it takes about a second.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Callable

__all__ = ["warmup", "cache_location", "WARMUP_STEPS"]


def _eps(s: float, q: float, T: int, d: float, certify: bool = False) -> Callable[[], object]:
    def run() -> object:
        from . import api

        return api.epsilon(noise_multiplier=s, sampling_probability=q, steps=T, target_delta=d, certify=certify)

    return run


def _delta(s: float, q: float, T: int, e: float, certify: bool = False) -> Callable[[], object]:
    def run() -> object:
        from . import api

        return api.delta(noise_multiplier=s, sampling_probability=q, steps=T, target_epsilon=e, certify=certify)

    return run


def _mech(kind: str, p: float, T: int, d: float, certify: bool = False) -> Callable[[], object]:
    def run() -> object:
        from .accountant import Accountant
        from .mechanisms import Laplace, RandomizedResponse

        m = Laplace(p) if kind == "laplace" else RandomizedResponse(p)
        return Accountant().compose(m, T).get_epsilon(d, certify=certify)

    return run


#: (label, whether it is a certified step, the query): one small query per route, in the order a
#: typical user meets them (the default query first)
WARMUP_STEPS: tuple[tuple[str, bool, Callable[[], object]], ...] = (
    ("epsilon, q=0.01 sigma=1 T=1000 (the default contour)", False, _eps(1.0, 0.01, 1000, 1e-5)),
    ("epsilon, SST-2 fine-tuning (q=0.0297 sigma=0.7865 T=660)", False, _eps(0.7865, 0.029696, 660, 1e-5)),
    ("delta, q=0.01 sigma=1 T=1000 eps=1", False, _delta(1.0, 0.01, 1000, 1.0)),
    ("epsilon, few participations (q=0.01 T=10)", False, _eps(1.0, 0.01, 10, 1e-5)),
    ("epsilon, few participations (q=1e-3 T=10: conditioned quadrature)", False, _eps(1.0, 1e-3, 10, 1e-5)),
    ("epsilon, tiny delta (q=0.01 T=10 delta=1e-10)", False, _eps(1.0, 0.01, 10, 1e-10)),
    ("epsilon, two steps (direct quadrature)", False, _eps(1.0, 0.05, 2, 1e-5)),
    ("epsilon, one step and q=1 (closed forms)", False, _eps(1.0, 1.0, 100, 1e-5)),
    ("epsilon, low noise (q=0.2 sigma=0.5 T=50)", False, _eps(0.5, 0.2, 50, 1e-6)),
    ("epsilon, large T (q=1e-4 T=1e8)", False, _eps(1.0, 1e-4, 10**8, 1e-5)),
    ("delta, few participations (q=1e-3 T=30 eps=0.5)", False, _delta(1.0, 1e-3, 30, 0.5)),
    ("epsilon, Laplace x 20", False, _mech("laplace", 2.0, 20, 1e-5)),
    ("epsilon, randomized response x 20", False, _mech("rr", 0.5, 20, 1e-5)),
    ("certified epsilon, q=0.01 sigma=1 T=1000", True, _eps(1.0, 0.01, 1000, 1e-5, True)),
    ("certified epsilon, q=1e-4 sigma=1 T=30", True, _eps(1.0, 1e-4, 30, 1e-6, True)),
    ("certified epsilon, q=2.14e-8 sigma=3.46 T=9", True, _eps(3.46, 2.14e-8, 9, 3.08e-11, True)),
    ("certified delta, q=0.01 sigma=1 T=1000 eps=1", True, _delta(1.0, 0.01, 1000, 1.0, True)),
)


def cache_location() -> str:
    """Where Numba keeps ewacct's compiled kernels: ``NUMBA_CACHE_DIR`` where set, else the ``__pycache__``
    folders beside the package's modules."""
    d = os.environ.get("NUMBA_CACHE_DIR")
    if d:
        return os.path.abspath(d)
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "**", "__pycache__")


def warmup(certified: bool = True, progress: Callable[[str, float, str | None], None] | None = None) -> list[dict]:
    """Run one small query of each route (:data:`WARMUP_STEPS`), compiling and caching every kernel it uses.

    Args:
        certified: also the certified path's steps (their kernels take most of a cold warm-up).
        progress: called after each step with (label, wall seconds, error message or None).

    Returns:
        One dict per step: ``label``, ``seconds`` (wall time), ``error`` (None, or the exception's text: a
        step that fails leaves its kernels to compile on first use, and the others still run).
    """
    out = []
    for label, cert, fn in WARMUP_STEPS:
        if cert and not certified:
            continue
        t0 = time.perf_counter()
        err = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a warm-up step must not stop the others
            err = f"{type(exc).__name__}: {exc}"
        dt = time.perf_counter() - t0
        out.append({"label": label, "seconds": dt, "error": err})
        if progress is not None:
            progress(label, dt, err)
    return out
