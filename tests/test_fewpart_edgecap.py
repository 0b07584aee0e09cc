"""fewpart's abscissa capped by the truncation edge's weight against the target (EDGE_REL_LOG).

Near the root of an eps(delta) search whose contour puts the edge's weight above e^-8 of the target
(sigma = 0.5, q <= 1e-5, delta = 1e-10), the contour is rebuilt at a lower abscissa.  References:
dp_accounting's PLD bracket (independent, coarse), delta(eps) at the answer by fewpart_delta (a contour
at another abscissa, the uncapped one: a wrong capped answer, as at a weaker cap e^-8 where delta came out
4.5e-7 low at q = 1e-6, T = 5e5, shows here), and the search with the cap switched off.
"""

import math

import pytest

import ewacct.methods.fewpart as fp
from ewacct.methods.fewpart import fewpart_delta, fewpart_epsilon


def _fired(monkeypatch):
    seen = []
    orig = fp._Direction._contour

    def wrap(self, eps):
        if self.rel_target is not None:
            seen.append(self.P.c if self.P is not None else None)
        return orig(self, eps)

    monkeypatch.setattr(fp._Direction, "_contour", wrap)
    return seen


@pytest.mark.parametrize("q,T", [(1e-6, 1000), (1e-6, 500000), (1e-5, 100)])
def test_capped_search_agrees_with_uncapped_and_roundtrips(monkeypatch, q, T):
    seen = _fired(monkeypatch)
    eps, rel, d = fewpart_epsilon([(q, 0.5, T)], 1e-10)
    assert seen, "the cap did not apply: this test no longer exercises it"
    assert d == "remove" and rel <= 1e-7
    # delta at the answer, on fewpart_delta's own (uncapped) contour: the target, within the estimates
    got, rel_d, _ = fewpart_delta([(q, 0.5, T)], eps)
    slope = abs(math.log(fewpart_delta([(q, 0.5, T)], eps * (1 + 1e-4))[0] / got)) / (eps * 1e-4)
    assert abs(got / 1e-10 - 1.0) <= rel_d + 2.0 * rel * eps * slope + 2e-8, (got, rel_d, rel)
    # the search without the cap (the abscissa at the truncation edge's absolute cap)
    monkeypatch.setattr(fp, "EDGE_REL_LOG", None)
    eps0, rel0, _ = fewpart_epsilon([(q, 0.5, T)], 1e-10)
    assert abs(eps - eps0) <= 2.0 * (rel + rel0) * eps0, (eps, eps0, rel, rel0)


def test_capped_search_inside_pld_bracket(monkeypatch):
    # (bucket-wise pessimistic PLD, no connect-dots: with connect-dots at this interval the pessimistic end
    # was 0.909963, below the exact 0.9099877 that the interval 1e-5 bracket [0.909769, 0.910013] holds)
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    q, sigma, T, delta = 1e-5, 0.5, 100, 1e-10
    seen = _fired(monkeypatch)
    eps, rel, _ = fewpart_epsilon([(q, sigma, T)], delta)
    assert seen and rel <= 1e-7

    def bracket_end(pess):
        p = pld.from_gaussian_mechanism(standard_deviation=sigma, sensitivity=1.0, sampling_prob=q,
                                        value_discretization_interval=1e-4, pessimistic_estimate=pess,
                                        use_connect_dots=False, log_mass_truncation_bound=-50.0)
        return p.self_compose(T).get_epsilon_for_delta(delta)

    lo, hi = bracket_end(False), bracket_end(True)
    assert lo <= eps <= hi, (lo, eps, hi)


def test_failed_capped_search_retries_uncapped(monkeypatch):
    # a capped contour that fails (here: made to): the search is run again from scratch without the cap
    # and answers what the uncapped search answers, instead of refusing
    q, T = 1e-6, 1000
    orig = fp._Direction._contour
    calls = []

    def failing(self, eps):
        if self.rel_target is not None:
            calls.append(eps)
            raise fp.FewPartError("Gauss-Kronrod quadrature did not converge (test)")
        return orig(self, eps)

    monkeypatch.setattr(fp._Direction, "_contour", failing)
    eps, rel, _ = fewpart_epsilon([(q, 0.5, T)], 1e-10)
    assert calls
    monkeypatch.setattr(fp._Direction, "_contour", orig)
    monkeypatch.setattr(fp, "EDGE_REL_LOG", None)
    eps0, rel0, _ = fewpart_epsilon([(q, 0.5, T)], 1e-10)
    assert eps == eps0 and rel == rel0
