"""Convert dlib's shape predictor (`shape_predictor_5_face_landmarks.dat`) to a numpy `.npz`, without dlib.

The predictor is Kazemi & Sullivan's (2014) ensemble of regression trees as dlib writes it
(`dlib/image_processing/shape_predictor.h`): a version (1), the initial shape (a column of 2×parts
floats, in the unit square of the face rectangle), the forests (one list of trees per cascade level;
a tree is its split nodes, each two feature indices and a threshold, in breadth-first order, then
one column of shape offsets per leaf), then for each level the anchor part and offset of every
feature pixel. dlib writes integers in its variable-length form (a control byte holding the byte
count, 0x80 for negative, then the bytes little-endian), floats as an integer mantissa and exponent
(value = mantissa · 2^exponent), a vector as its length then its items, a matrix as its rows and
columns (negated in the current format) then its values.

    python -m train.dlib.landmarks .../face_recognition_models/models/shape_predictor_5_face_landmarks.dat \
        shape_predictor_5.npz

`edge_runtime.faces.face_landmarks.DlibShapePredictor` reads the result.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.core.errors import CheckpointError
from edge_runtime.faces.face_landmarks import NPZ_FORMAT
from train.dlib.serial import DlibReader

SPECIAL_EXPONENTS = 32000  # dlib marks inf, -inf and NaN with exponents 32000..32002


class _Reader(DlibReader):
    """dlib's integers, and the floats and columns of a shape predictor."""

    def count(self, limit: int, what: str) -> int:
        """A length or index that must lie in [0, limit]."""
        value = self.integer()
        if not 0 <= value <= limit:
            raise self.fail(f"{what} {value} out of range")
        return value

    def decode(self, mantissas: list[int], exponents: list[int]) -> np.ndarray:
        """dlib's floats from their parts: float32(mantissa) scaled by 2^exponent, as dlib reads them."""
        exponents = np.array(exponents, np.int64)
        if (exponents >= SPECIAL_EXPONENTS).any():
            raise self.fail("an infinite or NaN value")
        return np.ldexp(np.array(mantissas, np.int64).astype(np.float32), exponents.astype(np.int32))

    def floats(self, n: int) -> np.ndarray:
        """`n` floats."""
        parts = self.integers(2 * n)
        return self.decode(parts[0::2], parts[1::2])

    def column(self) -> np.ndarray:
        """One dlib column matrix of floats, of any length."""
        nr, nc = abs(self.integer()), abs(self.integer())
        if nc != 1 or nr > len(self.data):
            raise self.fail(f"a {nr}×{nc} matrix where a column belongs")
        return self.floats(nr)

    def columns(self, count: int, rows: int) -> np.ndarray:
        """`count` dlib column matrices of `rows` floats each, as a count×rows array."""
        parts = np.array(self.integers(count * (2 + 2 * rows)), np.int64).reshape(count, 2 + 2 * rows)
        if (np.abs(parts[:, :2]) != (rows, 1)).any():
            raise self.fail(f"a matrix of another size where a column of {rows} values belongs")
        return self.decode(parts[:, 2::2].ravel(), parts[:, 3::2].ravel()).reshape(count, rows)


def read_shape_predictor(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of dlib's shape predictor `.dat` at `path`, checked for consistency."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"dlib shape predictor {path} does not exist")
    reader = _Reader(path.read_bytes(), str(path), "dlib shape predictor")
    if reader.integer() != 1:
        raise CheckpointError(f"{path} is not a dlib shape predictor (version 1 expected first)")
    initial = reader.column()
    if initial.size == 0 or initial.size % 2:
        raise CheckpointError(f"{path} is not a dlib shape predictor (its initial shape has {initial.size} values)")
    parts, limit = initial.size // 2, len(reader.data)
    levels = reader.count(limit, "cascade count")
    splits, thresholds, leaves = [], [], []
    for _ in range(levels):
        trees = reader.count(limit, "tree count")
        level_splits, level_thresholds, level_leaves = [], [], []
        for _ in range(trees):
            nodes = reader.count(limit, "split count")
            fields = reader.integers(4 * nodes)  # feature, feature, mantissa, exponent
            pairs = np.array(fields, np.int64).reshape(-1, 4)[:, :2]
            cuts = reader.decode(fields[2::4], fields[3::4])
            count = reader.count(limit, "leaf count")
            if count != nodes + 1 or count & (count - 1):
                raise CheckpointError(f"{path}: a tree with {nodes} splits and {count} leaves is not a full tree")
            level_splits.append(pairs)
            level_thresholds.append(cuts)
            level_leaves.append(reader.columns(count, 2 * parts))
        splits.append(level_splits)
        thresholds.append(level_thresholds)
        leaves.append(level_leaves)
    anchors = [
        np.array([reader.count(parts - 1, "anchor part") for _ in range(reader.count(limit, "feature count"))])
        for _ in range(reader.count(limit, "cascade count"))
    ]
    deltas = [
        reader.floats(2 * reader.count(limit, "feature count")).reshape(-1, 2)
        for _ in range(reader.count(limit, "cascade count"))
    ]
    if reader.pos != len(reader.data):
        raise CheckpointError(f"{path} has {len(reader.data) - reader.pos} bytes after the shape predictor")
    return _stack(path, initial, splits, thresholds, leaves, anchors, deltas)


def _stack(path, initial, splits, thresholds, leaves, anchors, deltas) -> dict[str, np.ndarray]:
    """The per-level lists as rectangular arrays (every level has as many trees of one depth)."""
    trees = {len(level) for level in splits}
    tree_shapes = {s.shape for level in splits for s in level}
    features = {len(a) for a in anchors} | {len(d) for d in deltas}
    if not splits or 0 in trees or len(trees) != 1 or len(tree_shapes) != 1 or len(anchors) != len(splits):
        raise CheckpointError(f"{path}: cascade levels of unequal sizes are not supported")
    if len(features) != 1:
        raise CheckpointError(f"{path}: cascade levels with unequal numbers of feature pixels are not supported")
    split_features = np.array(splits)
    if split_features.max(initial=0) >= features.pop() or split_features.min(initial=0) < 0:
        raise CheckpointError(f"{path}: a split uses a feature pixel that does not exist")
    levels, count = split_features.shape[:2]
    return {
        "format": np.array(NPZ_FORMAT),
        "initial_shape": initial.reshape(-1, 2),
        "split_features": split_features.astype(np.int16),
        "split_thresholds": np.array(thresholds, np.float32),
        "leaf_values": np.array(leaves, np.float32).reshape(levels, count, -1, len(initial) // 2, 2),
        "anchor_parts": np.array(anchors, np.int16),
        "anchor_deltas": np.array(deltas, np.float32),
    }


def convert_shape_predictor(dat_path: str | Path, npz_path: str | Path, leaf_dtype: str = "float32") -> dict:
    """Write dlib's shape predictor `dat_path` as the `.npz` `DlibShapePredictor` loads; returns its sizes.

    `leaf_dtype="float16"` halves the file, but its landmarks then stop matching dlib's to the pixel.
    """
    arrays = read_shape_predictor(dat_path)
    arrays["leaf_values"] = arrays["leaf_values"].astype(np.dtype(leaf_dtype))
    npz_path = Path(npz_path)
    with atomic_path(npz_path) as temporary, open(temporary, "wb") as handle:  # a path would gain .npz
        np.savez_compressed(handle, **arrays)
    levels, trees, splits, _ = arrays["split_features"].shape
    return {
        "parts": len(arrays["initial_shape"]),
        "levels": levels,
        "trees_per_level": trees,
        "depth": int(np.log2(splits + 1)),
        "features_per_level": arrays["anchor_parts"].shape[1],
        "bytes": npz_path.stat().st_size,
    }


@click.command(context_settings=CONTEXT)
@click.argument("dat", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--float16", is_flag=True, help="Store leaf values as float16: 43% smaller, no longer dlib's points.")
@one_line_errors()
def main(dat: Path, out: Path, float16: bool) -> None:
    """Convert dlib's shape predictor DAT (shape_predictor_5_face_landmarks.dat) to OUT.npz for the runtime."""
    info = convert_shape_predictor(dat, out, "float16" if float16 else "float32")
    click.echo(json.dumps({"model": str(out), **info}))


if __name__ == "__main__":
    main()
