"""Opacus 1.6.0's ``opacus/tests/accountants_test.py``, rerun with ``accountant="ew"``.

Each test names the Opacus test it ports. Where Opacus asserts a number that is
specific to RDP, PRV or GDP, the port asserts instead that ewacct's epsilon lies
inside its own certified bracket ``[certified_lower, certified]`` and not above
the upper bounds of the other accountants on the same history (RDP's and PRV's
``get_epsilon`` are upper bounds; GDP's CLT value is not, and is not compared).
The last section tests what ewacct_torch adds: cached answers and a core
accountant extended in place.
"""

from __future__ import annotations

import math
import warnings

import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")
hypothesis = pytest.importorskip("hypothesis")

import hypothesis.strategies as st  # noqa: E402
from hypothesis import example, given, settings  # noqa: E402

import ewacct_torch  # noqa: E402,F401  (registers "ew", routes get_noise_multiplier)
import opacus.accountants.utils as opacus_utils  # noqa: E402
from ewacct_torch import EWAccountant  # noqa: E402
from opacus.accountants import (  # noqa: E402
    GaussianAccountant,
    IAccountant,
    PRVAccountant,
    RDPAccountant,
    create_accountant,
    register_accountant,
    registry,
)

ACCOUNTANTS = ["ew"]
DELTA = 1e-5
#: Opacus' reference history: sigma 1.5, q 0.04, 90 epochs
SIGMA, Q, STEPS = 1.5, 0.04, int(90 / 0.04)
#: the numbers Opacus' tests assert for that history (RDP, PRV upper; GDP is a CLT value)
RDP_EPS, PRV_EPS = 7.32911117143, 6.777395712150674
#: Opacus' expected noise multipliers for target eps 8, delta 1e-5, q 0.04
RDP_SIGMA = {"epochs": 1.416, "steps": 1.3562}
PRV_SIGMA = {"epochs": 1.34765625, "steps": 1.2915}


def get_noise_multiplier(**kwargs):
    """Opacus' get_noise_multiplier as a user reaches it after ``import ewacct_torch``."""
    return opacus_utils.get_noise_multiplier(**kwargs)


def bracket(acc: EWAccountant, delta: float = DELTA) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return acc.epsilons(delta)


def assert_in_bracket(eps: float, br: dict[str, float]) -> None:
    assert br["certified_lower"] <= br["estimate"] * (1 + 1e-9) + 1e-12
    assert br["certified_lower"] <= eps <= br["certified"] * (1 + 1e-12) + 1e-15
    assert br["estimate"] <= br["certified"] * (1 + 1e-9) + 1e-12


# ------------------------------------------------------------ AccountantRegistryTest
class DummyAccountant(IAccountant):
    def __init__(self):
        pass

    def __len__(self):
        return 0

    def step(self, **kwargs):
        pass

    def get_epsilon(self, **kwargs):
        return 0.0

    def mechanism(cls) -> str:
        return "dummy"


class Dummy2Accountant(DummyAccountant):
    pass


@pytest.fixture
def clean_dummy():
    yield
    registry._ACCOUNTANTS.pop("dummy", None)


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_registered(accountant: str) -> None:
    """The port's premise: the name resolves to ewacct's accountant."""
    acc = create_accountant(accountant)
    assert isinstance(acc, EWAccountant)
    assert acc.mechanism() == accountant


def test_register_accountant(clean_dummy) -> None:
    register_accountant("dummy", DummyAccountant)
    assert isinstance(create_accountant("dummy"), DummyAccountant)
    assert create_accountant("dummy").mechanism() == "dummy"
    assert isinstance(create_accountant("ew"), EWAccountant)  # untouched


def test_create_accountant_not_registered() -> None:
    with pytest.raises(ValueError):
        create_accountant("not_registered")


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_register_existing_accountant(accountant: str, clean_dummy) -> None:
    register_accountant("dummy", DummyAccountant)
    with pytest.raises(ValueError):
        register_accountant(accountant, DummyAccountant)
    assert isinstance(create_accountant(accountant), EWAccountant)


def test_force_register_existing_accountant(clean_dummy) -> None:
    register_accountant("dummy", DummyAccountant)
    register_accountant("dummy", Dummy2Accountant, force=True)
    assert isinstance(create_accountant("dummy"), Dummy2Accountant)


# ------------------------------------------------------------------ AccountingTest
def _stepped(accountant: str, steps: int = STEPS) -> IAccountant:
    acc = create_accountant(accountant)
    for _ in range(steps):
        acc.step(noise_multiplier=SIGMA, sample_rate=Q)
    return acc


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_accountant(accountant: str) -> None:
    """test_rdp_accountant / test_prv_accountant / test_gdp_accountant."""
    acc = _stepped(accountant)
    assert acc.history == [(SIGMA, Q, STEPS)]
    eps = acc.get_epsilon(delta=DELTA)
    br = bracket(acc)
    assert_in_bracket(eps, br)
    assert eps == br["certified"]  # the default is the certified upper bound
    # not above the other accountants' upper bounds on the same history
    rdp = RDPAccountant()
    rdp.history = list(acc.history)
    assert rdp.get_epsilon(delta=DELTA) == pytest.approx(RDP_EPS)
    assert eps <= RDP_EPS
    assert eps <= PRV_EPS
    # GDP's CLT value (6.59..6.6 in Opacus' test) is no bound either way: not compared


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
@pytest.mark.parametrize("by", ["epochs", "steps"])
def test_get_noise_multiplier(accountant: str, by: str) -> None:
    """test_get_noise_multiplier_{rdp,prv}_{epochs,steps} (and _gdp)."""
    target = 8.0
    kw = {"epochs": 90} if by == "epochs" else {"steps": 2000}
    sigma = get_noise_multiplier(target_epsilon=target, target_delta=DELTA, sample_rate=Q,
                                 accountant=accountant, **kw)
    steps = kw.get("steps") or int(90 / Q)
    acc = create_accountant(accountant)
    acc.history = [(sigma, Q, steps)]
    eps = acc.get_epsilon(delta=DELTA)
    assert eps <= target  # the safe side, by the number the accountant states
    assert eps >= target - 0.01  # at least as close as Opacus' epsilon_tolerance
    assert_in_bracket(eps, bracket(acc))
    # a tighter (still certified) epsilon needs no more noise than RDP's or PRV's
    assert sigma <= RDP_SIGMA[by]
    assert sigma <= PRV_SIGMA[by]


def check_overshoot(accountant: str, epsilon: float, epochs: int, sample_rate: float,
                    delta: float) -> None:
    """Opacus' test_get_noise_multiplier_overshoot body, with the "ew" accountant throughout."""
    noise_multiplier = get_noise_multiplier(
        target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate, epochs=epochs,
        accountant=accountant,
    )
    acc = create_accountant(mechanism=accountant)
    acc.history = [(noise_multiplier, sample_rate, int(epochs / sample_rate))]
    actual_epsilon = acc.get_epsilon(delta=delta)
    assert actual_epsilon <= epsilon
    br = bracket(acc, delta)
    assert_in_bracket(actual_epsilon, br)
    # RDP is an upper bound on the truth, hence not below ewacct's certified lower bound
    rdp = RDPAccountant()
    rdp.history = list(acc.history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the largest alpha"
        assert rdp.get_epsilon(delta=delta) >= br["certified_lower"] * (1 - 1e-9)


# Opacus' hypothesis space, with its corners as explicit examples (q = 1e-4 over 10 epochs is
# 100,000 steps; over 100 epochs 1e6). Not marked slow (CI runs slow tests anyway): with the
# model-corrected calibration search (2-7 exact evaluations) and the core's fast fallback
# certificate (another engineer's work, uncommitted when this was measured) each example took
# 0.06-1.8 s and a few MB (benchmarks/torch_accountant.py section 4) and the whole test ~13 s on
# the shared 2-core machine; at commit e5d9b3b, without that fallback, 174 s. Where the contour
# certificate does not finish (q = 1e-4, sigma ~0.4, 6e5-1e6 steps) the certificate is a Chernoff
# bound, so the calibrated sigma is a few % larger than the estimate's there, still on the safe side.
@pytest.mark.parametrize("accountant", ACCOUNTANTS)
@given(
    epsilon=st.floats(1.0, 10.0),
    epochs=st.integers(10, 100),
    sample_rate=st.sampled_from([1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]),
    delta=st.sampled_from([1e-4, 1e-5, 1e-6]),
)
@example(epsilon=1.0, epochs=10, sample_rate=1e-4, delta=1e-4)
@example(epsilon=1.0, epochs=10, sample_rate=1e-4, delta=1e-6)
@example(epsilon=10.0, epochs=100, sample_rate=1e-4, delta=1e-6)
@example(epsilon=1.0, epochs=100, sample_rate=1e-4, delta=1e-6)
@example(epsilon=1.0, epochs=100, sample_rate=1e-1, delta=1e-6)
@example(epsilon=10.0, epochs=10, sample_rate=1e-1, delta=1e-4)
@settings(deadline=None, max_examples=10)  # CI time: the corners above plus 10 draws
def test_get_noise_multiplier_overshoot(accountant, epsilon, epochs, sample_rate, delta) -> None:
    check_overshoot(accountant, epsilon, epochs, sample_rate, delta)


# The same property in CI on examples of that space the core certifies without PLD today,
# among them the one the issue saw hang (q = 1e-4 over 100,000 steps).
@pytest.mark.parametrize("accountant", ACCOUNTANTS)
@pytest.mark.parametrize("epsilon,epochs,sample_rate,delta", [
    (1.0, 10, 1e-4, 1e-4), (1.0, 100, 1e-1, 1e-6), (10.0, 10, 1e-1, 1e-4), (10.0, 10, 1e-2, 1e-4),
    (1.0, 10, 5e-3, 1e-6), (4.5, 37, 2e-2, 1e-5),
])
def test_get_noise_multiplier_overshoot_examples(accountant, epsilon, epochs, sample_rate,
                                                 delta) -> None:
    check_overshoot(accountant, epsilon, epochs, sample_rate, delta)


# ------------------------------------------------------------ state dict (Opacus tests)
@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_accountant_state_dict(accountant: str) -> None:
    acc = _stepped(accountant)
    dummy_dest = {"dummy_k": "dummy_v"}
    # history should be equal but not the same instance
    assert acc.state_dict()["history"] == acc.history
    assert acc.state_dict()["history"] is not acc.history
    # mechanism populated to supplied dict
    assert acc.state_dict(dummy_dest)["mechanism"] == acc.mechanism()
    # existing values in supplied dict unchanged
    assert acc.state_dict(dummy_dest)["dummy_k"] == dummy_dest["dummy_k"]


@pytest.mark.parametrize("accountant", ACCOUNTANTS)
def test_accountant_load_state_dict(accountant: str) -> None:
    acc = _stepped(accountant, STEPS - 1000)
    new_acc = create_accountant(accountant)
    # check corner cases
    with pytest.raises(ValueError):
        new_acc.load_state_dict({})
    with pytest.raises(ValueError):
        new_acc.load_state_dict({"1": 2})
    with pytest.raises(ValueError):
        new_acc.load_state_dict({"history": []})
    with pytest.raises(ValueError):
        GaussianAccountant().load_state_dict(acc.state_dict())
    with pytest.raises(ValueError):
        RDPAccountant().load_state_dict(acc.state_dict())
    with pytest.raises(ValueError):
        new_acc.load_state_dict(RDPAccountant().state_dict())
    # check loading logic
    assert new_acc.state_dict() != acc.state_dict()
    new_acc.load_state_dict(acc.state_dict())
    assert new_acc.state_dict() == acc.state_dict()
    # ensure correct output after completion: the resumed run equals the uninterrupted one
    for _ in range(STEPS - 1000, STEPS):
        new_acc.step(noise_multiplier=SIGMA, sample_rate=Q)
    uninterrupted = _stepped(accountant)
    assert new_acc.history == uninterrupted.history
    eps = new_acc.get_epsilon(delta=DELTA)
    assert eps == uninterrupted.get_epsilon(delta=DELTA)
    assert_in_bracket(eps, bracket(new_acc))
    assert eps <= RDP_EPS


# ------------------------------------------- what ewacct_torch adds: caching, extension
def test_repeated_query_is_answered_from_the_cache() -> None:
    acc = EWAccountant()
    acc.history = [(1.0, 0.01, 2000)]
    first = acc.get_epsilon(DELTA)
    hits = acc.cache_stats["hits"]
    for _ in range(5):
        assert acc.get_epsilon(DELTA) == first
    assert acc.cache_stats["hits"] == hits + 5
    # the estimate is its own (cached) query, equal to the core's plain answer
    est = acc.get_epsilon(DELTA, bound="estimate")
    assert acc.get_epsilon(DELTA, bound="estimate") == est
    assert acc.cache_stats["hits"] == hits + 6
    assert est == float(acc.to_ewacct().get_epsilon(DELTA).estimate)
    assert est <= first * (1 + 1e-9)


def test_steps_extend_the_core_accountant_and_match_a_fresh_one() -> None:
    acc = EWAccountant(bound="estimate")
    for _ in range(200):
        acc.step(noise_multiplier=1.1, sample_rate=0.02)
    e200 = acc.get_epsilon(DELTA)
    core = acc._core
    for _ in range(50):
        acc.step(noise_multiplier=1.1, sample_rate=0.02)
    for _ in range(30):
        acc.step(noise_multiplier=0.9, sample_rate=0.02)
    e280 = acc.get_epsilon(DELTA)
    assert acc._core is core and acc.cache_stats["extended"] == 1
    assert acc.cache_stats["rebuilt"] == 1
    fresh = EWAccountant(bound="estimate")
    fresh.history = [(1.1, 0.02, 250), (0.9, 0.02, 30)]
    assert e280 == fresh.get_epsilon(DELTA)  # bit-identical to a rebuild
    assert e280 > e200
    # any other change of history (Opacus assigns it directly) rebuilds
    acc.history = [(1.1, 0.02, 100)]
    assert acc.get_epsilon(DELTA) < e200
    assert acc.cache_stats["rebuilt"] == 2
    # zero noise anywhere: infinite, and back to finite when the history says so
    acc.step(noise_multiplier=0.0, sample_rate=0.02)
    assert math.isinf(acc.get_epsilon(DELTA))
    acc.history = [(1.1, 0.02, 100)]
    assert math.isfinite(acc.get_epsilon(DELTA))


def test_query_cost_does_not_grow_with_steps_or_calls() -> None:
    """One core query per distinct history, whatever its number of steps."""
    acc = EWAccountant(bound="estimate")
    calls = []
    for steps in (100, 2000, 100_000):
        acc.history = [(1.0, 0.01, steps)]
        for _ in range(3):
            acc.get_epsilon(DELTA)
        calls.append(acc.cache_stats["queries"] - acc.cache_stats["hits"])
    assert calls == [1, 2, 3]


def test_accountant_pickles_without_its_cache() -> None:
    import pickle
    import sys

    # the class as the module holds it now (tests/torch/test_accountant.py reloads the module, and
    # pickle finds classes by module attribute)
    acc = sys.modules["ewacct_torch.accountant"].EWAccountant(bound="estimate")
    acc.history = [(1.0, 0.01, 100)]
    e = acc.get_epsilon(DELTA)
    clone = pickle.loads(pickle.dumps(acc))
    assert clone.history == acc.history and clone._core is None
    assert clone.get_epsilon(DELTA) == e


def test_opacus_names_other_than_ew_reach_opacus_unchanged() -> None:
    """The routing of get_noise_multiplier leaves every other accountant to Opacus."""
    wrapped = opacus_utils.get_noise_multiplier
    original = getattr(wrapped, "__wrapped_opacus__", None)
    assert original is not None
    kw = dict(target_epsilon=8.0, target_delta=DELTA, sample_rate=Q, steps=2000, accountant="rdp")
    assert wrapped(**kw) == original(**kw) == pytest.approx(RDP_SIGMA["steps"], abs=1e-4)
    with pytest.raises(ValueError, match="EITHER"):
        wrapped(target_epsilon=8.0, target_delta=DELTA, sample_rate=Q, accountant="ew")


@pytest.mark.parametrize("factor", [1.001, 1.15])
def test_calibration_ends_on_the_safe_side_of_what_the_accountant_reports(factor: float) -> None:
    """A bound 0.1 % (a tight certificate) or 15 % (a loose fallback one) above the estimate: the
    sigma is raised just enough (to 1e-4 relative), in a few queries of the bound."""
    from ewacct_torch.accountant import SAFE_SIDE_RTOL, calibrate_noise_multiplier

    class Pessimistic(EWAccountant):
        queries = 0

        def get_epsilon(self, delta, *args, **kwargs):
            Pessimistic.queries += 1
            return super().get_epsilon(delta, bound="estimate") * factor

    target, q, steps = 3.0, 0.02, 500
    plain = calibrate_noise_multiplier(target_epsilon=target, target_delta=DELTA, sample_rate=q,
                                       steps=steps, guarantee="estimate")
    checker = Pessimistic()
    sigma = calibrate_noise_multiplier(target_epsilon=target, target_delta=DELTA, sample_rate=q,
                                       steps=steps, checker=checker)
    assert sigma > plain
    # regula falsi on log eps (bisection to 1e-4 took ~12 queries from a 15 % excess)
    assert Pessimistic.queries <= 7
    checker.history = [(sigma, q, steps)]
    assert checker.get_epsilon(DELTA) <= target
    checker.history = [(sigma / (1 + 2 * SAFE_SIDE_RTOL), q, steps)]
    assert checker.get_epsilon(DELTA) > target
