"""Certified calibration (session 16, H-CB): the conditioned rungs of ``calibrate_noise(guarantee="certified")`` in
the few-participation corner, their rescue of a Chernoff-only first certificate (breaker H15 F1: the ladder ended
1.07x the exact sigma where the API's narrowing sources ran past their budgets), and ``certify_options`` (the API
certificate's budget, what ewacct_torch passes).  Every returned sigma is checked against dp_accounting's PLD
pessimistic epsilon (an independent upper bound) at that sigma, and against the exact sigma (a lower bound on any
certifiable one)."""

from __future__ import annotations

import warnings

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian, calibrate_noise
from ewacct.bounds import certify
from ewacct.bounds import fewpart_cert
from ewacct.methods.certified import clear_caches

# (target eps, delta, q, T): calibrate_certified_random.py seed 12 #8 (q T = 1.5e-3: the API's certificate is the
# Chernoff bound narrowed by the conditioned bracket; the bracket itself takes ~0.05 s there)
CORNER = (1.75, 6.6e-10, 4.02e-5, 37)


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _clear():
    clear_caches()
    certify.clear_memo()


def _kw(point):
    e, d, q, T = point
    return dict(target_epsilon=e, target_delta=d, sampling_probability=q, steps=T)


def pld_pessimistic_eps(sigma, q, T, delta, vdi=1e-4):
    """dp_accounting's pessimistic (connect-the-dots) PLD eps(delta): an upper bound on the true eps, independent of
    ewacct (its discretisation error is second order: 2.9999963 at sigma 0.7060654, q 0.01, T 300, delta 1e-5, against
    2.9999952 at vdi 1e-5; without connect-the-dots vdi 1e-4 adds ~T vdi)."""
    import logging

    from dp_accounting.pld import privacy_loss_distribution as P

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            pld = P.from_gaussian_mechanism(standard_deviation=sigma, sensitivity=1.0, sampling_prob=q,
                                            value_discretization_interval=vdi, pessimistic_estimate=True,
                                            use_connect_dots=True)
            return float(pld.self_compose(T).get_epsilon_for_delta(delta))
        finally:
            logging.disable(logging.NOTSET)


def _check_against_pld(sigma, point):
    e, d, q, T = point
    pess = pld_pessimistic_eps(sigma, q, T, d)
    assert pess <= e, (sigma, pess, e)


@pytest.fixture(scope="module")
def exact_sigma():
    _clear()
    return _quiet(calibrate_noise, **_kw(CORNER)).noise_multiplier


def test_conditioned_first_rung_meets_the_target_near_the_exact_sigma(exact_sigma):
    _clear()
    r = _quiet(calibrate_noise, **_kw(CORNER), guarantee="certified")
    assert r.valid and r.epsilon.upper <= CORNER[0]
    assert r.epsilon.lower <= r.epsilon.upper
    # the exact sigma (true to ~1e-6) bounds any certifiable one from below; the conditioned rungs end within
    # 1.25 CERT_COND_WIDTH / E of it (E >= 1/2 here) -- a stated tolerance of 1e-3
    assert exact_sigma * (1.0 - 1e-6) <= r.noise_multiplier <= exact_sigma * (1.0 + 1e-3)
    _check_against_pld(r.noise_multiplier, CORNER)


def test_chernoff_only_first_certificate_is_rescued_by_the_conditioned_rungs(monkeypatch, exact_sigma):
    """Breaker H15 F1's mechanism: the API's narrowing sources run out of budget (load), its certificate is the
    Chernoff bound alone; the ladder used to climb on Chernoff bounds (1.07x the exact sigma at F1)."""
    from ewacct import calibrate as C

    monkeypatch.setattr(C, "CERT_COND_FIRST_QT", 0.0)          # the API's certificate first
    monkeypatch.setattr(certify, "COND_BUDGET", 1e-4)          # ... starved of its narrowing sources
    monkeypatch.setattr(certify, "CORNER_COND_BUDGET", 1e-4)
    monkeypatch.setattr(fewpart_cert, "TIME_BUDGET", 1e-4)
    _clear()
    r = _quiet(calibrate_noise, **_kw(CORNER), guarantee="certified")
    info = r.details["certificate"]
    src = info["first_source"]
    assert src.startswith(certify.PROVEN_SOURCE) and certify.COND_SOURCE not in src, src  # the Chernoff bound alone
    assert "conditioned_rungs" in info
    assert r.valid and r.epsilon.upper <= CORNER[0]
    assert certify.COND_SOURCE in r.epsilon.certified_by
    assert exact_sigma * (1.0 - 1e-6) <= r.noise_multiplier <= exact_sigma * (1.0 + 1e-3)
    _check_against_pld(r.noise_multiplier, CORNER)
    _clear()


def test_certify_options_budget_is_the_certificate_get_epsilon_reports():
    """certify_options' time_budget is the API certificate's: asking get_epsilon(certify=True) with the same options
    at the returned sigma returns the certificate the calibration checked (memoised), within the target."""
    point = (3.0, 1e-5, 0.01, 300)
    _clear()
    r = _quiet(calibrate_noise, **_kw(point), guarantee="certified", certify_options={"time_budget": 10.0})
    assert r.valid
    acc = Accountant().compose(PoissonSubsampledGaussian(r.noise_multiplier, 0.01), 300)
    res = _quiet(lambda: acc.get_epsilon(1e-5, certify=True, certify_options={"time_budget": 10.0}))
    assert res.upper == r.epsilon.upper <= 3.0
    _check_against_pld(r.noise_multiplier, point)
    with pytest.raises(ValueError):
        calibrate_noise(**_kw(point), guarantee="certified", certify_options={"budget": 1.0})


def test_estimate_guarantee_unchanged_by_certify_options():
    point = (3.0, 1e-5, 0.01, 300)
    a = _quiet(calibrate_noise, **_kw(point)).noise_multiplier
    b = _quiet(calibrate_noise, **_kw(point), certify_options={"time_budget": 10.0}).noise_multiplier
    assert a == b


def test_certified_steps_by_the_conditioned_bracket_in_the_corner():
    """calibrate_steps(guarantee="certified") with few participations: the conditioned bracket certifies the step
    count (no API certificate); the count meets the target by dp_accounting's pessimistic PLD and is the exact
    engine's count (the bracket is narrow here)."""
    from ewacct import calibrate_steps

    e, d, q, sigma = 1.75, 6.6e-10, 4.02e-5, 0.4876
    _clear()
    T_est = _quiet(calibrate_steps, target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=sigma)
    T = _quiet(calibrate_steps, target_epsilon=e, target_delta=d, sampling_probability=q, noise_multiplier=sigma,
               guarantee="certified")
    assert 0 < T <= T_est and T >= T_est - 1
    assert pld_pessimistic_eps(sigma, q, T, d) <= e
