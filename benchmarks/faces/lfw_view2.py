"""LFW View 2 verification accuracy of a face model, on folds whose people it never saw.

The standard protocol: for each held-out fold, the threshold that is best on the other held-out
folds decides its 600 pairs; the accuracy is the mean ± standard deviation over folds. Faces are
detected and cut by the runtime's own code, as the model's metadata says; an image without a
detection falls back to its central half (counted). Also TAR at FAR 1e-3 and 1e-2 over all
held-out pairs (with 300 impostor pairs a fold, FAR 1e-3 rests on the top few impostor scores, 1e-2
on a few dozen), and the accuracy at the model's own threshold (what a user gets without --threshold).
With --turn DEGREES the second photo of every pair is turned by that much before its face is found
(a head tilted in the frame), which shows how well the model's alignment follows a tilt.

With --result NAME the report is also written to results/NAME.json, with how it was measured
(benchmarks/results.py), for README's tables.

Usage: python -m benchmarks.faces.lfw_view2 MODEL.onnx LFW_ROOT PAIRS_FILE [--test-folds 10] [--turn 20]
       [--result NAME]
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from benchmarks.faces.lfw import (
    Pair,
    lfw_faces,
    load_face,
    model_benchmark_parser,
    read_folds,
    run_reporting_errors,
)
from benchmarks.results import add_result_option, write_result
from edge_runtime.identity.openset import roc_curve, tar_at_far
from edge_runtime.inference.embedder import Embedder


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
    roc = roc_curve(scores, same)
    return {
        "held-out folds": len(folds),
        "pairs": len(scores),
        "accuracy (mean over folds)": round(float(np.mean(accuracies)), 4),
        "accuracy std": round(float(np.std(accuracies)), 4),
        "tar_at_far_1e-3": round(tar_at_far(roc, 1e-3), 4),
        "tar_at_far_1e-2": round(tar_at_far(roc, 1e-2), 4),
        "accuracy at the model's threshold": None
        if threshold is None
        else round(float(np.mean((scores >= threshold) == same)), 4),
    }


def main() -> None:
    run_reporting_errors("lfw_view2", measure)


def measure() -> None:
    """Parse the arguments, embed every pair's faces and print the report."""
    parser = model_benchmark_parser(__doc__)
    parser.add_argument("--turn", type=float, default=0.0, help="turn each pair's second photo by this many degrees")
    add_result_option(parser)
    args = parser.parse_args()
    embedder = Embedder(args.model, providers=("cpu",))
    faces = lfw_faces(embedder.info.spec, landmarks=args.landmarks)
    cache: dict[tuple[str, int, float], np.ndarray] = {}
    fallbacks = 0

    def embedding(person: str, number: int, turn: float = 0.0) -> np.ndarray:
        nonlocal fallbacks
        if (person, number, turn) not in cache:
            face, found = load_face(args.lfw, person, number, faces, turn)
            fallbacks += not found
            cache[person, number, turn] = embedder.embed([face])[0]
        return cache[person, number, turn]

    folds = read_folds(args.pairs)[: args.test_folds]
    report = view2_report(folds, lambda a, i, b, j: float(embedding(a, i) @ embedding(b, j, args.turn)),
                          embedder.info.threshold)  # fmt: skip
    report["images without a detected face (central crop used)"] = fallbacks
    report["images"] = len(cache)
    print(json.dumps(report, indent=2))
    if args.result:
        figures = {"model": args.model.name, "test folds": args.test_folds, "turn": args.turn,
                   "landmarks": args.landmarks, **report}  # fmt: skip
        write_result(args.result, figures, benchmark="lfw_view2")


if __name__ == "__main__":
    main()
