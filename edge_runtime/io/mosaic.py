"""The grid of several streams: the window, and the one video `--mosaic` writes.

Each stream has a tile in name order, holding its newest annotated frame (letterboxed) and its name;
a stream that has ended keeps its last frame, marked as ended. One stream is shown as it is.
"""

from __future__ import annotations

import math

import numpy as np

from edge_runtime.identity.labels import draw_text, text_size
from edge_runtime.io.outputs import letterbox

MAX_WIDTH = 1920  # the grid's widest, in pixels: tiles shrink to fit
NAME_PIXELS = 18


class Mosaic:
    """The newest frame of each stream, side by side; the first frame seen sets the tiles' size. The
    grid is kept between frames: a new frame redraws its own tile only."""

    def __init__(self, names: list[str], max_width: int = MAX_WIDTH) -> None:
        self.names, self.max_width = list(names), max_width
        self.columns = math.ceil(math.sqrt(len(self.names)))
        self.rows = math.ceil(len(self.names) / self.columns)
        self.tiles: dict[str, np.ndarray] = {}
        self.ended: set[str] = set()
        self.tile_size: tuple[int, int] | None = None
        self.grid: np.ndarray | None = None

    def update(self, name: str, canvas: np.ndarray) -> None:
        """Show `canvas` (an annotated frame) in stream `name`'s tile."""
        if len(self.names) == 1:
            self.tile_size, self.tiles[name] = (canvas.shape[1], canvas.shape[0]), canvas
            return
        if self.tile_size is None:
            width = min(canvas.shape[1], self.max_width // self.columns)
            self.tile_size = (width, max(1, round(width * canvas.shape[0] / canvas.shape[1])))
            self.grid = np.zeros((self.tile_size[1] * self.rows, width * self.columns, 3), np.uint8)
            for other in self.names:
                self._draw(other)
        self.tiles[name] = letterbox(canvas, self.tile_size)
        self._draw(name)

    def end(self, name: str) -> None:
        """Mark stream `name` as ended: its tile keeps its last frame."""
        self.ended.add(name)
        if self.grid is not None:
            self._draw(name)

    def frame(self) -> np.ndarray | None:
        """The grid as it stands (None before any frame); later updates change it in place."""
        if self.tile_size is None:
            return None
        return self.tiles[self.names[0]] if len(self.names) == 1 else self.grid

    def _draw(self, name: str) -> None:
        """Redraw stream `name`'s tile: its frame (black before the first) and its name."""
        width, height = self.tile_size
        index = self.names.index(name)
        top, left = (index // self.columns) * height, (index % self.columns) * width
        tile = self.grid[top : top + height, left : left + width]
        tile[:] = self.tiles.get(name, 0)
        label = name + (" (ended)" if name in self.ended else "" if name in self.tiles else " (waiting)")
        tw, th = text_size(label, NAME_PIXELS)
        tile[: th + 8, : min(width, tw + 8)] //= 3  # a dark band under the name
        draw_text(tile, label, (4, 4), (255, 255, 255), NAME_PIXELS)
