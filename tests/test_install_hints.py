"""Install hints that work from the checkout, checked in a real runtime-only environment: a fresh
virtual environment that sees numpy, OpenCV and click (and the checkout) but neither torch nor
ONNX Runtime."""

import importlib
import subprocess
import venv
from pathlib import Path

import pytest

from edge_runtime.apps.doctor import check_opencv

REPO = Path(__file__).resolve().parent.parent
RUNTIME_ONLY = ("numpy", "numpy.libs", "cv2", "opencv_python.libs", "click")


@pytest.fixture(scope="module")
def runtime_only(tmp_path_factory) -> Path:
    """The python of a virtual environment with numpy, OpenCV and click only, and this checkout."""
    root = tmp_path_factory.mktemp("runtime-only")
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    shelf = root / "packages"
    shelf.mkdir()
    installed = Path(importlib.import_module("numpy").__file__).resolve().parent.parent
    for name in RUNTIME_ONLY:
        if (installed / name).exists():
            (shelf / name).symlink_to(installed / name)
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    Path(site, "runtime_only.pth").write_text(f"{shelf}\n{REPO}\n")
    return python


def _run(python: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize(("entry", "name", "missing"), [("train.entry", "siamese-train", "torch"),
                                                         ("export.entry", "export-onnx", "onnx")])  # fmt: skip
def test_training_commands_name_the_extra_they_need_in_one_line(runtime_only, entry, name, missing):
    done = _run(runtime_only, f"import sys; sys.argv = [{name!r}, '--help']; from {entry} import main; main()")
    assert done.returncode == 2, done.stderr
    hint = "pip install -e '.[train]'"
    assert done.stderr.strip() == f"{name}: needs the [train] extra ({missing} is not installed): {hint}"


def test_the_runtime_without_onnx_runtime_says_how_to_install_it_from_the_checkout(runtime_only):
    code = (
        "import sys; from edge_runtime.apps.cli import verify; "
        "sys.argv = ['edge-verify', 'data/demo/att_faces/s1/1.png', 'data/demo/att_faces/s1/2.png']; verify()"
    )
    done = _run(runtime_only, code)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("ONNX Runtime is not installed: pip install -e '.[cpu]' (or the [gpu] extra)")


def test_hints_give_the_checkout_path_when_run_elsewhere(runtime_only, tmp_path):
    code = "from edge_runtime.core.extras import install_command; print(install_command('cpu'))"
    done = subprocess.run([runtime_only, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.stdout.strip() == f"pip install -e '{REPO}[cpu]'"


def test_doctor_and_the_jetson_installs_give_one_answer_for_opencv():
    fixes = [f.fix for f in check_opencv() if f.topic == "GStreamer" and f.fix]
    if not fixes:
        pytest.skip("this OpenCV has GStreamer: the doctor suggests nothing")
    (fix,) = fixes
    assert "libopencv-python" in fix and "nvidia-opencv" not in fix
    for installer in ("Dockerfile.jetson", "scripts/jetson_install.sh"):
        assert "libopencv-python" in (REPO / installer).read_text()
    assert "pip uninstall" in fix and "opencv-python" in fix  # the wheel would hide JetPack's OpenCV


def test_the_docker_image_stops_cleanly_on_docker_stop():
    dockerfile = (REPO / "Dockerfile.jetson").read_text()
    assert "STOPSIGNAL SIGTERM" in dockerfile  # handled by edge-recognize like Ctrl-C
    assert 'ENTRYPOINT ["edge-recognize"]' in dockerfile  # exec form: the signal reaches it, not a shell


@pytest.mark.parametrize(("entry", "name", "arguments"), [
    ("edge_runtime.apps.serve_cli:serve", "edge-serve", []),
    ("edge_runtime.apps.cli:recognize", "edge-recognize", ["-i", "photos/", "--serve", "127.0.0.1:8080"]),
])  # fmt: skip
def test_serving_without_the_serve_extra_names_it_in_one_line(runtime_only, entry, name, arguments):
    module, function = entry.split(":")
    code = f"import sys; sys.argv = [{name!r}, *{arguments!r}]; from {module} import {function}; {function}()"
    done = _run(runtime_only, code)
    assert done.returncode == 2, done.stderr
    said = done.stderr.strip()
    assert said.startswith(f"{name}: error: serving needs the [serve] extra (") and "\n" not in said, said
    assert said.endswith(" is not installed): pip install -e '.[serve]'"), said
