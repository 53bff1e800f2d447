"""The FAR table of a face model on LFW people outside View 2 (none in its training, none in the
View 2 and gallery tests), as `python -m export.far_table` measures and stores it: for each pairwise
FAR from 1e-1 to 1e-5, its threshold, the TAR there and the pairs behind them ("too few pairs" where
fewer than ten impostor pairs would decide). With --result NAME it is written to results/NAME.json.

Usage: python -m benchmarks.faces.far_table MODEL.onnx LFW_ROOT PAIRS_FILE [--result NAME]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from benchmarks.faces.lfw import held_out_people, model_benchmark_parser, person_folders, read_folds
from benchmarks.results import add_result_option, write_result
from export.far_table import measure


def main() -> None:
    """Measure, print, and with --result write the table."""
    parser = model_benchmark_parser(__doc__)
    add_result_option(parser)
    args = parser.parse_args()
    view2 = held_out_people(read_folds(args.pairs), 10)
    with tempfile.TemporaryDirectory() as folder:  # the people outside View 2, a link to each one's photos
        people = [p for p in person_folders(args.lfw) if p.name not in view2]
        for person in people:
            (Path(folder) / person.name).symlink_to(person.resolve(), target_is_directory=True)
        rows = [row.to_dict() for row in measure(args.model, Path(folder))]
    report = {"model": args.model.name, "held-out people": len(people), "rows": rows}
    print(json.dumps(report, indent=2))
    if args.result:
        write_result(args.result, report, benchmark="far_table")


if __name__ == "__main__":
    main()
