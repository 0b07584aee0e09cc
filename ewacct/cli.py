"""The ``ewacct`` command line.

Core subcommands (here): ``epsilon``, ``delta``, ``tradeoff``, ``demo``.  Contributed subcommands:
``compare``, ``calibrate``, ``report`` (``ewacct.commands``) and ``finetune`` (``ewacct_torch``,
imported only when that subcommand runs, so the core never imports torch).

Bad input exits with status 2 and one line on stderr naming the argument and its allowed range;
an internal failure exits with status 3 and one line starting "internal error:" (never presented as
bad input); Ctrl-C exits with 130.  Abbreviated long options are refused (``allow_abbrev=False``).
The accepted DP-SGD domain (``ewacct._validate``): sigma in [0.05, 1e4], q in [1e-12, 1], T in [1, 1e12].
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, Sequence

import numpy as np

from . import _validate as V
from ._format import fmt_down, fmt_up
from .accountant import DEFAULT_METHOD, METHODS, Accountant
from .commands import register_all
from .commands._common import (
    Q_HELP,
    SIGMA_HELP,
    STEPS_HELP,
    delta_arg,
    dump_json,
    noise_multiplier_arg,
    one_line_errors,
    run_guarded,
    sampling_rate_arg,
    steps_arg,
)
from .mechanisms import PoissonSubsampledGaussian
from .methods.dispatch import BOUND_METHODS
from .results import EdgeworthValidityWarning


def _eps_arg(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"epsilon must be a real number, got {text!r}") from None
    try:
        return V.check_nonnegative("epsilon", x)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _alpha_arg(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"alpha must be a real number, got {text!r}") from None
    if not 0.0 <= x <= 1.0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"alpha must be in [0, 1], got {text!r}")
    return x


MAX_POINTS = 100000


def _points_arg(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"points must be an integer in [2, {MAX_POINTS}], got {text!r}") from None
    if not 2 <= k <= MAX_POINTS:
        raise argparse.ArgumentTypeError(f"points must be an integer in [2, {MAX_POINTS}], got {text!r}")
    return k


def _order_arg(text: str) -> int:
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"order must be an integer in [0, 6], got {text!r}") from None
    if not 0 <= k <= 6:
        raise argparse.ArgumentTypeError(f"order must be an integer in [0, 6], got {text!r}")
    return k


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--sampling-rate", type=sampling_rate_arg, required=True, help=Q_HELP)
    p.add_argument("-s", "--noise-multiplier", type=noise_multiplier_arg, required=True, help=SIGMA_HELP)
    p.add_argument("-T", "--steps", type=steps_arg, required=True, help=STEPS_HELP)
    p.add_argument("--method", choices=METHODS, default=None, help="accounting method (default: exact)")
    p.add_argument("--order", type=_order_arg, default=None, help="expansion order (tilted default 3, edgeworth 2)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _accountant(args: argparse.Namespace) -> Accountant:
    if args.method == "ew-tune" and args.order not in (None, 1):
        raise ValueError(f"order must be 1 for method 'ew-tune', got {args.order}")
    if args.order is not None and args.method in (None, "exact"):
        raise ValueError("--order applies to the expansions (--method tilted, edgeworth or ew-tune); "
                         "the exact method (the default) has no order")
    acc = Accountant(method=args.method, order=args.order)
    return acc.compose(PoissonSubsampledGaussian(args.noise_multiplier, args.sampling_rate), args.steps)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.6g}"


def _validity_words(valid: bool, method: str, near: bool = False) -> str:
    if valid:
        return "ok"
    if method in BOUND_METHODS:
        return "UPPER BOUND only"
    if near:
        return "ESTIMATE (tol. missed)"
    return "UNRELIABLE"


def _estimate_cell(r: dict[str, Any]) -> str:
    """The estimate column: a bound rounded up; a flagged estimate the certified path moved into its bracket shows
    the method's own value, starred (EW-Tune's 0.613862 at q 0.01, sigma 1, T 100, not the bracket's end 0.718035)."""
    if r["method"] in BOUND_METHODS:
        return fmt_up(r["estimate"])
    if r["unclamped"] is not None:
        return _fmt(r["unclamped"]) + "*"
    return _fmt(r["estimate"])


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in out)


def _rows(res: Any, key: str, n: int) -> list[dict[str, Any]]:
    def at(x: Any, i: int) -> Any:
        if x is None:
            return None
        a = np.asarray(x, dtype=object if isinstance(x, np.ndarray) and x.dtype == object else None)
        return a.reshape(-1)[i].item() if hasattr(a.reshape(-1)[i], "item") else a.reshape(-1)[i]

    methods = res.diagnostics.get("methods", [res.method] * n)
    per = res.diagnostics.get("per_query", [res.diagnostics] * n)
    rows = []
    for i in range(n):
        d = per[i] if i < len(per) and isinstance(per[i], dict) else {}
        rows.append({
            key: at(getattr(res, key), i),
            "estimate": at(res.estimate, i),
            "lower": at(res.lower, i),
            "upper": at(res.upper, i),
            "method": methods[i],
            "direction": at(res.direction, i),
            "valid": bool(at(res.valid, i)),
            # a quadrature estimate that missed its tolerance: the rigorous bound the dispatch kept beside it
            "upper_bound": d.get("upper_bound"),
            # a flagged value the certified path moved into its bracket (dispatch._clamp_flagged): the method's own
            "unclamped": d.get("unclamped"),
        })
    return rows


def _query(args: argparse.Namespace, *, kind: str) -> int:
    """``ewacct epsilon`` (kind "epsilon": inputs are deltas) and ``ewacct delta`` (inputs are eps)."""
    acc = _accountant(args)
    inputs = args.delta if kind == "epsilon" else args.eps
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", EdgeworthValidityWarning)
        query = acc.get_epsilon if kind == "epsilon" else acc.get_delta
        res = query(np.array(inputs), certify=args.certify)
    key = "delta" if kind == "epsilon" else "epsilon"
    rows = _rows(res, key, len(inputs))
    if args.json:
        print(dump_json({"query": kind, "config": _config(args), "results": rows}))
        return 0
    print(f"DP-SGD: q={args.sampling_rate:g}, sigma={args.noise_multiplier:g}, T={args.steps}, add-or-remove-one adjacency")
    exact = all(str(r["method"]).startswith("exact") and r["valid"] for r in rows)
    label = f"{kind} (exact)" if exact else f"{kind} (estimate)"
    print(_table([key, label, "cert. lower", "cert. upper", "method", "direction", "validity"],
                 [[_fmt(r[key]), _estimate_cell(r),
                   fmt_down(r["lower"]), fmt_up(r["upper"]), r["method"],
                   str(r["direction"]), _validity_words(r["valid"], r["method"], r["upper_bound"] is not None)]
                  for r in rows]))
    asked = getattr(args, "method", None)
    diag = res.diagnostics if isinstance(res.diagnostics, dict) else {}
    fbs = [d.get("fallback") for d in diag.get("per_query", [diag]) if isinstance(d, dict)]
    fb = next((f for f in fbs if f), None)
    if asked not in (None, "exact") and fb:
        print(f"NOTE: --method {asked} was asked for; {fb} (its own value and its measured error against "
              "the exact one are in the Python result's diagnostics).")
    moved = [r for r in rows if r["unclamped"] is not None and r["method"] not in BOUND_METHODS]
    if moved:
        print(f"*: {moved[0]['method']}'s own value, outside its certified bracket (shown as the method computed it;\n"
              "the Python result's value is the bracket's nearer end, the own value is in diagnostics['unclamped']).")
    if any(r["method"] in BOUND_METHODS for r in rows):
        print("UPPER BOUND only: the exact value could not be settled here; the number is a rigorous\n"
              "upper bound (Chernoff, or by composition), not the exact value.")
    if any(not r["valid"] and r["upper_bound"] is not None for r in rows):
        print("ESTIMATE (tol. missed): the exact quadrature missed its 1e-6 tolerance (its own error estimate is\n"
              "at most 1e-4); the number to state is the rigorous upper bound beside it.")
    if any(not r["valid"] and r["method"] not in BOUND_METHODS and r["upper_bound"] is None for r in rows):
        print("UNRELIABLE: the estimate is outside its method's validity (more than 1e-3 from the exact\n"
              "value) or outside its certified bracket; do not state it.")
    sym = "epsilon" if kind == "epsilon" else "delta"
    for r in rows:
        at = f" at {key} = {_fmt(r[key])}" if len(rows) > 1 else ""
        if args.certify and r["upper"] is not None:
            print(f"The number to state{at}: {sym} <= {fmt_up(r['upper'])} (certified upper bound, rounded up).")
        elif r["valid"] and str(r["method"]).startswith("exact"):
            print(f"The number to state{at}: {sym} = {_fmt(r['estimate'])} (exact; --certify adds a bracket).")
        elif r["method"] in BOUND_METHODS:
            print(f"The number to state{at}: {sym} <= {fmt_up(r['estimate'])} (rigorous upper bound, rounded up).")
        elif not r["valid"] and r["upper_bound"] is not None:
            print(f"The number to state{at}: {sym} <= {fmt_up(r['upper_bound'])} (rigorous upper bound, rounded up; the estimate "
                  f"{_fmt(r['estimate'])} missed its tolerance; --certify may tighten it).")
        else:
            print(f"The number to state{at}: unknown from this method; rerun without --method or with --certify.")
    return 0


def cmd_epsilon(args: argparse.Namespace) -> int:
    return _query(args, kind="epsilon")


def cmd_delta(args: argparse.Namespace) -> int:
    return _query(args, kind="delta")


def cmd_tradeoff(args: argparse.Namespace) -> int:
    acc = _accountant(args)
    alpha = np.array(args.alpha) if args.alpha else np.linspace(0.0, 1.0, args.points)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always", EdgeworthValidityWarning)
        res = acc.tradeoff(alpha)
    if args.json:
        print(dump_json({"query": "tradeoff", "config": _config(args), "alpha": res.alpha.tolist(),
                         "beta": res.beta.tolist(), "method": res.method, "valid": res.valid}))
        return 0
    print(f"f-DP trade-off curve (symmetrised), method {res.method}: beta = type II error at type I error alpha")
    print(_table(["alpha", "beta", "1 - alpha"], [[_fmt(a), _fmt(b), _fmt(1 - a)] for a, b in zip(res.alpha, res.beta)]))
    if not res.valid:
        print("warning: part of the curve comes from estimates outside their validity domain")
    return 0


def _config(args: argparse.Namespace) -> dict[str, Any]:
    return {"sampling_probability": args.sampling_rate, "noise_multiplier": args.noise_multiplier,
            "steps": args.steps, "method": args.method or DEFAULT_METHOD, "order": args.order}


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(quick_finetune=not args.no_finetune)


def cmd_finetune(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        from ewacct_torch.finetune import main as ft_main
    except ImportError as exc:
        sys.stderr.write(f"ewacct finetune: error: needs the torch extra (pip install 'ewacct[torch]'): {exc}\n")
        return 2
    return int(ft_main(rest) or 0)


class _Parser(argparse.ArgumentParser):
    """argparse lets "--" (end of options) stand in for an option's value (``-q=--``) and then stores an
    empty list without calling the type function: refuse that like any other bad value."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        ns = super().parse_args(args, namespace)
        for name in ("sampling_rate", "noise_multiplier", "steps"):
            if isinstance(getattr(ns, name, None), list):
                self.error(f"--{name.replace('_', '-')} needs a number, got '--'")
        for name in ("delta", "eps", "alpha"):
            v = getattr(ns, name, None)
            if isinstance(v, list) and not v:
                self.error(f"--{name} needs at least one number")
        return ns


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ewacct", description="Edgeworth / saddlepoint privacy accountant for DP-SGD", allow_abbrev=False,
        epilog=f"accepted DP-SGD domain: {SIGMA_HELP}; {Q_HELP}; {STEPS_HELP}. Exit codes: 0 ok, 2 bad input, "
               "3 internal error, 130 interrupted.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("epsilon", help="epsilon(delta) of DP-SGD", allow_abbrev=False)
    _common(p)
    p.add_argument("--delta", type=delta_arg, nargs="+", required=True, help="target delta(s) in (0, 1)")
    p.add_argument("--certify", action="store_true", help="also compute a certified [lower, upper] bracket")
    p.set_defaults(func=cmd_epsilon)
    p = sub.add_parser("delta", help="delta(epsilon) of DP-SGD", allow_abbrev=False)
    _common(p)
    p.add_argument("--eps", type=_eps_arg, nargs="+", required=True, help="epsilon value(s) >= 0")
    p.add_argument("--certify", action="store_true", help="also compute a certified [lower, upper] bracket")
    p.set_defaults(func=cmd_delta)
    p = sub.add_parser("tradeoff", help="f-DP trade-off curve beta(alpha)", allow_abbrev=False)
    _common(p)
    p.add_argument("--alpha", type=_alpha_arg, nargs="+", default=None, help="type I errors in [0, 1]")
    p.add_argument("--points", type=_points_arg, default=11,
                   help=f"number of alphas on [0, 1] when --alpha is absent, an integer in [2, {MAX_POINTS}]")
    p.set_defaults(func=cmd_tradeoff)
    p = sub.add_parser("demo", help="the main job: epsilon of a typical fine-tuning run, baselines, a quick DP fine-tune",
                       allow_abbrev=False)
    p.add_argument("--no-finetune", action="store_true", help="skip the quick DP fine-tuning part")
    p.set_defaults(func=cmd_demo)
    sub.add_parser("finetune", help="DP fine-tuning with the ewacct accountant (needs the torch extra; see --help there)",
                   add_help=False, allow_abbrev=False).set_defaults(func=None, passthrough=True)
    register_all(sub)
    for sp in sub.choices.values():
        one_line_errors(sp)
    return one_line_errors(parser)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "finetune":
        return run_guarded(lambda a: cmd_finetune(a, argv[1:]), argparse.Namespace(), "ewacct finetune")
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_guarded(args.func, args, f"ewacct {args.command}")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
