"""Read the weights of dlib's face ResNet from its `.dat` file, without dlib.

dlib serialises a network from the input side up. Each layer writes its name as a string
(`con_4`, `affine_`, `fc_2`, …), then its settings and its parameters as one tensor: a version,
four dimensions, then raw little-endian float32 values. Integers are dlib's variable-length form
(a control byte holding the byte count, 0x80 for negative, then the bytes little-endian).

`read_dlib_face_resnet` walks the file layer by layer, checks each convolution's shape, stride
and padding against `DlibFaceResNet`, and returns its state dict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge_runtime.core.errors import CheckpointError
from train.dlib.resnet import DlibFaceResNet
from train.dlib.serial import DlibReader

LAYER_NAMES = (b"con_4", b"affine_", b"fc_2")


class _Reader(DlibReader):
    """dlib's integers, and the tensors and layer names of a network."""

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise self.fail(f"a tensor of version {version}")
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.truncated()
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos = end
        return values

    def next_layer(self) -> bytes | None:
        """Move past the next layer name of interest and return it (None at the end)."""
        found = [(self.data.find(bytes([1, len(n)]) + n, self.pos), n) for n in LAYER_NAMES]
        found = [(at, name) for at, name in found if at >= 0]
        if not found:
            return None
        at, name = min(found)
        self.pos = at + 2 + len(name)
        return name


def _dlib_layers(path: Path) -> list[tuple[bytes, dict]]:
    """Every convolution, affine and linear layer of the file, from the input side, with its values."""
    data = path.read_bytes()
    if b"loss_metric_" not in data[:64] or b"input_rgb_image_sized" not in data:
        raise CheckpointError(f"{path} is not dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1)")
    reader, layers = _Reader(data, str(path), "dlib face ResNet"), []
    while (name := reader.next_layer()) is not None:
        if name == b"con_4":
            params = reader.tensor()
            filters, rows, cols = reader.integer(), reader.integer(), reader.integer()
            stride = (reader.integer(), reader.integer())
            padding = (reader.integer(), reader.integer())
            layers.append((name, dict(params=params, shape=(filters, rows, cols), stride=stride, padding=padding)))
        elif name == b"affine_":
            layers.append((name, dict(params=reader.tensor())))
        else:
            outputs, inputs = reader.integer(), reader.integer()
            layers.append((name, dict(params=reader.tensor(), shape=(outputs, inputs))))
    return layers


def read_dlib_face_resnet(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict of `DlibFaceResNet` holding the weights of dlib's `.dat` file at `path`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"dlib model {path} does not exist")
    model = DlibFaceResNet()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    affines = [m for n, m in model.named_modules() if type(m).__name__ == "Affine"]
    layers = _dlib_layers(path)
    kinds = [name for name, _ in layers]
    expected = [b"con_4", b"affine_"] * len(convs) + [b"fc_2"]
    if kinds != expected:
        raise CheckpointError(f"{path} does not have the layers of dlib's face ResNet ({len(layers)} found)")
    with torch.no_grad():
        for conv, affine, (_, c), (_, a) in zip(convs, affines, layers[0:-1:2], layers[1:-1:2], strict=True):
            _copy_conv(conv, c, path)
            gamma, beta = np.split(a["params"], 2)
            affine.weight.copy_(torch.from_numpy(gamma))
            affine.bias.copy_(torch.from_numpy(beta))
        fc = layers[-1][1]
        outputs, inputs = fc["shape"]
        model.fc.weight.copy_(torch.from_numpy(fc["params"].reshape(inputs, outputs).T.copy()))
    return model.state_dict()


def _copy_conv(conv: torch.nn.Conv2d, layer: dict, path: Path) -> None:
    filters, rows, cols = layer["shape"]
    weight_count = conv.weight.numel()
    fits = (filters, rows, cols) == (conv.out_channels, *conv.kernel_size)
    if not fits or layer["params"].size != weight_count + filters:
        raise CheckpointError(f"{path}: a convolution of shape {layer['shape']} does not fit the face ResNet")
    if layer["stride"] != conv.stride or layer["padding"] != conv.padding:
        raise CheckpointError(f"{path}: a convolution's stride or padding does not fit the face ResNet")
    conv.weight.copy_(torch.from_numpy(layer["params"][:weight_count].reshape(conv.weight.shape)))
    conv.bias.copy_(torch.from_numpy(layer["params"][weight_count:]))
