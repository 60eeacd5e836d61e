"""`--persist`: a sysctl.d drop-in and a systemd oneshot unit that re-applies the profile at boot.

Both are plain files (plus the `wants` link that `systemctl enable` would
make), written as journaled steps like any other change, so rollback removes
them and a mounted image gets them without running systemctl. The unit runs
the hwtune executable of the running installation, by absolute path.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from hwtune.apply import sysfs
from hwtune.apply.model import CHANGE, FILE, INVALID, LINK, OK, SKIP, Item, Step
from hwtune.errors import ConfigError
from hwtune.host import Host

LINK_TARGET = f"../{sysfs.UNIT_NAME}"
HEADER = "# Installed by `hwtune apply --persist --profile {name}`; `hwtune rollback` removes it.\n"


def hwtune_executable() -> str:
    beside = Path(sys.executable).parent / "hwtune"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("hwtune")
    if found:
        return os.path.abspath(found)
    raise ConfigError("--persist: cannot find the hwtune executable for the boot unit "
                      "(install hwtune so that `hwtune` is on PATH)")


def unit_quote(arg: str) -> str:
    """One ExecStart argument: `%` and `$` are specifiers to systemd, spaces split words."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if any(c in arg for c in " \t\"'\\;"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def render_unit(name: str, profile_ref: str, exe: str) -> str:
    argv = [exe, "apply", "--profile", profile_ref, "--yes", "--boot"]
    return (HEADER.format(name=name)
            + "[Unit]\n"
            f"Description=hwtune: re-apply the profile {name} at boot\n"
            "After=systemd-sysctl.service systemd-modules-load.service\n"
            "\n[Service]\n"
            "Type=oneshot\n"
            f"ExecStart={' '.join(unit_quote(a) for a in argv)}\n"
            "RemainAfterExit=yes\n"
            "\n[Install]\n"
            "WantedBy=multi-user.target\n")


def render_drop_in(name: str, sysctls: list[tuple[str, str]]) -> str | None:
    if not sysctls:
        return None
    return HEADER.format(name=name) + "".join(f"{k} = {v}\n" for k, v in sysctls)


def plan_persist(host: Host, name: str, profile_ref: str, sysctl_items: list[Item]) -> list[Item]:
    sysctls = [(i.key.removeprefix("sysctl."), i.target) for i in sysctl_items if i.status in (CHANGE, OK)]
    unit = render_unit(name, profile_ref, hwtune_executable())
    return [
        own_file_item(host, "persist.sysctl", sysfs.DROP_IN, render_drop_in(name, sysctls)),
        own_file_item(host, "persist.unit", sysfs.UNIT, unit),
        own_link_item(host, "persist.unit", sysfs.UNIT_LINK, LINK_TARGET),
    ]


def missing_dirs(host: Host, path: str) -> tuple[str, ...]:
    dirs = []
    parent = os.path.dirname(path)
    while parent in sysfs.OWN_DIRS and not host.exists(parent):
        dirs.append(parent)
        parent = os.path.dirname(parent)
    return tuple(reversed(dirs))


def own_file_item(host: Host, key: str, path: str, content: str | None) -> Item:
    if host.exists(path) and not host.is_file(path):
        return Item(key, path, None, content, INVALID, mode="persistent",
                    reason="something that is not a regular file is in the way")
    current = host.read(path, record=False)
    if current is None and content is None:
        return Item(key, path, None, None, SKIP, mode="persistent",
                    reason="no drop-in needed: the profile sets no sysctl that exists on this host")
    step = Step(key, path, FILE, path, current, content, "file", created_dirs=missing_dirs(host, path))
    status = OK if current == content else CHANGE
    return Item(key, path, current, content, status, mode="persistent", step=step)


def own_link_item(host: Host, key: str, path: str, target: str) -> Item:
    current = host.readlink(path)
    if current is None and host.exists(path):
        return Item(key, path, None, target, INVALID, mode="persistent",
                    reason="a file that is not a symlink is in the way")
    step = Step(key, path, LINK, path, current, target, "link", created_dirs=missing_dirs(host, path))
    status = OK if current == target else CHANGE
    return Item(key, path, current, target, status, mode="persistent", step=step)
