"""Checks of an exported model: ONNX validity, agreement with a reference, and CPU latency."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import onnx

from edge_runtime.core.errors import SiameseEdgeError, error_line
from edge_runtime.identity.openset import Answers, OperatingPoint
from edge_runtime.inference.embedder import Embedder
from export.gate import REFUSED, UNDECIDED, Decision, accuracy_drop, false_accept_rate

log = logging.getLogger(__name__)

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
        raise ExportError(f"the exported model is not valid ONNX: {error_line(error)}") from None


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
    """What a variant loses: agreement with its reference, and the gate's decisions on its one-shot
    accuracy against PyTorch FP32 and its false accepts at the threshold it ships with."""

    precision: str
    agreement: Agreement
    against: str
    baseline: str
    accuracy: Decision
    far: Decision | None


def far_limit(target_far: float) -> float:
    """The false accept rate a variant may reach at its threshold: twice the target."""
    return 2 * target_far


def refusals(losses: Losses) -> list[str]:
    """Why a variant loses too much (none: [])."""
    reasons = []
    drop = losses.accuracy
    if drop.verdict == REFUSED:
        reasons.append(
            f"it loses {drop.estimate:.2f} points of one-shot accuracy against {losses.baseline}, {drop.low:.2f} to "
            f"{drop.high:.2f} at 95% confidence over {drop.sample} paired episodes (--max-drop {drop.limit:g})"
        )
    far = losses.far
    if far is not None and far.verdict == REFUSED:
        reasons.append(
            f"at its threshold it accepts {100 * far.estimate:.3f}% of impostor pairs, {100 * far.low:.3f}% to "
            f"{100 * far.high:.3f}% at 95% confidence over {far.sample} pairs, more than twice the target FAR "
            f"{far.limit / 2:g}"
        )
    if losses.agreement.min_cosine < MIN_COSINE[losses.precision]:
        reasons.append(
            f"it disagrees with {losses.against}: min cosine {losses.agreement.min_cosine:.5f} "
            f"(needs {MIN_COSINE[losses.precision]})"
        )
    return reasons


def undecided(name: str, losses: Losses) -> list[str]:
    """One line for each loss that the sample cannot decide, with the sample that would."""
    lines = []
    drop, far = losses.accuracy, losses.far
    if drop.verdict == UNDECIDED:
        advice = f"about {drop.needed} {drop.unit} would decide" if drop.needed else "more held-out data would"
        lines.append(
            f"{name}: {drop.sample} episodes cannot tell whether it loses more than --max-drop {drop.limit:g} "
            f"points against {losses.baseline} (it lost {drop.estimate:.2f}, {drop.low:.2f} to {drop.high:.2f} at "
            f"95% confidence); {advice}"
        )
    if far is not None and far.verdict == UNDECIDED:
        advice = f"about {far.needed} {far.unit} would decide" if far.needed else "more held-out data would"
        lines.append(
            f"{name}: {far.sample} impostor pairs cannot tell whether its FAR at the threshold exceeds "
            f"{far.limit:g} (it is {far.estimate:.4f}, {far.low:.4f} to {far.high:.4f} at 95% confidence); "
            f"{advice}"
        )
    return lines


def judge(
    precision: str,
    agreed: Agreement,
    against: str,
    answers: tuple[Answers, Answers],
    baseline: str,
    max_drop_points: float,
    point: OperatingPoint | None,
    target_far: float | None,
) -> Losses:
    """The gate's decisions on a variant: `answers` holds the `baseline` model's and the variant's answers
    to the same one-shot queries; `point` its false accepts at the threshold it ships with."""
    far = None
    if point is not None and target_far is not None:
        far = false_accept_rate(point.false_accepts, point.impostor_pairs, far_limit(target_far))
    return Losses(precision, agreed, against, baseline, accuracy_drop(*answers, max_drop_points), far)


def require_acceptable(name: str, losses: Losses) -> None:
    """Raise ExportError naming every way `name` loses too much; warn of each loss the sample
    cannot decide."""
    reasons = refusals(losses)
    if reasons:
        raise ExportError(f"{name} refused, nothing written: " + "; ".join(reasons))
    for line in undecided(name, losses):
        log.warning("%s", line)


def cpu_latency_ms(embedder: Embedder, image: np.ndarray, runs: int = 50, warmup: int = 5) -> float:
    """Mean wall time of one single-image inference, in milliseconds."""
    batch = image[None]
    for _ in range(warmup):
        embedder.embed_fitted(batch)
    start = time.perf_counter()
    for _ in range(runs):
        embedder.embed_fitted(batch)
    return (time.perf_counter() - start) / runs * 1000.0
