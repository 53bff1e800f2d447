"""`Embedder`: an ONNX Runtime session that turns OpenCV images into L2-normalised embeddings."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.model_info import ModelInfo
from edge_runtime.onnx_runtime import onnxruntime
from edge_runtime.preprocessing import fit_image, to_input_tensor
from edge_runtime.providers import ProviderSettings, check_required, provider_options, resolve_providers

log = logging.getLogger(__name__)


class Embedder:
    """Embed images with a siamese-edge ONNX model; all preprocessing comes from its metadata."""

    def __init__(
        self,
        model_path: str | Path,
        providers: tuple[str, ...] | list[str] = ("auto",),
        settings: ProviderSettings | None = None,
        require_provider: bool = False,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model {path} does not exist")
        names = resolve_providers(providers)
        cpu_only = names == ["CPUExecutionProvider"]
        # GPU provider options need the model's input shape and hash, so a GPU session is opened
        # after a minimal CPU session has read the metadata; on the CPU one session does both.
        described = _session(path, names) if cpu_only else _session(path, ["CPUExecutionProvider"], minimal=True)
        self.info = ModelInfo.from_metadata(described.get_modelmeta().custom_metadata_map, source=str(path))
        self.input_name = described.get_inputs()[0].name
        if cpu_only:
            self.session = described
        else:
            settings = settings or ProviderSettings()
            options = [provider_options(name, settings, self.info, self.input_name) for name in names]
            self.session = _session(path, names, options)
        if require_provider:
            check_required(names, self.session.get_providers())
        self.path = path

    @property
    def active_providers(self) -> list[str]:
        """The execution providers the session actually uses, in priority order."""
        return self.session.get_providers()

    def embed(self, images: list[np.ndarray] | np.ndarray, batch_size: int = 32) -> np.ndarray:
        """One L2-normalised float32 row per image (OpenCV images: H×W or H×W×3 uint8 BGR)."""
        fitted = np.stack([fit_image(image, self.info.spec) for image in images]) if len(images) else None
        if fitted is None:
            return np.empty((0, self.info.embedding_size), np.float32)
        return self.embed_fitted(fitted, batch_size)

    def embed_fitted(self, fitted: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Embeddings of images already fitted to the model's input (N×H×W×C uint8)."""
        rows = []
        for start in range(0, len(fitted), batch_size):
            tensor = to_input_tensor(fitted[start : start + batch_size], self.info.spec)
            rows.append(self.session.run(None, {self.input_name: tensor})[0].astype(np.float32))
        embeddings = np.concatenate(rows)
        return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)


def _session(path: Path, providers: list[str], options=None, minimal: bool = False):
    ort = onnxruntime()
    session_options = ort.SessionOptions()
    if minimal:
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        return ort.InferenceSession(str(path), session_options, providers=providers, provider_options=options)
    except Exception as error:  # onnxruntime raises its own untyped errors for unreadable models
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"cannot load model {path} (truncated or not ONNX): {first_line}") from None


def warm_up(embedder: Embedder, batch_sizes: tuple[int, ...] = (1, 8)) -> None:
    """Run the model once per batch size, so TensorRT builds and caches its engines now."""
    spec = embedder.info.spec
    if "TensorrtExecutionProvider" in embedder.active_providers:
        log.info("building the TensorRT engine: the first build can take several minutes; it is cached")
    for size in batch_sizes:
        started = time.perf_counter()
        embedder.embed_fitted(np.zeros((size, spec.height, spec.width, spec.channels), np.uint8))
        log.info("batch %d ready in %.1f s", size, time.perf_counter() - started)
