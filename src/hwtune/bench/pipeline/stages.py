"""The stages of one image request, each a function of the one before's output.

read bytes -> decode -> resize/crop -> normalise and lay out -> infer -> top-k.
Normalisation is ImageNet's (mean 0.485/0.456/0.406, std 0.229/0.224/0.225 on
0-1 values), the one torchvision's and most image models' preprocessing use; a
uint8 input is only laid out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwtune.bench.pipeline.codecs import Decoder, Resizer
from hwtune.bench.pipeline.images import EncodedImage
from hwtune.bench.pipeline.model import ImageModel, InputSpec

STAGES = ("read", "decode", "resize", "normalise", "infer", "postprocess")
MODEL_STAGE = "infer"
TOP_K = 5
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

Stage = Callable[[Any], Any]


@dataclass(frozen=True)
class Staged:
    """An image on the pipeline's own copy (a private file), ready for the read stage."""

    path: Path
    image: EncodedImage


def read(item: Staged) -> tuple[bytes, str]:
    with open(item.path, "rb") as f:
        return f.read(), item.image.fmt


def decode_stage(decoder: Decoder) -> Stage:
    return lambda got: decoder.decode(got[0], got[1])


def resize_stage(resizer: Resizer, spec: InputSpec) -> Stage:
    return lambda rgb: resizer.resize(rgb, spec.height, spec.width)


def normalise_stage(spec: InputSpec) -> Stage:
    import numpy as np

    scale = (1.0 / (255.0 * np.asarray(STD, dtype=np.float32)))
    shift = (np.asarray(MEAN, dtype=np.float32) / np.asarray(STD, dtype=np.float32))

    def normalise(rgb: Any) -> Any:
        x = rgb if spec.channels == 3 else rgb.mean(axis=2, keepdims=True).astype(np.uint8)
        if spec.dtype == "float32":
            x = x.astype(np.float32) * scale[: spec.channels] - shift[: spec.channels]
        x = x.transpose(2, 0, 1) if spec.layout == "NCHW" else x
        return np.ascontiguousarray(x)[None]

    return normalise


def top_k(logits: Any, k: int = TOP_K) -> list[tuple[int, float]]:
    """The k most likely classes with their softmax probabilities, most likely first."""
    import numpy as np

    z = np.asarray(logits, dtype=np.float32).reshape(-1)
    k = min(k, z.size)
    idx = np.argpartition(-z, k - 1)[:k]
    e = np.exp(z - z.max())
    p = e / e.sum()
    order = idx[np.argsort(-z[idx])]
    return [(int(i), float(p[i])) for i in order]


def image_stages(decoder: Decoder, resizer: Resizer, model: ImageModel) -> list[tuple[str, Stage]]:
    return [("read", read), ("decode", decode_stage(decoder)), ("resize", resize_stage(resizer, model.spec)),
            ("normalise", normalise_stage(model.spec)), ("infer", model.infer), ("postprocess", top_k)]
