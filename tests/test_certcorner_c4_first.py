"""Few-participation corner (q T <= certify.CORNER_QT, 3 <= T <= 127): the conditioned body / tail bracket is tried
before the contour, centred on the engine's estimate; where it is within issue 9's target it is the certificate
and the contour is not attempted (its failed attempt cost 0.2-1.1 s there).  References: dp_accounting's PLD
pessimistic / optimistic pair at a fine discretisation (independent of ewacct), the engine's estimate."""

from __future__ import annotations

import warnings

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.bounds import certify
from mpref import psg_pld_eps_pair


# (sigma, q, T, delta, PLD value_discretization_interval): eps ~ 3e-8 .. 6e-8, where the contour failed after
# 0.3-0.8 s and the conditioned bracket answers in ~40 ms
POINTS = [(3.46, 2.14e-8, 9, 3.08e-11, 1e-10), (12.49, 4.98e-8, 7, 2.16e-11, 1e-10)]


@pytest.mark.parametrize("sigma,q,T,delta,vdi", POINTS)
def test_corner_first_answers_without_the_contour(monkeypatch, sigma, q, T, delta, vdi):
    def no_contour(*a, **k):
        raise AssertionError("the contour was tried")

    monkeypatch.setattr(certify, "_contour_bracket", no_contour)
    certify.clear_memo()
    acc = Accountant().compose(PSG(sigma, q), T)
    c = certify.certified_epsilon(acc, delta)
    assert "tried before the contour" in c.source
    assert not certify._too_wide("epsilon", c.lower, c.upper)
    opt, pes = psg_pld_eps_pair(sigma, q, T, delta, vdi)
    assert opt <= pes
    # both are proofs / bounds of the same eps(delta): the certified bracket must meet the PLD bracket
    assert c.lower <= pes * (1 + 1e-9) and c.upper >= opt * (1 - 1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = Accountant().compose(PSG(sigma, q), T).get_epsilon(delta).value
    assert c.lower <= est <= c.upper


def test_outside_the_corner_the_contour_comes_first(monkeypatch):
    # q T = 1 (and T = 100): no estimate is asked for before the contour, which answers as before
    def no_estimate(*a, **k):
        raise AssertionError("estimate asked for before the contour")

    monkeypatch.setattr(certify, "_fewpart_estimate", no_estimate)
    certify.clear_memo()
    c = certify.certified_epsilon(Accountant().compose(PSG(1.0, 0.01), 100), 1e-5)
    assert c.source.startswith(certify.CONTOUR_SOURCE)
    assert not certify._too_wide("epsilon", c.lower, c.upper)
    # T above CORNER_COND_CELLS / (COARSE + 1) (16352): the plan cannot fit (T (COARSE + 1) > CORNER_COND_CELLS
    # cells), nothing is tried first
    from ewacct.bounds import fewpart_cond

    T = certify.CORNER_COND_CELLS // (fewpart_cond.COARSE + 1) + 1
    pre = certify._Pre()
    acc = Accountant().compose(PSG(0.584, 3.61e-7), T)
    assert certify._corner_first(acc, 3.81e-9, 0.0, None, pre) is None and pre.est is None
