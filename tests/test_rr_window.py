"""The windowed randomized-response sum (ewacct.methods.rr_window) against an independent mpmath sum and
the normal approximation; huge n answers in milliseconds with a flagged Chernoff bound above the exact."""

import math
import time

import mpmath as mp
import pytest

from ewacct.methods.rr_window import rr_delta_window


def _mp_delta(eps, eps0, n, width_sd=60):
    """sum over k with eps0 (2k - n) > eps of C(n,k) r^k (1-r)^(n-k) (1 - e^(eps - eps0 (2k-n))), 40 digits,
    over mode +- width_sd sd (the rest is below e^-1800 of the peak)."""
    with mp.workdps(40):
        e0, e = mp.mpf(eps0), mp.mpf(eps)
        r = mp.e ** e0 / (1 + mp.e ** e0)
        sd = math.sqrt(n * float(r) * (1 - float(r)))
        lo = max(0, int(n * float(r) - width_sd * sd) - 2)
        hi = min(n, int(n * float(r) + width_sd * sd) + 2)
        lgn = mp.loggamma(n + 1)
        s = mp.mpf(0)
        for k in range(lo, hi + 1):
            loss = e0 * (2 * k - n)
            if loss > e:
                lp = lgn - mp.loggamma(k + 1) - mp.loggamma(n - k + 1) + k * mp.log(r) + (n - k) * mp.log(1 - r)
                s += mp.e ** lp * (-mp.expm1(e - loss))
        return float(s)


@pytest.mark.parametrize("eps0,n,epss", [
    (0.1, 20000, [0.0, 3.0, 20.0, 40.0]),
    (2.0, 3000, [0.0, 1e3, 3e3, 4e3]),
    (0.01, 100000, [0.0, 1.5, 6.0]),
])
def test_window_matches_mpmath(eps0, n, epss):
    for eps in epss:
        d, exact = rr_delta_window(float(eps), eps0, n)
        ref = _mp_delta(eps, eps0, n)
        assert exact
        assert d == pytest.approx(ref, rel=1e-13, abs=1e-300), (eps0, n, eps, d, ref)


def test_normal_band_at_1e6():
    # CLT sanity band: loss ~ N(n eps0 (2r - 1), 4 n eps0^2 r (1 - r)); delta(eps) at the mean + 3 sd of the
    # loss is E[(1 - e^(eps - L))_+] ~ P(L > eps) times a factor in (0, 1]
    eps0, n = 0.1, 10**6
    r = 1 / (1 + math.exp(-eps0))
    m, s = n * eps0 * (2 * r - 1), 2 * eps0 * math.sqrt(n * r * (1 - r))
    eps = m + 3 * s
    d, exact = rr_delta_window(eps, eps0, n)
    assert exact
    p_tail = 0.5 * math.erfc(3 / math.sqrt(2))
    assert 0.5 * p_tail < d < 1.2 * p_tail  # the factor 1 - e^(eps - L) is ~1 a few eps0 above eps


def test_huge_n_fast_flagged_and_above_exact():
    t = time.process_time()
    for n in (10**9 * 3, 2**53):
        prev = 1.0
        for eps in (0.0, 1e3, 1e12, 1e14):
            d, exact = rr_delta_window(eps, 0.1, n)
            assert math.isfinite(d) and 0.0 <= d <= prev
            prev = d
    assert time.process_time() - t < 1.0
    # the flagged Chernoff bound is above the exact sum where both exist (force the flagged branch)
    import ewacct.methods.rr_window as w

    old = w.MAX_WINDOW
    try:
        w.MAX_WINDOW = 10
        w._window.cache_clear()
        w.rr_delta_window.cache_clear()
        for eps in (5.0, 12.0, 30.0):
            b, exact = w.rr_delta_window(eps, 0.1, 20000)
            assert not exact and b >= _mp_delta(eps, 0.1, 20000)
    finally:
        w.MAX_WINDOW = old
        w._window.cache_clear()
        w.rr_delta_window.cache_clear()
