"""LFW View 2 verification accuracy of a face model, on folds whose people it never saw.

The standard protocol: for each held-out fold, the threshold that is best on the other held-out
folds decides its 600 pairs; the accuracy is the mean ± standard deviation over folds. Faces are
detected and cut by the runtime's own code, as the model's metadata says; an image without a
detection falls back to its central half (counted). Also TAR at FAR 1e-3 over all held-out pairs,
and the accuracy at the model's own threshold (what a user gets without --threshold).

Usage: python -m benchmarks.faces.lfw_view2 MODEL.onnx LFW_ROOT PAIRS_FILE [--test-folds 10]
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from benchmarks.faces.lfw import Pair, lfw_faces, load_face, model_benchmark_parser, read_folds
from edge_runtime.embedder import Embedder
from edge_runtime.openset import roc_curve, tar_at_far


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the highest accuracy on these pairs."""
    candidates = np.unique(scores)
    accuracy = [np.mean((scores >= t) == same) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def view2_report(folds: list[list[Pair]], score: Callable[[str, int, str, int], float], threshold=None) -> dict:
    """The protocol's figures for a pair scorer (higher: more alike), and at `threshold` if given."""
    fold_scores = [np.array([score(a, i, b, j) for a, i, b, j, _ in fold]) for fold in folds]
    fold_same = [np.array([s for *_, s in fold]) for fold in folds]
    accuracies = []
    for k in range(len(folds)):
        others = [i for i in range(len(folds)) if i != k]
        chosen = best_threshold(np.concatenate([fold_scores[i] for i in others]),
                                np.concatenate([fold_same[i] for i in others]))  # fmt: skip
        accuracies.append(float(np.mean((fold_scores[k] >= chosen) == fold_same[k])))
    scores, same = np.concatenate(fold_scores), np.concatenate(fold_same)
    return {
        "held-out folds": len(folds),
        "pairs": len(scores),
        "accuracy (mean over folds)": round(float(np.mean(accuracies)), 4),
        "accuracy std": round(float(np.std(accuracies)), 4),
        "tar_at_far_1e-3": round(tar_at_far(roc_curve(scores, same), 1e-3), 4),
        "accuracy at the model's threshold": None
        if threshold is None
        else round(float(np.mean((scores >= threshold) == same)), 4),
    }


def main() -> None:
    parser = model_benchmark_parser(__doc__)
    args = parser.parse_args()
    embedder = Embedder(args.model, providers=("cpu",))
    faces = lfw_faces(embedder.info.spec)
    cache: dict[tuple[str, int], np.ndarray] = {}
    fallbacks = 0

    def embedding(person: str, number: int) -> np.ndarray:
        nonlocal fallbacks
        if (person, number) not in cache:
            face, found = load_face(args.lfw, person, number, faces)
            fallbacks += not found
            cache[person, number] = embedder.embed([face])[0]
        return cache[person, number]

    folds = read_folds(args.pairs)[: args.test_folds]
    report = view2_report(folds, lambda a, i, b, j: float(embedding(a, i) @ embedding(b, j)), embedder.info.threshold)
    report["images without a detected face (central crop used)"] = fallbacks
    report["images"] = len(cache)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
