"""The grid of several streams: each tile shows its stream's newest frame and its name, a stream not
yet seen is black, an ended one keeps its last frame, and one stream is shown as it is."""

import numpy as np

from edge_runtime.io.mosaic import Mosaic


def _frame(value: int) -> np.ndarray:
    return np.full((120, 160, 3), value, np.uint8)


def _tile(grid: np.ndarray, row: int, column: int) -> np.ndarray:
    return grid[row * 120 + 40 : (row + 1) * 120, column * 160 : (column + 1) * 160]  # below the name band


def test_each_tile_shows_its_streams_newest_frame():
    mosaic = Mosaic(["a", "b", "c"])
    assert mosaic.frame() is None
    mosaic.update("a", _frame(50))
    grid = mosaic.frame()
    assert grid.shape == (240, 320, 3)  # 2×2 tiles of the first frame's size
    assert (_tile(grid, 0, 0) == 50).all() and (_tile(grid, 0, 1) == 0).all() and (_tile(grid, 1, 0) == 0).all()
    mosaic.update("c", _frame(90))
    mosaic.update("a", _frame(70))
    grid = mosaic.frame()
    assert (_tile(grid, 0, 0) == 70).all() and (_tile(grid, 1, 0) == 90).all() and (_tile(grid, 0, 1) == 0).all()
    names_band = grid[:20, 160:320].copy()
    mosaic.end("b")
    assert not np.array_equal(mosaic.frame()[:20, 160:320], names_band)  # "b (waiting)" became "b (ended)"
    assert (_tile(mosaic.frame(), 0, 0) == 70).all()


def test_a_larger_frame_is_shrunk_into_its_tile_and_one_stream_is_shown_as_it_is():
    mosaic = Mosaic(["a", "b"], max_width=320)
    mosaic.update("a", _frame(50))
    mosaic.update("b", np.full((240, 320, 3), 200, np.uint8))
    assert mosaic.frame().shape == (120, 320, 3) and (_tile(mosaic.frame(), 0, 1) == 200).all()
    single = Mosaic(["only"])
    frame = _frame(30)
    single.update("only", frame)
    assert single.frame() is frame
