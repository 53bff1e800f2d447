"""Issue 27, rows 13 and 14: a wrong kind of file or value is named in one plain line, not in torch's,
numpy's or OpenCV's words; the libraries' own warnings stay quiet unless SIAMESE_EDGE_VERBOSE=1 asks
for them; counts read "1 photo", "1 identity". Real files, and real processes where stderr is the
native libraries' own."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.core.words import counted

MODEL = packaged_model(ATT_FACES_MODEL)  # a whole-image model: no face detection, quick
SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them


def _run(*arguments, verbose: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCV_", "SIAMESE_EDGE"))}
    if verbose:
        environment["SIAMESE_EDGE_VERBOSE"] = "1"
    command = [str(SCRIPTS / arguments[0]), *map(str, arguments[1:])]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment, cwd=cwd)


@pytest.fixture(scope="module")
def one_person(tmp_path_factory, faces_root) -> Path:
    """A gallery of one identity, enrolled with the small AT&T model by the real command."""
    folder = tmp_path_factory.mktemp("gallery")
    done = _run(
        "edge-gallery", "enroll", "-m", MODEL, "-g", folder / "g.npz", "--name", "ann", faces_root / "s1" / "1.png"
    )
    assert done.returncode == 0, done.stderr
    return folder / "g.npz"


def test_an_onnx_model_given_as_a_checkpoint_is_named_as_one(tmp_path):
    from bench.cli import main as bench
    from export.cli import main as export

    model = tmp_path / "model.onnx"
    shutil.copy(MODEL, model)
    for command, arguments in ((export, [str(model)]), (bench, [str(MODEL), "--checkpoint", str(model)])):
        result = CliRunner().invoke(command, arguments)
        assert result.exit_code == 2, result.output
        assert (
            result.output.strip()
            .splitlines()[-1]
            .endswith(
                f"checkpoint {model} is an ONNX model (what export-onnx writes), not a checkpoint; "
                "give the best.pt that siamese-train wrote"
            )
        )
        assert "weights_only" not in result.output and "file an issue" not in result.output


def test_classes_of_one_image_are_told_they_need_two_not_more_classes(tmp_path, faces_root):
    from train.cli import main as train

    data = tmp_path / "faces"
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir())[:12]:
        (data / subject.name).mkdir(parents=True)
        shutil.copy(subject / "1.png", data / subject.name / "1.png")
    arguments = ["--data", data, "--out", tmp_path / "run", "--split", "6,3,3", "--input-size", "32", "--quiet"]
    result = CliRunner().invoke(train, [str(a) for a in arguments])
    assert result.exit_code == 2, result.output
    assert "classes need 2 images at least for 1-shot episodes" in result.output
    assert "more validation classes" not in result.output


def test_zero_epochs_is_refused_before_any_work(tmp_path, faces_root):
    from train.cli import main as train

    result = CliRunner().invoke(train, ["--data", str(faces_root), "--out", str(tmp_path / "run"), "--epochs", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--epochs': 0 is not in the range x>=1" in result.output
    assert "best.pt" not in result.output and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["noext", "out."])
def test_an_output_without_a_video_suffix_is_refused_in_one_line(tmp_path, faces_root, one_person, name):
    done = _run("edge-recognize", "-m", MODEL, "-g", one_person, "--headless", "-i", faces_root / "s1" / "2.png",
                "-o", tmp_path / name)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"edge-recognize: error: cannot write video {tmp_path / name}: the output needs a video suffix (.mp4, .avi)"
    )
    assert "cannot encode" not in done.stderr and "Assertion" not in done.stderr
    assert not (tmp_path / name).exists()


def test_a_photo_given_as_the_gallery_is_not_a_gallery_file(tmp_path, faces_root):
    photo = tmp_path / "photo.jpg"
    shutil.copy(faces_root / "s1" / "1.png", photo)
    done = _run("edge-recognize", "-m", MODEL, "-g", photo, "--headless", "-i", faces_root / "s1" / "2.png")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"edge-recognize: error: {photo} is not a gallery file (edge-gallery enroll writes one, an .npz)"
    )
    assert "allow_pickle" not in done.stderr


def test_a_damaged_gallery_is_still_called_corrupt(tmp_path, one_person):
    cut = tmp_path / "cut.npz"
    cut.write_bytes(one_person.read_bytes()[:200])
    done = _run("edge-gallery", "list", "-g", cut)
    assert done.returncode == 2 and f"gallery {cut} is corrupt or not a gallery" in done.stderr


@pytest.mark.parametrize("source", ["corrupt video", "unreachable stream"])
def test_the_libraries_own_warnings_show_only_when_asked_for(tmp_path, one_person, source):
    if source == "corrupt video":
        video = tmp_path / "broken.mp4"
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        given, native = str(video), "moov atom not found"
    else:
        given, native = "rtsp://127.0.0.1:9/x", "[tcp @"  # port 9 (discard): nothing listens
    quiet = _run("edge-recognize", "-m", MODEL, "-g", one_person, "--headless", "-i", given)
    loud = _run("edge-recognize", "-m", MODEL, "-g", one_person, "--headless", "-i", given, verbose=True)
    asked = _run("edge-recognize", "--verbose", "-m", MODEL, "-g", one_person, "--headless", "-i", given)
    assert quiet.returncode == loud.returncode == asked.returncode == 2
    assert native in asked.stderr  # --verbose asks as SIAMESE_EDGE_VERBOSE=1 does
    for done in (quiet, loud, asked):
        assert done.stderr.strip().splitlines()[-1].startswith("edge-recognize: error: cannot open ")
    assert "[ WARN" not in quiet.stderr and "[tcp @" not in quiet.stderr and native not in quiet.stderr
    assert native in loud.stderr
    assert len(quiet.stderr.strip().splitlines()) == 2, quiet.stderr  # the model line, the error


def test_counts_are_singular_for_one(tmp_path, faces_root, one_person):
    first = _run("edge-gallery", "enroll", "-m", MODEL, "-g", tmp_path / "g.npz", "--name", "ann", faces_root / "s1")
    assert first.stdout.strip() == f"1 identity in {tmp_path / 'g.npz'}", first.stdout  # not "1 identities"
    done = _run("edge-gallery", "list", "-g", one_person)
    assert done.stdout.startswith("1 identity, model "), done.stdout
    shown = _run("edge-recognize", "-m", MODEL, "-g", one_person, "--headless", "-i", faces_root / "s1" / "2.png")
    assert shown.returncode == 0, shown.stderr
    assert "1 photo from" in shown.stderr and "1 photos" not in shown.stderr
    assert "1 identity; threshold" in shown.stderr and "1 identities" not in shown.stderr
    again = _run("edge-gallery", "enroll", "-m", MODEL, "-g", one_person, "--name", "ann", faces_root / "s1" / "1.png")
    assert "1 image was already enrolled as ann" in again.stderr, again.stderr
    assert [counted(n, "photo") for n in (0, 1, 2)] == ["0 photos", "1 photo", "2 photos"]
    assert counted(1, "identity", "identities") == "1 identity" and counted(3, "identity", "identities").endswith("s")
