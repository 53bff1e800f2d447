"""Image decoding and the model-input transform, shared by training, export and the edge runtime.

Training, the export parity check and the runtime all call these functions, so an image reaches
the network in exactly the same form everywhere. What the transform does is described by an
`InputSpec`, which travels in the checkpoint and in the ONNX model's metadata.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.errors import ImageReadError
from edge_runtime.core.file_head import file_head

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".pgm", ".bmp", ".ppm", ".tif", ".tiff", ".webp", ".avif",
                  ".heic", ".heif")  # fmt: skip
# how the formats phones and cameras save most often begin: a file without one of IMAGE_SUFFIXES (no
# suffix, or one of its own) that begins so is an image too (a download saved as "photo", "x.jpg_large")
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG (and JFIF), PNG; BMP and WebP in _has_image_signature
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)  # the DIB header sizes BMP files use
# photos this OpenCV cannot decode, listed so that each is skipped with the reason instead of passed over unseen
_HEIC = ("OpenCV reads no HEIC, an iPhone's default format: export it as JPEG "
         "(or set the iPhone's Settings > Camera > Formats to Most Compatible)")  # fmt: skip
UNDECODABLE = {".heic": _HEIC, ".heif": _HEIC}
if not cv2.haveImageWriter(".avif"):  # older or Windows opencv-python wheels, JetPack's OpenCV
    UNDECODABLE[".avif"] = "this OpenCV has no AVIF codec (opencv-python 4.10+ on Linux has): convert it to JPEG"
# stretch: resize to the input size. ink: crop to the dark strokes on light paper (signatures,
# handwriting), keep the aspect ratio, and pad with the paper's colour.
RESIZE_MODES = ("stretch", "ink")
FACE_LANDMARKS = ("dlib5", "yunet")  # which five points a face template places (InputSpec)
# OpenCV's remap and warpAffine take images under 32,767 pixels a side: larger photos are scaled to fit
LARGEST_SIDE = 32766


@dataclass(frozen=True)
class InputSpec:
    """How an image becomes the network's input tensor.

    Pixels are scaled to [0, 1], then `(x - mean) / std` per channel; `color_order` is the order
    of the model's three channels (ignored for one channel); `layout` is the tensor layout.
    `face_template`, for face models cut by landmarks, is where five landmarks lie in the model's
    input, as fractions of its width and height; `face_landmarks` says which five: "dlib5" (dlib's
    5-point model: the outer and inner corners of the eye on the image's right, of the other eye,
    and the bottom of the nose) or "yunet" (YuNet's own: the subject's right eye, left eye, nose
    tip, right and left mouth corners). The runtime, enrollment, training crops and benchmarks all
    cut faces to it.
    """

    height: int
    width: int
    channels: int
    mean: tuple[float, ...] = field(default=(0.5,))
    std: tuple[float, ...] = field(default=(0.5,))
    color_order: str = "RGB"
    layout: str = "NCHW"
    resize: str = "stretch"
    face_template: tuple[tuple[float, float], ...] | None = None
    face_landmarks: str = "yunet"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, not {self.channels}")
        if self.height < 8 or self.width < 8:
            raise ValueError(f"input size {self.height}x{self.width} is too small (8x8 at least)")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != self.channels:
                raise ValueError(f"{name} needs {self.channels} values, got {len(values)}")
        if min(self.std) <= 0:
            raise ValueError("std values must be positive")
        if self.color_order not in ("RGB", "BGR"):
            raise ValueError(f"color_order must be RGB or BGR, not {self.color_order}")
        if self.layout != "NCHW":
            raise ValueError(f"only the NCHW layout is supported, not {self.layout}")
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {self.resize!r}; choose {', '.join(RESIZE_MODES)}")
        points = self.face_template
        if points is not None and (
            len(points) != 5 or any(len(p) != 2 or not -1 < min(p) <= max(p) < 2 for p in points)
        ):
            raise ValueError("face_template needs five (x, y) points given as fractions of the input size")
        if self.face_landmarks not in FACE_LANDMARKS:
            raise ValueError(f"unknown face_landmarks {self.face_landmarks!r}; choose {', '.join(FACE_LANDMARKS)}")

    def to_dict(self) -> dict:
        """A plain dictionary (lists, numbers, strings) for checkpoints and model metadata."""
        values = asdict(self)
        values["mean"] = list(self.mean)
        values["std"] = list(self.std)
        if self.face_template is None:
            del values["face_template"], values["face_landmarks"]  # models without one read as before
        else:
            values["face_template"] = [list(point) for point in self.face_template]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> InputSpec:
        """The inverse of `to_dict`."""
        values = dict(values)
        values["mean"] = tuple(float(v) for v in values["mean"])
        values["std"] = tuple(float(v) for v in values["std"])
        if values.get("face_template") is not None:
            values["face_template"] = tuple((float(x), float(y)) for x, y in values["face_template"])
        return cls(**values)


def is_image_file(path: Path) -> bool:
    """Whether `path` is an image file: one with an image suffix, or another file (no suffix, an unknown
    one) whose first bytes are a JPEG, PNG, BMP or WebP signature. The one test every stage uses
    (enrolment, photo inputs, training and validation folders, calibration)."""
    if not path.is_file():
        return False
    return path.suffix.lower() in IMAGE_SUFFIXES or _has_image_signature(path)


def _has_image_signature(path: Path) -> bool:
    """Whether the file begins as a JPEG, PNG, BMP or WebP does (its first 18 bytes, nothing decoded)."""
    head = file_head(path, 18)
    if head.startswith(_SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    # "BM" alone starts many a text file: a BMP's reserved bytes are zero and its DIB header has a known size
    return (
        len(head) == 18
        and head[:2] == b"BM"
        and head[6:10] == bytes(4)
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    )


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside `folder`, in name order."""
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file as OpenCV does (H×W or H×W×3 uint8, BGR), or raise ImageReadError.

    A photo is turned as its EXIF orientation says (as a phone took it, as viewers show it), and a
    panorama longer than `LARGEST_SIDE` is scaled down to it.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(f"cannot read image {path}: {error.strerror or error}") from None
    # any depth and colour, as stored; unlike IMREAD_UNCHANGED this applies the EXIF orientation
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if image is None:
        reason = UNDECODABLE.get(path.suffix.lower(), "the file is empty, truncated or not an image")
        raise ImageReadError(f"cannot decode image {path}: {reason}")
    return as_runtime_image(image)


def as_runtime_image(image: np.ndarray) -> np.ndarray:
    """A decoded image as the runtime takes it: 8-bit gray or BGR, its longer side at most `LARGEST_SIDE`."""
    return _within_largest_side(_as_uint8_gray_or_bgr(image))


def _within_largest_side(image: np.ndarray) -> np.ndarray:
    longest = max(image.shape[:2])
    if longest <= LARGEST_SIDE:
        return image
    height, width = (max(1, round(side * LARGEST_SIDE / longest)) for side in image.shape[:2])
    return cv2.resize(image, (min(width, LARGEST_SIDE), min(height, LARGEST_SIDE)), interpolation=cv2.INTER_AREA)


def _as_uint8_gray_or_bgr(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def fit_image(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Convert an OpenCV image to the model's size and channels: H×W×C uint8 in the model's order."""
    if spec.channels == 1:
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    else:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if spec.color_order == "RGB":
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if spec.resize == "ink":
        return _fit_ink(image, spec)
    height, width = image.shape[:2]
    if (height, width) != (spec.height, spec.width):
        shrinking = height * width > spec.height * spec.width
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (spec.width, spec.height), interpolation=interpolation)
    return image.reshape(spec.height, spec.width, spec.channels)


def _fit_ink(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Crop to the ink (Otsu threshold of the gray image), scale to fit keeping the aspect, pad."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    _, ink = cv2.threshold(cv2.GaussianBlur(gray, (3, 3), 0), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    points = cv2.findNonZero(ink)
    if points is not None:
        x, y, w, h = cv2.boundingRect(points)
        image = image[y : y + h, x : x + w]
    paper = np.median(gray[ink == 0]) if (ink == 0).any() else 255
    height, width = image.shape[:2]
    scale = min(spec.height / height, spec.width / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation).reshape(new_h, new_w, spec.channels)
    canvas = np.full((spec.height, spec.width, spec.channels), paper, np.uint8)
    top, left = (spec.height - new_h) // 2, (spec.width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def input_normalisation(spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """The float32 mean and scale per channel that take pixel values (0-255) to the model's input."""
    mean = np.asarray(spec.mean, dtype=np.float32) * 255.0
    scale = (1.0 / (np.asarray(spec.std, dtype=np.float32) * 255.0)).astype(np.float32)
    return mean, scale


def to_input_tensor(images: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Turn a batch of fitted images (N×H×W×C uint8) into the normalised float32 N×C×H×W tensor."""
    mean, scale = input_normalisation(spec)
    batch = (images.astype(np.float32) - mean) * scale
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
