"""The recognition loop: capture, inference and output run in their own threads, so throughput is
set by the slowest stage, not by their sum.

    capture thread ──frames──▶ inference thread ──results──▶ output (main thread: draw, write, show)

Files are read without dropping a frame (the queues block); live sources already drop stale
frames in their grabber. Photos (a folder, image files) pass through `SeparateImages` instead of
the tracker, and their file name goes with each result. Ctrl-C (and SIGTERM, see `command_line`)
stops cleanly: the video file is finalised before returning.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_runtime.names import UNKNOWN
from edge_runtime.outputs import JsonLinesSink, VideoFileSink, annotate
from edge_runtime.recognizer import Recognizer
from edge_runtime.regions import image_problem
from edge_runtime.tracker import IouTracker, SeparateImages, TrackedRecognition

log = logging.getLogger(__name__)
STAGES = ("decode", "detect", "embed_match", "draw_write")
_END = object()


@dataclass
class LoopSummary:
    """What a run did: frames, rate, per-stage latency, and who was seen (appearance events)."""

    frames: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    appearances: Counter = field(default_factory=Counter)
    interrupted: bool = False
    _counted: set = field(default_factory=set, repr=False)

    @property
    def fps(self) -> float:
        """Frames per second over the whole run."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def stage_ms(self) -> dict[str, float]:
        """Mean milliseconds per frame in each stage."""
        return {k: 1000.0 * v / max(1, self.frames) for k, v in self.stage_seconds.items()}

    def count(self, result: TrackedRecognition) -> None:
        """Count an appearance: each identity once per track (a track confirming ann, then unknown,
        then ann again is one appearance of ann), each named photo once."""
        if not result.is_new or result.name == UNKNOWN:
            return
        key = (result.track_id, result.name)
        if result.track_id is None or key not in self._counted:
            self._counted.add(key)
            self.appearances[result.name] += 1


@dataclass
class _Frame:
    index: int
    timestamp: float
    image: np.ndarray
    decode: float
    file: str | None = None  # a photo's file name
    results: list[TrackedRecognition] = field(default_factory=list)
    note: str | None = None  # why a photo gave no result
    detect: float = 0.0
    embed: float = 0.0


class RecognitionLoop:
    """Run a recognizer over a source until it ends, `max_frames` pass, or the user stops it.

    `tracker` defaults to an `IouTracker` for videos and cameras, `SeparateImages` for photos.
    """

    def __init__(
        self,
        source,
        recognizer: Recognizer,
        tracker: IouTracker | SeparateImages | None = None,
        *,
        video: VideoFileSink | None = None,
        events: JsonLinesSink | None = None,
        show: bool = False,
        max_frames: int | None = None,
        on_key: Callable[[int, np.ndarray, list[TrackedRecognition]], None] | None = None,
    ) -> None:
        self.source, self.recognizer = source, recognizer
        self.tracker = tracker or (SeparateImages() if source.separate_images else IouTracker())
        self.video, self.events, self.show, self.max_frames, self.on_key = video, events, show, max_frames, on_key
        self.stop = threading.Event()
        self.frames: queue.Queue = queue.Queue(maxsize=4)
        self.results: queue.Queue = queue.Queue(maxsize=4)
        self.errors: list[BaseException] = []

    def run(self) -> LoopSummary:
        """Process the source; returns the summary (also after Ctrl-C)."""
        summary = LoopSummary()
        workers = [
            threading.Thread(target=self._guard(self._capture), name="capture", daemon=True),
            threading.Thread(target=self._guard(self._infer), name="inference", daemon=True),
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        try:
            self._output(summary)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            self.stop.set()
            self._drain()
            for worker in workers:
                worker.join(timeout=5.0)
            if self.video is not None:
                self.video.close()
            if self.show:
                cv2.destroyAllWindows()
        summary.seconds = time.perf_counter() - started
        if self.errors:
            raise self.errors[0]
        return summary

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as error:  # handed to the main thread, which re-raises it
                self.errors.append(error)
                self.stop.set()
            finally:
                self._put(self.frames if target == self._capture else self.results, _END)

        return run

    def _put(self, channel: queue.Queue, item) -> None:
        while True:
            try:
                channel.put(item, timeout=0.1)
                return
            except queue.Full:
                if self.stop.is_set() and item is not _END:
                    return

    def _drain(self) -> None:
        for channel in (self.frames, self.results):
            while not channel.empty():
                channel.get_nowait()

    def _capture(self) -> None:
        index = 0
        while not self.stop.is_set() and (self.max_frames is None or index < self.max_frames):
            started = time.perf_counter()
            image = self.source.read()
            if image is None:
                if self.source.is_live and not self.source.closed:
                    continue  # nothing yet: the grabber goes on reconnecting
                return
            decoded = time.perf_counter() - started
            self._put(self.frames, _Frame(index, time.time(), image, decoded, self.source.last_file))
            index += 1

    def _infer(self) -> None:
        while True:
            item = self.frames.get()
            if item is _END or self.stop.is_set():
                return
            started = time.perf_counter()
            regions = self.recognizer.regions.find(item.image)  # detect, cut (faces: levelled), vet
            detected = time.perf_counter()
            recognitions = self.recognizer.recognize_regions(regions)
            item.results = self.tracker.update(recognitions)
            if item.file is not None and not regions:
                item.note = self._nothing_in(item)
            item.detect, item.embed = detected - started, time.perf_counter() - detected
            self._put(self.results, item)

    @staticmethod
    def _nothing_in(photo: _Frame) -> str:
        problem = image_problem(photo.image)
        if problem:
            log.warning("skipped %s: %s", photo.file, problem)
            return "unusable image"
        return "nothing detected"

    def _output(self, summary: LoopSummary) -> None:
        window_started = time.perf_counter()
        while True:
            item = self.results.get()
            if item is _END:
                return
            started = time.perf_counter()
            fps = (summary.frames + 1) / max(1e-6, started - window_started)
            for result in item.results:
                summary.count(result)
            if self.events is not None:
                self.events.write(item.index, item.timestamp, item.results, item.file, item.note)
            if self.video is not None or self.show:
                canvas = annotate(item.image, item.results, fps)
                if self.video is not None:
                    self.video.write(canvas)
                if self.show:
                    cv2.imshow("siamese-edge", canvas)
                    key = cv2.waitKey(1) & 0xFF
                    if key in (ord("q"), 27):
                        raise KeyboardInterrupt
                    if key != 255 and self.on_key is not None:
                        self.on_key(key, item.image, item.results)
            summary.frames += 1
            timings = (item.decode, item.detect, item.embed, time.perf_counter() - started)
            for stage, seconds in zip(STAGES, timings, strict=True):
                summary.stage_seconds[stage] += seconds
