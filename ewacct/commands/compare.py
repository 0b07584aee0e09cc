"""``ewacct compare``: every accountant side by side on one DP-SGD configuration.

Example::

    ewacct compare -q 0.01 -s 1.0 -T 1000 --delta 1e-5
    ewacct compare -q 0.01 -s 1.0 -T 1000 --delta 1e-5 --methods ewacct,rdp,gdp --json

One row per method: epsilon, bracket (where the method has one), relative
difference to the exact (pessimistic) PLD epsilon, wall time, and flags for a
value below the certified lower bound (unsafe) or outside the method's
validity domain. See ``docs/cli_compare.md``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ewacct._format import fmt_bound, fmt_up
from ewacct.commands._common import (
    delta_arg,
    discretization_arg,
    dump_json,
    Q_HELP,
    SIGMA_HELP,
    STEPS_HELP,
    fmt,
    lazy_setup,
    methods_arg,
    noise_multiplier_arg,
    one_line_errors,
    sampling_rate_arg,
    steps_arg,
)

__all__ = ["register", "run"]

HELP = "compare ewacct with RDP, GDP, exact PLD and PRV on one configuration"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` subcommand to an argparse subparsers object."""
    p = subparsers.add_parser(
        "compare", help=HELP, description=HELP + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False,
    )
    p.add_argument("-q", "--sampling-rate", type=sampling_rate_arg, required=True, help=Q_HELP)
    p.add_argument("-s", "--noise-multiplier", type=noise_multiplier_arg, required=True, help=SIGMA_HELP)
    p.add_argument("-T", "--steps", type=steps_arg, required=True, help=STEPS_HELP)
    p.add_argument("--delta", type=delta_arg, default=1e-5, help="target delta in (0, 1) (default 1e-5)")
    p.add_argument("--methods", type=methods_arg, default=None, help="comma-separated methods (default: all standard rows)")
    pld = p.add_argument("--pld-discretization", type=discretization_arg, default=None,
                         help="PLD value discretisation interval")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)
    one_line_errors(p)

    def setup(parser: argparse.ArgumentParser) -> None:
        # ewacct.baselines imports scipy.optimize: only when this subcommand parses or shows its help
        from ewacct.baselines import BASELINE_NAMES, PLD_DISCRETIZATION

        parser.epilog = "methods: " + ", ".join(BASELINE_NAMES) + " (or 'all')"
        pld.default = PLD_DISCRETIZATION
        pld.help = f"PLD value discretisation interval (default {PLD_DISCRETIZATION:g})"

    return lazy_setup(p, setup)


def _table(cmp: Any) -> str:
    from ewacct.baselines import get_baseline  # noqa: F401  (keeps import cost out of --help)

    (s, q, T) = cmp.groups[0] if len(cmp.groups) == 1 else (None, None, None)
    lines = [
        f"DP-SGD: q={q:g}, sigma={s:g}, T={T}, delta={cmp.target_delta:g}  (add/remove adjacency, worse direction)"
        if s is not None else f"composition of {len(cmp.groups)} groups, delta={cmp.target_delta:g}",
    ]
    if cmp.pld_upper is not None:
        lines.append(
            f"PLD reference bracket: [{cmp.pld_lower:.6f}, {cmp.pld_upper:.6f}] "
            f"(dp_accounting, discretisation {cmp.pld_discretization:g}; bounds in exact arithmetic, not proofs)"
        )
    elif cmp.pld_note:
        lines.append(f"PLD reference: {cmp.pld_note} (no relative differences)")
    else:
        lines.append("PLD reference: unavailable (no relative differences)")
    if cmp.certified_lower is not None:
        lines.append(f"certified lower bound on epsilon: {fmt_bound(cmp.certified_lower, 6, up=False)} "
                     f"({cmp.certified_lower_source})")
    header = ("method", "kind", "epsilon", "bracket", "vs PLD", "time [s]", "flags / notes")
    body = []
    for r in cmp.rows:
        if r.epsilon is None:
            body.append((r.name, r.kind, "-", "-", "-", fmt(r.seconds, 3) if r.seconds else "-", r.note))
            continue
        bracket = (f"[{fmt_bound(r.lower, up=False)}, {fmt_bound(r.upper, up=True)}]"
                   if (r.lower is not None and r.upper is not None) else "-")
        rel = f"{100 * r.rel_diff_to_pld:+.2f}%" if r.rel_diff_to_pld is not None else "-"
        notes = "; ".join(r.flags + ([r.note] if r.note else []))
        body.append((r.name, r.kind, fmt(r.epsilon), bracket, rel, f"{r.seconds:.4f}", notes))
    widths = [max(len(str(x[i])) for x in [header] + body) for i in range(len(header) - 1)]
    out = []
    for row in [header] + body:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row[:-1], widths)) + "  " + str(row[-1]))
        if row is header:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 13)
    unsafe = [r.name for r in cmp.rows if r.unsafe]
    tail = []
    if unsafe:
        tail.append(
            "UNSAFE rows report an epsilon below a certified lower bound on the true epsilon: "
            "they under-report the privacy loss (" + ", ".join(unsafe) + ")."
        )
    over = [r.name for r in cmp.rows if r.overstates]
    if over:
        tail.append("WRONG rows offer a lower bound above ewacct's certified upper bound on the true epsilon: "
                    "not a lower bound here (" + ", ".join(over) + ").")
    invalid = [r.name for r in cmp.rows if r.invalid]
    if invalid:
        tail.append("Outside validity: " + ", ".join(invalid) + " (the method's own diagnostic says its expansion is unreliable here).")
    if cmp.certified_upper is not None:
        tail.append(f"The number to state: epsilon <= {fmt_up(cmp.certified_upper)} (ewacct's certified upper "
                    "bound, rounded up).")
    elif cmp.pld_upper is not None:
        tail.append(f"The number to state: no certified bound could be computed here; dp_accounting's pessimistic "
                    f"PLD says epsilon <= {fmt_up(cmp.pld_upper)} (an upper bound in exact arithmetic, not a proof "
                    "in floating point).")
    else:
        tail.append("The number to state: unknown here (no certified upper bound could be computed).")
    return "\n".join(lines + [""] + out + ([""] + tail if tail else []))


def run(args: argparse.Namespace) -> int:
    """Run ``ewacct compare``; returns the exit code."""
    from ewacct.baselines import parse_methods
    from ewacct.baselines.compare import compare_epsilon

    # a ValueError here propagates to the caller's guard (ewacct.commands._common.run_guarded), which
    # tells a refusal of the input (exit 2) from an internal failure (exit 3)
    methods = parse_methods(args.methods)
    cmp = compare_epsilon(
        [(args.noise_multiplier, args.sampling_rate, args.steps)],
        target_delta=args.delta, methods=methods, pld_discretization=args.pld_discretization,
    )
    if args.json:
        sys.stdout.write(dump_json(cmp.to_dict()) + "\n")
    else:
        sys.stdout.write(_table(cmp) + "\n")
    return 0
