"""HTML and Markdown rendering of ``ewacct report`` (figures embedded as base64 in the HTML)."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

__all__ = ["render_html", "render_markdown", "audit_summary_rows", "timing_rows"]


def _f(x: Any, d: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{max(d - 1, 1)}e}"
    return f"{v:.{d}f}"


def _bracket(lo: Any, hi: Any, d: int = 3) -> str:
    if lo is None or hi is None:
        return "-"
    return f"[{_f(lo, d)}, {_f(hi, d)}]"


def audit_summary_rows(audit: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the audit table: per setting, per method, sigma and certified true epsilon."""
    methods: list[str] = []
    for a in audit:
        for r in a["rows"]:
            if r["name"] not in methods:
                methods.append(r["name"])
    header = ["setting", "q", "T"]
    if any(a["ewtune_logged"] for a in audit):
        header += ["EW-Tune logged sigma", "true eps"]
    for m in methods:
        header += [f"sigma {m}", f"true eps ({m})"]
    rows = []
    for a in audit:
        row = [a["setting"], f"{a['q']:.6f}", str(a["steps"])]
        if "EW-Tune logged sigma" in header:
            lg = a["ewtune_logged"]
            row += ([f"{lg['noise_multiplier']:g}", _bracket(lg["true_lower"], lg["true_upper"])] if lg else ["-", "-"])
        for m in methods:
            r = next((r for r in a["rows"] if r["name"] == m), None)
            if r is None or r["noise_multiplier"] is None:
                row += ["-", (r or {}).get("note", "-") if r else "-"]
            else:
                mark = " (exceeds 8)" if r["meets_target"] == "no" else ""
                row += [f"{r['noise_multiplier']:.4f}", _bracket(r["true_epsilon_lower"], r["true_epsilon_upper"]) + mark]
        rows.append(row)
    return header, rows


def timing_rows(timing: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the timing table."""
    header = ["method", "median s/query", "ratio to ewacct", "repeats", "epsilon", "note"]
    rows = []
    for r in timing["rows"]:
        rows.append([
            r["name"], _f(r["median_s"], 4), (f"{r['ratio_to_ewacct']:.3g}x" if r["ratio_to_ewacct"] else "-"),
            str(r["repeats"]), _f(r["epsilon"]), r["note"],
        ])
    return header, rows


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(c: str) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(esc(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _img_b64(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right;white-space:nowrap}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
.note{font-size:.85em;color:#555}.warn{color:#a40000}code{background:#f5f5f5;padding:0 .2em}
"""


def _sections(ctx: dict[str, Any]) -> list[tuple[str, str, list[str], list[tuple[list[str], list[list[str]]]], str | None]]:
    """(title, intro, notes, tables, figure key) per section, shared by HTML and Markdown."""
    steps, grid, tr, audit, timing = ctx["steps"], ctx["grid"], ctx["tradeoff"], ctx["audit"], ctx["timing"]
    secs = []
    secs.append((
        "Epsilon against steps",
        f"DP-SGD with q = {steps['q']:g}, sigma = {steps['sigma']:g}, delta = {steps['delta']:g}. "
        f"The grey band is the certified bracket on the true epsilon ({steps['band_source']}); "
        "a curve below the band under-reports the privacy loss.",
        [f"{k}: {v}" for k, v in steps["notes"].items()], [], "eps_vs_steps",
    ))
    secs.append((
        "Relative difference to exact PLD",
        f"(eps_method - eps_PLD) / eps_PLD in percent at delta = {grid['delta']:g}, where eps_PLD is dp_accounting's "
        f"pessimistic PLD at discretisation {grid['pld_discretization']:g}. Negative = below the exact value. "
        "Cells marked * are outside the method's validity domain; p marks ewacct answers handed to its exact PLD fallback.",
        [f"{k}: {v}" for k, v in grid["notes"].items()]
        + [f"PLD bracket relative width: median {_f(ctx['grid_ref_width_median'], 2)}, max {_f(ctx['grid_ref_width_max'], 2)}"],
        [], "error_heatmap",
    ))
    secs.append((
        "f-DP trade-off curves",
        f"beta(alpha) for q = {tr['q']:g}, sigma = {tr['sigma']:g}, T = {tr['steps']}: ewacct's curve, the curve "
        f"derived from the pessimistic PLD's delta(eps) (a valid lower bound on the true trade-off function), "
        f"and GDP/CLT with mu = {tr['gdp_mu']:.4f}. A curve above the PLD-derived one claims more privacy than is certified.",
        [f"{k}: {v}" for k, v in tr["notes"].items()], [], "tradeoff",
    ))
    secs.append((
        "EW-Tune audit (target epsilon = 8)",
        "EW-Tune's GLUE settings (batch 2000, 20 epochs; q = B/N, T = E*floor(N/B); theory.md §6.2/6.3). For each method: "
        "the smallest sigma whose epsilon, by that method, is at most 8, and the certified true epsilon at that sigma "
        "(dp_accounting PLD bracket, both directions). PRV uses eps_error = 0.1 as in EW-Tune. 'EW-Tune logged sigma' is the noise the EW-Tune runs used.",
        [], [audit_summary_rows(audit)] if audit else [], "audit" if audit else None,
    ))
    secs.append((
        "Timing",
        f"Median wall seconds per epsilon query (composition + query, q = {timing['q']:g}, sigma = {timing['sigma']:g}, "
        f"T = {timing['steps']}, delta = {timing['delta']:g}), measured in this run after one warm-up call; "
        f"PLD at discretisation {timing['pld_discretization']:g}, its cache cleared before every repeat.",
        [], [timing_rows(timing)], None,
    ))
    return secs


def render_html(ctx: dict[str, Any], figures: dict[str, Path]) -> str:
    """A self-contained HTML page (PNG figures embedded as base64 data URIs)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>ewacct report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>ewacct: accountants side by side</h1>",
        f"<p class='note'>Generated {html.escape(ctx['generated'])} by <code>{html.escape(ctx['command'])}</code> "
        f"in {ctx['seconds']:.1f} s ({html.escape(ctx['config_name'])} grid). Machine: {html.escape(ctx['machine'])}. "
        f"Versions: {html.escape(ctx['versions'])}.</p>",
    ]
    if ctx.get("unavailable"):
        parts.append("<p class='note'>Unavailable here: " + html.escape("; ".join(ctx["unavailable"])) + "</p>")
    for title, intro, notes, tables, fig in _sections(ctx):
        parts.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(intro)}</p>")
        if fig and fig in figures:
            parts.append(_img_b64(figures[fig], title))
        for header, rows in tables:
            parts.append(_html_table(header, rows))
        for n in notes:
            parts.append(f"<p class='note'>{html.escape(n)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(ctx: dict[str, Any], figures: dict[str, Path]) -> str:
    """Markdown with the same content; figures referenced as PNG files alongside."""
    out = [
        "# ewacct: accountants side by side", "",
        f"Generated {ctx['generated']} by `{ctx['command']}` in {ctx['seconds']:.1f} s ({ctx['config_name']} grid).",
        f"Machine: {ctx['machine']}. Versions: {ctx['versions']}.", "",
    ]
    if ctx.get("unavailable"):
        out += ["Unavailable here: " + "; ".join(ctx["unavailable"]), ""]
    for title, intro, notes, tables, fig in _sections(ctx):
        out += [f"## {title}", "", intro, ""]
        if fig and fig in figures:
            out += [f"![{title}]({figures[fig].name})", ""]
        for header, rows in tables:
            out += [_md_table(header, rows), ""]
        out += [f"*{n}*" for n in notes] + ([""] if notes else [])
    return "\n".join(out) + "\n"
