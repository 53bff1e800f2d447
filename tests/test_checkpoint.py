import pytest
import torch

from edge_runtime.core.errors import CheckpointError
from train.backbones import build_model
from train.checkpoint import FORMAT_VERSION, load_checkpoint, load_weights, save_checkpoint


def _payload():
    model = build_model("edge", in_channels=1, height=32, width=32, embedding_size=16, widths=[8, 16])
    return {
        "arch": {"name": "edge", "kwargs": {"widths": [8, 16]}},
        "model_state": model.state_dict(),
        "threshold": 0.5,
    }


def test_round_trip_with_weights_only(tmp_path):
    payload = _payload()
    save_checkpoint(payload, tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["threshold"] == 0.5 and loaded["format_version"] == FORMAT_VERSION
    for key, value in payload["model_state"].items():
        assert torch.equal(loaded["model_state"][key], value)
    assert set(load_weights(tmp_path / "c.pt")) == set(payload["model_state"])


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    save_checkpoint(_payload(), tmp_path / "c.pt")
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a checkpoint"):
        load_checkpoint(tmp_path / "t.pt")


def test_foreign_and_unsafe_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a siamese-edge checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "siamese-edge-checkpoint", "evil": object()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_other_format_version_is_refused(tmp_path):
    torch.save({"format": "siamese-edge-checkpoint", "format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "future.pt")
