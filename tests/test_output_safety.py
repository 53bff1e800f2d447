"""An output video never destroys footage, with the real command in real processes: an `--output`
that is an input is refused before anything is written, two runs writing one `--output` each finish
with the whole video, two streams whose names make one file name each keep their video, SIGHUP
finalises the video as SIGTERM does, a full disk is a failure (the earlier file kept), and a DISPLAY
with no X server behind it is refused before anything is written."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from processes import long_video, stop_with_sigterm

from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.loop.streams import stream_outputs

SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
MODEL = str(packaged_model(ATT_FACES_MODEL))


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, faces_root) -> Path:
    """A gallery of three AT&T subjects, enrolled with the small AT&T model."""
    root = tmp_path_factory.mktemp("gallery")
    for subject in ("s1", "s2", "s3"):
        shutil.copytree(faces_root / subject, root / "people" / subject)
    done = subprocess.run([str(SCRIPTS / "edge-gallery"), "enroll", "-m", MODEL, "-g", str(root / "g.npz"),
                           str(root / "people")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root / "g.npz"


def _recognize(gallery: Path, *arguments, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [str(SCRIPTS / "edge-recognize"), "-m", MODEL, "-g", str(gallery), "--headless", "--provider", "cpu",
               *map(str, arguments)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def _frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(tmp_path, gallery, faces_root):
    video, photo = tmp_path / "x.mp4", tmp_path / "p.png"
    long_video(video, faces_root, frames=10)
    shutil.copy(faces_root / "s1" / "1.png", photo)
    (tmp_path / "link.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    kept = {path: path.read_bytes() for path in (video, photo)}
    for arguments in (["-i", "x.mp4", "-o", "x.mp4"], ["-i", "x.mp4", "-o", "./x.mp4"],
                      ["-i", str(video), "-o", "link.mp4"], ["-i", "hard.mp4", "-o", "x.mp4"],
                      ["-i", "p.png", "-o", "p.png"], ["-i", ".", "-o", "p.png"]):  # fmt: skip
        done = _recognize(gallery, *arguments, cwd=tmp_path)
        assert done.returncode == 2, (arguments, done.stderr)
        errors = done.stderr.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("edge-recognize: error: --output "), (arguments, errors)
        assert "is the input" in errors[0] and "Traceback" not in done.stderr
    assert {path: path.read_bytes() for path in (video, photo)} == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.mp4", "link.mp4", "p.png", "x.mp4"]  # no .partial


def test_a_stream_output_that_is_an_input_is_refused(tmp_path, gallery, faces_root):
    """Several streams: `-o out.mp4` writes `out.NAME.mp4`, here the input of the stream named b."""
    for name in ("out.b.mp4", "c.mp4"):
        long_video(tmp_path / name, faces_root, frames=10)
    kept = (tmp_path / "out.b.mp4").read_bytes()
    (tmp_path / "streams.txt").write_text("out.b.mp4 b\nc.mp4 c\n")
    done = _recognize(gallery, "--inputs", "streams.txt", "-o", "out.mp4", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("edge-recognize: error: --output out.b.mp4 is the input out.b.mp4: writing it "
                                   "would destroy the input; give another file")  # fmt: skip
    assert (tmp_path / "out.b.mp4").read_bytes() == kept


def test_two_runs_writing_one_output_each_finish_a_whole_video(tmp_path, gallery, faces_root):
    video, output = tmp_path / "in.mp4", tmp_path / "out" / "same.mp4"
    long_video(video, faces_root, frames=150)
    output.parent.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = output.parent / f".same.{gone.pid}.0123abcd.partial.mp4"  # left by a run killed outright
    stale.write_bytes(b"half a video")
    command = [str(SCRIPTS / "edge-recognize"), "-m", MODEL, "-g", str(gallery), "--headless", "--provider", "cpu",
               "-i", str(video), "-o", str(output)]  # fmt: skip
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        outcomes = [run.communicate(timeout=120) for run in runs]
    finally:
        for run in runs:
            run.kill()
    for run, (_, errors) in zip(runs, outcomes, strict=True):
        assert run.returncode == 0 and "Traceback" not in errors, errors
        assert f"annotated video: {output}" in errors
    assert _frames(output) == 150
    assert [p.name for p in output.parent.iterdir()] == ["same.mp4"]  # no temporary left


def test_stream_names_that_make_one_file_name_each_keep_their_video(tmp_path, gallery, faces_root):
    long_video(tmp_path / "one.mp4", faces_root, frames=10)
    long_video(tmp_path / "two.mp4", faces_root, frames=20)
    (tmp_path / "streams.txt").write_text("one.mp4 a/b\ntwo.mp4 a_b\n")
    done = _recognize(gallery, "--inputs", "streams.txt", "-o", "s.mp4", cwd=tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "stream a_b: video s.a_b-2.mp4 (s.a_b.mp4 is another stream's)" in done.stderr
    assert "annotated video: s.a_b.mp4 (stream a/b)" in done.stderr
    assert "annotated video: s.a_b-2.mp4 (stream a_b)" in done.stderr
    assert (_frames(tmp_path / "s.a_b.mp4"), _frames(tmp_path / "s.a_b-2.mp4")) == (10, 20)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no .partial left


def test_per_stream_outputs_are_unique_whatever_the_case():
    outputs = stream_outputs("runs/out.mp4", ["Door", "door", "a/b", "a_b", "a_b-2"])
    assert [p.name for p in outputs.values()] == ["out.Door.mp4", "out.door-2.mp4", "out.a_b.mp4", "out.a_b-2.mp4",
                                                  "out.a_b-2-2.mp4"]  # fmt: skip


def test_sighup_finalises_the_video_and_prints_the_summary(tmp_path, gallery, faces_root):
    """An SSH session dropped or a terminal closed (SIGHUP) finishes the run as SIGTERM does."""
    long_video(tmp_path / "in.mp4", faces_root)
    returncode, errors = stop_with_sigterm(
        [str(SCRIPTS / "edge-recognize"), "-m", MODEL, "-g", str(gallery), "--headless", "--provider", "cpu",
         "--json", "-i", str(tmp_path / "in.mp4"), "-o", str(tmp_path / "out.mp4")], 20, 60, signal.SIGHUP,
    )  # fmt: skip
    assert returncode == 0 and "Traceback" not in errors, errors
    assert "stopped (Ctrl-C, SIGTERM or SIGHUP) after" in errors and "FPS" in errors
    assert f"annotated video: {tmp_path / 'out.mp4'}" in errors
    assert 0 < _frames(tmp_path / "out.mp4") < 3000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]  # no .partial left


def test_a_full_disk_is_a_failure_and_the_earlier_video_is_kept(mounted, gallery, faces_root, tmp_path):
    folder = mounted("size=256k,mode=0755")
    long_video(tmp_path / "in.mp4", faces_root, frames=600)
    long_video(folder / "full.mp4", faces_root, frames=5)  # an earlier run's video, which must survive
    before = (folder / "full.mp4").read_bytes()
    done = _recognize(gallery, "-i", tmp_path / "in.mp4", "-o", folder / "full.mp4")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "annotated video:" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"edge-recognize: error: cannot write video {folder / 'full.mp4'}: {os.strerror(28)} (the written video "
        "is unreadable); it is left as it was"
    )
    assert (folder / "full.mp4").read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["full.mp4"]  # the broken temporary removed


def test_a_display_with_no_x_server_is_refused_in_one_line(tmp_path, gallery, faces_root):
    """DISPLAY=:99 with nothing listening (a dropped ssh -X, a container): Qt would abort the run."""
    with socket.socket(socket.AF_UNIX) as probe:
        assert probe.connect_ex("/tmp/.X11-unix/X99") != 0, "an X server listens on :99"
    long_video(tmp_path / "in.mp4", faces_root, frames=10)
    command = [str(SCRIPTS / "edge-recognize"), "-m", MODEL, "-g", str(gallery), "--provider", "cpu",
               "-i", "in.mp4", "-o", "out.mp4"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "DISPLAY": ":99"})  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "edge-recognize: error: no window can be opened on DISPLAY=:99 (no X server answers there); use "
        "--headless (no window), or fix the display (edge-doctor)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # no video, no partial one
