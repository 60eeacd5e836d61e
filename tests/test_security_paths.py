"""Paths resolved inside the root: reads that would leave it, writes through links, hostile files.

Every test runs twice: with openat2(RESOLVE_IN_ROOT) and with the walk
through directory descriptors that replaces it on kernels without openat2.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from apply_helpers import hwtune_argv, invoke
from hwtune import fsroot
from hwtune.apply import sysfs
from hwtune.host import Host
from hwtune.probe.os import OS_RELEASE_MAX_BYTES
from hwtune.run import MAX_OUTPUT_BYTES, Runner

SECRET = "root-only secret\n"


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch):
    if request.param == "walk":
        monkeypatch.setenv(fsroot.NO_OPENAT2_ENV, "1")
    elif not fsroot.openat2_available():
        pytest.skip("this kernel has no openat2")
    return request.param


@pytest.fixture()
def outside(tmp_path):
    """A file outside the tree, standing for /etc/shadow."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "shadow").write_text(SECRET)
    return folder / "shadow"


def tree(tmp_path, files: dict[str, str]):
    root = tmp_path / "tree"
    root.mkdir()
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_absolute_and_relative_links_resolve_inside_the_root(tmp_path, outside, resolver):
    root = tree(tmp_path, {"etc/inside": "in the tree\n", "sys/a/value": "7\n"})
    os.makedirs(root / "proc")
    os.symlink(str(outside), root / "proc/cmdline")  # absolute: means <root>/.../outside/shadow
    os.symlink("../../../../../../../outside/shadow", root / "proc/version")  # `..` stops at the root
    os.symlink("/etc/inside", root / "proc/abs_inside")  # absolute inside: followed, in the tree
    os.symlink("../sys/a", root / "proc/dirlink")  # a relative folder link
    host = Host(root)
    assert host.read("/proc/cmdline") is None and host.why("/proc/cmdline") == "No such file or directory"
    assert host.absent("/proc/cmdline") == "/proc/cmdline absent"
    assert host.read("/proc/version") is None
    assert host.read("/proc/abs_inside") == "in the tree\n"
    assert host.read("/proc/dirlink/value") == "7\n"
    assert host.read("/proc/../../../../etc/inside") == "in the tree\n"


def test_a_link_loop_is_an_unknown_with_the_reason(tmp_path, resolver):
    root = tree(tmp_path, {})
    os.makedirs(root / "etc")
    os.symlink("/etc/os-release", root / "etc/os-release")  # recorded from a machine: points at itself here
    os.symlink("b", root / "etc/a")
    os.symlink("a", root / "etc/b")
    host = Host(root)
    assert host.read("/etc/os-release") is None
    assert "loop" in host.why("/etc/os-release")
    assert host.read("/etc/a") is None and "loop" in host.why("/etc/a")


def test_facts_never_print_a_file_outside_the_root(tmp_path, outside, resolver):
    root = tree(tmp_path, {"proc/version": "Linux version 6.1.0 (x@y) #1 SMP\n"})
    os.symlink(str(outside), root / "proc/cmdline")
    os.makedirs(root / "etc")
    os.symlink("/etc/os-release", root / "etc/os-release")
    res = invoke("facts", "--root", str(root), "--json")
    assert res.exit_code == 0, res.stderr
    assert "root-only secret" not in res.stdout
    facts = json.loads(res.stdout)
    text = json.dumps(facts)
    assert "root-only secret" not in text
    # this machine's OS is never reported for the recorded one
    live_id = Host("/").read("/etc/os-release") or ""
    os_id = next((v for k, v in _flat(facts) if k.endswith("os.id")), None)
    assert os_id is None or f"ID={os_id}" not in live_id


def _flat(data, prefix=""):
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _flat(v, f"{prefix}.{k}" if prefix else k)
    else:
        yield prefix, data


def test_writes_never_go_through_a_link(tmp_path, outside, resolver):
    gov = "sys/devices/system/cpu/cpufreq/policy0/scaling_governor"
    root = tree(tmp_path, {})
    (root / "sys/devices/system/cpu").mkdir(parents=True)
    os.symlink(str(outside.parent), root / "sys/devices/system/cpu/cpufreq")  # a folder swapped for a link
    with pytest.raises(sysfs.WriteError, match="ELOOP"):
        sysfs.write_value(root, "/" + gov, b"performance\n")
    os.unlink(root / "sys/devices/system/cpu/cpufreq")
    (root / "sys/devices/system/cpu/cpufreq/policy0").mkdir(parents=True)
    os.symlink(str(outside), root / gov)  # the file itself is a link
    with pytest.raises(sysfs.WriteError, match="ELOOP"):
        sysfs.write_value(root, "/" + gov, b"performance\n")
    assert outside.read_text() == SECRET


def test_a_hard_link_in_a_tree_is_never_written(tmp_path, outside, resolver):
    gov = "sys/devices/system/cpu/cpufreq/policy0/scaling_governor"
    root = tree(tmp_path, {})
    (root / gov).parent.mkdir(parents=True)
    os.link(outside, root / gov)
    with pytest.raises(sysfs.WriteError, match="hard links"):
        sysfs.write_value(root, "/" + gov, b"performance\n")
    assert outside.read_text() == SECRET


def test_a_hard_link_in_a_tree_is_never_read(tmp_path, outside, resolver):
    """With fs.protected_hardlinks=0 a user links /etc/shadow into a tree as proc/cmdline: it is an
    unknown fact with the reason, never printed (files, recorded commands and the kernel log alike)."""
    root = tree(tmp_path, {"proc/version": "Linux version 6.1.0 (x@y) #1 SMP\n", "cmd/.keep": ""})
    for rel in ("proc/cmdline", "cmd/lspci_-vvv.txt", "dev/kmsg"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(outside, root / rel)
    res = invoke("facts", "--root", str(root), "--json")
    assert res.exit_code == 0, res.stderr
    assert "root-only secret" not in res.stdout
    host = Host(root)
    assert host.read("/proc/cmdline") is None and "4 hard links" in host.why("/proc/cmdline")
    assert "proc/cmdline" in res.stdout and "hard links" in res.stdout  # the fact's reason says why
    records, why = host.read_records("/dev/kmsg", max_bytes=1 << 20)
    assert records is None and "hard links" in why
    assert "hard links" in Runner(root).run(["lspci", "-vvv"]).error
    assert Host("/").read("/proc/version")  # the live host is not judged by link counts


@pytest.mark.parametrize("rel", ["proc/cpuinfo", "proc/meminfo", "etc/os-release",
                                 "usr/include/cudnn_version.h"])
def test_a_fifo_is_never_waited_on(tmp_path, rel, resolver):
    root = tree(tmp_path, {"proc/version": "Linux version 6.1.0 (x@y) #1 SMP\n"})
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(root / rel)
    host = Host(root)
    assert host.read("/" + rel) is None
    assert host.why("/" + rel) == "a FIFO, not a regular file: not read"
    if rel in ("proc/cpuinfo", "proc/meminfo"):
        from hwtune.probe import probe_facts

        fact = {"proc/cpuinfo": "cpu.model", "proc/meminfo": "mem.total_kib"}[rel]
        facts = probe_facts(Host(root))
        assert f"/{rel}: a FIFO, not a regular file: not read" in facts.reason(fact)
    # the whole check, as a user runs it, ends (a FIFO blocked it forever)
    start = time.monotonic()
    res = subprocess.run(hwtune_argv() + ["check", "--root", str(root), "--profile", "gpu-inference"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode in (0, 1), res.stderr
    assert time.monotonic() - start < 30


def test_a_socket_is_never_opened_as_a_file(tmp_path, resolver):
    import socket

    root = tree(tmp_path, {})
    (root / "proc").mkdir()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(root / "proc/cpuinfo"))
        host = Host(root)
        assert host.read("/proc/cpuinfo") is None
        assert host.why("/proc/cpuinfo") in ("a socket, not a regular file: not read", "No such device or address")


def test_a_4_mb_os_release_value_is_refused_in_well_under_a_second(tmp_path, resolver):
    root = tree(tmp_path, {"etc/os-release": 'ID=x\nPRETTY_NAME="' + "a" * (4 * 1024 * 1024) + '"\n'})
    from hwtune.facts import FactsBuilder
    from hwtune.probe.os import probe_os

    b = FactsBuilder()
    start = time.monotonic()
    probe_os(Host(root), b)
    assert time.monotonic() - start < 0.5
    facts = b.build() if hasattr(b, "build") else b
    text = json.dumps(facts.to_json() if hasattr(facts, "to_json") else {}, default=str)
    assert f"larger than {OS_RELEASE_MAX_BYTES // 1024} KiB" in text


def test_a_long_value_under_the_cap_still_parses_fast(tmp_path, resolver):
    value = "a" * (OS_RELEASE_MAX_BYTES - 100)
    root = tree(tmp_path, {"etc/os-release": f'ID=x\nPRETTY_NAME="{value}"\n'})
    from hwtune.probe.os import parse_os_release

    start = time.monotonic()
    assert parse_os_release(Host(root).read("/etc/os-release"))["pretty_name"] == value
    assert time.monotonic() - start < 0.5


def test_a_100_mb_recorded_output_is_not_read(tmp_path, resolver):
    root = tree(tmp_path, {})
    (root / "cmd").mkdir()
    with open(root / "cmd/nvidia-smi_-q_-x.xml", "wb") as fh:  # sparse: costs no disk
        fh.write(b"<?xml version=\"1.0\" ?>\n<nvidia_smi_log>")
        fh.truncate(100 * 1024 * 1024)
    res = Runner(root).run(["nvidia-smi", "-q", "-x"])
    assert not res.ok and f"larger than {MAX_OUTPUT_BYTES // (1024 * 1024)} MiB" in res.error
    assert res.stdout == ""


def test_a_recorded_output_link_cannot_leave_the_root(tmp_path, outside, resolver):
    root = tree(tmp_path, {})
    (root / "cmd").mkdir()
    os.symlink(str(outside), root / "cmd/nvidia-smi.txt")
    res = Runner(root).run(["nvidia-smi"])
    assert SECRET not in res.stdout and not res.ok


def test_the_walk_gives_up_after_40_links(tmp_path, monkeypatch):
    monkeypatch.setenv(fsroot.NO_OPENAT2_ENV, "1")
    root = tree(tmp_path, {"end": "x\n"})
    for i in range(41):
        os.symlink(f"l{i + 1}" if i < 40 else "end", root / f"l{i}")
    host = Host(root)
    assert host.read("/l1") == "x\n"  # 40 links: allowed
    assert host.read("/l0") is None and "loop" in host.why("/l0")  # 41: refused


def test_snapshot_out_writes_only_through_the_folder_it_opened(tmp_path, monkeypatch, outside):
    """A link planted in --out's place after it was checked is never followed (it overwrote a root file)."""
    import hwtune.probe as probe
    from hwtune.snapshot import MANIFEST, take_snapshot

    src = tree(tmp_path, {"proc/version": "Linux version 6.1.0 (x@y) #1 SMP\n", "proc/cmdline": "quiet\n"})
    out = tmp_path / "snap"
    real_probe = probe.probe_facts

    def probe_then_swap(host, **kw):
        facts = real_probe(host, **kw)
        os.rename(out, tmp_path / "snap.moved")
        os.symlink(outside.parent, out)  # --out now leads to the root-owned folder
        (outside.parent / MANIFEST).write_text("root's own file\n")
        return facts

    monkeypatch.setattr(probe, "probe_facts", probe_then_swap)
    take_snapshot(out, Host(src, runner=Runner(src)))
    assert (outside.parent / MANIFEST).read_text() == "root's own file\n"
    assert outside.read_text() == SECRET
    assert (tmp_path / "snap.moved" / MANIFEST).is_file()
    assert (tmp_path / "snap.moved/proc/version").read_text().startswith("Linux version")


@pytest.mark.parametrize("case", ["symlink", "not empty", "foreign"])
def test_snapshot_out_refuses_a_link_a_full_folder_or_another_users_folder(tmp_path, outside, case):
    out = tmp_path / "snap"
    if case == "symlink":
        os.symlink(outside.parent, out)
    else:
        out.mkdir()
        if case == "not empty":
            (out / "x").write_text("x")
        else:
            os.chown(out, 65534, 65534)
    res = invoke("snapshot", "--out", str(out))
    assert res.exit_code == 2, res.stdout
    assert {"symlink": "symlink", "not empty": "not an empty folder", "foreign": "owned by uid 65534"}[case] \
        in res.stderr
    assert sorted(os.listdir(outside.parent)) == ["shadow"]


def test_a_live_command_that_never_stops_printing_is_cut_at_the_cap(monkeypatch):
    import hwtune.run as run

    monkeypatch.setattr(run, "MAX_OUTPUT_BYTES", 1024 * 1024)
    start = time.monotonic()
    res = run.run_live(("yes", "x" * 100), 20.0)  # endless output: communicate() would grow without bound
    assert not res.ok and "printed more than 1 MiB" in res.error
    assert time.monotonic() - start < 10
    ok = run.run_live(("printf", "a%.0s", *["1"] * 1000), 20.0)
    assert ok.ok and ok.stdout == "a" * 1000


def test_the_report_reads_a_trees_journals_inside_the_tree(tmp_path, resolver):
    from hwtune.report.inputs import load_root_journals

    elsewhere = tmp_path / "root-only"
    elsewhere.mkdir()
    (elsewhere / "20260101-000000-000000.json").write_text('{"steps": [], "secret": "root-only secret"}')
    root = tree(tmp_path, {})
    (root / "var/lib/hwtune").mkdir(parents=True)
    os.symlink(str(elsewhere), root / "var/lib/hwtune/journal")  # absolute: <root>/.../root-only, absent
    assert load_root_journals(root).docs == []
    os.unlink(root / "var/lib/hwtune/journal")
    os.symlink("../../../../root-only", root / "var/lib/hwtune/journal")  # `..` stops at the root
    assert load_root_journals(root).docs == []


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_a_snapshot_is_private_whatever_the_umask(tmp_path, umask):
    # it holds the kernel log (addresses of other users' crashed processes), the host name and serials
    from hwtune.snapshot import take_snapshot

    src = tree(tmp_path, {"proc/version": "Linux version 6.1.0 (x@y) #1 SMP\n", "proc/cmdline": "quiet\n"})
    out = tmp_path / "snap"
    old = os.umask(umask)
    try:
        take_snapshot(out, Host(src, runner=Runner(src)))
    finally:
        os.umask(old)
    entries = [out, *out.rglob("*")]
    folders = [p for p in entries if p.is_dir() and not p.is_symlink()]
    files = [p for p in entries if p.is_file() and not p.is_symlink()]
    assert len(folders) > 2 and len(files) > 2
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o700"}
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o600"}
