"""Distillation (`siamese-train --teacher`) on real faces: the loss pulls a student toward a fixed
teacher, a teacher with another input than the student's sees the same augmented images, models
without a description of their input are refused in one line, resume equals a run never
stopped, and the bundled student scores faces as its teacher does."""

import logging
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from test_training import FAST
from test_training import _config as training_config
from torch.utils.data import get_worker_info

from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, SMALL_FACE_MODEL, packaged_model
from edge_runtime.faces.regions import make_regions
from edge_runtime.imaging.image_folders import ImageRecord
from edge_runtime.imaging.preprocessing import InputSpec, fit_image, read_image, to_input_tensor
from edge_runtime.inference.embedder import Embedder
from train.augment import turn_batch
from train.backbones import build_model
from train.batch_workers import BatchWorkerError
from train.checkpoint import load_checkpoint
from train.cli import main
from train.config import TrainConfig
from train.datasets import load_images
from train.distillation import CACHE_FILE
from train.losses import DistillationLoss
from train.teacher import load_teacher
from train.trainer import Trainer

ATT_TEACHER = packaged_model(ATT_FACES_MODEL)  # edge backbone, 80x64 grey, ONNX INT8 with metadata
DLIB_TEACHER = packaged_model(DEFAULT_MODEL)  # dlib's ResNet, 150x150 colour, dlib's normalisation


def _config(data, **changes) -> TrainConfig:
    return training_config(data, **{"teacher": ATT_TEACHER, **changes})


def _faces(root, subjects: int, spec: InputSpec):
    folders = sorted(p for p in root.iterdir() if p.is_dir())[:subjects]
    records = [ImageRecord(f, s.name, s.name) for s in folders for f in sorted(s.glob("*.png"))]
    return load_images(records, tuple(s.name for s in folders), spec)


def _cosines(student, inputs, targets) -> np.ndarray:
    student.eval()
    with torch.no_grad():
        embeddings = student(inputs).numpy()
    student.train()
    return np.einsum("ij,ij->i", embeddings, targets)


def test_the_loss_is_zero_for_the_teachers_own_embeddings_and_grows_with_their_difference():
    teacher = torch.nn.functional.normalize(torch.randn(16, 128, generator=torch.Generator().manual_seed(0)), dim=1)
    loss = DistillationLoss(relation_weight=1.0)
    assert float(loss(teacher * 3.0, teacher)) == pytest.approx(0.0, abs=1e-6)  # lengths do not matter
    near = teacher + 0.05 * torch.randn(16, 128, generator=torch.Generator().manual_seed(1))
    far = teacher + 0.5 * torch.randn(16, 128, generator=torch.Generator().manual_seed(1))
    assert 0 < float(loss(near, teacher)) < float(loss(far, teacher))
    # the relation term alone sees pairs: the same rotation of every embedding keeps it at zero
    rotation = torch.linalg.qr(torch.randn(128, 128, generator=torch.Generator().manual_seed(2)))[0]
    assert float(DistillationLoss(1.0)(teacher @ rotation, teacher)) > 0.5
    relation_only = float(
        DistillationLoss(1.0)(teacher @ rotation, teacher) - DistillationLoss(0.0)(teacher @ rotation, teacher)
    )
    assert relation_only == pytest.approx(0.0, abs=1e-5)


def test_distillation_pulls_a_student_toward_a_fixed_teacher_on_real_faces(faces_root):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    teacher = load_teacher(ATT_TEACHER, torch.device("cpu"))
    spec = InputSpec(32, 32, 1)
    student_view, teacher_view = _faces(faces_root, 8, spec), _faces(faces_root, 8, teacher.spec)
    inputs = torch.from_numpy(to_input_tensor(student_view.images, spec))
    targets = teacher.embed(teacher_view.images)
    student = build_model("edge", in_channels=1, height=32, width=32)
    loss = DistillationLoss(relation_weight=1.0)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    before = _cosines(student, inputs, targets)
    rng = np.random.default_rng(0)
    for _ in range(50):
        index = rng.choice(len(inputs), size=24, replace=False)
        value = loss(student(inputs[index]), torch.from_numpy(targets[index]))
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    after = _cosines(student, inputs, targets)
    print(f"student-teacher cosine on 80 real faces: {before.mean():.3f} before, {after.mean():.3f} after 50 steps")
    # measured: 0.05 before, 0.90 after (BatchNorm's running statistics take some steps to follow)
    assert after.mean() > before.mean() + 0.5 and after.mean() > 0.7


@pytest.mark.parametrize("mixup", [0.0, 1.0], ids=["distorted", "distorted-and-blended"])
def test_a_teacher_with_another_input_sees_the_same_augmented_faces(small_faces, tmp_path, mixup):
    # dlib's ResNet takes 150x150 colour with its own normalisation; the student 32x32 grey
    config = _config(small_faces, teacher=DLIB_TEACHER, flip=True, photometric=True, epochs=1, mixup=mixup)
    trainer = Trainer(config, tmp_path / "run", show_progress=False)
    teaching = trainer.teaching
    assert teaching.images.shape[1:] == (150, 150, 3) and trainer.train_set.images.shape[1:] == (32, 32, 1)
    batch = trainer.sampler.batch(np.random.default_rng(3))
    inputs, _, targets = trainer._batch_tensors(trainer._prepare_batch(batch, np.random.default_rng(7)))
    # what the teacher embedded is the student's augmented image at the teacher's input
    again = teaching.augment(teaching.images[batch], np.random.default_rng(7))
    assert np.allclose(targets.numpy(), teaching.teacher.embed(again), atol=1e-6)
    shrunk = np.stack([fit_image(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), trainer.spec) for image in again])
    student_saw = to_input_tensor(shrunk, trainer.spec)
    other_draw = teaching.augment(teaching.images[batch], np.random.default_rng(8))
    other = to_input_tensor(np.stack([fit_image(cv2.cvtColor(i, cv2.COLOR_RGB2BGR), trainer.spec) for i in other_draw]),
                            trainer.spec)  # fmt: skip
    same_gap, other_gap = np.abs(student_saw - inputs.numpy()).mean(), np.abs(other - inputs.numpy()).mean()
    print(f"student's view against the teacher's, scaled down: {same_gap:.3f}; against another draw: {other_gap:.3f}")
    # measured: 0.056 (a few grey levels of resampling) against 0.795
    assert same_gap < 0.1 and other_gap > 5 * same_gap
    # dlib's embeddings share a large common part; the student starts at it, at the teacher's spread
    mean = teaching.mean
    trainer.model.train()
    with torch.no_grad():
        start = trainer.model(inputs).numpy()
    cosines = start @ (mean / np.linalg.norm(mean))
    print(f"teacher's mean embedding: length {np.linalg.norm(mean):.3f}; student's cosine to it {cosines.mean():.3f}")
    assert abs(cosines.mean() - np.linalg.norm(mean)) < 0.05
    trainer.run()
    saved = load_checkpoint(tmp_path / "run" / "best.pt")
    assert saved["teacher"]["input"]["height"] == 150 and saved["config"]["teacher"] == DLIB_TEACHER


def test_models_without_a_description_of_their_input_are_refused_in_one_line(small_faces, tmp_path):
    torch.save(build_model("edge").state_dict(), tmp_path / "weights.pt")
    for teacher in (packaged_model("yunet_s_640_640.onnx"), str(tmp_path / "weights.pt")):
        result = CliRunner().invoke(main, ["--data", str(small_faces), "--out", str(tmp_path / "o"), *FAST,
                                           "--teacher", teacher])  # fmt: skip
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "has no siamese-edge metadata" in lines[0] and "Traceback" not in result.output


def test_a_student_of_another_embedding_length_is_refused_in_one_line(small_faces, tmp_path):
    result = CliRunner().invoke(main, ["--data", str(small_faces), "--out", str(tmp_path / "o"), *FAST,
                                       "--teacher", ATT_TEACHER, "--embedding-size", "64"])  # fmt: skip
    assert result.exit_code == 2 and "give --embedding-size 128" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_checkpoint_teaches_and_is_named_when_it_knows_the_students_test_classes(trained, tmp_path, caplog):
    checkpoint, data = trained  # 48x40 grey, trained on 6 of these 12 subjects
    with caplog.at_level(logging.WARNING):
        trainer = Trainer(_config(data, teacher=str(checkpoint), split_seed=1, epochs=1), tmp_path / "run",
                          show_progress=False)  # fmt: skip
    assert "the teacher was trained on" in caplog.text
    assert trainer.teaching.images.shape[1:] == (48, 40, 1)
    trainer.run()
    teacher = load_checkpoint(tmp_path / "run" / "best.pt")["teacher"]
    assert teacher["path"] == str(checkpoint) and len(teacher["identity"]) == 16


@pytest.mark.parametrize("augment", [True, False], ids=["augmented-on-the-fly", "cached-un-augmented"])
def test_resume_with_a_teacher_equals_an_uninterrupted_run(small_faces, tmp_path, straight_and_resumed, augment):
    a, b = straight_and_resumed(_config(small_faces, augment=augment))
    for key, value in a["model_state"].items():
        assert torch.equal(value, b["model_state"][key]), key
    assert [e["train_loss"] for e in a["training"]["history"]] == [e["train_loss"] for e in b["training"]["history"]]
    assert a["teacher"] == b["teacher"] and a["teacher"]["path"] == ATT_TEACHER
    assert (tmp_path / "resumed" / CACHE_FILE).is_file()


class _InWorkers(Trainer):
    """A trainer that asserts its batches are prepared in worker processes."""

    def _prepare_batch(self, batch, rng):
        assert get_worker_info() is not None, "a batch was prepared in the training process"
        return super()._prepare_batch(batch, rng)


class _FailingWorkers(Trainer):
    def _prepare_batch(self, batch, rng):
        raise ValueError("no such image")


@pytest.mark.parametrize(
    "changes",
    [
        dict(flip=True, photometric=True, mixup=0.5),
        dict(student_turn=20.0),
        dict(loss="contrastive", distill_weight=0.5),
    ],
    ids=["blended", "student-turn", "pairs-and-labels"],
)
def test_batches_prepared_by_worker_processes_train_exactly_as_batches_prepared_in_turn(small_faces, tmp_path, changes):
    """--workers: the augmentation, the teacher's view and the blends come from other processes,
    each batch from its own seeded draws, so the run is the one --workers 0 trains, bit for bit."""
    # OpenCV's thread pool running in this process when the workers are forked hung them (in the full
    # suite, not alone): run it first
    large = np.full((1500, 1500, 3), 128, np.uint8)
    cv2.warpAffine(large, np.eye(2, 3), (1500, 1500))
    runs = {}
    for workers, trainer in ((0, Trainer), (3, _InWorkers)):
        trainer(_config(small_faces, workers=workers, epochs=2, **changes), tmp_path / str(workers),
                show_progress=False).run()  # fmt: skip
        runs[workers] = load_checkpoint(tmp_path / str(workers) / "last.pt")
    for key, value in runs[0]["model_state"].items():
        assert torch.equal(value, runs[3]["model_state"][key]), key
    losses = [[entry["train_loss"] for entry in run["training"]["history"]] for run in runs.values()]
    assert losses[0] == losses[1] and len(losses[0]) == 2
    assert runs[3]["config"]["workers"] == 3


def test_a_failing_batch_worker_stops_the_run_with_its_own_error_in_one_line(small_faces, tmp_path):
    trainer = _FailingWorkers(_config(small_faces, workers=2), tmp_path / "run", show_progress=False)
    with pytest.raises(BatchWorkerError) as raised:
        trainer.run()
    assert str(raised.value) == "a batch worker failed: ValueError: no such image"


def test_resuming_with_another_teacher_is_refused(small_faces, tmp_path):
    Trainer(_config(small_faces, epochs=1), tmp_path / "run", show_progress=False).run()
    with pytest.raises(Exception, match="not the one this checkpoint was trained with"):
        Trainer(_config(small_faces, teacher=DLIB_TEACHER), tmp_path / "run", resume=tmp_path / "run" / "last.pt",
                show_progress=False)  # fmt: skip


def test_an_onnx_teacher_stripped_of_its_metadata_is_refused(tmp_path):
    proto = onnx.load(ATT_TEACHER)
    del proto.metadata_props[:]
    onnx.save(proto, tmp_path / "bare.onnx")
    with pytest.raises(Exception, match="has no siamese-edge metadata"):
        load_teacher(tmp_path / "bare.onnx", torch.device("cpu"))


def _pair_scores(model: str, photos: list[Path]) -> np.ndarray:
    """Cosine similarity of every pair of `photos` (upper triangle), faces found and cut as the runtime does."""
    embedder = Embedder(packaged_model(model), providers=("cpu",))
    finder = make_regions(embedder.info, "auto", gate=None)
    vectors = embedder.embed([finder.largest(read_image(photo)).image for photo in photos])
    return (vectors @ vectors.T)[np.triu_indices(len(photos), 1)]


def test_the_bundled_student_scores_demo_faces_as_its_teacher_does():
    """On the demo's LFW people (none in its training), the student distilled by
    benchmarks/faces/distill.sh ranks same-person pairs above others almost always, and its scores
    follow the teacher's (measured: ROC AUC 0.992, correlation 0.86)."""
    lfw = Path(__file__).resolve().parents[1] / "edge_runtime" / "demo_data" / "lfw"
    photos = sorted(lfw.glob("enrolled/*/*.jpg")) + sorted(lfw.glob("strangers/*/*.jpg"))
    people = np.array([photo.parent.name for photo in photos])
    same = (people[:, None] == people[None])[np.triu_indices(len(photos), 1)]
    student, teacher = _pair_scores(SMALL_FACE_MODEL, photos), _pair_scores(DEFAULT_MODEL, photos)
    auc = (student[same][:, None] > student[~same][None]).mean()
    assert auc > 0.98 and np.corrcoef(student, teacher)[0, 1] > 0.75
    info, teacher_info = (Embedder(packaged_model(name), providers=("cpu",)).info
                          for name in (SMALL_FACE_MODEL, DEFAULT_MODEL))  # fmt: skip
    assert (info.arch, info.spec.height, info.kind) == ("edge-spatial", 80, "face")
    assert info.spec.face_template == teacher_info.spec.face_template


def test_a_student_given_initial_weights_never_asks_the_teacher_for_the_un_augmented_set(small_faces, tmp_path):
    """The un-augmented embeddings serve the start at the teacher's mean and un-augmented steps; with
    --init-weights and augmentation neither happens, so the teacher only embeds augmented batches."""
    Trainer(_config(small_faces, epochs=1), tmp_path / "first", show_progress=False).run()
    assert (tmp_path / "first" / CACHE_FILE).is_file()
    trainer = Trainer(_config(small_faces, epochs=1), tmp_path / "second", show_progress=False,
                      init_weights=tmp_path / "first" / "best.pt")  # fmt: skip
    trainer.run()
    assert not (tmp_path / "second" / CACHE_FILE).exists() and "cache" not in vars(trainer.teaching)


def test_mixup_without_a_teacher_alone_is_refused_in_one_line(small_faces, tmp_path):
    for extra in ([], ["--teacher", ATT_TEACHER, "--distill-weight", "0.5"]):
        result = CliRunner().invoke(main, ["--data", str(small_faces), "--out", str(tmp_path / "o"), *FAST,
                                           "--mixup", "0.5", *extra])  # fmt: skip
        assert result.exit_code == 2 and "--mixup blends two people" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def _mirrored_copy(root: Path, out: Path) -> Path:
    """Every image of `root` mirrored, at the same place under `out`: another cut of the same photos."""
    for path in sorted(root.rglob("*.png")):
        target = out / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), cv2.flip(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), 1))
    return out


def test_a_teacher_given_its_own_cut_of_the_photos_sees_those_and_the_student_its_own(small_faces, tmp_path):
    """--teacher-data: the teacher embeds the same files from another folder (say, faces cut onto its
    own template), the student trains on --data's."""
    other = _mirrored_copy(small_faces, tmp_path / "mirrored")
    plain = Trainer(_config(small_faces, epochs=1), tmp_path / "plain", show_progress=False)
    taught = Trainer(_config(small_faces, epochs=1, teacher_data=str(other)), tmp_path / "taught", show_progress=False)
    assert np.array_equal(taught.train_set.images, plain.train_set.images)
    theirs, mirror_of_ours = taught.teaching.images.astype(int), plain.teaching.images[:, :, ::-1].astype(int)
    assert np.abs(theirs - mirror_of_ours).mean() < 1 and np.abs(theirs - plain.teaching.images).mean() > 10
    assert np.allclose(taught.teaching.cache, taught.teacher.embed(taught.teaching.images), atol=1e-5)
    batch = taught.sampler.batch(np.random.default_rng(3))
    _, _, targets = taught._batch_tensors(taught._prepare_batch(batch, np.random.default_rng(7)))
    again = taught.teaching.augment(taught.teaching.images[batch], np.random.default_rng(7))
    assert np.allclose(targets.numpy(), taught.teacher.embed(again), atol=1e-6)


def test_teacher_data_lacking_a_training_image_or_a_teacher_is_refused_in_one_line(small_faces, tmp_path):
    other = _mirrored_copy(small_faces, tmp_path / "mirrored")
    for subject in sorted(other.iterdir()):  # one image of every class, training classes among them
        sorted(subject.glob("*.png"))[0].unlink()
    arguments = ["--data", str(small_faces), "--out", str(tmp_path / "o"), *FAST, "--teacher-data", str(other)]
    for extra, said in ((["--teacher", ATT_TEACHER], "lacks "), ([], "--teacher-data is the teacher's view")):
        result = CliRunner().invoke(main, [*arguments, *extra])
        assert result.exit_code != 0 and said in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_student_turn_tilts_the_students_view_alone(small_faces, tmp_path):
    """--student-turn: after the shared distortion the student's images are turned, the teacher's not."""
    plain = Trainer(_config(small_faces, epochs=1, flip=True), tmp_path / "plain", show_progress=False)
    turning = Trainer(
        _config(small_faces, epochs=1, flip=True, student_turn=20), tmp_path / "turn", show_progress=False
    )
    batch = plain.sampler.batch(np.random.default_rng(3))
    upright, _, targets = plain._batch_tensors(plain._prepare_batch(batch, np.random.default_rng(7)))
    tilted, _, same_targets = turning._batch_tensors(turning._prepare_batch(batch, np.random.default_rng(7)))
    assert torch.equal(targets, same_targets)  # the teacher embedded the same untilted images
    rng = np.random.default_rng(7)
    distorted = turning._augment()(turning.train_set.images[batch], rng)
    assert np.allclose(tilted.numpy(), to_input_tensor(turn_batch(distorted, rng, 20), turning.spec))
    assert np.allclose(upright.numpy(), to_input_tensor(distorted, plain.spec))
    assert (tilted - upright).abs().mean() > 0.1


def test_a_student_turn_without_a_teacher_or_below_zero_is_refused_in_one_line(small_faces, tmp_path):
    arguments = ["--data", str(small_faces), "--out", str(tmp_path / "o"), *FAST]
    for extra, said in ((["--student-turn", "20"], "--student-turn turns the student's view alone"),
                        (["--student-turn", "-5", "--teacher", ATT_TEACHER], "must not be negative")):  # fmt: skip
        result = CliRunner().invoke(main, [*arguments, *extra])
        assert result.exit_code != 0 and said in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
