"""Embedding networks, selectable by name: `seed`, `koch`, `edge`, `edge-spatial` and `dlib-resnet`.

Every backbone is built from keyword arguments only, which the checkpoint stores, so a model can
be rebuilt from its checkpoint alone. Each maps an N×C×H×W batch to N×D features; `EmbeddingNet`
turns them into L2-normalised embeddings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from train.dlib.resnet import DlibFaceResNet


def _flat_size(features: nn.Module, in_channels: int, height: int, width: int) -> int:
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, height, width)).numel()


class SeedSiameseNetwork(nn.Module):
    """The seed article's `SiameseNetwork`, as written (three padded 3×3 convolutions, three FCs)."""

    def __init__(self, in_channels: int = 1, height: int = 100, width: int = 100, embedding_size: int = 5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((in_channels, 4), (4, 8), (8, 8)):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), nn.ReLU(inplace=True), nn.BatchNorm2d(c_out)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        flat = _flat_size(self.features, in_channels, height, width)
        self.head = nn.Sequential(
            nn.Linear(flat, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, embedding_size),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The N×`embedding_size` features of an N×C×H×W batch."""
        return self.head(self.features(x))


class KochNetwork(nn.Module):
    """Koch, Zemel and Salakhutdinov (2015): four convolutions and a 4096-unit sigmoid layer."""

    def __init__(self, in_channels: int = 1, height: int = 105, width: int = 105, embedding_size: int = 4096) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 10),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 7),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 128, 4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 4),
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        flat = _flat_size(self.features, in_channels, height, width)
        self.head = nn.Sequential(nn.Linear(flat, embedding_size), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The N×`embedding_size` sigmoid features of an N×C×H×W batch."""
        return self.head(self.features(x))


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class _ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.first = _conv_bn_relu(c_in, c_out, stride)
        self.second = nn.Sequential(nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.second(self.first(x)) + self.shortcut(x))


class EdgeNetwork(nn.Module):
    """A compact residual CNN for the edge: 3×3 convolutions, BatchNorm, ReLU, average pooling.

    Only operations that fold and quantize well (Conv+BN fusion, per-channel INT8, TensorRT),
    about 1.3 M parameters at the default widths. Images of 64 px or more get a stride-2 stem.

    `pooling` "average" averages the last feature map over its positions; "flatten" (the
    `edge-spatial` backbone) feeds every position to the last layer, as face networks' output
    layers do (ArcFace's flattening, MobileFaceNet's depthwise one): where a feature lies, an eye or
    a jaw, then counts. It adds (positions − 1) × last width × embedding size weights and
    next to no compute.
    """

    def __init__(
        self,
        in_channels: int = 1,
        height: int = 64,
        width: int = 64,
        embedding_size: int = 128,
        widths: tuple[int, ...] | list[int] = (32, 64, 128, 256),
        stem_stride: int | None = None,
        pooling: str = "average",
    ) -> None:
        super().__init__()
        if stem_stride is None:
            stem_stride = 2 if min(height, width) >= 64 else 1
        layers: list[nn.Module] = [_conv_bn_relu(in_channels, widths[0], stem_stride)]
        c_in = widths[0]
        for c_out in widths:
            layers.append(_ResidualBlock(c_in, c_out, 2))
            c_in = c_out
        if pooling not in ("average", "flatten"):
            raise ValueError(f"pooling is 'average' or 'flatten', not {pooling!r}")
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if pooling == "average" else [nn.Flatten()]
        self.features = nn.Sequential(*layers)
        features = c_in if pooling == "average" else _flat_size(self.features.eval(), in_channels, height, width)
        self.features.train()
        self.head = nn.Sequential(nn.Linear(features, embedding_size, bias=False), nn.BatchNorm1d(embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The N×`embedding_size` features of an N×C×H×W batch (batch-normalised, not yet L2-normalised)."""
        return self.head(self.features(x))


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "seed": SeedSiameseNetwork,
    "koch": KochNetwork,
    "edge": EdgeNetwork,
    "edge-spatial": functools.partial(EdgeNetwork, pooling="flatten"),
    "dlib-resnet": DlibFaceResNet,
}


class EmbeddingNet(nn.Module):
    """A backbone followed by L2 normalisation: the embedding branch that is exported."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The L2-normalised embeddings of an N×C×H×W batch, one row each."""
        return F.normalize(self.backbone(x), dim=1)


def build_model(name: str, **kwargs) -> EmbeddingNet:
    """The embedding network `name` built from `kwargs` (as stored in a checkpoint)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return EmbeddingNet(BACKBONES[name](**kwargs))


def model_from_checkpoint(payload: dict) -> EmbeddingNet:
    """The embedding network of a checkpoint, with its weights, in evaluation mode."""
    model = build_model(payload["arch"]["name"], **payload["arch"]["kwargs"])
    model.load_state_dict(payload["model_state"])
    return model.eval()


def embedding_size(model: nn.Module, in_channels: int, height: int, width: int) -> int:
    """The length of the embeddings `model` produces for inputs of this shape."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        size = model(torch.zeros(1, in_channels, height, width)).shape[1]
    model.train(was_training)
    return int(size)
