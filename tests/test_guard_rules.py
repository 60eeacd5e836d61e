"""The rules' time keys on their own: window and count, burst merge, clears_on a GPU that answers
(the shipped rules use window and count; merge_s and recovery_action_none are there for a site's)."""

from __future__ import annotations

from guard_helpers import GPU, xid
from hwtune.guard.machine import findings
from hwtune.guard.rules import load_rules

RULE = """[[rule]]
id = "r"
check = "gpu.xid"
source = "log"
kind = ["xid"]
codes = [{code}]
scope = "gpu"
effect = "{effect}"
"""


def rules_file(tmp_path, code=31, effect="suspect", **keys):
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in keys.items())
    path = tmp_path / "rules.toml"
    path.write_text(RULE.format(code=code, effect=effect) + extra)
    return load_rules(path)


def test_window_and_count(tmp_path):
    rules = load_rules()  # the shipped application rule: 20 within the hour on one GPU
    nineteen = [xid(i, 13, 1000.0 + i) for i in range(19)]
    assert findings(rules, nineteen, (), 1100.0) == []
    assert [f.effect for f in findings(rules, nineteen + [xid(99, 13, 1050.0)], (), 1100.0)] == ["suspect"]
    spread = [xid(i, 13, 1000.0 + 400 * i) for i in range(20)]  # 20 over more than two hours
    assert findings(rules, spread, (), 1000.0 + 400 * 19) == []


def test_a_burst_within_merge_s_counts_once(tmp_path):
    rules = rules_file(tmp_path, count=3, window_s=3600, merge_s=60)
    burst = [xid(i, 31, 100.0 + i) for i in range(50)]  # fifty records within 50 s: one burst
    assert findings(rules, burst, (), 200.0) == []
    three = burst + [xid(100, 31, 300.0), xid(101, 31, 400.0)]  # three bursts
    assert [(f.rule, f.target) for f in findings(rules, three, (), 400.0)] == [("r", GPU)]


def test_clears_on_recovery_action_none(tmp_path):
    rules = rules_file(tmp_path, code=48, effect="quarantine", remedy="reset",
                       clears_on=["recovery_action_none", "clean_checks"])
    dbe = [xid(1, 48, 10.0)]
    assert [f.remedy for f in findings(rules, dbe, (), 20.0, answers={GPU: False})] == ["reset"]
    assert findings(rules, dbe, (), 20.0, answers={GPU: True}) == []
    # a GPU nobody could ask is not taken as answering
    assert len(findings(rules, dbe, (), 20.0)) == 1


def test_a_rule_on_a_kind_guard_does_not_judge_is_refused(tmp_path):
    import pytest

    from hwtune.errors import ConfigError

    path = tmp_path / "rules.toml"
    path.write_text(RULE.replace('kind = ["xid"]', 'kind = ["oom_kill"]').format(code=31, effect="suspect"))
    with pytest.raises(ConfigError, match="oom_kill"):
        load_rules(path)
