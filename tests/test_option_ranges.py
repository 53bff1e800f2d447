"""Numbers and inputs the commands refuse instead of misleading: a cosine threshold outside -1<x<1
or NaN (NaN called everyone unknown and made `edge-verify` print `"threshold": NaN`, not JSON),
`edge-search -k` below 1 (-1 returned all results but one), and an empty `-i` (it recognised the
current folder), `-i csi://abc`, `edge-bench --runs 0`, `--smooth 0` and `--min-votes` above
`--smooth`. Real images, the real commands through click's runner or as installed."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_runtime.apps import cli
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.enrollment import enroll_images, new_gallery
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.sources import SourceError
from edge_runtime.loop.streams import read_stream_list

MODEL = ["-m", str(packaged_model(ATT_FACES_MODEL))]  # the small AT&T model: a whole-image model


def _run(command, *arguments):
    return CliRunner().invoke(command, [str(a) for a in arguments])


def _refused(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert result.output.strip().splitlines()[-1] == f"Error: {message}", result.output


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, faces_root):
    embedder = Embedder(packaged_model(ATT_FACES_MODEL), providers=("cpu",))
    known = new_gallery(embedder)
    for subject in ("s1", "s2", "s3"):
        enroll_images(known, embedder, subject, sorted((faces_root / subject).glob("*.png"))[:2])
    path = tmp_path_factory.mktemp("gallery") / "g.npz"
    known.save(path)
    return path


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "Invalid value for '--threshold': 'nan' is not a number; give one in the range -1<x<1"),
        ("1.5", "Invalid value for '--threshold': 1.5 is not in the range -1<x<1."),
        ("1", "Invalid value for '--threshold': 1.0 is not in the range -1<x<1."),
        ("-1", "Invalid value for '--threshold': -1.0 is not in the range -1<x<1."),
        ("inf", "Invalid value for '--threshold': inf is not in the range -1<x<1."),
    ],
)
def test_a_threshold_no_cosine_score_can_meet_meaningfully_is_refused(faces_root, gallery, value, message):
    pair = (faces_root / "s1" / "1.png", faces_root / "s1" / "2.png")
    _refused(_run(cli.verify, *MODEL, "--threshold", value, *pair), message)
    _refused(_run(cli.recognize, *MODEL, "-g", gallery, "--headless", "--threshold", value, "-i", pair[0]), message)


def test_a_threshold_inside_the_range_is_used(faces_root):
    result = _run(cli.verify, *MODEL, "--threshold", "-0.5", faces_root / "s1" / "1.png", faces_root / "s2" / "1.png")
    assert result.exit_code == 0 and '"threshold": -0.5' in result.output, result.output


@pytest.mark.parametrize("k", ["0", "-1"])
def test_search_refuses_fewer_than_one_result(faces_root, gallery, k):
    _refused(_run(cli.search, *MODEL, "-g", gallery, "-k", k, faces_root / "s1" / "3.png"),
             f"Invalid value for '-k': {k} is not in the range x>=1.")  # fmt: skip


def test_an_empty_input_is_refused_not_read_as_the_current_folder(faces_root, gallery, monkeypatch):
    monkeypatch.chdir(faces_root / "s1")  # a folder of photos: an empty -i used to recognise them
    for inputs in (["-i", ""], ["-i", str(faces_root / "s2" / "1.png"), "-i", " "]):
        _refused(_run(cli.recognize, *MODEL, "-g", gallery, "--headless", "--json", *inputs),
                 "Invalid value for '--input' / '-i': an empty input names nothing; give a camera, stream, file or "
                 "folder")  # fmt: skip


def test_an_empty_uri_in_a_stream_list_is_refused(tmp_path):
    listed = tmp_path / "streams.txt"
    listed.write_text("'' front\n")
    with pytest.raises(SourceError, match="line 1: an empty URI names nothing"):
        read_stream_list(listed)


def test_a_csi_uri_without_a_sensor_number_is_one_line_not_a_traceback(gallery):
    """`-i csi://abc` ended in int()'s ValueError traceback; the installed command now says what a
    CSI URI is, in one line, exit 2."""
    command = Path(sys.executable).parent / "edge-recognize"
    run = subprocess.run([command, *MODEL, "-g", gallery, "--headless", "-i", "csi://abc"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "ValueError" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        "edge-recognize: error: input csi://abc: a CSI camera is csi:// and its sensor number (csi://0, csi://1, …)"
    )


def test_edge_bench_refuses_zero_runs():
    """`edge-bench --runs 0` ended in an IndexError (the median of no timings)."""
    from bench.cli import main

    _refused(_run(main, packaged_model(ATT_FACES_MODEL), "--runs", "0"),
             "Invalid value for '--runs': 0 is not in the range x>=1.")  # fmt: skip


def test_smooth_below_one_and_min_votes_above_smooth_are_refused(faces_root, gallery):
    """`--smooth 0` was raised to 1 and `--min-votes` above `--smooth` lowered to it, both silently."""
    photo = faces_root / "s1" / "1.png"
    _refused(_run(cli.recognize, *MODEL, "-g", gallery, "--headless", "--smooth", "0", "-i", photo),
             "Invalid value for '--smooth': 0 is not in the range x>=1.")  # fmt: skip
    too_many = _run(
        cli.recognize, *MODEL, "-g", gallery, "--headless", "--smooth", "2", "--min-votes", "4", "-i", photo
    )
    _refused(
        too_many, "Invalid value for '--min-votes': 4 votes can never come out of the last 2 (--smooth): give at most 2"
    )
    kept = _run(cli.recognize, *MODEL, "-g", gallery, "--headless", "--smooth", "2", "-i", photo)  # default min-votes
    assert kept.exit_code == 0, kept.output
