"""Lower-precision variants of an exported FP32 graph: FP16 weights and INT8 QDQ quantization."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.imaging.preprocessing import InputSpec, to_input_tensor
from export.graph import drop_unused_domains, pin_versions, set_metadata

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


def equal_batches(arrays: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """`arrays` in batches of `size` (or all of them, when fewer), a final partial batch dropped: the
    histogram calibrators need one shape."""
    size = min(size, len(arrays))
    return (arrays[start : start + size] for start in range(0, len(arrays) - size + 1, size))


class _InputBatches(CalibrationDataReader):
    """The model's one input, a batch at a time."""

    def __init__(self, batches: Iterable[np.ndarray], input_name: str) -> None:
        self.batches, self.input_name = iter(batches), input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {self.input_name: batch}


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
    batches = (to_input_tensor(images, spec) for images in equal_batches(calibration_images, 16))
    return quantize_u8s8(proto, batches, opset, method=method, full_range=full_range)


def quantize_u8s8(
    proto: onnx.ModelProto,
    batches: Iterable[np.ndarray],
    opset: int,
    *,
    method: str = "percentile",
    full_range: bool = False,
) -> onnx.ModelProto:
    """Static INT8 quantization in QDQ format for CPUs (U8S8), calibrated on `batches` of the model's input.

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
                _InputBatches(batches, proto.graph.input[0].name),
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
        set_metadata(quantized, {entry.key: entry.value for entry in proto.metadata_props})
        return drop_unused_domains(pin_versions(quantized, opset))
