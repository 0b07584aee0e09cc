"""The certified contour's time budget is enforced everywhere (docs/certified.md section 7).

The saddle searches of the exact engine (``LogMgf.real_fn``) and certified_quant's float K (``k_float``)
had no deadline check: at sigma = 681.6, q = 1.91e-6, T = 96, delta = 3.13e-10 they walked to |w| ~ 1e8,
where one real kernel call takes up to 250 ms, and the certificate took 8.3 s of CPU for a 1 s budget.
No timed assertions here: the clock is made to jump past the deadline and the tests check that the
kernels are then hardly called and that the proven fallback answers a bracket that contains the
engine's estimate (the fallback is a proof too: a deadline never makes a bracket wrong).
"""

from __future__ import annotations

import math

import pytest

from ewacct import Accountant, PoissonSubsampledGaussian as PSG
from ewacct.bounds import certify
from ewacct.methods import certified as C
from ewacct.methods import certified_quant as Q
from ewacct._kernels import mgf as M


@pytest.fixture
def jumped_clock(monkeypatch):
    """The certificate's clock: its first reading starts the budget, every later one is 1e6 s on."""
    calls = [0]

    def now() -> float:
        calls[0] += 1
        return 0.0 if calls[0] == 1 else 1e6

    monkeypatch.setattr(C, "_now", now)
    return calls


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts the real float kernel's calls made through the exact engine and certified_quant.  The
    rounded loss-distribution narrowing of bounds/certify.py (few participations: its own CPU budget and a
    default query of a fresh accountant for its centre, tested in test_fewpart_cert.py) is left out: the
    count is of the contour certificate and its proven fallback."""
    monkeypatch.setattr(certify, "_with_fewpart", lambda acc, kind, x, c, *a, **k: c)
    n = [0]
    orig = M.sg_composition_real

    def counted(*a):
        n[0] += 1
        return orig(*a)

    monkeypatch.setattr(M, "sg_composition_real", counted)  # (exact.py imports it when it builds K)
    monkeypatch.setattr(Q, "sg_composition_real", counted)
    return n


def _fresh(sigma: float, q: float, T: int) -> Accountant:
    C._warm_once()  # (its one-time warm-up query is not counted)
    certify.clear_memo()
    C._LAST.clear()
    return Accountant().compose(PSG(sigma, q), T)


def test_past_the_deadline_the_proven_fallback_answers(jumped_clock, kernel_calls):
    # a point whose contour bracket is normally ~1e-10 wide within ~0.1 s
    est = _fresh(1.0, 0.01, 100).get_epsilon(1e-5).value
    acc = _fresh(1.0, 0.01, 100)
    kernel_calls[0] = 0
    cert = certify.certified_epsilon(acc, 1e-5)
    assert jumped_clock[0] >= 2  # the deadline was consulted
    assert "proven" in cert.source.lower() or "chernoff" in cert.source.lower()
    assert cert.lower <= est <= cert.upper
    assert cert.upper - cert.lower > 1e-3  # the fallback's width, not the contour's
    assert kernel_calls[0] <= 4


def test_delta_past_the_deadline(jumped_clock):
    est = _fresh(1.0, 0.01, 100).get_delta(1.0).value
    acc = _fresh(1.0, 0.01, 100)
    cert = certify.certified_delta(acc, 1.0)
    assert jumped_clock[0] >= 2
    assert "chernoff" in cert.source.lower() or "proven" in cert.source.lower()
    assert cert.lower <= est <= cert.upper


def test_far_saddle_point_answers_its_fallback(jumped_clock, kernel_calls):
    # the point: before, 360-460 real kernel calls at |w| up to ~2e8 (8.3 s of CPU)
    sigma, q, T, delta = 681.6, 1.91e-6, 96, 3.13e-10
    est = _fresh(sigma, q, T).get_epsilon(delta).value
    acc = _fresh(sigma, q, T)
    kernel_calls[0] = 0
    cert = certify.certified_epsilon(acc, delta)
    assert kernel_calls[0] <= 4
    assert 0.0 <= cert.lower <= est <= cert.upper and math.isfinite(cert.upper)


def test_clock_removed_after_the_query():
    acc = _fresh(1.0, 0.01, 100)
    certify.certified_epsilon(acc, 1e-5)
    assert Q.CLOCK[0] is None
    cf = acc._contour_certifier()
    for ed in cf.exact.dirs.values():
        assert not getattr(ed.K.real_fn, "_cert_clock", False)
