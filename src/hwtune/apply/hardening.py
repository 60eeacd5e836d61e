"""Kernel settings that protect the host from its own users: never lowered silently.

A profile may raise them; lowering one (ASLR off, ptrace of any process,
kernel pointers shown, perf for everyone, page zero mappable) is refused
unless `--allow-lower-hardening` is given, and the plan marks such a change
either way. The direction is per setting: most are safer higher; the ones
marked -1 are safer lower. Sources: the kernel's Documentation/admin-guide/
sysctl/{kernel,vm,fs,net}.rst and the KSPP recommended settings.
"""

from __future__ import annotations

from dataclasses import replace

from hwtune.apply.model import CHANGE, Item

ALLOW_OPTION = "--allow-lower-hardening"
SAFER = {
    "kernel.randomize_va_space": 1,  # 2 = full ASLR
    "kernel.yama.ptrace_scope": 1,  # 0 = any process may ptrace another of its user
    "kernel.kptr_restrict": 1,
    "kernel.dmesg_restrict": 1,
    "kernel.perf_event_paranoid": 1,  # -1 = perf for everyone, kernel profiling included
    "kernel.unprivileged_bpf_disabled": 1,
    "kernel.kexec_load_disabled": 1,
    "kernel.modules_disabled": 1,
    "kernel.io_uring_disabled": 1,
    "vm.mmap_min_addr": 1,  # 0 = page zero mappable (NULL-dereference exploits)
    "net.core.bpf_jit_harden": 1,
    "fs.protected_hardlinks": 1,
    "fs.protected_symlinks": 1,
    "fs.protected_fifos": 1,
    "fs.protected_regular": 1,
    "fs.suid_dumpable": -1,  # 0 = no core dumps of setuid programs
    "kernel.unprivileged_userns_clone": -1,  # Debian's switch: 1 = user namespaces for everyone
    "vm.unprivileged_userfaultfd": -1,
}


def lowers(name: str, current: str | None, target: str | None) -> str | None:
    """Why changing sysctl `name` from `current` to `target` lowers hardening; None when it does not."""
    direction = SAFER.get(name)
    if direction is None or current is None or target is None or current == target:
        return None
    try:
        cur, tgt = int(current), int(target)
    except ValueError:
        return f"{name} {current} -> {target}: a hardening setting changed to a value hwtune cannot rank"
    if (tgt - cur) * direction < 0:
        return f"{name} {current} -> {target} lowers kernel hardening"
    return None


def mark(items: list[Item]) -> list[Item]:
    """The plan's sysctl changes that lower hardening carry the reason (and `hardening`)."""
    out = []
    for item in items:
        why = lowers(item.key.removeprefix("sysctl."), item.current, item.target) \
            if item.key.startswith("sysctl.") and item.status == CHANGE else None
        if why:
            item = replace(item, hardening=why,
                           reason=f"LOWERS KERNEL HARDENING: {why} (refused without {ALLOW_OPTION})")
        out.append(item)
    return out
