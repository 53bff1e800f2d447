"""Static graphs for TensorRT: the export folds every size computed from the fixed input dimensions,
so no Shape/Gather/ConstantOfShape chain feeds a Pad or a Reshape, and the graph computes the same
embeddings at any batch size. Every bundled model is held to that census."""

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from edge_runtime.inference.onnx_runtime import onnxruntime
from export.graph import DEFAULT_OPSET, module_to_onnx
from export.static_shapes import fold_file, fold_shape_computations, shape_chains
from train.dlib.resnet import DlibFaceResNet

MODELS = Path(__file__).resolve().parent.parent / "edge_runtime" / "models"
BUNDLED = sorted(MODELS.glob("*.onnx"))


def _raw_export(module: torch.nn.Module, path: Path) -> onnx.ModelProto:
    """PyTorch's exporter as it writes the graph, before folding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on dlib's padding
        _export(module, path)
    return onnx.load(path)


def _export(module: torch.nn.Module, path: Path) -> None:
    torch.onnx.export(module, (torch.zeros(1, 3, 150, 150),), str(path), dynamo=False, opset_version=DEFAULT_OPSET,
                      input_names=["image"], output_names=["embedding"],
                      dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}})  # fmt: skip


def _run(proto: onnx.ModelProto, batch: np.ndarray) -> np.ndarray:
    session = onnxruntime().InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


@pytest.fixture(scope="module")
def resnet() -> DlibFaceResNet:
    torch.manual_seed(0)
    return DlibFaceResNet().eval()


def test_the_export_folds_the_padding_computed_from_fixed_sizes(resnet, tmp_path):
    raw = _raw_export(resnet, tmp_path / "raw.onnx")
    assert len(shape_chains(raw)) >= 5  # what PyTorch writes for dlib's channel padding
    exported = module_to_onnx(resnet, torch.zeros(1, 3, 150, 150), DEFAULT_OPSET, "image", "embedding")
    assert shape_chains(exported) == []
    ops = [node.op_type for node in exported.graph.node]
    assert ops.count("ConstantOfShape") == 0 and ops.count("Gather") == 0 and ops.count("Pad") == 5
    batch_dim = exported.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == "batch"  # the batch stays dynamic
    for size in (1, 5):
        images = np.random.default_rng(size).standard_normal((size, 3, 150, 150)).astype(np.float32)
        with torch.no_grad():
            expected = resnet(torch.from_numpy(images)).numpy()
        assert np.allclose(_run(exported, images), expected, atol=1e-4)
        assert np.array_equal(_run(exported, images), _run(raw, images))


def test_folding_a_file_keeps_its_metadata_exactly_and_is_rerunnable(resnet, tmp_path):
    path = tmp_path / "model.onnx"
    raw = _raw_export(resnet, path)
    onnx.helper.set_model_props(raw, {"siamese_edge.format_version": "1", "model_hash": "0123456789abcdef"})
    onnx.save(raw, path)
    assert len(fold_file(path)) >= 5
    folded = onnx.load(path)
    assert list(folded.metadata_props) == list(raw.metadata_props) and shape_chains(folded) == []
    written = path.read_bytes()
    assert fold_file(path) == [] and path.read_bytes() == written  # run again: nothing to do, file untouched
    assert fold_shape_computations(folded).SerializeToString() == folded.SerializeToString()


@pytest.mark.parametrize("model", BUNDLED, ids=lambda p: p.name)
def test_no_bundled_model_computes_a_pad_or_a_reshape_from_shapes(model):
    """The census: no Pad or Reshape fed by Shape, Gather, ConstantOfShape and arithmetic on them
    (`python -m export.static_shapes FILE` folds a file in place, its metadata as it was)."""
    proto = onnx.load(model)
    assert shape_chains(proto) == []
    ops = [node.op_type for node in proto.graph.node]
    assert "ConstantOfShape" not in ops
