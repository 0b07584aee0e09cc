"""Baseline adapters: closed-form GDP against Opacus and dp_accounting, RDP adapters
against each other, PRV against its Opacus port, PLD bracket sanity, the common
interface (validation, unavailability, timing) and baseline noise calibration.

Reference numbers come from the libraries at test time; nothing is hard-coded.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from ewacct.baselines import (
    BASELINE_NAMES,
    DEFAULT_COMPARE_METHODS,
    BaselineResult,
    gdp_delta,
    gdp_epsilon,
    gdp_mu,
    get_baseline,
    normalize_groups,
    parse_methods,
)
from ewacct.baselines.calibration import calibrate_noise_multiplier
from ewacct.baselines.gdp import GdpBaseline
from ewacct.baselines.prv import PrvBaseline
from ewacct.baselines.rdp import DpAccountingRdpBaseline, OpacusRdpBaseline


def _available(name: str) -> bool:
    return get_baseline(name).available


needs_opacus = pytest.mark.skipif(not _available("rdp-opacus"), reason="opacus not importable here")
needs_prv = pytest.mark.skipif(not _available("prv"), reason="prv_accountant not importable here")
needs_pld = pytest.mark.skipif(not _available("pld-pessimistic"), reason="ewacct.baselines.pld / dp_accounting unavailable")

GRID = [
    (q, s, T)
    for q in (1e-3, 0.01, 0.1)
    for s in (0.6, 1.0, 2.0)
    for T in (1, 100, 10_000)
]


# ----------------------------------------------------------------------- GDP closed form
@needs_opacus
@pytest.mark.parametrize("q,sigma,T", GRID)
@pytest.mark.parametrize("delta", [1e-5, 1e-8])
def test_gdp_closed_form_matches_opacus(q: float, sigma: float, T: int, delta: float) -> None:
    from opacus.accountants.analysis import gdp as opacus_gdp

    mu = gdp_mu([(sigma, q, T)])
    assert mu == pytest.approx(opacus_gdp.compute_mu_poisson(steps=T, noise_multiplier=sigma, sample_rate=q), rel=1e-12)
    ours = gdp_epsilon(mu=mu, target_delta=delta)
    if opacus_gdp.delta_eps_mu(eps=0.0, mu=mu) <= delta:
        assert ours == 0.0  # Opacus' brentq on [0, 500] has no sign change here
        return
    if ours >= 500:  # Opacus' fixed root bracket [0, 500] (opacus #775); ours grows its bracket
        with pytest.raises(ValueError):
            opacus_gdp.compute_eps_poisson(steps=T, noise_multiplier=sigma, sample_rate=q, delta=delta)
        assert gdp_delta(mu=mu, target_epsilon=ours) <= delta
        return
    theirs = opacus_gdp.compute_eps_poisson(steps=T, noise_multiplier=sigma, sample_rate=q, delta=delta)
    assert ours == pytest.approx(theirs, rel=1e-8, abs=1e-10)
    for eps in (0.0, 0.5, 2.0):
        assert gdp_delta(mu=mu, target_epsilon=eps) == pytest.approx(
            opacus_gdp.delta_eps_mu(eps=eps, mu=mu), rel=1e-9, abs=1e-300
        )


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("eps", [0.1, 1.0, 4.0])
def test_gdp_duality_is_exact_for_the_plain_gaussian(sigma: float, eps: float) -> None:
    """mu-GDP with mu = 1/sigma is the exact Gaussian mechanism: compare with dp_accounting's PLD."""
    from dp_accounting.pld import privacy_loss_distribution as pld

    exact = pld.from_gaussian_mechanism(
        standard_deviation=sigma, value_discretization_interval=1e-4, pessimistic_estimate=True
    ).get_delta_for_epsilon(eps)
    opt = pld.from_gaussian_mechanism(
        standard_deviation=sigma, value_discretization_interval=1e-4, pessimistic_estimate=False
    ).get_delta_for_epsilon(eps)
    ours = gdp_delta(mu=1.0 / sigma, target_epsilon=eps)
    assert opt * (1 - 1e-9) <= ours <= exact * (1 + 1e-9)


@pytest.mark.parametrize("mu", [1e-3, 0.1, 0.5, 1.0, 3.0, 10.0])
@pytest.mark.parametrize("delta", [1e-2, 1e-5, 1e-10])
def test_gdp_epsilon_inverts_delta(mu: float, delta: float) -> None:
    eps = gdp_epsilon(mu=mu, target_delta=delta)
    if eps == 0.0:
        assert gdp_delta(mu=mu, target_epsilon=0.0) <= delta
        return
    assert gdp_delta(mu=mu, target_epsilon=eps) <= delta  # safe side
    assert gdp_delta(mu=mu, target_epsilon=eps) == pytest.approx(delta, rel=1e-8)
    assert gdp_delta(mu=mu, target_epsilon=eps * (1 - 1e-6)) > delta


def test_gdp_heterogeneous_mu_adds_in_quadrature() -> None:
    a, b = (0.8, 0.01, 300), (1.7, 0.05, 700)
    assert gdp_mu([a, b]) == pytest.approx(math.hypot(gdp_mu([a]), gdp_mu([b])), rel=1e-14)
    assert gdp_mu([a, b]) == pytest.approx(gdp_mu([b, a]), rel=1e-14)


def test_gdp_tiny_sigma_is_infinite_not_nan() -> None:
    mu = gdp_mu([(0.02, 0.5, 10)])
    assert mu == math.inf
    assert gdp_epsilon(mu=mu, target_delta=1e-5) == math.inf
    assert gdp_delta(mu=mu, target_epsilon=3.0) == 1.0


# ----------------------------------------------------------------------- RDP adapters
@needs_opacus
@pytest.mark.parametrize("q,sigma,T", GRID)
def test_rdp_adapters_agree_on_common_orders(q: float, sigma: float, T: int) -> None:
    """Same orders, same conversion: the two libraries agree to 1e-3 where the optimal
    order is >= 3. (At smaller optimal orders dp_accounting's fractional-order series
    stops converging and excludes orders, so the two legitimately diverge there.)"""
    from opacus.accountants.rdp import RDPAccountant

    orders = RDPAccountant.DEFAULT_ALPHAS
    a = DpAccountingRdpBaseline(orders=orders).epsilon([(sigma, q, T)], target_delta=1e-5)
    b = OpacusRdpBaseline(orders=orders).epsilon([(sigma, q, T)], target_delta=1e-5)
    assert a.ok and b.ok and a.is_bound and b.is_bound
    if a.extra["optimal_order"] < 3 or b.extra["optimal_order"] < 3:
        pytest.skip(f"optimal order {a.extra['optimal_order']} < 3: libraries differ by design there")
    assert a.value == pytest.approx(b.value, rel=1e-3)


@needs_opacus
@pytest.mark.parametrize("q,sigma,T", GRID)
def test_rdp_adapters_default_orders_close_in_dp_sgd_regime(q: float, sigma: float, T: int) -> None:
    a = get_baseline("rdp").epsilon([(sigma, q, T)], target_delta=1e-5)
    b = get_baseline("rdp-opacus").epsilon([(sigma, q, T)], target_delta=1e-5)
    if a.value > 20 or not (1.1 < b.extra["optimal_order"] < 63):
        pytest.skip("outside the DP-SGD regime (eps > 20 or Opacus' optimal order at its grid edge)")
    assert a.value == pytest.approx(b.value, rel=1e-2)


def test_rdp_delta_and_epsilon_are_consistent() -> None:
    b = get_baseline("rdp")
    g = [(1.1, 0.02, 2000)]
    eps = b.epsilon(g, target_delta=1e-6).value
    d = b.delta(g, target_epsilon=eps * 1.01).value
    assert 0 < d <= 1e-6 * (1 + 1e-6)


@needs_pld
@pytest.mark.parametrize("q,sigma,T", [(0.01, 1.0, 1000), (0.1, 2.0, 100), (0.001, 0.8, 10000)])
def test_upper_bounds_are_above_the_pld_lower_bound(q: float, sigma: float, T: int) -> None:
    g = [(sigma, q, T)]
    lo = get_baseline("pld-optimistic").epsilon(g, target_delta=1e-5)
    hi = get_baseline("pld-pessimistic").epsilon(g, target_delta=1e-5)
    assert lo.ok and hi.ok
    assert lo.value <= hi.value
    assert lo.lower == hi.lower and lo.upper == hi.upper
    for name in ("rdp", "rdp-opacus", "prv"):
        b = get_baseline(name)
        if b.available:
            r = b.epsilon(g, target_delta=1e-5)
            assert r.value >= lo.value * (1 - 1e-9), name


# ----------------------------------------------------------------------- PRV
@needs_prv
@pytest.mark.parametrize("q,sigma,T", [(0.01, 1.0, 1000), (0.1, 2.0, 100), (0.005, 0.6, 3000)])
def test_prv_bracket_and_rdp_order(q: float, sigma: float, T: int) -> None:
    g = [(sigma, q, T)]
    r = get_baseline("prv").epsilon(g, target_delta=1e-5)
    assert r.ok and r.is_bound
    assert r.lower <= r.estimate <= r.upper == r.value
    # eps_error on each side, plus the eps shift from delta_error (PRV does not promise exactly 2*eps_error)
    assert r.upper - r.lower <= 3 * 0.01
    rdp = get_baseline("rdp").epsilon(g, target_delta=1e-5)
    assert r.upper <= rdp.value  # RDP is the looser bound in DP-SGD regimes


@needs_prv
@needs_opacus
def test_prv_matches_its_opacus_port() -> None:
    g = [(1.0, 0.01, 1000)]
    a = get_baseline("prv").epsilon(g, target_delta=1e-5)
    b = get_baseline("prv-opacus").epsilon(g, target_delta=1e-5)
    assert a.value == pytest.approx(b.value, abs=2e-2)


@needs_prv
def test_prv_heterogeneous_between_its_parts() -> None:
    lo_g, hi_g = [(1.5, 0.01, 1000)], [(0.9, 0.01, 1000)]
    mixed = [(1.5, 0.01, 500), (0.9, 0.01, 500)]
    b = PrvBaseline()
    e_lo, e_mid, e_hi = (b.epsilon(x, target_delta=1e-5).estimate for x in (lo_g, mixed, hi_g))
    assert e_lo < e_mid < e_hi


# ----------------------------------------------------------------------- PLD
@needs_pld
def test_pld_bracket_delta_and_epsilon() -> None:
    g = [(1.0, 0.01, 1000)]
    e = get_baseline("pld-pessimistic").epsilon(g, target_delta=1e-5)
    d = get_baseline("pld-pessimistic").delta(g, target_epsilon=e.value)
    assert e.lower <= e.upper
    assert d.lower <= d.upper
    assert d.upper == pytest.approx(1e-5, rel=0.05)
    assert "discretization" in e.note


# ----------------------------------------------------------------------- interface
def test_registry_lists_every_name_and_rejects_unknown() -> None:
    assert set(DEFAULT_COMPARE_METHODS) <= set(BASELINE_NAMES)
    for name in BASELINE_NAMES:
        b = get_baseline(name)
        assert b.name == name and b.label
        ok, why = b.availability()
        assert ok or why
    with pytest.raises(ValueError, match="valid methods: ewacct"):
        get_baseline("renyi")
    with pytest.raises(ValueError, match="unknown method 'foo'"):
        parse_methods("rdp,foo")
    assert parse_methods("rdp, gdp,rdp") == ("rdp", "gdp")
    assert parse_methods("all") == BASELINE_NAMES


@pytest.mark.parametrize(
    "groups,match",
    [
        ([(-1.0, 0.1, 10)], "noise_multiplier"),
        ([(0.0, 0.1, 10)], "noise_multiplier"),
        ([(float("nan"), 0.1, 10)], "noise_multiplier"),
        ([(1.0, 1.5, 10)], "sampling_probability"),
        ([(1.0, 0.0, 10)], "sampling_probability"),
        ([(1.0, 0.1, 2.5)], "count"),
        ([(1.0, 0.1, -1)], "count"),
        ([(1.0, 0.1)], "each group"),
        ([], "empty composition"),
        ([(1.0, 0.1, 0)], "empty composition"),
    ],
)
def test_bad_groups_raise_value_error_naming_the_argument(groups: list, match: str) -> None:
    for name in ("gdp", "rdp", "prv", "pld-pessimistic", "ewacct"):
        with pytest.raises(ValueError, match=match):
            get_baseline(name).epsilon(groups, target_delta=1e-5)


@pytest.mark.parametrize("delta", [0.0, 1.0, -1e-5, float("nan"), float("inf"), "x"])
def test_bad_delta_raises(delta: object) -> None:
    with pytest.raises(ValueError, match="target_delta"):
        get_baseline("rdp").epsilon([(1.0, 0.01, 10)], target_delta=delta)


@pytest.mark.parametrize("eps", [-0.5, float("nan"), float("inf")])
def test_bad_epsilon_raises(eps: float) -> None:
    with pytest.raises(ValueError, match="target_epsilon"):
        get_baseline("gdp").delta([(1.0, 0.01, 10)], target_epsilon=eps)


def test_groups_are_merged_and_zero_counts_dropped() -> None:
    assert normalize_groups([(1.0, 0.1, 3), (1.0, 0.1, 4), (2.0, 0.1, 0)]) == ((1.0, 0.1, 7),)
    b = get_baseline("rdp")
    assert b.epsilon([(1.0, 0.1, 3), (1.0, 0.1, 4)], target_delta=1e-5).value == pytest.approx(
        b.epsilon([(1.0, 0.1, 7)], target_delta=1e-5).value, rel=1e-12
    )


def test_missing_optional_package_is_a_note_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prv_accountant", None)  # import now raises ImportError
    b = PrvBaseline()
    assert not b.available
    assert "prv_accountant" in b.reason and "\n" not in b.reason
    r = b.epsilon([(1.0, 0.01, 100)], target_delta=1e-5)
    assert r.value is None and r.note.startswith("unavailable: ")
    # validation still applies to unavailable adapters
    with pytest.raises(ValueError):
        b.epsilon([(1.0, 2.0, 100)], target_delta=1e-5)


def test_library_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    b = GdpBaseline()

    def boom(groups: object, target_delta: float) -> dict:
        raise ZeroDivisionError("inside the library")

    monkeypatch.setattr(b, "_epsilon", boom)
    r = b.epsilon([(1.0, 0.01, 10)], target_delta=1e-5)
    assert r.value is None and r.note == "failed: ZeroDivisionError: inside the library"


def test_result_is_timed_and_serialisable() -> None:
    import json

    r = get_baseline("rdp").epsilon([(1.0, 0.01, 1000)], target_delta=1e-5)
    assert isinstance(r, BaselineResult) and r.seconds > 0 and r.is_bound
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["value"] == r.value and d["query"] == "epsilon"


def test_unsupported_delta_query_is_a_note() -> None:
    b = OpacusRdpBaseline()
    r = b.delta([(1.0, 0.01, 10)], target_epsilon=1.0)
    assert r.value is None and "does not answer" in r.note


@pytest.mark.parametrize("name", ["rdp", "gdp"])
def test_epsilon_monotone_in_steps_and_sigma(name: str) -> None:
    b = get_baseline(name)
    e = [b.epsilon([(1.0, 0.01, T)], target_delta=1e-5).value for T in (10, 100, 1000, 10000)]
    assert all(x < y for x, y in zip(e, e[1:]))
    e = [b.epsilon([(s, 0.01, 1000)], target_delta=1e-5).value for s in (0.7, 1.0, 1.5, 3.0)]
    assert all(x > y for x, y in zip(e, e[1:]))


# ----------------------------------------------------------------------- calibration
@pytest.mark.parametrize("name", ["rdp", "gdp"])
@pytest.mark.parametrize("target", [1.0, 8.0])
def test_calibration_is_smallest_safe_sigma(name: str, target: float) -> None:
    b = get_baseline(name)
    row = calibrate_noise_multiplier(b, target_epsilon=target, target_delta=1e-5, sampling_probability=0.02, steps=1500)
    assert row.noise_multiplier is not None, row.note
    eps_at = b.epsilon([(row.noise_multiplier, 0.02, 1500)], target_delta=1e-5).value
    assert eps_at <= target  # never overshoots
    below = b.epsilon([(row.noise_multiplier * (1 - 3e-4), 0.02, 1500)], target_delta=1e-5).value
    assert below > target  # and is (nearly) the smallest such sigma


def test_calibration_reports_infeasible_and_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    row = calibrate_noise_multiplier(get_baseline("gdp"), target_epsilon=1e-9, target_delta=0.5 - 1e-9,
                                     sampling_probability=1.0, steps=10**9)
    assert row.noise_multiplier is None and row.note.startswith("infeasible")
    monkeypatch.setitem(sys.modules, "prv_accountant", None)
    row = calibrate_noise_multiplier(PrvBaseline(), target_epsilon=1.0, target_delta=1e-5, sampling_probability=0.01, steps=10)
    assert row.noise_multiplier is None and row.note.startswith("unavailable")
    with pytest.raises(ValueError, match="target_epsilon"):
        calibrate_noise_multiplier(get_baseline("gdp"), target_epsilon=0.0, target_delta=1e-5, sampling_probability=0.01, steps=10)


def test_gdp_calibration_matches_closed_form_inverse() -> None:
    """At the calibrated sigma the closed-form mu reproduces the target."""
    row = calibrate_noise_multiplier(get_baseline("gdp"), target_epsilon=3.0, target_delta=1e-6,
                                     sampling_probability=0.01, steps=5000, rtol=1e-8)
    mu = gdp_mu([(row.noise_multiplier, 0.01, 5000)])
    assert gdp_epsilon(mu=mu, target_delta=1e-6) == pytest.approx(3.0, rel=1e-6)
    assert np.isfinite(mu)
