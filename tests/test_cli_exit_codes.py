"""Issue 10 items 5 and 8 at the command line: exit codes, one-line errors, no abbreviations, the domain.

* bad input: exit 2 and exactly one line on stderr naming the argument and its range, no traceback;
* an internal failure: exit 3 and one line "internal error: ... please report", never shown as bad input;
* Ctrl-C: exit 130;
* abbreviated long options are refused on every parser (``--certify`` is not ``--certify-with``);
* ``compare --methods ""`` is an error, not "run everything";
* the accepted DP-SGD domain is checked at the entrance and stated in ``--help``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ewacct import _validate as V
from ewacct import cli
from ewacct.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, module: str = "ewacct", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _exit(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    return exc.value.code, err


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


# ------------------------------------------------------------------------------------ abbreviations
def test_every_parser_refuses_abbreviations():
    parsers = list(_all_parsers(build_parser()))
    assert len(parsers) >= 8
    assert all(p.allow_abbrev is False for p in parsers), [p.prog for p in parsers if p.allow_abbrev]


def test_standalone_commands_parser_refuses_abbreviations():
    from ewacct.commands import build_parser as commands_parser

    assert all(p.allow_abbrev is False for p in _all_parsers(commands_parser()))


@pytest.mark.parametrize("argv,flag", [
    # the case: --certify was taken as an abbreviation of --certify-with ("expected one argument")
    (["calibrate", "--target-eps", "1", "--delta", "1e-5", "-q", "0.5", "-T", "1000", "--certify"], "--certify"),
    (["epsilon", "-q", "0.01", "-s", "1", "-T", "10", "--delta", "1e-5", "--cert"], "--cert"),
    (["epsilon", "-q", "0.01", "-s", "1", "-T", "10", "--del", "1e-5"], "--del"),
    (["compare", "-q", "0.01", "-s", "1", "-T", "10", "--meth", "rdp"], "--meth"),
    (["calibrate", "--target", "1", "-q", "0.01", "-T", "10"], "--target"),
    (["epsilon", "--sampling", "0.01", "-s", "1", "-T", "10", "--delta", "1e-5"], "--sampling"),
])
def test_abbreviated_flags_are_errors(argv, flag, capsys):
    code, err = _exit(argv, capsys)
    assert code == 2 and len(err) == 1, err
    assert flag in err[0] and "expected one argument" not in err[0]


# ------------------------------------------------------------------------------------ --methods ""
@pytest.mark.parametrize("cmd", [["compare", "-q", "0.01", "-s", "1", "-T", "10"],
                                 ["calibrate", "--target-eps", "1", "-q", "0.01", "-T", "10"]])
@pytest.mark.parametrize("spec", ["", " ", ",", " , ,"])
def test_empty_methods_is_an_error(cmd, spec, capsys):
    code, err = _exit(cmd + ["--methods", spec], capsys)
    assert code == 2 and len(err) == 1, err
    assert "--methods" in err[0] and "at least one method" in err[0]


def test_empty_methods_through_the_entry_point():
    p = _run("compare", "-q", "0.01", "-s", "1", "-T", "10", "--methods", "")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "--methods" in p.stderr and "Traceback" not in p.stderr


# ------------------------------------------------------------------------------------ domain
@pytest.mark.parametrize("sub", ["epsilon", "delta", "tradeoff", "compare"])
@pytest.mark.parametrize("flag,value,needle", [
    ("-s", "1e300", "noise_multiplier must be in [0.05, 10000]"),
    ("-s", "0.04", "noise_multiplier must be in [0.05, 10000]"),
    ("-s", "10001", "noise_multiplier must be in [0.05, 10000]"),
    ("-s", "inf", "noise_multiplier must be a finite number > 0"),
    ("-s", "nan", "noise_multiplier must not be NaN"),
    ("-s", "abc", "noise_multiplier must be a real number"),
    ("-q", "1e-13", "sampling_probability must be in [1e-12, 1]"),
    ("-q", "1.5", "sampling_probability must be in (0, 1]"),
    ("-q", "nan", "sampling_probability must not be NaN"),
    ("-T", "1e13", "steps must be an integer in [1, 1e+12]"),
    ("-T", "1e400", "steps"),
    ("-T", "2.5", "steps must be an integer >= 1"),
    ("-T", "true", "steps must be a real number"),
])
def test_domain_refused_with_one_line(sub, flag, value, needle, capsys):
    args = {"-q": "0.01", "-s": "1", "-T": "10"}
    args[flag] = value
    argv = [sub] + [x for kv in args.items() for x in kv]
    argv += {"epsilon": ["--delta", "1e-5"], "delta": ["--eps", "1"], "tradeoff": [], "compare": []}[sub]
    code, err = _exit(argv, capsys)
    assert code == 2 and len(err) == 1, err
    assert needle in err[0] and err[0].startswith("ewacct"), err[0]


def test_domain_corners_are_accepted_by_the_parser():
    p = build_parser()
    for q, s, T in [("1e-12", "0.05", "1"), ("1", "1e4", "1e12")]:
        ns = p.parse_args(["epsilon", "-q", q, "-s", s, "-T", T, "--delta", "1e-5"])
        assert (ns.sampling_rate, ns.noise_multiplier, ns.steps) == (float(q), float(s), int(float(T)))


def test_calibrate_derived_q_and_T_are_checked(capsys):
    code, err = _exit(["calibrate", "--target-eps", "1", "--dataset-size", "10", "--batch-size", "10",
                       "--epochs", str(10**15)], capsys)
    assert code == 2 and len(err) == 1 and "steps (E*floor(N/B)) must be an integer in [1, 1e+12]" in err[0]


@pytest.mark.parametrize("sub", ["epsilon", "delta", "tradeoff", "compare", "calibrate"])
def test_help_states_the_domain(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"[{V.Q_MIN:g}, {V.Q_MAX:g}]" in out and f"[{V.STEPS_MIN}, {V.STEPS_MAX:.0e}]" in out
    if sub != "calibrate":
        assert f"[{V.SIGMA_MIN:g}, {V.SIGMA_MAX:g}]" in out


def test_sigma_overflow_through_the_entry_point():
    # issue 10 item 5: "-s 1e300" gave an OverflowError traceback from dp_accounting (exit 1)
    p = _run("epsilon", "-q", "0.01", "-s", "1e300", "-T", "1000", "--delta", "1e-5")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    assert "noise_multiplier must be in [0.05, 10000]" in p.stderr


@pytest.mark.parametrize("argv,needle", [
    (["tradeoff", "-q", "0.1", "-s", "1", "-T", "10", "--points", "0"], "points must be an integer in [2, 100000]"),
    (["tradeoff", "-q", "0.1", "-s", "1", "-T", "10", "--alpha", "nan"], "alpha must be in [0, 1]"),
    (["delta", "-q", "0.1", "-s", "1", "-T", "10", "--eps", "inf"], "epsilon must be a finite number >= 0"),
    (["delta", "-q", "0.1", "-s", "1", "-T", "10", "--eps", "1e400"], "epsilon must be a finite number >= 0"),
    (["epsilon", "-q", "0.1", "-s", "1", "-T", "10", "--delta", "0"], "delta must be in (0, 1)"),
    (["epsilon", "-q", "0.1", "-s", "1", "-T", "10", "--delta", "1e-5", "--order", "7"], "order must be an integer in [0, 6]"),
    (["calibrate", "--target-eps", "nan", "-q", "0.1", "-T", "10"], "epsilon must not be NaN"),
])
def test_other_bad_flags(argv, needle, capsys):
    code, err = _exit(argv, capsys)
    assert code == 2 and len(err) == 1 and needle in err[0], err


# ------------------------------------------------------------------------------------ classification
def _inject(monkeypatch, exc_factory):
    """Make the epsilon command fail inside the computation with the given exception."""

    def boom(args):
        raise exc_factory()

    monkeypatch.setattr(cli, "_accountant", boom)


ARGV = ["epsilon", "-q", "0.01", "-s", "1", "-T", "10", "--delta", "1e-5"]


@pytest.mark.parametrize("make", [
    lambda: ValueError(f"{math.log(-1)}"),  # never reached: math.log raises first -> "math domain error"
    lambda: OverflowError("math range error"),
    lambda: FloatingPointError("non-finite tilted cumulants at t=3"),
    lambda: ZeroDivisionError("float division by zero"),
    lambda: RuntimeError("boom"),
    lambda: ValueError("the tilted expansion failed numerically here (x)"),
    lambda: __import__("numpy").zeros(2).reshape(3),  # a ValueError raised inside numpy
    lambda: int(float("nan")),  # a ValueError raised by a builtin
])
def test_internal_failures_exit_3_not_2(make, monkeypatch, capsys):
    _inject(monkeypatch, make)
    code, err = _exit(ARGV, capsys)
    assert code == 3 and len(err) == 1, err
    assert err[0].startswith("ewacct epsilon: internal error:") and "please report" in err[0]
    assert ": error:" not in err[0]


def test_deliberate_refusals_exit_2(monkeypatch, capsys):
    def refuse(args):
        raise V.InputError("target_delta must be in (0, 1), got 2.0")

    monkeypatch.setattr(cli, "_accountant", refuse)
    code, err = _exit(ARGV, capsys)
    assert code == 2 and err == ["ewacct epsilon: error: target_delta must be in (0, 1), got 2.0"]


def test_value_error_raised_by_ewacct_itself_is_bad_input(capsys):
    # cli._accountant refuses --order 3 for ew-tune with its own `raise ValueError`
    code, err = _exit(ARGV + ["--method", "ew-tune", "--order", "3"], capsys)
    assert code == 2 and len(err) == 1 and "order must be 1 for method 'ew-tune'" in err[0]


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    _inject(monkeypatch, KeyboardInterrupt)
    code, err = _exit(ARGV, capsys)
    assert code == 130 and err == ["ewacct epsilon: interrupted"]


def test_internal_failure_through_the_entry_point(tmp_path):
    # the real entry point, with a kernel that fails like math.log(-1) did in the certified path
    script = (
        "import sys, ewacct.cli as c\n"
        "import math\n"
        "c._accountant = lambda args: math.log(-1)\n"
        "sys.argv = ['ewacct'] + sys.argv[1:]\n"
        "raise SystemExit(c.main())\n"
    )
    f = tmp_path / "run.py"
    f.write_text(script)
    p = subprocess.run([sys.executable, str(f), *ARGV], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and "internal error: ValueError: math domain error" in p.stderr


def test_compare_internal_failure_is_not_bad_input(monkeypatch, capsys):
    import ewacct.baselines.compare as bc

    def broken(*a, **k):
        return math.log(0.0)

    monkeypatch.setattr(bc, "compare_epsilon", broken)
    code, err = _exit(["compare", "-q", "0.01", "-s", "1", "-T", "10", "--methods", "rdp"], capsys)
    assert code == 3 and len(err) == 1 and "internal error" in err[0]


def test_unknown_method_in_compare_is_bad_input(capsys):
    code, err = _exit(["compare", "-q", "0.01", "-s", "1", "-T", "10", "--methods", "rdp,renyi"], capsys)
    assert code == 2 and len(err) == 1 and "unknown method 'renyi'" in err[0]


# ------------------------------------------------------------------------------------ fuzz
_NUMBERISH = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.sampled_from(["", " ", "1e-5", "1e400", "-0", "0x10", "1_000", "nan", "-inf", "true", "1e12", "1e-12",
                     "0.05", "1e4", "\u0661", "1,5", "--", "-1"]),
    st.text(max_size=8),
)


@settings(max_examples=200, deadline=None)
@given(q=_NUMBERISH, s=_NUMBERISH, T=_NUMBERISH, d=_NUMBERISH)
def test_fuzz_flags_parse_inside_the_domain_or_exit_2_with_one_line(q, s, T, d):
    """Any text for -q / -s / -T / --delta either parses to a value inside the accepted domain or is
    refused with exit 2 and one line (never a traceback, never a value outside the domain)."""
    import contextlib
    import io

    err = io.StringIO()
    argv = ["epsilon", f"-q={q}", f"-s={s}", f"-T={T}", f"--delta={d}"]
    with contextlib.redirect_stderr(err):
        try:
            ns = build_parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code == 2
            lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("ewacct"), lines
            return
    assert V.Q_MIN <= ns.sampling_rate <= V.Q_MAX
    assert V.SIGMA_MIN <= ns.noise_multiplier <= V.SIGMA_MAX
    assert isinstance(ns.steps, int) and V.STEPS_MIN <= ns.steps <= V.STEPS_MAX
    assert all(0.0 < x < 1.0 for x in ns.delta)


def test_method_replaced_by_exact_is_said(capsys):
    """--method tilted at q = 0.01, sigma = 1, T = 1000 is 1.7 % off the exact value: the answer is the
    exact engine's (fallback), and the output says that the asked-for method was replaced (it used to be
    labelled "exact" without a word)."""
    assert main(["epsilon", "-q", "0.01", "-s", "1", "-T", "1000", "--delta", "1e-5", "--method", "tilted"]) == 0
    out = capsys.readouterr().out
    assert "NOTE: --method tilted was asked for" in out and "answered by the exact engine" in out
    assert main(["epsilon", "-q", "0.01", "-s", "1", "-T", "1000", "--delta", "1e-5"]) == 0
    assert "NOTE" not in capsys.readouterr().out


def test_near_miss_estimate_states_the_bound(capsys, monkeypatch):
    # a few-participation estimate that missed its 1e-6 tolerance (dispatch NEAR_RTOL): labelled as an
    # estimate, never under the "exact" header, and the number to state is the rigorous bound beside it
    # (the split-pair error estimate of session 12 settles this point: switched off here, as in
    # test_fewpart_delta's near-miss test, so that a near miss is still what is printed)
    import json

    from ewacct.methods import fewpart

    monkeypatch.setattr(fewpart, "PAIR_ERRORS", False)
    # (and the truncation edge's aliasing term of session 13 off too: with it the point settles, valid)
    monkeypatch.setattr(fewpart, "EDGE_ALIAS", False)
    # (and the refinement's split rule of sessions 8-13, the default since 42a1e30: the wider rule of f9f8e08, should
    # it be switched on, splits more panels a round and this point settles, valid)
    monkeypatch.setattr(fewpart, "SPLIT_FILL", None)
    # the few-participation estimate takes ~0.6 s of CPU here, the default call budget: under load a call
    # ran out of it and answered the Chernoff bound instead (a different, also honest, output); this test is
    # about how a near miss is printed, so the budget is lifted
    from ewacct.methods import budget

    monkeypatch.setattr(budget, "CALL_BUDGET", 10.0)

    argv = ["delta", "-s", "0.5032372622286618", "-q", "1e-06", "-T", "12452", "--eps", "1.748993325387129"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "delta (estimate)" in out and "ESTIMATE (tol. missed)" in out
    stated = [line for line in out.splitlines() if line.startswith("The number to state")]
    assert len(stated) == 1 and "rigorous upper bound" in stated[0]
    assert main(argv + ["--json"]) == 0
    row = json.loads(capsys.readouterr().out)["results"][0]
    assert not row["valid"] and row["estimate"] <= row["upper_bound"]
    # printed rounded up: the printed decimal is itself an upper bound, within 1e-5 of the computed one
    printed = float(stated[0].split("<= ")[1].split(" ")[0])
    assert row["upper_bound"] <= printed <= row["upper_bound"] * (1 + 1e-5)
