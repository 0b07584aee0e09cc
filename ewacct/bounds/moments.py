"""Rigorous per-step moments of the privacy-loss random variable (Arb ball arithmetic).

The finite-sample bound of Derumigny, Girard & Guyonvarch needs, for the centred loss
``xi = l - E l`` of one step, ``E xi^2, E xi^3, E xi^4, E|xi|, E|xi|^3``.  Float quadrature would make
the bound depend on unquantified rounding and truncation, so these inputs are computed with
python-flint's ``acb.integral`` (rigorous, error-bounded integration of analytic integrands) over
``[-L, L + mu]`` plus an explicit bound on the Gaussian tails beyond, and every result is an
``arb`` ball guaranteed to contain the true value.  ``|xi|^p`` is integrated on the two sides of
the unique root of ``l(x) = E l`` (``l`` is increasing), where it is analytic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

L_TRUNC = 40.0


@dataclass(frozen=True)
class StepMoments:
    """Ball enclosures (as (lower, upper) float pairs) of the centred moments of one step."""

    m2: tuple[float, float]
    m3: tuple[float, float]
    m4: tuple[float, float]
    a1: tuple[float, float]
    a3: tuple[float, float]


def _interval(x) -> tuple[float, float]:
    from flint import arb

    lo = float(arb(x.mid()) - x.rad())
    hi = float(arb(x.mid()) + x.rad())
    # float() rounds to nearest: widen by one ulp-scale relative step to stay outside
    return (math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf))


@lru_cache(maxsize=256)
def subsampled_gaussian_moments(q: float, sigma: float, side: str, prec: int = 96) -> StepMoments:
    """Rigorous centred moments of one subsampled-Gaussian step under 'null' (P0) or 'alt' (P1)."""
    from flint import acb, arb, ctx

    old = ctx.prec
    ctx.prec = prec
    try:
        qa = arb(q)
        mu = 1 / arb(sigma)
        two_pi_sqrt = (2 * arb.pi()).sqrt()
        a, b = -L_TRUNC, L_TRUNC + float(mu.mid())
        tilt = 1 if side == "alt" else 0  # E_alt g(l) = E_null[e^l g(l)]

        def ell(x, analytic):
            z = mu * x - mu * mu / 2
            return (acb(1) - qa + qa * z.exp()).log(analytic=analytic)

        def weight(x, lx):
            w = (-(x * x) / 2).exp() / two_pi_sqrt
            return w * lx.exp() if tilt else w

        def integral(fun, lo, hi):
            if lo >= hi:
                return arb(0)
            r = acb.integral(lambda x, an: fun(x, an), lo, hi, rel_tol=2.0 ** (-prec + 10), eval_limit=10**6)
            return r.real

        # tail: |l(x)| <= -log(1-q) + mu|x| + mu^2/2 and the weight is <= e^{mu|x|} phi(x) on the alt side
        c = (-math.log1p(-q) if q < 1 else 0.0) + float(mu.mid()) * (L_TRUNC + 2) + float(mu.mid()) ** 2
        tail = 2 * (c + 10) ** 4 * math.exp(-0.5 * (L_TRUNC - 2 * float(mu.mid())) ** 2 + 5)
        tail_ball = arb(0, tail)

        m1 = integral(lambda x, an: ell(x, an) * weight(x, ell(x, an)), a, b) + tail_ball

        def central(p):
            return integral(lambda x, an: (ell(x, an) - m1) ** p * weight(x, ell(x, an)), a, b) + tail_ball

        m2, m3, m4 = central(2), central(3), central(4)
        # root of l(x) = m1:  z = log((e^m1 - 1 + q)/q)
        zr = ((m1.exp() - 1 + qa) / qa).log()
        xr = (zr + mu * mu / 2) / mu
        xs = float(xr.mid())
        dx = float(xr.rad()) + abs(xs - float(xr.mid()))

        def absolute(p):
            left = integral(lambda x, an: (m1 - ell(x, an)) ** p * weight(x, ell(x, an)), a, xs)
            right = integral(lambda x, an: (ell(x, an) - m1) ** p * weight(x, ell(x, an)), xs, b)
            # misplacing the split by dx changes the value by at most 2 (mu dx)^p dx max(weight)
            slack = 2 * (float(mu.mid()) * dx) ** p * dx * 10.0
            return left + right + tail_ball + arb(0, slack)

        a1, a3 = absolute(1), absolute(3)
        return StepMoments(*(_interval(v) for v in (m2, m3, m4, a1, a3)))
    finally:
        ctx.prec = old


def gaussian_moments(sigma: float) -> StepMoments:
    """Exact centred moments of the Gaussian mechanism's PLRV, N(., mu^2), as tight intervals."""
    mu = 1.0 / sigma
    c = math.sqrt(2.0 / math.pi)
    vals = (mu**2, 0.0, 3 * mu**4, c * mu, 2 * c * mu**3)

    def iv(v: float) -> tuple[float, float]:
        e = 4 * abs(v) * 2.0**-52
        return (v - e, v + e)

    return StepMoments(*(iv(v) for v in vals))
