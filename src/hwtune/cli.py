"""The hwtune command line. Thin: build options, call one core function,
render, and turn the one domain exception into an exit code, here only."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from hwtune import __version__
from hwtune.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, HwtuneError

EXIT_CODES_HELP = """
Exit codes: 0 no FAIL or ERROR; 1 a check FAILed or ERRORed (--fail-on warn: WARN too);
2 usage or configuration error (unknown profile, malformed profile, check or input file);
3 needs root; 4 apply failed and was undone; 5 apply failed and an undo failed too.
"""

_app = typer.Typer(
    name="hwtune",
    help="Check, tune, benchmark and size Linux hosts for deep-learning inference.\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# markup off: what hwtune prints comes from hosts, files and users ("always [madvise] never"),
# and rich would take "[madvise]" for a style and drop it; styles go through Text.
out = Console(highlight=False, soft_wrap=True, emoji=False, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False, markup=False)


class FailOn(str, Enum):
    fail = "fail"
    warn = "warn"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    prometheus = "prometheus"


def run_command(fn: Callable[[], int | None]) -> None:
    """The one place a HwtuneError becomes a one-line message and an exit code."""
    try:
        code = fn()
    except HwtuneError as exc:
        err.print(f"hwtune: error: {exc.message}", markup=False, highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("hwtune: interrupted")
        raise typer.Exit(130) from None
    raise typer.Exit(code or EXIT_OK)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _host(root: Optional[Path]):
    from hwtune.host import Host

    if root is not None and not root.is_dir():
        raise HwtuneError(f"--root {root}: not a folder", EXIT_USAGE)
    return Host(root or "/")


def _facts(root: Optional[Path], facts_file: Optional[Path], runtimes: bool = False, host=None):
    from hwtune.facts import Facts
    from hwtune.probe import probe_facts

    if facts_file is not None:
        try:
            return Facts.from_json(json.loads(facts_file.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise HwtuneError(f"--facts {facts_file}: {exc}", EXIT_USAGE) from None
        except HwtuneError as exc:
            raise HwtuneError(f"--facts {facts_file}: {exc.message}", EXIT_USAGE) from None
    return probe_facts(host or _host(root), runtimes=runtimes)


ROOT_OPT = typer.Option(None, "--root", help="Read a recorded snapshot (or a mounted image) instead of this machine.",
                        file_okay=False)


@_app.command()
def check(
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile name or .toml path "
                                          "(default: gpu-inference if an NVIDIA GPU or driver is present, "
                                          "else cpu-inference)."),
    root: Optional[Path] = ROOT_OPT,
    facts_file: Optional[Path] = typer.Option(None, "--facts", help="Judge facts saved by `hwtune facts --json`."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON (same as --format json)."),
    fmt: CheckFormat = typer.Option(CheckFormat.table, "--format", help="table, json, junit or prometheus."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write json, junit or prometheus to this file "
                                          "(replaced atomically) instead of stdout."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Add each check's rationale and source."),
    fail_on: FailOn = typer.Option(FailOn.fail, "--fail-on", help="Exit 1 on FAIL/ERROR (fail) or also on WARN."),
) -> None:
    """Probe the host and judge it against a profile: expected vs observed, and the fix.

    Examples:  hwtune check;  hwtune check --profile gpu-inference --json;  hwtune check --root host-snap/;
    hwtune check --format prometheus --output /var/lib/node_exporter/textfile_collector/hwtune.prom
    """

    def go() -> int:
        host = None
        if facts_file is None:  # slow probe commands run while the modules below load
            from hwtune.probe import start_probes

            host = start_probes(_host(root))
        from hwtune import profile as profiles
        from hwtune.verdict import choose_profile, evaluate

        facts = _facts(root, facts_file, host=host)
        report = evaluate(facts, profiles.load(profile or choose_profile(facts)))
        if output is not None or fmt in (CheckFormat.junit, CheckFormat.prometheus):
            from hwtune.report.formats import write_check

            write_check("json" if json_out else fmt.value, report.to_json(), facts.to_json(), root, output)
        elif json_out or fmt is CheckFormat.json:
            print_json(report.to_json())
        else:
            from hwtune.render import render_report

            render_report(out, report, verbose=verbose, host_label=str(root) if root else "", facts=facts)
        failing = {"fail", "error"} | ({"warn"} if fail_on is FailOn.warn else set())
        return EXIT_FINDINGS if report.status in failing else EXIT_OK

    run_command(go)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"hwtune {__version__}", markup=False)
        raise typer.Exit()


@_app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    pass


# The commands other than `check` and the module that registers each, in the
# order --help lists them. typer turns every registered command into a click
# command on each start (~12 ms for all of them, a tenth of `hwtune check`),
# so `main` registers only the one invoked.
COMMAND_MODULES = {"facts": "cli_facts", "snapshot": "cli_facts", "profiles": "cli_facts",
                   "apply": "cli_apply", "rollback": "cli_apply", "history": "cli_apply",
                   "bench": "cli_bench", "recommend": "cli_recommend",
                   "report": "cli_report", "diff": "cli_report", "fleet": "cli_report",
                   "watch": "cli_watch"}
CORE_COMMANDS = {"check"}
_registered: set[str] = set()


def register_commands(modules: set[str] | None = None) -> typer.Typer:
    """Register the commands of these modules (all of them by default) and return the app."""
    import importlib

    wanted = set(COMMAND_MODULES.values()) if modules is None else modules
    for name in dict.fromkeys(m for m in COMMAND_MODULES.values() if m in wanted):
        if name not in _registered:
            importlib.import_module(f"hwtune.{name}").register(_app)
            _registered.add(name)
    return _app


def modules_for(args: list[str]) -> set[str] | None:
    """The command modules an invocation needs: none for a core command, one for
    another known command, all (None) for help, completion or anything unknown."""
    first = next((a for a in args if not a.startswith("-")), None)
    if first in CORE_COMMANDS or (first is None and "--version" in args and "--help" not in args):
        return set()
    if first in COMMAND_MODULES:
        return {COMMAND_MODULES[first]}
    return None


def __getattr__(name: str) -> Any:
    # `from hwtune.cli import app` (tests, embedding) gets the app with every command.
    if name == "app":
        return register_commands()
    raise AttributeError(name)


def main() -> None:
    register_commands(modules_for(sys.argv[1:]))
    _app()
