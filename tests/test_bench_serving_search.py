"""The server search on fakes of LoadGen: where it starts, how long its steps are, how it confirms,
and what it answers on a busy host. Deterministic and fast: a fake run answers from M/D/1 theory."""

from __future__ import annotations

import json
import math
from itertools import pairwise
from pathlib import Path

import pytest

from bench_helpers import invoke_bench as invoke
from hwtune.bench.serving import queueing
from hwtune.bench.serving import search as servesearch
from hwtune.bench.serving.loadgen import LoadgenRun, RunSettings
from hwtune.bench.serving.search import search
from hwtune.bench.serving.tail import early_stopping_floor, judge, judged_percentile

D, SLO_MS = 0.005, 40.0  # fixed 5 ms service, p99 budget 40 ms: lambda* = 143.7 QPS


class FakeLoadgen:
    """LoadGen's answer for an M/D/1 queue of service D: percentiles from theory (x `stretch`, the
    host's slowness), VALID when the expected over-budget count passes early stopping. `busy(settings,
    n)` gives the foreign cores of the n-th run; `burst(n)` multiplies the n-th run's latencies."""

    def __init__(self, stretch=1.0, busy=None, burst=None, invalid_above=math.inf):
        self.stretch, self.busy, self.burst, self.invalid_above = stretch, busy, burst, invalid_above
        self.calls: list[RunSettings] = []

    def __call__(self, s: RunSettings) -> LoadgenRun:
        self.calls.append(s)
        rate, k = s.target_qps, len(self.calls)
        factor = self.stretch * (self.burst(k) if self.burst else 1.0)
        lat = {}
        for name, q in (("p50", .5), ("p90", .9), ("p95", .95), ("p97", .97), ("p99", .99), ("p99.9", .999)):
            lat[name] = queueing.sojourn_quantile(q, rate, D, cap_s=10) * 1e3 * factor if rate * D < 1 else math.inf
        n = max(s.min_query_count, int(rate * s.min_duration_s))
        over = 1 - queueing.sojourn_cdf(SLO_MS / 1e3 / factor, rate, D) if rate * D < 1 else 1.0
        ok = lat["p99"] <= SLO_MS
        es = n * over <= queueing.early_stopping_max_overlatency(n)
        foreign = self.busy(s, k) if self.busy else 0.0
        valid = ok and es and rate <= self.invalid_above and foreign < 0.1
        summary = {"Performance constraints satisfied": "Yes" if ok else "NO",
                   "Early stopping satisfied": "Yes" if es else "NO", "Min duration satisfied": "Yes"}
        return LoadgenRun("server", valid, Path(f"/logs/{k:02d}"), rate, lat, rate, s.min_duration_s, ok, es,
                          scheduled_qps=rate, foreign_cores=foreign, summary=summary)


def _search(fake, capacity=1 / D, duration_s=10.0, step_s=2.0, sleeps=None):
    return search(fake, capacity, 1, SLO_MS, duration_s, step_s, lambda _m: None,
                  sleep=(sleeps.append if sleeps is not None else lambda _s: None))


def test_judged_percentile_is_what_early_stopping_needs_and_steps_start_at_its_floor():
    assert early_stopping_floor() == 459  # LoadGen: 459 queries, none over, vouch for a p99
    q = judged_percentile(8000)
    assert 0.993 < q < 0.995  # 8,000 queries: early stopping tolerates 0.74% over, 0.63% passes 9 in 10
    assert judged_percentile(100_000) < q < judged_percentile(1000)  # longer runs need less margin


def test_a_step_is_unsure_until_its_interval_clears_the_budget_and_says_how_many_queries_that_takes():
    lat = {"p90": 10.0, "p95": 12.0, "p97": 14.0, "p99": 18.0, "p99.9": 30.0}
    q = judged_percentile(8000)
    assert judge(lat, 8000, 40.0, q).verdict == "within"
    assert judge(lat, 8000, 15.0, q).verdict == "over"
    short = judge(lat, 500, 22.0, q)
    assert short.verdict == "unsure" and short.low_ms < 22.0 < short.high_ms
    assert judge(lat, int(short.queries_needed * 1.25), 22.0, q).verdict == "within"


def test_the_queueing_model_of_several_instances_and_its_fit_to_a_measurement():
    assert queueing.server_rate_within(0.04, 0.99, D) == pytest.approx(queueing.max_rate_within(0.04, 0.99, D))
    lat_s = queueing.server_quantile_s(0.993, 300.0, 0.005, instances=2)
    assert queueing.fitted_service_s(lat_s, 0.993, 300.0, instances=2) == pytest.approx(0.005, rel=1e-3)


def test_search_on_md1_finds_a_valid_qps_near_theory_from_the_model_not_a_fixed_fraction():
    fake = FakeLoadgen()
    found = _search(fake)
    assert found.valid
    lam_es = queueing.max_rate_valid(SLO_MS / 1e3, 0.99, D, 10.0)
    assert 0.85 * lam_es <= found.max_qps <= lam_es, (found.max_qps, lam_es)
    # The first step is the model's rate for the judged percentile, not half the capacity.
    first = fake.calls[0].target_qps
    assert first == pytest.approx(queueing.server_rate_within(SLO_MS / 1e3, judged_percentile(1400), D), rel=0.05)
    assert first > 0.6 / D
    # Every step ran at least LoadGen's early-stopping floor, and none past the confirming run's length.
    for s in fake.calls:
        assert s.min_query_count >= 459
        assert s.min_query_count <= max(459, s.target_qps * 10.0) * 1.0001


def test_the_answer_does_not_depend_on_the_first_steps_luck():
    quiet = _search(FakeLoadgen()).max_qps
    # The first step hit a burst (latencies x4): the old search quartered the rate and bracketed low.
    unlucky = _search(FakeLoadgen(burst=lambda k: 4.0 if k == 1 else 1.0)).max_qps
    assert unlucky and quiet and max(quiet, unlucky) / min(quiet, unlucky) <= 1.1, (quiet, unlucky)


def test_steps_that_cannot_tell_run_longer_before_they_decide():
    fake = FakeLoadgen()
    found = _search(fake, step_s=0.5, duration_s=60.0)  # room to extend: up to the 60 s run's queries
    steps = [p for p in found.curve if not p.confirming]
    extended = [p for p in steps if p.queries > max(459, math.ceil(p.qps * 0.5))]
    assert extended, [(p.qps, p.queries, p.judged.verdict) for p in steps]
    assert all(p.judged.verdict != "unsure" or p.queries >= 459 for p in steps)


def test_a_failed_confirming_run_on_a_quiet_host_steps_down_and_confirms_again():
    lam_es = queueing.max_rate_valid(SLO_MS / 1e3, 0.99, D, 10.0)
    fake = FakeLoadgen(invalid_above=0.8 * lam_es)  # e.g. a slower stretch the steps did not see
    found = _search(fake)
    confirms = [p for p in found.curve if p.confirming]
    assert found.valid and len(confirms) >= 2
    assert found.max_qps <= 0.8 * lam_es and confirms[-1].valid
    assert all(b.qps < a.qps for a, b in pairwise(confirms))


def test_busy_host_retries_with_backoff_then_reports_the_highest_qps_within_the_budget():
    busy_confirms = lambda s, k: 1.5 if s.min_duration_s == 10.0 else 0.0  # noqa: E731
    sleeps: list[float] = []
    found = _search(FakeLoadgen(busy=busy_confirms), sleeps=sleeps)
    confirms = [p for p in found.curve if p.confirming]
    assert len(confirms) == 1 + servesearch.BUSY_RETRIES and sleeps == [1.0, 2.0, 4.0]
    assert len({p.qps for p in confirms}) == 1  # retried at the same QPS: the host, not the QPS, failed it
    assert not found.valid and found.max_qps == max(p.qps for p in found.curve if p.within_slo)
    assert found.reasons == ("measured, not VALID: other processes took 1.50 cores",)
    assert found.measured.p99_ms <= SLO_MS


def _fake_cli(monkeypatch, fake: FakeLoadgen) -> None:
    """`bench serve --scenario server` end to end, LoadGen and the foreign-load meter replaced by fakes."""
    from hwtune.bench.serving import serve as serving

    monkeypatch.setattr(serving, "run_loadgen", lambda _sut, settings, _log: fake(settings))

    class Meter:
        def start(self):
            self.n = len(fake.calls)
            return self

        def stop(self):
            from hwtune.bench.noise import LoadSample

            return LoadSample(1.0, fake.busy(fake.calls[-1], len(fake.calls)) if fake.busy else 0.0, 0.0)

    monkeypatch.setattr(serving, "LoadMeter", Meter)
    monkeypatch.setattr(servesearch, "BUSY_BACKOFF_S", 0.0)  # (time.sleep itself paces the fixed model)


def test_cli_busy_host_is_measured_not_valid_exit_6_with_the_reason(monkeypatch, data_dir):
    pytest.importorskip("mlperf_loadgen", reason="the bench extra (mlcommons-loadgen) is not installed")
    _fake_cli(monkeypatch, FakeLoadgen(busy=lambda s, k: 1.2 if s.min_duration_s == 10.0 else 0.0))
    r = invoke("serve", "--scenario", "server", "--model", "fixed:5ms", "--latency-slo", "40ms", "--json", "--no-save")
    assert r.exit_code == 6, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["valid"] is False and res["max_qps"] > 100
    assert res["invalid_reasons"][0] == "measured, not VALID: other processes took 1.20 cores"
    assert res["latency_ms"]["p99"] <= 40
    table = invoke("serve", "--scenario", "server", "--model", "fixed:5ms", "--latency-slo", "40ms", "--no-save").stdout
    assert "measured, not VALID: other processes took 1.20 cores" in table.replace("\n", " ")


def test_cli_repeat_reports_each_runs_max_qps_and_their_interval(monkeypatch, data_dir):
    pytest.importorskip("mlperf_loadgen", reason="the bench extra (mlcommons-loadgen) is not installed")
    _fake_cli(monkeypatch, FakeLoadgen())
    r = invoke("serve", "--scenario", "server", "--model", "fixed:5ms", "--latency-slo", "40ms", "--repeat", "3",
               "--json", "--no-save")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["results"]) == 3
    (rep,) = doc["repeats"]
    assert rep["runs"] == 3 and len(rep["max_qps"]) == 3 and all(rep["valid"])
    assert rep["interval_qps"][0] <= rep["median_qps"] <= rep["interval_qps"][1]
    assert rep["interval_coverage"] == pytest.approx(0.75)  # [min, max] of three runs
    assert rep["max_over_min"] >= 1.0


def test_cli_nothing_within_the_budget_is_exit_6_and_no_number(monkeypatch, data_dir):
    pytest.importorskip("mlperf_loadgen", reason="the bench extra (mlcommons-loadgen) is not installed")
    _fake_cli(monkeypatch, FakeLoadgen(stretch=20.0))  # every latency 20x: 5 ms service becomes 100 ms
    r = invoke("serve", "--scenario", "server", "--model", "fixed:5ms", "--latency-slo", "40ms", "--json", "--no-save")
    assert r.exit_code == 6, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["max_qps"] is None and res["valid"] is False
    assert "no QPS kept p99 within the budget" in res["invalid_reasons"]
