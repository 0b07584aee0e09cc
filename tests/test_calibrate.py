"""Noise and step calibration: round trips, safe side, certified guarantee, infeasible targets."""

import warnings

import pytest

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian, calibrate_noise, calibrate_steps


def eps_at(sigma, q, T, delta, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Accountant(**kw).compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(delta)


@pytest.mark.parametrize("q,T,delta,target", [(0.029696, 660, 1e-5, 8.0), (0.2, 1000, 1e-6, 3.0), (0.05, 2000, 1e-5, 1.0)])
def test_estimate_round_trip_and_safe_side(q, T, delta, target):
    r = calibrate_noise(target_epsilon=target, target_delta=delta, sampling_probability=q, steps=T)
    e = float(eps_at(r.noise_multiplier, q, T, delta).estimate)
    assert e <= target  # never overshoots
    assert e >= target * (1 - 1e-4)  # and is tight
    assert float(r.epsilon) == pytest.approx(e, rel=1e-12)
    # slightly less noise breaks the target
    assert float(eps_at(r.noise_multiplier * (1 - 1e-3), q, T, delta).estimate) > target


def test_certified_guarantee_meets_target_by_upper_bound():
    r = calibrate_noise(target_epsilon=2.0, target_delta=1e-5, sampling_probability=0.2, steps=100, guarantee="certified")
    assert r.guarantee == "certified"
    assert r.epsilon.upper <= 2.0
    est = calibrate_noise(target_epsilon=2.0, target_delta=1e-5, sampling_probability=0.2, steps=100)
    assert r.noise_multiplier >= est.noise_multiplier * (1 - 1e-3)


def test_ewtune_mode_chooses_less_noise_than_it_should():
    # theory.md 6.4: at EW-Tune's chosen noise the true eps is 8.29 > 8
    r = calibrate_noise(target_epsilon=8.0, target_delta=1e-5, sampling_probability=0.029696, steps=660, method="ew-tune")
    true = float(eps_at(r.noise_multiplier, 0.029696, 660, 1e-5).estimate)
    assert true > 8.25
    ours = calibrate_noise(target_epsilon=8.0, target_delta=1e-5, sampling_probability=0.029696, steps=660)
    assert ours.noise_multiplier > r.noise_multiplier


def test_infeasible_targets_are_clear_errors():
    with pytest.raises(ValueError, match="cannot be met"):
        calibrate_noise(target_epsilon=1e-6, target_delta=1e-10, sampling_probability=1.0, steps=10**9)
    with pytest.raises(ValueError, match="target_delta"):
        calibrate_noise(target_epsilon=1.0, target_delta=1.0, sampling_probability=0.1, steps=10)
    with pytest.raises(ValueError, match="guarantee"):
        calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.1, steps=10, guarantee="maybe")


def test_calibrate_steps_round_trip():
    T = calibrate_steps(target_epsilon=3.0, target_delta=1e-5, sampling_probability=0.2, noise_multiplier=2.0)
    assert T >= 1
    assert float(eps_at(2.0, 0.2, T, 1e-5).estimate) <= 3.0
    assert float(eps_at(2.0, 0.2, T + 1, 1e-5).estimate) > 3.0
    assert calibrate_steps(target_epsilon=1e-3, target_delta=1e-5, sampling_probability=0.5, noise_multiplier=0.5) == 0


@pytest.mark.parametrize("q,T,delta,target", [(0.01, 300, 1e-5, 3.0), (1e-4, 100_000, 1e-6, 1.0),
                                                (1e-7, 10_000_000, 1e-12, 13.0), (0.01, 10, 1e-5, 50.0)])
def test_model_corrected_search_is_tight_safe_and_short(q, T, delta, target):
    # the exact engine's search starts from the saddle-point model and corrects it by exact
    # evaluations (q = 1e-4 over 1e5 steps: ten participations, where the model is off by e^4;
    # q = 1e-7 over 1e7 steps at delta 1e-12: one participation, where only the routed engine settles;
    # eps 50 at q = 0.01 over 10 steps: sigma ~ 0.17, where only the few-participation quadrature does)
    import ewacct.calibrate as cal

    found = cal._model_search(q, T, delta, target, 1e-6)
    assert found is not None  # the model search settled (no bracket search needed)
    r = calibrate_noise(target_epsilon=target, target_delta=delta, sampling_probability=q, steps=T)
    assert r.noise_multiplier == pytest.approx(found[0], rel=1e-12)
    assert r.evaluations <= cal._MODEL_MAX_EVALS + 1  # the bracket search took 11-14
    s = r.noise_multiplier
    assert float(eps_at(s, q, T, delta).estimate) <= target  # safe side
    assert float(eps_at(s * (1 - 1e-5), q, T, delta).estimate) > target  # within 1e-5 of the root
