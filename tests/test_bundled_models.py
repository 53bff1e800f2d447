"""Every bundled INT8 model: a U8S8 file for CPUs and a sibling for TensorRT: its S8S8 INT8 file, or
(the default face model, whose S8S8 file would weigh 22 MB) its FP16 file. That the sibling suits
TensorRT is checked against export/tensorrt_check.py, the project's reading of TensorRT's documented
explicit-quantization (Q/DQ) rules; TensorRT itself has not parsed these files here (no GPU)."""

from pathlib import Path

import numpy as np
import onnx
import pytest

from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, SMALL_FACE_MODEL
from edge_runtime.identity.enrollment import enroll_images, new_gallery, open_gallery
from edge_runtime.identity.gallery import GalleryError
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder, read_model_info
from edge_runtime.inference.int8_variants import ModelFile
from edge_runtime.inference.provider_policy import file_for_provider
from edge_runtime.inference.providers import TENSORRT, ProviderSettings, provider_options
from export.tensorrt_check import tensorrt_problems
from export.tensorrt_variant import pair_for_tensorrt

MODELS = Path(__file__).resolve().parent.parent / "edge_runtime" / "models"
DEMO = MODELS.parent.parent / "data" / "demo"
BUNDLED = sorted(p for p in MODELS.glob("*.int8.onnx"))
IMAGES = {"face": (MODELS.parent / "demo_data" / "lfw", "*/*/*.jpg"), "signature": (DEMO, "signatures/*/*.png"),
          "identity": (DEMO, "att_faces/s1*/*.png")}  # fmt: skip


def test_the_bundled_int8_models_are_the_four_the_package_names():
    kinds = {model.name: read_model_info(model).kind for model in BUNDLED}
    expected = {DEFAULT_MODEL: "face", SMALL_FACE_MODEL: "face", ATT_FACES_MODEL: "identity"}
    assert kinds == {**expected, "signatures.int8.onnx": "signature"}


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.name)
def test_tensorrt_receives_a_sibling_that_follows_the_projects_reading_of_its_qdq_rules(model, tmp_path):
    cpu = ModelFile(model, read_model_info(model))
    chosen = file_for_provider(TENSORRT, cpu, read_model_info)
    assert not isinstance(chosen, str), chosen
    assert chosen.path == model.with_name(cpu.info.tensorrt_variant) and chosen.info.family == cpu.info.family
    proto = onnx.load(chosen.path)
    assert tensorrt_problems(proto) == []  # export/tensorrt_check.py's rules, not TensorRT's parser
    image = proto.graph.input[0]
    options = provider_options(TENSORRT, ProviderSettings(engine_cache_dir=tmp_path), chosen.info, image.name)
    if chosen.info.precision == "int8":
        assert chosen.info.quantization == "s8s8" and options["trt_int8_enable"] == "True"
    else:
        assert chosen.info.precision == "fp16" and options["trt_fp16_enable"] == "True"
    dims = "x".join(str(d.dim_value) for d in image.type.tensor_type.shape.dim[1:])
    assert options["trt_profile_max_shapes"] == f"{image.name}:32x{dims}"  # the metadata's input is the file's
    cache = tmp_path / chosen.info.model_hash  # its own engines, never the CPU file's
    assert options["trt_engine_cache_path"] == str(cache) and cache.is_dir() and cache.name != cpu.info.model_hash


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.name)
def test_the_cpu_file_is_unsigned_for_speed_and_carries_no_unused_opset_domain(model):
    proto = onnx.load(model)
    assert read_model_info(model).quantization == "u8s8"
    assert any("UINT8" in problem for problem in tensorrt_problems(proto))  # what those rules refuse
    assert {entry.domain for entry in proto.opset_import} == {""}
    info = read_model_info(model)
    if info.arch != "dlib-resnet":  # dlib's training identities are not listed (none is in LFW)
        assert info.training_classes  # edge-bench can refuse them as held-out classes


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.name)
def test_the_two_files_embed_alike_and_the_sibling_is_what_the_converter_makes_now(model):
    info = read_model_info(model)
    folder, pattern = IMAGES[info.kind]
    files = sorted(folder.glob(pattern))[:40]
    images = [read_image(f) for f in files]
    cpu = Embedder(model, providers=("cpu",)).embed(images)
    sibling = model.with_name(info.tensorrt_variant)
    tensorrt = Embedder(sibling, providers=("cpu",)).embed(images)  # TensorRT's file, run on the CPU here
    assert len(images) >= 6 and np.einsum("ij,ij->i", cpu, tensorrt).min() >= 0.95
    if read_model_info(sibling).precision != "int8":
        return
    _, rebuilt = pair_for_tensorrt(onnx.load(model), model.name)
    assert onnx.load(sibling).graph.SerializeToString(deterministic=True) == rebuilt.graph.SerializeToString(
        deterministic=True
    )


def test_a_gallery_enrolled_with_the_cpu_file_serves_the_tensorrt_file_but_no_other_model(tmp_path):
    demo = MODELS / "att_faces_demo.int8.onnx"
    cpu = Embedder(demo, providers=("cpu",))
    gallery = new_gallery(cpu)
    enroll_images(gallery, cpu, "s4", [DEMO / "att_faces" / "s4" / "1.png"])
    gallery.save(tmp_path / "g.npz")
    tensorrt_file = Embedder(demo.with_name(cpu.info.tensorrt_variant), providers=("cpu",))
    recognizer = Recognizer(tensorrt_file, open_gallery(tmp_path / "g.npz", tensorrt_file))
    assert recognizer.recognize(read_image(DEMO / "att_faces" / "s4" / "2.png"))[0].name == "s4"
    other = Embedder(MODELS / "signatures.int8.onnx", providers=("cpu",))
    with pytest.raises(GalleryError, match="re-enroll"):
        open_gallery(tmp_path / "g.npz", other)
