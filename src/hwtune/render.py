"""Rendering for people: rich tables for check reports, facts and profiles.

Only this module and cli.py use rich. Without a terminal the same tables are
printed as plain text (no colour, ASCII rules).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from hwtune.facts import Facts
from hwtune.report.text import show
from hwtune.verdict import Report

STATUS_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim", "ERROR": "bold magenta"}


def table_box(console: Console):
    from rich import box

    return box.ROUNDED if console.is_terminal else box.ASCII


def new_table(console: Console, title: str, **options: Any):
    """A rich Table; imported here because piped output (plain lines) never needs one."""
    from rich.table import Table

    return Table(title=Text(title), box=table_box(console), **options)  # a title is text, never markup


def _observed(r) -> str:
    if r.status.value == "SKIP" and r.observed is None:
        return f"skipped: {r.message}"
    return show(r.observed)


def host_summary(facts: Facts) -> str:
    """One line naming the host that was judged: OS, kernel, CPU, memory, GPUs (what is known)."""
    parts = [facts.get("os.pretty_name"), facts.get("kernel.release") and f"kernel {facts.get('kernel.release')}"]
    model, sockets, threads = facts.get("cpu.model"), facts.get("cpu.sockets"), facts.get("cpu.threads")
    if model or threads:
        counts = ", ".join(x for x in (sockets and f"{sockets} socket{'s' if sockets > 1 else ''}",
                                        threads and f"{threads} threads") if x)
        parts.append(" ".join(x for x in (model, counts and f"({counts})") if x))
    kib = facts.get("mem.total_kib")
    parts.append(kib and f"{kib / 1024 ** 2:.1f} GiB")
    names = [g.name or f"GPU{g.index}" for g in facts.gpus]
    if names:
        distinct = sorted(set(names))
        parts.append(", ".join(f"{names.count(n)}x {n}" for n in distinct))
    elif facts.get("gpu.count") == 0 or facts.values.get("pci.nvidia_devices") == []:
        parts.append("no NVIDIA GPU")
    return ", ".join(p for p in parts if p)


def render_report(console: Console, report: Report, *, verbose: bool = False, host_label: str = "",
                  facts: Facts | None = None) -> None:
    title = f"hwtune check: profile {report.profile}" + (f" on {host_label}" if host_label else "")
    summary_line = host_summary(facts) if facts is not None else ""
    if summary_line:
        title += "\nhost: " + summary_line
    if console.is_terminal:
        _report_table(console, report, title)
    else:
        lines = [title] + [f"{r.status.value:<5} {r.id:<22} {_observed(r)}  (expected: {show(r.expected)})"
                           for r in report.results]
        console.print("\n".join(lines), markup=False, soft_wrap=True)
    findings = [r for r in report.results if r.status.value in ("FAIL", "ERROR", "WARN") or
                (verbose and r.status.value != "SKIP")]
    if findings:
        console.print()
    for r in findings:
        line = Text(f"{r.status.value} ", style=STATUS_STYLE[r.status.value])
        line.append(f"{r.id}: ", style="bold")
        line.append(r.message or r.title)
        console.print(line, soft_wrap=not console.is_terminal)
        if r.fix:
            console.print(Text("  fix: " + r.fix, style="cyan"), soft_wrap=not console.is_terminal)
        if verbose:
            console.print(Text(f"  why: {r.rationale}\n  source: {r.source}", style="dim"),
                          soft_wrap=not console.is_terminal)
    counts = report.counts()
    summary = Text(f"{report.status.upper()}: ", style=STATUS_STYLE.get(report.status.upper(), "green"))
    summary.append(", ".join(f"{n} {st}" for st, n in counts.items() if n))
    console.print()
    console.print(summary, soft_wrap=True)


def _report_table(console: Console, report: Report, title: str) -> None:
    table = new_table(console, title, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("observed", overflow="fold", ratio=3)
    table.add_column("expected", overflow="fold", ratio=2)
    area = None
    for r in report.results:
        if area is not None and r.area != area:
            table.add_section()
        area = r.area
        observed = Text(_observed(r), style="dim" if r.status.value == "SKIP" else "")
        table.add_row(Text(r.status.value, style=STATUS_STYLE[r.status.value]), r.id, observed,
                      Text(show(r.expected)))
    console.print(table)


def render_facts(console: Console, facts: Facts) -> None:
    table = new_table(console, "hwtune facts")
    table.add_column("fact", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in sorted(facts.values.items()):
        cell = Text(show(value)) if value is not None else Text(f"unknown: {facts.reason(key)}", style="dim")
        table.add_row(key, cell)
    console.print(table)
    if facts.gpus:
        gt = new_table(console, "GPUs")
        for col in ("index", "name", "bus id", "memory MiB", "persistence", "MIG", "PCIe", "power W", "NUMA"):
            gt.add_column(col)
        for g in facts.gpus:
            if g.error:
                gt.add_row(str(g.index), Text(f"error: {g.error}", style="bold magenta"), *[""] * 7)
                continue
            link = (f"gen{show(g.pcie_gen_current)}/{show(g.pcie_gen_max)} "
                    f"x{show(g.pcie_width_current)}/{show(g.pcie_width_max)}")
            gt.add_row(str(g.index), Text(show(g.name)), show(g.bus_id), show(g.memory_mib), show(g.persistence_mode),
                       show(g.mig_mode), link, show(g.power_limit_w), show(g.numa_node))
        console.print(gt)


def render_profile(console: Console, data: dict[str, Any]) -> None:
    title = Text(data["name"], style="bold")
    title.append(f": {data['description']}")
    console.print(title)
    console.print(f"merged from: {' -> '.join(data['chain'])}", markup=False)
    table = new_table(console, "check parameters")
    table.add_column("check")
    table.add_column("parameters")
    for check_id, params in data["checks"].items():
        table.add_row(check_id, Text(show(params, limit=len(params))))  # every parameter, in full
    console.print(table)
    tune = new_table(console, "tunables (hwtune apply)")
    tune.add_column("key")
    tune.add_column("target")
    for key, value in data["tune"].items():
        if isinstance(value, dict):
            for sub, v in value.items():
                tune.add_row(f"{key}.{sub}", Text(show(v)))
        else:
            tune.add_row(key, Text(show(value)))
    console.print(tune)
