"""What a picture shows, in numbers a text-only model can reason about; and pictures kept small.

A viewer screenshot goes to the chat as an image and to the model as text (and, for a model
that reads images, as the image too). The text is these statistics: size, brightness, how
much of the frame is not background (Neuroglancer's empty cross-sections are grey, its empty
3-D view black), the mean of each channel, and a coarse 3 x 3 grid of brightness and
coverage, so "nothing is drawn" or "the cells are in the lower left" can be read without
seeing the picture.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NEUROGLANCER_BACKGROUNDS", "ImageStats", "Rgb", "measure_image", "shrink_image"]

Rgb = tuple[int, int, int]
NEUROGLANCER_BACKGROUNDS: tuple[Rgb, ...] = ((128, 128, 128), (0, 0, 0))
"""Neuroglancer's default background colours: cross-sections (``crossSectionBackgroundColor``, 0.5 grey) and
the 3-D view (``projectionBackgroundColor``, black)."""

BACKGROUND_TOLERANCE = 8
"""A pixel whose every channel is within this of a background colour counts as background (PNG is
lossless, but panels blend edges and scale bars anti-alias)."""
_ROWS = ("top", "middle", "bottom")
_COLUMNS = ("left", "centre", "right")


@dataclass(frozen=True)
class ImageStats:
    """Statistics of one RGB picture. Brightness is luminance (0 black to 255 white)."""

    width: int
    height: int
    mean_brightness: float
    foreground_fraction: float
    """Share of pixels that differ from every background colour (0: nothing is drawn)."""
    backgrounds: tuple[Rgb, ...]
    channel_means: tuple[float, float, float]
    brightness_grid: tuple[tuple[float, ...], ...]
    """Mean brightness of each ninth of the picture, rows top to bottom, columns left to right."""
    foreground_grid: tuple[tuple[float, ...], ...]
    """Share of non-background pixels in each ninth, laid out as ``brightness_grid``."""

    def describe(self) -> str:
        """A few lines for a model: the first says size, brightness and coverage."""
        red, green, blue = self.channel_means
        backgrounds = " or ".join(f"rgb{colour}" for colour in self.backgrounds)
        lines = [
            f"Screenshot {self.width}x{self.height} px: mean brightness {self.mean_brightness:.1f}/255, "
            f"{self.foreground_fraction:.1%} of pixels are not background ({backgrounds}).",
            f"Channel means: red {red:.1f}, green {green:.1f}, blue {blue:.1f}.",
            "Brightness / non-background share by region:",
        ]
        for row, brightness, coverage in zip(_ROWS, self.brightness_grid, self.foreground_grid, strict=True):
            cells = ", ".join(
                f"{column} {b:.0f} / {c:.0%}"
                for column, b, c in zip(_COLUMNS, brightness, coverage, strict=True)
            )
            lines.append(f"  {row}: {cells}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        """JSON-able, for the tool trace."""
        return {
            "width": self.width,
            "height": self.height,
            "mean_brightness": round(self.mean_brightness, 2),
            "foreground_fraction": round(self.foreground_fraction, 4),
            "backgrounds": [list(colour) for colour in self.backgrounds],
            "channel_means": [round(v, 2) for v in self.channel_means],
            "brightness_grid": [[round(v, 1) for v in row] for row in self.brightness_grid],
            "foreground_grid": [[round(v, 3) for v in row] for row in self.foreground_grid],
        }


def _rgb(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def measure_image(data: bytes, backgrounds: Sequence[Rgb] = NEUROGLANCER_BACKGROUNDS) -> ImageStats:
    """The statistics of encoded PNG/JPEG bytes; a pixel near any of ``backgrounds`` is background.

    Cost: one decode and a few passes over the pixels (about 60 ms for 1024 x 700).
    """
    pixels = _rgb(data)
    height, width = pixels.shape[:2]
    flat = pixels.reshape(-1, 3)
    signed = pixels.astype(np.int16)
    foreground = np.ones((height, width), dtype=bool)
    for colour in backgrounds:
        foreground &= (np.abs(signed - np.array(colour, dtype=np.int16)) > BACKGROUND_TOLERANCE).any(axis=2)
    luminance = pixels @ np.array([0.299, 0.587, 0.114])
    rows = np.array_split(np.arange(height), 3)
    columns = np.array_split(np.arange(width), 3)

    def grid(values: np.ndarray) -> tuple[tuple[float, ...], ...]:
        return tuple(
            tuple(float(values[np.ix_(r, c)].mean()) if r.size and c.size else 0.0 for c in columns)
            for r in rows
        )

    return ImageStats(
        width=int(width),
        height=int(height),
        mean_brightness=float(luminance.mean()),
        foreground_fraction=float(foreground.mean()),
        backgrounds=tuple((int(r), int(g), int(b)) for r, g, b in backgrounds),
        channel_means=tuple(float(v) for v in flat.mean(axis=0)),  # type: ignore[arg-type]
        brightness_grid=grid(luminance),
        foreground_grid=grid(foreground.astype(np.float64)),
    )


def shrink_image(data: bytes, max_side: int) -> bytes:
    """PNG bytes whose longer side is at most ``max_side`` px (the same bytes when already small enough), so
    a picture sent to a model or kept in the chat stays bounded whatever the screen's size and pixel ratio."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if max(image.size) <= max_side:
            return data
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        smaller = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    smaller.save(buffer, format="PNG")
    return buffer.getvalue()
