"""Write a file so that a reader sees the old content or the new, never half of it.

The report outputs go through the one atomic writer (hwtune.atomic): a
temporary `.NAME.XXXXXXXX.hwtune-tmp` created O_EXCL|O_NOFOLLOW in the held
folder, fsynced, renamed over NAME, the folder fsynced.
"""

from __future__ import annotations

import os
from pathlib import Path

from hwtune import atomic
from hwtune.errors import HwtuneError


def write_atomic(path: str | os.PathLike[str], text: str, mode: int = 0o644) -> Path:
    """Write `text` to `path` atomically.

    node_exporter's textfile collector reads every `*.prom` file whenever it is
    scraped; the temporary name does not end in `.prom`, so a half-written file
    is never read, and the rename is atomic because it stays in the same folder.
    The mode is set explicitly: the collector usually runs as another user.
    """
    target = Path(path)
    try:
        return atomic.write_file(target, text, mode)
    except OSError as exc:
        raise HwtuneError(f"cannot write {target}: {exc.strerror or exc}") from None
