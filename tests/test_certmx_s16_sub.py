"""bounds/mixed_fft.py F9 (docs/certified_mixed.md): the sub-grid step laws (connect-the-dots upper law, contracted lower
law).  The proof's per-step statement: for every real t, the law's profile t -> E[(1 - e^{t - X})_+] lies above the true
loss's (upper law; its infinite state counted with payoff 1) or below it (lower law) -- the payoff is convex and
non-increasing in e^{-L}, and the upper law is a spread, the lower a contraction.  Checked here against the true profile
computed independently with mpmath at 30 digits:

* Laplace (theta = 1 / scale): atoms +theta (1/2), -theta (e^-theta / 2), density e^{-(theta - l)/2} / 4 on (-theta, theta);
* randomized response: +e0 with p = 1 / (1 + e^-e0), -e0 otherwise;
* one Poisson-subsampled Gaussian step (mu = 1 / sigma), REMOVE (P = (1 - q) N(0, 1) + q N(mu, 1), Q = N(0, 1)) and ADD:
  the closed forms of tests/test_certmx_s16_reach.py (_psg_inner).

And that the laws are close: the upper and lower profiles differ by far less than F2's (one cell per step).  The
composition (F4, unchanged) is covered by test_certmx_s16_reach (mpmath, Laplace x 2 + PSG), test_mixes_mx_ongrid
(mpmath, Laplace + Gaussians; dp_accounting) and test_mixed_fft (mpmath RR / Laplace with Gaussians; dp_accounting).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct.bounds import fewpart_cert as fc
from ewacct.bounds import mixed_fft as mf

from test_certmx_s16_reach import _psg_inner


def _profile(masses: np.ndarray, k_lo: int, h: float, t: float, m_inf: float = 0.0):
    """E[(1 - e^{t - X})_+] of the grid law (masses at (k_lo + i) h), plus m_inf (payoff 1): float terms (each within a
    few ulps), summed exactly (math.fsum); the comparisons allow 1e-14 relative."""
    g = (k_lo + np.arange(len(masses))) * h
    sel = g > t
    return mp.mpf(math.fsum(masses[sel] * -np.expm1(t - g[sel]))) + m_inf


def _lap_true(theta: float, t: float):
    with mp.workdps(30):
        th, t = mp.mpf(theta), mp.mpf(t)
        f = lambda l: mp.exp(-(th - l) / 2) / 4 * max(1 - mp.exp(t - l), 0)  # noqa: E731
        d = mp.mpf(1) / 2 * max(1 - mp.exp(t - th), 0) + mp.exp(-th) / 2 * max(1 - mp.exp(t + th), 0)
        lo = max(-th, t)
        if lo < th:
            d += mp.quad(f, [lo, th])
        return d


def _rr_true(e0: float, t: float):
    with mp.workdps(30):
        e, t = mp.mpf(e0), mp.mpf(t)
        p = 1 / (1 + mp.exp(-e))
        return p * max(1 - mp.exp(t - e), 0) + (1 - p) * max(1 - mp.exp(t + e), 0)


def _psg_true(sigma: float, q: float, t: float, remove: bool):
    with mp.workdps(30):
        return _psg_inner(mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(t), remove)


def _check(st, old, true, ts, ratio):
    """st: F9's step; old: F2's (SUB = 0) on the same grid.  Both laws bracket the true profile at every t; F9's gap
    (upper - lower) is at most ``ratio`` times F2's where the profile is not tiny."""
    # the upper law's vector carries the masses at k_lo .. k_hi - 1 (F2's layout), the lower law's the same cells
    for t in ts:
        ref = true(t)
        up = _profile(st.up, st.k_lo, st.h, t, st.m_inf)
        dn = _profile(st.dn, st.k_lo, st.h, t)
        slack = mp.mpf(1e-14) * ref + mp.mpf(1e-300)
        assert dn <= ref + slack and ref <= up + slack, (t, float(dn), float(ref), float(up))
        up0 = _profile(old.up, old.k_lo, old.h, t, old.m_inf)
        dn0 = _profile(old.dn, old.k_lo, old.h, t)
        assert dn0 <= ref + slack and ref <= up0 + slack
        if ref > 1e-6:
            assert up - dn <= ratio * (up0 - dn0), (t, float(dn), float(ref), float(up), float(dn0), float(up0))


def _old(build, monkeypatch):
    with monkeypatch.context() as mpc:
        mpc.setattr(mf, "SUB", 0)
        return build()


@pytest.mark.parametrize("scale,h,ratio", [(7.01, 2.0 ** -12, 0.6), (3.0, 2.0 ** -10, 0.6)])
def test_laplace_step_profiles(scale, h, ratio, monkeypatch):
    """theta = 1/7.01 and 1/3 off the grid (their atoms rounded down by the lower law as in F2); ratio: F9's gap over
    F2's (measured 0.29-0.52)."""
    theta = 1.0 / scale
    build = lambda: mf._laplace_step(mf._theta_interval(1.0, scale), 3, h)  # noqa: E731
    ts = [-2 * theta, -theta - 1e-3, -0.5 * theta, 0.0, 0.3 * theta, 0.9 * theta, theta - 3 * h, theta - 0.5 * h]
    _check(build(), _old(build, monkeypatch), lambda t: _lap_true(theta, t), ts, ratio)


def test_laplace_step_profiles_ongrid(monkeypatch):
    """theta on the (non-dyadic) grid (F2''): h = theta / K; only the continuous part costs (F9: 0.094 of F2's, 0.31-0.53
    within two cells of the top atom, where the lower law's cells round down)."""
    theta = 1.0 / 7.01
    h, tg, _ = mf._ongrid(theta * (1 - 2 ** -52), theta * (1 + 2 ** -52), 2e-4)
    build = lambda: mf._laplace_step((tg, tg), 2, h)  # noqa: E731
    ts = [-1.5 * tg, -0.4 * tg, 0.0, 0.5 * tg, tg - 2 * h, tg - 0.25 * h]
    _check(build(), _old(build, monkeypatch), lambda t: _lap_true(tg, t), ts, 0.6)


@pytest.mark.parametrize("e0,h", [(0.7, 2.0 ** -10), (0.9281, 2.0 ** -12)])
def test_rr_step_profiles(e0, h, monkeypatch):
    build = lambda: mf._rr_step(e0, 5, h)  # noqa: E731
    ts = [-1.5 * e0, -e0 - 1e-3, -0.5 * e0, 0.0, 0.5 * e0, e0 - 2 * h, e0 - 0.3 * h]
    # (atoms off the grid: the lower law rounds them down as F2's does; the upper law spreads them)
    _check(build(), _old(build, monkeypatch), lambda t: _rr_true(e0, t), ts, 0.9)  # (measured 0.44-0.81)


@pytest.mark.parametrize("remove", [True, False])
def test_psg_step_profiles(remove):
    sigma, q, h = 1.509, 0.01257, 2.0 ** -12
    tail = fc.TRUNC_REL * 1e-5
    st = mf._PSGStep(q, sigma, 4, remove, h, tail)
    old = fc._Step(q, sigma, 4, remove, h, tail)
    ts = [-0.02, -0.005, 0.0, 0.004, 0.012, 0.03, 0.08] if remove else [-0.3, -0.02, -0.005, 0.0, 0.005, 0.0115]
    _check(st, old, lambda t: _psg_true(sigma, q, t, remove), ts, 0.12)  # (measured 0.094-0.102)


def test_sub_weights_sum_to_one():
    h = 2.0 ** -14
    omega, c_a, c_b, w = mf._sub_weights(h, mf.SUB)
    s = math.fsum(omega)
    assert 1.0 <= s < 1.0 + 1e-13  # (rounded up)
    alpha = mf.LOW_A * h / mf.SUB
    with mp.workdps(30):
        assert c_a >= mp.expm1(alpha) and c_b >= -mp.expm1(alpha - h)
        assert math.fsum(w) <= mp.exp(alpha) * (-mp.expm1(-h))  # sum_j int_{t_j}^{t_j+1} e^{alpha - s} ds
