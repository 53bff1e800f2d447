"""Time one query against galleries of 1k and 100k identities (numpy exact; FAISS HNSW if installed).

With --result NAME (run as `python -m benchmarks.runtime.gallery_search`) the figures are also
written to results/NAME.json, with how they were measured (benchmarks/results.py), for README's tables.

Usage: python benchmarks/runtime/gallery_search.py [--dim 128] [--queries 200] [--result NAME]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edge_runtime.identity.gallery import Gallery


def unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    """Random unit vectors."""
    x = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def time_queries(gallery: Gallery, queries: np.ndarray) -> tuple[float, float]:
    """Median and 99th percentile milliseconds of single-query top-5 matches."""
    gallery.match(queries[:1], k=5)  # builds the index
    times = []
    for query in queries:
        started = time.perf_counter()
        gallery.match(query[None], k=5)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.percentile(times, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--result", metavar="NAME", help="also write the figures to results/NAME.json (python -m)")
    args = parser.parse_args()
    backends = ["numpy"]
    try:
        import faiss  # noqa: F401

        backends.append("faiss")
    except ImportError:
        pass
    print("| identities | index | median ms/query | p99 ms/query |")
    print("| ---: | --- | ---: | ---: |")
    rows = []
    for count in (1_000, 100_000):
        vectors = unit_vectors(count, args.dim, seed=count)
        queries = vectors[: args.queries] + 0.1 * unit_vectors(args.queries, args.dim, seed=1)
        for backend in backends:
            gallery = Gallery("benchmark", args.dim, index=backend)
            for i, vector in enumerate(vectors):
                gallery.add(f"id{i}", vector)
            median, p99 = time_queries(gallery, queries)
            print(f"| {count:,} | {backend} | {median:.3f} | {p99:.3f} |")
            rows.append({"identities": count, "index": backend, "median_ms": median, "p99_ms": p99})
    if args.result:
        from benchmarks.results import write_result  # a checkout's module: run with python -m

        write_result(args.result, {"dim": args.dim, "queries": args.queries, "top": 5, "rows": rows},
                     benchmark="gallery_search")  # fmt: skip


if __name__ == "__main__":
    main()
