"""`edge-bench model.onnx [more.onnx …]`: providers × precisions × batch sizes, measured in one run."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from bench.measure import Case, run_isolated, skip_reason
from bench.quality import add_accuracy, add_agreement, load_validation, require_unseen, synthetic_images
from bench.report import markdown, require_matplotlib, write_chart, write_csv, write_json
from bench.system import system_facts
from edge_runtime.core.command_line import CONTEXT, one_line_errors, verbose_option
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command
from edge_runtime.faces.face_alignment import LANDMARKS
from edge_runtime.inference.onnx_runtime import onnxruntime

log = logging.getLogger("bench")


def _integers(value: str) -> list[int]:
    try:
        numbers = [int(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter("give numbers separated by commas, e.g. 1,8,32") from None
    if min(numbers) < 1:
        raise click.BadParameter("batch sizes must be positive")
    return numbers


@click.command(context_settings=CONTEXT)
@verbose_option
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--providers", default="cpu", help="Comma-separated: cpu,cuda,tensorrt.")
@click.option("--batch", "batches", default="1,8,32", help="Comma-separated batch sizes.")
@click.option(
    "--runs", type=click.IntRange(min=1), default=100, help="Timed runs per case (throughput uses their median)."
)
@click.option("--warmup", type=int, default=5, help="Untimed runs before timing.")
@click.option("--trt-fp16", is_flag=True, help="TensorRT: allow FP16 kernels.")
@click.option("--engine-cache", type=click.Path(file_okay=False), help="TensorRT engine cache (default: a fresh one).")
@click.option(
    "--val",
    type=click.Path(file_okay=False),
    help="Classes the models never saw (<class>/<image>): one-shot accuracy, FAR and TAR at their threshold.",
)
@click.option("--way", type=int, default=20, help="N of the N-way one-shot accuracy.")
@click.option("--episodes", type=int, default=1000)
@click.option("--same-group", is_flag=True, help="One-shot episodes within one group (alphabet).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="PyTorch eager baseline from this checkpoint.")
@click.option(
    "--video",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Also time the whole pipeline on it (repeatable: the videos run at once, as several streams).",
)
@click.option("--detector", type=click.Choice(["face", "none"]), default="face", help="Detector of --video.")
@click.option("--enroll", type=click.Path(file_okay=False), help="Gallery of --video (default: 1,000 random ids).")
@click.option("--landmarks", type=click.Choice(LANDMARKS), default="dlib", help="What finds --video's face landmarks.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the results as CSV.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a throughput chart (PNG; needs matplotlib).")
@click.option(
    "--result",
    metavar="NAME",
    help="Write the report to results/NAME.json with how it was measured, for README's tables (from a checkout).",
)
@one_line_errors()
def main(models, providers, batches, json_path, csv_path, plot, result, **options) -> None:
    """Compare execution providers, precisions and batch sizes; speed always beside accuracy."""
    if plot:
        require_matplotlib()  # before minutes of measuring, not after
    report = run_benchmark(models, BenchOptions(providers.split(","), _integers(batches), **options))
    click.echo(markdown(report))
    if json_path:
        write_json(report, json_path)
    if csv_path:
        write_csv(report, csv_path)
    if plot:
        write_chart(report, plot)
    if result:
        write_result(result, report)


@dataclass(frozen=True)
class BenchOptions:
    """What to measure and how (the options of `edge-bench`)."""

    providers: list[str]
    batches: list[int]
    runs: int = 100
    warmup: int = 5
    trt_fp16: bool = False
    engine_cache: str | None = None
    val: str | None = None
    way: int = 20
    episodes: int = 1000
    same_group: bool = False
    checkpoint: str | None = None
    video: tuple[str, ...] = ()
    detector: str = "face"
    enroll: str | None = None
    landmarks: str = "dlib"


def write_result(name: str, report: dict) -> None:
    """The report as results/NAME.json of the checkout (benchmarks/results.py; not part of the package)."""
    checkout = str(Path(__file__).resolve().parent.parent)
    if (Path(checkout) / "benchmarks" / "results.py").exists() and checkout not in sys.path:
        sys.path.append(checkout)
    try:
        from benchmarks.results import write_result as write
    except ImportError:
        raise SiameseEdgeError("--result writes into a checkout of the repository: run edge-bench from it") from None
    write(name, report, benchmark="edge-bench")


def run_benchmark(models: list[str], options: BenchOptions) -> dict:
    """Measure every runnable case; list the others as skipped with their reason."""
    available = onnxruntime().get_available_providers()
    validation = None
    if options.val:
        validation = load_validation(options.val)
        require_unseen(validation, options.val, models)
    images = validation.images if validation else synthetic_images()
    measurements, skipped = [], []
    cases = [
        Case(model, provider, batch, options.runs, options.warmup, options.trt_fp16, options.engine_cache)
        for model in models
        for provider in options.providers
        for batch in options.batches
    ]
    for number, case in enumerate(cases, start=1):
        outcome = skip_reason(case, available)
        if outcome is None:
            log.info("[%d/%d] %s on %s, batch %d", number, len(cases), Path(case.model).name, case.provider, case.batch)
            outcome = run_isolated(case, images)
        if isinstance(outcome, str):
            skipped.append({"model": case.model, "provider": case.provider, "batch": case.batch, "reason": outcome})
            continue
        measurements.append(outcome)
    rows = [m.row() for m in measurements]
    add_agreement(rows, measurements)
    if validation is not None:
        way = min(options.way, len(validation.class_names))
        add_accuracy(rows, measurements, validation.labels, validation.groups, way, options.episodes,
                     options.same_group)  # fmt: skip
        for row in rows:
            row["accuracy_task"] = f"{way}-way 1-shot" + (", within group" if options.same_group else "")
    report = {"system": system_facts(), "inputs": _describe_inputs(options.val, images), "timing": TIMING,
              "results": rows, "skipped": skipped}  # fmt: skip
    if options.checkpoint:
        report["eager"] = _eager(options, images, rows)
    if options.video:
        from bench.video import video_benchmark

        provider = _first_runnable(options.providers, available)
        report["video"] = [
            video_benchmark(model, provider, list(options.video), options.detector, options.enroll, options.landmarks)
            for model in models
        ]
    return report


TIMING = (
    "latency: inference alone, on an input tensor prepared beforehand (resizing and normalisation are in "
    "neither these rows nor the PyTorch eager baseline, which runs on the same device); start: ONNX Runtime "
    "session creation alone, then the first inference (where TensorRT may build its engine); preparing the "
    "images is timed apart"
)


def _describe_inputs(val, images) -> str:
    return f"{len(images)} images of {val}" if val else f"{len(images)} synthetic images (no --val given)"


def _first_runnable(providers: list[str], available: list[str]) -> str:
    from edge_runtime.inference.providers import PROVIDER_NAMES

    return next((p for p in providers if PROVIDER_NAMES.get(p) in available), "cpu")


def _eager(options: BenchOptions, images, rows) -> list[dict]:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SiameseEdgeError(f"--checkpoint needs torch: {install_command('train')}") from None
    from bench.eager import add_eager_ratios, isolated_eager_baseline

    eager = isolated_eager_baseline(options.checkpoint, images, rows, options.runs, options.warmup)
    add_eager_ratios(rows, eager)
    return eager


if __name__ == "__main__":
    main()
