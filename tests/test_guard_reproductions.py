"""The failures fleet health agents are known for, replayed through guard's real history, rules and
state machine with a recording scheduler shared by the nodes (the real Slurm run is
tests/test_guard_slurm.py's; forged kernel lines are tests/test_guard_follow.py's; metrics that
stick at the last Xid are tests/test_guard_metrics.py's)."""

from __future__ import annotations

from dataclasses import dataclass

from guard_helpers import FakeScheduler, context, reading, rules_with, signals, xid
from hwtune.guard.actuators import ActuatorError
from hwtune.guard.core import judge_signals
from hwtune.guard.machine import RANK


def fleet(tmp_path, names, sched, **policy):
    text = rules_with(**policy) if policy else None
    for n in names:
        (tmp_path / n).mkdir()
    return {n: context(tmp_path / n, scheduler=sched, node=n, rules_text=text) for n in names}


def test_an_xid45_storm_on_three_nodes_for_three_hours_drains_nothing(tmp_path):
    # 672 Xid 45 records on 3 nodes within 3 hours, no hardware Xid before them: the job's
    # channels being torn down, an application fault. Judged every five minutes as they arrive.
    names = ("n1", "n2", "n3")
    sched = FakeScheduler(nodes=dict.fromkeys(names + ("n4", "n5", "n6", "n7", "n8", "n9", "n10"), ("idle", "")))
    ctxs = fleet(tmp_path, names, sched)
    per_node, span = 224, 3 * 3600.0
    worst = dict.fromkeys(names, "HEALTHY")
    for tick in range(1, 37):
        now = tick * 300.0
        for n, ctx in ctxs.items():
            new = [xid(i, 45, (i + 1) * span / per_node) for i in range(per_node)
                   if now - 300.0 < (i + 1) * span / per_node <= now]
            r = judge_signals(ctx, signals(new), boot="b1", now=now)
            worst[n] = max(worst[n], r.state, key=RANK.__getitem__)
            assert r.actions == []
    assert sum(len(ctx.store.events(n, "b1")) for n, ctx in ctxs.items()) == 3 * per_node
    assert worst == dict.fromkeys(names, "SUSPECT")  # watched: 20+ within the hour on one GPU
    assert sched.calls == []


def test_one_job_crash_across_77_nodes_drains_none(tmp_path):
    # one distributed job dies: each of its 77 nodes logs the job's Xid 13, 43 and 45 at once.
    # The breaker is opened wide so that the rules alone are what keeps the nodes in.
    names = tuple(f"n{i}" for i in range(77))
    sched = FakeScheduler(nodes=dict.fromkeys(names, ("idle", "")))
    ctxs = fleet(tmp_path, names, sched, breaker_fraction=1.0)
    crash = [xid(1, 13, 100.0), xid(2, 13, 100.0), xid(3, 43, 100.5), xid(4, 45, 101.0), xid(5, 45, 101.0)]
    states = {n: judge_signals(ctx, signals(crash), boot="b1", now=102.0).state for n, ctx in ctxs.items()}
    assert set(states.values()) == {"HEALTHY"} and sched.calls == []
    # the same nodes, one with a real fault among them: only that one is drained
    lost = crash + [xid(6, 79, 102.0)]
    got = {n: judge_signals(ctx, signals(lost if n == "n5" else crash), boot="b1", now=103.0).state
           for n, ctx in ctxs.items()}
    assert [n for n, s in got.items() if s != "HEALTHY"] == ["n5"] and sched.calls == [("drain", "n5")]


@dataclass
class FlakyScheduler(FakeScheduler):
    """The controller does not answer the first `failures` resumes (a slurmctld restart, an API timeout)."""

    failures: int = 1

    def run(self, verb, node, reason):
        if verb == "resume" and self.failures > 0:
            self.failures -= 1
            self.calls.append(("resume-refused", node))
            raise ActuatorError("slurm: scontrol update: timed out")
        return super().run(verb, node, reason)


def test_a_resume_the_scheduler_refused_is_asked_again_until_it_stands(tmp_path):
    # never coming back: the evidence is gone and the clean checks passed, but the scheduler did not
    # take the resume. The node must not stay out for want of a second try.
    sched = FlakyScheduler(failures=2)
    ctx = context(tmp_path, scheduler=sched)
    pending = signals(readings=[reading("row_remap_pending")])
    r = judge_signals(ctx, pending, boot="b1", now=100.0)
    assert sched.nodes["n1"][0] == "drained"
    got = [judge_signals(ctx, signals(), boot="b1", now=160.0 + 60 * i) for i in range(6)]
    assert [g.state for g in got[:3]] == ["VERIFYING", "VERIFYING", "HEALTHY"]
    assert [c for c in sched.calls if c[0] != "drain"] == [("resume-refused", "n1")] * 2 + [("resume", "n1")]
    assert sched.nodes["n1"] == ("idle", "")
    assert [a.status for a in got[2].actions] == ["failed"]
    assert all(a.action == "resume" for g in got for a in g.actions)
    assert got[-1].actions == [] and r.state == "QUARANTINED"

