"""Rigorous Arb enclosures of the closed forms (ewacct.bounds.closed_form) against independent mpmath.

The references do not share code or formulas with the Arb path: the hockey-stick divergence
``int (p - e^eps q)_+`` is integrated numerically (mpmath tanh-sinh, 50 digits) from the *densities* of
the dominating pair, with the cut where ``p = e^eps q`` located by a root finder (not by the closed
form ``x_c``); Gaussian compositions are also checked through the law of the composed privacy loss
(a sum of independent Gaussian losses, by additivity of means and variances); randomized response by
the definition ``sum_k max(0, P(k) - e^eps Q(k))`` over the two binomial laws.  Each reference is
computed at 50 and at 60 digits and must agree with itself (else the reference, not ewacct, is
reported as untrustworthy).  Containment must hold at 100 % of the points, both directions.
The full single-step grid is marked ``slow`` (about 2 minutes on 2 cores); a corner subset always runs.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import pytest

from ewacct import Accountant, Gaussian, PoissonSubsampledGaussian, RandomizedResponse
from ewacct.bounds.closed_form import (
    _direction_brackets,
    closed_form_delta_bracket,
    closed_form_epsilon_bracket,
    closed_form_kind,
)

DPS = 50


# ------------------------------------------------------------------ references
def _quad_half_line(f, x0, sign, scale, extra=()):
    """int f over [x0, inf) (sign = +1) or (-inf, x0] (sign = -1); break points near x0 on the given
    scale and at ``extra`` (where the mass is)."""
    pts = [x0 + sign * scale * mp.mpf(10) ** j for j in range(-4, 3)]
    pts += [x for x in extra if sign * (x - x0) > 0]
    pts = sorted(set([x0] + pts), reverse=sign < 0) + [sign * mp.inf]
    if sign < 0:
        pts = pts[::-1]
    # normalise: mp.quad stops on an absolute error estimate
    norm = max(abs(f(p)) for p in pts if mp.isfinite(p)) or mp.mpf(1)
    val = mp.quad(lambda x: f(x) / norm, pts)
    return val * norm * (1 if sign > 0 else 1)


def _bisect(g, lo, hi):
    """Root of a monotone g on [lo, hi] (g(lo), g(hi) of opposite signs) to the working precision."""
    glo = g(lo)
    for _ in range(4 * mp.mp.prec):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        gm = g(mid)
        if (gm > 0) == (glo > 0):
            lo, glo = mid, gm
        else:
            hi = mid
    return (lo + hi) / 2


def _twice(fn, *args):
    """fn(*args) at DPS and DPS + 10 digits; the two must agree (the reference checks itself)."""
    with mp.workdps(DPS):
        a = fn(*args)
    with mp.workdps(DPS + 10):
        b = fn(*args)
    with mp.workdps(DPS + 10):
        assert abs(a - b) <= mp.mpf(10) ** (-30) * abs(b) + mp.mpf(10) ** (-4000), (fn.__name__, args, a, b)
    return b


def _ref_gaussian_density(sigma, eps):
    """Gaussian mechanism (sensitivity 1): P = N(1, s^2), Q = N(0, s^2) (REMOVE; ADD is its mirror image)."""
    s, eps = mp.mpf(sigma), mp.mpf(eps)
    logp = lambda x: -((x - 1) ** 2) / (2 * s * s)  # noqa: E731 (common factors cancel in the ratio)
    logq = lambda x: -(x * x) / (2 * s * s)  # noqa: E731
    c = 1 / (s * mp.sqrt(2 * mp.pi))
    f = lambda x: c * (mp.exp(logp(x)) - mp.exp(eps + logq(x)))  # noqa: E731
    # cut: log p - log q = eps (increasing in x); bracket by doubling, then a root finder
    g = lambda x: logp(x) - logq(x) - eps  # noqa: E731
    lo, hi = mp.mpf(-1), mp.mpf(1)
    while g(lo) > 0:
        lo *= 2
    while g(hi) < 0:
        hi *= 2
    x0 = _bisect(g, lo, hi)
    tail = max(abs(x0 - 1), s) / s**2  # decay rate of the density beyond the cut
    return _quad_half_line(f, x0, +1, 1 / tail, [1 + j * s for j in (-9, -5, -2, 0, 2, 5, 9)])


def _ref_gaussian_loss(sigmas_counts, eps):
    """Composition by the law of the summed loss: L ~ N(m, 2m), m = sum n/(2 s^2); delta = E[(1 - e^{eps-L})_+]."""
    m = sum(n / (2 * mp.mpf(s) ** 2) for s, n in sigmas_counts)
    v = 2 * m
    eps = mp.mpf(eps)
    f = lambda l: (1 - mp.exp(eps - l)) * mp.exp(-((l - m) ** 2) / (2 * v)) / mp.sqrt(2 * mp.pi * v)  # noqa: E731
    rate = max(abs(eps - m) / v, 1 / mp.sqrt(v), mp.mpf(1))
    sd = mp.sqrt(v)
    return _quad_half_line(f, eps, +1, 1 / rate, [m + j * sd for j in (-9, -5, -2, 0, 2, 5, 9)])


def _ref_single_step(q, sigma, eps, direction):
    """One subsampled-Gaussian step: P1 = (1-q) N(0,1) + q N(mu,1), P0 = N(0,1), by quadrature of the densities."""
    q, mu, eps = mp.mpf(q), 1 / mp.mpf(sigma), mp.mpf(eps)
    p0 = lambda x: mp.npdf(x)  # noqa: E731
    p1 = lambda x: (1 - q) * mp.npdf(x) + q * mp.npdf(x, mu)  # noqa: E731
    if direction == "remove":
        P, Q, sign = p1, p0, +1  # P/Q increases in x: the set is a right half-line
    else:
        P, Q, sign = p0, p1, -1
        if mp.exp(-eps) <= 1 - q:  # P/Q = 1/(1 - q + ...) < 1/(1-q) <= e^eps everywhere
            return mp.mpf(0)
    g = lambda x: mp.log(P(x)) - mp.log(Q(x)) - eps  # noqa: E731
    lo, hi = mp.mpf(-1), mp.mpf(1)
    while sign * g(lo) > 0:
        lo *= 2
    while sign * g(hi) < 0:
        hi *= 2
    x0 = _bisect(g, lo, hi)
    f = lambda x: P(x) - mp.exp(eps) * Q(x)  # noqa: E731
    tail = max(abs(x0), abs(x0 - mu), mp.mpf(1))
    return _quad_half_line(f, x0, sign, 1 / tail, [j + c for j in (-9, -5, -2, 0, 2, 5, 9) for c in (0, mu)])


def _ref_rr(eps0, n, eps):
    """Randomized response by the definition: sum_k max(0, P(k) - e^eps Q(k)), P = Bin(n, r), Q = Bin(n, 1 - r)."""
    e0, eps = mp.mpf(eps0), mp.mpf(eps)
    r = mp.exp(e0) / (1 + mp.exp(e0))
    tot = mp.mpf(0)
    for k in range(n + 1):
        b = mp.binomial(n, k)
        pk = b * r**k * (1 - r) ** (n - k)
        d = pk - mp.exp(eps) * b * (1 - r) ** k * r ** (n - k)
        if d > mp.mpf(10) ** (8 - mp.mp.dps) * pk:  # a zero term (P = e^eps Q exactly) rounds to +-1e-dps P
            tot += d
    return tot


def _inside(br, ref) -> bool:
    lo, hi = br
    return mp.mpf(lo) <= ref <= mp.mpf(hi)


def _rel_width(br) -> float:
    lo, hi = br
    return (hi - lo) / hi if hi > 1e-300 else 0.0


def _enclosure(acc, eps):
    """The Arb enclosure alone (the public bracket also takes in the float estimate, which adds its own
    error, <= ESTIMATE_SLACK relative: see ewacct.bounds.closed_form)."""
    per_dir = _direction_brackets(*closed_form_kind(acc), eps)
    return max(b[0] for b in per_dir), max(b[1] for b in per_dir)


# ------------------------------------------------------------------ delta(eps) containment
SIGMAS = (0.2, 0.5, 1.0, 3.0, 30.0, 1000.0)
EPSILONS = (0.0, 0.1, 1.0, 5.0, 20.0, 50.0)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_gaussian_delta_contains_density_quadrature(sigma):
    acc = Accountant().compose(Gaussian(sigma))
    for eps in EPSILONS:
        ref = _twice(_ref_gaussian_density, sigma, eps)
        br = closed_form_delta_bracket(acc, eps)
        assert _inside(br, ref), (sigma, eps, br, ref)
        if ref > 1e-300:
            assert _rel_width(_enclosure(acc, eps)) <= 1e-14, (sigma, eps, br)
            assert _rel_width(br) <= 1e-12, (sigma, eps, br)


@pytest.mark.parametrize("sc", [[(0.8, 100)], [(2.0, 3), (0.7, 5)], [(1000.0, 7), (0.2, 1), (5.0, 1000)],
                                [(1.1, 10**6)]])
def test_gaussian_composition_contains_loss_law_quadrature(sc):
    acc = Accountant()
    for s, n in sc:
        acc.compose(Gaussian(s), n)
    acc.compose(PoissonSubsampledGaussian(sc[0][0], 1.0), 1)  # q = 1 is the Gaussian mechanism
    sc = sc[:1] + [(sc[0][0], 1)] + sc[1:]
    for eps in EPSILONS:
        ref = _twice(_ref_gaussian_loss, sc, eps)
        br = closed_form_delta_bracket(acc, eps)
        assert _inside(br, ref), (sc, eps, br, ref)
        if ref > 1e-300:
            assert _rel_width(_enclosure(acc, eps)) <= 1e-14
            assert _rel_width(br) <= 1e-12


_FAST_SINGLE = {(0.2, 1e-6), (1000.0, 0.9), (0.8, 1e-3), (3.0, 0.1), (0.2, 0.9), (1000.0, 1e-6)}
SINGLE_GRID = [pytest.param(s, q, marks=() if (s, q) in _FAST_SINGLE else pytest.mark.slow)
               for s in (0.2, 0.8, 3.0, 1000.0) for q in (1e-6, 1e-3, 0.1, 0.9)]


@pytest.mark.parametrize("sigma,q", SINGLE_GRID)
def test_single_step_both_directions_contain_density_quadrature(sigma, q):
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q))
    assert closed_form_kind(acc)[0] == "single-step"
    for eps in (0.0, 1e-3, 0.3, 2.0, 10.0, 50.0):
        per_dir = _direction_brackets("single-step", (q, sigma), eps)
        refs = []
        for br, d in zip(per_dir, ("remove", "add")):
            ref = _twice(_ref_single_step, q, sigma, eps, d)
            refs.append(ref)
            assert _inside(br, ref), (sigma, q, eps, d, br, ref)
            if ref > 1e-300:
                assert _rel_width(br) <= 1e-14, (sigma, q, eps, d, br)
        assert _inside(closed_form_delta_bracket(acc, eps), max(refs))


@pytest.mark.parametrize("eps0,n", [(0.1, 1), (0.5, 100), (2.0, 37), (0.05, 2000), (5.0, 10)])
def test_randomized_response_contains_definition_sum(eps0, n):
    acc = Accountant().compose(RandomizedResponse(eps0), n)
    for eps in (0.0, 0.05, 0.5, 3.0, 10.0, 50.0):
        with mp.workdps(DPS):
            ref = _ref_rr(eps0, n, eps)
        br = closed_form_delta_bracket(acc, eps)
        assert _inside(br, ref), (eps0, n, eps, br, ref)
        if ref > 1e-300:
            assert _rel_width(_enclosure(acc, eps)) <= 1e-13
            assert _rel_width(br) <= 1e-12


def test_randomized_response_large_n_tail_enclosure():
    # n = 10^6: only ~sqrt(n) terms are summed, the rest is enclosed; compare with n = 10^6 via the
    # normal-free mpmath sum restricted to the same support would be slow -- check consistency instead:
    # the bracket is tight, in [0, 1], and non-increasing in eps
    acc = Accountant().compose(RandomizedResponse(0.01), 10**6)
    prev = 1.0
    for eps in (0.0, 1.0, 10.0, 30.0, 60.0):
        lo, hi = _enclosure(acc, eps)
        assert 0.0 <= lo <= hi <= 1.0 and hi <= prev * (1 + 1e-15)
        if hi > 1e-300:
            assert (hi - lo) / hi <= 1e-13
        plo, phi = closed_form_delta_bracket(acc, eps)  # joined with the float estimate (~3e-13 off here)
        assert plo <= lo <= hi <= phi and (phi - plo) <= 1e-12 * phi + 1e-300
        prev = hi


# ------------------------------------------------------------------ eps(delta) containment
def _eps_contains(ref_delta, br, delta):
    """Containment of eps(delta) by monotonicity: delta(lo) > delta (or lo = 0) and delta(hi) <= delta."""
    lo, hi = br
    assert lo <= hi
    if lo > 0:
        assert ref_delta(lo) > delta, ("lower end", br)
    assert ref_delta(hi) <= delta, ("upper end", br)


DELTAS = (0.1, 1e-3, 1e-5, 1e-9, 1e-12)


@pytest.mark.parametrize("sigma", (0.2, 1.0, 30.0, 1000.0))
def test_gaussian_epsilon_bracket(sigma):
    acc = Accountant().compose(Gaussian(sigma), 4)
    for delta in DELTAS:
        br = closed_form_epsilon_bracket(acc, delta)
        _eps_contains(lambda e: _twice(_ref_gaussian_loss, [(sigma, 4)], e), br, delta)
        assert br[1] - br[0] <= max(1e-12 * br[1], 1e-15), (sigma, delta, br)


@pytest.mark.parametrize("sigma,q", [(0.2, 0.5), pytest.param(0.8, 0.01, marks=pytest.mark.slow),
                                     pytest.param(3.0, 1e-3, marks=pytest.mark.slow),
                                     pytest.param(1000.0, 0.9, marks=pytest.mark.slow), (0.5, 1e-6)])
def test_single_step_epsilon_bracket_both_directions(sigma, q):
    acc = Accountant().compose(PoissonSubsampledGaussian(sigma, q))
    for delta in DELTAS:
        br = closed_form_epsilon_bracket(acc, delta)

        def ref(e):
            return max(_twice(_ref_single_step, q, sigma, e, d) for d in ("remove", "add"))

        _eps_contains(ref, br, delta)
        assert br[1] - br[0] <= max(1e-12 * br[1], 1e-15), (sigma, q, delta, br)


@pytest.mark.parametrize("eps0,n", [(0.5, 100), (0.05, 2000)])
def test_randomized_response_epsilon_bracket(eps0, n):
    acc = Accountant().compose(RandomizedResponse(eps0), n)
    for delta in DELTAS:
        br = closed_form_epsilon_bracket(acc, delta)
        with mp.workdps(DPS):
            _eps_contains(lambda e: _ref_rr(eps0, n, e), br, delta)
        assert br[1] - br[0] <= max(1e-12 * br[1], 1e-15)


def test_epsilon_bracket_contains_the_float_estimate():
    # the float closed forms of the accountant land inside (or within float error of) the bracket
    for acc in (Accountant().compose(Gaussian(0.9), 50), Accountant().compose(PoissonSubsampledGaussian(0.7, 0.02)),
                Accountant().compose(RandomizedResponse(0.3), 500)):
        for delta in (1e-3, 1e-6, 1e-10):
            lo, hi = closed_form_epsilon_bracket(acc, delta)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = float(acc.get_epsilon(delta).estimate)
            assert lo - 1e-9 * hi <= est <= hi + 1e-9 * hi


# ------------------------------------------------------------------ never raises, None where no closed form
def test_no_closed_form_is_none_and_edges_do_not_raise():
    many = Accountant().compose(PoissonSubsampledGaussian(0.4, 1e-4), 3)
    assert closed_form_delta_bracket(many, 1.0) is None and closed_form_epsilon_bracket(many, 1e-5) is None
    acc = Accountant().compose(PoissonSubsampledGaussian(0.2, 1e-6))
    for eps in (0.0, 1e-300, 1e-6, -math.log1p(-1e-6), 1e3, 1e6, math.inf):
        lo, hi = closed_form_delta_bracket(acc, eps)
        assert 0.0 <= lo <= hi <= 1.0
    for delta in (1e-300, 1e-12, 0.5, 0.999999, 1.0):
        lo, hi = closed_form_epsilon_bracket(acc, delta)
        assert 0.0 <= lo <= hi
    rr = Accountant().compose(RandomizedResponse(0.5), 10)
    assert closed_form_epsilon_bracket(rr, 0.0) == (5.0, 5.0)  # eps(0) is the largest loss, 10 * 0.5
    lo, hi = closed_form_delta_bracket(Accountant().compose(Gaussian(1000.0)), 50.0)
    assert lo == 0.0 and 0.0 < hi <= 5e-324  # below the double range: [0, smallest subnormal]


def test_certify_never_raises_on_the_issue_example():
    # issue 9: this raised OverflowError in the DGG bound
    from ewacct.bounds.analytic import analytic_epsilon_bracket

    acc = Accountant().compose(PoissonSubsampledGaussian(0.4, 1e-4), 3)
    b = analytic_epsilon_bracket(acc, 1e-5)
    assert b.vacuous or b.lower <= b.upper
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = acc.get_epsilon(1e-5, certify=True)
    assert r.lower <= r.upper


# ------------------------------------------------------------------ the returned estimate lies inside its own bracket
@pytest.mark.parametrize("acc,delta,eps", [
    (Accountant().compose(PoissonSubsampledGaussian(153.5644, 0.00040426423847997605), 1), 2.2108578001112662e-10,
     9.079788368916e-06),  # the breaker's point: the estimate was 1.4e-9 below the truth and the bracket
    (Accountant().compose(PoissonSubsampledGaussian(1e4, 1e-6), 1), 1e-12, 1e-10),
    (Accountant().compose(PoissonSubsampledGaussian(0.05, 0.3), 1), 1e-6, 3.0),
    (Accountant().compose(Gaussian(1.3), 3), 1e-6, 1.0),
    (Accountant().compose(Gaussian(1e4), 3), 1e-12, 1e-3),
    (Accountant().compose(RandomizedResponse(0.5), 200), 1e-6, 10.0),
])
def test_estimate_inside_its_certified_bracket(acc, delta, eps):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an estimate outside its bracket warns
        r = acc.get_epsilon(delta, certify=True)
        d = acc.get_delta(eps, certify=True)
    assert r.lower <= r.estimate <= r.upper, (r.lower, r.estimate, r.upper)
    assert r.upper - r.lower <= 1e-12 * r.upper
    assert d.lower <= d.estimate <= d.upper, (d.lower, d.estimate, d.upper)
    assert d.upper - d.lower <= 1e-13 * d.upper
    # the bracket still encloses an independent reference (the enclosure joined with the estimate)
    kind, params = closed_form_kind(acc)
    if kind == "gaussian":
        with mp.workdps(DPS):
            mu = mp.sqrt(sum(mp.mpf(n) / mp.mpf(s) ** 2 for s, n in params))
            ref = mp.ncdf(mu / 2 - eps / mu) - mp.exp(eps) * mp.ncdf(-mu / 2 - eps / mu)
            assert d.lower <= ref <= d.upper
