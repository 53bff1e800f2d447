from edge_runtime.identity.recognizer import UNKNOWN, Recognition
from edge_runtime.identity.tracker import IouTracker, SeparateImages, iou
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
    assert [o.name for o in outputs] == [UNKNOWN, UNKNOWN, UNKNOWN, "ann", "ann", "ann"]  # 3 of 4 votes
    assert _events(outputs) == [(3, "ann")]


def test_a_short_dip_to_unknown_is_one_appearance_not_three_events():
    outputs = _run(["ann"] * 3 + [UNKNOWN] * 2 + ["ann"] * 3)
    assert _events(outputs) == [(2, "ann")]
    assert [o.name for o in outputs[2:]] == ["ann"] * 6


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
