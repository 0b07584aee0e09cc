"""Defects found by an adversarial review of the certified bracket (ewacct.methods.certified,
ewacct._kernels.mgf_cert).  Each test compares against an independent reference: an mpmath
evaluation of the two-step hockey-stick divergence (delta_2(eps) = E_P[delta_1(eps - L_1)], the
one-step closed form inside a 1-D quadrature at 30-40 digits), or Jensen's inequality.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct._kernels.mgf import sg_log_g
from ewacct._kernels.mgf_cert import sg_g_enclose
from ewacct.methods.certified import CertDirection
from ewacct.methods.exact import ExactMethod


def _d1_dir(q, mu, e, direction):
    """Exact one-step delta(e) (any real e) in one direction, mpmath (the caller sets the precision)."""
    sf = lambda x: mp.ncdf(-x)  # noqa: E731
    if direction == "remove":
        t = (mp.exp(e) - 1 + q) / q
        if t <= 0:
            return 1 - mp.exp(e)
        x = (mp.log(t) + mu * mu / 2) / mu
        return (1 - q) * sf(x) + q * sf(x - mu) - mp.exp(e) * sf(x)
    t = (mp.exp(-e) - 1 + q) / q
    if t <= 0:
        return mp.mpf(0)
    x = (mp.log(t) + mu * mu / 2) / mu
    return mp.ncdf(x) - mp.exp(e) * ((1 - q) * mp.ncdf(x) + q * mp.ncdf(x - mu))


def _mp_delta_two_steps(q: float, sigma: float, eps: float, dps: int = 40) -> mp.mpf:
    """delta(eps) of two Poisson-subsampled Gaussian steps, both directions, by mpmath."""
    with mp.workdps(dps):
        q_, mu, e = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)
        ell = lambda x: mp.log(1 - q_ + q_ * mp.exp(mu * x - mu * mu / 2))  # noqa: E731
        pts = [-mp.inf, -10, -5, -2, 0, mu / 2, mu, 2 + mu, 5 + mu, 10 + mu, mp.inf]
        rem = mp.quad(lambda x: ((1 - q_) * mp.npdf(x) + q_ * mp.npdf(x - mu)) * _d1_dir(q_, mu, e - ell(x), "remove"), pts)
        lim = -mp.log(1 - q_) - e
        add = mp.quad(lambda x: mp.npdf(x) * (_d1_dir(q_, mu, e + ell(x), "add") if ell(x) < lim else 0), pts)
        return max(mp.re(rem), mp.re(add))  # (mpmath returns an mpc with a zero imaginary part here)


def test_certified_eps_zero_answer_does_not_raise():
    # delta(0) <= target: ContourCertifier._epsilon returns Bracket(0, 0, {"note": ...}) without the
    # "estimate"/"direction" keys that Accountant._certified_first reads -> KeyError leaks out of
    # get_epsilon(certify=True).  Truth: delta(0) = 1.13e-5 <= 1e-4, so eps(1e-4) = 0.
    q, sigma, delta = 1e-4, 5.0, 1e-4
    assert _mp_delta_two_steps(q, sigma, 0.0) <= delta
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q), 2)
    r = acc.get_epsilon(delta, certify=True)
    assert r.lower == 0.0 and r.upper >= 0.0


def test_delta_at_zero_bound_is_an_upper_bound_at_tiny_q():
    # delta_at_zero_bound computes 2 ndtr(m/2) - 1 (cancellation: 0.0 for m = 2e-16) and the
    # certified eps search returns [0, 0] when it is <= delta.  Truth (mpmath): delta(0) = 5.6477e-17.
    q, sigma = 1e-15, 10.0
    truth = _mp_delta_two_steps(q, sigma, 0.0)
    assert 5.6e-17 < truth < 5.7e-17
    groups = [(PoissonSubsampledGaussian(sigma, q), 2)]
    assert ExactMethod(groups).delta_at_zero_bound() >= float(truth)
    # so eps(1e-17) > 0: the certified upper end cannot be 0
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), 2).get_epsilon(1e-17, certify=True)
    assert r.upper > 0.0


def test_kernel_enclosure_does_not_collapse_to_zero_at_large_real_a():
    # For real a >= 1, Jensen gives G(a) = E[(1 + u)^a] >= (1 + E u)^a = 1.  Where the rectangle
    # bound of the largest panel overestimates the integrand by more than e^745 (a mu pw >~ 745),
    # every node term, GL error and rounding term underflows against e^scale and sg_g_enclose
    # returns G~ = 0 with r = 0, i.e. the claim |G(a)| <= 0.
    q, mu, a = 1.6712603711779493e-05, 0.16308678725302395, 9322.101957373472
    est = sg_log_g(q, mu, complex(a, 0.0)).real
    lg, lr, _ = sg_g_enclose(q, mu, complex(a, 0.0), est + math.log(1e-13), abs(est) < 1.0)
    # |G~| + r >= |G| >= 1, in logs
    assert np.logaddexp(lg.real, lr) >= 0.0


def test_certified_real_G_upper_bound_is_not_minus_infinity():
    # the same collapse through the certifier: log_G_hi (an upper bound on log G(a), used for the
    # truncation bound and the node tolerances) is -inf at a = c + 1 = 29111 for q = 1e-9, sigma = 26.5
    # (the abscissa the exact engine proposes for delta(0.033) there); G(a) >= 1 by Jensen.
    cd = CertDirection([(PoissonSubsampledGaussian(26.522826359896094, 1.0333847804031916e-09), 1)], "remove")
    assert cd.log_G_hi(0, 29111.0) >= 0.0
