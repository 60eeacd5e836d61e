"""Distribution, from os-release, parsed by python-distro.

The file is read through the Host (inside the root, a regular file only,
capped) and only its text is handed to distro's parser: distro given a
`root_dir` opens the files itself, following a planted link out of the root
and reading a FIFO or a huge file whole. Its shlex parser is slow on long
quoted values (a 1 MB value took 22 s), so the cap comes first.
"""

from __future__ import annotations

import io

from hwtune.facts import FactsBuilder
from hwtune.host import Host

OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")
# The largest real os-release is ~1 KiB; distro's shlex parser is quadratic in a quoted
# value (63 KiB: 0.23 s), so the cap is 16 KiB (~15 ms at worst).
OS_RELEASE_MAX_BYTES = 16 * 1024


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs (keys lower-cased, `codename` derived), as python-distro reads them."""
    import distro

    return distro.LinuxDistribution._parse_os_release_content(io.StringIO(text))


def probe_os(host: Host, b: FactsBuilder) -> None:
    # both are read (and so recorded in a snapshot); the first one present wins, as in distro
    texts = [(p, host.read(p, limit=OS_RELEASE_MAX_BYTES)) for p in OS_RELEASE_FILES]
    present = [(p, t) for p, t in texts if t is not None]
    reason = "no /etc/os-release or /usr/lib/os-release"
    why = [f"{p}: {host.why(p)}" for p, t in texts
           if t is None and host.why(p) not in (None, "No such file or directory")]
    if why:
        reason += " (" + "; ".join(why) + ")"
    release: dict[str, str] = {}
    found = False
    if present:
        path, text = present[0]
        if path in host.truncated:
            reason = f"{path} is larger than {OS_RELEASE_MAX_BYTES // 1024} KiB: not parsed"
        else:
            try:
                release = parse_os_release(text)
                found = True
            except ValueError as exc:  # distro's shlex parser: "No closing quotation" on a broken file
                reason = f"{path} is malformed: {exc}"
    codename = release.get("codename", "")
    b.set("os.id", release.get("id") or None, reason if not found else "os-release has no ID")
    b.set("os.version_id", release.get("version_id") or None, reason if not found else "os-release has no VERSION_ID")
    b.set("os.pretty_name", release.get("pretty_name") or None,
          reason if not found else "os-release has no PRETTY_NAME")
    b.set("os.codename", codename or None, reason if not found else "no codename")
    like = release.get("id_like")
    b.set("os.like", like.split() if like else [] if found else None, reason)
