import numpy as np
import pytest

from edge_runtime.identity.openset import EpisodeSampler
from train.samplers import PairSampler, PKSampler

LABELS = np.repeat(np.arange(10), 5)


def test_pair_batches_are_balanced_and_labelled_right():
    sampler = PairSampler(LABELS, pairs_per_batch=40)
    rng = np.random.default_rng(0)
    for _ in range(20):
        batch = sampler.batch(rng)
        assert batch.same.sum() == 20 and len(batch.same) == 40
        same_class = LABELS[batch.first] == LABELS[batch.second]
        assert np.array_equal(same_class, batch.same == 1)
        assert np.all(batch.first[batch.same == 1] != batch.second[batch.same == 1])


def test_pk_batches_hold_p_classes_with_k_images_each():
    sampler = PKSampler(LABELS, classes_per_batch=4, images_per_class=3)
    batch = sampler.batch(np.random.default_rng(0))
    classes, counts = np.unique(LABELS[batch], return_counts=True)
    assert len(classes) == 4 and set(counts) == {3}
    assert len(set(batch.tolist())) == 12


def test_samplers_are_deterministic_for_a_seed():
    sampler = PKSampler(LABELS, 4, 3)
    a = [sampler.batch(np.random.default_rng(7)) for _ in range(3)]
    b = [sampler.batch(np.random.default_rng(7)) for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_episodes_within_one_group():
    groups = np.repeat(np.array(["a"] * 5 + ["b"] * 5), 5)
    sampler = EpisodeSampler(LABELS, groups, way=5, shot=1, queries=2, same_group=True)
    rng = np.random.default_rng(0)
    for _ in range(20):
        episode = sampler.episode(rng)
        assert episode.shape == (5, 3)
        assert len(set(groups[episode.ravel()])) == 1
        assert len(set(LABELS[episode[:, 0]])) == 5
        assert all(len(set(LABELS[row])) == 1 for row in episode)
        assert len(set(episode.ravel().tolist())) == 15


def test_impossible_episodes_are_a_clear_error():
    groups = np.repeat(np.array(["a"] * 5 + ["b"] * 5), 5)
    with pytest.raises(ValueError, match="fewer than 6"):
        EpisodeSampler(LABELS, groups, way=6, same_group=True)
