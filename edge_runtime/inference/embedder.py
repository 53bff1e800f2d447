"""`Embedder`: an ONNX Runtime session that turns OpenCV images into L2-normalised embeddings."""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path

import numpy as np

from edge_runtime.core.errors import ModelError, error_line
from edge_runtime.imaging.preprocessing import fit_image, to_input_tensor
from edge_runtime.inference.int8_variants import ModelFile
from edge_runtime.inference.model_info import ModelInfo
from edge_runtime.inference.onnx_runtime import onnxruntime
from edge_runtime.inference.provider_policy import file_for_provider
from edge_runtime.inference.providers import (
    CPU,
    TENSORRT,
    ProviderError,
    ProviderSettings,
    library_problem,
    provider_options,
    resolve_providers,
    runtime_reason,
    short_name,
)

log = logging.getLogger(__name__)


class Embedder:
    """Embed images with a siamese-edge ONNX model; all preprocessing comes from its metadata.

    `providers` is a list in order of preference: the session runs on the first one that starts
    (each one skipped is one warning line, with ONNX Runtime's reason); with `require_provider`, on
    the first or not at all. A provider that fails while running (ONNX Runtime's EPFail) is one
    warning line too, and the session moves to the next provider listed, or with `require_provider`
    the run stops with a ProviderError. Each provider receives the file `provider_policy` gives it,
    so `path` and `info` describe the file that really runs.
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
        self.require_provider = require_provider
        # On the CPU one session reads the metadata and runs; GPU provider options need the
        # model's input shape and hash, so a minimal CPU session reads them first.
        on_cpu = names[0] == CPU
        probe = model_session(path, [CPU], minimal=not on_cpu)
        given = ModelFile(path, _info(probe, path))
        self.input_name = probe.get_inputs()[0].name
        settings = settings or ProviderSettings()
        self._start = functools.partial(
            first_that_starts, names, functools.partial(self._attempt, names, given, settings)
        )
        if on_cpu:
            self.session, chosen, self.position = probe, given, 0
        else:
            self.session, chosen, self.position = self._start(require_provider)
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
            why = library_problem(names[index])
            return f"{short_name(names[index])} did not start: {runtime_reason(error)}" + (f" ({why})" if why else "")
        active = session.get_providers()[0]
        if (
            active != names[index]
        ):  # onnxruntime-gpu drops a provider whose libraries do not load, and says so only in its log
            why = library_problem(names[index]) or "its libraries (CUDA, cuDNN, TensorRT) failed to load"
            fell_back = f"the session fell back to {short_name(active)}"
            return f"{short_name(names[index])} did not start ({fell_back}): {why}; run edge-doctor"
        return session, chosen, index

    @property
    def active_providers(self) -> list[str]:
        """The execution providers the session actually uses, in priority order."""
        return self.session.get_providers()

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """The model's output for an input tensor that is already normalised (N×C×H×W float32).

        A provider that fails while running moves the session to the next provider (see the class)."""
        while True:
            try:
                return self.session.run(None, {self.input_name: tensor})[0].astype(np.float32)
            except ep_failure() as error:
                self._failed_while_running(error)

    def _failed_while_running(self, error: Exception) -> None:
        """The running provider stopped (EPFail): say so in one line, then start the next provider or stop."""
        failed = short_name(self.active_providers[0])
        reason = f"{failed} failed while running: {runtime_reason(error)}"
        if self.require_provider:
            raise ProviderError(f"{reason}; --require-provider forbids running on another provider") from None
        log.warning("%s; moving to the next provider listed", reason)
        self.session, chosen, self.position = self._start(False, self.position + 1)
        self.path, self.info = chosen.path, chosen.info

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


def first_that_starts(names: list[str], attempt, require_first: bool = False, start: int = 0):
    """The result of `attempt(i)` for the first provider `names[i]` (from `start` on) that starts; each
    one that does not (`attempt` returns the reason as a string) is logged as a warning. With
    `require_first`, only the first may run; a ProviderError says why none did."""
    reasons = []
    for index in range(start, len(names)):
        name = names[index]
        result = attempt(index)
        if not isinstance(result, str):
            if reasons or start:
                log.warning("running on %s, not on %s", short_name(name), short_name(names[0]))
            return result
        if require_first:
            raise ProviderError(f"{result}; --require-provider forbids running on another provider")
        reasons.append(result)
        following = f"trying {short_name(names[index + 1])}" if index + 1 < len(names) else "no provider left"
        log.warning("%s; %s", result, following)
    raise ProviderError("no provider listed can run the model: " + ("; ".join(reasons) or "none is left"))


def ep_failure() -> type[Exception]:
    """onnxruntime's EPFail: what a session's run raises when its provider fails while running."""
    return getattr(onnxruntime().capi.onnxruntime_pybind11_state, "EPFail", RuntimeError)


class _Session:
    """Builds `onnxruntime.InferenceSession` subclasses that never fall back on their own."""

    cache = None

    @classmethod
    def type(cls):
        """InferenceSession without onnxruntime's own fallback: that fallback prints a banner to stdout
        (breaking --json), drops every provider's options, and at run time moves to the CPU unseen. A
        provider that cannot start raises instead, and `first_that_starts` tries the next one."""
        if cls.cache is None:

            class QuietSession(onnxruntime().InferenceSession):
                def _create_inference_session(self, *args, **kwargs):
                    self.disable_fallback()
                    return super()._create_inference_session(*args, **kwargs)

            cls.cache = QuietSession
        return cls.cache


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
    return _Session.type()(str(path), session_options, providers=providers, provider_options=options)


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
