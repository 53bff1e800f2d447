"""dlib's 5-point face landmarks in numpy, and dlib's face chips cut from them.

`DlibShapePredictor` runs dlib's `shape_predictor_5_face_landmarks.dat` (Kazemi & Sullivan's 2014
ensemble of regression trees, converted by `python -m train.dlib.landmarks`) as
`dlib::shape_predictor` does: from the same rectangle it gives dlib's own whole-pixel points. In
dlib's order they are the outer and inner corner of the eye on the image's right (the subject's
left eye), the outer and inner corner of the other eye, and the bottom of the nose.

The shape lives in a normalised frame, which dlib maps onto the face rectangle's unit square. Any
2×3 affine `frame` (normalised → image pixels) may take the rectangle's place, a turned one too.
`predict_detection` starts a YuNet detection from the rectangle dlib's HOG detector would have found
(`box_rect`), then, when those points tilt more than `REFIT_TILT`, runs once more from the frame
they put the face in (`landmarks_frame`), which follows the face's tilt; YuNet's own landmarks
barely turn with a tilted face and are not used. On 300 LFW images of View 2 people (about 41 px
between the eyes), against dlib's points from its own HOG rectangle on the upright image (before
rounding, turned with the image), two passes are off by 0.28 px upright and 0.33, 0.33, 0.40 px at
±10°, ±20°, ±30° (one pass: 0.33, 0.35, 0.49, 0.70 px); dlib's own detector and predictor on the
turned images are off by 0.53, 0.57, 0.73 px.

`DLIB_CHIP_TEMPLATE` is where dlib's face chips (`dlib.get_face_chip(image, shape, 150, 0.25)`, what
dlib's face ResNet was trained on) put these points: with `face_geometry.chip_transform`,
`cv2.warpAffine` cuts dlib's chip, but for OpenCV rounding where dlib truncates (half a grey level)
and for faces over twice the chip's size, which dlib shrinks through an image pyramid first.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.errors import CheckpointError
from edge_runtime.imaging.detectors import Detection
from edge_runtime.imaging.face_geometry import similarity_transform

NPZ_FORMAT = "dlib-shape-predictor/1"
ARRAYS = ("initial_shape", "split_features", "split_thresholds", "leaf_values", "anchor_parts", "anchor_deltas")

# dlib's 5-point mean face in the unit chip (get_face_chip_details, dlib/image_transforms/interpolation.h)
CHIP_TEMPLATE = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)

# dlib's padded face chip (padding 0.25 on each side of the mean face): the points' places, as fractions
DLIB_CHIP_TEMPLATE = (0.25 + CHIP_TEMPLATE) / 1.5

# dlib's HOG face rectangle (a square) from a YuNet box (x, y, w, h): its centre is the box's centre
# moved by the first two rows times (w, h), its side the last row times (w, h). Least squares on 300
# LFW images of people in no View 2 fold (YuNetDetector(min_size=40); dlib's detector upsampling once).
BOX_TO_DLIB_RECT = np.array([[-0.1321, 0.0690], [-0.0915, 0.1020], [0.5007, 0.4561]])

# dlib's five points, on average, in the unit square of its own HOG rectangle (the same images): the
# similarity from these to a face's points is the frame dlib's rectangle would have put it in.
DLIB_IN_DLIB_RECT = np.array([[0.8014, 0.3120], [0.6476, 0.3184], [0.2561, 0.3228], [0.4106, 0.3233], [0.5338, 0.6168]])

# A face whose eye line the first pass finds tilted more than this (degrees) gets a second pass from
# its own points. From the box alone, the points are off by 0.33 px upright and 0.35 px at 10 degrees
# (0.28 and 0.33 px with the second pass), but 0.49 and 0.70 px at 20 and 30 degrees (0.33, 0.40).
REFIT_TILT = 8.0

THIRDS = (np.arange(3 * 255 + 1) // 3).astype(np.int16)  # dlib's intensity of a colour pixel, by r+g+b

Rect = tuple[float, float, float, float]  # dlib's rectangle: left, top, right, bottom (inclusive)


def rect_frame(rect: Rect) -> np.ndarray:
    """The 2×3 affine taking the unit square onto dlib's rectangle (left, top, right, bottom)."""
    left, top, right, bottom = (float(v) for v in rect)
    return np.array([[right - left, 0.0, left], [0.0, bottom - top, top]])


def box_rect(box: tuple[float, float, float, float]) -> Rect:
    """The rectangle (left, top, right, bottom) dlib's HOG detector would find for a YuNet box (x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    centre_x, centre_y, side = BOX_TO_DLIB_RECT @ (w, h) + (x + w / 2, y + h / 2, 0.0)
    return centre_x - side / 2, centre_y - side / 2, centre_x + side / 2, centre_y + side / 2


def landmarks_frame(points5: np.ndarray) -> np.ndarray:
    """The frame (normalised → image) in which dlib's rectangle would have found these five points."""
    return similarity_transform(DLIB_IN_DLIB_RECT, points5)


class FivePointLocator:
    """Finds dlib's five points of faces from frames (normalised → image) that place them: the two-pass
    search from YuNet boxes is shared, each locator gives `predict_frames`."""

    parts = 5
    refit_tilt = REFIT_TILT  # faces whose first pass tilts more than this (degrees) get a second pass

    def prepared(self, image: np.ndarray) -> np.ndarray:
        """`image` as this locator reads it (converted once for both passes)."""
        return image

    def predict_frames(self, image: np.ndarray, frames: np.ndarray, subpixel: bool = False) -> np.ndarray:
        """The points (faces×parts×2, image pixels) of the faces in `frames` (faces×2×3)."""
        raise NotImplementedError

    def predict_detection(self, image: np.ndarray, detection: Detection, subpixel: bool = False) -> np.ndarray:
        """The points of a YuNet detection's face (see `predict_detections`)."""
        return self.predict_detections(image, [detection], subpixel)[0]

    def predict_detections(self, image: np.ndarray, detections: list[Detection], subpixel: bool = False) -> np.ndarray:
        """The points (faces×parts×2) of YuNet detections' faces: found from the rectangle dlib would have
        found (`box_rect`), then, for faces tilted more than `refit_tilt`, again from the frame those points
        put the face in (`landmarks_frame`), which turns with the face (an upright face is found as well in
        one pass). Every face of a frame is found at once."""
        if not detections:
            return np.empty((0, self.parts, 2))
        image = self.prepared(image)
        points = self.predict_frames(image, np.stack([rect_frame(box_rect(d.box)) for d in detections]), True)
        outer_right, outer_left = points[:, 0], points[:, 2]  # the outer eye corners
        run, rise = (outer_right - outer_left).T
        tilted = np.flatnonzero(np.abs(np.degrees(np.arctan2(rise, run))) > self.refit_tilt)
        if len(tilted):
            refit = np.stack([landmarks_frame(points[i]) for i in tilted])
            points[tilted] = self.predict_frames(image, refit, subpixel=True)
        return points if subpixel else np.floor(points + 0.5)


class DlibShapePredictor(FivePointLocator):
    """dlib's shape predictor (a cascade of regression-tree forests) from a `.npz` of `train.dlib.landmarks`.

    Each level of the cascade reads its feature pixels (the nearest pixel, its intensity as dlib's
    `get_pixel_intensity`, 0 outside the image) where the current shape puts them, runs all its trees
    at once, and adds their leaves in dlib's order and float32 arithmetic, so the points are dlib's.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                found = str(data["format"]) if "format" in data.files else None
                arrays = {name: data[name] for name in ARRAYS if name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            raise CheckpointError(f"cannot read the landmark model {path}: {error}") from None
        if found != NPZ_FORMAT or len(arrays) != len(ARRAYS):
            raise CheckpointError(
                f"{path} is not a landmark model of format {NPZ_FORMAT}: convert dlib's .dat with "
                "python -m train.dlib.landmarks DAT OUT.npz"
            )
        self.initial = arrays["initial_shape"].astype(np.float32)
        levels, self.trees, splits, _ = arrays["split_features"].shape
        self.depth = int(math.log2(splits + 1))
        # In a level's flat arrays node n of tree t is n·trees + t, so that all trees step down at once:
        # children[2·node + goes_right] is the next node, after the last split the row of its leaf.
        nodes = np.arange(splits * self.trees)
        tree, index = nodes % self.trees, nodes // self.trees
        child = np.stack([2 * index + 1, 2 * index + 2], axis=1)
        leaf_row = tree[:, None] * (splits + 1) + child - splits
        self.children = np.where(child < splits, child * self.trees + tree[:, None], leaf_row).ravel()
        self.roots = np.arange(self.trees)[:, None]
        # each split node's two feature pixels, in the nodes' order
        pairs = arrays["split_features"].astype(np.intp).transpose(0, 2, 1, 3).reshape(levels, -1, 2)
        # dlib goes left when the (whole) difference of the two pixels exceeds the threshold, that is
        # when it exceeds the threshold's floor: exact in int16
        thresholds = np.floor(arrays["split_thresholds"].astype(np.float64)).clip(-512, 512).astype(np.int16)
        thresholds = thresholds.transpose(0, 2, 1).reshape(levels, -1)
        leaves = arrays["leaf_values"].astype(np.float32).reshape(levels, -1, self.initial.size)
        anchors = arrays["anchor_parts"].astype(np.intp)
        anchor_xy = np.stack([2 * anchors, 2 * anchors + 1], axis=1)  # where each anchor's x, y are in the shape
        offsets = arrays["anchor_deltas"].astype(np.float32).transpose(0, 2, 1)  # levels × (dx, dy) × features
        self.cascade = list(zip(offsets, anchor_xy, pairs, thresholds, leaves, strict=True))
        centred = self.initial.astype(np.float64) - self.initial.astype(np.float64).mean(axis=0)
        # a, b of the similarity [[a, -b], [b, a]] from the initial shape to a shape s are s.ravel() @ these
        rows = np.stack([centred.ravel(), np.stack([-centred[:, 1], centred[:, 0]], 1).ravel()], 1)
        self.similarity_rows = rows / (centred**2).sum()

    @property
    def parts(self) -> int:
        """How many points the model gives."""
        return len(self.initial)

    def predict(self, image: np.ndarray, init: Rect | np.ndarray, subpixel: bool = False) -> np.ndarray:
        """The points (parts×2, image pixels, dlib's order) of the face in `init`.

        `image` is a gray or BGR uint8 image; `init` is dlib's rectangle (left, top, right, bottom)
        or a 2×3 frame (normalised → image, e.g. `landmarks_frame`). dlib rounds its points to whole
        pixels, and so does this unless `subpixel`.
        """
        frame = np.asarray(init, np.float64)
        frame = rect_frame(frame) if frame.shape == (4,) else frame
        if frame.shape != (2, 3):
            raise ValueError(f"a face is given as (left, top, right, bottom) or a 2×3 frame, not {np.shape(init)}")
        return self.predict_frames(image, frame[None], subpixel)[0]

    def predict_frames(self, image: np.ndarray, frames: np.ndarray, subpixel: bool = False) -> np.ndarray:
        """The points (faces×parts×2) of the faces in `frames` (faces×2×3), all at once: a crowd
        costs little more than one face, as each step runs on every face's trees together."""
        image, colour = _intensity_source(image)
        faces = len(frames)
        # image x, y = frame @ (shape x, shape y, 1), in float64; + 0.5 as dlib rounds the feature pixels
        (xx, xy, x1), (yx, yy, y1) = (frames + (0.0, 0.0, 0.5)).transpose(1, 2, 0)[..., None]
        shape = np.tile(self.initial.ravel(), (faces, 1))
        sums = np.empty((self.trees + 1, faces, shape.shape[1]), np.float32)
        rows, roots, child = self.similarity_rows, self.roots, self.children.take
        face_starts = np.arange(faces)[:, None]
        for (dx, dy), (anchor_x, anchor_y), pairs, thresholds, leaves in self.cascade:
            # the similarity [[a, -b], [b, a]] (float32) from the initial shape to the current one moves the
            # feature pixels (float32, in dlib's order of operations); the frame takes them to the image
            a, b = (shape.astype(np.float64) @ rows).astype(np.float32).T[:, :, None]
            x = a * dx - b * dy + shape[:, anchor_x]
            y = a * dy + b * dx + shape[:, anchor_y]
            # whole pixels as float maps: remap's nearest pixel is then exactly that one (0 outside)
            # (a row a face: remap takes fewer than 32,767 rows or columns)
            map_x = np.floor(x * xx + y * xy + x1).astype(np.float32)
            map_y = np.floor(x * yx + y * yy + y1).astype(np.float32)
            found = cv2.remap(image, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            # dlib's intensity: (r + g + b) / 3 for colour, in whole grey levels
            values = THIRDS.take(found[..., 0] + found[..., 1].astype(np.uint16) + found[..., 2]) if colour else found
            values = values.astype(np.int16, copy=False)
            start = face_starts * values.shape[1]  # where each face's pixels start in `values`, flattened
            node = np.broadcast_to(roots, (self.trees, faces))
            for _ in range(self.depth):  # only the splits on each tree's path are read
                pixels = values.take(pairs.take(node, axis=0) + start)
                node = child(2 * node + (pixels[..., 0] - pixels[..., 1] <= thresholds.take(node)))
            sums[0] = shape
            sums[1:] = leaves.take(node, axis=0)
            shape = np.add.reduce(sums, axis=0)  # row after row: tree by tree, as dlib adds them
        linear = frames[:, :, :2].transpose(0, 2, 1)
        located = shape.reshape(faces, -1, 2).astype(np.float64) @ linear + frames[:, None, :, 2]
        return located if subpixel else np.floor(located + 0.5)


def check_landmark_image(image: np.ndarray) -> None:
    """Raise ValueError unless `image` is what landmarks are found in: gray, BGR or BGRA uint8."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"landmarks need a gray or BGR uint8 image, not {image.dtype} of shape {image.shape}")


def _intensity_source(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The image to read intensities from (gray, or BGR whose r+g+b dlib divides by 3) and whether it is colour."""
    check_landmark_image(image)
    if image.ndim == 2 or image.shape[2] == 3:
        return image, image.ndim == 3
    return (image[:, :, 0], False) if image.shape[2] == 1 else (np.ascontiguousarray(image[:, :, :3]), True)
