"""The contour's interpolated chunks (methods/contour._interp_chunk): far from the peak, K along the
contour comes from a Chebyshev interpolant of exp(K / N) (17 kernel values + 2 check nodes per chunk
instead of one per node).

* the interpolant and its error estimate against a closed-form K (a Gaussian composition and a
  two-point mixture, both written here from their definitions): the estimate covers the true error;
* a chunk it cannot represent (a K with a kink-like feature inside the chunk) is refused (None);
* whole answers where the few-participation contours interpolate most of their nodes, against the
  few-participation quadrature (methods/fewpart.py: Gauss-Kronrod panels in u with its own path
  kernel, an independent rule) and dp_accounting's PLD bracket.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ewacct import PoissonSubsampledGaussian
from ewacct.methods import contour
from ewacct.methods.exact import ExactMethod


def _closed(kind: str, N: float):
    """(z, trap_l) -> (K(z), 0): K of N steps of a closed-form mechanism (|exp(K / N)| varies by less than
    e^4 over the chunks below, as on the engine's contours)."""
    def k1(z):
        if kind == "gauss":  # N(mu, 1) vs N(0, 1), REMOVE: log E[e^{z L}] = mu^2 z (z + 1) / 2
            return 0.001 * z * (z + 1.0) / 2.0
        # a two-point loss: L = +-a with probabilities p, 1 - p (p e^{ca} < (1 - p) e^{-ca}: no zero near)
        a, p = 0.3, 0.2
        return np.log(p * np.exp(z * a) + (1.0 - p) * np.exp(-z * a))

    def fn(z, trap_l):
        z = np.asarray(z, dtype=np.complex128)
        return N * k1(z), np.zeros(z.shape[0])
    return fn


@pytest.mark.parametrize("kind,N,c,u0,h,n", [("gauss", 10.0, 1.0, 20.0, 0.5, 128),
                                             ("twopoint", 7.0, 0.5, 5.0, 0.3, 96),
                                             ("twopoint", 3.0, 2.0, 30.0, 0.2, 64)])
def test_interpolated_chunk_vs_closed_form(kind, N, c, u0, h, n):
    fn = _closed(kind, N)
    u = u0 + h * np.arange(n)
    got = contour._interp_chunk(fn, c, u, 38.0, N)
    assert got is not None
    k, err = got
    exact = fn(c + 1j * u, 38.0)[0]
    # exp(K) is what the contour uses: compare K modulo 2 pi i
    d = k - exact
    d = d.real + 1j * ((d.imag + math.pi) % (2.0 * math.pi) - math.pi)
    assert np.all(np.abs(d) <= err + 1e-13 * np.abs(exact)), (np.max(np.abs(d)), np.min(err))
    assert np.max(np.abs(d)) < 1e-6


def test_interpolated_chunk_refuses_a_rough_function():
    # exp(K / N) with a factor oscillating ~10 times faster than degree 16 resolves over the chunk
    def fn(z, trap_l):
        z = np.asarray(z, dtype=np.complex128)
        return 5.0 * np.log(1.5 + np.exp(3j * z.imag) * np.exp(-0.0 * z.real)), np.zeros(z.shape[0])
    u = 10.0 + 0.5 * np.arange(128)
    assert contour._interp_chunk(fn, 1.0, u, 38.0, 5.0) is None


@pytest.mark.parametrize("q,s,T,delta", [(0.01, 1.0, 10, 1e-5), (0.05, 0.5, 10, 1e-5), (0.01, 0.5, 30, 1e-5)])
def test_few_participation_answers_with_interpolated_chunks(q, s, T, delta, monkeypatch):
    from ewacct.methods.fewpart import fewpart_epsilon

    calls = {"interp": 0, "nodes": 0}
    orig = contour._interp_chunk

    def counting(kfn, c, u, trap_l, n):
        out = orig(kfn, c, u, trap_l, n)
        if out is not None:
            calls["interp"] += 1
            calls["nodes"] += u.shape[0]
        return out

    monkeypatch.setattr(contour, "_interp_chunk", counting)
    eps, _, rel, diag = ExactMethod([(PoissonSubsampledGaussian(s, q), T)]).epsilon(delta)
    assert calls["interp"] > 0 and calls["nodes"] >= 0.5 * diag["nodes"], (calls, diag)
    assert rel < 1e-8
    ref = fewpart_epsilon([(q, s, T)], delta)[0]
    assert eps == pytest.approx(ref, rel=1e-8)


def test_heterogeneous_few_participation_history_vs_fewpart():
    from ewacct.methods.fewpart import fewpart_epsilon

    groups = [(PoissonSubsampledGaussian(1.0, 0.01), 6), (PoissonSubsampledGaussian(0.8, 0.005), 8)]
    eps, _, rel, _ = ExactMethod(groups).epsilon(1e-5)
    ref = fewpart_epsilon([(0.01, 1.0, 6), (0.005, 0.8, 8)], 1e-5)[0]
    assert rel < 1e-8
    assert eps == pytest.approx(ref, rel=1e-8)
