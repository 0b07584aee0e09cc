"""Data behind ``ewacct report``: every number is computed in the run that draws it.

Sections (each a function returning plain data, no plotting):

* :func:`eps_vs_steps` -- epsilon against T per method, with ewacct's certified bracket as a band
  and every point below that band (a method that under-reports) flagged;
* :func:`error_grid` -- relative difference to exact PLD over a (q, sigma, T) grid;
* :func:`tradeoff_curves` -- f-DP trade-off curves (ewacct, PLD-derived, GDP) on one shared
  epsilon grid;
* :func:`ewtune_audit` -- the EW-Tune GLUE settings: the sigma each method chooses for
  epsilon = 8, the certified true epsilon there, the verdict and the sigma to use;
* :func:`timing_table` -- median seconds per query and the ratio to ewacct.

ewacct's own numbers (the band, the audit's true epsilon, the trade-off curve) come from the public
API only: ``Accountant().compose(...).get_epsilon(delta, certify=True)`` and ``get_delta``, so the
report follows whatever method the accountant uses.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr, ndtri

from ewacct.baselines import get_baseline
from ewacct.baselines.calibration import AuditRow, calibrate_methods
from ewacct.report.verdict import VERDICTS, verdict

__all__ = [
    "ReportConfig",
    "QUICK",
    "DEFAULT",
    "EWTUNE_SETTINGS",
    "VERDICTS",
    "verdict",
    "certified_epsilon",
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
    audit_settings: tuple[str, ...] = ()
    # ewacct's certified calibration is left out: at T ~ 4000 it costs ~40 s per setting with a PLD-based
    # certificate; the sigma to use is the smallest audited sigma whose certified epsilon meets the target
    audit_methods: tuple[str, ...] = ("ew-tune", "ewacct", "rdp", "gdp", "prv", "pld-pessimistic")
    audit_prv_eps_error: float = 0.1  # the eps_error of EW-Tune's PRV baseline (arXiv 2210.15042, its code)
    timing_methods: tuple[str, ...] = ("ewacct", "ewacct-certified", "edgeworth-2", "rdp", "rdp-opacus", "gdp", "pld-pessimistic", "prv")
    timing_repeats: int = 5
    pld_discretization: float = 1e-4
    search_pld_discretization: float = 1e-3
    extra: dict[str, Any] = field(default_factory=dict)


#: EW-Tune's GLUE settings (Behnia et al., arXiv 2210.15042; batch B = 2000, E = 20 epochs,
#: q = B/N, T = E*floor(N/B), as in its ``run_exp.py``). ``ewtune_sigma`` is the noise multiplier of
#: EW-Tune's published training logs for target eps = 8 (None: no such run). The true epsilon at each
#: is tabulated in docs/reference_values.md.
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
    steps_grid=(10, 100, 1000),
    steps_methods=("ewacct", "edgeworth-1", "rdp", "gdp", "pld-pessimistic"),
    grid_q=(0.01, 0.1),
    grid_sigma=(0.8, 2.0),
    grid_T=(100, 1000),
    grid_methods=("ewacct", "rdp", "gdp"),
    tradeoff_eps_points=200,
    audit_settings=("SST-2, delta=1e-05",),
    audit_methods=("ew-tune", "ewacct", "rdp", "gdp", "pld-pessimistic"),
    timing_methods=("ewacct", "rdp", "gdp", "pld-pessimistic"),
    timing_repeats=2,
    pld_discretization=1e-3,
    search_pld_discretization=2e-3,
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
_CERT_CACHE: dict[tuple[tuple[tuple[float, float, int], ...], float], dict[str, Any]] = {}


def certified_epsilon(groups: list[tuple[float, float, int]], delta: float) -> dict[str, Any]:
    """ewacct's certified bracket on the true epsilon of a DP-SGD composition (public API only).

    ``groups`` are ``(noise_multiplier, sampling_probability, steps)``. Returns a dict with
    ``lower``, ``upper``, ``estimate``, ``method`` (the accountant's method for the estimate),
    ``certified_by``, ``seconds`` and ``source`` (one line for the page); ``lower``/``upper`` are None
    with the reason in ``source`` when certification failed. Cached per process.
    """
    key = (tuple((float(s), float(q), int(t)) for s, q, t in groups), float(delta))
    if key in _CERT_CACHE:
        return _CERT_CACHE[key]
    import ewacct
    from ewacct.mechanisms import PoissonSubsampledGaussian

    t0 = time.perf_counter()
    out: dict[str, Any]
    try:
        acc = ewacct.Accountant()
        for s, q, t in key[0]:
            acc.compose(PoissonSubsampledGaussian(noise_multiplier=s, sampling_probability=q), t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = acc.get_epsilon(delta, certify=True)
        lo = None if r.lower is None else float(r.lower)
        hi = None if r.upper is None else float(r.upper)
        by = r.certified_by or "certify=True"
        out = {"lower": lo, "upper": hi, "estimate": float(r.estimate), "method": str(r.method),
               "certified_by": r.certified_by, "source": f"ewacct certified bracket ({by})"}
    except Exception as exc:  # one failure must not sink the page: say so where the number would be
        out = {"lower": None, "upper": None, "estimate": None, "method": None, "certified_by": None,
               "source": f"ewacct certification failed: {type(exc).__name__}: {exc}".splitlines()[0]}
    out["seconds"] = time.perf_counter() - t0
    _CERT_CACHE[key] = out
    return out


def eps_vs_steps(cfg: ReportConfig, tick: Tick = _noop) -> dict[str, Any]:
    """Epsilon against the number of steps, per method, with ewacct's certified band.

    ``below_band[m]`` lists the T at which method m's epsilon is below the certified lower bound:
    there it under-reports the privacy loss.
    """
    series: dict[str, list[float | None]] = {m: [] for m in cfg.steps_methods}
    notes: dict[str, str] = {}
    labels: dict[str, str] = {}
    band_lo: list[float | None] = []
    band_hi: list[float | None] = []
    band_method: list[str | None] = []
    band_by: list[str | None] = []
    sources: list[str] = []
    for T in cfg.steps_grid:
        groups = [(cfg.sigma, cfg.q, T)]
        c = certified_epsilon(groups, cfg.delta)
        band_lo.append(c["lower"])
        band_hi.append(c["upper"])
        band_method.append(c["method"])
        band_by.append(c["certified_by"])
        if c["source"] not in sources:
            sources.append(c["source"])
        tick(f"band T={T}")
        for m in cfg.steps_methods:
            b = get_baseline(m, pld_discretization=cfg.pld_discretization)
            labels[m] = b.label
            r = b.epsilon(groups, target_delta=cfg.delta)
            series[m].append(r.value)
            if not r.ok:
                notes[m] = r.note
            elif not r.valid:
                notes[m] = "outside its validity at some T"
            tick(f"{m} T={T}")
    below: dict[str, list[int]] = {}
    for m, ys in series.items():
        hits = [T for T, y, lo in zip(cfg.steps_grid, ys, band_lo)
                if y is not None and lo is not None and math.isfinite(y) and y < lo * (1 - 1e-9)]
        if hits:
            below[m] = hits
    widths = [(h - lo) / h for lo, h in zip(band_lo, band_hi) if lo is not None and h is not None and h > 0]
    return {
        "q": cfg.q, "sigma": cfg.sigma, "delta": cfg.delta, "steps": list(cfg.steps_grid),
        "series": series, "labels": labels, "notes": notes,
        "band_lower": band_lo, "band_upper": band_hi, "band_method": band_method,
        "band_certified_by": band_by,
        "band_source": "; ".join(sources) if sources else "none",
        "band_max_rel_width": max(widths) if widths else None,
        "below_band": below,
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
    """Trade-off curves beta(alpha): ewacct, PLD-derived, GDP (same q, sigma, T).

    ewacct's and the PLD-derived curve are built the same way (the supremum above, the construction
    of ``Accountant.tradeoff``) on ONE shared epsilon grid, from ewacct's ``get_delta`` and from the
    pessimistic PLD's delta(eps) respectively. Their difference then reflects only the two delta(eps)
    profiles; two different grids would add a sawtooth at the grid spacing (each curve is piecewise
    linear between its supporting lines).
    """
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
    eps_grid = None
    try:
        import ewacct
        from ewacct.mechanisms import PoissonSubsampledGaussian

        acc = ewacct.Accountant()
        acc.compose(PoissonSubsampledGaussian(noise_multiplier=cfg.sigma, sampling_probability=cfg.q), T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eps_max = float(acc.get_epsilon(1e-12).estimate)
            eps_grid = np.linspace(0.0, max(eps_max, 1e-6) * 1.05, cfg.tradeoff_eps_points)
            res = acc.get_delta(eps_grid)
        dl = np.clip(np.asarray(res.estimate, dtype=float), 0.0, 1.0)
        curves["ewacct"] = _tradeoff_from_delta(alpha, eps_grid, dl).tolist()
    except Exception as exc:
        notes["ewacct"] = f"unavailable: {type(exc).__name__}: {exc}".splitlines()[0]
    tick("tradeoff ewacct")
    if eps_grid is None:
        eps_hi = get_baseline("rdp").epsilon(groups, target_delta=1e-10).value or 10.0
        eps_grid = np.linspace(0.0, 1.05 * eps_hi, cfg.tradeoff_eps_points)
    pld = get_baseline("pld-pessimistic", pld_discretization=cfg.pld_discretization)
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
    diff_max = None
    ref = curves.get("PLD-derived (lower bound on f)")
    if ref is not None and "ewacct" in curves:
        diff_max = float(np.max(np.asarray(curves["ewacct"]) - np.asarray(ref)))
    return {"ewacct_minus_pld_max": diff_max, "q": cfg.q, "sigma": cfg.sigma, "steps": T, "alpha": alpha.tolist(), "curves": curves,
            "notes": notes, "gdp_mu": mu, "eps_grid_points": int(eps_grid.size),
            "eps_grid_max": float(eps_grid[-1]), "pld_discretization": cfg.pld_discretization}


def ewtune_audit(cfg: ReportConfig, tick: Tick = _noop, target: float = 8.0) -> list[dict[str, Any]]:
    """For each EW-Tune setting: the sigma each method chooses for epsilon = ``target``, the certified
    true epsilon there (ewacct's certified bracket), the :func:`verdict`, and the sigma to use (the
    smallest audited sigma whose certified epsilon meets the target)."""
    out = []
    for key in cfg.audit_settings:
        s = EWTUNE_SETTINGS[key]
        q = s["B"] / s["N"]
        T = s["E"] * (s["N"] // s["B"])
        tick(f"audit {key}")
        rows: list[dict[str, Any]] = []
        for m in cfg.audit_methods:
            calibrated: list[AuditRow] = calibrate_methods(
                (m,), target_epsilon=target, target_delta=s["delta"], sampling_probability=q, steps=T,
                pld_discretization=cfg.pld_discretization, search_pld_discretization=cfg.search_pld_discretization,
                truth=(), prv_eps_error=cfg.audit_prv_eps_error,
            )
            for r in calibrated:
                d = r.to_dict()
                sigma = d["noise_multiplier"]
                if sigma is not None:
                    c = certified_epsilon([(sigma, q, T)], s["delta"])
                    d.update(true_epsilon_lower=c["lower"], true_epsilon_upper=c["upper"], truth_source=c["source"],
                             truth_seconds=c["seconds"])
                else:
                    d.update(true_epsilon_lower=None, true_epsilon_upper=None, truth_source="-", truth_seconds=0.0)
                d["meets_target"] = verdict(d["true_epsilon_lower"], d["true_epsilon_upper"], target)
                rows.append(d)
            tick(f"audit {key} {m}")
        logged = None
        if s["ewtune_sigma"] is not None:
            c = certified_epsilon([(s["ewtune_sigma"], q, T)], s["delta"])
            logged = {"noise_multiplier": s["ewtune_sigma"], "true_lower": c["lower"], "true_upper": c["upper"],
                      "source": c["source"], "verdict": verdict(c["lower"], c["upper"], target)}
        meeting = [r for r in rows if r["meets_target"] == "meets target" and r["noise_multiplier"] is not None]
        best = min(meeting, key=lambda r: r["noise_multiplier"]) if meeting else None
        recommended = None if best is None else {
            "noise_multiplier": best["noise_multiplier"], "true_upper": best["true_epsilon_upper"], "by": best["name"]}
        out.append({"setting": key, "task": s["task"], "q": q, "steps": T, "delta": s["delta"], "target": target,
                    "ewtune_logged": logged, "rows": rows, "recommended": recommended})
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
