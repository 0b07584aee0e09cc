"""``ewacct report --quick``: it runs, writes a self-contained HTML page and Markdown
with every figure, the EW-Tune audit and the timing table; headless Chromium renders
the page at 800 and 1400 px wide and checks every figure and table is visible (skipped when
chromium is not installed, except under CI=true where that fails).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import numpy as np

from ewacct.report import build_report
from ewacct.report.verdict import VERDICTS, verdict

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    paths = build_report(out, quick=True, progress=False, command="pytest quick report")
    return paths


def test_quick_report_writes_everything(quick_report) -> None:
    p = quick_report
    assert p.html.is_file() and p.markdown.is_file() and p.json.is_file()
    assert set(p.figures) == {"eps_vs_steps", "error_heatmap", "tradeoff", "audit"}
    for f in p.figures.values():
        assert f.read_bytes()[:8] == PNG_MAGIC
    sys.stderr.write(f"quick report took {p.seconds:.1f} s\n")


def test_html_is_self_contained(quick_report) -> None:
    html = quick_report.html.read_text(encoding="utf-8")
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]+)"', html)
    assert len(srcs) == len(quick_report.figures)
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:40]
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    # nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_markdown_references_figures_alongside(quick_report) -> None:
    md = quick_report.markdown.read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) == len(quick_report.figures)
    for ref in refs:
        assert (quick_report.markdown.parent / ref).is_file()


def test_report_has_audit_and_timing_tables(quick_report) -> None:
    data = json.loads(quick_report.json.read_text(encoding="utf-8"))
    audit = data["audit"]
    assert audit and audit[0]["task"] == "SST-2" and audit[0]["steps"] == 660
    rows = {r["name"]: r for r in audit[0]["rows"]}
    for name in ("ew-tune", "rdp", "gdp"):
        assert name in rows
    for r in rows.values():
        assert r["meets_target"] in VERDICTS
    if rows["rdp"]["true_epsilon_upper"] is not None:
        # RDP is conservative: its sigma certainly meets the target
        assert rows["rdp"]["meets_target"] == "meets target"
        # EW-Tune's order-1 estimate under-reports epsilon at its own sigma (true epsilon 8.289 at
        # its logged sigma 0.7865, docs/reference_values.md): the certified bracket must not say it meets 8
        if rows["ew-tune"]["noise_multiplier"] is not None:
            assert rows["ew-tune"]["true_epsilon_upper"] > 8.0
            assert rows["ew-tune"]["meets_target"] in ("overspends", "unknown")
        logged = audit[0]["ewtune_logged"]
        # the true eps there is 8.289117905744 (docs/reference_values.md; the certified bracket is ~1e-10 wide)
        assert logged["true_lower"] <= 8.289117905744 * (1 + 1e-9) and 8.289117905744 <= logged["true_upper"] + 1e-3
        assert logged["verdict"] in ("overspends", "unknown")
        rec = audit[0]["recommended"]
        assert rec is not None and rec["true_upper"] <= 8.0
    timing = data["timing"]["rows"]
    assert {r["name"] for r in timing} >= {"ewacct", "rdp", "gdp"}
    for r in timing:
        if r["median_s"] is not None:
            assert r["median_s"] > 0 and r["repeats"] >= 1
    md = quick_report.markdown.read_text(encoding="utf-8")
    assert "## EW-Tune audit (target epsilon = 8)" in md and "## Timing" in md
    assert "ratio to ewacct" in md
    assert "the number to state is epsilon <=" in md


def test_verdict_words() -> None:
    assert verdict(7.9, 8.0, 8.0) == "meets target"
    assert verdict(8.01, 8.3, 8.0) == "overspends"
    assert verdict(7.96, 8.29, 8.0) == "unknown"
    assert verdict(None, None, 8.0) == "unknown"


def test_band_is_ewacct_certified_and_flags_under_reporting(quick_report) -> None:
    steps = json.loads(quick_report.json.read_text(encoding="utf-8"))["steps"]
    assert "ewacct certified" in steps["band_source"]
    tight = 0
    for lo, hi, est, by in zip(steps["band_lower"], steps["band_upper"], steps["series"]["ewacct"],
                               steps["band_certified_by"]):
        assert lo is not None and hi is not None and lo <= hi
        assert est >= lo * (1 - 1e-6)  # ewacct's estimate never under-reports (it may sit a hair above)
        if "contour integral" in by or "closed form" in by:
            # tight: the old band spread from 1.2 to 6.2; the contour enclosure is ~1e-9 wide, and the
            # quantised contours of a growing history (docs/certified.md 5b) are accepted up to QUANT_RTOL
            from ewacct.methods.certified import QUANT_RTOL

            assert (hi - lo) / hi <= QUANT_RTOL
            tight += 1
        else:
            # few participations (q T = 0.1 at T = 10): only the proven wide fallback, and it says so
            assert "proven, wide" in by and est <= hi
    assert tight >= len(steps["band_lower"]) - 1
    # the CLT (GDP) curve under-reports at q = 0.01, sigma = 1: it must be flagged, and ewacct must not be
    assert "gdp" in steps["below_band"] and "ewacct" not in steps["below_band"]
    md = quick_report.markdown.read_text(encoding="utf-8")
    assert "under-reports the privacy loss there" in md


def test_tradeoff_difference_is_smooth(quick_report) -> None:
    """ewacct minus the PLD-derived curve has no grid sawtooth: its total variation is a small
    multiple of its range (a sawtooth at the grid spacing has a variation many times its range)."""
    tr = json.loads(quick_report.json.read_text(encoding="utf-8"))["tradeoff"]
    curves = {k: np.asarray(v, dtype=float) for k, v in tr["curves"].items()}
    ref = next(v for k, v in curves.items() if "PLD" in k)
    diff = curves["ewacct"] - ref
    rng = float(diff.max() - diff.min())
    tv = float(np.abs(np.diff(diff)).sum())
    assert rng == 0.0 or tv <= 4.0 * rng, (tv, rng)
    assert abs(tr["ewacct_minus_pld_max"]) < 1e-3


def test_report_cites_nothing_outside_the_project(quick_report) -> None:
    for path in (quick_report.html, quick_report.markdown):
        text = path.read_text(encoding="utf-8")
        assert "theory.md" not in text and "shared/" not in text


def test_report_command_rejects_unwritable_out_before_computing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    p = subprocess.run([sys.executable, "-m", "ewacct", "report", "--out", str(blocker / "sub"), "--quick"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "not writable" in lines[0] and "--out" in lines[0]
    p = subprocess.run([sys.executable, "-m", "ewacct", "report", "--out", str(blocker), "--quick"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "directory" in p.stderr


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


#: widths at which the page must be readable; heights are tall enough for a whole-page screenshot
WIDTHS = (800, 1400)
#: the figures' width budget (ewacct/report/figures.py: 8 in at 110 dpi, plus bbox padding)
MAX_NATURAL_WIDTH = 900
#: at 800 px a figure may be scaled down, but not below this (text of 8 pt stays >= ~9 px)
MIN_SCALE_AT_800 = 0.8

PROBE = """<script>window.addEventListener('load',function(){
var W=window.innerWidth, r={inner:W, page:document.documentElement.scrollWidth, imgs:[], tables:[]};
document.querySelectorAll('img').forEach(function(i){var b=i.getBoundingClientRect();
 r.imgs.push({ok:i.complete&&i.naturalWidth>0, nw:i.naturalWidth, w:b.width, left:b.left, right:b.right});});
document.querySelectorAll('.table-wrap').forEach(function(t){var b=t.getBoundingClientRect();
 r.tables.push({cls:t.className, sw:t.scrollWidth, cw:t.clientWidth, right:b.right});});
document.body.setAttribute('data-probe', JSON.stringify(r));});</script>"""


def _run_chromium(chromium: str, args: list[str], tmp_path: Path, tag: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(tmp_path)}  # keep chromium's profile out of the real home
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / ('profile-' + tag)}", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_report_renders_in_headless_chromium(quick_report, tmp_path: Path) -> None:
    """Screenshots at 800 and 1400 px; every figure loads, fits the page and is not shrunk past
    readability; no table is cut off (each fits its box without horizontal scrolling).

    A missing browser skips this test on a developer's machine and FAILS it in CI (CI=true):
    .ci/run installs chromium when it is missing."""
    chromium = _chromium()
    if chromium is None:
        msg = "chromium is not installed (Debian: apt-get install chromium)"
        if _in_ci():
            pytest.fail(msg + "; CI=true, so the report's browser test must run (.ci/run installs it)")
        pytest.skip(msg)
    keep = os.environ.get("EWACCT_SCREENSHOT_DIR")
    probe = tmp_path / "probe.html"
    probe.write_text(quick_report.html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    for width in WIDTHS:
        shot = tmp_path / f"report_{width}.png"
        r = _run_chromium(chromium, [f"--window-size={width},6000", f"--screenshot={shot}",
                                     quick_report.html.as_uri()], tmp_path, f"shot{width}")
        assert r.returncode == 0, r.stderr[-2000:]
        assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 20_000
        assert int.from_bytes(shot.read_bytes()[16:20], "big") == width  # the PNG is as wide as asked
        if keep:
            shutil.copy(shot, Path(keep) / f"report_screenshot_{width}.png")

        r = _run_chromium(chromium, [f"--window-size={width},6000", "--virtual-time-budget=5000", "--dump-dom",
                                     probe.as_uri()], tmp_path, f"dom{width}")
        assert r.returncode == 0, r.stderr[-2000:]
        m = re.search(r'data-probe="([^"]*)"', r.stdout)
        assert m is not None, "the probe script did not run"
        info = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        inner = info["inner"]
        assert abs(inner - width) <= 20, f"window width {inner} != {width}: --window-size ignored?"
        assert info["page"] <= inner, f"the page scrolls sideways at {width} px ({info['page']} > {inner})"
        assert len(info["imgs"]) == len(quick_report.figures)
        for k, im in enumerate(info["imgs"]):
            where = f"figure {k} at {width} px: {im}"
            assert im["ok"], "image not loaded: " + where
            assert im["nw"] <= MAX_NATURAL_WIDTH, "figure wider than its budget: " + where
            assert im["left"] >= 0 and im["right"] <= inner + 0.5, "figure cut off: " + where
            assert im["w"] <= im["nw"] + 2.5, "figure enlarged past its natural size: " + where
            if width == 800:
                assert im["w"] >= MIN_SCALE_AT_800 * im["nw"], "figure shrunk past readability: " + where
        assert info["tables"], "no tables found"
        for t in info["tables"]:
            assert t["sw"] <= t["cw"] + 1, f"table cut off (scrolls) at {width} px: {t}"
            assert t["right"] <= inner + 0.5, f"table outside the page at {width} px: {t}"
