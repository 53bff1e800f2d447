"""Text on frames in any script. OpenCV's own fonts draw ASCII only ("José" comes out "Jos??") and
its FreeType module is not in the pip wheel, so labels are drawn with a TrueType font by Pillow.

Fonts, first that has every character of a label: `$SIAMESE_EDGE_FONT` (a .ttf/.otf/.ttc file),
Noto Sans shipped in `edge_runtime/fonts` (Latin, Greek, Cyrillic; SIL Open Font License 1.1, see
`fonts/OFL.txt`), then the system's fonts (`/usr/share/fonts`, e.g. `fonts-noto-cjk` for Chinese,
Japanese and Korean names). A character no font here has is drawn as an empty box, with one
warning saying which font to install. Without Pillow, OpenCV draws the label with `?` for
anything not ASCII.
"""

from __future__ import annotations

import functools
import logging
import os
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np

from edge_runtime.identity.names import printable

log = logging.getLogger(__name__)
SHIPPED_FONT = str(files("edge_runtime") / "fonts" / "NotoSans-Regular.ttf")
SYSTEM_FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
Color = tuple[int, int, int]

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:  # drawn by OpenCV, ASCII only
    ImageFont = None


def text_size(text: str, size: int) -> tuple[int, int]:
    """Width and height in pixels of `text` drawn at `size` pixels."""
    text = printable(text)
    if ImageFont is None:
        (width, height), _ = cv2.getTextSize(_ascii(text), cv2.FONT_HERSHEY_SIMPLEX, size / 32, 1)
        return width, height + size // 4
    mask = _mask(text, size)
    return mask.shape[1], mask.shape[0]


def draw_text(canvas: np.ndarray, text: str, origin: tuple[int, int], color: Color, size: int) -> None:
    """Draw `text` on a BGR image in place, its top-left corner at `origin` (clipped at the edges)."""
    text = printable(text)
    if ImageFont is None:
        baseline = origin[1] + text_size(text, size)[1] - size // 4
        cv2.putText(canvas, _ascii(text), (origin[0], baseline), cv2.FONT_HERSHEY_SIMPLEX, size / 32, color, 1,
                    cv2.LINE_AA)  # fmt: skip
        return
    _blend(canvas, _mask(text, size), origin, color)


@functools.lru_cache(maxsize=2048)
def _mask(text: str, size: int) -> np.ndarray:
    """The coverage (0..1) of `text` drawn at `size` pixels; cached, as labels repeat from frame to frame."""
    font = _font_for(text, size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (max(0, right - left), max(0, bottom - top)))
    ImageDraw.Draw(image).text((-left, -top), text, fill=255, font=font)
    mask = np.asarray(image, np.float32) / 255.0
    mask.flags.writeable = False
    return mask


def _blend(canvas: np.ndarray, alpha: np.ndarray, origin: tuple[int, int], color: Color) -> None:
    x, y = origin
    height, width = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + alpha.shape[1], width), min(y + alpha.shape[0], height)  # clipped
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (region * (1 - a) + np.asarray(color, np.float32) * a).astype(np.uint8)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


@functools.lru_cache(maxsize=256)
def _font_for(text: str, size: int):
    """The first font of the chain that has every character of `text` (the shipped one if none has)."""
    wanted = {c for c in text if not c.isspace()}
    for path in _font_chain():
        if all(_has_glyph(path, c) for c in wanted):
            return _font(path, size)
    log.warning("no font here draws every character of %r; install one that does (fonts-noto-cjk for Chinese, "
                "Japanese, Korean) or set SIAMESE_EDGE_FONT", text)  # fmt: skip
    return _font(SHIPPED_FONT, size)


def _font_chain():
    """Font files in the order they are tried; the system's are found only when first needed."""
    chosen = os.environ.get("SIAMESE_EDGE_FONT")
    if chosen:
        yield chosen
    yield SHIPPED_FONT
    yield from _system_fonts()


@functools.cache
def _system_fonts() -> tuple[str, ...]:
    found = []
    for folder in SYSTEM_FONT_FOLDERS:
        root = Path(folder).expanduser()
        if root.is_dir():
            found += sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in (".ttf", ".otf", ".ttc"))
    styled = ("Bold", "Italic", "Oblique", "Light", "Condensed")
    return tuple(sorted(found, key=lambda p: ("Noto" not in p, "Sans" not in p, any(s in p for s in styled), p)))


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int):
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=4096)
def _has_glyph(path: str, character: str) -> bool:
    """Whether the font maps `character` to a glyph of its own, not to its "missing" box."""
    try:
        font = _font(path, 24)
    except OSError:  # not a font Pillow can read
        return False
    return _rendering(font, character) != _rendering(font, "\U0010ffff")  # a code point no font has


def _rendering(font, character: str) -> tuple:
    image = Image.new("L", (64, 64))
    ImageDraw.Draw(image).text((16, 16), character, fill=255, font=font)
    return font.getbbox(character), image.tobytes()
