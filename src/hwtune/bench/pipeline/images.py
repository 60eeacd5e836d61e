"""Built-in images that behave like photos, made in code (nothing is downloaded).

Decode time depends on resolution, quality and entropy, so a flat test card
would flatter every decoder. Each image is built from what a photograph has:

- smooth regions: a random 6x8 field of colours upscaled bicubically (sky,
  walls, skin), with a vignette;
- edges: filled ellipses and polygons in random colours, drawn at full size,
  some softened (out-of-focus objects), some sharp;
- texture: band-limited noise (a field at a quarter of the size, upscaled) in
  the lower half (foliage, gravel, fabric);
- sensor noise: Gaussian, sigma 2.5 levels per channel.

Everything comes from a seeded generator, so an image of a size is the same
pixels on every run. Encoded as JPEG quality 85 with 4:2:0 chroma subsampling
(what most cameras and upload pipelines write), PNG (zlib level 6, Pillow's
default) and lossy WebP quality 85. docs/bench.md compares their decode time
per megapixel with real photographs (benchmarks/pipeline_decoders.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

SIZES = {"640x480": (640, 480), "1280x720": (1280, 720), "1920x1080": (1920, 1080), "3840x2160": (3840, 2160)}
SIZE_ALIASES = {"vga": "640x480", "480p": "640x480", "720p": "1280x720", "1080p": "1920x1080",
                "4k": "3840x2160", "2160p": "3840x2160"}
FORMATS = ("jpeg", "png", "webp")
JPEG_QUALITY = 85
WEBP_QUALITY = 85
SEED = 20261207
NOISE_SIGMA = 2.5


@dataclass(frozen=True)
class EncodedImage:
    """One input of the pipeline: its bytes and what they claim to be."""

    name: str  # a built-in's "1920x1080.jpeg", or the file's name
    fmt: str  # jpeg, png or webp
    width: int
    height: int
    data: bytes

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def kind(self) -> str:
        """What the per-kind figures group by: '1920x1080 jpeg'."""
        return f"{self.width}x{self.height} {self.fmt}"


def photo_like(width: int, height: int, seed: int = SEED) -> Any:
    """An HxWx3 uint8 array with smooth regions, edges, texture and sensor noise."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed + width * 7919 + height)
    coarse = Image.fromarray(rng.uniform(30, 225, size=(6, 8, 3)).astype(np.uint8))
    base = coarse.resize((width, height), Image.Resampling.BICUBIC)
    canvas = base.copy()
    draw = ImageDraw.Draw(canvas)
    scale = min(width, height)
    for _ in range(24 + width * height // 40_000):  # a larger frame holds more objects
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.01, 0.25) ** 1.5 * scale * 2
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - r * rng.uniform(0.4, 1.0), cx + r, cy + r), fill=colour)
        else:
            pts = [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in np.sort(rng.uniform(0, 2 * np.pi, 5))]
            draw.polygon(pts, fill=colour)
    soft = canvas.filter(ImageFilter.GaussianBlur(radius=scale / 300))
    # half the frame in focus (sharp edges), half behind it (softened edges)
    mask = Image.linear_gradient("L").resize((width, height)).point(lambda v: 255 if v > 128 else 0)
    img = np.asarray(Image.composite(canvas, soft, mask), dtype=np.float32)
    # texture is mostly luminance, as in a photograph: one field for all channels, a little colour
    size = (max(1, height // 4), max(1, width // 4))
    small = (rng.normal(0, 24, size=size)[..., None] + rng.normal(0, 8, size=size + (3,))).astype(np.float32)
    texture = np.stack([np.asarray(Image.fromarray(small[..., c]).resize((width, height), Image.Resampling.BILINEAR))
                        for c in range(3)], axis=-1)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    img += texture * np.clip((rows - 0.45) * 4, 0, 1)  # texture in the lower half, fading in
    yy, xx = np.ogrid[-1:1:height * 1j, -1:1:width * 1j]
    img *= (1 - 0.25 * (xx ** 2 + yy ** 2))[..., None].astype(np.float32)  # vignette
    img += rng.normal(0, NOISE_SIGMA, size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def encode(pixels: Any, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(pixels)
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling="4:2:0")
    elif fmt == "png":
        img.save(buf, "PNG", compress_level=6)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()


def builtin_images(sizes: tuple[str, ...], formats: tuple[str, ...]) -> list[EncodedImage]:
    """The built-in images for these sizes ("1920x1080") and formats, each made once."""
    out: list[EncodedImage] = []
    for size in sizes:
        w, h = SIZES[size]
        pixels = photo_like(w, h)
        out.extend(EncodedImage(f"{size}.{fmt}", fmt, w, h, encode(pixels, fmt)) for fmt in formats)
    return out
