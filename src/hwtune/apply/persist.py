"""`--persist`: a sysctl.d drop-in and a systemd oneshot unit that re-applies the profile at boot.

Both are plain files (plus the `wants` link that `systemctl enable` would
make), written as journaled steps like any other change, so rollback removes
them and a mounted image gets them without running systemctl. The unit runs
the hwtune executable of the running installation, by absolute path.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from hwtune.apply import rootowned, sysfs
from hwtune.apply.hardening import ALLOW_OPTION as ALLOW_LOWER
from hwtune.apply.irreversible import ALLOW_OPTION as ALLOW_IRREVERSIBLE
from hwtune.apply.model import CHANGE, FILE, INVALID, LINK, OK, SKIP, Item, Step
from hwtune.errors import ConfigError
from hwtune.host import Host
from hwtune.profile import Profile
from hwtune.tunables.sysctl import sysctl_value, valid_sysctl_name

LINK_TARGET = f"../{sysfs.UNIT_NAME}"
RUN_HWTUNE = ("-I", "-m", "hwtune")
# what the unit may pass after --boot: each option at most once, in this order
FLAG_TAILS = {(), (ALLOW_LOWER,), (ALLOW_IRREVERSIBLE,), (ALLOW_LOWER, ALLOW_IRREVERSIBLE)}
HEADER = "# Installed by `hwtune apply --persist --profile {name}`; `hwtune rollback` removes it.\n"
HEADER_RE = re.compile(r"# Installed by `hwtune apply --persist --profile (?P<name>[^\n]*)`; "
                       r"`hwtune rollback` removes it\.\n")
# A newline would start a new line of the unit (`ExecStartPre=...`) or of the
# drop-in (another sysctl); other control characters have no place either.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_OWN_FILE_BYTES = 64 * 1024


def check_text(what: str, value: str) -> str:
    """A value that goes into the unit or the drop-in: refused (exit 2) with a control character."""
    if CONTROL.search(value):
        raise ConfigError(f"{what} {value!r} contains a newline or a control character: refused for the "
                          "--persist unit and drop-in; nothing was changed")
    return value


def unit_python() -> str:
    """The interpreter the unit runs, with `-I -m hwtune`: the running one, if root's all the way up
    with everything it imports (exit 2 otherwise, naming the path and the fix)."""
    why = rootowned.why_install_not_root_owned()
    if why:
        raise ConfigError(f"--persist: {why}; the boot unit would run it as root. {rootowned.INSTALL_FIX} "
                          "(nothing was changed)")
    return sys.executable


def unit_quote(arg: str) -> str:
    """One ExecStart argument: `%` and `$` are specifiers to systemd, spaces split words."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if any(c in arg for c in " \t\"'\\;"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def render_unit(name: str, profile_ref: str, python: str, flags: tuple[str, ...] = (), *,
                legacy: bool = False) -> str:
    """The unit. `legacy`: `python` is an hwtune script, as units of hwtune 0.1 ran (rebuilt only, so
    that their journals still roll back)."""
    check_text("profile name", name)
    check_text("--profile", profile_ref)
    check_text("Python interpreter", python)
    if tuple(flags) not in FLAG_TAILS:
        raise ValueError(f"not options the boot unit passes: {flags}")
    # -I: isolated, so no PYTHONPATH, user site or current folder decides what root imports at boot
    argv = [python, *(() if legacy else RUN_HWTUNE), "apply", "--profile", profile_ref, "--yes", "--boot", *flags]
    return (HEADER.format(name=name)
            + "[Unit]\n"
            f"Description=hwtune: re-apply the profile {name.replace('%', '%%')} at boot\n"
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
    check_text("profile name", name)
    for k, v in sysctls:
        check_text("sysctl", k)
        check_text(f"sysctl {k} value", v)
    return HEADER.format(name=name) + "".join(f"{k} = {v}\n" for k, v in sysctls)


def _unquote_exec(line: str) -> list[str]:
    """The words of an ExecStart= line that `unit_quote` wrote."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(line)]


def rebuild_unit(text: str) -> str:
    """The unit rendered again from its validated parts; ValueError when `text` is not one hwtune writes."""
    if len(text) > MAX_OWN_FILE_BYTES:
        raise ValueError("too large for a unit hwtune writes")
    head = HEADER_RE.match(text)
    exec_lines = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    if head is None or len(exec_lines) != 1:
        raise ValueError("not a unit hwtune writes (header or ExecStart)")
    try:
        argv = _unquote_exec(exec_lines[0].removeprefix("ExecStart="))
    except ValueError as exc:
        raise ValueError(f"ExecStart is not quoted as hwtune quotes it: {exc}") from None
    if not argv:
        raise ValueError("ExecStart is empty")
    exe = argv[0]
    legacy = argv[1:1 + len(RUN_HWTUNE)] != list(RUN_HWTUNE)  # hwtune 0.1 ran the hwtune script itself
    rest = argv[1 if legacy else 1 + len(RUN_HWTUNE):]
    if len(rest) < 5 or rest[:5] != ["apply", "--profile", rest[2], "--yes", "--boot"] \
            or tuple(rest[5:]) not in FLAG_TAILS:
        raise ValueError("ExecStart is not `python -I -m hwtune apply --profile P --yes --boot`")
    if not exe.startswith("/") or (legacy and os.path.basename(exe) != "hwtune"):
        raise ValueError(f"ExecStart runs {exe!r}, not hwtune by absolute path")
    try:
        rebuilt = render_unit(head.group("name"), rest[2], exe, tuple(rest[5:]), legacy=legacy)
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    if rebuilt != text:
        raise ValueError("not a unit hwtune writes (it differs from the one rebuilt from its values)")
    return rebuilt


def rebuild_drop_in(text: str) -> str:
    """The drop-in rendered again from validated sysctls; ValueError when `text` is not one hwtune writes."""
    if len(text) > MAX_OWN_FILE_BYTES:
        raise ValueError("too large for a drop-in hwtune writes")
    head = HEADER_RE.match(text)
    if head is None:
        raise ValueError("not a drop-in hwtune writes (no hwtune header)")
    pairs = []
    for line in text[head.end():].splitlines():
        k, sep, v = line.partition(" = ")
        if not sep or not valid_sysctl_name(k):
            raise ValueError(f"{line[:80]!r} is not a sysctl line hwtune writes")
        try:
            pairs.append((k, sysctl_value(k, v)))
        except ConfigError as exc:
            raise ValueError(exc.message) from None
    try:
        rebuilt = render_drop_in(head.group("name"), pairs)
    except ConfigError as exc:
        raise ValueError(exc.message) from None
    if rebuilt != text:
        raise ValueError("not a drop-in hwtune writes (it differs from the one rebuilt from its values)")
    return rebuilt


REBUILD = {sysfs.DROP_IN: rebuild_drop_in, sysfs.UNIT: rebuild_unit}


def check_boot_profile(files: tuple[str, ...]) -> None:
    """The boot unit re-reads the profile and every profile it includes at every boot, as root:
    whoever may change one of them (or a folder above one) would decide what root applies. Each
    must be root's all the way up (exit 2 otherwise, naming the file)."""
    for path in files:
        why = rootowned.why_not_root_owned(path)
        if why:
            raise ConfigError(f"--persist: the profile {path} may be changed by another user ({why}); the boot "
                              "unit would apply whatever it holds as root. Keep the profile and what it includes "
                              "in a folder only root can write, e.g. /etc/hwtune/; nothing was changed")


def plan_persist(host: Host, profile: Profile, profile_ref: str, sysctl_items: list[Item],
                 allow_lower: bool = False, allow_irreversible: bool = False) -> list[Item]:
    sysctls = [(i.key.removeprefix("sysctl."), i.target) for i in sysctl_items
               if i.status in (CHANGE, OK) and i.target is not None]
    flags = tuple(f for f, on in ((ALLOW_LOWER, allow_lower), (ALLOW_IRREVERSIBLE, allow_irreversible)) if on)
    check_text("profile name", profile.name)
    check_text("--profile", profile_ref)
    check_boot_profile(profile.files)
    unit = render_unit(profile.name, profile_ref, unit_python(), flags)
    return [
        own_file_item(host, "persist.sysctl", sysfs.DROP_IN, render_drop_in(profile.name, sysctls)),
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
    if current is not None:
        try:
            REBUILD[path](current)
        except ValueError as exc:
            # rollback restores only what it can rebuild from validated values
            return Item(key, path, None, content, INVALID, mode="persistent",
                        reason=f"{path} is there and hwtune did not write it ({exc}): move it away first")
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
