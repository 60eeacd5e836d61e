"""Inputs for the report tests: real snapshots from tests/fixtures, and small hand-made documents
in the shapes `hwtune bench`, `hwtune recommend` and `hwtune apply` write (those commands
are built on other branches; these samples follow their JSON, field for field)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import snapshot


def cli_app():
    """The root app, as `hwtune` runs it."""
    from hwtune.cli import app

    return app


def invoke(*args: str):
    return CliRunner().invoke(cli_app(), [str(a) for a in args], catch_exceptions=False)


def check_json(name: str | Path, profile: str | None = None) -> dict[str, Any]:
    """`hwtune check --json` of a snapshot by name, or of a root folder."""
    root = name if isinstance(name, Path) else snapshot(name)
    res = invoke("check", "--root", root, "--json", *(["--profile", profile] if profile else []))
    return json.loads(res.stdout)


def check_row(root: Path, check_id: str, profile: str = "gpu-inference") -> dict[str, Any]:
    """One check's row of `hwtune check --json` on a root folder."""
    return next(r for r in check_json(root, profile)["results"] if r["id"] == check_id)


def facts_json(name: str) -> dict[str, Any]:
    return json.loads(invoke("facts", "--root", snapshot(name), "--json").stdout)


def _result(backend, device, model, batch, mode, fps, p50, streams=None, precision="fp32", executed=None,
            threads=None) -> dict[str, Any]:
    return {
        "backend": backend, "device": device, "device_name": "13th Gen Intel(R) Core(TM) i7-1370P",
        "model": model, "batch": batch, "mode": mode, "precision_requested": precision,
        "precision_executed": executed or precision, "streams_requested": streams, "threads_requested": threads,
        "pin_requested": None, "streams": streams if backend == "openvino" else None, "threads": threads,
        "requests_in_flight": streams or 1, "providers": [], "runtime_details": {},
        "throughput_fps": fps, "throughput_spread": None,
        "latency_ms": {"p50": p50, "p90": round(p50 * 1.12, 3), "p99": round(p50 * 1.45, 3),
                       "mean": round(p50 * 1.05, 3), "min": round(p50 * 0.93, 3), "max": round(p50 * 1.9, 3)},
        "requests": 200, "wall_s": 2.0, "repeats": 1, "cold_start": {"load_ms": 80.0, "first_inference_ms": 9.0},
        "flops_per_frame": 1_240_000_000, "flops_lower_bound": False, "gflops_per_s": 0.0, "peak_gflops": None,
        "peak_fraction": None, "noisy": False,
        "foreign_load": {"before": {"window_s": 0.5, "foreign_cores": 0.02, "steal_cores": 0.0},
                         "during": {"window_s": 2.0, "foreign_cores": 0.03, "steal_cores": 0.0}},
    }


def bench_run(created_utc: str = "2026-11-20T10:00:00+00:00", scale: float = 1.0) -> dict[str, Any]:
    """A sweep: sync latency over batch 1..16 on two runtimes, async throughput over 1..8 streams, and
    tuner trials (threads x streams) on OpenVINO."""
    model = "plate-classifier"
    results = []
    for backend, device, base in (("onnxruntime", "cpu", 4.1), ("openvino", "CPU", 3.2)):
        for batch in (1, 2, 4, 8, 16):
            p50 = round(base * scale * batch ** 0.82, 3)
            results.append(_result(backend, device, model, batch, "sync", round(1000 * batch / p50, 2), p50))
        for streams in (1, 2, 4, 8):
            fps = round(1000 / (base * scale) * min(streams, 2) ** 0.9 * (1 - 0.03 * max(streams - 2, 0)), 2)
            results.append(_result(backend, device, model, 1, "async", fps, round(base * scale * streams ** 0.95, 3),
                                   streams=streams))
    trials = []
    for threads in (1, 2):
        for streams in (1, 2, 4):
            fps = round(1000 / 3.2 * (threads * 0.55 + 0.45) * min(streams, 2) ** 0.4 / scale, 2)
            trials.append(_result("openvino", "CPU", model, 1, "async", fps,
                                  round(3.2 * scale * streams / threads ** 0.7, 3), streams=streams, threads=threads))
    return {"schema": 1, "created_utc": created_utc, "host": {"digest": "ab" * 32, "source": "probe_facts"},
            "versions": {"python": "3.11.7", "hwtune": "0.1.0", "onnxruntime": "1.20.1", "openvino": "2025.1.0"},
            "model": model, "model_path": "/tmp/plate-classifier.onnx", "flops_per_frame": 1_240_000_000,
            "flops_unknown_ops": [], "results": results, "skipped": [], "peaks": {}, "notes": [],
            "tuner": {"objective": "throughput", "trials": trials}}


def recommend_doc() -> dict[str, Any]:
    rows = [("L4", "datacenter", "fp16", 2450.0, 2500.0), ("A10", "datacenter", "fp16", 3100.0, 3200.0),
            ("L40S", "datacenter", "fp8", 9800.0, 8500.0), ("H100 PCIe", "datacenter", "fp8", 21000.0, 27000.0),
            ("RTX 4090", "consumer", "fp16", 8200.0, 1900.0), ("RTX 4060 Ti 16GB", "consumer", "fp16", 2300.0, 450.0),
            ("A100 80GB", "datacenter", "bf16", 9200.0, 15000.0), ("T4", "datacenter", "int8", 1500.0, None)]
    return {"workload": "resnet50", "basis": "street", "estimates": [
        {"gpu": g, "class": c, "precision": p, "throughput_per_s": t, "price_usd": price}
        for g, c, p, t, price in rows]}


def journal(jid: str, started: str, state: str = "applied", n_steps: int = 2) -> dict[str, Any]:
    steps = [{"key": "cpu.governor", "where": f"policy{i}", "kind": "value",
              "path": f"/sys/devices/system/cpu/cpufreq/policy{i}/scaling_governor", "old": "powersave",
              "new": "performance", "reader": "text", "old_raw_b64": None, "created_dirs": []}
             for i in range(n_steps)]
    return {"schema": 1, "id": jid, "started": started, "state": state, "steps": steps, "profile": "cpu-inference",
            "root": "/", "boot": False, "persist": False, "finished": started, "error": None, "rolled_back": None}


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium(page: Path, tmp: Path, *extra: str) -> tuple[str, list[str]]:
    """Run Chromium on a file; its stdout, and the page's console messages (errors, CSP violations, logs)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package chromium; "
                                    ".ci/run installs it)")
