"""What a run reports: each epoch's line and metrics log, and at the end the report and ROC of its best weights."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from edge_runtime.core.atomic import atomic_write_bytes
from edge_runtime.io.charts import draw_roc
from train.config import TrainConfig
from train.evaluation import embed_images
from train.run_data import RunData
from train.validation import evaluate_set, evaluate_validation

log = logging.getLogger(__name__)

METRICS, REPORT, ROC_IMAGE = "metrics.jsonl", "report.json", "roc.png"


def log_epoch(entry: dict, epochs: int, shot: int, improved: bool) -> None:
    """Log an epoch's line: its training loss, its validation accuracy and EER, and whether it is the best yet."""
    log.info(
        "epoch %d/%d: loss %.4f, validation %d-way %d-shot %.2f%%, EER %.2f%%%s",
        entry["epoch"],
        epochs,
        entry["train_loss"],
        entry["val_way"],
        shot,
        100 * entry["val_few_shot_accuracy"],
        100 * entry["val_eer"],
        " (best)" if improved else "",
    )


def write_metrics_log(history: list[dict], out_dir: Path) -> None:
    """Write the epochs' entries to `metrics.jsonl`, one JSON object a line."""
    lines = "".join(json.dumps(entry) + "\n" for entry in history)
    atomic_write_bytes(out_dir / METRICS, lines.encode())


def final_report(
    model: nn.Module, data: RunData, config: TrainConfig, device: torch.device, out_dir: Path, arch_name: str,
    best_epoch: int,
) -> dict:  # fmt: skip
    """Evaluate `model` (the best weights) on the validation classes, at the threshold calibrated there, and
    on the test classes; writes `report.json` and `roc.png` and returns the report."""
    val_metrics, val_roc = evaluate_validation(model, data, config, device, calibrate=True)
    threshold = val_metrics["threshold"]
    curves = {f"validation ({len(data.val_set.class_names)} classes)": (val_roc.far, val_roc.tar)}
    report = {
        "best_epoch": best_epoch,
        "threshold": threshold,
        "target_far": config.target_far,
        "validation": val_metrics,
        "test": None,
    }
    if data.test_set is not None:
        test_embeddings = embed_images(model, data.test_set.images, data.spec, device)
        test_metrics, test_roc = evaluate_set(test_embeddings, data.test_set, config, way=config.way,
                                              episodes=config.episodes, threshold=threshold)  # fmt: skip
        report["test"] = test_metrics
        curves[f"test ({len(data.test_set.class_names)} unseen classes)"] = (test_roc.far, test_roc.tar)
    draw_roc(curves, out_dir / ROC_IMAGE, title=f"ROC of {arch_name} on {data.root.name}")
    atomic_write_bytes(out_dir / REPORT, (json.dumps(report, indent=2) + "\n").encode())
    return report
