"""guard's health history: permissions, trust, no double count, bounds; and the kmsg record parser."""

from __future__ import annotations

import os
import stat

import pytest

from hwtune.errors import ConfigError
from hwtune.guard import kmsg
from hwtune.guard.store import DB_NAME, Event, Store, state_dir


def _event(seq: int, t: float = 100.0, boot: str = "b1") -> Event:
    return Event(boot, f"s{seq}", t, seq, "xid", "0000:3b:00.0", 79, "GPU has fallen off the bus",
                 f"[{seq}.000000] NVRM: Xid (PCI:0000:3b:00): 79")


def test_state_folder_and_files_are_private(tmp_path):
    folder = tmp_path / "state"
    old = os.umask(0)
    try:
        with Store(folder) as store:
            store.add_events("n1", [_event(1)])
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / DB_NAME).stat().st_mode) == 0o600


def test_an_event_is_stored_once_across_restarts_and_rereads(tmp_path):
    with Store(tmp_path / "s") as store:
        assert store.add_events("n1", [_event(1), _event(2)]) == 2
    with Store(tmp_path / "s") as store:  # a restart re-reads the same log
        assert store.add_events("n1", [_event(1), _event(2), _event(3)]) == 1
        assert [e.key for e in store.events("n1", "b1")] == ["s1", "s2", "s3"]
        # the same sequence number in another boot is another event
        assert store.add_events("n1", [_event(1, boot="b2")]) == 1
        assert len(store.events("n1", "b2")) == 1


def test_state_folder_writable_by_others_is_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o777)
    with pytest.raises(ConfigError, match="writable by others"):
        Store(folder)


def test_database_symlink_is_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir(mode=0o700)
    (tmp_path / "elsewhere").write_text("")
    (folder / DB_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="symlink"):
        Store(folder)


def test_state_folder_symlink_is_refused(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "s").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="symlink"):
        Store(tmp_path / "s")


def test_a_file_that_is_not_a_database_is_bad_input(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir(mode=0o700)
    (folder / DB_NAME).write_bytes(b"not sqlite" * 100)
    os.chmod(folder / DB_NAME, 0o600)
    with pytest.raises(ConfigError, match="not a usable hwtune guard history"):
        Store(folder)


def test_state_inside_the_snapshot_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_STATE_DIR", str(tmp_path / "snap" / "var" / "lib"))
    with pytest.raises(ConfigError, match="inside the snapshot"):
        state_dir(tmp_path / "snap")
    monkeypatch.setenv("HWTUNE_STATE_DIR", "relative/path")
    with pytest.raises(ConfigError, match="absolute"):
        state_dir(None)


def test_retention_and_size_cap_bound_the_store(tmp_path):
    with Store(tmp_path / "s", max_bytes=256 * 1024, retention_s=1000) as store:
        store.add_events("n1", [_event(i, t=float(i)) for i in range(20000)])
        assert store.size_bytes() > 256 * 1024
        store.prune(now=20000.0 + 500)
        events = store.events("n1", "b1")
        assert store.size_bytes() <= 256 * 1024
        assert events and min(e.t for e in events) >= 19500  # older than the retention: gone
        store.add_events("n1", [_event(i, t=30000.0 + i, boot="b2") for i in range(20000)])
        store.prune(now=30000.0 + 20000)
        kept = store.events("n1", "b2")
        assert store.size_bytes() <= 256 * 1024
        assert kept[-1].key == "s19999" and not store.events("n1", "b1")  # the newest stay


@pytest.mark.parametrize("line, expected", [
    ("3,1024,5000000,-;NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.",
     kmsg.Record(1024, 5000000, 3, "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.")),
    ("4,7,12,c,more;text;with;semicolons", kmsg.Record(7, 12, 4, "text;with;semicolons")),
    # CONFIG_PRINTK_CALLER adds a field after the flags; a 7-digit pid makes it 17 characters
    ("4,100,200,-,caller=T1234567;NVRM: Xid (PCI:0000:19:00): 79, GPU has fallen off the bus.",
     kmsg.Record(100, 200, 4, "NVRM: Xid (PCI:0000:19:00): 79, GPU has fallen off the bus.")),
    ("4,101,201,-,caller=C12,future=" + "f" * 200 + ";text", kmsg.Record(101, 201, 4, "text")),
    # a process writing to /dev/kmsg gets facility 1 (user) or more: not the kernel's
    ("12,1025,5000001,-;NVRM: Xid (PCI:0000:3b:00): 79, forged", None),
    ("14,1025,5000001,-;NVRM: Xid (PCI:0000:3b:00): 79, forged", None),
    (" SUBSYSTEM=pci", None),
    ("[  5.000000] NVRM: Xid (PCI:0000:3b:00): 79, dmesg text", None),
    ("x,1,2,-;text", None),
    ("3,1,2;too few fields", None),
    ("", None),
])
def test_kmsg_records(line, expected):
    assert kmsg.parse_record(line) == expected

