"""`hwtune report` draws the server scenario's QPS-vs-p99 curve from a saved `bench serve --scenario server` run."""

from __future__ import annotations

import json

from hwtune.report import bench, inputs, page


def _server_result(batch: int, points: list[tuple[float, float, bool]], max_qps: float | None) -> dict:
    return {"scenario": "server", "backend": "onnxruntime", "device": "CPU", "model": "plate-classifier",
            "mode": "server", "batch": batch,
            "batching": {"max_batch_size": batch, "max_queue_delay_us": 1500 if batch > 1 else 0},
            "max_qps": max_qps, "valid": max_qps is not None, "throughput_fps": max_qps or 10.0, "latency_slo_ms": 40.0,
            "latency_ms": {"p50": 5.0, "p90": 12.0, "p99": 31.5},
            "curve": [{"qps": q, "latency_ms": {"p50": 3.0, "p90": 9.0, "p99": p}, "within_slo": p <= 40, "valid": v,
                       "min_duration_s": 2.0} for q, p, v in points]}


def test_serving_curve_is_drawn_with_the_budget_and_the_valid_max(tmp_path):
    doc = {"created_utc": "2026-12-02T09:00:00+00:00", "scenario": "server", "results": [
        _server_result(1, [(50.0, 12.0, False), (100.0, 31.5, True), (120.0, 95.0, False)], 100.0),
        _server_result(8, [(60.0, 14.0, False), (140.0, 38.0, True), (160.0, 200.0, False)], 140.0)]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    results = inputs.bench_run(path)["results"]
    assert len(results) == 2  # both kept by the report's loader
    curves = bench.serving_curves(results)
    (title,) = curves
    assert title == "plate-classifier on onnxruntime/CPU"
    assert [q for q, _, _ in curves[title]["series"]["no batching"]] == [50.0, 100.0, 120.0]
    (svg,) = page.serving_charts(results)
    assert "QPS vs p99" in svg and "p99 budget 40 ms" in svg and "max QPS (LoadGen VALID)" in svg
    assert "batch &lt;= 8, delay 1500 us: 140.0 QPS, p99 38.00 ms" in svg
    assert svg.count("<circle") >= 8  # six curve points and two maxima
