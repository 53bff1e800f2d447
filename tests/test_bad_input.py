"""What a camera, a folder or a user hands the runtime: tiny and flat images, photos that are not a
video, unwritable outputs, photos of mixed sizes, names in any script, SIGTERM and interrupted saves.
Real files and real processes throughout."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from processes import long_video, stop_with_sigterm

from edge_runtime.apps.cli import gallery_command, recognize, verify
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.enrollment import enroll_images, new_gallery
from edge_runtime.identity.gallery import Gallery
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.tracker import TrackedRecognition
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.outputs import annotate

REPO = Path(__file__).resolve().parent.parent
DEMO_MODEL = packaged_model(ATT_FACES_MODEL)  # the small AT&T face model
LFW_FACE = REPO / "edge_runtime" / "demo_data" / "lfw" / "enrolled" / "Angela_Bassett" / "Angela_Bassett_0002.jpg"
MODEL = ["-m", str(DEMO_MODEL)]
SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
DEGENERATE = {"1x1": (1, 1), "2000x1": (1, 2000), "1x2000": (2000, 1)}


def _degenerate(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    height, width = DEGENERATE[name]
    path = folder / f"{name}.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8))
    return path


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _cli(command, *arguments):
    return CliRunner().invoke(command, [str(a) for a in arguments])


@pytest.mark.parametrize("shape", list(DEGENERATE))
@pytest.mark.parametrize("model", [[], MODEL], ids=["face model", "whole-image model"])
def test_verify_refuses_a_tiny_or_strip_image_in_one_line(tmp_path, shape, model):
    result = _cli(verify, *model, LFW_FACE, _degenerate(tmp_path, shape))
    assert result.exit_code == 2, result.output
    assert "too small to recognise anything (8x8 at least)" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_verify_refuses_a_flat_image_instead_of_scoring_it(tmp_path, faces_root):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((112, 92), 128, np.uint8))
    result = _cli(verify, *MODEL, faces_root / "s1" / "1.png", tmp_path / "grey.png")
    assert result.exit_code == 2 and "one flat colour: nothing to recognise" in result.output


@pytest.mark.parametrize("model", [[], MODEL], ids=["face model", "whole-image model"])
def test_a_tiny_image_in_an_enrollment_folder_is_skipped_and_the_rest_enrolled(tmp_path, faces_root, model, caplog):
    people = tmp_path / "people"
    shutil.copytree(LFW_FACE.parent, people / "amber")
    shutil.copytree(faces_root / "s1", people / "s1")
    for folder in ("amber", "s1"):
        _degenerate(people / folder, "1x1")
        _degenerate(people / folder, "2000x1")
    result = _cli(gallery_command, "enroll", *model, "-g", tmp_path / "g.npz", people)
    assert result.exit_code == 0, result.output
    assert "1x1 pixels, too small" in caplog.text and "2000x1 pixels" in caplog.text
    assert Gallery.load(tmp_path / "g.npz").names  # whatever the model could use is enrolled


@pytest.mark.parametrize("model", [[], MODEL], ids=["face model", "whole-image model"])
def test_a_tiny_image_in_a_recognition_folder_is_skipped_with_its_reason(tmp_path, faces_root, model):
    photos = tmp_path / "photos"
    _degenerate(photos, "1x1")
    _degenerate(photos, "2000x1")
    shutil.copy(faces_root / "s1" / "1.png", photos / "s1.png")
    shutil.copy(LFW_FACE, photos / "z_amber.jpg")
    result = _cli(recognize, *model, "--enroll", LFW_FACE.parents[1], "-i", photos,
                  "--headless", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = _json_lines(result.stdout)
    assert {Path(line["file"]).name for line in lines} == {"1x1.png", "2000x1.png", "s1.png", "z_amber.jpg"}
    by_file = {Path(line["file"]).name: line for line in lines}
    assert by_file["1x1.png"]["skipped"] == "unusable image" and by_file["1x1.png"]["name"] is None


def test_photos_are_recognised_each_on_its_own_not_voted_like_a_video(tmp_path, faces_root):
    """Three photos of one enrolled person, then a stranger: as a video the stranger would inherit
    the name by vote; as photos each is named by itself, and each JSON line names its file."""
    embedder = Embedder(DEMO_MODEL, providers=("cpu",))
    gallery = new_gallery(embedder)
    enroll_images(gallery, embedder, "s14", [faces_root / "s14" / "1.png"])
    gallery.save(tmp_path / "g.npz")
    photos = tmp_path / "photos"
    photos.mkdir()
    chosen = [faces_root / "s14" / f"{i}.png" for i in (2, 3, 4)] + [faces_root / "s23" / "2.png"]
    for index, path in enumerate(chosen):
        shutil.copy(path, photos / f"{index}.png")
    alone = [Recognizer(embedder, gallery).recognize(read_image(p))[0].name for p in chosen]
    assert alone[-1] == "unknown"  # the stranger, on its own
    result = _cli(recognize, *MODEL, "-g", tmp_path / "g.npz", "-i", photos, "--headless", "--json")
    lines = _json_lines(result.stdout)
    assert [line["name"] for line in lines] == alone
    assert [Path(line["file"]).name for line in lines] == ["0.png", "1.png", "2.png", "3.png"]
    assert all(line["track"] is None for line in lines)
    listed = _cli(recognize, *MODEL, "-g", tmp_path / "g.npz", "-i", photos / "3.png", "-i", photos / "0.png",
                  "--headless", "--json")  # fmt: skip
    assert [(Path(line["file"]).name, line["name"]) for line in _json_lines(listed.stdout)] == [
        ("3.png", alone[3]), ("0.png", alone[0])]  # fmt: skip


def test_photos_of_different_sizes_all_reach_the_annotated_video(tmp_path, faces_root):
    photos = tmp_path / "photos"
    photos.mkdir()
    face = read_image(faces_root / "s1" / "1.png")
    for name, size in (("a.png", (92, 112)), ("b.png", (300, 200)), ("c.png", (64, 200))):
        cv2.imwrite(str(photos / name), cv2.resize(face, size))
    result = _cli(recognize, *MODEL, "--enroll", faces_root, "-i", photos, "--headless", "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    assert (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (92, 112)


@pytest.mark.parametrize("output", ["/proc/x.mp4", "/nonexistent-root-dir/sub/x.mp4"])
def test_an_unwritable_output_is_one_clean_error(tmp_path, faces_root, output):
    if os.access("/", os.W_OK) and "nonexistent" in output:
        output = "/proc/self/nope/x.mp4"  # running as root: / is writable, /proc never is
    done = subprocess.run(
        [str(SCRIPTS / "edge-recognize"), *MODEL, "--enroll", str(faces_root),
         "-i", str(faces_root / "s1"), "--headless", "--output", output],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"edge-recognize: error: cannot write video {output}")
    assert "Traceback" not in done.stderr


def _label_pixels(name: str) -> np.ndarray:
    frame = np.zeros((120, 320, 3), np.uint8)
    result = TrackedRecognition(1, (10, 40, 200, 60), name, 0.9, True)
    return annotate(frame, [result])[:40]


@pytest.mark.parametrize(("name", "other"), [("José", "Josà"), ("Дмитрий", "Дмитрик"), ("Ελένη", "Ελένα")])
def test_names_in_any_script_are_drawn_as_themselves_not_as_question_marks(name, other):
    as_opencv_drew_it = "".join(c if c.isascii() else "?" * len(c.encode()) for c in name)  # "Jos??"
    assert not np.array_equal(_label_pixels(name), _label_pixels(as_opencv_drew_it))
    assert not np.array_equal(_label_pixels(name), _label_pixels(other))  # the letters themselves are drawn


def test_a_name_with_undecodable_bytes_is_drawn_without_crashing(tmp_path):
    """Names from an old gallery may hold undecodable bytes; OpenCV's text drawing crashed on them.
    In a process of its own (a crash would take pytest with it): the byte is drawn as \\xe9, silently."""
    code = (
        "import sys, numpy as np; from edge_runtime.io.outputs import annotate;"
        "from edge_runtime.identity.tracker import TrackedRecognition;"
        "result = TrackedRecognition(1, (10, 40, 200, 60), 'Jos\\udce9', 0.9, True);"
        "np.save(sys.argv[1], annotate(np.zeros((120, 320, 3), np.uint8), [result]))"
    )
    drawn = tmp_path / "drawn.npy"
    done = subprocess.run([sys.executable, "-c", code, drawn], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # no traceback, no warning
    assert np.array_equal(np.load(drawn)[:40], _label_pixels("Jos\\xe9"))  # the label, the byte as \\xe9
    assert not np.array_equal(_label_pixels("Jos\\xe9"), _label_pixels("Jos"))  # which is drawn, not dropped


def test_a_gallery_folder_named_in_another_encoding_and_an_annotated_video(tmp_path, faces_root):
    people = tmp_path / "people"
    shutil.copytree(faces_root / "s1", people / "José")
    shutil.copytree(faces_root / "s2", people / "latin1")
    os.rename(people / "latin1", os.fsencode(people) + b"/Jos\xe9")
    done = subprocess.run(
        [str(SCRIPTS / "edge-recognize"), *MODEL, "--enroll", str(people),
         "-i", str(faces_root / "s2"), "--headless", "--output", str(tmp_path / "out.mp4")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Jos\\xe9" in done.stderr and "not valid UTF-8" in done.stderr
    assert int(cv2.VideoCapture(str(tmp_path / "out.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 10


def test_sigterm_finalises_the_video_like_ctrl_c(tmp_path, faces_root):
    long_video(tmp_path / "in.mp4", faces_root)
    returncode, errors = stop_with_sigterm(
        [str(SCRIPTS / "edge-recognize"), *MODEL, "--enroll", str(faces_root),
         "-i", str(tmp_path / "in.mp4"), "--headless", "--json", "--output", str(tmp_path / "out.mp4")], 20, 60,
    )  # fmt: skip
    assert returncode in (0, 143), errors
    capture = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert capture.isOpened() and 0 < int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) < 3000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no .partial.mp4 left


def _save_and_die(gallery: Path, how: str) -> subprocess.CompletedProcess:
    """A real process that is stopped halfway through writing `gallery` (kill -9 or SIGTERM)."""
    code = f"""
import os, signal, click
from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.command_line import one_line_errors


@click.command()
@one_line_errors()
def save():
    with atomic_path({str(gallery)!r}) as temporary:
        temporary.write_bytes(b"half a gallery")
        os.kill(os.getpid(), signal.{how})
        signal.pause()

save()
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_save_stopped_by_sigterm_leaves_no_temporary_file(tmp_path):
    gallery = Gallery("m", 8)
    gallery.add("ann", np.eye(8, dtype=np.float32)[:1])
    gallery.save(tmp_path / "g.npz")
    done = _save_and_die(tmp_path / "g.npz", "SIGTERM")
    assert done.returncode == 143 and done.stderr.strip().endswith(": interrupted (SIGTERM)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]
    assert Gallery.load(tmp_path / "g.npz").names == ["ann"]


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    gallery = Gallery("m", 8)
    gallery.add("ann", np.eye(8, dtype=np.float32)[:1])
    gallery.save(tmp_path / "g.npz")
    assert _save_and_die(tmp_path / "g.npz", "SIGKILL").returncode == -signal.SIGKILL
    assert len(list(tmp_path.glob(".g.npz.*.tmp"))) == 1  # what kill -9 leaves
    gallery.add("bob", np.eye(8, dtype=np.float32)[1:2])
    gallery.save(tmp_path / "g.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.npz"]
    assert Gallery.load(tmp_path / "g.npz").names == ["ann", "bob"]


def test_a_phone_photo_stored_sideways_is_read_as_it_was_taken(tmp_path):
    """A phone writes its pixels sideways and an EXIF orientation (6: turn 90° clockwise to show);
    the photo is read upright, as viewers show it, and its face recognised."""
    upright = read_image(LFW_FACE)
    stored = Image.open(LFW_FACE).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    phone = tmp_path / "phone.jpg"
    stored.save(phone, exif=exif, quality=95)
    read = read_image(phone)
    assert read.shape == upright.shape
    assert np.abs(read.astype(int) - upright.astype(int)).mean() < 3  # JPEG saved twice
    result = _cli(recognize, "--enroll", LFW_FACE.parent.parent, "-i", phone, "--headless", "--json")
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in _json_lines(result.output)] == ["Angela_Bassett"]


def test_a_panorama_wider_than_opencv_can_warp_is_scaled_to_fit_and_recognised(tmp_path):
    """OpenCV's remap and warpAffine refuse images of 32,767 pixels a side; a panorama 33,000 pixels
    wide is scaled to fit instead of stopping the run."""
    face = read_image(LFW_FACE)
    panorama = np.full((face.shape[0] + 100, 33_000, 3), 127, np.uint8)
    panorama[50 : 50 + face.shape[0], 1000 : 1000 + face.shape[1]] = face
    path = tmp_path / "panorama.png"
    cv2.imwrite(str(path), panorama)
    assert max(read_image(path).shape) < 32_767
    result = _cli(recognize, "--enroll", LFW_FACE.parent.parent, "-i", path, "--headless", "--json")
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in _json_lines(result.output)] == ["Angela_Bassett"]


def test_an_iphone_heic_photo_is_skipped_with_what_to_do_and_an_avif_one_enrolled(tmp_path, caplog):
    """OpenCV decodes AVIF but not HEIC: a HEIC photo in a person's folder is skipped with its reason
    (not passed over unseen), an AVIF photo of the other person is enrolled."""
    people = tmp_path / "people"
    (people / "ann").mkdir(parents=True)
    (people / "ann" / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64))
    (people / "amber").mkdir()
    avif = cv2.haveImageWriter(".avif")  # opencv-python 4.10+ on Linux; not older or Windows wheels
    if avif:
        assert cv2.imwrite(str(people / "amber" / "photo.avif"), read_image(LFW_FACE))
    else:
        shutil.copy(LFW_FACE, people / "amber" / "photo.jpg")
    result = _cli(gallery_command, "enroll", "-g", tmp_path / "g.npz", people)
    assert result.exit_code == 0, result.output
    assert "IMG_0001.HEIC: OpenCV reads no HEIC" in caplog.text and "export it as JPEG" in caplog.text
    assert Gallery.load(tmp_path / "g.npz").names == ["amber"]
    verdict = _cli(verify, people / "ann" / "IMG_0001.HEIC", LFW_FACE)
    assert verdict.exit_code == 2 and len(verdict.output.strip().splitlines()) == 1, verdict.output


def test_enrolling_from_a_photo_of_two_people_warns_that_the_largest_was_a_guess(tmp_path, caplog):
    """Two faces of the same size: the largest is enrolled, and a warning says it was a guess; a
    photo of one person enrolls without one."""
    other = REPO / "edge_runtime" / "demo_data" / "lfw" / "enrolled" / "Ann_Veneman" / "Ann_Veneman_0001.jpg"
    two = tmp_path / "two.jpg"
    cv2.imwrite(str(two), np.hstack([read_image(LFW_FACE), read_image(other)]))
    result = _cli(gallery_command, "enroll", "-g", tmp_path / "g.npz", "--name", "amber", two)
    assert result.exit_code == 0, result.output
    assert "two.jpg: another face at least half the size of the largest; took the largest" in caplog.text
    caplog.clear()
    result = _cli(gallery_command, "enroll", "-g", tmp_path / "g.npz", "--name", "amber", LFW_FACE)
    assert result.exit_code == 0 and "at least half the size" not in caplog.text, result.output
    # the largest face blurred: refused for that, with no word of the other
    blurred = cv2.GaussianBlur(cv2.resize(read_image(LFW_FACE), (290, 290)), (0, 0), 6)
    cv2.imwrite(str(two), np.hstack([blurred, cv2.resize(read_image(other), (290, 290))[:, :250]]))
    caplog.clear()
    result = _cli(gallery_command, "enroll", "-g", tmp_path / "g.npz", "--name", "ann", two)
    assert result.exit_code == 2 and "blurred" in result.output + caplog.text, result.output + caplog.text
    assert "at least half the size" not in caplog.text


def test_an_undecodable_photo_in_a_recognition_folder_gets_its_json_line(tmp_path, faces_root):
    """A photo OpenCV cannot decode was skipped with a warning only, so a `--json` reader never
    heard of it (a 1×1 photo did get a line); now it gets one too, in name order."""
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a_broken.jpg").write_bytes(b"not a jpeg at all")
    shutil.copy(faces_root / "s1" / "1.png", photos / "b_s1.png")
    (photos / "c_truncated.png").write_bytes((faces_root / "s1" / "2.png").read_bytes()[:40])
    result = _cli(recognize, *MODEL, "--enroll", faces_root, "-i", photos, "--headless", "--json")
    assert result.exit_code == 0, result.output
    lines = _json_lines(result.stdout)
    assert [Path(line["file"]).name for line in lines] == ["a_broken.jpg", "b_s1.png", "c_truncated.png"]
    for line in (lines[0], lines[2]):
        assert line["status"] == "skipped" and line["skipped"] == "unreadable image", line
        assert line["box"] is None and line["name"] is None and line["score"] is None and line["track"] is None
    assert lines[1]["name"] == "s1"
