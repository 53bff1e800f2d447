from click.testing import CliRunner

from edge_runtime.doctor import diagnose, main
from edge_runtime.onnx_runtime import onnxruntime

BUILD = onnxruntime().get_available_providers()


def test_doctor_says_plainly_whether_this_build_is_cpu_only_and_exits_zero():
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 0, result.output
    cpu_only = "CUDAExecutionProvider" not in BUILD
    assert ("CPU only: this onnxruntime build has no CUDA or TensorRT provider" in result.output) == cpu_only
    assert f"providers: {', '.join(BUILD)}" in result.output
    for topic in ("onnxruntime", "OpenCV", "GStreamer", "FFmpeg", "engine cache"):
        assert topic in result.output
    assert "→" in result.output  # every problem comes with what to do


def test_doctor_fails_when_a_required_provider_cannot_run():
    assert CliRunner().invoke(main, ["--provider", "cpu"]).exit_code == 0
    result = CliRunner().invoke(main, ["--provider", "tensorrt"])
    if "TensorrtExecutionProvider" in BUILD:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and "tensorrt cannot run here" in result.output


def test_every_problem_has_a_fix_and_every_finding_a_topic():
    findings, available = diagnose()
    assert "CPUExecutionProvider" in available
    assert all(f.topic and f.found for f in findings)
    assert all(f.fix for f in findings if f.found.startswith(("no ", "no:", "does not", "CPU only")))
