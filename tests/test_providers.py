from pathlib import Path

import pytest

from edge_runtime.model_info import ModelInfo
from edge_runtime.preprocessing import InputSpec
from edge_runtime.providers import (
    ProviderError,
    ProviderSettings,
    check_required,
    provider_options,
    resolve_providers,
)

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


def test_unavailable_or_unknown_providers_are_errors():
    with pytest.raises(ProviderError, match="not in this onnxruntime build"):
        resolve_providers(["tensorrt"], ["CPUExecutionProvider"])
    with pytest.raises(ProviderError, match="unknown provider"):
        resolve_providers(["openvino"], GPU_BUILD)


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


def test_a_silent_fallback_to_the_cpu_is_an_error_when_required():
    check_required(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ProviderError, match="was required but the session runs on CPUExecutionProvider"):
        check_required(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"])
