"""The decay bounds as the many-segment path now evaluates them (helper H-DE, session 14): the split bounds of
groups of different q in one array pass (sg_decay_bounds_many with q per row) and the log-concave bound with its
Newton maximiser (sg_tv_bound), each against |G(a + ib)| by mpmath quadrature of the definition (30 digits):
G(w) = int phi(x) (1 + q (e^{mu x - mu^2/2} - 1))^w dx."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct.methods.certified import _X0, sg_decay_bounds_many, sg_tv_bound


def _mp_abs_G(q: float, mu: float, w: complex) -> float:
    with mp.workdps(30):
        q, mu, w = mp.mpf(q), mp.mpf(mu), mp.mpc(w)

        def f(x):
            return mp.npdf(x) * mp.exp(w * mp.log(1 + q * (mp.exp(mu * x - mu * mu / 2) - 1)))

        top = 12 + float(abs(w.real) * mu) + float(mu)
        pts = [-mp.inf] + [mp.mpf(x) for x in np.linspace(-12.0, top, 25)] + [mp.inf]
        return float(abs(mp.quad(f, pts)))


GROUPS = [(0.02, 1 / 1.2), (0.005, 1 / 0.9), (0.3, 0.5), (1e-4, 1.0)]


@pytest.mark.parametrize("a", [1.6, -0.6])
def test_split_bounds_of_mixed_q_hold(a):
    qs = np.array([g[0] for g in GROUPS])
    mus = np.array([g[1] for g in GROUPS])
    lA0, lV = sg_decay_bounds_many(qs, mus, a, _X0)
    for r, (q, mu) in enumerate(GROUPS):
        for b in (2.0, 9.0):
            w = complex(a, b)
            g = _mp_abs_G(q, mu, w)
            best = min(math.exp(x) + math.exp(y) / abs(w) for x, y in zip(lA0[r], lV[r]) if math.isfinite(y))
            assert g <= best * (1 + 1e-12), (q, mu, a, b, g, best)


@pytest.mark.parametrize("q,mu,a", [(0.02, 1 / 1.2, 1.6), (0.3, 0.5, 2.0), (1e-4, 1.0, 0.5), (0.005, 1 / 0.9, -0.6)])
def test_log_concave_bound_holds(q, mu, a):
    lv = sg_tv_bound(q, mu, a)
    assert math.isfinite(lv)
    for b in (3.0, 12.0):
        assert _mp_abs_G(q, mu, complex(a, b)) <= math.exp(lv) / b * (1 + 1e-12)
