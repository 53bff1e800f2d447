"""The PyTorch eager baseline: the checkpoint's own network, timed doing what the ONNX Runtime rows
time (inference alone, on an input tensor prepared beforehand), on the device of the rows it is
compared with (needs torch, onnx)."""

from __future__ import annotations

import logging

import numpy as np

from bench.measure import time_calls
from edge_runtime.preprocessing import InputSpec, fit_image, to_input_tensor

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
    its exports, and set those rows' `speedup_vs_eager`; returns the eager rows."""
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
            eager.append({"flip_average": flip, "device": device, "batch": batch, **stats,
                          "images_per_s": batch / (stats["p50_ms"] / 1000.0)})  # fmt: skip
    by_key = {(e["flip_average"], e["device"], e["batch"]): e["images_per_s"] for e in eager}
    for row in rows:
        key = (row["flip_average"], device_of(row), row["batch"])
        row["speedup_vs_eager"] = row["images_per_s"] / by_key[key] if row in ours and key in by_key else None
    return eager
