"""Make benchmarks/photos/seeding-1920x1080.jpg and -3840x2160.jpg from their Debian source.

See SOURCES.md. The centre 1920x1080 and 3840x2160 of the 5312x2988 photograph, cropped (not scaled:
scaling averages away sensor noise and fine detail, so it would lower the
entropy the decoder sees) and encoded by the same function as the built-in
images (hwtune.bench.pipeline.images.encode: JPEG quality 85, 4:2:0), so the
per-megapixel comparison is at the same quality and chroma subsampling.

Usage (the photo from `apt-get download lomiri-wallpapers-16.04` and
`dpkg-deb -x`, nothing installed):
  python benchmarks/photos/make_photo.py EXTRACTED/usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg
"""

from __future__ import annotations

import hashlib
import io
import pathlib
import sys

import numpy as np
from PIL import Image

from hwtune.bench.pipeline import images

SOURCE_SHA256 = "a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f"
CROPS = ((1920, 1080), (3840, 2160))
HERE = pathlib.Path(__file__).parent


def centre_crop(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    return pixels[top:top + height, left:left + width]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[-1].strip(), file=sys.stderr)
        return 2
    data = pathlib.Path(argv[0]).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        print(f"{argv[0]}: sha256 {digest}, expected {SOURCE_SHA256}", file=sys.stderr)
        return 2
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    for width, height in CROPS:
        out = HERE / f"seeding-{width}x{height}.jpg"
        out.write_bytes(images.encode(centre_crop(pixels, width, height), "jpeg"))
        print(f"{out.name}: {out.stat().st_size} bytes, sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
