"""Decoders checked against each other: a faster decoder must not be a wrong one.

Each decoder's pixels are compared with Pillow's (libjpeg-turbo's accurate
integer IDCT with smooth chroma upsampling, libpng, libwebp) on the same
file. The tolerance, per format, on the absolute difference of 8-bit values:

- JPEG and WebP (lossy): mean <= 2.0 and 99th percentile <= 12 levels. The
  JPEG standard's conformance test (ITU-T T.83) lets an IDCT differ from the
  reference by a level, and libjpeg-turbo's fast IDCT does; how chroma is
  upsampled is the decoder's choice (JFIF does not fix it), and plain
  replication instead of the smooth filter moves colour edges by several
  levels. Both together (simplejpeg's fastdct and fastupsample), on the
  built-in images at every size and on four scikit-image photographs: mean
  1.1-1.6, p99 4-11 (the smaller the image, the more of it is edges). A wrong
  decoder is outside: one row off gives mean 2.1-8.4 and p99 13-74, red and
  blue swapped a mean of 26-71. Pillow, OpenCV, simplejpeg and PyTurboJPEG
  as configured here all give Pillow's pixels exactly (one libjpeg-turbo
  and one libwebp behind them).
- PNG (lossless): identical pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hwtune.bench.pipeline.codecs import Decoder
from hwtune.bench.pipeline.images import EncodedImage

TOLERANCE = {"jpeg": (2.0, 12), "webp": (2.0, 12), "png": (0.0, 0)}  # (mean, p99) levels
MAX_COMPARED = 8  # images per decoder: enough to catch a wrong decoder, cheap on 4K images


@dataclass(frozen=True)
class Agreement:
    decoder: str
    image: str
    fmt: str
    mean_abs: float | None
    p99_abs: float | None
    max_abs: int | None
    error: str | None = None  # the decoder failed or gave another shape

    @property
    def within(self) -> bool:
        if self.error is not None or self.mean_abs is None or self.p99_abs is None:
            return False
        mean, p99 = TOLERANCE[self.fmt]
        return self.mean_abs <= mean and self.p99_abs <= p99

    def to_json(self) -> dict[str, Any]:
        mean, p99 = TOLERANCE[self.fmt]
        return {"decoder": self.decoder, "image": self.image, "format": self.fmt,
                "mean_abs_diff": None if self.mean_abs is None else round(self.mean_abs, 4),
                "p99_abs_diff": self.p99_abs, "max_abs_diff": self.max_abs, "error": self.error,
                "tolerance": {"mean": mean, "p99": p99}, "within": self.within}


def difference(reference: Any, other: Any) -> tuple[float, float, int]:
    """(mean, 99th percentile, max) of the absolute difference of two uint8 images."""
    import numpy as np

    diff = np.abs(reference.astype(np.int16) - other.astype(np.int16))
    return float(diff.mean()), float(np.percentile(diff, 99, method="inverted_cdf")), int(diff.max())


def check_decoders(reference: Decoder, decoders: Sequence[Decoder], images: Sequence[EncodedImage]) -> list[Agreement]:
    out = []
    sample = list(images)[:MAX_COMPARED]
    refs = [reference.decode(img.data, img.fmt) for img in sample]
    for dec in decoders:
        if dec.name == reference.name:
            continue
        for img, ref in zip(sample, refs, strict=True):
            try:
                got = dec.decode(img.data, img.fmt)
            except Exception as exc:  # noqa: BLE001 - any decoder library's failure is its finding, not a crash
                out.append(Agreement(dec.name, img.name, img.fmt, None, None, None, f"failed: {_first_line(exc)}"))
                continue
            if getattr(got, "shape", None) != ref.shape:
                out.append(Agreement(dec.name, img.name, img.fmt, None, None, None,
                                     f"shape {getattr(got, 'shape', None)}, Pillow's {ref.shape}"))
                continue
            out.append(Agreement(dec.name, img.name, img.fmt, *difference(ref, got)))
    return out


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
