"""Run a command of another commit of this repository: its tree in a temporary folder, and its entry point.

`checked_out(COMMIT)` extracts the commit's files (`git archive`, with its own bundled models) into a
temporary folder, removed afterwards; `entry_point(FOLDER, NAME)` is the command line that runs the
console script NAME of that folder's pyproject.toml with this Python, importing that folder's code
(PYTHONPATH = the folder, run from there) rather than the installed one. Benchmarks use it to measure
an earlier version side by side with the current one, in one run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class CommitTreeError(Exception):
    """A commit that cannot be checked out, or an entry point it does not have."""


def full_commit(commit: str, repo: Path = REPO) -> str:
    """The full hash of `commit` (a short hash, a branch, HEAD)."""
    done = subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise CommitTreeError(f"no commit {commit!r} in {repo}")
    return done.stdout.strip()


@contextmanager
def checked_out(commit: str, repo: Path = REPO) -> Iterator[Path]:
    """A temporary folder holding `commit`'s files (removed on leaving)."""
    with tempfile.TemporaryDirectory(prefix=f"siamese-edge-{commit[:10]}-") as folder:
        archive = Path(folder) / "tree.tar"
        done = subprocess.run(["git", "archive", "-o", str(archive), commit], cwd=repo, capture_output=True, text=True)
        if done.returncode != 0:
            raise CommitTreeError(f"cannot check out {commit}: {done.stderr.strip()}")
        tree = Path(folder) / "tree"
        with tarfile.open(archive) as tar:
            tar.extractall(tree, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        archive.unlink()
        yield tree


@dataclass(frozen=True)
class EntryPoint:
    """How to run one console script of a source tree: the command, its working folder and environment."""

    command: list[str]
    cwd: Path
    env: dict[str, str]

    def run(self, arguments: list[str]) -> subprocess.CompletedProcess:
        """Run it with `arguments` (absolute paths: it runs from its own folder), capturing its output."""
        return subprocess.run([*self.command, *arguments], cwd=self.cwd, env=self.env, capture_output=True, text=True)


def console_script(pyproject: str, name: str) -> str | None:
    """The target ("module:function") of console script `name` in a pyproject.toml's [project.scripts]."""
    section = re.search(r"^\[project\.scripts\]\s*$(.*?)(?=^\[|\Z)", pyproject, re.MULTILINE | re.DOTALL)
    found = section and re.search(rf'^\s*"?{re.escape(name)}"?\s*=\s*"([\w.]+:[\w.]+)"', section.group(1), re.MULTILINE)
    return found.group(1) if found else None


def entry_point(tree: Path, name: str) -> EntryPoint:
    """The console script `name` of `tree`'s pyproject.toml, run with this Python on that tree's code."""
    try:
        target = console_script((tree / "pyproject.toml").read_text(), name)
    except OSError as error:
        raise CommitTreeError(f"cannot read {tree / 'pyproject.toml'}: {error.strerror}") from None
    if target is None:
        raise CommitTreeError(f"{tree}'s pyproject.toml has no console script {name!r}")
    module, _, function = target.partition(":")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.__file__)"], cwd=tree, env=env,
                           capture_output=True, text=True)  # fmt: skip
    if where.returncode != 0 or not Path(where.stdout.strip()).resolve().is_relative_to(tree.resolve()):
        raise CommitTreeError(f"{module} does not import from {tree}: {where.stdout.strip() or where.stderr.strip()}")
    code = f"import sys, {module} as entry; sys.argv[0] = {name!r}; sys.exit(entry.{function}())"
    return EntryPoint([sys.executable, "-c", code], tree, env)
