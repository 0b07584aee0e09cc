"""HTML and Markdown rendering of ``ewacct report`` (figures embedded as base64 in the HTML)."""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any

from ewacct._format import fixed_up, fmt_bound

__all__ = ["render_html", "render_markdown", "audit_summary_rows", "timing_rows", "number_to_state"]


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
    # printed outward (lower end down, upper end up): the printed decimals are still bounds
    if lo is None or hi is None:
        return "-"
    return f"[{fmt_bound(float(lo), d, up=False)}, {fmt_bound(float(hi), d, up=True)}]"


def audit_summary_rows(audit: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the audit table: one row per (setting, method), six columns, so that it fits
    a narrow page: the sigma the method chose, the method's own epsilon there, the certified bracket of
    the true epsilon there and the verdict."""
    header = ["setting (q, T)", "method", "sigma", "its own epsilon", "certified true epsilon", "verdict"]
    rows = []
    for a in audit:
        first = len(rows)
        where = ""
        lg = a.get("ewtune_logged")
        if lg:
            rows.append([where, "EW-Tune's logged sigma", f"{lg['noise_multiplier']:g}", "-",
                         _bracket(lg["true_lower"], lg["true_upper"]), lg.get("verdict", "-")])
        for r in a["rows"]:
            if r["noise_multiplier"] is None:
                rows.append([where, r["name"], "-", "-", "-", r.get("note") or "-"])
                continue
            rows.append([where, r["name"], f"{r['noise_multiplier']:.4f}", _f(r.get("method_epsilon"), 3),
                         _bracket(r["true_epsilon_lower"], r["true_epsilon_upper"]), r["meets_target"]])
        # the setting is named once per group (its first row), with q and T
        for k in range(first, len(rows)):
            rows[k][0] = f"{a['setting']} (q = {a['q']:.6f}, T = {a['steps']})" if k == first else ""
    return header, rows


def number_to_state(a: dict[str, Any]) -> str:
    """One plain line per audit setting: the sigma to use and the epsilon to state."""
    rec = a.get("recommended")
    if not rec:
        return (f"{a['setting']}: no audited sigma has a certified epsilon <= {a['target']:g}; "
                f"use a larger sigma (e.g. `ewacct calibrate`).")
    # sigma rounded up (more noise spends no more privacy), the bound rounded up
    return (f"{a['setting']}: use sigma = {fixed_up(rec['noise_multiplier'], 4)} (chosen by {rec['by']}); "
            f"the number to state is epsilon <= {fixed_up(rec['true_upper'], 4)} (certified upper bound).")


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


_NUMERIC = re.compile(r"^[\[\]\d.,+\-e x<=~]+$|^-$")


def _html_table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    def td(c: Any) -> str:
        text = str(c)
        num = " class='num'" if _NUMERIC.match(text) else ""
        return f"<td{num}>{html.escape(text)}</td>"

    h = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(td(c) for c in r) + "</tr>" for r in rows)
    c = f" {cls}" if cls else ""
    return f"<div class='table-wrap{c}'><table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table></div>"


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
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.table-wrap{max-width:100%;overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{border:1px solid #ccc;padding:.25em .45em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
figure{margin:1em 0;max-width:100%}img{display:block;max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.note{font-size:.85em;color:#555}.warn{color:#a40000;font-weight:600}.state{font-weight:600}
code{background:#f5f5f5;padding:0 .2em;overflow-wrap:anywhere}
@media (max-width:900px){body{margin:1em auto;padding:0 .6em}table{font-size:.78em}}
"""


def _tradeoff_gap(tr: dict[str, Any]) -> str:
    gap = tr.get("ewacct_minus_pld_max")
    if gap is None:
        return ""
    if gap <= 0:
        return "ewacct's curve is nowhere above the PLD-derived bound."
    return (f"ewacct's curve is at most {gap:.1e} above it: the pessimistic PLD rounds the privacy loss up to its "
            f"discretisation grid ({tr.get('pld_discretization', 0):g}), so its delta(eps) is slightly larger than "
            "the exact one and its curve slightly lower; a gap of this size is that rounding, not an error of ewacct.")


Note = tuple[str, str]  # (kind: "note" | "warn" | "state", text)


def _sections(ctx: dict[str, Any]) -> list[tuple[str, str, list[Note], list[tuple[list[str], list[list[str]]]], str | None]]:
    """(title, intro, notes, tables, figure key) per section, shared by HTML and Markdown."""
    steps, grid, tr, audit, timing = ctx["steps"], ctx["grid"], ctx["tradeoff"], ctx["audit"], ctx["timing"]
    secs = []
    notes: list[Note] = []
    for m, Ts in steps.get("below_band", {}).items():
        label = steps["labels"].get(m, m)
        notes.append(("warn", f"{label} is below the certified lower bound at T = {', '.join(str(t) for t in Ts)}: "
                              "it under-reports the privacy loss there."))
    if steps.get("band_max_rel_width") is not None:
        notes.append(("note", f"Certified bracket: {steps['band_source']}; relative width at most "
                              f"{100 * steps['band_max_rel_width']:.2g}% over the grid."))
    notes += [("note", f"{k}: {v}") for k, v in steps["notes"].items()]
    secs.append((
        "Epsilon against steps",
        f"DP-SGD with q = {steps['q']:g}, sigma = {steps['sigma']:g}, delta = {steps['delta']:g}. "
        "The grey band is ewacct's certified bracket [lower, upper] on the true epsilon "
        "(Accountant.get_epsilon(delta, certify=True)); the true epsilon lies inside it. "
        "A curve below the band under-reports the privacy loss; such points are circled in red.",
        notes, [], "eps_vs_steps",
    ))
    secs.append((
        "Relative difference to exact PLD",
        f"(eps_method - eps_PLD) / eps_PLD in percent at delta = {grid['delta']:g}, where eps_PLD is dp_accounting's "
        f"pessimistic PLD at discretisation {grid['pld_discretization']:g}. Negative = below the exact value. "
        "Cells marked * are outside the method's validity domain; p marks ewacct answers handed to its exact PLD fallback.",
        [("note", f"{k}: {v}") for k, v in grid["notes"].items()]
        + [("note", f"PLD bracket relative width: median {_f(ctx['grid_ref_width_median'], 2)}, "
                    f"max {_f(ctx['grid_ref_width_max'], 2)}")],
        [], "error_heatmap",
    ))
    secs.append((
        "f-DP trade-off curves",
        f"beta(alpha) for q = {tr['q']:g}, sigma = {tr['sigma']:g}, T = {tr['steps']}: ewacct's curve and the curve "
        "derived from the pessimistic PLD's delta(eps) (a valid lower bound on the true trade-off function), both "
        "built as beta(alpha) = sup over eps of max(0, 1 - delta(eps) - e^eps alpha, e^-eps (1 - delta(eps) - alpha)) "
        f"on the same {tr.get('eps_grid_points', '?')}-point epsilon grid on [0, {_f(tr.get('eps_grid_max'), 3)}], "
        f"and GDP/CLT with mu = {tr['gdp_mu']:.4f}. Because both curves use one grid, their difference (bottom panel) "
        "is smooth: it reflects only the two delta(eps) profiles. A curve above the PLD-derived one claims more "
        "privacy than that bound. " + _tradeoff_gap(tr),
        [("note", f"{k}: {v}") for k, v in tr["notes"].items()], [], "tradeoff",
    ))
    audit_notes: list[Note] = [("state", number_to_state(a)) for a in audit]
    secs.append((
        "EW-Tune audit (target epsilon = 8)",
        "EW-Tune's GLUE settings (Behnia et al., arXiv 2210.15042: batch B = 2000, 20 epochs, q = B/N, "
        "T = 20 floor(N/B)). For each method: the smallest sigma whose epsilon, by that method's own reckoning, "
        "is at most 8, and ewacct's certified bracket [lower, upper] of the true epsilon at that sigma (both "
        "directions of add-or-remove adjacency). Verdict: 'meets target' when the certified upper bound is at most "
        "8, 'overspends' when the certified lower bound exceeds 8, 'unknown' when the bracket straddles 8. "
        "PRV uses eps_error = 0.1 as in EW-Tune; 'EW-Tune's logged sigma' is the noise of EW-Tune's published runs. "
        "The chart's axis starts at 0.",
        audit_notes, [audit_summary_rows(audit)] if audit else [], "audit" if audit else None,
    ))
    secs.append((
        "Timing",
        f"Median wall seconds per epsilon query (composition + query, q = {timing['q']:g}, sigma = {timing['sigma']:g}, "
        f"T = {timing['steps']}, delta = {timing['delta']:g}), measured in this run after one warm-up call; "
        f"PLD at discretisation {timing['pld_discretization']:g}, its cache cleared before every repeat. "
        "The note column says which method answered (ewacct may hand a query to its exact fallback).",
        [], [timing_rows(timing)], None,
    ))
    return secs


def render_html(ctx: dict[str, Any], figures: dict[str, Path]) -> str:
    """A self-contained HTML page (PNG figures embedded as base64 data URIs)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
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
        for kind, n in notes:
            if kind == "state":
                parts.append(f"<p class='state'>{html.escape(n)}</p>")
        for header, rows in tables:
            parts.append(_html_table(header, rows, cls=title.split()[0].lower()))
        for kind, n in notes:
            if kind != "state":
                parts.append(f"<p class='{kind}'>{html.escape(n)}</p>")
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
        states = [n for k, n in notes if k == "state"]
        out += [f"**{n}**" for n in states] + ([""] if states else [])
        for header, rows in tables:
            out += [_md_table(header, rows), ""]
        rest = [(k, n) for k, n in notes if k != "state"]
        out += [(f"**Warning:** {n}" if k == "warn" else f"*{n}*") for k, n in rest] + ([""] if rest else [])
    return "\n".join(out) + "\n"
