"""face_recognition (dlib) on the same video as `benchmarks.faces.video_test`, for reference.

What face_recognition users do: `face_locations` (dlib's HOG detector), `face_encodings` (dlib's
5-point alignment and face ResNet), and a name when the nearest enrolled encoding lies within its
default tolerance of 0.6, frame by frame. It never becomes a dependency of the package; run it in
its own environment:

    python -m venv /tmp/fr && /tmp/fr/bin/pip install dlib-bin face-recognition-models numpy pillow click \
        'opencv-python<5' && /tmp/fr/bin/pip install --no-deps face-recognition
    /tmp/fr/bin/python -m benchmarks.faces.face_recognition_reference OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.identity.names import UNKNOWN
from edge_runtime.io.photo_video import score_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder `video_test make` wrote")
    parser.add_argument("--tolerance", type=float, default=0.6)
    args = parser.parse_args()
    import face_recognition

    names, known = [], []
    for photo in sorted((args.out / "enroll").glob("*/*")):
        encodings = face_recognition.face_encodings(face_recognition.load_image_file(photo))
        if encodings:
            names.append(photo.parent.name)
            known.append(encodings[0])
    known = np.array(known)
    video = cv2.VideoCapture(str(args.out / "video.mp4"))
    events, frame_index, started = [], 0, time.perf_counter()
    while True:
        ok, frame = video.read()
        if not ok:
            break
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        locations = face_recognition.face_locations(rgb)
        for (top, right, bottom, left), encoding in zip(
            locations, face_recognition.face_encodings(rgb, locations), strict=True
        ):
            distances = np.linalg.norm(known - encoding, axis=1)
            best = int(np.argmin(distances))
            name = names[best] if distances[best] <= args.tolerance else UNKNOWN
            events.append({"frame": frame_index, "box": [left, top, right - left, bottom - top], "name": name})
        frame_index += 1
    seconds = time.perf_counter() - started
    report = score_events(json.loads((args.out / "truth.json").read_text())["frames"], events)
    report["fps"] = round(frame_index / seconds, 2)
    report["enrolled"] = len(names)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
