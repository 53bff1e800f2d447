"""The export gate's decisions on a clearly broken, a clearly good and an undecidable variant, from the
two models' answers to the same queries: refused, accepted, or written with a line saying what would decide."""

import logging

import numpy as np
import pytest

from edge_runtime.identity.openset import Answers
from export.gate import ACCEPTED, REFUSED, UNDECIDED, accuracy_drop, false_accept_rate, t_975
from export.verify import Agreement, ExportError, Losses, refusals, require_acceptable


def _answers(episodes: int, queries: int, classes: int, images: int, wrong=()) -> Answers:
    """All right but the (episode, query) pairs in `wrong`; image i of class i % classes."""
    shown = np.arange(episodes * queries).reshape(episodes, queries) % images
    correct = np.ones((episodes, queries), bool)
    for episode, query in wrong:
        correct[episode, query] = False
    return Answers(correct, shown, shown % classes)


def _losses(accuracy, far=None):
    agreed = Agreement(max_abs_diff=0.01, min_cosine=0.99, mean_cosine=0.995)
    return Losses("int8", agreed, "FP32", "PyTorch FP32", accuracy, far)


def test_the_gate_refuses_a_clearly_broken_variant():
    reference = _answers(200, 4, classes=40, images=400)
    broken = _answers(200, 4, classes=40, images=400, wrong=[(e, e % 4) for e in range(200)])  # a query an episode
    decision = accuracy_drop(reference, broken, max_drop_points=1.0)
    assert decision.verdict == REFUSED and decision.estimate == 25.0 and decision.low > 1.0
    far = false_accept_rate(false_accepts=40, impostor_pairs=1000, max_far=2e-3)
    assert far.verdict == REFUSED
    reasons = refusals(_losses(decision, far))
    assert reasons[0].startswith("it loses 25.00 points of one-shot accuracy against PyTorch FP32, ")
    assert reasons[0].endswith("at 95% confidence over 200 paired episodes (--max-drop 1)")
    assert reasons[1].startswith("at its threshold it accepts 4.000% of impostor pairs, ")
    assert "more than twice the target FAR 0.001" in reasons[1]
    with pytest.raises(ExportError, match=r"^m.int8.onnx refused, nothing written: it loses 25.00 points"):
        require_acceptable("m.int8.onnx", _losses(decision, far))


def test_the_gate_accepts_a_clearly_good_variant(caplog):
    reference = _answers(1000, 10, classes=100, images=2000)
    good = _answers(1000, 10, classes=100, images=2000, wrong=[(3, 1), (400, 7), (901, 2)])  # 3 answers of 10,000
    decision = accuracy_drop(reference, good, max_drop_points=1.0)
    assert decision.verdict == ACCEPTED and decision.high < 1.0
    far = false_accept_rate(false_accepts=1, impostor_pairs=20_000, max_far=2e-3)
    assert far.verdict == ACCEPTED
    require_acceptable("m.int8.onnx", _losses(decision, far))
    assert caplog.records == []


def test_the_gate_says_when_its_sample_cannot_decide_and_how_many_would(caplog):
    # The Intel CI failure: 20 three-way episodes of 3 classes, one answer of 60 went the other way.
    reference = _answers(20, 3, classes=3, images=30)
    one_worse = _answers(20, 3, classes=3, images=30, wrong=[(5, 1)])
    decision = accuracy_drop(reference, one_worse, max_drop_points=1.0)
    assert decision.verdict == UNDECIDED and decision.low < 1.0 < decision.high
    assert decision.estimate == pytest.approx(100 / 60) and decision.unit == "held-out images"
    assert decision.needed > 30
    far = false_accept_rate(false_accepts=1, impostor_pairs=100, max_far=2e-3)  # one is already 1%
    assert far.verdict == UNDECIDED and far.needed > 100 and far.unit == "impostor pairs"
    assert false_accept_rate(round(far.estimate * far.needed), far.needed, 2e-3).verdict == REFUSED
    with caplog.at_level(logging.WARNING):
        require_acceptable("m.int8.onnx", _losses(decision, far))  # not refused: written, with a warning
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("m.int8.onnx: 20 episodes cannot tell whether it loses more than --max-drop 1 points")
    assert lines[0].endswith(f"about {decision.needed} held-out images would decide")
    assert lines[1].startswith("m.int8.onnx: 100 impostor pairs cannot tell whether its FAR at the threshold exceeds")


def test_a_loss_spread_over_few_classes_needs_more_classes_not_more_episodes():
    def one_class_loses(episodes: int) -> object:  # class 0 loses its answer in one episode of ten
        wrong = [(e, 0) for e in range(0, episodes, 10)]
        return accuracy_drop(_answers(episodes, 5, 5, 5000), _answers(episodes, 5, 5, 5000, wrong), 1.0)

    few = one_class_loses(1000)
    assert few.verdict == UNDECIDED and few.unit == "held-out classes" and few.needed > 5
    assert one_class_loses(4000).verdict == UNDECIDED  # the same five classes, four times the episodes


def test_identical_answers_decide_only_with_enough_distinct_images():
    few = accuracy_drop(_answers(50, 3, 3, 30), _answers(50, 3, 3, 30), max_drop_points=1.0)
    assert few.verdict == UNDECIDED and few.unit == "held-out images" and few.needed == 370
    assert few.low == pytest.approx(-100 * np.log(40) / 30)
    many = accuracy_drop(_answers(500, 4, 20, 2000), _answers(500, 4, 20, 2000), max_drop_points=1.0)
    assert many.verdict == ACCEPTED and many.high == pytest.approx(100 * np.log(40) / 2000)


def test_intervals_stay_within_100_points_and_pairs_must_match():
    tiny = accuracy_drop(_answers(2, 2, 2, 2), _answers(2, 2, 2, 2, [(0, 0), (1, 1)]), max_drop_points=1.0)
    assert -100 <= tiny.low <= tiny.high <= 100
    with pytest.raises(ValueError, match="same queries"):
        accuracy_drop(_answers(4, 2, 2, 8), _answers(4, 2, 2, 6), max_drop_points=1.0)
    with pytest.raises(ValueError, match="two held-out classes"):
        accuracy_drop(_answers(4, 2, 1, 8), _answers(4, 2, 1, 8), max_drop_points=1.0)


def test_student_t_has_the_tables_values_and_meets_the_normal():
    assert t_975(1) == 12.706 and t_975(30) == 2.042
    assert 2.0205 < t_975(40) < 2.0215 and abs(t_975(10_000) - 1.96) < 1e-3
