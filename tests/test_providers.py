import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge_runtime.apps.cli import recognize, verify
from edge_runtime.apps.doctor import main as doctor
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.imaging.preprocessing import InputSpec, read_image
from edge_runtime.inference.embedder import Embedder, read_model_info
from edge_runtime.inference.model_info import ModelInfo
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.providers import (
    CPU,
    TENSORRT,
    ProviderError,
    ProviderSettings,
    library_problem,
    provider_options,
    resolve_providers,
)

DEMO_MODEL = Path(packaged_model(ATT_FACES_MODEL))  # the small AT&T face model

CPU_ONLY = ["CPUExecutionProvider"]
BUILD = onnxruntime().get_available_providers()
NO_TENSORRT = "TensorrtExecutionProvider" not in BUILD
NO_GPU = NO_TENSORRT and "CUDAExecutionProvider" not in BUILD
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


def test_tensorrt_options_fit_the_model_and_its_engine_cache_folder_is_made(tmp_path):
    """ONNX Runtime's TensorRT provider creates only the last folder of `trt_engine_cache_path`, and
    does not start when its parent is missing: the options come with the whole folder made. The
    profile shapes are the model file's own input, read from the file."""
    variant = DEMO_MODEL.with_name(read_model_info(DEMO_MODEL).tensorrt_variant)  # what TensorRT receives
    info = read_model_info(variant)
    image = onnxruntime().InferenceSession(str(variant), providers=["CPUExecutionProvider"]).get_inputs()[0]
    cache = tmp_path / "first run" / "tensorrt"  # --engine-cache naming folders that do not exist yet
    settings = ProviderSettings(tensorrt_fp16=True, engine_cache_dir=cache, max_batch=16, opt_batch=4)
    options = provider_options(TENSORRT, settings, info, image.name)
    assert options["trt_engine_cache_path"] == options["trt_timing_cache_path"] == str(cache / info.model_hash)
    assert (cache / info.model_hash).is_dir() and [p.name for p in cache.iterdir()] == [info.model_hash]
    assert options["trt_engine_cache_enable"] == options["trt_timing_cache_enable"] == "True"
    assert options["trt_fp16_enable"] == "True" and options["trt_int8_enable"] == "True"  # an S8S8 INT8 file
    dims = "x".join(str(d) for d in image.shape[1:])
    assert not isinstance(image.shape[0], int) and all(isinstance(d, int) for d in image.shape[1:])  # batch: dynamic
    assert [options[f"trt_profile_{k}_shapes"] for k in ("min", "opt", "max")] == [
        f"{image.name}:{batch}x{dims}" for batch in (1, 4, 16)
    ]


def test_an_engine_cache_that_cannot_be_made_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    info = read_model_info(DEMO_MODEL)
    refused = r"^cannot create the TensorRT engine cache .*/file/[0-9a-f]{16}: Not a directory; give --engine-cache"
    with pytest.raises(ProviderError, match=refused):
        provider_options(TENSORRT, ProviderSettings(engine_cache_dir=tmp_path / "file"), info, "image")


def test_cuda_options():
    settings = ProviderSettings(device_id=1, cuda_memory_limit=2 << 30, cudnn_search="EXHAUSTIVE")
    options = provider_options("CUDAExecutionProvider", settings, _info(), "image")
    assert options == {"device_id": "1", "cudnn_conv_algo_search": "EXHAUSTIVE", "gpu_mem_limit": str(2 << 30)}
    assert provider_options("CPUExecutionProvider", settings, _info(), "image") == {}


@pytest.fixture
def gpu_build_without_its_libraries(monkeypatch):
    """onnxruntime-gpu on a machine where CUDA, cuDNN or TensorRT does not load lists the GPU
    providers, yet a session asked for them runs on the CPU. This CPU build's sessions do just that
    (real sessions, real fallback); only its list of providers is replaced by the GPU build's."""
    if not NO_GPU:
        pytest.skip("this onnxruntime build has a GPU provider, which may really start")
    monkeypatch.setattr(onnxruntime(), "get_available_providers", lambda: list(GPU_BUILD))


@pytest.mark.filterwarnings("ignore:Specified provider:UserWarning")  # onnxruntime's own note as it falls back
def test_a_provider_that_does_not_start_hands_over_to_the_next_and_says_so(
    tmp_path, caplog, gpu_build_without_its_libraries
):
    settings = ProviderSettings(engine_cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        embedder = Embedder(DEMO_MODEL, providers=("tensorrt", "cuda", "cpu"), settings=settings)
    assert embedder.active_providers == [CPU]
    assert embedder.path == DEMO_MODEL and embedder.info.quantization == "u8s8"  # the CPU's file, not TensorRT's
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("tensorrt did not start (the session fell back to cpu): ")
    assert lines[0].endswith("; run edge-doctor; trying cuda")
    # CUDA never gets the Q/DQ file, and this model has no float sibling: skipped, with the reason
    assert lines[1].startswith("att_faces_demo.int8.onnx is INT8 (quantize/dequantize nodes), which CUDA")
    assert lines[1].endswith("no att_faces_demo.fp16.onnx or att_faces_demo.fp32.onnx is beside it; "
                             "copy it there or re-export with export-onnx; trying cpu")  # fmt: skip
    assert lines[2:] == ["running on cpu, not on tensorrt"]
    variant = read_model_info(DEMO_MODEL.with_name(embedder.info.tensorrt_variant))
    assert (tmp_path / "cache" / variant.model_hash).is_dir()  # made before TensorRT was asked to start
    face = [read_image(FACE / "1.png")]
    assert np.allclose(embedder.embed(face), Embedder(DEMO_MODEL, providers=("cpu",)).embed(face), atol=1e-6)
    with pytest.raises(ProviderError, match=r"^tensorrt did not start .*; --require-provider forbids"):
        Embedder(DEMO_MODEL, providers=("tensorrt", "cpu"), settings=settings, require_provider=True)
    with pytest.raises(ProviderError, match="^no provider listed can run the model: tensorrt did not start"):
        Embedder(DEMO_MODEL, providers=("tensorrt", "cuda"), settings=settings)


def test_the_tensorrt_profile_is_tuned_for_the_batches_of_several_streams(tmp_path):
    """Four streams (or four faces in a frame) embed in one batch: the engine's optimisation profile
    is tuned for that size, and covers 1 to 32 on the same engine."""
    info = read_model_info(DEMO_MODEL.with_name(read_model_info(DEMO_MODEL).tensorrt_variant))
    options = provider_options(TENSORRT, ProviderSettings(engine_cache_dir=tmp_path), info, "image")
    shape = f"{info.spec.channels}x{info.spec.height}x{info.spec.width}"
    assert [options[f"trt_profile_{k}_shapes"] for k in ("min", "opt", "max")] == [
        f"image:{batch}x{shape}" for batch in (1, 4, 32)
    ]


def test_the_embedder_runs_on_the_first_listed_provider_that_this_build_has():
    embedder = Embedder(DEMO_MODEL, providers=("tensorrt", "cpu"))
    starts = not NO_TENSORRT and library_problem(TENSORRT) is None  # onnxruntime-gpu without its libraries: no
    expected = "TensorrtExecutionProvider" if starts else "CPUExecutionProvider"
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
