"""The hwtune command line: the root app, with every command module registered.

Each command lives in a cli_<area> module that imports the shared CLI layer
(hwtune.cli_common) and offers register(app); this module imports them all
plainly and registers them in the order --help lists them.
"""

from __future__ import annotations

import os
import sys

import typer

from hwtune import __version__, cli_apply, cli_bench, cli_check, cli_facts, cli_recommend, cli_report, cli_watch
from hwtune.cli_common import out

EXIT_CODES_HELP = """
Exit codes: 0 no FAIL or ERROR; 1 a check FAILed or ERRORed (--fail-on warn: WARN too);
2 usage or configuration error (unknown profile, malformed profile, check or input file);
3 needs root; 4 apply failed and was undone; 5 apply failed and an undo failed too.
"""

COMMAND_MODULES = (cli_check, cli_facts, cli_apply, cli_bench, cli_recommend, cli_report, cli_watch)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"hwtune {__version__}", markup=False)
        raise typer.Exit()


def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


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


app = new_app()
for _module in COMMAND_MODULES:
    _module.register(app)


def _name(info) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def app_for(args: list[str]) -> typer.Typer:
    """The app to run for these arguments.

    typer turns every registered command into a click command on each start
    (~16 ms for all of them, a tenth of `hwtune check`), so a run of one known
    command gets an app holding that command only; help, completion and
    anything unknown get the whole app.
    """
    first = next((a for a in args if not a.startswith("-")), None)
    if first is None or "--help" in args[:args.index(first)] or "_HWTUNE_COMPLETE" in os.environ:
        return app
    commands = [c for c in app.registered_commands if _name(c) == first]
    groups = [g for g in app.registered_groups if g.name == first]
    if not commands and not groups:
        return app
    one = new_app()
    one.registered_commands, one.registered_groups = commands, groups
    return one


def main() -> None:
    app_for(sys.argv[1:])()
