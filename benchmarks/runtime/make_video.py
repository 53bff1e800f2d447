"""Write a 640×480 test video: AT&T faces (scaled ×2) drifting across a textured background.

Also writes ENROLL/<subject>/1.png: image 1 of the first five subjects, framed the same way, so
that the face detector finds them at enrollment as it does in the video.

Usage: python benchmarks/runtime/make_video.py OUT.mp4 ENROLL [--frames 300] [--data data/demo/att_faces]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("enroll", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "data" / "demo" / "att_faces")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 200, (480, 640, 3), dtype=np.uint8), (31, 31), 0)
    subjects = sorted(p for p in args.data.iterdir() if p.is_dir())
    writer = cv2.VideoWriter(str(args.out), cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    for frame_index in range(args.frames):
        frame = background.copy()
        subject = subjects[(frame_index // 30) % len(subjects)]
        face = cv2.imread(str(subject / f"{2 + (frame_index // 10) % 9}.png"))
        face = cv2.resize(face, (202, 246))
        x = 60 + (frame_index * 3) % 360
        frame[120:366, x : x + 202] = face
        writer.write(frame)
    writer.release()
    for subject in subjects[:5]:
        frame = background.copy()
        frame[120:366, 219:421] = cv2.resize(cv2.imread(str(subject / "1.png")), (202, 246))
        (args.enroll / subject.name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.enroll / subject.name / "1.png"), frame)
    print(f"wrote {args.out}: {args.frames} frames, 640x480")


if __name__ == "__main__":
    main()
