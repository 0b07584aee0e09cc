"""Laplace with a tiny scale (theta = sensitivity / scale up to 1e6): the tilted cumulants from the kernel's
end-of-range panels (theta > 1000) against an independent mpmath evaluation at 40 digits, and the default query
returning within its budget (Laplace(1e-4) x 10 took 13 s, Laplace(1e-6) x 10 minutes, one panel per unit of
theta)."""
import time

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, Laplace
from ewacct.mechanisms.base import _cached_cgf


def _tilted_ref(theta: float, t: float, n: int = 6) -> list[float]:
    """K(t) and the cumulants 1..n of the null-side Laplace loss tilted by e^{t L}: atoms -theta (mass 1/2) and
    +theta (mass e^-theta / 2), the continuous part 2u - theta with density e^-u / 2 on (0, theta)."""
    with mp.workdps(40):
        th, tt = mp.mpf(theta), mp.mpf(t)
        a = 2 * tt - 1
        # breakpoints dense next to where e^{a u} peaks (u = theta for a > 0, 0 for a < 0)
        if abs(a) * th > 50:
            w = 1 / abs(a)
            pts = sorted({mp.mpf(0), th} | {(th - k * w) if a > 0 else k * w for k in (1, 2, 5, 10, 20, 40, 80, 160)
                                            if k * w < th})
        else:
            pts = list(mp.linspace(0, th, 5))
        base = -tt * th if a <= 0 else a * th - tt * th  # the continuous log-density's peak (less log 2)

        def E(g):
            cont = mp.quad(lambda u: g(2 * u - th) * mp.exp(a * u - tt * th - base), pts)
            return (g(-th) * mp.exp(-tt * th - base) + g(th) * mp.exp(-th + tt * th - base) + cont) / 2

        Z = E(lambda v: 1)
        m1 = E(lambda v: v) / Z
        c = [mp.mpf(1), mp.mpf(0)] + [E(lambda v, k=k: (v - m1) ** k) / Z for k in range(2, n + 1)]
        # cumulants from central moments (n <= 6)
        k2, k3 = c[2], c[3]
        k4 = c[4] - 3 * c[2] ** 2
        k5 = c[5] - 10 * c[3] * c[2]
        k6 = c[6] - 15 * c[4] * c[2] - 10 * c[3] ** 2 + 30 * c[2] ** 3
        K = mp.log(Z) + base
        return [float(K), float(m1), float(k2), float(k3), float(k4), float(k5), float(k6)]


@pytest.mark.parametrize("theta", [2e3, 1e4, 1e6])
@pytest.mark.parametrize("t", [-0.7, 0.3, 0.4999, 0.5, 0.6, 1.0, 1.5])
def test_tilted_cumulants_wide_theta_match_mpmath(theta, t):
    got = np.array(_cached_cgf(Laplace(scale=1.0 / theta), t, 6))
    ref = np.array(_tilted_ref(theta, t))
    # K, the mean and the cumulants: relative 1e-9 of each, plus 1e-10 of the scale theta^k of the k-th cumulant
    # (theta for K: the nodes u ~ theta carry rounding ~1e-16 theta into the exponent; sums of terms of size
    # theta^k cancel in doubles: the odd cumulants at t = 1/2, where they vanish)
    scale = np.array([theta, theta] + [theta ** k for k in range(2, 7)])
    assert np.all(np.abs(got - ref) <= 1e-9 * np.abs(ref) + 1e-10 * scale), (got, ref)


@pytest.mark.parametrize("scale", [1e-4, 1e-6])
def test_tiny_scale_query_returns_within_budget(scale):
    acc = Accountant().compose(Laplace(scale), 10)
    acc.get_epsilon(1e-5)  # first call: kernels loaded
    t = time.process_time()
    r = acc.get_epsilon(1e-5)
    assert time.process_time() - t < 3.0
    theta = 1.0 / scale
    # eps(delta) <= the composition's worst-case loss 10 theta; and all ten steps at the atom +theta have
    # probability 2^-10 under the upper measure, so delta(eps) >= 2^-10 (1 - e^{eps - 10 theta}) and
    # eps(delta) >= 10 theta + log(1 - 2^10 delta)
    assert 10 * theta + np.log1p(-(2.0**10) * 1e-5) <= r.estimate <= 10 * theta
    assert np.isfinite(r.estimate)
