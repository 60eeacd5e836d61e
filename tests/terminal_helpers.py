"""Run hwtune as a person does: in a terminal of a given width (a pseudo-terminal), or piped.

`python tests/terminal_helpers.py 80 recommend --budget 10000` prints what an 80-column
terminal shows, without colours.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def env_for(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE",
                                                             "NO_COLOR")}
    env.update(PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", TERM="xterm-256color")
    env.update(extra or {})
    return env


def in_terminal(args: list[str], columns: int, env: dict[str, str] | None = None, timeout_s: float = 300,
                cwd: Path | None = None) -> tuple[int, str]:
    """(exit code, screen text without colours) of `hwtune ARGS` with stdout and stderr on a
    pseudo-terminal `columns` wide; stdin is not a terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "hwtune", *args], stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=slave, env=env_for(env), cwd=cwd, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, ANSI.sub("", text)


if __name__ == "__main__":
    rc, screen = in_terminal(sys.argv[2:], int(sys.argv[1]))
    sys.stdout.write(screen)
    sys.exit(rc)
