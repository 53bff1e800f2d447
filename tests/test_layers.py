"""The runtime's layers hold: each subpackage imports only from those before it (imports inside
functions too), nothing sits loose beside them, the runtime never imports torch, and
`import edge_runtime` alone loads neither OpenCV nor the gallery or recognizer."""

import ast
import subprocess
import sys
from pathlib import Path

import edge_runtime

RUNTIME = Path(edge_runtime.__file__).parent
FORBIDDEN = ("torch", "train", "export", "bench", "benchmarks")


def _modules() -> dict[str, Path]:
    """Every module of the runtime by dotted name."""
    return {
        ".".join(("edge_runtime", *path.relative_to(RUNTIME).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in sorted(RUNTIME.rglob("*.py"))
    }


def _imports(path: Path) -> list[tuple[str, int]]:
    """The absolute module names `path` imports anywhere in it, with their line numbers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return edge_runtime.LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in edge_runtime.LAYERS else None


def test_every_module_sits_in_a_layer():
    loose = [m for m in _modules() if m != "edge_runtime" and _layer(m) is None]
    assert loose == []
    assert sorted(p.name for p in RUNTIME.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(
        edge_runtime.LAYERS
    )


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for module, path in _modules().items():
        own = _layer(module)
        for imported, line in _imports(path):
            theirs = _layer(imported) if imported.startswith("edge_runtime.") else None
            if own is not None and theirs is not None and theirs > own:
                upward.append(f"{path.relative_to(RUNTIME.parent)}:{line} imports {imported}")
    assert upward == []


def test_the_runtime_imports_no_torch_and_no_other_stage():
    reaching = [
        f"{path.relative_to(RUNTIME.parent)}:{line} imports {imported}"
        for path in _modules().values()
        for imported, line in _imports(path)
        if imported.split(".")[0] in FORBIDDEN
    ]
    assert reaching == []


def test_importing_every_module_loads_no_torch():
    names = sorted(_modules())
    code = f"import importlib, sys; [importlib.import_module(n) for n in {names!r}]; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_importing_the_package_is_light_and_its_names_arrive_on_use():
    code = (
        "import sys, edge_runtime;"
        "heavy = ('cv2', 'edge_runtime.identity.gallery', 'edge_runtime.identity.recognizer');"
        "print(sorted(m for m in heavy if m in sys.modules));"
        "from edge_runtime import Embedder, Gallery, Recognizer, InputSpec, SiameseEdgeError;"
        "print(Gallery.__module__, Recognizer.__module__, sorted(edge_runtime.__all__) == edge_runtime.__all__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == [
        "[]",
        "edge_runtime.identity.gallery edge_runtime.identity.recognizer True",
    ]
