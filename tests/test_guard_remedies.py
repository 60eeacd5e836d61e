"""The GPU remedies' own commands (guard/actuators/remedy.py) against a recording stand-in for
nvidia-smi on PATH: what is run, and how its answers are read. There is no GPU on these machines:
the answers are the formats nvidia-smi documents, for drivers that know the recovery action
(R570 on), only the older reset flag, or neither."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwtune.guard.actuators import ActuatorError
from hwtune.guard.actuators.remedy import NvidiaRemedies

GPU = "0000:3b:00.0"
FAKE = r"""#!/bin/sh
echo "$*" >> "$FAKE_SMI/calls"
case "$*" in
  *--query-compute-apps*) cat "$FAKE_SMI/apps" ;;
  -r*) exit "$(cat "$FAKE_SMI/reset-rc")" ;;
  *--query-gpu=*)
    field=$(echo "$1" | sed 's/--query-gpu=pci.bus_id,\{0,1\}//')
    if [ -n "$field" ] && ! grep -qx "$field" "$FAKE_SMI/known"; then
      echo "Field \"$field\" is not a valid field to query."; echo; exit 2
    fi
    if [ -f "$FAKE_SMI/lost" ]; then
      echo "Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error"; exit 15
    fi
    value="$FAKE_SMI/value"; [ -f "$FAKE_SMI/value.$field" ] && value="$FAKE_SMI/value.$field"
    if [ -n "$field" ]; then echo "00000000:3B:00.0, $(cat "$value")"; else echo "00000000:3B:00.0"; fi ;;
esac
"""


@pytest.fixture
def smi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-smi").write_text(FAKE)
    (bin_dir / "nvidia-smi").chmod(0o755)
    state = tmp_path / "smi"
    state.mkdir()
    for name, text in (("apps", ""), ("reset-rc", "0"), ("known", "gpu_recovery_action\n"), ("value", "None")):
        (state / name).write_text(text)
    monkeypatch.setenv("FAKE_SMI", str(state))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return state


def calls(state: Path) -> list[str]:
    path = state / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_busy_reads_the_compute_apps_bus_ids(smi):
    rem = NvidiaRemedies()
    (smi / "apps").write_text("No running processes found\n")
    assert rem.busy(GPU) is False
    (smi / "apps").write_text("00000000:5E:00.0\n00000000:3B:00.0\n")
    assert rem.busy(GPU) is True and rem.busy("0000:86:00.0") is False
    assert calls(smi)[0] == "--query-compute-apps=gpu_bus_id --format=csv,noheader"


@pytest.mark.parametrize("known, value, verified", [
    ("gpu_recovery_action", "None", True),
    ("gpu_recovery_action", "GPU Reset", False),
    ("gpu_recovery_action", "Node Reboot", False),
    ("gpu_recovery_action", "[N/A]", True),
    ("reset_status.reset_required", "No", True),  # an older driver: the reset flag
    ("reset_status.reset_required", "Yes", False),
    ("", "", True),  # a driver that knows neither: the GPU answers
])
def test_verify_asks_the_driver_what_recovery_it_still_wants(smi, known, value, verified):
    (smi / "known").write_text(known + "\n")
    (smi / "value").write_text(value)
    assert NvidiaRemedies().verify(GPU) is verified
    asked = [c.split()[0] for c in calls(smi)]
    order = ["--query-gpu=pci.bus_id,gpu_recovery_action", "--query-gpu=pci.bus_id,reset_status.reset_required",
             "--query-gpu=pci.bus_id"]
    assert asked == order[:len(asked)] and all(c.endswith(f"-i {GPU}") for c in calls(smi))


def test_a_recovery_action_without_a_value_leaves_the_reset_flag_to_say(smi):
    # "[N/A]" for the recovery action is no answer: the older flag is asked, and it decides
    (smi / "known").write_text("gpu_recovery_action\nreset_status.reset_required\n")
    (smi / "value.gpu_recovery_action").write_text("[N/A]")
    (smi / "value.reset_status.reset_required").write_text("Yes")
    assert NvidiaRemedies().verify(GPU) is False
    (smi / "value.reset_status.reset_required").write_text("No")
    assert NvidiaRemedies().verify(GPU) is True


def test_a_gpu_that_does_not_answer_is_not_verified(smi):
    (smi / "lost").write_text("")
    assert NvidiaRemedies().verify(GPU) is False


def test_reset_runs_on_that_gpu_and_a_failure_is_an_actuator_error(smi):
    rem = NvidiaRemedies()
    assert rem.reset(GPU) == "reset" and calls(smi) == [f"-r -i {GPU}"]
    (smi / "reset-rc").write_text("3")
    with pytest.raises(ActuatorError, match=r"nvidia-smi -r -i 0000:3b:00\.0"):
        rem.reset(GPU)
