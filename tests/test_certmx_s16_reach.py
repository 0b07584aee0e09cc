"""bounds/mixed_fft.py: the upper law's small tilted entries go to the infinite state only where they can reach a sum
above e_min (docs/certified_mixed.md F8).  Before, the test was against 0: at a steep tilt (ADD near its loss bound) most
of the upper law went to the infinite state (Laplace(6.588) x 2 + PSG(3.441, 0.00688) x 1 at eps 0.307609: ADD's upper
law carried 0.91 there, the certified delta was [1.5e-5, 5.1e-4], 97 % wide).

Reference (independent of ewacct, mpmath at 30 digits), both directions.  Laplace loss (theta = 1 / scale): atoms +theta
(mass 1/2), -theta (e^-theta / 2), density e^{-(theta - l)/2} / 4 on (-theta, theta); two continuous parts sum to s with
density e^{-(2 theta - s)/2} (2 theta - |s|) / 16 on (-2 theta, 2 theta).  One Poisson-subsampled Gaussian step,
mu = 1 / sigma, P = (1 - q) N(0, 1) + q N(mu, 1), Q = N(0, 1):
* REMOVE, loss l(x) = log(1 - q + q e^{mu x - mu^2/2}) under P (increasing): E[(1 - e^{y - l})_+] =
  (1 - q) Phibar(x*) + q Phibar(x* - mu) - e^y Phibar(x*), l(x*) = y; 1 - e^y where y <= log(1 - q);
* ADD, loss -l(x) under Q (decreasing in x): E[(1 - e^{y + l})_+] = Phi(x*) - e^y ((1 - q) Phi(x*) + q Phi(x* - mu)),
  l(x*) = -y; 0 where y >= -log(1 - q).
delta_d(eps) = E over the two Laplace losses (sum s) of that at y = eps - s.
"""

from __future__ import annotations

import mpmath as mp

from ewacct import Accountant, Laplace, PoissonSubsampledGaussian
from ewacct.bounds import certify


def _psg_inner(q, mu, y, remove: bool):
    if remove:
        if y <= mp.log(1 - q):
            return 1 - mp.exp(y)
        xs = mp.log((mp.expm1(y) + q) / q) / mu + mu / 2
        return (1 - q) * mp.ncdf(-xs) + q * mp.ncdf(mu - xs) - mp.exp(y) * mp.ncdf(-xs)
    if y >= -mp.log(1 - q):
        return mp.mpf(0)
    xs = mp.log((mp.expm1(-y) + q) / q) / mu + mu / 2
    return mp.ncdf(xs) - mp.exp(y) * ((1 - q) * mp.ncdf(xs) + q * mp.ncdf(xs - mu))


def _mp_delta(scale: float, sigma: float, q: float, eps: float, remove: bool):
    """delta_d(eps) of Laplace(scale) x 2 + PSG(sigma, q) x 1 (the doubles' exact values), 30 digits."""
    with mp.workdps(30):
        th, q, mu, eps = 1 / mp.mpf(scale), mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)
        g = lambda s: _psg_inner(q, mu, eps - s, remove)  # noqa: E731
        kink = eps - (mp.log(1 - q) if remove else -mp.log(1 - q))  # where the inner's argument crosses the loss bound
        atoms = [(th, mp.mpf(1) / 2), (-th, mp.exp(-th) / 2)]

        def pts(a, b, shift=0):
            return [a] + ([kink - shift] if a < kink - shift < b else []) + [b]

        d = mp.fsum(pa * pb * g(a + b) for a, pa in atoms for b, pb in atoms)
        d += 2 * mp.fsum(p * mp.quad(lambda l: mp.exp(-(th - l) / 2) / 4 * g(a + l), pts(-th, th, a))
                         for a, p in atoms)
        d += mp.quad(lambda s: mp.exp(-(2 * th - s) / 2) * (2 * th - abs(s)) / 16 * g(s), pts(-2 * th, 2 * th))
        return d


def test_steep_add_tilt_delta_contains_mpmath():
    scale, sigma, q, eps = 6.588, 3.441, 0.00688, 0.307609
    acc = Accountant().compose(Laplace(scale), 2).compose(PoissonSubsampledGaussian(sigma, q), 1)
    ref = max(_mp_delta(scale, sigma, q, eps, True), _mp_delta(scale, sigma, q, eps, False))
    certify.clear_memo()
    c = certify.certified_delta(acc, eps)
    assert c.lower <= ref <= c.upper, (c.lower, float(ref), c.upper)
    # 0.97 before (ADD's upper law in its infinite state); ~1e-3 after the first fine grid, 2.7e-4 after three
    assert (c.upper - c.lower) / c.upper < 5e-3, (c.lower, c.upper)


def test_add_direction_contains_mpmath():
    """The ADD direction on its own (bounds/mixed_fft.delta_bracket's laws at eps, ADD only), where the reach rule
    drops most of the tilted entries: its bracket must contain ADD's reference (1.15e-7 here)."""
    from ewacct.bounds import fewpart_cert as fc
    from ewacct.bounds import mixed_fft as mf

    scale, sigma, q, eps = 6.588, 3.441, 0.00688, 0.307609
    acc = Accountant().compose(Laplace(scale), 2).compose(PoissonSubsampledGaussian(sigma, q), 1)
    gr = mf.parse(list(acc.groups()))
    h = gr.grid(4e-6, ongrid=False)
    d = mf._Direction(gr, False, h, 1.69e-5, eps).compose(eps)
    ref = _mp_delta(scale, sigma, q, eps, False)
    up, lo = d.up.bound(eps), d.lo.bound(eps)
    fc._deadline[0] = float("inf")
    assert lo <= ref <= up, (lo, float(ref), up)
    assert up < 1.2 * ref and d.up.extra < 1e-9
