"""Generate docs/api.md from the docstrings of ewacct's public API.

Usage::

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 if docs/api.md is out of date

The page is built with :mod:`inspect` only (signatures and docstrings), so it always says what the
code says.  ``tests/test_docs.py::test_api_doc_up_to_date`` regenerates it and compares.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Callable

OUT = Path(__file__).resolve().parent / "api.md"

SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Returns|Yields|Raises|Attributes|Example|Examples|Note|Notes):\s*$")
ITEM_SECTIONS = {"Args", "Arguments", "Parameters", "Raises", "Attributes"}


def _rst_to_md(text: str) -> str:
    """``literal`` -> `literal`; :func:`x` / :meth:`x` -> `x`."""
    text = re.sub(r":(?:func|meth|class|mod|attr|data):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _docstring(obj: Any) -> str:
    doc = obj.__doc__ if isinstance(obj, property) else inspect.getdoc(obj)
    return inspect.cleandoc(doc) if doc else ""


def render_docstring(doc: str) -> str:
    """Google-style docstring -> Markdown (free text, bullet lists for Args/Raises, pycon examples)."""
    if not doc:
        return "*(no docstring)*\n"
    out: list[str] = []
    section: str | None = None
    buf: list[str] = []

    def flush() -> None:
        nonlocal buf
        if not buf:
            return
        if section is None or section in ("Note", "Notes"):
            out.append(_rst_to_md("\n".join(buf)).strip("\n") + "\n")
        elif section in ("Example", "Examples"):
            body = inspect.cleandoc("\n".join(buf))
            out.append("```pycon\n" + body.strip("\n") + "\n```\n")
        elif section in ITEM_SECTIONS:
            items: list[str] = []
            base = min((len(ln) - len(ln.lstrip()) for ln in buf if ln.strip()), default=0)
            for ln in buf:
                if not ln.strip():
                    continue
                indent = len(ln) - len(ln.lstrip())
                if indent <= base and ":" in ln:
                    name, _, rest = ln.strip().partition(":")
                    items.append(f"- `{name.strip()}`: {_rst_to_md(rest.strip())}")
                elif items:
                    items[-1] += " " + _rst_to_md(ln.strip())
                else:
                    items.append("- " + _rst_to_md(ln.strip()))
            out.append("\n".join(items) + "\n")
        else:  # Returns / Yields: free text
            out.append(_rst_to_md(" ".join(ln.strip() for ln in buf if ln.strip())) + "\n")
        buf = []

    for line in doc.splitlines():
        m = SECTION_RE.match(line.strip()) if not line.startswith((" ", "\t")) else None
        if m:
            flush()
            section = m.group(1)
            label = {"Args": "Arguments", "Parameters": "Arguments"}.get(section, section)
            out.append(f"**{label}**\n")
            continue
        buf.append(line)
    flush()
    return "\n".join(out)


def _signature(name: str, obj: Callable[..., Any]) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"```text\n{name}(...)\n```\n"

    def ann(a: Any) -> str:
        return a.strip("'\"") if isinstance(a, str) else inspect.formatannotation(a)

    parts: list[str] = []
    kw_only_marked = False
    prev_kind = None
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not kw_only_marked:
            if prev_kind is not inspect.Parameter.VAR_POSITIONAL:
                parts.append("*")
            kw_only_marked = True
        if prev_kind is inspect.Parameter.POSITIONAL_ONLY and p.kind is not inspect.Parameter.POSITIONAL_ONLY:
            parts.append("/")
        star = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}.get(p.kind, "")
        item = star + p.name
        if p.annotation is not inspect.Parameter.empty:
            item += ": " + ann(p.annotation)
        if p.default is not inspect.Parameter.empty:
            d = "<factory>" if repr(p.default) == "<factory>" else repr(p.default)
            item += (" = " if p.annotation is not inspect.Parameter.empty else "=") + d
        parts.append(item)
        prev_kind = p.kind
    text = "(" + ", ".join(parts) + ")"
    if sig.return_annotation is not inspect.Signature.empty:
        text += " -> " + ann(sig.return_annotation)
    return f"```text\n{name}{text}\n```\n"


def _entry(title: str, obj: Any, level: int = 3, *, call_name: str | None = None) -> str:
    parts = [f"{'#' * level} `{title}`\n"]
    if isinstance(obj, property):
        parts.append(f"*property*\n\n{render_docstring(_docstring(obj))}")
        return "\n".join(parts)
    if callable(obj):
        parts.append(_signature(call_name or title.split(".")[-1], obj))
    parts.append(render_docstring(_docstring(obj)))
    return "\n".join(parts)


def _public_members(cls: type, names: list[str]) -> list[str]:
    out = []
    for n in names:
        attr = inspect.getattr_static(cls, n)
        title = f"{cls.__name__}.{n}"
        if isinstance(attr, property):
            out.append(_entry(title, attr, 4))
        else:
            out.append(_entry(title, getattr(cls, n), 4, call_name=n))
    return out


def render() -> str:
    import ewacct
    from ewacct import accountant as acc_mod
    from ewacct import calibrate as cal
    from ewacct import mechanisms as mech
    from ewacct import results

    parts: list[str] = [
        "# API reference\n",
        "<!-- Generated by docs/gen_api.py from the docstrings; do not edit by hand. "
        "Regenerate with `python docs/gen_api.py`. -->\n",
        "Everything below is importable from `ewacct` unless a module is named. What the numbers mean "
        "is explained in [guide.md](guide.md); the mathematics in [math.md](math.md).\n",
        "## One-call functions\n",
        _entry("ewacct.epsilon", ewacct.epsilon),
        _entry("ewacct.delta", ewacct.delta),
        "## The accountant\n",
        _entry("ewacct.Accountant", ewacct.Accountant),
        *_public_members(ewacct.Accountant, ["compose", "ledger", "groups", "steps", "get_epsilon", "get_delta",
                                             "tradeoff", "pld_bracket", "state_dict", "load_state_dict", "copy"]),
        "### Module constants (`ewacct.accountant`)\n",
        "| name | value |\n|---|---|\n" + "\n".join(
            f"| `{n}` | `{getattr(acc_mod, n)!r}` |"
            for n in ("METHODS", "DEFAULT_METHOD", "DEFAULT_ORDER", "TILTED_TOLERANCE",
                      "EDGEWORTH_VALIDITY_THRESHOLD", "LATTICE_MASS_THRESHOLD", "STATE_VERSION")) + "\n",
        "## Mechanisms (`ewacct.mechanisms`)\n",
        _entry("ewacct.Mechanism", mech.Mechanism),
        *_public_members(mech.Mechanism, ["cgf", "cumulants", "to_dict"]),
        _entry("ewacct.PoissonSubsampledGaussian", mech.PoissonSubsampledGaussian),
        *_public_members(mech.PoissonSubsampledGaussian, ["exact_single_step_delta"]),
        _entry("ewacct.Gaussian", mech.Gaussian),
        _entry("ewacct.Laplace", mech.Laplace),
        *_public_members(mech.Laplace, ["atom_mass"]),
        _entry("ewacct.RandomizedResponse", mech.RandomizedResponse),
        _entry("ewacct.mechanisms.from_dict", mech.from_dict),
        "## Results and warnings (`ewacct.results`)\n",
        "`EpsilonResult` and `DeltaResult` share the fields `value`, `estimate`, `lower`, `upper`, `method`, "
        "`direction`, `valid`, `certified_by`, `diagnostics`; see the module docstring:\n",
        render_docstring(_docstring(results)),
        _entry("ewacct.EpsilonResult", results.EpsilonResult),
        _entry("ewacct.DeltaResult", results.DeltaResult),
        _entry("ewacct.TradeoffResult", results.TradeoffResult),
        _entry("ewacct.EdgeworthValidityWarning", results.EdgeworthValidityWarning, call_name="EdgeworthValidityWarning"),
        _entry("ewacct.EstimateOnlyWarning", results.EstimateOnlyWarning, call_name="EstimateOnlyWarning"),
        "## Calibration (`ewacct.calibrate`)\n",
        _entry("ewacct.calibrate.calibrate_noise", cal.calibrate_noise),
        _entry("ewacct.calibrate.calibrate_steps", cal.calibrate_steps),
        _entry("ewacct.calibrate.CalibrationResult", cal.CalibrationResult),
    ]
    text = "\n".join(p.rstrip("\n") + "\n" for p in parts)
    return re.sub(r"\n{3,}", "\n\n", text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that docs/api.md is up to date")
    args = p.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
