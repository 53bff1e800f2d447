"""Time of finding, aligning and vetting the faces of each frame of a video, embedding left out: the
part of the loop every face model shares (YuNet, dlib's landmarks, the warp onto the model's
template, the quality gate), on one thread.

    python -m benchmarks.faces.align_time VIDEO [-m MODEL] [--repeat 3]

Prints JSON: frames, faces found a frame, and milliseconds a frame (each pass over the video, and
their median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import cv2

from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.faces.regions import make_regions
from edge_runtime.inference.embedder import read_model_info


def read_frames(video: str) -> list:
    """Every frame of `video`, decoded beforehand so that decoding is not timed."""
    capture, frames = cv2.VideoCapture(video), []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video")
    parser.add_argument("-m", "--model", default=packaged_model(DEFAULT_MODEL), help="whose template faces are cut to")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frames = read_frames(args.video)
    if not frames:
        raise SystemExit(f"no frames in {args.video}")
    finder = make_regions(read_model_info(args.model), "auto")
    faces = sum(len(finder.find(frame)) for frame in frames)  # also warms up
    passes = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for frame in frames:
            finder.find(frame)
        passes.append(1000 * (time.perf_counter() - start) / len(frames))
    report = {"video": args.video, "frames": len(frames), "faces a frame": faces / len(frames),
              "ms a frame": [round(ms, 2) for ms in passes],
              "median ms a frame": round(statistics.median(passes), 2)}  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
