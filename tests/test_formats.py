"""check --format junit|prometheus: read back with standard readers (junitparser, prometheus_client,
promtool), and the atomic --output writer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from datetime import UTC, datetime

import pytest
from junitparser import Failure, JUnitXml, Skipped
from prometheus_client.parser import text_string_to_metric_families

from conftest import snapshot
from hwtune.report.atomic import write_atomic
from hwtune.report.formats import write_check
from hwtune.report.junit import render_junit
from hwtune.report.prometheus import render_prometheus
from report_helpers import bench_run, check_json, facts_json, invoke, write_json

LAPTOP = "laptop-i7-1370p-powersave"


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        out.setdefault(fam.name, []).extend(fam.samples)
    return out


def test_junit_one_testcase_per_check_read_by_junitparser(tmp_path):
    report = check_json(LAPTOP)
    path = tmp_path / "hwtune.xml"
    path.write_text(render_junit(report, "laptop"), encoding="utf-8")
    suites = list(JUnitXml.fromfile(str(path)))
    assert len(suites) == 1
    suite = suites[0]
    cases = {c.name: c for c in suite}
    assert set(cases) == {r["id"] for r in report["results"]}
    statuses = Counter(r["status"] for r in report["results"])
    assert suite.tests == len(report["results"])
    assert suite.failures == statuses["FAIL"] + statuses["ERROR"] and suite.skipped == statuses["SKIP"]
    assert statuses["FAIL"] == 1  # cpu.governor, below
    governor = cases["cpu.governor"]
    (failure,) = governor.result
    assert isinstance(failure, Failure) and failure.type == "FAIL"
    assert failure.message == "20 of 20 policies are not on performance: policy0-19"
    assert "sudo hwtune apply" in failure.text
    assert isinstance(cases["mm.thp"].result[0], Skipped)
    assert cases["kernel.version"].is_passed and cases["cpu.epp"].is_passed  # WARN passes, with its message
    assert "balance_performance" in cases["cpu.epp"].system_out
    assert governor.classname == "hwtune.cpu"


def test_junit_error_is_a_failure_and_control_characters_are_escaped(tmp_path):
    report = {"profile": "p", "status": "error", "results": [
        {"id": "gpu.health", "title": "t", "status": "ERROR", "message": "check failed: KeyError \x07 <&>",
         "observed": None, "expected": None, "fix": None}]}
    path = tmp_path / "e.xml"
    path.write_text(render_junit(report, 'h"<x>'), encoding="utf-8")
    (case,) = list(next(iter(JUnitXml.fromfile(str(path)))))
    (failure,) = case.result
    assert isinstance(failure, Failure) and failure.type == "ERROR"
    assert failure.message == "check failed: KeyError ? <&>"


def test_prometheus_values_and_types_read_by_prometheus_client():
    report, facts = check_json(LAPTOP), facts_json(LAPTOP)
    results = [{**r, "_run": "r1", "_run_time_s": 1_763_600_000.0} for r in bench_run()["results"]]
    text = render_prometheus(report, facts, results, now_s=1_763_700_000.5)
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(f.type == "gauge" for f in fams.values())
    status = {(s.labels["check"], s.labels["status"]): s.value for s in fams["hwtune_check_status"].samples}
    assert status[("cpu.governor", "fail")] == 1 and status[("cpu.governor", "pass")] == 0
    for r in report["results"]:  # exactly one status is 1 per check
        assert sum(status[(r["id"], st)] for st in ("pass", "warn", "fail", "skip", "error")) == 1
    counts = {s.labels["status"]: s.value for s in fams["hwtune_checks"].samples}
    statuses = Counter(r["status"].lower() for r in report["results"])
    assert counts == {st: statuses[st] for st in ("pass", "warn", "fail", "skip", "error")}
    # the laptop snapshot has no kernel log and no NVIDIA GPU: every health check SKIPs
    assert all(r["status"] == "SKIP" for r in report["results"] if r["id"].startswith("gpu."))
    (info,) = fams["hwtune_host_info"].samples
    assert info.labels["cpu_model"] == "13th Gen Intel(R) Core(TM) i7-1370P"
    assert info.labels["kernel"] == "6.1.0-13-amd64" and info.labels["cpufreq_driver"] == "intel_pstate"
    assert fams["hwtune_memory_total_bytes"].samples[0].value == 32489496 * 1024
    assert fams["hwtune_cpu_logical_cpus"].samples[0].value == 20
    thr = {(s.labels["backend"], s.labels["batch"], s.labels["mode"]): s.value
           for s in fams["hwtune_bench_throughput_samples_per_second"].samples}
    # async batch 1 on OpenVINO: the best of the sweep and the tuner trials of that run
    best = max(r["throughput_fps"] for r in results if r["backend"] == "openvino" and r["mode"] == "async")
    assert thr[("openvino", "1", "async")] == best
    (b16,) = [r for r in results if (r["backend"], r["batch"], r["mode"]) == ("onnxruntime", 16, "sync")]
    assert thr[("onnxruntime", "16", "sync")] == b16["throughput_fps"]
    lat = {(s.labels["backend"], s.labels["batch"], s.labels["mode"], s.labels["percentile"]): s.value
           for s in fams["hwtune_bench_latency_seconds"].samples}
    assert lat[("onnxruntime", "16", "sync", "50")] == pytest.approx(b16["latency_ms"]["p50"] / 1000)
    assert fams["hwtune_last_check_timestamp_seconds"].samples[0].value == 1_763_700_000.5


def test_prometheus_keeps_the_newest_run_per_configuration():
    old = [{**r, "_run": "old", "_run_time_s": 100.0} for r in bench_run(scale=0.5)["results"]]
    new = [{**r, "_run": "new", "_run_time_s": 200.0} for r in bench_run(scale=1.0)["results"]]
    text = render_prometheus(check_json(LAPTOP), None, old + new, now_s=300)
    thr = {(s.labels["backend"], s.labels["batch"], s.labels["mode"]): s.value
           for s in samples(text)["hwtune_bench_throughput_samples_per_second"]}
    pick = lambda rs: next(r["throughput_fps"] for r in rs if (r["backend"], r["batch"], r["mode"]) ==  # noqa: E731
                           ("onnxruntime", 16, "sync"))
    assert pick(old) > pick(new)
    assert thr[("onnxruntime", "16", "sync")] == pick(new)  # the newer (slower) run, not the faster old one
    ts = {s.value for s in samples(text)["hwtune_bench_timestamp_seconds"]}
    assert ts == {200.0}


def test_label_values_are_escaped():
    facts = {"schema": 1, "facts": {"cpu.model": 'a "quoted" \\ back\nslash'}, "gpus": [], "unavailable": {}}
    text = render_prometheus({"profile": "p", "results": []}, facts, [], now_s=0)
    (info,) = samples(text)["hwtune_host_info"]
    assert info.labels["cpu_model"] == 'a "quoted" \\ back\nslash'


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; .ci/run installs it)")
@pytest.mark.parametrize("name", ["laptop-i7-1370p-powersave", "epyc7451-2s-8numa", "gpu-2xa5000-xml",
                                  "vm-kvm-2vcpu-nocpufreq"])
def test_promtool_check_metrics_accepts_the_output(name):
    results = [{**r, "_run": "r", "_run_time_s": 1.0} for r in bench_run()["results"]]
    text = render_prometheus(check_json(name), facts_json(name), results, now_s=1_763_700_000)
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "" and proc.stderr.strip() == ""  # no lint complaint either


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; .ci/run installs it)")
def test_promtool_rejects_a_broken_document():
    # The check above can fail: promtool does reject what it should.
    bad = render_prometheus({"profile": "p", "results": []}, None, [], 0).replace("# TYPE hwtune_last", "# TYPE x")
    proc = subprocess.run([PROMTOOL, "check", "metrics"], input=bad + "bad metric{\n", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0


def test_check_format_output_writes_files_atomically(tmp_path):
    out = tmp_path / "textfile" / "hwtune.prom"
    out.parent.mkdir()
    out.write_text("old\n")
    res = invoke("check", "--root", snapshot(LAPTOP), "--format", "prometheus", "--output", out)
    assert res.exit_code == 1 and res.stdout == ""  # the exit code still says a check failed
    assert 'hwtune_check_status{check="cpu.governor",profile="cpu-inference",status="fail"} 1' in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o644"  # the collector runs as another user
    assert [p.name for p in out.parent.iterdir()] == ["hwtune.prom"]  # no temporary file left
    junit = tmp_path / "hwtune.xml"
    assert invoke("check", "--root", snapshot(LAPTOP), "--format", "junit", "--output", junit).exit_code == 1
    js = tmp_path / "c.json"
    invoke("check", "--root", snapshot(LAPTOP), "--json", "--output", js)
    report = json.loads(js.read_text())
    assert report["status"] == "fail"
    assert len(list(next(iter(JUnitXml.fromfile(str(junit)))))) == len(report["results"])  # one testcase per check


def test_check_format_on_stdout_and_output_with_table_is_a_usage_error(tmp_path):
    res = invoke("check", "--root", snapshot(LAPTOP), "--format", "junit")
    assert res.stdout.startswith('<?xml version="1.0"')
    res = invoke("check", "--root", snapshot(LAPTOP), "--output", tmp_path / "x")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "--format" in res.stderr


def test_prometheus_output_of_the_live_host_carries_saved_bench_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_DATA_DIR", str(tmp_path / "data"))
    write_json(tmp_path / "data/bench/runs/20261120T100000-abababab.json", bench_run())
    (tmp_path / "data/bench/runs/notes.json").write_text("[]")  # not a run: passed over
    out = tmp_path / "h.prom"
    write_check("prometheus", check_json(LAPTOP), facts_json(LAPTOP), None, out)
    fams = samples(out.read_text())
    assert len(fams["hwtune_bench_throughput_samples_per_second"]) == 12  # 2 runtimes x (5 sync batches + async)
    (stamp,) = {s.value for s in fams["hwtune_bench_timestamp_seconds"]}
    assert stamp == datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()  # the run's created_utc


def test_write_atomic_replaces_whole_and_cleans_up_on_failure(tmp_path):
    target = tmp_path / "a.prom"
    write_atomic(target, "one\n")
    write_atomic(target, "two\n")
    assert target.read_text() == "two\n" and os.listdir(tmp_path) == ["a.prom"]
    (tmp_path / "dir.prom").mkdir()  # rename over a folder fails: the temp file must go
    from hwtune.errors import HwtuneError

    with pytest.raises(HwtuneError, match=r"dir\.prom"):
        write_atomic(tmp_path / "dir.prom", "x")
    assert sorted(os.listdir(tmp_path)) == ["a.prom", "dir.prom"]
    with pytest.raises(HwtuneError, match="cannot write"):
        write_atomic(tmp_path / "missing" / "x.prom", "x")
