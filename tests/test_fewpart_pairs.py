"""The few-participation quadrature's split-pair error estimate (fewpart.Panels.pair_errors, session 12) and the
eps(delta) search's lower abscissa where its root spends the node budget (fewpart._Direction._lower_contour).

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


def test_search_moves_to_a_lower_abscissa_where_the_root_spends_the_node_budget(monkeypatch):
    # sigma 0.52, q 8.86e-7, T 37725, delta 3.19e-13 (benchmarks/fewpart_flagged_scan.py seed 6 #13): at the
    # root the saddle's contour (c ~ 6) spent the 6000 nodes on the truncation edge's oscillation and the query
    # was refused (flagged in the dispatch); _Direction._lower_contour retries at half and a fifth of that
    # abscissa.  References: the refused search's own estimate (another contour), and delta(eps) at the answer
    # from fewpart_delta's separate search (its estimate returned with its refusal), each within its estimate
    q, sigma, steps, delta = 8.86e-07, 0.52, 37725, 3.19e-13
    eps, rel, _ = fp.fewpart_epsilon([(q, sigma, steps)], delta)
    assert rel <= 1e-6
    try:
        d, d_rel, _ = fp.fewpart_delta([(q, sigma, steps)], eps)
    except fp.FewPartError as exc:
        assert exc.estimate is not None
        d, d_rel, _ = exc.estimate
    # (a relative error r of delta moves eps by r / (eps |d log delta / d eps|), here ~5.3)
    assert abs(d - delta) <= (d_rel + 5.3 * rel * eps) * delta
    monkeypatch.setattr(fp, "LOWER_FACTORS", ())
    with pytest.raises(fp.FewPartError) as info:
        fp.fewpart_epsilon([(q, sigma, steps)], delta)
    est = info.value.estimate
    assert est is not None and abs(est[0] - eps) <= (est[1] + rel) * eps
