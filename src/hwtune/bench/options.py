"""What each `hwtune bench` subcommand is asked for: one frozen value per subcommand, built and
checked by the CLI (hwtune.cli_bench*), read by the code that measures; and `Output`, how the CLI
shows and keeps the result. Plain values only: the types named here are imported for type
checking alone, so the CLI imports this module at start-up without a runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hwtune.bench.micro.runner import BenchPlan
    from hwtune.bench.pipeline.options import PipelineOptions
    from hwtune.bench.serving.batcher import Batching


@dataclass(frozen=True)
class Output:
    """How a measured run is shown and kept: JSON, CSV or the table; saved for `bench compare`."""

    as_json: bool = False
    as_csv: bool = False
    wide: bool = False
    save: bool = True


@dataclass(frozen=True)
class RunOptions:
    """`bench run` (and bare `bench`): the model alone per device, or the whole request."""

    plan: BenchPlan
    pipeline: PipelineOptions | None = None  # `--pipeline image`: time the request stage by stage


@dataclass(frozen=True)
class TuneOptions:
    """`bench tune`: search streams, threads, batch and precision per device within a p99 budget."""

    plan: BenchPlan
    latency_slo_ms: float | None


@dataclass(frozen=True)
class ServeOptions:
    """`bench serve`: one LoadGen scenario per device, or (`tune`) the batching search."""

    plan: BenchPlan
    scenario: str
    latency_slo_ms: float | None
    qps: float | None  # server: one run at this rate instead of the search
    batching: Batching
    instances: int  # 0: one per core on a CPU
    duration_s: float
    step_s: float
    repeat: int
    tune: bool
    pipeline: PipelineOptions | None = None  # the request pipeline inside the system under test


@dataclass(frozen=True)
class CompareOptions:
    before: str  # a saved run's file or name
    after: str
    as_json: bool = False


@dataclass(frozen=True)
class DevicesOptions:
    as_json: bool = False


@dataclass(frozen=True)
class ExportOptions:
    model: str
    out: Path
    precision: str = "fp32"
    as_json: bool = False
