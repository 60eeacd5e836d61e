"""Piped, every command of the CLI's registry: a reader that stops after one line (`| head -1`)
ends it quietly, with its own exit code or 0, never an error; that line is the title or the
header; and nothing piped is drawn with box characters."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from terminal_commands import NO_TABLE, RUNS, command_paths, make_world, runs_for
from terminal_helpers import env_for

ASCII_RULE = re.compile(r"^\s*[+|][-=+| ]*[+|]\s*$|^\s*\|.*\|\s*$", re.M)  # rich's ASCII box, line or row
PATHS = [p for p in command_paths() if p not in NO_TABLE or p in RUNS]  # a file writer without a run: see NO_TABLE


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


def hwtune(args: tuple[str, ...], stdout, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hwtune", *args], stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.PIPE, env=env_for(env))


def _runs(path, world):
    return [r for r in runs_for(path, world) if not r.slow] or runs_for(path, world)[:1]


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_head_1_gets_the_title_or_header_and_ends_it_quietly(path, world, tmp_path):
    env = {"HWTUNE_DATA_DIR": str(tmp_path / "data")}
    for n in range(min(2, len(_runs(path, world)))):
        run = _runs(path, world)[n]  # each its own fresh copy where it changes one
        whole = subprocess.run([sys.executable, "-m", "hwtune", *run.args], capture_output=True, text=True,
                               env=env_for({**env, **dict(run.env)}), timeout=600, stdin=subprocess.DEVNULL)
        assert whole.returncode in (0, 1) and whole.stdout, (run.args, whole.stderr)
        boxed = [c for c in whole.stdout if 0x2500 <= ord(c) <= 0x257F] or ASCII_RULE.findall(whole.stdout)
        assert not boxed, (run.args, "piped: plain columns, no box characters", boxed[:5])
        # the reader takes one line and goes away while hwtune may still be writing
        run = _runs(path, world)[n]
        proc = hwtune(run.args, subprocess.PIPE, {**env, **dict(run.env)})
        first = proc.stdout.readline().decode()
        proc.stdout.close()
        _, stderr = proc.communicate(timeout=600)
        assert first.startswith(run.first), (run.args, first)
        assert stderr == b"", (run.args, stderr.decode())
        assert proc.returncode in (0, whole.returncode), run.args


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_stdout_closed_before_the_first_write_is_no_error(path, world, tmp_path):
    """The same, made certain: the reader is gone before hwtune writes anything."""
    for run in _runs(path, world)[:1]:
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = hwtune(run.args, write_end, {"HWTUNE_DATA_DIR": str(tmp_path / "data"), **dict(run.env)})
        finally:
            os.close(write_end)
        _, stderr = proc.communicate(timeout=600)
        assert stderr == b"", (run.args, stderr.decode())
        assert proc.returncode == 0, run.args


def test_every_command_is_covered():
    assert set(PATHS) <= set(RUNS)
