"""`benchmarks/gpu_check.sh`, the command prepared for the first GPU machine, runs here on the CPU:
the CPU rows are measured, and every CUDA and TensorRT row says it did not run, and why, in the
JSON and the Markdown report (against onnxruntime-gpu in CI's JetPack stand-in: the real reason)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.result_tables import TABLES

REPO = Path(__file__).resolve().parent.parent


def test_the_gpu_check_runs_on_a_cpu_and_says_what_it_could_not_test(tmp_path):
    out = tmp_path / "nested" / "gpu check"  # folders that do not exist yet, a space in the name
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_INSTALL": "0", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), str(out), "--runs", "2"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "gpu_check.json").read_text())
    rows = {(row["provider"], row["precision"]): row for row in report["rows"]}
    cpu = [row for (provider, _), row in rows.items() if provider == "cpu" and row["ran"]]
    assert {row["precision"] for row in cpu} >= {"fp16", "int8 (u8s8)"}
    for row in cpu:
        assert row["no_fallback"] and row["ran"] == "CPUExecutionProvider"
        assert row["latency_ms"]["batch 1"] > 0 and row["latency_ms"]["batch 8"] > 0
        assert row["one_shot_accuracy"] >= 0.9 and row["min_cosine_vs_cpu_fp32"] >= 0.99
    gpu = [row for (provider, _), row in rows.items() if provider != "cpu"]
    assert len(gpu) == 7 and all(row["ran"] is None and row["reason"].startswith("not run: ") for row in gpu)
    markdown = (out / "gpu_check.md").read_text()
    assert markdown.count("| not run: ") == len(gpu) + sum(1 for row in rows.values() if row["provider"] == "cpu"
                                                           and row["ran"] is None)  # fmt: skip
    assert "any GPU: this machine has no NVIDIA driver (no nvidia-smi)" in report["not_tested"]
    assert all(f"{row['provider']} {row['precision']}: " in markdown for row in gpu)  # each under "Not tested"
    assert (out / "engines").is_dir() and "no nvidia-smi" in (out / "setup.txt").read_text()
    assert markdown in done.stdout
    assert TABLES["gpu_check"]([report]) + "\n" == markdown  # a results block renders the same report
