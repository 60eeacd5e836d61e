"""`hwtune apply`, `hwtune rollback`, `hwtune history`: thin commands over hwtune.apply."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hwtune.cli_common import out, print_json, root_dir, run_command
from hwtune.errors import EXIT_FINDINGS, EXIT_OK, ConfigError, NeedsRoot

if TYPE_CHECKING:  # apply is imported when the command runs, not when the CLI starts
    from rich.console import Console

    from hwtune.apply.model import Plan

ROOT_HELP = "Apply to a mounted image or a copy of a snapshot laid out like / (no root needed)."
ROLLBACK_ROOT_HELP = ("Roll back an apply made with the same --root (a mounted image or a copy of a snapshot), "
                      "from the journal kept in that tree (no root needed).")
HISTORY_ROOT_HELP = ("List the applies journaled in this tree (a mounted image or a copy of a snapshot) "
                     "instead of this machine's.")


def register(app: typer.Typer) -> None:
    app.command("apply")(apply_cmd)
    app.command("rollback")(rollback_cmd)
    app.command("history")(history_cmd)


def _root(root: Path | None) -> tuple[Path, bool]:
    if root is None:
        return Path("/"), True
    return root_dir(root), os.path.realpath(root) == "/"


def _need_root(live: bool, what: str) -> None:
    if live and os.geteuid() != 0:
        from hwtune.hints import command

        raise NeedsRoot(f"hwtune {what} changes the live system (nothing was written): run it with sudo: "
                        f"{command(*sys.argv[1:], live=True)}")


def _interactive() -> bool:
    return sys.stdin.isatty()


def _profile_ref(name_or_path: str) -> str:
    """What the boot unit passes to --profile: the name of a packaged profile, else an absolute path."""
    from hwtune import profile as profiles

    path = profiles.resolve(name_or_path)
    if path.resolve().parent == profiles.PACKAGED.resolve():
        return path.stem
    return str(path.resolve())


def apply_cmd(
    profile: str = typer.Option(..., "--profile", "-p", help="Profile name or .toml path."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking (needed without a terminal)."),
    persist: bool = typer.Option(False, "--persist", help="Also re-apply at every boot: installs a sysctl.d "
                                 "drop-in and a systemd oneshot unit (rollback removes them)."),
    boot: bool = typer.Option(False, "--boot", help="Used by the boot unit: apply without asking, "
                              "install nothing."),
    root: Path | None = typer.Option(None, "--root", help=ROOT_HELP, file_okay=False),
    json_out: bool = typer.Option(False, "--json", help="Print the plan and the result as JSON."),
    allow_lower_hardening: bool = typer.Option(False, "--allow-lower-hardening",
                                               help="Apply a profile that lowers kernel hardening (ASLR, "
                                               "ptrace_scope, kptr_restrict, perf_event_paranoid, ...); "
                                               "refused without it."),
    allow_irreversible: bool = typer.Option(False, "--allow-irreversible",
                                            help="Apply values rollback cannot undo before a reboot "
                                            "(kernel.modules_disabled=1, ...) or that may panic the host "
                                            "(panic_on_oops, panic_on_oom, ...); refused without it."),
) -> None:
    """Tune this host to a profile, as a journaled transaction: a failed write undoes everything.

    Examples:  sudo hwtune apply --profile gpu-inference --dry-run;
    sudo hwtune apply --profile gpu-inference --yes --persist;  hwtune apply -p cpu-inference --root copy/ --yes
    """
    allow = Allow(allow_lower_hardening, allow_irreversible)
    run_command(lambda: _apply(profile, dry_run, yes, persist, boot, root, json_out, allow))


@dataclass(frozen=True)
class Allow:
    """What the user allowed beyond an ordinary change."""

    lower_hardening: bool = False
    irreversible: bool = False


def _apply(profile: str, dry_run: bool, yes: bool, persist: bool, boot: bool, root: Path | None,
           json_out: bool, allow: Allow = Allow()) -> int:
    from hwtune import profile as profiles
    from hwtune.apply.transaction import apply_profile, make_plan, refuse_irreversible, refuse_lowered_hardening

    root_path, live = _root(root)
    if not dry_run:
        _need_root(live, "apply")
    yes = yes or boot
    if not dry_run and not yes and not _interactive():
        raise ConfigError("no terminal to ask for confirmation: pass --yes to apply without asking")
    prof = profiles.load(profile)
    ref = _profile_ref(profile)
    plan = make_plan(root_path, prof, profile_ref=ref, persist=persist, boot=boot,
                     allow_lower_hardening=allow.lower_hardening, allow_irreversible=allow.irreversible)
    if not dry_run and not allow.lower_hardening:
        refuse_lowered_hardening(plan)
    if not dry_run and not allow.irreversible:
        refuse_irreversible(plan)
    if dry_run or not plan.steps or plan.invalid:
        return _show_plan_only(out, plan, dry_run, json_out)
    if not json_out:
        from hwtune.apply.render import render_plan

        render_plan(out, plan, f"Plan: profile {prof.name} on {root_path}")
    if not yes and not typer.confirm(f"Apply these {len(plan.steps)} change(s)?", default=False, err=True):
        if json_out:
            print_json({"plan": plan.to_json(), "applied": False, "journal": None, "changes": 0})
        else:
            out.print("Nothing was changed.")
        return EXIT_OK
    result = apply_profile(root_path, prof, profile_ref=ref, persist=persist, boot=boot, expected=plan.steps,
                           allow_lower_hardening=allow.lower_hardening, allow_irreversible=allow.irreversible)
    ok = all(c.ok for c in result.checks)
    if json_out:
        print_json({"plan": result.plan.to_json(), "applied": True, "journal": result.journal_id,
                     "changes": len(result.plan.steps), "verification": [c.to_json() for c in result.checks],
                     "verified": ok})
    else:
        from hwtune.apply.render import render_apply
        from hwtune.apply.transaction import rollback_hint

        assert result.journal_id is not None  # the plan had steps, so apply journaled them
        render_apply(out, result, rollback_hint(result.journal_id, None if live else str(root)))
    return EXIT_OK if ok else EXIT_FINDINGS


def _show_plan_only(out: Console, plan: Plan, dry_run: bool, json_out: bool) -> int:
    from hwtune.apply.transaction import refuse_invalid

    if json_out:
        print_json({"plan": plan.to_json(), "dry_run": dry_run, "applied": False, "journal": None,
                     "changes": len(plan.steps)})
    else:
        from hwtune.apply.render import render_plan

        render_plan(out, plan, f"Plan: profile {plan.profile} on {plan.root}" + (" (dry run)" if dry_run else ""))
        if not plan.invalid:
            out.print("Dry run: nothing was changed." if dry_run and plan.steps
                      else f"Nothing to change: the host already matches profile {plan.profile}.")
    if not dry_run:
        refuse_invalid(plan)
    return EXIT_OK


def rollback_cmd(
    journal_id: str | None = typer.Argument(None, metavar="[ID]", help="Journal id from `hwtune history` "
                                               "(default: the last apply still in effect)."),
    root: Path | None = typer.Option(None, "--root", help=ROLLBACK_ROOT_HELP, file_okay=False),
    json_out: bool = typer.Option(False, "--json", help="Print what was restored as JSON."),
) -> None:
    """Undo an apply: restore the old values from its journal, in reverse order.

    Works on the journal of an apply that was killed half-way, too; rolling back twice is harmless.
    Examples:  sudo hwtune rollback;  sudo hwtune rollback 20250101-120000-000001;  hwtune rollback --root copy/
    """
    run_command(lambda: _rollback(journal_id, root, json_out))


def _rollback(journal_id: str | None, root: Path | None, json_out: bool) -> int:
    from hwtune.apply.transaction import rollback

    root_path, live = _root(root)
    _need_root(live, "rollback")
    result = rollback(root_path, journal_id)
    if json_out:
        print_json({"rolled_back": list(result.journal_ids), "note": result.note, "already": result.already,
                     "restored": [c.to_json() for c in result.restored]})
    else:
        from hwtune.apply.render import render_rollback

        render_rollback(out, result)
    return EXIT_OK if all(c.ok for c in result.restored) else EXIT_FINDINGS


def history_cmd(
    root: Path | None = typer.Option(None, "--root", help=HISTORY_ROOT_HELP, file_okay=False),
    json_out: bool = typer.Option(False, "--json", help="Print the history as JSON."),
    health: bool = typer.Option(False, "--health", help="hwtune guard's health history instead: events per "
                                "GPU, verdicts and actions."),
) -> None:
    """List past applies: id, time, profile, number of changes, state.

    Examples:  hwtune history;  hwtune history --json;  hwtune history --health
    """
    def go() -> int:
        if health:
            from hwtune.cli_common import print_health_history

            return print_health_history(None, json_out)
        from hwtune.apply.transaction import history

        rows = history(_root(root)[0])
        if json_out:
            print_json(rows)
        else:
            from hwtune.apply.render import render_history

            render_history(out, rows)
        return EXIT_OK

    run_command(go)
