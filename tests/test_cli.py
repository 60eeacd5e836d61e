"""The command line as a user runs it: exit codes, JSON interfaces, one-line errors, snapshots."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import snapshot
from hwtune.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_check_json_interface_on_a_snapshot():
    res = invoke("check", "--root", str(snapshot("laptop-i7-1370p-powersave")), "--json")
    assert res.exit_code == 1  # the laptop is on powersave
    report = json.loads(res.stdout)
    assert report["schema"] == 1 and report["profile"] == "cpu-inference" and report["status"] == "fail"
    governor = next(r for r in report["results"] if r["id"] == "cpu.governor")
    assert governor["status"] == "FAIL" and governor["fix"]
    for r in report["results"]:
        assert set(r) >= {"id", "status", "observed", "expected", "message", "fix"}
        assert r["status"] in {"PASS", "WARN", "FAIL", "SKIP", "ERROR"}


def test_check_exit_codes_and_fail_on_warn():
    epyc = str(snapshot("epyc7451-2s-8numa"))
    assert invoke("check", "--root", epyc).exit_code == 0  # only WARN (no VNNI)
    assert invoke("check", "--root", epyc, "--fail-on", "warn").exit_code == 1


def test_profile_chosen_by_gpu_presence():
    res = invoke("check", "--root", str(snapshot("gpu-2xa5000-xml")), "--json")
    assert json.loads(res.stdout)["profile"] == "gpu-inference"
    res = invoke("check", "--root", str(snapshot("vm-kvm-2vcpu-nocpufreq")), "--json")
    assert json.loads(res.stdout)["profile"] == "cpu-inference"


def test_unknown_profile_is_a_one_line_usage_error():
    res = invoke("check", "--profile", "nope", "--root", str(snapshot("vm-kvm-2vcpu-nocpufreq")))
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0
    assert "unknown profile 'nope'" in res.stderr and "gpu-inference" in res.stderr


def test_malformed_profile_file_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[tune]\n"cpu.govenor" = "performance"\n')
    res = invoke("check", "--profile", str(bad), "--root", str(snapshot("vm-kvm-2vcpu-nocpufreq")))
    assert res.exit_code == 2
    assert str(bad) in res.stderr and "tune.cpu.govenor" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_missing_root_and_bad_facts_file(tmp_path):
    res = invoke("check", "--root", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "Traceback" not in res.stderr
    junk = tmp_path / "facts.json"
    junk.write_text("{not json")
    res = invoke("check", "--facts", str(junk))
    assert res.exit_code == 2 and str(junk) in res.stderr


def test_facts_json_interface_and_replay_of_saved_facts(tmp_path):
    res = invoke("facts", "--root", str(snapshot("epyc7451-2s-8numa")), "--json")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert set(doc) == {"schema", "facts", "gpus", "unavailable"} and doc["schema"] == 1
    required = ["kernel.release", "os.id", "os.version_id", "os.pretty_name", "cpu.arch", "cpu.vendor", "cpu.model",
                "cpu.sockets", "cpu.cores", "cpu.threads", "cpu.smt", "cpu.hypervisor", "cpu.flags.avx2",
                "cpu.flags.avx512f", "cpu.flags.avx512_vnni", "cpu.flags.avx_vnni", "cpu.flags.amx_int8",
                "numa.nodes", "numa.node_cpus", "cpufreq.driver", "cpufreq.governors", "mem.total_kib",
                "mm.thp_enabled", "vm.swappiness", "nvidia.driver_version", "nvidia.cuda_version",
                "cuda.toolkit_version", "cudnn.version", "nvidia.persistenced", "gpu.count", "python.version"]
    for key in required:
        assert key in doc["facts"], key
        if doc["facts"][key] is None:
            assert doc["unavailable"][key], key
    saved = tmp_path / "facts.json"
    saved.write_text(res.stdout)
    direct = json.loads(invoke("check", "--root", str(snapshot("epyc7451-2s-8numa")), "--json").stdout)
    replayed = json.loads(invoke("check", "--facts", str(saved), "--json").stdout)
    assert replayed["host"] is None  # saved facts name no host
    for doc in (direct, replayed):
        del doc["host"], doc["time"]
    assert direct == replayed


def test_profiles_list_and_show():
    res = invoke("profiles", "list", "--json")
    names = [p["name"] for p in json.loads(res.stdout)]
    assert {"base", "cpu-inference", "gpu-inference"} <= set(names)
    shown = json.loads(invoke("profiles", "show", "gpu-inference", "--json").stdout)
    assert shown["chain"] == ["base", "cpu-inference", "gpu-inference"]
    assert shown["checks"]["kernel.version"]["min"] == "5.1"
    assert shown["checks"]["cpu.vnni"]["informative"] is True
    assert invoke("profiles", "show", "nope").exit_code == 2


def test_table_output_without_a_terminal_is_plain_text():
    res = invoke("check", "--root", str(snapshot("laptop-i7-1370p-powersave")))
    assert "\x1b[" not in res.stdout
    assert re.search(r"^FAIL\s+cpu\.governor\s", res.stdout, re.M)
    # the fix names the snapshot it was judged on: pasted, it applies there (tests/test_hints.py)
    assert re.search(r"fix: \S.* apply --profile cpu-inference --root \S*laptop-i7-1370p-powersave", res.stdout)


def test_check_names_the_host_it_judged():
    lines = invoke("check", "--root", str(snapshot("epyc7451-2s-8numa"))).stdout.splitlines()
    assert lines[1] == "host: AMD EPYC 7451 24-Core Processor (2 sockets, 96 threads), no NVIDIA GPU"
    laptop = invoke("check", "--root", str(snapshot("laptop-i7-1370p-powersave"))).stdout.splitlines()[1]
    assert laptop.startswith("host: kernel 6.1.0-13-amd64, 13th Gen Intel(R) Core(TM) i7-1370P (1 socket, 20 threads)")
    gpus = invoke("check", "--root", str(snapshot("gpu-2xa5000-xml"))).stdout.splitlines()[1]
    assert gpus == "host: 2x NVIDIA RTX A5000"


@pytest.mark.live
def test_live_check_runs_and_skips_cpufreq_in_this_vm():
    res = subprocess.run([sys.executable, "-m", "hwtune", "check", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode in (0, 1), res.stderr
    report = json.loads(res.stdout)
    if os.path.isdir("/sys/devices/system/cpu/cpufreq") and not any(
            n.startswith("policy") for n in os.listdir("/sys/devices/system/cpu/cpufreq")):
        governor = next(r for r in report["results"] if r["id"] == "cpu.governor")
        assert governor["status"] == "SKIP" and "no cpufreq policy" in governor["message"]
    else:
        pytest.skip("this machine has cpufreq policies; the SKIP path is covered by the VM snapshot")


@pytest.mark.live
def test_snapshot_replays_to_the_same_facts(tmp_path):
    out = tmp_path / "snap"
    res = invoke("snapshot", "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    live = json.loads(invoke("facts", "--json").stdout)
    replay = json.loads(invoke("facts", "--root", str(out), "--json").stdout)
    assert replay == live
    assert invoke("snapshot", "--out", str(out)).exit_code == 2  # never overwrites
    # only what ran is filed as a command: the versions hwtune read in-process are observations
    assert (out / "observed" / "python_version.txt").read_text().startswith("Python ")
    assert (out / "observed" / "python_packages.txt").is_file()
    assert not list((out / "cmd").glob("python3*")) if (out / "cmd").is_dir() else True
    manifest = json.loads((out / "hwtune-snapshot.json").read_text())
    assert "python_packages" in manifest["observed"] and not any("pip" in c for c in manifest["commands"])


def test_version_and_module_entry_point():
    res = subprocess.run([sys.executable, "-m", "hwtune", "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("hwtune ")


@pytest.mark.parametrize("args,commands", [
    (["check", "--json"], {"check"}), (["profiles", "list"], {"profiles"}), (["facts", "--json"], {"facts"}),
    (["bench", "devices"], {"bench"}), (["bench", "--model", "mlp"], {"bench"}), (["rollback", "ID"], {"rollback"}),
    (["fleet", "report", "x"], {"fleet"}), (["--version"], None), (["--help", "check"], None), ([], None),
    (["nope"], None)])
def test_a_run_of_one_command_converts_only_that_command(args, commands):
    from hwtune.cli_root import COMMANDS, app_for

    chosen = app_for(args)
    names = {c.name or c.callback.__name__ for c in chosen.registered_commands} | \
        {g.name for g in chosen.registered_groups}
    assert names == (commands or set(COMMANDS))  # None: the whole app


def test_the_entry_points_command_map_names_exactly_what_each_module_registers():
    from hwtune.cli import COMMAND_MODULES
    from hwtune.cli_root import COMMANDS, _name, new_app

    registered = {}
    for module in COMMAND_MODULES:
        one = new_app()
        module.register(one)
        for name in [_name(c) for c in one.registered_commands] + [g.name for g in one.registered_groups]:
            registered[name] = module.__name__.rsplit(".", 1)[1]
    assert registered == COMMANDS


def test_a_single_command_run_imports_no_other_command_module():
    code = ("import sys; sys.argv = ['hwtune', 'profiles', 'list']; from hwtune.cli_root import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('hwtune.cli')), file=sys.stderr)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stderr.strip() == "['hwtune.cli_common', 'hwtune.cli_facts', 'hwtune.cli_root']", res.stderr


def test_every_command_is_reachable_from_the_console_script():
    for command in ("facts", "snapshot", "profiles", "bench", "recommend", "apply", "rollback", "history", "report",
                    "diff", "fleet"):
        res = subprocess.run([sys.executable, "-m", "hwtune", command, "--help"], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0 and "Usage" in res.stdout, (command, res.stderr)


def test_terminal_table_shows_brackets_in_the_title_as_they_are():
    import io

    from rich.console import Console

    from hwtune import profile
    from hwtune.facts import Facts
    from hwtune.render import render_report
    from hwtune.verdict import evaluate

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    report = evaluate(Facts({"kernel.release": "6.8.0"}), profile.load("cpu-inference"))
    render_report(console, report, host_label="/srv/snaps/[bold]node-7")
    assert "on /srv/snaps/[bold]node-7" in buf.getvalue()


def test_text_from_files_is_printed_as_is_not_as_markup(tmp_path):
    custom = tmp_path / "edge.toml"
    custom.write_text('description = "edge boxes [lab] with THP always [madvise] never"\n'
                      'include = ["cpu-inference"]\n')
    res = invoke("profiles", "show", str(custom))
    assert res.exit_code == 0, res.stdout
    assert "edge boxes [lab] with THP always [madvise] never" in res.stdout


ROOT_SAYS = {"apply": "Apply to", "rollback": "Roll back an apply made with the same --root",
             "history": "List the applies journaled in this tree", "check": "Read a recorded snapshot",
             "facts": "Read a recorded snapshot", "report": "Report on a recorded snapshot"}


def test_root_help_says_what_each_command_does_with_it():
    import typer

    root = typer.main.get_command(app)
    with_root = {}
    for name, cmd in root.commands.items():
        for sub_name, sub in (getattr(cmd, "commands", None) or {name: cmd}).items():
            for param in sub.params:
                if "--root" in getattr(param, "opts", ()):
                    with_root[sub_name if sub is not cmd else name] = param.help
    assert set(with_root) == set(ROOT_SAYS), "a command with --root: say here what its --root does"
    for name, help_text in with_root.items():
        assert help_text.startswith(ROOT_SAYS[name]), (name, help_text)
    res = invoke("history", "--help")
    assert "Apply to" not in res.stdout and "List the applies journaled" in " ".join(res.stdout.split())
