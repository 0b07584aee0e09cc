"""bounds/fewpart_cond.py: two proven brackets of the same number that are disjoint are an internal error, never a
silent decline.  Forced by stubbing the per-grid bracket (epsilon, C14's loop) and the per-grid laws (delta, C13):
the call declines (None) but records the event in INCONSISTENCIES, logs it and warns; with STRICT it raises
DisjointBrackets.  The real brackets are untouched (monkeypatch restores the module)."""

from __future__ import annotations

import logging

import pytest

from ewacct import PoissonSubsampledGaussian
from ewacct.bounds import fewpart_cond as FC

GROUPS = [(PoissonSubsampledGaussian(1.0, 0.01), 50)]


def _stub_eps(monkeypatch):
    got = iter([(0.10, 0.20, {}), (0.30, 0.40, {})])  # wide (so the loop goes on), then disjoint from the first
    monkeypatch.setattr(FC, "_c14_add_ok", lambda *a, **k: True)
    hs = iter([2.0 ** -10, 2.0 ** -12, 2.0 ** -14])
    monkeypatch.setattr(FC, "plan", lambda *a, **k: (next(hs), 8, 1e-9, 1000, 2))
    monkeypatch.setattr(FC, "_bracket_at", lambda *a, **k: next(got))


def test_disjoint_eps_brackets_are_loud(monkeypatch, caplog):
    _stub_eps(monkeypatch)
    monkeypatch.setattr(FC, "INCONSISTENCIES", [])
    with caplog.at_level(logging.ERROR, logger="ewacct"), pytest.warns(RuntimeWarning, match="internal error"):
        r = FC.epsilon_bracket(GROUPS, 1e-6, 0.5, time_budget=10.0)
    assert r is None
    assert len(FC.INCONSISTENCIES) == 1 and "disjoint" in FC.INCONSISTENCIES[0]
    assert any("disjoint" in rec.getMessage() for rec in caplog.records)


def test_disjoint_eps_brackets_strict(monkeypatch):
    _stub_eps(monkeypatch)
    monkeypatch.setattr(FC, "INCONSISTENCIES", [])
    monkeypatch.setattr(FC, "STRICT", True)
    with pytest.raises(FC.DisjointBrackets):
        FC.epsilon_bracket(GROUPS, 1e-6, 0.5, time_budget=10.0)
    assert len(FC.INCONSISTENCIES) == 1


class _Laws:
    def __init__(self, lo, hi):
        self.lo, self.hi, self.Ks = lo, hi, {}

    def delta(self, eps, upper):
        return self.hi if upper else self.lo


def test_disjoint_delta_brackets_are_loud(monkeypatch):
    # C13: the first grid's bracket [1e-6, 2e-6] is wider than rel_width, so a second (finer) grid runs: [3e-6, 4e-6]
    laws = iter([_Laws(1e-6, 2e-6), _Laws(3e-6, 4e-6)])
    monkeypatch.setattr(FC, "_make_laws", lambda *a, **k: (next(laws), (2.0 ** -10, 8, 1e-9, 1000, 2), 1e-3))
    monkeypatch.setattr(FC.fc, "_add_chernoff", lambda groups, d: 0.0)  # ADD shown below: the Chernoff end
    monkeypatch.setattr(FC, "INCONSISTENCIES", [])
    with pytest.warns(RuntimeWarning, match="disjoint"):
        r = FC.delta_bracket(GROUPS, 0.5, 1.5e-6, time_budget=10.0)
    assert r is None and len(FC.INCONSISTENCIES) == 1


def test_overlapping_brackets_intersect():
    assert FC._meet(None, (1.0, 2.0, {"a": 1}), "x") == (1.0, 2.0, {"a": 1})
    assert FC._meet((1.0, 2.0, {}), (1.5, 3.0, {"b": 2}), "x") == (1.5, 2.0, {"b": 2})
    with pytest.raises(FC.DisjointBrackets):
        FC._meet((1.0, 2.0, {}), (2.5, 3.0, {}), "x")
