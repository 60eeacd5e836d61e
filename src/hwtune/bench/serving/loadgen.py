"""MLPerf LoadGen as the load generator: one run of one scenario against a system under test.

LoadGen issues the queries (Poisson arrivals in the Server scenario), times
them and judges the run; hwtune supplies the system under test through the
two callbacks LoadGen calls (issue_query, flush_queries) and reads the
verdict back from LoadGen's own `mlperf_log_summary.txt`, kept with
`mlperf_log_detail.txt` in the run's folder. Only this module imports
`mlperf_loadgen` (the `bench` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hwtune.errors import ConfigError

SCENARIOS = ("singlestream", "multistream", "offline", "server")
MLPERF_MIN_DURATION_S = 600.0  # what a submission needs: every run here is shorter, and says so
SAMPLES = 1024  # the query sample library: every sample is the same generated input
MULTISTREAM_SAMPLES_PER_QUERY = 8
SUMMARY = "mlperf_log_summary.txt"
PERCENTILES = {"p50": "50.00", "p90": "90.00", "p95": "95.00", "p97": "97.00", "p99": "99.00", "p99.9": "99.90"}


class SystemUnderTest(Protocol):
    """What LoadGen drives: `issue(ids)` hands over query sample ids; `complete` is set by run_loadgen."""

    complete: Callable[[list[int]], None]

    def issue(self, ids: list[int]) -> None: ...

    def flush(self) -> None: ...


def require_loadgen() -> Any:
    try:
        import mlperf_loadgen
    except ImportError:
        raise ConfigError("bench serve needs MLPerf LoadGen: pip install 'hwtune[bench]' "
                          "(the mlcommons-loadgen package is not installed)") from None
    return mlperf_loadgen


@dataclass(frozen=True)
class RunSettings:
    scenario: str
    min_duration_s: float
    target_qps: float | None = None  # server: the Poisson arrival rate; offline: the expected rate
    latency_slo_ms: float | None = None  # server: LoadGen's target latency (p99)
    expected_latency_ms: float | None = None  # single/multistream: sizes the run
    min_query_count: int = 1
    seed: int = 0  # LoadGen's schedule seed: a different Poisson sample path per run


@dataclass(frozen=True)
class LoadgenRun:
    scenario: str
    valid: bool
    log_dir: Path
    samples_per_s: float | None
    latency_ms: dict[str, float]  # p50, p90, p95, p99, p99.9, mean, min, max
    target_qps: float | None
    duration_s: float
    constraints_ok: bool | None  # server: p99 within the target latency
    early_stopping_ok: bool | None
    scheduled_qps: float | None = None  # server: the rate of the Poisson schedule LoadGen drew (not the target)
    foreign_cores: float | None = None  # CPU others used during the run (hwtune.bench.noise)
    summary: dict[str, str] = field(default_factory=dict)

    def invalid_reasons(self) -> list[str]:
        """Why LoadGen called the run INVALID, from its summary's checklist."""
        if self.valid:
            return []
        checks = (("Performance constraints satisfied", "p99 over the target latency"),
                  ("Min duration satisfied", "min duration not reached"),
                  ("Min queries satisfied", "min query count not reached"),
                  ("Early stopping satisfied", "too few queries for early stopping to vouch for the percentile"))
        return [why for key, why in checks if _yes(self.summary.get(key)) is False]


def test_settings(lg: Any, s: RunSettings) -> Any:
    ts = lg.TestSettings()
    ts.scenario = {"singlestream": lg.TestScenario.SingleStream, "multistream": lg.TestScenario.MultiStream,
                   "offline": lg.TestScenario.Offline, "server": lg.TestScenario.Server}[s.scenario]
    ts.mode = lg.TestMode.PerformanceOnly
    ts.min_duration_ms = int(s.min_duration_s * 1000)
    ts.min_query_count = s.min_query_count
    ts.schedule_rng_seed = s.seed
    # max_duration bounds a run whose system cannot keep up (0 would let it run on).
    ts.max_duration_ms = int(s.min_duration_s * 1000 * 4 + 5000)
    if s.scenario == "server":
        ts.server_target_qps = float(s.target_qps or 1.0)
        ts.server_target_latency_ns = int((s.latency_slo_ms or 1000.0) * 1e6)
        ts.server_target_latency_percentile = 0.99
    elif s.scenario == "offline":
        ts.offline_expected_qps = float(s.target_qps or 1.0)
    elif s.scenario == "singlestream":
        ts.single_stream_expected_latency_ns = int((s.expected_latency_ms or 1.0) * 1e6)
    else:
        ts.multi_stream_samples_per_query = MULTISTREAM_SAMPLES_PER_QUERY
        ts.multi_stream_expected_latency_ns = int((s.expected_latency_ms or 1.0) * 1e6)
    return ts


def run_loadgen(sut: SystemUnderTest, settings: RunSettings, log_dir: Path) -> LoadgenRun:
    """One LoadGen run against `sut`; LoadGen's logs go to `log_dir`."""
    lg = require_loadgen()
    log_dir.mkdir(parents=True, exist_ok=True)

    def issue(samples: list[Any]) -> None:
        sut.issue([s.id for s in samples])

    def complete(ids: list[int]) -> None:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])

    sut.complete = complete
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    handle = lg.ConstructSUT(issue, sut.flush)
    qsl = lg.ConstructQSL(SAMPLES, SAMPLES, lambda _ids: None, lambda _ids: None)
    try:
        lg.StartTestWithLogSettings(handle, qsl, test_settings(lg, settings), log)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(handle)
    for empty in ("mlperf_log_trace.json", "mlperf_log_accuracy.json"):  # tracing off, no accuracy mode
        path = log_dir / empty
        if path.exists() and path.stat().st_size <= 8:
            path.unlink()
    summary_path = log_dir / SUMMARY
    try:
        text = summary_path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError as exc:
        raise ConfigError(f"LoadGen wrote no readable summary in {log_dir}: {exc.strerror or exc}") from None
    return run_of_summary(parse_summary(text), settings, log_dir)


def parse_summary(text: str) -> dict[str, str]:
    """`key : value` lines of mlperf_log_summary.txt (the first occurrence of each key), split at
    the first colon: linear in the line, where a pattern of lazy and greedy spaces was not."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        key = key.strip()
        if colon and key and not key.startswith("=") and key not in out:
            out[key] = value.strip()
    return out


def run_of_summary(summary: dict[str, str], settings: RunSettings, log_dir: Path) -> LoadgenRun:
    verdict = summary.get("Result is")
    if verdict not in ("VALID", "INVALID"):
        raise ConfigError(f"{log_dir / SUMMARY}: no 'Result is' line; LoadGen did not finish the run")
    latency = {}
    for name, pct in PERCENTILES.items():
        v = _float(summary.get(f"{pct} percentile latency (ns)"))
        if v is not None:
            latency[name] = v / 1e6
    for name in ("Mean", "Min", "Max"):
        v = _float(summary.get(f"{name} latency (ns)"))
        if v is not None:
            latency[name.lower()] = v / 1e6
    rate = next((_float(summary[k]) for k in ("Completed samples per second", "Samples per second")
                 if k in summary), None)
    for pct in ("90.0", "99.0"):  # single/multistream: the headline percentile per query
        v = _float(summary.get(f"{pct}th percentile latency (ns)"))
        if v is not None:
            latency.setdefault(f"p{pct[:2]}", v / 1e6)
    if rate is None and latency.get("mean"):
        per_query = MULTISTREAM_SAMPLES_PER_QUERY if settings.scenario == "multistream" else 1
        rate = per_query * 1000.0 / latency["mean"]  # one query in flight at a time
    return LoadgenRun(settings.scenario, verdict == "VALID", log_dir, rate, latency, settings.target_qps,
                      settings.min_duration_s, _yes(summary.get("Performance constraints satisfied")),
                      _yes(summary.get("Early stopping satisfied")),
                      scheduled_qps=_float(summary.get("Scheduled samples per second")), summary=summary)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _yes(text: str | None) -> bool | None:
    return None if text is None else text.strip().lower().startswith("yes")

