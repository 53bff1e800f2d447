"""End-to-end mode: `edge-recognize`'s pipeline on a video file, with the time of each stage."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edge_runtime.embedder import Embedder
from edge_runtime.enrollment import enroll_folder, new_gallery
from edge_runtime.outputs import VideoFileSink
from edge_runtime.pipeline import RecognitionLoop
from edge_runtime.recognizer import Recognizer
from edge_runtime.regions import make_regions
from edge_runtime.sources import open_source


def video_benchmark(model: str, provider: str, video: str, detector: str, enroll: str | None) -> dict:
    """FPS and mean milliseconds per frame of decode, detect, embed+match and draw+encode on `video`.

    Without an enrollment folder the gallery holds 1,000 random identities: the timing is the
    same, the names are meaningless.
    """
    embedder = Embedder(model, providers=(provider,))
    finder = make_regions(embedder.info, detector)
    gallery = new_gallery(embedder)
    if enroll:
        enroll_folder(gallery, embedder, enroll, finder)
    else:
        vectors = np.random.default_rng(0).normal(size=(1000, embedder.info.embedding_size)).astype(np.float32)
        for i, vector in enumerate(vectors / np.linalg.norm(vectors, axis=1, keepdims=True)):
            gallery.add(f"random{i}", vector)
    source = open_source(video)
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        sink = VideoFileSink(Path(scratch) / "annotated.mp4", source.rate)
        try:
            summary = RecognitionLoop(source, Recognizer(embedder, gallery, finder, threshold=0.5), video=sink).run()
        finally:
            source.close()
    return {
        "model": model,
        "precision": embedder.info.precision,
        "provider": provider,
        "detector": detector,
        "frames": summary.frames,
        "fps": summary.fps,
        **{f"{stage}_ms": value for stage, value in summary.stage_ms().items()},
    }
