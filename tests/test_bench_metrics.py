"""Metric math on known timings, foreign-load arithmetic, comparison verdicts."""

from __future__ import annotations

from collections import namedtuple

import pytest

from hwtune.bench import metrics
from hwtune.bench.measure import StopRule, run_sync, run_threads
from hwtune.bench.micro.compare import compare_runs
from hwtune.bench.noise import NOISY_FOREIGN_CORES, foreign_load


def test_nearest_rank_percentiles_on_1_to_100_ms():
    lat = [i / 1000 for i in range(100, 0, -1)]  # 100 ms .. 1 ms, unsorted on purpose
    s = metrics.latency_stats(lat)
    assert (s.p50_ms, s.p90_ms, s.p99_ms) == pytest.approx((50.0, 90.0, 99.0))
    assert s.min_ms == pytest.approx(1.0) and s.max_ms == pytest.approx(100.0)
    assert s.mean_ms == pytest.approx(50.5)
    assert s.count == 100


def test_nearest_rank_is_a_value_that_occurred():
    # 10 samples: p99 rank = ceil(9.9) = 10 -> the maximum; p90 rank 9; p50 rank 5
    ms = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    s = metrics.latency_stats([x / 1000 for x in ms])
    assert s.p50_ms == pytest.approx(5) and s.p90_ms == pytest.approx(9) and s.p99_ms == pytest.approx(100)
    assert metrics.nearest_rank([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        metrics.nearest_rank([], 50)
    with pytest.raises(ValueError):
        metrics.nearest_rank([1.0], 0)


def test_throughput_is_frames_over_wall_time_not_batch_over_latency():
    # 4 requests in flight, each 100 ms, batch 8, 40 requests done in 1.0 s of wall time:
    # 320 fps; batch / median latency would say 80 fps.
    assert metrics.throughput_fps(40, 8, 1.0) == pytest.approx(320.0)
    with pytest.raises(ValueError):
        metrics.throughput_fps(1, 1, 0.0)


def test_repeat_median_and_spread():
    sp = metrics.spread([100.0, 110.0, 90.0])
    assert sp.median == 100.0 and sp.low == 90.0 and sp.high == 110.0
    assert sp.relative == pytest.approx(0.2)
    runs = [metrics.latency_stats([0.001, 0.002]), metrics.latency_stats([0.003, 0.004]),
            metrics.latency_stats([0.005, 0.009])]
    med = metrics.median_stats(runs)
    assert med.p50_ms == pytest.approx(3.0) and med.count == 6
    assert med.min_ms == pytest.approx(1.0) and med.max_ms == pytest.approx(9.0)


def test_achieved_gflops():
    assert metrics.achieved_gflops(2_000_000_000, 50.0) == pytest.approx(100.0)


CpuTimes = namedtuple("CpuTimes", "user nice system idle iowait irq softirq steal")


def test_foreign_load_subtracts_own_time_and_counts_steal():
    before = CpuTimes(100, 0, 10, 500, 0, 0, 0, 0)
    # Over 2 s on 2 CPUs: 3.0 s busy user+system, 0.2 s steal; this process used 2.4 s.
    after = CpuTimes(102.6, 0, 10.4, 500.8, 0, 0, 0, 0.2)
    sample = foreign_load(before, after, own_s=2.4, window_s=2.0)
    assert sample.foreign_cores == pytest.approx((3.2 - 2.4) / 2.0)
    assert sample.steal_cores == pytest.approx(0.1)
    assert sample.noisy
    quiet = foreign_load(before, CpuTimes(101.0, 0, 10, 501, 0, 0, 0, 0), own_s=1.0, window_s=1.0)
    assert quiet.foreign_cores == 0.0 and not quiet.noisy
    assert NOISY_FOREIGN_CORES > 0


def test_run_sync_stops_on_time_and_min_count():
    calls = []
    t = run_sync(lambda: calls.append(1), StopRule(time_s=0.0, min_count=7))
    assert t.requests == 7 == len(calls)
    t = run_sync(lambda: None, StopRule(time_s=0.05, min_count=1))
    assert t.wall_s >= 0.05


def test_run_threads_counts_every_completed_request():
    import time

    t = run_threads([lambda: time.sleep(0.01)] * 3, StopRule(time_s=0.1, min_count=5))
    assert t.requests >= 5
    assert t.wall_s >= 0.1
    # three requests overlap: throughput clearly above one request at a time
    assert t.requests / t.wall_s > 150  # one at a time would be at most 100/s


def _result(windows, p99, noisy=False, **key):
    base = {"backend": "openvino", "device": "CPU", "model": "m", "batch": 1, "mode": "sync",
            "precision_requested": "fp32", "streams_requested": None, "threads_requested": None}
    base.update(key)
    return {**base, "throughput_fps": sorted(windows)[len(windows) // 2], "latency_ms": {"p99": p99},
            "throughput_windows_fps": list(windows), "noisy": noisy}


def test_compare_claims_faster_or_slower_only_when_the_interval_excludes_zero():
    steady = [100, 101, 99, 100, 100]
    noisy = [80, 120, 95, 130, 85]  # +-25% windows, as this VM gives
    before = {"host": {"digest": "a", "source": "probe_facts"}, "versions": {"openvino": "1"},
              "results": [_result(steady, 10), _result(noisy, 10, batch=4), _result(steady, 10, mode="async"),
                          _result([100], 10, batch=8)]}
    after = {"host": {"digest": "b", "source": "probe_facts"}, "versions": {"openvino": "2"},
             "results": [_result([110, 111, 109, 110, 110], 9), _result([x * 1.033 for x in noisy[::-1]], 10, batch=4),
                         _result([90, 91, 89, 90, 90], 10, mode="async"), _result([103.3], 10, batch=8),
                         _result(steady, 5, model="other")]}
    cmp = compare_runs(before, after)
    verdicts = [p.verdict for p in cmp.pairs]
    assert verdicts[0] == "faster" and verdicts[2] == "slower" and verdicts[4] == "only after"
    # +3.3% inside windows that vary by 25%: no claim, and the interval's reach is given.
    assert verdicts[1].startswith("no measurable difference (+-") and verdicts[1].endswith("%)")
    change = cmp.pairs[1].to_json()["throughput_change"]
    assert change["ci95"][0] < 0 < change["ci95"][1]
    assert float(verdicts[1].split("+-")[1].rstrip("%)")) > 3.3
    # One window a side: no interval, and the verdict says what to do.
    assert verdicts[3].startswith("cannot tell") and "--repeat" in verdicts[3]
    assert cmp.pairs[0].throughput_ratio == pytest.approx(1.1)
    assert cmp.pairs[0].p99_ratio == pytest.approx(0.9)
    assert any("host facts differ" in n for n in cmp.notes)
    assert any("openvino 1 -> 2" in n for n in cmp.notes)


def test_compare_speaks_of_medians_where_the_medians_rise_and_the_means_fall(tmp_path, monkeypatch):
    """The reported case: fps went up in the columns while the change said -9.8%. Before has one
    fast outlier window, after is steadily a little faster: the medians rise 5%, the means fall."""
    import json
    import statistics

    from bench_helpers import invoke_bench

    before_w, after_w = [100, 100, 100, 100, 200], [105, 105, 105, 105, 110]
    assert statistics.median(after_w) > statistics.median(before_w)
    assert statistics.fmean(after_w) < statistics.fmean(before_w)
    files = []
    for name, w in (("before", before_w), ("after", after_w)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"results": [_result(w, 10)]}))
        files.append(str(path))
    monkeypatch.setenv("HWTUNE_DATA_DIR", str(tmp_path / "data"))
    doc = json.loads(invoke_bench("compare", *files, "--json").stdout)
    (pair,) = doc["pairs"]
    assert (pair["throughput_fps"]["before"], pair["throughput_fps"]["after"]) == (100, 105)
    change = pair["throughput_change"]
    assert change["relative"] == pytest.approx(0.05)
    assert change["ci95"][0] <= 0.05 <= change["ci95"][1]
    assert pair["throughput_fps"]["ratio"] == pytest.approx(1.05)
    # The table a user reads: the change column has the columns' sign.
    table = invoke_bench("compare", *files).stdout
    row = next(line for line in table.splitlines() if "openvino/CPU" in line)
    assert "+5.0%" in row and "-" not in row.split("+5.0%")[0].split("105.0")[-1]


def test_median_difference_interval_is_of_the_median():
    from hwtune.bench.stats import median_interval, relative_difference

    # One wild window on each side moves a mean-based interval; the median's does not see it.
    d = relative_difference([100] * 8 + [1000], [110] * 8 + [10])
    assert d.relative == pytest.approx(0.10) and d.excludes_zero and d.low > 0
    m = median_interval([812, 790, 845, 801, 830])
    assert (m.median, m.low, m.high) == (812, 790, 845)
    assert m.coverage == pytest.approx(1 - 2 / 32)  # [min, max] of five values: 93.75%
