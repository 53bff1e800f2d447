"""`edge-demo`: the main job on the bundled default, no camera needed.

The bundled face model (dlib's face ResNet, converted) and the demo's LFW photos: people it never
saw. Each person in `enrolled/` is enrolled from ONE photo; a 640×480 video is made of their other
photos and of the photos of the people in `strangers/`, who are never enrolled and must come out
"unknown". `edge-recognize`'s loop runs on it headless: YuNet finds each face and its five
landmarks, the face is warped onto the model's template, vetted by the quality gate, embedded and
matched. It prints who was seen and how each shown face was named, and writes the annotated video.
"""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from pathlib import Path

import click

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.core.command_line import CONTEXT, one_line_errors, verbose_option
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.face_alignment import LANDMARKS
from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.enrollment import enroll_images, new_gallery
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.tracker import IouTracker
from edge_runtime.imaging.preprocessing import image_files
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.outputs import JsonLinesSink, VideoFileSink
from edge_runtime.io.photo_video import score_events, write_photo_video
from edge_runtime.io.sources import open_source
from edge_runtime.loop.pipeline import RecognitionLoop

log = logging.getLogger(__name__)
DEMO_DATA = Path(str(files("edge_runtime") / "demo_data" / "lfw"))  # package data: found from any install
FRAMES_PER_PHOTO = 10


def _people(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


@click.command(context_settings=CONTEXT)
@verbose_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/demo"))
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEMO_DATA,
    help="enrolled/<person>/<photos> (the first photo is enrolled) and strangers/<person>/<photos>.",
)
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), help="Default: the bundled face model.")
@click.option("--landmarks", type=click.Choice(LANDMARKS), default="dlib", help="What finds the face landmarks.")
@one_line_errors()
def main(out: Path, data: Path, model: Path | None, landmarks: str) -> None:
    """Run the one-shot face demo on the bundled model and photos, headless."""
    click.echo(json.dumps(run_demo(out, data, model or Path(packaged_model(DEFAULT_MODEL)), landmarks), indent=2))


def run_demo(out: Path, data: Path, model: Path, landmarks: str = "dlib") -> dict:
    """Enroll one photo per person, build the video, recognise it and score every face shown."""
    enrolled, strangers = _people(data / "enrolled"), _people(data / "strangers")
    if not enrolled or not strangers:
        raise SiameseEdgeError(f"demo data {data} needs enrolled/<person>/ and strangers/<person>/ photo folders")
    out.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(model, providers=("cpu",))
    regions = make_regions(embedder.info, landmarks=landmarks)  # once: it loads models
    gallery = new_gallery(embedder, regions=regions)
    shown = []
    for person in enrolled:
        first, *others = image_files(person)
        enroll_images(gallery, embedder, person.name, [first], regions)
        shown += [(person.name, photo) for photo in others]
    shown += [(UNKNOWN, photo) for person in strangers for photo in image_files(person)]
    gallery.save(out / "gallery.npz")
    truth = write_photo_video(shown, out / "demo_input.mp4", FRAMES_PER_PHOTO)
    source = open_source(str(out / "demo_input.mp4"))
    try:
        with atomic_path(out / "events.jsonl") as temporary, open(temporary, "w") as events:
            loop = RecognitionLoop(
                source,
                Recognizer(embedder, gallery, regions),
                IouTracker(smooth=FRAMES_PER_PHOTO // 2, min_votes=3),
                video=VideoFileSink(out / "demo_annotated.mp4", source.rate),
                events=JsonLinesSink(events),
            )
            summary = loop.run()
    finally:
        source.close()
    lines = (out / "events.jsonl").read_text().splitlines()
    scores = score_events(truth, [json.loads(line) for line in lines])
    return {
        "enrolled (one photo each)": [p.name for p in enrolled],
        "never enrolled": [p.name for p in strangers],
        "seen": dict(sorted(summary.appearances.items())),
        "frames": summary.frames,
        **scores,
        "fps": round(summary.fps, 1),
        "annotated video": str(out / "demo_annotated.mp4"),
    }


if __name__ == "__main__":
    main()
