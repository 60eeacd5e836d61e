"""A real `hwtune apply` process killed with SIGKILL after k writes; `hwtune rollback` restores every file.

The apply stops at a test-only pause point (HWTUNE_TEST_PAUSE_AFTER_WRITES=k,
announced by creating HWTUNE_TEST_PAUSE_FILE) while it holds the lock, which
is also where the lock is tested.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

import apply_helpers
from apply_helpers import (
    copy_snapshot,
    invoke,
    run_hwtune,
    tree_state,
)


def start_paused_apply(root, k, marker, *args):
    return apply_helpers.start_paused_apply(root, marker, {"HWTUNE_TEST_PAUSE_AFTER_WRITES": str(k)}, *args)


def kill9(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture()
def laptop(scratch):
    return copy_snapshot("laptop-i7-1370p-powersave", scratch / "laptop")


@pytest.mark.parametrize("k", [1, 21, 41, 42])
def test_rollback_after_kill_9_restores_every_file(laptop, tmp_path, k):
    # 42 writes: 20 EPP and 20 governors interleaved, then the unit file (41) and its link (42)
    before = tree_state(laptop)
    proc = start_paused_apply(laptop, k, tmp_path / "paused", "--persist")
    kill9(proc)
    assert tree_state(laptop) != before  # k writes were made
    rows = json.loads(invoke("history", "--root", str(laptop), "--json").stdout)
    assert rows[-1]["state"] == "interrupted (roll it back)" and rows[-1]["changes"] == k

    res = run_hwtune("rollback", "--root", str(laptop))
    assert res.returncode == 0, res.stderr
    assert tree_state(laptop) == before


def test_lock_refuses_a_second_apply_or_rollback_while_one_runs(laptop, tmp_path):
    before = tree_state(laptop)
    proc = start_paused_apply(laptop, 3, tmp_path / "paused")
    try:
        during = tree_state(laptop, keep_state=True)
        for args in (["apply", "-p", "cpu-inference", "--root", str(laptop), "--yes"],
                     ["rollback", "--root", str(laptop)]):
            res = invoke(*args)
            assert res.exit_code == 2, res.stderr
            assert "another hwtune apply or rollback is running" in res.stderr
        assert tree_state(laptop, keep_state=True) == during  # the refused commands wrote nothing
    finally:
        kill9(proc)
    # the lock dies with its process: rollback can go on
    assert invoke("rollback", "--root", str(laptop)).exit_code == 0
    assert tree_state(laptop) == before
