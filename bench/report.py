"""The benchmark's outputs: a Markdown table, JSON, CSV and a chart."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command


def _number(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: dict) -> str:
    """The whole report as Markdown: system facts, results, eager baseline, video, skipped cases."""
    lines = ["## System", "", "| | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in report["system"].items()]
    lines += ["", "## Results", "", f"Timing: {report['timing']}.", ""]
    lines += [
        "| model | precision | provider (ran on) | batch | start s: session, first run (cached) | mean ms | p50 | p90 "
        "| p99 | images/s | × eager | peak MB | min cos vs FP32 CPU | 1-shot accuracy | FAR / TAR at threshold |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in report["results"]:
        start = f"{r['session_s']:.2f}, {r['first_run_s']:.2f}" + (
            f" ({r['cached_session_s']:.2f})" if r["cached_session_s"] is not None else ""
        )
        accuracy = r.get("one_shot_accuracy")
        accuracy_text = "–" if accuracy is None else f"{100 * accuracy:.2f}% ± {100 * r['one_shot_ci95']:.2f}"
        far = r.get("far_at_threshold")
        rates = "–" if far is None else f"{100 * far:.3f}% / {100 * r['tar_at_threshold']:.1f}%"
        precision = f"{r['precision']} ({r['quantization']})" if r["quantization"] else r["precision"]
        provider = r["provider"] if r["ran_on"] == r["provider"] else f"{r['provider']} (ran on {r['ran_on']})"
        lines.append(
            f"| {Path(r['file']).name} | {precision} | {provider} | {r['batch']} | {start} | "
            f"{_number(r['mean_ms'], 3)} | {_number(r['p50_ms'], 3)} | {_number(r['p90_ms'], 3)} | "
            f"{_number(r['p99_ms'], 3)} | {r['images_per_s']:.0f} | {_number(r.get('speedup_vs_eager'))} | "
            f"{r['peak_rss_mb']:.0f} | {_number(r.get('min_cosine_vs_fp32_cpu'), 5)} | {accuracy_text} | {rates} |"
        )
    ratios = precision_ratios(report["results"])
    if ratios:
        lines += ["", "## Throughput against FP32 (same model family, provider and batch)", "",
                  "| model | provider | batch | ratio |", "| --- | --- | ---: | ---: |"]  # fmt: skip
        lines += [f"| {Path(r['file']).name} | {r['provider']} | {r['batch']} | {r['ratio']:.2f}× |" for r in ratios]
    if report.get("eager"):
        lines += [
            "",
            "## PyTorch eager baseline (the same work: inference on a prepared tensor)",
            "",
            "| device | flip-averaged | batch | mean ms | p99 ms | images/s |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {e['device']} | {'yes' if e['flip_average'] else 'no'} | {e['batch']} | {e['mean_ms']:.3f} | "
            f"{e['p99_ms']:.3f} | {e['images_per_s']:.0f} |"
            for e in report["eager"]
        ]
    if report.get("video"):
        lines += [
            "",
            "## End to end on a video",
            "",
            "| model | provider | detector | streams | frames | FPS | decode ms | detect ms | align ms | "
            "embed+match ms | draw+encode ms | frames a batch |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for v in report["video"]:
            lines.append(
                f"| {Path(v['model']).name} | {v['provider']} | {v['detector']} | {v['streams']} | {v['frames']} | "
                f"{v['fps']:.1f} | {v['decode_ms']:.1f} | {v['detect_ms']:.1f} | {v['align_ms']:.1f} | "
                f"{v['embed_match_ms']:.1f} | "
                f"{v['draw_write_ms']:.1f} | {v['frames_per_batch']:.2f} |"
            )
        if any(v["streams"] > 1 for v in report["video"]):
            lines += ["", "| model | stream | frames | FPS | latency ms | p95 ms |"]
            lines += ["| --- | --- | ---: | ---: | ---: | ---: |"]
            lines += [
                f"| {Path(v['model']).name} | {s['stream']} | {s['frames']} | {s['fps']:.1f} | {s['latency_ms']:.0f} | "
                f"{s['latency_p95_ms']:.0f} |"
                for v in report["video"]
                for s in v["per_stream"]
            ]
    if report["skipped"]:
        lines += ["", "## Skipped", ""]
        lines += [
            f"- {Path(s['model']).name}, {s['provider']}, batch {s['batch']}: {s['reason']}" for s in report["skipped"]
        ]
    return "\n".join(lines) + "\n"


def precision_ratios(rows: list[dict]) -> list[dict]:
    """Images/s of each non-FP32 variant divided by its FP32 sibling's, run side by side."""
    fp32 = {(r["family"], r["ran_on"], r["batch"]): r["images_per_s"] for r in rows if r["precision"] == "fp32"}
    ratios = []
    for r in rows:
        key = (r["family"], r["ran_on"], r["batch"])
        if r["precision"] != "fp32" and key in fp32:
            ratios.append({"file": r["file"], "provider": r["ran_on"], "batch": r["batch"],
                           "ratio": r["images_per_s"] / fp32[key]})  # fmt: skip
    return ratios


def write_json(report: dict, path: str | Path) -> None:
    """The report as JSON."""
    atomic_write_bytes(path, (json.dumps(report, indent=2) + "\n").encode())


def write_csv(report: dict, path: str | Path) -> None:
    """One CSV row per measured case."""
    buffer = io.StringIO()
    rows = report["results"]
    if rows:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**row, "active_providers": "+".join(row["active_providers"])} for row in rows)
    atomic_write_bytes(path, buffer.getvalue().encode())


def require_matplotlib():
    """pyplot on a file backend, or a SiameseEdgeError that says how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SiameseEdgeError(f"--plot needs matplotlib: {install_command('plot')}") from None
    return plt


def write_chart(report: dict, path: str | Path) -> None:
    """Throughput of every variant at every batch size, as a bar chart (needs matplotlib)."""
    plt = require_matplotlib()
    rows = report["results"]
    batches = sorted({r["batch"] for r in rows})
    variants = list(dict.fromkeys(f"{Path(r['file']).name}\n{r['ran_on']}" for r in rows))
    figure, axis = plt.subplots(figsize=(max(6, 1.6 * len(variants)), 4.5))
    width = 0.8 / len(batches)
    for i, batch in enumerate(batches):
        values = [
            next(
                (
                    r["images_per_s"]
                    for r in rows
                    if f"{Path(r['file']).name}\n{r['ran_on']}" == v and r["batch"] == batch
                ),
                0,
            )
            for v in variants
        ]
        axis.bar([x + i * width for x in range(len(variants))], values, width, label=f"batch {batch}")
    axis.set_xticks([x + width * (len(batches) - 1) / 2 for x in range(len(variants))], variants, fontsize=8)
    axis.set_ylabel("images / second")
    axis.set_title(f"edge-bench on {report['system']['cpu']}", fontsize=9)
    axis.legend()
    figure.tight_layout()
    with io.BytesIO() as buffer:
        figure.savefig(buffer, format="png", dpi=120)
        atomic_write_bytes(path, buffer.getvalue())
    plt.close(figure)
