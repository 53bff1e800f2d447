"""Every module, public class, public function and public method of a public class says what it does
in a sentence: the API page of the docs is generated from these docstrings.

Read with `ast`, nothing imported, so this runs where torch (or OpenCV) is missing. Click commands
are public functions too: their docstring is the command's --help text.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("edge_runtime", "export", "train", "bench")

# The summary (first paragraph) ends a sentence; ':' introduces what follows it, as in "Two ways to cut a face:".
TERMINAL = (".", "!", "?", ":")
BOILERPLATE = ("this function", "this method", "this class", "this module", "todo")
SKIPPED_DECORATORS = {"overload", "setter", "deleter"}


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """The last part of each decorator's name: `overload`, `setter`, `command`..."""
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute):
            names.add(target.attr)
        elif isinstance(target, ast.Name):
            names.add(target.id)
    return names


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of a module or class body, those inside `if`, `try` and `with` blocks included."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.With):
            yield from _statements(node.body)
            yield from _statements(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(handler.body for handler in node.handlers)):
                yield from _statements(block)


def _public(body: list[ast.stmt], prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Public classes and functions of a body by qualified name, and the public methods of public classes."""
    for node in _statements(body):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or node.name.startswith("_"):
            continue
        if _decorator_names(node) & SKIPPED_DECORATORS:
            continue
        yield prefix + node.name, node
        if isinstance(node, ast.ClassDef):
            yield from _public(node.body, f"{prefix}{node.name}.")


def _summary(docstring: str) -> str:
    """The docstring's first paragraph on one line (a summary may wrap, as the house style does)."""
    return " ".join(docstring.strip().split("\n\n")[0].split())


def _fault(docstring: str | None) -> str | None:
    """What is wrong with a docstring, or None."""
    if docstring is None or not docstring.strip():
        return "no docstring"
    summary = _summary(docstring)
    if not summary.endswith(TERMINAL):
        return f"summary does not end a sentence: {summary[-60:]!r}"
    if summary.lower().startswith(BOILERPLATE):
        return f"boilerplate summary: {summary[:60]!r}"
    return None


def _offenders() -> list[str]:
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            if fault := _fault(ast.get_docstring(tree)):
                offenders.append(f"{relative}:1 module: {fault}")
            for name, node in _public(tree.body):
                if fault := _fault(ast.get_docstring(node)):
                    offenders.append(f"{relative}:{node.lineno} {name}: {fault}")
    return offenders


def test_every_public_name_says_what_it_does_in_a_sentence():
    offenders = _offenders()
    assert not offenders, f"{len(offenders)} docstrings missing or not a sentence:\n" + "\n".join(offenders)
