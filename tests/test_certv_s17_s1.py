"""Breaker point S1 (session 17): PoissonSubsampledGaussian(sigma 0.4719..., q 2.93e-8) x T = 22,172,189, add-or-remove,
delta 8.945e-13. The certified bracket (one-large-step path) against an independent mpmath reference (25 digits) built
from the definition, not from ewacct's enclosure:

REMOVE: P = (1-q) N(0, s^2) + q N(1, s^2), Q = N(0, s^2), step loss l(x) = log(1 - q + q e^{(2x-1)/(2s^2)}) (increasing),
delta(eps) = E_P[(1 - e^{eps - L_T})_+], L_T the sum of T iid step losses.  Split each step at x_b = l^{-1}(y_b)
(y_b = 0.21): J = number of steps with X > x_b.
* J = 1 (exact): delta_1 = T (1 - p_b)^{T-1} E[H(S)], S the sum of T - 1 steps drawn from P | X <= x_b, and
  H(b) = int_{x > max(x_b, x*(b))} (p(x) - e^{eps-b} phi(x)) dx (since p e^{-l} = phi; x*(b) = l^{-1}(eps - b)), a
  difference of Gaussian tails.  For b < eps - y_b, H is the analytic function H_a (x* > x_b), whose nearest
  singularity is at b = eps - log(1 - q) (~0.39).  E[H(S)] = sum_k H_a^(k)(mu)/k! E[(S - mu)^k]: Taylor
  coefficients by a Cauchy integral (radius 0.15), central moments of S from its cumulants (T - 1) kappa_k, kappa_k
  the truncated step's cumulants from raw moments by quadrature.  Terms decay like (0.21/0.39)^k; the k = 17..20
  terms are asserted < 1e-11 of the sum.
* J = 0 and J >= 2 are >= 0, so delta >= delta_1 (the lower end's side needs no bound); J >= 2 <= P(J >= 2) <=
  (T p_b)^2/2 e^{T p_b}, J = 0 <= c_lam e^{-lam eps} M_<=(lam)^T (Chernoff, c_lam = max_u (1 - e^{-u}) e^{-lam u}).
* ADD (P and Q swapped): delta_add <= c_lam e^{-lam eps} E_Q[(1 - q + q w)^{-lam}]^T, ~10^-1680 at lam 1e4.
At 25 digits (20 terms, 48 nodes) the reference agrees with a 40-digit run (30 terms, 96 nodes, radius 0.1) to 1e-13
relative, and at y_b 0.19 a three-category variant (medium steps 0.02 < l <= 0.19 integrated explicitly, the series
only over l <= 0.02) agrees with the two-category series to 2e-12.  Session 17 values:
delta(lower)/delta - 1 = +1.10e-7, delta(upper)/delta - 1 in [-1.95e-7, -1.80e-7]; the bracket's relative width in
delta is 3.0e-7, so the ends sit ~1e-7 of delta off the root: an allowance of 1e-9 for the reference's own error.
"""

from __future__ import annotations

import mpmath as mp

from ewacct import Accountant, PoissonSubsampledGaussian

SIGMA, Q, T, DELTA = 0.47192439098919553, 2.926685342856206e-08, 22172189, 8.945267097607692e-13
NT = 20


def _reference():
    # call under mp.workdps(25): the test must not change mpmath's global precision for later tests
    s, q = mp.mpf(SIGMA), mp.mpf(Q)

    def phibar(t):
        return mp.erfc(t / mp.sqrt(2)) / 2

    def loss(x):
        return mp.log(1 - q + q * mp.exp((2 * x - 1) / (2 * s**2)))

    def pdens(x):
        return (1 - q) * mp.npdf(x, 0, s) + q * mp.npdf(x, 1, s)

    def x_of(y):
        return s**2 * mp.log((mp.expm1(y) + q) / q) + mp.mpf(1) / 2

    def ptail(x):
        return (1 - q) * phibar(x / s) + q * phibar((x - 1) / s)

    xb = x_of(mp.mpf("0.21"))
    brk = [-mp.inf, -3, -1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.25, 3.5, xb - 0.1, xb - 0.03, xb - 0.01, xb - 0.003, xb]
    pb = ptail(xb)
    ps = 1 - pb
    raw = [mp.mpf(1)] + [mp.quad(lambda x, k=k: pdens(x) * loss(x) ** k, brk) / ps for k in range(1, NT + 1)]
    kap = [mp.mpf(0)] * (NT + 1)
    for n in range(1, NT + 1):
        kap[n] = raw[n] - sum(mp.binomial(n - 1, j - 1) * kap[j] * raw[n - j] for j in range(1, n))
    mu = (T - 1) * kap[1]
    cum = [mp.mpf(0), mp.mpf(0)] + [(T - 1) * kap[n] for n in range(2, NT + 1)]
    cm = [mp.mpf(1)]
    for n in range(1, NT + 1):
        cm.append(sum(mp.binomial(n - 1, j - 1) * cum[j] * cm[n - j] for j in range(2, n + 1)))

    def m_small(lam):  # E[e^{lam l}; X <= x_b]
        return ps + mp.quad(lambda x: pdens(x) * mp.expm1(lam * loss(x)), brk)

    def c_lam(lam):
        return (1 / (1 + lam)) * (lam / (1 + lam)) ** lam

    m_chern = {lam: m_small(mp.mpf(lam)) for lam in (100, 110, 120)}
    j2 = (T * pb) ** 2 / 2 * mp.exp(T * pb)
    lam_a = mp.mpf(10) ** 4
    m_add = 1 + mp.quad(lambda x: mp.npdf(x, 0, s) * mp.expm1(-lam_a * mp.log1p(q * mp.expm1((2 * x - 1) / (2 * s**2)))),
                        [-mp.inf, -3, -1, 0, 0.5, 1, 2, 3, 4, 6, mp.inf])

    def delta_bounds(eps):
        eps = mp.mpf(eps)

        def ha(b):
            x = x_of(eps - b)
            return ptail(x) - mp.exp(eps - b) * phibar(x / s)

        r, nn = mp.mpf("0.15"), 48
        vals = [ha(mu + r * mp.expjpi(mp.mpf(2 * j) / nn)) for j in range(nn)]
        coef = [mp.re(sum(vals[j] * mp.expjpi(mp.mpf(-2 * j * k) / nn) for j in range(nn))) / nn / r**k
                for k in range(NT + 1)]
        terms = [coef[k] * cm[k] for k in range(NT + 1)]
        assert max(abs(t) for t in terms[-4:]) < 1e-11 * terms[0], [float(t / terms[0]) for t in terms[-4:]]
        d1 = T * mp.exp((T - 1) * mp.log1p(-pb)) * sum(terms)
        j0 = min(c_lam(lam) * mp.exp(-lam * eps + T * mp.log(m)) for lam, m in m_chern.items())
        add = c_lam(lam_a) * mp.exp(-lam_a * eps + T * mp.log(m_add))
        return d1, d1 + j0 + j2, add

    return delta_bounds


def test_s1_bracket_against_mpmath_reference():
    acc = Accountant().compose(PoissonSubsampledGaussian(SIGMA, Q), T)
    r = acc.get_epsilon(DELTA, certify=True)
    lo, hi = r.lower, r.upper
    assert lo <= r.estimate <= hi
    with mp.workdps(25):
        ref = _reference()
        d_lo_low, _, add_lo = ref(lo)
        _, d_hi_up, add_hi = ref(hi)
    assert add_lo < 1e-100 and add_hi < 1e-100  # ADD is far below REMOVE here
    # delta non-increasing: the bracket is right iff delta(lo) >= DELTA >= delta(hi)
    assert d_lo_low * (1 - 1e-9) > DELTA, (lo, float(d_lo_low / DELTA - 1))
    assert d_hi_up * (1 + 1e-9) < DELTA, (hi, float(d_hi_up / DELTA - 1))
