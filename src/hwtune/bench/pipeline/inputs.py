"""The user's own images (`--images DIR`): read under caps, checked, the bad ones skipped and counted.

The folder may hold anything (hwtune runs as root where others log in), so:
only regular files directly inside it, opened without following a symlink
and without waiting on a FIFO; at most MAX_FILES entries looked at and
MAX_FILE_BYTES read from each; the format is told by the file's first bytes,
not its name; the header's pixel count is checked against MAX_PIXELS before
anything decodes (a PNG can declare 100k x 100k pixels in 100 bytes); and
every kept file decodes once, whole, with Pillow (a truncated JPEG is
refused here, not in the timed loop). Each refusal is one line in the result.
"""

from __future__ import annotations

import errno
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hwtune import fsroot
from hwtune.bench.pipeline.images import EncodedImage
from hwtune.errors import ConfigError
from hwtune.text import printable

MAX_FILES = 10_000  # directory entries looked at
MAX_IMAGES = 1_000  # images kept
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_PIXELS = 64_000_000  # 8K x 8K; the largest built-in is 3840x2160 (8.3 MP)
MAX_REASONS = 20  # refusals listed by name; the rest are counted


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


@dataclass(frozen=True)
class ImageSet:
    images: tuple[EncodedImage, ...]
    refused: tuple[Refused, ...] = ()
    refused_count: int = 0  # all refusals, also those past MAX_REASONS
    notes: tuple[str, ...] = field(default=())

    def refused_by_reason(self) -> dict[str, int]:
        return dict(Counter(_reason_kind(r.reason) for r in self.refused))


def sniff(head: bytes) -> str | None:
    """The format the first bytes say, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def check_image(name: str, data: bytes) -> EncodedImage:
    """The image, or ValueError with the reason it is refused."""
    fmt = sniff(data[:16])
    if fmt is None:
        raise ValueError("not a JPEG, PNG or WebP file")
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Pillow warns of 89-179 MP and raises past that; the cap below is lower and says so in one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[fmt.upper()])
        with img:
            width, height = img.size  # the header only: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise ValueError(f"declares {width}x{height} pixels, over the {MAX_PIXELS // 1_000_000} MP cap")
            img.load()  # a truncated or corrupt body fails here, once, before anything is timed
    except ValueError:
        raise
    except Image.DecompressionBombError as exc:
        raise ValueError(f"refused by Pillow as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, EOFError) as exc:  # Pillow's ways of saying "cannot decode"
        raise ValueError(f"truncated or corrupt {fmt.upper()}: {_first_line(exc)}") from None
    return EncodedImage(name, fmt, width, height, data)


def read_images(folder: Path) -> ImageSet:
    """The images directly inside `folder`; raises ConfigError when none is usable."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise ConfigError(f"--images {folder}: cannot list it: {fsroot.reason(exc)}") from None
    notes = []
    if len(names) > MAX_FILES:
        notes.append(f"{len(names)} entries in {folder}; the first {MAX_FILES} (by name) looked at")
        names = names[:MAX_FILES]
    kept: list[EncodedImage] = []
    refused: list[Refused] = []
    total = 0
    for name in names:
        if len(kept) >= MAX_IMAGES:
            notes.append(f"the first {MAX_IMAGES} images kept; the rest not read")
            break
        shown = printable(name)
        try:
            data = _read(folder / name)
            img = check_image(shown, data)
        except (OSError, ValueError) as exc:
            refused.append(Refused(shown, fsroot.reason(exc) if isinstance(exc, OSError) else str(exc)))
            continue
        total += len(img.data)
        if total > MAX_TOTAL_BYTES:
            notes.append(f"the images past {MAX_TOTAL_BYTES // 2 ** 20} MiB in all not read")
            break
        kept.append(img)
    if not kept:
        why = f"; refused: {refused[0].name}: {refused[0].reason}" if refused else ""
        raise ConfigError(f"--images {folder}: no JPEG, PNG or WebP image to use ({len(names)} entries{why})")
    return ImageSet(tuple(kept), tuple(refused[:MAX_REASONS]), len(refused), tuple(notes))


def _read(path: Path) -> bytes:
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(path, flags)
    try:
        fsroot.check_regular(os.fstat(fd), str(path))
        data, more = fsroot.read_capped(fd, MAX_FILE_BYTES)
    finally:
        os.close(fd)
    if more:
        raise OSError(errno.EFBIG, f"larger than {MAX_FILE_BYTES // 2 ** 20} MiB: not read", str(path))
    return data


def _reason_kind(reason: str) -> str:
    """A refusal's reason without the file's own numbers, for counting alike ones together."""
    return reason.split(":")[0].split(" declares ")[0] if not reason.startswith("declares") else "too many pixels"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
