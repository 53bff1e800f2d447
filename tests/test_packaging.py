"""`edge-demo` runs from an installed package, far from any checkout, as in the Docker image
(`pip install .` there too): its photos are package data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "edge_runtime", "train", "export", "bench")


def test_edge_demo_runs_from_an_installed_wheel_outside_the_checkout(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheel"
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    built = subprocess.run([*command, str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("*.whl")
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # what pip install puts into site-packages
    assert len(list((site / "edge_runtime" / "demo_data" / "lfw").glob("*/*/*.jpg"))) == 65
    shutil.rmtree(source)  # nothing of a checkout left to find
    run = tmp_path / "elsewhere"
    run.mkdir()
    code = "import sys, edge_runtime; assert edge_runtime.__file__.startswith(sys.argv[1]); " \
           "from edge_runtime.apps.demo import main; sys.argv[1:] = ['--out', 'demo']; main()"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(site)], capture_output=True, text=True, timeout=300,
                          cwd=run, env={**os.environ, "PYTHONPATH": str(site)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert len(report["enrolled (one photo each)"]) == 8 and len(report["never enrolled"]) == 8
    assert (run / "demo" / "demo_annotated.mp4").stat().st_size > 0
