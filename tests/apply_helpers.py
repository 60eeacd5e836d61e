"""Helpers for the apply/rollback tests: snapshot copies, tree fingerprints, running the CLI."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import snapshot
from hwtune.cli import app

# hwtune's own state (journal, lock) stays after a rollback: it is the history.
STATE = "var/lib/hwtune"
NOBODY = 65534  # the unprivileged user the security tests act as
REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A folder in RAM (/dev/shm) when there is one: the snapshot copies (58 MB for the EPYC) and
    the journal's fsyncs then cost no disk time. Nothing in the tests depends on where it is."""
    base = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="hwtune-apply-test-",
                                   dir=base if base.is_dir() and os.access(base, os.W_OK) else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def scratch() -> Iterator[Path]:
    with scratch_dir() as folder:
        yield folder


@pytest.fixture(scope="module")
def module_scratch() -> Iterator[Path]:
    with scratch_dir() as folder:
        yield folder


def copy_snapshot(name: str, dst: Path) -> Path:
    """A writable copy of a real snapshot; its symlinks are copied as links, never followed."""
    shutil.copytree(snapshot(name), dst, symlinks=True)
    for folder, dirs, files in os.walk(dst):
        for entry in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            st = os.lstat(entry)
            if not stat.S_ISLNK(st.st_mode):
                # the recorded files are read-only; a non-root test run needs to write the copy
                os.chmod(entry, st.st_mode | stat.S_IWUSR)
    return dst


def tree_state(root: Path, *, keep_state: bool = False) -> dict[str, Any]:
    """Every entry under root: files by content hash, links by target, folders by name.

    Unless keep_state, hwtune's own state folder (var/lib/hwtune, and var, var/lib
    above it) is left out: the journal remains after rollback on purpose.
    """
    out: dict[str, Any] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if not keep_state and (rel in ("var", "var/lib") or rel == STATE or rel.startswith(STATE + "/")):
                continue
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", hashlib.sha256(Path(path).read_bytes()).hexdigest())
    return out


def journals(root: Path) -> list[Path]:
    folder = root / STATE / "journal"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


_runner = CliRunner()


def invoke(*args: str):
    """The CLI in-process, without a terminal (as in a script)."""
    return _runner.invoke(app, list(args), catch_exceptions=False)


def hwtune_argv() -> list[str]:
    """The installed `hwtune` script beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "hwtune"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "hwtune"]


def run_hwtune(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(hwtune_argv() + list(args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def add_kernel_files(root: Path, files: dict[str, str]) -> None:
    """Add kernel files a snapshot lacks (the real snapshots have no /proc/sys and no THP files)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_profile(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def start_paused_apply(root: Path, marker: Path, pause_env: dict[str, str], *args: str,
                       profile: str = "gpu-inference") -> subprocess.Popen:
    """A real `hwtune apply` on root, stopped at a test-only pause point (pause_env names it); returns
    once the apply announced the pause by creating marker, so the test can kill it there."""
    env = {**os.environ, **pause_env, "HWTUNE_TEST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen(hwtune_argv() + ["apply", "-p", profile, "--root", str(root), "--yes", *args],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"apply ended before the pause point: {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("apply did not reach the pause point within 60 s")
        time.sleep(0.02)
    return proc
