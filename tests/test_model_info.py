"""Model metadata: older models without `kind` and `notes` still load; a kind this version does not
know, or missing keys, is one clear error."""

import pytest

from edge_runtime.core.errors import ModelError
from edge_runtime.imaging.preprocessing import InputSpec
from edge_runtime.inference.model_info import ModelInfo


def _metadata(**changes) -> dict[str, str]:
    info = ModelInfo(InputSpec(64, 64, 1), 128, "cosine", 0.5, 1e-3, "0123456789abcdef", "int8", "edge", "lfw", 10,
                     "0.1.0", kind="face", notes="trained on LFW")  # fmt: skip
    metadata = info.to_metadata()
    metadata.update(changes)
    return {k: v for k, v in metadata.items() if v is not None}


def test_kind_and_notes_round_trip():
    info = ModelInfo.from_metadata(_metadata())
    assert info.kind == "face" and info.notes == "trained on LFW"


def test_a_model_from_before_kind_and_notes_reads_as_identity():
    info = ModelInfo.from_metadata(_metadata(kind=None, notes=None))
    assert info.kind == "identity" and info.notes == ""


@pytest.mark.parametrize(("changes", "message"), [({"kind": "car"}, "kind 'car'"), ({"metric": None}, "incomplete")])
def test_unknown_kind_or_missing_keys_are_refused(changes, message):
    with pytest.raises(ModelError, match=message):
        ModelInfo.from_metadata(_metadata(**changes), source="m.onnx")


def test_family_quantization_variant_and_training_classes_round_trip():
    info = ModelInfo(InputSpec(64, 64, 1), 128, "cosine", 0.5, 1e-3, "0123456789abcdef", "int8", "edge", "lfw", 10,
                     "0.1.0", family_hash="fedcba9876543210", quantization="u8s8",
                     tensorrt_variant="m.int8.tensorrt.onnx", training_classes=("ann", "bob"))  # fmt: skip
    back = ModelInfo.from_metadata(info.to_metadata())
    assert back == info and back.family == "fedcba9876543210"


def test_a_model_from_before_families_is_its_own_family():
    metadata = _metadata()
    del metadata["family_hash"]
    info = ModelInfo.from_metadata(metadata)
    assert info.family == info.model_hash == "0123456789abcdef"
    assert (info.quantization, info.tensorrt_variant, info.training_classes) == ("", "", ())
