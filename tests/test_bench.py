"""edge-bench on the CPU provider with small real models and held-out classes: every row is what it says."""

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.measure import Case, run_isolated
from bench.quality import load_validation
from edge_runtime.core.bundled import ATT_FACES_MODEL, packaged_model
from edge_runtime.identity.openset import EpisodeSampler, few_shot_accuracy
from edge_runtime.inference.embedder import Embedder, read_model_info
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.providers import PROVIDER_NAMES

DEMO_MODEL = packaged_model(ATT_FACES_MODEL)  # the small AT&T face model


@pytest.fixture(scope="module")
def held_out(faces_root, tmp_path_factory):
    """Ten AT&T subjects that the trained fixture (the first twelve) never saw."""
    root = tmp_path_factory.mktemp("held_out")
    for subject in sorted(p for p in faces_root.iterdir() if p.is_dir())[12:22]:
        shutil.copytree(subject, root / subject.name)
    return root


@pytest.fixture(scope="module")
def report(exported, trained, held_out, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    checkpoint, _ = trained
    models = [exported[v].path for v in ("fp32", "int8", "int8-tensorrt")]
    arguments = [
        *models, "--providers", "cpu,tensorrt,cuda", "--batch", "1,4", "--runs", "20", "--warmup", "2",
        "--val", held_out, "--way", "5", "--episodes", "200", "--checkpoint", checkpoint,
        "--json", out / "bench.json", "--csv", out / "bench.csv", "--plot", out / "bench.png",
    ]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "bench.json").read_text()), out


def test_markdown_json_csv_and_chart_are_written(report):
    table, data, out = report
    assert "## Throughput against FP32" in table
    assert "## System" in table and "| faces.int8.onnx | int8 (u8s8) | cpu | 4 |" in table
    assert "| faces.int8.tensorrt.onnx | int8 (s8s8) | cpu | 1 |" in table
    assert "inference alone, on an input tensor prepared beforehand" in table
    assert len(data["results"]) == 6
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert len(rows) == 6 and {r["quantization"] for r in rows} == {"", "u8s8", "s8s8"}
    assert {(r["provider"], r["ran_on"], r["active_providers"]) for r in rows} == {("cpu", "cpu", "cpu")}
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert data["system"]["int8_dot_product (VNNI)"] in ("yes", "no")


def test_unavailable_providers_are_listed_as_skipped_with_a_reason(report):
    _, data, _ = report
    missing = {p for p in ("tensorrt", "cuda") if PROVIDER_NAMES[p] not in onnxruntime().get_available_providers()}
    assert {(s["provider"], s["batch"]) for s in data["skipped"]} >= {(p, b) for p in missing for b in (1, 4)}
    assert all("onnxruntime build has no" in s["reason"] for s in data["skipped"] if s["provider"] in missing)
    measured = {r["provider"] for r in data["results"]}
    assert all(r["ran_on"] == r["provider"] for r in data["results"]) and not measured & missing


def test_rows_carry_their_family_start_up_parts_and_accept_rates(report, exported):
    _, data, _ = report
    family = Embedder(exported["fp32"].path, providers=("cpu",)).info.model_hash
    for row in data["results"]:
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["images_per_s"] == pytest.approx(row["batch"] * 1000.0 / row["p50_ms"])
        assert row["session_s"] > 0 and row["first_run_s"] > 0 and row["prepare_s"] > 0 and row["peak_rss_mb"] > 0
        assert row["family"] == family  # from the weights: every variant names the FP32 graph it came from
        assert 0 <= row["far_at_threshold"] <= 1 and 0 <= row["tar_at_threshold"] <= 1
    reference = data["results"][0]
    assert (reference["precision"], reference["batch"], reference["min_cosine_vs_fp32_cpu"]) == ("fp32", 1, None)
    assert all(0.95 <= r["min_cosine_vs_fp32_cpu"] <= 1.0001 for r in data["results"][1:])


def test_accuracy_is_measured_on_the_held_out_classes(report, exported, held_out):
    _, data, _ = report
    validation = load_validation(held_out)
    embeddings = Embedder(exported["fp32"].path, providers=("cpu",)).embed(validation.images)
    sampler = EpisodeSampler(validation.labels, validation.groups, way=5)
    expected, _ = few_shot_accuracy(embeddings, sampler, episodes=200)
    fp32 = next(r for r in data["results"] if r["precision"] == "fp32")
    assert fp32["one_shot_accuracy"] == pytest.approx(expected, abs=0.01)
    assert all(abs(r["one_shot_accuracy"] - expected) <= 0.05 for r in data["results"])


def test_eager_ratios_compare_the_same_work_on_the_same_device(report):
    _, data, _ = report
    eager = {(e["device"], e["batch"]): e["images_per_s"] for e in data["eager"]}
    assert set(eager) == {("cpu", 1), ("cpu", 4)}
    for row in data["results"]:
        assert row["speedup_vs_eager"] == pytest.approx(row["images_per_s"] / eager[("cpu", row["batch"])])


def test_validation_classes_the_model_trained_on_are_refused(exported, trained):
    _, data = trained
    result = CliRunner().invoke(main, [str(exported["int8"].path), "--val", str(data), "--runs", "2"])
    assert result.exit_code == 2, result.output
    assert "6 of the 12 classes" in result.output and "trained faces.int8.onnx" in result.output


def test_video_mode_times_every_stage(tmp_path, faces_root):
    import cv2

    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for i in range(12):
        writer.write(cv2.resize(cv2.imread(str(faces_root / "s1" / f"{1 + i % 10}.png")), (320, 240)))
    writer.release()
    arguments = [DEMO_MODEL, "--batch", "1", "--runs", "5", "--video", tmp_path / "v.mp4", "--detector", "none"]
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    assert "## End to end on a video" in result.output
    row = next(
        line for line in result.output.splitlines() if line.startswith("| att_faces_demo.int8.onnx | cpu | none")
    )
    assert "| 12 |" in row


def test_video_mode_runs_several_videos_as_streams_of_one_pipeline(tmp_path, faces_root):
    import cv2

    for name, frames in (("a", 12), ("b", 7)):
        writer = cv2.VideoWriter(str(tmp_path / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
        for i in range(frames):
            writer.write(cv2.resize(cv2.imread(str(faces_root / "s2" / f"{1 + i % 10}.png")), (320, 240)))
        writer.release()
    videos = ["--video", tmp_path / "a.mp4", "--video", tmp_path / "b.mp4"]
    arguments = [DEMO_MODEL, "--batch", "1", "--runs", "2", *videos, "--detector", "none", "--json", tmp_path / "j"]
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    (video,) = json.loads((tmp_path / "j").read_text())["video"]
    assert video["streams"] == 2 and video["frames"] == 19
    assert [(s["stream"], s["frames"]) for s in video["per_stream"]] == [("a", 12), ("b", 7)]
    assert "| att_faces_demo.int8.onnx | a | 12 |" in result.output


def test_bad_batch_is_a_usage_error():
    result = CliRunner().invoke(main, [str(DEMO_MODEL), "--batch", "0"])
    assert result.exit_code == 2 and "positive" in result.output


GPU_BUILD = [PROVIDER_NAMES[name] for name in ("tensorrt", "cuda", "cpu")]
# Run at the start of a process: its onnxruntime lists the GPU build's providers (sessions stay real).
GPU_LISTING = f"import onnxruntime\nonnxruntime.get_available_providers = lambda: {GPU_BUILD!r}\n"


@pytest.mark.skipif(
    any(PROVIDER_NAMES[name] in onnxruntime().get_available_providers() for name in ("tensorrt", "cuda")),
    reason="this build has a GPU provider, which may really start",
)
def test_a_case_that_cannot_run_on_its_provider_is_not_run_elsewhere(tmp_path, monkeypatch):
    """Not run, with the reason, both where this onnxruntime has no TensorRT and where it lists
    TensorRT but the session falls back to the CPU (onnxruntime-gpu whose libraries do not load: here
    a process whose onnxruntime lists the GPU build's providers, its sessions real)."""
    images = [np.zeros((64, 64), np.uint8)]
    missing = run_isolated(Case(str(DEMO_MODEL), "tensorrt", 1, runs=2, warmup=1), images)
    assert isinstance(missing, str), missing
    assert missing.startswith("not run: provider tensorrt is not in this onnxruntime build"), missing
    (tmp_path / "sitecustomize.py").write_text(GPU_LISTING)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    cache = tmp_path / "engines"
    fell_back = run_isolated(Case(str(DEMO_MODEL), "tensorrt", 1, runs=2, warmup=1, engine_cache=str(cache)), images)
    assert fell_back == (
        "not run: tensorrt did not start (the session fell back to cpu): libonnxruntime_providers_tensorrt.so is not "
        "part of this onnxruntime build; run edge-doctor; --require-provider forbids running on another provider"
    )
    variant = read_model_info(Path(DEMO_MODEL).with_name(read_model_info(Path(DEMO_MODEL)).tensorrt_variant))
    assert [p.name for p in cache.iterdir()] == [variant.model_hash]  # TensorRT's file was the one tried
