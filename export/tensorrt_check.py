"""The project's reading of TensorRT's documented explicit-quantization (Q/DQ) rules, checked on a
model file without a GPU.

This is not TensorRT's parser, and TensorRT has never checked a file against it: the rules were
written by hand here from onnx-tensorrt's operator matrix and TensorRT's documentation of explicit
quantization, for the TensorRT releases of JetPack 6 (8.6 and 10.x): opsets 13 (per-channel Q/DQ)
to 17, the default domain only, QuantizeLinear/DequantizeLinear on signed INT8 with zero points 0,
no INT32 DequantizeLinear (biases in float), weights in float behind their own Q/DQ pair, one
consumer per DequantizeLinear, and an input whose only dynamic dimension is the batch.
`export/tensorrt_variant.py` writes its files by the same reading, so an empty list says the two
agree, not that TensorRT takes the file; only TensorRT itself (on a GPU) can say that.
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, numpy_helper

OPSETS = range(13, 18)
# Operators onnx-tensorrt's operator matrix lists as supported, of those image embedding networks export to.
_PARSED = (
    "Add AveragePool BatchNormalization Cast Clip Concat Constant ConstantOfShape Conv DequantizeLinear "
    "Div Equal Erf Exp Expand Flatten Gather Gemm GlobalAveragePool GlobalMaxPool Greater HardSigmoid "
    "Identity LeakyRelu Less MatMul Max MaxPool Min Mul Neg Not PRelu Pad Pow QuantizeLinear Range "
    "ReduceL2 ReduceMax ReduceMean ReduceSum Relu Reshape Resize Shape Sigmoid Slice Softmax Split Sqrt "
    "Squeeze Sub Tanh Tile Transpose Unsqueeze Where"
)
OPERATORS = frozenset(_PARSED.split())
QDQ = ("QuantizeLinear", "DequantizeLinear")
WEIGHTED = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1}


def _zero_point_problem(node: onnx.NodeProto, initializers: dict[str, onnx.TensorProto]) -> str | None:
    if len(node.input) < 3 or not node.input[2]:
        # Without a zero point QuantizeLinear outputs UINT8.
        return None if node.op_type == "DequantizeLinear" else "has no zero point (so it is UINT8)"
    zero = initializers.get(node.input[2])
    if zero is None:
        return "has a computed zero point"
    if zero.data_type != TensorProto.INT8:
        return f"is {TensorProto.DataType.Name(zero.data_type)}, not INT8"
    if numpy_helper.to_array(zero).any():
        return f"has non-zero zero points (up to {int(abs(numpy_helper.to_array(zero)).max())})"
    return None


def _weight_problem(node: onnx.NodeProto, producers: dict, initializers: dict) -> str | None:
    index = WEIGHTED[node.op_type]
    dequantize = producers.get(node.input[index])
    if dequantize is None or dequantize.op_type != "DequantizeLinear":
        return None  # a float weight: TensorRT runs the layer in float
    quantize = producers.get(dequantize.input[0])
    if quantize is None or quantize.op_type != "QuantizeLinear" or quantize.input[0] not in initializers:
        return "takes quantized weights without a float initializer and its own QuantizeLinear"
    return None


def tensorrt_problems(proto: onnx.ModelProto) -> list[str]:
    """Everything in the model that breaks the rules above, the project's reading of TensorRT's
    documented operator support and explicit quantization (none: []); not a run of TensorRT."""
    problems = []
    opsets = {entry.domain or "ai.onnx": entry.version for entry in proto.opset_import}
    if opsets.get("ai.onnx") not in OPSETS:
        problems.append(f"opset {opsets.get('ai.onnx')} (TensorRT here: {OPSETS.start}-{OPSETS.stop - 1})")
    problems += [f"opset domain {domain} (only the default domain)" for domain in opsets if domain != "ai.onnx"]
    graph = proto.graph
    initializers = {i.name: i for i in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    for node in graph.node:
        label = f"{node.op_type} {node.name or node.output[0]}"
        if node.domain or node.op_type not in OPERATORS:
            problems.append(f"{label}: an operator not in onnx-tensorrt's operator matrix")
        if node.op_type in QDQ and (problem := _zero_point_problem(node, initializers)):
            problems.append(f"{label} {problem}")
        if node.op_type == "DequantizeLinear":
            source = initializers.get(node.input[0])
            if source is not None and source.data_type == TensorProto.INT32:
                problems.append(f"{label} dequantizes INT32 (a quantized bias: TensorRT wants it in float)")
            if consumers.get(node.output[0], 0) > 1:
                problems.append(f"{label} feeds {consumers[node.output[0]]} nodes (one Q/DQ pair per consumer)")
        if node.op_type in WEIGHTED and (problem := _weight_problem(node, producers, initializers)):
            problems.append(f"{label} {problem}")
    problems += _shape_problems(graph)
    return problems


def _shape_problems(graph: onnx.GraphProto) -> list[str]:
    problems = []
    for value in [*graph.input, *graph.output]:
        tensor = value.type.tensor_type
        if tensor.elem_type != TensorProto.FLOAT:
            problems.append(f"{value.name} is {TensorProto.DataType.Name(tensor.elem_type)}, not float")
        dims = list(tensor.shape.dim)
        if not dims or dims[0].dim_value:
            problems.append(f"{value.name} has no dynamic batch dimension")
        if any(not d.dim_value for d in dims[1:]):
            problems.append(f"{value.name} has dynamic dimensions besides the batch (the profile covers the batch)")
    return problems
