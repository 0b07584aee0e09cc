"""fewpart_cond._Sfx (section C4's suffix sums, Sum2 since session 13): the enclosures of A_i = sum_{j>=i} a_j and
X_i = sum_{j>=i} a_j e^{-s_j} contain the exact sums (exact rational sums of the doubles; e^{-s} in mpmath at 40
digits), also with cancellation, mixed signs, tiny / subnormal entries, and stay narrow."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from ewacct.bounds import fewpart_cert as fc
from ewacct.bounds import fewpart_cond as fcd


def _vectors():
    rng = np.random.default_rng(13)
    n = 3000
    a = rng.random(n) * 1e-3  # a composed body: non-negative masses
    yield "positive", a, -40
    b = a.copy()
    b[::5] = -rng.random(len(b[::5])) * 1e-15  # FFT noise: tiny negative entries
    b[7::11] = rng.random(len(b[7::11])) * 1e-310  # subnormals
    yield "noisy", b, 12
    c = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 0, n)  # cancellation: a signed sum near 0
    c[-1] -= float(np.sum(c[:-1]))
    yield "cancelling", c, -3


@pytest.mark.parametrize("name,a,off", list(_vectors()), ids=lambda x: x if isinstance(x, str) else "")
def test_suffix_sums_contain_exact(name, a, off):
    h = 2.0 ** -9
    v = fc._Vec(np.ascontiguousarray(a), off, 0.0, 0.0, 1)
    sf = fcd._Sfx(v, h)
    n = len(a)
    fr = [Fraction(float(x)) for x in a]
    mpmath.mp.dps = 40
    ex = [mpmath.exp(-mpmath.mpf(off + j) * mpmath.mpf(h)) for j in range(n)]
    for i in (0, 1, 17, n // 3, n - 2, n - 1):
        (alo, ahi), (xlo, xhi), m = sf.sums(i)
        assert m == n - i
        A = sum(fr[i:], Fraction(0))
        assert Fraction(alo) <= A <= Fraction(ahi), (name, i)
        X = mpmath.fsum(mpmath.mpf(float(a[j])) * ex[j] for j in range(i, n))
        assert mpmath.mpf(xlo) <= X <= mpmath.mpf(xhi), (name, i)
        S = float(sum(abs(x) for x in fr[i:]))
        assert ahi - alo <= 1e-14 * S + 1e-290  # Sum2: about 2 U sum |a| (the longdouble version: n UL)
        E = mpmath.fsum(ex[i:])
        assert abs(float(sf.Ex[i]) - float(E)) <= (fcd.RL + sf.r2) * float(E)  # E: within r2 + RL, as weighted() uses
    assert sf.sums(n) == ((0.0, 0.0), (0.0, 0.0), 0)
