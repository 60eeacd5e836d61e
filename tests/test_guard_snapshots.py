"""`hwtune guard --once --root SNAPSHOT --json` on the recorded sick and healthy hosts (issue: Done means)."""

from __future__ import annotations

import json

import pytest

from conftest import SNAPSHOTS, snapshot
from report_helpers import invoke

QUARANTINE = {  # snapshot -> the GPU and the remedy the catalogue asks for
    "xid79-fallen-off-bus-gpu-lost": ("0000:a1:00.0", "reboot", "hwtune: gpu.xid 79 GPU 0000:a1:00.0"),
    "xid48-dbe-xid63-rowremap-xid94": ("0000:19:00.0", "reset", "hwtune: gpu.xid 48 GPU 0000:19:00.0"),
    "a10-remapped-rows-pending": ("0000:07:00.0", "reset", "hwtune: gpu.row_remap row_remap_pending GPU 0000:07:00.0"),
    "v100-retired-pages-pending": ("0000:34:00.0", "reset", None),
}
AT_MOST_SUSPECT = ("xid13-xid43-app-faults", "host-mce-edac-ce-sbridge", "host-oom-killed-process", "geforce-fan-err",
                   "gpu-host-pcie-aer-correctable", "p100-aggregate-sbe-only", "t4-pcie-width-x8-of-x16",
                   "h100x8-hw-power-brake-slowdown")


@pytest.fixture(autouse=True)
def state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))


def guard_json(root, node="n1", *extra):
    result = invoke("guard", "--once", "--root", root, "--node", node, "--json", *extra)
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(QUARANTINE))
def test_sick_hosts_are_drained_with_the_catalogues_remedy(name):
    code, doc = guard_json(snapshot(name))
    bus, remedy, reason = QUARANTINE[name]
    assert code == 1
    assert doc["schema"] == "hwtune.guard/1" and doc["mode"] == "shadow"
    assert doc["node"] == {"name": "n1", "state": "QUARANTINED"}
    assert {"bus_id": bus, "state": "QUARANTINED"} in doc["gpus"]
    actions = [(a["target"], a["action"]) for a in doc["actions"]]
    assert actions == [("node", "drain"), (bus, remedy)]
    for a in doc["actions"]:
        assert a["executed"] is False and a["result"].startswith("shadow")
        assert set(a) >= {"target", "action", "check", "reason", "evidence", "executed", "result"}
        assert a["reason"].startswith("hwtune: ") and bus in a["reason"]
    if reason:
        assert doc["actions"][0]["reason"] == reason


def test_xid79_evidence_is_the_kernels_line():
    _, doc = guard_json(snapshot("xid79-fallen-off-bus-gpu-lost"))
    assert "NVRM: Xid (PCI:0000:a1:00): 79" in doc["actions"][0]["evidence"]
    assert doc["actions"][0]["check"] == "gpu.xid"


@pytest.mark.parametrize("name", AT_MOST_SUSPECT)
def test_application_and_recoverable_faults_never_drain(name):
    code, doc = guard_json(snapshot(name))
    assert doc["actions"] == []
    assert doc["node"]["state"] in ("HEALTHY", "SUSPECT", "UNKNOWN")
    assert all(g["state"] in ("HEALTHY", "SUSPECT") for g in doc["gpus"])
    assert code == (0 if doc["node"]["state"] == "HEALTHY" else 1)


@pytest.mark.parametrize("name, expected", [
    ("xid13-xid43-app-faults", "SUSPECT"),  # 629 Xid 13 within the hour on one GPU: a burst, watched
    ("h100x8-hw-power-brake-slowdown", "SUSPECT"),
    ("geforce-fan-err", "SUSPECT"),
    ("host-oom-killed-process", "HEALTHY"),  # the application ran out of memory: not the hardware
])
def test_states_of_the_watched_hosts(name, expected):
    _, doc = guard_json(snapshot(name))
    assert doc["node"]["state"] == expected


def test_a_source_that_cannot_be_read_is_unknown_never_healthy():
    # the P100 snapshot holds the GPU's readings but no kernel log
    code, doc = guard_json(snapshot("p100-aggregate-sbe-only"))
    assert doc["node"]["state"] == "UNKNOWN" and code == 1
    assert doc["gpus"] == [{"bus_id": "0000:00:04.0", "state": "HEALTHY"}]
    assert any("kernel log" in r for r in doc["unreadable"])


@pytest.mark.parametrize("name", SNAPSHOTS)
def test_healthy_machines_get_no_action(name):
    _code, doc = guard_json(snapshot(name))
    assert doc["actions"] == []
    assert doc["node"]["state"] in ("HEALTHY", "UNKNOWN")
    assert all(g["state"] == "HEALTHY" for g in doc["gpus"])


def test_power_brake_policy_may_quarantine(tmp_path):
    from hwtune.guard.rules import RULES

    text = RULES.read_text().replace('power_brake = "suspect"', 'power_brake = "quarantine"')
    rules = tmp_path / "rules.toml"
    rules.write_text(text)
    _, doc = guard_json(snapshot("h100x8-hw-power-brake-slowdown"), "n1", "--rules", rules)
    assert doc["node"]["state"] == "QUARANTINED"
    assert doc["actions"][0]["action"] == "drain"


def test_the_same_snapshot_judged_again_counts_nothing_twice():
    from hwtune.guard.store import Store, state_dir

    root = snapshot("xid48-dbe-xid63-rowremap-xid94")
    guard_json(root)
    with Store(state_dir(None)) as store:
        first = len(store.events("n1", "unknown"))
    _, doc = guard_json(root)
    with Store(state_dir(None)) as store:
        assert len(store.events("n1", "unknown")) == first == 11  # 48, 63 and nine 94
    # decided once: the hold is already decided, the remedy still asked for
    assert [a["action"] for a in doc["actions"]] == ["drain", "reset"] or doc["node"]["state"] == "QUARANTINED"


@pytest.mark.parametrize("args, message", [
    (("--actuator", "pbs"), "--actuator"),
    (("--node", "bad name;"), "node name"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"), *(args if "--node" in args else
                                                                               ("--node", "n1") + args))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_snapshot_is_judged_once_never_followed(tmp_path, monkeypatch):
    # following reads this machine's kernel log: with a snapshot's facts it would mix two hosts
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "state"))
    result = invoke("guard", "--root", snapshot("xid79-fallen-off-bus-gpu-lost"), "--node", "n1")
    assert result.exit_code == 2 and "--once" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was written


def test_root_needs_a_node_name():
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"))
    assert result.exit_code == 2 and "--node" in result.stderr


def test_the_live_node_is_named_as_slurmd_names_it(monkeypatch):
    from pathlib import Path

    from hwtune.errors import ConfigError
    from hwtune.guard.core import node_name

    monkeypatch.setenv("SLURMD_NODENAME", "gpu-a07")  # slurmd sets it for its HealthCheckProgram
    assert node_name(None, None) == "gpu-a07" and node_name(None, "n9") == "n9"
    with pytest.raises(ConfigError, match="--node"):  # a snapshot never takes the running node's name
        node_name(Path("/snap"), None)
    monkeypatch.setenv("SLURMD_NODENAME", "x y;reboot")
    with pytest.raises(ConfigError, match="SLURMD_NODENAME"):
        node_name(None, None)


def test_bad_rules_file_names_file_and_key(tmp_path):
    from hwtune.guard.rules import RULES

    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.read_text().replace('effect = "suspect"', 'effect = "maybe"', 1))
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"), "--node", "n1", "--rules", rules)
    assert result.exit_code == 2
    assert str(rules) in result.stderr and "'effect'" in result.stderr


def test_history_lists_events_per_gpu_and_actions():
    guard_json(snapshot("xid79-fallen-off-bus-gpu-lost"))
    result = invoke("history", "--health", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    events = doc["events"]["n1 0000:a1:00.0"]
    assert [e["code"] for e in events if e["kind"] == "xid"] == [79]
    assert [a["action"] for a in doc["actions"]] == ["drain", "reboot"]
    text = invoke("guard", "history")
    assert text.exit_code == 0 and "n1 0000:a1:00.0: 2 event(s)" in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines())


def test_counters_are_sampled_with_their_time():
    from hwtune.guard.store import Store, state_dir

    guard_json(snapshot("h100x8-hw-power-brake-slowdown"))
    with Store(state_dir(None)) as store:
        rows = store.db.execute("SELECT target, name, value FROM samples WHERE node='n1'").fetchall()
        times = {t for (t,) in store.db.execute("SELECT t FROM samples")}
    assert ("0000:19:00.0", "pcie_replays", 67.0) in rows
    assert ("0000:19:00.0", "throttle_hw_power_brake_slowdown", 1.0) in rows
    assert ("0000:19:00.0", "throttle_hw_thermal_slowdown", 0.0) in rows
    assert len(times) == 1


def test_policy_from_a_profiles_guard_table(tmp_path, monkeypatch):
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "site.toml").write_text('description = "site"\ninclude = ["gpu-inference"]\n\n[guard]\n'
                                      'power_brake = "quarantine"\n')
    (folder / "broken.toml").write_text('description = "broken"\n\n[guard]\nreboots_per_week = 2\n')
    monkeypatch.setenv("HWTUNE_PROFILE_PATH", str(folder))
    _, doc = guard_json(snapshot("h100x8-hw-power-brake-slowdown"), "n1", "--profile", "site")
    assert doc["node"]["state"] == "QUARANTINED"
    result = invoke("guard", "--once", "--root", snapshot("geforce-fan-err"), "--node", "n1", "--profile", "broken")
    assert result.exit_code == 2 and "broken" in result.stderr and "reboots_per_week" in result.stderr
