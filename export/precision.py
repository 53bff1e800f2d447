"""Lower-precision variants of an exported FP32 graph: FP16 weights and INT8 QDQ quantization."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from edge_runtime.errors import SiameseEdgeError
from edge_runtime.preprocessing import InputSpec, to_input_tensor
from export.graph import INPUT_NAME, drop_unused_domains, pin_versions

log = logging.getLogger(__name__)

CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


class CalibrationError(SiameseEdgeError):
    """The calibration images cannot be used."""


def to_fp16(proto: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """Float16 weights and arithmetic, with float32 input and output kept for the caller."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = float16.convert_float_to_float16(proto, keep_io_types=True)
    return drop_unused_domains(pin_versions(converted, opset))


class _ImageBatches(CalibrationDataReader):
    """Equal-sized batches (the histogram calibrators need one shape), a final partial one dropped."""

    def __init__(self, images: np.ndarray, spec: InputSpec, batch_size: int) -> None:
        batch_size = min(batch_size, len(images))
        images = images[: len(images) - len(images) % batch_size]
        self.batches: Iterator[np.ndarray] = (
            to_input_tensor(images[i : i + batch_size], spec) for i in range(0, len(images), batch_size)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def to_int8(
    proto: onnx.ModelProto,
    calibration_images: np.ndarray,
    spec: InputSpec,
    opset: int,
    *,
    method: str = "percentile",
    full_range: bool = False,
) -> onnx.ModelProto:
    """Static INT8 quantization in QDQ format for CPUs (U8S8), calibrated on real images (`quantize_u8s8`).
    TensorRT gets the S8S8 form of this model (`export.tensorrt_variant`), built from the same calibration.
    """
    if len(calibration_images) == 0:
        raise CalibrationError("INT8 calibration needs at least one readable image")
    batches = _ImageBatches(calibration_images, spec, batch_size=16)
    return quantize_u8s8(proto, batches, opset, method=method, full_range=full_range)


def quantize_u8s8(
    proto: onnx.ModelProto,
    batches: CalibrationDataReader,
    opset: int,
    *,
    method: str = "percentile",
    full_range: bool = False,
) -> onnx.ModelProto:
    """Static INT8 quantization in QDQ format for CPUs (U8S8), calibrated on the inputs `batches` gives.

    Activations are unsigned and asymmetric, weights signed, symmetric and per channel. Weights
    use 7 bits unless `full_range`: x86 CPUs without VNNI multiply u8×s8 through 16-bit sums that
    saturate with 8-bit weights (seen here: cosine to FP32 fell to 0.2). The model's metadata is kept.
    """
    if method not in CALIBRATION_METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; choose {', '.join(CALIBRATION_METHODS)}")
    with tempfile.TemporaryDirectory(prefix="siamese-edge-int8-") as scratch:
        fp32_path, prepared_path, int8_path = (Path(scratch) / n for n in ("fp32.onnx", "prep.onnx", "int8.onnx"))
        onnx.save(proto, fp32_path)
        quant_pre_process(str(fp32_path), str(prepared_path), skip_symbolic_shape=False)
        chatter = io.StringIO()  # the calibrators print their progress: keep stdout for the summary
        with warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
            warnings.simplefilter("ignore")
            quantize_static(
                str(prepared_path),
                str(int8_path),
                batches,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=not full_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CALIBRATION_METHODS[method],
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )
        log.debug("%s", chatter.getvalue().strip())
        quantized = onnx.load(int8_path)
        _keep_metadata(proto, quantized)
        return drop_unused_domains(pin_versions(quantized, opset))


def _keep_metadata(source: onnx.ModelProto, target: onnx.ModelProto) -> None:
    """Give `target` every metadata entry of `source` (their values win), keeping its own others."""
    entries = {entry.key: entry for entry in target.metadata_props}
    for entry in source.metadata_props:
        if entry.key in entries:
            entries[entry.key].value = entry.value
        else:
            target.metadata_props.add(key=entry.key, value=entry.value)
