import re
import threading
import time

import cv2
import numpy as np
import pytest

from edge_runtime.io.sources import LiveSource, PhotoSource, SourceError, csi_pipeline, open_source, open_sources


def _write_video(path, frames=12, size=(160, 120)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    for i in range(frames):
        frame = np.full((size[1], size[0], 3), 20 * i % 255, np.uint8)
        writer.write(frame)
    writer.release()


def test_video_files_are_read_frame_by_frame_without_drops(tmp_path):
    _write_video(tmp_path / "clip.mp4", frames=12)
    source = open_source(str(tmp_path / "clip.mp4"))
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.close()
    assert len(frames) == 12 and not source.is_live
    assert frames[0].shape == (120, 160, 3)


def test_image_folders_in_name_order_skipping_broken_files(tmp_path, faces_root):
    for i, name in enumerate(["b.png", "a.png"]):
        cv2.imwrite(str(tmp_path / name), np.full((10, 10), 100 + i, np.uint8))
    (tmp_path / "c.png").write_bytes(b"broken")
    source = open_source(str(tmp_path))
    assert isinstance(source, PhotoSource) and source.separate_images
    first, second = source.read(), source.read()
    assert first[0, 0, 0] == 101 and second[0, 0, 0] == 100 and first.shape == (10, 10, 3)
    assert source.last_file == str(tmp_path / "b.png")
    assert source.read() is None


def test_image_files_and_several_inputs_are_photos(tmp_path, faces_root):
    single = open_source(str(faces_root / "s1" / "1.png"))
    assert isinstance(single, PhotoSource) and single.read() is not None and single.read() is None
    several = open_sources([str(faces_root / "s1" / "1.png"), str(faces_root / "s2")])
    assert len(several.paths) == 11
    _write_video(tmp_path / "clip.mp4")
    with pytest.raises(SourceError, match="several inputs must all be image files or folders"):
        open_sources([str(faces_root / "s1" / "1.png"), str(tmp_path / "clip.mp4")])


def test_missing_camera_and_input_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source("97")
    with pytest.raises(SourceError, match="neither a camera"):
        open_source(str(tmp_path / "nothing.mp4"))
    (tmp_path / "fake.mp4").write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot open video"):
        open_source(str(tmp_path / "fake.mp4"))


ARGUS_720P = (
    "nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM), width=1280, height=720, framerate=30/1, "
    "format=NV12 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! "
    "appsink drop=true max-buffers=1"
)


def test_a_csi_uri_opens_its_argus_pipeline_through_gstreamer():
    """csi://N is opened as a GStreamer pipeline of sensor N, at the size and rate asked (720p at 30
    by default). Where OpenCV has no GStreamer or no CSI camera (here), opening it is an error that
    says so, or with keep_trying a source that retries that same pipeline."""
    assert csi_pipeline(0, 1280, 720, 30) == ARGUS_720P
    if re.search(r"^\s*GStreamer:\s*YES", cv2.getBuildInformation(), re.MULTILINE):
        pytest.skip("this OpenCV has GStreamer: the pipeline might open a real camera")
    with pytest.raises(SourceError, match=r"^cannot open CSI camera 1 \(needs OpenCV with GStreamer\)"):
        open_source("csi://1", 640, 480, 15)
    retrying = open_source("csi://", keep_trying=True)
    try:
        assert (retrying.target, retrying.api, retrying.ever_opened) == (ARGUS_720P, cv2.CAP_GSTREAMER, False)
        assert retrying.read(timeout=0.2) is None
    finally:
        retrying.close()
    asked = open_source("csi://1", 640, 480, 15, keep_trying=True)
    asked.close()
    assert asked.target == ARGUS_720P.replace("sensor-id=0", "sensor-id=1").replace(
        "width=1280, height=720, framerate=30/1", "width=640, height=480, framerate=15/1"
    )


def test_a_live_source_that_vanishes_is_reopened_without_a_crash(tmp_path):
    _write_video(tmp_path / "clip.mp4", frames=5)
    # A file opened as a live source ends after 5 frames, like a camera that is unplugged; the
    # grabber must reopen it and go on delivering frames.
    source = LiveSource(str(tmp_path / "clip.mp4"), cv2.CAP_ANY, "test stream", max_backoff=0.1)
    frames, deadline = [], time.monotonic() + 5.0  # a source that stops delivering fails in 5 s, not 12 x 5 s
    while len(frames) < 12 and time.monotonic() < deadline:
        frame = source.read(timeout=0.2)
        if frame is not None:
            frames.append(frame)
    source.close()
    assert len(frames) == 12, f"only {len(frames)} frames in 5 s: the source was not reopened"
    assert source.read(timeout=0.1) is None


def _never_delivering(path):
    """A real source that opens and never delivers a frame: a video file with no frames, read as a
    live source, behaves like a camera that stopped sending."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    writer.release()
    return LiveSource(str(path), cv2.CAP_ANY, "dead camera", retry_after=30.0, max_backoff=30.0)


def _within(seconds, action):
    """Run `action` in a thread; whether it finished within `seconds` (the test never hangs)."""
    worker = threading.Thread(target=action, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


def test_reading_a_camera_that_delivers_nothing_times_out(tmp_path):
    source = _never_delivering(tmp_path / "dead.avi")
    frames = []
    try:
        assert _within(5.0, lambda: frames.append(source.read(timeout=0.3))), "read(timeout=0.3) did not return"
        assert frames == [None] and not source.closed
    finally:
        source.close()


def test_close_stops_a_grabber_that_waits_to_reconnect(tmp_path):
    source = _never_delivering(tmp_path / "dead.avi")
    assert _within(5.0, lambda: source.read(timeout=0.5))  # by now the grabber waits 30 s to reopen
    assert _within(5.0, source.close), "close() did not return"
    assert not source.thread.is_alive(), "close() returned while the grabber still sleeps"
    assert source.read(timeout=0.1) is None
