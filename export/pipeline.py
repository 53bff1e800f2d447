"""`export_checkpoint`: checkpoint in, verified self-describing ONNX models (FP32, FP16, INT8) out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from edge_runtime.atomic import atomic_path
from edge_runtime.embedder import Embedder
from edge_runtime.errors import ImageReadError
from edge_runtime.preprocessing import IMAGE_SUFFIXES, InputSpec, fit_image, read_image
from export.graph import DEFAULT_OPSET, attach_metadata, describe, embedding_module, export_fp32
from export.precision import CalibrationError, to_fp16, to_int8
from export.verify import ExportError, agreement, check_onnx, cpu_latency_ms, require_agreement
from train.checkpoint import load_checkpoint
from train.datasets import ImageSet, load_images, scan_dataset
from train.evaluation import calibrate_threshold, embed_images, evaluate_embeddings, feasible_way

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportOptions:
    """How to export: precisions, opset, calibration and evaluation settings."""

    precisions: tuple[str, ...] = ("fp32",)
    opset: int = DEFAULT_OPSET
    calib_dir: Path | None = None
    calib_count: int = 256
    calib_method: str = "percentile"
    symmetric: bool = False
    full_range: bool = False
    data_root: Path | None = None
    episodes: int = 1000
    eval_split: str = "val"
    kind: str | None = None
    notes: str = ""
    target_far: float | None = None
    flip_average: bool = False


@dataclass(frozen=True)
class VariantReport:
    """One exported file and what it was measured to be."""

    precision: str
    path: Path
    size_bytes: int
    min_cosine_vs_fp32: float
    max_abs_diff_vs_fp32: float
    few_shot_accuracy: float
    eer: float
    latency_ms: float
    way: int


def output_path(base: Path, precision: str) -> Path:
    """`model.onnx` → `model.int8.onnx`: where each precision's file goes."""
    stem = base.name[: -len(".onnx")] if base.name.endswith(".onnx") else base.name
    return base.with_name(f"{stem}.{precision}.onnx")


def export_checkpoint(checkpoint: Path, output: Path, options: ExportOptions) -> list[VariantReport]:
    """Export, verify and write each requested precision; raise SiameseEdgeError on any failure."""
    payload = load_checkpoint(checkpoint)
    if payload.get("threshold") is None:
        log.warning("the checkpoint has no calibrated threshold (training did not finish); the model will have none")
    spec = InputSpec.from_dict(payload["input"])
    held_out = _held_out_images(payload, options.data_root, spec, options.eval_split)
    network = embedding_module(payload, options.flip_average)
    reference = embed_images(network, held_out.images, spec, torch.device("cpu"))
    if options.target_far is not None or options.flip_average:  # flip-averaged scores need their own threshold
        validation = held_out if options.eval_split == "val" else None
        payload = _recalibrated(payload, options, spec, network, validation, reference)
    precisions = _ordered(options.precisions)
    calibration = _calibration_images(payload, options, spec) if "int8" in precisions else None
    fp32 = export_fp32(payload, options.opset, options.flip_average)
    reports: list[VariantReport] = []
    fp32_embeddings: np.ndarray | None = None
    for precision in precisions:
        proto = _convert(fp32, precision, calibration, spec, options)
        proto = attach_metadata(
            proto, describe(payload, proto, precision, options.kind, options.notes, options.flip_average)
        )
        check_onnx(proto)
        path = output_path(output, precision)
        with atomic_path(path) as temporary:
            onnx.save(proto, temporary)
            embedder = Embedder(temporary, providers=("cpu",))
            embeddings = embedder.embed_fitted(held_out.images)
            if precision == "fp32":
                require_agreement("fp32", agreement(reference, embeddings), "PyTorch")
                fp32_embeddings = embeddings
            versus_fp32 = agreement(fp32_embeddings if fp32_embeddings is not None else reference, embeddings)
            require_agreement(precision, versus_fp32, "FP32")
            size = Path(temporary).stat().st_size
            measured = _measure(embedder, embeddings, held_out, payload, options)
            reports.append(
                VariantReport(precision, path, size, versus_fp32.min_cosine, versus_fp32.max_abs_diff, **measured)
            )
        log.info("wrote %s", path)
    return reports


def _ordered(precisions: tuple[str, ...]) -> list[str]:
    unknown = set(precisions) - set(PRECISIONS)
    if unknown:
        raise ExportError(f"unknown precision {sorted(unknown)[0]!r}; choose from {', '.join(PRECISIONS)}")
    return [p for p in PRECISIONS if p in precisions]


def _convert(fp32: onnx.ModelProto, precision: str, calibration, spec: InputSpec, options: ExportOptions):
    copy = onnx.ModelProto.FromString(fp32.SerializeToString())
    if precision == "fp32":
        return copy
    if precision == "fp16":
        return to_fp16(copy, options.opset)
    log.info("calibrating INT8 on %d images (%s)", len(calibration), options.calib_method)
    return to_int8(
        copy,
        calibration,
        spec,
        options.opset,
        method=options.calib_method,
        symmetric=options.symmetric,
        full_range=options.full_range,
    )


def _measure(embedder, embeddings, held_out, payload, options) -> dict:
    config = payload["config"]
    way = feasible_way(held_out, config.get("way", 20), config.get("shot", 1), config.get("same_group", False))
    metrics, _ = evaluate_embeddings(
        embeddings,
        held_out,
        way=way,
        shot=config.get("shot", 1),
        episodes=options.episodes,
        same_group=config.get("same_group", False),
    )
    return dict(
        few_shot_accuracy=metrics["few_shot_accuracy"],
        eer=metrics["eer"],
        latency_ms=cpu_latency_ms(embedder, held_out.images[0]),
        way=way,
    )


def _dataset_root(payload: dict, data_root: Path | None) -> Path:
    root = Path(data_root) if data_root else Path(payload["dataset"]["root"])
    if not root.is_dir():
        raise ExportError(f"the checkpoint's dataset is not at {root}; pass --data with its folder")
    return root


def _dataset_records(payload: dict, root: Path):
    """The checkpoint's dataset, scanned as it was for training."""
    return scan_dataset(root, payload["dataset"].get("layout", "auto"), payload["config"].get("group_separator", ""))


def _recalibrated(
    payload: dict,
    options: ExportOptions,
    spec: InputSpec,
    network: torch.nn.Module,
    validation: ImageSet | None,
    embeddings: np.ndarray,
) -> dict:
    """The checkpoint with its "unknown" threshold set, for `options.target_far` (default: the FAR
    it was trained for), on `network`'s embeddings of its validation classes (`embeddings` are
    those of `validation` when it is given)."""
    target_far = options.target_far if options.target_far is not None else payload.get("target_far")
    if target_far is None or not 0 < target_far < 1:
        raise ExportError(f"give --target-far between 0 and 1 (not {target_far}) to calibrate the threshold")
    if validation is None:
        validation = _held_out_images(payload, options.data_root, spec, "val")
        embeddings = embed_images(network, validation.images, spec, torch.device("cpu"))
    threshold = calibrate_threshold(embeddings, validation.labels, target_far)
    log.info("threshold %.4f for FAR %g on the validation classes (was %s)", threshold, target_far,
             payload.get("threshold"))  # fmt: skip
    return {**payload, "threshold": threshold, "target_far": target_far}


def _held_out_images(payload: dict, data_root: Path | None, spec: InputSpec, part: str) -> ImageSet:
    root = _dataset_root(payload, data_root)
    records = _dataset_records(payload, root)
    classes = tuple(payload["split"][part])
    if len(classes) < 2:
        raise ExportError(f"the checkpoint's {part} split has fewer than two classes to measure on")
    present = {r.label for r in records}
    missing = [c for c in classes if c not in present]
    if missing:
        raise ExportError(f"{part} class {missing[0]!r} is not in {root}; pass --data with the training dataset")
    return load_images(records, classes, spec)


def _calibration_images(payload: dict, options: ExportOptions, spec: InputSpec) -> np.ndarray:
    if options.calib_dir is not None:
        folder = Path(options.calib_dir)
        if not folder.is_dir():
            raise CalibrationError(f"calibration folder {folder} does not exist")
        paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        root = _dataset_root(payload, options.data_root)
        train = set(payload["split"]["train"])
        paths = [r.path for r in _dataset_records(payload, root) if r.label in train]
        log.info("no --calib folder: calibrating on the checkpoint's training images")
    order = np.random.default_rng(0).permutation(len(paths))
    images = []
    for index in order:
        if len(images) >= options.calib_count:
            break
        try:
            images.append(fit_image(read_image(paths[index]), spec))
        except ImageReadError:
            continue
    if not images:
        raise CalibrationError(f"no readable calibration images in {options.calib_dir or 'the training data'}")
    return np.stack(images)
