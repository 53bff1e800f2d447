"""Charts drawn with OpenCV alone, so that no plotting library is needed to see a result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_runtime.core.atomic import atomic_write_bytes

COLORS = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148)]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "ROC") -> None:
    """Write a ROC chart (TAR against FAR on a log axis) of one or more named curves as a PNG."""
    width, height = 720, 540
    left, right, top, bottom = 80, 20, 50, 60
    image = np.full((height, width, 3), 255, np.uint8)
    min_exponent = -5
    plot_w, plot_h = width - left - right, height - top - bottom

    def to_pixel(far: np.ndarray, tar: np.ndarray) -> np.ndarray:
        exponent = np.log10(np.clip(far, 10.0**min_exponent, 1.0))
        x = left + (exponent - min_exponent) / -min_exponent * plot_w
        y = top + (1.0 - tar) * plot_h
        return np.stack([x, y], axis=1).round().astype(np.int32)

    for exponent in range(min_exponent, 1):
        x = left + (exponent - min_exponent) * plot_w // -min_exponent
        cv2.line(image, (x, top), (x, top + plot_h), (225, 225, 225), 1)
        cv2.putText(image, f"1e{exponent}", (x - 18, top + plot_h + 22), FONT, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    for step in range(11):
        y = top + plot_h - step * plot_h // 10
        cv2.line(image, (left, y), (left + plot_w, y), (225, 225, 225), 1)
        cv2.putText(image, f"{step / 10:.1f}", (left - 38, y + 5), FONT, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (left + plot_w, top + plot_h), (0, 0, 0), 1)
    cv2.putText(image, title, (left, 32), FONT, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(
        image, "false accept rate", (left + plot_w // 2 - 70, height - 15), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA
    )
    cv2.putText(image, "TAR", (10, top + plot_h // 2), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for index, (name, (far, tar)) in enumerate(curves.items()):
        color = COLORS[index % len(COLORS)]
        points = to_pixel(np.asarray(far), np.asarray(tar))
        cv2.polylines(image, [points.reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        legend_y = top + plot_h - 20 - 24 * (len(curves) - 1 - index)
        cv2.line(image, (left + plot_w - 250, legend_y - 5), (left + plot_w - 220, legend_y - 5), color, 3)
        cv2.putText(image, name, (left + plot_w - 212, legend_y), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("OpenCV could not encode the ROC chart")
    atomic_write_bytes(path, encoded.tobytes())
