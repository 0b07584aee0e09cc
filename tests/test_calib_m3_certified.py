"""Certified noise calibration without the exact eps(delta) at the search's sigma (session 14, H-M3).

``calibrate_noise(..., guarantee="certified")`` uses the exact engine's model search only to place its first
certificate (the search's sigma s0 is not asked for eps(delta) any more: the answer's estimate comes with the API's
certificate at the certified sigma).  Independent reference: dp_accounting's PLD pair (``ewacct.baselines.pld``) at
value discretisation 1e-4: its pessimistic end bounds eps above (up to its truncation), its optimistic end below.
"""

import warnings

import ewacct.calibrate as cal
from ewacct import PoissonSubsampledGaussian, calibrate_noise
from ewacct.methods.certified import clear_caches

# (eps, delta, q, T): the contour enclosure certifies it in ~0.03 s (benchmarks/calibrate_certified_random.py, point 2)
POINT = (1.31, 2e-7, 0.0124, 1017)


def _pld(sigma, q, T, delta, vdi=1e-4):
    from ewacct.baselines.pld import PldBracket

    return PldBracket([(PoissonSubsampledGaussian(sigma, q), T)]).epsilon_bracket(delta, vdi)


def _certified(**kw):
    clear_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = calibrate_noise(**kw, guarantee="certified")
    clear_caches()
    return r


def _kw():
    e, d, q, T = POINT
    return dict(target_epsilon=e, target_delta=d, sampling_probability=q, steps=T)


def test_certified_sigma_without_the_estimate_at_s0(monkeypatch):
    calls = []
    real = cal._eps_on
    monkeypatch.setattr(cal, "_eps_on", lambda acc, d: calls.append(d) or real(acc, d))
    r = _certified(**_kw())
    e, d, q, T = POINT
    assert not calls  # the model search settled; no eps(delta) at its sigma
    s, s0 = r.noise_multiplier, r.details["certificate"]["exact_sigma"]
    assert r.valid and r.epsilon.upper <= e
    assert 1.0 <= s / s0 <= 1.0 + 1e-4, (s, s0)
    lo, hi = _pld(s, q, T, d)
    assert lo <= r.epsilon.upper and r.epsilon.lower <= hi  # the brackets overlap
    assert hi <= e * (1 + 1e-4)  # dp_accounting's pessimistic end meets the target (to its discretisation)
    assert _pld(s * 0.97, q, T, d)[0] > e  # 3 % less noise: even the optimistic end (~4 % below the truth) misses it


def test_search_sigma_too_small_still_certified(monkeypatch):
    # what the dropped check guarded (a stricter ADD direction or fallback answer at s0): the ladder starts below the
    # smallest certifiable sigma, its first certificate fails, and it climbs to a certified sigma
    real = cal._model_search

    def low(*a, **k):
        got = real(*a, **k)
        return None if got is None else (got[0] * 0.99,) + tuple(got[1:])

    monkeypatch.setattr(cal, "_model_search", low)
    r = _certified(**_kw())
    e, d, q, T = POINT
    s = r.noise_multiplier
    ladder = r.details["certificate"]["ladder"]
    assert ladder[0][1] > e and len(ladder) >= 2  # the first rung failed
    assert r.valid and r.epsilon.upper <= e
    assert _pld(s, q, T, d)[1] <= e * (1 + 1e-4)
    assert s <= 1.05 * r.details["certificate"]["exact_sigma"] / 0.99  # within a few per cent of the optimum
