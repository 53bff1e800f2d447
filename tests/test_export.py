"""export-onnx on a small model trained here on real faces: parity, metadata, sizes, errors."""

import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.core.errors import ModelError
from edge_runtime.identity.thresholds import FAR_LEVELS, table_of
from edge_runtime.imaging.preprocessing import InputSpec, read_image
from edge_runtime.inference.embedder import Embedder, read_model_info
from edge_runtime.inference.int8_variants import ModelFile
from edge_runtime.inference.provider_policy import file_for_provider
from edge_runtime.inference.providers import TENSORRT
from export.cli import main
from export.far_table import table_of_embeddings
from export.gate import ACCEPTED, UNDECIDED
from export.graph import embedding_module
from export.tensorrt_check import tensorrt_problems
from export.verify import MAX_ABS_DIFF_FP32
from train.checkpoint import load_checkpoint
from train.datasets import load_images, scan_dataset
from train.evaluation import answers, embed_images

DEMO_MODEL = Path(packaged_model(ATT_FACES_MODEL))  # the small AT&T face model


def _held_out(trained):
    """The checkpoint's validation images, loaded here as a user would, not by the export."""
    checkpoint, data = trained
    payload = load_checkpoint(checkpoint)
    records = scan_dataset(data)
    return load_images(records, tuple(payload["split"]["val"]), InputSpec.from_dict(payload["input"]))


def test_the_report_describes_the_files_written_and_int8_stays_close(exported, trained):
    held_out = _held_out(trained)
    embeddings = {v: Embedder(r.path, providers=("cpu",)).embed_fitted(held_out.images) for v, r in exported.items()}
    for variant, report in exported.items():
        assert report.agreement_with == ("PyTorch" if variant == "fp32" else "FP32")
        assert report.latency_ms > 0
        if variant != "fp32":  # what the summary says is what the written files do
            cosines = np.einsum("ij,ij->i", embeddings["fp32"], embeddings[variant])
            assert report.agreement.min_cosine == pytest.approx(cosines.min(), abs=1e-6)
            assert report.agreement.mean_cosine == pytest.approx(cosines.mean(), abs=1e-6)
    # FP16 rounds each weight to 11 bits; INT8 to 7, on whichever integer kernels this CPU has (AVX2, VNNI, ...)
    assert exported["fp16"].agreement.min_cosine > 0.9999
    assert exported["int8"].agreement.mean_cosine > 0.99 and exported["int8-tensorrt"].agreement.mean_cosine > 0.99
    # FP32 is compared with PyTorch, whose kernels round differently: close, but not the same numbers.
    assert 0 < exported["fp32"].agreement.max_abs_diff <= MAX_ABS_DIFF_FP32
    assert exported["int8"].agreement.max_abs_diff > exported["fp32"].agreement.max_abs_diff


def test_every_variant_is_scored_on_the_same_episodes_as_pytorch(exported, trained):
    held_out = _held_out(trained)
    payload = load_checkpoint(trained[0])
    way = exported["fp32"].way
    for report in exported.values():
        embeddings = Embedder(report.path, providers=("cpu",)).embed_fitted(held_out.images)
        given = answers(embeddings, held_out, way=way, episodes=100)
        assert report.few_shot_accuracy == pytest.approx(given.correct.mean())
        drop = report.accuracy_drop
        assert drop.sample == 100 and drop.low <= drop.estimate <= drop.high
        assert drop.verdict in (ACCEPTED, UNDECIDED)  # nothing refused was reported
    assert way == min(payload["config"]["way"], len(payload["split"]["val"]))


def test_every_variant_carries_the_far_table_of_pytorch_s_validation_embeddings(exported, trained):
    held_out = _held_out(trained)  # the validation classes (the export's held-out set here)
    payload = load_checkpoint(trained[0])
    spec, network = InputSpec.from_dict(payload["input"]), embedding_module(payload, False)
    expected = table_of_embeddings(embed_images(network, held_out.images, spec, torch.device("cpu")), held_out.labels)
    impostors = int((held_out.labels[:, None] != held_out.labels[None, :]).sum() // 2)
    for report in exported.values():
        rows = table_of(Embedder(report.path, providers=("cpu",)).info.far_table)
        assert [row.far for row in rows] == list(FAR_LEVELS)
        assert all(row.impostor_pairs == impostors for row in rows)
        assert [row.to_dict() for row in rows] == [row.to_dict() for row in expected]
        assert any(row.threshold is None for row in rows)  # a few hundred impostor pairs cannot tell 1e-5


def test_int8_is_at_most_35_percent_of_fp32(exported):
    assert exported["int8"].size_bytes <= 0.35 * exported["fp32"].size_bytes
    assert exported["fp16"].size_bytes <= 0.55 * exported["fp32"].size_bytes


def test_metadata_is_read_back_by_onnxruntime(exported, trained):
    payload = load_checkpoint(trained[0])
    hashes, families = set(), set()
    for report in exported.values():
        info = Embedder(report.path, providers=("cpu",)).info
        assert info.spec.to_dict() == payload["input"]
        assert info.embedding_size == payload["embedding_size"] == 128
        assert info.threshold == pytest.approx(payload["threshold"])
        assert info.metric == "cosine" and info.precision == report.precision
        assert info.dataset_name == "faces" and info.dataset_classes == 12
        assert list(info.training_classes) == payload["split"]["train"]
        hashes.add(info.model_hash)
        families.add(info.family)
    assert len(hashes) == 4
    # every variant belongs to the FP32 graph's family: galleries and edge-bench compare within it
    assert families == {Embedder(exported["fp32"].path, providers=("cpu",)).info.model_hash}


def test_model_is_pinned_self_contained_and_takes_float32(exported):
    for report in exported.values():
        proto = onnx.load(report.path)
        assert proto.ir_version == 8
        assert {o.domain: o.version for o in proto.opset_import}[""] == 17
        assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
        used = {node.domain for node in proto.graph.node} | {""}
        assert {o.domain for o in proto.opset_import} <= used, report.path.name  # no unused opset domains


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


def test_cli_writes_the_summary_table_alone_on_stdout(trained, tmp_path):
    result = _run([trained[0], "-o", tmp_path / "m.onnx", "-p", "fp32", "-p", "int8", "--episodes", "20"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("| variant |")  # the calibrators' progress does not land in it
    assert "| fp32 | m.fp32.onnx |" in result.stdout and "| int8 (s8s8) | m.int8.tensorrt.onnx |" in result.stdout
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


def test_int8_gives_a_cpu_model_and_a_tensorrt_model_that_keeps_our_reading_of_tensorrts_qdq_rules(exported):
    cpu, tensorrt = exported["int8"], exported["int8-tensorrt"]
    assert (cpu.path.name, tensorrt.path.name) == ("faces.int8.onnx", "faces.int8.tensorrt.onnx")
    assert (cpu.quantization, tensorrt.quantization) == ("u8s8", "s8s8")
    assert tensorrt_problems(onnx.load(tensorrt.path)) == []
    assert any("UINT8" in problem for problem in tensorrt_problems(onnx.load(cpu.path)))
    info = Embedder(cpu.path, providers=("cpu",)).info
    assert info.tensorrt_variant == tensorrt.path.name


def test_a_badly_calibrated_int8_model_is_refused_and_nothing_is_written(trained, tmp_path, faces_root):
    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(16):
        cv2.imwrite(str(blank / f"{i}.png"), np.full((48, 40), 128, np.uint8))
    out = tmp_path / "out"
    arguments = [trained[0], "--all", "--calib", blank, "-o", out / "m.onnx", "--episodes", "100"]
    result = _run(arguments)
    assert result.exit_code == 2, result.output
    assert "m.int8.onnx refused, nothing written" in result.output
    # its embeddings still agree with FP32 (cosine >= 0.95, the only check before), but all look alike
    assert "accepts 100.000% of impostor pairs" in result.output and "twice the target FAR" in result.output
    assert not out.exists() or list(out.iterdir()) == []


def test_the_summary_gives_far_and_tar_at_the_shipped_threshold(trained, tmp_path, caplog):
    result = _run([trained[0], "-o", tmp_path / "m.onnx", "-p", "fp32", "--episodes", "20"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| fp32 |"))
    rates = row.split("|")[7].strip()
    far, tar = rates.removesuffix(" (FAR undecided)").split(" / ")
    assert far == "0.000%" and tar.endswith("%")  # the threshold was calibrated on these pairs for FAR 1e-3
    # 300 impostor pairs cannot show a FAR under 2e-3 even with none accepted: the table says so
    assert rates.endswith(" (FAR undecided)")
    assert "300 impostor pairs cannot tell whether its FAR at the threshold exceeds 0.002" in caplog.text
    # FP32 answers PyTorch's 20 episodes as PyTorch does, on 3 classes: only more held-out data could decide
    assert "(3-way, +0.00 [" in row and "], undecided)" in row


def test_tensorrt_gets_the_sibling_even_when_both_are_renamed_but_never_another_models(exported, tmp_path):
    cpu = tmp_path / "face.int8.onnx"
    shutil.copy(exported["int8"].path, cpu)
    given = ModelFile(cpu, read_model_info(cpu))
    assert (
        "no faces.int8.tensorrt.onnx or face.int8.tensorrt.onnx or face.fp16.onnx or face.fp32.onnx is beside it"
        in (file_for_provider(TENSORRT, given, read_model_info))
    )
    shutil.copy(exported["int8-tensorrt"].path, tmp_path / "face.int8.tensorrt.onnx")
    assert file_for_provider(TENSORRT, given, read_model_info).path == tmp_path / "face.int8.tensorrt.onnx"
    assert file_for_provider("CPUExecutionProvider", given, read_model_info) is given
    shutil.copy(DEMO_MODEL.with_name("att_faces_demo.int8.tensorrt.onnx"), tmp_path / "face.int8.tensorrt.onnx")
    assert "face.int8.tensorrt.onnx is not its variant (another model)" in file_for_provider(
        TENSORRT, given, read_model_info
    )
