"""Independent high-precision references (mpmath, >= 40 digits) for the PLRV cumulants.

These do NOT share code with the Numba kernels or with the Arb path (ewacct/_kernels/precise.py):
direct tanh-sinh quadrature of the moment integrals, the alternative side by the two-component
mixture (not by tilting), raw -> central -> cumulants.

``mp.quad`` stops on an *absolute* error estimate, so integrands of size 1e-60 (the sixth central
moment at q = 1e-9) would be "converged" at once; the loss is therefore rescaled to O(1) first
(``y = l / S`` with ``S`` the rough standard deviation of ``l``; ``kappa_n(l) = S^n kappa_n(y)``), and every
result is recomputed at ``dps + 20`` digits: the reference refuses to answer (AssertionError) unless the
two agree to 1e-14 relative in every cumulant.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath as mp


def _cum_from_central(c: list) -> list:
    # c[k] = central moment of order k (c[0] = 1, c[1] = 0); returns kappa_2..kappa_n
    n = len(c) - 1
    kap = [mp.mpf(0)] * (n + 1)
    for m in range(2, n + 1):
        s = c[m]
        for k in range(2, m):
            s -= mp.binomial(m - 1, k - 1) * kap[k] * c[m - k]
        kap[m] = s
    return kap


def _sg_cumulants_at(q: float, sigma: float, side: str, n: int, dps: int, fine: bool = False) -> list:
    with mp.workdps(dps):
        q = mp.mpf(q)
        mu = 1 / mp.mpf(sigma)
        # scale of the loss: its standard deviation is about q sqrt(e^{mu^2} - 1) for small q
        S = q * mp.sqrt(mp.expm1(mu * mu))

        def y(x):  # l(x) / S, with l = log(1 - q + q e^z) = log1p(q expm1(z))
            return mp.log1p(q * mp.expm1(mu * x - mu * mu / 2)) / S

        # break points: the Gaussian bulk, the mean shifts, and the knee of l where q e^z = 1
        # (x_c = (mu^2/2 - log q)/mu; l ~ -q below it and ~ z + log q above it), for both integrands
        xc = (mu * mu / 2 - mp.log(q)) / mu
        knees = [xc + d for d in (-2 / mu, -1 / mu, 0, 1 / mu, 2 / mu)]
        knees = [k for k in knees + [k - mu for k in knees] if -14 < k < 14 + mu]  # where there is mass
        pts = {-mp.inf, mp.mpf(-12), mp.mpf(0), mu / 2, mu, 2 * mu, 6 * mu, mp.mpf(12) + mu, mp.inf, *knees}
        if fine:  # unit panels over the whole bulk (small sigma: the loss is steep, tanh-sinh needs help)
            step = min(mp.mpf(1), 1 / mu)
            pts |= {-12 + k * step for k in range(int(52 / step) + 1)}
        pts = sorted(pts)

        def E(g):
            base = mp.quad(lambda x: g(y(x)) * mp.npdf(x), pts)
            if side == "null":
                return base
            shifted = mp.quad(lambda x: g(y(x + mu)) * mp.npdf(x), pts)
            return (1 - q) * base + q * shifted

        m1 = E(lambda v: v)
        c = [mp.mpf(1), mp.mpf(0)] + [E(lambda v, k=k: (v - m1) ** k) for k in range(2, n + 1)]
        kap = _cum_from_central(c)
        return [m1 * S] + [kap[k] * S**k for k in range(2, n + 1)]


@lru_cache(maxsize=None)
def sg_cumulants(q: float, sigma: float, side: str, n: int = 6, dps: int = 40, fine: bool = False) -> tuple[float, ...]:
    """kappa_1..kappa_n of the subsampled-Gaussian PLRV under 'null' (P0) or 'alt' (P1).

    Computed at ``dps`` and at ``dps + 20`` digits; raises AssertionError if they differ by more
    than 1e-14 relative in any cumulant (the reference is then not trustworthy at that point).
    """
    if dps < 40:
        raise ValueError("the reference runs at >= 40 digits")
    a = _sg_cumulants_at(q, sigma, side, n, dps, fine)
    b = _sg_cumulants_at(q, sigma, side, n, dps + 20, fine)
    with mp.workdps(dps + 20):
        for j, (x, z) in enumerate(zip(a, b)):
            assert abs(x - z) <= mp.mpf("1e-14") * abs(z), (q, sigma, side, j + 1, x, z)
    return tuple(float(v) for v in b)


def sg_mgf_integer(q: float, sigma: float, m: int, dps: int = 40) -> float:
    """E_null[exp(m l)] = sum_j C(m, j) (1-q)^(m-j) q^j exp(mu^2 j (j-1) / 2) (theory.md Sec. 2.3)."""
    with mp.workdps(dps):
        q = mp.mpf(q)
        mu2 = 1 / mp.mpf(sigma) ** 2
        return float(mp.log(mp.fsum(mp.binomial(m, j) * (1 - q) ** (m - j) * q**j * mp.exp(mu2 * j * (j - 1) / 2)
                                    for j in range(m + 1))))


def laplace_cumulants(theta: float, n: int = 6, dps: int = 40) -> list[float]:
    """Null-side cumulants of the Laplace PLRV (atoms at +-theta plus 2u - theta on (0, theta))."""
    with mp.workdps(dps):
        th = mp.mpf(theta)

        def E(g):
            return g(-th) / 2 + mp.exp(-th) * g(th) / 2 + mp.quad(lambda u: g(2 * u - th) * mp.exp(-u) / 2, [0, th])

        m1 = E(lambda v: v)
        c = [mp.mpf(1), mp.mpf(0)] + [E(lambda v, k=k: (v - m1) ** k) for k in range(2, n + 1)]
        kap = _cum_from_central(c)
        return [float(m1)] + [float(kap[k]) for k in range(2, n + 1)]


def rr_gauss_delta(e0, n, sigmas, eps, dps: int = 30):
    """delta(eps) of n randomized-response steps RR(e0) composed with Gaussians of noise ``sigmas`` (one Gaussian
    of mu = sqrt(sum 1 / sigma^2)): the binomial sum over the RR counts of the Gaussian closed form."""
    with mp.workdps(dps):
        e0, eps = mp.mpf(e0), mp.mpf(eps)
        mu = mp.sqrt(mp.fsum(1 / mp.mpf(s) ** 2 for s in sigmas))
        p = mp.exp(e0) / (1 + mp.exp(e0))

        def dg(y):
            return mp.ncdf(-y / mu + mu / 2) - mp.exp(y) * mp.ncdf(-y / mu - mu / 2)

        return mp.fsum(mp.binomial(n, j) * p ** j * (1 - p) ** (n - j) * dg(eps - e0 * (2 * j - n))
                       for j in range(n + 1))


def psg_two_step_delta(sigma, q, eps, dps: int = 30):
    """REMOVE's delta(eps) of two Poisson-subsampled Gaussian steps (sigma, q): int D1(eps - l(x)) dP(x), with
    D1 the one-step closed form and P = (1 - q) N(0, 1) + q N(1/sigma, 1), by mpmath quadrature at ``dps``."""
    with mp.workdps(dps):
        q, mu, eps = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)

        def l(x):
            return mp.log1p(q * mp.expm1(mu * x - mu * mu / 2))

        def d1(e):
            if mp.expm1(e) + q <= 0:  # every loss exceeds e
                return 1 - mp.exp(e)
            xe = mu / 2 + mp.log(mp.expm1(e) / q + 1) / mu
            return (1 - q) * mp.ncdf(-xe) + q * mp.ncdf(mu - xe) - mp.exp(e) * mp.ncdf(-xe)

        def f(x):
            return d1(eps - l(x)) * ((1 - q) * mp.npdf(x) + q * mp.npdf(x - mu))

        pts = [-mp.inf, -8, -4, -2, 0, 2, 4, mu, mu + 4, 8, 12, 20, mp.inf]
        # and where one step's loss reaches eps (D1's argument crosses 0 there; the integrand varies on the scale q,
        # log-like: without this point tanh-sinh was 1.8e-3 off at sigma 0.6, q 1e-5, eps 1 -- 3.12981e-16 for
        # 3.12422e-16 -- and 4e-5 at sigma 0.5, q 1e-3, eps 2)
        if mp.expm1(eps) + q > 0:
            pts.append(mu / 2 + mp.log(mp.expm1(eps) / q + 1) / mu)
        return mp.quad(f, sorted(set(pts)))


def psg_pld_eps_pair(sigma: float, q: float, T: int, delta: float, vdi: float) -> tuple[float, float]:
    """dp_accounting's (optimistic, pessimistic) PLD eps(delta) of T Poisson-subsampled Gaussian steps at
    value_discretization_interval ``vdi`` (not connect-the-dots; dp_accounting imported here only)."""
    import logging
    import warnings

    from dp_accounting.pld import privacy_loss_distribution as P

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            for pes in (False, True):
                pld = P.from_gaussian_mechanism(standard_deviation=sigma, sensitivity=1.0, sampling_prob=q,
                                                value_discretization_interval=vdi, pessimistic_estimate=pes,
                                                use_connect_dots=False)
                out.append(float(pld.self_compose(T).get_epsilon_for_delta(delta)))
        finally:
            logging.disable(logging.NOTSET)
    return out[0], out[1]
