"""The PyTorch eager baseline: the checkpoint's own network, timed on the same images (needs torch)."""

from __future__ import annotations

import time

import numpy as np

from bench.measure import family_key, percentiles
from edge_runtime.preprocessing import InputSpec, fit_image, to_input_tensor


def eager_baseline(
    checkpoint: str, images: list[np.ndarray], batches: list[int], runs: int, warmup: int
) -> tuple[str, list[dict]]:
    """The checkpoint's family and its network's latency and throughput in PyTorch eager mode (CPU)."""
    import torch

    from export.graph import model_from_checkpoint
    from train.checkpoint import load_checkpoint

    payload = load_checkpoint(checkpoint)
    model = model_from_checkpoint(payload)
    spec = InputSpec.from_dict(payload["input"])
    fitted = np.stack([fit_image(image, spec) for image in images])
    rows = []
    with torch.inference_mode():
        for batch in batches:
            tensor = torch.from_numpy(to_input_tensor(np.resize(fitted, (batch, *fitted.shape[1:])), spec))
            for _ in range(warmup):
                model(tensor)
            latencies = []
            for _ in range(runs):
                started = time.perf_counter()
                model(tensor)
                latencies.append((time.perf_counter() - started) * 1000.0)
            stats = percentiles(latencies)
            rows.append({"batch": batch, **stats, "images_per_s": batch / (stats["p50_ms"] / 1000.0)})
    family = family_key(payload["arch"]["name"], payload["dataset"]["name"], spec, payload["embedding_size"])
    return family, rows
