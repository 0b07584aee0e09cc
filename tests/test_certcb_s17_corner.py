"""Certified calibration in the few-participation corner (session 17, H-CB): Opacus' ``get_noise_multiplier`` for
"ew" (what ``make_private_with_epsilon`` calls) at q 3.42e-4, T 21, delta 6.4e-10 (calibrate_certified_random seed 7
#37), where it took 1.7-2.4 s CPU against PRV's 1.4 s: the API certificate of its only rung ran the contour (which
failed) and the rounded loss-distribution bracket (2.6 s).  With patch CB-1 (certify.CORNER_COND_CELLS) the
conditioned bracket tried before the contour answers (0.15 s).  References independent of ewacct: dp_accounting's PLD
(pessimistic connect-the-dots at the returned sigma; the optimistic / pessimistic pair around the certificate),
Opacus' RDP accountant (an upper bound), and the exact engine's sigma (a lower bound on any certifiable one)."""

from __future__ import annotations

import math
import warnings

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct import calibrate_noise
from ewacct.bounds import certify
from ewacct.methods.certified import clear_caches
from mpref import psg_pld_eps_pair
from test_certcb_s16_calib import pld_pessimistic_eps

# (target eps, delta, q, T)
CORNER = (4.55, 6.4e-10, 3.42e-4, 21)


def _clear():
    clear_caches()
    certify.clear_memo()


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.mark.skipif(not hasattr(certify, "CORNER_COND_CELLS"), reason="patch CB-1 (certify.CORNER_COND_CELLS) absent")
def test_corner_certificate_is_the_conditioned_bracket_before_the_contour(monkeypatch):
    def no_contour(*a, **k):
        raise AssertionError("the contour was tried")

    e, d, q, T = CORNER
    sigma = 0.4809569
    monkeypatch.setattr(certify, "_contour_bracket", no_contour)
    _clear()
    c = certify.certified_epsilon(Accountant().compose(PSG(sigma, q), T), d, time_budget=10.0)
    assert "tried before the contour" in c.source
    assert 0.0 < c.lower <= c.upper and (c.upper - c.lower) <= 1e-4 * c.upper
    opt, pes = psg_pld_eps_pair(sigma, q, T, d, 5e-4)
    # two proofs about the same eps(delta): the certificate must meet dp_accounting's bracket
    assert c.lower <= pes * (1 + 1e-9) and c.upper >= opt * (1 - 1e-9)


def test_opacus_calibration_in_the_corner_meets_the_target():
    pytest.importorskip("torch")
    pytest.importorskip("opacus")
    import opacus.accountants.utils as ou
    from opacus.accountants import RDPAccountant

    import ewacct_torch  # noqa: F401  (registers "ew", routes get_noise_multiplier)
    from ewacct_torch import EWAccountant

    e, d, q, T = CORNER
    _clear()
    exact = _quiet(calibrate_noise, target_epsilon=e, target_delta=d, sampling_probability=q, steps=T).noise_multiplier
    _clear()
    s = float(_quiet(ou.get_noise_multiplier, target_epsilon=e, target_delta=d, sample_rate=q, steps=T,
                     accountant="ew"))
    # no smaller sigma is certifiable than the exact one (true to ~1e-6); the corner's first rung is 1e-4 above it
    assert exact * (1 - 1e-6) <= s <= exact * (1 + 1e-3)
    _clear()
    acc = EWAccountant()
    acc.history = [(s, q, T)]
    eps = acc.get_epsilon(d)
    assert eps <= e
    assert pld_pessimistic_eps(s, q, T, d) <= e
    rdp = RDPAccountant()
    rdp.history = [(s, q, T)]
    assert eps <= rdp.get_epsilon(delta=d)
    assert math.isfinite(eps) and eps > 0.9 * e
