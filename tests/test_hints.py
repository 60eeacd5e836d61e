"""Commands hwtune prints for a person to paste work when pasted: the program as this run was
started, sudo where the host changes, and the --root the run was given."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import snapshot
from hwtune import hints
from terminal_helpers import env_for

SCRIPT = Path(sys.executable).parent / "hwtune"  # the console script of this environment


def shell(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """A printed command run as pasted into a shell."""
    return subprocess.run(["bash", "-c", line], cwd=cwd, env=env_for(), capture_output=True, text=True, timeout=300)


def copy_of(tmp_path: Path, name: str = "laptop-i7-1370p-powersave") -> Path:
    shutil.copytree(snapshot(name), tmp_path / "copy", symlinks=True)
    return tmp_path / "copy"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and "var/lib/hwtune" not in str(p)}


@pytest.mark.parametrize("started", ["module", "script"])
def test_undo_hint_after_apply_to_a_copy_undoes_it_when_pasted(tmp_path, started):
    if started == "script" and not SCRIPT.is_file():
        pytest.skip(f"no console script at {SCRIPT} (hwtune not installed in this environment)")
    copy = copy_of(tmp_path)
    before = tree(copy)
    program = [sys.executable, "-m", "hwtune"] if started == "module" else [os.path.relpath(SCRIPT, tmp_path)]
    res = subprocess.run([*program, "apply", "-p", "cpu-inference", "--root", "copy", "--yes"], cwd=tmp_path,
                         env=env_for(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert tree(copy) != before
    [undo] = re.findall(r"^Undo with: (.+)$", res.stdout, re.M)
    assert undo.endswith(" --root copy") and "rollback" in undo
    assert undo.startswith(hints.program(False, program[-1] if started == "script" else "x/__main__.py"))
    pasted = shell(undo, tmp_path)
    assert pasted.returncode == 0 and "Rolled back" in pasted.stdout, pasted.stderr
    assert tree(copy) == before  # byte for byte as it was
    assert not (Path("/var/lib/hwtune/journal").exists() and any(
        p.name in undo for p in Path("/var/lib/hwtune/journal").iterdir()))


def test_check_fix_line_applies_the_profile_to_the_same_root_when_pasted(tmp_path):
    copy = copy_of(tmp_path)
    res = subprocess.run([sys.executable, "-m", "hwtune", "check", "--root", "copy", "-p", "cpu-inference"],
                         cwd=tmp_path, env=env_for(), capture_output=True, text=True, timeout=300)
    fixes = re.findall(r"^  fix: (\S.*? apply --profile cpu-inference --root copy)\b", res.stdout, re.M)
    assert fixes, res.stdout
    assert all(f.startswith(shlex_quote(sys.executable) + " -m hwtune ") for f in fixes)
    pasted = shell(fixes[0] + " --yes", tmp_path)
    assert pasted.returncode == 0 and "Applied" in pasted.stdout, pasted.stderr
    again = subprocess.run([sys.executable, "-m", "hwtune", "check", "--root", "copy", "-p", "cpu-inference"],
                           cwd=tmp_path, env=env_for(), capture_output=True, text=True, timeout=300)
    assert "cpu.governor" not in "".join(re.findall(r"^FAIL .*$", again.stdout, re.M))
    assert copy.is_dir()


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.mark.parametrize("argv0, on_path, sudo, expected", [
    (".venv/bin/hwtune", None, True, ".venv/bin/hwtune"),  # typed as a path: the same path again
    ("/srv/venv/bin/hwtune", None, True, "/srv/venv/bin/hwtune"),  # absolute, not on PATH
    # sudo's PATH lacks it
    ("/home/ann/.local/bin/hwtune", "/home/ann/.local/bin/hwtune", True, '"$(command -v hwtune)"'),
    ("/home/ann/.local/bin/hwtune", "/home/ann/.local/bin/hwtune", False, "hwtune"),  # no sudo: found by name
    ("/usr/local/bin/hwtune", "/usr/local/bin/hwtune", True, "hwtune"),  # in sudo's secure_path
    ("/x/lib/python3.11/site-packages/hwtune/__main__.py", None, True, "/opt/py/bin/python3 -m hwtune"),
    ("/x/My Tools/hwtune", None, False, "'/x/My Tools/hwtune'"),
])
def test_program_is_spelled_as_it_was_started(monkeypatch, argv0, on_path, sudo, expected):
    monkeypatch.setattr(hints.shutil, "which", lambda name: on_path)
    monkeypatch.setattr(hints.os.path, "realpath", lambda p: p)
    assert hints.program(sudo, argv0, "/opt/py/bin/python3") == expected


def test_sudo_only_where_the_live_host_changes(monkeypatch):
    monkeypatch.setattr(hints.sys, "argv", [".venv/bin/hwtune"])
    monkeypatch.setattr(hints.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("SUDO_USER", raising=False)
    assert hints.command("rollback", "20261207-1", live=True) == "sudo .venv/bin/hwtune rollback 20261207-1"
    assert hints.command("rollback", "20261207-1", root="my copy", live=True) == \
        ".venv/bin/hwtune rollback 20261207-1 --root 'my copy'"
    monkeypatch.setattr(hints.os, "geteuid", lambda: 0)
    assert hints.command("apply", "--profile", "p.toml", live=True) == ".venv/bin/hwtune apply --profile p.toml"
    monkeypatch.setenv("SUDO_USER", "ann")  # started with sudo: the person pastes with sudo again
    assert hints.command("apply", "--profile", "p.toml", live=True).startswith("sudo .venv/bin/hwtune ")
