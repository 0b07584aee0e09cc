"""Start-up time of the ``ewacct`` command line: first call on a fresh install, and later calls.

    python benchmarks/startup.py                 # table on stdout (Markdown)
    python benchmarks/startup.py --repeats 5 --json startup.json

Every measurement is the wall time of a new process running

    ewacct epsilon -q 0.01 -s 1 -T 1000 --delta 1e-5

(the documented first query), as a user types it. Numba keeps compiled kernels in a cache
(``@njit(cache=True)``); ``NUMBA_CACHE_DIR`` points every measurement at its own fresh temporary
directory, so nothing from earlier runs (or from the developer's tree) is reused unless the row says so:

* ``first call, empty cache``: a fresh install whose kernels were never compiled (the worst case;
  what a user gets when the install step did not warm the cache, e.g. a read-only site-packages);
* ``first call after install warm-up``: the same fresh cache, populated beforehand by the warm-up
  that ``make venv`` runs after installing (``ewacct warmup``, ``WARMUP`` below), then the timed
  call; this is what a fresh ``make`` install gives a user;
* ``later calls``: further processes on the now-warm cache (median of ``--repeats``);
* ``import ewacct`` alone, for scale.

Targets: first call <= 3 s, later calls <= 0.8 s.  The machine's load average is printed with the
table: on a shared machine, other processes inflate every number.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: the timed command (argv after ``ewacct``)
QUERY = ["epsilon", "-q", "0.01", "-s", "1", "-T", "1000", "--delta", "1e-5"]

#: what the install step runs to populate the kernel cache (the Makefile's ``venv`` target runs
#: ``ewacct warmup``: one small query per route of the default and the certified path, ewacct/_warmup.py)
WARMUP = [
    ["warmup", "--quiet"],
]

TARGET_FIRST_S = 3.0
TARGET_LATER_S = 0.8


def _cli() -> list[str]:
    """The ``ewacct`` console script next to this interpreter, else ``python -m ewacct``."""
    script = Path(sys.executable).with_name("ewacct")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "ewacct"]


def _run(argv: list[str], cache_dir: Path) -> tuple[float, int, str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    dt = time.perf_counter() - t0
    return dt, p.returncode, (p.stdout + p.stderr).strip().splitlines()[-1:][0] if (p.stdout + p.stderr).strip() else ""


def _loadavg() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def measure(repeats: int = 5, query: list[str] | None = None) -> dict:
    cli = _cli()
    query = list(QUERY if query is None else query)
    rows: list[dict] = []
    root = Path(tempfile.mkdtemp(prefix="ewacct-startup-"))
    try:
        # (a) empty cache
        cold = root / "cold"
        cold.mkdir()
        t, rc, last = _run(cli + query, cold)
        rows.append({"case": "first call, empty Numba cache", "seconds": t, "rc": rc,
                     "target_s": TARGET_FIRST_S, "detail": "kernels compiled in this process"})
        # (b) later calls on the cache (a) filled
        later = []
        for _ in range(repeats):
            t, rc, last = _run(cli + query, cold)
            later.append(t)
        rows.append({"case": f"later calls (median of {repeats})", "seconds": statistics.median(later), "rc": rc,
                     "target_s": TARGET_LATER_S, "detail": f"min {min(later):.2f} s, max {max(later):.2f} s"})
        # (c) a fresh cache warmed as the install step does, then the first user call
        warm = root / "warm"
        warm.mkdir()
        tw = 0.0
        failed = []
        for w in WARMUP:
            dt, wrc, _ = _run(cli + w, warm)
            tw += dt
            if wrc != 0:
                failed.append(" ".join(w[:1]))
        t, rc, last = _run(cli + query, warm)
        rows.append({"case": "first call after install warm-up", "seconds": t, "rc": rc,
                     "target_s": TARGET_FIRST_S, "detail": f"warm-up took {tw:.1f} s at install"
                     + (f" (FAILED: {', '.join(failed)})" if failed else "")})
        # (d) import alone
        imp = []
        for _ in range(repeats):
            dt, irc, _ = _run([sys.executable, "-c", "import ewacct"], warm)
            imp.append(dt)
        rows.append({"case": f"python -c 'import ewacct' (median of {repeats})", "seconds": statistics.median(imp),
                     "rc": irc, "target_s": None, "detail": "for scale"})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"command": "ewacct " + " ".join(query), "rows": rows, "loadavg": _loadavg(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "python": sys.version.split()[0], "last_output_line": last}


def render(res: dict) -> str:
    out = [f"Command timed: `{res['command']}` (a new process each time); "
           f"{res['cpus']} CPUs, load average after the run {res['loadavg']}, Python {res['python']}.", "",
           "| case | wall s | target | meets | note |", "|---|---:|---:|---|---|"]
    for r in res["rows"]:
        tgt = "-" if r["target_s"] is None else f"<= {r['target_s']:g} s"
        ok = "-" if r["target_s"] is None else ("yes" if r["seconds"] <= r["target_s"] else "**no**")
        if r["rc"] != 0:
            ok = f"**exit {r['rc']}**"
        out.append(f"| {r['case']} | {r['seconds']:.2f} | {tgt} | {ok} | {r['detail']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="processes per 'later' measurement (default 5)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    p.add_argument("--query", default=None,
                   help="time this ewacct command instead (quoted, without 'ewacct'), e.g. "
                        "\"epsilon -q 0.029696 -s 0.7865 -T 660 --delta 1e-5\"")
    args = p.parse_args(argv)
    res = measure(max(1, args.repeats), None if args.query is None else shlex.split(args.query))
    sys.stdout.write(render(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0 if all(r["rc"] == 0 for r in res["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
