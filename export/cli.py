"""`export-onnx checkpoint.pt`: the embedding branch as verified FP32, FP16 and INT8 ONNX models."""

from __future__ import annotations

from pathlib import Path

import click

from edge_runtime.core.command_line import CONTEXT, one_line_errors
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.inference.model_info import KINDS
from export.gate import UNDECIDED, Decision, as_change
from export.graph import DEFAULT_OPSET, IR_VERSION_FOR_OPSET
from export.pipeline import PRECISIONS, ExportOptions, VariantReport, export_checkpoint
from export.precision import CALIBRATION_METHODS


@click.command(context_settings=CONTEXT)
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Base name: model.onnx gives model.fp32.onnx, model.int8.onnx … (default: beside the checkpoint).",
)
@click.option("--precision", "-p", type=click.Choice(PRECISIONS), multiple=True, help="Precisions (repeatable).")
@click.option("--all", "all_precisions", is_flag=True, help="FP32, FP16 and INT8 side by side.")
@click.option("--calib", type=click.Path(file_okay=False, path_type=Path), help="INT8 calibration images (any tree).")
@click.option("--calib-count", type=int, default=256, help="Calibration images to use.")
@click.option("--calib-method", type=click.Choice(list(CALIBRATION_METHODS)), default="percentile")
@click.option("--full-range", is_flag=True, help="8-bit weights (TensorRT, VNNI CPUs); default 7-bit, safe on any x86.")
@click.option("--opset", type=click.Choice([str(o) for o in IR_VERSION_FOR_OPSET]), default=str(DEFAULT_OPSET))
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), help="The training dataset, if it moved.")
@click.option(
    "--episodes",
    type=click.IntRange(min=2),
    default=1000,
    help="One-shot episodes each variant is scored on (the same for all; the gate's sample).",
)
@click.option("--kind", type=click.Choice(KINDS), help="Override the kind the checkpoint was trained as.")
@click.option(
    "--target-far",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Recalibrate the unknown threshold for this FAR (validation classes).",
)
@click.option(
    "--flip-average",
    is_flag=True,
    help="Embed each image and its mirror image and average them (twice the compute; threshold recalibrated).",
)
@click.option("--notes", default="", help="Free text for the metadata: data, recipe, licence, accuracy.")
@click.option("--eval-split", type=click.Choice(["val", "test"]), default="val", help="Classes to measure on.")
@click.option(
    "--max-drop",
    type=click.FloatRange(min=0),
    default=1.0,
    help="Refuse a variant whose one-shot accuracy is significantly (95%) more than this many points below "
    "PyTorch FP32's.",
)
@one_line_errors()
def main(checkpoint: Path, output: Path | None, precision, all_precisions: bool, opset: str, **options) -> None:
    """Export a siamese-train checkpoint's embedding branch to ONNX, check it and summarise it."""
    precisions = PRECISIONS if all_precisions else (precision or ("fp32",))
    settings = ExportOptions(
        precisions=tuple(precisions),
        opset=int(opset),
        calib_dir=options.pop("calib"),
        data_root=options.pop("data"),
        **options,
    )
    try:
        reports = export_checkpoint(checkpoint, output or checkpoint.with_suffix(".onnx"), settings)
    except OSError as error:
        raise SiameseEdgeError(f"cannot write {error.filename or 'the output'}: {error.strerror}") from None
    click.echo(summary_table(reports))


def summary_table(reports: list[VariantReport]) -> str:
    """The Markdown summary: size, agreement, one-shot accuracy, EER, FAR and TAR at the shipped
    threshold on the validation classes, CPU latency."""
    lines = [
        "| variant | file | size | min cosine (vs) | N-way 1-shot (change, 95% interval) | EER "
        "| FAR / TAR at threshold (val) "
        "| CPU latency, batch 1 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in reports:
        variant = f"{r.precision} ({r.quantization})" if r.quantization else r.precision
        point = r.operating_point
        rates = "–" if point is None else f"{100 * point.far:.3f}% / {100 * point.tar:.1f}%"
        if r.far_decision is not None and r.far_decision.verdict == UNDECIDED:
            rates += " (FAR undecided)"
        lines.append(
            f"| {variant} | {r.path.name} | {r.size_bytes / 1024:.0f} KiB | {r.agreement.min_cosine:.5f} "
            f"({r.agreement_with}) | {100 * r.few_shot_accuracy:.2f}% ({r.way}-way, {_drop(r.accuracy_drop)}) | "
            f"{100 * r.eer:.2f}% | {rates} | {r.latency_ms:.2f} ms |"
        )
    return "\n".join(lines)


def _drop(drop: Decision) -> str:
    """A drop with its interval, and the gate's word where it could not decide."""
    return as_change(drop) + (", undecided" if drop.verdict == UNDECIDED else "")


if __name__ == "__main__":
    main()
