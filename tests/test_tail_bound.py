"""The proven tail bound on delta(eps) (ewacct/methods/tail_bound.py) and its use by the default get_delta.

Issue 8, the few-participation corner (q T << 1) at large sigma: delta(eps) is often astronomically small, and the
default answer was a flagged bound near delta(0) (e.g. 4.55e-9 where delta < 1e-13000) or a flagged 0.0 estimate.
Independent references, all mpmath at 40 digits and written here:

* one step: delta(eps) in closed form (both directions);
* a lower bound on delta(eps) of T steps: one participation, every other step lowering L by at most
  |log(1 - q)| (a one-dimensional quadrature over the tail);
* a weaker but elementary bound for the underflow claims: delta(eps) <= P_T(L > eps) <= T P(X > t) with
  T l(t) = eps (if every step's loss is at most l(t), L <= eps), evaluated in mpmath's log space;
* the bound's own inequality at its reported (level, lam), its expectations recomputed by mpmath quadrature;
* dp_accounting's PLD at a moderate delta (the bound lies above the PLD's optimistic lower end).
"""
from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.methods import dispatch
from ewacct.methods.tail_bound import log_delta_bound

LOG_TINY = math.log(5e-324)


def _d1(e, q, mu, direction):
    """One step's delta at any real e (mpmath)."""
    e, q, mu = mp.mpf(e), mp.mpf(q), mp.mpf(mu)
    if direction == "remove":
        if e <= mp.log1p(-q):
            return -mp.expm1(e)
        t = (mp.log((mp.expm1(e) + q) / q) + mu * mu / 2) / mu
        return (1 - q) * mp.ncdf(-t) + q * mp.ncdf(mu - t) - mp.exp(e) * mp.ncdf(-t)
    if -e <= mp.log1p(-q):
        return mp.mpf(0)
    t2 = (mp.log((mp.expm1(-e) + q) / q) + mu * mu / 2) / mu
    return mp.ncdf(t2) - mp.exp(e) * ((1 - q) * mp.ncdf(t2) + q * mp.ncdf(t2 - mu))


def _loss(x, q, mu):
    return mp.log1p(q * mp.expm1(mu * x - mu * mu / 2))


def _mp_union_log(sigma, q, T, eps):
    """log of T P(X > t), T l(t) = eps (an elementary upper bound on delta(eps), mpmath)."""
    q, mu = mp.mpf(q), 1 / mp.mpf(sigma)
    v = mp.mpf(eps) / T  # each step's loss at most v: L <= eps
    t = (mp.log((mp.expm1(v) + q) / q) + mu * mu / 2) / mu
    return mp.log(T) + mp.log((1 - q) * mp.ncdf(-t) + q * mp.ncdf(mu - t))


@pytest.mark.parametrize("sigma,q,eps", [
    (3.9537, 1.7430934557337042e-4, 1.9271418093525865e-3),   # delta ~ 5e-28
    (57.6487, 2.8224462766258388e-5, 1.460747950027019e-4),    # delta ~ 3e-2403
    (0.4514, 1.7104549310051785e-7, 3.1014758856359387e-6),
    (1.0, 1e-3, 1e-4),                                         # ADD is the larger direction
])
def test_one_step_bound_above_closed_form(sigma, q, eps):
    mp.mp.dps = 40
    lb, info = log_delta_bound([(PSG(sigma, q), 1)], eps)
    mu = 1 / mp.mpf(sigma)
    for d in ("remove", "add"):
        v = _d1(eps, q, mu, d)
        if v > 0:
            assert info[d] >= float(mp.log(v)) - 1e-9 * abs(float(mp.log(v))), (d, info[d], mp.log(v))
    truth = max(_d1(eps, q, mu, "remove"), _d1(eps, q, mu, "add"))
    assert lb >= float(mp.log(truth)) - 1e-9 * abs(float(mp.log(truth)))
    if truth < mp.mpf(10) ** -20:
        # and it follows the exponent (within 10 % of the log)
        assert lb <= 0.9 * float(mp.log(truth))


def test_bound_numerics_at_its_own_optimum():
    """The union + truncated-Chernoff inequality at the (level, lam) the search reports, its expectations by
    mpmath quadrature: the module's value is at least it (its numerics are upper bounds of these)."""
    mp.mp.dps = 40
    sigma, q, T, eps = 53.068, 1.2153626330164396e-06, 30, 9.773715386895225e-06
    lb, info = log_delta_bound([(PSG(sigma, q), T)], eps)
    mu, qq = 1 / mp.mpf(sigma), mp.mpf(q)
    r = qq / (1 - qq)
    v, lam = mp.mpf(info["level"]), mp.mpf(info["lam"])
    t = (mp.log(mp.expm1(v) / r) + mu * mu / 2) / mu
    eps_p = eps - T * mp.log1p(-qq)
    union = T * ((1 - qq) * mp.ncdf(-t) + qq * mp.ncdf(mu - t))
    g = lambda z: mp.log1p(r * mp.exp(mu * z - mu * mu / 2))
    # E[(1 + r W)^lam; Z <= t], the integrand peaked at the truncation edge: split near it
    m = mp.quad(lambda z: mp.npdf(z) * mp.exp(lam * g(z)), [-mp.inf, -10, 0, t - 2, t - 0.5, t - 0.05, t])
    log_c = (lam - 1) * mp.log(lam - 1) - lam * mp.log(lam)
    trunc = log_c - (lam - 1) * eps_p + T * (mp.log1p(-qq) + mp.log(m))
    ref = mp.log(union + mp.exp(trunc))
    assert info["remove"] >= float(ref) - 1e-9 * abs(float(ref))
    assert info["remove"] <= float(ref) * (1 - 1e-3)  # ... and not far above it (it is negative)
    assert lb < LOG_TINY


# the brief's points (random sweep of /tmp/l12_delta.py, seed 7): flagged bounds near delta(0), one flagged 0.0
UNDERFLOW = [
    (199.5741, 6.421104192183844e-07, 8, 1.2992790877052515e-05),   # was 4.55e-9 flagged, 0.61 s
    (366.4735, 9.403476207034146e-06, 2, 0.002400475531588766),     # was 0.0 flagged 'exact-direct'
    (955.4605, 5.70126877295796e-05, 73, 0.009033178469635939),
    (14.836, 1.931128597724013e-06, 9, 0.0010122777227684772),
]


@pytest.mark.parametrize("point", UNDERFLOW)
def test_underflowing_delta_is_exact_zero(point):
    sigma, q, T, eps = point
    mp.mp.dps = 40
    # independent: the elementary union bound is already below the smallest double
    assert _mp_union_log(sigma, q, T, eps) < LOG_TINY
    r = Accountant().compose(PSG(sigma, q), T).get_delta(eps)
    assert r.value == 0.0 and r.valid and r.method == "exact"
    assert r.diagnostics["log_upper_bound"] < LOG_TINY


def test_truncated_chernoff_underflow_point():
    # sigma 53.07, q 1.2e-6, T 30, eps 9.8e-6: was the flagged Hellinger bound 6.27e-8 after 1.9-2.4 s; the union
    # bound alone is ~1e-35 here, the truncated Chernoff part makes it < e^-2400 (checked numerically above)
    r = Accountant().compose(PSG(53.068, 1.2153626330164396e-06), 30).get_delta(9.773715386895225e-06)
    assert r.value == 0.0 and r.valid


def test_flagged_bound_is_the_tail_bound_and_above_mpmath():
    # sigma 10, q 1e-5, T 2, eps 1e-4: delta ~ 1.6e-132, representable.  Whatever answers (the two-step cell
    # enclosure settles it here; a flagged answer must be the tail bound, far below delta(0) ~ 1e-6), the value
    # lies between an mpmath lower bound (one participation: every other step lowers L by at most |log(1 - q)|)
    # and the proven tail bound
    mp.mp.dps = 30
    sigma, q, T, eps = 10.0, 1e-5, 2, 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Accountant().compose(PSG(sigma, q), T).get_delta(eps)
    lb, _ = log_delta_bound([(PSG(sigma, q), T)], eps)
    qm, mu = mp.mpf(q), 1 / mp.mpf(sigma)
    e1 = eps - (T - 1) * mp.log1p(-qm)
    xs = (mp.log(mp.expm1(e1) / qm + 1) + mu * mu / 2) / mu  # the payoff is positive beyond
    dens = lambda x: ((1 - qm) * mp.npdf(x) + qm * mp.npdf(x - mu)) * (1 - mp.exp(e1 - _loss(x, qm, mu)))
    lower = mp.quad(dens, [xs, xs + 0.5, xs + 2, xs + 6, xs + 40])
    assert mp.mpf(10) ** -150 < lower
    assert float(lower) * (1 - 1e-9) <= r.value <= math.exp(lb)
    if not r.valid:
        assert r.method == "chernoff-bound" and r.value == math.exp(lb)


def test_zero_estimate_is_never_the_flagged_answer(monkeypatch):
    # without the tail bound, the direct quadrature's estimate 0.0 (sigma 366.5, T 2) was returned flagged; now
    # the rigorous bound answers instead (a positive number)
    monkeypatch.setattr(dispatch, "TAIL_BOUND_QN", -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Accountant().compose(PSG(366.4735, 9.403476207034146e-06), 2).get_delta(0.002400475531588766)
    assert r.valid or r.value > 0.0


def test_bound_above_pld_optimistic_end():
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    sigma, q, T, eps = 1.0, 1e-3, 50, 0.05
    lb, _ = log_delta_bound([(PSG(sigma, q), T)], eps)
    opt = pld.from_gaussian_mechanism(standard_deviation=sigma, sensitivity=1.0, sampling_prob=q,
                                      value_discretization_interval=1e-4, pessimistic_estimate=False,
                                      use_connect_dots=False).self_compose(T)
    lo = opt.get_delta_for_epsilon(eps)
    assert lo > 0 and lb >= math.log(lo)
    # and the default answer (exact) lies below the bound
    r = Accountant().compose(PSG(sigma, q), T).get_delta(eps)
    assert r.valid and math.log(r.value) <= lb


@pytest.mark.parametrize("la,beta,a,b", [
    (0.0, 0.3, -1.0, -0.5), (2.0, -4.0, 0.5, 1.0), (1e6, 1e6, 3.0, 3.25), (-5.0, 50.0, 39.75, 40.0),
    (3.0, -1e5, 40.0, math.inf), (0.0, 1e-3, -12.0, -11.75), (7.0, 2e12, 10.0, 10.25),
])
def test_line_integral_against_mpmath(la, beta, a, b):
    # the Gaussian integral of e^{line} on a cell, in the cancellation-free form used at lam up to ~1e20
    from ewacct.methods.tail_bound import _log_line_int

    mp.mp.dps = 60
    lb = la + beta * (b - a) if math.isfinite(b) else math.nan
    got = float(_log_line_int(np.array([la]), np.array([lb]), np.array([beta]), np.array([a]), np.array([b]))[0])
    m, bb = mp.mpf(beta), mp.mpf(b) if math.isfinite(b) else mp.inf
    # e^{la - beta a} int_a^b phi(z) e^{beta z} dz = e^{la - beta a + beta^2/2} (Phi(b - beta) - Phi(a - beta)), by the
    # complementary function where both ends lie right of beta
    if a - beta > 0:
        mass = mp.ncdf(-(mp.mpf(a) - m)) - (mp.ncdf(-(bb - m)) if bb != mp.inf else 0)
    else:
        mass = mp.ncdf(bb - m) - mp.ncdf(mp.mpf(a) - m)
    ref = mp.mpf(la) - m * a + m * m / 2 + mp.log(mass)
    assert abs(got - float(ref)) <= 1e-9 * max(1.0, abs(float(ref)))
