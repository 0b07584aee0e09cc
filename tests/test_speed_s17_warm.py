"""Session 17 speed changes of the default path (H-SP): what they must not change.

* the compiled Newton iteration on a contour (contour.newton_eps) finds the root of the contour's own
  log delta_h: checked against a plain bisection on contour.log_delta_on;
* the ADD direction is skipped where its largest privacy loss, -T log(1 - q) (closed form), is below the
  REMOVE value: the ADD value computed anyway lies below that closed form;
* the command line does not import ewacct.baselines (scipy.optimize) for ``ewacct epsilon``, and the
  compare / calibrate subcommands still show the baselines' names and the PLD default in their help;
* ``ewacct.warmup`` runs the default path's steps without failure.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest

import ewacct
from ewacct import Accountant, PoissonSubsampledGaussian
from ewacct.methods import contour, exact


def _engine(s: float, q: float, T: int):
    acc = Accountant().compose(PoissonSubsampledGaussian(s, q), T)
    return acc._exact_engine()


@pytest.mark.parametrize("s,q,T,delta", [(1.0, 0.01, 10, 1e-5), (1.0, 0.001, 1000, 1e-5), (0.8, 0.1, 100, 1e-8)])
def test_newton_root_against_bisection(s, q, T, delta):
    eng = _engine(s, q, T)
    lt = math.log(delta)
    d = eng.dirs["remove"]
    with d._deadline():
        c0, e0 = d._initial(lt)
        ct = d._contour_for(e0, lt, math.inf)
    e, ld, _ = contour.newton_eps(ct, e0, lt)
    assert abs(ld - lt) <= 1e-10
    # an independent bracket of the same root: bisection on the contour's log delta_h (decreasing in eps)
    lo, hi = 0.5 * e, 2.0 * e
    assert contour.log_delta_on(ct, lo)[0] > lt > contour.log_delta_on(ct, hi)[0]
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if contour.log_delta_on(ct, mid)[0] > lt:
            lo = mid
        else:
            hi = mid
    assert abs(e - 0.5 * (lo + hi)) <= 1e-10 * e


@pytest.mark.parametrize("q,T", [(0.01, 10), (0.01, 30), (0.1, 10)])
def test_add_skipped_below_its_largest_loss(q, T):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = ewacct.epsilon(noise_multiplier=1.0, sampling_probability=q, steps=T, target_delta=1e-5)
    sup = -T * math.log1p(-q)  # ADD's loss is at most -log(1 - q) per step
    assert r.method == "exact" and r.valid and float(r) > sup
    assert "largest privacy loss" in str(r.diagnostics.get("add"))
    eng = _engine(1.0, q, T)
    a = eng._add_epsilon(math.log(1e-5))
    assert a.value <= sup * (1.0 + 1e-9)


def test_cli_epsilon_does_not_import_baselines():
    code = ("import sys; from ewacct.cli import main; main(['epsilon', '-q', '0.01', '-s', '1', '-T', '1000', "
            "'--delta', '1e-5']); "
            "print('BASELINES', 'ewacct.baselines' in sys.modules, 'scipy.optimize' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "BASELINES False False" in out.stdout


@pytest.mark.parametrize("cmd", ["compare", "calibrate"])
def test_lazy_help_still_names_baselines(cmd, capsys):
    from ewacct.baselines import BASELINE_NAMES, PLD_DISCRETIZATION
    from ewacct.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args([cmd, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "methods: " + ", ".join(BASELINE_NAMES[:3]) in text
    assert f"(default {PLD_DISCRETIZATION:g})" in text
    ns = build_parser().parse_args([cmd, "--target-eps", "8", "-q", "0.01", "-T", "100"] if cmd == "calibrate"
                                   else [cmd, "-q", "0.01", "-s", "1", "-T", "100"])
    assert ns.pld_discretization == PLD_DISCRETIZATION


def test_warmup_default_steps():
    steps = ewacct.warmup(certified=False)
    assert steps and all(s["error"] is None for s in steps)
    assert not any("certified" in s["label"] for s in steps)
