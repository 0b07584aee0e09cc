"""The conditioned contour for tiny q and huge T (docs/certified.md section 8).

REMOVE restricted to {every step's X <= x_cut}: delta_cut <= delta <= delta_cut + 1 - (1 - p)^n.  Checked here:

* the issue-9 width at the tiny-q points that were 8e-4 / 3e-4 wide (<= 5e-5 now; measured 4e-6, 7e-6);
* containment: the bracket overlaps the composition's own certified bracket (the contour on the full measure,
  another proof, with the conditioned path switched off) and lies within 2e-3 of an independent
  semi-analytic value (one or two large steps exactly, the rest of the steps as a Gaussian with their exact
  truncated moments: an approximation, measured 2e-4..4e-4 off, hence the loose tolerance);
* the bracket's constants against mpmath: 1 - (1 - p)^n <= tail_hi, and the masses (1 - p)^n, Phi(x_cut)^n
  inside their enclosures.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy.special import log_ndtr, ndtr
from scipy.stats import binom

from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.bounds.certify import clear_memo
from ewacct.methods import certified as C

POINTS = [(0.5924, 9.68e-8, 13_000_000, 1.51e-10), (0.6885, 9.81e-7, 5_003_263, 2.43e-11)]


def _certify(s, q, T, d):
    C.clear_caches()
    clear_memo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Accountant().compose(PoissonSubsampledGaussian(s, q), T).get_epsilon(d, certify=True)
    return float(r.lower), float(r.upper)


def _semi_eps(sigma, q, T, delta, xb=6.5):
    """eps where delta ~ sum_{j <= 2} P(j steps beyond xb) E[g_{T-j}(eps - the j large losses)], g_n the
    payoff's mean against a Gaussian with the exact mean and variance of n steps conditioned on X <= xb."""
    mu = 1.0 / sigma
    x = np.linspace(-14.0, xb, 100_001)
    dx = x[1] - x[0]
    u = q * np.expm1(mu * x - 0.5 * mu * mu)
    dens = np.exp(-0.5 * x * x - 0.5 * math.log(2.0 * math.pi)) * (1.0 + u) * dx
    dens[0] *= 0.5
    dens[-1] *= 0.5
    ell = np.log1p(u)
    pin = dens.sum()
    m1 = float(np.sum(dens * ell) / pin)
    v1 = float(np.sum(dens * ell * ell) / pin) - m1 * m1
    pb = (1.0 - q) * float(ndtr(-xb)) + q * float(ndtr(mu - xb))
    ys = np.linspace(xb, xb + 10.0, 4001)
    wy = np.exp(-0.5 * ys * ys) * (1.0 + q * np.expm1(mu * ys - 0.5 * mu * mu))
    wy[0] *= 0.5
    wy[-1] *= 0.5
    wy /= wy.sum()
    ly = np.log1p(q * np.expm1(mu * ys - 0.5 * mu * mu))
    pj = [binom.pmf(j, T, pb) for j in range(3)]
    w4 = wy[::16] / wy[::16].sum()
    l2 = (ly[::16, None] + ly[None, ::16]).ravel()
    w2 = (w4[:, None] * w4[None, :]).ravel()

    def g(xv, n):
        M, V = n * m1, n * v1
        s = math.sqrt(V)
        a = (M - xv) / s
        with np.errstate(over="ignore", invalid="ignore"):
            t2 = np.exp(xv - M + 0.5 * V + log_ndtr(a - s))
        return np.maximum(ndtr(a) - t2, 0.0)

    def dl(e):
        return (pj[0] * float(g(np.array([e]), T)[0]) + pj[1] * float(np.sum(wy * g(e - ly, T - 1)))
                + pj[2] * float(np.sum(w2 * g(e - l2, T - 2))))

    lo, hi = 1e-6, 50.0
    for _ in range(55):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if dl(mid) > delta else (lo, mid)
    return math.sqrt(lo * hi)


@pytest.mark.parametrize("s,q,T,d", POINTS)
def test_conditioned_bracket_width_and_containment(s, q, T, d, monkeypatch):
    lo, hi = _certify(s, q, T, d)
    assert 0.0 < lo <= hi
    assert hi - lo <= 5e-5 * hi, (lo, hi)
    ref = _semi_eps(s, q, T, d)
    assert abs(0.5 * (lo + hi) - ref) <= 2e-3 * ref, (lo, hi, ref)
    # the full measure's own bracket (conditioned path off): another proof of the same number
    monkeypatch.setattr(C, "CUT_PATH", False)
    flo, fhi = _certify(s, q, T, d)
    assert max(lo, flo) <= min(hi, fhi), ((lo, hi), (flo, fhi))


def test_conditioned_constants_against_mpmath():
    s, q, T = 0.5924, 9.68e-8, 13_000_000
    xc = 10.0
    cd = C.cut_direction([(PoissonSubsampledGaussian(s, q), T)], xc)
    mp.mp.dps = 50
    mu = mp.mpf(cd.sg[0].mu)
    phibar = lambda x: mp.erfc(x / mp.sqrt(2)) / 2  # noqa: E731
    p = (1 - mp.mpf(q)) * phibar(mp.mpf(xc)) + mp.mpf(q) * phibar(mp.mpf(xc) - mu)
    mass = (1 - p) ** T
    amass = (1 - phibar(mp.mpf(xc))) ** T
    assert 1 - mass <= mp.mpf(cd.tail_hi) <= (1 - mass) * (1 + mp.mpf(1e-12))
    (m_lo, m_hi), (a_lo, a_hi) = cd.masses
    assert m_lo <= mass <= m_hi and a_lo <= amass <= a_hi
    row = cd.cutv[0]
    c0 = phibar(mp.mpf(xc))
    c1 = mp.mpf(q) * (phibar(mp.mpf(xc) - mu) - c0)
    assert abs(mp.mpf(row[1]) - c0) <= row[2] and abs(mp.mpf(row[3]) - c1) <= row[4]
