"""`hwtune watch`: one sample as JSON on this machine, the GPU part through the
NVML fake, new kernel-log events only, and the live view driven in tmux as a
person sees it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import fake_nvml
from hwtune.host import Host
from hwtune.probe.sample import Sampler, parse_kmsg_records

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def test_watch_once_json_on_this_machine():
    res = subprocess.run([sys.executable, "-m", "hwtune", "watch", "--once", "--json"], capture_output=True,
                         text=True, timeout=60, env=ENV)
    assert res.returncode == 0, res.stderr
    sample = json.loads(res.stdout)
    cpu_count = os.cpu_count()
    assert sum(p["cpus"] for p in sample["cpu_packages"]) == cpu_count
    assert all(p["freq_mhz"] and p["freq_mhz"] > 100 for p in sample["cpu_packages"])
    # no GPU here: the reason, never a crash
    assert sample["gpus"] == [] and sample["gpu_reason"]
    assert isinstance(sample["events"], list)


def test_bad_interval_is_a_usage_error():
    res = subprocess.run([sys.executable, "-m", "hwtune", "watch", "--interval", "0.01"], capture_output=True,
                         text=True, timeout=60, env=ENV)
    assert res.returncode == 2
    assert res.stderr.strip() == "hwtune: error: --interval: 0.01 is out of range (must be >= 0.2 and <= 86400)"


def test_gpu_rows_through_the_nvml_fake(monkeypatch):
    fake_nvml.use_fake(monkeypatch, fake_nvml.sick_a100())
    with Sampler(Host("/")) as sampler:
        sample = sampler.sample()
    gpus = sample["gpus"]
    # GPU4 is lost: no handle, so no bus id; the others report
    assert [g["bus_id"] for g in gpus] == [b if i != 4 else None for i, b in enumerate(fake_nvml.A100_BUS_IDS)]
    assert gpus[2]["throttle_reasons"] == ["hw_slowdown", "hw_power_brake_slowdown"]
    assert (gpus[2]["sm_mhz"], gpus[2]["sm_max_mhz"], gpus[0]["temp_slowdown_c"]) == (86, 1410, 90)
    assert (gpus[0]["power_w"], gpus[0]["power_limit_w"]) == (61.0, 400.0)
    assert "GPU is lost" in gpus[4]["error"]


def test_only_events_logged_after_the_start_are_new(tmp_path):
    kmsg = tmp_path / "dev" / "kmsg"
    kmsg.parent.mkdir()
    kmsg.write_text("4,10,5000000,-;Out of memory: Killed process 1 (old) total-vm:1kB\n")
    with Sampler(Host(tmp_path)) as sampler:
        assert sampler.sample()["events"] == []
        with kmsg.open("a") as fh:
            fh.write("6,11,6000000,-;usb 1-1: new device\n SUBSYSTEM=usb\n"
                     "3,12,7250000,-;NVRM: Xid (PCI:0000:19:00): 79, pid='<unknown>', name=<unknown>, "
                     "GPU has fallen off the bus.\n")
        events = sampler.sample()["events"]
        assert [(e["kind"], e["code"], e["time"]) for e in events] == [("xid", "79", "7.250000")]
        assert sampler.sample()["events"] == []


def test_kmsg_records_parse():
    assert parse_kmsg_records(["6,1,5,-;a\n", "4,2,7,c;b\n KEY=v\n"]) == [(1, 5, "a"), (2, 7, "b")]


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (.ci/run installs it)")
# after hwtune, the shell prints its exit code and whether the terminal is back in line mode with echo
AFTER = "echo EXITED=$?; stty -a | tr ' ' '\\n' | grep -x -e '-*icanon' -e '-*echo' | tr '\\n' ' '; echo; sleep 30"


def _start(scenario: str, columns: int = 200, args: str = "watch --interval 0.5") -> str:
    session = f"hwtune-watch-{uuid.uuid4().hex[:8]}"
    cmd = f"{sys.executable} {REPO / 'tests' / 'watch_fake_nvml.py'} {scenario} {args}; {AFTER}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(columns), "-y", "60", cmd],
                   check=True, env=ENV, timeout=30)
    return session


def _stop(session: str) -> None:
    subprocess.run(["tmux", "kill-session", "-t", session], timeout=10, capture_output=True)


@needs_tmux
@pytest.mark.parametrize("key", ["q", "Escape", "C-c"])
def test_watch_in_tmux_as_a_person_sees_it(key):
    session = _start("sick_a100")
    try:
        screen = _wait_for(session, "CPU packages")
        assert "GPUs" in screen and "00000000:07:00.0" in screen
        assert "hw_power_brake_slowdown" in screen  # GPU2's brake, as the H100 capture shows it
        assert "86/1410" in screen  # SM clock against its maximum
        assert "GPU is lost" in screen  # GPU4 is one error row; the others still report
        assert "New health events in the kernel log" in screen
        assert "q, Esc or Ctrl-C to stop" in screen
        first = _clock(screen)
        screen = _wait_for(session, "hwtune watch", differs_from=first)  # it refreshes by itself
        subprocess.run(["tmux", "send-keys", "-t", session, key], check=True, timeout=10)
        screen = _wait_for(session, "EXITED=")
        # each key stops it as the way out it is: exit 0, nothing on stderr, the terminal as it was
        assert "EXITED=0" in screen and "Traceback" not in screen and "interrupted" not in screen
        assert re.search(r"^icanon echo *$", screen, re.M), screen
    finally:
        _stop(session)


@needs_tmux
def test_arrow_keys_do_not_stop_watch():
    session = _start("sick_a100")
    try:
        _wait_for(session, "CPU packages")
        subprocess.run(["tmux", "send-keys", "-t", session, "Up", "x"], check=True, timeout=10)
        time.sleep(1.5)
        assert "EXITED=" not in _capture(session)
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True, timeout=10)
        assert "EXITED=0" in _wait_for(session, "EXITED=")
    finally:
        _stop(session)


@needs_tmux
def test_watch_without_nvidia_driver_says_so_in_one_line_and_shows_the_cpu():
    session = _start("no_driver", columns=60)
    try:
        screen = _wait_for(session, "CPU packages")
        [line] = [ln for ln in screen.splitlines() if "NVIDIA" in ln or "NVML" in ln]
        assert line.rstrip() == "GPUs: no NVIDIA driver on this host (libnvidia-ml not found)"
        assert re.search(r"^0\s+" + str(os.cpu_count()) + r"\s", screen, re.M)  # package 0, its CPUs
        assert all(len(ln) <= 60 for ln in screen.splitlines())
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True, timeout=10)
        assert "EXITED=0" in _wait_for(session, "EXITED=")
    finally:
        _stop(session)


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True,
                          timeout=10).stdout


def _clock(screen: str) -> str:
    line = next((ln for ln in screen.splitlines() if ln.startswith("hwtune watch")), "")
    return line.split()[2] if len(line.split()) > 2 else ""


def _wait_for(session: str, text: str, differs_from: str | None = None, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    screen = ""
    while time.monotonic() < deadline:
        screen = _capture(session)
        if text in screen and (differs_from is None or _clock(screen) not in ("", differs_from)):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} did not appear within {timeout_s} s; the screen:\n{screen}")
