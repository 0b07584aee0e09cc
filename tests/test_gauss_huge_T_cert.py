"""Certified Gaussian compositions at T = 1e12 (eps up to ~5e12): the closed-form bracket must contain the truth
and be narrow.  Reference: delta(eps) = Phi(mu/2 - eps/mu) - e^eps Phi(-mu/2 - eps/mu), mu = sqrt(T)/sigma,
evaluated by mpmath at 60 digits (its exponent range covers e^(5e12)); the bracket [lower, upper] of eps(delta) is
correct iff delta(upper) <= delta <= delta(lower)."""
import mpmath as mp
import pytest

from ewacct import Accountant, Gaussian


def _delta_mp(sigma: float, T: int, eps: float) -> mp.mpf:
    with mp.workdps(60):
        mu = mp.sqrt(mp.mpf(T)) / mp.mpf(sigma)
        e = mp.mpf(eps)
        return mp.ncdf(mu / 2 - e / mu) - mp.exp(e) * mp.ncdf(-mu / 2 - e / mu)


@pytest.mark.parametrize("sigma,delta", [(1.0, 1e-5), (0.3, 1e-12), (100.0, 1e-5)])
def test_gaussian_T_1e12_bracket_contains_truth_and_is_narrow(sigma, delta):
    T = 10**12
    r = Accountant().compose(Gaussian(sigma), T).get_epsilon(delta, certify=True)
    assert 0 < r.lower <= r.upper
    assert (r.upper - r.lower) / r.upper <= 1e-10
    with mp.workdps(60):
        assert _delta_mp(sigma, T, r.upper) <= delta <= _delta_mp(sigma, T, r.lower)
