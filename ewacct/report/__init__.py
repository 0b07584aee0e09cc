"""``ewacct report``: a self-contained HTML page and Markdown with figures.

Every number is computed in the run that writes it: epsilon vs steps with the
certified band, the relative-difference heatmap against exact PLD over a
(q, sigma, T) grid, f-DP trade-off curves, the EW-Tune audit and a timing table.
``--quick`` uses a small grid and a coarser PLD (for CI, < 30 s).

Outputs in ``out_dir``: ``report.html`` (figures embedded as base64),
``report.md`` (figures referenced as the PNG files alongside), the PNGs and
``report.json`` (the raw data).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ReportPaths", "build_report", "check_writable", "machine_description"]


@dataclass(frozen=True)
class ReportPaths:
    """Where the report went."""

    html: Path
    markdown: Path
    json: Path
    figures: dict[str, Path]
    seconds: float


def check_writable(out_dir: str | os.PathLike[str]) -> Path:
    """Create ``out_dir`` if needed and prove it is writable, before any computation.

    Raises:
        ValueError: naming the directory and the reason when it cannot be written.
    """
    p = Path(out_dir)
    try:
        if p.exists() and not p.is_dir():
            raise ValueError(f"out must be a directory, got an existing file {str(p)!r}")
        p.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".ewacct-write-test-", dir=p)
        os.close(fd)
        os.unlink(name)
    except ValueError:
        raise
    except OSError as exc:
        raise ValueError(f"out directory {str(p)!r} is not writable ({exc.strerror or exc})") from None
    return p


def machine_description() -> str:
    """One line: CPU model, core count, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = int(fh.readline().split()[1])
            mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {ncpu} cores available{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("ewacct", "numpy", "scipy", "numba", "dp-accounting", "prv-accountant", "opacus", "matplotlib"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} absent")
    return ", ".join(parts)


def build_report(
    out_dir: str | os.PathLike[str],
    *,
    quick: bool = False,
    progress: bool = True,
    command: str = "ewacct report",
) -> ReportPaths:
    """Compute everything and write the report.

    Args:
        out_dir: output directory (created; must be writable).
        quick: small grid and coarse PLD (CI; < 30 s).
        progress: show a tqdm progress bar on stderr.
        command: the command line recorded in the report.

    Returns:
        The written paths.

    Raises:
        ValueError: when ``out_dir`` is not writable (checked before computing).
    """
    out = check_writable(out_dir)
    t0 = time.perf_counter()
    from ewacct.baselines import get_baseline
    from ewacct.report import compute, figures, render

    cfg = compute.QUICK if quick else compute.DEFAULT
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=compute.work_units(cfg), desc="ewacct report", unit="task", file=sys.stderr,
                   dynamic_ncols=True, leave=True)

    def tick(label: str) -> None:
        if bar is not None:
            bar.set_postfix_str(label[:40], refresh=False)
            bar.update(1)

    try:
        steps = compute.eps_vs_steps(cfg, tick)
        grid = compute.error_grid(cfg, tick)
        tr = compute.tradeoff_curves(cfg, tick)
        audit = compute.ewtune_audit(cfg, tick)
        timing = compute.timing_table(cfg, tick)
    finally:
        if bar is not None:
            bar.close()

    figs: dict[str, Path] = {}
    figs["eps_vs_steps"] = figures.plot_eps_vs_steps(steps, out / "fig_eps_vs_steps.png")
    figs["error_heatmap"] = figures.plot_error_heatmap(grid, out / "fig_error_heatmap.png")
    figs["tradeoff"] = figures.plot_tradeoff(tr, out / "fig_tradeoff.png")
    if audit:
        figs["audit"] = figures.plot_audit(audit, out / "fig_audit.png")

    import math

    widths = [w for row in grid["ref_width"] for w in row if isinstance(w, float) and math.isfinite(w)]
    names = set(cfg.steps_methods + cfg.grid_methods + cfg.audit_methods + cfg.timing_methods)
    unavailable = []
    for n in sorted(names):
        b = get_baseline(n)
        if not b.available:
            unavailable.append(f"{n} ({b.reason})")
    seconds = time.perf_counter() - t0
    ctx: dict[str, Any] = {
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "command": command, "seconds": seconds, "config_name": cfg.name,
        "machine": machine_description(), "versions": _versions(), "unavailable": unavailable,
        "steps": steps, "grid": grid, "tradeoff": tr, "audit": audit, "timing": timing,
        "grid_ref_width_median": statistics.median(widths) if widths else None,
        "grid_ref_width_max": max(widths) if widths else None,
    }
    html_path = out / "report.html"
    md_path = out / "report.md"
    json_path = out / "report.json"
    html_path.write_text(render.render_html(ctx, figs), encoding="utf-8")
    md_path.write_text(render.render_markdown(ctx, figs), encoding="utf-8")
    json_path.write_text(json.dumps(ctx, indent=1, default=str), encoding="utf-8")
    return ReportPaths(html=html_path, markdown=md_path, json=json_path, figures=figs, seconds=seconds)
