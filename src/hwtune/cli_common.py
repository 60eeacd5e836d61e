"""The one CLI layer every command module imports: consoles, JSON output, the
error boundary, input checks and facts loading.

A command builds its options, calls one core function inside `run_command`,
and renders the result with `out`. `run_command` is the one place where an
error becomes a one-line message and an exit code. This module imports no
command module, so the commands import it plainly and hwtune.cli imports them.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hwtune.console import InertConsole
from hwtune.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, ConfigError, HwtuneError

if TYPE_CHECKING:  # imported where used: `hwtune --help` starts without them
    from hwtune.facts import Facts
    from hwtune.host import Host

# Piped output is never cut: a file or a pipe gets lines as long as their content.
PIPED_WIDTH = 10_000

# markup off: what hwtune prints comes from hosts, files and users ("always [madvise] never"),
# and rich would take "[madvise]" for a style and drop it; styles go through Text. Inert: a
# control character or escape sequence in any of it is shown, never sent (hwtune.console).
# In a terminal, text wraps at words within its width; piped, a line is as long as its content.
out = InertConsole(highlight=False, soft_wrap=not sys.stdout.isatty(), emoji=False, markup=False,
                   width=None if sys.stdout.isatty() else PIPED_WIDTH)
err = InertConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)
# `hwtune --debug`: an internal error prints its traceback too
DEBUG = {"on": False}

# The modules of the bench extra; a command that needs one names the extra instead of a traceback.
BENCH_EXTRA_MODULES = {"onnx", "onnxruntime", "openvino", "numpy", "mlperf_loadgen", "psutil"}
BENCH_EXTRA_HINT = "pip install 'hwtune[bench]'"


def fail(message: str, code: int) -> None:
    err.print(f"hwtune: error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def internal_error(exc: BaseException) -> int:
    """One line for an error hwtune did not foresee: what it was, where, and that it is a bug
    (the traceback too under --debug). Returns the exit code, 70."""
    import traceback

    if DEBUG["on"]:
        traceback.print_exception(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/hwtune/" in f.filename.replace("\\", "/")] or frames
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    what = " ".join(str(exc).split())
    what = what[:160] + "..." if len(what) > 160 else what
    hint = "" if DEBUG["on"] else " (hwtune --debug COMMAND shows the traceback)"
    err.print(f"hwtune: internal error: {type(exc).__name__}{': ' + what if what else ''}{where}; "
              f"this is a bug{hint}", markup=False, highlight=False)
    return EXIT_INTERNAL


def run_command(fn: Callable[[], int | None]) -> None:
    """Run one command: its HwtuneError, a missing extra or an unreadable file
    becomes one line on stderr and the documented exit code; anything else is an
    internal error (exit 70)."""
    try:
        code = fn()
    except (typer.Exit, typer.Abort, typer.exceptions.TyperException, BrokenPipeError):
        raise  # a closed stdout is no error: cli_root.run ends the command quietly
    except HwtuneError as exc:
        fail(exc.message, exc.exit_code)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in BENCH_EXTRA_MODULES:
            raise typer.Exit(internal_error(exc)) from None
        fail(f"{exc.name} is not installed; it comes with the bench extra: {BENCH_EXTRA_HINT}", EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise typer.Exit(internal_error(exc)) from None
        fail(f"{exc.filename}: {exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        err.print("hwtune: interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:  # noqa: BLE001 - the one boundary: a bug is one line and exit 70, not a traceback
        raise typer.Exit(internal_error(exc)) from None
    raise typer.Exit(code or EXIT_OK)


def require_extra(what: str, modules: tuple[str, ...] = ("onnx", "onnxruntime", "openvino", "numpy")) -> None:
    """A ConfigError naming the bench extra when a module `what` needs is not installed."""
    from importlib.util import find_spec

    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise ConfigError(f"{what} needs {', '.join(missing)}, from the bench extra: {BENCH_EXTRA_HINT}")


def json_text(data: Any) -> str:
    """JSON as the --json interfaces give it: indented, keys in their order."""
    return json.dumps(data, indent=2, default=str) + "\n"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data))


def print_json_line(data: Any) -> None:
    """One JSON document on one line, flushed: what a following command (watch, guard) streams."""
    sys.stdout.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


# -- input checks: by type and range, NaN and infinity included ---------------------------------------

# No option of hwtune means more than this (a trillion USD, samples/s, ms; 30,000 years in seconds);
# past it, the arithmetic on it overflows (`recommend --budget 1e308` did).
MAX_NUMBER = 1e12


def number(option: str, value: float | int | None, *, low: float | None = None, high: float = MAX_NUMBER,
           low_open: bool = False) -> Any:
    """`value` if it is a finite number in [low, high] (low excluded with low_open), else a ConfigError."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{option}: {value!r} is not a finite number")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or value > high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = f"<= {high:g}"
        raise ConfigError(f"{option}: {value:g} is out of range (must be {' and '.join(x for x in (lo, hi) if x)})")
    return value


def choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{option}: {value!r} is not one of {', '.join(allowed)}")
    return value


# -- where the facts come from: this machine, a snapshot (--root) or a saved file (--facts) ------------

ROOT_OPT = typer.Option(None, "--root", help="Read a recorded snapshot (or a mounted image) instead of this machine.",
                        file_okay=False)


def root_dir(root: Path, option: str = "--root") -> Path:
    """A folder the user can enter and list, or a ConfigError naming it."""
    try:
        if not root.is_dir():
            raise ConfigError(f"{option} {root}: not a folder")
        next(iter(root.iterdir()), None)
    except PermissionError:
        raise ConfigError(f"{option} {root}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"{option} {root}: {exc.strerror or exc}") from None
    return root


# what a snapshot (or a tree copied from a host) holds at least one of; a folder with none of
# them is refused as `diff` does, rather than judged as a host where nothing could be read
SNAPSHOT_CONTENTS = ("proc", "sys", "etc", "cmd", "var/log", "observed", "hwtune-snapshot.json")


def host_at(root: Path | None) -> Host:
    from hwtune.host import Host

    if root is None:
        return Host("/")
    root = root_dir(root)
    if os.path.realpath(root) != "/" and not any(os.path.lexists(root / name) for name in SNAPSHOT_CONTENTS):
        raise ConfigError(f"--root {root}: not a snapshot: it holds none of proc/, sys/, etc/, cmd/, var/log/, "
                          "observed/ or hwtune-snapshot.json")
    return Host(root)


def load_facts(root: Path | None, facts_file: Path | None, runtimes: bool = False,
               host: Host | None = None) -> Facts:
    """Facts from a saved `hwtune facts --json` file, else probed on the host (or snapshot) given."""
    from hwtune.facts import Facts
    from hwtune.files import read_json_file

    if facts_file is not None:
        try:
            doc = read_json_file(facts_file)  # its errors name the file
        except HwtuneError as exc:
            raise ConfigError(f"--facts {exc.message}") from None
        try:
            return Facts.from_json(doc)
        except HwtuneError as exc:
            raise ConfigError(f"--facts {facts_file}: {exc.message}") from None
    from hwtune.probe import probe_facts

    return probe_facts(host or host_at(root), runtimes=runtimes)


def print_health_history(node: str | None, json_out: bool) -> int:
    """`hwtune guard history` and `hwtune history --health`: events per GPU, verdicts, actions."""
    from hwtune.guard.render import health_history, render_history
    from hwtune.guard.store import Store, state_dir

    with Store(state_dir(None)) as store:
        doc = health_history(store, node)
    if json_out:
        print_json(doc)
    else:
        for line in render_history(doc):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK
