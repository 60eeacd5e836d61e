"""What the commands print when piped: plain text, nothing cut, headers kept, values that paste,
and none of the everyday noise (a GPU-less host's GPU checks, providers a run did not use)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from conftest import snapshot
from hwtune import __version__
from hwtune.cli import app


def run(*args: str, env: dict[str, str] | None = None):
    res = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert "Traceback" not in res.stdout + res.stderr
    return res


def test_check_json_says_which_host_when_and_which_hwtune():
    vm = snapshot("vm-kvm-2vcpu-nocpufreq")
    doc = json.loads(run("check", "--root", vm, "--json").stdout)
    assert doc["host"] and doc["hwtune_version"] == __version__
    when = datetime.fromisoformat(doc["time"].replace("Z", "+00:00"))
    assert doc["time"].endswith("Z") and when.tzinfo is not None
    assert abs((datetime.now(UTC) - when).total_seconds()) < 600


def test_a_host_without_nvidia_gpu_says_so_once():
    vm = snapshot("vm-kvm-2vcpu-nocpufreq")
    text = run("check", "--root", vm, "--profile", "gpu-inference").stdout
    gpu_lines = [line for line in text.splitlines() if re.match(r"\S+\s+(gpu|nvidia|cuda|cudnn)\.", line)]
    assert gpu_lines == []
    [line] = [line for line in text.splitlines() if "GPU checks (" in line]
    assert line.startswith("SKIP") and "no NVIDIA GPU on this host" in line
    doc = json.loads(run("check", "--root", vm, "--profile", "gpu-inference", "--json").stdout)
    n = sum(r["id"].startswith(("gpu.", "nvidia.", "cuda.", "cudnn.")) for r in doc["results"])
    assert f"GPU checks ({n})" in line  # the JSON keeps every row
    assert "gpu.ecc " in run("check", "--root", vm, "--profile", "gpu-inference", "--verbose").stdout
    # a host with GPUs lists its GPU checks one by one
    gpus = run("check", "--root", snapshot("gpu-2xa5000-xml")).stdout
    assert "GPU checks (" not in gpus and re.search(r"^\w+\s+gpu\.ecc ", gpus, re.M)


def test_profiles_show_prints_its_tunables_as_toml_that_pastes():
    text = run("profiles", "show", "gpu-inference").stdout
    shown = json.loads(run("profiles", "show", "gpu-inference", "--json").stdout)
    toml_part = text[text.index("[tune]"):]
    assert tomllib.loads(toml_part)["tune"] == shown["tune"]
    assert "'" not in toml_part  # no Python repr


def test_apply_plan_verification_and_history_keep_their_headers_piped(tmp_path):
    root = tmp_path / "laptop"
    shutil.copytree(snapshot("laptop-i7-1370p-powersave"), root, symlinks=True)
    env = {"HWTUNE_STATE_DIR": str(tmp_path / "state")}
    plan = run("apply", "-p", "cpu-inference", "--root", root, "--dry-run", env=env).stdout.splitlines()
    assert re.match(r"status\s+key\s+where\s+current -> target\s+mode\s+reboot needed$", plan[1])
    assert any(re.match(r"change\s+cpu\.governor\s+policy0-19\s+powersave -> performance", line) for line in plan)
    applied = run("apply", "-p", "cpu-inference", "--root", root, "--yes", env=env).stdout.splitlines()
    header = applied.index("Verification (every tunable read back after apply)") + 1
    assert re.match(r"verified\s+key\s+where\s+expected\s+read back$", applied[header])
    history = run("history", "--root", root, env=env).stdout.splitlines()
    assert re.match(r"id\s+time \(UTC\)\s+profile\s+changes\s+state$", history[1])
    assert all(line == line.rstrip() for line in plan + applied + history)


def test_facts_piped_are_plain_columns_without_padding():
    lines = run("facts", "--root", snapshot("epyc7451-2s-8numa")).stdout.splitlines()
    assert lines[0] == "hwtune facts" and re.match(r"fact\s+value$", lines[1])
    assert all(line == line.rstrip() for line in lines)
    assert max(map(len, lines)) < 400


def test_diff_piped_is_one_whole_line_per_difference(tmp_path):
    res = run("diff", snapshot("laptop-i7-1370p-powersave"), snapshot("epyc7451-2s-8numa"))
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert "  cpu.model: 13th Gen Intel(R) Core(TM) i7-1370P -> AMD EPYC 7451 24-Core Processor" in lines
    assert any(line.startswith("  cpu.governor: FAIL") and "-> PASS" in line for line in lines)
    assert all(line == line.rstrip() for line in lines) and max(map(len, lines)) < 300


def test_recommend_piped_never_cuts_a_name():
    text = run("recommend", "--budget", "5000", "--all").stdout
    assert "…" not in text
    assert "GeForce RTX 4090" in text and "RTX 6000 Ada Generation" in text
    assert not set(text) & set("┏━┳┃┡╇│└┴─┼"), "piped tables are drawn in ASCII, as check's and apply's"


@pytest.mark.slow
def test_bench_run_lists_no_provider_it_did_not_use_and_int8_in_gop(tmp_path):
    env = {"HWTUNE_DATA_DIR": str(tmp_path / "data")}
    text = run("bench", "--model", "mlp", "--backend", "ort", "--mode", "sync", "--batch", "1", "--time", "0.1",
               "--min-count", "3", "--no-save", "--precision", "int8", env=env).stdout
    assert "not benchmarked" not in text
    assert " GOP/s " in text and "GFLOP/s" not in text.split("peak (measured")[0]
    assert re.search(r"CPU int8 \d+ GOP/s", text)


@pytest.mark.slow
def test_tune_settings_print_as_json_and_pbtxt_that_paste(tmp_path):
    env = {"HWTUNE_DATA_DIR": str(tmp_path / "data")}
    text = run("bench", "tune", "--model", "mlp", "--backend", "ov", "--precision", "fp32", "--batch", "1",
               "--latency-slo", "500ms", "--time", "0.1", "--min-count", "3", "--no-save", env=env).stdout
    [line] = [line for line in text.splitlines() if line.strip().startswith("openvino_properties: ")]
    props = json.loads(line.split(": ", 1)[1])
    assert isinstance(props, dict) and props
    pbtxt = text[text.index("Triton config.pbtxt:"):].splitlines()[1:]
    assert any(line.strip() == "dynamic_batching {" for line in pbtxt) and "'" not in "\n".join(pbtxt)
