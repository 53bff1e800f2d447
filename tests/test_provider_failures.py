"""A GPU provider that cannot start, or stops while running: what a misconfigured Jetson does.

The tests marked `broken_gpu_build` run against the real onnxruntime-gpu on a machine without a GPU
(the JetPack 6 stage of `.ci/run` installs onnxruntime-gpu 1.20): it lists TensorRT and CUDA, yet
their libraries do not load (no libcublas), so TensorRT raises as it starts and CUDA is dropped
in silence, exactly as on a Jetson whose CUDA or TensorRT is missing. Elsewhere they are skipped,
and they fail instead where SIAMESE_EDGE_EXPECT_BROKEN_GPU_BUILD=1 says that build is installed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge_runtime.apps.demo import DEMO_DATA
from edge_runtime.apps.doctor import main as doctor
from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, packaged_model
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference import embedder as embedder_module
from edge_runtime.inference.embedder import Embedder, ep_failure, read_model_info
from edge_runtime.inference.int8_variants import ModelFile
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.provider_policy import CUDA, file_for_provider
from edge_runtime.inference.providers import CPU, TENSORRT, ProviderError, library_problem

FACE_MODEL = Path(packaged_model(DEFAULT_MODEL))  # INT8 U8S8, with its FP16 sibling
DEMO_MODEL = Path(packaged_model(ATT_FACES_MODEL))  # INT8 U8S8, with its S8S8 sibling only
FACE = DEMO_MODEL.parent.parent.parent / "data" / "demo" / "att_faces" / "s1" / "1.png"
BIN = Path(sys.executable).parent
GPU_LISTED = [TENSORRT, CUDA, CPU]


@pytest.fixture
def broken_gpu_build():
    """The real onnxruntime-gpu, listing GPU providers whose libraries do not load here."""
    listed = TENSORRT in onnxruntime().get_available_providers()
    if listed and library_problem(TENSORRT) and library_problem(CUDA):
        return
    why = "needs onnxruntime-gpu without its GPU libraries (the JetPack 6 stage of .ci/run installs it)"
    if os.environ.get("SIAMESE_EDGE_EXPECT_BROKEN_GPU_BUILD") == "1":
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture
def gpu_listed(monkeypatch):
    """The GPU providers listed, as onnxruntime-gpu lists them: this build's own list where it has
    them, else only the list is replaced (sessions stay real and run on the CPU)."""
    if TENSORRT not in onnxruntime().get_available_providers():
        monkeypatch.setattr(onnxruntime(), "get_available_providers", lambda: list(GPU_LISTED))


def test_cuda_never_gets_a_qdq_file_and_tensorrt_an_s8s8_or_float_one():
    face = ModelFile(FACE_MODEL, read_model_info(FACE_MODEL))
    for provider in (CUDA, TENSORRT):
        chosen = file_for_provider(provider, face, read_model_info)
        assert chosen.path == FACE_MODEL.with_name("dlib_face_resnet.fp16.onnx") and chosen.info.precision == "fp16"
        assert chosen.info.family == face.info.family
    assert file_for_provider(CPU, face, read_model_info) is face
    demo = ModelFile(DEMO_MODEL, read_model_info(DEMO_MODEL))
    assert file_for_provider(TENSORRT, demo, read_model_info).info.quantization == "s8s8"
    refused = file_for_provider(CUDA, demo, read_model_info)
    assert refused.startswith("att_faces_demo.int8.onnx is INT8 (quantize/dequantize nodes), which CUDA would run")
    s8s8 = file_for_provider(TENSORRT, demo, read_model_info)
    assert isinstance(file_for_provider(CUDA, s8s8, read_model_info), str)  # S8S8 is Q/DQ too
    fp16 = file_for_provider(CUDA, face, read_model_info)
    assert file_for_provider(CUDA, fp16, read_model_info) is fp16  # a float file as it is


class FailsWhileRunning:
    """Stands in for a GPU session whose provider fails mid-run with onnxruntime's EPFail (a CUDA
    error, a lost device), which no CPU session can be made to do."""

    def __init__(self, provider: str) -> None:
        self.provider, self.runs = provider, 0

    def get_providers(self) -> list[str]:
        return [self.provider, CPU]

    def run(self, *args, **kwargs):
        self.runs += 1
        raise ep_failure()("CUDA failure 700: an illegal memory access was encountered")


@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")
def test_a_provider_that_fails_while_running_is_one_line_and_the_next_one_takes_over(caplog, gpu_listed):
    face = [read_image(FACE)]
    expected = Embedder(DEMO_MODEL, providers=("cpu",)).embed(face)
    embedder = Embedder(DEMO_MODEL, providers=("tensorrt", "cpu"))
    failing = FailsWhileRunning(TENSORRT)
    embedder.session, embedder.position = failing, 0  # as if TensorRT had started
    with caplog.at_level(logging.WARNING):
        caplog.clear()
        assert np.allclose(embedder.embed(face), expected, atol=1e-6)
    assert failing.runs == 1 and embedder.active_providers == [CPU] and embedder.path == DEMO_MODEL
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == (
        "tensorrt failed while running: CUDA failure 700: an illegal memory access was encountered; "
        "moving to the next provider listed"
    )
    assert lines[-1] == "running on cpu, not on tensorrt"
    required = Embedder(DEMO_MODEL, providers=("tensorrt", "cpu"))
    required.session, required.position, required.require_provider = FailsWhileRunning(TENSORRT), 0, True
    with pytest.raises(ProviderError, match=r"^tensorrt failed while running: CUDA failure 700: .*--require-provider"):
        required.embed(face)
    last = Embedder(DEMO_MODEL, providers=("cpu",))
    last.session = FailsWhileRunning(CPU)
    with pytest.raises(ProviderError, match="^no provider listed can run the model: none is left"):
        last.embed(face)


def test_onnxruntime_never_falls_back_on_its_own(broken_gpu_build, monkeypatch, capsys, tmp_path):
    """onnxruntime's own fallback prints a banner to stdout and opens the next session without any
    provider's options: every session is opened with its options, and nothing reaches stdout."""
    opened = []
    create = onnxruntime().InferenceSession._create_inference_session

    def recording(self, providers, provider_options, *args, **kwargs):
        opened.append((list(providers), provider_options))
        return create(self, providers, provider_options, *args, **kwargs)

    monkeypatch.setattr(onnxruntime().InferenceSession, "_create_inference_session", recording)
    settings = embedder_module.ProviderSettings(engine_cache_dir=tmp_path, cudnn_search="EXHAUSTIVE")
    embedder = Embedder(FACE_MODEL, providers=("tensorrt", "cuda", "cpu"), settings=settings)
    assert embedder.active_providers == [CPU] and embedder.path == FACE_MODEL
    assert capsys.readouterr().out == ""
    gpu = [(providers, options) for providers, options in opened if providers[0] != CPU]
    assert [providers for providers, _ in gpu] == [GPU_LISTED, GPU_LISTED[1:]]
    for providers, options in gpu:  # every provider's options, each time
        assert options is not None and len(options) == len(providers)
        assert dict(zip(providers, options, strict=True))[CUDA]["cudnn_conv_algo_search"] == "EXHAUSTIVE"


def test_json_stays_machine_readable_and_each_provider_that_cannot_start_is_one_line(broken_gpu_build, tmp_path):
    """The default face model, asked for TensorRT then CUDA then the CPU, as `auto` does on a Jetson."""
    command = [str(BIN / "edge-recognize"), "--json", "--headless", "--enroll", str(DEMO_DATA / "enrolled"),
               "-i", str(next((DEMO_DATA / "strangers").iterdir())), "--engine-cache", str(tmp_path / "cache"),
               "--provider", "tensorrt", "--provider", "cuda", "--provider", "cpu"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]  # every line of stdout is JSON
    assert rows and all("name" in row and "status" in row for row in rows)
    stderr = done.stderr.splitlines()
    assert not [line for line in stderr if "onnxruntime" in line.lower() and "provider" not in line]  # ORT's own
    (tensorrt,) = [line for line in stderr if line.startswith("tensorrt")]
    assert "tensorrt did not start: Please install TensorRT libraries" in tensorrt
    assert "(libonnxruntime_providers_tensorrt.so does not load: libcublas" in tensorrt
    assert tensorrt.endswith("; trying cuda")
    (cuda,) = [line for line in stderr if "cuda did not start" in line]
    assert "cuda did not start (the session fell back to cpu): libonnxruntime_providers_cuda.so does not load" in cuda
    assert "running on cpu, not on tensorrt" in done.stderr


def test_doctor_fails_when_a_listed_provider_cannot_start(broken_gpu_build, tmp_path):
    done = subprocess.run([str(BIN / "edge-doctor")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stdout
    assert "!! tensorrt provider  cannot start: libonnxruntime_providers_tensorrt.so does not load: libcublas" in (
        done.stdout
    )
    assert done.stderr.strip() == "edge-doctor: tensorrt, cuda cannot run here (see above)"
    required = subprocess.run([str(BIN / "edge-doctor"), "--provider", "tensorrt"], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)  # fmt: skip
    assert required.returncode == 1 and required.stderr.strip() == "edge-doctor: tensorrt cannot run here (see above)"
    cpu = subprocess.run([str(BIN / "edge-doctor"), "--provider", "cpu"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)  # fmt: skip
    assert cpu.returncode == 0, cpu.stderr


@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")
def test_doctor_warmup_builds_the_engine_a_trt_fp16_run_uses(gpu_listed, monkeypatch, tmp_path):
    """`edge-doctor --warmup --trt-fp16` asks TensorRT for the FP16 engine in the cache `--engine-cache`
    names, as `edge-recognize --trt-fp16` does (here TensorRT does not start: no engine is built)."""
    asked = []
    options_of = embedder_module.provider_options

    def recording(name, settings, info, input_name):
        asked.append((name, options_of(name, settings, info, input_name)))
        return asked[-1][1]

    monkeypatch.setattr(embedder_module, "provider_options", recording)
    cache = tmp_path / "engines"
    result = CliRunner().invoke(doctor, ["--warmup", str(DEMO_MODEL), "--trt-fp16", "--engine-cache", str(cache)])
    tensorrt = [options for name, options in asked if name == TENSORRT]
    assert tensorrt and all(o["trt_fp16_enable"] == "True" for o in tensorrt), result.output
    assert all(o["trt_engine_cache_path"].startswith(str(cache)) for o in tensorrt)
    assert result.exit_code == 1  # no TensorRT here: said, not built
