"""Randomized response beyond closed_form.CERT_LATTICE_MAX (2e8) runs: both ends of the certified bracket from the
binomial window summed in doubles with a directed error budget (bounds/closed_form._rr_delta_float; was [0, the Chernoff
upper end]).  Reference (independent of ewacct): mpmath at 30 digits, the pmf at the window's start from loggamma and
the terms by the ratio recurrence, summed until they fall below 1e-32 of the sum.  eps ends are checked through the
reference delta: delta(upper) <= delta < delta(lower)."""

from __future__ import annotations

import mpmath as mp

from ewacct import Accountant, RandomizedResponse
from ewacct.bounds import certify, closed_form


def _mp_delta(e0: float, n: int, eps: float):
    with mp.workdps(30):
        e0m, epsm = mp.mpf(e0), mp.mpf(eps)
        r = 1 / (1 + mp.exp(-e0m))
        kmin = int(mp.floor((n + epsm / e0m) / 2))
        while e0m * (2 * kmin - n) <= epsm:
            kmin += 1
        while e0m * (2 * (kmin - 1) - n) > epsm:
            kmin -= 1
        start = max(kmin, int(mp.floor((n + 1) * r)))
        lp = (mp.loggamma(n + 1) - mp.loggamma(start + 1) - mp.loggamma(n - start + 1) + start * mp.log(r)
              + (n - start) * mp.log(1 - r))
        p0 = mp.exp(lp)
        tot, p, k = mp.mpf(0), p0, start
        while True:
            tot += p * (-mp.expm1(epsm - e0m * (2 * k - n)))
            if p < tot * mp.mpf(10) ** -32 and k > start + 10:
                break
            p, k = p * (n - k) / (k + 1) * r / (1 - r), k + 1
        p, k = p0, start
        while k > kmin:
            p, k = p * k / (n - k + 1) * (1 - r) / r, k - 1
            tot += p * (-mp.expm1(epsm - e0m * (2 * k - n)))
            if p < tot * mp.mpf(10) ** -32:
                break
        return tot


def test_delta_bracket_contains_mpmath():
    e0, n, eps = 8.0, 250_000_000, 1_998_680_000.0
    acc = Accountant().compose(RandomizedResponse(e0), n)
    lo, hi = closed_form.closed_form_delta_bracket(acc, eps)
    ref = _mp_delta(e0, n, eps)
    assert lo <= ref <= hi, (lo, float(ref), hi)
    assert 0.0 < lo and (hi - lo) / hi < 1e-8


def test_epsilon_bracket_both_ends():
    e0, n, delta = 8.0, 250_000_000, 1e-10
    acc = Accountant().compose(RandomizedResponse(e0), n)
    certify.clear_memo()
    c = certify.certified_epsilon(acc, delta)
    assert 0.0 < c.lower < c.upper and (c.upper - c.lower) / c.upper <= 1e-4, (c.lower, c.upper)
    assert _mp_delta(e0, n, c.upper) <= delta < _mp_delta(e0, n, c.lower)


def test_beyond_window_keeps_chernoff_half_bracket():
    """n = 2^53: the window would hold ~1e8 counts per side; the Chernoff half-bracket [0, upper] stands."""
    acc = Accountant().compose(RandomizedResponse(0.1), 2 ** 53)
    lo, hi = closed_form.closed_form_epsilon_bracket(acc, 1e-5)
    assert lo == 0.0 and hi > 0.0
