"""Extended-precision cumulants for nearly Gaussian PLRVs (large noise multipliers).

For sigma > 10 the PLRV is so close to Gaussian that kappa_j (j >= 4) are differences of nearly equal
central moments and double precision loses up to six digits.  There the null/alternative cumulants
are computed once per mechanism with python-flint's Arb (rigorous ball arithmetic and integration)
and rounded to double at the end; the tilted CGF at other tilts keeps the fast double kernel.

Arb returns each cumulant as a ball ``[mid +/- rad]``.  Only a tight ball is used: the working
precision is doubled (128, 256, ..., 1024 bits) until every ``rad <= REL_RADIUS * |mid|``; if that never
happens, :class:`PrecisionError` is raised rather than a midpoint of unknown accuracy returned.

Two details make the balls tight:

* the loss is integrated in units of its rough standard deviation ``S = q sqrt(e^{mu^2} - 1)``
  (``y = l / S``, ``kappa_n(l) = S^n kappa_n(y)``), with an absolute tolerance matched to the
  precision: Arb's integrator stops on ``max(abs_tol, rel_tol |I|)``, and with the raw loss
  (sixth central moment ~1e-54 at q = 1e-7, sigma = 100) it stopped at once with a ball wider
  than the value (its midpoint was 51x off);
* ``l = log1p(q expm1(z))`` has no cancellation when ``q e^z`` is small.

The integration range ``[-40, 40 + mu]`` drops Gaussian tails of relative mass below e^-790 (not in
the ball; it is far below the 1e-12 target).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

L_TRUNC = 40.0
#: largest accepted relative radius of an Arb ball before its midpoint is used
REL_RADIUS = 1e-12
#: working precisions tried, in bits
PRECISIONS = (128, 256, 512, 1024)


class PrecisionError(FloatingPointError):
    """The extended-precision enclosure did not become tight enough (an internal failure, not bad input)."""


def _arb_cumulants(q: float, sigma: float, tilt: float, nmax: int, prec: int):
    """``(m1, [kappa_2..kappa_nmax])`` of the loss as Arb balls, computed at ``prec`` bits."""
    from flint import acb, arb, ctx

    old = ctx.prec
    ctx.prec = prec
    try:
        qa = arb(q)
        mu = 1 / arb(sigma)
        norm = (2 * arb.pi()).sqrt()
        scale = qa * (mu * mu).expm1().sqrt()
        a, b = -L_TRUNC, L_TRUNC + float(mu.mid())
        one = acb(1)

        def ell(x, analytic):
            # l = log1p(u), u = q (e^z - 1), z = mu x - mu^2/2: no cancellation when q e^z is small.
            # log1p's branch cut is 1 + u <= 0; on a ball with Re(1 + u) > 0 it is analytic.
            u = qa * (mu * x - mu * mu / 2).expm1()
            if analytic and not ((one + u).real > 0):
                return acb(arb("nan"))
            return u.log1p()

        def integral(g):
            def f(x, an):
                lx = ell(x, an)
                w = (-(x * x) / 2).exp() / norm
                if tilt == 1.0:
                    w = w * lx.exp()
                return g(lx / scale) * w

            return acb.integral(f, a, b, rel_tol=2.0 ** (-prec + 16), abs_tol=2.0 ** (-prec + 16),
                                eval_limit=10**7).real

        m1 = integral(lambda y: y)
        cm = [arb(1), arb(0)] + [integral(lambda y, k=k: (y - m1) ** k) for k in range(2, nmax + 1)]
        kap = [arb(0)] * (nmax + 1)
        for n in range(2, nmax + 1):
            s = cm[n]
            for k in range(2, n):
                s -= arb(_binom(n - 1, k - 1)) * kap[k] * cm[n - k]
            kap[n] = s
        return m1 * scale, [kap[n] * scale**n for n in range(2, nmax + 1)]
    finally:
        ctx.prec = old


def _tight(x, rel: float) -> bool:
    mid, rad = float(x.mid()), float(x.rad())
    return bool(np.isfinite(mid)) and bool(np.isfinite(rad)) and rad <= rel * abs(mid)


@lru_cache(maxsize=64)
def sg_cumulants_precise(q: float, sigma: float, tilt: float, nmax: int, prec: int = 128) -> np.ndarray:
    """``[K(tilt), K'(tilt), ..., K^{(nmax)}(tilt)]`` for tilt in {0, 1} (null / alternative).

    Each entry is the midpoint of an Arb ball whose relative radius is at most :data:`REL_RADIUS`;
    the precision starts at ``prec`` bits and is doubled up to 1024.

    Raises:
        PrecisionError: if no precision up to 1024 bits gives balls that tight.
    """
    if tilt not in (0.0, 1.0):
        raise ValueError("extended-precision cumulants exist for tilt 0 and 1 only")
    if not 0.0 < q < 1.0:
        raise ValueError(f"extended-precision cumulants need q in (0, 1), got {q!r}")
    worst = None
    for bits in (p for p in PRECISIONS if p >= prec):
        m1, kaps = _arb_cumulants(q, sigma, tilt, nmax, bits)
        balls = [m1] + kaps
        if all(_tight(x, REL_RADIUS) for x in balls):
            out = np.zeros(nmax + 1)
            out[0] = 0.0  # K_X(0) = K_X(1) = 0 exactly (E_null e^L = 1)
            for n, x in enumerate(balls, start=1):
                out[n] = float(x.mid())
            out.setflags(write=False)
            return out
        worst = max((float(x.rad()) / abs(float(x.mid())) if float(x.mid()) != 0.0 else float("inf")) for x in balls)
    raise PrecisionError(
        f"internal error: extended-precision cumulants at q={q:g}, sigma={sigma:g} did not reach relative "
        f"radius {REL_RADIUS:g} at {PRECISIONS[-1]} bits (worst {worst:.3g}); please report this configuration")


def _binom(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)
