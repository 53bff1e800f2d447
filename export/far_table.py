"""`python -m export.far_table MODEL... --data HELD_OUT [--write]`: measure a model's FAR table on
people it never saw, each image cut as the runtime cuts it, and (with `--write`) store it in the
model's metadata, for models exported before export-onnx wrote one (the bundled ones)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import numpy as np
import onnx

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.identity.openset import pair_scores, verification_pairs
from edge_runtime.identity.thresholds import FarRow, far_table
from edge_runtime.inference.embedder import Embedder
from export.graph import attach_metadata, read_onnx
from export.tensorrt_variant import model_info
from export.variant_gate import held_out_faces

EVERY_PAIR = 10**12  # no sampling of impostor pairs: the rarest FARs need them all


def table_of_embeddings(embeddings: np.ndarray, labels: np.ndarray) -> list[FarRow]:
    """The FAR table of these embeddings over every pair of their images."""
    first, second, same = verification_pairs(labels, max_impostors=EVERY_PAIR)
    return far_table(pair_scores(embeddings, first, second), same)


def measure(model: Path, folder: Path) -> list[FarRow]:
    """The FAR table of `model` on the held-out people of `folder` (a folder per person)."""
    embedder = Embedder(model, providers=("cpu",))
    faces = held_out_faces(folder, embedder.info, model.name)
    return table_of_embeddings(embedder.embed(faces.images), faces.labels)


def store(model: Path, rows: list[FarRow]) -> None:
    """Write `rows` into the metadata of the model at `model` (atomically; the graph is untouched)."""
    proto = read_onnx(model)
    info = dataclasses.replace(model_info(proto, str(model)), far_table=tuple(row.to_dict() for row in rows))
    with atomic_path(model) as temporary:
        onnx.save(attach_metadata(proto, info), temporary)


def render(rows: list[FarRow]) -> str:
    """The table as Markdown."""
    lines = [
        "| pairwise FAR | threshold | TAR | impostor pairs | genuine pairs |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        threshold = f"{row.threshold:.4f}" if row.threshold is not None else "too few pairs"
        tar = f"{100 * row.tar:.1f}%" if row.tar is not None else "–"
        lines.append(f"| {row.far:g} | {threshold} | {tar} | {row.impostor_pairs:,} | {row.genuine_pairs:,} |")
    return "\n".join(lines)


@click.command(context_settings=CONTEXT)
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--data",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Held-out people (or classes), a folder each, none of them in the model's training.",
)
@click.option("--write", is_flag=True, help="Store each model's table in its metadata.")
@one_line_errors()
def main(models: tuple[Path, ...], data: Path, write: bool) -> None:
    """Measure (and with --write store) the FAR table of each MODEL on the held-out people of --data."""
    for model in models:
        rows = measure(model, data)
        click.echo(f"{model}:\n{render(rows)}")
        if write:
            store(model, rows)
            click.echo(f"stored in {model}")


if __name__ == "__main__":
    main()
