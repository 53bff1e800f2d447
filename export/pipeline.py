"""`export_checkpoint`: checkpoint in, verified self-describing ONNX models (FP32, FP16, INT8) out."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.errors import ImageReadError
from edge_runtime.identity.openset import (
    Answers,
    OperatingPoint,
    operating_point,
    pair_scores,
    verification_metrics,
    verification_pairs,
)
from edge_runtime.imaging.preprocessing import InputSpec, fit_image, is_image_file, read_image
from edge_runtime.inference.embedder import Embedder
from edge_runtime.inference.int8_variants import TENSORRT_SUFFIX, model_stem
from edge_runtime.inference.model_info import ModelInfo
from export.far_table import render, table_of_embeddings
from export.gate import Decision
from export.graph import DEFAULT_OPSET, attach_metadata, describe, embedding_module, export_fp32, graph_hash
from export.precision import CalibrationError, to_fp16, to_int8
from export.tensorrt_variant import model_info, pair_for_tensorrt
from export.verify import (
    Agreement,
    ExportError,
    agreement,
    check_onnx,
    cpu_latency_ms,
    judge,
    require_acceptable,
    require_agreement,
)
from train.checkpoint import load_checkpoint
from train.datasets import ImageSet, load_images, scan_dataset
from train.evaluation import answers, calibrate_threshold, embed_images, feasible_way

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ExportOptions:
    """How to export: precisions, opset, calibration, evaluation and what a variant may lose."""

    precisions: tuple[str, ...] = ("fp32",)
    opset: int = DEFAULT_OPSET
    calib_dir: Path | None = None
    calib_count: int = 256
    calib_method: str = "percentile"
    full_range: bool = False
    data_root: Path | None = None
    episodes: int = 1000
    eval_split: str = "val"
    kind: str | None = None
    notes: str = ""
    target_far: float | None = None
    flip_average: bool = False
    max_drop: float = 1.0


@dataclass(frozen=True)
class VariantReport:
    """One exported file and what it was measured to be."""

    precision: str
    quantization: str
    path: Path
    size_bytes: int
    agreement: Agreement
    agreement_with: str
    few_shot_accuracy: float
    accuracy_drop: Decision
    far_decision: Decision | None
    eer: float
    operating_point: OperatingPoint | None
    latency_ms: float
    way: int


@dataclass(frozen=True)
class _Variant:
    """A graph ready to be written, with its metadata and file name suffix."""

    precision: str
    suffix: str
    proto: onnx.ModelProto
    info: ModelInfo


@dataclass(frozen=True)
class _Measured:
    """What every variant is compared with: PyTorch's embeddings and their accuracy."""

    held_out: ImageSet
    validation: ImageSet
    reference: np.ndarray
    reference_answers: Answers


def output_path(base: Path, suffix: str) -> Path:
    """`model.onnx` → `model.int8.onnx`: where each variant's file goes."""
    return base.with_name(f"{model_stem(base)}.{suffix}.onnx")


def export_checkpoint(checkpoint: Path, output: Path, options: ExportOptions) -> list[VariantReport]:
    """Export, check and measure each requested precision, then write them all; raise
    SiameseEdgeError (nothing written) when one fails a check or loses more than allowed."""
    payload = load_checkpoint(checkpoint)
    if payload.get("threshold") is None:
        log.warning("the checkpoint has no calibrated threshold (training did not finish); the model will have none")
    spec = InputSpec.from_dict(payload["input"])
    held_out = _held_out_images(payload, options.data_root, spec, options.eval_split)
    network = embedding_module(payload, options.flip_average)
    reference = embed_images(network, held_out.images, spec, torch.device("cpu"))
    validation = held_out if options.eval_split == "val" else _held_out_images(payload, options.data_root, spec, "val")
    if options.target_far is not None or options.flip_average:  # flip-averaged scores need their own threshold
        payload = _recalibrated(payload, options, network, validation, spec)
    payload = _with_far_table(payload, reference if validation is held_out else None, network, validation, spec)
    precisions = _ordered(options.precisions)
    calibration = _calibration_images(payload, options, spec) if "int8" in precisions else None
    fp32 = export_fp32(payload, options.opset, options.flip_average)
    baseline = _Measured(held_out, validation, reference, _accuracy(reference, held_out, payload, options)[0])
    variants = [v for p in precisions for v in _variants(fp32, p, payload, calibration, spec, options, output)]
    reports: list[VariantReport] = []
    with contextlib.ExitStack() as files:  # all or nothing: an error removes every file written so far
        fp32_embeddings = None
        for variant in variants:
            path = output_path(output, variant.suffix)
            temporary = files.enter_context(atomic_path(path))
            onnx.save(variant.proto, temporary)
            report, embeddings = _check_and_measure(temporary, path, variant, baseline, fp32_embeddings, payload,
                                                    options)  # fmt: skip
            fp32_embeddings = embeddings if variant.precision == "fp32" else fp32_embeddings
            reports.append(report)
    for report in reports:
        log.info("wrote %s", report.path)
    return reports


def _variants(fp32, precision, payload, calibration, spec, options, output) -> list[_Variant]:
    """The graphs of one precision with their metadata: INT8 gives the CPU (U8S8) and TensorRT (S8S8) ones."""
    family = graph_hash(fp32)
    copy = onnx.ModelProto.FromString(fp32.SerializeToString())
    if precision == "fp32":
        converted = copy
    elif precision == "fp16":
        converted = to_fp16(copy, options.opset)
    else:
        log.info("calibrating INT8 on %d images (%s)", len(calibration), options.calib_method)
        converted = to_int8(copy, calibration, spec, options.opset, method=options.calib_method,
                            full_range=options.full_range)  # fmt: skip
    info = dataclasses.replace(
        describe(payload, converted, precision, options.kind, options.notes, options.flip_average),
        family_hash=family,
        training_classes=tuple(payload["split"]["train"]),
    )
    proto = attach_metadata(converted, info)
    if precision != "int8":
        return [_Variant(precision, precision, proto, info)]
    cpu, tensorrt = pair_for_tensorrt(proto, output_path(output, "int8").name)
    return [
        _Variant(precision, "int8", cpu, model_info(cpu)),
        _Variant(precision, "int8" + TENSORRT_SUFFIX[: -len(".onnx")], tensorrt, model_info(tensorrt)),
    ]


def _check_and_measure(temporary: Path, path: Path, variant: _Variant, baseline: _Measured, fp32_embeddings,
                       payload: dict, options: ExportOptions) -> tuple[VariantReport, np.ndarray]:  # fmt: skip
    """Check the written file, measure it against FP32 (or PyTorch) and refuse it if it loses too much."""
    check_onnx(variant.proto)
    embedder = Embedder(temporary, providers=("cpu",))
    embeddings = embedder.embed_fitted(baseline.held_out.images)
    if variant.precision == "fp32":
        against, agreed = "PyTorch", agreement(baseline.reference, embeddings)
        require_agreement("fp32", agreed, against)
    else:
        against = "FP32" if fp32_embeddings is not None else "PyTorch"
        agreed = agreement(fp32_embeddings if fp32_embeddings is not None else baseline.reference, embeddings)
    given, eer, way = _accuracy(embeddings, baseline.held_out, payload, options)
    point = None
    if payload.get("threshold") is not None:
        same_set = baseline.validation is baseline.held_out
        validation = embeddings if same_set else embedder.embed_fitted(baseline.validation.images)
        point = operating_point(validation, baseline.validation.labels, payload["threshold"])
    losses = judge(variant.precision, agreed, against, (baseline.reference_answers, given), "PyTorch FP32",
                   options.max_drop, point, payload.get("target_far"))  # fmt: skip
    require_acceptable(path.name, losses)
    report = VariantReport(
        precision=variant.precision,
        quantization=variant.info.quantization,
        path=path,
        size_bytes=temporary.stat().st_size,
        agreement=agreed,
        agreement_with=against,
        few_shot_accuracy=float(given.correct.mean()),
        accuracy_drop=losses.accuracy,
        far_decision=losses.far,
        eer=eer,
        operating_point=point,
        latency_ms=cpu_latency_ms(embedder, baseline.held_out.images[0]),
        way=way,
    )
    return report, embeddings


def _ordered(precisions: tuple[str, ...]) -> list[str]:
    unknown = set(precisions) - set(PRECISIONS)
    if unknown:
        raise ExportError(f"unknown precision {sorted(unknown)[0]!r}; choose from {', '.join(PRECISIONS)}")
    return [p for p in PRECISIONS if p in precisions]


def _accuracy(embeddings: np.ndarray, held_out: ImageSet, payload: dict, options: ExportOptions):
    """The answers to N-way one-shot episodes (the same episodes for every variant), EER and N."""
    config = payload["config"]
    protocol = {"shot": config.get("shot", 1), "same_group": config.get("same_group", False)}
    way = feasible_way(held_out, config.get("way", 20), protocol["shot"], protocol["same_group"])
    first, second, same = verification_pairs(held_out.labels)
    eer = verification_metrics(pair_scores(embeddings, first, second), same)["eer"]
    return answers(embeddings, held_out, way=way, episodes=options.episodes, **protocol), eer, way


def _dataset_root(payload: dict, data_root: Path | None) -> Path:
    root = Path(data_root) if data_root else Path(payload["dataset"]["root"])
    if not root.is_dir():
        raise ExportError(f"the checkpoint's dataset is not at {root}; pass --data with its folder")
    return root


def _dataset_records(payload: dict, root: Path):
    """The checkpoint's dataset, scanned as it was for training."""
    return scan_dataset(root, payload["dataset"].get("layout", "auto"), payload["config"].get("group_separator", ""))


def _recalibrated(
    payload: dict, options: ExportOptions, network: torch.nn.Module, validation: ImageSet, spec: InputSpec
) -> dict:
    """The checkpoint with its "unknown" threshold set, for `options.target_far` (default: the FAR
    it was trained for), on `network`'s embeddings of its validation classes."""
    target_far = options.target_far if options.target_far is not None else payload.get("target_far")
    if target_far is None or not 0 < target_far < 1:
        raise ExportError(f"give --target-far between 0 and 1 (not {target_far}) to calibrate the threshold")
    embeddings = embed_images(network, validation.images, spec, torch.device("cpu"))
    threshold = calibrate_threshold(embeddings, validation.labels, target_far)
    log.info("threshold %.4f for FAR %g on the validation classes (was %s)", threshold, target_far,
             payload.get("threshold"))  # fmt: skip
    return {**payload, "threshold": threshold, "target_far": target_far}


def _with_far_table(
    payload: dict, embeddings: np.ndarray | None, network: torch.nn.Module, validation: ImageSet, spec: InputSpec
) -> dict:
    """The checkpoint with the FAR table of its validation classes (`embeddings`: theirs, when at hand)."""
    if embeddings is None:
        embeddings = embed_images(network, validation.images, spec, torch.device("cpu"))
    rows = table_of_embeddings(embeddings, validation.labels)
    log.info("FAR table on the %d validation classes (thresholds for --far and --false-name-rate):\n%s",
             len(np.unique(validation.labels)), render(rows))  # fmt: skip
    return {**payload, "far_table": [row.to_dict() for row in rows]}


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
        paths = sorted(p for p in folder.rglob("*") if is_image_file(p))
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
