"""Extended-precision cumulants for nearly Gaussian PLRVs (large noise multipliers).

For sigma > 10 the PLRV is so close to Gaussian that kappa_j (j >= 4) are differences of nearly equal
central moments and double precision loses up to six digits.  There the null/alternative cumulants
are computed once per mechanism with python-flint's Arb (rigorous integration at 128 bits) and
rounded to double at the end; the tilted CGF at other tilts keeps the fast double kernel.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

L_TRUNC = 40.0


@lru_cache(maxsize=64)
def sg_cumulants_precise(q: float, sigma: float, tilt: float, nmax: int, prec: int = 128) -> np.ndarray:
    """``[K(tilt), K'(tilt), ..., K^{(nmax)}(tilt)]`` for tilt in {0, 1} (null / alternative), in Arb."""
    from flint import acb, arb, ctx

    if tilt not in (0.0, 1.0):
        raise ValueError("extended-precision cumulants exist for tilt 0 and 1 only")
    old = ctx.prec
    ctx.prec = prec
    try:
        qa = arb(q)
        mu = 1 / arb(sigma)
        norm = (2 * arb.pi()).sqrt()
        a, b = -L_TRUNC, L_TRUNC + float(mu.mid())

        def ell(x, analytic):
            return (acb(1) - qa + qa * (mu * x - mu * mu / 2).exp()).log(analytic=analytic)

        def integral(g):
            def f(x, an):
                lx = ell(x, an)
                w = (-(x * x) / 2).exp() / norm
                if tilt == 1.0:
                    w = w * lx.exp()
                return g(lx) * w

            return acb.integral(f, a, b, rel_tol=2.0 ** (-prec + 12), eval_limit=10**6).real

        m1 = integral(lambda l: l)
        cm = [arb(1), arb(0)] + [integral(lambda l, k=k: (l - m1) ** k) for k in range(2, nmax + 1)]
        kap = [arb(0)] * (nmax + 1)
        for n in range(2, nmax + 1):
            s = cm[n]
            for k in range(2, n):
                s -= arb(_binom(n - 1, k - 1)) * kap[k] * cm[n - k]
            kap[n] = s
        out = np.zeros(nmax + 1)
        out[0] = 0.0  # K_X(0) = K_X(1) = 0 exactly (E_null e^L = 1)
        out[1] = float(m1.mid())
        for n in range(2, nmax + 1):
            out[n] = float(kap[n].mid())
        out.setflags(write=False)
        return out
    finally:
        ctx.prec = old


def _binom(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)
