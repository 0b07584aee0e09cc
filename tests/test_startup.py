"""Start-up: every Numba kernel is cached on disk, and the install step warms that cache.

The timings themselves are measured by ``benchmarks/startup.py`` (shared machines make wall-clock
assertions flaky); these tests keep the two things the timings rest on from regressing.
"""

from __future__ import annotations

import ast
import importlib.util
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JIT_NAMES = {"njit", "jit", "vectorize", "guvectorize", "cfunc", "generated_jit"}


def _jit_decorators(path: Path) -> list[tuple[int, ast.expr]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                if name in JIT_NAMES:
                    out.append((node.lineno, dec))
        # direct calls such as f = njit(cache=True)(g)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
            inner = node.func.func
            name = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
            if name in JIT_NAMES:
                out.append((node.lineno, node.func))
    return out


SOURCES = sorted(p for pkg in ("ewacct", "ewacct_torch") for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_numba_kernel_is_cached(path: Path) -> None:
    bad = []
    for line, dec in _jit_decorators(path):
        cached = isinstance(dec, ast.Call) and any(
            k.arg == "cache" and isinstance(k.value, ast.Constant) and k.value.value is True for k in dec.keywords)
        if not cached:
            bad.append(f"{path.relative_to(ROOT).as_posix()}:{line}")
    assert not bad, "Numba kernels without cache=True (recompiled in every process): " + ", ".join(bad)


def test_makefile_warms_the_cache_with_the_benchmarked_commands() -> None:
    """``make venv`` runs exactly the warm-up that benchmarks/startup.py measures."""
    spec = importlib.util.spec_from_file_location("ewacct_startup_bench", ROOT / "benchmarks" / "startup.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    for argv in mod.WARMUP:
        assert f"-m ewacct {shlex.join(argv)}" in makefile, f"Makefile does not warm up with: ewacct {shlex.join(argv)}"
    assert "venv: $(STAMP) $(WARM)" in makefile and "test: $(STAMP) $(WARM)" in makefile
