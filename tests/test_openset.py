import numpy as np
import pytest

from edge_runtime.identity.openset import (
    EpisodeSampler,
    equal_error_rate,
    few_shot_accuracy,
    open_set_identification,
    roc_auc,
    roc_curve,
    tar_at_far,
    threshold_at_far,
    verification_metrics,
)


def _clustered(classes=10, per_class=6, dim=16, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    embeddings = centres[labels] + noise * rng.normal(size=(len(labels), dim))
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True), labels


def test_perfect_separation():
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    same = np.array([True, True, True, False, False, False])
    roc = roc_curve(scores, same)
    assert roc_auc(roc) == pytest.approx(1.0)
    assert equal_error_rate(roc) == pytest.approx(0.0)
    assert tar_at_far(roc, 0.0) == pytest.approx(1.0)


def test_known_roc_points():
    scores = np.array([0.9, 0.6, 0.5, 0.4])
    same = np.array([True, False, True, False])
    metrics = verification_metrics(scores, same, fars=(0.0, 0.5))
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["tar_at_far_0"] == pytest.approx(0.5)
    assert metrics["tar_at_far_0.5"] == pytest.approx(1.0)
    assert metrics["eer"] == pytest.approx(0.5)


def test_threshold_meets_the_target_far():
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0.7, 0.1, 2000), rng.normal(0.2, 0.1, 20000)]
    same = np.r_[np.ones(2000, bool), np.zeros(20000, bool)]
    for target in (1e-1, 1e-2, 1e-3):
        threshold = threshold_at_far(scores, same, target)
        far = np.mean(scores[~same] >= threshold)
        assert far <= target
        assert far > target / 2


def test_few_shot_accuracy_is_high_on_clusters_and_chance_on_noise():
    embeddings, labels = _clustered()
    sampler = EpisodeSampler(labels, way=5, shot=1)
    accuracy, interval = few_shot_accuracy(embeddings, sampler, episodes=200)
    assert accuracy == pytest.approx(1.0) and interval == pytest.approx(0.0)
    noise = np.random.default_rng(1).normal(size=embeddings.shape)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    chance, interval = few_shot_accuracy(noise, sampler, episodes=2000)
    assert abs(chance - 0.2) < 0.03 and 0 < interval < 0.03


def test_open_set_identification_rejects_the_never_enrolled():
    embeddings, labels = _clustered()
    rates = open_set_identification(embeddings, labels, threshold=0.9)
    assert rates["enrolled_identities"] == 5
    assert rates["known_identification_rate"] == pytest.approx(1.0)
    assert rates["unknown_rejection_rate"] == pytest.approx(1.0)
    everything = open_set_identification(embeddings, labels, threshold=-1.0)
    assert everything["unknown_rejection_rate"] == 0.0
