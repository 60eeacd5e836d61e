"""hwtune fleet report and hwtune diff, on the real snapshots; and the Ansible playbook run for real."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import REPO, snapshot
from hwtune import profile
from hwtune.verdict import effective_params
from report_helpers import check_json, chromium, facts_json, invoke, needs_chromium, write_json

HOSTS = {"laptop-a": "laptop-i7-1370p-powersave", "laptop-b": "laptop-i7-1370p-powersave",
         "epyc": "epyc7451-2s-8numa", "vm": "vm-kvm-2vcpu-nocpufreq"}


def make_fleet(root: Path, broken: bool = True) -> Path:
    for host, snap in HOSTS.items():
        write_json(root / host / "check.json", check_json(snap))
        write_json(root / host / "facts.json", facts_json(snap))
    if broken:
        (root / "old").mkdir()
        (root / "old" / "error.txt").write_text("hwtune needs Python 3.11 or newer, and python3 on old is 3.9.2\n")
    return root


def test_fleet_json_majorities_and_outliers(tmp_path):
    res = invoke("fleet", "report", make_fleet(tmp_path / "r"), "--json")
    assert res.exit_code == 1  # the laptops FAIL, and one host has no result
    doc = json.loads(res.stdout)
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert set(hosts) == {"laptop-a", "laptop-b", "epyc", "vm", "old"}
    assert hosts["old"]["status"] == "no result" and "3.9.2" in hosts["old"]["error"]
    assert hosts["epyc"]["cpu_model"] == "AMD EPYC 7451 24-Core Processor"
    checks = {c["id"]: c for c in doc["checks"]}
    # hypervisor: three bare-metal PASS, the KVM guest WARNs
    assert checks["cpu.hypervisor"]["majority"] == "PASS"
    assert checks["cpu.hypervisor"]["differ"] == [{"host": "vm", "status": "WARN"}]
    # governor: 2 FAIL (laptops), 1 PASS, 1 SKIP (the VM has no cpufreq): a SKIP is no verdict,
    # so the two FAILs are the majority of the three hosts that judged it
    assert checks["cpu.governor"]["majority"] == "FAIL" and checks["cpu.governor"]["counts"] == {
        "PASS": 1, "FAIL": 2, "SKIP": 1}
    assert checks["cpu.governor"]["differ"] == [{"host": "epyc", "status": "PASS"}]
    assert checks["cpu.vnni"]["majority"] == "WARN" and checks["cpu.vnni"]["differ"] == []
    assert hosts["vm"]["differs_from_majority"] == ["cpu.hypervisor"]  # it skips cpu.boost: no outlier
    assert hosts["laptop-a"]["differs_from_majority"] == []


def test_fleet_majority_ignores_skip_on_a_mixed_fleet(tmp_path):
    """One GPU host among CPU hosts: the CPU hosts SKIP the GPU checks, and nobody is an outlier for it."""
    root = tmp_path / "r"
    for host, snap in {"gpu": "gpu-2xa5000-xml", "cpu-a": "epyc7451-2s-8numa",
                       "cpu-b": "epyc7451-2s-8numa"}.items():
        write_json(root / host / "check.json", check_json(snap, "gpu-inference"))
    doc = json.loads(invoke("fleet", "report", root, "--json").stdout)
    checks = {c["id"]: c for c in doc["checks"]}
    persistenced = checks["nvidia.persistenced"]
    assert persistenced["counts"]["SKIP"] == 2 and persistenced["statuses"]["gpu"] != "SKIP"
    assert persistenced["majority"] == persistenced["statuses"]["gpu"] and persistenced["differ"] == []
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert not any(c.startswith(("gpu.", "nvidia.")) for c in hosts["gpu"]["differs_from_majority"])


def test_fleet_terminal_table(tmp_path):
    res = invoke("fleet", "report", make_fleet(tmp_path / "r"))
    lines = res.stdout.splitlines()
    header = next(line for line in lines if "laptop-a" in line and "majority" in line)
    assert "old" not in header.split()  # a host without a result has no column
    row = next(line for line in lines if line.startswith("cpu.hypervisor "))
    assert re.search(r"PASS\s+PASS\s+PASS\s+WARN \*", row) and "3 PASS, 1 WARN" in row
    assert re.search(r"^cpu\.governor .* FAIL +1 PASS, 2 FAIL, 1 SKIP", res.stdout, re.M)
    assert not set(res.stdout) & set("|+┃│"), "piped, plain columns without box characters"
    assert "old: no result: hwtune needs Python 3.11 or newer" in res.stdout


def test_fleet_html_marks_the_outliers(tmp_path):
    out = tmp_path / "fleet.html"
    assert invoke("fleet", "report", make_fleet(tmp_path / "r"), "--out", out).exit_code == 1
    text = out.read_text(encoding="utf-8")
    outlined = re.findall(r'<td class="s (?:diff|same) odd" title="([^"]+)"', text)
    assert sorted(t.split(":")[0] for t in outlined) == ["epyc cpu.governor", "vm cpu.hypervisor"]
    assert "no result: hwtune needs Python 3.11" in text and "<script" not in text


@needs_chromium
def test_fleet_page_renders_in_chromium(tmp_path):
    out = tmp_path / "fleet.html"
    invoke("fleet", "report", make_fleet(tmp_path / "r"), "--out", out)
    dom, console = chromium(out, tmp_path, "--dump-dom")
    assert console == []
    assert len(re.findall(r'<td class="host">', dom)) == 1 + 5  # the majority row and five hosts
    png = tmp_path / "fleet.png"
    _, console = chromium(out, tmp_path, f"--screenshot={png}", "--window-size=1280,900")
    assert console == [] and png.read_bytes()[:4] == b"\x89PNG"
    keep = os.environ.get("HWTUNE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(png, Path(keep) / "fleet-screenshot.png")


def test_fleet_exit_codes_and_bad_input(tmp_path):
    ok = tmp_path / "ok"
    write_json(ok / "epyc" / "check.json", check_json("epyc7451-2s-8numa"))
    write_json(ok / "vm.json", check_json("vm-kvm-2vcpu-nocpufreq"))  # a flat <host>.json counts too
    res = invoke("fleet", "report", ok, "--json")
    assert res.exit_code == 0 and [h["name"] for h in json.loads(res.stdout)["hosts"]] == ["epyc", "vm"]
    res = invoke("fleet", "report", tmp_path / "missing")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "not a folder" in res.stderr
    (tmp_path / "empty").mkdir()
    assert invoke("fleet", "report", tmp_path / "empty").exit_code == 2
    (ok / "epyc" / "check.json").write_text('{"schema": 1}')  # one malformed host: a row, the rest still shown
    res = invoke("fleet", "report", ok)
    assert res.exit_code == 1 and res.stderr == ""
    assert f"epyc: unreadable: {ok / 'epyc' / 'check.json'}: not a `hwtune check --json` report" in res.stdout


def test_diff_two_hosts(tmp_path):
    fleet = make_fleet(tmp_path / "r", broken=False)
    res = invoke("diff", fleet / "laptop-a", fleet / "epyc", "--json")
    assert res.exit_code == 1
    d = json.loads(res.stdout)
    facts = {f["id"]: f for f in d["facts"]["changed"]}
    assert facts["cpu.model"]["a"] == "13th Gen Intel(R) Core(TM) i7-1370P"
    assert facts["cpu.model"]["b"] == "AMD EPYC 7451 24-Core Processor"
    assert facts["numa.nodes"] == {"id": "numa.nodes", "a": 1, "b": 8}
    checks = {c["id"]: c for c in d["checks"]["changed"]}
    assert checks["cpu.governor"]["a"]["status"] == "FAIL" and checks["cpu.governor"]["b"]["status"] == "PASS"
    assert "cpu.hypervisor" not in checks  # PASS on both, same observation
    res = invoke("diff", fleet / "laptop-a", fleet / "epyc")
    assert "verdicts that differ" in res.stdout and "facts that differ" in res.stdout


def test_diff_one_host_before_and_after_a_change(tmp_path):
    before = snapshot("laptop-i7-1370p-powersave")
    after = tmp_path / "after"
    shutil.copytree(before, after, symlinks=True)
    for gov in glob.glob(str(after / "sys/devices/system/cpu/cpufreq/policy*/scaling_governor")):
        Path(gov).write_text("performance\n")
    res = invoke("diff", before, after, "--json")
    assert res.exit_code == 1
    d = json.loads(res.stdout)
    assert [f["id"] for f in d["facts"]["changed"]] == ["cpufreq.governors"]
    assert {c["id"]: (c["a"]["status"], c["b"]["status"]) for c in d["checks"]["changed"]}["cpu.governor"] == (
        "FAIL", "PASS")
    # the same host, as a snapshot and as the JSON it gives: nothing differs
    write_json(tmp_path / "same" / "check.json", check_json("laptop-i7-1370p-powersave"))
    write_json(tmp_path / "same" / "facts.json", facts_json("laptop-i7-1370p-powersave"))
    res = invoke("diff", before, tmp_path / "same")
    assert res.exit_code == 0 and "no difference" in res.stdout


def test_diff_bad_inputs(tmp_path):
    check = write_json(tmp_path / "c.json", check_json("epyc7451-2s-8numa"))
    facts = write_json(tmp_path / "f.json", facts_json("epyc7451-2s-8numa"))
    res = invoke("diff", check, facts)
    assert res.exit_code == 2 and "nothing to compare" in res.stderr and res.stderr.count("\n") == 1
    other = write_json(tmp_path / "o.json", {"hello": 1})
    res = invoke("diff", check, other)
    assert res.exit_code == 2 and str(other) in res.stderr
    res = invoke("diff", check, tmp_path / "nope")
    assert res.exit_code == 2 and "no such file or folder" in res.stderr


def test_facts_and_check_output_replace_a_planted_link_never_follow_it(tmp_path):
    """The role's outputs are written by hwtune (no shell redirect): a link planted at the output's name is
    replaced, and the file it pointed to is untouched."""
    target = tmp_path / "root-only"
    target.write_text("root's own file\n")
    snap = str(snapshot("vm-kvm-2vcpu-nocpufreq"))
    for command, name in ((["facts", "--json"], "facts.json"), (["check", "--json"], "check.json")):
        out = tmp_path / name
        out.symlink_to(target)
        res = invoke(*command, "--root", snap, "--output", out)
        assert res.exit_code in (0, 1) and res.stdout == "", res.stderr
        assert not out.is_symlink() and json.loads(out.read_text())["schema"] == 1
        assert target.read_text() == "root's own file\n"
    assert json.loads((tmp_path / "facts.json").read_text()) == json.loads(
        invoke("facts", "--json", "--root", snap).stdout)


# ---- the real playbook ------------------------------------------------------------------------------

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
PLAYBOOK = REPO / "contrib" / "ansible" / "hwtune.yml"


def old_python() -> str | None:
    """A Python older than 3.11 on this machine, to stand for a host that lacks 3.11."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.[89].*/bin/python3")) + \
        sorted(glob.glob("/root/.pyenv/versions/3.10.*/bin/python3")) + \
        [p for p in ("/usr/bin/python3.9", "/usr/bin/python3.10") if os.path.exists(p)]
    return candidates[0] if candidates else None


def recap(output: str) -> dict[str, dict[str, int]]:
    out = {}
    for host, stats in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", stats)}
    return out


@pytest.mark.slow
@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-core not installed (pip install -e '.[test]')")
def test_ansible_playbook_on_two_local_hosts_then_fleet_report(tmp_path):
    old = old_python()
    lines = ["[fleet]"]
    for name in ("node-a", "node-b"):
        lines.append(f"{name} hwtune_venv={tmp_path}/{name}/venv hwtune_work_dir={tmp_path}/{name}/work")
    if old:
        lines.append(f"old-py hwtune_venv={tmp_path}/old/venv hwtune_work_dir={tmp_path}/old/work "
                     f"hwtune_python={old}")
    lines += ["[all:vars]", "ansible_connection=local", f"ansible_python_interpreter={sys.executable}"]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("\n".join(lines) + "\n")
    results = tmp_path / "results"
    # PYTHONPATH would make the hosts' pip see the checkout's hwtune as installed already
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "LC_ALL": "C.UTF-8",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK), "-e", f"hwtune_results_dir={results}"]
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        log = run.stdout + run.stderr
        stats = recap(log)
        assert stats["node-a"]["failed"] == 0 and stats["node-b"]["failed"] == 0, log[-4000:]
        for name in ("node-a", "node-b"):
            report = json.loads((results / name / "check.json").read_text())
            enabled = [c for c, p in effective_params(profile.load(report["profile"])).items() if p["enabled"]]
            assert report["schema"] == 1 and [r["id"] for r in report["results"]] == enabled
            assert json.loads((results / name / "facts.json").read_text())["facts"]["cpu.threads"] >= 1
            with tarfile.open(results / name / "snapshot.tar.gz") as tar:
                assert "snapshot/hwtune-snapshot.json" in tar.getnames()
            # the core only: no ML runtime on a host that is only checked
            site = next((tmp_path / name / "venv" / "lib").glob("python3*/site-packages"))
            assert (site / "hwtune").is_dir() and not any((site / m).exists() for m in ("onnxruntime", "openvino",
                                                                                         "onnx", "numpy"))
            # the work folder was made root's alone, and this run's private folder in it is gone
            work = tmp_path / name / "work"
            assert work.stat().st_uid == 0 and work.stat().st_mode & 0o777 == 0o700
            assert os.listdir(work) == []
        if old:  # that host fails alone, with the reason, and the run says so
            assert run.returncode == 2 and stats["old-py"]["failed"] == 1
            assert "hwtune needs Python 3.11 or newer" in (results / "old-py" / "error.txt").read_text()
        else:
            assert run.returncode == 0, log[-4000:]

        res = invoke("fleet", "report", results)
        assert "node-a" in res.stdout and "node-b" in res.stdout
        doc = json.loads(invoke("fleet", "report", results, "--json").stdout)
        assert all(c["differ"] == [] for c in doc["checks"])  # one machine twice: nobody differs
        keep = os.environ.get("HWTUNE_FLEET_TABLE_OUT")
        if keep:  # how docs/report.md's fleet table is made
            Path(keep).write_text(res.stdout)

        # --check --limit: only node-a is touched, nothing runs, nothing is fetched again
        stamp = (results / "node-a" / "check.json").stat().st_mtime_ns
        run = subprocess.run([*argv, "--check", "--limit", "node-a"], capture_output=True, text=True,
                             timeout=300, env=env, cwd=tmp_path)
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-4000:]
        assert set(recap(log)) == {"node-a"}
        assert "--check: hwtune check, facts and snapshot would run on node-a" in log
        keep_log = os.environ.get("HWTUNE_ANSIBLE_LOG_OUT")
        if keep_log:
            Path(keep_log).write_text(log)
        assert (results / "node-a" / "check.json").stat().st_mtime_ns == stamp
    finally:
        for name in ("node-a", "node-b", "old"):  # a venv each: do not leave them to pytest's tmp rotation
            shutil.rmtree(tmp_path / name, ignore_errors=True)


EVIL_INIT = """import pathlib
pathlib.Path({marker!r}).write_text("foreign code ran as root")
"""
SWAPPER = """import os, shutil, sys, time
work, evil = sys.argv[1], sys.argv[2]
end = time.monotonic() + 300
while time.monotonic() < end:
    for folder, _dirs, files in os.walk(work):
        for name in files:
            if name.endswith(".whl"):
                try:
                    shutil.copyfile(evil, os.path.join(folder, name + ".x"))
                    os.replace(os.path.join(folder, name + ".x"), os.path.join(folder, name))
                except OSError:
                    pass
    time.sleep(0.005)
"""


def evil_wheel(path: Path, marker: Path) -> Path:
    """A wheel of the same name and version whose hwtune, once imported as root, leaves a marker."""
    import zipfile

    info = "hwtune-0.1.0.dist-info"
    files = {"hwtune/__init__.py": EVIL_INIT.format(marker=str(marker)),
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: hwtune\nVersion: 0.1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def tree_listing(top: Path) -> dict[str, tuple]:
    out = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), top)] = (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not ANSIBLE_PLAYBOOK.exists(), reason="ansible-core not installed (pip install -e '.[test]')")
@pytest.mark.skipif(os.geteuid() != 0, reason="acts as uid 65534 against root's playbook run: needs root")
def test_ansible_refuses_a_work_folder_a_local_user_made_first(tmp_path):
    """A local user (uid 65534) makes hwtune_work_dir before the run, with links to a root-only file and a
    loop that swaps any wheel in it for theirs: that host fails alone, with the reason; nothing outside is
    written, their code never runs, the root-only file is unchanged."""
    import tempfile

    nobody = 65534
    secret = tmp_path / "root-only"
    secret.mkdir(mode=0o700)
    canary = secret / "canary"
    canary.write_text("root's own file\n")
    canary.chmod(0o600)
    # /var/tmp's stand-in: world-writable and sticky, where anyone may create the folder first
    shared = Path(tempfile.mkdtemp(prefix="hwtune-vartmp-"))
    shared.chmod(0o1777)
    marker = shared / "pwned"
    work = shared / "hwtune"
    swapper = None
    try:
        work.mkdir()
        os.chown(work, nobody, nobody)
        for name in ("check.json", "facts.json", "snapshot.tar.gz", "snapshot"):
            os.symlink(canary if name != "snapshot" else secret, work / name)
            os.chown(work / name, nobody, nobody, follow_symlinks=False)
        evil = evil_wheel(shared / "evil.whl", marker)
        (shared / "swap.py").write_text(SWAPPER)
        swapper = subprocess.Popen(["/usr/bin/python3", str(shared / "swap.py"), str(work), str(evil)],
                                   user=nobody, group=nobody, extra_groups=[], cwd="/",
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before_secret, before_work = tree_listing(secret), tree_listing(work)
        canary_stat = canary.stat()

        inventory = tmp_path / "hosts.ini"
        loose = tmp_path / "loose"  # root's, but anyone may write in it
        loose.mkdir()
        loose.chmod(0o777)
        inventory.write_text(f"[fleet]\nhostile hwtune_venv={tmp_path}/hostile/venv hwtune_work_dir={work}\n"
                             f"loose hwtune_venv={tmp_path}/loose-venv/venv hwtune_work_dir={loose}\n"
                             f"[all:vars]\nansible_connection=local\nansible_python_interpreter={sys.executable}\n")
        results = tmp_path / "results"
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_HOME": str(tmp_path / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
               "LC_ALL": "C.UTF-8", "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        run = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK),
                              "-e", f"hwtune_results_dir={results}"],
                             capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
        log = run.stdout + run.stderr
        assert swapper.poll() is None, "the swapping loop should still be running"
        assert run.returncode == 2 and recap(log)["hostile"]["failed"] == 1, log[-4000:]
        assert recap(log)["loose"]["failed"] == 1 and os.listdir(loose) == []
        assert f"hwtune_work_dir {loose} may be written by group or others (mode 0777)" in (
            results / "loose" / "error.txt").read_text()
        reason = (results / "hostile" / "error.txt").read_text()
        assert f"hwtune_work_dir {work} is owned by uid {nobody}, not root on hostile" in reason, reason
        assert "nothing was installed or run" in reason
        assert not marker.exists() and not (tmp_path / "hostile" / "venv").exists()
        assert canary.read_text() == "root's own file\n" and canary.stat().st_mtime_ns == canary_stat.st_mtime_ns
        assert tree_listing(secret) == before_secret and tree_listing(work) == before_work
        assert sorted(p.name for p in (results / "hostile").iterdir()) == ["error.txt"]  # nothing fetched
    finally:
        if swapper is not None:
            swapper.kill()
            swapper.wait()
        shutil.rmtree(shared, ignore_errors=True)
