"""dlib's 29-layer face ResNet (`dlib_face_recognition_resnet_model_v1`) as a PyTorch backbone.

The network of dlib's `dnn_face_recognition_ex.cpp`, layer for layer: a 7×7 stride-2 stem,
max pooling, residual blocks of two 3×3 convolutions at widths 32, 64, 128, 256, 256, global
average pooling and a 128-unit linear layer without bias. dlib's "affine" layers (batch norm with
its statistics folded in) are kept as learnable per-channel scales and shifts, so the converted
weights reproduce dlib's descriptors exactly and can still be fine-tuned.

Two dlib rules differ from the usual ResNet: a strided 3×3 convolution has no padding, and a
residual sum whose two terms differ in channels or size is taken where they overlap, the rest
padded with zeros (dlib's `add_prev`). Both are reproduced here, with the padding worked out
once from the input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edge_runtime.imaging.preprocessing import InputSpec

# dlib's input layer subtracts these channel means from 0-255 pixels and divides by 256.
DLIB_INPUT = InputSpec(
    150,
    150,
    3,
    mean=(122.782 / 255, 117.001 / 255, 104.298 / 255),
    std=(256 / 255,) * 3,
    color_order="RGB",
)
# (width, blocks) from the input side; every level after the first starts with a strided block.
LEVELS = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))


class Affine(nn.Module):
    """A per-channel scale and shift (dlib's inference form of batch normalisation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` scaled and shifted channel by channel."""
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _pad_to(x: torch.Tensor, channels: int, height: int, width: int) -> torch.Tensor:
    """Zero-pad `x` at the end of its channel, row and column axes up to the given sizes."""
    extra = (0, width - x.shape[3], 0, height - x.shape[2], 0, channels - x.shape[1])
    return F.pad(x, extra) if any(extra) else x


class DlibResidualBlock(nn.Module):
    """Two 3×3 convolutions (each with an affine) plus the block input, then ReLU.

    A down block's first convolution has stride 2 and no padding, and its input is average-pooled
    2×2 before the sum; where the two terms differ in shape the sum is zero-padded (dlib's rule).
    """

    def __init__(self, c_in: int, c_out: int, down: bool, size: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 2 if down else 1, 0 if down else 1)
        self.affine1 = Affine(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.affine2 = Affine(c_out)
        self.pool = nn.AvgPool2d(2, 2) if down else nn.Identity()
        main = tuple((s - 3) // 2 + 1 for s in size) if down else size
        skip = tuple((s - 2) // 2 + 1 for s in size) if down else size
        self.out_size: tuple[int, int] = (max(main[0], skip[0]), max(main[1], skip[1]))
        self.out_channels = max(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output: ReLU of the convolutions' result plus the (pooled) input, zero-padded to one shape."""
        main = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        skip = self.pool(x)
        shape = (self.out_channels, *self.out_size)
        return F.relu(_pad_to(main, *shape) + _pad_to(skip, *shape))


class DlibFaceResNet(nn.Module):
    """dlib's face ResNet: 150×150 RGB in (dlib's normalisation: `DLIB_INPUT`), 128 features out."""

    fixed_input = DLIB_INPUT

    def __init__(self, in_channels: int = 3, height: int = 150, width: int = 150, embedding_size: int = 128) -> None:
        super().__init__()
        if in_channels != 3:
            raise ValueError("the dlib face ResNet takes colour (3-channel) images")
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 7, 2, 0), Affine(32), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        size = (((height - 7) // 2 + 1 - 3) // 2 + 1, ((width - 7) // 2 + 1 - 3) // 2 + 1)
        blocks, c_in = [], 32
        for level, (width_out, count) in enumerate(LEVELS):
            for index in range(count):
                block = DlibResidualBlock(c_in, width_out, down=level > 0 and index == 0, size=size)
                blocks.append(block)
                c_in, size = block.out_channels, block.out_size
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, embedding_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The N×128 descriptors (before L2 normalisation) of an N×3×150×150 batch normalised as `DLIB_INPUT`."""
        features = self.blocks(self.stem(x))
        return self.fc(features.mean(dim=(2, 3)))
