"""guard's metrics: counters that only grow, a fault gauge that clears only on verified recovery,
and the shipped alert rules tested with promtool."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, snapshot
from guard_helpers import GPU, context, reading, signals, xid
from hwtune.guard.core import judge_signals
from hwtune.guard.metrics import GuardCollector
from report_helpers import invoke

PROMTOOL = shutil.which("promtool")
RULES_DIR = REPO / "contrib" / "prometheus"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_textfile_of_a_sick_snapshot(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))
    prom = tmp_path / "guard.prom"
    for _ in range(2):  # judged twice: every record still counted once
        result = invoke("guard", "--once", "--root", snapshot("xid79-fallen-off-bus-gpu-lost"), "--node", "n1",
                        "--textfile", prom)
        assert result.exit_code == 1
    got = samples(prom.read_text())
    bus = "0000:a1:00.0"
    assert got[("hwtune_guard_xid_events_total", (("gpu", bus), ("node", "n1"), ("xid", "79")))] == 1
    assert got[("hwtune_guard_active_fault", (("check", "gpu.xid"), ("node", "n1"), ("target", bus)))] == 1
    assert got[("hwtune_guard_state", (("node", "n1"), ("state", "QUARANTINED"), ("target", bus)))] == 1
    assert got[("hwtune_guard_state", (("node", "n1"), ("state", "HEALTHY"), ("target", bus)))] == 0
    # the hold is decided once (shadow remembers it apart from a real one)
    assert got[("hwtune_guard_actions_total", (("action", "drain"), ("node", "n1"), ("status", "shadow")))] == 1
    if PROMTOOL:
        proc = subprocess.run([PROMTOOL, "check", "metrics"], input=prom.read_text(), capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_textfile_is_never_written_through_a_link_planted_in_its_folder(tmp_path):
    # A user who can write the collector's folder learns a running service's temporary name and
    # links it to a root file: the metrics must land in the textfile only (hwtune's writer: a
    # random O_EXCL|O_NOFOLLOW temporary, renamed), never through the link.
    import threading

    from hwtune.guard.metrics import Metrics

    ctx = context(tmp_path)
    folder = tmp_path / "collector"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("root's own\n")
    prom = folder / "hwtune.prom"
    for name in (f"hwtune.prom.{os.getpid()}.{threading.get_ident()}", f".hwtune.prom.{os.getpid()}"):
        (folder / name).symlink_to(victim)
    Metrics(str(prom)).publish(ctx.store, "n1", False)
    assert victim.read_text() == "root's own\n"
    assert "hwtune_guard_" in prom.read_text() and not prom.is_symlink()
    assert oct(prom.stat().st_mode & 0o777) == "0o644"


def test_fault_gauge_clears_only_after_verified_recovery_and_counters_only_grow(tmp_path):
    ctx = context(tmp_path)
    collector = GuardCollector()

    def fault() -> float:
        collector.update(ctx.store, "n1", False)
        text = {s.name: s.value for f in collector.collect() for s in f.samples
                if s.name == "hwtune_guard_active_fault" and s.labels["target"] == GPU}
        return text.get("hwtune_guard_active_fault", 0.0)

    def xids() -> float:
        collector.update(ctx.store, "n1", False)
        return sum(s.value for f in collector.collect() for s in f.samples if s.name == "hwtune_guard_xid_events_total")

    judge_signals(ctx, signals([xid(1, 48, 10.0)]), boot="b1", now=10.0)
    assert fault() == 1 and xids() == 1
    seen = []
    for i in range(3):  # the verified reset cleared the 48; three clean checks, then the gauge clears
        judge_signals(ctx, signals([xid(1, 48, 10.0)]), boot="b1", now=20.0 + i)
        seen.append(fault())
    assert seen == [1, 1, 0]
    ctx.store.retention_s = 1.0
    ctx.store.prune(now=10_000.0)  # the events are gone from the history; the counter is not
    assert ctx.store.events("n1", "b1") == [] and xids() == 1


def test_unchanged_reading_keeps_the_gauge(tmp_path):
    ctx = context(tmp_path, remedies=None)
    ctx.remedies = None
    for now in (1.0, 2.0, 3.0, 4.0):
        judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=now)
    collector = GuardCollector()
    collector.update(ctx.store, "n1", False)
    values = [s.value for f in collector.collect() for s in f.samples
              if s.name == "hwtune_guard_active_fault" and s.labels["target"] == GPU]
    assert values == [1.0]


def test_shipped_alert_rules_pass_promtool_test_rules():
    if PROMTOOL is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (Debian package: prometheus)")
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    proc = subprocess.run([PROMTOOL, "test", "rules", "hwtune-guard-alerts.test.yml"], cwd=RULES_DIR,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_alert_rules_speak_of_exported_metrics_only():
    text = (RULES_DIR / "hwtune-guard-alerts.yml").read_text()
    import re

    used = set(re.findall(r"\b(hwtune_guard_[a-z_]+)", text))
    exported = {"hwtune_guard_xid_events_total", "hwtune_guard_actions_total", "hwtune_guard_active_fault",
                "hwtune_guard_state", "hwtune_guard_breaker_open"}
    assert used <= exported and used


def test_listen_is_for_following_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"), "--node", "n1", "--listen",
                    "127.0.0.1:0")
    assert result.exit_code == 2 and "--listen" in result.stderr
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"), "--node", "n1", "--listen", "nope")
    assert result.exit_code == 2 and "HOST:PORT" in result.stderr
