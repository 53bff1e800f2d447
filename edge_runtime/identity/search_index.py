"""Nearest-identity search over a gallery's unit vectors: numpy (exact, default) or FAISS.

numpy answers a query against 100k identities in milliseconds (one matrix product and a partial
sort). For galleries of millions, the optional FAISS backend (the `faiss` extra)
uses an HNSW graph: approximate, sub-linear.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.core.errors import SiameseEdgeError
from edge_runtime.core.extras import install_command

BACKENDS = ("numpy", "faiss")


class NumpyIndex:
    """Exact cosine search: scores of every vector, then the top k."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.ascontiguousarray(vectors, np.float32)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices), each queries×k, best first."""
        scores = np.atleast_2d(queries).astype(np.float32) @ self.vectors.T
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        rows = np.arange(len(scores))[:, None]
        order = np.argsort(-scores[rows, top], axis=1)
        top = top[rows, order]
        return scores[rows, top], top


class FaissIndex:
    """Approximate cosine search with FAISS's HNSW graph (inner product on unit vectors)."""

    def __init__(self, vectors: np.ndarray, neighbours: int = 32, search_depth: int = 128) -> None:
        try:
            import faiss
        except ImportError:
            raise SiameseEdgeError(f"the faiss index needs faiss: {install_command('faiss')}") from None
        self.index = faiss.IndexHNSWFlat(vectors.shape[1], neighbours, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efSearch = search_depth
        self.index.add(np.ascontiguousarray(vectors, np.float32))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices), each queries×k, best first."""
        k = min(k, self.index.ntotal)
        return self.index.search(np.ascontiguousarray(np.atleast_2d(queries), np.float32), k)


def make_index(vectors: np.ndarray, backend: str = "numpy"):
    """The search index `backend` over `vectors`."""
    if backend == "numpy":
        return NumpyIndex(vectors)
    if backend == "faiss":
        return FaissIndex(vectors)
    raise SiameseEdgeError(f"unknown index {backend!r}; choose {', '.join(BACKENDS)}")
