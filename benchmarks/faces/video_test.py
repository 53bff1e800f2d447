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

`score` runs `edge-recognize` on it (the real command, headless, JSON lines) and reports the share
of the enrolled people's frames named right, the strangers' frames called unknown, the wrong
names given (also per 1,000 frames), the frames pending, and the frame rate `edge-recognize`
printed. With `--result NAME` the report is also written to results/NAME.json
(benchmarks/results.py), for the docs' tables.

    python -m benchmarks.faces.video_test make OUT_DIR [--faces 8] [--test-folds 5] [--in-place]
    python -m benchmarks.faces.video_test score OUT_DIR [--result NAME] [edge-recognize options, e.g. -m MODEL]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.faces.lfw import held_out_people, read_folds
from benchmarks.results import add_result_option, write_result
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.io.photo_video import score_events, write_photo_video

PEOPLE, FRAMES_PER_PHOTO, PHOTOS_SHOWN = 8, 15, 4
SHARED = Path("../shared/datasets")


def choose_people(lfw: Path, pairs: Path, test_folds: int = 10) -> tuple[list[str], list[str]]:
    """Eight people of the first `test_folds` View 2 folds with five photos or more, then eight
    others with four or more (name order)."""
    view2 = sorted(held_out_people(read_folds(pairs), test_folds))
    counts = {p: len(list((lfw / p).glob("*.jpg"))) for p in view2}
    enrolled = [p for p in view2 if counts[p] >= PHOTOS_SHOWN + 1][:PEOPLE]
    strangers = [p for p in view2 if counts[p] >= PHOTOS_SHOWN and p not in enrolled][:PEOPLE]
    return enrolled, strangers


def make(
    lfw: Path, pairs: Path, out: Path, faces: int, test_folds: int = 10, repeat: int = 1, in_place: bool = False
) -> None:
    """Write OUT/video.mp4 (the photos shown `repeat` times over), OUT/enroll/<person>/<photo> and OUT/truth.json."""
    enrolled, strangers = choose_people(lfw, pairs, test_folds)
    shown = []
    for person in enrolled:
        photos = sorted((lfw / person).glob("*.jpg"))
        (out / "enroll" / person).mkdir(parents=True, exist_ok=True)
        (out / "enroll" / person / photos[0].name).write_bytes(photos[0].read_bytes())
        shown += [(person, photo) for photo in photos[1 : PHOTOS_SHOWN + 1]]
    for person in strangers:
        shown += [(UNKNOWN, photo) for photo in sorted((lfw / person).glob("*.jpg"))[:PHOTOS_SHOWN]]
    truth = write_photo_video(shown * repeat, out / "video.mp4", FRAMES_PER_PHOTO, faces, in_place)
    video = {"faces": faces, "in place": in_place, "repeat": repeat, "test folds": test_folds}
    document = {"enrolled": enrolled, "strangers": strangers, "video": video, "frames": truth}
    (out / "truth.json").write_text(json.dumps(document) + "\n")
    print(f"{out / 'video.mp4'}: {len(truth)} frames, {faces} face(s) each; {len(enrolled)} enrolled, "
          f"{len(strangers)} strangers")  # fmt: skip


def score(out: Path, options: list[str], result: str | None = None) -> None:
    """Run edge-recognize on OUT/video.mp4 and score it (and write results/RESULT.json when given)."""
    command = ["edge-recognize", "--enroll", str(out / "enroll"), "-i", str(out / "video.mp4"), "--headless",
               "--json", *options]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(done.stderr.strip().splitlines()[-1])
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    rate = re.search(r"([\d.]+) FPS \((.*)\)", done.stderr)
    truth = json.loads((out / "truth.json").read_text())
    report = {"video": truth.get("video"), **score_events(truth["frames"], events)}
    report["wrong names per 1,000 frames"] = round(1000 * report["wrong names (frames)"] / len(truth["frames"]), 2)
    report["command"] = " ".join(command)
    report["fps"] = float(rate.group(1)) if rate else None
    report["stages"] = rate.group(2) if rate else None
    print(json.dumps(report, indent=2))
    if result:
        write_result(result, report, benchmark="video_test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["make", "score"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lfw", type=Path, default=SHARED / "lfw")
    parser.add_argument("--pairs", type=Path, default=SHARED / "meta" / "lfw" / "pairs_10fold_reconstructed.txt")
    parser.add_argument("--faces", type=int, default=1, choices=[1, 8], help="faces per frame")
    parser.add_argument(
        "--in-place", action="store_true", help="one face: every photo where the last one stood (changes of person)"
    )
    add_result_option(parser, "score: ")
    parser.add_argument("--test-folds", type=int, default=10, help="choose people from View 2 folds 1..N")
    parser.add_argument(
        "--repeat", type=int, default=1, help="show the photos this many times over (longer timing runs)"
    )
    args, rest = parser.parse_known_args()
    if args.action == "make":
        args.out.mkdir(parents=True, exist_ok=True)
        make(args.lfw, args.pairs, args.out, args.faces, args.test_folds, args.repeat, args.in_place)
    else:
        score(args.out, rest, args.result)


if __name__ == "__main__":
    main()
