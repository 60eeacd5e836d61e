"""`hwtune watch`: a live view of the host for a person (rich Live), or samples as JSON.

A view, not a service: it samples this machine every --interval seconds
until q, Esc or Ctrl-C (or once with --once) and judges nothing; `hwtune check` judges.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import typer
from rich.console import Group
from rich.text import Text

from hwtune.cli_common import number, out, print_json_line, run_command
from hwtune.errors import EXIT_OK
from hwtune.tables import ID, NUM, Col, Table

HW_REASONS = {"hw_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "sw_thermal_slowdown"}


def watch(
    interval: float = typer.Option(2.0, "--interval", "-n", help="Seconds between samples (0.2 or more)."),
    once: bool = typer.Option(False, "--once", help="Take one sample, print it and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print samples as JSON (one object per line)."),
) -> None:
    """Watch this machine live: GPU load, clocks, power, temperature and throttle reasons;
    CPU package frequency, governor and thermal throttling; new health events in the kernel log.
    q, Esc or Ctrl-C stops it (exit 0).

    Examples:  hwtune watch;  hwtune watch --interval 5;  hwtune watch --once --json
    """

    def go() -> int:
        number("--interval", interval, low=0.2, high=86400)  # time.sleep overflows past ~9e9 s
        from hwtune.host import Host
        from hwtune.probe.sample import Sampler

        with Sampler(Host("/")) as sampler:
            if once or json_out:
                with suppress(KeyboardInterrupt):  # the way a stream of samples stops: no error
                    _samples(sampler, interval, once, json_out)
                return EXIT_OK
            _live(sampler, interval)
        return EXIT_OK

    run_command(go)


def _samples(sampler: Any, interval: float, once: bool, json_out: bool) -> None:
    while True:
        sample = sampler.sample()
        if json_out:
            print_json_line(sample)
        else:
            out.print(render_watch(sample, []), soft_wrap=not out.is_terminal)
        if once:
            return
        time.sleep(interval)


def _live(sampler: Any, interval: float) -> None:
    """Redraw every `interval` s until q, Esc or Ctrl-C: each a way to stop, none an error (exit 0)."""
    from rich.live import Live

    seen: list[dict[str, Any]] = []
    try:
        with _keys() as wait_key, Live(console=out, auto_refresh=False, screen=False) as live:
            while True:
                sample = sampler.sample()
                seen = (seen + sample["events"])[-10:]  # the newest events since the watch started
                live.update(render_watch(sample, seen, live=True), refresh=True)
                if wait_key(interval):
                    return
    except KeyboardInterrupt:  # Live and the terminal settings are restored by their exits
        return


QUIT_KEYS = (b"q", b"Q", b"\x1b")  # a lone Esc; an arrow key's "\x1b[A" is no quit


@contextmanager
def _keys() -> Iterator[Callable[[float], bool]]:
    """`wait(seconds)`: True when q or Esc was pressed within them. The terminal is put in cbreak
    mode (keys without Enter, not echoed) and restored on the way out, however that happens."""
    fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    if fd is None:  # no keyboard (stdin redirected): only Ctrl-C stops
        def sleep(seconds: float) -> bool:
            time.sleep(seconds)
            return False

        yield sleep
        return
    import select
    import termios
    import tty

    saved = termios.tcgetattr(fd)

    def wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([fd], [], [], left)[0] and os.read(fd, 64) in QUIT_KEYS:
                return True
        return False

    try:
        tty.setcbreak(fd)
        yield wait
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _of(value: Any, limit: Any, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text}/{limit:g}{unit}" if isinstance(limit, (int, float)) and limit else f"{text}{unit}"


def render_watch(sample: dict[str, Any], events: list[dict[str, Any]], live: bool = False) -> Group:
    keys = "  (q, Esc or Ctrl-C to stop)" if live else ""
    parts: list[Any] = [Text(f"hwtune watch  {sample['time']}{keys}", style="bold")]
    gpus = Table("GPUs", (Col("GPU", NUM), Col("bus id", ID), Col("util", NUM), Col("memory MiB", NUM, drop=1),
                          Col("SM MHz", NUM), Col("mem MHz", NUM, drop=2), Col("power W", NUM),
                          Col("temp C", NUM), Col("throttle")))
    for g in sample["gpus"]:
        if g.get("error"):
            gpus.add_row(str(g["index"]), g.get("bus_id") or "-", *[""] * 6, Text(g["error"], style="red"))
            continue
        reasons = [r for r in g.get("throttle_reasons", []) if r != "gpu_idle"]
        gpus.add_row(str(g["index"]), g.get("bus_id") or "-", _of(g.get("utilization_pct"), None, "%"),
                     _of(g.get("memory_used_mib"), g.get("memory_total_mib"), ""),
                     _of(g.get("sm_mhz"), g.get("sm_max_mhz"), ""), _of(g.get("mem_mhz"), g.get("mem_max_mhz"), ""),
                     _of(g.get("power_w"), g.get("power_limit_w"), ""),
                     _of(g.get("temp_c"), g.get("temp_slowdown_c"), ""),
                     Text(", ".join(reasons) or "none", style="red" if HW_REASONS & set(reasons) else ""))
    parts.append(gpus if sample["gpus"] else Text(f"GPUs: {sample['gpu_reason']}"))
    cpus = Table("CPU packages", (Col("package", ID), Col("CPUs", NUM), Col("MHz avg", NUM),
                                  Col("MHz max seen", NUM, drop=1), Col("governor"),
                                  Col("thermal throttle (new)", NUM)))
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
