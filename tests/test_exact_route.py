"""Routing of the exact chain in the few-participation corner (ewacct.methods.dispatch / truncation._route).

Where the few-participation quadrature follows the contour in the chain (sum q n <= 0.5), REMOVE's full
engine is not tried after the truncated composition failed (it then settled 2 of 81 such queries and spent
0.4-157 ms failing on the rest); should the quadrature fail too, the dispatch comes back to the full engine.
References: dp_accounting's PLD bracket (value_discretization_interval 1e-5), and the few-participation
quadrature (another engine: Gauss-Kronrod panels on the truncated MGF) for the contour's answer.
"""

import pytest

import ewacct
from ewacct.methods import fewpart
from ewacct.methods.truncation import FULL_AFTER_TRUNC_NOTE


def test_full_engine_skipped_after_the_truncated_one_answer_inside_pld_bracket():
    pld = pytest.importorskip("dp_accounting.pld.privacy_loss_distribution")
    s, q, T, d = 1.5, 1e-3, 100, 1e-10

    def end(pess):
        p = pld.from_gaussian_mechanism(standard_deviation=s, sensitivity=1.0, sampling_prob=q,
                                        value_discretization_interval=1e-5, pessimistic_estimate=pess,
                                        use_connect_dots=pess)
        return p.self_compose(T).get_epsilon_for_delta(d)

    r = ewacct.epsilon(noise_multiplier=s, sampling_probability=q, steps=T, target_delta=d)
    assert r.method == "exact-fewpart" and r.valid
    assert FULL_AFTER_TRUNC_NOTE in r.diagnostics["contour"]
    lo, hi = end(False), end(True)
    assert lo <= r.value <= hi * (1 + 1e-9), (lo, r.value, hi)


def test_full_engine_retried_when_the_quadrature_fails(monkeypatch):
    # sigma 1, q 0.003, T 100, delta 1e-10: the truncated composition fails, the full engine settles it
    kw = dict(noise_multiplier=1.0, sampling_probability=0.003, steps=100, target_delta=1e-10)
    ref, rel, _ = fewpart.fewpart_epsilon([(0.003, 1.0, 100)], 1e-10)
    assert rel < 1e-7

    def refuse(*a, **k):
        raise fewpart.FewPartError("forced by the test")

    monkeypatch.setattr(fewpart, "fewpart_epsilon", refuse)
    r = ewacct.epsilon(**kw)
    assert r.method == "exact" and r.valid, (r.method, r.diagnostics)
    assert abs(r.value - ref) <= 1e-8 * ref, (r.value, ref)


def test_truncated_composition_capped_where_the_quadrature_follows():
    # sigma 0.5, q 1e-5, T 30000, delta 1e-10: the truncated composition spent ~0.8 s failing before the
    # quadrature answered in ~50 ms; it now gets FEW_TRUNC_BUDGET of CPU there
    import time

    from ewacct.methods.truncation import FEW_TRUNC_BUDGET

    kw = dict(noise_multiplier=0.5, sampling_probability=1e-5, steps=30000, target_delta=1e-10)
    ewacct.epsilon(**kw)  # kernels loaded
    t0 = time.process_time()
    r = ewacct.epsilon(**kw)
    dt = time.process_time() - t0
    # the truncated composition answers within its capped budget (since H-D3's acceptance on eps: 2.468756874166
    # at an estimated 3.3e-8 where the kernels are warm) or the quadrature after it
    assert r.method in ("exact", "exact-fewpart") and r.valid
    assert dt <= FEW_TRUNC_BUDGET + 0.35, dt
    ref, rel, _ = fewpart.fewpart_epsilon([(1e-5, 0.5, 30000)], 1e-10)
    # (with patch D4-1 the conditioned expansion answers first here, fewpart_condexact.py: 2.46875687417 at an
    # estimate ~1e-12, 3.3e-12 from the quadrature's 2.46875687418, itself at an estimate ~1e-8)
    assert r.value == pytest.approx(ref, rel=1e-8 if r.method == "exact-fewpart" else 1e-7)


def test_exact_real_kernel_checks_the_query_deadline(monkeypatch):
    """The saddle search's real log-MGF (k012) consults the query's deadline like the complex kernel:
    past it the engine raises ContourError and the dispatch answers its flagged Chernoff bound
    (sigma 681.6, q 1.91e-6, T 96, eps 1e-3 spent 5 s in 99 real-kernel calls without the check)."""
    import ewacct.methods.exact as ex
    from ewacct import Accountant, PoissonSubsampledGaussian

    import ewacct._kernels.mgf as mgf

    Accountant().compose(PoissonSubsampledGaussian(1.0, 0.01), 10).get_epsilon(1e-5)  # kernels loaded
    calls = []
    real = mgf.sg_composition_real

    def spy(*args):
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr(mgf, "sg_composition_real", spy)
    monkeypatch.setattr(ex.ExactDirection, "TIME_BUDGET", -1.0)  # every deadline already passed
    # (the proven tail bound answers this point 0 before any stage, delta < e^-807670: tests/test_tail_bound.py;
    # switched off here so that the engine's real kernel is what is checked)
    from ewacct.methods import dispatch

    monkeypatch.setattr(dispatch, "TAIL_BOUND_QN", -1.0)
    acc = Accountant().compose(PoissonSubsampledGaussian(681.6, 1.91e-6), 96)
    with pytest.warns(Warning):
        r = acc.get_delta(1e-3)
    assert len(calls) < 30  # the fallback's own Chernoff search (11); 99 before the check
    assert not r.valid and r.method == "chernoff-bound"
    assert 0.0 <= r.value <= 1.1e-7  # the Chernoff bound (the truth is below 1e-100)
