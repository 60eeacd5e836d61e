"""`recommend --pipeline-result`: can a planned host's CPUs feed its GPUs, from a measured image pipeline.

The saved result `fixtures/pipeline/bench-pipeline-1080p-fixed20ms.json` was made once with the real
command on the development machine (`hwtune bench run --pipeline image --model fixed:20ms --time 4 --json`,
built-in 1920x1080 JPEG, every decoder installed here; fixtures/pipeline/README.md); one test below
also runs the real pipeline briefly and feeds its output to recommend, so the two stay one format.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bench_helpers import invoke_bench
from hwtune.cli_recommend import register
from hwtune.recommend.feed import HOST_STAGES, PipelineCpu, cpu_feed, image_input

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "pipeline" / "bench-pipeline-1080p-fixed20ms.json"

app = typer.Typer()
register(app)


@app.callback()
def _root() -> None:
    """Root with one sub-command, as the project CLI has many."""


def run(*args: str):
    return CliRunner().invoke(app, ["recommend", *args], env={"COLUMNS": "200"})


def pipeline(total_ms: float) -> PipelineCpu:
    """A pipeline whose host stages take `total_ms` CPU per request, spread over the five stages."""
    return PipelineCpu(tuple((s, total_ms / len(HOST_STAGES)) for s in HOST_STAGES), "d", "1920x1080 jpeg", "f")


def saved(tmp_path: Path, doc: object, name: str = "run.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def fixture_doc() -> dict:
    return json.loads(FIXTURE.read_text())


# throughput (all cards), cards, cards per host, host cores, CPU ms per request
#   -> rate per host, cores needed, requests/s the cores feed, fraction fed, short
@pytest.mark.parametrize("args, rate, needed, feeds, fraction, short", [
    ((8000, 8, 4, 32, 10.0), 4000, 40.0, 3200, 0.8, True),          # two full hosts, each short of 8 cores
    ((4000, 8, 4, 32, 10.0), 2000, 20.0, 3200, 1.0, False),         # half the rate: fed with cores to spare
    ((5000, 5, 4, 32, 10.0), 4000, 40.0, 3200, 0.8, True),          # the full host of 4 cards, not 5000/2
    ((3200, 4, 4, 32, 10.0), 3200, 32.0, 3200, 1.0, False),         # exactly the host's cores: fed
    ((1000, 1, 8, 16, 4.0), 1000, 4.0, 4000, 1.0, False),           # one card in a host for eight
    ((72_000, 72, 72, 2592, 50.0), 72_000, 3600.0, 51_840, 0.72, True),  # a rack is one host
    ((9000, 2, 2, 16, 0.0), 9000, 0.0, math.inf, 1.0, False),       # no CPU per request: any rate
])
def test_cores_needed_and_what_the_host_feeds(args, rate, needed, feeds, fraction, short):
    throughput, cards, per_host, cores, cpu_ms = args
    f = cpu_feed(throughput, cards, per_host, cores, pipeline(cpu_ms))
    assert f.rate_per_host == pytest.approx(rate)
    assert f.needed_cores == pytest.approx(needed)
    assert f.feeds_per_s == pytest.approx(feeds)
    assert f.feeds_fraction == pytest.approx(fraction)
    assert f.short is short


def test_impossible_setups_are_refused():
    with pytest.raises(ValueError):
        cpu_feed(1000, 0, 4, 32, pipeline(1.0))


def _plan(tmp_path: Path, total_ms: float, *args: str) -> dict:
    doc = fixture_doc()
    for d in doc["decoders"]:
        for s in d["stages"]:
            s["cpu_ms"] = total_ms / len(HOST_STAGES) if s["stage"] in HOST_STAGES else s["cpu_ms"]
    r = run("--budget", "200000", "--json", "--pipeline-result", saved(tmp_path, doc), *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _expected_short(s: dict, cpu_ms: float) -> bool:
    per_host = s["throughput_per_s"] * min(s["cards"], s["cards_per_host"]) / s["cards"]
    return per_host * cpu_ms / 1000 > s["host_cpu_cores"]


def test_a_setup_that_cannot_be_fed_gets_its_note_and_one_that_can_does_not(tmp_path):
    # 1 ms of CPU per request: the fastest cards outrun a 16-core desktop or a 32-core server,
    # slower ones do not (the plan holds both kinds, checked first); every decoder alike: the first is used
    doc = _plan(tmp_path, 1.0)
    setups = doc["budget_setups"]
    short = [s for s in setups if _expected_short(s, 1.0)]
    fed = [s for s in setups if not _expected_short(s, 1.0)]
    assert short and fed
    for s in setups:
        assert s["cpu_feed"]["short"] is _expected_short(s, 1.0), s["gpu"]
    path = doc["budget_setups"][0]["cpu_feed"]["source"]
    r = run("--budget", "200000", "--pipeline-result", path, "--top", str(len(setups)))
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())  # a note wraps at the table's width
    notes = re.findall(r"CPU feed #\d+ .*?of its GPUs' rate\)", flat)
    assert len(notes) == len(short)
    for s in short:
        line = next(n for n in notes if f" {s['cards']} x {s['gpu']}:" in n)
        assert f"a {s['host_type']} has {s['host_cpu_cores']}:" in line
        assert f"needs {s['cpu_feed']['needed_cores']:,.1f} cores" in line
        assert f"it feeds {s['cpu_feed']['feeds_per_s']:,.0f}" in line
    for s in fed:
        assert not any(f" x {s['gpu']}:" in n for n in notes), s["gpu"]
    assert f"CPU per request 1.0 ms (read, decode, resize, normalise, top-k; pillow, 1920x1080 jpeg) " \
           f"measured in {path}" in flat


def test_json_shape_with_and_without_a_pipeline_result(tmp_path):
    doc = _plan(tmp_path, 2.0, "--target-fps", "100000")
    for plan in ("budget_setups", "best_value_setups", "target_setups"):
        assert doc[plan], plan
        for s in doc[plan]:
            f = s["cpu_feed"]
            assert set(f) == {"needed_cores", "host_cores", "short", "feeds_fraction", "rate_per_host",
                              "feeds_per_s", "cpu_ms_per_request", "decoder", "images", "source"}
            assert f["host_cores"] == s["host_cpu_cores"]
            assert list(f["cpu_ms_per_request"]) == list(HOST_STAGES)
            assert sum(f["cpu_ms_per_request"].values()) == pytest.approx(2.0)
            assert f["needed_cores"] == pytest.approx(f["rate_per_host"] * 0.002, rel=1e-5)
            assert f["feeds_per_s"] == pytest.approx(f["host_cores"] / 0.002, rel=1e-5)
            assert f["feeds_fraction"] == pytest.approx(min(1.0, f["feeds_per_s"] / f["rate_per_host"]), rel=1e-5)
            assert f["source"].endswith("run.json") and f["images"] == "1920x1080 jpeg"
    plain = run("--budget", "200000", "--target-fps", "100000", "--json")
    assert plain.exit_code == 0 and "cpu_feed" not in plain.output
    without = run("--budget", "200000", "--target-fps", "100000")
    assert without.exit_code == 0 and "CPU feed" not in without.output and "CPU per request" not in without.output


def test_the_least_cpu_decoder_that_agreed_is_used(tmp_path):
    doc = fixture_doc()
    host = {d["decoder"]: sum(s["cpu_ms"] for s in d["stages"] if s["stage"] in HOST_STAGES) for d in doc["decoders"]}
    ranked = sorted(host, key=host.__getitem__)
    r = run("--budget", "20000", "--json", "--pipeline-result", str(FIXTURE))
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["budget_setups"][0]["cpu_feed"]["decoder"] == ranked[0]
    # the fastest one disagreeing with the reference pixels is not used
    doc["agreement"].append({"decoder": ranked[0], "image": "x.jpeg", "format": "jpeg", "within": False})
    r = run("--budget", "20000", "--json", "--pipeline-result", saved(tmp_path, doc))
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["budget_setups"][0]["cpu_feed"]["decoder"] == ranked[1]


def test_end_to_end_from_the_saved_result_of_the_real_command():
    r = run("--budget", "100000", "--pipeline-result", str(FIXTURE))
    assert r.exit_code == 0, r.output
    # 1080p JPEG costs about 10 ms of CPU a request here: no GPU setup in the plan is fed
    flat = " ".join(r.output.split())
    assert "CPU feed #1 " in flat and f"measured in {FIXTURE}" in flat
    assert "Traceback" not in r.output


@pytest.mark.usefixtures("data_dir")  # the run's saved-results folder, in tmp_path
def test_end_to_end_from_a_pipeline_run_here(tmp_path):
    pytest.importorskip("PIL", reason="the pipeline extra (Pillow) is not installed")
    b = invoke_bench("--pipeline", "image", "--model", "fixed:1ms", "--image-size", "640x480", "--time", "0.3",
                     "--min-count", "3", "--decoder", "pillow", "--json", "--no-save")
    assert b.exit_code == 0, b.output
    measured = json.loads(b.output)
    cpu = {s["stage"]: s["cpu_ms"] for s in measured["decoders"][0]["stages"]}
    r = run("--budget", "50000", "--json", "--pipeline-result", saved(tmp_path, b.output))
    assert r.exit_code == 0, r.output
    f = json.loads(r.output)["budget_setups"][0]["cpu_feed"]
    assert f["decoder"] == "pillow" and f["images"] == "640x480 jpeg"
    assert f["cpu_ms_per_request"] == {s: pytest.approx(cpu[s], abs=1e-4) for s in HOST_STAGES}


def test_without_a_plan_the_file_is_checked_and_the_user_told():
    r = run("--pipeline-result", str(FIXTURE))
    assert r.exit_code == 0, r.output
    told = "its CPU feed is checked on planned setups only (with a budget or a target rate)"
    assert told in " ".join(r.output.split())


def _drop_stage(doc: dict) -> dict:
    doc["decoders"][1]["stages"] = [s for s in doc["decoders"][1]["stages"] if s["stage"] != "decode"]
    return doc


def _set(path: tuple, value: object):
    def change(doc: dict) -> dict:
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        return doc
    return change


CPU_MS = ("decoders", 0, "stages", 1, "cpu_ms")


@pytest.mark.parametrize("change, needle", [
    (lambda d: "{not json", ": not JSON"),
    (lambda d: [d], ": expected the JSON object a saved image-pipeline bench result holds"),
    (_set(("pipeline",), "text"), ": pipeline: expected 'image', got str 'text'"),
    (_set(("decoders",), {"pillow": 1}), ": decoders: expected a list, got dict"),
    (_set(CPU_MS, "8.8"), ": decoders[0].stages[1].cpu_ms: expected a number, got str '8.8'"),
    (_set(CPU_MS, True), ": decoders[0].stages[1].cpu_ms: expected a number, got bool True"),
    (_set(CPU_MS, -1), ": decoders[0].stages[1].cpu_ms: expected 0 to 60,000 ms, got int -1"),
    (_set(CPU_MS, 1e300), ": decoders[0].stages[1].cpu_ms: expected 0 to 60,000 ms, got float 1e+300"),
    (_set(("decoders", 0, "stages", 0, "stage"), "decode"),
     ": decoders[0].stages[1].stage: str 'decode' is given twice"),
    (_set(("decoders", 0, "stages", 2), "resize"), ": decoders[0].stages[2]: expected an object, got str 'resize'"),
    (_set(("agreement", 0, "within"), "yes"), ": agreement[0].within: expected true or false, got str 'yes'"),
    (_set(("images", "kinds"), None), ": images.kinds: expected an object, got nothing"),
    (_drop_stage, ": decoders[1].stages: no 'decode' stage"),
    (_set(("decoders",), []), ": decoders: no decoder run whose pixels agreed with the reference"),
])
def test_a_bad_pipeline_file_is_one_line_and_exit_2(tmp_path, change, needle):
    path = saved(tmp_path, change(copy.deepcopy(fixture_doc())))
    r = run("--budget", "20000", "--pipeline-result", path)
    assert r.exit_code == 2, r.output
    assert f"pipeline result {path}{needle}" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_a_missing_file_and_a_huge_one_are_one_line_and_exit_2(tmp_path):
    r = run("--budget", "20000", "--pipeline-result", str(tmp_path / "none.json"))
    assert r.exit_code == 2 and f"pipeline result {tmp_path / 'none.json'}: no such file" in r.output
    huge = tmp_path / "huge.json"
    huge.write_text('{"pipeline": "image", "pad": "' + "x" * (9 * 1024 * 1024) + '"}')
    r = run("--budget", "20000", "--pipeline-result", str(huge))
    assert r.exit_code == 2 and str(huge) in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("workload, what", [
    ("llama2-70b", "not llama2-70b, a language model"),
    ("bert-base", "not bert-base, an encoder: its requests are text"),
])
def test_a_workload_that_is_not_images_is_one_line_and_exit_2(tmp_path, workload, what):
    # before the file is read: a broken file does not hide the reason
    for path in (str(FIXTURE), saved(tmp_path, "{broken")):
        r = run("--workload", workload, "--budget", "1000000", "--pipeline-result", path)
        assert r.exit_code == 2, r.output
        assert "an image pipeline feeds image workloads (resnet50, ssd-mobilenet, ssd-vgg300, " \
               f"plate-classifier), {what}" in r.output
        assert len(r.output.strip().splitlines()) == 1


def test_names_from_the_file_are_clipped_and_nan_is_refused(tmp_path):
    doc = fixture_doc()
    for d in doc["decoders"]:
        d["decoder"] = "pillow" + "\x1b[31m" * 2000
    r = run("--budget", "20000", "--json", "--pipeline-result", saved(tmp_path, doc))
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["budget_setups"][0]["cpu_feed"]["decoder"]) <= 60
    text = FIXTURE.read_text().replace('"cpu_ms": 8.8111', '"cpu_ms": NaN', 1)
    assert "NaN" in text
    r = run("--budget", "20000", "--pipeline-result", saved(tmp_path, text, "nan.json"))
    assert r.exit_code == 2 and "nan.json" in r.output and len(r.output.strip().splitlines()) == 1, r.output


@pytest.mark.parametrize("inputs, image", [
    ("x=1x3x224x224", True), ("images=1x224x224x3", True), ("gray=1x1x64x128", True),
    ("ids=1x128", False), ("x=1x8x32x32", False), ("a=1x3x32x32, b=1x3x32x32", False), ("", False),
])
def test_which_counted_models_take_an_image(inputs, image):
    assert image_input(inputs) is image


def _onnx(path: Path, dims: list, op: str) -> str:
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    shape = (8, dims[1], 3, 3) if op == "Conv" else (dims[-1], 8)
    w = numpy_helper.from_array(np.ones(shape, np.float32), "w")
    graph = helper.make_graph([helper.make_node(op, ["x", "w"], ["y"])], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_a_counted_model_is_fed_only_when_its_input_is_an_image(tmp_path):
    conv = _onnx(tmp_path / "conv.onnx", [1, 3, 64, 64], "Conv")
    r = run("--model", conv, "--budget", "20000", "--json", "--pipeline-result", str(FIXTURE))
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["budget_setups"][0]["cpu_feed"]["decoder"]
    text = _onnx(tmp_path / "text.onnx", [1, 128], "MatMul")
    r = run("--model", text, "--budget", "20000", "--pipeline-result", str(FIXTURE))
    assert r.exit_code == 2, r.output
    assert "an image pipeline feeds a model with one image input (N x 3 x H x W or N x H x W x 3), " \
           "not x=1x128" in " ".join(r.output.split())
