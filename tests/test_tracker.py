"""The tracker: votes, events, pending; and on real faces, no name outlives its face."""

import cv2
import numpy as np
import pytest

from edge_runtime.apps.demo import DEMO_DATA
from edge_runtime.core.bundled import DEFAULT_MODEL, packaged_model
from edge_runtime.faces.regions import make_regions
from edge_runtime.identity.enrollment import enroll_images, new_gallery
from edge_runtime.identity.recognizer import UNKNOWN, Recognition, Recognizer
from edge_runtime.identity.tracker import IouTracker, SeparateImages, iou
from edge_runtime.imaging.preprocessing import image_files
from edge_runtime.inference.embedder import Embedder
from edge_runtime.loop.pipeline import LoopSummary


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def _run(names, tracker=None):
    """Feed one face whose recognised name follows `names`; returns the tracker's outputs."""
    tracker = tracker or IouTracker(smooth=5, min_votes=3)
    return [tracker.update([Recognition((100 + step, 50, 80, 80), name, 0.9)])[0] for step, name in enumerate(names)]


def _events(outputs):
    return [(step, o.name) for step, o in enumerate(outputs) if o.is_new]


def test_a_name_is_confirmed_by_a_majority_with_enough_votes_and_announced_once():
    outputs = _run(["ann", "ann", "bob", "ann", "ann", "ann"])
    assert {o.track_id for o in outputs} == {1}
    assert [o.name for o in outputs] == [None, None, None, "ann", "ann", "ann"]  # 3 of 4 votes; pending before
    assert [o.status for o in outputs] == ["pending"] * 3 + ["named"] * 3
    assert _events(outputs) == [(3, "ann")]


def test_a_short_dip_to_unknown_is_one_appearance_not_three_events():
    outputs = _run(["ann"] * 3 + [UNKNOWN] * 2 + ["ann"] * 3)
    assert _events(outputs) == [(2, "ann")]
    # the dip is pending (its frames do not support ann), and ann is shown again at once, no new event
    assert [o.name for o in outputs[2:]] == ["ann", None, None, "ann", "ann", "ann"]


def test_unknown_replaces_a_confirmed_name_only_by_winning_a_vote_of_its_own():
    outputs = _run(["ann"] * 3 + [UNKNOWN] * 3 + ["bob"] * 3)
    assert _events(outputs) == [(2, "ann"), (5, UNKNOWN), (8, "bob")]


def test_votes_that_flap_every_frame_cannot_announce_a_change_every_frame():
    flapping = ["ann", UNKNOWN] * 10
    outputs = _run(flapping)
    # each decision counts only the votes cast since the previous one: 5 votes, 3 of them the winner
    assert _events(outputs) == [(4, "ann"), (9, UNKNOWN), (14, "ann"), (19, UNKNOWN)]
    two_people = _run(["ann", "bob", "bob", "ann"] * 5)
    assert len(_events(two_people)) <= 4 and all(name in ("ann", "bob") for _, name in _events(two_people))


def test_an_appearance_is_counted_once_even_when_its_name_comes_back():
    summary = LoopSummary()
    for output in _run(["ann"] * 3 + [UNKNOWN] * 3 + ["ann"] * 3):
        summary.count(output)
    assert summary.appearances == {"ann": 1}


def test_an_event_per_appearance_and_separate_tracks():
    tracker = IouTracker(smooth=3, max_missed=1, min_votes=2)
    for _ in range(2):
        first = tracker.update([Recognition((0, 0, 50, 50), "ann", 0.9), Recognition((300, 0, 50, 50), "bob", 0.8)])
    assert [(o.track_id, o.name, o.is_new) for o in first] == [(1, "ann", True), (2, "bob", True)]
    tracker.update([])
    tracker.update([])
    again = [tracker.update([Recognition((0, 0, 50, 50), "ann", 0.9)])[0] for _ in range(2)]
    assert again[1].track_id == 3 and again[1].is_new and not again[0].is_new


def test_photos_are_recognised_each_on_their_own():
    recognitions = [Recognition((0, 0, 50, 50), "ann", 0.9), Recognition((0, 0, 50, 50), UNKNOWN, 0.2)]
    results = [SeparateImages().update([r])[0] for r in recognitions]
    assert [(r.track_id, r.name, r.is_new) for r in results] == [(None, "ann", True), (None, UNKNOWN, True)]


# Real faces: the bundled face model and the demo's LFW photos, each person enrolled from one photo,
# photos drawn on a 640×480 frame where a camera would see them.
ENROLLED, STRANGERS = DEMO_DATA / "enrolled", DEMO_DATA / "strangers"
ANN, BOB, STRANGER = "Angela_Bassett", "Boris_Becker", "Gordon_Brown"
SIDE, LEFT, RIGHT, MIDDLE, TOP = 220, 20, 400, 210, 130


@pytest.fixture(scope="module")
def recognizer():
    embedder = Embedder(packaged_model(DEFAULT_MODEL), providers=("cpu",))
    regions = make_regions(embedder.info)
    gallery = new_gallery(embedder, regions=regions)
    for person in sorted(ENROLLED.iterdir()):
        enroll_images(gallery, embedder, person.name, [image_files(person)[0]], regions)
    return Recognizer(embedder, gallery, regions)


def _photo(name: str) -> np.ndarray:
    folder = ENROLLED / name if (ENROLLED / name).is_dir() else STRANGERS / name
    return cv2.resize(cv2.imread(str(image_files(folder)[1])), (SIDE, SIDE), interpolation=cv2.INTER_AREA)


def _frame(*placed: tuple[str, int]) -> np.ndarray:
    """A frame showing each (person, x) of `placed`, the later ones in front."""
    frame = cv2.GaussianBlur(np.random.default_rng(0).integers(60, 200, (480, 640, 3), dtype=np.uint8), (31, 31), 0)
    for name, x in placed:
        frame[TOP : TOP + SIDE, x : x + SIDE] = _photo(name)
    return frame


def _who(result, placed: tuple[tuple[str, int], ...]) -> str:
    """Whose photo the result's face lies in (the one in front where they overlap)."""
    x, _, w, _ = result.box
    return [name for name, left in placed if left <= x + w / 2 < left + SIDE][-1]


def _tracked(recognizer, scenes: list[tuple[tuple[str, int], ...]]):
    """Each scene recognised and tracked (default smoothing): per frame, [(who, result)]."""
    tracker, seen = IouTracker(), []
    for placed in scenes:
        recognitions = recognizer.recognize(_frame(*placed))
        truth = {_who(r, placed): r for r in recognitions}
        expected = {name: name if name != STRANGER else UNKNOWN for name, _ in placed}
        assert {who: r.name for who, r in truth.items()} == {w: expected[w] for w in truth}  # each frame alone is right
        seen.append([(_who(t, placed), t) for t in tracker.update(recognitions)])
    return seen


def _switched_in_place(recognizer, first: str, second: str):
    scenes = [((first, LEFT + 4 * step),) for step in range(6)] + [((second, LEFT + 4 * step),) for step in range(6)]
    seen = _tracked(recognizer, scenes)
    assert all(len(frame) == 1 for frame in seen) and len({r.track_id for frame in seen for _, r in frame}) == 1
    return [r for frame in seen for _, r in frame]


def test_a_face_switched_in_place_to_another_enrolled_person_never_carries_the_previous_name(recognizer):
    results = _switched_in_place(recognizer, ANN, BOB)  # one track: the boxes overlap
    assert ANN not in [r.name for r in results[6:]]
    assert [r.name for r in results] == [None] * 2 + [ANN] * 4 + [None] * 2 + [BOB] * 4
    assert [r.status for r in results[6:]] == ["pending"] * 2 + ["named"] * 4
    assert [(step, r.name) for step, r in enumerate(results) if r.is_new] == [(2, ANN), (8, BOB)]


def test_a_face_switched_in_place_to_a_stranger_is_pending_then_unknown(recognizer):
    results = _switched_in_place(recognizer, ANN, STRANGER)
    assert ANN not in [r.name for r in results[6:]]
    assert [r.status for r in results[6:]] == ["pending"] * 2 + ["unknown"] * 4
    assert [(step, r.name) for step, r in enumerate(results) if r.is_new] == [(2, ANN), (8, UNKNOWN)]


def test_two_people_who_cross_never_get_each_other_s_names(recognizer):
    before = [((ANN, LEFT + 2 * s), (BOB, RIGHT - 2 * s)) for s in range(5)]
    crossing = [((ANN, MIDDLE - 100), (BOB, MIDDLE + 100)), ((BOB, MIDDLE), (ANN, MIDDLE))]  # she passes in front
    after = [((BOB, LEFT + 2 * s), (ANN, RIGHT - 2 * s)) for s in range(6)]  # each where the other stood
    seen = _tracked(recognizer, before + crossing + after)
    tracks_before, tracks_after = ({who: r.track_id for who, r in seen[i]} for i in (4, -1))
    assert (tracks_after[BOB], tracks_after[ANN]) == (tracks_before[ANN], tracks_before[BOB])  # the tracks swapped
    assert all(r.name in (who, None) for frame in seen for who, r in frame)  # own name or pending, never the other's
    assert {who: r.name for who, r in seen[-1]} == {ANN: ANN, BOB: BOB}  # each confirmed again
    events = [(who, r.name) for frame in seen for who, r in frame if r.is_new]
    assert all(who == name for who, name in events) and {n for _, n in events} == {ANN, BOB}
