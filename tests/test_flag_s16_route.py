"""The default eps(delta) at the two wide-body points of benchmarks/trunc_d3_scan.py (session 16, H-DF; needs the
dispatch to pass delta to fewpart_condexact.first, patch DF-2): exact (valid) inside the certified bracket, where it
was the flagged Chernoff bound 2.540 / 1.634."""

from __future__ import annotations

import pytest

import ewacct


@pytest.mark.parametrize("sigma,q,T,delta", [
    (0.5853837097270177, 1.0094436411029702e-07, 2971989548, 1.476395078012363e-12),
    (0.6106225912565828, 4.5006683052621884e-07, 146336358, 3.265911684987127e-13)])
def test_wide_body_default_is_exact(sigma, q, T, delta, monkeypatch):
    from ewacct.methods import fewpart_condexact as fc

    monkeypatch.setattr(fc, "WIDE_BUDGET_S", 0.5)  # ~0.15 s needed: the call's 0.6 s budget stays the limit
    kw = dict(noise_multiplier=sigma, sampling_probability=q, steps=T, target_delta=delta)
    r = ewacct.epsilon(**kw)
    assert r.valid and r.method == "exact-fewpart"
    c = ewacct.epsilon(**kw, certify=True)
    assert c.lower <= r.value <= c.upper
