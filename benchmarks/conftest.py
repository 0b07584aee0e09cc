"""pytest-benchmark configuration: make ``benchmarks/`` importable and skip missing peers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _bench_lib import available  # noqa: E402


def require(method: str) -> None:
    """Skip the current benchmark when the library behind ``method`` is missing."""
    ok, why = available(method)
    if not ok:
        pytest.skip(f"{method} unavailable: {why}")
