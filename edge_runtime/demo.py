"""`edge-demo`: the main job on the bundled default, no camera needed.

The bundled face model was trained on 30 AT&T subjects; the 10 it never saw are listed beside it.
Five of those are enrolled with ONE image each; a 640×480 video is made from the other images of
all ten; `edge-recognize`'s loop runs on it headless. Frames of the five never-enrolled subjects
must come out "unknown". It prints who was seen and the per-frame accuracy, and writes the
annotated video.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import cv2

from edge_runtime.command_line import CONTEXT, one_line_errors
from edge_runtime.embedder import Embedder
from edge_runtime.enrollment import enroll_images, new_gallery
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.outputs import JsonLinesSink, VideoFileSink
from edge_runtime.pipeline import RecognitionLoop
from edge_runtime.preprocessing import read_image
from edge_runtime.recognizer import UNKNOWN, Recognizer
from edge_runtime.sources import open_source
from edge_runtime.tracker import IouTracker

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parent
DEMO_MODEL = PACKAGE / "models" / "att_faces_demo.int8.onnx"
DEMO_SPLIT = PACKAGE / "models" / "att_faces_demo.json"
DEMO_DATA = PACKAGE.parent / "data" / "demo" / "att_faces"
FRAMES_PER_IMAGE = 3


def build_demo_video(data: Path, subjects: list[str], path: Path, size=(640, 480)) -> list[str]:
    """Write a video of images 2–10 of each subject (3 frames each); returns each frame's subject."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, size)
    truth = []
    for subject in subjects:
        for image_path in sorted((data / subject).iterdir())[1:]:
            frame = cv2.resize(read_image(image_path), size, interpolation=cv2.INTER_LINEAR)
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame
            for _ in range(FRAMES_PER_IMAGE):
                writer.write(frame)
                truth.append(subject)
    writer.release()
    return truth


@click.command(context_settings=CONTEXT)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"))
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DATA)
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=DEMO_MODEL)
@one_line_errors()
def main(out: Path, data: Path, model: Path) -> None:
    """Run the one-shot face demo on the bundled model and data, headless."""
    click.echo(json.dumps(run_demo(out, data, model), indent=2))


def run_demo(out: Path, data: Path, model: Path) -> dict:
    """Enroll, build the video, recognise it and score every frame."""
    if not data.is_dir():
        raise SiameseEdgeError(f"demo data {data} not found; pass --data (data/demo/att_faces of the repository)")
    subjects = json.loads(DEMO_SPLIT.read_text())["never_trained_on"]
    enrolled, strangers = subjects[:5], subjects[5:]
    out.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(model, providers=("cpu",))
    gallery = new_gallery(embedder)
    for subject in enrolled:
        enroll_images(gallery, embedder, subject, [sorted((data / subject).iterdir())[0]])
    gallery.save(out / "gallery.npz")
    truth = build_demo_video(data, enrolled + strangers, out / "demo_input.mp4")
    source = open_source(str(out / "demo_input.mp4"))
    with open(out / "events.jsonl", "w") as events:
        loop = RecognitionLoop(
            source,
            Recognizer(embedder, gallery),
            IouTracker(smooth=FRAMES_PER_IMAGE, min_votes=2),
            video=VideoFileSink(out / "demo_annotated.mp4", source.rate),
            events=JsonLinesSink(events),
        )
        summary = loop.run()
    source.close()
    names = [json.loads(line)["name"] for line in (out / "events.jsonl").read_text().splitlines()]
    expected = [s if s in enrolled else UNKNOWN for s in truth]
    right = sum(n == e for n, e in zip(names, expected, strict=True))
    known = [i for i, e in enumerate(expected) if e != UNKNOWN]
    return {
        "enrolled (one image each)": enrolled,
        "never enrolled": strangers,
        "seen": dict(sorted(summary.appearances.items())),
        "frames": summary.frames,
        "accuracy": round(right / len(expected), 4),
        "enrolled frames named right": round(sum(names[i] == expected[i] for i in known) / len(known), 4),
        "never-enrolled frames called unknown": round(
            sum(names[i] == UNKNOWN for i in range(len(expected)) if expected[i] == UNKNOWN)
            / max(1, len(expected) - len(known)),
            4,
        ),
        "fps": round(summary.fps, 1),
        "annotated video": str(out / "demo_annotated.mp4"),
    }


if __name__ == "__main__":
    main()
