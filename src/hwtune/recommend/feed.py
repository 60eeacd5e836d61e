"""Can a planned host's CPUs feed its GPUs? Pure arithmetic on a measured image pipeline.

`hwtune bench run --pipeline image` measures the CPU time one request spends in the stages
around the model (read, decode, resize, normalise, top-k). At the rate a host's GPUs are
estimated to serve, those stages need rate x CPU seconds per request cores; a host type with
fewer cores (`hosts.csv` cpu_cores) cannot feed its GPUs, and sustains only
cores / CPU seconds per request. The CPU time is taken as measured: no scaling for the
planned host's clock or core architecture, and every core is counted as free for the
pipeline (the serving process's own threads are not subtracted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The stages a GPU server runs on its CPUs for an image request; the model ("infer") is the GPU's.
HOST_STAGES = ("read", "decode", "resize", "normalise", "postprocess")


@dataclass(frozen=True)
class PipelineCpu:
    """CPU milliseconds per request of the host stages, from one measured run."""

    cpu_ms: tuple[tuple[str, float], ...]  # (stage, mean CPU ms per request), HOST_STAGES order
    decoder: str  # the decoder the figures were measured with
    images: str  # what was decoded, e.g. "1920x1080 jpeg"
    source: str  # the file the figures came from, as given

    @property
    def cpu_s_per_request(self) -> float:
        return sum(ms for _, ms in self.cpu_ms) / 1000.0


@dataclass(frozen=True)
class CpuFeed:
    """One setup's host against the pipeline: the cores its GPUs' rate needs and what it has."""

    rate_per_host: float  # requests/s of the fullest host's GPUs
    needed_cores: float
    host_cores: int
    feeds_per_s: float  # requests/s the host's cores sustain through the host stages (inf: no CPU)
    pipeline: PipelineCpu

    @property
    def short(self) -> bool:
        return self.needed_cores > self.host_cores

    @property
    def feeds_fraction(self) -> float:
        """Share of the GPUs' rate the host's CPUs keep up with, at most 1."""
        if self.rate_per_host <= 0:
            return 1.0
        return min(1.0, self.feeds_per_s / self.rate_per_host)


def image_input(inputs: str) -> bool:
    """Whether a counted model's inputs ("x=1x3x224x224") are one image: 4 dims, 1 or 3
    channels second or last (the shape `bench run --pipeline image` feeds)."""
    parts = [p for p in inputs.split(", ") if p]
    if len(parts) != 1:
        return False
    dims = parts[0].rpartition("=")[2].split("x")
    return len(dims) == 4 and (dims[1] in ("1", "3") or dims[3] in ("1", "3"))


def cpu_feed(throughput_per_s: float, cards: int, cards_per_host: int, host_cores: int,
             pipeline: PipelineCpu) -> CpuFeed:
    """The feed of a setup of `cards` GPUs serving `throughput_per_s` in all, `cards_per_host`
    to a host of `host_cores` cores.

    The rate is the fullest host's (a partly filled last host needs less), which equals the
    setup's throughput over its hosts when every host is full.
    """
    if cards <= 0 or cards_per_host <= 0 or throughput_per_s < 0 or host_cores < 0:
        raise ValueError(f"cpu_feed: cards {cards}, cards per host {cards_per_host}, "
                         f"throughput {throughput_per_s}, cores {host_cores}")
    rate = throughput_per_s * min(cards, cards_per_host) / cards
    cpu_s = pipeline.cpu_s_per_request
    feeds = host_cores / cpu_s if cpu_s > 0 else math.inf
    return CpuFeed(rate_per_host=rate, needed_cores=rate * cpu_s, host_cores=host_cores,
                   feeds_per_s=feeds, pipeline=pipeline)
