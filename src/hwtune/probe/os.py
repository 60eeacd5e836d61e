"""Distribution, from os-release, through python-distro with a root_dir."""

from __future__ import annotations

from hwtune.facts import FactsBuilder
from hwtune.host import Host

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")


def probe_os(host: Host, b: FactsBuilder) -> None:
    import distro

    # distro refuses live data (lsb_release, uname) when given root_dir, so the
    # live machine and a snapshot of it are read the same way.
    info = distro.LinuxDistribution(root_dir=str(host.root), include_lsb=False,
                                    include_uname=False, include_oslevel=False)
    found = [p for p in OS_RELEASE_FILES if host.read(p) is not None][:1]  # recorded for snapshots
    reason = "no /etc/os-release or /usr/lib/os-release"
    try:
        release = info.os_release_info() if found else {}
        codename = info.codename() if found else ""
    except ValueError as exc:  # distro's shlex parser: "No closing quotation" on a broken file
        reason = f"{found[0]} is malformed: {exc}"
        found, release, codename = [], {}, ""
    b.set("os.id", release.get("id") or None, reason if not found else "os-release has no ID")
    b.set("os.version_id", release.get("version_id") or None, reason if not found else "os-release has no VERSION_ID")
    b.set("os.pretty_name", release.get("pretty_name") or None, reason if not found else "os-release has no PRETTY_NAME")
    b.set("os.codename", codename or None, reason if not found else "no codename")
    like = release.get("id_like")
    b.set("os.like", like.split() if like else [] if found else None, reason)
