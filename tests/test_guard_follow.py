"""Following a kmsg-format file (--log): a kernel record is acted on; a forged one is not; nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from hwtune.guard import kmsg
from hwtune.guard.follow import LogFile, events_of, follow
from hwtune.guard.service import GuardOptions

XID79 = "3,2041,{usec},-;NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
FORGED = ("11,2042,{usec},-;NVRM: Xid (PCI:0000:5e:00): 79, pid='<unknown>', name=<unknown>, "
          "GPU has fallen off the bus.\n")


@pytest.fixture(autouse=True)
def state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))


def test_a_record_appended_is_acted_on_and_a_forged_one_is_not(tmp_path):
    log = tmp_path / "kmsg.log"
    log.write_text("6,2000,1000000,-;Linux version 6.1.0\n")
    results = []
    appended = []

    def stop() -> bool:
        if results and not appended:
            with log.open("a") as f:
                f.write(FORGED.format(usec=9000000) + " SUBSYSTEM=pci\n" + XID79.format(usec=9000001))
            appended.append(time.monotonic())
        return any(a.action == "drain" for r in results for a in r.actions) or len(results) > 20

    follow(GuardOptions(log=log, node="n1", interval_s=3600), results.append, stop=stop)
    drained = [r for r in results if any(a.action == "drain" for a in r.actions)]
    assert drained, [r.to_json() for r in results]
    assert dict(drained[0].gpus).get("0000:3b:00.0") == "QUARANTINED"
    assert all("0000:5e:00.0" not in dict(r.gpus) for r in results)  # facility 1: a process wrote it


def test_a_restart_rereads_the_file_and_counts_nothing_twice(tmp_path):
    from hwtune.guard.store import Store, state_dir

    log = tmp_path / "kmsg.log"
    log.write_text(XID79.format(usec=5000000))
    for _ in range(2):
        runs = []
        follow(GuardOptions(log=log, node="n1", interval_s=3600), runs.append, stop=lambda runs=runs: bool(runs))
    with Store(state_dir(None)) as store:
        rows = store.db.execute("SELECT key FROM events").fetchall()
    assert rows == [("s2041",)]


def test_partial_lines_wait_and_a_shrunk_file_is_read_again(tmp_path):
    path = tmp_path / "k.log"
    path.write_text("6,1,1,-;first\n6,2,2,-;sec")
    src = LogFile(str(path))
    assert src.read_lines() == ["6,1,1,-;first"]
    with path.open("a") as f:
        f.write("ond\n")
    assert src.read_lines() == ["6,2,2,-;second"]
    path.write_text("6,9,9,-;new\n")
    assert src.read_lines() == ["6,9,9,-;new"]


def test_events_keep_their_records_sequence_numbers():
    lines = ["6,10,1,-;hello", XID79.format(usec=2).strip(),
             "4,12,3,-;NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus."]
    events = events_of(kmsg.kernel_records(lines), "b1", 0.0)
    assert [(e.key, e.kind, e.code) for e in events] == [("s2041", "xid", 79), ("s12", "gpu_off_bus", None)]


def test_following_judges_the_kinds_once_does_and_no_others():
    # an OOM kill is the workload's and a CPU throttle line the cooling's: --once never collects
    # them, so following must not either (a rule naming them is refused when the rules load)
    lines = ["3,20,5,-;Out of memory: Killed process 15784 (python3) total-vm:11964kB, anon-rss:0kB",
             "4,21,6,-;CPU3: Core temperature above threshold, cpu clock throttled",
             "4,22,7,-;NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus."]
    assert [e.kind for e in events_of(kmsg.kernel_records(lines), "b1", 0.0)] == ["gpu_off_bus"]


def test_the_command_follows_a_file_and_prints_json_lines(tmp_path):
    log = tmp_path / "kmsg.log"
    log.write_text("6,1,1,-;boot\n")
    env = dict(os.environ, HWTUNE_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen([sys.executable, "-m", "hwtune", "guard", "--log", str(log), "--node", "n1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["schema"] == "hwtune.guard/1" and first["actions"] == []
        with log.open("a") as f:
            f.write(XID79.format(usec=7000000))
        second = json.loads(proc.stdout.readline())
        assert [(a["target"], a["action"]) for a in second["actions"]] == [("node", "drain"),
                                                                          ("0000:3b:00.0", "reboot")]
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_shipped_unit_passes_systemd_analyze_verify(tmp_path):
    import shutil

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is required in CI (Debian/Ubuntu package: systemd)")
        pytest.skip("systemd-analyze is not installed (Debian/Ubuntu package: systemd)")
    unit = tmp_path / "hwtune-guard.service"
    text = (REPO / "contrib" / "systemd" / "hwtune-guard.service").read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert " guard " in exec_line and "--once" not in exec_line  # the service follows the log
    # verified with the hwtune this test runs (the unit names /usr/local/bin/hwtune, as installed)
    installed = shutil.which("hwtune") or str(Path(sys.executable).parent / "hwtune")
    unit.write_text(text.replace("/usr/local/bin/hwtune", installed))
    proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "hwtune-guard" not in proc.stderr, proc.stderr


def test_listen_serves_the_metrics_while_following(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "kmsg.log"
    log.write_text(XID79.format(usec=5000000))
    runs = []
    follow(GuardOptions(log=log, node="n1", interval_s=3600, listen=("127.0.0.1", port)), runs.append,
           stop=lambda: bool(runs))
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'hwtune_guard_xid_events_total{gpu="0000:3b:00.0",node="n1",xid="79"} 1.0' in text
    assert 'hwtune_guard_active_fault{check="gpu.xid",node="n1",target="0000:3b:00.0"} 1.0' in text


@pytest.mark.live
def test_following_the_live_kernel_log(tmp_path):
    if not os.access("/dev/kmsg", os.R_OK):
        pytest.skip("/dev/kmsg is not readable here (not root, or kernel.dmesg_restrict)")
    runs = []
    follow(GuardOptions(node="n1", interval_s=3600), runs.append, stop=lambda: bool(runs))
    doc = runs[0].to_json()
    assert doc["schema"] == "hwtune.guard/1" and doc["node"]["state"] in ("HEALTHY", "SUSPECT", "QUARANTINED")
    assert not any("kernel log" in r for r in doc["unreadable"])
