"""Train the landmark network of `edge_runtime.faces.landmark_net` on dlib's own points: no hand labels.

Every face YuNet finds in the photos gets dlib's five points (`DlibShapePredictor`, two passes) and is
kept as a grey square of the frame dlib's rectangle puts it in (`STORED`, wider than the network's
view). Training views are cut from it turned by up to `MAX_TURN` degrees, scaled, shifted and
mirrored, blurred, shrunk, lit and noised, with the points moved alike, so that the network finds a
tilted head from an upright box as dlib's second pass does. The loss is the mean absolute error of
the ten coordinates, in the frame's units. The people of every tenth group are held out, and the
network is judged by its mean error over them in eye widths (between the outer eye corners).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
from torch import nn

from edge_runtime.core.atomic import atomic_path
from edge_runtime.core.errors import DatasetError, ImageReadError
from edge_runtime.faces.face_alignment import landmark_locator
from edge_runtime.faces.face_detection import YuNetDetector
from edge_runtime.faces.face_landmarks import DLIB_IN_DLIB_RECT, box_rect, rect_frame
from edge_runtime.faces.landmark_net import NET_FORMAT, cut_square, grey_image
from edge_runtime.imaging.preprocessing import read_image
from export.graph import DEFAULT_OPSET, module_to_onnx, set_metadata
from export.precision import equal_batches, quantize_u8s8
from train.progress import Progress

log = logging.getLogger(__name__)

STORED = (-0.5, 1.5, 128)  # each face kept as this square of its frame (low, high, pixels)
NET_CROP = (-0.05, 1.05, 64)  # what the network sees of a face's frame
MIRRORED = [2, 3, 0, 1, 4]  # dlib's points of a mirrored face: the eyes change places
MAX_TURN = 35.0  # training views turn by up to this many degrees (most of them)
MIN_FACE = 40  # faces smaller than this (pixels) are not collected
HELD_OUT_EVERY = 10  # the groups held out to judge the network


@dataclass
class FaceSamples:
    """Faces as stored grey squares (faces×128×128), dlib's points in their frames (faces×5×2) and each
    face's group (a person: held-out groups are never trained on)."""

    crops: np.ndarray
    points: np.ndarray
    groups: np.ndarray

    def subset(self, keep: np.ndarray) -> FaceSamples:
        """The faces at `keep`."""
        return FaceSamples(self.crops[keep], self.points[keep], self.groups[keep])

    def split(self) -> tuple[FaceSamples, FaceSamples]:
        """(training, held out): every `HELD_OUT_EVERY`-th group held out."""
        held = self.groups % HELD_OUT_EVERY == 0
        return self.subset(~held), self.subset(held)


def collect_faces(photos: Iterable[tuple[Path, int]], total: int, show_progress: bool = True) -> FaceSamples:
    """Every face of at least `MIN_FACE` pixels YuNet finds in `photos` ((path, group) pairs), with dlib's
    points; unreadable photos are skipped with a warning."""
    detector = YuNetDetector(MIN_FACE)
    dlib = landmark_locator("dlib")
    crops, points, groups = [], [], []
    progress = Progress("collecting faces", total, show_progress)
    for done, (path, group) in enumerate(photos, 1):
        try:
            image = read_image(path)
        except ImageReadError as error:
            log.warning("%s", error)
            continue
        grey, detections = grey_image(image), detector.detect(image)
        for detection, found in zip(detections, dlib.predict_detections(image, detections, True), strict=True):
            frame = rect_frame(box_rect(detection.box))
            crops.append(cut_square(grey, frame, STORED))
            points.append(_normalised(found, frame))
            groups.append(group)
        progress.update(done, f"{len(crops)} faces")
    if not crops:
        raise DatasetError("no faces found in the photos to learn landmarks from")
    return FaceSamples(np.stack(crops), np.stack(points).astype(np.float32), np.array(groups))


def _normalised(points: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Image points in `frame`'s normalised coordinates."""
    return np.linalg.solve(frame[:, :2], (points - frame[:, 2]).T).T


def view(crop: np.ndarray, points: np.ndarray, turn: float = 0.0, scale: float = 1.0, shift=(0.0, 0.0),
         mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The network's view of a stored face whose frame is turned by `turn` degrees, scaled by `scale`,
    shifted by `shift` (frame units) and mirrored about its centre, and the points in that view's frame."""
    cos, sin = scale * math.cos(math.radians(turn)), scale * math.sin(math.radians(turn))
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag([-1.0 if mirror else 1.0, 1.0])
    centre = np.array([0.5, 0.5])
    moved = np.hstack([linear, (centre + shift - linear @ centre)[:, None]])  # view frame → stored frame
    stored_low, stored_high, stored_pixels = STORED
    to_stored = np.array([[1, 0, -stored_low], [0, 1, -stored_low]]) * (stored_pixels / (stored_high - stored_low))
    to_stored[:, 2] -= 0.5  # stored frame → stored pixel (centres at whole numbers)
    frame = to_stored[:, :2] @ moved
    frame[:, 2] += to_stored[:, 2]
    image = cut_square(crop, frame, NET_CROP)
    target = _normalised(points, moved)
    return image, target[MIRRORED] if mirror else target


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training view as a worse camera would give it: shrunk, blurred, lit, contrasted and noised."""
    pixels = image.shape[0]
    if rng.random() < 0.3:
        factor = rng.uniform(0.35, 0.8)
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (pixels, pixels), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.3))
    values = image.astype(np.float32) * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
    if rng.random() < 0.3:
        values = 255 * (np.clip(values, 0, 255) / 255) ** rng.uniform(0.6, 1.6)
    return np.clip(values + rng.normal(0, rng.uniform(0, 6), values.shape), 0, 255).astype(np.float32)


def training_batch(samples: FaceSamples, indices: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """Augmented views of the faces at `indices` and their points: most turned by up to `MAX_TURN`
    degrees, the rest nearly upright (as a second pass sees them)."""
    images, targets = [], []
    for index in indices:
        turn = rng.uniform(-MAX_TURN, MAX_TURN) if rng.random() < 0.7 else rng.normal(0, 3)
        image, target = view(samples.crops[index], samples.points[index], turn, rng.uniform(0.9, 1.1),
                             rng.uniform(-0.06, 0.06, 2), rng.random() < 0.5)  # fmt: skip
        images.append(photometric(image, rng))
        targets.append(target)
    return _tensors(images, targets)


def _tensors(images: list[np.ndarray], targets: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.stack(images).astype(np.float32)[:, None]), torch.from_numpy(
        np.stack(targets).astype(np.float32).reshape(len(targets), -1)
    )


def _conv(inputs: int, outputs: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)]


class LandmarkCNN(nn.Module):
    """Seven 3×3 convolutions (four of stride 2) and two linear layers: a grey face (0-255, standardised
    inside) to its five points in the view's frame, starting from dlib's mean points."""

    def __init__(self, pixels: int = NET_CROP[2]) -> None:
        super().__init__()
        widths = [(1, 16, 2), (16, 32, 1), (32, 32, 2), (32, 64, 1), (64, 64, 2), (64, 128, 1), (128, 128, 2)]
        self.features = nn.Sequential(*[layer for width in widths for layer in _conv(*width)])
        side = pixels // 16
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(128 * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, 10)
        )
        nn.init.zeros_(self.head[-1].weight)
        with torch.no_grad():
            self.head[-1].bias.copy_(torch.tensor(DLIB_IN_DLIB_RECT.ravel(), dtype=torch.float32))

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        """The five points of each face of an N×1×H×W grey batch in the view's frame, as N×10 (x, y in turn)."""
        mean = grey.mean(dim=(1, 2, 3), keepdim=True)
        spread = grey.std(dim=(1, 2, 3), keepdim=True)
        return self.head(self.features((grey - mean) / (spread + 1.0)))


def eye_width_errors(net: LandmarkCNN, samples: FaceSamples, turn: float = 0.0) -> np.ndarray:
    """Each face's mean point error, in eye widths (outer corner to outer corner), its view turned by `turn`."""
    net.eval()
    errors = []
    with torch.no_grad():
        for start in range(0, len(samples.crops), 256):
            batch = samples.subset(slice(start, start + 256))
            views = [view(crop, points, turn) for crop, points in zip(batch.crops, batch.points, strict=True)]
            images, targets = _tensors(*zip(*views, strict=True))
            found, targets = net(images).reshape(-1, 5, 2), targets.reshape(-1, 5, 2)
            width = (targets[:, 0] - targets[:, 2]).norm(dim=1)
            errors.append(((found - targets).norm(dim=2).mean(dim=1) / width).numpy())
    return np.concatenate(errors)


def train_landmark_net(samples: FaceSamples, epochs: int, batch: int = 128, seed: int = 0,
                       show_progress: bool = True) -> tuple[LandmarkCNN, dict]:  # fmt: skip
    """Train on all but the held-out groups (one-cycle schedule, AdamW); the net and its held-out errors."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    training, held_out = samples.split()
    if len(training.crops) < batch or not len(held_out.crops):
        raise DatasetError(f"too few faces to train on ({len(samples.crops)}; {batch} and a held-out group at least)")
    net = LandmarkCNN()
    optimiser = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
    steps = len(training.crops) // batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=epochs * steps, pct_start=0.1)
    progress = Progress("training landmarks", epochs, show_progress)
    for epoch in range(1, epochs + 1):
        net.train()
        order = rng.permutation(len(training.crops))
        for step in range(steps):
            images, targets = training_batch(training, order[step * batch : (step + 1) * batch], rng)
            loss = (net(images) - targets).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        progress.update(epoch, f"loss {loss.item():.4f} held-out error {eye_width_errors(net, held_out).mean():.4f}")
    report = {"faces": len(training.crops), "held-out faces": len(held_out.crops)}
    for turn in (0, 20, 30):
        errors = eye_width_errors(net, held_out, turn)
        report[f"held-out error at {turn} degrees (eye widths): mean, 90th percentile"] = [
            round(float(errors.mean()), 4), round(float(np.quantile(errors, 0.9)), 4)]  # fmt: skip
    return net, report


def calibration_views(samples: FaceSamples, count: int = 512, seed: int = 1) -> np.ndarray:
    """`count` training views (augmented as in training) to calibrate the INT8 network on."""
    rng = np.random.default_rng(seed)
    images, _ = training_batch(samples, rng.choice(len(samples.crops), min(count, len(samples.crops)), False), rng)
    return images.numpy()


def export_landmark_net(net: LandmarkCNN, path: str | Path, notes: str = "", calibration: np.ndarray | None = None,
                        opset: int = DEFAULT_OPSET) -> None:  # fmt: skip
    """Write `net` as ONNX (any number of faces a run) with the metadata `LandmarkNet` reads and `notes`
    (where it came from), atomically; INT8 (U8S8, 7-bit weights, min-max) when given `calibration` views."""
    net.eval()
    low, high, pixels = NET_CROP
    model = module_to_onnx(net, torch.zeros(1, 1, pixels, pixels), opset, "grey", "points")
    set_metadata(model, {"format": NET_FORMAT, "landmarks": "dlib5", "crop": json.dumps([low, high, pixels]),
                          "notes": notes})  # fmt: skip
    if calibration is not None:
        model = quantize_u8s8(model, equal_batches(calibration, 64), opset, method="minmax")
    with atomic_path(path) as written:
        onnx.save(model, str(written))
