"""The non-dyadic grid of bounds/mixed_fft.py with a Laplace group's atoms on it (docs/certified_mixed.md F2'').

References, none sharing code with the module:
* exact rational arithmetic (fractions.Fraction) for the grid step h, theta_g = K h and |theta - theta_g| <= d;
* mpmath at 30 digits: Laplace x 1 or x 2 + Gaussians.  The Laplace loss: atoms +theta (mass 1/2), -theta (e^-theta / 2),
  density f(l) = e^{-(theta - l)/2} / 4 on (-theta, theta); two continuous parts sum to s with density
  e^{-(2 theta - s)/2} (2 theta - |s|) / 16 on (-2 theta, 2 theta) (the length of the segment l1 + l2 = s in the square);
  the Gaussians together are N(mu^2/2, mu^2) (Dong, Roth & Su), delta_G(y) = Phi(-y/mu + mu/2) - e^y Phi(-y/mu - mu/2);
* dp_accounting's pessimistic / optimistic PLD pair at value_discretization_interval 1e-4 (Laplace x 50).
Eps containment is checked at the bracket's ends: delta(e_hi) <= delta < delta(e_lo) for the reference.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import pytest

from ewacct import Accountant, Gaussian, Laplace
from ewacct.bounds import mixed_fft


def _dg(mu, y):
    return mp.ncdf(-y / mu + mu / 2) - mp.exp(y) * mp.ncdf(-y / mu - mu / 2)


def _mp_laplace_n_gauss(theta: float, n: int, sigmas, eps: float):
    """delta(eps) of Laplace (theta = the double's exact value) x n (n = 1 or 2) + Gaussians, 30 digits."""
    with mp.workdps(30):
        th, eps = mp.mpf(theta), mp.mpf(eps)
        mu = mp.sqrt(mp.fsum(1 / mp.mpf(s) ** 2 for s in sigmas))
        atoms = [(th, mp.mpf(1) / 2), (-th, mp.exp(-th) / 2)]

        def cont(shift):  # E over one continuous part: int f(l) delta_G(eps - shift - l) dl
            return mp.quad(lambda l: mp.exp(-(th - l) / 2) / 4 * _dg(mu, eps - shift - l), [-th, 0, th])

        if n == 1:
            return mp.fsum(p * _dg(mu, eps - a) for a, p in atoms) + cont(0)
        d = mp.fsum(pa * pb * _dg(mu, eps - a - b) for a, pa in atoms for b, pb in atoms)
        d += 2 * mp.fsum(p * cont(a) for a, p in atoms)
        d += mp.quad(lambda s: mp.exp(-(2 * th - s) / 2) * (2 * th - abs(s)) / 16 * _dg(mu, eps - s),
                     [-2 * th, 0, 2 * th])
        return d


@pytest.mark.parametrize("tl,th,h_t", [
    (1 / 7.01 * (1 - 2 ** -52), 1 / 7.01 * (1 + 2 ** -52), 3.1e-6),
    (1 / 3.0, 1 / 3.0, 7.7e-5),
    (0.8643042350907519, 0.8643042350907521, 1.1e-4),
    (0.25, 0.25, 1e-7),
    (1 / 8.158, 1 / 8.158, 2.3e-6),
])
def test_ongrid_step_is_exact(tl, th, h_t):
    h, tg, d = mixed_fft._ongrid(tl, th, h_t, 1e-9 * th)
    fh, ftg = Fraction(h), Fraction(tg)
    k = ftg / fh
    assert k.denominator == 1 and k >= 1  # theta_g = K h exactly
    assert fh <= Fraction(h_t) and h >= 0.75 * h_t  # at most h_t, not much finer
    m, e = Fraction(h).numerator, Fraction(h).denominator
    assert m < 2 ** mixed_fft.ONGRID_BITS and (e & (e - 1)) == 0  # M 2^-e, M < 2^21
    assert mixed_fft._sig_bits(h) <= mixed_fft.ONGRID_BITS
    # every theta in [tl, th] within d of theta_g (the ends suffice: |theta - theta_g| is convex), d tiny
    assert abs(Fraction(tl) - ftg) <= Fraction(d) and abs(Fraction(th) - ftg) <= Fraction(d)
    assert d <= 1e-9 * th
    # k h exact doubles below 2^(53 - 21): spot checks
    for kk in (3, 12345, 2 ** 31 - 1):
        assert Fraction(kk * h) == kk * fh


@pytest.mark.parametrize("scale,n,sigmas,delta", [
    (7.01, 1, [3.0] * 5, 1e-5),
    (3.0, 1, [1.0, 2.0], 1e-9),
    (7.01, 2, [3.0] * 5, 1e-6),
    (2.9, 2, [1.5], 1e-10),
])
def test_ongrid_laplace_gauss_contains_mpmath(scale, n, sigmas, delta):
    a = Accountant().compose(Laplace(scale), n)
    for s in sigmas:
        a = a.compose(Gaussian(s), 1)
    # (4.0: a rough estimate, sets the grid; then centred, as narrow does; a generous CPU budget: CI workers are loaded)
    lo, hi, info = mixed_fft.epsilon_bracket(list(a.groups()), delta, 4.0, time_budget=30.0)
    lo, hi, info = mixed_fft.epsilon_bracket(list(a.groups()), delta, 0.5 * (lo + hi), time_budget=30.0)
    assert info["ongrid_shift"] > 0.0 and mixed_fft._sig_bits(info["h"]) > 1, info  # the non-dyadic grid is used
    assert (hi - lo) / hi <= 1e-4, (lo, hi, info)
    th = 1.0 / scale  # (Laplace(scale): sensitivity 1; the double 1 / scale is within 2^-53 of the quotient)
    tq = float(mp.mpf(1) / mp.mpf(scale))
    assert tq == th
    assert _mp_laplace_n_gauss(th, n, sigmas, hi) <= delta < _mp_laplace_n_gauss(th, n, sigmas, lo)


def test_ongrid_widens_less_than_the_dyadic_grid():
    """Laplace(3.878) x 50 + Gaussian(6.656) x 10 at 3.84e-5: with the atoms on the grid the bracket is within 1e-4
    and overlaps dp_accounting's PLD pair at vdi 1e-4 (the pair itself ~5e-4 wide here)."""
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    a = Accountant().compose(Laplace(3.878), 50).compose(Gaussian(6.656), 10)
    delta = 3.84e-5
    ends = []
    for pess in (False, True):
        p = pld.from_laplace_mechanism(3.878, pessimistic_estimate=pess, value_discretization_interval=1e-4)
        g = pld.from_gaussian_mechanism(6.656, pessimistic_estimate=pess, value_discretization_interval=1e-4)
        ends.append(float(p.self_compose(50).compose(g.self_compose(10)).get_epsilon_for_delta(delta)))
    p_lo, p_hi = ends
    lo, hi, info = mixed_fft.epsilon_bracket(list(a.groups()), delta, 0.5 * (p_lo + p_hi), time_budget=30.0)
    assert info["ongrid_shift"] > 0.0
    assert (hi - lo) / hi <= 1e-4, (lo, hi, info)
    assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)
    assert p_hi - p_lo < 1e-2 * hi


@pytest.mark.parametrize("scale,n,sigmas,eps", [(7.01, 2, [3.0] * 5, 1.5), (2.9, 1, [1.5], 3.0)])
def test_ongrid_delta_contains_mpmath(scale, n, sigmas, eps):
    a = Accountant().compose(Laplace(scale), n)
    for s in sigmas:
        a = a.compose(Gaussian(s), 1)
    ref = _mp_laplace_n_gauss(1.0 / scale, n, sigmas, eps)
    lo, hi, info = mixed_fft.delta_bracket(list(a.groups()), eps, float(ref), time_budget=30.0)
    assert info["ongrid_shift"] > 0.0, info
    assert lo <= ref <= hi
    assert (hi - lo) / hi <= 1e-4, (lo, hi, info)


@pytest.mark.parametrize("mechs,delta,add_composed", [
    ([("lap", 5.818, 40), ("psg", (2.739, 0.03466), 5)], 1e-5, True),  # ADD's upper law composed (shifted ends)
    ([("lap", 7.01, 3), ("psg", (2.0, 0.05), 6)], 1e-6, False),  # ADD settled by its loss bound vs REMOVE's lower end
])
def test_ongrid_with_subsampled_overlaps_pld_pair(mechs, delta, add_composed):
    pytest.importorskip("dp_accounting")
    from test_mixed_fft import _pld_pair  # dp_accounting's pessimistic / optimistic pair (Laplace, RR, PSG)

    from ewacct import PoissonSubsampledGaussian as PSG

    a = Accountant()
    for kind, args, n in mechs:
        a = a.compose(Laplace(args) if kind == "lap" else PSG(*args), n)
    p_lo, p_hi = _pld_pair(mechs, delta, 1e-4)
    lo, hi, info = mixed_fft.epsilon_bracket(list(a.groups()), delta, 0.5 * (p_lo + p_hi), time_budget=30.0)
    assert info["ongrid_shift"] > 0.0
    assert isinstance(info["add"], dict) == add_composed, info["add"]
    assert (hi - lo) / hi <= 1e-4, (lo, hi, info)
    assert max(lo, p_lo) <= min(hi, p_hi), (lo, hi, p_lo, p_hi)
    assert p_hi - p_lo < 1e-3 * hi
