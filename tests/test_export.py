"""export-onnx on a small model trained here on real faces: parity, metadata, sizes, errors."""

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from edge_runtime.embedder import Embedder
from edge_runtime.errors import ModelError
from edge_runtime.preprocessing import read_image
from export.cli import main
from export.verify import MIN_COSINE
from train.checkpoint import load_checkpoint


def test_every_precision_agrees_with_fp32_and_keeps_accuracy(exported):
    assert set(exported) == {"fp32", "fp16", "int8"}
    for precision, report in exported.items():
        assert report.path.is_file()
        assert report.min_cosine_vs_fp32 >= MIN_COSINE[precision]
        assert report.latency_ms > 0
    assert exported["fp32"].max_abs_diff_vs_fp32 == 0.0
    assert abs(exported["int8"].few_shot_accuracy - exported["fp32"].few_shot_accuracy) <= 0.05


def test_int8_is_at_most_35_percent_of_fp32(exported):
    assert exported["int8"].size_bytes <= 0.35 * exported["fp32"].size_bytes
    assert exported["fp16"].size_bytes <= 0.55 * exported["fp32"].size_bytes


def test_metadata_is_read_back_by_onnxruntime(exported, trained):
    payload = load_checkpoint(trained[0])
    hashes = set()
    for precision, report in exported.items():
        info = Embedder(report.path, providers=("cpu",)).info
        assert info.spec.to_dict() == payload["input"]
        assert info.embedding_size == payload["embedding_size"] == 128
        assert info.threshold == pytest.approx(payload["threshold"])
        assert info.metric == "cosine" and info.precision == precision
        assert info.dataset_name == "faces" and info.dataset_classes == 12
        hashes.add(info.model_hash)
    assert len(hashes) == 3


def test_model_is_pinned_self_contained_and_takes_float32(exported):
    for report in exported.values():
        proto = onnx.load(report.path)
        assert proto.ir_version == 8
        assert {o.domain: o.version for o in proto.opset_import}[""] == 17
        assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)


def test_dynamic_batch_and_any_image_size(exported, faces_root):
    embedder = Embedder(exported["int8"].path, providers=("cpu",))
    image = read_image(faces_root / "s1" / "1.png")
    colour = np.dstack([image] * 3)
    one = embedder.embed([image])
    many = embedder.embed([image, colour, image[:50, :40], image, image])
    assert one.shape == (1, 128) and many.shape == (5, 128)
    assert np.allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    assert np.allclose(one[0], many[0], atol=1e-5)


def test_foreign_and_truncated_models_are_refused(exported, tmp_path):
    data = exported["fp32"].path.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="truncated or not ONNX"):
        Embedder(tmp_path / "cut.onnx", providers=("cpu",))
    proto = onnx.load(exported["fp32"].path)
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "foreign.onnx")
    with pytest.raises(ModelError, match="not a siamese-edge model"):
        Embedder(tmp_path / "foreign.onnx", providers=("cpu",))


def _run(arguments):
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert "Traceback" not in result.output
    return result


def test_cli_writes_the_summary_table(trained, tmp_path):
    result = _run([trained[0], "-o", tmp_path / "m.onnx", "-p", "fp32", "--episodes", "20"])
    assert result.exit_code == 0, result.output
    assert "| fp32 | m.fp32.onnx |" in result.output
    assert (tmp_path / "m.fp32.onnx").is_file()


def test_cli_errors_leave_no_model_behind(trained, tmp_path):
    checkpoint, _ = trained
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "cut.pt").write_bytes(checkpoint.read_bytes()[:1000])
    (tmp_path / "empty_calib").mkdir()
    (tmp_path / "empty_calib" / "note.png").write_text("not an image")
    (tmp_path / "a_file").write_text("")
    cases = [
        ([tmp_path / "missing.pt"], "does not exist"),
        ([tmp_path / "cut.pt"], "truncated or not a checkpoint"),
        ([checkpoint, "--all", "--calib", tmp_path / "empty_calib"], "no readable calibration images"),
        ([checkpoint, "-p", "int8", "--calib", tmp_path / "nowhere"], "does not exist"),
        ([checkpoint, "--data", tmp_path / "nowhere"], "pass --data"),
    ]
    for arguments, message in cases:
        result = _run([*arguments, "-o", out / "m.onnx", "--episodes", "10"])
        assert result.exit_code == 2 and message in result.output, (arguments, result.output)
        assert list(out.iterdir()) == []
    result = _run([checkpoint, "-o", tmp_path / "a_file" / "m.onnx", "--episodes", "10"])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_kind_notes_and_a_recalibrated_threshold_reach_the_metadata(trained, tmp_path):
    checkpoint, _ = trained
    payload = load_checkpoint(checkpoint)
    arguments = [str(checkpoint), "-o", str(tmp_path / "m.onnx"), "--episodes", "20", "--kind", "face"]
    result = CliRunner().invoke(main, [*arguments, "--notes", "trained on twelve AT&T subjects", "--target-far", "0.2"])
    assert result.exit_code == 0, result.output
    info = Embedder(tmp_path / "m.fp32.onnx", providers=("cpu",)).info
    assert info.kind == "face" and info.notes == "trained on twelve AT&T subjects"
    assert info.target_far == 0.2 and info.threshold < payload["threshold"]  # a higher FAR accepts more
    default = CliRunner().invoke(main, [str(checkpoint), "-o", str(tmp_path / "d.onnx"), "--episodes", "20"])
    assert default.exit_code == 0, default.output
    info = Embedder(tmp_path / "d.fp32.onnx", providers=("cpu",)).info
    assert info.kind == "identity" and info.threshold == pytest.approx(payload["threshold"])


def test_a_flip_averaged_model_embeds_an_image_and_its_mirror_alike(trained, tmp_path, faces_root):
    checkpoint, _ = trained
    arguments = [str(checkpoint), "-o", str(tmp_path / "f.onnx"), "-p", "int8", "--episodes", "20", "--flip-average"]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    embedder = Embedder(tmp_path / "f.int8.onnx", providers=("cpu",))
    assert embedder.info.flip_average and embedder.info.threshold != load_checkpoint(checkpoint)["threshold"]
    image = read_image(faces_root / "s1" / "1.png")
    plain, mirrored = embedder.embed([image, image[:, ::-1].copy()])
    assert plain @ mirrored > 0.999 and embedder.embed([image] * 3).shape == (3, 128)
