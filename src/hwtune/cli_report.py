"""CLI for reports: `hwtune report`, `hwtune fleet report`, `hwtune diff`.

register(app) adds them to the root Typer app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from hwtune.cli_common import load_facts, out, print_json, run_command
from hwtune.errors import EXIT_FINDINGS, EXIT_OK


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def report(
    out_file: Path = typer.Option(Path("hwtune-report.html"), "--out", "-o", help="HTML file to write."),
    root: Path | None = typer.Option(None, "--root", help="Report on a recorded snapshot instead of this "
                                        "machine (its journals are read from ROOT/var/lib/hwtune).",
                                        file_okay=False),
    facts_file: Path | None = typer.Option(None, "--facts", help="Facts saved by `hwtune facts --json`."),
    check_file: Path | None = typer.Option(None, "--check", help="A saved `hwtune check --json` report "
                                              "(default: judge the facts now)."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile name or .toml path."),
    bench_dir: Path | None = typer.Option(None, "--bench-dir", help="Folder of saved bench runs (default: "
                                             "hwtune bench's, unless --root is given).", file_okay=False),
    bench_runs: list[Path] = typer.Option([], "--bench-run", help="A saved bench run file; repeatable."),
    recommend_file: Path | None = typer.Option(None, "--recommend", help="Output of `hwtune recommend "
                                                  "--json`, for the performance-per-dollar chart."),
    journal_dir: Path | None = typer.Option(None, "--journal-dir", help="Folder of apply journals "
                                               "(default: ROOT/var/lib/hwtune/journal).", file_okay=False),
    host: str | None = typer.Option(None, "--host", help="Host name on the page."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write one self-contained HTML page: host summary, findings with fixes, bench charts,
    performance per dollar, apply history. It opens offline and loads nothing.

    Examples:  hwtune report --out host.html;  hwtune report --root host-snap/ --out snap.html;
    hwtune report --recommend rec.json --bench-dir runs/ --out host.html
    """
    def go() -> int:
        from hwtune.report import inputs
        from hwtune.report.atomic import write_atomic
        from hwtune.report.page import ReportInputs, render_host_report

        facts_json, report_json = _facts_and_report(root, facts_file, check_file, profile)
        runs = inputs.Loaded()
        folder = bench_dir or (None if root is not None else inputs.bench_runs_dir())
        if folder is not None:
            runs = inputs.load_bench_runs(folder)
        runs.docs += [inputs.bench_run(p) for p in bench_runs]
        runs.docs.sort(key=lambda d: d["_run_time_s"])
        journals = (inputs.load_journals(journal_dir) if journal_dir
                    else inputs.load_root_journals(root or Path("/")))
        rec = inputs.load_recommend(recommend_file) if recommend_file else None
        name = host or inputs.host_name(root)
        page = render_host_report(ReportInputs(
            hostname=name, report=report_json, generated=_now(), facts=facts_json, bench_runs=runs.docs,
            recommend=rec, journals=journals.docs, notes=runs.skipped + journals.skipped))
        write_atomic(out_file, page)
        summary = {"out": str(out_file), "host": name, "status": report_json.get("status"),
                   "bench_runs": len(runs.docs), "journals": len(journals.docs), "recommend": rec is not None,
                   "skipped_inputs": runs.skipped + journals.skipped}
        if json_out:
            print_json(summary)
        else:
            out.print(f"report for {name} written to {out_file} ({len(page) // 1024} KiB; "
                      f"{len(runs.docs)} bench runs, {len(journals.docs)} journals)", markup=False)
        return EXIT_OK

    run_command(go)


def _facts_and_report(root: Path | None, facts_file: Path | None, check_file: Path | None,
                      profile: str | None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    from hwtune.report.inputs import check_report, read_json

    if check_file is not None:
        report_json = check_report(read_json(check_file), f"--check {check_file}")
        facts_json = None
        if facts_file is not None or root is not None:
            facts_json = load_facts(root, facts_file).to_json()
        return facts_json, report_json
    from hwtune import profile as profiles
    from hwtune.verdict import choose_profile, evaluate

    facts = load_facts(root, facts_file)
    return facts.to_json(), evaluate(facts, profiles.load(profile or choose_profile(facts))).to_json()


fleet_app = typer.Typer(help="Many hosts at once: results fetched by contrib/ansible/hwtune.yml.",
                        no_args_is_help=True)


@fleet_app.command("report")
def fleet_report(
    results_dir: Path = typer.Argument(..., help="Folder with one <host>/check.json per host."),
    out_file: Path | None = typer.Option(None, "--out", "-o", help="Also write the table as one HTML page."),
    json_out: bool = typer.Option(False, "--json", help="Print hosts, checks, majorities and outliers as JSON."),
) -> None:
    """One table of hosts x checks: status of every check on every host, the majority,
    and the hosts that differ from it. Exit 1 when a host FAILed, ERRORed or has no result.

    Example:  ansible-playbook -i hosts.ini contrib/ansible/hwtune.yml && hwtune fleet report results/ --out fleet.html
    """
    def go() -> int:
        from hwtune.report.fleet import fleet_failing, fleet_json, load_fleet

        hosts = load_fleet(results_dir)
        if out_file is not None:
            from hwtune.report.atomic import write_atomic
            from hwtune.report.fleet_html import render_fleet_html

            write_atomic(out_file, render_fleet_html(hosts, f"hwtune fleet: {results_dir.resolve().name}",
                                                     _now()))
        if json_out:
            print_json(fleet_json(hosts))
        else:
            from hwtune.report.term import render_fleet

            render_fleet(out, hosts)
            if out_file is not None:
                out.print(f"fleet page written to {out_file}", markup=False)
        return EXIT_FINDINGS if fleet_failing(hosts) else EXIT_OK

    run_command(go)


def diff(
    a: Path = typer.Argument(..., help="check or facts JSON, a fleet host folder, or a snapshot folder"),
    b: Path = typer.Argument(..., help="the same kinds as A"),
    profile: str | None = typer.Option(None, "--profile", "-p", help="Profile for snapshot folders."),
    json_out: bool = typer.Option(False, "--json", help="Print the differences as JSON."),
) -> None:
    """What differs between two hosts, or one host at two times: facts and verdicts.
    Exit 0 when nothing differs, 1 when something does (like diff(1)).

    Examples:  hwtune diff results/web1 results/web2;  hwtune diff before-snap/ after-snap/;
    hwtune diff old-check.json new-check.json --json
    """
    def go() -> int:
        from hwtune.report.diff import diff_sides, load_side

        d = diff_sides(load_side(a, profile), load_side(b, profile))
        if json_out:
            print_json(d)
        else:
            from hwtune.report.term import render_diff

            render_diff(out, d)
        return EXIT_OK if d["same"] else EXIT_FINDINGS

    run_command(go)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(fleet_app, name="fleet")
    app.command("diff")(diff)
