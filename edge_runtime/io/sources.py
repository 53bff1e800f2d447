"""Video sources chosen by URI, as in jetson-inference: one `read()` whatever the source.

| URI | source |
| --- | --- |
| `0`, `1`, … | a camera by index |
| `/dev/video0` | a V4L2 camera by device path |
| `csi://0` | a Jetson CSI camera (GStreamer `nvarguscamerasrc`; needs JetPack's OpenCV) |
| `rtsp://…`, `http://…`, `https://…` | a network stream |
| a folder, an image file, several of these | photos: each image on its own, in name order |
| a file | a video file, every frame in order |

Live sources (cameras, streams) are read by a grabber thread that keeps only the newest frame,
so recognition never lags behind reality, and that reopens a vanished source with backoff; with
`keep_trying` (one stream among several) a source that does not open at all is retried the same way
instead of being an error.
Files and folders are read frame by frame, none dropped. Photos are separate pictures, not a
video (`separate_images`): they are recognised one by one, never tracked, and each keeps its file
name (`last_file`).

What every source offers the recognition loop: `read()` (the next frame, or None), `close()`,
`description`, `rate`, `is_live`, `separate_images` and `last_file`; a live source's `read(timeout)`
also returns None when no frame came in time, and its `closed` says whether that None is the end.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.errors import ImageReadError, SiameseEdgeError
from edge_runtime.core.words import counted
from edge_runtime.imaging.preprocessing import image_files, is_image_file, read_image

log = logging.getLogger(__name__)
STREAM_SCHEMES = ("rtsp", "rtmp", "http", "https")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class SourceError(SiameseEdgeError):
    """A video source cannot be opened."""


def csi_pipeline(sensor: int, width: int, height: int, rate: int) -> str:
    """The GStreamer pipeline of a Jetson CSI camera, delivering BGR frames to OpenCV."""
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={rate}/1, format=NV12 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! "
        "video/x-raw, format=BGR ! appsink drop=true max-buffers=1"
    )


class PhotoSource:
    """Separate photos: image files, and the images of folders in name order; unreadable files are
    skipped with a warning, and listed in `unreadable` (file, why) for the loop to report."""

    is_live = False
    separate_images = True

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [image for path in paths for image in (image_files(path) if path.is_dir() else [path])]
        if not self.paths:
            raise SourceError(f"{', '.join(map(str, paths))}: no images")
        self.position = 0
        self.description = f"{counted(len(self.paths), 'photo')} from {', '.join(map(str, paths))}"
        self.rate = 0.0
        self.last_file: str | None = None
        self.unreadable: list[tuple[str, str]] = []  # skipped since the loop last took them

    def read(self) -> np.ndarray | None:
        """The next image (its file name in `last_file`), or None at the end."""
        while self.position < len(self.paths):
            path = self.paths[self.position]
            self.position += 1
            try:
                image = read_image(path)
            except ImageReadError as error:
                log.warning("skipped %s", error)
                self.unreadable.append((str(path), str(error)))
                continue
            self.last_file = str(path)
            return image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return None

    def close(self) -> None:
        """Nothing to release."""


class VideoFileSource:
    """Every frame of a video file, in order."""

    is_live = False
    separate_images = False
    last_file = None

    def __init__(self, path: Path) -> None:
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise SourceError(f"cannot open video {path}: not a video OpenCV can decode")
        self.rate = self.capture.get(cv2.CAP_PROP_FPS) or 0.0
        self.description = f"video {path}"

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end."""
        ok, frame = self.capture.read()
        return frame if ok else None

    def close(self) -> None:
        """Release the decoder."""
        self.capture.release()


class LiveSource:
    """A camera or stream read by a grabber thread that keeps only the newest frame.

    A source that stops delivering is reopened after `retry_after` seconds, doubling up to
    `max_backoff`; `close()` wakes the grabber from that wait at once. A source that does not open
    is an error, or with `keep_trying` is retried the same way (`reconnects` counts the reopenings).
    """

    is_live = True
    separate_images = False
    last_file = None

    def __init__(
        self,
        target,
        api: int,
        description: str,
        size=None,
        rate=None,
        max_backoff: float = 10.0,
        retry_after=0.5,
        keep_trying: bool = False,
    ) -> None:
        self.target, self.api, self.description = target, api, description
        self.size, self.requested_rate, self.max_backoff, self.retry_after = size, rate, max_backoff, retry_after
        self.capture = self._open()
        if self.capture is None and not keep_trying:
            raise SourceError(f"cannot open {description}: is it connected, and free (not used by another program)?")
        self.rate = (self.capture.get(cv2.CAP_PROP_FPS) or 0.0) if self.capture is not None else 0.0
        self.ever_opened = self.capture is not None
        self.reconnects = 0
        self.skipped = 0  # frames replaced by a newer one before anyone read them
        self.frame: np.ndarray | None = None
        self.sequence = 0
        self.delivered = 0
        self.condition = threading.Condition()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._grab, name="frame-grabber", daemon=True)
        self.thread.start()

    @property
    def closed(self) -> bool:
        """Whether `close()` was called: `read()` will deliver nothing more."""
        return self.stopped.is_set()

    def _open(self):
        capture = cv2.VideoCapture(self.target, self.api)
        if not capture.isOpened():
            capture.release()
            return None
        if self.size:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        if self.requested_rate:
            capture.set(cv2.CAP_PROP_FPS, self.requested_rate)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture

    def _grab(self) -> None:
        """The grabber thread: it alone touches the capture, and releases it when it stops."""
        backoff = self.retry_after
        try:
            while not self.stopped.is_set():
                ok, frame = self.capture.read() if self.capture is not None else (False, None)
                if ok:
                    backoff = self.retry_after
                    with self.condition:
                        self.frame, self.sequence = frame, self.sequence + 1
                        self.condition.notify_all()
                    continue
                what = "lost" if self.ever_opened else "cannot open"
                log.warning("%s %s; %s in %.1f s", what, self.description, "reopening" if self.ever_opened
                            else "retrying", backoff)  # fmt: skip
                if self.capture is not None:
                    self.capture.release()
                    self.capture = None
                if self.stopped.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
                self.capture = self._open()
                if self.capture is not None:
                    self.reconnects += self.ever_opened
                    self.ever_opened = True
                    self.rate = self.rate or self.capture.get(cv2.CAP_PROP_FPS) or 0.0
        finally:
            if self.capture is not None:
                self.capture.release()

    def read(self, timeout: float = 1.0) -> np.ndarray | None:
        """The newest frame not yet delivered, or None when none came within `timeout` seconds (the
        grabber goes on reconnecting) or the source is closed."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while not self.closed and self.sequence == self.delivered:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.condition.wait(left)
            if self.closed:
                return None
            self.skipped += self.sequence - self.delivered - 1
            self.delivered = self.sequence
            return self.frame

    def close(self, timeout: float = 5.0) -> None:
        """Stop the grabber (waking it from a reconnect wait) and wait for it to release the device."""
        self.stopped.set()
        with self.condition:
            self.condition.notify_all()
        self.thread.join(timeout)
        if self.thread.is_alive():  # blocked inside the driver's read: it releases the device when that returns
            log.warning("%s does not answer; it is released when its driver returns", self.description)


def uri_kind(uri: str) -> str:
    """What an input URI names: "index" (a camera number), "device" (/dev/videoN), "csi" (csi://N),
    "stream" (rtsp://, http://, …) or "path" (a video, a photo or a folder of photos)."""
    if uri.isdigit():
        return "index"
    if uri.startswith("/dev/video"):
        return "device"
    if uri.startswith("csi://"):
        return "csi"
    return "stream" if uri.split("://")[0] in STREAM_SCHEMES else "path"


def open_source(
    uri: str, width: int | None = None, height: int | None = None, rate: int | None = None, keep_trying: bool = False
):
    """Open the source a URI names (see the module's table); with `keep_trying`, a camera or stream
    that does not open is retried in the background instead of being an error."""
    size, kind = (width, height) if width and height else None, uri_kind(uri)
    if kind == "index":
        return LiveSource(int(uri), cv2.CAP_ANY, f"camera {uri}", size, rate, keep_trying=keep_trying)
    if kind == "device":
        return LiveSource(uri, cv2.CAP_V4L2, f"camera {uri}", size, rate, keep_trying=keep_trying)
    if kind == "csi":
        number = uri[len("csi://") :] or "0"
        if not number.isdigit():
            raise SourceError(f"input {uri}: a CSI camera is csi:// and its sensor number (csi://0, csi://1, …)")
        sensor = int(number)
        pipeline = csi_pipeline(sensor, width or 1280, height or 720, rate or 30)
        description = f"CSI camera {sensor} (needs OpenCV with GStreamer)"
        return LiveSource(pipeline, cv2.CAP_GSTREAMER, description, keep_trying=keep_trying)
    if kind == "stream":
        return LiveSource(uri, cv2.CAP_FFMPEG, f"stream {hide_password(uri)}", size, rate, keep_trying=keep_trying)
    path = Path(uri)
    if names_photos(uri):
        return PhotoSource([path])
    if path.is_file():
        return VideoFileSource(path)
    raise SourceError(f"input {hide_password(uri)} is neither a camera, a stream, a folder nor an existing file")


def url_parts(uri: str) -> tuple[str, str, str, str] | None:
    """A URL's `scheme://`, credentials (`user:password`; "" for none), host (with its port) and the
    rest (path, query, fragment), or None when `uri` has no `scheme://`.

    Cameras hand out passwords holding `#`, `?`, `/`, `@` or `:` unencoded, which a URL parser reads
    as the start of a fragment, a query or a path, leaving part of the password in the host and the
    rest in the path. So the credentials run to the LAST `@` of the URI, and the host from there to
    the first `/`, `?` or `#`. (A path holding `@` is then taken for credentials: masked, never shown.)
    """
    scheme = _SCHEME.match(uri)
    if scheme is None:
        return None
    credentials, _, address = uri[scheme.end() :].rpartition("@")
    cut = min((address.find(c) for c in "/?#" if c in address), default=len(address))
    return scheme.group(), credentials, address[:cut], address[cut:]


def url_host(uri: str) -> str | None:
    """The host name of a URL (no credentials, no port; an IPv6 address without brackets), or None."""
    parts = url_parts(uri)
    if parts is None or not parts[2]:
        return None
    address = parts[2]
    if address.startswith("["):
        return address[1:].split("]", 1)[0] or None
    return address.rsplit(":", 1)[0] if ":" in address else address


def hide_password(uri: str) -> str:
    """`uri` as output and logs may show it: `rtsp://user:secret@host/…` becomes
    `rtsp://user:***@host/…`, whatever characters the password holds (see `url_parts`)."""
    parts = url_parts(uri)
    if parts is None or ":" not in parts[1]:
        return uri
    scheme, credentials, address, rest = parts
    return f"{scheme}{credentials.split(':', 1)[0]}:***@{address}{rest}"


def open_sources(uris: list[str], width: int | None = None, height: int | None = None, rate: int | None = None):
    """Open one input (see `open_source`), or several photos and folders of photos as one source."""
    if len(uris) == 1:
        return open_source(uris[0], width, height, rate)
    for uri in uris:
        if not names_photos(uri):
            raise SourceError(
                f"input {hide_password(uri)}: several inputs must all be image files or folders of images"
            )
    return PhotoSource([Path(uri) for uri in uris])


def names_photos(uri: str) -> bool:
    """Whether `uri` names photos (an image file, or a folder of them), not a camera, stream or video."""
    return uri_kind(uri) == "path" and (Path(uri).is_dir() or is_image_file(Path(uri)))
