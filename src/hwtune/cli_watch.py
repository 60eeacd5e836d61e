"""`hwtune watch`: a live view of the host for a person (rich Live), or samples as JSON.

A view, not a service: it samples this machine every --interval seconds
until Ctrl-C (or once with --once) and judges nothing; `hwtune check` judges.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from hwtune.cli_common import number, out, run_command
from hwtune.errors import EXIT_OK

HW_REASONS = {"hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown"}


def watch(
    interval: float = typer.Option(2.0, "--interval", "-n", help="Seconds between samples (0.2 or more)."),
    once: bool = typer.Option(False, "--once", help="Take one sample, print it and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print samples as JSON (one object per line)."),
) -> None:
    """Watch this machine live: GPU load, clocks, power, temperature and throttle reasons;
    CPU package frequency, governor and thermal throttling; new health events in the kernel log.

    Examples:  hwtune watch;  hwtune watch --interval 5;  hwtune watch --once --json
    """

    def go() -> int:
        number("--interval", interval, low=0.2, high=86400)  # time.sleep overflows past ~9e9 s
        from hwtune.host import Host
        from hwtune.probe.sample import Sampler

        with Sampler(Host("/")) as sampler:
            if once or json_out:
                while True:
                    sample = sampler.sample()
                    if json_out:
                        sys.stdout.write(json.dumps(sample) + "\n")
                        sys.stdout.flush()
                    else:
                        out.print(render_watch(sample, []))
                    if once:
                        return EXIT_OK
                    time.sleep(interval)
            _live(sampler, interval)
        return EXIT_OK

    run_command(go)


def _live(sampler: Any, interval: float) -> None:
    from rich.live import Live

    seen: list[dict[str, Any]] = []
    with Live(console=out, auto_refresh=False, screen=False) as live:
        while True:
            sample = sampler.sample()
            seen = (seen + sample["events"])[-10:]  # the newest events since the watch started
            live.update(render_watch(sample, seen), refresh=True)
            time.sleep(interval)


def _of(value: Any, limit: Any, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text}/{limit:g}{unit}" if isinstance(limit, (int, float)) and limit else f"{text}{unit}"


def render_watch(sample: dict[str, Any], events: list[dict[str, Any]]) -> Group:
    parts: list[Any] = [Text(f"hwtune watch  {sample['time']}  (Ctrl-C to stop)", style="bold")]
    gpus = Table(title="GPUs", title_justify="left", expand=False)
    for col in ("GPU", "bus id", "util", "memory MiB", "SM MHz", "mem MHz", "power W", "temp C", "throttle"):
        gpus.add_column(col)
    for g in sample["gpus"]:
        if g.get("error"):
            gpus.add_row(str(g["index"]), g.get("bus_id") or "-", Text(g["error"], style="red"), *[""] * 6)
            continue
        reasons = [r for r in g.get("throttle_reasons", []) if r != "gpu_idle"]
        gpus.add_row(str(g["index"]), g.get("bus_id") or "-", _of(g.get("utilization_pct"), None, "%"),
                     _of(g.get("memory_used_mib"), g.get("memory_total_mib"), ""),
                     _of(g.get("sm_mhz"), g.get("sm_max_mhz"), ""), _of(g.get("mem_mhz"), g.get("mem_max_mhz"), ""),
                     _of(g.get("power_w"), g.get("power_limit_w"), ""),
                     _of(g.get("temp_c"), g.get("temp_slowdown_c"), ""),
                     Text(", ".join(reasons) or "none", style="red" if HW_REASONS & set(reasons) else ""))
    parts.append(gpus if sample["gpus"] else Text(f"GPUs: {sample['gpu_reason']}"))
    cpus = Table(title="CPU packages", title_justify="left", expand=False)
    for col in ("package", "CPUs", "MHz avg", "MHz max seen", "governor", "thermal throttle (new)"):
        cpus.add_column(col)
    for p in sample["cpu_packages"]:
        throttle = "-" if p["throttle_events"] is None else f"{p['throttle_events']} (+{p['throttle_new']})"
        cpus.add_row(p["package"], str(p["cpus"]), _of(p["freq_mhz"], p["max_mhz"], ""),
                     _of(p["freq_max_seen_mhz"], None, ""), p["governor"] or "none (no cpufreq)",
                     Text(throttle, style="red" if p.get("throttle_new") else ""))
    parts.append(cpus if sample["cpu_packages"] else Text(f"CPU: {sample['cpu_reason']}"))
    if sample["events_reason"]:
        parts.append(Text(f"Kernel log: {sample['events_reason']}"))
    else:
        lines = [f"[{e['time']}] {e['kind']}: {e['message']}" for e in events]
        parts.append(Text("New health events in the kernel log:\n  " + ("\n  ".join(lines) if lines else "none yet")))
    return Group(*parts)


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
