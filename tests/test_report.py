"""``ewacct report --quick``: it runs, writes a self-contained HTML page and Markdown
with every figure, the EW-Tune audit and the timing table; headless Chromium renders
the page with every image loaded (skipped when chromium is not installed).
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

from ewacct.report import build_report

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
    if rows["rdp"]["true_epsilon_upper"] is not None:
        # RDP is conservative: its sigma certainly meets the target
        assert rows["rdp"]["meets_target"] == "yes"
        # EW-Tune's order-1 estimate under-reports epsilon at its own sigma (theory.md §6.4): the
        # quick grid's coarse PLD cannot prove "exceeds", but it must not certify that it meets 8
        if rows["ew-tune"]["noise_multiplier"] is not None:
            assert rows["ew-tune"]["true_epsilon_upper"] > 8.0
            assert rows["ew-tune"]["meets_target"] in ("no", "uncertain")
    timing = data["timing"]["rows"]
    assert {r["name"] for r in timing} >= {"ewacct", "rdp", "gdp"}
    for r in timing:
        if r["median_s"] is not None:
            assert r["median_s"] > 0 and r["repeats"] >= 1
    md = quick_report.markdown.read_text(encoding="utf-8")
    assert "## EW-Tune audit (target epsilon = 8)" in md and "## Timing" in md
    assert "ratio to ewacct" in md


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


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(quick_report, tmp_path: Path) -> None:
    chromium = _chromium()
    assert chromium is not None
    env = {**os.environ, "HOME": str(tmp_path)}  # keep chromium's profile out of the real home
    shot = tmp_path / "report.png"
    r = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000",
         f"--screenshot={shot}", quick_report.html.as_uri()],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.read_bytes()[:8] == PNG_MAGIC and shot.stat().st_size > 20_000
    keep = os.environ.get("EWACCT_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "report_screenshot.png")

    # a copy of the page with a probe that records, for every <img>, complete && naturalWidth > 0
    probe = tmp_path / "probe.html"
    script = (
        "<script>window.addEventListener('load',function(){var r=[];"
        "document.querySelectorAll('img').forEach(function(i){r.push(i.complete&&i.naturalWidth>0?1:0)});"
        "document.body.setAttribute('data-img-status',r.join(','));});</script>"
    )
    probe.write_text(quick_report.html.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                     encoding="utf-8")
    r = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--virtual-time-budget=5000",
         "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'data-img-status="([^"]*)"', r.stdout)
    assert m is not None, "the probe script did not run"
    status = m.group(1).split(",")
    assert len(status) == len(quick_report.figures)
    assert all(s == "1" for s in status), f"images not loaded: {status}"
