"""Session 16 speed work (H-SP): what the faster warm path and first call must keep.

* budget.setup(): one-time set-up (a lazy module import) is not charged to the CPU budgets;
* the default eps(delta) query does not import the few-participation path kernels (ewacct._kernels.fewpart_path,
  0.1-0.3 s of tables) and a query that needs them still gets them;
* contour._chunk_terms / _chunk_next (build_contour's per-chunk bookkeeping, compiled) agree with the numpy
  expressions they replaced, NaN propagation included.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np

from ewacct.methods import budget
from ewacct.methods.contour import _chunk_next, _chunk_terms, _next_size


def _burn(seconds: float) -> None:
    t0 = time.process_time()
    x = 0.0
    while time.process_time() - t0 < seconds:
        for i in range(2000):
            x += math.sin(i)


def test_setup_block_is_not_charged_to_the_clock():
    c0 = budget.clock()
    with budget.setup():
        _burn(0.15)
        with budget.setup():  # nested blocks count once
            _burn(0.05)
    inside = budget.clock() - c0
    assert inside < 0.05, inside
    c1 = budget.clock()
    _burn(0.1)
    assert budget.clock() - c1 >= 0.09  # outside a block the clock runs


def test_default_query_leaves_fewpart_path_unimported_and_fewpart_still_works():
    code = (
        "import sys, warnings\n"
        "import ewacct\n"
        "r = ewacct.epsilon(noise_multiplier=1.0, sampling_probability=0.01, steps=1000, target_delta=1e-5)\n"
        "assert r.method == 'exact', r.method\n"
        "assert 'ewacct._kernels.fewpart_path' not in sys.modules\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    r = ewacct.epsilon(noise_multiplier=1.0, sampling_probability=0.001, steps=10, target_delta=1e-5)\n"
        "print(r.method, float(r))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    method, value = out.stdout.split()
    assert method.startswith("exact")
    # a loose independent check: subsampling only helps, so eps lies below that of 10 unsubsampled sigma = 1
    # Gaussian steps (one Gaussian of mu = sqrt(10); closed form, bisection), and above 0 (q T = 0.01)
    assert 0.0 < float(value) < _gaussian_eps(math.sqrt(10.0), 1e-5)


def _gaussian_eps(mu: float, delta: float) -> float:
    def d(e: float) -> float:
        return 0.5 * math.erfc((e / mu - mu / 2) / math.sqrt(2)) - math.exp(e) * 0.5 * math.erfc(
            (e / mu + mu / 2) / math.sqrt(2))

    lo, hi = 0.0, 100.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if d(mid) > delta else (lo, mid)
    return hi


def _reference_terms(kz, ek, u, c, eps, lh):
    z = c + 1j * u
    mag = kz.real - c * eps - np.log(np.abs(z * (z + 1.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = float(np.logaddexp.reduce(mag + np.log(ek))) + lh
    return mag, lc


def test_chunk_helpers_match_numpy():
    rng = np.random.default_rng(16)
    for trial in range(40):
        n = int(rng.integers(16, 130))
        start = int(rng.integers(0, 3)) * n
        h = float(rng.uniform(0.01, 3.0))
        u = h * np.arange(start, start + n, dtype=np.float64)
        c = float(rng.uniform(0.01, 30.0))
        eps = float(rng.uniform(0.0, 50.0))
        # a Gaussian-like decay of Re K along the contour, with noise
        kz = (c * eps + 5.0 - 0.5 * (u / (3.0 * h + 1.0)) ** 2 + rng.normal(0, 0.3, n)) + 1j * rng.normal(0, 5, n)
        ek = 10.0 ** rng.uniform(-30, -8, n)
        if trial % 5 == 0:
            ek[rng.integers(0, n)] = 0.0
        lh = math.log(h / math.pi)
        mag, lc = _chunk_terms(kz, ek, u, c, eps, lh)
        rmag, rlc = _reference_terms(kz, ek, u, c, eps, lh)
        assert np.allclose(mag, rmag, rtol=0, atol=1e-12 * (1 + np.abs(rmag)).max())
        assert abs(lc - rlc) <= 1e-12 * (1 + abs(rlc))
        for cap, factor in ((128, 1.5), (512, 2.0)):
            tt = float(np.max(rmag[-8:] + np.log(u[-8:] / math.pi))) - rng.uniform(0, 20)
            nxt, r, m_next, tail, calm = _chunk_next(mag, u, ek, n, tt, cap, factor)
            assert nxt == _next_size(n, rmag, u, tt, cap, factor)
            with np.errstate(divide="ignore"):
                assert r == float(np.max(np.log(ek[-8:])))
            assert m_next == float(np.max(mag[-8:]))
            assert abs(tail - float(np.max(rmag[-8:] + np.log(u[-8:] / math.pi)))) <= 1e-12 * (1 + abs(tail))
            assert calm == bool(np.all(np.diff(mag[-8:]) < 1.0))
    # NaN error estimates propagate as numpy's logaddexp.reduce does
    n = 16
    u = 0.5 * np.arange(n, dtype=np.float64)
    kz = np.zeros(n, dtype=np.complex128)
    ek = np.full(n, 1e-20)
    ek[3] = math.nan
    _, lc = _chunk_terms(kz, ek, u, 1.0, 1.0, 0.0)
    assert math.isnan(lc)
    ek[3] = 1e-20
    ek[-1] = math.nan
    _, r, _, _, _ = _chunk_next(np.zeros(n), u, ek, n, -50.0, 128, 1.5)
    assert math.isnan(r)
