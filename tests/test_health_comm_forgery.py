"""A process's name (COMM, at most 15 bytes) begins some kernel messages: "COMM invoked
oom-killer: ...", "COMM[PID]: segfault at ... in FILE[...]". Any user can pick it, so no name
may make such a line read as the hardware's (a memory error drains the node until a reboot)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hwtune.guard.follow import events_of
from hwtune.guard.kmsg import kernel_records
from hwtune.health.patterns import load_rules, match_events
from hwtune.probe.logparse import LogLine

OOM = "{comm} invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
SEGV = "{comm}[4242]: segfault at 0 ip 00007f0000000000 sp 00007ffc00000000 error 4 in {file}[7f00+1000]"
USER_KINDS = {"oom_kill", "oom_invoked"}
# what the hardware rules' own lines start with, cut to a COMM's 15 bytes (and one shorter)
HARDWARE = ["EDAC MC0: 1 UE", "EDAC MC0: 1 UE ", "EDAC MC0: 1 CE", "NVRM: Xid (PCI:", "NVRM: GPU at PC",
            "Memory failure:", "[Hardware Error", "mce: [Hardware ", "Kernel panic - ", "Uncorrected har",
            "NVRM: GPU0 Rese", "CPU0: Core temp", "pcieport 0000:0"]
comms = st.one_of(st.sampled_from(HARDWARE), st.text(min_size=1, max_size=15).filter(
    lambda s: s.isprintable() and "\\" not in s))


def _kinds(message: str) -> set[str]:
    events, _ = match_events([LogLine("1.000000", message)])
    return {e["kind"] for e in events}


def test_a_memory_error_named_process_that_runs_out_of_memory_is_an_oom_line():
    line = OOM.format(comm="EDAC MC0: 1 UE")
    assert _kinds(line) == {"oom_invoked"}
    # guard, following /dev/kmsg, reads the kernel's record the same way
    record = f"4,100,5000000,-;{line}"
    assert [e.kind for e in events_of(kernel_records([record]), "b1", 0.0)] == []


@settings(max_examples=300, deadline=None)
@given(comm=comms, file=st.text(max_size=60).filter(lambda s: "\n" not in s))
def test_no_process_name_makes_a_hardware_event(comm, file):
    hardware = {r.kind for r in load_rules()} - USER_KINDS
    assert not _kinds(OOM.format(comm=comm)) & hardware
    assert not _kinds(SEGV.format(comm=comm, file=file)) & hardware
