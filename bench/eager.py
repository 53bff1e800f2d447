"""The PyTorch eager baseline: the checkpoint's own network, timed doing what the ONNX Runtime rows
time (inference alone, on an input tensor prepared beforehand), on the device of the rows it is
compared with (needs torch, onnx)."""

from __future__ import annotations

import logging
import multiprocessing

import numpy as np

from bench.measure import time_calls
from edge_runtime.imaging.preprocessing import InputSpec, fit_image, to_input_tensor

log = logging.getLogger(__name__)

GPU_PROVIDERS = ("cuda", "tensorrt")


def checkpoint_families(payload: dict) -> dict[bool, str]:
    """The family hash (FP32 graph hash at the default opset) of the checkpoint's exports, without and
    with flip averaging: what an exported model's `family_hash` says it was made from."""
    from export.graph import DEFAULT_OPSET, export_fp32, graph_hash

    return {flip: graph_hash(export_fp32(payload, DEFAULT_OPSET, flip)) for flip in (False, True)}


def device_of(row: dict) -> str:
    """The torch device that does the work of an ONNX Runtime row."""
    return "cuda" if row["ran_on"] in GPU_PROVIDERS else "cpu"


def eager_baseline(checkpoint: str, images: list[np.ndarray], rows: list[dict], runs: int, warmup: int) -> list[dict]:
    """Time the checkpoint's network for every (flip averaging, device, batch) of the rows that are
    its exports (each eager row carries the family it stands for)."""
    import torch

    from export.graph import embedding_module
    from train.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    families = checkpoint_families(payload)
    ours = [r for r in rows if r["family"] in families.values()]
    if not ours:
        log.warning("none of the models is an export of %s (family %s): no ratios to PyTorch eager", checkpoint,
                    " or ".join(families.values()))  # fmt: skip
    wanted = {(r["flip_average"], device_of(r), r["batch"]) for r in ours} or {(False, "cpu", r["batch"]) for r in rows}
    if any(device == "cuda" for _, device, _ in wanted) and not torch.cuda.is_available():
        log.warning("torch sees no CUDA device: GPU rows get no ratio to PyTorch eager")
        wanted = {w for w in wanted if w[1] == "cpu"}
    spec = InputSpec.from_dict(payload["input"])
    fitted = np.stack([fit_image(image, spec) for image in images])
    eager = []
    with torch.inference_mode():
        for flip, device, batch in sorted(wanted):
            model = embedding_module(payload, flip).to(device)
            tensor = torch.from_numpy(to_input_tensor(np.resize(fitted, (batch, *fitted.shape[1:])), spec)).to(device)

            def call(model=model, tensor=tensor, device=device):
                model(tensor)
                if device == "cuda":
                    torch.cuda.synchronize()

            stats = time_calls(call, runs, warmup)
            eager.append({"family": families[flip], "flip_average": flip, "device": device, "batch": batch, **stats,
                          "images_per_s": batch / (stats["p50_ms"] / 1000.0)})  # fmt: skip
    return eager


def isolated_eager_baseline(checkpoint: str, images: list[np.ndarray], rows: list[dict], runs: int, warmup: int):
    """`eager_baseline` in a fresh process, as every ONNX Runtime case is measured."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(eager_baseline, (checkpoint, images, rows, runs, warmup))


def add_eager_ratios(rows: list[dict], eager: list[dict]) -> None:
    """Set each row's `speedup_vs_eager`: against the eager row of its family, device and batch (or None)."""
    by_key = {(e["family"], e["device"], e["batch"]): e["images_per_s"] for e in eager}
    for row in rows:
        reference = by_key.get((row["family"], device_of(row), row["batch"]))
        row["speedup_vs_eager"] = None if reference is None else row["images_per_s"] / reference
