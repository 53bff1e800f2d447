"""Thresholds chosen by what they mean: the model's FAR table, --far, --false-name-rate and
edge-gallery calibrate, with the bundled default model on the bundled LFW photos."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.identity.gallery import Gallery
from edge_runtime.identity.thresholds import (
    MIN_FALSE_ACCEPTS,
    ThresholdError,
    choose_threshold,
    far_table,
    pairwise_far,
    table_of,
)
from edge_runtime.inference.embedder import Embedder

REPO = Path(__file__).resolve().parent.parent
LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
SHOWN = re.compile(r"threshold (\d\.\d{4}) \((.*)\)")


def _command(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run the installed command behind cli.py's function `name`, as a user runs it."""
    program = {"recognize": "edge-recognize", "gallery_command": "edge-gallery"}[name]
    return subprocess.run([str(SCRIPTS / program), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def table() -> list:
    """The default model's FAR table, read from its metadata."""
    return table_of(Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",)).info.far_table)


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> Path:
    """The first photo of each bundled enrolled person, a folder each."""
    folder = tmp_path_factory.mktemp("enroll")
    for person in sorted((LFW / "enrolled").iterdir()):
        (folder / person.name).mkdir()
        first = sorted(person.iterdir())[0]
        shutil.copy(first, folder / person.name / first.name)
    return folder


def test_a_far_table_gives_each_rate_s_threshold_and_says_where_pairs_are_too_few():
    rng = np.random.default_rng(0)
    impostors, genuine = rng.normal(0.2, 0.1, 20_000), rng.normal(0.8, 0.1, 500)
    scores = np.concatenate([impostors, genuine])
    same = np.r_[np.zeros(len(impostors), bool), np.ones(len(genuine), bool)]
    rows = {row.far: row for row in far_table(scores, same)}
    for far in (1e-1, 1e-2, 1e-3):  # at least MIN_FALSE_ACCEPTS impostor pairs above: measured
        assert np.mean(impostors >= rows[far].threshold) <= far
        next_lower = impostors[impostors < rows[far].threshold].max()  # the loosest such threshold
        assert np.mean(impostors >= next_lower) > far
        assert rows[far].tar == pytest.approx(np.mean(genuine >= rows[far].threshold))
    assert MIN_FALSE_ACCEPTS > 20_000 * 1e-4
    assert rows[1e-4].threshold is None and rows[1e-5].threshold is None  # 2 and 0.2 pairs: not extrapolated
    assert all(row.impostor_pairs == 20_000 and row.genuine_pairs == 500 for row in rows.values())


def test_the_default_model_carries_a_measured_far_table_that_tightens_with_the_rate(table):
    measured = [row for row in table if row.threshold is not None]
    assert [row.far for row in table][0] == 1e-1 and table[-1].far == 1e-5
    assert len(measured) == len(table)  # a million impostor pairs: every rate down to 1e-5 is measured
    assert all(a.threshold < b.threshold for a, b in zip(measured, measured[1:], strict=False))
    assert all(a.tar >= b.tar for a, b in zip(measured, measured[1:], strict=False))
    assert all(row.impostor_pairs > 1_000_000 for row in table)


def test_far_and_false_name_rate_choose_the_table_s_thresholds(table):
    rows = [row.to_dict() for row in table]
    by_far = {row.far: row.threshold for row in table}
    assert choose_threshold(0.9, rows, far=1e-3).threshold == by_far[1e-3]
    # 1e-2 with 100 people: about 1.0e-4 per pair, so the 1e-4 row; with 10 people the 1e-3 row
    assert pairwise_far(1e-2, 100) == pytest.approx(1.005e-4, rel=1e-3)
    assert choose_threshold(0.9, rows, false_name_rate=1e-2, people=100).threshold == by_far[1e-4]
    assert choose_threshold(0.9, rows, false_name_rate=1e-2, people=10).threshold == by_far[1e-3]
    assert choose_threshold(0.9, rows, false_name_rate=1e-3, people=100).threshold == by_far[1e-5]
    assert choose_threshold(0.9, rows, threshold=0.5).threshold == 0.5
    assert choose_threshold(0.9, rows, stored=(0.93, "calibrated")).threshold == 0.93
    assert choose_threshold(0.9, rows).threshold == 0.9
    with pytest.raises(ThresholdError, match="needs a pairwise FAR of 1e-07"):
        choose_threshold(0.9, rows, false_name_rate=1e-3, people=10_000)
    with pytest.raises(ThresholdError, match=r"--far 0\.003 is not in the model's table; choose one of 0\.1, 0\.05"):
        choose_threshold(0.9, rows, far=3e-3)
    with pytest.raises(ThresholdError, match="give one of --threshold and --far, not both"):
        choose_threshold(0.9, rows, threshold=0.5, far=1e-3)
    with pytest.raises(ThresholdError, match="needs a FAR table"):
        choose_threshold(0.9, [], far=1e-3)


def test_edge_recognize_uses_the_threshold_the_table_gives_for_the_gallery_s_size(table, enrolled):
    by_far = {row.far: row.threshold for row in table}
    photos = str(LFW / "strangers" / "Gordon_Brown")
    for option, expected in ((["--far", "1e-4"], by_far[1e-4]), (["--false-name-rate", "1e-2"], by_far[1e-3])):
        done = _command("recognize", "--enroll", str(enrolled), "-i", photos, "--headless", *option)
        assert done.returncode == 0, done.stderr
        shown = SHOWN.search(done.stderr)
        assert float(shown.group(1)) == pytest.approx(expected, abs=5e-5)
    assert "with 8 people enrolled: pairwise FAR at most 0.0013" in shown.group(2)
    refused = _command("recognize", "--enroll", str(enrolled), "-i", photos, "--headless", "--far", "3e-3")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "edge-recognize: error: --far 0.003 is not in the model's table; choose one of 0.1, 0.05, 0.02, 0.01"
        )
    )


def test_calibrate_measures_on_the_user_s_photos_and_stores_the_choice(tmp_path, enrolled):
    gallery = tmp_path / "gallery.npz"
    assert _command("gallery_command", "enroll", "-g", str(gallery), str(enrolled)).returncode == 0
    people = tmp_path / "people"
    for person in sorted((LFW / "enrolled").iterdir()):
        shutil.copytree(person, people / person.name)  # the enrolled photo too: it must be left out
    done = _command("gallery_command", "calibrate", "-g", str(gallery), "--people", str(people),
                    "--strangers", str(LFW / "strangers"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "enrolled in the gallery itself; left out" in done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| 0.")]
    sources = [row[1] for row in rows]
    assert "pairwise FAR 0.001 (model's table)" in sources and "the model's own" in sources
    loosest = next(row for row in rows if row[1] == "names none of these strangers")
    assert loosest[4].startswith("0.0% (0/")
    thresholds = [float(row[0].strip("| ")) for row in rows]
    assert thresholds == sorted(thresholds)
    named = [int(re.search(r"\((\d+)/", row[2]).group(1)) for row in rows]
    assert named == sorted(named, reverse=True)  # a stricter threshold never names more
    assert "nothing stored" in done.stdout
    chosen = loosest[0].strip("| ")
    stored = _command("gallery_command", "calibrate", "-g", str(gallery), "--people", str(people),
                      "--strangers", str(LFW / "strangers"), "--store", chosen)  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert Gallery.load(gallery).stored_threshold[0] == pytest.approx(float(chosen))
    assert "names none of these strangers" in Gallery.load(gallery).stored_threshold[1]
    used = _command("recognize", "-g", str(gallery), "-i", str(LFW / "strangers" / "Gordon_Brown"), "--headless")
    assert f"threshold {chosen} (stored in the gallery (edge-gallery calibrate: names none" in used.stderr
    overridden = _command(
        "recognize",
        "-g",
        str(gallery),
        "-i",
        str(LFW / "strangers" / "Gordon_Brown"),
        "--headless",
        "--threshold",
        "0.5",
    )
    assert "threshold 0.5000 (given by --threshold)" in overridden.stderr


def test_calibrate_refuses_a_person_who_is_not_enrolled(tmp_path, enrolled):
    gallery = tmp_path / "gallery.npz"
    assert _command("gallery_command", "enroll", "-g", str(gallery), str(enrolled)).returncode == 0
    done = _command("gallery_command", "calibrate", "-g", str(gallery), "--people", str(LFW / "strangers"),
                    "--strangers", str(LFW / "strangers"))  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("Emmanuelle_Beart is not enrolled in the gallery; put those photos in --strangers")
    )


def test_the_summary_says_why_faces_got_no_name(tmp_path, enrolled):
    small = tmp_path / "far_away.jpg"  # the face at about 40 pixels: too small to trust
    image = cv2.imread(str(LFW / "enrolled" / "Angela_Bassett" / "Angela_Bassett_0003.jpg"))
    cv2.imwrite(str(small), cv2.resize(image, (80, 80), interpolation=cv2.INTER_AREA))
    no_face = next((REPO / "data" / "demo" / "omniglot").rglob("*.png"))
    photos = [LFW / "enrolled" / "Angela_Bassett" / "Angela_Bassett_0002.jpg",
              LFW / "strangers" / "Gordon_Brown" / "Gordon_Brown_0001.jpg", small, no_face]  # fmt: skip
    done = _command("recognize", "--enroll", str(enrolled), *(a for p in photos for a in ("-i", str(p))), "--headless")
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("faces without a name: "))
    faces, frames = line.removeprefix("faces without a name: ").split("; frames with no face: ")
    assert dict(reason.rsplit(" ", 1) for reason in faces.split(", ")) == {"below the threshold": "1", "too small": "1"}
    assert frames == "1"
    alone = _command("recognize", "--enroll", str(enrolled), "-i", str(small), "--headless", "--json")
    lines = [json.loads(line) for line in alone.stdout.splitlines()]
    assert [(r["status"], r["name"], r["score"], r["skipped"]) for r in lines] == [("skipped", None, None, "small")]


def test_a_false_name_rate_threshold_follows_the_gallery_as_the_page_enrols(table, tmp_path):
    pytest.importorskip("fastapi")  # the [serve] extra (CI installs it)
    from tests.web_server import call, free_port, running, upload

    by_far = {row.far: row.threshold for row in table}
    port = free_port()
    command = [str(SCRIPTS / "edge-serve"), "--listen", f"127.0.0.1:{port}", "-g",
               str(tmp_path / "g.npz"), "--false-name-rate", "1e-2"]  # fmt: skip
    with running(command, port) as server:
        url = f"http://127.0.0.1:{port}"
        assert call("GET", f"{url}/api/about")[1]["threshold"] == pytest.approx(by_far[1e-2], abs=5e-5)  # 1 person
        for person in sorted((LFW / "enrolled").iterdir()):  # 8 people: about 1.3e-3 a pair, so the 1e-3 row
            photo = sorted(person.iterdir())[0]
            assert (
                upload(f"{url}/api/people", {"file": (photo.name, photo.read_bytes())}, {"name": person.name})[0] == 201
            )
        about = call("GET", f"{url}/api/about")[1]
        assert about["people"] == 8 and about["threshold"] == pytest.approx(by_far[1e-3], abs=5e-5)
        assert "8 people enrolled now: threshold" in server.log.read_text()


def test_nan_rates_and_enrolled_strangers_are_refused(tmp_path, enrolled):
    photo = str(LFW / "enrolled" / "Ann_Veneman" / "Ann_Veneman_0001.jpg")
    for option in ("--far", "--false-name-rate"):
        done = _command("recognize", "--enroll", str(enrolled), "-i", photo, "--headless", option, "nan")
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == (
            f"Error: Invalid value for '{option}': 'nan' is not a number; give one in the range 0<x<1"
        )
    gallery = tmp_path / "gallery.npz"
    assert _command("gallery_command", "enroll", "-g", str(gallery), str(enrolled)).returncode == 0
    mixed = tmp_path / "strangers"
    shutil.copytree(LFW / "strangers", mixed)
    shutil.copytree(LFW / "enrolled" / "Ann_Veneman", mixed / "Ann_Veneman")
    done = _command("gallery_command", "calibrate", "-g", str(gallery), "--people", str(LFW / "enrolled"),
                    "--strangers", str(mixed))  # fmt: skip
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("Ann_Veneman is enrolled in the gallery; put those photos in --people")
    )
