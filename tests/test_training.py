"""End-to-end training runs on the bundled AT&T faces: outputs, resume, errors, two processes."""

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from train.checkpoint import load_checkpoint
from train.cli import main
from train.config import TrainConfig
from train.trainer import Trainer

FAST = [
    "--split", "6,3,3", "--input-size", "32", "-P", "4", "-K", "3", "--steps-per-epoch", "3",
    "--way", "3", "--episodes", "20", "--val-episodes", "20", "--quiet", "--threads", "1",
]  # fmt: skip


def _config(data, **changes) -> TrainConfig:
    values = dict(
        data=str(data), split=(6, 3, 3), height=32, width=32, classes_per_batch=4, images_per_class=3,
        steps_per_epoch=3, epochs=2, way=3, episodes=20, val_episodes=20, threads=1,
    )  # fmt: skip
    values.update(changes)
    return TrainConfig(**values)


def test_cli_trains_and_writes_every_output(small_faces, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["--data", str(small_faces), "--out", str(out), "--epochs", "2", *FAST])
    assert result.exit_code == 0, result.output
    assert "test: 3-way 1-shot accuracy" in result.output
    for name in ("best.pt", "last.pt", "metrics.jsonl", "report.json", "roc.png"):
        assert (out / name).stat().st_size > 0
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [1, 2]
    best = load_checkpoint(out / "best.pt")
    report = json.loads((out / "report.json").read_text())
    assert best["threshold"] == pytest.approx(report["threshold"])
    assert best["input"]["height"] == 32 and best["input"]["channels"] == 1
    assert best["embedding_size"] == 128 and best["metric"] == "cosine"
    assert set(best["split"]["test"]).isdisjoint(best["split"]["train"])
    assert 0.0 <= report["test"]["eer"] <= 1.0 and report["test"]["classes"] == 3
    assert "optimizer" not in best["training"]


def test_resume_continues_exactly_like_an_uninterrupted_run(small_faces, tmp_path, monkeypatch):
    straight = Trainer(_config(small_faces), tmp_path / "straight", show_progress=False)
    straight.run()

    interrupted = Trainer(_config(small_faces), tmp_path / "resumed", show_progress=False)
    end_epoch = Trainer._end_epoch

    def stop_after_saving(self, epoch, loss, seconds):
        end_epoch(self, epoch, loss, seconds)
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_end_epoch", stop_after_saving)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["training"]["epoch"] == 1

    resumed = Trainer(
        _config(small_faces), tmp_path / "resumed", resume=tmp_path / "resumed" / "last.pt", show_progress=False
    )
    resumed.run()
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    losses = [[entry["train_loss"] for entry in run["training"]["history"]] for run in (a, b)]
    assert losses[0] == losses[1]


@pytest.mark.parametrize("loss", ["contrastive", "verification"])
def test_pair_losses_train(small_faces, tmp_path, loss):
    trainer = Trainer(
        _config(small_faces, loss=loss, pairs_per_batch=8, epochs=1), tmp_path / loss, show_progress=False
    )
    result = trainer.run()
    assert result.report["test"]["images"] == 30
    assert load_checkpoint(result.best_checkpoint)["config"]["loss"] == loss


def test_init_weights_start_from_a_checkpoint(small_faces, tmp_path):
    first = Trainer(_config(small_faces, epochs=1), tmp_path / "a", show_progress=False).run()
    second = Trainer(
        _config(small_faces, epochs=1, lr=0.0), tmp_path / "b", init_weights=first.best_checkpoint, show_progress=False
    )
    weights = load_checkpoint(first.best_checkpoint)["model_state"]
    for key, value in second.model.state_dict().items():
        assert torch.equal(value, weights[key])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--data", "/nonexistent/data"], "does not exist"),
        (["--resume", "/nonexistent/last.pt"], "does not exist"),
        (["--way", "9"], "9-way episodes need 9 classes"),
    ],
)
def test_user_errors_are_one_line_with_a_non_zero_exit(small_faces, tmp_path, arguments, message):
    base = ["--data", str(small_faces)] if arguments[0] != "--data" else []
    result = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "o"), *FAST, *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_two_process_ddp_on_gloo(small_faces, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "train", "--data", str(small_faces), "--out", str(out), "--epochs", "2", "--device", "cpu", *FAST,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [entry["world_size"] for entry in log] == [2, 2]
    assert load_checkpoint(out / "best.pt")["threshold"] is not None


def test_early_stopping_when_validation_stops_improving(small_faces, tmp_path):
    # With a learning rate of 0 only BatchNorm statistics move, so validation soon stops improving.
    result = Trainer(_config(small_faces, epochs=8, lr=0.0, patience=2), tmp_path / "stop", show_progress=False).run()
    log = [json.loads(line) for line in (tmp_path / "stop" / "metrics.jsonl").read_text().splitlines()]
    assert len(log) < 8
    assert result.report["best_epoch"] == len(log) - 2
    best = log[result.report["best_epoch"] - 1]["val_few_shot_accuracy"]
    assert all(entry["val_few_shot_accuracy"] <= best for entry in log[result.report["best_epoch"] :])
