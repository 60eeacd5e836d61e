"""Hostile and broken image files the pipeline tests make: nothing is read from outside the repository."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring width x height RGB pixels, with a tiny IDAT: a decompression bomb's shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def small_jpeg(width: int = 160, height: int = 120) -> bytes:
    from hwtune.bench.pipeline.images import encode, photo_like

    return encode(photo_like(width, height), "jpeg")


def hostile_folder(folder: Path) -> dict[str, str]:
    """A folder with one good image of each format and one file of each bad kind; name -> what it is."""
    from hwtune.bench.pipeline.images import encode, photo_like

    folder.mkdir(parents=True, exist_ok=True)
    px = photo_like(160, 120)
    good = {"good.jpg": encode(px, "jpeg"), "good.png": encode(px, "png"), "good.webp": encode(px, "webp")}
    for name, data in good.items():
        (folder / name).write_bytes(data)
    jpeg = good["good.jpg"]
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "bomb.png").write_bytes(png_bomb())
    (folder / "notes.txt").write_bytes(b"not an image at all\n")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "link.jpg").symlink_to(folder / "good.jpg")
    (folder / "sub").mkdir()
    return {"truncated.jpg": "truncated", "bomb.png": "bomb", "notes.txt": "not an image", "empty.jpg": "empty",
            "link.jpg": "symlink", "sub": "folder"}
