"""The root of the command line: the bare app (options, help, exit codes) and the entry point.

`hwtune.cli` builds the whole app from every command module; this module is
what the console script and `python -m hwtune` start, so that a run of one
known command imports and converts that command's module only.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import select
import sys
from typing import TYPE_CHECKING

import typer

from hwtune import __version__
from hwtune.cli_common import DEBUG, internal_error, out
from hwtune.errors import EXIT_MEANINGS

if TYPE_CHECKING:
    from typer.models import CommandInfo

# The one table of exit codes (hwtune.errors), kept as lines ("\b": click does not rewrap them).
EXIT_CODES_HELP = "\n\b\nExit codes:\n" + "\n".join(f"{code:>3}  {text}" for code, text in EXIT_MEANINGS.items())

# Speed trick 1 of 2 (2 is in `run`). Importing every command module and letting
# typer convert all of them to click costs ~15-20 ms on each start, about a tenth
# of `hwtune check`; a run of one known command imports and converts only its
# module. This map must name exactly what each module registers:
# tests/test_cli.py compares it with the full app, so it cannot drift.
COMMANDS = {
    "check": "cli_check",
    "facts": "cli_facts", "snapshot": "cli_facts", "profiles": "cli_facts",
    "apply": "cli_apply", "rollback": "cli_apply", "history": "cli_apply",
    "bench": "cli_bench",
    "recommend": "cli_recommend",
    "report": "cli_report", "fleet": "cli_report", "diff": "cli_report",
    "watch": "cli_watch",
    "guard": "cli_guard",
}


def version_callback(value: bool) -> None:
    if value:
        out.print(f"hwtune {__version__}", markup=False)
        raise typer.Exit()


def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="On an internal error (exit 70), print its traceback."),
) -> None:
    DEBUG["on"] = debug


def new_app() -> typer.Typer:
    """The root app with its options and no command."""
    root = typer.Typer(
        name="hwtune",
        help="Check, tune, benchmark and size Linux hosts for deep-learning inference.\n" + EXIT_CODES_HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    root.callback()(main_options)
    return root


def _name(info: CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None  # app.command() always sets one
    return typer.main.get_command_name(info.callback.__name__)


def full_app() -> typer.Typer:
    """The root app with every command module registered, in the order --help lists them
    (COMMANDS' order); hwtune.cli holds one built at import for callers that want `app`."""
    whole = new_app()
    for name in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"hwtune.{name}").register(whole)
    return whole


def app_for(args: list[str]) -> typer.Typer:
    """The app to run for these arguments: one known command alone, else the whole app
    (help, completion, --version and anything unknown)."""
    first = next((a for a in args if not a.startswith("-")), None)
    if first not in COMMANDS or "--help" in args[:args.index(first)] or "_HWTUNE_COMPLETE" in os.environ:
        return full_app()
    one = new_app()
    module = importlib.import_module(f"hwtune.{COMMANDS[first]}")
    whole = new_app()
    module.register(whole)
    one.registered_commands = [c for c in whole.registered_commands if _name(c) == first]
    one.registered_groups = [g for g in whole.registered_groups if g.name == first]
    return one


def main() -> None:
    try:
        app_for(sys.argv[1:])()
    except Exception as exc:  # noqa: BLE001 - raised outside a command's run_command: still one line, exit 70
        sys.exit(internal_error(exc))


def run() -> None:
    """The console script and `python -m hwtune`: `main`, in a process that ends when it returns.

    The one place a closed stdout is handled (`hwtune ... | head -1`): the reader has what it
    wanted, so the command ends quietly with exit 0 (a command's own error, exit 2 and up, stays).
    The pipe breaks either inside the command (the CLI library turns that into exit 1) or at
    the final flush; either way stdout is pointed at /dev/null so that Python's own flush at
    exit finds nothing to complain about."""
    code: str | int | None = 0
    # Speed trick 2 of 2. At exit the interpreter runs full garbage collections while it
    # unloads the modules, each walking every object still alive: ~30 ms after a `hwtune
    # check` on a 2-vCPU VM, ~20 ms of it what any typer/rich program pays; ~5 ms once they
    # are frozen. The floor of benchmarks/check_speed.py does not freeze, and this is what
    # keeps `check` within 1.5x of it; the script also times the floor frozen
    # (docs/measured.md has both ratios). Output is written and files closed before this;
    # atexit handlers and the flushing of stdout and stderr still run; objects left in
    # reference cycles are not finalized (hwtune's __del__ methods only close descriptors,
    # which the exit closes anyway). Hence not in `main`, which a caller may go on after.
    # rich's own answer is exit 1; the answer is made here. rich offers no other hook than this method.
    out.on_broken_pipe = _raise_broken_pipe  # type: ignore[method-assign]
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    except BrokenPipeError:
        code = 1
    finally:
        gc.freeze()
    if _stdout_closed():
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = code if isinstance(code, int) and code >= 2 else 0
    sys.exit(code)


def _raise_broken_pipe() -> None:
    raise BrokenPipeError(errno.EPIPE, "stdout closed")


def _stdout_closed() -> bool:
    """True when stdout is a pipe whose reader has gone: what is left cannot be written."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False
