"""Uploaded images, decoded safely: a size limit, a pixel limit read from the header before any
decoding (a decompression bomb: a small file of huge dimensions), and one clear error for the rest."""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.imaging.preprocessing import as_runtime_image

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is the largest a phone takes; more is a bomb


class UploadError(SiameseEdgeError):
    """An upload the server refuses: `status` is the HTTP status that says why (413, 415, 422)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def check_size(data: bytes, what: str, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse an empty upload or one over `limit` bytes."""
    if not data:
        raise UploadError(f"{what} is empty: upload an image file", 422)
    if len(data) > limit:
        raise UploadError(f"{what} is {len(data)} bytes; the limit is {limit} bytes", 413)


def decode_upload(data: bytes, what: str = "the upload", limit: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """The image `data` holds (H×W or H×W×3 uint8 BGR, turned as its EXIF says, its longer side at
    most LARGEST_SIDE), or UploadError: empty or too large (413), not an image (415), more pixels
    than MAX_PIXELS (413, found from the header before decoding)."""
    check_size(data, what, limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as header:  # reads the header only
                width, height = header.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"{what} claims more pixels than {MAX_PIXELS}: refused", 413) from None
    except Exception:  # Pillow raises many types for a file that is not an image
        raise UploadError(f"{what} is not an image (JPEG, PNG, BMP, WebP, TIFF)", 415) from None
    if width * height > MAX_PIXELS:
        raise UploadError(f"{what} is {width}x{height} pixels, more than {MAX_PIXELS}: refused", 413)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise UploadError(f"{what} cannot be decoded: truncated, or a format OpenCV does not read", 415)
    return as_runtime_image(image)
