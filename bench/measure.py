"""One benchmark case: a model on a provider at a batch size, measured in a process of its own.

A fresh process per case keeps sessions from sharing caches and makes its peak memory its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_runtime.imaging.preprocessing import fit_image, to_input_tensor
from edge_runtime.inference.embedder import Embedder
from edge_runtime.inference.providers import PROVIDER_NAMES, ProviderError, ProviderSettings, short_name


@dataclass(frozen=True)
class Case:
    """What to measure: a model on a provider at a batch size, how many runs, after how many warm-up runs."""

    model: str
    provider: str
    batch: int
    runs: int = 100
    warmup: int = 5
    trt_fp16: bool = False
    engine_cache: str | None = None


@dataclass
class Measurement:
    """What was measured. Latencies are per batch, in milliseconds, of inference alone (the input
    tensor is prepared beforehand, as for the eager baseline); throughput from the median.
    `session_s` is ONNX Runtime's session creation alone; `first_run_s` the first inference (where
    TensorRT builds its engine); `prepare_s` fitting the images to the model's input."""

    model: str
    file: str
    precision: str
    quantization: str
    provider: str
    ran_on: str
    batch: int
    session_s: float
    first_run_s: float
    cached_session_s: float | None
    prepare_s: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    images_per_s: float
    peak_rss_mb: float
    family: str = ""
    threshold: float | None = None
    flip_average: bool = False
    active_providers: list[str] = field(default_factory=list)
    embeddings: np.ndarray | None = None

    def row(self) -> dict:
        """The measurement without its embeddings, for tables and files."""
        values = asdict(self)
        values.pop("embeddings")
        return values


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """Mean, p50, p90 and p99 of a list of latencies."""
    values = np.asarray(latencies_ms)
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"mean_ms": float(values.mean()), "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99)}


def time_calls(call, runs: int, warmup: int) -> dict[str, float]:
    """Latency percentiles of `call()` over `runs` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000.0)
    return percentiles(latencies)


def _settings(case: Case, cache: str) -> ProviderSettings:
    return ProviderSettings(tensorrt_fp16=case.trt_fp16, engine_cache_dir=Path(cache), max_batch=max(32, case.batch))


def _started(case: Case, cache: str) -> tuple[Embedder, float]:
    """An Embedder on the case's provider (ProviderError if it falls back) and its creation time."""
    started = time.perf_counter()
    embedder = Embedder(case.model, providers=(case.provider,), settings=_settings(case, cache), require_provider=True)
    return embedder, time.perf_counter() - started


def run_case(case: Case, images: list[np.ndarray]) -> Measurement:
    """Measure `case` in this process: start-up, latency, throughput, embeddings of `images`."""
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        cache = case.engine_cache or scratch
        embedder, session_s = _started(case, cache)
        started = time.perf_counter()
        fitted = np.stack([fit_image(image, embedder.info.spec) for image in images])
        tensor = to_input_tensor(np.resize(fitted, (case.batch, *fitted.shape[1:])), embedder.info.spec)
        prepare_s = time.perf_counter() - started
        started = time.perf_counter()
        embedder.infer(tensor)  # a TensorRT engine is built here unless the session built it
        first_run_s = time.perf_counter() - started
        cached_session_s = None
        if case.provider == "tensorrt":
            embedder, cached_session_s = _started(case, cache)
            embedder.infer(tensor)
        stats = time_calls(lambda: embedder.infer(tensor), case.runs, case.warmup)
        embeddings = embedder.embed_fitted(fitted, batch_size=case.batch)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info = embedder.info
    return Measurement(
        model=case.model,
        file=str(embedder.path),
        precision=info.precision,
        quantization=info.quantization,
        provider=case.provider,
        ran_on=short_name(embedder.active_providers[0]),
        batch=case.batch,
        session_s=session_s,
        first_run_s=first_run_s,
        cached_session_s=cached_session_s,
        prepare_s=prepare_s,
        **stats,
        images_per_s=case.batch / (stats["p50_ms"] / 1000.0),
        peak_rss_mb=peak_kb / 1024.0 if sys.platform != "darwin" else peak_kb / 2**20,
        family=info.family,
        threshold=info.threshold,
        flip_average=info.flip_average,
        active_providers=[short_name(p) for p in embedder.active_providers],
        embeddings=embeddings,
    )


def run_isolated(case: Case, images: list[np.ndarray]) -> Measurement | str:
    """`run_case` in a fresh process (spawned), so its peak memory and caches are its own; or why
    the case could not run on its provider (it would have fallen back to another)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        try:
            return pool.apply(run_case, (case, images))
        except ProviderError as error:
            return f"not run: {error}"


def skip_reason(case: Case, available: list[str]) -> str | None:
    """Why this machine cannot run `case`, or None."""
    name = PROVIDER_NAMES.get(case.provider)
    if name is None:
        return f"unknown provider {case.provider}"
    if name not in available:
        return f"this onnxruntime build has no {name} (install onnxruntime-gpu on a machine with an NVIDIA GPU)"
    return None
