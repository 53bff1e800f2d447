"""edge-bench on the CPU provider with small real models: table, JSON, CSV, skips, consistency."""

import csv
import json

import pytest
from click.testing import CliRunner

from bench.cli import main
from edge_runtime.demo import DEMO_MODEL


@pytest.fixture(scope="module")
def report(exported, trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    checkpoint, data = trained
    arguments = [
        exported["fp32"].path, exported["int8"].path, "--providers", "cpu,tensorrt,cuda", "--batch", "1,4",
        "--runs", "20", "--warmup", "2", "--val", data, "--way", "5", "--episodes", "50", "--checkpoint", checkpoint,
        "--json", out / "bench.json", "--csv", out / "bench.csv", "--plot", out / "bench.png",
    ]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in arguments])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "bench.json").read_text()), out


def test_markdown_json_csv_and_chart_are_written(report):
    table, data, out = report
    assert "## Throughput against FP32" in table
    assert "## System" in table and "| int8 | cpu | 4 |" in table.replace("faces.int8.onnx | ", "")
    assert len(data["results"]) == 4
    rows = list(csv.DictReader((out / "bench.csv").open()))
    assert len(rows) == 4 and {r["precision"] for r in rows} == {"fp32", "int8"}
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert data["system"]["int8_dot_product (VNNI)"] in ("yes", "no")


def test_unavailable_providers_are_listed_as_skipped_with_a_reason(report):
    _, data, _ = report
    assert {(s["provider"], s["batch"]) for s in data["skipped"]} == {
        (p, b) for p in ("tensorrt", "cuda") for b in (1, 4)
    }
    assert all("onnxruntime build has no" in s["reason"] for s in data["skipped"])


def test_figures_are_positive_and_consistent(report):
    _, data, _ = report
    for row in data["results"]:
        assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["images_per_s"] == pytest.approx(row["batch"] * 1000.0 / row["p50_ms"])
        assert row["session_s"] > 0 and row["peak_rss_mb"] > 0
        assert 0.95 <= row["min_cosine_vs_fp32_cpu"] <= 1.0001
        assert 0.2 <= row["one_shot_accuracy"] <= 1.0
        assert row["speedup_vs_eager"] > 0
    fp32 = [r for r in data["results"] if r["precision"] == "fp32"]
    assert all(r["min_cosine_vs_fp32_cpu"] == pytest.approx(1.0, abs=1e-5) for r in fp32)
    assert [e["batch"] for e in data["eager"]] == [1, 4]


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


def test_bad_batch_is_a_usage_error():
    result = CliRunner().invoke(main, [str(DEMO_MODEL), "--batch", "0"])
    assert result.exit_code == 2 and "positive" in result.output
