"""Shared fixtures: the bundled demo data (real images), small copies of it to damage, and small
real file systems (tmpfs) to fill.

Training and export are imported inside their fixtures: the runtime's tests also run where only
the runtime is installed (no torch, numpy 1.26, as on a Jetson).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"


@pytest.fixture(scope="session")
def faces_root() -> Path:
    """The bundled AT&T faces: 40 subjects, 10 images each."""
    return DEMO / "att_faces"


@pytest.fixture(scope="session")
def omniglot_root() -> Path:
    """The bundled Omniglot subset: four alphabets, 20 drawings per character."""
    return DEMO / "omniglot"


@pytest.fixture
def small_faces(tmp_path: Path, faces_root: Path) -> Path:
    """A writable copy of twelve subjects of the AT&T faces."""
    root = tmp_path / "faces"
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir())[:12]:
        shutil.copytree(subject, root / subject.name)
    return root


@pytest.fixture(scope="session")
def trained(tmp_path_factory, faces_root):
    """A small edge model trained here on twelve AT&T subjects: (best checkpoint, data folder)."""
    from train.config import TrainConfig  # here, not above: the runtime's tests run without torch too
    from train.trainer import Trainer

    data = tmp_path_factory.mktemp("data") / "faces"
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir())[:12]:
        shutil.copytree(subject, data / subject.name)
    config = TrainConfig(
        data=str(data), split=(6, 3, 3), height=48, width=40, classes_per_batch=6, images_per_class=4,
        steps_per_epoch=6, epochs=2, way=3, episodes=50, val_episodes=50, threads=1,
    )  # fmt: skip
    result = Trainer(config, tmp_path_factory.mktemp("run"), show_progress=False).run()
    return result.best_checkpoint, data


@pytest.fixture(scope="session")
def exported(trained, tmp_path_factory):
    """That model exported to FP32, FP16 and INT8: variant (fp32, fp16, int8, int8-tensorrt) -> VariantReport.

    Trained for twelve steps, its embeddings are nearly alike (its threshold is above 0.99): any
    rounding moves a few of the 3-way episodes, so it may lose up to 5 points, not the default 1.
    """
    from export.pipeline import ExportOptions, export_checkpoint

    checkpoint, data = trained
    out = tmp_path_factory.mktemp("export") / "faces.onnx"
    options = ExportOptions(precisions=("fp32", "fp16", "int8"), episodes=100, max_drop=5.0)
    reports = export_checkpoint(checkpoint, out, options)
    return {r.precision + ("-tensorrt" if r.quantization == "s8s8" else ""): r for r in reports}


@pytest.fixture
def straight_and_resumed(tmp_path: Path, monkeypatch):
    """A function that trains `config` twice, straight through and stopped after its first epoch
    (as Ctrl-C stops it) then resumed from `last.pt`, and returns both runs' `last.pt` payloads."""
    from train.checkpoint import load_checkpoint
    from train.trainer import Trainer

    def run(config) -> tuple[dict, dict]:
        Trainer(config, tmp_path / "straight", show_progress=False).run()
        end_epoch = Trainer._end_epoch

        def stop_after_saving(self, epoch, loss, seconds):
            end_epoch(self, epoch, loss, seconds)
            raise KeyboardInterrupt

        monkeypatch.setattr(Trainer, "_end_epoch", stop_after_saving)
        with pytest.raises(KeyboardInterrupt):
            Trainer(config, tmp_path / "resumed", show_progress=False).run()
        monkeypatch.undo()
        last = tmp_path / "resumed" / "last.pt"
        assert load_checkpoint(last)["training"]["epoch"] == 1
        Trainer(config, tmp_path / "resumed", resume=last, show_progress=False).run()
        return load_checkpoint(tmp_path / "straight" / "last.pt"), load_checkpoint(last)

    return run


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip() or done.returncode}")


@pytest.fixture
def mounted(tmp_path):
    """A function that mounts a small tmpfs on a new folder under tmp_path; all are unmounted after the test."""
    folders = []

    def mount(options: str) -> Path:
        folder = tmp_path / f"mnt-{uuid.uuid4().hex[:8]}"
        _mount_tmpfs(folder, options)
        folders.append(folder)
        return folder

    yield mount
    for folder in folders:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
