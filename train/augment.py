"""The small random affine distortions of Koch et al. (2015), applied on the fly in training.

Each component (rotation, shear, scale, translation) is used with probability one half, with the
ranges of the paper: rotation ±10°, shear ±0.3, scale 0.8–1.2, translation ±2 px of a 105 px image
(scaled to the input size here).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_runtime.faces.face_alignment import turned

ROTATION_DEGREES, SHEAR, SCALE, SHIFT_OF_105 = 10.0, 0.3, (0.8, 1.2), 2.0


@dataclass(frozen=True)
class AffineParameters:
    """One draw of the distortion: rotation (degrees), shears, scales and shifts (pixels)."""

    angle: float
    shear_x: float
    shear_y: float
    scale_x: float
    scale_y: float
    shift_x: float
    shift_y: float


def draw_affine(rng: np.random.Generator, height: int, width: int) -> AffineParameters:
    """Koch et al.'s ranges, each component drawn with probability one half (else neutral)."""

    def maybe(low: float, high: float, neutral: float) -> float:
        return rng.uniform(low, high) if rng.random() < 0.5 else neutral

    pixels = SHIFT_OF_105 * min(height, width) / 105.0
    return AffineParameters(
        angle=maybe(-ROTATION_DEGREES, ROTATION_DEGREES, 0.0),
        shear_x=maybe(-SHEAR, SHEAR, 0.0),
        shear_y=maybe(-SHEAR, SHEAR, 0.0),
        scale_x=maybe(*SCALE, 1.0),
        scale_y=maybe(*SCALE, 1.0),
        shift_x=maybe(-pixels, pixels, 0.0),
        shift_y=maybe(-pixels, pixels, 0.0),
    )


def affine_matrix(p: AffineParameters, height: int, width: int) -> np.ndarray:
    """The 2×3 matrix of `p` about the image centre: rotation · shear · scale, then the shift."""
    angle = np.deg2rad(p.angle)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1.0, p.shear_x], [p.shear_y, 1.0]])
    linear = rotation @ shear @ np.diag([p.scale_x, p.scale_y])
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    offset = centre - linear @ centre + np.array([p.shift_x, p.shift_y])
    return np.hstack([linear, offset[:, None]])


def random_affine_matrix(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A 2×3 affine matrix about the image centre, drawn from Koch et al.'s ranges."""
    return affine_matrix(draw_affine(rng, height, width), height, width)


def photometric_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness and contrast scaled by 0.7-1.3 each, and colour dropped one time in five.

    Grey and colour images take the same draws, so two views of one image (a student's and a
    teacher's input) get the same jitter.
    """
    pixels = image.astype(np.float32)
    drop_colour = rng.random() < 0.2
    if drop_colour and pixels.ndim == 3 and pixels.shape[2] == 3:
        pixels[:] = pixels.mean(axis=2, keepdims=True)
    mean = pixels.mean()
    pixels = (pixels - mean) * rng.uniform(0.7, 1.3) + mean * rng.uniform(0.7, 1.3)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def augment_batch(
    images: np.ndarray, rng: np.random.Generator, flip: bool = False, photometric: bool = False, mixup: float = 0.0
) -> np.ndarray:
    """Distort each image of an N×H×W×C uint8 batch with its own random affine transform.

    With `flip`, half the images are also mirrored left to right (right for faces, wrong for
    characters); with `photometric`, each also gets `photometric_jitter`; with `mixup` (α), each
    is then blended with another of the batch (`mix_batch`). The draws do not depend on the
    images' size or channels: the same generator state distorts two views of one batch (at two
    input sizes) alike.
    """
    count, height, width, channels = images.shape
    out = np.empty_like(images)
    for i in range(count):
        matrix = random_affine_matrix(rng, height, width)
        if flip and rng.random() < 0.5:
            matrix = matrix @ np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        warped = cv2.warpAffine(
            images[i], matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        warped = warped.reshape(height, width, channels)
        out[i] = photometric_jitter(warped, rng) if photometric else warped
    return mix_batch(out, rng, mixup) if mixup else out


def mix_batch(images: np.ndarray, rng: np.random.Generator, alpha: float) -> np.ndarray:
    """Blend each image of the batch with another one (a random pairing), λ·this + (1−λ)·other with
    λ ~ Beta(α, α) per image: for distillation, where the teacher names what a blend is (Beyer et
    al. 2022, "Knowledge distillation: a good teacher is patient and consistent")."""
    weights = rng.beta(alpha, alpha, len(images)).reshape(-1, 1, 1, 1)
    others = images[rng.permutation(len(images))]
    return np.rint(weights * images + (1.0 - weights) * others).astype(np.uint8)


def turn_batch(images: np.ndarray, rng: np.random.Generator, degrees: float) -> np.ndarray:
    """Turn each image of an N×H×W×C uint8 batch about its centre by its own angle, uniform in
    ±`degrees`, edges replicated: a tilted head that the cut did not level (--student-turn)."""
    angles = rng.uniform(-degrees, degrees, len(images))
    return np.stack([turned(image, float(angle)) for image, angle in zip(images, angles, strict=True)])
