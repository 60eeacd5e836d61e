"""The one subprocess runner: commands started early and collected later."""

from __future__ import annotations

import shutil
import time

from hwtune.run import Runner


def test_started_command_is_collected_by_run_and_recorded(tmp_path):
    runner = Runner(None)
    runner.start(["sh", "-c", "echo started; echo warn >&2"])
    result = runner.run(["sh", "-c", "echo started; echo warn >&2"])
    assert result.ok and result.stdout == "started\n" and result.stderr == "warn\n"
    assert runner.record == [result]


def test_a_started_command_runs_while_the_caller_works():
    runner = Runner(None)
    sleep = [shutil.which("sleep"), "1"]
    t0 = time.monotonic()
    runner.start(sleep)
    time.sleep(1)  # the caller's own work
    result = runner.run(sleep)
    assert result.ok
    assert time.monotonic() - t0 < 1.8  # in parallel; one after the other would take 2 s


def test_started_command_times_out_from_its_start():
    runner = Runner(None)
    sleep = [shutil.which("sleep"), "30"]
    runner.start(sleep, timeout_s=0.3)
    time.sleep(0.3)
    t0 = time.monotonic()
    result = runner.run(sleep, timeout_s=30)
    assert result.error == f"{sleep[0]} did not answer within 0.3 s"
    assert time.monotonic() - t0 < 5


def test_a_command_that_ended_in_time_is_read_even_when_collected_late():
    runner = Runner(None)
    runner.start(["sh", "-c", "echo done"], timeout_s=0.2)
    time.sleep(0.5)  # the caller took longer than the command's timeout
    assert runner.run(["sh", "-c", "echo done"]).stdout == "done\n"


def test_started_missing_or_failing_command_is_a_result():
    runner = Runner(None)
    runner.start(["hwtune-no-such-command", "--version"])
    assert runner.run(["hwtune-no-such-command", "--version"]).error == "hwtune-no-such-command not found"
    runner.start(["sh", "-c", "echo broken >&2; exit 3"])
    result = runner.run(["sh", "-c", "echo broken >&2; exit 3"])
    assert (result.returncode, result.error) == (3, "sh exited 3: broken")


def test_a_snapshot_runner_starts_nothing(tmp_path):
    marker = tmp_path / "ran"
    runner = Runner(tmp_path)
    runner.start(["sh", "-c", f"touch {marker}"])
    time.sleep(0.2)
    assert not marker.exists()
    assert runner.run(["sh", "-c", f"touch {marker}"]).error.startswith("not recorded in the snapshot")


def test_an_observation_is_never_recorded_as_a_command(tmp_path):
    runner = Runner(None)
    result = runner.observe("python_packages", lambda: "numpy==2.0\n")
    assert result.ok and result.stdout == "numpy==2.0\n"
    assert runner.record == [] and runner.observed == {"python_packages": "numpy==2.0\n"}


def test_an_observation_replays_from_observed_else_from_an_older_snapshots_command_file(tmp_path):
    (tmp_path / "observed").mkdir()
    (tmp_path / "observed" / "python_version.txt").write_text("Python 3.12.1\n")
    (tmp_path / "cmd").mkdir()
    (tmp_path / "cmd" / "python3_-m_pip_list_--format=freeze.txt").write_text("onnx==1.16.0\n")
    replay = Runner(tmp_path)
    assert replay.observe("python_version", lambda: "never computed").stdout == "Python 3.12.1\n"
    legacy = replay.observe("python_packages", lambda: "never computed",
                            legacy_argv=["python3", "-m", "pip", "list", "--format=freeze"])
    assert legacy.ok and legacy.stdout == "onnx==1.16.0\n"
    missing = replay.observe("kmsg", lambda: "never computed")
    assert not missing.ok and "observed/kmsg.txt" in missing.error
