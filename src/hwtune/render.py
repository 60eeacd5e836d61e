"""Rendering for people: rich tables for check reports, facts and profiles.

Only the rendering modules and the CLI use rich (docs/contributing.md, "Who prints
what", names each). Every table goes through hwtune.tables: fitted to a terminal's
width, plain columns when piped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from hwtune.checks.gpu import gpu_seen
from hwtune.facts import Facts
from hwtune.hints import spell
from hwtune.tables import ID, NUM, Col, Table
from hwtune.text import show
from hwtune.verdict import Report, Result

STATUS_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red", "SKIP": "dim", "ERROR": "bold magenta"}


def print_table(console: Console, title: str, headers: Sequence[str | Col],
                rows: Sequence[Sequence[Text | str]]) -> None:
    """A table through the one layout every command uses (hwtune.tables): fitted to a terminal's
    width; piped, plain columns under a header line, no cell cut or wrapped. A bare header is TEXT."""
    table = Table(title, [h if isinstance(h, Col) else Col(h) for h in headers])
    for row in rows:
        table.add_row(*row)
    table.print(console)


def _observed(r: Result) -> str:
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
    elif _no_nvidia_gpu(facts):
        parts.append("no NVIDIA GPU")
    return ", ".join(p for p in parts if p)


# checks that judge NVIDIA GPUs and their software stack: on a host without one they say so once
GPU_CHECK_PREFIXES = ("gpu.", "nvidia.", "cuda.", "cudnn.")


def _no_nvidia_gpu(facts: Facts | None) -> bool:
    return facts is not None and not facts.gpus and (
        facts.values.get("gpu.count") == 0 or facts.values.get("pci.nvidia_devices") == []) and gpu_seen(facts) is None


def _rows(report: Report, facts: Facts | None, verbose: bool) -> list[tuple[str, str, str, str, str]]:
    """(status, check, observed, expected, area) per row; on a host without an NVIDIA GPU the GPU
    checks that SKIPped are one row with one reason (--verbose and --json list them all)."""
    collapse = [] if verbose or not _no_nvidia_gpu(facts) else [
        r for r in report.results if r.status.value == "SKIP" and r.id.startswith(GPU_CHECK_PREFIXES)]
    if len(collapse) < 2:
        collapse = []
    anchor = next((r for r in collapse if r.area == "gpu"), collapse[0] if collapse else None)
    rows = []
    for r in report.results:
        if r in collapse:
            if r is anchor:
                rows.append(("SKIP", f"GPU checks ({len(collapse)})", "skipped: no NVIDIA GPU on this host",
                             "-", "gpu"))
            continue
        rows.append((r.status.value, r.id, _observed(r), show(r.expected), r.area))
    return rows


# how a remediation text (checks/*.toml) names hwtune's own fix; shown as the command to paste
APPLY_FIX = re.compile(r"^sudo hwtune apply --profile \S+")


def render_report(console: Console, report: Report, *, verbose: bool = False, host_label: str = "",
                  facts: Facts | None = None, apply_command: str | None = None) -> None:
    """`apply_command`: `hwtune apply` as a person pastes it for this host (hwtune.hints), in
    place of the remediation's generic `sudo hwtune apply --profile NAME`."""
    title = f"hwtune check: profile {report.profile}" + (f" on {host_label}" if host_label else "")
    summary_line = host_summary(facts) if facts is not None else ""
    if summary_line:
        title += "\nhost: " + summary_line
    rows = _rows(report, facts, verbose)
    table = Table(title, (Col("status", ID), Col("check", ID), Col("observed"), Col("expected")))
    area = None
    for status, check, observed, expected, row_area in rows:
        table.add_row(Text(status, style=STATUS_STYLE[status]), check,
                      Text(observed, style="dim" if status == "SKIP" else ""), Text(expected),
                      section=area is not None and row_area != area)
        area = row_area
    table.print(console)
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
            own = APPLY_FIX.match(r.fix)
            fix = apply_command + spell(r.fix[own.end():]) if apply_command and own else spell(r.fix)
            console.print(Text("  fix: " + fix, style="cyan"), soft_wrap=not console.is_terminal)
        if verbose:
            console.print(Text(f"  why: {r.rationale}\n  source: {r.source}", style="dim"),
                          soft_wrap=not console.is_terminal)
    counts = report.counts()
    summary = Text(f"{report.status.upper()}: ", style=STATUS_STYLE.get(report.status.upper(), "green")
                   if report.status != "nothing judged" else "dim")
    summary.append(", ".join(f"{n} {st}" for st, n in counts.items() if n))
    console.print()
    console.print(summary)


def render_facts(console: Console, facts: Facts) -> None:
    rows: list[list[Text | str]] = [
        [key, Text(show(value)) if value is not None else Text(f"unknown: {facts.reason(key)}", style="dim")]
        for key, value in sorted(facts.values.items())]
    print_table(console, "hwtune facts", (Col("fact", ID), "value"), rows)
    if facts.gpus:
        gpu_rows: list[list[Text | str]] = []
        for g in facts.gpus:
            if g.error:
                gpu_rows.append([str(g.index), Text(f"error: {g.error}", style="bold magenta"), *[""] * 7])
                continue
            link = (f"gen{show(g.pcie_gen_current)}/{show(g.pcie_gen_max)} "
                    f"x{show(g.pcie_width_current)}/{show(g.pcie_width_max)}")
            gpu_rows.append([str(g.index), show(g.name), show(g.bus_id), show(g.memory_mib),
                             show(g.persistence_mode), show(g.mig_mode), link, show(g.power_limit_w),
                             show(g.numa_node)])
        console.print()
        print_table(console, "GPUs", (Col("index", NUM), "name", Col("bus id", ID), Col("memory MiB", NUM),
                                      "persistence", "MIG", "PCIe", Col("power W", NUM), Col("NUMA", NUM)),
                    gpu_rows)


def render_profile(console: Console, data: dict[str, Any]) -> None:
    """A merged profile: its chain, every check's parameters, and its [tune] table as TOML that pastes as is."""
    title = Text(data["name"], style="bold")
    title.append(f": {data['description']}")
    console.print(title)
    console.print(f"merged from: {' -> '.join(data['chain'])}", markup=False)
    console.print()
    rows = [[check_id, Text(show(params, limit=len(params)))]  # every parameter, in full
            for check_id, params in data["checks"].items()]
    print_table(console, "check parameters", (Col("check", ID), "parameters"), rows)
    if data["tune"]:
        console.print()
        console.print("tunables (hwtune apply), as the profile's TOML:", markup=False)
        console.print(toml_table("tune", data["tune"]), markup=False, soft_wrap=True, highlight=False)


def toml_value(value: Any) -> str:
    """A TOML value for the JSON-like values profiles hold (strings, numbers, booleans, lists, tables)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _toml_key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(str(key))


def toml_table(name: str, values: dict[str, Any]) -> str:
    """A TOML table; a mapping inside it as a table of its own ([tune.sysctl]), one key a line,
    so that every line fits a terminal and pastes as is."""
    lines = [f"[{name}]"] + [f"{_toml_key(k)} = {toml_value(v)}" for k, v in values.items()
                             if not isinstance(v, dict)]
    subtables = [toml_table(f"{name}.{_toml_key(k)}", v) for k, v in values.items() if isinstance(v, dict)]
    return "\n".join(lines + subtables)
