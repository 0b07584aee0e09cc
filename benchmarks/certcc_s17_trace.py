"""Session 17 (H-CC): where a certified eps(delta) query of PoissonSubsampledGaussian(sigma, q) x T spends its CPU:
the sources it tries (certify.py's order), each one's CPU time and outcome, nested.  Warm process, caches cleared.

    python benchmarks/certcc_s17_trace.py SIGMA Q T DELTA [SIGMA Q T DELTA ...]
"""

from __future__ import annotations

import functools
import sys
import time
import warnings

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds import certify, fewpart_cert, fewpart_cond
from ewacct.bounds.certify import clear_memo
from ewacct.methods import certified
from ewacct.methods.certified import clear_caches

DEPTH = [0]
LOG: list[str] = []


def _short(v) -> str:
    if v is None:
        return "None"
    for a in ("lower", "upper"):
        if not hasattr(v, a):
            break
    else:
        return f"[{v.lower:.9g}, {v.upper:.9g}]"
    if isinstance(v, tuple) and len(v) >= 2 and all(isinstance(x, float) for x in v[:2]):
        return f"[{v[0]:.9g}, {v[1]:.9g}]"
    s = repr(v)
    return s[:60]


def wrap(obj, name: str, label: str | None = None) -> None:
    f = getattr(obj, name)
    lab = label or f"{getattr(obj, '__name__', obj)}.{name}"

    @functools.wraps(f)
    def g(*a, **k):
        DEPTH[0] += 1
        t0 = time.process_time()
        idx = len(LOG)
        LOG.append("")
        try:
            r = f(*a, **k)
            out = _short(r)
        except Exception as exc:  # noqa: BLE001
            out = f"raised {type(exc).__name__}: {str(exc)[:70]}"
            raise
        finally:
            DEPTH[0] -= 1
            LOG[idx] = f"{'  ' * DEPTH[0]}{lab}: {1e3 * (time.process_time() - t0):.1f} ms -> {out}"
        return r

    setattr(obj, name, g)


for n in ("_zero_epsilon", "_corner_first", "_contour_bracket", "_narrow_before_proven", "_proven_certificate",
          "_with_fewpart", "_fewpart_estimate", "_with_proven"):
    wrap(certify, n)
wrap(fewpart_cond, "epsilon_bracket", "fewpart_cond.epsilon_bracket")
wrap(fewpart_cert, "epsilon_bracket", "fewpart_cert.epsilon_bracket")
C = certified.ContourCertifier
for n in ("_onejump_epsilon", "_cut_epsilon", "_quant_epsilon", "_fast_epsilon", "_engine_epsilon", "_qcontour",
          "_qslope", "_qtight", "_bracket", "_contour", "_zero_by_chernoff"):
    if hasattr(C, n):
        wrap(C, n, f"CC.{n}")


def once(s, q, T, d):
    clear_caches()
    clear_memo()
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(d, certify=True)
    return time.process_time() - t0, r


if __name__ == "__main__":
    args = [float(x) for x in sys.argv[1:]]
    once(1.0, 1e-4, 10, 1e-5)
    once(0.97, 1.5e-6, 39, 2.7e-6)
    once(0.5, 1e-3, 10, 1e-10)
    for i in range(0, len(args), 4):
        s, q, T, d = args[i:i + 4]
        once(s, q, int(T), d)
        LOG.clear()
        t, r = once(s, q, int(T), d)
        print(f"=== sigma={s} q={q} T={int(T)} delta={d}: {t * 1e3:.1f} ms [{r.lower:.10g}, {r.upper:.10g}] "
              f"{r.certified_by[:90]}")
        print("\n".join(LOG))
