from edge_runtime.recognizer import Recognition
from edge_runtime.tracker import IouTracker, iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_tracks_keep_their_id_and_names_do_not_flicker():
    tracker = IouTracker(smooth=5)
    names = ["ann", "ann", "bob", "ann", "ann", "ann"]
    outputs = []
    for step, name in enumerate(names):
        box = (100 + 2 * step, 50, 80, 80)
        outputs.append(tracker.update([Recognition(box, name, 0.9)])[0])
    assert {o.track_id for o in outputs} == {1}
    assert [o.name for o in outputs] == ["ann"] * 6
    assert [o.is_new for o in outputs] == [True, False, False, False, False, False]


def test_an_event_per_appearance_and_separate_tracks():
    tracker = IouTracker(smooth=3, max_missed=1)
    first = tracker.update([Recognition((0, 0, 50, 50), "ann", 0.9), Recognition((300, 0, 50, 50), "bob", 0.8)])
    assert [(o.track_id, o.name, o.is_new) for o in first] == [(1, "ann", True), (2, "bob", True)]
    tracker.update([])
    tracker.update([])
    again = tracker.update([Recognition((0, 0, 50, 50), "ann", 0.9)])
    assert again[0].track_id == 3 and again[0].is_new
