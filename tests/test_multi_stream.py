"""Several streams in one run, with real video files, the real commands and real processes: each
stream's events carry its name and its people, one gallery and one model call per batch serve them
all, a stream that ends early or never opens leaves the others running, a busy stream cannot starve
a quiet one, and SIGTERM finishes every output video."""

import io
import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest
from processes import long_video, stop_once_logged, stop_with_sigterm

from edge_runtime.core.bundled import ATT_FACES_MODEL, DEFAULT_MODEL, packaged_model
from edge_runtime.faces.regions import RegionFinder
from edge_runtime.identity.enrollment import enroll_folder, new_gallery
from edge_runtime.identity.gallery import Gallery
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.outputs import JsonLinesSink
from edge_runtime.io.photo_video import write_photo_video
from edge_runtime.io.sources import LiveSource, PhotoSource, SourceError, open_source
from edge_runtime.loop.mailbox import Mailbox
from edge_runtime.loop.pipeline import RecognitionLoop, Stream
from edge_runtime.loop.streams import plan_streams, read_stream_list, stream_output

REPO = Path(__file__).resolve().parent.parent
LFW = REPO / "edge_runtime" / "demo_data" / "lfw"
SCRIPTS = Path(sys.executable).parent  # the installed commands, run as a user runs them
PEOPLE = sorted(p.name for p in (LFW / "enrolled").iterdir())
STRANGERS = sorted(p.name for p in (LFW / "strangers").iterdir())


def _photos(person: Path) -> list[Path]:
    return sorted(person.glob("*.jpg"))


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Three 640×480 videos of LFW photos (stream k: enrolled person k's second and third photos, then
    stranger k; 24 frames), a short one (one photo, 6 frames), a busy one (8 faces a frame, 96
    frames), and a gallery enrolled once with ONE photo of each enrolled person."""
    root = tmp_path_factory.mktemp("scene")
    for person in PEOPLE:
        (root / "enroll" / person).mkdir(parents=True)
        shutil.copy(_photos(LFW / "enrolled" / person)[0], root / "enroll" / person)
    for k in range(3):
        shown = [(PEOPLE[k], photo) for photo in _photos(LFW / "enrolled" / PEOPLE[k])[1:3]]
        shown.append((UNKNOWN, _photos(LFW / "strangers" / STRANGERS[k])[0]))
        write_photo_video(shown, root / f"cam{k}.mp4", 8)
    write_photo_video([(PEOPLE[3], _photos(LFW / "enrolled" / PEOPLE[3])[1])], root / "short.mp4", 6)
    crowd = [(p, _photos(LFW / "enrolled" / p)[1]) for p in PEOPLE]
    write_photo_video(crowd * 12, root / "busy.mp4", 8, faces=8)  # 96 frames
    done = subprocess.run([str(SCRIPTS / "edge-gallery"), "enroll", "-g", str(root / "g.npz"), str(root / "enroll")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root


def _frames(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0


def _recognize(*arguments, timeout: float = 180) -> subprocess.CompletedProcess:
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--json", "--provider", "cpu", *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_each_stream_s_events_carry_its_name_and_its_people(scene):
    before = (scene / "g.npz").read_bytes()
    done = _recognize("-g", scene / "g.npz", *(a for k in range(3) for a in ("-i", scene / f"cam{k}.mp4")))
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    assert {line["stream"] for line in lines} == {"cam0", "cam1", "cam2"}
    for k in range(3):
        mine = [line for line in lines if line["stream"] == f"cam{k}"]
        named = {line["name"] for line in mine if line["event"] and line["name"] != UNKNOWN}
        assert named == {PEOPLE[k]}, (k, named)  # each stream names its own person, and only them
        assert max(line["frame"] for line in mine) == _frames(scene / f"cam{k}.mp4") - 1  # frames counted per stream
        assert [line["frame"] for line in mine] == sorted(line["frame"] for line in mine)  # in order
    assert (scene / "g.npz").read_bytes() == before  # the one gallery, enrolled once, served all three
    for k in range(3):
        assert f"cam{k}: {_frames(scene / f'cam{k}.mp4')} frames" in done.stderr  # per-stream FPS and latency
    assert "3 streams, one model:" in done.stderr and "latency" in done.stderr


def test_a_short_file_and_a_bad_path_leave_the_others_running(scene, tmp_path):
    inputs = [scene / "cam0.mp4", scene / "short.mp4", tmp_path / "missing.mp4", scene / "cam1.mp4"]
    done = _recognize("-g", scene / "g.npz", *(a for path in inputs for a in ("-i", path)), "-o", tmp_path / "out.mp4")
    assert done.returncode == 0, done.stderr
    assert "stream missing left out: input" in done.stderr and "neither a camera" in done.stderr
    assert "stream short ended after 6 frames" in done.stderr and "Traceback" not in done.stderr
    lines = _lines(done.stdout)
    last_short = max(i for i, line in enumerate(lines) if line["stream"] == "short")
    assert any(line["stream"] == "cam0" for line in lines[last_short + 1 :])  # cam0 went on after short ended
    for name in ("cam0", "cam1", "short"):  # every frame of every stream that opened, in its own video
        assert _frames(tmp_path / f"out.{name}.mp4") == _frames(scene / f"{name}.mp4"), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.cam0.mp4", "out.cam1.mp4", "out.short.mp4"]


def test_when_no_stream_opens_the_run_is_one_error(tmp_path):
    done = _recognize("--enroll", LFW / "enrolled", "-i", tmp_path / "a.mp4", "-i", tmp_path / "b.mp4")
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("edge-recognize: error: no input could be opened: a: input") and "b: input" in last


def test_a_camera_that_does_not_open_among_several_is_retried_while_the_file_runs(scene, tmp_path):
    """A network camera that refuses the connection is retried with backoff; the file beside it runs
    to its end, and the run goes on waiting for the camera until SIGTERM."""
    errors = tmp_path / "stderr.txt"
    command = [str(SCRIPTS / "edge-recognize"), "--headless", "--json", "--provider", "cpu", "-g", str(scene / "g.npz"),
               "-i", str(scene / "short.mp4"), "-i", "rtsp://ann:secret@127.0.0.1:9/door"]  # fmt: skip
    code, output, running = stop_once_logged(command, errors, "stream short ended", settle=1.0)  # a few more tries
    assert running, "the run ended although the camera is live"
    log = errors.read_text()
    assert code == 0, log
    assert "cannot open stream rtsp://ann:***@127.0.0.1:9/door; retrying in 0.5 s" in log and "secret" not in log
    assert "stream short ended after 6 frames" in log and "127.0.0.1-door: 0 frames" in log
    assert {line["stream"] for line in _lines(output)} == {"short"}


def test_a_live_source_that_does_not_open_yet_is_opened_when_it_appears(tmp_path, caplog):
    later = tmp_path / "later.mp4"
    with caplog.at_level(logging.WARNING):
        source = LiveSource(str(later), cv2.CAP_ANY, "camera later", retry_after=0.1, max_backoff=0.2, keep_trying=True)
        try:
            assert source.read(timeout=0.3) is None and not source.closed
            writer = cv2.VideoWriter(str(later), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
            for _ in range(5):
                writer.write(cv2.resize(cv2.imread(str(_photos(LFW / "enrolled" / PEOPLE[0])[0])), (64, 48)))
            writer.release()
            deadline, frame = time.monotonic() + 10, None
            while frame is None and time.monotonic() < deadline:
                frame = source.read(timeout=0.2)
        finally:
            source.close()
    assert frame is not None and frame.shape == (48, 64, 3)
    assert "cannot open camera later; retrying in 0.1 s" in caplog.text
    with pytest.raises(SourceError, match="cannot open camera later-still"):  # one camera alone: an error, as before
        LiveSource(str(tmp_path / "none.mp4"), cv2.CAP_ANY, "camera later-still")


def test_one_model_call_per_batch_serves_every_stream(scene, monkeypatch):
    """The Python API: one Recognizer (one model, one gallery) over three sources; every batch is one
    call to the model, and batches hold frames of several streams."""
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    gallery = new_gallery(embedder)
    enroll_folder(gallery, embedder, scene / "enroll")
    recognizer = Recognizer(embedder, gallery)
    calls, batches = [], []
    infer, recognize_frames = embedder.infer, recognizer.recognize_frames
    monkeypatch.setattr(embedder, "infer", lambda tensor: calls.append(len(tensor)) or infer(tensor))
    monkeypatch.setattr(recognizer, "recognize_frames", lambda frames: batches.append(len(frames)) or
                        recognize_frames(frames))  # fmt: skip
    sources = [open_source(str(scene / f"cam{k}.mp4")) for k in range(3)]
    try:
        summary = RecognitionLoop(sources, recognizer).run()
    finally:
        for source in sources:
            source.close()
    assert [s.name for s in summary.streams] == ["stream1", "stream2", "stream3"]
    assert [s.frames for s in summary.streams] == [_frames(scene / f"cam{k}.mp4") for k in range(3)]
    assert sum(batches) == summary.frames == summary.batched_frames and len(batches) == summary.batches
    assert len(calls) <= len(batches) and sum(calls) == summary.batched_faces  # one model call a batch at most
    assert max(batches) > 1, "no batch held frames of two streams"
    assert set(summary.appearances) == set(PEOPLE[:3])


def test_a_busy_stream_cannot_starve_a_quiet_one(scene):
    """Round robin: eight faces a frame on one stream, one on the other; the quiet stream is done
    long before the busy one, instead of waiting behind its frames."""
    done = _recognize("-g", scene / "g.npz", "-i", scene / "busy.mp4", "-i", scene / "cam0.mp4")
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    quiet_frames = _frames(scene / "cam0.mp4")
    last_quiet = max(i for i, line in enumerate(lines) if line["stream"] == "cam0")
    busy_then = max(line["frame"] for line in lines[:last_quiet] if line["stream"] == "busy")
    assert busy_then <= 2 * quiet_frames < _frames(scene / "busy.mp4"), (busy_then, quiet_frames)


@pytest.mark.parametrize("mosaic", [False, True], ids=["a video per stream", "mosaic"])
def test_sigterm_finishes_every_output_video(tmp_path, faces_root, mosaic):
    for name in ("a", "b", "c"):
        long_video(tmp_path / f"{name}.mp4", faces_root)
    returncode, errors = stop_with_sigterm(
        [str(SCRIPTS / "edge-recognize"), "-m", str(packaged_model(ATT_FACES_MODEL)), "--enroll", str(faces_root),
         "--headless", "--json", "--output", str(tmp_path / "out" / "out.mp4"), *(["--mosaic"] if mosaic else []),
         *(a for name in ("a", "b", "c") for a in ("-i", str(tmp_path / f"{name}.mp4")))], 30, 90,
    )  # fmt: skip
    assert returncode == 0, errors
    assert "stopped (Ctrl-C, SIGTERM or SIGHUP)" in errors
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == (["out.mp4"] if mosaic else ["out.a.mp4", "out.b.mp4", "out.c.mp4"])  # no .partial left
    for name in written:
        capture = cv2.VideoCapture(str(tmp_path / "out" / name))
        assert capture.isOpened() and 0 < int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) < 3000, name
        if mosaic:  # three streams on a 2×2 grid of 92×112 tiles
            assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (184, 224)


def test_which_inputs_are_streams_and_what_they_are_called(tmp_path, faces_root):
    video = tmp_path / "door.mp4"
    long_video(video, faces_root, frames=3)
    photo, folder = faces_root / "s1" / "1.png", faces_root / "s2"
    (photos,) = plan_streams([str(photo), str(folder)])  # several photos: ONE input, as before
    assert photos.name == "photos" and photos.uris == (str(photo), str(folder))
    mixed = plan_streams([str(video), str(folder), str(video), "0", "rtsp://ann:secret@10.0.0.5:554/live/main"])
    assert [s.name for s in mixed] == ["door", "s2", "door-2", "camera0", "10.0.0.5-main"]
    listed = tmp_path / "streams.txt"
    listed.write_text(f"# the doors\n{video} front\n\n'{folder}'  # photos\n/dev/video1 'back door'\n")
    assert [(s.name, s.uris) for s in plan_streams([], read_stream_list(listed))] == [
        ("front", (str(video),)), ("s2", (str(folder),)), ("back door", ("/dev/video1",))]  # fmt: skip
    assert stream_output("runs/out.mp4", "back door") == Path("runs/out.back_door.mp4")
    for text, message in [("a.mp4 x y\n", "line 1: give URI or URI NAME"), ("'a.mp4\n", "line 1: No closing"),
                          ("a.mp4 x\nb.mp4 x\n", "'x' is given twice"), ("# none\n", "names no stream")]:  # fmt: skip
        listed.write_text(text)
        with pytest.raises(SourceError, match=message):
            read_stream_list(listed)
    with pytest.raises(SourceError, match="cannot read the stream list"):
        read_stream_list(tmp_path / "absent.txt")


def test_a_folder_among_streams_is_a_stream_of_separate_photos(scene, faces_root):
    folder_stream, video_stream = plan_streams([str(faces_root / "s1"), str(scene / "short.mp4")])
    source = open_source(folder_stream.uris[0])
    assert isinstance(source, PhotoSource)
    gallery = Gallery.load(scene / "g.npz")
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    events = io.StringIO()
    streams = [Stream(source, folder_stream.name), Stream(open_source(video_stream.uris[0]), video_stream.name)]
    RecognitionLoop(streams, Recognizer(embedder, gallery), events=JsonLinesSink(events)).run()
    lines = _lines(events.getvalue())
    photos = [line for line in lines if line["stream"] == "s1"]
    assert len({line["file"] for line in photos}) == 10 and all(line["track"] is None for line in photos)
    assert all("file" not in line and line["track"] is not None for line in lines if line["stream"] == "short")


def test_streams_listed_in_a_file_are_named_by_it_and_a_bad_line_is_one_error(scene, tmp_path):
    listed = tmp_path / "streams.txt"
    listed.write_text(f"# two doors\n{scene / 'short.mp4'} front\n'{scene / 'cam0.mp4'}' 'back door'\n")
    done = _recognize("-g", scene / "g.npz", "--inputs", listed)
    assert done.returncode == 0, done.stderr
    assert {line["stream"] for line in _lines(done.stdout)} == {"front", "back door"}
    listed.write_text(f"{scene / 'short.mp4'}\n{scene / 'cam0.mp4'} back door\n")
    done = _recognize("-g", scene / "g.npz", "--inputs", listed)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"edge-recognize: error: {listed}, line 2: give URI or URI NAME (quote what holds spaces)")
    )


def test_the_side_by_side_benchmark_runs_both_ways_on_the_same_files(tmp_path):
    """benchmarks.runtime.multi_stream, cut short (8 frames a stream): both ways process the same
    frames, their memory is sampled, and the names announced are compared."""
    benchmark = [sys.executable, "-m", "benchmarks.runtime.multi_stream"]
    made = subprocess.run([*benchmark, "make", str(tmp_path), "--streams", "2"], capture_output=True, text=True,
                          timeout=120, cwd=REPO)  # fmt: skip
    assert made.returncode == 0, made.stderr
    done = subprocess.run([*benchmark, "compare", str(tmp_path), "--rounds", "1", "--", "--max-frames", "8",
                           "--provider", "cpu"], capture_output=True, text=True, timeout=300, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "compare.json").read_text())
    assert [(r["way"], r["processes"], r["frames"]) for r in report["runs"]] == [
        ("one process", 1, 16), ("a process per stream", 2, 16)]  # fmt: skip
    assert all(r["peak_pss_mib"] > 0 and r["cpu_ms_per_frame"] > 0 for r in report["runs"])
    assert isinstance(report["summary"]["same names announced on every stream, both ways, every round"], bool)


def test_a_batch_waits_for_streams_that_deliver_not_for_silent_ones():
    bell, stop = threading.Condition(), threading.Event()
    camera, file = Mailbox(bell, newest_only=True), Mailbox(bell, newest_only=False)
    now = time.perf_counter()
    assert camera.expected(now, 1.0) and not camera.expected(now + 2.0, 1.0)  # silent for 2 s: not waited for
    camera.put("frame 1", stop)
    camera.put("frame 2", stop)  # a live stream keeps only its newest frame
    assert list(camera.items) == ["frame 2"] and camera.dropped == 1 and camera.expected(now + 0.5, 1.0)
    file.finish("ended")
    assert not file.expected(now, 1.0) and file.done


class _TimedFinder(RegionFinder):
    """The real finder, noting when each detection and each cut ran and failing the cut of frame `fail_at`."""

    def __init__(self, finder: RegionFinder, fail_at: int | None = None) -> None:
        super().__init__(finder.detector, finder.cutter, finder.gate)
        self.detected, self.cut_at, self.fail_at = [], [], fail_at

    def detect(self, frame):
        started = time.perf_counter()
        found = super().detect(frame)
        self.detected.append((started, time.perf_counter()))
        return found

    def cut(self, frame, detections):
        if len(self.cut_at) == self.fail_at:
            raise RuntimeError("the aligner broke")
        started = time.perf_counter()
        regions = super().cut(frame, detections)
        self.cut_at.append((started, time.perf_counter()))
        return regions


def test_the_next_frame_is_detected_while_this_one_is_aligned(scene):
    """Detection and alignment run in two threads per stream: a crowd's landmarks do not hold up the
    next frame's detection, and every frame is still cut once, in order."""
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    gallery = new_gallery(embedder)
    enroll_folder(gallery, embedder, scene / "enroll")
    recognizer = Recognizer(embedder, gallery)
    finder = _TimedFinder(recognizer.regions.for_another_thread())
    source = open_source(str(scene / "busy.mp4"))
    try:
        summary = RecognitionLoop([Stream(source, "busy", regions=finder)], recognizer).run()
    finally:
        source.close()
    frames = _frames(scene / "busy.mp4")
    assert summary.frames == len(finder.detected) == len(finder.cut_at) == frames
    overlapping = sum(any(d_start < c_end and c_start < d_end for d_start, d_end in finder.detected[i + 1 :])
                      for i, (c_start, c_end) in enumerate(finder.cut_at))  # fmt: skip
    assert overlapping >= frames // 4, overlapping
    assert summary.stage_ms()["align"] > 0 and set(summary.appearances) <= set(PEOPLE)


def test_an_aligner_that_fails_ends_its_stream_and_the_others_go_on(scene):
    """An error while cutting one stream's faces ends that stream; the other stream gives every frame,
    and the run then raises the error."""
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    gallery = new_gallery(embedder)
    enroll_folder(gallery, embedder, scene / "enroll")
    recognizer = Recognizer(embedder, gallery)
    events = io.StringIO()
    sources = [open_source(str(scene / "cam0.mp4")), open_source(str(scene / "busy.mp4"))]
    streams = [Stream(sources[0], "cam0"), Stream(sources[1], "busy", regions=_TimedFinder(recognizer.regions, 3))]
    try:
        with pytest.raises(RuntimeError, match="the aligner broke"):
            RecognitionLoop(streams, recognizer, events=JsonLinesSink(events)).run()
    finally:
        for source in sources:
            source.close()
    lines = _lines(events.getvalue())
    assert {line["frame"] for line in lines if line["stream"] == "cam0"} == set(range(_frames(scene / "cam0.mp4")))
    assert {line["frame"] for line in lines if line["stream"] == "busy"} <= {0, 1, 2}


class Window:
    """OpenCV's window, scripted (no display here): `imshow` draws nothing and `waitKey` returns the
    keys given, one a frame shown, then none (255)."""

    def __init__(self, monkeypatch, keys: list[int]) -> None:
        self.keys = list(keys)
        monkeypatch.setattr(cv2, "imshow", lambda *args: None)
        monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
        monkeypatch.setattr(cv2, "waitKey", lambda delay: self.keys.pop(0) if self.keys else 255)


def _live_loop(scene, on_key=None):
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    gallery = new_gallery(embedder)
    enroll_folder(gallery, embedder, scene / "enroll")
    recognizer = Recognizer(embedder, gallery)
    sources = [open_source(str(scene / f"cam{k}.mp4")) for k in range(2)]
    return RecognitionLoop(sources, recognizer, show=True, on_key=on_key), recognizer, sources


def test_typing_a_name_after_e_never_stops_the_other_streams(scene, monkeypatch):
    """The window's key handler (edge-recognize's `e` asks for a name) runs without the gallery lock:
    while it waits for typing, the batch thread goes on matching the streams' frames."""
    Window(monkeypatch, [255, ord("e")])
    seen = {}

    def typing(key, image, results):
        before = loop.summary_batches()
        deadline = time.monotonic() + 20
        while loop.summary_batches() < before + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["batches while typing"] = loop.summary_batches() - before
        seen["lock free"] = loop.gallery_lock.acquire(timeout=10)
        if seen["lock free"]:
            loop.gallery_lock.release()

    loop, recognizer, sources = _live_loop(scene, typing)
    calls = []
    recognize_frames = recognizer.recognize_frames
    monkeypatch.setattr(recognizer, "recognize_frames", lambda frames: calls.append(1) or recognize_frames(frames))
    loop.summary_batches = lambda: len(calls)
    try:
        summary = loop.run()
    finally:
        for source in sources:
            source.close()
    assert seen == {"batches while typing": 2, "lock free": True}
    assert summary.frames == sum(_frames(scene / f"cam{k}.mp4") for k in range(2)) and not summary.quit


def test_q_in_the_window_is_said_as_q_not_as_ctrl_c_or_sigterm(scene, monkeypatch, caplog):
    from edge_runtime.apps.cli import _log_summary

    Window(monkeypatch, [255, 255, ord("q")])
    loop, _, sources = _live_loop(scene)
    try:
        summary = loop.run()
    finally:
        for source in sources:
            source.close()
    assert summary.quit and not summary.interrupted
    assert 0 < summary.frames < sum(_frames(scene / f"cam{k}.mp4") for k in range(2))
    with caplog.at_level(logging.INFO, logger="edge_runtime"):
        _log_summary(summary, several=True)
    assert f"stopped (q pressed in the window) after {summary.frames} frames" in caplog.text
    assert "Ctrl-C" not in caplog.text
