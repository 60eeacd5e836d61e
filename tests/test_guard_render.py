"""guard's plain lines: a kernel line or a reason is shown, never sent to the terminal."""

from __future__ import annotations

from hwtune.guard.actions import Action
from hwtune.guard.core import GuardResult
from hwtune.guard.render import render_result


def test_a_hostile_log_line_is_written_out_and_cut_to_the_terminal():
    evidence = "NVRM: Xid (PCI:0000:19:00): 79, \x1b]0;owned\x07\u202egpu" + "x" * 200
    action = Action("a1", "node1", 0.0, "0000:19:00.0", "drain", "slurm", "gpu.xid", "Xid 79",
                    evidence, "done", "drained", "resume")
    lines = render_result(GuardResult("once", "node\x1b[2J1", "UNHEALTHY", [("0000:19:00.0", "LOST")],
                                      [action], ["/dev/kmsg: \x9b31m"]))
    text = "\n".join(lines)
    assert not any(c in text for c in "\x1b\x07\x9b\u202e")
    assert "\\x1b]0;owned\\x07\\u202egpu" in text and "node\\x1b[2J1" in text and "\\x9b31m" in text
    assert all(len(line) <= 80 for line in lines)


def test_one_value_stays_on_its_line_and_in_its_columns():
    from hwtune.guard.render import _safe

    forged = "Xid 79\nnode node1: HEALTHY (act)\tpad\u2028\ufeff"
    shown = _safe(forged, 80)
    assert "\n" not in shown and "\t" not in shown and "\u2028" not in shown
    assert shown.startswith("Xid 79\\x0anode node1: HEALTHY (act)\\x09pad\\u2028\\ufeff")
    wide = _safe("\u6f22" * 100, 40)  # a wide character takes two columns
    assert wide.endswith("...") and len(wide) == 18 + 3


def test_history_lines_escape_and_fit(tmp_path):
    from hwtune.guard.render import render_history

    doc = {"events": {"n1 0000:19:00.0": [{"time": 0.0, "evidence": "a\x1b[2Jb" * 40}]},
           "verdicts": [{"node": "n1", "time": 0.0, "target": "\x1b]0;x\x07" * 10, "state": "LOST"}],
           "actions": [{"time": 0.0, "id": "a1\n", "action": "drain", "target": "\u202e" * 30,
                        "status": "done"}]}
    lines = render_history(doc)
    text = "\n".join(lines)
    assert not any(c in text for c in "\x1b\x07\u202e") and len(lines) == 4
    assert all(len(line) <= 80 for line in lines)
