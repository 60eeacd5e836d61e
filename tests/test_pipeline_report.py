"""The request pipeline in the HTML report: a stacked bar per request, the cores-per-stage table,
and the server scenario's two curves (model alone, behind the pipeline) on one chart."""

from __future__ import annotations

import pytest

from bench_helpers import invoke_bench as invoke

pytest.importorskip("PIL", reason="the pipeline extra (Pillow) is not installed")


def test_a_saved_pipeline_run_draws_the_stacked_bar_and_the_cores_table(data_dir):
    from hwtune.report import inputs, page

    # a 25 ms model: the limit however busy the machine makes decoding a 480p JPEG (about 1 ms
    # alone, a few ms under load; 2 ms lost to decoding once on a loaded CI machine)
    r = invoke("--pipeline", "image", "--model", "fixed:25ms", "--time", "0.3", "--min-count", "3",
               "--decoder", "pillow,opencv", "--image-size", "480p")
    assert r.exit_code == 0, r.output
    runs = inputs.load_bench_runs(inputs.bench_runs_dir()).docs
    html = page._bench(page.ReportInputs("h", {"results": []}, "now", bench_runs=runs))
    assert "Where a request&#x27;s milliseconds go: fixed:25ms on fixed/timer" in html
    assert html.count("<rect") >= 2 * 6  # two decoders, six stages each (and the legend)
    for stage in ("read", "decode", "resize", "normalise", "infer", "postprocess"):
        assert f"pillow: {stage}" in html
    assert "requests/s per core" in html and "cores at" in html
    assert "the model limits this host" in html


def test_an_unreadable_pipeline_run_is_a_line_not_an_error():
    from hwtune.report.pipeline import pipeline_section

    assert "could not be read" in pipeline_section([{"pipeline": "image", "decoders": [{"stages": "x"}]}])
    assert pipeline_section([{"results": []}]) == ""


def test_the_server_curves_of_model_and_pipeline_share_one_chart():
    from hwtune.report import bench

    def result(model, pipeline, p99):
        return {"scenario": "server", "model": model, "served_model": "m", "pipeline": pipeline,
                "backend": "fixed", "device": "timer", "batching": {"max_batch_size": 1}, "latency_slo_ms": 40,
                "curve": [{"qps": 10.0, "latency_ms": {"p99": p99}, "valid": True}], "_run": "r1"}

    curves = bench.serving_curves([result("m", None, 5.0), result("m+pipeline", "image pipeline (pillow)", 9.0)])
    assert list(curves) == ["m on fixed/timer"]
    assert set(curves["m on fixed/timer"]["series"]) == {"no batching", "no batching, image pipeline (pillow)"}
