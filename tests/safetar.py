"""Unpack the project's own fixture archives on every Python that pyproject admits.

`TarFile.extractall(filter=...)` came in Python 3.11.4 (Debian 12 ships
3.11.2), so the member checks are made here: every member is a regular file,
a folder or a symbolic link, named by a relative path without `..`, with no
set-id or sticky bits, and no member is written through a link an earlier
member made. Anything else stops the unpacking before a byte is written.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath


class UnsafeArchive(ValueError):
    pass


def _checked(members: list[tarfile.TarInfo]) -> None:
    links: set[PurePosixPath] = set()
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not name.parts:
            raise UnsafeArchive(f"member {member.name!r}: not a relative path inside the archive")
        if not (member.isreg() or member.isdir() or member.issym()):
            raise UnsafeArchive(f"member {member.name!r}: type {member.type!r} is not a file, folder or link")
        if member.mode & 0o7000:
            raise UnsafeArchive(f"member {member.name!r}: mode {member.mode:o} has set-id or sticky bits")
        if any(parent in links for parent in name.parents):
            raise UnsafeArchive(f"member {member.name!r}: lies under a link of the archive")
        if member.issym():
            links.add(name)


def extract(archive: Path, dest: Path) -> None:
    """Unpack `archive` into `dest` after checking every member (UnsafeArchive otherwise)."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        _checked(members)
        # Python 3.14 makes the "data" filter the default, which refuses the
        # absolute links a recorded sysfs may hold; the checks above stand in
        # for a filter, so Pythons that have filters are told to trust the
        # members as they are (an attribute, so 3.11.2 just ignores it).
        trusted = getattr(tarfile, "fully_trusted_filter", None)
        if trusted is not None:
            tar.extraction_filter = trusted
        tar.extractall(dest, members=members)
