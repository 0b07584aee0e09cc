"""With ``certify=True`` the estimate beside the bracket is still the exact engine's value, never a
coarser number borrowed from the certificate (reviewer H-R5 D1, 266ccbe..9d35ef1).

When the certified eps(delta) ends on a bracket kept from an earlier path (or intersected with one),
the estimate of that path's contour is not the exact value: 0.0255176 (the bracket's upper end, marked
valid, rel_error 1e-5) where the exact value is 0.0255168842, and 0.00053117 (rel_error 0.48) where it
is 0.00053122363.  The reference is the default query (certify=False), whose accuracy against mpmath and
dp_accounting's PLD is tested elsewhere: the flag must not change the estimate beyond the tolerance, and
the estimate must lie in the bracket.
"""

from __future__ import annotations

import pytest

import ewacct
from ewacct import PoissonSubsampledGaussian as PSG

CASES = [
    ([(2.5035498386178685, 4.033905668873873e-05, 189), (4.955721715107163, 0.01489058294391709, 1)],
     2.8627257010268554e-10),
    ([(2.233704843333482, 2.113265654838626e-06, 1510), (1.1283927442522408, 1.9234413042087796e-06, 1755)],
     6.7566140497877835e-12),
    ([(0.6421, 0.01, 40)], 1e-5),
]


@pytest.mark.parametrize("segments,delta", CASES)
def test_certified_estimate_is_the_exact_value(segments, delta) -> None:
    def acc() -> ewacct.Accountant:
        a = ewacct.Accountant()
        for s, q, n in segments:
            a.compose(PSG(s, q), n)
        return a

    ref = acc().get_epsilon(delta)
    assert ref.valid and ref.method.startswith("exact")
    r = acc().get_epsilon(delta, certify=True)
    assert r.lower <= r.estimate <= r.upper
    assert r.lower <= ref.estimate * (1 + 1e-6) and ref.estimate <= r.upper * (1 + 1e-6)
    if r.valid:
        assert r.estimate == pytest.approx(ref.estimate, rel=1e-6)
        assert r.diagnostics["rel_error"] <= 1e-6
