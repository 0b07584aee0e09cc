"""Calibration that used a flagged answer (valid=False) says so (issue 8, the per-query CPU budget).

When a query's CPU budget (ewacct/methods/budget.py) runs out, the exact chain answers with the rigorous
Chernoff upper bound, flagged.  A calibration that met its target by such a bound is safe (conservative):
its result must carry the flag and a note saying that, not look exact.  The budget is forced here by
monkeypatching ``budget.CALL_BUDGET`` below zero (every query's deadline already past: Chernoff only,
milliseconds).  The safety of the returned noise is checked against dp_accounting's PLD pessimistic
epsilon (an independent upper bound).
"""

import warnings

import pytest

from ewacct.calibrate import CalibrationResult, _flag_note, calibrate_noise, calibrate_steps
from ewacct.methods import budget
from ewacct.results import EpsilonResult

EPS, DELTA, Q, T = 1.0, 1e-5, 0.01, 100


def _pld_eps(sigma, q, steps, delta):
    """dp_accounting's pessimistic PLD epsilon (an upper bound on the true epsilon)."""
    dpa = pytest.importorskip("dp_accounting")
    from dp_accounting.pld import pld_privacy_accountant

    acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
    ev = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
    return acc.compose(ev).get_epsilon(delta)


def test_noise_met_by_flagged_bound_is_flagged_and_safe(monkeypatch):
    exact = calibrate_noise(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, steps=T)
    assert exact.valid and "flag_note" not in exact.details
    monkeypatch.setattr(budget, "CALL_BUDGET", -1.0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = calibrate_noise(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, steps=T)
    assert isinstance(r, CalibrationResult)
    assert r.epsilon.method == "chernoff-bound" and not r.epsilon.valid
    assert not r.valid and r.details["flagged_evaluations"] >= 1
    note = r.details["flag_note"]
    assert "rigorous upper bound" in note and "safe" in note and "conservative" in note
    assert any(note in str(x.message) for x in w)
    assert float(r.epsilon.value) <= EPS
    # safe by an independent upper bound (PLD pessimistic at 1e-4), and more noise than the exact calibration
    assert _pld_eps(r.noise_multiplier, Q, T, DELTA) <= EPS
    assert r.noise_multiplier >= exact.noise_multiplier  # conservative


def test_unflagged_sigma_is_tight_against_pld():
    r = calibrate_noise(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, steps=T)
    assert _pld_eps(r.noise_multiplier * 1.01, Q, T, DELTA) <= EPS


def test_steps_met_by_flagged_bound_warn_and_stay_safe(monkeypatch):
    free = calibrate_steps(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, noise_multiplier=1.0)
    monkeypatch.setattr(budget, "CALL_BUDGET", -1.0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        n = calibrate_steps(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, noise_multiplier=1.0)
    msgs = [str(x.message) for x in w]
    assert any("flagged" in m and "step count is safe" in m for m in msgs), msgs
    assert 1 <= n <= free
    assert _pld_eps(1.0, Q, n, DELTA) <= EPS


def test_flag_note_for_an_estimate_is_not_a_guarantee():
    est = EpsilonResult(value=0.9, estimate=0.9, lower=None, upper=None, method="exact-fewpart", direction="remove", valid=False,
                        diagnostics={"note": "the few-participation quadrature missed its tolerance"})
    note = _flag_note([est], est, "sigma")
    assert "not guaranteed" in note and "rigorous upper bound" not in note.split(";")[1]
    ok = EpsilonResult(value=0.9, estimate=0.9, lower=None, upper=None, method="exact", direction="remove", valid=True)
    assert "valid exact evaluation (safe)" in _flag_note([est], ok, "sigma")


def test_search_cpu_allowance_stops_at_a_safe_point(monkeypatch):
    # the bracketing searches stop past calibrate.SEARCH_CPU (forced below zero here) at the best point that met
    # the target, with a note: the answer stays safe (dp_accounting's PLD pessimistic eps <= target)
    import ewacct.calibrate as cal

    monkeypatch.setattr(cal, "SEARCH_CPU", -1.0)
    monkeypatch.setattr(cal, "_model_search", lambda *a, **k: None)  # the bracketing search answers
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = calibrate_noise(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, steps=T)
        n = calibrate_steps(target_epsilon=EPS, target_delta=DELTA, sampling_probability=Q, noise_multiplier=1.0)
    assert "search stopped" in r.details["search_note"]
    assert float(r.epsilon.value) <= EPS and _pld_eps(r.noise_multiplier, Q, T, DELTA) <= EPS
    assert any("calibrate_steps: the search stopped" in str(x.message) for x in w)
    assert n >= 1 and _pld_eps(1.0, Q, n, DELTA) <= EPS


def test_certified_guarantee_is_judged_by_its_certificate():
    """guarantee="certified": validity is the returned sigma's certified upper end against the target, whatever
    the estimate search that chose the first rung saw (the Edgeworth search is flagged here; before, this
    returned valid=False with a note advising guarantee='certified').  The certificate is checked independently
    by dp_accounting's pessimistic PLD at the returned sigma."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = calibrate_noise(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01, steps=1000,
                            method="edgeworth", guarantee="certified")
    assert r.epsilon.upper is not None and r.epsilon.upper <= 1.0
    assert r.valid
    assert "flag_note" not in r.details and "flagged_evaluations" not in r.details
    pess = _pld_eps(r.noise_multiplier, 0.01, 1000, 1e-5)
    assert pess <= 1.0 + 1e-3


def test_tiny_target_stays_in_the_noise_domain():
    """eps 1e-9 at q 0.01, T 100 (H-R10 F5): the fallback loop stepped sigma to 1.4e10 and failed with an error
    about noise_multiplier, an argument the caller never passed.  Now the answer stays in [SIGMA_MIN, SIGMA_MAX]
    and meets the target (eps is 0 there: delta(0) <= delta; checked by dp_accounting's pessimistic PLD delta at the target eps)."""
    from ewacct.calibrate import SIGMA_MAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = calibrate_noise(target_epsilon=1e-9, target_delta=1e-5, sampling_probability=0.01, steps=100)
    assert r.noise_multiplier <= SIGMA_MAX and float(r.epsilon.value) <= 1e-9
    dpa = pytest.importorskip("dp_accounting")
    from dp_accounting.pld import pld_privacy_accountant

    # (the losses are ~1e-6 wide at sigma ~1e4: a fine grid, else the pessimistic rounding dominates)
    acc = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-9)
    ev = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.01, dpa.GaussianDpEvent(r.noise_multiplier)), 100)
    assert acc.compose(ev).get_delta(1e-9) <= 1e-5  # (pessimistic delta at the target eps: an upper bound)
