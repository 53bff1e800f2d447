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

from edge_runtime.embedder import Embedder
from edge_runtime.preprocessing import fit_image
from edge_runtime.providers import PROVIDER_NAMES, ProviderSettings


@dataclass(frozen=True)
class Case:
    """What to measure."""

    model: str
    provider: str
    batch: int
    runs: int = 100
    warmup: int = 5
    trt_fp16: bool = False
    engine_cache: str | None = None


@dataclass
class Measurement:
    """What was measured; latencies are per batch, in milliseconds; throughput from the median."""

    model: str
    precision: str
    provider: str
    batch: int
    session_s: float
    cached_session_s: float | None
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    images_per_s: float
    peak_rss_mb: float
    family: str = ""
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


def _settings(case: Case, cache: str) -> ProviderSettings:
    return ProviderSettings(tensorrt_fp16=case.trt_fp16, engine_cache_dir=Path(cache), max_batch=max(32, case.batch))


def run_case(case: Case, images: list[np.ndarray]) -> Measurement:
    """Measure `case` in this process: session start, latency, throughput, embeddings of `images`."""
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        cache = case.engine_cache or scratch
        started = time.perf_counter()
        embedder = Embedder(case.model, providers=(case.provider,), settings=_settings(case, cache))
        fitted = np.stack([fit_image(image, embedder.info.spec) for image in images])
        batch = np.resize(fitted, (case.batch, *fitted.shape[1:]))
        embedder.embed_fitted(batch, batch_size=case.batch)  # a TensorRT engine is built here
        session_s = time.perf_counter() - started
        cached_session_s = None
        if case.provider == "tensorrt":
            started = time.perf_counter()
            embedder = Embedder(case.model, providers=(case.provider,), settings=_settings(case, cache))
            embedder.embed_fitted(batch, batch_size=case.batch)
            cached_session_s = time.perf_counter() - started
        for _ in range(case.warmup):
            embedder.embed_fitted(batch, batch_size=case.batch)
        latencies = []
        for _ in range(case.runs):
            started = time.perf_counter()
            embedder.embed_fitted(batch, batch_size=case.batch)
            latencies.append((time.perf_counter() - started) * 1000.0)
        stats = percentiles(latencies)
        embeddings = embedder.embed_fitted(fitted, batch_size=case.batch)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Measurement(
        model=case.model,
        precision=embedder.info.precision,
        provider=case.provider,
        batch=case.batch,
        session_s=session_s,
        cached_session_s=cached_session_s,
        **stats,
        images_per_s=case.batch / (stats["p50_ms"] / 1000.0),
        peak_rss_mb=peak_kb / 1024.0 if sys.platform != "darwin" else peak_kb / 2**20,
        family=_family(embedder),
        active_providers=embedder.active_providers,
        embeddings=embeddings,
    )


def family_key(arch: str, dataset: str, spec, embedding_size: int) -> str:
    """Models of one family (same training, input and embedding) can be compared with each other."""
    return f"{arch}/{dataset}/{spec.height}x{spec.width}x{spec.channels}/{embedding_size}"


def _family(embedder: Embedder) -> str:
    info = embedder.info
    return family_key(info.arch, info.dataset_name, info.spec, info.embedding_size)


def run_isolated(case: Case, images: list[np.ndarray]) -> Measurement:
    """`run_case` in a fresh process (spawned), so its peak memory and caches are its own."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(run_case, (case, images))


def skip_reason(case: Case, available: list[str]) -> str | None:
    """Why this machine cannot run `case`, or None."""
    name = PROVIDER_NAMES.get(case.provider)
    if name is None:
        return f"unknown provider {case.provider}"
    if name not in available:
        return f"this onnxruntime build has no {name} (install onnxruntime-gpu on a machine with an NVIDIA GPU)"
    return None
