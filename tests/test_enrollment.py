"""Gallery semantics from the command line: re-enrolling, merging, reserved names, folder names in
other encodings and single files, on real images and real gallery files."""

import os
import shutil

import cv2
import pytest
from click.testing import CliRunner

from edge_runtime.apps.cli import gallery_command
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.gallery import Gallery

DEMO_MODEL = packaged_model(ATT_FACES_MODEL)  # the small AT&T face model

MODEL = ["-m", str(DEMO_MODEL)]


@pytest.fixture
def people(tmp_path, faces_root):
    """people/<name>/<image>: three subjects with two images each."""
    for subject in ("s1", "s2", "s3"):
        (tmp_path / "people" / subject).mkdir(parents=True)
        for index in (1, 2):
            shutil.copy(faces_root / subject / f"{index}.png", tmp_path / "people" / subject / f"{index}.png")
    return tmp_path / "people"


def _gallery(*arguments):
    return CliRunner().invoke(gallery_command, [str(a) for a in arguments])


def test_enrolling_the_same_folder_or_file_again_adds_nothing(tmp_path, people):
    g = tmp_path / "g.npz"
    assert _gallery("enroll", *MODEL, "-g", g, people).exit_code == 0
    assert _gallery("enroll", *MODEL, "-g", g, people).exit_code == 0
    copy = tmp_path / "elsewhere.png"  # the same photo under another path is the same photo
    shutil.copy(people / "s1" / "1.png", copy)
    assert _gallery("enroll", *MODEL, "-g", g, "--name", "s1", people / "s1" / "1.png", copy).exit_code == 0
    assert Gallery.load(g).counts() == {"s1": 2, "s2": 2, "s3": 2}


def test_a_photo_enrolled_as_one_person_is_not_added_to_another(tmp_path, people, caplog):
    g = tmp_path / "g.npz"
    _gallery("enroll", *MODEL, "-g", g, people)
    result = _gallery("enroll", *MODEL, "-g", g, "--name", "zoe", people / "s1" / "1.png", people / "s2" / "1.png")
    assert result.exit_code == 2 and result.output.strip().endswith("error: no usable image for zoe")
    assert "already enrolled as 's1'" in caplog.text and "already enrolled as 's2'" in caplog.text
    assert Gallery.load(g).counts() == {"s1": 2, "s2": 2, "s3": 2}


def test_rename_onto_an_existing_name_needs_merge(tmp_path, people):
    g = tmp_path / "g.npz"
    _gallery("enroll", *MODEL, "-g", g, people)
    result = _gallery("rename", "-g", g, "s1", "s2")
    assert result.exit_code == 2
    assert result.output.strip().endswith("error: 's2' is already enrolled; merging 's1' into it needs --merge")
    assert Gallery.load(g).counts() == {"s1": 2, "s2": 2, "s3": 2}
    assert _gallery("rename", "-g", g, "s1", "s2", "--merge").exit_code == 0
    assert Gallery.load(g).counts() == {"s2": 4, "s3": 2}


@pytest.mark.parametrize(("name", "message"), [
    ("unknown", "is reserved"), ("un\u200bknown", "is reserved"), (" ann", "starts or ends with a space"),
    ("  ", "not empty or only spaces"), ("ann\u2028bob", "control character"), ("ann\u202ebob", "reorders the text"),
])  # fmt: skip
def test_reserved_blank_and_misleading_names_are_refused_in_one_line(tmp_path, people, name, message):
    result = _gallery("enroll", *MODEL, "-g", tmp_path / "g.npz", "--name", name, people / "s1" / "1.png")
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "g.npz").exists()


def test_a_single_file_without_a_name_says_it_needs_one(tmp_path, people):
    result = _gallery("enroll", *MODEL, "-g", tmp_path / "g.npz", people / "s1" / "1.png")
    assert result.exit_code == 2
    assert f"{people / 's1' / '1.png'} is a file: give --name NAME to enroll it as NAME" in result.output
    assert "does not exist" not in result.output


def test_a_folder_named_in_another_encoding_is_skipped_and_the_others_enrolled(tmp_path, people, caplog):
    os.rename(people / "s3", os.fsencode(people) + b"/Jos\xe9")  # Latin-1 bytes, not UTF-8
    os.rename(people / "s2", people / "Дмитрий")
    g = tmp_path / "g.npz"
    result = _gallery("enroll", *MODEL, "-g", g, people)
    assert result.exit_code == 0, result.output
    assert "Jos\\xe9" in caplog.text and "not valid UTF-8" in caplog.text
    assert Gallery.load(g).names == ["s1", "Дмитрий"]


@pytest.fixture
def lfw_people(faces_root):
    """The bundled LFW demo's people: folders of real JPEG photos."""
    return sorted(
        p for p in (faces_root.parents[2] / "edge_runtime" / "demo_data" / "lfw" / "enrolled").iterdir() if p.is_dir()
    )


def test_jfif_jpe_and_photos_without_a_suffix_are_enrolled(tmp_path, people, faces_root, lfw_people):
    """Phones and browsers save JPEGs as .jfif or .jpe, downloads lose their suffix: each is a photo."""
    ann, bob, cid, dan = lfw_people[:4]
    copies = {"ann/1.jfif": ann, "bob/1.jpe": bob, "cid/photo": cid, "dan/photo.jpg_large": dan}
    for target, person in copies.items():
        (people / target).parent.mkdir()
        shutil.copy(sorted(person.iterdir())[0], people / target)
    (people / "eve").mkdir()
    shutil.copy(faces_root / "s9" / "1.png", people / "eve" / "scan")  # a PNG without its suffix
    g = tmp_path / "g.npz"
    result = _gallery("enroll", *MODEL, "-g", g, people)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"8 identities in {g}")
    assert Gallery.load(g).counts() == {"s1": 2, "s2": 2, "s3": 2, "ann": 1, "bob": 1, "cid": 1, "dan": 1, "eve": 1}


def test_a_person_folder_without_images_is_named_with_what_it_holds(tmp_path, people, caplog):
    """Only a subfolder, a video, a text file, nothing: each person is named in one warning, not left out unsaid."""
    (people / "ann" / "2019").mkdir(parents=True)
    shutil.copy(people / "s1" / "1.png", people / "ann" / "2019" / "1.png")
    (people / "bob").mkdir()
    video = cv2.VideoWriter(str(people / "bob" / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5, (92, 112))
    for _ in range(5):
        video.write(cv2.imread(str(people / "s1" / "1.png")))
    video.release()
    (people / "cid").mkdir()
    (people / "cid" / "notes.txt").write_text("BMW of cid, photos to follow\n")  # "BM" begins BMP files too
    (people / "dan").mkdir()
    (people / ".git").mkdir()  # hidden: nobody's folder, passed over without a word
    (people / "readme.txt").write_text("one folder a person\n")
    g = tmp_path / "g.npz"
    result = _gallery("enroll", *MODEL, "-g", g, people)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"3 identities in {g}")
    assert Gallery.load(g).counts() == {"s1": 2, "s2": 2, "s3": 2}
    not_enrolled = [m for m in caplog.messages if m.endswith("not enrolled")]
    assert not_enrolled == [
        "ann: no image files (holds 1 folder; move the photos in its subfolders into ann/ itself), not enrolled",
        "bob: no image files (holds 1 video), not enrolled",
        "cid: no image files (holds 1 other file), not enrolled",
        "dan: no image files (an empty folder), not enrolled",
        "readme.txt: not an image file, not enrolled",
    ]
