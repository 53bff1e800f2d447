"""The recognition loop over one stream or several, with one model and one gallery for all.

    a thread per stream ──▶ a thread per stream ──mailboxes──▶ batch thread ──batches──▶ output (main thread)
    (read, detect)          (align and vet faces,             (embed all, match,        (JSON lines, videos,
                             cut regions)                       track per stream)          window)

Each stream reads and detects in a thread of its own, and cuts what it found (faces: landmarks,
alignment, the quality gate) in a second one, so that on a machine with cores to spare the next
frame is detected while this one is aligned and the previous one embedded: the slowest stage, not
the sum of all, sets the pace. The batch thread embeds the faces found in the newest frames of
every stream in ONE batch (one call to the model), matches them against the one gallery and passes
each stream's recognitions to that stream's own tracker; the main thread writes every frame's JSON
lines and annotated video, and the grid of all streams (window, `--mosaic`).

Fairness (round robin): a batch takes at most one frame from each stream, once every stream has one
ready or `batch_wait` after the first came, whichever is sooner: a busy stream adds faces to a batch
but never takes another stream's place, a slow one holds the others up `batch_wait` at most, and one
silent for a second (a camera reconnecting) is not waited for. Live streams hand over their newest
frame only (between the reader and the aligner too); files and photos every frame, in order (their
threads wait for room). A stream that ends is finished (its video finalised) while the others go
on; the run ends when every stream has ended or passed `max_frames`, on `q` (or Esc) in the window,
or on Ctrl-C / SIGTERM (see `command_line`), which finalise every video. A key handler (`e` enrols)
runs without the gallery lock, so the other streams go on while a name is typed; it takes
`gallery_lock` itself, only to change the gallery.
Photos pass through `SeparateImages` instead of a tracker, and their file name goes with each
result.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_runtime.faces.regions import Region, image_problem
from edge_runtime.fleet.mqtt_events import EventPublisher
from edge_runtime.identity.recognizer import Recognizer
from edge_runtime.identity.tracker import IouTracker, SeparateImages, TrackedRecognition
from edge_runtime.imaging.detectors import Detection, box_area
from edge_runtime.io.mosaic import Mosaic
from edge_runtime.io.outputs import JsonLinesSink, OutputError, VideoFileSink, annotate
from edge_runtime.loop.mailbox import Mailbox
from edge_runtime.loop.run_summary import STAGES, LoopSummary, StreamSummary
from edge_runtime.loop.streams import Stream

__all__ = ["STAGES", "LoopSummary", "RecognitionLoop", "Stream", "StreamSummary"]
log = logging.getLogger(__name__)
_END = object()
UNREADABLE = "unreadable image"  # a photo's JSON "skipped" when it could not be decoded
BATCH_WAIT = 0.02  # seconds a batch waits, after a first frame, for the other streams' next frames
SILENT = 1.0  # a stream that has handed over nothing for this long is not waited for
KeyHandler = Callable[[int, np.ndarray, list[TrackedRecognition]], None]
QUIT_KEYS = (ord("q"), 27)  # q, Esc


class _Quit(Exception):
    """The user pressed q (or Esc) in the window."""


@dataclass
class _Frame:
    stream: int
    index: int
    timestamp: float
    image: np.ndarray | None  # None: a photo that could not be decoded (its `note` says so)
    read_at: float  # perf_counter when the frame was read
    decode: float
    detect: float
    detections: list[Detection]
    file: str | None = None  # a photo's file name
    regions: list[Region] = field(default_factory=list)
    align: float = 0.0
    note: str | None = None  # why a photo gave no result
    results: list[TrackedRecognition] = field(default_factory=list)
    embed: float = 0.0


@dataclass
class _Batch:
    frames: list[_Frame]
    ended: list[int]  # streams whose last frame is in this batch or an earlier one


class RecognitionLoop:
    """Run a recognizer over one source or several (`Stream`s, or bare sources named stream1, …)
    until every one ends, each has given `max_frames`, or the user stops it.

    `tracker` is the single stream's tracker (several streams: give each `Stream` its own; unset,
    it follows the source). `video` receives what the window shows: the single stream's annotated
    frames, or with several streams their grid; each `Stream.video` receives that stream's frames.
    """

    def __init__(
        self,
        sources,
        recognizer: Recognizer,
        tracker: IouTracker | SeparateImages | None = None,
        *,
        video: VideoFileSink | None = None,
        events: JsonLinesSink | None = None,
        publisher: EventPublisher | None = None,
        show: bool = False,
        max_frames: int | None = None,
        on_key: KeyHandler | None = None,
        batch_wait: float = BATCH_WAIT,
        live=None,
    ) -> None:
        self.streams = _as_streams(sources)
        if tracker is not None:
            if len(self.streams) > 1:
                raise ValueError("several streams need a tracker each: give Stream(source, name, tracker)")
            self.streams[0].tracker = tracker
        for stream in self.streams:
            stream.tracker = stream.tracker or (SeparateImages() if stream.source.separate_images else IouTracker())
            stream.regions = stream.regions or recognizer.regions.for_another_thread()
        if len(self.streams) == 1 and self.streams[0].video is None:
            self.streams[0].video, video = video, None
        self.recognizer, self.grid_video, self.events, self.show = recognizer, video, events, show
        self.max_frames, self.on_key, self.batch_wait = max_frames, on_key, batch_wait
        self.live = live  # the web server's view of every frame (`serve.live.LiveHub`), or None
        self.publisher = publisher  # appearances on MQTT (--events): queued, never waited for
        self.mosaic = Mosaic([s.name for s in self.streams]) if show or video is not None else None
        self.stop = threading.Event()
        self.bell = threading.Condition()
        self.mailboxes = [Mailbox(self.bell, s.source.is_live) for s in self.streams]
        self.detected = [Mailbox(threading.Condition(), s.source.is_live, room=1) for s in self.streams]
        self.results: queue.Queue = queue.Queue(maxsize=4)
        self.gallery_lock = threading.Lock()  # held to match, and by a key handler only to change the gallery
        self.errors: list[BaseException] = []
        self.started = 0.0

    def run(self) -> LoopSummary:
        """Process every stream; returns the summary (also after Ctrl-C)."""
        summary = LoopSummary(streams=[StreamSummary(s.name) for s in self.streams])
        workers = [
            threading.Thread(target=stage, args=(i,), name=f"{name}-{s.name}", daemon=True)
            for i, s in enumerate(self.streams)
            for stage, name in ((self._read, "stream"), (self._align, "align"))
        ]
        workers.append(threading.Thread(target=self._batches, args=(summary,), name="batch", daemon=True))
        self.started = time.perf_counter()
        for worker in workers:
            worker.start()
        try:
            self._output(summary)
        except _Quit:
            summary.quit = True
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            self.stop.set()
            with self.bell:
                self.bell.notify_all()
            _drain(self.results)
            for worker in workers:
                worker.join(timeout=5.0)
            self._close_videos()
        summary.seconds = time.perf_counter() - self.started
        for number, (stream, stats) in enumerate(zip(self.streams, summary.streams, strict=True)):
            stats.dropped = self.dropped(number)
            stats.reconnects = getattr(stream.source, "reconnects", 0)
            if stats.state == "running":
                stats.state = "stopped"
        if self.errors:
            raise self.errors[0]
        return summary

    def dropped(self, number: int) -> int:
        """Frames of stream `number` left for newer ones so far (by its reader, its aligner or its source)."""
        source = self.streams[number].source
        return self.mailboxes[number].dropped + self.detected[number].dropped + getattr(source, "skipped", 0)

    def _close_videos(self) -> None:
        """Finalise every video, even after one could not be written (that error is raised after)."""
        failed = None
        for video in [s.video for s in self.streams] + [self.grid_video]:
            if video is not None:
                try:
                    video.close()
                except OutputError as error:
                    failed = failed or error
        if self.show:
            cv2.destroyAllWindows()
        if failed is not None:
            raise failed

    def _read(self, number: int) -> None:
        """A stream's first thread: read each frame (a live source's newest), detect, hand it to the aligner."""
        stream, handoff = self.streams[number], self.detected[number]
        index, why = 0, "ended"
        try:
            while not self.stop.is_set() and self.mailboxes[number].finished is None:  # (the aligner failed)
                if self.max_frames is not None and index >= self.max_frames:
                    why = "stopped"
                    break
                started = time.perf_counter()
                image = stream.source.read()
                for file in _unreadable(stream.source):  # photos skipped on the way: a JSON line each
                    handoff.put(_Frame(number, index, time.time(), None, time.perf_counter(), 0.0, 0.0, [], file,
                                       note=UNREADABLE), self.stop)  # fmt: skip
                    index += 1
                if image is None:
                    if stream.source.is_live and not stream.source.closed:
                        continue  # nothing yet: the grabber goes on reconnecting
                    break
                read_at = time.perf_counter()
                detections = stream.regions.detect(image)
                frame = _Frame(number, index, time.time(), image, read_at, read_at - started,
                               time.perf_counter() - read_at, detections, stream.source.last_file)  # fmt: skip
                handoff.put(frame, self.stop)
                index += 1
        except Exception as error:  # handed to the main thread, which re-raises it once the others are done
            why = self._failed(number, error)
        finally:
            handoff.finish("stopped" if self.stop.is_set() else why)

    def _align(self, number: int) -> None:
        """A stream's second thread: cut the regions the reader found (faces: landmarks, alignment,
        quality gate), hand the frame to the batch thread."""
        stream, handoff, mailbox = self.streams[number], self.detected[number], self.mailboxes[number]
        why = "ended"
        try:
            while (frame := handoff.wait_take(self.stop)) is not None:
                started = time.perf_counter()
                frame.regions = stream.regions.cut(frame.image, frame.detections) if frame.image is not None else []
                frame.align = time.perf_counter() - started
                if frame.file is not None and not frame.regions and frame.note is None:
                    frame.note = _nothing_in(frame)
                mailbox.put(frame, self.stop)
            why = handoff.finished or why
        except Exception as error:
            why = self._failed(number, error)
        finally:
            mailbox.finish("stopped" if self.stop.is_set() else why)

    def _failed(self, number: int, error: Exception) -> str:
        """Keep a stream's error for the main thread, which re-raises it once the others are done."""
        self.errors.append(error)
        if len(self.streams) > 1:
            log.error("stream %s failed: %s; the others go on", self.streams[number].name, error)
        return f"failed: {error}"

    def _batches(self, summary: LoopSummary) -> None:
        """The batch thread: one frame from each stream that has one, embedded together, tracked per stream."""
        try:
            while (batch := self._next_batch()) is not None:
                if batch.frames:
                    self._recognize(batch.frames, summary)
                _put(self.results, batch, self.stop)
        except BaseException as error:  # handed to the main thread, which re-raises it
            self.errors.append(error)
            self.stop.set()
        finally:
            _put(self.results, _END, self.stop, always=True)

    def _next_batch(self) -> _Batch | None:
        """The next frame of every stream, once all that are expected have one or `batch_wait` after
        the first came (or the streams that ended since the last batch); None when every stream has
        ended or on stop."""
        deadline = None
        with self.bell:
            while not self.stop.is_set():
                now = time.perf_counter()
                ready = [m for m in self.mailboxes if m.items]
                if ready and deadline is None:
                    deadline = now + self.batch_wait
                waiting = any(m.expected(now, SILENT) for m in self.mailboxes if not m.items)
                if ready and (now >= deadline or not waiting):
                    frames = [m.take() for m in ready]
                    return _Batch(frames, self._newly_ended())
                if not ready and (ended := self._newly_ended()):
                    return _Batch([], ended)
                if all(m.reported for m in self.mailboxes):
                    return None
                self.bell.wait(0.1 if deadline is None else max(0.0, deadline - now))
        return None

    def _newly_ended(self) -> list[int]:
        ended = [i for i, m in enumerate(self.mailboxes) if m.done and not m.reported]
        for i in ended:
            self.mailboxes[i].reported = True
        return ended

    def _recognize(self, frames: list[_Frame], summary: LoopSummary) -> None:
        started = time.perf_counter()
        with self.gallery_lock:
            found = self.recognizer.recognize_frames([f.regions for f in frames])
        for frame, recognitions in zip(frames, found, strict=True):
            frame.results = self.streams[frame.stream].tracker.update(recognitions)
        share = (time.perf_counter() - started) / len(frames)
        for frame in frames:
            frame.embed = share
        summary.batches += 1
        summary.batched_frames += len(frames)
        summary.batched_faces += sum(r.skipped is None for f in frames for r in f.regions)

    def _output(self, summary: LoopSummary) -> None:
        """The main thread: every frame's JSON lines and video, finished streams, the grid and the window."""
        while (batch := self.results.get()) is not _END:
            for frame in batch.frames:
                self._write(frame, summary)
            for number in batch.ended:
                self._finish(number, summary)
            shown = [frame for frame in batch.frames if frame.image is not None]
            if self.mosaic is not None and shown:
                self._show(self.mosaic.frame(), shown)

    def _write(self, frame: _Frame, summary: LoopSummary) -> None:
        stream, stats = self.streams[frame.stream], summary.streams[frame.stream]
        started = time.perf_counter()
        for result in frame.results:
            summary.count(result, stats)
        summary.note_frame(frame.results)
        if self.events is not None:
            self.events.write(frame.index, frame.timestamp, frame.results, frame.file, frame.note, stream.name)
        if self.publisher is not None:
            self.publisher.publish(stream.name, frame.timestamp, frame.results, frame.image)
        if frame.image is not None and (stream.video is not None or self.mosaic is not None):
            fps = (stats.frames + 1) / max(1e-6, started - self.started)
            canvas = annotate(frame.image, frame.results, fps)
            if stream.video is not None:
                stream.video.write(canvas)
            if self.mosaic is not None:
                self.mosaic.update(stream.name, canvas)
        done = time.perf_counter()
        stats.add(done - frame.read_at, done - self.started)
        if self.live is not None:
            self.live.write(stream.name, frame.image, frame.results, frame.regions, stats, self.dropped(frame.stream))
        summary.frames += 1
        for stage, seconds in zip(
            STAGES, (frame.decode, frame.detect, frame.align, frame.embed, done - started), strict=True
        ):
            summary.stage_seconds[stage] += seconds

    def _finish(self, number: int, summary: LoopSummary) -> None:
        """A stream has ended: finalise its video now and say so (the others go on)."""
        stream, stats = self.streams[number], summary.streams[number]
        stats.state = self.mailboxes[number].finished or "ended"
        if stream.video is not None:
            stream.video.close()
        if self.mosaic is not None:
            self.mosaic.end(stream.name)
        if len(self.streams) > 1:
            log.info("stream %s %s after %d frames", stream.name, stats.state.split(":")[0], stats.frames)

    def _show(self, view: np.ndarray, frames: list[_Frame]) -> None:
        if self.grid_video is not None:
            self.grid_video.write(view)
        if not self.show:
            return
        cv2.imshow("siamese-edge", view)
        key = cv2.waitKey(1) & 0xFF
        if key in QUIT_KEYS:
            raise _Quit
        if key != 255 and self.on_key is not None:
            shown = max(frames, key=lambda f: max((box_area(r.box) for r in f.results), default=0))
            self.on_key(key, shown.image, shown.results)  # unlocked: it may wait for typing


def _as_streams(sources) -> list[Stream]:
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise ValueError("nothing to recognise: give at least one source")
    streams = [item if isinstance(item, Stream) else Stream(item, f"stream{i}") for i, item in enumerate(items, 1)]
    names = [s.name for s in streams]
    if len(set(names)) != len(names):
        raise ValueError(f"stream names must differ: {', '.join(names)}")
    return streams


def _unreadable(source) -> list[str]:
    """The photos a source skipped as undecodable since last asked (it warned of each already)."""
    skipped = getattr(source, "unreadable", None)
    if not skipped:
        return []
    files = [file for file, _ in skipped]
    skipped.clear()
    return files


def _nothing_in(photo: _Frame) -> str:
    problem = image_problem(photo.image)
    if problem:
        log.warning("skipped %s: %s", photo.file, problem)
        return "unusable image"
    return "nothing detected"


def _put(channel: queue.Queue, item, stop: threading.Event, always: bool = False) -> None:
    """Put `item`, waiting for room; give up once `stop` is set, unless `always`."""
    while True:
        try:
            channel.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set() and not always:
                return


def _drain(channel: queue.Queue) -> None:
    while not channel.empty():
        channel.get_nowait()
