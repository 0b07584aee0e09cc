"""Tilted cumulants of the Laplace mechanism's privacy-loss random variable.

With ``theta = sensitivity / scale`` the PLRV under the null Lap(0, b) is (see docs/math.md, Laplace mechanism):
an atom at ``-theta`` of mass 1/2, an atom at ``+theta`` of mass ``e^-theta / 2`` and a continuous
part ``2u - theta`` with ``u`` of density ``e^-u / 2`` on (0, theta).  Tilted expectations are the
two atoms plus a smooth integral over (0, theta), done with composite Gauss-Legendre.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .special import GL_W, GL_X
from .subsampled_gaussian import MAX_ORDER, cumulants_from_central


#: above this theta (= sensitivity / scale) the continuous part is integrated only where its density is within
#: e^-END_NATS of its peak (a panel per unit of theta made Laplace(1e-4) x 10 take 13 s, Laplace(1e-6) minutes)
THETA_WIDE = 1000.0
END_NATS = 100.0


@njit(cache=True)
def _panels(theta: float, t: float):
    """(u0, npan, h): the continuous part's panels [u0 + p h, u0 + (p + 1) h], p < npan.

    Its density is proportional to e^{a u}, a = 2 t - 1, on (0, theta).  Up to THETA_WIDE: all of (0, theta), a
    panel per unit of theta or of |a| theta.  Beyond it: where |a| theta > 2 END_NATS only the END_NATS / |a| next
    to the peak (u = theta for a > 0, u = 0 for a < 0); the rest weighs <= e^-END_NATS of the part's mass, and with
    the powers |v - mean|^j <= (2 D)^j at distance D it changes a central moment of order j <= 8 by at most
    e^-END_NATS END_NATS^j / j! of its size (< 1e-25); otherwise all of it in max(1, |a| theta, 2 END_NATS)
    panels (the polynomial factors are of degree <= 9, exact for the 16-node rule)."""
    a = abs(2.0 * t - 1.0)
    rate = a * theta
    if theta <= THETA_WIDE:
        npan = max(1, int(math.ceil(max(theta, rate))))
        return 0.0, npan, theta / npan
    if rate > 2.0 * END_NATS:
        width = END_NATS / a
        npan = int(math.ceil(END_NATS))
        u0 = theta - width if t > 0.5 else 0.0
        return u0, npan, width / npan
    npan = max(1, int(math.ceil(max(rate, 2.0 * END_NATS))))
    return 0.0, npan, theta / npan


@njit(cache=True)
def _log_weights(theta: float, t: float):
    """Log-weights of the two atoms under tilt t and a common offset (the largest piece's log-weight)."""
    la = math.log(0.5) - t * theta
    lb = math.log(0.5) - theta + t * theta
    # continuous log-density max over u in [0, theta]: exponent (2t - 1) u - t theta
    lc_max = max(-t * theta, (2.0 * t - 1.0) * theta - t * theta) + math.log(0.5)
    return la, lb, max(la, lb, lc_max)


@njit(cache=True)
def laplace_tilted_cumulants(theta: float, t: float, nmax: int, out: np.ndarray) -> None:
    """Fill out[0] = K(t), out[1] = K'(t), out[j] = K^{(j)}(t), j = 2..nmax, for the Laplace PLRV."""
    # log-weights of the pieces: atoms and the continuous density e^{t(2u - theta)} e^{-u} / 2
    la, lb, off = _log_weights(theta, t)
    u0, npan, h = _panels(theta, t)
    half = 0.5 * h
    Z = math.exp(la - off) + math.exp(lb - off)
    s1 = -theta * math.exp(la - off) + theta * math.exp(lb - off)
    for p in range(npan):
        c = u0 + (p + 0.5) * h
        for k in range(GL_X.shape[0]):
            u = c + half * GL_X[k]
            v = 2.0 * u - theta
            w = half * GL_W[k] * math.exp(math.log(0.5) - u + t * v - off)
            Z += w
            s1 += w * v
    mean = s1 / Z
    cm = np.zeros(MAX_ORDER + 1)
    wa = math.exp(la - off) / Z
    wb = math.exp(lb - off) / Z
    da = -theta - mean
    db = theta - mean
    pa = wa * da
    pb = wb * db
    for j in range(2, nmax + 1):
        pa *= da
        pb *= db
        cm[j] += pa + pb
    for p in range(npan):
        c = u0 + (p + 0.5) * h
        for k in range(GL_X.shape[0]):
            u = c + half * GL_X[k]
            v = 2.0 * u - theta
            w = half * GL_W[k] * math.exp(math.log(0.5) - u + t * v - off) / Z
            d = v - mean
            pw = w * d
            for j in range(2, nmax + 1):
                pw *= d
                cm[j] += pw
    out[0] = off + math.log(Z)
    out[1] = mean
    cumulants_from_central(cm, nmax, out)


@njit(cache=True)
def laplace_atom_mass(theta: float, t: float) -> float:
    """Probability of the two atoms under the tilted law (the lattice part of the PLRV)."""
    la, lb, off = _log_weights(theta, t)
    u0, npan, h = _panels(theta, t)
    half = 0.5 * h
    atoms = math.exp(la - off) + math.exp(lb - off)
    Z = atoms
    for p in range(npan):
        c = u0 + (p + 0.5) * h
        for k in range(GL_X.shape[0]):
            u = c + half * GL_X[k]
            Z += half * GL_W[k] * math.exp(math.log(0.5) - u + t * (2.0 * u - theta) - off)
    return atoms / Z
