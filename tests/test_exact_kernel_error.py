"""The exact engine's estimate of its log-MGF kernel's own error (the x-quadrature in ewacct._kernels.mgf).

The contour's carried error counts, besides aliasing, u-tail and rounding, the kernel's error of each K(z_n)
(``sg_log_g_fast_err``: e^{3 - trap_l} times the sum of |terms| / |G| plus rounding; the engine asks for less
accuracy where a node's term is far below the peak).  Checked here against independent references:

* per node: an mpmath quadrature of G - 1 in f-form (30 digits, the x-line cut into unit pieces so the
  oscillation of exp(i Im(w) l(x)) is resolved; its own error estimate is asserted tiny), at hard nodes
  (tiny q, small sigma, far up the contour, far right, negative Re w) and every accuracy the engine uses;
* on the contour: delta of ONE step from the closed form (scipy's normal tails, no MGF), with the kernel
  forced to its coarsest accuracy so that its error dominates: the carried estimate must cover it.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from ewacct import PoissonSubsampledGaussian
from ewacct._kernels.mgf import TRAP_L, TRAP_L_MIN, sg_log_g_fast_err
from ewacct.methods import contour
from ewacct.methods.exact import ExactMethod


def _mp_log_g(q: float, sigma: float, w: complex, dps: int = 30) -> complex:
    """log E[(1 + q (e^{mu X - mu^2/2} - 1))^w], X ~ N(0,1): mpmath, G - 1 = E[(1+u)^w - 1 - w u]."""
    with mp.workdps(dps):
        q_, mu, w_ = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpc(w)

        def f(x):
            u = q_ * mp.expm1(mu * x - mu * mu / 2)
            return mp.npdf(x) * ((1 + u) ** w_ - 1 - w_ * u)

        peak = max(0.0, complex(w).real) / sigma
        hi = int(peak + 16)
        pts = [-mp.inf] + list(range(-14, hi + 1)) + [mp.inf]
        val, err = mp.quad(f, pts, maxdegree=10, error=True)
        g = 1 + val
        assert err <= mp.mpf(10) ** (-18) * abs(g), (w, err)  # the reference's own quadrature error
        return complex(mp.log(g))


# (q, sigma, w): hard nodes for the fast kernel (and one for the Gauss-Legendre one, sigma < 0.2)
NODES = [
    (1e-9, 1.0, complex(9.0, 40.0)),            # tiny q: G - 1 ~ q^2, far up the contour
    (0.01, 1.0, complex(8.76, 0.0)),            # q = 0.01, sigma = 1, T = 100: the saddle node ...
    (0.01, 1.0, complex(8.76, 60.0)),           # ... and far up its contour
    (0.3, 0.35, complex(3.0, 25.0)),            # small sigma (branch points near the line), large Im w
    (1e-3, 5.0, complex(300.0, 130.0)),         # far right (c ~ 300)
    (0.5, 0.6, complex(-5.0, 12.0)),            # ADD direction: Re w < 0
    (0.2, 0.12, complex(-3.0, 8.0)),            # sigma < 0.2: the Gauss-Legendre kernel answers
    # defect D4: Re w < 0 narrows the Gaussian envelope by -Re(w) l'' (stated error 683x / 183x too small at
    # trap_l = 30, 74x at TRAP_L), and the f-form's x^2 factor at small mu (3-5x too small at trap_l 14-30)
    (0.7, 2.0, complex(-5.0, 0.0)),
    (0.7, 2.0, complex(-5.0, 0.5)),
    (0.3, 4.9, complex(0.5, 0.0)),
    (0.7, 4.9, complex(-1.0, 0.0)),
    # (q = 0.01, sigma = 0.15, w = 2 + 3j also passes, |G(w)| ~ 1e-15 G(Re w): 10 s of mpmath, left out)
]


@pytest.mark.parametrize("q,s,w", NODES)
def test_kernel_error_estimate_covers_the_actual_error(q, s, w):
    ref = _mp_log_g(q, s, w)
    ref_re = _mp_log_g(q, s, complex(w.real, 0.0)).real  # log G(Re w) >= log |G(w)|
    # alone and inside a contour-like batch sharing its x-grid
    batch = np.array([w + 1j * k * 0.4 for k in range(-3, 4) if (w + 1j * k * 0.4).imag >= 0.0] + [w])
    for trap_l in (TRAP_L_MIN, 20.0, 30.0, TRAP_L):
        for ws in (np.array([w]), batch):
            err = np.empty(ws.shape[0])
            ours = sg_log_g_fast_err(q, 1.0 / s, ws, trap_l, err)[-1]
            actual = abs(ours - ref)
            assert actual <= err[-1], (trap_l, ours, ref, actual, err[-1])
            # and the estimate is an estimate, not a blanket: at full accuracy the error it allows of
            # G(w) itself, err |G(w)|, is below 1e-11 G(Re w) (what a contour term can afford: the
            # terms are scaled by exp(K(c)); |G(w)| may be far below G(Re w) where exp(w l) oscillates)
            if trap_l == TRAP_L:
                # (the D4 nodes, Re w < 0 at q = 0.7: the narrowed envelope's estimate is ~1000x above the
                # actual error at full accuracy, 1.1e-11 in a batch; 1e-10 there)
                cap = 1e-10 if (q, s) == (0.7, 2.0) else 1e-11
                assert err[-1] * math.exp(ref.real - ref_re) <= cap, (err[-1], ref, ref_re)


def _contour_at(m, eps, monkeypatch, floor):
    """A REMOVE contour of one step at eps, every chunk at kernel accuracy ``floor`` (no adaptivity)."""
    monkeypatch.setattr(contour, "TRAP_L_FULL", floor)
    monkeypatch.setattr(contour, "TRAP_L_FLOOR", floor)
    d = ExactMethod([(m, 1)]).dirs["remove"]
    K = d.K
    c = contour.saddle(K, eps)
    grid = contour.psi_grid(K, c)
    ref = m.exact_single_step_delta(eps, "remove")
    lt = d.log_tol - 2.3
    c, P, used = contour.choose_abscissa(K, eps, c, lt, math.log(ref), grid)
    return contour.build_contour(K, eps, c, P, lt, math.log(ref), used), ref


@pytest.mark.parametrize("q,s,eps", [(0.5, 1.0, 1.0), (0.7, 0.7, 2.0), (0.9, 2.0, 0.3)])
def test_carried_kernel_error_covers_a_coarse_kernel(q, s, eps, monkeypatch):
    # one step: delta from the closed form (scipy normal tails), independent of the MGF kernels
    m = PoissonSubsampledGaussian(s, q)
    ct, ref = _contour_at(m, eps, monkeypatch, TRAP_L_MIN)
    ld, _, labs, ltail = contour.log_delta_on(ct, eps)
    lround = labs + math.log(2.2e-16 * (32.0 * math.sqrt(ct.n) + 8.0 * ct.kmax))
    lkern = ct.kernel_bound(eps)
    carried = math.exp(float(np.logaddexp.reduce([ct.alias_bound(eps), ltail, lround, lkern])))
    actual = abs(math.exp(ld) - ref)
    assert actual <= carried, (actual, carried, math.exp(lkern))
    # at the coarsest accuracy the kernel's share dominates what is carried
    assert lkern >= max(ct.alias_bound(eps), ltail, lround)
    # at the kernel's full accuracy the same contour is within 1e-10 of the closed form, and carries a
    # kernel error far below the engine's acceptance (1e-8)
    ct2, _ = _contour_at(m, eps, monkeypatch, TRAP_L)
    ld2, _, _, _ = contour.log_delta_on(ct2, eps)
    assert math.exp(ld2) == pytest.approx(ref, rel=1e-10)
    assert math.exp(ct2.kernel_bound(eps) - ld2) <= 1e-10


def test_answers_carry_the_kernel_error():
    # the fine-tuning point: the answer's diagnostics name the kernel's share, inside the carried total
    r = ExactMethod([(PoissonSubsampledGaussian(1.0, 0.01), 100)]).dirs["remove"].epsilon(math.log(1e-5))
    k = r.diag["kernel_rel_error"]
    assert 0.0 < k < 1e-8
