"""hwtune report: one self-contained HTML page; its charts; rendered in headless Chromium."""

from __future__ import annotations

import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

from conftest import snapshot
from hwtune.report import bench, svg
from report_helpers import bench_run, chromium, invoke, journal, needs_chromium, recommend_doc, write_json

LAPTOP = "laptop-i7-1370p-powersave"


class Page(HTMLParser):
    """The parts of a page the tests look at: headings, charts, their text, links, tags."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self.svgs: list[dict] = []
        self._h = None
        self._svg = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag in ("h2", "h3"):
            self._h = ""
        if tag == "svg":
            self._svg = {"attrs": a, "circles": [], "rects": [], "texts": []}
        elif self._svg is not None:
            if tag == "circle" and a.get("class") != "key":  # legend keys are not data
                self._svg["circles"].append(a)
            elif tag == "rect":
                self._svg["rects"].append(a)

    def handle_endtag(self, tag):
        if tag in ("h2", "h3") and self._h is not None:
            self.headings.append(self._h.strip())
            self._h = None
        if tag == "svg" and self._svg is not None:
            self.svgs.append(self._svg)
            self._svg = None

    def handle_data(self, data):
        if self._h is not None:
            self._h += data
        if self._svg is not None:
            self._svg["texts"].append(data)


def make_inputs(tmp_path: Path) -> dict[str, Path]:
    runs = tmp_path / "runs"
    write_json(runs / "20261119T100000-abababab.json", bench_run("2026-11-19T10:00:00+00:00", scale=1.3))
    write_json(runs / "20261120T100000-abababab.json", bench_run())
    rec = write_json(tmp_path / "rec.json", recommend_doc())
    jdir = tmp_path / "journal"
    write_json(jdir / "20261120-100000-000001.json", journal("20261120-100000-000001", "2026-11-20T10:00:00Z"))
    write_json(jdir / "20261121-090000-000002.json",
               journal("20261121-090000-000002", "2026-11-21T09:00:00Z", "rolled back", 3))
    return {"runs": runs, "rec": rec, "journal": jdir}


def full_report(tmp_path: Path) -> Path:
    i = make_inputs(tmp_path)
    out = tmp_path / "host.html"
    res = invoke("report", "--root", snapshot(LAPTOP), "--bench-dir", i["runs"], "--recommend", i["rec"],
                 "--journal-dir", i["journal"], "--out", out, "--json")
    assert res.exit_code == 0, res.stderr
    return out


def test_report_has_every_section_and_real_charts(tmp_path):
    out = full_report(tmp_path)
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    for h in ("Host", "Findings", "Benchmarks", "Performance per dollar", "Apply history", "Every check"):
        assert h in page.headings
    assert "13th Gen Intel(R) Core(TM) i7-1370P" in text and "31.0 GiB" in text
    assert "sudo hwtune apply --profile cpu-inference" in text  # the governor FAIL's fix
    titles = [s["attrs"]["aria-label"] for s in page.svgs]
    assert "Latency percentiles vs batch: plate-classifier (sync)" in titles
    assert "Throughput vs streams: plate-classifier (async)" in titles
    assert any(t.startswith("Pareto front: plate-classifier on openvino/CPU") for t in titles)
    assert "Performance per dollar" in titles
    for s in page.svgs:  # every chart names its axes with a unit
        labels = " ".join(s["texts"])
        assert re.search(r"\((ms|samples/s|inferences/s)\)", labels), s["attrs"]["aria-label"]
    latency = next(s for s in page.svgs if s["attrs"]["aria-label"].startswith("Latency"))
    assert len(latency["circles"]) == 2 * 3 * 5  # 2 runtimes x p50/p90/p99 x batch 1..16
    value = next(s for s in page.svgs if s["attrs"]["aria-label"] == "Performance per dollar")
    bars = [r for r in value["rects"] if r.get("fill") != "none"]
    assert len(bars) == 7  # T4 has no price: left out
    assert "rolled back" in text and "20261121-090000-000002: 3 change(s)" in text


def test_charts_put_points_where_their_values_are(tmp_path):
    page = Page(full_report(tmp_path).read_text(encoding="utf-8"))
    thr = next(s for s in page.svgs if s["attrs"]["aria-label"].startswith("Throughput vs streams"))
    frame = next(r for r in thr["rects"] if r.get("fill") == "none")
    x0, y0 = float(frame["x"]), float(frame["y"])
    x1, y1 = x0 + float(frame["width"]), y0 + float(frame["height"])
    pts = [(float(c["cx"]), float(c["cy"])) for c in thr["circles"]]
    assert pts and all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in pts)
    # OpenVINO is faster in the sample: at the same number of streams its point is higher (smaller y)
    by_x: dict[float, list[float]] = {}
    for x, y in pts:
        by_x.setdefault(round(x, 1), []).append(y)
    assert all(len(ys) == 2 for ys in by_x.values()) and len(by_x) == 4


def test_report_without_optional_inputs_says_what_is_missing(tmp_path):
    out = tmp_path / "r.html"
    res = invoke("report", "--root", snapshot("vm-kvm-2vcpu-nocpufreq"), "--out", out,
                 "--journal-dir", tmp_path / "none")
    assert res.exit_code == 0, res.stderr
    text = out.read_text(encoding="utf-8")
    assert "no bench runs saved yet" in text and "no recommendation given" in text
    assert "no apply journal on this host" in text
    assert Page(text).svgs == []


def test_page_is_self_contained_and_loads_nothing(tmp_path):
    text = full_report(tmp_path).read_text(encoding="utf-8")
    page = Page(text)
    csp = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0]
    for tag, attrs in page.tags:
        assert tag not in ("link", "script", "iframe", "img", "object"), tag
        assert "src" not in attrs or attrs["src"].startswith("data:")
    assert "@import" not in text and "url(" not in text


def test_bad_inputs_are_one_line_errors_naming_the_file(tmp_path):
    bad = tmp_path / "rec.json"
    bad.write_text("{not json")
    res = invoke("report", "--root", snapshot(LAPTOP), "--recommend", bad, "--out", tmp_path / "x.html")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and str(bad) in res.stderr
    run = write_json(tmp_path / "run.json", {"schema": 1})
    res = invoke("report", "--root", snapshot(LAPTOP), "--bench-run", run, "--out", tmp_path / "x.html")
    assert res.exit_code == 2 and "not a hwtune bench run" in res.stderr and str(run) in res.stderr
    assert not (tmp_path / "x.html").exists()


def test_a_corrupt_file_in_the_runs_folder_is_noted_not_fatal(tmp_path):
    runs = tmp_path / "runs"
    write_json(runs / "a.json", bench_run())
    (runs / "b.json").write_text("{")
    out = tmp_path / "r.html"
    res = invoke("report", "--root", snapshot(LAPTOP), "--bench-dir", runs, "--out", out, "--json")
    assert res.exit_code == 0
    assert "b.json: not JSON" in out.read_text() and '"bench_runs": 1' in res.stdout


def test_ticks_are_round_and_cover_the_data():
    assert svg.linear_ticks(0, 57.7) == [0, 20, 40, 60]
    assert svg.linear_ticks(0, 402) == [0, 100, 200, 300, 400, 500]
    assert svg.linear_ticks(3.2, 9.1) == [2, 4, 6, 8, 10]
    assert svg.linear_ticks(0, 0.83) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert svg.log2_ticks(1, 16) == [1, 2, 4, 8, 16]
    assert svg.log2_ticks(4, 4) == [2, 4, 8]
    assert svg.linear_ticks(5, 5)[0] <= 5 <= svg.linear_ticks(5, 5)[-1]


def test_pareto_front_keeps_only_unbeaten_points():
    pts = [(3.0, 300.0), (4.0, 280.0), (5.0, 500.0), (9.0, 450.0), (12.0, 640.0), (2.0, 100.0)]
    assert bench.pareto_front(pts) == [(2.0, 100.0), (3.0, 300.0), (5.0, 500.0), (12.0, 640.0)]


def test_latency_series_come_from_the_newest_run_only():
    old = [{**r, "_run": "old", "_run_time_s": 1.0} for r in bench_run(scale=2.0)["results"]]
    new = [{**r, "_run": "new", "_run_time_s": 2.0} for r in bench_run(scale=1.0)["results"]]
    got = bench.latency_by_batch(old + new)["plate-classifier"]["onnxruntime/cpu fp32"]
    expected = sorted((r["batch"], r["latency_ms"]["p50"]) for r in new
                      if r["backend"] == "onnxruntime" and r["mode"] == "sync")
    assert [(b, p50) for b, p50, _, _ in got] == expected
    assert not any(math.isnan(v) for p in got for v in p)


# ---- headless Chromium ----------------------------------------------------------------------------

@needs_chromium
def test_console_capture_sees_script_errors_and_blocked_loads(tmp_path):
    # The assertion below ("no console message") can fail: a broken page is caught.
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
                   "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
                   '<img src="http://127.0.0.1:9/x.png"><script>missing()</script></body></html>')
    _, console = chromium(bad, tmp_path, "--dump-dom")
    joined = "\n".join(console)
    assert "missing is not defined" in joined and "violates the following Content Security Policy" in joined


@needs_chromium
def test_report_renders_in_chromium_with_no_console_message_and_its_charts(tmp_path):
    out = full_report(tmp_path)
    dom, console = chromium(out, tmp_path, "--dump-dom")
    assert console == []
    rendered = Page(dom)
    assert len(rendered.svgs) == 5
    assert "Apply history" in rendered.headings
    png = tmp_path / "report.png"
    _, console = chromium(out, tmp_path, f"--screenshot={png}", "--window-size=1280,2400")
    assert console == []
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400) and len(data) > 100_000  # a full page, not a blank one
    keep = os.environ.get("HWTUNE_SCREENSHOT_DIR")
    if keep:  # how docs/report-screenshot.png is made
        shutil.copy(png, Path(keep) / "report-screenshot.png")
