"""Every command of the CLI's own registry, with arguments that make it print what it prints
(on recorded snapshots, saved runs and fleets): the width test and the pipe test run each one.

A command added to the CLI and not listed here fails both tests until it is: listed with the
arguments that show its tables, or in NO_TABLE with what it prints instead.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import typer

from conftest import snapshot
from report_helpers import bench_run, check_json, facts_json, write_json

NO_TABLE = {
    ("snapshot",): "writes a folder and prints one line naming it",
    ("report",): "writes one HTML page and prints one line naming it",
    ("guard", "history"): "prints the health history as lines, one per event, verdict and action",
    ("guard", "undo"): "prints one line naming the action undone (run against a real Slurm in test_guard_slurm)",
    ("bench", "export"): "writes an ONNX file and prints one line naming it",
}


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    first: str  # what the first line piped starts with: the title or the header
    slow: bool = False
    env: tuple[tuple[str, str], ...] = ()  # variables the run needs besides the test's own


def command_paths() -> list[tuple[str, ...]]:
    """("check",), ("profiles", "list"), ...: from the app every entry point runs."""
    from hwtune.cli import app

    root = typer.main.get_command(app)
    paths = []
    for name, cmd in root.commands.items():
        subs = getattr(cmd, "commands", None)
        paths += [(name, sub) for sub in subs] if subs else [(name,)]
    return sorted(paths)


def fresh_copy(base: Path, name: str = "laptop-i7-1370p-powersave") -> Path:
    n = sum(1 for _ in base.glob("copy-*"))
    root = base / f"copy-{n}"
    shutil.copytree(snapshot(name), root, symlinks=True)
    return root


def make_world(base: Path) -> dict[str, Path]:
    """Folders the runs read: a snapshot copy with one apply journaled, two saved bench runs, a fleet."""
    from typer.testing import CliRunner

    from hwtune.cli import app

    applied = fresh_copy(base)
    res = CliRunner().invoke(app, ["apply", "-p", "cpu-inference", "--root", str(applied), "--yes"])
    assert res.exit_code == 0, res.stdout
    runs = base / "runs"
    write_json(runs / "before.json", bench_run("2026-11-20T10:00:00+00:00"))
    write_json(runs / "after.json", bench_run("2026-11-21T10:00:00+00:00", scale=0.8))
    fleet = base / "fleet"
    for host, snap in {"laptop-a": "laptop-i7-1370p-powersave", "epyc": "epyc7451-2s-8numa",
                       "vm": "vm-kvm-2vcpu-nocpufreq", "gpu-node-with-a-long-name": "gpu-2xa5000-xml"}.items():
        write_json(fleet / host / "check.json", check_json(snap))
        write_json(fleet / host / "facts.json", facts_json(snap))
    (base / "data").mkdir(exist_ok=True)
    state = base / "guard-state"
    state.mkdir(mode=0o700)
    res = CliRunner().invoke(app, ["guard", "--once", "--root", _snap("xid79-fallen-off-bus-gpu-lost"), "--node", "n1"],
                             env={"HWTUNE_STATE_DIR": str(state)})
    assert res.exit_code == 1, res.stdout  # a lost GPU: the node is not healthy
    return {"applied": applied, "runs": runs, "fleet": fleet, "base": base, "guard_state": state}


def _snap(name: str) -> str:
    return str(snapshot(name))


LAPTOP, GPU, EPYC = "laptop-i7-1370p-powersave", "gpu-2xa5000-xml", "epyc7451-2s-8numa"

# each command's runs, made when asked for (a run may need a fresh snapshot copy)
RUNS = {
    ("check",): lambda w: [Run(("check", "--root", _snap(LAPTOP)), "hwtune check: profile"),
                           Run(("check", "--root", _snap(GPU), "-p", "gpu-inference", "--verbose"),
                               "hwtune check: profile")],
    ("facts",): lambda w: [Run(("facts", "--root", _snap(GPU)), "hwtune facts")],
    ("profiles", "list"): lambda w: [Run(("profiles", "list"), "profile")],
    ("profiles", "show"): lambda w: [Run(("profiles", "show", "gpu-inference"), "gpu-inference")],
    ("apply",): lambda w: [
        Run(("apply", "-p", "cpu-inference", "--root", str(fresh_copy(w["base"])), "--dry-run"), "Plan:"),
        Run(("apply", "-p", "gpu-inference", "--root", str(fresh_copy(w["base"], GPU)), "--yes"), "Plan:")],
    ("rollback",): lambda w: [Run(("rollback", "--root", str(_applied_copy(w["base"]))), "Rolled back")],
    ("history",): lambda w: [Run(("history", "--root", str(w["applied"])), "hwtune apply history")],
    ("bench", "run"): lambda w: [
        Run(("bench", "run", "--model", "mlp", "--backend", "ort", "--mode", "sync,async", "--batch", "1",
             "--time", "0.15", "--min-count", "3", "--no-save"), "mlp:", slow=True)],
    ("bench", "tune"): lambda w: [
        Run(("bench", "tune", "--model", "mlp", "--backend", "ort", "--precision", "fp32", "--batch", "1",
             "--mode", "sync", "--time", "0.15", "--min-count", "3", "--no-save"), "onnxruntime/CPU:", slow=True)],
    ("bench", "serve"): lambda w: [
        Run(("bench", "serve", "--scenario", "singlestream", "--model", "fixed:1ms", "--duration", "0.5s",
             "--no-save"), "singlestream scenario", slow=True)],
    ("bench", "compare"): lambda w: [
        Run(("bench", "compare", str(w["runs"] / "before.json"), str(w["runs"] / "after.json")),
            str(w["runs"] / "before.json"))],
    ("bench", "devices"): lambda w: [Run(("bench", "devices"), "backend", slow=True)],
    ("recommend",): lambda w: [
        Run(("recommend", "--budget", "10000"), "Workload resnet50"),
        Run(("recommend", "--budget", "5000", "--all"), "Workload resnet50"),
        Run(("recommend", "--workload", "llama3.1-8b", "--precision", "fp8", "--target-fps", "50000", "--all"),
            "Workload llama3.1-8b")],
    ("fleet", "report"): lambda w: [Run(("fleet", "report", str(w["fleet"])), "hwtune fleet:")],
    ("diff",): lambda w: [Run(("diff", _snap(LAPTOP), _snap(EPYC)), "A:")],
    ("watch",): lambda w: [Run(("watch", "--once"), "hwtune watch")],
    ("guard", "history"): lambda w: [Run(("guard", "history"), "n1 0000:a1:00.0: ",
                                         env=(("HWTUNE_STATE_DIR", str(w["guard_state"])),))],
    # an undo needs an action an actuator executed: its own test drives a real Slurm
    ("guard", "undo"): lambda w: [Run(("guard", "undo", "--help"), "Usage: ")],
}


def runs_for(path: tuple[str, ...], world: dict[str, Path]) -> list[Run]:
    make = RUNS.get(path)
    return make(world) if make else []


def _applied_copy(base: Path) -> Path:
    from typer.testing import CliRunner

    from hwtune.cli import app

    root = fresh_copy(base)
    res = CliRunner().invoke(app, ["apply", "-p", "cpu-inference", "--root", str(root), "--yes"])
    assert res.exit_code == 0, res.stdout
    return root


def journal_ids(root: Path) -> list[str]:
    from typer.testing import CliRunner

    from hwtune.cli import app

    return [row["id"] for row in json.loads(CliRunner().invoke(app, ["history", "--root", str(root), "--json"]).stdout)]
