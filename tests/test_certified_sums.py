"""The certified sums evaluated from eps-free parts (certified._sums, docs/certified.md section 2) and the
deeper abscissa search of the quantised contour (certified_quant.C_BELOW), against independent
references: the trapezoidal sum in mpmath (30 digits) from the same node values, dp_accounting's PLD
pair and the few-participation engine."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods import certified as C


def _mp_sum(logk: np.ndarray, c: float, h: float, eps: float) -> mp.mpf:
    """(h/pi) [Re v_0 / 2 + sum_{k>=1} Re v_k], v_k = e^{K_k - z_k eps} / (z_k (z_k + 1)), z_k = c + i k h,
    at 30 digits from the (exact, double) K_k."""
    with mp.workdps(30):
        s = mp.mpf(0)
        for k in range(logk.shape[0]):
            z = mp.mpc(c, k * mp.mpf(h))
            v = mp.exp(mp.mpc(logk[k].real, logk[k].imag) - z * eps) / (z * (z + 1))
            s += (mp.mpf(1) / 2 if k == 0 else 1) * mp.re(v)
        return s * h / mp.pi


@pytest.mark.parametrize("n,c,h,cancel", [(7, 1.5, 0.5, False), (400, 8.0, 2.0, False), (400, 8.0, 2.0, True),
                                          (1500, 181.0, 4.0, True)])
def test_sums_from_eps_free_parts_enclose_the_mpmath_trapezoid(n, c, h, cancel):
    """|S~ - S| <= E~ against the 30-digit sum of the same node values (the node error part e0 is set
    tiny, so E~ is the evaluation's own rounding budget), and E~ is never below the direct
    _cert_sums' budget; at eps values across the bracket search's range, the phase k h eps large."""
    rng = np.random.default_rng(n)
    k = np.arange(n)
    if cancel:
        # a near-atom: K ~ 0 everywhere (the sum cancels to ~e^-c eps-ish levels), a slow phase
        logk = (-1e-4 * np.log1p(k) + 1j * rng.uniform(-1e-3, 1e-3, n)).astype(np.complex128)
    else:
        logk = (0.7 - 0.01 * k + 1j * rng.uniform(-0.3, 0.3, n)).astype(np.complex128)
    loge = logk.real - 60.0
    positive = [0]
    for eps in (1e-3, 0.37, 2.5):
        ls, le, dls = C._sums(logk, loge, c, h, eps)
        ls0, le0, _ = C._cert_sums(logk, loge, c, h, eps)
        assert le >= le0 - 1e-12
        ref = _mp_sum(logk, c, h, eps)
        err = mp.e ** mp.mpf(le)
        if ls == -math.inf:  # the computed sum is <= 0 (delta_bounds then takes S = 0): S <= E
            assert ref <= err, (eps, ref, le)
        else:
            assert abs(mp.e ** mp.mpf(ls) - ref) <= err, (eps, ls, ref, le)
            positive[0] += 1
    assert positive[0] >= 1  # at least one eps with a positive sum compared in full


def test_sums_memo_follows_the_arrays_not_their_values():
    """The memo is keyed by the arrays' identity: a new contour (other arrays, other c) is never
    answered from an old one's parts."""
    logk = np.array([0.1 + 0j, -0.2 + 0.3j, -0.5 + 1.0j])
    loge = logk.real - 40.0
    a = C._sums(logk, loge, 1.0, 0.5, 0.2)
    b = C._sums(logk, loge, 2.0, 0.5, 0.2)
    logk2 = logk.copy()
    logk2[1] += 0.5
    c2 = C._sums(logk2, loge, 1.0, 0.5, 0.2)
    assert a[0] == pytest.approx(C._cert_sums(logk, loge, 1.0, 0.5, 0.2)[0], rel=1e-12)
    assert b[0] == pytest.approx(C._cert_sums(logk, loge, 2.0, 0.5, 0.2)[0], rel=1e-12)
    assert c2[0] == pytest.approx(C._cert_sums(logk2, loge, 1.0, 0.5, 0.2)[0], rel=1e-12)
    assert c2[0] != a[0]


def test_few_participation_tiny_eps_takes_the_longer_step_and_contains_the_references():
    """q = 1e-4, sigma = 1, T = 10, delta = 1e-5 (eps ~ 1.07e-3): the step doubles only ~6 grid points
    below the float saddle (h = 1 down to c = 9.5, h = 2 from c = 8); the deeper search takes it:
    ~20,000 nodes instead of ~40,000 (the truncation point barely depends on c).  The bracket stays
    within 1e-5 and contains the few-participation engine's value and dp_accounting's PLD pair."""
    from ewacct.methods.fewpart import fewpart_epsilon

    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(1.0, 1e-4), 10).get_epsilon(1e-5, certify=True)
    info = r.diagnostics["certificate"]["analytic"]["contour"]
    C.clear_caches()
    assert r.certified_by.startswith("contour integral"), r.certified_by
    assert info["h"] >= 2.0 and info["nodes"] <= 25_000, info
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-5 * r.upper
    ref, err, _ = fewpart_epsilon([(1e-4, 1.0, 10)], 1e-5)
    assert err < 1e-6 and r.lower - 1e-6 * ref <= ref <= r.upper + 1e-6 * ref


def _mp_G(q: float, mu: float, w: complex, dps: int = 30) -> mp.mpc:
    """G(w) = E[(1 + q (e^{mu X - mu^2/2} - 1))^w], X ~ N(0, 1), by mpmath on the line Im x = y (Cauchy)."""
    with mp.workdps(dps):
        q_, mu_, w_ = mp.mpf(q), mp.mpf(mu), mp.mpc(w)
        y = 0.0 if abs(w.imag) * mu <= 1.0 else math.copysign(min(0.3 * math.pi / mu, 2.5), w.imag)
        c = 1 / mp.sqrt(2 * mp.pi)

        def f(t):
            x = mp.mpc(t, y)
            u = q_ * mp.expm1(mu_ * x - mu_ * mu_ / 2)
            return c * mp.exp(-x * x / 2 + w_ * mp.log1p(u))

        hi = max(16.0, max(w.real, 0.0) * mu + 16.0)
        pts = [mp.mpf(x) for x in np.arange(-16.0, hi, 0.25)] + [mp.mpf(hi)]
        return mp.quad(f, pts, method="gauss-legendre")


@pytest.mark.parametrize("rel", [-12.0, -20.0])
def test_direct_form_at_loose_tolerances_encloses_mpmath(rel):
    """_enclose_nodes (an f-form group's nodes, the direct form where its rounding floor is far below
    the tolerance): every node's enclosure contains the 30-digit mpmath value of G(w) and meets the
    tolerance (within the e^2.3 the kernel allows before its retry); at rel = -12 every node goes
    direct, at -20 the two near ones direct and the two far ones in the f-form (a mixed batch)."""
    from ewacct._kernels.mgf import sg_log_g

    q, mu = 1e-4, 1.0
    w = np.array([9.0 + 3.0j, 9.0 + 40.0j, 9.0 + 700.0j, 9.0 + 1402.0j])
    lga = float(sg_log_g(q, mu, complex(9.0, 0.0)).real)
    lg, lr = C._enclose_nodes(q, mu, w, lga + rel, True, rel)
    for k in range(w.shape[0]):
        ref = _mp_G(q, mu, complex(w[k]))
        with mp.workdps(30):
            err = abs(ref - mp.exp(mp.mpc(lg[k])))
        assert err <= mp.e ** mp.mpf(lr[k]), (w[k], err, lr[k])
        assert lr[k] <= lga + rel + 2.3, (w[k], lr[k], lga + rel)


def test_prefix_tightening_narrows_the_calibration_rung_and_keeps_the_cache():
    """sigma 0.4570123, q 1e-5, T 1000, delta 1e-5 (the certified calibration's rung to eps 0.05, 11,488
    nodes): the node errors set the width (1.3e-5, above the 1e-5 acceptance; re-enclosing every node
    tighter was refused as too dear) and ~80 % of them sit in the first ~100 nodes.  The prefix that
    carries them is enclosed again, tighter: within 1e-5 now.  The cache keeps the full contour at its
    own tolerance (the prefix's tight entries are not stored).  References: the few-participation
    engine and dp_accounting's pessimistic PLD end (an upper bound)."""
    from ewacct.methods.fewpart import fewpart_epsilon

    sigma, q, T = 0.4570122973883449, 1e-5, 1000
    C.clear_caches()
    r = Accountant().compose(PoissonSubsampledGaussian(sigma, q), T).get_epsilon(1e-5, certify=True)
    info = r.diagnostics["certificate"]["analytic"]["contour"]
    n = info["nodes"]
    ents = [v for k, v in C._NODES.items() if k[0] == q and k[3] == info["c"] and k[4] == info["h"]]
    C.clear_caches()
    assert r.certified_by.startswith("contour integral") and info.get("tightened_nodes"), (r.certified_by, info)
    assert 0.0 < r.lower <= r.upper and r.upper - r.lower <= 1e-5 * r.upper
    assert ents and all(v[0].shape[0] >= n for v in ents), [v[0].shape[0] for v in ents]
    ref, err, _ = fewpart_epsilon([(q, sigma, T)], 1e-5)
    assert err < 1e-6 and r.lower - 1e-6 * ref <= ref <= r.upper + 1e-6 * ref
    from dp_accounting.pld import privacy_loss_distribution as pl

    pess = pl.from_gaussian_mechanism(sigma, sampling_prob=q, value_discretization_interval=1e-4,
                                      pessimistic_estimate=True, use_connect_dots=True
                                      ).self_compose(T).get_epsilon_for_delta(1e-5)
    assert r.upper <= pess, (r.upper, pess)
