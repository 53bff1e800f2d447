import pytest
import torch

from train.distances import CosineDistance, EuclideanDistance, make_distance
from train.losses import ContrastiveLoss, CosFaceLoss, TripletLoss, VerificationLoss
from train.miners import batch_hard, semi_hard


def _optimise(parameters, loss_fn, steps=300, lr=0.05):
    optimiser = torch.optim.Adam(parameters, lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimiser.step()
    return float(loss.detach())


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_contrastive_pulls_same_pairs_together_and_pushes_different_past_the_margin(metric):
    torch.manual_seed(0)
    first = torch.randn(16, 8, requires_grad=True)
    second = torch.randn(16, 8, requires_grad=True)
    same = torch.tensor([1, 0] * 8)
    distance = make_distance(metric)
    loss = ContrastiveLoss(distance, margin=0.5)
    before = distance.paired(first, second).detach()
    _optimise([first, second], lambda: loss(first, second, same))
    after = distance.paired(first, second).detach()
    assert after[same == 1].max() < 0.05 < before[same == 1].min()
    assert after[same == 0].min() >= 0.5 - 1e-3


def test_contrastive_label_one_means_same():
    loss = ContrastiveLoss(EuclideanDistance(), margin=1.0)
    a = torch.zeros(1, 2)
    b = torch.tensor([[3.0, 4.0]])  # distance 5
    assert float(loss(a, b, torch.tensor([1]))) == pytest.approx(25.0)
    assert float(loss(a, b, torch.tensor([0]))) == pytest.approx(0.0)


@pytest.mark.parametrize("mining", ["batch-hard", "semi-hard"])
def test_triplet_training_separates_classes_by_the_margin(mining):
    torch.manual_seed(1)
    embeddings = torch.randn(12, 6, requires_grad=True)
    labels = torch.arange(4).repeat_interleave(3)
    distance = EuclideanDistance()
    loss = TripletLoss(distance, margin=0.3, mining=mining)
    _optimise([embeddings], lambda: loss(embeddings, labels), steps=400)
    d = distance.pairwise(embeddings, embeddings).detach()
    same = labels[:, None] == labels[None, :]
    for anchor in range(len(labels)):
        farthest_positive = d[anchor][same[anchor]].max()
        nearest_negative = d[anchor][~same[anchor]].min()
        assert nearest_negative - farthest_positive >= 0.3 - 1e-2


def test_miners_pick_the_expected_triplets():
    labels = torch.tensor([0, 0, 1, 1])
    d = torch.tensor(
        [
            [0.0, 0.5, 0.2, 0.9],
            [0.5, 0.0, 0.7, 0.6],
            [0.2, 0.7, 0.0, 0.4],
            [0.9, 0.6, 0.4, 0.0],
        ]
    )
    positive, negative = batch_hard(d, labels)
    assert positive.tolist() == pytest.approx([0.5, 0.5, 0.4, 0.4])
    assert negative.tolist() == pytest.approx([0.2, 0.6, 0.2, 0.6])
    positive, negative = semi_hard(d, labels)
    # anchor 0, positive 1 (0.5): negatives 0.2, 0.9 -> the nearest farther one is 0.9
    assert positive.tolist()[0] == 0.5 and negative.tolist()[0] == pytest.approx(0.9)


def test_verification_head_learns_same_versus_different():
    torch.manual_seed(2)
    base = torch.randn(32, 5)
    first = base
    second = torch.cat([base[:16] + 0.01 * torch.randn(16, 5), torch.randn(16, 5)])
    same = torch.tensor([1] * 16 + [0] * 16)
    loss = VerificationLoss(5)
    _optimise(loss.parameters(), lambda: loss(first, second, same), steps=500)
    probability = torch.sigmoid(loss.head(first, second)).detach()
    assert probability[:16].min() > 0.5 > probability[16:].max()


def test_cosine_distance_is_zero_for_same_direction():
    a = torch.tensor([[1.0, 0.0]])
    assert float(CosineDistance().paired(a, 3 * a)) == pytest.approx(0.0, abs=1e-6)
    assert float(CosineDistance().paired(a, -a)) == pytest.approx(2.0)


def test_cosface_training_clusters_each_class_around_its_direction():
    torch.manual_seed(3)
    embeddings = torch.randn(12, 6, requires_grad=True)
    labels = torch.arange(4).repeat_interleave(3)
    loss = CosFaceLoss(num_classes=4, embedding_size=6, scale=10.0, margin=0.2)
    _optimise([embeddings, *loss.parameters()], lambda: loss(embeddings, labels), steps=400)
    d = CosineDistance().pairwise(embeddings, embeddings).detach()
    same = labels[:, None] == labels[None, :]
    assert d[same].max() < d[~same].min()
