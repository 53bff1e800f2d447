"""Recognition on a 640×480 video of LFW photos: eight people enrolled from ONE photo each, eight
strangers never enrolled, and how often each frame is named right.

`make` writes the video, the enrollment folder (one photo per enrolled person) and the truth of
every frame. People come from View 2 (no LFW person was in the default model's training; with
`--test-folds 5`, from folds 1-5 only, which the distilled student never saw), chosen by a rule
that does not look at any model: the first people, in name order, with at least five photos
(enrolled) or four (strangers). Each person's other photos are shown 15 frames each, scaled to
300×300 and drifting on a textured background; 60 frames per person, 960 in all. With
`--faces 8`, every frame shows eight photos at once in a 4×2 grid (a crowd at a door).

With `--in-place`, every photo stands where the last one stood, drifting to and fro, so the
tracker follows one face through every change of person (enrolled to enrolled, enrolled to
stranger, stranger to stranger): a name carried over a change is a wrong name.

With `--scene doorway`, one face in place goes through every kind of change of person in a fixed
order (pattern enrolled, enrolled, stranger, stranger, over and over: enrolled→enrolled,
enrolled→stranger, stranger→stranger, stranger→enrolled, each person's photos taken in rounds so
that no person follows themselves), 15 frames a photo, then eight pairs cross, 40 frames each, one
in front of the other (enrolled×enrolled: the 1st and 2nd enrolled, the 3rd and 4th, …, in turn with
enrolled×stranger: the 2nd enrolled and the 1st stranger, the 4th and the 2nd, …). The truth names
the change each photo follows, and the score counts wrong names for each.

`score` runs `edge-recognize` on it (the real command, headless, JSON lines) and reports the share
of the enrolled people's frames named right, the strangers' frames called unknown, the wrong
names given (also per 1,000 frames), the frames pending, and the frame rate `edge-recognize`
printed. With `--result NAME` the report is also written to results/NAME.json
(benchmarks/results.py), for the docs' tables.

`compare --before COMMIT` runs the `edge-recognize` of an earlier commit (its files checked out in
a temporary folder, its own bundled model, with this Python) and the current one on the same
video, in turn (`--rounds`, 3 by default), and scores both with the current scorer: one result
file with a row for each.

    python -m benchmarks.faces.video_test make OUT_DIR [--faces 8] [--test-folds 5] [--in-place | --scene doorway]
    python -m benchmarks.faces.video_test score OUT_DIR [--result NAME] [edge-recognize options, e.g. -m MODEL]
    python -m benchmarks.faces.video_test compare OUT_DIR --before COMMIT [--rounds 3] [--result NAME]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.commit_tree import REPO, CommitTreeError, checked_out, entry_point, full_commit
from benchmarks.faces.lfw import held_out_people, read_folds
from benchmarks.results import add_result_option, write_result
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.io.photo_video import score_events, write_doorway_video, write_photo_video

PEOPLE, FRAMES_PER_PHOTO, PHOTOS_SHOWN, FRAMES_PER_CROSSING = 8, 15, 4, 40
Shown = list[tuple[str, Path]]  # one person's photos shown: (label, photo)
SHARED = Path("../shared/datasets")


def choose_people(lfw: Path, pairs: Path, test_folds: int = 10) -> tuple[list[str], list[str]]:
    """Eight people of the first `test_folds` View 2 folds with five photos or more, then eight
    others with four or more (name order)."""
    view2 = sorted(held_out_people(read_folds(pairs), test_folds))
    counts = {p: len(list((lfw / p).glob("*.jpg"))) for p in view2}
    enrolled = [p for p in view2 if counts[p] >= PHOTOS_SHOWN + 1][:PEOPLE]
    strangers = [p for p in view2 if counts[p] >= PHOTOS_SHOWN and p not in enrolled][:PEOPLE]
    return enrolled, strangers


def doorway_scene(enrolled: list[Shown], strangers: list[Shown]) -> tuple[Shown, list[tuple]]:
    """The doorway's photos in place and its crossing pairs, from each person's photos (a rule, no model):
    enrolled, enrolled, stranger, stranger, … (each kind's people in turn, their photos in rounds), then
    enrolled×enrolled pairs (1st and 2nd, 3rd and 4th, …) in turn with enrolled×stranger pairs (the 2nd
    enrolled and 1st stranger, the 4th and 2nd, …), each person by their first photo."""

    def in_rounds(people: list[Shown]) -> Shown:
        return [person[r] for r in range(max(map(len, people))) for person in people if r < len(person)]

    known, others, in_place = in_rounds(enrolled), in_rounds(strangers), []
    while known or others:
        for queue in (known, known, others, others):
            if queue:
                in_place.append(queue.pop(0))
    both = list(zip(enrolled[0::2], enrolled[1::2], strict=False))
    mixed = list(zip(enrolled[1::2], strangers, strict=False))
    crossings = [(a[0], b[0]) for pair in zip(both, mixed, strict=False) for a, b in pair]
    return in_place, crossings


def make(
    lfw: Path,
    pairs: Path,
    out: Path,
    faces: int,
    test_folds: int = 10,
    repeat: int = 1,
    in_place: bool = False,
    scene: str | None = None,
) -> None:
    """Write OUT/video.mp4 (the photos shown `repeat` times over), OUT/enroll/<person>/<photo> and OUT/truth.json."""
    enrolled, strangers = choose_people(lfw, pairs, test_folds)
    known, others = [], []
    for person in enrolled:
        photos = sorted((lfw / person).glob("*.jpg"))
        (out / "enroll" / person).mkdir(parents=True, exist_ok=True)
        (out / "enroll" / person / photos[0].name).write_bytes(photos[0].read_bytes())
        known.append([(person, photo) for photo in photos[1 : PHOTOS_SHOWN + 1]])
    for person in strangers:
        others.append([(UNKNOWN, photo) for photo in sorted((lfw / person).glob("*.jpg"))[:PHOTOS_SHOWN]])
    if scene == "doorway":
        shown, crossings = doorway_scene(known, others)
        truth = write_doorway_video(shown * repeat, crossings * repeat, out / "video.mp4", FRAMES_PER_PHOTO,
                                    FRAMES_PER_CROSSING)  # fmt: skip
    else:
        shown = [photo for person in known + others for photo in person]
        truth = write_photo_video(shown * repeat, out / "video.mp4", FRAMES_PER_PHOTO, faces, in_place)
    video = {"faces": faces, "in place": in_place, "repeat": repeat, "test folds": test_folds, "scene": scene}
    document = {"enrolled": enrolled, "strangers": strangers, "video": video, "frames": truth}
    (out / "truth.json").write_text(json.dumps(document) + "\n")
    shows = "one face in place, then two crossing" if scene == "doorway" else f"{faces} face(s) each"
    print(f"{out / 'video.mp4'}: {len(truth)} frames, {shows}; {len(enrolled)} enrolled, {len(strangers)} strangers")


def _arguments(out: Path, options: list[str]) -> list[str]:
    """edge-recognize's arguments on OUT's video (absolute paths: a checked-out commit runs from its folder)."""
    out = out.resolve()
    return ["--enroll", str(out / "enroll"), "-i", str(out / "video.mp4"), "--headless", "--json", *options]


def _report(out: Path, done: subprocess.CompletedProcess) -> dict:
    """The score of one edge-recognize run on OUT's video, and the frame rate it printed."""
    if done.returncode != 0:
        sys.exit(done.stderr.strip().splitlines()[-1])
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    rate = re.search(r"([\d.]+) FPS \((.*)\)", done.stderr)
    truth = json.loads((out / "truth.json").read_text())
    report = {"video": truth.get("video"), **score_events(truth["frames"], events)}
    report["wrong names per 1,000 frames"] = round(1000 * report["wrong names (frames)"] / len(truth["frames"]), 2)
    report["fps"] = float(rate.group(1)) if rate else None
    report["stages"] = rate.group(2) if rate else None
    return report


def score(out: Path, options: list[str], result: str | None = None) -> None:
    """Run edge-recognize on OUT/video.mp4 and score it (and write results/RESULT.json when given)."""
    command = ["edge-recognize", *_arguments(out, options)]
    report = _report(out, subprocess.run(command, capture_output=True, text=True))
    report["command"] = " ".join(command)
    print(json.dumps(report, indent=2))
    if result:
        write_result(result, report, benchmark="video_test")


def compare(out: Path, before: str, rounds: int = 3, result: str | None = None) -> None:
    """Run the edge-recognize of commit `before` and the current one on OUT's video, in turn, `rounds` times
    each, and score both (the names of the first round; the frame rate the median of the rounds)."""
    with checked_out(before) as tree:
        versions = {"before": entry_point(tree, "edge-recognize"), "after": entry_point(REPO, "edge-recognize")}
        commits = {"before": full_commit(before), "after": full_commit("HEAD")}
        runs: dict[str, list[dict]] = {version: [] for version in versions}
        for _ in range(rounds):
            for version, program in versions.items():
                runs[version].append(_report(out, program.run(_arguments(out, []))))
    rows = []
    for version, reports in runs.items():
        names = [{k: v for k, v in r.items() if k not in ("fps", "stages")} for r in reports]
        fps = [r["fps"] for r in reports if r["fps"] is not None]
        rows.append({**reports[0], "version": version, "commit": commits[version], "fps runs": fps,
                     "fps": statistics.median(fps) if fps else None,
                     "same names every round": all(n == names[0] for n in names)})  # fmt: skip
    document = {"video": rows[0]["video"], "rounds": rounds, "rows": rows}
    print(json.dumps(document, indent=2))
    if result:
        write_result(result, document, benchmark="video_test_compare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["make", "score", "compare"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lfw", type=Path, default=SHARED / "lfw")
    parser.add_argument("--pairs", type=Path, default=SHARED / "meta" / "lfw" / "pairs_10fold_reconstructed.txt")
    parser.add_argument("--faces", type=int, default=1, choices=[1, 8], help="faces per frame")
    parser.add_argument(
        "--in-place", action="store_true", help="one face: every photo where the last one stood (changes of person)"
    )
    parser.add_argument(
        "--scene", choices=["doorway"], help="make: one face in place through every change of person, then two crossing"
    )
    parser.add_argument("--before", metavar="COMMIT", help="compare: the earlier commit to run beside the current one")
    parser.add_argument("--rounds", type=int, default=3, help="compare: runs of each version, in turn")
    add_result_option(parser, "score, compare: ")
    parser.add_argument("--test-folds", type=int, default=10, help="choose people from View 2 folds 1..N")
    parser.add_argument(
        "--repeat", type=int, default=1, help="show the photos this many times over (longer timing runs)"
    )
    args, rest = parser.parse_known_args()
    if args.scene and (args.faces != 1 or args.in_place):
        parser.error("--scene doorway shows its own faces: not with --faces 8 or --in-place")
    if args.action == "make":
        args.out.mkdir(parents=True, exist_ok=True)
        make(args.lfw, args.pairs, args.out, args.faces, args.test_folds, args.repeat, args.in_place, args.scene)
    elif args.action == "compare":
        if not args.before or rest or args.rounds < 1:
            parser.error("compare takes --before COMMIT, --rounds N (1 or more), --result NAME: no other options")
        try:
            compare(args.out, args.before, args.rounds, args.result)
        except CommitTreeError as error:
            sys.exit(str(error))
    else:
        score(args.out, rest, args.result)


if __name__ == "__main__":
    main()
