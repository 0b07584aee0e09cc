"""Matplotlib figures of ``ewacct report`` (Agg backend, PNG files).

Every figure is drawn at most 8 inches wide at 110 dpi (<= 880 px), with text of at least 8 pt, so
that it stays readable when the page shows it at 800 px and is not enlarged past its natural size
at 1400 px.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_eps_vs_steps", "plot_error_heatmap", "plot_tradeoff", "plot_audit", "DPI", "MAX_WIDTH_IN"]

DPI = 110
MAX_WIDTH_IN = 8.0


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
                         "xtick.labelsize": 8, "ytick.labelsize": 8})
    return plt


def _save(fig: Any, path: Path) -> Path:
    """Save within the width budget: bbox 'tight' may only shrink the canvas, never widen it."""
    w, h = fig.get_size_inches()
    if w > MAX_WIDTH_IN:  # never happens by construction; keeps the promise if a layout changes
        fig.set_size_inches(MAX_WIDTH_IN, h * MAX_WIDTH_IN / w)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    return path


def plot_eps_vs_steps(data: dict[str, Any], path: Path) -> Path:
    """Epsilon vs steps per method, with ewacct's certified band; points below the band are circled."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.6, 5.6))
    T = np.asarray(data["steps"], dtype=float)
    lo = np.array([np.nan if v is None else v for v in data["band_lower"]], dtype=float)
    hi = np.array([np.nan if v is None else v for v in data["band_upper"]], dtype=float)
    if np.isfinite(hi).any():
        ax.fill_between(T, lo, hi, color="0.55", alpha=0.5, lw=0, zorder=1,
                        label="certified bracket (ewacct, certify=True)")
        ax.plot(T, lo, color="0.35", lw=0.8, zorder=1)
        ax.plot(T, hi, color="0.35", lw=0.8, zorder=1)
    styles = {"pld-pessimistic": dict(color="k", lw=1.6, ls=":"), "ewacct": dict(color="C3", lw=2.0, marker="o", ms=4)}
    below = data.get("below_band", {})
    flagged = False
    for i, (m, ys) in enumerate(data["series"].items()):
        y = np.array([np.nan if v is None else v for v in ys], dtype=float)
        if not np.isfinite(y).any():
            continue
        st = styles.get(m, dict(color=f"C{i % 10}", lw=1.2, ls="--", marker=".", ms=5))
        label = data["labels"].get(m, m)
        if m in below:
            label += "  (under-reports)"
        ax.plot(T, y, label=label, zorder=3, **st)
        for t in below.get(m, []):
            k = list(data["steps"]).index(t)
            ax.plot([T[k]], [y[k]], marker="o", ms=11, mfc="none", mec="#c00000", mew=1.6, ls="none", zorder=4,
                    label=None if flagged else "below the certified lower bound")
            flagged = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps T")
    ax.set_ylabel(f"epsilon at delta = {data['delta']:g}")
    ax.set_title(f"DP-SGD, q = {data['q']:g}, sigma = {data['sigma']:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, framealpha=0.9)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


def plot_error_heatmap(data: dict[str, Any], path: Path) -> Path:
    """Relative difference to exact PLD (percent) over the grid, panels two per row."""
    plt = _plt()
    from matplotlib.colors import SymLogNorm

    methods = [m for m in data["rel"] if np.isfinite(np.asarray(data["rel"][m], dtype=float)).any()]
    n = max(len(methods), 1)
    ncols = min(n, 2)
    nrows_p = math.ceil(n / ncols)
    nrows = len(data["rows"])
    fig, axes = plt.subplots(nrows_p, ncols, figsize=(7.8, nrows_p * (0.36 * nrows + 1.5) + 0.9), squeeze=False,
                             layout="constrained")
    vmax = 100.0
    norm = SymLogNorm(linthresh=0.1, vmin=-vmax, vmax=vmax, base=10)
    im = None
    flat = axes.ravel()
    for k, (ax, m) in enumerate(zip(flat, methods)):
        rel = 100.0 * np.asarray(data["rel"][m], dtype=float)
        inv = np.asarray(data["invalid"][m], dtype=bool)
        by_pld = np.asarray(data.get("answered_by_pld", {}).get(m, np.zeros_like(inv)), dtype=bool)
        im = ax.imshow(np.clip(rel, -vmax, vmax), cmap="RdBu_r", norm=norm, aspect="auto")
        for i in range(rel.shape[0]):
            for j in range(rel.shape[1]):
                v = rel[i, j]
                txt = "n/a" if not math.isfinite(v) else (f"{v:+.2f}" if abs(v) < 10 else f"{v:+.0f}")
                ax.text(j, i, txt + ("*" if inv[i, j] else "") + (" p" if by_pld[i, j] else ""), ha="center",
                        va="center", fontsize=8, color="k" if (not math.isfinite(v) or abs(v) < 20) else "w")
        ax.set_title(data["labels"].get(m, m), fontsize=9)
        ax.set_xticks(range(len(data["sigmas"])), [f"{s:g}" for s in data["sigmas"]])
        ax.set_xlabel("sigma")
        ax.set_yticks(range(nrows), data["rows"] if k % ncols == 0 else [""] * nrows)
    for ax in flat[len(methods):]:
        ax.set_axis_off()
    if im is not None:
        cb = fig.colorbar(im, ax=flat.tolist(), shrink=0.85)
        cb.set_label("(eps - eps_PLD) / eps_PLD  [%]")
    fig.suptitle(f"relative difference to exact PLD (pessimistic), delta = {data['delta']:g}\n"
                 "* outside the method's validity; p answered by ewacct's exact PLD fallback", fontsize=9)
    _save(fig, path)
    plt.close(fig)
    return path


def plot_tradeoff(data: dict[str, Any], path: Path) -> Path:
    """f-DP trade-off curves (linear and log-alpha panels) and their difference to the PLD-derived curve."""
    plt = _plt()
    alpha = np.asarray(data["alpha"], dtype=float)
    fig = plt.figure(figsize=(7.6, 7.4))
    gs = fig.add_gridspec(2, 2, height_ratios=(1.0, 0.9))
    axes = [fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1]), fig.add_subplot(gs[1, :])]
    colors = {name: f"C{i}" for i, name in enumerate(data["curves"])}
    for ax, logx in zip(axes[:2], (False, True)):
        ax.plot(alpha, 1 - alpha, color="0.7", ls=":", label="perfect privacy (1 - alpha)")
        for name, beta in data["curves"].items():
            ls = "-" if "PLD" in name else ("--" if "GDP" in name else "-.")
            ax.plot(alpha, np.asarray(beta, dtype=float), ls=ls, lw=1.5, color=colors[name], label=name)
        ax.set_xlabel("type I error alpha")
        ax.set_ylabel("type II error beta")
        if logx:
            ax.set_xscale("log")
            ax.set_xlim(alpha.min(), 1)
        else:
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7.5, loc="upper right")
    ref_name = next((n for n in data["curves"] if "PLD" in n), None)
    ax = axes[2]
    if ref_name is not None:
        ref = np.asarray(data["curves"][ref_name], dtype=float)
        for name, beta in data["curves"].items():
            if name == ref_name:
                continue
            ax.plot(alpha, np.asarray(beta, dtype=float) - ref, lw=1.6, color=colors[name], label=name)
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(alpha.min(), 1)
        ax.set_ylabel("beta - beta(PLD-derived)")
        ax.set_xlabel("type I error alpha")
        ax.set_title("difference to the PLD-derived lower bound (same epsilon grid); "
                     "above 0 claims more privacy than the PLD bound", fontsize=8.5)
        ax.grid(True, alpha=0.3)
        ax.legend()
    else:
        ax.set_axis_off()
    fig.suptitle(f"trade-off curves, q = {data['q']:g}, sigma = {data['sigma']:g}, T = {data['steps']}", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path


_VERDICT_MARK = {"meets target": ("o", "full"), "overspends": ("X", "full"), "unknown": ("o", "none")}


def plot_audit(audit: list[dict[str, Any]], path: Path) -> Path:
    """Certified bracket of the true epsilon at the sigma each method chose for the target, as error
    bars on an axis from 0, with the target line; the marker says the verdict."""
    plt = _plt()
    settings = [a["setting"] for a in audit]
    entries: list[str] = []
    if any(a.get("ewtune_logged") for a in audit):
        entries.append("EW-Tune's logged sigma")
    for a in audit:
        for r in a["rows"]:
            if r["name"] not in entries:
                entries.append(r["name"])
    target = audit[0].get("target", 8.0) if audit else 8.0
    fig, ax = plt.subplots(figsize=(7.6, 4.2 + 0.12 * len(entries)))
    width = 0.84 / max(len(entries), 1)
    ymax = target
    for k, m in enumerate(entries):
        xs, ys, lo_err, hi_err, verdicts = [], [], [], [], []
        for i, a in enumerate(audit):
            if m == "EW-Tune's logged sigma":
                lg = a.get("ewtune_logged")
                lo, hi, v = (lg["true_lower"], lg["true_upper"], lg["verdict"]) if lg else (None, None, None)
            else:
                r = next((r for r in a["rows"] if r["name"] == m), None)
                lo, hi, v = (r["true_epsilon_lower"], r["true_epsilon_upper"], r["meets_target"]) if r else (None, None, None)
            if lo is None or hi is None:
                continue
            mid = 0.5 * (lo + hi)
            xs.append(i - 0.42 + (k + 0.5) * width)
            ys.append(mid)
            lo_err.append(mid - lo)
            hi_err.append(hi - mid)
            verdicts.append(v)
            ymax = max(ymax, hi)
        if not xs:
            continue
        color = "0.25" if k == 0 and m == "EW-Tune's logged sigma" else f"C{k % 10}"
        ax.errorbar(xs, ys, yerr=[lo_err, hi_err], fmt="none", ecolor=color, elinewidth=2.2, capsize=5, capthick=1.6,
                    label=m, zorder=3)
        for x, (lo_e, hi_e), y, v in zip(xs, zip(lo_err, hi_err), ys, verdicts):
            mk, fill = _VERDICT_MARK.get(v, ("o", "none"))
            ax.plot([x], [y + hi_e], marker=mk, ms=6, color=color, fillstyle=fill, ls="none", zorder=4)
            if len(settings) <= 2:  # few brackets: print the certified upper end next to each
                ax.annotate(f"{y + hi_e:.3f}", (x, y + hi_e), xytext=(0, 6), textcoords="offset points",
                            ha="center", fontsize=7.5, color=color)
    ax.axhline(target, color="#c00000", lw=1.2, ls="--", label=f"target epsilon = {target:g}", zorder=2)
    ax.set_ylim(0.0, ymax * 1.12)
    ax.set_xlim(-0.5, len(settings) - 0.5)
    ax.set_xticks(range(len(settings)), settings, rotation=15 if len(settings) > 3 else 0,
                  ha="right" if len(settings) > 3 else "center")
    ax.set_ylabel("certified true epsilon at the chosen sigma")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("EW-Tune audit: certified bracket [lower, upper] of the true epsilon\n"
                 "marker at the upper end: filled = meets target, X = overspends, open = unknown", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 if len(settings) > 3 else -0.08), ncol=3, fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return path
