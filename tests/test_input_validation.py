"""Issue 10 item 8: every numeric argument refuses str / bool / None / NaN / inf / complex the same way.

``target_delta='1e-5'`` used to be accepted (``np.asarray(..., dtype=float)`` parses strings) while
``sampling_probability='0.5'`` was refused; both must now raise a ValueError naming the argument and
its allowed range.  Plus the accepted DP-SGD domain helper the API calls at its entrance.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import ewacct
from ewacct import _validate as V
from ewacct import Accountant, PoissonSubsampledGaussian

BASE = dict(noise_multiplier=1.0, sampling_probability=0.1, steps=10, target_delta=1e-5)

# the message must name the argument and its range (the DP-SGD domain or the plain range)
RANGE = {
    "noise_multiplier": r"noise_multiplier must .*(a finite number > 0|\[0\.05, 10000\])",
    "sampling_probability": r"sampling_probability must .*(\(0, 1\]|\[1e-12, 1\])",
    "steps": r"steps must be .*(integer >= 1|non-negative integer|integer in \[1, (1e\+12|2\^53)\])",
    "target_delta": r"target_delta must .*\(0, 1\)",
    "target_epsilon": r"target_epsilon must .*(\[0, inf\)|finite number >= 0|finite number > 0)",
}

NOT_REAL = ["1e-5", "0.5", b"1", True, False, np.bool_(True), None, 1j, [0.1, "x"], {"a": 1}]
NOT_FINITE = [math.nan, math.inf, -math.inf, np.float64("nan"), 10**400]


def _id(v) -> str:
    return repr(v)[:20]


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 300, msg
    return msg


@pytest.mark.parametrize("key", ["noise_multiplier", "sampling_probability", "steps", "target_delta"])
@pytest.mark.parametrize("bad", NOT_REAL + NOT_FINITE, ids=_id)
def test_epsilon_api_refuses_non_real_and_non_finite(key, bad):
    kw = dict(BASE)
    kw[key] = bad
    with pytest.raises(ValueError) as exc:
        ewacct.epsilon(**kw)
    assert re.search(RANGE[key], _one_line(exc)), str(exc.value)


@pytest.mark.parametrize("bad", NOT_REAL + NOT_FINITE, ids=_id)
def test_delta_api_refuses_non_real_and_non_finite(bad):
    kw = {k: v for k, v in BASE.items() if k != "target_delta"}
    with pytest.raises(ValueError) as exc:
        ewacct.delta(target_epsilon=bad, **kw)
    assert re.search(RANGE["target_epsilon"], _one_line(exc)), str(exc.value)


def test_string_delta_refused_like_string_q():
    """The exact inconsistency of the issue: both strings give the same kind of refusal."""
    with pytest.raises(ValueError, match=r"target_delta must be a real number .*\(0, 1\).*'1e-5'"):
        ewacct.epsilon(noise_multiplier=1.0, sampling_probability=0.1, steps=10, target_delta="1e-5")
    with pytest.raises(ValueError, match=r"sampling_probability must be a real number .*\(0, 1\].*'0.5'"):
        ewacct.epsilon(noise_multiplier=1.0, sampling_probability="0.5", steps=10, target_delta=1e-5)


@pytest.mark.parametrize("bad", [["1e-5"], np.array(["1e-5"]), np.array([True]), [1e-5, True],
                                 np.array([1e-5, None], dtype=object), [[1e-5, "1e-6"]]], ids=_id)
def test_arrays_of_non_reals_refused(bad):
    acc = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.1), 10)
    with pytest.raises(ValueError, match=r"target_delta must .*\(0, 1\)"):
        acc.get_epsilon(bad)
    with pytest.raises(ValueError, match=r"target_epsilon must .*\[0, inf\)"):
        acc.get_delta(bad)
    with pytest.raises(ValueError, match=r"alpha must .*\[0, 1\]"):
        acc.tradeoff(bad)


def test_calibration_refuses_strings_and_bools():
    kw = dict(target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01, steps=100)
    for key, bad in [("target_epsilon", "1"), ("target_delta", "1e-5"), ("sampling_probability", True),
                     ("steps", "100"), ("target_delta", math.nan)]:
        k = dict(kw)
        k[key] = bad
        with pytest.raises(ValueError, match=key):
            ewacct.calibrate_noise(**k)


# ------------------------------------------------------------------------------ _validate itself
@pytest.mark.parametrize("good,expected", [
    (1e-5, [1e-5]), (np.float32(0.5), [np.float32(0.5)]), (np.array(0.25), [0.25]), ([1e-5, 1e-6], [1e-5, 1e-6]),
    ((0.1,), [0.1]), (np.array([[0.1, 0.2]]), [0.1, 0.2]), (np.array([1, 2]) / 4, [0.25, 0.5]),
    (np.array([0.5], dtype=object), [0.5]),
])
def test_as_float_array_accepts_reals(good, expected):
    arr, _ = V.as_float_array("x", good, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    np.testing.assert_array_equal(arr, np.asarray(expected, dtype=float))


def test_as_float_array_scalar_flag():
    assert V.as_float_array("x", 0.5, lo=0, hi=1, lo_open=True, hi_open=True)[1] is True
    assert V.as_float_array("x", [0.5], lo=0, hi=1, lo_open=True, hi_open=True)[1] is False


@pytest.mark.parametrize("bad", NOT_REAL + NOT_FINITE + [[], np.array([], dtype=float), np.array([0.5j])], ids=_id)
def test_as_float_array_refuses_with_input_error(bad):
    with pytest.raises(V.InputError) as exc:
        V.as_float_array("target_delta", bad, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    msg = _one_line(exc)
    assert msg.startswith("target_delta must")
    if not (isinstance(bad, (list, np.ndarray)) and len(bad) == 0):
        assert "(0, 1)" in msg


def test_input_error_is_a_value_error():
    assert issubclass(V.InputError, ValueError)


@pytest.mark.parametrize("check,rng", [
    (V.check_positive, "a finite number > 0"), (V.check_nonnegative, "a finite number >= 0"),
    (V.check_probability, "(0, 1]"), (V.check_open_unit, "(0, 1)"),
])
@pytest.mark.parametrize("bad", NOT_REAL + NOT_FINITE, ids=_id)
def test_scalar_checkers_name_argument_and_range(check, rng, bad):
    with pytest.raises(V.InputError) as exc:
        check("arg_name", bad)
    msg = _one_line(exc)
    assert msg.startswith("arg_name must") and rng in msg, msg


@pytest.mark.parametrize("bad", [True, np.bool_(False), "10", 2.5, math.nan, math.inf, None, -1, 0, 1j])
def test_check_count_refusals(bad):
    with pytest.raises(V.InputError, match=r"^steps must be (an integer >= 1|a non-negative integer)"):
        V.check_count("steps", bad, allow_zero=False)


def test_check_count_refuses_counts_beyond_float_precision():
    assert V.check_count("steps", 2**53) == 2**53
    with pytest.raises(V.InputError, match=r"steps must be an integer in \[1, 2\^53\]"):
        V.check_count("steps", 2**53 + 1, allow_zero=False)
    with pytest.raises(V.InputError, match=r"steps must be an integer in \[1, 2\^53\]"):
        V.check_count("steps", 1e300, allow_zero=False)


def test_check_count_accepts_integral_values():
    assert V.check_count("steps", np.int64(7)) == 7
    assert V.check_count("steps", 7.0) == 7
    assert V.check_count("steps", np.float64(1e12)) == 10**12


def test_huge_int_is_refused_not_overflow():
    # float(10**400) raises OverflowError; it must surface as the argument's ValueError
    with pytest.raises(V.InputError, match="noise_multiplier must be a finite number > 0"):
        V.check_positive("noise_multiplier", 10**400)
    with pytest.raises(V.InputError, match=r"\.\.\.$"):  # the value is shortened, the line stays short
        V.check_positive("noise_multiplier", 10**400)


# ------------------------------------------------------------------------------ accepted domain
def test_domain_constants():
    assert (V.SIGMA_MIN, V.SIGMA_MAX, V.Q_MIN, V.Q_MAX, V.STEPS_MIN, V.STEPS_MAX) == (0.05, 1e4, 1e-12, 1.0, 1, 10**12)


@pytest.mark.parametrize("sigma,q,T", [(0.05, 1e-12, 1), (1e4, 1.0, 10**12), (1.0, 0.01, 1e6), (np.float32(2), 0.5, np.int64(3))])
def test_domain_accepts_its_corners(sigma, q, T):
    s, qq, TT = V.check_dpsgd_domain(sigma, q, T)
    assert (s, qq, TT) == (float(sigma), float(q), int(T)) and isinstance(TT, int)


@pytest.mark.parametrize("sigma,q,T,needle", [
    (0.049, 0.01, 10, r"noise_multiplier must be in \[0\.05, 10000\] \(the accepted DP-SGD domain\), got 0\.049"),
    (1e300, 0.01, 10, r"noise_multiplier must be in \[0\.05, 10000\].*got 1e\+300"),
    (10001.0, 0.01, 10, r"noise_multiplier must be in \[0\.05, 10000\]"),
    (math.inf, 0.01, 10, r"noise_multiplier must be a finite number > 0"),
    (math.nan, 0.01, 10, r"noise_multiplier must not be NaN"),
    ("1", 0.01, 10, r"noise_multiplier must be a real number"),
    (1.0, 1e-13, 10, r"sampling_probability must be in \[1e-12, 1\] \(the accepted DP-SGD domain\)"),
    (1.0, 1.5, 10, r"sampling_probability must be in \(0, 1\]"),
    (1.0, True, 10, r"sampling_probability must be a real number"),
    (1.0, 0.01, 10**12 + 1, r"steps must be an integer in \[1, 1e\+12\] \(the accepted DP-SGD domain\)"),
    (1.0, 0.01, 0, r"steps must be an integer >= 1"),
    (1.0, 0.01, 2.5, r"steps must be an integer >= 1"),
])
def test_domain_refusals_name_the_limit(sigma, q, T, needle):
    with pytest.raises(V.InputError, match=needle):
        V.check_dpsgd_domain(sigma, q, T)


@pytest.mark.parametrize("bad", ["no", "False", 1, 0, None, 1.0, np.int64(1)], ids=_id)
def test_check_bool_refuses_truthy_non_bools(bad):
    with pytest.raises(V.InputError, match=r"^certify must be True or False"):
        V.check_bool("certify", bad)


def test_check_bool_accepts_bools():
    assert V.check_bool("certify", True) is True and V.check_bool("certify", np.bool_(False)) is False


@pytest.mark.parametrize("n_grid", [100_001, 10**9])
def test_tradeoff_grid_is_bounded(n_grid):
    # (reviewer: n_grid = 10^6 ran for minutes, 10^9 raised a raw MemoryError)
    acc = ewacct.Accountant().compose(ewacct.PoissonSubsampledGaussian(1.0, 0.01), 100)
    with pytest.raises(ValueError, match=r"n_grid must be an integer in \[1, 100000\]"):
        acc.tradeoff([0.1, 0.5], n_grid=n_grid)


@pytest.mark.parametrize("q", [1e-13, 1e-50, 1e-170])
def test_accountant_compose_refuses_q_below_the_domain(q):
    # reviewer H-R9 F2: Accountant.compose accepted q < Q_MIN = 1e-12 (ewacct.epsilon and the CLI refuse it)
    # and at q <= 1e-50 the direct route answered delta(0) = 0.31 q marked valid (one step's TV is 0.38 q)
    with pytest.raises(ValueError, match=r"sampling_probability must be in \[1e-12, 1\]"):
        ewacct.Accountant().compose(ewacct.PoissonSubsampledGaussian(1.0, q), 2)


@pytest.mark.parametrize("bad", ["yes", "no", 1, None])
@pytest.mark.parametrize("query", ["epsilon", "delta"])
def test_api_certify_must_be_a_bool(bad, query):
    # (breaker H-R12 F5, session 14: ewacct.epsilon(..., certify="yes") was taken as True and certify="no" too)
    import ewacct

    kw = dict(noise_multiplier=1.0, sampling_probability=0.01, steps=10, certify=bad)
    with pytest.raises(ValueError, match=r"^certify must be True or False"):
        if query == "epsilon":
            ewacct.epsilon(target_delta=1e-5, **kw)
        else:
            ewacct.delta(target_epsilon=1.0, **kw)


@pytest.mark.parametrize("opts,msg", [
    ({"bogus": 1}, r"^certify_options: unknown key 'bogus' \(allowed: width, value_discretization_interval, time_budget\)"),
    ("x", r"^certify_options must be None or a dict"),
    ({"time_budget": -1.0}, r"^certify_options\['time_budget'\] must be a finite number > 0"),
    ({"width": float("nan")}, r"^certify_options\['width'\]"),
    ({"time_budget": True}, r"^certify_options\['time_budget'\]"),
])
def test_certify_options_are_checked_at_the_entrance(opts, msg):
    # (breaker H-R15 F7, session 15: an unknown key or a non-dict raised a TypeError from deep in the certifier)
    acc = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 10)
    with pytest.raises(ValueError, match=msg):
        acc.get_epsilon(1e-5, certify=True, certify_options=opts)


def test_certify_options_none_and_known_keys_are_taken():
    acc = Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 10)
    a = acc.get_epsilon(1e-5, certify=True, certify_options=None)
    b = acc.get_epsilon(1e-5, certify=True, certify_options={"time_budget": math.inf, "width": None})
    assert a.lower <= b.upper and b.lower <= a.upper
