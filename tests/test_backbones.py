import pytest
import torch

from train.backbones import BACKBONES, build_model, embedding_size


@pytest.mark.parametrize(
    ("name", "kwargs", "size"),
    [
        ("seed", {"in_channels": 1, "height": 100, "width": 100}, 5),
        ("koch", {"in_channels": 1, "height": 105, "width": 105}, 4096),
        ("edge", {"in_channels": 3, "height": 64, "width": 48}, 128),
        ("edge", {"in_channels": 1, "height": 32, "width": 32, "embedding_size": 64}, 64),
        ("edge-spatial", {"in_channels": 3, "height": 80, "width": 80}, 128),
        ("dlib-resnet", {"in_channels": 3, "height": 150, "width": 150}, 128),
    ],
)
def test_backbones_give_unit_embeddings_of_their_size_and_learn(name, kwargs, size):
    torch.manual_seed(0)
    model = build_model(name, **kwargs)
    images = torch.randn(4, kwargs["in_channels"], kwargs["height"], kwargs["width"])
    embeddings = model(images)
    assert embeddings.shape == (4, size)
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(4), atol=1e-5)
    assert embedding_size(model, kwargs["in_channels"], kwargs["height"], kwargs["width"]) == size
    (embeddings[0] @ embeddings[1]).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_the_edge_backbone_stays_small():
    model = build_model("edge", in_channels=1, height=64, width=64)
    assert sum(p.numel() for p in model.parameters()) < 3_000_000


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of"):
        build_model("resnet9000", in_channels=1, height=64, width=64)
    assert set(BACKBONES) == {"seed", "koch", "edge", "edge-spatial", "dlib-resnet"}


def test_the_spatial_edge_backbone_weighs_each_position_of_its_last_feature_map():
    """At 80 px the last feature map is 3×3: its last layer takes all nine positions of the 256
    channels instead of their average, for 0.26 M more weights."""
    spatial = build_model("edge-spatial", in_channels=3, height=80, width=80)
    average = build_model("edge", in_channels=3, height=80, width=80)
    assert spatial.backbone.head[0].in_features == 256 * 3 * 3 and average.backbone.head[0].in_features == 256
    extra = sum(p.numel() for p in spatial.parameters()) - sum(p.numel() for p in average.parameters())
    assert extra == 8 * 256 * 128
    with pytest.raises(ValueError, match="pooling is"):
        build_model("edge", in_channels=1, height=32, width=32, pooling="max")
