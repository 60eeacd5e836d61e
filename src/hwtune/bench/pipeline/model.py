"""The model stage of the request pipeline: a bench engine fed the pipeline's own tensor, or the
fixed-time model (`fixed:20ms`), a timer standing for an accelerator that uses no host CPU."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hwtune.errors import ConfigError

FIXED_INPUT = (1, 3, 224, 224)  # what the fixed-time model asks for: ResNet-50's input, NCHW float
FIXED_CLASSES = 1000


@dataclass(frozen=True)
class InputSpec:
    """What the model takes: name, layout (NCHW or NHWC), height, width, channels, numpy dtype name."""

    name: str
    layout: str
    height: int
    width: int
    channels: int
    dtype: str

    def label(self) -> str:
        return f"{self.layout} {self.dtype} {self.channels}x{self.height}x{self.width}"


@dataclass
class ImageModel:
    name: str
    backend: str
    device: str
    spec: InputSpec
    infer: Callable[[Any], Any]  # tensor (batch 1) -> the first output
    close: Callable[[], None]
    uses_host_cpu: bool = True  # False: the fixed-time model (an accelerator stand-in)
    precision: str = "fp32"


def input_spec(name: str, dims: list[Any], dtype: str) -> InputSpec:
    """Read the layout from a 4-d image input: channels (1 or 3) second is NCHW, last is NHWC."""
    if len(dims) != 4 or not all(isinstance(d, int) for d in dims[1:]):
        raise ConfigError(f"input {name!r} ({'x'.join(str(d) for d in dims)}) is not an image of fixed size "
                          "(batch x 3 x H x W or batch x H x W x 3); the image pipeline cannot feed it")
    if dims[1] in (1, 3):
        return InputSpec(name, "NCHW", dims[2], dims[3], dims[1], dtype)
    if dims[3] in (1, 3):
        return InputSpec(name, "NHWC", dims[1], dims[2], dims[3], dtype)
    raise ConfigError(f"input {name!r} ({'x'.join(str(d) for d in dims)}) has no 1- or 3-channel axis "
                      "second or last; the image pipeline cannot feed it")


def fixed_image_model(name: str, service_s: float) -> ImageModel:
    import numpy as np

    logits = np.random.default_rng(7).standard_normal((1, FIXED_CLASSES)).astype(np.float32)

    def infer(_tensor: Any) -> Any:
        end = time.perf_counter() + service_s
        while (left := end - time.perf_counter()) > 0:
            time.sleep(left)
        return logits

    _, c, h, w = FIXED_INPUT
    return ImageModel(name, "fixed", "timer", InputSpec("image", "NCHW", h, w, c, "float32"), infer,
                      lambda: None, uses_host_cpu=False)


def open_image_model(plan: Any, threads: int | None) -> ImageModel:
    """The first device the bench plan selects, compiled for batch 1, fed through `infer_on`."""
    from hwtune.bench.engines import open_engine
    from hwtune.bench.feeds import make_feeds
    from hwtune.bench.micro.runner import Bench
    from hwtune.bench.modelfile import precision_path
    from hwtune.bench.result import RunConfig

    bench = Bench(replace(plan, measure_peak=False))
    if len(bench.source.input_dims) != 1:
        raise ConfigError(f"{bench.source.name} has {len(bench.source.input_dims)} inputs; the image pipeline "
                          "feeds models with one image input")
    name = next(iter(bench.source.input_dims))
    shapes = bench.source.shapes(1)
    import numpy as np

    spec = input_spec(name, list(shapes[name]), str(np.dtype(bench.types[name])))
    if spec.dtype not in ("float32", "uint8"):
        raise ConfigError(f"input {name!r} is {spec.dtype}; the image pipeline feeds float32 or uint8")
    info = bench.targets[0]
    precision = plan.precisions[0]
    # spin off: between two requests the pipeline decodes; spinning pool threads would take its cores
    cfg = RunConfig(info.backend, info.device, 1, "sync", precision, None, threads, plan.pin, spin=False)
    reason = bench.supports(cfg)
    if reason:
        raise ConfigError(reason)
    engine = open_engine(cfg, precision_path(bench.source, precision, shapes, bench.cache_dir),
                         make_feeds(shapes, bench.types))
    return ImageModel(bench.source.name, info.backend, info.device, spec,
                      lambda tensor: engine.infer_on({name: tensor})[0], engine.close,
                      uses_host_cpu=info.device.upper().startswith("CPU"), precision=precision)
