"""Face detectors: YuNet (boxes and five landmarks, the default) and OpenCV's Haar cascade (boxes, eyes
found by a second cascade), both shipped with the package and run by OpenCV.

Both search a frame at the scale where the smallest wanted face (`min_size`) measures
`SEARCH_FACE_PIXELS`, and return `Detection`s in frame pixels, largest first. YuNet splits or
misses faces over about 600 pixels at that scale (a phone photo's portrait: 5 of 12 demo faces
made 2,400 px wide in a 4000×3000 photo came back as none or two), so a frame searched at more than
`COARSE_SEARCH_SIDE` pixels, and wide enough across to hold such a face, is searched at that size
too, and its large faces are taken from there only. Camera frames up to 1920×1080 (at the default
`min_size`) are searched once, as before.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_runtime.core.bundled import packaged_model
from edge_runtime.imaging.detectors import Box, Detection, DetectorError, box_area, box_overlap, crop

YUNET = "yunet_s_640_640.onnx"
FACE_CASCADE = "haarcascade_frontalface_default.xml"
EYE_CASCADE = "haarcascade_eye.xml"
SEARCH_FACE_PIXELS = 32  # frames are searched at the scale where the smallest face measures this
EYE_SEARCH_WIDTH = 120  # faces are searched for eyes at this width, whatever their size
COARSE_SEARCH_SIDE = 640  # frames searched larger are searched at this long side too, for large faces
SPLIT_FACE_PIXELS = 600  # YuNet splits or misses faces larger than this at its search scale: frames that
# cannot hold one (searched at 540 px or less across: 1920×1080 at the default --min-face) need no coarse search
LARGE_FACE_PIXELS = 400  # with a coarse search, faces larger than this at the fine scale are taken from it


def search_scale(min_size: int) -> float:
    """The factor a frame is shrunk by before searching it for faces of `min_size` pixels and up."""
    return min(1.0, SEARCH_FACE_PIXELS / min_size)


def _bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def _largest_first(detections: list[Detection]) -> list[Detection]:
    return sorted(detections, key=lambda d: -box_area(d.box))


def _mostly_inside(box: Box, outer: Box) -> bool:
    """Whether at least half of `box` lies inside `outer`."""
    return 2 * box_overlap(box, outer) >= box_area(box)


class YuNetDetector:
    """Faces with YuNet (Wu et al., libfacedetection; Apache-2.0): a box, a score and five landmarks.

    Detections scoring under `min_score` are dropped. On this project's 2-core CPU a 640×480 frame
    searched for 64 px faces (at 320×240) takes about 5 ms.
    """

    def __init__(self, min_size: int = 64, min_score: float = 0.6, nms_threshold: float = 0.3) -> None:
        if not 0 < min_score < 1:
            raise DetectorError(f"the face score threshold must lie between 0 and 1, not {min_score}")
        self.min_size, self.min_score, self.scale = min_size, min_score, search_scale(min_size)
        self.nms_threshold = nms_threshold
        # one network per search scale: a network resized for every frame costs more than the search
        self.fine, self.coarse = self._network(), None

    def fresh(self) -> YuNetDetector:
        """The same detector for another thread (OpenCV's network keeps state between calls)."""
        return YuNetDetector(self.min_size, self.min_score, self.nms_threshold)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in a BGR or gray frame, largest first, with landmarks in frame pixels."""
        image = _bgr(frame)
        found = _search(self.fine, image, self.scale)
        coarse_scale = COARSE_SEARCH_SIDE / max(image.shape[:2])
        holds_split_faces = min(image.shape[:2]) * self.scale > SPLIT_FACE_PIXELS  # not 1080p, nor a panorama's strip
        if coarse_scale < self.scale and holds_split_faces:  # large faces from the coarse search, others from the fine
            self.coarse = self.coarse or self._network()
            large = [d for d in _search(self.coarse, image, coarse_scale) if d.box[2] * self.scale > LARGE_FACE_PIXELS]
            found = large + [d for d in found if d.box[2] * self.scale <= LARGE_FACE_PIXELS
                             and not any(_mostly_inside(d.box, face.box) for face in large)]  # fmt: skip
        return _largest_first(found)

    def _network(self) -> cv2.FaceDetectorYN:
        try:
            return cv2.FaceDetectorYN.create(
                packaged_model(YUNET), "", (320, 320), self.min_score, self.nms_threshold, 500
            )
        except cv2.error as error:
            raise DetectorError(f"cannot load the face detector {packaged_model(YUNET)}: {error.err}") from None


def _search(net: cv2.FaceDetectorYN, image: np.ndarray, scale: float) -> list[Detection]:
    """YuNet's faces in `image` searched at `scale`, in `image` pixels."""
    if scale < 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    size = (image.shape[1], image.shape[0])
    if size != tuple(net.getInputSize()):
        net.setInputSize(size)
    _, found = net.detect(image)
    if found is None:
        return []
    found = found[np.isfinite(found).all(axis=1)]  # YuNet can return infinities on very thin images
    detections = []
    for row in found / np.array([scale] * 14 + [1.0], np.float32):
        box = tuple(int(round(v)) for v in row[:4])
        detections.append(Detection(box, float(row[14]), row[4:14].reshape(5, 2).copy()))
    return detections


class EyeFinder:
    """The two eyes of a Haar face box, in frame pixels (image-left eye first), or None."""

    def __init__(self) -> None:
        self.cascade = cv2.CascadeClassifier(packaged_model(EYE_CASCADE))
        if self.cascade.empty():
            raise DetectorError(f"cannot load the eye detector {packaged_model(EYE_CASCADE)}")

    def find(self, frame: np.ndarray, box: Box) -> np.ndarray | None:
        """Both eyes of the face in `box` as a 2×2 array, or None when either is missing or implausible."""
        x, y, w, h = box
        top = y + int(0.15 * h)
        band = crop(frame, (x, top, w, int(0.45 * h)))
        if band.size == 0 or w < 8:
            return None
        gray = band if band.ndim == 2 else cv2.cvtColor(band, cv2.COLOR_BGR2GRAY)
        scale = EYE_SEARCH_WIDTH / w
        gray = cv2.equalizeHist(cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        found = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(14, 14), maxSize=(50, 50))
        centres = [((ex + ew / 2) / scale + x, (ey + eh / 2) / scale + top) for ex, ey, ew, eh in found]
        expected_y = y + 0.38 * h
        left = [c for c in centres if c[0] < x + w / 2]
        right = [c for c in centres if c[0] >= x + w / 2]
        if not left or not right:
            return None
        eye_l = min(left, key=lambda c: abs(c[0] - (x + 0.3 * w)) + abs(c[1] - expected_y))
        eye_r = min(right, key=lambda c: abs(c[0] - (x + 0.7 * w)) + abs(c[1] - expected_y))
        dx, dy = eye_r[0] - eye_l[0], eye_r[1] - eye_l[1]
        if not 0.25 * w <= dx <= 0.65 * w or abs(dy) > 0.4 * dx:
            return None
        return np.array([eye_l, eye_r], np.float32)


class HaarFaceDetector:
    """Frontal faces with OpenCV's Haar cascade (2001), the eyes found by its eye cascade.

    The fallback detector (`--detector haar`): no nose or mouth landmarks, frontal faces only, and
    both eyes are found in about half of LFW's faces (`python -m benchmarks.faces.gate_check`).
    """

    def __init__(self, min_size: int = 64, scale_factor: float = 1.2, min_neighbors: int = 5) -> None:
        self.cascade = cv2.CascadeClassifier(packaged_model(FACE_CASCADE))
        if self.cascade.empty():
            raise DetectorError(f"cannot load the face detector {packaged_model(FACE_CASCADE)}")
        self.eyes = EyeFinder()
        self.min_size, self.scale_factor, self.min_neighbors = min_size, scale_factor, min_neighbors
        self.scale = search_scale(min_size)

    def fresh(self) -> HaarFaceDetector:
        """The same detector for another thread (OpenCV's cascades keep state between calls)."""
        return HaarFaceDetector(self.min_size, self.scale_factor, self.min_neighbors)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Face boxes, largest first, each with its two eyes when both are found."""
        gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if self.scale < 1.0:
            gray = cv2.resize(gray, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        minimum = max(1, int(self.min_size * self.scale))
        found = self.cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(minimum, minimum)
        )
        boxes = [tuple(int(round(v / self.scale)) for v in box) for box in found]
        return _largest_first([Detection(box, 1.0, self.eyes.find(frame, box)) for box in boxes])
