"""The doorway video: every kind of change of person and two people crossing, and a face scored on the
photo nearest it when the crossing photos overlap."""

from pathlib import Path

import cv2
import pytest

from benchmarks.faces.video_test import doorway_scene
from benchmarks.result_tables import TABLES
from edge_runtime.identity.names import UNKNOWN
from edge_runtime.io.photo_video import photo_seen, score_events, write_doorway_video

LFW = Path(__file__).resolve().parent.parent / "edge_runtime" / "demo_data" / "lfw"
PER_PHOTO, PER_CROSSING = 3, 12


def _people(folder: str, label: str | None, count: int) -> list[list[tuple[str, Path]]]:
    people = sorted((LFW / folder).iterdir())[:count]
    return [[(label or p.name, photo) for photo in sorted(p.glob("*.jpg"))[1:3]] for p in people]


@pytest.fixture(scope="module")
def doorway(tmp_path_factory):
    """A short doorway video: two enrolled people and two strangers, two photos each, then two crossings."""
    in_place, crossings = doorway_scene(_people("enrolled", None, 2), _people("strangers", UNKNOWN, 2))
    path = tmp_path_factory.mktemp("doorway") / "video.mp4"
    return path, write_doorway_video(in_place, crossings, path, PER_PHOTO, PER_CROSSING), crossings


def test_the_doorway_has_every_kind_of_change_of_person_and_two_people_crossing(doorway):
    path, truth, crossings = doorway
    video = cv2.VideoCapture(str(path))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames == len(truth) == 8 * PER_PHOTO + 2 * PER_CROSSING
    in_place = [frame[0] for frame in truth[: 8 * PER_PHOTO : PER_PHOTO]]
    assert [photo[3] for photo in in_place] == [
        "first", "enrolled→enrolled", "enrolled→stranger", "stranger→stranger",
        "stranger→enrolled", "enrolled→enrolled", "enrolled→stranger", "stranger→stranger",
    ]  # fmt: skip
    labels = [photo[0] for photo in in_place]
    assert all(a != b for a, b in zip(labels, labels[1:], strict=False) if a != UNKNOWN)  # no one follows themselves
    crossing = truth[8 * PER_PHOTO :]
    assert [frame[0][3] for frame in crossing[::PER_CROSSING]] == ["crossing enrolled×enrolled",
                                                                   "crossing enrolled×stranger"]  # fmt: skip
    assert all(len(frame) == 2 for frame in crossing)
    gaps = [abs(frame[1][1][0] - frame[0][1][0]) for frame in crossing[:PER_CROSSING]]
    assert gaps[0] > 200 and gaps[-1] > 200  # apart at first, and again at the end
    assert 3 <= sum(gap < 200 for gap in gaps) < PER_CROSSING - 2  # overlapping for several frames between
    slots = [[photo[2] for photo in frame] for frame in crossing]
    assert slots[0] == slots[PER_CROSSING - 1] and slots[0][0] > slots[0][1]  # one stays in front throughout...
    assert slots[PER_CROSSING][0] < slots[PER_CROSSING][1]  # ... the other in the next pair
    starts = [frame[0][1][0] for frame in crossing[:PER_CROSSING]]
    assert starts[0] != starts[-1]  # each walks across
    # the photo listed last is the one seen where the two overlap: the first pair's, its first in front
    middle = 8 * PER_PHOTO + PER_CROSSING // 2
    video.set(cv2.CAP_PROP_POS_FRAMES, middle)
    seen = video.read()[1]
    (_, back, *_), (_, front, *_) = truth[middle]
    x0, x1, y = max(back[0], front[0]), min(back[0], front[0]) + 200, front[1]
    assert x1 - x0 > 100
    difference = []
    for box, (_, photo) in zip((back, front), crossings[0][::-1], strict=True):
        image = cv2.resize(cv2.imread(str(photo)), (200, 200), interpolation=cv2.INTER_AREA)
        difference.append(float(cv2.absdiff(seen[y : y + 200, x0:x1], image[:, x0 - box[0] : x1 - box[0]]).mean()))
    assert difference[1] < 10 < difference[0]


def test_a_face_where_crossing_photos_overlap_is_scored_on_the_photo_seen_there(doorway):
    _, truth, _ = doorway
    gap = [photos[1][1][0] - photos[0][1][0] if len(photos) == 2 else None for photos in truth]
    frame = next(f for f, g in enumerate(gap) if g is not None and 30 < abs(g) < 60)  # nearly on top of each other
    (back, behind, *_), (front, ahead, *_) = truth[frame]  # listed back to front
    side = 1 if ahead[0] > behind[0] else -1
    centre = {"back": behind[0] + 100, "front": ahead[0] + 100}
    # the front face a little off its photo's centre, towards the hidden one's: nearer the hidden photo's centre
    front_face = [centre["front"] - side * 30 - 50, ahead[1] + 50, 100, 100]
    assert abs(front_face[0] + 50 - centre["back"]) < abs(front_face[0] + 50 - centre["front"])
    back_face = [centre["back"] - side * 80 - 50, behind[1] + 50, 100, 100]  # in the strip of it still seen
    assert [photo_seen((x + 50, y + 50), truth[frame]) for x, y, _, _ in (front_face, back_face)] == [1, 0]
    events = [{"frame": frame, "box": box, "status": "named", "name": name}
              for box, name in ((front_face, front), (back_face, back))]  # fmt: skip
    for order in (events, events[::-1]):
        report = score_events(truth, order)
        assert report["wrong names (frames)"] == 0
        assert report["wrong names by change of person"]["crossing enrolled×enrolled"]["wrong names (frames)"] == 0
    stray = {"frame": frame, "box": [ahead[0] + 10, ahead[1] + 10, 60, 60], "status": "named", "name": back}
    assert score_events(truth, [stray, *events])["wrong names (frames)"] == 0  # the face nearer its centre counts
    swapped = [{**event, "name": name} for event, name in zip(events, (back, front), strict=True)]
    report = score_events(truth, swapped)  # each name on the other's photo: two wrong names, on a crossing
    assert report["wrong names (frames)"] == 2
    assert report["wrong names by change of person"]["crossing enrolled×enrolled"]["wrong names (frames)"] == 2


def test_the_before_and_after_table_counts_wrong_names_per_change_of_person(doorway):
    _, truth, _ = doorway

    def event(frame, photo, name):
        x, y, w, h = photo[1]
        return {"frame": frame, "box": [x + w // 2 - 40, y + h // 2 - 40, 80, 80], "status": "named", "name": name}

    right = [
        event(f, photo, photo[0])
        for f, photos in enumerate(truth)
        for slot, photo in enumerate(photos)
        if photo_seen((photo[1][0] + 100, photo[1][1] + 100), photos) == slot
    ]  # a face hidden is not found
    # before: the first two frames of each person in place carry the name of the one before
    carried = [event(f, photos[0], truth[f - PER_PHOTO][0][0]) if f >= PER_PHOTO and f % PER_PHOTO < 2
               else event(f, photos[0], photos[0][0]) for f, photos in enumerate(truth[: 8 * PER_PHOTO])]  # fmt: skip
    rows = []
    for version, events in (("before", carried + right[8 * PER_PHOTO :]), ("after", right)):
        report = score_events(truth, events)
        report["wrong names per 1,000 frames"] = round(1000 * report["wrong names (frames)"] / len(truth), 2)
        rows.append({**report, "version": version, "commit": version * 8, "fps": 30.0})
    changes = rows[0]["wrong names by change of person"]
    assert rows[0]["wrong names (frames)"] == 8  # two frames of each enrolled person's name carried onto the next
    assert [changes[c]["wrong names (frames)"] for c in ("enrolled→enrolled", "enrolled→stranger")] == [4, 4]
    assert changes["stranger→enrolled"]["wrong names (frames)"] == 0 and changes["crossing"]["frames"] == 24
    table = TABLES["video_test_compare"]([{"rows": rows}])
    assert "| before (`beforeb`) | 166.67 (8) | 666.67 (4) | 666.67 (4) | 0 (0) | 0 (0) | 0 (0) |" in table
    assert "| after (`afteraf`) | 0 (0) | 0 (0) | 0 (0) | 0 (0) | 0 (0) | 0 (0) | 91.67% | 100.00% | 30.0 |" in table
