"""`hwtune check`: probe the host (or a snapshot, or saved facts) and judge it against a profile."""

from __future__ import annotations

import sys
from datetime import UTC
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from hwtune.cli_common import ROOT_OPT, host_at, load_facts, out, print_json, run_command
from hwtune.errors import EXIT_FINDINGS, EXIT_OK


class FailOn(str, Enum):
    fail = "fail"
    warn = "warn"


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    prometheus = "prometheus"


def check(
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name or .toml path "
                                          "(default: gpu-inference if an NVIDIA GPU or driver is present, "
                                          "else cpu-inference)."),
    root: Path | None = ROOT_OPT,
    facts_file: Path | None = typer.Option(None, "--facts", help="Judge facts saved by `hwtune facts --json`."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON (same as --format json)."),
    fmt: CheckFormat = typer.Option(CheckFormat.table, "--format", help="table, json, junit or prometheus."),
    output: Path | None = typer.Option(None, "--output", help="Write json, junit or prometheus to this file "
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

            host = start_probes(host_at(root))
        from hwtune import profile as profiles
        from hwtune.verdict import choose_profile, evaluate

        facts = load_facts(root, facts_file, host=host)
        chosen = profile or choose_profile(facts)
        report = evaluate(facts, profiles.load(chosen))
        if output is not None or fmt is not CheckFormat.table or json_out:
            doc = report_document(report.to_json(), root, facts_file)
        if output is not None or fmt in (CheckFormat.junit, CheckFormat.prometheus):
            from hwtune.report.formats import write_check

            text = write_check("json" if json_out else fmt.value, doc, facts.to_json(), root, output)
            if text is not None:
                sys.stdout.write(text)
        elif json_out or fmt is CheckFormat.json:
            print_json(doc)
        else:
            from hwtune.render import render_report

            render_report(out, report, verbose=verbose, host_label=str(root) if root else "", facts=facts,
                          apply_command=apply_command(chosen, root))
        failing = {"fail", "error"} | ({"warn"} if fail_on is FailOn.warn else set())
        return EXIT_FINDINGS if report.status in failing else EXIT_OK

    run_command(go)


def apply_command(profile: str, root: Path | None) -> str:
    """The `hwtune apply` that fixes what this check found, as a person pastes it: on the same
    --root (a copy of a snapshot is applied to with it), else on this host, with sudo."""
    from hwtune.hints import command

    live = root is None or str(root) == "/"
    return command("apply", "--profile", profile, root=None if live else root, live=live)


def report_document(report_json: dict[str, Any], root: Path | None, facts_file: Path | None) -> dict[str, Any]:
    """The report as `check --json` prints it: with the host judged, when (UTC) and by which hwtune,
    so that a fleet's reports say where and when they come from."""
    from datetime import datetime

    from hwtune import __version__
    from hwtune.report.inputs import host_name

    checked = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    host = None if facts_file is not None else host_name(root)  # saved facts name no host
    return {**report_json, "host": host, "time": checked, "hwtune_version": __version__}


def register(app: typer.Typer) -> None:
    app.command("check")(check)
