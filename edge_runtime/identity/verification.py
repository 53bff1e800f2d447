"""1:1 verification: are two images the same identity (or, for signature models, is the
questioned signature the reference writer's genuine one)?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.identity.recognizer import resolve_threshold
from edge_runtime.inference.embedder import Embedder

VERDICT_WORDS = {"signature": ("genuine", "forged")}
DEFAULT_WORDS = ("same", "different")


@dataclass(frozen=True)
class Verdict:
    """The verdict in the model's words, the cosine score and the threshold it was held to."""

    verdict: str
    score: float
    threshold: float
    accepted: bool  # "same" / "genuine"

    def to_dict(self) -> dict:
        """Rounded values for JSON output."""
        return {"verdict": self.verdict, "score": round(self.score, 4), "threshold": round(self.threshold, 4)}


def verify(
    embedder: Embedder, reference: np.ndarray, questioned: np.ndarray, threshold: float | None = None
) -> Verdict:
    """Compare two regions (BGR or grayscale pixels) with the model's calibrated threshold or `threshold`."""
    a, b = embedder.embed([reference, questioned])
    score, limit = float(a @ b), resolve_threshold(embedder, threshold)
    accepted = score >= limit
    accept, reject = VERDICT_WORDS.get(embedder.info.kind, DEFAULT_WORDS)
    return Verdict(accept if accepted else reject, score, limit, accepted)
