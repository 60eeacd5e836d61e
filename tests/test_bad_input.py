"""Every command with bad input: the documented exit code, one line that names the option, file,
key or value, and never a traceback.

One table: (command line, exit code, what the message must name). `{...}` fields are files made
by the `inputs` fixture. hwtune's own errors are one line, "hwtune: error: ..."; a value the
option parser itself rejects (not a number, not a choice) is click's usage error, whose "Error:"
line names the option.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import snapshot
from hwtune.cli import app

VM = "vm-kvm-2vcpu-nocpufreq"

BAD = [
    # check
    ("check --profile nope --root {vm}", 2, "unknown profile 'nope'"),
    ("check --root {tmp}/nowhere", 2, "--root"),
    ("check --root {facts}", 2, "--root"),
    ("check --facts {tmp}/missing.json", 2, "missing.json"),
    ("check --facts {junk}", 2, "junk.json"),
    ("check --facts {facts_null}", 2, "key 'facts'"),
    ("check --facts {gpus_abc}", 2, "key 'gpus'"),
    ("check --facts {threads_text}", 2, "key 'facts.cpu.threads'"),
    ("check --facts {swappiness_text}", 2, "key 'facts.vm.swappiness'"),  # a tunable declaration's fact
    ("check --facts {gpu_memory_text}", 2, "key 'gpus[0].memory_mib'"),
    ("check --format xml --root {vm}", 2, "--format"),
    ("check --fail-on sometimes --root {vm}", 2, "--fail-on"),
    ("check --root {vm} --format junit --output {tmp}/no/such/dir/c.xml", 2, "no/such/dir"),
    ("check --no-such-option", 2, "--no-such-option"),
    # facts, snapshot, profiles
    ("facts --root {tmp}/nowhere", 2, "--root"),
    ("snapshot --out {full}", 2, "--out"),
    ("snapshot", 2, "--out"),
    ("profiles show nope", 2, "unknown profile 'nope'"),
    ("profiles show {bad_profile}", 2, "tune.cpu.govenor"),
    # apply, rollback, history
    ("apply --profile nope --root {copy} --yes", 2, "unknown profile 'nope'"),
    ("apply --profile cpu-inference --root {copy}", 2, "--yes"),
    ("apply --profile cpu-inference --root {tmp}/nowhere --yes", 2, "--root"),
    ("apply --root {copy} --yes", 2, "--profile"),
    ("rollback nope --root {copy}", 2, "'nope'"),
    ("history --root {tmp}/nowhere", 2, "--root"),
    # bench: refused before a runtime is loaded or memory allocated
    ("bench --time nan", 2, "--time nan"),
    ("bench --time inf", 2, "--time inf"),
    ("bench --time -1", 2, "--time"),
    ("bench --time abc", 2, "--time"),
    ("bench --shape input=0x3x64x64", 2, "--shape"),
    ("bench --batch 100000 --backend ort --no-save", 2, "--batch 100000"),
    ("bench --batch abc", 2, "--batch"),
    ("bench --batch 0", 2, "--batch"),
    ("bench --min-count 0", 2, "--min-count"),
    ("bench --precision fp9", 2, "--precision 'fp9'"),
    ("bench --mode fast", 2, "--mode 'fast'"),
    ("bench --backend cuda9", 2, "--backend 'cuda9'"),
    ("bench --device XPU", 2, "--device XPU"),
    ("bench tune --latency-slo fast", 2, "--latency-slo 'fast'"),
    ("bench --model {tmp}/missing.onnx", 2, "missing.onnx"),
    ("bench --json --csv", 2, "--csv"),
    ("bench export nope --out {tmp}/e.onnx", 2, "nope"),
    ("bench compare {tmp}/a.json {tmp}/b.json", 2, "a.json"),
    # recommend
    ("recommend --precision fp9", 2, "--precision: 'fp9'"),
    ("recommend --budget -5", 2, "--budget"),
    ("recommend --budget nan", 2, "--budget: nan"),
    ("recommend --budget abc", 2, "--budget"),
    ("recommend --workload gpt2", 2, "--workload: unknown workload 'gpt2'"),
    ("recommend --hours-per-day 30", 2, "--hours-per-day: 30"),
    ("recommend --hours-per-day nan", 2, "--hours-per-day: nan"),
    ("recommend --years inf", 2, "--years: inf"),
    ("recommend --kwh-price -1", 2, "--kwh-price"),
    ("recommend --top 0", 2, "--top"),
    ("recommend --batch 0", 2, "--batch"),
    ("recommend --model {tmp}/missing.onnx", 2, "--model"),
    ("recommend --gpu-price L4=abc", 2, "--gpu-price"),
    ("recommend --gpu-price L4=nan", 2, "--gpu-price"),
    ("recommend --vendor Qualcomm", 2, "--vendor: unknown vendor 'Qualcomm'"),
    ("recommend --from-bench {junk}", 2, "junk.json"),
    # report, diff, fleet
    ("report --facts {facts_null} --out {tmp}/r.html", 2, "key 'facts'"),
    ("report --facts {gpus_abc} --out {tmp}/r.html", 2, "key 'gpus'"),
    ("report --check {results_text} --facts {facts} --out {tmp}/r.html", 2, "key 'results'"),
    ("report --check {status_odd} --facts {facts} --out {tmp}/r.html", 2, "results[0].status"),
    ("report --root {tmp}/nowhere --out {tmp}/r.html", 2, "--root"),
    ("report --facts {facts} --bench-run {tmp}/missing.json --out {tmp}/r.html", 2, "missing.json"),
    ("report --facts {facts} --recommend {facts} --out {tmp}/r.html", 2, "estimates"),
    ("report --facts {facts} --out {tmp}/no/such/dir/r.html", 2, "no/such/dir"),
    ("diff {facts} {facts_null}", 2, "key 'facts'"),
    ("diff {facts} {gpus_abc}", 2, "key 'gpus'"),
    ("diff {check} {results_text}", 2, "key 'results'"),
    ("diff {facts} {tmp}/nowhere", 2, "nowhere"),
    ("diff {facts}", 2, "'b'"),
    ("fleet report {tmp}/nowhere", 2, "nowhere"),
    # watch
    ("watch --interval nan", 2, "--interval"),
    ("watch --interval 0", 2, "--interval"),
    ("watch --interval abc", 2, "--interval"),
    # issue 19: JSON and TOML a parser cannot hold, numbers no arithmetic can, outputs that are no file
    ("check --facts {deep_json}", 2, "deep.json: not JSON hwtune reads: nested too deeply"),
    ("report --check {deep_json} --out {tmp}/r.html", 2, "deep.json: not JSON hwtune reads: nested too deeply"),
    ("diff {facts} {deep_json}", 2, "nested too deeply"),
    ("recommend --from-bench {deep_json}", 2, "nested too deeply"),
    ("check --facts {bigint_json}", 2, "bigint.json: not JSON hwtune reads: an integer of more than 4,300 digits"),
    ("report --check {bigint_json} --out {tmp}/r.html", 2, "more than 4,300 digits"),
    ("check --facts {surrogate_json}", 2, "surrogate.json: not JSON hwtune reads: a lone surrogate"),
    ("report --check {surrogate_json} --facts {facts} --out {tmp}/r.html", 2, "a lone surrogate"),
    ("diff {check} {surrogate_json}", 2, "a lone surrogate"),
    ("check --profile {deep_toml} --root {vm}", 2, "deep.toml: not valid TOML: nested too deeply"),
    ("profiles show {deep_toml}", 2, "nested too deeply"),
    ("check --profile {bigint_toml} --root {vm}", 2, "bigint.toml: not valid TOML: an integer of more than 4,300"),
    ("check --profile {huge_toml} --root {vm}", 2, "huge.toml: cannot read: larger than 256 KiB"),
    ("check --facts {huge_number}", 2, "expected a finite number within 2**64"),
    ("report --check {counts_markup} --facts {facts} --out {tmp}/r.html", 2, "key 'counts.PASS'"),
    ("report --check {title_number} --facts {facts} --out {tmp}/r.html", 2, "key 'results[0].title'"),
    ("watch --interval 1e300", 2, "--interval: 1e+300 is out of range"),
    ("recommend --budget 1e308", 2, "--budget: 1e+308 is out of range"),
    ("recommend --years 1e300", 2, "--years: 1e+300 is out of range"),
    ("report --facts {facts} --out {tmp}/", 2, "cannot write {tmp}: Is a directory"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("bad")
    vm = snapshot(VM)
    runner = CliRunner()
    facts = json.loads(runner.invoke(app, ["facts", "--root", str(vm), "--json"]).stdout)
    check = json.loads(runner.invoke(app, ["check", "--root", str(vm), "--json"]).stdout)
    gpu = {"index": 0, "name": "NVIDIA L4", "memory_mib": "lots"}
    docs = {
        "facts": facts, "check": check,
        "facts_null": {**facts, "facts": None},
        "gpus_abc": {**facts, "gpus": "abc"},
        "threads_text": {**facts, "facts": {**facts["facts"], "cpu.threads": "many"}},
        "swappiness_text": {**facts, "facts": {**facts["facts"], "vm.swappiness": "abc"}},
        "gpu_memory_text": {**facts, "gpus": [gpu]},
        "results_text": {**check, "results": "abc"},
        "status_odd": {**check, "results": [{"id": "cpu.governor", "status": "MAYBE"}]},
        "counts_markup": {**check, "counts": {"PASS": "<style>.badge{background:green}</style>"}},
        "title_number": {**check, "results": [{"id": "cpu.governor", "status": "PASS", "title": 5}]},
        "huge_number": {**facts, "facts": {**facts["facts"], "mem.total_kib": 1e300}},
    }
    paths = {name: tmp / f"{name}.json" for name in docs}
    for name, doc in docs.items():
        paths[name].write_text(json.dumps(doc))
    (tmp / "junk.json").write_text("{not json")
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp / "bigint.json").write_text('{"schema": 1, "facts": {"cpu.threads": ' + "9" * 5000 + "}}")
    (tmp / "surrogate.json").write_text(json.dumps({**check, "profile": "a\ud800"}))  # written as "\\ud800"
    (tmp / "deep.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    (tmp / "bigint.toml").write_text('name = "x"\nn = ' + "9" * 5000 + "\n")
    (tmp / "huge.toml").write_text('name = "x"\n' + "# padding\n" * 30_000)
    (tmp / "full").mkdir()
    (tmp / "fleet" / "web1").mkdir(parents=True)
    (tmp / "fleet" / "web1" / "check.json").write_text(json.dumps(check))
    (tmp / "full" / "keep").write_text("x")
    (tmp / "bad.toml").write_text('[tune]\n"cpu.govenor" = "performance"\n')
    shutil.copytree(vm, tmp / "copy", symlinks=True)
    return {"tmp": str(tmp), "vm": str(vm), "junk": str(tmp / "junk.json"), "full": str(tmp / "full"),
            "bad_profile": str(tmp / "bad.toml"), "copy": str(tmp / "copy"), "fleet": str(tmp / "fleet"),
            **{f"{name}_{kind}": str(tmp / f"{name}.{kind}") for name in ("deep", "bigint", "surrogate", "huge")
               for kind in ("json", "toml")},
            **{name: str(p) for name, p in paths.items()}}


@pytest.mark.parametrize("args", [["report", "--facts", "{facts}", "--out", ""],
                                  ["fleet", "report", "{fleet}", "--out", ""],
                                  ["check", "--root", "{vm}", "--format", "junit", "--output", ""]])
def test_an_empty_output_path_is_one_line_and_exit_2(inputs, args):
    """`report --out ''` ended in a traceback and exit 1."""
    res = CliRunner().invoke(app, [a.format(**inputs) for a in args])
    assert (res.exit_code, res.stderr) == (2, "hwtune: error: '.': names a folder, not a file\n"), res.stdout


@pytest.mark.parametrize("line,code,names", BAD, ids=[b[0].split(" {")[0] for b in BAD])
def test_bad_input_is_one_line_and_an_exit_code(inputs, line, code, names, monkeypatch):
    monkeypatch.setenv("HWTUNE_DATA_DIR", os.path.join(inputs["tmp"], "data"))
    args = [a.format(**inputs) for a in line.split()]
    res = CliRunner().invoke(app, args)
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == code, (res.stdout, res.stderr)
    assert "Traceback" not in res.stdout + res.stderr
    err = res.stderr.strip()
    if err.startswith("hwtune: error: "):
        assert err.count("\n") == 0, err
        message = err
    else:  # the option parser's usage error: its last line names the option
        message = err.splitlines()[-1]
        assert message.startswith("Error: "), err
    assert names.format(**inputs) in message, message


# Runs one command as uid/gid 65534 without supplementary groups. The modules the
# commands load are imported first: the interpreter may sit where only root can read.
AS_NOBODY = """
import os, sys
import hwtune.cli, hwtune.host, hwtune.probe, hwtune.verdict, hwtune.profile, hwtune.apply.transaction
import hwtune.report.diff, hwtune.report.page, hwtune.report.atomic, hwtune.report.fleet
import typer.main
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)
libraries = [os.path.dirname(m.__file__) for m in (typer, hwtune)]
if not all(os.access(p, os.R_OK | os.X_OK) for p in libraries):
    sys.exit(77)  # the interpreter sits where this user cannot read (a venv under a 0700 home)
sys.argv = ["hwtune"] + sys.argv[1:]
hwtune.cli.main()
"""


@pytest.mark.parametrize("command", [["check", "--root"], ["facts", "--root"], ["history", "--root"],
                                     ["report", "--out", "/dev/null", "--root"], ["diff", "{root}"],
                                     ["fleet", "report"]])
def test_a_root_inside_a_folder_the_user_cannot_enter(tmp_path, command):
    locked = tmp_path / "locked"
    shutil.copytree(snapshot(VM), locked / "snap", symlinks=True)
    root = locked / "snap"
    args = [a.format(root=root) for a in command] + [str(root)]
    locked.chmod(0o700)
    try:
        if os.geteuid() == 0:  # root enters any folder: run as nobody
            argv = [sys.executable, "-c", AS_NOBODY, *args]
        else:
            locked.chmod(0)
            argv = [sys.executable, "-m", "hwtune", *args]
        res = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/")
    finally:
        locked.chmod(0o700)
    if res.returncode == 77:
        pytest.skip("an unprivileged user cannot read this Python's libraries (.ci/run's venv is readable)")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert str(root) in res.stderr and "ermission denied" in res.stderr
