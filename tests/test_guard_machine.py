"""guard's state machine and journaled actions over time, with a recording scheduler and GPU remedies."""

from __future__ import annotations

import pytest

from guard_helpers import GPU, FakeRemedies, FakeScheduler, context, reading, rules_with, signals, xid
from hwtune.errors import ConfigError
from hwtune.guard import actions
from hwtune.guard.core import judge_signals


def states(result):
    return result.state, dict(result.gpus)


def verbs(result):
    return [(a.target, a.action, a.status) for a in result.actions]


def test_gpu_lost_drains_then_a_reboot_and_clean_checks_resume(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched, rules_text=rules_with(allow_reboot=True))
    r = judge_signals(ctx, signals([xid(10, 79, 100.0)]), boot="b1", now=100.0)
    assert states(r) == ("QUARANTINED", {GPU: "QUARANTINED"})
    assert verbs(r) == [("node", "drain", "done"), (GPU, "reboot", "done")]
    assert sched.calls == [("drain", "n1")] and sched.nodes["n1"][1] == f"hwtune: gpu.xid 79 GPU {GPU}"
    assert ctx.remedies.calls == [("reboot", "")]
    # the same boot judged again: still out, nothing repeated (the reboot counter allows one a day)
    r = judge_signals(ctx, signals([xid(10, 79, 100.0)]), boot="b1", now=160.0)
    assert r.state == "QUARANTINED" and sched.calls == [("drain", "n1")]
    assert [a.status for a in r.actions if a.action == "reboot"] == ["skipped"]
    # after the reboot: a new boot id, no Xid: VERIFYING for clean_checks (3) judgements, then back
    seen = []
    for i in range(3):
        r = judge_signals(ctx, signals(), boot="b2", now=200.0 + 60 * i)
        seen.append(r.state)
    assert seen == ["VERIFYING", "VERIFYING", "HEALTHY"]
    assert sched.calls == [("drain", "n1"), ("resume", "n1")] and sched.nodes["n1"] == ("idle", "")


def test_a_reset_runs_only_on_a_held_idle_gpu_and_is_verified(tmp_path):
    rem = FakeRemedies(busy_gpus={GPU}, needs_reset={GPU})
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched, remedies=rem)
    pending = signals(readings=[reading("row_remap_pending")])
    r = judge_signals(ctx, pending, boot="b1", now=100.0)
    assert verbs(r) == [("node", "drain", "done"), (GPU, "reset", "skipped")]
    assert "a process holds the GPU" in r.actions[1].result and rem.calls == []
    rem.busy_gpus.clear()
    r = judge_signals(ctx, pending, boot="b1", now=160.0)
    assert verbs(r) == [(GPU, "reset", "done")] and "verified" in r.actions[0].result
    assert (rem.calls == [("reset", GPU)] and dict(r.gpus)[GPU] == "REMEDIATING") or r.state == "QUARANTINED"
    for now in (220.0, 280.0, 340.0):
        r = judge_signals(ctx, signals(), boot="b1", now=now)
    assert r.state == "HEALTHY" and sched.calls[-1] == ("resume", "n1")


def test_reset_is_refused_while_the_node_is_not_held(tmp_path):
    from hwtune.guard.actuators import NoActuator

    ctx = context(tmp_path, scheduler=NoActuator())
    r = judge_signals(ctx, signals(readings=[reading("reset_required")]), boot="b1", now=1.0)
    assert [(a.action, a.status) for a in r.actions] == [("drain", "skipped"), ("reset", "skipped")]
    assert "not held out" in r.actions[1].result and ctx.remedies.calls == []


def test_a_verified_reset_clears_the_xids_it_answers(tmp_path):
    rem = FakeRemedies(needs_reset={GPU})
    ctx = context(tmp_path, remedies=rem)
    events = [xid(1, 48, 10.0), xid(2, 63, 10.0)]
    r = judge_signals(ctx, signals(events), boot="b1", now=10.0)
    assert ("reset", "done") in [(a.action, a.status) for a in r.actions]
    got = [judge_signals(ctx, signals(events), boot="b1", now=20.0 + i).state for i in range(3)]
    assert got == ["VERIFYING", "VERIFYING", "HEALTHY"]


def test_application_xids_never_quarantine_and_a_burst_is_suspect(tmp_path):
    ctx = context(tmp_path)
    few = [xid(i, 13, 100.0) for i in range(5)]
    assert judge_signals(ctx, signals(few), boot="b1", now=100.0).state == "HEALTHY"
    burst = [xid(i, 13, 100.0) for i in range(5, 700)] + [xid(800 + i, 43, 100.0) for i in range(7)]
    r = judge_signals(ctx, signals(burst), boot="b1", now=101.0)
    assert r.state == "SUSPECT" and r.actions == []
    # out of the hour's window: healthy again
    assert judge_signals(ctx, signals(), boot="b1", now=100.0 + 3601).state == "HEALTHY"


def test_xid45_after_79_counts_under_its_cause(tmp_path):
    ctx = context(tmp_path, rules_text=rules_with(allow_reboot=True))
    events = [xid(1, 79, 50.0)] + [xid(2 + i, 45, 50.0) for i in range(40)]
    r = judge_signals(ctx, signals(events), boot="b1", now=50.0)
    assert r.state == "QUARANTINED"
    assert {a.reason for a in r.actions} == {f"hwtune: gpu.xid 79 GPU {GPU}"}
    from hwtune.guard.machine import findings
    from hwtune.guard.rules import load_rules

    rules = {f.rule for f in findings(load_rules(), ctx.store.events("n1", "b1"), (), 50.0)}
    assert rules == {"gpu-lost"}  # forty 45s after the 79 are not an application burst
    lone = [xid(100 + i, 45, 50.0, bus="0000:5e:00.0") for i in range(40)]
    assert {f.rule for f in findings(load_rules(), lone, (), 50.0)} == {"xid-application"}


def test_xid154_to_none_cancels_the_reset_request(tmp_path):
    from hwtune.guard.machine import findings
    from hwtune.guard.rules import load_rules

    ask = xid(1, 154, 1.0, detail="GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)")
    done = xid(2, 154, 2.0, detail="GPU recovery action changed from 0x1 (GPU Reset Required) to 0x0 (None)")
    assert [f.remedy for f in findings(load_rules(), [ask], (), 2.0)] == ["reset"]
    assert findings(load_rules(), [ask, done], (), 2.0) == []


def test_repeated_remediations_escalate(tmp_path):
    rem = FakeRemedies(reset_fixes=False)
    ctx = context(tmp_path, remedies=rem, rules_text=rules_with(remediation_limit=3))
    bad = signals(readings=[reading("row_remap_pending")])
    seen = [judge_signals(ctx, bad, boot="b1", now=100.0 + 60 * i) for i in range(5)]
    assert list(rem.calls) == [("reset", GPU)] * 3
    assert seen[-2].state == "ESCALATED" and ("escalate" in [a.action for a in seen[-2].actions])
    assert seen[-1].actions == [] and seen[-1].state == "ESCALATED"
    # a person replaced the GPU and says so: the escalation undone, the GPU judged afresh, the node back
    escalation = next(a for a in seen[-2].actions if a.action == "escalate")
    actions.undo(ctx.store, escalation.id)
    rem.reset_fixes = True
    got = [judge_signals(ctx, signals(), boot="b1", now=1000.0 + i) for i in range(2)]
    assert [r.state for r in got] == ["HEALTHY", "HEALTHY"]
    assert [a.action for a in got[0].actions] == ["resume"]


def test_unknown_keeps_a_quarantine_and_does_nothing(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched, remedies=FakeRemedies(busy_gpus={GPU}))
    judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    blind = signals(gpus=(), log_readable=False, gpus_readable=False)
    for now in (2.0, 3.0, 4.0, 5.0):
        r = judge_signals(ctx, blind, boot="b1", now=now)
        assert r.actions == [] and r.state == "QUARANTINED"
    assert sched.nodes["n1"][0] == "drained"


def test_nothing_readable_is_unknown_and_no_action(tmp_path):
    ctx = context(tmp_path)
    r = judge_signals(ctx, signals(gpus=(), log_readable=False, gpus_readable=False), boot="b1", now=1.0)
    assert r.state == "UNKNOWN" and r.actions == []


def test_a_node_an_operator_drained_is_never_resumed(tmp_path):
    sched = FakeScheduler(nodes={"n1": ("drained", "bad fan, ticket 42")})
    ctx = context(tmp_path, scheduler=sched)
    judge_signals(ctx, signals(readings=[reading("reset_required")]), boot="b1", now=1.0)
    for now in (2.0, 3.0, 4.0):
        judge_signals(ctx, signals(), boot="b1", now=now)
    assert sched.nodes["n1"] == ("drained", "bad fan, ticket 42")


def test_circuit_breaker_stops_the_hold_past_the_limit(tmp_path):
    nodes = {f"n{i}": ("idle", "") for i in range(1, 51)}
    for i in range(2, 12):  # ten of fifty already held by hwtune: the 20% limit
        nodes[f"n{i}"] = ("drained", "hwtune: gpu.xid 79")
    sched = FakeScheduler(nodes=nodes)
    ctx = context(tmp_path, scheduler=sched)
    r = judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    assert r.actions[0].status == "skipped" and "circuit breaker" in r.actions[0].result
    assert r.breaker_open and sched.calls == []


def test_shadow_mode_executes_nothing(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched, act=False)
    r = judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    assert [(a.action, a.executed) for a in r.actions] == [("drain", False), ("reset", False)]
    assert sched.calls == [] and ctx.remedies.calls == []


def test_undo_resumes_a_drain(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched)
    r = judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    drain = r.actions[0]
    reverse = actions.undo(ctx.store, drain.id, sched)
    assert reverse.action == "resume" and sched.nodes["n1"] == ("idle", "")
    assert actions.load(ctx.store, drain.id).status == "undone"
    with pytest.raises(ConfigError, match="not done"):
        actions.undo(ctx.store, drain.id, sched)


def test_a_tampered_action_row_is_refused_before_anything_runs(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched)
    r = judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    with ctx.store.transaction() as db:
        db.execute("UPDATE actions SET node='n1; reboot', undo='resume' WHERE id=?", (r.actions[0].id,))
    with pytest.raises(ConfigError, match="node is not valid"):
        actions.undo(ctx.store, r.actions[0].id, sched)
    with pytest.raises(ConfigError, match="not a guard action id"):
        actions.undo(ctx.store, "../../x", sched)
    assert sched.calls == [("drain", "n1")]


def test_a_killed_run_leaves_a_pending_action_that_runs_once(tmp_path):
    sched = FakeScheduler()
    ctx = context(tmp_path, scheduler=sched)
    real = sched.run
    sched.run = lambda *a: (_ for _ in ()).throw(KeyboardInterrupt)  # killed while the drain was under way
    with pytest.raises(KeyboardInterrupt):
        judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=1.0)
    assert next(a.status for a in actions.history(ctx.store)) == "pending"
    sched.run = real
    r = judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=2.0)
    assert sched.calls == [("drain", "n1")]
    assert ("drain", "done") in [(a.action, a.status) for a in r.actions]
    # a run killed after the drain, before it was marked done: found in effect, not run again
    with ctx.store.transaction() as db:
        db.execute("UPDATE actions SET status='pending' WHERE action='drain'")
    judge_signals(ctx, signals(readings=[reading("row_remap_pending")]), boot="b1", now=3.0)
    assert sched.calls == [("drain", "n1")]
    assert "already in effect" in actions.history(ctx.store)[0].result
