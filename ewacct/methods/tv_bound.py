"""A rigorous upper bound on delta(0) = TV(P_T, Q_T) of Gaussian-type compositions by the Hellinger affinity.

delta(eps) is non-increasing in eps, so an upper bound on delta(0) bounds delta(eps) for every eps >= 0.
The engines' cheap bound (:meth:`ewacct.methods.exact.ExactMethod.delta_at_zero_bound`: joint convexity
of the hockey stick, ~ T q mu / sqrt(2 pi), and the record-use probability 1 - prod (1 - q)^n) grows
linearly in T; delta(0) itself grows like sqrt(T) q mu where many steps each move the law a little
(large sigma).  There the Hellinger bound is far tighter: PoissonSubsampledGaussian(240, 8.9e-9) x
7,150,000 has delta(0) = 3.956e-8 (exact engine), joint convexity 1.06e-4, this bound 4.95e-8.

The inequalities (each step's pair (P, Q) = ((1 - q) N(0, 1) + q N(mu, 1), N(0, 1)); TV and the
Bhattacharyya coefficient BC are symmetric, so this holds in both directions):

1. Le Cam: TV(P, Q) <= sqrt(1 - BC(P, Q)^2), BC = integral sqrt(p q)  (e.g. Tsybakov, Introduction to
   Nonparametric Estimation, Lemma 2.3, with H^2 = 2 (1 - BC)).
2. BC of a product measure is the product of the factors' BC (Fubini): BC_T = prod_g BC_g^{n_g}.
3. Per step, BC = E_Q[sqrt(1 + u(X))], u = q (e^{mu X - mu^2/2} - 1) >= -q, X ~ N(0, 1), with E u = 0
   and E u^2 = q^2 (e^{mu^2} - 1).  For u >= -q (q < 1):  sqrt(1 + u) >= 1 + u/2 - k u^2 with
   k = 1/8 + q / (16 (1 - q)^{5/2})  (Taylor with Lagrange remainder f'''(xi) u^3 / 6, f''' =
   (3/8)(1 + xi)^{-5/2} > 0: the remainder is >= 0 for u >= 0, and >= -|u|^3 / (16 (1 - q)^{5/2}) >=
   -q u^2 / (16 (1 - q)^{5/2}) for -q <= u < 0), and for every u >= -1 with k = 1/2 (with s = sqrt(1 + u):
   s - 1 - (s^2 - 1)/2 + (s^2 - 1)^2/2 = (s - 1)^2 ((s + 1)^2 - 1) / 2 >= 0).  Hence
   BC >= 1 - k q^2 (e^{mu^2} - 1) with the smaller of the two k.
4. A plain Gaussian step (q = 1): BC = e^{-mu^2/8} exactly.

Floating point: -log BC_T is accumulated as its logarithm (each step's h from log k + 2 log q +
log(e^{mu^2} - 1), so nothing underflows at tiny q); log1p / expm1 / log / exp round to a few ulps, and the
result carries a relative margin of 1e-9 plus one subnormal.
"""

from __future__ import annotations

import math
from typing import Any, Sequence


def hellinger_delta0_bound(groups: Sequence[tuple[Any, int]]) -> float:
    """A rigorous upper bound on delta(0) (both directions) of a composition of Gaussian-type mechanisms
    (``(mechanism, count)`` pairs: PoissonSubsampledGaussian, Gaussian); 1.0 where it does not apply (other
    mechanisms) or says nothing (a step's affinity bound at or below 0)."""
    # S = -log BC_T <= sum_g n_g (-log(1 - h_g)), accumulated as log S: at tiny q, h = k q^2 (e^{mu^2} - 1)
    # underflows (q < ~1e-162 gave h = 0, S = 0 and a "bound" of 1e-300 below one step's TV, reviewer
    # H-R9 F1), so each h is formed from its logarithm and only small terms use -log(1 - h) <= h / (1 - h).
    log_s = -math.inf
    for mech, n in groups:
        sigma = getattr(mech, "noise_multiplier", None)
        if sigma is None or getattr(mech, "kind", None) not in ("continuous", "gaussian"):
            return 1.0
        mu = 1.0 / float(sigma)
        q = float(getattr(mech, "sampling_probability", 1.0))
        n = int(n)
        if n <= 0:
            continue
        if q >= 1.0:
            term = math.log(n * 0.125) + 2.0 * math.log(mu)  # (4): -log BC = mu^2 / 8, exact
        else:
            if mu * mu > 700.0 or not q > 0.0:
                return 1.0
            k = min(0.5, 0.125 + q / (16.0 * (1.0 - q) ** 2.5))
            log_h = math.log(k) + 2.0 * math.log(q) + math.log(math.expm1(mu * mu))  # (3): 1 - BC_step <= h
            if not log_h < 0.0:
                return 1.0
            if log_h < -20.0:  # h < 2.1e-9: -log(1 - h) <= h / (1 - h) <= h (1 + 1e-8)
                term = math.log(n) + log_h + 1e-8
            else:
                term = math.log(n * -math.log1p(-math.exp(log_h)))  # (2)
        log_s = term if log_s == -math.inf else max(log_s, term) + math.log1p(math.exp(-abs(log_s - term)))
    if log_s == -math.inf:
        return 0.0  # no step: P_T = Q_T
    log_s += 1e-9  # the rounding of the few log / exp / log1p above (a few ulps each, relative)
    if log_s < -30.0:  # 2 S < 2e-13: 1 - e^{-2S} <= 2 S
        tv = math.exp(0.5 * (math.log(2.0) + log_s))
    else:
        tv = math.sqrt(-math.expm1(-2.0 * math.exp(log_s)))  # (1)
    return float(min(1.0, tv * (1.0 + 1e-9) + 1e-323))
