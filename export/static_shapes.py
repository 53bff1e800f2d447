"""Static graphs for TensorRT: shape computations on fixed dimensions folded into constants.

PyTorch's exporter writes `F.pad` and `view` with sizes read from tensors at run time: chains of
Shape, Gather, Sub, Concat, ConstantOfShape, Reshape and Cast feeding a Pad or a Reshape, even where
the model's input size is fixed (the dlib face ResNet: 150×150). ONNX Runtime folds them as it loads
the model; TensorRT has to build them as shape tensors, and may refuse or build slower. Here every
value computed only from fixed dimensions (all but the batch) becomes a constant, and the nodes that
computed it are dropped: the graph computes the same thing, and what reaches Pad and Reshape is a
constant. The batch stays dynamic.

    python -m export.static_shapes MODEL.onnx [MODEL.onnx …]   # in place; metadata kept as it is
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

from edge_runtime.core.atomic import atomic_path

log = logging.getLogger(__name__)
SHAPE_SOURCES = ("Shape", "Size")
# what PyTorch's exporter computes sizes with: a chain of these from a Shape is a shape computation
SHAPE_ARITHMETIC = {
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Sub",
    "Add",
    "Mul",
    "Div",
    "Cast",
    "Slice",
    "Reshape",
    "Transpose",
    "ConstantOfShape",
    "Range",
    "Neg",
    "Min",
    "Max",
    "Where",
    "Equal",
}


def _static_dims(proto: onnx.ModelProto) -> dict[str, list[int | None]]:
    """Each tensor's dimensions that shape inference knows (None: dynamic, such as the batch)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    dims: dict[str, list[int | None]] = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tensor = value.type.tensor_type
        if tensor.HasField("shape"):
            dims[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    return dims


def _shape_of(node: onnx.NodeProto, dims: dict[str, list[int | None]]) -> list[int | None] | None:
    """What a Shape node returns, where dimensions are unknown as None (its start and end honoured)."""
    shape = dims.get(node.input[0])
    if shape is None:
        return None
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Size":
        return [int(np.prod(shape))] if None not in shape else None
    return shape[attributes.get("start", 0) : attributes.get("end", len(shape))]


def fold_shape_computations(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `proto` where every value computed from fixed dimensions is a constant (see above).
    Folded until nothing changes: a pad folded makes the shapes after it known, and their chains foldable."""
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    while _fold_once(proto):
        pass
    return proto


def _fold_once(proto: onnx.ModelProto) -> bool:
    """Fold, in place, what shape inference shows to be fixed now; whether anything was."""
    graph = proto.graph
    dims = _static_dims(proto)
    known = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    partial: dict[str, list[int | None]] = {}  # Shape outputs with a dynamic dimension (the batch)
    folded: dict[str, np.ndarray] = {}  # computed from dimensions: what becomes constants
    dropped: set[int] = set()
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            known[node.output[0]] = np.asarray(ReferenceEvaluator(node).run(None, {})[0])
            continue
        inputs = [name for name in node.input if name]
        if node.op_type in SHAPE_SOURCES:
            shape = _shape_of(node, dims)
            if shape is not None and None not in shape:
                folded[node.output[0]] = np.array(shape, np.int64)
                dropped.add(index)
            elif shape is not None:
                partial[node.output[0]] = shape
            continue
        if node.op_type == "Gather" and node.input[0] in partial and node.input[1] in known:
            shape, indices = partial[node.input[0]], known[node.input[1]]
            picked = [shape[int(i)] for i in np.ravel(indices)]
            if None not in picked:
                folded[node.output[0]] = np.array(picked, np.int64).reshape(np.shape(indices))
                dropped.add(index)
            continue
        if not inputs or not any(name in folded for name in inputs):
            continue
        if not all(name in folded or known.get(name) is not None for name in inputs):
            continue
        values = {name: folded[name] if name in folded else known[name] for name in inputs}
        outputs = ReferenceEvaluator(node).run(None, values)
        folded.update(zip(node.output, (np.asarray(value) for value in outputs), strict=True))
        dropped.add(index)
    if not dropped:
        return False
    kept = [node for index, node in enumerate(graph.node) if index not in dropped]
    used = {name for node in kept for name in node.input} | {output.name for output in graph.output}
    for name, value in folded.items():
        if name in used:
            graph.initializer.append(numpy_helper.from_array(value, name))
    del graph.node[:]
    graph.node.extend(_without_dead_nodes(kept, {output.name for output in graph.output}))
    used = {name for node in graph.node for name in node.input} | {output.name for output in graph.output}
    unused = [tensor for tensor in graph.initializer if tensor.name not in used]
    for tensor in unused:
        graph.initializer.remove(tensor)
    del graph.value_info[:]  # shapes of removed values; ONNX Runtime infers its own
    onnx.checker.check_model(proto)
    return True


def _without_dead_nodes(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """`nodes` without those whose results nothing uses (the Constant nodes folding left behind)."""
    while True:
        used = {name for node in nodes for name in node.input} | outputs
        alive = [node for node in nodes if any(name in used for name in node.output)]
        if len(alive) == len(nodes):
            return alive
        nodes = alive


def shape_chains(proto: onnx.ModelProto) -> list[str]:
    """The Pad and Reshape nodes fed by a shape computation (a chain of Shape, Gather, ConstantOfShape
    and the arithmetic on them), which TensorRT would have to build as shape tensors: empty for a
    static graph."""
    producer = {output: node for node in proto.graph.node for output in node.output}

    def from_shape(name: str, seen: set[str]) -> bool:
        node = producer.get(name)
        if node is None or name in seen:
            return False
        seen.add(name)
        if node.op_type in (*SHAPE_SOURCES, "ConstantOfShape"):
            return True
        return node.op_type in SHAPE_ARITHMETIC and any(from_shape(source, seen) for source in node.input if source)

    found = []
    for node in proto.graph.node:
        if node.op_type in ("Pad", "Reshape") and any(from_shape(name, set()) for name in node.input if name):
            found.append(f"{node.op_type} {node.name}")
    return found


def fold_file(path: Path) -> list[str]:
    """Fold `path` in place (atomically), its metadata kept exactly; the Pad and Reshape chains it had."""
    proto = onnx.load(path)
    before = shape_chains(proto)
    static = fold_shape_computations(proto)
    if static.SerializeToString() != proto.SerializeToString():
        with atomic_path(path) as temporary:
            onnx.save(static, temporary)
    return before


def main(argv: list[str] | None = None) -> None:
    """Fold the shape computations of ONNX files in place (the bundled models: re-runnable)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    for path in parser.parse_args(argv).models:
        before = fold_file(path)
        print(f"{path}: {len(before)} Pad/Reshape fed by shape computations folded, "
              f"{len(shape_chains(onnx.load(path)))} left")  # fmt: skip


if __name__ == "__main__":
    main()
