"""Session 17 (H-FC): the eps search of the conditioned bracket (bounds/fewpart_cond._ends, SECANT): secant steps on
log delta instead of bisection.  Each end must still be a point where its bound was evaluated on its side of delta;
the synthetic staircases below check that rule and the pair's width directly, the real point checks the ends against
REMOVE's two-step delta(eps) in mpmath (tests/mpref.py, 30 digits, independent of the module)."""

from __future__ import annotations

import math
import random

import pytest

from ewacct import Accountant
from ewacct.bounds import fewpart_cond as fcd
from ewacct.mechanisms import PoissonSubsampledGaussian as PSG
from mpref import psg_two_step_delta


def _stair(rate: float, c: float, grid: float, jitter: float):
    """A non-increasing staircase: exp(-rate (x - c)) on cells of size grid, times a small non-increasing factor."""
    def f(x):
        xc = math.floor(x / grid) * grid if grid > 0 else x
        return min(1.0, math.exp(-rate * (xc - c)) * (1.0 + jitter / (1.0 + x)))
    return f


@pytest.mark.parametrize("seed", range(12))
def test_ends_are_evaluated_on_their_sides_and_within_tol(seed):
    rng = random.Random(seed)
    delta = 10 ** rng.uniform(-12, -2)
    root = rng.uniform(0.05, 40.0)
    rate = rng.uniform(0.3, 30.0)
    grid = rng.choice([0.0, 1e-6, 3e-5 * root, 1e-4 * root])
    c = root + math.log(delta) / rate  # f(root) ~ delta
    base = _stair(rate, c, grid, rng.choice([0.0, 1e-5]))
    seen = {}

    def f(x):
        seen[x] = base(x)
        return seen[x]

    w = 0.8e-4 * root
    tol = 0.01 * w
    est = root * (1 + rng.uniform(-3e-4, 3e-4))
    a, b, _ = fcd._ends(f, delta, est + 0.5 * w, w, tol, x_max=1e3)
    assert a is not None and b in seen and a in seen
    assert seen[a] > delta >= seen[b] and 0.0 <= a < b and b - a <= tol
    assert len(seen) <= 24, len(seen)  # the bisection from the same start: 11-12 in all (staircases 125x tol: up to 8 more)


def test_ends_at_zero_and_the_known_b():
    # f(0) <= delta: the upper end is 0 (a None); the lower end with a known b0 (never evaluated) and f(0) > delta
    assert fcd._ends(lambda x: 0.5 * math.exp(-x), 0.9, 0.3, 0.1, 1e-6)[:2] == (None, 0.0)
    seen = []

    def g(x):
        seen.append(x)
        return math.exp(-2 * x)

    a, b, _ = fcd._ends(g, 1e-3, 3.0, 0.5, 1e-6, b0=5.0, slope=-2.0)
    assert g(a) > 1e-3 >= g(b) and b - a <= 1e-6 and 5.0 not in seen[:-1]


def test_two_steps_bracket_ends_against_mpmath_both_searches(monkeypatch):
    # REMOVE's delta at the ends (ADD is below REMOVE at this point: its proven end is reported in info["add_upper"])
    sigma, q, delta = 2.0, 1e-4, 1e-6
    acc = Accountant().compose(PSG(sigma, q), 2)
    est = float(acc.get_epsilon(delta).value)
    out = {}
    for sec in (False, True):
        monkeypatch.setattr(fcd, "SECANT", sec)
        lo, hi, info = fcd.epsilon_bracket(list(acc.groups()), delta, est)
        assert float(psg_two_step_delta(sigma, q, lo)) > delta >= float(psg_two_step_delta(sigma, q, hi)), (sec, lo, hi)
        assert info["add_upper"] <= hi
        out[sec] = (lo, hi)
    (l0, h0), (l1, h1) = out[False], out[True]
    assert max(l0, l1) <= min(h0, h1)  # two proofs of the same number overlap
    assert h1 - l1 <= (h0 - l0) * 1.02 + 1e-12  # not wider than the bisection's (its ends lie within 0.02 width)
