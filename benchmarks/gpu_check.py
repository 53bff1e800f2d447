"""The first GPU machine's check of the default face model: for each provider × precision, whether
the session really ran on that provider (no fallback, `--require-provider`), the engine build and
cached start (TensorRT), latency at batch 1 and 8, and one-shot accuracy and agreement with the CPU
running FP32 arithmetic, all on the same aligned faces (the demo's LFW people, in the package).

Runs anywhere: where a provider cannot start its row says "not run" with the reason (so on a CPU
machine every GPU row does), and nothing is measured twice in one file. `benchmarks/gpu_check.sh`
prepares the environment and calls this.

    python -m benchmarks.gpu_check OUTDIR [--runs 50] [--result NAME]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.results import add_result_option, write_result
from edge_runtime.apps.demo import DEMO_DATA
from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.enrollment import usable_region
from edge_runtime.imaging.preprocessing import image_files, read_image, to_input_tensor
from edge_runtime.inference.embedder import Embedder, read_model_info
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.providers import PROVIDER_NAMES, ProviderSettings

BATCHES = (1, 8)


@dataclass(frozen=True)
class Case:
    """One row: a provider, the file given to it, and TensorRT's FP16 mode."""

    provider: str
    precision: str
    model: str  # "int8", "fp16" or "fp32": which file of the default model
    trt_fp16: bool = False


CASES = (
    Case("cpu", "fp32", "fp32"),
    Case("cpu", "fp16", "fp16"),
    Case("cpu", "int8 (u8s8)", "int8"),
    Case("cuda", "fp32", "fp32"),
    Case("cuda", "fp16", "fp16"),
    Case("cuda", "int8 → fp16 (policy)", "int8"),
    Case("tensorrt", "fp32", "fp32"),
    Case("tensorrt", "fp32 + trt fp16", "fp32", trt_fp16=True),
    Case("tensorrt", "fp16", "fp16"),
    Case("tensorrt", "int8 → fp16 (policy)", "int8"),
)


@dataclass
class Row:
    """What one case gave: `ran` is None when it was not run, with `reason`."""

    provider: str
    precision: str
    file: str = ""
    ran: str | None = None
    no_fallback: bool = False
    reason: str = ""
    start_s: float | None = None  # session creation and first run: TensorRT's engine build
    cached_start_s: float | None = None  # again, from the engine cache (TensorRT)
    latency_ms: dict[str, float] = field(default_factory=dict)
    one_shot_accuracy: float | None = None
    min_cosine_vs_cpu_fp32: float | None = None


def float32_copy(fp16: Path, target: Path) -> Path:
    """The FP16 file in FP32 arithmetic (its weights as they are, widened): the FP32 reference where no
    FP32 file is bundled. Its metadata is kept, with precision fp32. Needs the onnx package."""
    import onnx

    FLOAT16, FLOAT = onnx.TensorProto.FLOAT16, onnx.TensorProto.FLOAT
    proto = onnx.load(fp16)
    for tensor in proto.graph.initializer:
        if tensor.data_type == FLOAT16:
            tensor.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor).astype(np.float32),
                                                         tensor.name))  # fmt: skip
    for node in proto.graph.node:
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == FLOAT16:
                attribute.i = FLOAT
            if attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == FLOAT16:
                attribute.t.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(attribute.t)
                                                                  .astype(np.float32)))  # fmt: skip
    for value in [*proto.graph.value_info, *proto.graph.input, *proto.graph.output]:
        if value.type.tensor_type.elem_type == FLOAT16:
            value.type.tensor_type.elem_type = FLOAT
    for entry in proto.metadata_props:
        if entry.key == "precision":
            entry.value = "fp32"
    onnx.checker.check_model(proto)
    onnx.save(proto, target)
    return target


def model_files(work: Path) -> tuple[dict[str, Path], list[str]]:
    """The default face model's files: INT8 (U8S8), FP16 (bundled) and FP32 (widened, beside them,
    where the onnx package is installed); and what could not be made."""
    int8 = Path(packaged_model(DEFAULT_MODEL))
    fp16 = int8.with_name(read_model_info(int8).tensorrt_variant)
    folder = work / "models"
    folder.mkdir(parents=True, exist_ok=True)
    files = {"int8": folder / int8.name, "fp16": folder / fp16.name}
    for name, source in (("int8", int8), ("fp16", fp16)):
        shutil.copy(source, files[name])
    try:
        files["fp32"] = float32_copy(fp16, folder / fp16.name.replace(".fp16.", ".fp32."))
    except ImportError:
        return files, ["FP32: the onnx package is not installed, so no FP32 file was made (pip install onnx)"]
    return files, []


def aligned_faces(model: Path) -> tuple[list[str], list[np.ndarray]]:
    """Each demo photo's aligned face as the runtime cuts it (names: the person, or '' for strangers)."""
    finder = make_regions(read_model_info(model))
    names, faces = [], []
    for group in ("enrolled", "strangers"):
        for person in sorted(p for p in (DEMO_DATA / group).iterdir() if p.is_dir()):
            for photo in image_files(person):
                try:
                    faces.append(usable_region(read_image(photo), finder, str(photo)))
                except SiameseEdgeError:
                    continue
                names.append(person.name if group == "enrolled" else "")
    return names, faces


def one_shot_accuracy(names: list[str], embeddings: np.ndarray) -> float:
    """Each enrolled person's first face is the gallery; every other enrolled face is a query named
    by its nearest gallery entry (cosine): the share named right."""
    people = sorted({n for n in names if n})
    first = [names.index(person) for person in people]
    queries = [i for i, name in enumerate(names) if name and i not in first]
    nearest = np.argmax(embeddings[queries] @ embeddings[first].T, axis=1)
    return float(np.mean([people[k] == names[i] for k, i in zip(nearest, queries, strict=True)]))


def _timed_start(case: Case, path: Path, settings: ProviderSettings, face: np.ndarray) -> tuple[Embedder, float]:
    started = time.perf_counter()
    embedder = Embedder(path, providers=(case.provider,), settings=settings, require_provider=True)
    embedder.embed([face])
    return embedder, time.perf_counter() - started


def measure(case: Case, path: Path, engines: Path, faces: list[np.ndarray], names: list[str],
            reference: np.ndarray | None, runs: int) -> tuple[Row, np.ndarray | None]:  # fmt: skip
    """One case's row, and its embeddings of `faces` (None when it did not run)."""
    row = Row(case.provider, case.precision)
    if not path.is_file():
        row.reason = f"not run: no {case.model} file (see below)"
        return row, None
    if PROVIDER_NAMES[case.provider] not in onnxruntime().get_available_providers():
        row.reason = f"not run: this onnxruntime ({onnxruntime().__version__}) has no {case.provider} provider"
        return row, None
    settings = ProviderSettings(tensorrt_fp16=case.trt_fp16, engine_cache_dir=engines)
    try:
        embedder, row.start_s = _timed_start(case, path, settings, faces[0])
        if case.provider == "tensorrt":
            _, row.cached_start_s = _timed_start(case, path, settings, faces[0])
        row.file, row.ran = embedder.path.name, embedder.active_providers[0]
        row.no_fallback = row.ran == PROVIDER_NAMES[case.provider]
        spec = embedder.info.spec
        for size in BATCHES:
            batch = to_input_tensor(np.zeros((size, spec.height, spec.width, spec.channels), np.uint8), spec)
            embedder.infer(batch)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                embedder.infer(batch)
                times.append(time.perf_counter() - started)
            row.latency_ms[f"batch {size}"] = round(1000 * float(np.median(times)), 3)
        embeddings = embedder.embed(faces)
    except SiameseEdgeError as error:  # it did not start, or it failed while running (--require-provider)
        row.reason, row.ran = f"not run: {error}", None
        return row, None
    row.one_shot_accuracy = round(one_shot_accuracy(names, embeddings), 4)
    if reference is not None:
        row.min_cosine_vs_cpu_fp32 = round(float(np.einsum("ij,ij->i", embeddings, reference).min()), 5)
    return row, embeddings


def _shown(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    """The report as Markdown: the table, then what was not tested."""
    environment = report["environment"]
    lines = [
        f"GPU check on {environment['gpu'] or 'a machine without a GPU'}: onnxruntime {environment['onnxruntime']} "
        f"({', '.join(environment['providers'])}), {len(environment['faces'])} aligned faces of the demo's LFW "
        f"people; latency: median of {environment['runs']} runs; cosines against {environment['reference']}.",
        "",
        "| provider | precision | file | ran on it, no fallback | start (s) | cached start (s) | batch 1 (ms) "
        "| batch 8 (ms) | one-shot accuracy | min cosine vs reference |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        if row["ran"] is None:
            lines.append(f"| {row['provider']} | {row['precision']} | | {row['reason']} | | | | | | |")
            continue
        ran = "yes" if row["no_fallback"] else f"NO: ran on {row['ran']}"
        starts = [_shown(None if row[k] is None else round(row[k], 2)) for k in ("start_s", "cached_start_s")]
        latency = [_shown(row["latency_ms"].get(f"batch {size}")) for size in BATCHES]
        scores = [_shown(row["one_shot_accuracy"]), _shown(row["min_cosine_vs_cpu_fp32"])]
        lines.append(f"| {row['provider']} | {row['precision']} | {row['file']} | {ran} | " +
                     " | ".join([*starts, *latency, *scores]) + " |")  # fmt: skip
    lines += ["", "Not tested here:", ""] + [f"- {item}" for item in report["not_tested"] or ["nothing"]]
    return "\n".join(lines) + "\n"


def run_check(out: Path, runs: int = 50, untested: tuple[str, ...] = ()) -> dict:
    """Measure every case into OUTDIR/gpu_check.json and gpu_check.md; the report as a dictionary."""
    out.mkdir(parents=True, exist_ok=True)
    engines = out / "engines"
    engines.mkdir(parents=True, exist_ok=True)  # TensorRT's provider makes only the last level itself
    files, unmade = model_files(out)
    names, faces = aligned_faces(files["int8"])
    rows, reference, reference_name = [], None, ""
    for case in CASES:
        path = files.get(case.model, out / "models" / f"missing.{case.model}.onnx")
        row, embeddings = measure(case, path, engines, faces, names, reference, runs)
        if case.provider == "cpu" and reference is None and embeddings is not None:  # FP32, else FP16
            reference, reference_name = embeddings, f"cpu {case.precision}"
            row.min_cosine_vs_cpu_fp32 = 1.0
        rows.append(row)
    untested = [*untested, *unmade, *(f"{r.provider} {r.precision}: {r.reason.removeprefix('not run: ')}"
                                      for r in rows if r.ran is None)]  # fmt: skip
    untested.append("TensorRT INT8: the default face model has no S8S8 file (its TensorRT sibling is FP16)")
    environment = {
        "gpu": _gpu_name(), "onnxruntime": onnxruntime().__version__,
        "providers": onnxruntime().get_available_providers(), "python": platform.python_version(),
        "faces": names, "runs": runs, "reference": reference_name,
    }  # fmt: skip
    report = {"environment": environment, "rows": [asdict(row) for row in rows], "not_tested": untested}
    atomic_write_bytes(out / "gpu_check.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "gpu_check.md", markdown(report).encode())
    return report


def _gpu_name() -> str:
    """The GPU nvidia-smi names, or '' without one."""
    import subprocess

    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def main(argv: list[str] | None = None) -> None:
    """Run the check into OUTDIR (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=50, help="timed runs per batch size (median)")
    parser.add_argument("--untested", action="append", default=[], help="a line for 'Not tested here' (repeatable)")
    add_result_option(parser, "the report: ")
    args = parser.parse_args(argv)
    report = run_check(args.out, args.runs, tuple(args.untested))
    print((args.out / "gpu_check.md").read_text(), end="")
    if args.result:
        write_result(args.result, report, benchmark="gpu_check", argv=argv)


if __name__ == "__main__":
    main()
