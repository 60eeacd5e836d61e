"""guard's Kubernetes actuator through the official client, against a loopback server that records
every request (no API server can run here; docs/guard.md says what ran against what)."""

from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes", reason="the kube extra is not installed: pip install 'hwtune[kube]'")

from guard_helpers import context, reading, signals  # noqa: E402
from hwtune.guard.actuators.kube import CONDITION, CORDONED, TAINT_KEY, Kubernetes  # noqa: E402
from hwtune.guard.core import judge_signals  # noqa: E402
from kube_recorder import Recorder, node  # noqa: E402


@pytest.fixture
def cluster():
    rec = Recorder({f"n{i}": node(f"n{i}") for i in range(1, 6)})
    yield rec
    rec.close()


def actuator(rec: Recorder) -> Kubernetes:
    from kubernetes import client

    config = client.Configuration()
    config.host = rec.url
    return Kubernetes(client.CoreV1Api(client.ApiClient(config)))


def patches(rec):
    return [(p, kind, body) for m, p, kind, body in rec.requests if m == "PATCH"]


def test_hold_taints_cordons_and_sets_the_condition_then_resume_takes_it_all_back(tmp_path, cluster):
    kube = actuator(cluster)
    ctx = context(tmp_path, scheduler=kube)
    bad = signals(readings=[reading("row_remap_pending")])
    r = judge_signals(ctx, bad, boot="b1", now=1.0)
    assert [(a.action, a.status) for a in r.actions][:2] == [("cordon", "done"), ("taint", "done")]
    n1 = cluster.nodes["n1"]
    assert n1["spec"]["unschedulable"] is True and n1["metadata"]["annotations"][CORDONED] == "true"
    assert n1["spec"]["taints"] == [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}]
    cond = {c["type"]: c for c in n1["status"]["conditions"]}
    assert cond[CONDITION]["status"] == "False" and cond["Ready"]["status"] == "True"  # the kubelet's kept
    assert cond[CONDITION]["message"].startswith("hwtune: gpu.row_remap")
    kinds = {(p, kind) for p, kind, _ in patches(cluster)}
    assert ("/api/v1/nodes/n1", "application/merge-patch+json") in kinds
    assert ("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json") in kinds
    assert all(body["metadata"]["resourceVersion"] for p, kind, body in patches(cluster) if not p.endswith("status"))
    for now in (2.0, 3.0, 4.0):
        r = judge_signals(ctx, signals(), boot="b1", now=now)
    assert r.state == "HEALTHY" and [a.action for a in r.actions] == ["resume"]
    n1 = cluster.nodes["n1"]
    assert not n1["spec"].get("unschedulable") and n1["spec"]["taints"] == []
    assert CORDONED not in n1["metadata"]["annotations"]
    assert {c["type"]: c["status"] for c in n1["status"]["conditions"]}[CONDITION] == "True"


def test_an_operators_cordon_is_left_alone(tmp_path, cluster):
    cluster.nodes["n1"]["spec"]["unschedulable"] = True
    ctx = context(tmp_path, scheduler=actuator(cluster))
    judge_signals(ctx, signals(readings=[reading("reset_required")]), boot="b1", now=1.0)
    for now in (2.0, 3.0, 4.0):
        judge_signals(ctx, signals(), boot="b1", now=now)
    n1 = cluster.nodes["n1"]
    assert n1["spec"]["unschedulable"] is True and CORDONED not in n1["metadata"]["annotations"]


def test_a_stale_taint_list_is_refused_not_overwritten(cluster):
    kube = actuator(cluster)
    real = kube.node

    def stale(name):
        doc = real(name)
        cluster.nodes[name]["metadata"]["resourceVersion"] = "99"  # someone changed it meanwhile
        return doc
    kube.node = stale
    from hwtune.guard.actuators import ActuatorError

    with pytest.raises(ActuatorError, match="409"):
        kube.run("taint", "n1", "hwtune: gpu.xid 79")
    assert "taints" not in cluster.nodes["n1"]["spec"]


def test_breaker_counts_hwtune_taints(tmp_path, cluster):
    cluster.nodes["n2"]["spec"]["taints"] = [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}]
    assert actuator(cluster).fleet() == (5, 1)
    ctx = context(tmp_path, scheduler=actuator(cluster))  # 20% of 5: one node, n2 is it
    r = judge_signals(ctx, signals(readings=[reading("reset_required")]), boot="b1", now=1.0)
    assert r.actions[0].status == "skipped" and "circuit breaker" in r.actions[0].result
    assert not cluster.nodes["n1"]["spec"].get("unschedulable")


def test_undo_of_a_taint(tmp_path, cluster):
    from hwtune.guard.actions import undo

    kube = actuator(cluster)
    ctx = context(tmp_path, scheduler=kube)
    r = judge_signals(ctx, signals(readings=[reading("reset_required")]), boot="b1", now=1.0)
    taint = next(a for a in r.actions if a.action == "taint")
    undo(ctx.store, taint.id, kube)
    assert cluster.nodes["n1"]["spec"]["taints"] == []
