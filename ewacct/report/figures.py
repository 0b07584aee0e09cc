"""Matplotlib figures of ``ewacct report`` (Agg backend, PNG files)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_eps_vs_steps", "plot_error_heatmap", "plot_tradeoff", "plot_audit"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_eps_vs_steps(data: dict[str, Any], path: Path) -> Path:
    """Epsilon vs steps per method with the certified band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    T = np.asarray(data["steps"], dtype=float)
    lo = np.array([np.nan if v is None else v for v in data["band_lower"]], dtype=float)
    hi = np.array([np.nan if v is None else v for v in data["band_upper"]], dtype=float)
    if np.isfinite(hi).any():
        ax.fill_between(T, lo, hi, color="0.6", alpha=0.45, label=f"certified band ({data['band_source']})", zorder=1)
    styles = {"pld-pessimistic": dict(color="k", lw=2.2, ls="-"), "ewacct": dict(color="C3", lw=2.0, marker="o")}
    for i, (m, ys) in enumerate(data["series"].items()):
        y = np.array([np.nan if v is None else v for v in ys], dtype=float)
        if not np.isfinite(y).any():
            continue
        st = styles.get(m, dict(color=f"C{i % 10}", lw=1.3, ls="--", marker="."))
        ax.plot(T, y, label=data["labels"].get(m, m), zorder=3, **st)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("steps T")
    ax.set_ylabel(f"epsilon at delta = {data['delta']:g}")
    ax.set_title(f"DP-SGD, q = {data['q']:g}, sigma = {data['sigma']:g}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_error_heatmap(data: dict[str, Any], path: Path) -> Path:
    """Relative difference to exact PLD (percent) over the grid, one panel per method."""
    plt = _plt()
    from matplotlib.colors import SymLogNorm

    methods = [m for m in data["rel"] if np.isfinite(np.asarray(data["rel"][m], dtype=float)).any()]
    n = max(len(methods), 1)
    nrows = len(data["rows"])
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1.2, 0.42 * nrows + 1.8), dpi=110, squeeze=False)
    vmax = 100.0
    norm = SymLogNorm(linthresh=0.1, vmin=-vmax, vmax=vmax, base=10)
    im = None
    for ax, m in zip(axes[0], methods):
        rel = 100.0 * np.asarray(data["rel"][m], dtype=float)
        inv = np.asarray(data["invalid"][m], dtype=bool)
        by_pld = np.asarray(data.get("answered_by_pld", {}).get(m, np.zeros_like(inv)), dtype=bool)
        im = ax.imshow(np.clip(rel, -vmax, vmax), cmap="RdBu_r", norm=norm, aspect="auto")
        for i in range(rel.shape[0]):
            for j in range(rel.shape[1]):
                v = rel[i, j]
                txt = "n/a" if not math.isfinite(v) else (f"{v:+.2f}" if abs(v) < 10 else f"{v:+.0f}")
                ax.text(j, i, txt + ("*" if inv[i, j] else "") + (" p" if by_pld[i, j] else ""), ha="center", va="center", fontsize=6.5,
                        color="k" if (not math.isfinite(v) or abs(v) < 20) else "w")
        ax.set_title(data["labels"].get(m, m), fontsize=9)
        ax.set_xticks(range(len(data["sigmas"])), [f"{s:g}" for s in data["sigmas"]], fontsize=7)
        ax.set_xlabel("sigma", fontsize=8)
        ax.set_yticks(range(nrows), data["rows"] if ax is axes[0][0] else [""] * nrows, fontsize=7)
    if im is not None:
        cb = fig.colorbar(im, ax=axes[0].tolist(), shrink=0.9)
        cb.set_label("(eps - eps_PLD) / eps_PLD  [%]", fontsize=8)
    fig.suptitle(f"relative difference to exact PLD (pessimistic), delta = {data['delta']:g}  (* = outside validity; p = answered by ewacct's exact PLD fallback)", fontsize=9)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_tradeoff(data: dict[str, Any], path: Path) -> Path:
    """f-DP trade-off curves (linear and log-alpha panels) and their difference to the PLD-derived curve."""
    plt = _plt()
    alpha = np.asarray(data["alpha"], dtype=float)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3), dpi=110)
    colors = {name: f"C{i}" for i, name in enumerate(data["curves"])}
    for ax, logx in zip(axes[:2], (False, True)):
        ax.plot(alpha, 1 - alpha, color="0.7", ls=":", label="perfect privacy (1 - alpha)")
        for name, beta in data["curves"].items():
            ls = "-" if "PLD" in name else ("--" if "GDP" in name else "-.")
            ax.plot(alpha, np.asarray(beta, dtype=float), ls=ls, lw=1.6, color=colors[name], label=name)
        ax.set_xlabel("type I error alpha")
        ax.set_ylabel("type II error beta")
        if logx:
            ax.set_xscale("log")
            ax.set_xlim(alpha.min(), 1)
        else:
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
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
        ax.set_title("above 0: claims more privacy than certified", fontsize=8)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    else:
        ax.set_axis_off()
    fig.suptitle(f"trade-off curves, q = {data['q']:g}, sigma = {data['sigma']:g}, T = {data['steps']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_audit(audit: list[dict[str, Any]], path: Path) -> Path:
    """True epsilon (certified bracket) at the sigma each method chose for target eps = 8."""
    plt = _plt()
    settings = [a["setting"] for a in audit]
    methods: list[str] = []
    for a in audit:
        for r in a["rows"]:
            if r["name"] not in methods:
                methods.append(r["name"])
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(settings) + 3), 4.4), dpi=110)
    width = 0.8 / max(len(methods), 1)
    for k, m in enumerate(methods):
        xs, ys, errs = [], [], []
        for i, a in enumerate(audit):
            r = next((r for r in a["rows"] if r["name"] == m), None)
            if r is None or r["true_epsilon_upper"] is None:
                continue
            lo, hi = r["true_epsilon_lower"], r["true_epsilon_upper"]
            xs.append(i - 0.4 + (k + 0.5) * width)
            ys.append(hi)
            errs.append(hi - lo)
        if xs:
            ax.bar(xs, ys, width=width * 0.95, color=f"C{k % 10}", label=m)
    ax.axhline(8.0, color="k", lw=1.2, ls="--", label="target epsilon = 8")
    ax.set_xticks(range(len(settings)), settings, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("certified true epsilon at the chosen sigma")
    ymin = min([8.0] + [r["true_epsilon_lower"] for a in audit for r in a["rows"] if r["true_epsilon_lower"] is not None])
    ax.set_ylim(max(0.0, ymin - 1.0), None)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("EW-Tune audit: does the chosen noise reach epsilon = 8?", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
