"""Commands hwtune prints for a person to paste ("Undo with: ...", a check's fix): the one
place that spells hwtune as it must be typed, with the options the command needs.

sudo resets PATH to its secure_path, so `sudo hwtune` finds nothing when hwtune lives in a
virtualenv or ~/.local/bin (README.md, "Running as root"): the hint names the program the
way this run was started, `sudo .venv/bin/hwtune ...`, `sudo "$(command -v hwtune)" ...`
or `sudo /path/to/python -m hwtune ...`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

# sudo's default secure_path (Debian, Ubuntu, RHEL): a program there is found under sudo by name
SUDO_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def program(sudo: bool, argv0: str | None = None, executable: str | None = None) -> str:
    """hwtune as this run was started, spelled so that it runs again (under sudo when `sudo`)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    if Path(argv0).name == "__main__.py":  # python -m hwtune: that interpreter has hwtune installed
        return f"{shlex.quote(executable)} -m hwtune"
    if "/" not in argv0:
        return "hwtune"
    if not os.path.isabs(argv0):  # typed as a path, e.g. .venv/bin/hwtune: the same path works again
        return shlex.quote(argv0)
    found = shutil.which(Path(argv0).name)
    if found and os.path.realpath(found) == os.path.realpath(argv0):  # typed by name, found on PATH
        if not sudo or os.path.dirname(found) in SUDO_PATH:
            return "hwtune"
        return '"$(command -v hwtune)"'
    return shlex.quote(argv0)


def needs_sudo(live: bool) -> bool:
    """A change to the live host needs root: sudo, unless this is a root login (not a sudo run)."""
    return live and (os.geteuid() != 0 or "SUDO_USER" in os.environ)


def command(*args: str, root: str | Path | None = None, live: bool = False) -> str:
    """A command line to paste: `[sudo] PROGRAM ARGS [--root ROOT]`, every argument shell-quoted.
    `live`: the command changes this host (apply, rollback without --root)."""
    sudo = needs_sudo(live and root is None)
    words = [program(sudo)] + [shlex.quote(str(a)) for a in args]
    if root is not None:
        words += ["--root", shlex.quote(str(root))]
    return ("sudo " if sudo else "") + " ".join(words)


BARE = re.compile(r"(?<![\w/.\"-])hwtune (?=[a-z])")  # "hwtune bench" in a text, not ".venv/bin/hwtune"


def spell(text: str) -> str:
    """`text` with each bare "hwtune COMMAND" it mentions spelled as this run was started."""
    name = program(sudo=False)
    return text if name == "hwtune" else BARE.sub(lambda _: name + " ", text)
