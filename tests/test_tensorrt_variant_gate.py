"""python -m export.tensorrt_variant: the S8S8 sibling of a U8S8 model is written only once the export's
gate has measured it on held-out classes; refused, it leaves the model as it was."""

import shutil
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.inference.embedder import read_model_info
from export.tensorrt_variant import main, pair_for_tensorrt

DEMO_MODEL = Path(packaged_model(ATT_FACES_MODEL))


@pytest.fixture
def lone_model(tmp_path):
    """The bundled AT&T model's U8S8 file alone, renamed, as a user has it before making the sibling."""
    model = tmp_path / "m.int8.onnx"
    shutil.copy(DEMO_MODEL, model)
    return model


def _subjects(faces_root, tmp_path, trained: bool) -> Path:
    """A folder of the AT&T subjects the model was (or was not) trained on."""
    seen = set(read_model_info(DEMO_MODEL).training_classes)
    folder = tmp_path / ("seen" if trained else "unseen")
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir()):
        if (subject.name in seen) == trained:
            shutil.copytree(subject, folder / subject.name)
    return folder


def _run(arguments):
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert "Traceback" not in result.output
    return result


def test_the_sibling_is_written_once_it_passes_the_gate(lone_model, faces_root, tmp_path):
    data = _subjects(faces_root, tmp_path, trained=False)
    result = _run([lone_model, "--data", data, "--way", 10, "--episodes", 300])
    assert result.exit_code == 0, result.output
    sibling = lone_model.with_name("m.int8.tensorrt.onnx")
    assert result.stdout.startswith(f"{lone_model} -> {sibling}: one-shot accuracy ")
    assert "points over 300 episodes" in result.stdout and "against m.int8.onnx" in result.stdout
    assert read_model_info(lone_model).tensorrt_variant == sibling.name
    _, expected = pair_for_tensorrt(onnx.load(DEMO_MODEL), lone_model.name)
    assert onnx.load(sibling).graph == expected.graph


def test_classes_the_model_trained_on_are_refused_and_nothing_is_written(lone_model, faces_root, tmp_path):
    before = lone_model.read_bytes()
    result = _run([lone_model, "--data", _subjects(faces_root, tmp_path, trained=True), "--episodes", 50])
    assert result.exit_code == 2 and "trained m.int8.tensorrt.onnx" in result.output, result.output
    assert "give --data held-out classes" in result.output and len(result.output.strip().splitlines()) == 1
    assert lone_model.read_bytes() == before and sorted(p.name for p in lone_model.parent.glob("*.onnx")) == [
        "m.int8.onnx"
    ]


def test_a_reference_of_another_model_is_refused(lone_model, faces_root, tmp_path):
    other = DEMO_MODEL.with_name("signatures.int8.onnx")
    result = _run([lone_model, "--data", _subjects(faces_root, tmp_path, trained=False), "--reference", other])
    assert result.exit_code == 2 and "is another model than m.int8.tensorrt.onnx" in result.output
    assert not lone_model.with_name("m.int8.tensorrt.onnx").exists()


def test_data_is_required(lone_model):
    result = _run([lone_model])
    assert result.exit_code == 2 and "Missing option '--data'" in result.output
