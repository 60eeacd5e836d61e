"""What a pipeline benchmark is asked for: one typed value the CLI builds and the domain reads."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from hwtune.bench.pipeline.images import FORMATS, SIZE_ALIASES, SIZES
from hwtune.bench.zoo import DEFAULT_MODEL
from hwtune.errors import ConfigError

PIPELINES = ("image",)
MAX_TIME_S = 3600


@dataclass(frozen=True)
class PipelineOptions:
    pipeline: str = "image"
    model: str = DEFAULT_MODEL  # a built-in, an .onnx file, or fixed:20ms (a timer standing for an accelerator)
    backend: str = "onnxruntime"
    device: str = "CPU"
    precision: str = "fp32"
    threads: int | None = None
    pin: bool | None = None
    images_dir: Path | None = None  # None: the built-in images
    sizes: tuple[str, ...] = ("1920x1080",)
    formats: tuple[str, ...] = ("jpeg",)
    decoders: tuple[str, ...] = ()  # empty: every decoder present here
    resizer: str = ""  # empty: the first present (opencv, then pillow)
    time_s: float = 2.0  # per decoder, split between the staged and the plain loop
    min_count: int = 10
    pin_stages: bool = False

    def validate(self) -> PipelineOptions:
        """Checked and normalised (size aliases resolved); raises ConfigError naming the value."""
        if self.pipeline not in PIPELINES:
            raise ConfigError(f"unknown pipeline {self.pipeline!r}; pipelines: {', '.join(PIPELINES)}")
        sizes = tuple(SIZE_ALIASES.get(s.lower(), s.lower()) for s in self.sizes)
        for s in sizes:
            if s not in SIZES:
                raise ConfigError(f"unknown image size {s!r}; sizes: {', '.join(SIZES)} "
                                  f"(or {', '.join(SIZE_ALIASES)})")
        formats = tuple("jpeg" if f.lower() == "jpg" else f.lower() for f in self.formats)
        for f in formats:
            if f not in FORMATS:
                raise ConfigError(f"unknown image format {f!r}; formats: {', '.join(FORMATS)}")
        if not sizes or not formats:
            raise ConfigError("the built-in images need at least one size and one format")
        if not 0 < self.time_s <= MAX_TIME_S:
            raise ConfigError(f"time {self.time_s:g} s: must be more than 0 and at most {MAX_TIME_S} seconds")
        if self.min_count < 1:
            raise ConfigError("the minimum request count must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("threads must be 1 or more")
        return replace(self, sizes=sizes, formats=formats)
