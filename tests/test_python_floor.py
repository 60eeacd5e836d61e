"""Nothing in the project needs a Python newer than the lowest pyproject admits.

vermin (run by .ci/run) knows which minor version brought each standard-library
name; it does not know the keyword arguments that arrived in point releases of
3.11, the distribution's Python (Debian 12 ships 3.11.2). Those are listed here.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# (method name, keyword): arrived after 3.11.0 in a 3.11 point release
POINT_RELEASE_KEYWORDS = {
    ("extractall", "filter"): "3.11.4",
    ("extract", "filter"): "3.11.4",
}


def _sources() -> list[Path]:
    return sorted(p for top in ("src", "tests", "benchmarks") for p in (REPO / top).rglob("*.py"))


def test_requires_python_is_the_floor_these_checks_assume():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert meta["project"]["requires-python"] == ">=3.11"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_keyword_from_a_later_point_release(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            for kw in node.keywords:
                since = POINT_RELEASE_KEYWORDS.get((node.func.attr, kw.arg))
                if since:
                    found.append(f"line {node.lineno}: {node.func.attr}({kw.arg}=...) needs Python {since}")
    assert not found, found


def _tar_with(tmp_path: Path, add) -> Path:
    import io
    import tarfile

    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        add(tar, tarfile, io)
    return archive


def _file(tar, tarfile, io, name, data=b"x", mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("case", ["dotdot", "absolute", "device", "setuid", "through_link", "hardlink"])
def test_safe_extraction_refuses_what_would_leave_the_folder(tmp_path, case):
    import safetar

    def add(tar, tarfile, io):
        if case == "dotdot":
            _file(tar, tarfile, io, "a/../../escape")
        elif case == "absolute":
            _file(tar, tarfile, io, "/tmp/escape")
        elif case == "device":
            info = tarfile.TarInfo("dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
        elif case == "setuid":
            _file(tar, tarfile, io, "tool", mode=0o4755)
        elif case == "through_link":
            link = tarfile.TarInfo("out")
            link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "victim")
            tar.addfile(link)
            _file(tar, tarfile, io, "out/planted")
        elif case == "hardlink":
            link = tarfile.TarInfo("shadow")
            link.type, link.linkname = tarfile.LNKTYPE, "/etc/shadow"
            tar.addfile(link)

    archive = _tar_with(tmp_path, add)
    dest = tmp_path / "dest"
    dest.mkdir()
    (tmp_path / "victim").mkdir()
    with pytest.raises(safetar.UnsafeArchive):
        safetar.extract(archive, dest)
    assert list(dest.iterdir()) == [] and list((tmp_path / "victim").iterdir()) == []


def test_safe_extraction_keeps_files_folders_and_links(tmp_path):
    import safetar

    def add(tar, tarfile, io):
        _file(tar, tarfile, io, "root/proc/cpuinfo", b"processor : 0\n")
        link = tarfile.TarInfo("root/sys/dangling")
        link.type, link.linkname = tarfile.SYMTYPE, "../nowhere"
        tar.addfile(link)

    archive = _tar_with(tmp_path, add)
    safetar.extract(archive, tmp_path)
    assert (tmp_path / "root/proc/cpuinfo").read_bytes() == b"processor : 0\n"
    assert (tmp_path / "root/sys/dangling").is_symlink()
