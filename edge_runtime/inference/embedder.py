"""`Embedder`: an ONNX Runtime session that turns OpenCV images into L2-normalised embeddings."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import numpy as np

from edge_runtime.core.errors import ModelError, error_line
from edge_runtime.imaging.preprocessing import fit_image, to_input_tensor
from edge_runtime.inference.int8_variants import TENSORRT, ModelFile, file_for_provider
from edge_runtime.inference.model_info import ModelInfo
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.providers import (
    CPU,
    ProviderError,
    ProviderSettings,
    provider_options,
    resolve_providers,
    short_name,
)

log = logging.getLogger(__name__)


class Embedder:
    """Embed images with a siamese-edge ONNX model; all preprocessing comes from its metadata.

    `providers` is a list in order of preference: the session runs on the first one that starts
    (each one skipped is logged as a warning); with `require_provider`, on the first or not at all.
    The TensorRT provider receives an INT8 model's TensorRT variant (see `int8_variants`), so
    `path` and `info` describe the file that really runs.
    """

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
        names = resolve_providers(providers, require_first=require_provider)
        # On the CPU one session reads the metadata and runs; GPU provider options need the
        # model's input shape and hash, so a minimal CPU session reads them first.
        on_cpu = names[0] == CPU
        probe = model_session(path, [CPU], minimal=not on_cpu)
        given = ModelFile(path, _info(probe, path))
        self.input_name = probe.get_inputs()[0].name
        if on_cpu:
            self.session, chosen = probe, given
        else:
            settings = settings or ProviderSettings()
            attempt = functools.partial(self._attempt, names, given, settings)
            self.session, chosen = first_that_starts(names, attempt, require_provider)
        self.path, self.info = chosen.path, chosen.info

    def _attempt(self, names: list[str], given: ModelFile, settings: ProviderSettings, index: int):
        """A session of the file for `names[index]` (later names take the nodes it cannot), or why not."""
        chosen = file_for_provider(names[index], given, read_model_info)
        if isinstance(chosen, str):
            return chosen
        tail = names[index:]
        options = [provider_options(name, settings, chosen.info, self.input_name) for name in tail]
        try:
            session = _open(chosen.path, tail, options)
        except Exception as error:  # a provider that cannot start raises onnxruntime's untyped errors
            return f"{short_name(names[index])} failed to start: {error_line(error)}"
        active = session.get_providers()[0]
        if active != names[index]:
            return (
                f"{short_name(names[index])} did not start (the session fell back to {short_name(active)}): "
                "its libraries (CUDA, cuDNN, TensorRT) failed to load; run edge-doctor"
            )
        return session, chosen

    @property
    def active_providers(self) -> list[str]:
        """The execution providers the session actually uses, in priority order."""
        return self.session.get_providers()

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The model's output for an input tensor that is already normalised (N×C×H×W float32)."""
        return self.session.run(None, {self.input_name: tensor})[0].astype(np.float32)

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
            rows.append(self.infer(to_input_tensor(fitted[start : start + batch_size], self.info.spec)))
        embeddings = np.concatenate(rows)
        return embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)


def first_that_starts(names: list[str], attempt, require_first: bool = False):
    """The result of `attempt(i)` for the first provider `names[i]` that starts; each one that does not
    (`attempt` returns the reason as a string) is logged as a warning. With `require_first`, only
    the first may run; a ProviderError says why none did."""
    reasons = []
    for index, name in enumerate(names):
        result = attempt(index)
        if not isinstance(result, str):
            if reasons:
                log.warning("running on %s, not on %s", short_name(name), short_name(names[0]))
            return result
        if require_first:
            raise ProviderError(f"{result}; --require-provider forbids running on another provider")
        reasons.append(result)
        following = f"trying {short_name(names[index + 1])}" if index + 1 < len(names) else "no provider left"
        log.warning("%s; %s", result, following)
    raise ProviderError("no provider listed can run the model: " + "; ".join(reasons))


def read_model_info(path: Path) -> ModelInfo:
    """The metadata of the model at `path` (read by a minimal CPU session)."""
    return _info(model_session(path, [CPU], minimal=True), path)


def _info(session, path: Path) -> ModelInfo:
    return ModelInfo.from_model(session, source=str(path))


def _open(path: Path, providers: list[str], options=None, minimal: bool = False):
    ort = onnxruntime()
    session_options = ort.SessionOptions()
    # The runtime embeds beside face detection, landmarks, decoding and drawing threads; ONNX Runtime's
    # workers otherwise spin between runs and take their CPU (on 2 cores the whole loop ran slower).
    session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if minimal:
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), session_options, providers=providers, provider_options=options)


def model_session(path: Path, providers: list[str], minimal: bool = False):
    """An ONNX Runtime session of the model at `path` (`minimal`: no graph optimisations), or a `ModelError`."""
    try:
        return _open(path, providers, minimal=minimal)
    except Exception as error:  # onnxruntime raises its own untyped errors for unreadable models
        raise ModelError(f"cannot load model {path} (truncated or not ONNX): {error_line(error)}") from None


def warm_up(embedder: Embedder, batch_sizes: tuple[int, ...] = (1, 8)) -> None:
    """Run the model once per batch size, so TensorRT builds and caches its engines now (an error off TensorRT)."""
    if TENSORRT not in embedder.active_providers:
        raise ProviderError(
            f"there is no TensorRT engine to build: the session runs on {short_name(embedder.active_providers[0])}; "
            "give --provider tensorrt on a machine whose onnxruntime has it (edge-doctor tells)"
        )
    log.info("building the TensorRT engine: the first build can take several minutes; it is cached")
    spec = embedder.info.spec
    for size in batch_sizes:
        started = time.perf_counter()
        embedder.embed_fitted(np.zeros((size, spec.height, spec.width, spec.channels), np.uint8))
        log.info("batch %d ready in %.1f s", size, time.perf_counter() - started)
