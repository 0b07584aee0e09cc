"""The vectorised node terms of the few-participation kernel (ewacct/_kernels/fewpart_path._e2_terms) against
mpmath at 30 digits: e2(L) = exp(L) - 1 - L times a weight, over |L| from 1e-8 to 1e8 (the Taylor branch, the
exp branch, quadrant boundaries of the sin/cos reduction, exp's underflow), and the out-of-range points that
must come back non-finite (the kernel then sums that panel by its scalar loop)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

from ewacct._kernels.fewpart_path import _B_MAX, _e2_terms


def _terms(L: np.ndarray, wt: np.ndarray, w: complex = 1.0 + 0.0j):
    m = L.size
    out_r, out_i = np.empty(m), np.empty(m)
    _e2_terms(np.ascontiguousarray(L.real), np.ascontiguousarray(L.imag), np.ascontiguousarray(wt.real),
              np.ascontiguousarray(wt.imag), m, w.real, w.imag, out_r, out_i)
    return out_r + 1j * out_i


def test_terms_against_mpmath():
    rng = np.random.default_rng(11)
    n = 600
    mag = 10 ** rng.uniform(-8, math.log10(0.9 * _B_MAX), n)
    L = mag * np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    L.real = np.clip(L.real, -800.0, 40.0)
    # quadrant boundaries of the reduction and the Taylor/exp switch
    extra = np.array([0.1999 + 0j, 0.0999 + 0.1001j, -0.2 + 0j, 1j * math.pi / 4, 1j * math.pi / 2, -1j * 3 * math.pi / 4,
                      1j * (1e5 * math.pi / 2), 5.0 + 1j * (12345 * math.pi / 2 + 1e-9), -3.0 + 1j * (6.3e7 * math.pi / 2),
                      2.0 - 1j * 0.99 * _B_MAX, -707.9 + 3.0j, -708.1 + 1.0j])
    L = np.concatenate([L, extra])
    wt = np.exp(1j * rng.uniform(0, 2 * np.pi, L.size)) * 10 ** rng.uniform(-3, 3, L.size)
    got = _terms(L, wt)
    with mp.workdps(30):
        for k in range(L.size):
            lm = mp.mpc(float(L[k].real), float(L[k].imag))
            e2 = mp.exp(lm) - 1 - lm
            ref = mp.mpc(float(wt[k].real), float(wt[k].imag)) * e2
            # error relative to the terms' size: |e2| on the Taylor branch, |e^L| + 1 + |L| otherwise (the
            # kernel's error units count eps_mach per term of that size)
            size = abs(e2) if abs(L[k].real) + abs(L[k].imag) < 0.2 else abs(mp.exp(lm)) + 1 + abs(lm)
            err = float(abs(mp.mpc(float(got[k].real), float(got[k].imag)) - ref) / (abs(wt[k]) * size))
            assert err < 2e-15, (L[k], err)


def test_out_of_range_points_are_not_finite():
    L = np.array([1.0 + 1j * 1.01 * _B_MAX, 710.0 + 0.5j, 3.0 + 0.1j])
    got = _terms(L, np.ones(3, dtype=complex))
    assert not np.isfinite(got[0]) and not np.isfinite(got[1]) and np.isfinite(got[2])


def test_w_scaling():
    # the terms take w and l separately: e2(w l)
    rng = np.random.default_rng(3)
    lv = (rng.normal(size=50) + 1j * rng.normal(size=50)) * 1e-2
    w = 3.0 + 250.0j
    a = _terms(lv, np.ones(50, dtype=complex), w)
    b = _terms(w * lv, np.ones(50, dtype=complex))
    assert np.max(np.abs(a - b) / (np.abs(np.exp(w * lv)) + 1 + np.abs(w * lv))) < 1e-13
