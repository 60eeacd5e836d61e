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
