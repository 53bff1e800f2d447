import time

import cv2
import numpy as np
import pytest

from edge_runtime.sources import ImageFolderSource, LiveSource, SourceError, csi_pipeline, open_source


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
    assert isinstance(source, ImageFolderSource)
    first, second = source.read(), source.read()
    assert first[0, 0, 0] == 101 and second[0, 0, 0] == 100 and first.shape == (10, 10, 3)
    assert source.read() is None


def test_missing_camera_and_input_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="cannot open camera 97"):
        open_source("97")
    with pytest.raises(SourceError, match="neither a camera"):
        open_source(str(tmp_path / "nothing.mp4"))
    (tmp_path / "fake.mp4").write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot open video"):
        open_source(str(tmp_path / "fake.mp4"))


def test_csi_uri_builds_an_argus_pipeline():
    pipeline = csi_pipeline(1, 1280, 720, 30)
    assert pipeline.startswith("nvarguscamerasrc sensor-id=1") and "appsink drop=true" in pipeline


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
