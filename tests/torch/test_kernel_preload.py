"""The once-per-process kernel load is paid when the first accountant is constructed.

``PrivacyEngine(accountant="ew")`` constructs an ``EWAccountant``; its constructor loads ewacct's
Numba kernels (``ewacct_torch.load_kernels``), so that the training loop's first ``get_epsilon``
does not pay Numba's start-up. Checked in a fresh process (the test process has long loaded them):
which kernels have a loaded overload after construction, that the opt-out leaves them to the first
query, and that a failing load never breaks construction. Timings are measured by
``benchmarks/torch_accountant.py``, not asserted here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("opacus")
pytest.importorskip("ewacct")

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import json, math, warnings
    warnings.simplefilter("ignore")
    import ewacct_torch
    from ewacct_torch import EWAccountant, load_kernels
    from ewacct._kernels import mgf, mgf_cert

    def loaded():
        return [bool(k.signatures) for k in (mgf_cert.sg_g_enclose_many, mgf.sg_composition_real)]

    out = {"start": loaded()}
    EWAccountant.preload_kernels = False
    EWAccountant()
    out["opted_out"] = loaded()
    EWAccountant.preload_kernels = True
    bad = EWAccountant(method="no-such-method")  # its load fails: construction must not
    out["bad_constructed"] = True
    try:
        bad.history = [(1.0, 0.01, 10)]
        bad.get_epsilon(1e-5)
        out["bad_query"] = "answered"
    except Exception as exc:
        out["bad_query"] = type(exc).__name__
    acc = EWAccountant()
    out["constructed"] = loaded()
    out["again"] = [load_kernels(), load_kernels(bound="estimate")]
    acc.history = [(1.0, 0.01, 10)]
    out["eps"] = acc.get_epsilon(1e-5)
    from ewacct.methods.certified import clear_caches
    clear_caches()  # every certified cache dropped: what a process without the load's query has
    acc = EWAccountant()
    acc.history = [(1.0, 0.01, 10)]
    out["eps_fresh"] = acc.get_epsilon(1e-5)
    print(json.dumps(out))
    """
)


def test_first_accountant_loads_the_kernels_once() -> None:
    p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=ROOT,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["start"] == [False, False]  # importing ewacct_torch loads no kernel
    assert out["opted_out"] == [False, False]  # preload_kernels = False: left to the first query
    assert out["bad_constructed"] and out["bad_query"] != "answered"  # the query reports the error
    assert out["constructed"] == [True, True]  # the certified path's kernels, the estimate's too
    assert out["again"] == [False, False]  # once per process (the estimate's are a subset)
    # the load's throwaway query (another history) leaves nothing the next answer depends on: the
    # first query after it answers as one after every certified cache was dropped (its correctness:
    # test_accountant.py's references). Bit-identical at the time of writing; 1e-10 relative leaves
    # room for a cache that legitimately narrows a later bracket, far below the certified width
    assert math.isfinite(out["eps"]) and out["eps"] > 0
    assert math.isclose(out["eps"], out["eps_fresh"], rel_tol=1e-10)
