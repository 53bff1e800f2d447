"""End-to-end training runs on the bundled AT&T faces: outputs, resume, errors, two processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edge_runtime.core.bundled import packaged_model
from edge_runtime.imaging.image_folders import ImageRecord
from edge_runtime.imaging.preprocessing import InputSpec, to_input_tensor
from train.backbones import build_model
from train.checkpoint import load_checkpoint
from train.cli import main
from train.config import TrainConfig
from train.datasets import load_images
from train.model_setup import _make_loss
from train.samplers import PairSampler
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


def test_resume_continues_exactly_like_an_uninterrupted_run(small_faces, straight_and_resumed):
    a, b = straight_and_resumed(_config(small_faces))
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    losses = [[entry["train_loss"] for entry in run["training"]["history"]] for run in (a, b)]
    assert losses[0] == losses[1]


def _pair_gap(model, images, first, second, same) -> float:
    """Mean cosine distance of different pairs minus that of same pairs (bigger: better separated)."""
    model.eval()
    with torch.no_grad():
        embeddings = model(images)
    model.train()
    distance = 1 - (embeddings[first] * embeddings[second]).sum(dim=1)
    return float(distance[~same].mean() - distance[same].mean())


@pytest.mark.parametrize("loss", ["contrastive", "verification"])
def test_each_pair_loss_learns_to_tell_real_faces_apart(faces_root, loss):
    torch.manual_seed(0)
    torch.set_num_threads(1)  # as the trainer runs here (--threads 1): more threads only contend on 2 cores
    spec = InputSpec(32, 32, 1)
    subjects = sorted(p for p in faces_root.iterdir() if p.is_dir())[:6]
    records = [ImageRecord(f, s.name, s.name) for s in subjects for f in sorted(s.glob("*.png"))]
    data = load_images(records, tuple(s.name for s in subjects), spec)
    images = torch.from_numpy(to_input_tensor(data.images, spec))
    first, second = np.triu_indices(len(data.labels), k=1)
    same = torch.from_numpy(data.labels[first] == data.labels[second])
    model = build_model("edge", in_channels=1, height=32, width=32)
    criterion = _make_loss(TrainConfig(data="", loss=loss, margin=0.5), 128, 6)
    optimizer = torch.optim.Adam([*model.parameters(), *criterion.parameters()], lr=1e-3)
    sampler, rng = PairSampler(data.labels, 16), np.random.default_rng(0)
    before = _pair_gap(model, images, first, second, same)
    for _ in range(30):
        batch = sampler.batch(rng)
        embeddings = model(images[np.concatenate([batch.first, batch.second])])
        value = criterion(embeddings[:16], embeddings[16:], torch.from_numpy(batch.same))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    after = _pair_gap(model, images, first, second, same)
    assert after > 0.05 and after > before + 0.03, (before, after)


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
        (["--workers", "-1"], "Invalid value for '--workers'"),
    ],
)
def test_user_errors_are_one_line_with_a_non_zero_exit(small_faces, tmp_path, arguments, message):
    base = ["--data", str(small_faces)] if arguments[0] != "--data" else []
    result = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "o"), *FAST, *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


DDP_SCRIPT = """
import sys
import torch
from train.config import TrainConfig
from edge_runtime.imaging.image_folders import ImageRecord
from edge_runtime.imaging.preprocessing import InputSpec, to_input_tensor
from train.backbones import build_model
from train.datasets import load_images
from train.model_setup import _make_loss
from train.samplers import PairSampler
from train.trainer import Trainer

data, out, teacher = (sys.argv[1:] + [""])[:3]
seen, losses = [], []


class Recording(Trainer):
    def _prepare_batch(self, batch, rng):
        seen.append([int(i) for i in batch])
        return super()._prepare_batch(batch, rng)

    def _train_epoch(self, epoch):
        losses.append(super()._train_epoch(epoch))
        self.trained = {name: p.detach().clone() for name, p in self.model.named_parameters()}
        return losses[-1]


config = TrainConfig(data=data, split=(6, 3, 3), height=32, width=32, classes_per_batch=4, images_per_class=3,
                     steps_per_epoch=1, epochs=2, way=3, episodes=20, val_episodes=20, threads=1, device="cpu",
                     teacher=teacher)
trainer = Recording(config, out, show_progress=False)
trainer.run()
record = {"weights": trainer.trained, "seen": seen, "losses": losses}
torch.save(record, f"{out}/rank{trainer.cluster.rank}.pt")
"""


@pytest.mark.parametrize("teacher", ["", "att_faces_demo.int8.onnx"], ids=["alone", "distilled"])
def test_two_processes_step_together_on_different_batches_and_end_with_the_same_weights(small_faces, tmp_path, teacher):
    # One step per epoch for two processes: before batches were shared out evenly, one process
    # got none and the other waited for it forever. Distillation (--teacher) steps the same way.
    out = tmp_path / "ddp"
    (tmp_path / "ddp_run.py").write_text(DDP_SCRIPT)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(tmp_path / "ddp_run.py"), str(small_faces), str(out)]  # fmt: skip
    if teacher:
        command.append(packaged_model(teacher))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    # the parameters after the last step (BatchNorm statistics are rank 0's: DDP broadcasts them)
    for key, value in ranks[0]["weights"].items():
        assert torch.equal(value, ranks[1]["weights"][key]), key
    assert len(ranks[0]["seen"]) == len(ranks[1]["seen"]) == 2  # one step per process and epoch
    assert all(a != b for a, b in zip(ranks[0]["seen"], ranks[1]["seen"], strict=True))
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [entry["world_size"] for entry in log] == [2, 2]
    # the logged loss is the mean over the processes, which both of them hold
    assert ranks[0]["losses"] == ranks[1]["losses"] == pytest.approx([entry["train_loss"] for entry in log])
    assert load_checkpoint(out / "best.pt")["threshold"] is not None
    assert (load_checkpoint(out / "best.pt")["teacher"] is not None) == bool(teacher)


def test_early_stopping_when_validation_stops_improving(small_faces, tmp_path):
    # With a learning rate of 0 only BatchNorm statistics move, so validation soon stops improving.
    result = Trainer(_config(small_faces, epochs=8, lr=0.0, patience=2), tmp_path / "stop", show_progress=False).run()
    log = [json.loads(line) for line in (tmp_path / "stop" / "metrics.jsonl").read_text().splitlines()]
    assert len(log) < 8
    assert result.report["best_epoch"] == len(log) - 2
    best = log[result.report["best_epoch"] - 1]["val_few_shot_accuracy"]
    assert all(entry["val_few_shot_accuracy"] <= best for entry in log[result.report["best_epoch"] :])
