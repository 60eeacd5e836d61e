"""`hwtune guard`: health over time, and the actions it takes (shadow unless --act)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hwtune.cli_common import (
    ROOT_OPT,
    choice,
    number,
    out,
    print_health_history,
    print_json,
    print_json_line,
    root_dir,
    run_command,
)
from hwtune.errors import EXIT_FINDINGS, EXIT_OK, ConfigError

if TYPE_CHECKING:  # guard is imported when the command runs, not when the CLI starts
    from hwtune.guard.core import GuardResult

GUARD_HELP = """Judge GPU and node health over time and act through the scheduler.

Shadow by default: decides and prints the intended actions, executes nothing;
--act executes. Exit codes: 0 the node is HEALTHY, 1 it is not, 2 bad input.
With --actuator npd, node-problem-detector's custom-plugin contract instead:
0 OK, 1 problem, 2 unknown, and one line of message.

Examples:  hwtune guard --once --root SNAPSHOT --node gpu07 --json;
hwtune guard --actuator slurm --act;  hwtune guard undo 20261207-101500-123456-001
"""

guard_app = typer.Typer(help=GUARD_HELP, invoke_without_command=True, no_args_is_help=False,
                        rich_markup_mode=None)


@guard_app.callback()
def guard(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Judge (and act) once, then exit: for cron and Slurm's "
                              "HealthCheckProgram. Without it: a service following the kernel log."),
    root: Path | None = ROOT_OPT,
    actuator: str = typer.Option("none", "--actuator", help="slurm, kubernetes, npd or none (decide and report)."),
    node: str | None = typer.Option(None, "--node", help="The node's name in the scheduler (default: the "
                                       "host name; needed with --root)."),
    act: bool = typer.Option(False, "--act", help="Execute the actions (default: shadow, print them only)."),
    json_out: bool = typer.Option(False, "--json", help="Print hwtune.guard/1 JSON."),
    log: Path | None = typer.Option(None, "--log", help="Follow this kmsg-format file instead of /dev/kmsg.",
                                       dir_okay=False),
    rules: Path | None = typer.Option(None, "--rules", help="Rules and policy TOML (default: the shipped "
                                         "health/guard_rules.toml).", dir_okay=False),
    profile: str | None = typer.Option(None, "--profile", "-p", help="A profile whose [guard] table sets "
                                          "the policy (clean checks, reboots, breaker, ...)."),
    interval: float = typer.Option(60.0, "--interval", help="Seconds between counter samples when following."),
    textfile: Path | None = typer.Option(None, "--textfile", help="Write the metrics to this node_exporter "
                                            "textfile (replaced atomically).", dir_okay=False),
    listen: str | None = typer.Option(None, "--listen", help="Serve the metrics on HOST:PORT while following "
                                         "(e.g. 127.0.0.1:9101)."),
) -> None:
    if ctx.invoked_subcommand is not None:
        return

    def go() -> int:
        from hwtune.guard.rules import RULES
        from hwtune.guard.service import ACTUATORS, GuardOptions, run_once

        choice("--actuator", actuator, ACTUATORS)
        number("--interval", interval, low=0.1, high=86400)
        from hwtune.guard.metrics import parse_listen

        try:
            address = parse_listen(listen) if listen is not None else None
        except ValueError as exc:
            raise ConfigError(f"--listen: {exc}") from None
        if address is not None and once:
            raise ConfigError("--listen serves metrics while following: use --textfile with --once")
        options = GuardOptions(root=root_dir(root) if root is not None else None, node=node, actuator=actuator,
                               act=act, rules=rules or RULES, log=log, interval_s=interval, textfile=textfile,
                               listen=address, profile=profile)
        if root is not None and log is not None:
            raise ConfigError("--log and --root: give one source (a followed log, or a snapshot)")
        if root is not None and not once:
            raise ConfigError("--root judges a snapshot once: add --once (following reads this "
                              "machine's kernel log, not the snapshot's)")
        if not once:
            from hwtune.guard.follow import follow

            follow(options, report=lambda result: _show_line(result, json_out))
            return EXIT_OK
        result = run_once(options)
        return _show(result, json_out, actuator)

    run_command(go)


def _show(result: GuardResult, json_out: bool, actuator: str) -> int:
    if actuator == "npd":
        from hwtune.guard.npd import plugin_answer

        code, line = plugin_answer(result)
        out.print(line, markup=False, highlight=False)
        return code
    if json_out:
        print_json(result.to_json())
    else:
        from hwtune.guard.render import render_result

        for line in render_result(result):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    return EXIT_OK if result.healthy else EXIT_FINDINGS


def _show_line(result: GuardResult, json_out: bool) -> None:
    """Following: one line per judgement (JSON lines with --json), flushed as it is made."""
    if json_out:
        print_json_line(result.to_json())
        return
    from hwtune.guard.render import render_result

    out.print(render_result(result)[0] + "".join(f"; {a.action} {a.target}" for a in result.actions),
              markup=False, highlight=False, soft_wrap=True)
    out.file.flush()


@guard_app.command("undo")
def undo(action_id: str = typer.Argument(..., help="The action's id (see `hwtune guard history`).")) -> None:
    """Reverse one executed action (resume a drained node, uncordon, remove the taint)."""

    def go() -> int:
        from hwtune.guard.actions import undo as undo_action
        from hwtune.guard.store import Store, state_dir

        with Store(state_dir(None)) as store:
            reverse = undo_action(store, action_id)
        out.print(f"undone {action_id}: {reverse.action} {reverse.node}: {reverse.result}", markup=False,
                  highlight=False)
        return EXIT_OK

    run_command(go)


@guard_app.command("history")
def history(
    node: str | None = typer.Option(None, "--node", help="Only this node."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The health history: events per GPU, verdicts and actions."""

    run_command(lambda: print_health_history(node, json_out))


def register(app: typer.Typer) -> None:
    app.add_typer(guard_app, name="guard")

