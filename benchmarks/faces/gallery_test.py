"""The runtime's gallery on LFW people the model never saw: one image enrolled per person, the
person's other images must get the right name, the images of never-enrolled people must come out
"unknown" (at the model's own calibrated threshold, with the runtime's face cut and quality gate).

People of View 2 folds 1..N with two faces or more (at most --per-person images each): a random
gallery of G of them is enrolled with ONE image each, everyone else is never enrolled. Each gallery
size (--galleries, "half" for half the people) is repeated over --rounds random draws; means are
reported. A bigger gallery gives a stranger more chances to pass for someone.

With --result NAME the report is also written to results/NAME.json, with how it was measured
(benchmarks/results.py), for README's tables.

Usage: python -m benchmarks.faces.gallery_test MODEL.onnx LFW_ROOT PAIRS_FILE [--test-folds 10] [--result NAME]
"""

from __future__ import annotations

import json

import numpy as np

from benchmarks.faces.lfw import held_out_people, lfw_faces, model_benchmark_parser, read_folds, run_reporting_errors
from benchmarks.results import add_result_option, write_result
from edge_runtime.faces.face_quality import QualityGate
from edge_runtime.identity.openset import open_set_identification
from edge_runtime.identity.thresholds import choose_threshold
from edge_runtime.imaging.preprocessing import read_image
from edge_runtime.inference.embedder import Embedder


def main() -> None:
    run_reporting_errors("gallery_test", measure)


def measure() -> None:
    """Parse the arguments, embed the held-out people's faces and print the report."""
    parser = model_benchmark_parser(__doc__)
    parser.add_argument("--per-person", type=int, default=10, help="at most this many images of one person")
    parser.add_argument("--galleries", default="10,100,half", help="gallery sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threshold", type=float, help="instead of the model's calibrated threshold")
    parser.add_argument(
        "--false-name-rate",
        help="instead, rates (comma-separated): each gallery's threshold from the model's FAR table for each rate, "
        "as edge-recognize --false-name-rate sets it",
    )
    add_result_option(parser)
    args = parser.parse_args()
    embedder = Embedder(args.model, providers=("cpu",))
    finder = lfw_faces(embedder.info.spec, QualityGate(), args.landmarks)
    people = sorted(held_out_people(read_folds(args.pairs), args.test_folds))
    images, labels, skipped, undetected = [], [], 0, 0
    for label, person in enumerate(people):
        faces = []
        for path in sorted((args.lfw / person).glob("*.jpg"))[: args.per_person]:
            region = finder.largest(read_image(path))
            undetected += region is None
            skipped += region is not None and region.skipped is not None
            if region is not None and region.skipped is None:
                faces.append(region.image)
        if len(faces) >= 2:
            images += faces
            labels += [label] * len(faces)
    labels = np.array(labels)
    embeddings = np.concatenate([embedder.embed(images[i : i + 64]) for i in range(0, len(images), 64)])
    threshold = float(embedder.info.threshold if args.threshold is None else args.threshold)
    report = {
        "people (two usable faces or more)": int(len(np.unique(labels))),
        "faces": int(len(labels)),
        "images skipped by the quality gate": skipped,
        "images without a detected face": undetected,
        "threshold": round(threshold, 4),
        "galleries": [],
    }
    rates = [float(rate) for rate in args.false_name_rate.split(",")] if args.false_name_rate else [None]
    for rate, size in ((rate, size) for rate in rates for size in args.galleries.split(",")):
        enrolled = None if size == "half" else int(size)
        if rate is not None:  # as the runtime chooses it for a gallery of this size
            people = len(np.unique(labels)) // 2 if enrolled is None else enrolled
            threshold = choose_threshold(None, embedder.info.far_table, false_name_rate=rate, people=people).threshold
        rounds = [
            open_set_identification(embeddings, labels, threshold, seed=seed, enrolled=enrolled)
            for seed in range(args.rounds)
        ]
        row = {"enrolled identities (one image each)": rounds[0]["enrolled_identities"], "threshold": threshold,
               **({"false-name rate asked": rate} if rate is not None else {})}  # fmt: skip
        for key in ("known_probes", "unknown_probes", "known_identification_rate", "unknown_rejection_rate"):
            row[key] = round(float(np.mean([r[key] for r in rounds])), 4)
        report["galleries"].append(row)
    print(json.dumps(report, indent=2))
    if args.result:
        own = args.threshold is None and args.false_name_rate is None
        figures = {"model": args.model.name, "test folds": args.test_folds, "landmarks": args.landmarks,
                   "model's own threshold": own, **report}  # fmt: skip
        write_result(args.result, figures, benchmark="gallery_test")


if __name__ == "__main__":
    main()
