import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_runtime.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.cli import recognize, verify
from edge_runtime.doctor import main as doctor
from edge_runtime.embedder import Embedder, first_that_starts
from edge_runtime.model_info import ModelInfo
from edge_runtime.onnx_runtime import onnxruntime
from edge_runtime.preprocessing import InputSpec
from edge_runtime.providers import ProviderError, ProviderSettings, provider_options, resolve_providers

DEMO_MODEL = Path(packaged_model(ATT_FACES_MODEL))  # the small AT&T face model

CPU_ONLY = ["CPUExecutionProvider"]
BUILD = onnxruntime().get_available_providers()
NO_TENSORRT = "TensorrtExecutionProvider" not in BUILD
FACE = DEMO_MODEL.parent.parent.parent / "data" / "demo" / "att_faces" / "s1"

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def _info(precision="fp32", model_hash="0123456789abcdef"):
    return ModelInfo(
        spec=InputSpec(64, 48, 1), embedding_size=128, metric="cosine", threshold=0.5, target_far=1e-3,
        model_hash=model_hash, precision=precision, arch="edge", dataset_name="d", dataset_classes=3,
        package_version="0",
    )  # fmt: skip


def test_auto_picks_tensorrt_then_cuda_then_cpu():
    assert resolve_providers(["auto"], GPU_BUILD) == GPU_BUILD
    assert resolve_providers(["auto"], ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert resolve_providers(["cuda", "cpu"], GPU_BUILD) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_a_list_means_the_first_that_this_build_has(caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_providers(["tensorrt", "cpu"], CPU_ONLY) == CPU_ONLY
    assert "provider tensorrt is not in this onnxruntime build" in caplog.text
    assert resolve_providers(["tensorrt", "cuda", "cpu"], GPU_BUILD[1:]) == GPU_BUILD[1:]


def test_no_listed_provider_or_an_unknown_one_is_an_error():
    with pytest.raises(ProviderError, match="none of the providers listed"):
        resolve_providers(["tensorrt"], CPU_ONLY)
    with pytest.raises(ProviderError, match="unknown provider"):
        resolve_providers(["openvino"], GPU_BUILD)


def test_require_provider_means_the_first_listed_or_nothing():
    with pytest.raises(ProviderError, match="--require-provider"):
        resolve_providers(["tensorrt", "cpu"], CPU_ONLY, require_first=True)
    assert resolve_providers(["cuda", "cpu"], GPU_BUILD, require_first=True)[0] == "CUDAExecutionProvider"


def test_tensorrt_options_key_the_engine_cache_by_model_hash(tmp_path):
    settings = ProviderSettings(tensorrt_fp16=True, engine_cache_dir=tmp_path, max_batch=16, opt_batch=4)
    options = provider_options("TensorrtExecutionProvider", settings, _info(), "image")
    assert options["trt_engine_cache_path"] == str(tmp_path / "0123456789abcdef")
    assert options["trt_engine_cache_enable"] == "True" and options["trt_timing_cache_enable"] == "True"
    assert options["trt_fp16_enable"] == "True" and options["trt_int8_enable"] == "False"
    assert options["trt_profile_min_shapes"] == "image:1x1x64x48"
    assert options["trt_profile_opt_shapes"] == "image:4x1x64x48"
    assert options["trt_profile_max_shapes"] == "image:16x1x64x48"
    other = provider_options("TensorrtExecutionProvider", settings, _info(model_hash="ffff"), "image")
    assert Path(other["trt_engine_cache_path"]).name == "ffff"


def test_int8_models_switch_tensorrt_int8_on():
    options = provider_options("TensorrtExecutionProvider", ProviderSettings(), _info("int8"), "image")
    assert options["trt_int8_enable"] == "True"


def test_cuda_options():
    settings = ProviderSettings(device_id=1, cuda_memory_limit=2 << 30, cudnn_search="EXHAUSTIVE")
    options = provider_options("CUDAExecutionProvider", settings, _info(), "image")
    assert options == {"device_id": "1", "cudnn_conv_algo_search": "EXHAUSTIVE", "gpu_mem_limit": str(2 << 30)}
    assert provider_options("CPUExecutionProvider", settings, _info(), "image") == {}


def test_a_provider_that_does_not_start_hands_over_to_the_next_and_says_so(caplog):
    names = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    outcomes = ["tensorrt did not start (the session fell back to cpu)", "cuda failed to start: no libcudnn", "cpu"]

    def attempt(index):  # what Embedder's attempts return: the reason, or a (session, file) result
        return outcomes[index] if index < 2 else (outcomes[index],)

    with caplog.at_level(logging.WARNING):
        assert first_that_starts(names, attempt) == ("cpu",)
    assert "tensorrt did not start (the session fell back to cpu); trying cuda" in caplog.text
    assert "cuda failed to start: no libcudnn; trying cpu" in caplog.text
    assert "running on cpu, not on tensorrt" in caplog.text
    with pytest.raises(ProviderError, match="did not start.*--require-provider forbids"):
        first_that_starts(names, attempt, require_first=True)
    with pytest.raises(ProviderError, match="no provider listed can run the model"):
        first_that_starts(names[:2], lambda i: outcomes[i])


def test_the_embedder_runs_on_the_first_listed_provider_that_this_build_has():
    embedder = Embedder(DEMO_MODEL, providers=("tensorrt", "cpu"))
    expected = "CPUExecutionProvider" if NO_TENSORRT else "TensorrtExecutionProvider"
    assert embedder.active_providers[0] == expected


@pytest.mark.skipif(not NO_TENSORRT, reason="this onnxruntime build has TensorRT")
def test_cli_falls_back_loudly_and_fails_when_the_provider_is_required(caplog):
    images = ["-m", str(DEMO_MODEL), str(FACE / "1.png"), str(FACE / "2.png")]
    runner = CliRunner()
    with caplog.at_level(logging.WARNING):
        fallback = runner.invoke(verify, [*images, "--provider", "tensorrt", "--provider", "cpu"])
    assert fallback.exit_code == 0, fallback.output
    assert "provider tensorrt is not in this onnxruntime build" in caplog.text
    required = [*images, "--provider", "tensorrt", "--provider", "cpu", "--require-provider"]
    refused = runner.invoke(verify, required)
    assert refused.exit_code == 2 and "--require-provider" in refused.output
    assert "Traceback" not in refused.output


@pytest.mark.parametrize("providers", [["--provider", "cpu"], []] if NO_TENSORRT else [["--provider", "cpu"]])
def test_build_engine_without_tensorrt_is_an_error(providers):
    result = CliRunner().invoke(recognize, ["-m", str(DEMO_MODEL), *providers, "--build-engine"])
    assert result.exit_code == 2, result.output
    assert "no TensorRT engine to build" in result.output and "Traceback" not in result.output
    warmup = CliRunner().invoke(doctor, ["--warmup", str(DEMO_MODEL)])
    assert (warmup.exit_code == 1 and "no TensorRT engine to build" in warmup.output) or not NO_TENSORRT
