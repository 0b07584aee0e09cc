"""Every example in README.md and docs/*.md runs, and docs/api.md matches the docstrings.

Rules for documentation authors:

* a fenced block tagged ``python`` is executed (fresh namespace, working directory a temporary
  folder); keep each under about 5 s;
* in a block tagged ``console``, ``bash``, ``shell`` or ``sh``, every line starting with
  ``$ ewacct `` is run through :func:`ewacct.cli.main` (argv split with :mod:`shlex`; a trailing
  backslash continues the line) and must exit 0;
* a line ``<!-- expect-exit: N -->`` right before a block says its commands document an error and
  must exit with status N (usually 2);
* a line ``<!-- no-test -->`` right before a block skips it.  Use it only for blocks that need torch
  or take more than 10 s.  ``ewacct demo`` and ``ewacct finetune`` lines are always skipped (they
  need torch and take minutes; their own tests cover them).

``docs/api_contract.md`` (an internal contract written as pseudo-signatures) is not collected.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"console", "bash", "shell", "sh"}
FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
SKIP_COMMANDS = {"demo", "finetune"}
#: pages whose code blocks are contracts or signatures, not runnable examples
NOT_EXAMPLES = {"docs/api_contract.md"}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: bool
    expect_exit: int

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def doc_files() -> list[Path]:
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    return [f for f in files if f.exists() and f.relative_to(ROOT).as_posix() not in NOT_EXAMPLES]


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group(2), m.group(3).lower()
        prev = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        skip = prev == "<!-- no-test -->"
        em = re.fullmatch(r"<!--\s*expect-exit:\s*(\d+)\s*-->", prev)
        blocks.append(Block(path, i + 1, lang, "\n".join(lines[i + 1:j]), skip, int(em.group(1)) if em else 0))
        i = j + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in parse_blocks(f)]


def shell_commands(code: str) -> list[str]:
    """The ``$ ewacct ...`` command lines of a shell block (continuations joined)."""
    out: list[str] = []
    pending: str | None = None
    for raw in code.splitlines():
        line = raw.rstrip()
        if pending is not None:
            pending += " " + line.rstrip("\\").strip()
            if not line.endswith("\\"):
                out.append(pending)
                pending = None
            continue
        if line.startswith("$ ewacct "):
            cmd = line[2:]
            if cmd.endswith("\\"):
                pending = cmd.rstrip("\\").strip()
            else:
                out.append(cmd)
    if pending is not None:
        out.append(pending)
    return out


PY_BLOCKS = [b for b in all_blocks() if b.lang == "python"]
SH_BLOCKS = [b for b in all_blocks() if b.lang in SHELL_LANGS and shell_commands(b.code)]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Load the Numba kernels and dp_accounting once, so block timings measure the blocks."""
    import ewacct

    ewacct.epsilon(noise_multiplier=0.7865, sampling_probability=0.029696, steps=660, target_delta=1e-5)
    try:
        import dp_accounting  # noqa: F401
    except ImportError:
        pass


def test_docs_have_examples() -> None:
    """The collection itself works: the quick start has both kinds of example."""
    ids = [b.id for b in PY_BLOCKS + SH_BLOCKS]
    assert any(i.startswith("docs/quickstart.md") for i in ids)
    assert any(i.startswith("README.md") for i in ids)


@pytest.mark.parametrize("block", PY_BLOCKS, ids=lambda b: b.id)
def test_python_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.skip:
        pytest.skip("marked <!-- no-test -->")
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__docs__"}
    with warnings.catch_warnings():
        # examples may demonstrate warnings on purpose; they must not fail the run
        warnings.simplefilter("ignore")
        exec(compile(block.code, block.id, "exec"), ns)  # noqa: S102 - executing our own docs


@pytest.mark.parametrize("block", SH_BLOCKS, ids=lambda b: b.id)
def test_console_block(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    if block.skip:
        pytest.skip("marked <!-- no-test -->")
    from ewacct.cli import main

    monkeypatch.chdir(tmp_path)
    ran = 0
    for cmd in shell_commands(block.code):
        argv = shlex.split(cmd)[1:]
        if argv and argv[0] in SKIP_COMMANDS:
            continue
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse errors exit 2 by SystemExit
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        assert code == block.expect_exit, (
            f"{block.id}: `{cmd}` exited {code}, expected {block.expect_exit}\n"
            f"stdout:\n{out.out}\nstderr:\n{out.err}")
        if block.expect_exit == 2:
            assert out.err.strip() and len(out.err.strip().splitlines()) == 1, out.err
        ran += 1
    if not ran:
        pytest.skip("only long-running commands (demo/finetune) in this block")


def test_api_doc_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("ewacct_gen_api", ROOT / "docs" / "gen_api.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    expected = mod.render()
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == expected, "docs/api.md is out of date: run `python docs/gen_api.py`"


# ----------------------------------------------------------------------------------------------
# The docs and everything ewacct prints stand on their own: no citation of files a user of ewacct
# does not have (the development notes theory.md, ../shared/...), and no "as the issue asks".
OUTSIDE_CITATION = re.compile(r"theory\.md|theory notes|\.\./shared|shared/docs|as the issue asks", re.IGNORECASE)


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string literal of a module (docstrings, messages, f-string parts) with its line."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _printed_sources() -> list[Path]:
    return sorted(p for pkg in ("ewacct", "ewacct_torch") for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_doc_cites_nothing_outside_the_project(path: Path) -> None:
    bad = [f"{path.relative_to(ROOT).as_posix()}:{i}: {line.strip()}"
           for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if OUTSIDE_CITATION.search(line)]
    assert not bad, "cite the paper or docs/reference_values.md instead:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _printed_sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_printed_strings_cite_nothing_outside_the_project(path: Path) -> None:
    """Docstrings (help(), docs/api.md) and messages of ewacct and ewacct_torch; comments may cite
    development notes, strings may not."""
    bad = [f"{path.relative_to(ROOT).as_posix()}:{line}: {text.strip().splitlines()[0][:100] if text.strip() else ''}"
           f" ... {OUTSIDE_CITATION.search(text).group(0)}"
           for line, text in _string_constants(path) if OUTSIDE_CITATION.search(text)]
    assert not bad, "cite the paper or docs/reference_values.md instead:\n" + "\n".join(bad)
