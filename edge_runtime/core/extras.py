"""How to install an optional part (an extra) of siamese-edge, in a command that works where it runs.

siamese-edge is installed from its checkout, not from PyPI, so `pip install 'siamese-edge[cpu]'`
would fail. From a checkout the hint is `pip install -e '.[cpu]'` (the checkout's path when run
from elsewhere); an installed copy without its checkout (a Docker image) names the packages of the
extra, read from the installed metadata.
"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from importlib import metadata
from pathlib import Path

import click

DISTRIBUTION = "siamese-edge"
OWN_PACKAGES = ("train", "export", "edge_runtime", "bench")


def checkout() -> Path | None:
    """The source checkout this package runs from (editable install or plain checkout), or None."""
    root = Path(__file__).resolve().parents[2]  # edge_runtime/core/extras.py
    project = root / "pyproject.toml"
    if project.is_file() and f'name = "{DISTRIBUTION}"' in project.read_text(encoding="utf-8"):
        return root
    return None


def extra_requirements(extra: str) -> list[str]:
    """The requirements an extra adds, from the installed metadata (empty when it is unknown)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    return [r.split(";")[0].strip() for r in requires if ";" in r and marker.search(r.split(";", 1)[1])]


def install_command(extra: str) -> str:
    """A pip command that installs `extra` here."""
    root = checkout()
    if root is not None:
        where = "." if root == Path.cwd().resolve() else str(root)
        return f"pip install -e {shlex.quote(f'{where}[{extra}]')}"
    requirements = extra_requirements(extra)
    if requirements:
        return "pip install " + " ".join(shlex.quote(r) for r in requirements)
    return f"pip install -e '.[{extra}]' from the siamese-edge checkout"


def run_needing_extra(target: str, extra: str) -> None:
    """Run the click command `module:function`; if importing it finds a package of `extra` missing,
    say so in one line and exit 2 instead of a ModuleNotFoundError."""
    module_name, function = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = (error.name or "").split(".")[0]
        if not missing or missing in OWN_PACKAGES:
            raise
        name = Path(sys.argv[0]).name or module_name
        click.echo(
            f"{name}: needs the [{extra}] extra ({missing} is not installed): {install_command(extra)}", err=True
        )
        sys.exit(2)
    getattr(module, function)()
