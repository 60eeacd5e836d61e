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
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from hwtune.errors import EXIT_OK, EXIT_USAGE, ConfigError, HwtuneError

# Piped output is never cut: a file or a pipe gets lines as long as their content.
PIPED_WIDTH = 10_000

# markup off: what hwtune prints comes from hosts, files and users ("always [madvise] never"),
# and rich would take "[madvise]" for a style and drop it; styles go through Text.
# In a terminal, text wraps at words within its width; piped, a line is as long as its content.
out = Console(highlight=False, soft_wrap=not sys.stdout.isatty(), emoji=False, markup=False,
              width=None if sys.stdout.isatty() else PIPED_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)

# The modules of the bench extra; a command that needs one names the extra instead of a traceback.
BENCH_EXTRA_MODULES = {"onnx", "onnxruntime", "openvino", "numpy", "mlperf_loadgen", "psutil"}
BENCH_EXTRA_HINT = "pip install 'hwtune[bench]'"


def fail(message: str, code: int) -> None:
    err.print(f"hwtune: error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def run_command(fn: Callable[[], int | None]) -> None:
    """Run one command: its HwtuneError, a missing extra or an unreadable file
    becomes one line on stderr and the documented exit code."""
    try:
        code = fn()
    except HwtuneError as exc:
        fail(exc.message, exc.exit_code)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in BENCH_EXTRA_MODULES:
            raise
        fail(f"{exc.name} is not installed; it comes with the bench extra: {BENCH_EXTRA_HINT}", EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise
        fail(f"{exc.filename}: {exc.strerror or exc}", EXIT_USAGE)
    except KeyboardInterrupt:
        err.print("hwtune: interrupted")
        raise typer.Exit(130) from None
    raise typer.Exit(code or EXIT_OK)


def require_extra(what: str, modules: tuple[str, ...] = ("onnx", "onnxruntime", "openvino", "numpy")) -> None:
    """A ConfigError naming the bench extra when a module `what` needs is not installed."""
    from importlib.util import find_spec

    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        raise ConfigError(f"{what} needs {', '.join(missing)}, from the bench extra: {BENCH_EXTRA_HINT}")


def print_json(data: Any) -> None:
    """JSON on stdout, as the --json interfaces promise: indented, keys in their order."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# -- input checks: by type and range, NaN and infinity included ---------------------------------------

def number(option: str, value: float | int | None, *, low: float | None = None, high: float | None = None,
           low_open: bool = False) -> Any:
    """`value` if it is a finite number in [low, high] (low excluded with low_open), else a ConfigError."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{option}: {value!r} is not a finite number")
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"<= {high:g}"
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


def host_at(root: Optional[Path]):
    from hwtune.host import Host

    return Host(root_dir(root) if root is not None else "/")


def load_facts(root: Optional[Path], facts_file: Optional[Path], runtimes: bool = False, host=None):
    """Facts from a saved `hwtune facts --json` file, else probed on the host (or snapshot) given."""
    from hwtune.facts import Facts
    from hwtune.fsroot import read_path

    if facts_file is not None:
        try:
            return Facts.from_json(json.loads(read_path(facts_file).decode("utf-8")))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--facts {facts_file}: {getattr(exc, 'strerror', None) or exc}") from None
        except HwtuneError as exc:
            raise ConfigError(f"--facts {facts_file}: {exc.message}") from None
    from hwtune.probe import probe_facts

    return probe_facts(host or host_at(root), runtimes=runtimes)
