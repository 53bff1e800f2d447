import glob
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from edge_runtime.apps.doctor import diagnose, main, provider_problems
from edge_runtime.core.extras import install_command
from edge_runtime.inference.onnx_runtime import onnxruntime

BUILD = onnxruntime().get_available_providers()
BROKEN = provider_problems(BUILD)  # listed, but their libraries do not load (onnxruntime-gpu without a GPU)
EXIT = 1 if BROKEN else 0


def test_doctor_says_plainly_whether_this_build_is_cpu_only_and_exits_zero():
    result = CliRunner().invoke(main, [])
    assert result.exit_code == EXIT, result.output
    cpu_only = "CUDAExecutionProvider" not in BUILD
    assert ("CPU only: this onnxruntime build has no CUDA or TensorRT provider" in result.output) == cpu_only
    assert f"providers: {', '.join(BUILD)}" in result.output
    for topic in ("onnxruntime", "OpenCV", "GStreamer", "FFmpeg", "engine cache"):
        assert topic in result.output
    lines = result.output.splitlines()
    fix_of = {line: lines[index + 1] for index, line in enumerate(lines) if line.startswith("!! ")}
    assert fix_of and all(fix.lstrip().startswith("→ ") for fix in fix_of.values())  # every problem, its fix
    assert sum(line.lstrip().startswith("→") for line in lines) == len(fix_of)  # and no fix under an ok line
    install_gpu = install_command("gpu")
    assert install_gpu.startswith("pip install -e ") and install_gpu.endswith("[gpu]'")  # from this checkout
    gpu = [fix.strip() for problem, fix in fix_of.items() if "GPU providers" in problem]
    assert gpu == ([f"→ for a GPU: pip uninstall -y onnxruntime && {install_gpu} (Jetson: docs/jetson.md)"] * cpu_only)
    if not glob.glob("/dev/video*"):
        (camera,) = [fix.strip() for problem, fix in fix_of.items() if "no /dev/video* device" in problem]
        assert camera == "→ connect a camera, or in Docker add --device /dev/video0"


def test_doctor_fails_when_a_required_provider_cannot_run():
    assert CliRunner().invoke(main, ["--provider", "cpu"]).exit_code == 0
    result = CliRunner().invoke(main, ["--provider", "tensorrt"])
    if "TensorrtExecutionProvider" in BUILD and "tensorrt" not in BROKEN:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and "tensorrt cannot run here" in result.output


def test_every_problem_has_a_fix_and_every_finding_a_topic():
    findings, available = diagnose()
    assert "CPUExecutionProvider" in available
    assert all(f.topic and f.found for f in findings)
    assert all(f.fix for f in findings if f.found.startswith(("no ", "no:", "does not", "CPU only")))


def test_doctor_says_a_display_with_no_x_server_does_not_work(tmp_path):
    """DISPLAY=:99, nothing listening there: not "ok GUI" alone, but the display is named with the fix."""
    done = subprocess.run([str(Path(sys.executable).parent / "edge-doctor")], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env={**os.environ, "DISPLAY": ":99"})  # fmt: skip
    assert done.returncode == EXIT, done.stderr
    lines = done.stdout.splitlines()
    if any(line.startswith("ok GUI") and "none: use --headless" in line for line in lines):
        return  # an OpenCV without a GUI: no window to try (said by the GUI line)
    display = [i for i, line in enumerate(lines) if line.startswith("!! display")]
    assert display, done.stdout
    assert "no window can be opened on DISPLAY=:99" in lines[display[0]]
    assert "--headless" in lines[display[0] + 1], done.stdout
