"""CLI for facts, snapshots and profiles: `hwtune facts`, `hwtune snapshot`,
`hwtune profiles list|show`.

register(app) adds them to the root Typer app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hwtune.cli_common import ROOT_OPT, json_text, load_facts, out, print_json, run_command
from hwtune.errors import EXIT_OK


def facts(
    root: Path | None = ROOT_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print {schema, facts, gpus, unavailable} as JSON."),
    runtimes: bool = typer.Option(False, "--runtimes", help="Also import ONNX Runtime and OpenVINO to list "
                                  "their providers and devices (slower)."),
    output: Path | None = typer.Option(None, "--output", help="Write the JSON to this file (replaced "
                                          "atomically, never through a link) instead of stdout."),
) -> None:
    """Print every fact probed, nothing judged.

    Examples:  hwtune facts;  hwtune facts --json --output host.json;  hwtune facts --root host-snap/ --json
    """

    def go() -> int:
        result = load_facts(root, None, runtimes=runtimes)
        if output is not None:
            from hwtune.report.atomic import write_atomic

            write_atomic(output, json_text(result.to_json()))
        elif json_out:
            print_json(result.to_json())
        else:
            from hwtune.render import render_facts

            render_facts(out, result)
        return EXIT_OK

    run_command(go)


def snapshot(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder to write (must not exist, or be empty)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Record what the probes read on this machine, to replay anywhere with --root.

    Example:  hwtune snapshot --out host-snap/ && tar czf host-snap.tgz host-snap/
    """

    def go() -> int:
        from hwtune.snapshot import take_snapshot

        summary = take_snapshot(out_dir)
        data = {"out": str(summary.out), "files": summary.files, "dirs": summary.dirs,
                "commands": summary.commands}
        if json_out:
            print_json(data)
        else:
            from hwtune.hints import command

            out.print(f"snapshot written to {summary.out}: {summary.files} files, {summary.commands} command "
                      f"outputs; replay with: {command('check', root=summary.out)}", markup=False)
        return EXIT_OK

    run_command(go)


def profiles_list(json_out: bool = typer.Option(False, "--json")) -> None:
    """List the known profiles.  Example:  hwtune profiles list"""

    def go() -> int:
        from hwtune import profile as profiles

        rows: list[dict[str, Any]] = []
        for name, path in profiles.available().items():
            p = profiles.load(name)
            rows.append({"name": name, "description": p.description, "includes": list(p.chain[:-1]),
                         "path": str(path)})
        if json_out:
            print_json(rows)
        else:
            from hwtune.tables import ID, Col, Table

            table = Table("", (Col("profile", ID), Col("description"), Col("includes", drop=1)))
            for r in rows:
                table.add_row(r["name"], r["description"], ", ".join(r["includes"]) or "-")
            table.print(out)
        return EXIT_OK

    run_command(go)


def profiles_show(name: str = typer.Argument(..., help="Profile name or .toml path"),
                  json_out: bool = typer.Option(False, "--json")) -> None:
    """Show a profile merged with everything it includes, with every check's effective parameters.

    Example:  hwtune profiles show gpu-inference
    """

    def go() -> int:
        from hwtune import profile as profiles
        from hwtune.verdict import effective_params

        p = profiles.load(name)
        data = p.to_json()
        data["checks"] = effective_params(p)
        if json_out:
            print_json(data)
        else:
            from hwtune.render import render_profile

            render_profile(out, data)
        return EXIT_OK

    run_command(go)


def register(app: typer.Typer) -> None:
    app.command("facts")(facts)
    app.command("snapshot")(snapshot)
    profiles_app = typer.Typer(help="List and show profiles (merged with what they include).", no_args_is_help=True)
    profiles_app.command("list")(profiles_list)
    profiles_app.command("show")(profiles_show)
    app.add_typer(profiles_app, name="profiles")
