"""Calibration in the few-participation corner (q T <= 1): the one-step model's search (calibrate.py).

The answers are checked against the accountant's own eps (the calibration's documented guarantee: the
returned sigma meets the target by the method, and sigma (1 - 2 rtol) does not; the step count meets it
and one more step does not), and the model against an independent mpmath evaluation of one step's delta.
"""

import math
import warnings

import mpmath as mp
import pytest

from ewacct import Accountant
from ewacct.calibrate import _log_step_model, calibrate_noise, calibrate_steps
from ewacct.mechanisms import PoissonSubsampledGaussian


def _eps(sigma, q, T, delta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta)


def _mp_step_delta(q, sigma, eps):
    """One subsampled-Gaussian step's REMOVE delta by mpmath quadrature of E_P[(1 - e^{eps - L})_+] (30 digits)."""
    mp.mp.dps = 30
    q, mu, eps = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)

    def loss(x):
        return mp.log(1 - q + q * mp.exp(mu * x - mu * mu / 2))

    # L(x) > eps  <=>  x > x0
    x0 = (mp.log((mp.expm1(eps) + q) / q) + mu * mu / 2) / mu

    def dens(x):  # (1 - q) N(0, 1) + q N(mu, 1)
        return ((1 - q) * mp.exp(-x * x / 2) + q * mp.exp(-(x - mu) ** 2 / 2)) / mp.sqrt(2 * mp.pi)

    return mp.quad(lambda x: dens(x) * (1 - mp.exp(eps - loss(x))), [x0, x0 + 1, x0 + 4, x0 + 12, mp.inf])


@pytest.mark.parametrize("q,sigma,eps", [(1e-4, 0.87, 0.05), (1e-6, 0.5, 0.1), (1e-2, 2.0, 1.0), (0.3, 0.2, 30.5)])
def test_step_model_matches_mpmath(q, sigma, eps):
    ref = float(mp.log(10 * _mp_step_delta(q, sigma, eps)))
    assert _log_step_model(q, sigma, 10, eps) == pytest.approx(ref, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("eps,delta,q,T", [(0.05, 1e-10, 1e-4, 10), (0.5, 1e-10, 1e-3, 100)])
def test_noise_few_participations_tight_and_safe(eps, delta, q, T):
    r = calibrate_noise(target_epsilon=eps, target_delta=delta, sampling_probability=q, steps=T)
    assert r.epsilon.valid and float(r.epsilon.value) <= eps
    assert r.evaluations <= 4  # was 15 (saddle-point model off by e^11, then the bracket search)
    s = r.noise_multiplier
    assert float(_eps(s, q, T, delta).value) <= eps
    below = _eps(s * (1 - 2e-6), q, T, delta)
    assert below.valid and float(below.value) > eps


def test_steps_few_participations_exact_count():
    eps, delta, q, sigma = 0.1, 1e-10, 1e-6, 0.5
    T = calibrate_steps(target_epsilon=eps, target_delta=delta, sampling_probability=q, noise_multiplier=sigma)
    a, b = _eps(sigma, q, T, delta), _eps(sigma, q, T + 1, delta)
    assert a.valid and b.valid
    assert float(a.value) <= eps < float(b.value)
