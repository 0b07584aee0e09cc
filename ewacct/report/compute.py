"""Data behind ``ewacct report``: every number is computed in the run that draws it.

Sections (each a function returning plain data, no plotting):

* :func:`eps_vs_steps` -- epsilon against T per method, with a certified band;
* :func:`error_grid` -- relative difference to exact PLD over a (q, sigma, T) grid;
* :func:`tradeoff_curves` -- f-DP trade-off curves (ewacct, PLD-derived, GDP);
* :func:`ewtune_audit` -- the EW-Tune GLUE settings: sigma each method chooses and
  the certified true epsilon there;
* :func:`timing_table` -- median seconds per query and the ratio to ewacct.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr, ndtri

from ewacct.baselines import get_baseline
from ewacct.baselines.calibration import AuditRow, calibrate_methods

__all__ = [
    "ReportConfig",
    "QUICK",
    "DEFAULT",
    "EWTUNE_SETTINGS",
    "eps_vs_steps",
    "error_grid",
    "tradeoff_curves",
    "ewtune_audit",
    "timing_table",
]

Tick = Callable[[str], None]


def _noop(_: str) -> None:
    return None


@dataclass(frozen=True)
class ReportConfig:
    """What the report computes (the default grid, or ``--quick``)."""

    name: str
    q: float = 0.01
    sigma: float = 1.0
    delta: float = 1e-5
    steps_grid: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000, 10000)
    steps_methods: tuple[str, ...] = ("ewacct", "edgeworth-1", "edgeworth-2", "ew-tune", "rdp", "gdp", "pld-pessimistic")
    grid_q: tuple[float, ...] = (0.001, 0.01, 0.1)
    grid_sigma: tuple[float, ...] = (0.6, 0.8, 1.0, 2.0)
    grid_T: tuple[int, ...] = (100, 1000, 10000)
    grid_methods: tuple[str, ...] = ("ewacct", "edgeworth-2", "rdp", "gdp")
    tradeoff_T: int = 1000
    tradeoff_eps_points: int = 400
    tradeoff_n_grid: int = 400
    audit_settings: tuple[str, ...] = ()
    audit_methods: tuple[str, ...] = ("ew-tune", "ewacct", "rdp", "gdp", "prv", "pld-pessimistic")
    audit_prv_eps_error: float = 0.1  # EW-Tune's PRV setting (theory.md §6.1)
    timing_methods: tuple[str, ...] = ("ewacct", "ewacct-certified", "edgeworth-2", "rdp", "rdp-opacus", "gdp", "pld-pessimistic", "prv")
    timing_repeats: int = 5
    pld_discretization: float = 1e-4
    search_pld_discretization: float = 1e-3
    band: str = "ewacct-certified"
    extra: dict[str, Any] = field(default_factory=dict)


#: EW-Tune's GLUE settings (theory.md §6.2/6.3): B = 2000, E = 20, q = B/N, T = E*floor(N/B).
#: ``ewtune_sigma`` is the noise multiplier EW-Tune logged for target eps = 8 (None: not run).
EWTUNE_SETTINGS: dict[str, dict[str, Any]] = {
    f"{task}, delta={d:g}": {"task": task, "N": n, "B": 2000, "E": 20, "delta": d, "ewtune_sigma": s}
    for task, n, d, s in [
        ("SST-2", 67349, 1e-5, 0.7865), ("QNLI", 104743, 1e-5, 0.711), ("QQP", 363849, 1e-5, 0.5635),
        ("MNLI", 392702, 1e-5, 0.557), ("SST-2", 67349, 1e-6, None), ("QNLI", 104743, 1e-6, 0.7395),
        ("QQP", 363849, 1e-6, 0.58), ("MNLI", 392702, 1e-6, 0.573),
    ]
}

QUICK = ReportConfig(
    name="quick",
    steps_grid=(10, 100, 1000, 10000),
    steps_methods=("ewacct", "edgeworth-1", "rdp", "gdp", "pld-pessimistic"),
    grid_q=(0.01, 0.1),
    grid_sigma=(0.8, 2.0),
    grid_T=(100, 1000),
    grid_methods=("ewacct", "rdp", "gdp"),
    tradeoff_n_grid=40,
    audit_settings=("SST-2, delta=1e-05",),
    audit_methods=("ew-tune", "ewacct", "rdp", "gdp", "pld-pessimistic"),
    timing_methods=("ewacct", "rdp", "gdp", "pld-pessimistic"),
    timing_repeats=3,
    pld_discretization=1e-3,
    search_pld_discretization=2e-3,
    band="pld",
)

DEFAULT = ReportConfig(name="default", audit_settings=tuple(EWTUNE_SETTINGS))


def work_units(cfg: ReportConfig) -> int:
    """Number of progress-bar ticks the report will make."""
    return (
        len(cfg.steps_grid) * (len(cfg.steps_methods) + 1)
        + len(cfg.grid_q) * len(cfg.grid_sigma) * len(cfg.grid_T) * (len(cfg.grid_methods) + 1)
        + 3
        + len(cfg.audit_settings) * (len(cfg.audit_methods) + 1)
        + len(cfg.timing_methods)
    )


# --------------------------------------------------------------------------------------
def _band(groups: list[tuple[float, float, int]], delta: float, cfg: ReportConfig) -> tuple[float | None, float | None, str]:
    """Certified bracket: ewacct's (default grid) when available, else the PLD bracket."""
    if cfg.band == "ewacct-certified":
        r = get_baseline("ewacct-certified").epsilon(groups, target_delta=delta)
        if r.ok and r.lower is not None and r.upper is not None:
            by = r.extra.get("certified_by")
            return r.lower, r.upper, "ewacct certified" + (f", by {by}" if by else "")
    p = get_baseline("pld-pessimistic", pld_discretization=cfg.pld_discretization).epsilon(groups, target_delta=delta)
    if p.ok:
        return p.lower, p.upper, f"PLD bracket (discretisation {cfg.pld_discretization:g})"
    return None, None, "none"


def eps_vs_steps(cfg: ReportConfig, tick: Tick = _noop) -> dict[str, Any]:
    """Epsilon against the number of steps, per method, with a certified band."""
    series: dict[str, list[float | None]] = {m: [] for m in cfg.steps_methods}
    notes: dict[str, str] = {}
    labels: dict[str, str] = {}
    band_lo: list[float | None] = []
    band_hi: list[float | None] = []
    band_src = "none"
    for T in cfg.steps_grid:
        groups = [(cfg.sigma, cfg.q, T)]
        lo, hi, band_src = _band(groups, cfg.delta, cfg)
        band_lo.append(lo)
        band_hi.append(hi)
        tick(f"band T={T}")
        for m in cfg.steps_methods:
            b = get_baseline(m, pld_discretization=cfg.pld_discretization)
            labels[m] = b.label
            r = b.epsilon(groups, target_delta=cfg.delta)
            series[m].append(r.value)
            if not r.ok:
                notes[m] = r.note
            elif not r.valid:
                notes[m] = "outside validity at some T"
            tick(f"{m} T={T}")
    return {
        "q": cfg.q, "sigma": cfg.sigma, "delta": cfg.delta, "steps": list(cfg.steps_grid),
        "series": series, "labels": labels, "notes": notes,
        "band_lower": band_lo, "band_upper": band_hi, "band_source": band_src,
    }


def error_grid(cfg: ReportConfig, tick: Tick = _noop) -> dict[str, Any]:
    """Relative difference (eps - eps_PLD) / eps_PLD over the (q, sigma, T) grid, per method."""
    rows = [(q, T) for q in cfg.grid_q for T in cfg.grid_T]
    shape = (len(rows), len(cfg.grid_sigma))
    out: dict[str, np.ndarray] = {m: np.full(shape, np.nan) for m in cfg.grid_methods}
    invalid: dict[str, np.ndarray] = {m: np.zeros(shape, dtype=bool) for m in cfg.grid_methods}
    exact: dict[str, np.ndarray] = {m: np.zeros(shape, dtype=bool) for m in cfg.grid_methods}
    ref_width = np.full(shape, np.nan)
    labels: dict[str, str] = {}
    notes: dict[str, str] = {}
    pld = get_baseline("pld-pessimistic", pld_discretization=cfg.pld_discretization)
    for i, (q, T) in enumerate(rows):
        for j, s in enumerate(cfg.grid_sigma):
            groups = [(s, q, T)]
            ref = pld.epsilon(groups, target_delta=cfg.delta)
            tick(f"PLD q={q} s={s} T={T}")
            if ref.ok and ref.upper and ref.upper > 0:
                ref_width[i, j] = (ref.upper - (ref.lower or ref.upper)) / ref.upper
            for m in cfg.grid_methods:
                b = get_baseline(m, pld_discretization=cfg.pld_discretization)
                labels[m] = b.label
                r = b.epsilon(groups, target_delta=cfg.delta)
                if r.ok and ref.ok and ref.upper and ref.upper > 0 and r.value is not None and math.isfinite(r.value):
                    out[m][i, j] = (r.value - ref.upper) / ref.upper
                    invalid[m][i, j] = not r.valid
                    exact[m][i, j] = r.extra.get("method") == "pld"
                elif not r.ok:
                    notes[m] = r.note
                tick(f"{m} q={q} s={s} T={T}")
    return {
        "rows": [f"q={q:g}, T={T}" for q, T in rows], "sigmas": list(cfg.grid_sigma), "delta": cfg.delta,
        "rel": {m: v.tolist() for m, v in out.items()}, "invalid": {m: v.tolist() for m, v in invalid.items()},
        "answered_by_pld": {m: v.tolist() for m, v in exact.items()},
        "ref_width": ref_width.tolist(), "labels": labels, "notes": notes,
        "pld_discretization": cfg.pld_discretization,
    }


def _tradeoff_from_delta(alpha: np.ndarray, eps: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """f(alpha) = sup_eps max(0, 1 - delta(eps) - e^eps alpha, e^-eps (1 - delta(eps) - alpha)).

    With delta(eps) an upper bound at finitely many eps this is a valid lower
    bound on the trade-off function (Dong, Roth, Su 2022, Prop 2.12).
    """
    a = alpha[:, None]
    e = eps[None, :]
    d = delta[None, :]
    v1 = 1.0 - d - np.exp(e) * a
    v2 = np.exp(-e) * (1.0 - d - a)
    return np.clip(np.max(np.maximum(v1, v2), axis=1), 0.0, 1.0)


def tradeoff_curves(cfg: ReportConfig, tick: Tick = _noop) -> dict[str, Any]:
    """Trade-off curves beta(alpha): ewacct, PLD-derived, GDP (same q, sigma, T)."""
    from ewacct.baselines import gdp_mu

    T = cfg.tradeoff_T
    groups = [(cfg.sigma, cfg.q, T)]
    alpha = np.concatenate([np.logspace(-6, -2, 25), np.linspace(0.01, 1.0, 100)])
    curves: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    # GDP: beta = Phi(Phi^{-1}(1 - alpha) - mu)
    mu = gdp_mu(groups)
    curves["GDP / CLT"] = ndtr(ndtri(1.0 - alpha) - mu).tolist()
    tick("tradeoff gdp")
    # ewacct
    try:
        import ewacct
        from ewacct.mechanisms import PoissonSubsampledGaussian

        acc = ewacct.Accountant()
        acc.compose(PoissonSubsampledGaussian(noise_multiplier=cfg.sigma, sampling_probability=cfg.q), T)
        try:
            res = acc.tradeoff(alpha, n_grid=cfg.tradeoff_n_grid)
        except TypeError:  # a core without the n_grid knob
            res = acc.tradeoff(alpha)
        beta = np.asarray(getattr(res, "beta", getattr(res, "value", res)), dtype=float)
        curves["ewacct"] = beta.tolist()
    except Exception as exc:
        notes["ewacct"] = f"unavailable: {type(exc).__name__}: {exc}".splitlines()[0]
    tick("tradeoff ewacct")
    # PLD-derived: pessimistic delta(eps) on an eps grid -> a lower bound on f
    pld = get_baseline("pld-pessimistic", pld_discretization=cfg.pld_discretization)
    eps_hi = get_baseline("rdp").epsilon(groups, target_delta=1e-10).value or 10.0
    eps_grid = np.concatenate([[0.0], np.linspace(0.01, 1.2 * eps_hi, cfg.tradeoff_eps_points - 1)])
    if pld.available:
        try:
            from ewacct.baselines.pld import PldBracket, groups_to_mechanisms

            dist = PldBracket(groups_to_mechanisms(groups)).pld(True, cfg.pld_discretization)
            deltas = np.clip(np.asarray(dist.get_delta_for_epsilon(eps_grid), dtype=float), 0.0, 1.0)
            curves["PLD-derived (lower bound on f)"] = _tradeoff_from_delta(alpha, eps_grid, deltas).tolist()
        except Exception as exc:
            notes["PLD-derived"] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
    else:
        notes["PLD-derived"] = f"unavailable: {pld.reason}"
    tick("tradeoff pld")
    return {"q": cfg.q, "sigma": cfg.sigma, "steps": T, "alpha": alpha.tolist(), "curves": curves,
            "notes": notes, "gdp_mu": mu}


def ewtune_audit(cfg: ReportConfig, tick: Tick = _noop) -> list[dict[str, Any]]:
    """For each EW-Tune setting: the sigma each method chooses (target eps 8) and the true eps there."""
    from ewacct.baselines.calibration import certified_bracket

    out = []
    for key in cfg.audit_settings:
        s = EWTUNE_SETTINGS[key]
        q = s["B"] / s["N"]
        T = s["E"] * (s["N"] // s["B"])
        tick(f"audit {key}")
        rows: list[AuditRow] = []
        for m in cfg.audit_methods:
            rows.extend(calibrate_methods(
                (m,), target_epsilon=8.0, target_delta=s["delta"], sampling_probability=q, steps=T,
                pld_discretization=cfg.pld_discretization, search_pld_discretization=cfg.search_pld_discretization,
                truth=("pld",), prv_eps_error=cfg.audit_prv_eps_error,
            ))
            tick(f"audit {key} {m}")
        logged = None
        if s["ewtune_sigma"] is not None:
            lo, hi, src, _ = certified_bracket([(s["ewtune_sigma"], q, T)], target_delta=s["delta"],
                                               pld_discretization=cfg.pld_discretization, prefer=("pld",))
            logged = {"noise_multiplier": s["ewtune_sigma"], "true_lower": lo, "true_upper": hi, "source": src}
        out.append({"setting": key, "task": s["task"], "q": q, "steps": T, "delta": s["delta"],
                    "ewtune_logged": logged, "rows": [r.to_dict() for r in rows]})
    return out


def timing_table(cfg: ReportConfig, tick: Tick = _noop) -> dict[str, Any]:
    """Median seconds per epsilon query (composition included), each method, same run."""
    from ewacct.baselines import pld_adapter

    groups = [(cfg.sigma, cfg.q, 1000)]
    rows = []
    for m in cfg.timing_methods:
        b = get_baseline(m, pld_discretization=cfg.pld_discretization)
        times = []
        value = None
        note = ""
        if b.available:
            b.epsilon(groups, target_delta=cfg.delta)  # warm-up (imports, JIT)
            for _ in range(cfg.timing_repeats):
                pld_adapter.pld_bracket_epsilon.cache_clear()
                t0 = time.perf_counter()
                r = b.epsilon(groups, target_delta=cfg.delta)
                times.append(time.perf_counter() - t0)
                value = r.value
                note = r.note
        else:
            note = f"unavailable: {b.reason}"
        rows.append({"name": m, "label": b.label, "median_s": statistics.median(times) if times else None,
                     "repeats": len(times), "epsilon": value, "note": note})
        tick(f"timing {m}")
    base = next((r["median_s"] for r in rows if r["name"] == "ewacct" and r["median_s"]), None)
    for r in rows:
        r["ratio_to_ewacct"] = (r["median_s"] / base) if (base and r["median_s"]) else None
    return {"q": cfg.q, "sigma": cfg.sigma, "steps": 1000, "delta": cfg.delta, "rows": rows,
            "pld_discretization": cfg.pld_discretization}
