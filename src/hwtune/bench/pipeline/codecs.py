"""Image decoders and resizers as backends, each optional and named in the result.

A decoder turns encoded bytes into an HxWx3 uint8 RGB array; a resizer turns
that into the model's HxW (crop to the model's aspect ratio, then scale).
The libraries are imported when a backend is looked up, never at import.
A JPEG-only decoder (simplejpeg, PyTurboJPEG, nvJPEG) hands PNG and WebP to
Pillow and is named for it ("simplejpeg (png, webp: pillow)").

nvJPEG runs through `torchvision.io.decode_jpeg(device="cuda")`: the CUDA
wheels are gigabytes and no GPU is here, so it is not in any extra and its
adapter is tested through a fake torch (tests/test_pipeline_codecs.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwtune.errors import ConfigError

DECODERS = ("pillow", "opencv", "simplejpeg", "turbojpeg", "nvjpeg")
RESIZERS = ("opencv", "pillow")  # the first present is the default
ALL_FORMATS = frozenset({"jpeg", "png", "webp"})


@dataclass(frozen=True)
class Decoder:
    name: str
    version: str
    formats: frozenset[str]  # what it decodes itself; the rest goes to Pillow
    decode_own: Callable[[bytes], Any]
    fallback: Callable[[bytes], Any] | None = None
    device: str = "CPU"

    def decode(self, data: bytes, fmt: str) -> Any:
        if fmt in self.formats or self.fallback is None:
            return self.decode_own(data)
        return self.fallback(data)

    def label(self, formats: set[str] | frozenset[str] = ALL_FORMATS) -> str:
        other = sorted(set(formats) - self.formats)
        return f"{self.name} ({', '.join(other)}: pillow)" if other and self.fallback else self.name


@dataclass(frozen=True)
class Resizer:
    name: str
    version: str
    resize: Callable[[Any, int, int], Any]  # (HxWx3 uint8, out height, out width) -> out HxWx3 uint8


def crop_box(width: int, height: int, out_w: int, out_h: int) -> tuple[int, int, int, int]:
    """The centred box (left, top, right, bottom) of the source with the output's aspect ratio."""
    if width * out_h > height * out_w:  # wider than wanted: crop the sides
        w = max(1, round(height * out_w / out_h))
        left = (width - w) // 2
        return left, 0, left + w, height
    h = max(1, round(width * out_h / out_w))
    top = (height - h) // 2
    return 0, top, width, top + h


def decoder(name: str) -> Decoder:
    """The named decoder; ConfigError says why it cannot run here."""
    if name not in _DECODER_MAKERS:
        raise ConfigError(f"unknown image decoder {name!r}; use {', '.join(DECODERS)}")
    try:
        return _DECODER_MAKERS[name]()
    except (ImportError, OSError, RuntimeError) as exc:
        raise ConfigError(f"image decoder {name} is not usable here: {_first_line(exc)}") from None


def resizer(name: str) -> Resizer:
    if name not in _RESIZER_MAKERS:
        raise ConfigError(f"unknown resizer {name!r}; use {', '.join(RESIZERS)}")
    try:
        return _RESIZER_MAKERS[name]()
    except ImportError as exc:
        raise ConfigError(f"resizer {name} is not usable here: {_first_line(exc)}") from None


def available(names: tuple[str, ...], make: Callable[[str], Any]) -> tuple[list[Any], list[str]]:
    """The backends among `names` that load here, and one line for each that does not."""
    found, missing = [], []
    for n in names:
        try:
            found.append(make(n))
        except ConfigError as exc:
            missing.append(exc.message)
    return found, missing


def _pillow_decode(data: bytes) -> Any:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def _pillow() -> Decoder:
    import PIL

    return Decoder("pillow", PIL.__version__, ALL_FORMATS, _pillow_decode)


def _opencv() -> Decoder:
    import cv2
    import numpy as np

    def decode(data: bytes) -> Any:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("OpenCV could not decode the image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # models are trained on RGB: the swap is part of the cost

    return Decoder("opencv", cv2.__version__, ALL_FORMATS, decode)


def _simplejpeg() -> Decoder:
    import simplejpeg

    return Decoder("simplejpeg", simplejpeg.__version__, frozenset({"jpeg"}),
                   lambda data: simplejpeg.decode_jpeg(data, colorspace="RGB"), _pillow_decode)


def _turbojpeg() -> Decoder:
    import turbojpeg

    tj = turbojpeg.TurboJPEG()  # OSError/RuntimeError when libturbojpeg is missing or too old
    return Decoder("turbojpeg", f"PyTurboJPEG {turbojpeg.__version__}", frozenset({"jpeg"}),
                   lambda data: tj.decode(data, pixel_format=turbojpeg.TJPF_RGB), _pillow_decode)


def _nvjpeg() -> Decoder:
    import torch
    import torchvision
    from torchvision.io import decode_jpeg

    if not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device (nvJPEG decodes on the GPU)")

    def decode(data: bytes) -> Any:
        encoded = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        chw = decode_jpeg(encoded, device="cuda")
        # back to the host, as the CPU stages after it need; a GPU-side resize would keep it there
        return chw.permute(1, 2, 0).contiguous().cpu().numpy()

    return Decoder("nvjpeg", f"torchvision {torchvision.__version__}", frozenset({"jpeg"}), decode,
                   _pillow_decode, device="GPU")


def _pillow_resizer() -> Resizer:
    import numpy as np
    import PIL
    from PIL import Image

    def resize(rgb: Any, out_h: int, out_w: int) -> Any:
        box = crop_box(rgb.shape[1], rgb.shape[0], out_w, out_h)
        return np.asarray(Image.fromarray(rgb).resize((out_w, out_h), Image.Resampling.BILINEAR, box=box))

    return Resizer("pillow", PIL.__version__, resize)


def _opencv_resizer() -> Resizer:
    import cv2

    def resize(rgb: Any, out_h: int, out_w: int) -> Any:
        left, top, right, bottom = crop_box(rgb.shape[1], rgb.shape[0], out_w, out_h)
        # INTER_AREA averages the source pixels under each output pixel (no aliasing on a
        # large shrink, as Pillow's BILINEAR widens its filter); INTER_LINEAR would not
        return cv2.resize(rgb[top:bottom, left:right], (out_w, out_h), interpolation=cv2.INTER_AREA)

    return Resizer("opencv", cv2.__version__, resize)


_DECODER_MAKERS: dict[str, Callable[[], Decoder]] = {
    "pillow": _pillow, "opencv": _opencv, "simplejpeg": _simplejpeg, "turbojpeg": _turbojpeg, "nvjpeg": _nvjpeg}
_RESIZER_MAKERS: dict[str, Callable[[], Resizer]] = {"pillow": _pillow_resizer, "opencv": _opencv_resizer}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
