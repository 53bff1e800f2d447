"""Checks of an exported model: ONNX validity, agreement with a reference, and CPU latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import onnx

from edge_runtime.embedder import Embedder
from edge_runtime.errors import SiameseEdgeError
from edge_runtime.openset import OperatingPoint

# The least cosine similarity to the PyTorch (or FP32) embedding each precision must keep, on every image.
MIN_COSINE = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.95}
MAX_ABS_DIFF_FP32 = 1e-4


class ExportError(SiameseEdgeError):
    """The export failed or its result disagrees with the checkpoint."""


@dataclass(frozen=True)
class Agreement:
    """How closely embeddings match a reference: worst element and worst and mean cosine."""

    max_abs_diff: float
    min_cosine: float
    mean_cosine: float


def check_onnx(proto: onnx.ModelProto) -> None:
    """Run onnx.checker on the model, raising ExportError if it is invalid."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"the exported model is not valid ONNX: {str(error).splitlines()[0]}") from None


def agreement(reference: np.ndarray, candidate: np.ndarray) -> Agreement:
    """Compare two sets of L2-normalised embeddings row by row."""
    cosines = np.einsum("ij,ij->i", reference, candidate)
    return Agreement(
        max_abs_diff=float(np.abs(reference - candidate).max()),
        min_cosine=float(cosines.min()),
        mean_cosine=float(cosines.mean()),
    )


def require_agreement(precision: str, result: Agreement, against: str) -> None:
    """Raise ExportError when `result` is worse than the tolerance of `precision`."""
    if result.min_cosine < MIN_COSINE[precision] or (precision == "fp32" and result.max_abs_diff > MAX_ABS_DIFF_FP32):
        raise ExportError(
            f"the {precision} model disagrees with {against}: min cosine {result.min_cosine:.5f} "
            f"(needs {MIN_COSINE[precision]}), max abs diff {result.max_abs_diff:.2e}"
        )


@dataclass(frozen=True)
class Losses:
    """What a variant loses: agreement with its reference, one-shot accuracy points against
    PyTorch FP32, and its false accepts at the threshold it ships with (validation classes)."""

    precision: str
    agreement: Agreement
    against: str
    accuracy_drop: float
    point: OperatingPoint | None
    target_far: float | None


def allowed_false_accepts(point: OperatingPoint, target_far: float) -> int:
    """Twice the target FAR's share of the impostor pairs, and at least one: with fewer than
    1/(2·target) impostor pairs a single false accept already exceeds it, which the set cannot tell."""
    return max(1, int(2 * target_far * point.impostor_pairs))


def refusals(losses: Losses, max_drop_points: float) -> list[str]:
    """Why a variant loses too much (none: [])."""
    reasons = []
    if losses.accuracy_drop * 100 > max_drop_points:
        reasons.append(
            f"it loses {100 * losses.accuracy_drop:.2f} points of one-shot accuracy against FP32 (--max-drop "
            f"{max_drop_points:g})"
        )
    point, target = losses.point, losses.target_far
    if point is not None and target is not None and point.false_accepts > allowed_false_accepts(point, target):
        reasons.append(
            f"at its threshold {point.threshold:.4f} it accepts {100 * point.far:.3f}% of impostor pairs "
            f"({point.false_accepts} of {point.impostor_pairs}), more than twice the target FAR {target:g}"
        )
    if losses.agreement.min_cosine < MIN_COSINE[losses.precision]:
        reasons.append(
            f"it disagrees with {losses.against}: min cosine {losses.agreement.min_cosine:.5f} "
            f"(needs {MIN_COSINE[losses.precision]})"
        )
    return reasons


def require_acceptable(name: str, losses: Losses, max_drop_points: float) -> None:
    """Raise ExportError naming every way `name` loses too much."""
    reasons = refusals(losses, max_drop_points)
    if reasons:
        raise ExportError(f"{name} refused, nothing written: " + "; ".join(reasons))


def cpu_latency_ms(embedder: Embedder, image: np.ndarray, runs: int = 50, warmup: int = 5) -> float:
    """Mean wall time of one single-image inference, in milliseconds."""
    batch = image[None]
    for _ in range(warmup):
        embedder.embed_fitted(batch)
    start = time.perf_counter()
    for _ in range(runs):
        embedder.embed_fitted(batch)
    return (time.perf_counter() - start) / runs * 1000.0
