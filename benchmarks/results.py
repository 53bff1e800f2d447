"""Result files of the benchmarks, and the result tables of README and the docs rendered from them.

A benchmark calls `write_result(NAME, figures, benchmark=KIND)`: results/NAME.json holds its figures and
how they were measured (command, commit, date, CPU and the flags that change quantized numerics,
library versions). README.md and the docs pages (docs/*.md) mark each table made from results with

    <!-- results: NAME [NAME …] -->
    …
    <!-- /results -->

`python -m benchmarks.results render` rewrites those blocks, in README.md and every docs/*.md, from the
files (the table function of the files' benchmark, benchmarks/result_tables.py); `python -m
benchmarks.results check` exits 1 naming the file and the first block that differs from what the files
give, 0 when all agree. Given one Markdown file (and a results folder), either works on that file alone.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from edge_runtime.core.atomic import atomic_write_bytes

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results"
README = REPO / "README.md"
DOCS = REPO / "docs"
BLOCK = re.compile(r"(<!-- results: ([^>]*?) -->\n)(.*?)(<!-- /results -->)", re.DOTALL)
SECRET_OPTION = re.compile(r"(token|password|passwd|secret|key|credential|auth)", re.IGNORECASE)


class ResultError(Exception):
    """A result file or a README block that cannot be rendered."""


def _git(*args: str) -> str:
    """The output of a git command in the repository, or '' when git or the repository is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _shown_path(argument: str) -> str:
    """An argument as a reader can rerun it: paths inside the repository made relative to it."""
    try:
        path = Path(argument)
        if path.is_absolute() and path.resolve().is_relative_to(REPO):
            return str(path.resolve().relative_to(REPO))
        if path.is_absolute() and path.resolve().is_relative_to(REPO.parent):
            return str(Path("..") / path.resolve().relative_to(REPO.parent))
    except (OSError, ValueError):
        pass
    return argument


def command_line(argv: list[str] | None = None) -> str:
    """The command as run (`python -m MODULE …` or the entry point's name), with secret-looking values hidden."""
    argv = list(sys.argv if argv is None else argv)
    program = Path(argv[0]) if argv else Path("python")
    if program.suffix == ".py" and program.resolve().is_relative_to(REPO):
        module = program.resolve().relative_to(REPO).with_suffix("")
        words = ["python", "-m", ".".join(module.parts)]
    else:
        words = [program.name]
    hide_next = False
    for argument in argv[1:]:
        name, equals, _ = argument.partition("=")
        if hide_next:
            words.append("***")
        elif equals and SECRET_OPTION.search(name):
            words.append(f"{name}=***")
        else:
            words.append(_shown_path(argument))
        hide_next = argument.startswith("-") and not equals and bool(SECRET_OPTION.search(argument))
    return " ".join(words)


def provenance(argv: list[str] | None = None) -> dict:
    """How, where and from what a result was measured: command, commit, date, CPU, library versions."""
    import numpy

    from bench.system import cpu_model_and_flags
    from edge_runtime.inference.onnx_runtime import onnxruntime

    cpu, flags = cpu_model_and_flags()
    return {
        "command": command_line(argv),
        "commit": _git("rev-parse", "HEAD") or "unknown",
        # the results folder itself is what is being written: it does not make the code dirty
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "onnxruntime": onnxruntime().__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def add_result_option(parser: argparse.ArgumentParser, what: str = "") -> None:
    """Give a benchmark's parser `--result NAME`: also write its figures to results/NAME.json."""
    parser.add_argument("--result", metavar="NAME", help=f"{what}also write the figures to results/NAME.json")


def write_result(
    name: str, figures: dict, benchmark: str, root: Path | None = None, argv: list[str] | None = None
) -> Path:
    """Write NAME.json in `root` (default results/) atomically: figures, benchmark and provenance."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ResultError(f"a result name is letters, digits, '_', '-' and '.', not {name!r}")
    path = Path(root or RESULTS) / f"{name}.json"
    document = {"benchmark": benchmark, "provenance": provenance(argv), "figures": figures}
    atomic_write_bytes(path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode())
    return path


def load_result(name: str, root: Path | None = None) -> dict:
    """The document of root/NAME.json (a ResultError when it is missing or not a result file)."""
    path = Path(root or RESULTS) / f"{name}.json"
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ResultError(f"cannot read result file {path}: {getattr(error, 'strerror', None) or error}") from None
    if not {"benchmark", "provenance", "figures"} <= set(document):
        raise ResultError(f"{path} is not a result file (no benchmark, provenance or figures)")
    return document


def provenance_line(name: str, document: dict) -> str:
    """One line under a table: which file, CPU and flags, date, commit and the command."""
    p = document["provenance"]
    flags = ", ".join(p["cpu_flags"]) or "none of the quantization-relevant flags"
    commit = p["commit"][:10] + (" with uncommitted changes" if p["dirty"] else "")
    load = p.get("load_average_1min", "not recorded")
    return (
        f"<sub>`results/{name}.json`: {p['cpu']} ({flags}; {p['cores']} cores, load {load}), {p['date'][:10]}, "
        f"commit {commit}, onnxruntime {p['onnxruntime']}: `{p['command']}`</sub>"
    )


def render_block(names: list[str], root: Path | None = None) -> str:
    """The body of a block naming these result files: their table and one provenance line each."""
    from benchmarks.result_tables import TABLES

    try:
        documents = [load_result(name, root) for name in names]
    except ResultError as error:
        raise ResultError(f"block 'results: {' '.join(names)}': {error}") from None
    kinds = {d["benchmark"] for d in documents}
    if len(kinds) != 1 or next(iter(kinds)) not in TABLES:
        raise ResultError(f"block '{' '.join(names)}': its files must come from one benchmark with a table")
    try:
        table = TABLES[kinds.pop()]([d["figures"] for d in documents])
        lines = [provenance_line(name, d) for name, d in zip(names, documents, strict=True)]
    except (KeyError, TypeError, ValueError) as error:
        block = " ".join(names)
        raise ResultError(f"block 'results: {block}': a file lacks a figure or its provenance ({error})") from None
    return f"\n{table.rstrip()}\n\n" + "<br>\n".join(lines) + "\n"


def documents() -> list[Path]:
    """The Markdown files whose results blocks `render` and `check` cover by default: README.md, then docs/*.md."""
    return [README, *sorted(DOCS.glob("*.md"))]


def _require_closed(text: str) -> None:
    """Raise ResultError where an opening marker has no closing one (its table would escape the check)."""
    openings, blocks = text.count("<!-- results:"), len(BLOCK.findall(text))
    if openings != blocks:
        raise ResultError(f"{openings - blocks} '<!-- results: …' marker(s) without '<!-- /results -->' after them")


def render_text(text: str, root: Path | None = None) -> str:
    """`text` with every results block rewritten from the files."""
    _require_closed(text)
    return BLOCK.sub(lambda m: m.group(1) + render_block(m.group(2).split(), root) + m.group(4), text)


def _shown_document(path: Path) -> str:
    """A Markdown file's name as a message gives it: relative to the repository when inside it."""
    return _shown_path(str(Path(path).resolve()))


def first_difference(text: str, root: Path | None = None, document: str = "README") -> str | None:
    """A one-line reason for the first block of `document` (named in the reason) that differs from what
    the files render, or None."""
    try:
        _require_closed(text)
    except ResultError as error:
        return f"{document}: {error}"
    for match in BLOCK.finditer(text):
        try:
            rendered = render_block(match.group(2).split(), root)
        except ResultError as error:
            return f"{document} {error}"
        if rendered != match.group(3):
            line = text.count("\n", 0, match.start()) + 1
            return (
                f"{document} block 'results: {match.group(2)}' (line {line}) differs from its result files "
                "(python -m benchmarks.results render)"
            )
    return None


def _check(paths: list[Path], root: Path | None) -> int:
    """Exit status of `check`: 1, with the first difference on stderr, when a block disagrees."""
    for path in paths:
        reason = first_difference(path.read_text(), root, _shown_document(path))
        if reason:
            print(reason, file=sys.stderr)
            return 1
    return 0


def _render(paths: list[Path], root: Path | None) -> int:
    """Exit status of `render`: every file's blocks rendered first, then the changed files written."""
    changed = []
    for path in paths:
        text = path.read_text()
        try:
            rendered = render_text(text, root)
        except ResultError as error:
            print(f"{_shown_document(path)} {error}", file=sys.stderr)
            return 1
        if rendered != text:
            changed.append((path, rendered))
    for path, rendered in changed:
        atomic_write_bytes(path, rendered.encode())
    return 0


def main(argv: list[str] | None = None) -> int:
    """`render` rewrites the blocks of README.md and docs/*.md (or of the one file given) from the result
    files; `check` says whether they agree (exit 1 if not)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("render", "check") or len(args) > 3:
        print("usage: python -m benchmarks.results render|check [FILE.md [RESULTS_DIR]]", file=sys.stderr)
        return 2
    paths = [Path(args[1])] if len(args) > 1 else documents()
    root = Path(args[2]) if len(args) > 2 else None
    try:
        return _check(paths, root) if args[0] == "check" else _render(paths, root)
    except (OSError, UnicodeDecodeError) as error:
        print(f"python -m benchmarks.results: cannot read {getattr(error, 'filename', None) or args[1]}: "
              f"{getattr(error, 'strerror', None) or error}", file=sys.stderr)  # fmt: skip
        return 2


if __name__ == "__main__":
    sys.exit(main())
