"""The few-participation quadrature's split-pair error estimate (fewpart.Panels.pair_errors, session 12).

A split panel's error estimate may come from its parent's 15 nodes (|K15(parent) - K15(halves)| plus the halves'
|K15 - G7| extrapolated one halving further) instead of the halves' own |K15 - G7|.  Checked here: answers with it
stay within their own error estimate of the contour engine's delta (an independent quadrature: trapezoid in u on
the untruncated kernel, methods/contour.py) where that engine settles to 1e-8, and it spends fewer nodes.
"""

import warnings

import pytest

from ewacct.mechanisms import PoissonSubsampledGaussian
from ewacct.methods import fewpart as fp
from ewacct.methods.exact import ExactMethod


@pytest.mark.parametrize("q,sigma,steps,eps", [
    (1e-2, 1.0, 10, 1.5),
    (0.05, 1.5, 10, 0.5),
    (1e-3, 0.6, 300, 2.0),
])
def test_pair_estimate_answers_within_their_estimate_of_the_contour_engine(q, sigma, steps, eps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, _, ref_rel = ExactMethod([(PoissonSubsampledGaussian(sigma, q), steps)]).delta(eps)[:3]
    assert ref_rel <= 1e-8
    val, rel, _ = fp.fewpart_delta([(q, sigma, steps)], eps)
    assert rel <= 1e-8
    assert abs(val - ref) <= rel * val + ref_rel * ref, (val, ref, rel, ref_rel)


def test_pair_estimate_spends_fewer_nodes_and_never_raises_an_estimate(monkeypatch):
    # sigma 0.5, q 1e-3, T 100, delta 1e-10 (benchmarks/fewpart_sigma05.py): count the kernel's contour nodes
    # with and without the pair estimate; every estimate it returns is at most the panel's own
    counts = {}
    orig = fp.Composition.with_error
    pair = fp.Panels.pair_errors

    def counting(self, z):
        counts[flag] = counts.get(flag, 0) + len(z)
        return orig(self, z)

    def checked(self, err, eps, m):
        out = pair(self, err, eps, m)
        assert (out <= err).all()
        return out

    monkeypatch.setattr(fp.Composition, "with_error", counting)
    monkeypatch.setattr(fp.Panels, "pair_errors", checked)
    vals = {}
    for flag in (False, True):
        monkeypatch.setattr(fp, "PAIR_ERRORS", flag)
        vals[flag] = fp.fewpart_epsilon([(1e-3, 0.5, 100)], 1e-10)
    assert counts[True] < counts[False]
    # both within their estimates of each other
    assert abs(vals[True][0] - vals[False][0]) <= (vals[True][1] + vals[False][1]) * vals[False][0]
