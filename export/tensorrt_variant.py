"""The TensorRT variant of a U8S8 INT8 model: the same calibration and weights, in the S8S8 QDQ form
that TensorRT's explicit quantization takes.

ONNX Runtime's CPU model (`quantize_static`, unsigned activations) has what TensorRT refuses:
unsigned activations with non-zero zero points, INT8 weights fed straight to DequantizeLinear and
INT32 biases. This rewrite keeps what was calibrated and changes only the form:

- activations: each unsigned Q/DQ (scale s, zero point z) covers [-z*s, (255-z)*s]; it becomes
  signed and symmetric over the same range, scale max(z, 255-z)*s/127, zero point 0. Where z is 0
  the unsigned Q also clamped negatives to 0 (the quantizer removes a ReLU into it), so a Relu
  is put back in front;
- weights: the INT8 values and per-channel scales are kept bit for bit, stored as float and
  passed through their own QuantizeLinear/DequantizeLinear (TensorRT 8.6 wants float weights);
- biases: INT32 DequantizeLinear folded into float initializers;
- every DequantizeLinear output feeds one node (TensorRT wants a dedicated Q/DQ pair per consumer).

`python -m export.tensorrt_variant MODEL.int8.onnx [--classes-from NOTES.json]` writes
`MODEL.int8.tensorrt.onnx` beside the model and names it in the model's metadata, for INT8 models
that exist without their checkpoint (the bundled ones); `export-onnx -p int8` does the same for
the models it writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from pathlib import Path

import click
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.core.errors import ModelError
from edge_runtime.inference.int8_variants import CPU_QUANTIZATION, TENSORRT_QUANTIZATION, tensorrt_variant_name
from edge_runtime.inference.model_info import ModelInfo
from export.gate import as_change
from export.graph import attach_metadata, drop_unused_domains, graph_hash, read_onnx
from export.variant_gate import GateData, gate_variant
from export.verify import Losses

log = logging.getLogger(__name__)

QUANTIZE, DEQUANTIZE = "QuantizeLinear", "DequantizeLinear"


def model_info(proto: onnx.ModelProto, source: str = "the model") -> ModelInfo:
    """The siamese-edge metadata of an ONNX model (read as the runtime reads it from a session)."""
    return ModelInfo.from_model(proto, source=source)


class _Graph:
    """Lookups over a graph that is being rewritten."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.initializers = {i.name: i for i in graph.initializer}

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.initializers[name])

    def add_initializer(self, array: np.ndarray, name: str) -> str:
        tensor = numpy_helper.from_array(array, name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name

    def consumers(self, tensor: str) -> list[onnx.NodeProto]:
        return [n for n in self.graph.node if tensor in n.input]

    def outputs(self) -> set[str]:
        return {o.name for o in self.graph.output}


def _is_weight_dequantize(graph: _Graph, node: onnx.NodeProto) -> bool:
    return node.op_type == DEQUANTIZE and node.input[0] in graph.initializers


def _rewrite_constants(graph: _Graph) -> list[onnx.NodeProto]:
    """Biases to float initializers; weights to float initializers behind their own Q/DQ pair."""
    nodes = []
    for node in graph.graph.node:
        if not _is_weight_dequantize(graph, node):
            nodes.append(node)
            continue
        values, scale = graph.array(node.input[0]), graph.array(node.input[1])
        zero = graph.array(node.input[2]) if len(node.input) > 2 else np.zeros_like(scale, values.dtype)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        shape = [1] * values.ndim
        if scale.ndim:
            shape[axis] = -1
        real = ((values.astype(np.float64) - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
        if values.dtype == np.int32:  # a bias: TensorRT takes it in float
            graph.add_initializer(real, node.output[0])
            continue
        if values.dtype != np.int8 or np.any(zero != 0):
            raise ModelError(f"weight {node.input[0]} is not signed symmetric INT8; cannot convert for TensorRT")
        floats = graph.add_initializer(real, node.input[0] + "_float")
        signed_zero = node.input[2] if len(node.input) > 2 else graph.add_initializer(zero, node.input[0] + "_zero")
        quantized = node.input[0] + "_s8"
        nodes.append(helper.make_node(QUANTIZE, [floats, node.input[1], signed_zero], [quantized], axis=axis,
                                      name=node.name + "_weight_quantize"))  # fmt: skip
        nodes.append(helper.make_node(DEQUANTIZE, [quantized, node.input[1], signed_zero], list(node.output),
                                      axis=axis, name=node.name))  # fmt: skip
    return nodes


def _signed_parameters(graph: _Graph, scale_name: str, zero_name: str) -> tuple[str, str, bool]:
    """Signed symmetric scale and zero point covering an unsigned pair's range; and whether the
    unsigned pair clamped negatives (zero point 0)."""
    scale, zero = graph.array(scale_name).astype(np.float64), graph.array(zero_name).astype(np.int64)
    amax = np.maximum(zero, 255 - zero) * scale
    new_scale = graph.add_initializer((amax / 127.0).astype(np.float32), scale_name + "_s8")
    new_zero = graph.add_initializer(np.zeros(zero.shape, np.int8), zero_name + "_s8")
    return new_scale, new_zero, bool(np.all(zero == 0))


def _rewrite_activations(graph: _Graph, nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Unsigned activation Q/DQ pairs to signed symmetric ones (a Relu back where they clamped at 0)."""
    converted: dict[tuple[str, str], tuple[str, str, bool]] = {}
    rewritten = []
    for node in nodes:
        if node.op_type not in (QUANTIZE, DEQUANTIZE) or len(node.input) < 3:
            rewritten.append(node)
            continue
        zero = graph.initializers.get(node.input[2])
        if zero is None or zero.data_type != TensorProto.UINT8:
            rewritten.append(node)
            continue
        key = (node.input[1], node.input[2])
        if key not in converted:
            converted[key] = _signed_parameters(graph, *key)
        scale, signed_zero, clamps = converted[key]
        source = node.input[0]
        if node.op_type == QUANTIZE and clamps:
            source = node.input[0] + "_relu"
            rewritten.append(helper.make_node("Relu", [node.input[0]], [source], name=node.name + "_relu"))
        rewritten.append(helper.make_node(node.op_type, [source, scale, signed_zero], list(node.output),
                                          name=node.name))  # fmt: skip
    return rewritten


def _dedicated_pairs(graph: _Graph) -> None:
    """Give every consumer of a DequantizeLinear output its own Q/DQ pair (TensorRT fuses per node)."""
    producers = {o: n for n in graph.graph.node for o in n.output}
    extra: list[onnx.NodeProto] = []
    for dequantize in [n for n in graph.graph.node if n.op_type == DEQUANTIZE]:
        quantize = producers.get(dequantize.input[0])
        consumers = graph.consumers(dequantize.output[0])
        if quantize is None or quantize.op_type != QUANTIZE or len(consumers) < 2:
            continue
        for number, consumer in enumerate(consumers[1:], start=1):
            suffix = f"_pair{number}"
            q_out, dq_out = quantize.output[0] + suffix, dequantize.output[0] + suffix
            extra.append(helper.make_node(QUANTIZE, [quantize.input[0], *quantize.input[1:]], [q_out],
                                          name=quantize.name + suffix))  # fmt: skip
            extra.append(helper.make_node(DEQUANTIZE, [q_out, *dequantize.input[1:]], [dq_out],
                                          name=dequantize.name + suffix))  # fmt: skip
            for i, name in enumerate(consumer.input):
                if name == dequantize.output[0]:
                    consumer.input[i] = dq_out
    graph.graph.node.extend(extra)


def _topological(graph: onnx.GraphProto) -> None:
    """Order the nodes so that each comes after the producers of its inputs."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        runnable = [n for n in pending if all(i in ready for i in n.input)]
        if not runnable:
            raise ModelError("the graph has a cycle or a missing input; cannot convert it")
        for node in runnable:
            ordered.append(node)
            ready.update(node.output)
        pending = [n for n in pending if n not in runnable]
    del graph.node[:]
    graph.node.extend(ordered)


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def to_tensorrt_variant(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The S8S8 TensorRT form of a U8S8 QDQ model (a new model; `proto` is left as it is)."""
    variant = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = _Graph(variant.graph)
    nodes = _rewrite_activations(graph, _rewrite_constants(graph))
    del variant.graph.node[:]
    variant.graph.node.extend(nodes)
    _dedicated_pairs(graph)
    _drop_unused_initializers(variant.graph)
    _topological(variant.graph)
    del variant.graph.value_info[:]
    return drop_unused_domains(variant)


def pair_for_tensorrt(cpu_proto: onnx.ModelProto, cpu_name: str) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The U8S8 model with its metadata naming the TensorRT sibling, and that S8S8 sibling."""
    info = model_info(cpu_proto, cpu_name)
    if info.precision != "int8":
        raise ModelError(f"{cpu_name} is {info.precision}, not INT8: TensorRT takes it as it is")
    if info.quantization == TENSORRT_QUANTIZATION:
        raise ModelError(f"{cpu_name} is already the S8S8 TensorRT form")
    family = info.family
    variant = to_tensorrt_variant(cpu_proto)
    variant_info = dataclasses.replace(
        info, model_hash=graph_hash(variant), family_hash=family, quantization=TENSORRT_QUANTIZATION,
        tensorrt_variant="",
    )  # fmt: skip
    cpu_info = dataclasses.replace(
        info, family_hash=family, quantization=CPU_QUANTIZATION, tensorrt_variant=tensorrt_variant_name(Path(cpu_name))
    )
    cpu = attach_metadata(drop_unused_domains(onnx.ModelProto.FromString(cpu_proto.SerializeToString())), cpu_info)
    return cpu, attach_metadata(variant, variant_info)


def with_training_classes(proto: onnx.ModelProto, classes: tuple[str, ...]) -> onnx.ModelProto:
    """The model with `training_classes` in its metadata (for models exported before the key existed)."""
    return attach_metadata(proto, dataclasses.replace(model_info(proto), training_classes=classes))


def write_tensorrt_variant(model: Path, data: GateData, reference: Path | None = None,
                           training_classes: tuple[str, ...] = ()) -> tuple[Path, Losses]:  # fmt: skip
    """Write the TensorRT sibling of the U8S8 model at `model` and name it in `model`'s metadata
    (and the classes it was trained on, when given), once the export's gate has passed it against
    `reference` (default: `model` as it was) on `data`; nothing is written when it fails."""
    proto = read_onnx(model)
    if training_classes:
        proto = with_training_classes(proto, training_classes)
    cpu, variant = pair_for_tensorrt(proto, model.name)
    onnx.checker.check_model(variant, full_check=True)
    sibling = model.with_name(tensorrt_variant_name(model))
    with contextlib.ExitStack() as files:  # both files or neither; the sibling is in place before the model names it
        cpu_file, variant_file = (files.enter_context(atomic_path(p)) for p in (model, sibling))
        onnx.save(variant, variant_file)
        onnx.save(cpu, cpu_file)
        losses = gate_variant(variant_file, reference or model, sibling.name, data)
    return sibling, losses


def _trained_on(notes: Path | None) -> tuple[str, ...]:
    if notes is None:
        return ()
    try:
        classes = json.loads(notes.read_text())["trained_on"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelError(f"{notes} has no list 'trained_on' ({error})") from None
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"{notes}: 'trained_on' must be a list of class names")
    return tuple(classes)


@click.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Held-out classes, a folder each, that the gate measures the variant on (faces are found and cut).",
)
@click.option(
    "--reference",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The model the variant is compared with, e.g. the FP32 export (default: MODEL as it is).",
)
@click.option(
    "--classes-from",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A JSON file whose 'trained_on' lists the training classes, for the metadata.",
)
@click.option("--way", type=click.IntRange(min=2), default=20, help="N of the N-way 1-shot episodes (or fewer).")
@click.option("--episodes", type=click.IntRange(min=2), default=1000, help="One-shot episodes, the gate's sample.")
@click.option(
    "--max-drop",
    type=click.FloatRange(min=0),
    default=1.0,
    help="Refuse the variant when its one-shot accuracy is significantly more than this many points below.",
)
@one_line_errors()
def main(model: Path, data: Path, reference: Path | None, classes_from: Path | None, **protocol) -> None:
    """Write the TensorRT (S8S8) variant beside a U8S8 INT8 MODEL and name it in its metadata, once it
    passes the export's gate on held-out classes."""
    sibling, losses = write_tensorrt_variant(model, GateData(data, **protocol), reference, _trained_on(classes_from))
    click.echo(
        f"{model} -> {sibling}: one-shot accuracy {as_change(losses.accuracy)} points over "
        f"{losses.accuracy.sample} episodes, min cosine {losses.agreement.min_cosine:.4f}, against "
        f"{(reference or model).name}"
    )


if __name__ == "__main__":
    main()
