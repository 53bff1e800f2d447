"""End-to-end mode: `edge-recognize`'s pipeline on one video file or several at once (one stream
each, one model and gallery for all, as `edge-recognize -i A -i B`), with the time of each stage and
each stream's rate and latency."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.enrollment import enroll_folder, new_gallery
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.inference.embedder import Embedder
from edge_runtime.io.outputs import VideoFileSink
from edge_runtime.loop.pipeline import RecognitionLoop
from edge_runtime.loop.streams import open_streams, plan_streams, stream_output


def video_benchmark(model: str, provider: str, videos: list[str], detector: str, enroll: str | None,
                    landmarks: str = "dlib") -> dict:  # fmt: skip
    """FPS (all streams together) and mean milliseconds per frame of decode, detect, embed+match and
    draw+encode on `videos`, each an annotated video of its own; each stream's FPS and latency.

    Without an enrollment folder the gallery holds 1,000 random identities: the timing is the
    same, the names are meaningless.
    """
    embedder = Embedder(model, providers=(provider,))
    finder = make_regions(embedder.info, detector, landmarks=landmarks)
    gallery = new_gallery(embedder)
    if enroll:
        enroll_folder(gallery, embedder, enroll, finder)
    else:
        vectors = np.random.default_rng(0).normal(size=(1000, embedder.info.embedding_size)).astype(np.float32)
        for i, vector in enumerate(vectors / np.linalg.norm(vectors, axis=1, keepdims=True)):
            gallery.add(f"random{i}", vector)
    streams = open_streams(plan_streams(videos))
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        for stream in streams:
            path = stream_output(Path(scratch) / "annotated.mp4", stream.name)
            stream.video = VideoFileSink(path, stream.source.rate)
        try:
            summary = RecognitionLoop(streams, Recognizer(embedder, gallery, finder, threshold=0.5)).run()
        finally:
            for stream in streams:
                stream.source.close()
    return {
        "model": model,
        "precision": embedder.info.precision,
        "provider": provider,
        "detector": detector,
        "landmarks": landmarks,
        "streams": len(streams),
        "frames": summary.frames,
        "fps": summary.fps,
        **{f"{stage}_ms": value for stage, value in summary.stage_ms().items()},
        "frames_per_batch": summary.frames_per_batch,
        "per_stream": [_stream_report(s) for s in summary.streams],
    }


def _stream_report(stream) -> dict:
    """One stream's frames, FPS and latency (mean and 95th percentile)."""
    latency, p95 = stream.latency_ms()
    return {"stream": stream.name, "frames": stream.frames, "fps": stream.fps, "latency_ms": latency,
            "latency_p95_ms": p95}  # fmt: skip
