"""``ewacct calibrate``: the noise multiplier each method would choose, and the true epsilon there.

Examples::

    ewacct calibrate --target-eps 8 --delta 1e-5 -q 0.029696 -T 660
    ewacct calibrate --target-eps 8 --delta 1e-5 --dataset-size 67349 --batch-size 2000 --epochs 20

With ``--dataset-size N --batch-size B --epochs E`` the sampling rate is
q = B / N and the number of steps T = E * floor(N / B) (EW-Tune's convention).
For each method the smallest sigma whose epsilon (by that method) meets the
target is found by Brent's method on log(sigma); then the *true* epsilon at that
sigma is certified (ewacct's certified bracket, or dp_accounting's PLD bracket)
so that an unsafe accountant's choice is visible. See ``docs/cli_compare.md``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ewacct import _validate
from ewacct._format import fixed_up, fmt_bound, fmt_up
from ewacct.commands._common import (
    delta_arg,
    discretization_arg,
    dump_json,
    epsilon_arg,
    Q_HELP,
    STEPS_HELP,
    fail,
    fmt,
    lazy_setup,
    methods_arg,
    one_line_errors,
    positive_int_arg,
    sampling_rate_arg,
    steps_arg,
)

__all__ = ["register", "run", "DEFAULT_CALIBRATE_METHODS"]

HELP = "noise multiplier each method chooses for a target epsilon, and the certified true epsilon there"

#: Rows of ``ewacct calibrate`` by default.
DEFAULT_CALIBRATE_METHODS: tuple[str, ...] = (
    "ewacct", "ewacct-certified", "edgeworth-2", "ew-tune", "rdp", "gdp", "prv", "pld-pessimistic",
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``calibrate`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser("calibrate", help=HELP, description=HELP + ".", allow_abbrev=False)
    p.add_argument("--target-eps", type=epsilon_arg, required=True, help="target epsilon > 0")
    p.add_argument("--delta", type=delta_arg, default=1e-5, help="target delta in (0, 1) (default 1e-5)")
    p.add_argument("-q", "--sampling-rate", type=sampling_rate_arg, default=None, help=Q_HELP)
    p.add_argument("-T", "--steps", type=steps_arg, default=None, help=STEPS_HELP)
    p.add_argument("--dataset-size", type=positive_int_arg("dataset_size"), default=None, help="N (with --batch-size, --epochs)")
    p.add_argument("--batch-size", type=positive_int_arg("batch_size"), default=None, help="expected batch size B")
    p.add_argument("--epochs", type=positive_int_arg("epochs"), default=None, help="number of epochs E")
    p.add_argument("--methods", type=methods_arg, default=None, help="comma-separated methods")
    pld = p.add_argument("--pld-discretization", type=discretization_arg, default=None,
                         help="PLD discretisation for the certified truth")
    p.add_argument("--search-pld-discretization", type=discretization_arg, default=1e-3,
                   help="PLD discretisation while calibrating with PLD itself (default 1e-3; still an upper bound)")
    p.add_argument("--certify-with", choices=("ewacct", "pld"), default="ewacct",
                   help="who certifies the true epsilon: ewacct's certified bracket (falling back to PLD), or PLD only")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)
    one_line_errors(p)

    def setup(parser: argparse.ArgumentParser) -> None:
        # ewacct.baselines imports scipy.optimize: only when this subcommand parses or shows its help
        from ewacct.baselines import BASELINE_NAMES, PLD_DISCRETIZATION

        parser.epilog = ("methods: " + ", ".join(BASELINE_NAMES) + " (or 'all'); default: "
                         + ",".join(DEFAULT_CALIBRATE_METHODS))
        pld.default = PLD_DISCRETIZATION
        pld.help = f"PLD discretisation for the certified truth (default {PLD_DISCRETIZATION:g})"

    return lazy_setup(p, setup)


def resolve_q_T(args: argparse.Namespace, prog: str) -> tuple[float, int, str]:
    """(q, T, how) from either -q/-T or --dataset-size/--batch-size/--epochs; exits 2 on a mix-up."""
    direct = args.sampling_rate is not None or args.steps is not None
    data = any(x is not None for x in (args.dataset_size, args.batch_size, args.epochs))
    if direct and data:
        fail(prog, "give either -q/-T or --dataset-size/--batch-size/--epochs, not both")
    if data:
        if None in (args.dataset_size, args.batch_size, args.epochs):
            fail(prog, "--dataset-size, --batch-size and --epochs must be given together")
        if args.batch_size > args.dataset_size:
            fail(prog, f"batch_size must be <= dataset_size, got {args.batch_size} > {args.dataset_size}")
        q = args.batch_size / args.dataset_size
        T = args.epochs * (args.dataset_size // args.batch_size)
        try:
            _validate.check_dpsgd_sampling_probability(q, "sampling_probability (B/N)")
            _validate.check_dpsgd_steps(T, "steps (E*floor(N/B))")
        except ValueError as exc:
            fail(prog, str(exc))
        return q, T, f"q = B/N = {args.batch_size}/{args.dataset_size}, T = E*floor(N/B) = {T}"
    if args.sampling_rate is None or args.steps is None:
        fail(prog, "give -q and -T (or --dataset-size, --batch-size and --epochs)")
    return args.sampling_rate, args.steps, "given"


def _table(rows: list[Any], *, q: float, T: int, eps: float, delta: float, how: str) -> str:
    lines = [f"target: epsilon={eps:g} at delta={delta:g}; q={q:.6g}, T={T} ({how})"]
    sources = {r.truth_source for r in rows if r.true_upper is not None}
    common = sources.pop() if len(sources) == 1 else None
    if common:
        lines.append(f"true epsilon certified by: {common}")
    lines.append("")
    header = ("method", "sigma", "its epsilon", "true epsilon (certified)", "meets target", "time [s]", "notes")
    body = []
    for r in rows:
        c = r.calibration
        if c.noise_multiplier is None:
            body.append((c.name, "-", "-", "-", "-", f"{c.seconds:.3f}", c.note))
            continue
        true = (f"[{fmt_bound(r.true_lower, up=False)}, {fmt_bound(r.true_upper, up=True)}]"
                if r.true_upper is not None else "-")
        # sigma rounded up: more noise never spends more privacy, so the printed sigma still meets
        # what the computed one meets
        body.append((c.name, fixed_up(c.noise_multiplier, 5), fmt(c.epsilon), true, r.meets_target,
                     f"{c.seconds:.3f}", "" if common else r.truth_source))
    widths = [max(len(str(x[i])) for x in [header] + body) for i in range(len(header) - 1)]
    out = []
    for row in [header] + body:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(row[:-1], widths)) + "  " + str(row[-1]))
        if row is header:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 20)
    bad = [r.calibration.name for r in rows if r.meets_target == "overspends"]
    tail = [""]
    if bad:
        tail.append("At the sigma chosen by " + ", ".join(bad) + " the certified true epsilon EXCEEDS the target.")
    ok = [r for r in rows if r.meets_target == "meets target" and r.calibration.noise_multiplier is not None]
    if ok:
        best = min(ok, key=lambda r: r.calibration.noise_multiplier)
        tail.append(f"The number to state: sigma = {fixed_up(best.calibration.noise_multiplier, 5)} "
                    f"(rounded up; {best.calibration.name}; certified epsilon <= {fmt_up(best.true_upper)} at the "
                    "computed sigma meets the target, and more noise spends no more).")
    else:
        tail.append("The number to state: unknown -- no sigma here has a certified epsilon within the target "
                    "(try --certify-with ewacct or a finer --pld-discretization).")
    return "\n".join(lines + out + tail)


def run(args: argparse.Namespace) -> int:
    """Run ``ewacct calibrate``; returns the exit code."""
    from ewacct.baselines import parse_methods
    from ewacct.baselines.calibration import calibrate_methods

    prog = "ewacct calibrate"
    methods = parse_methods(args.methods, default=DEFAULT_CALIBRATE_METHODS)
    q, T, how = resolve_q_T(args, prog)
    # a ValueError from here on propagates to the caller's guard (ewacct.commands._common.run_guarded),
    # which tells a refusal of the input (exit 2) from an internal failure (exit 3)
    rows = calibrate_methods(
        methods, target_epsilon=args.target_eps, target_delta=args.delta, sampling_probability=q, steps=T,
        pld_discretization=args.pld_discretization, search_pld_discretization=args.search_pld_discretization,
        truth=("ewacct-certified", "pld") if args.certify_with == "ewacct" else ("pld",),
    )
    if args.json:
        payload = {
            "config": {"target_epsilon": args.target_eps, "target_delta": args.delta, "sampling_probability": q,
                       "steps": T, "derived": how, "pld_discretization": args.pld_discretization},
            "rows": [r.to_dict() for r in rows],
        }
        sys.stdout.write(dump_json(payload) + "\n")
    else:
        sys.stdout.write(_table(rows, q=q, T=T, eps=args.target_eps, delta=args.delta, how=how) + "\n")
    return 0
