"""`hwtune check --format json|junit|prometheus [--output PATH]`: the machine-readable outputs.

With --output the file is replaced atomically, so node_exporter's textfile
collector or a CI job never reads half a report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hwtune.errors import ConfigError
from hwtune.report.atomic import write_atomic
from hwtune.report.junit import render_junit
from hwtune.report.prometheus import render_prometheus

FORMATS = ("json", "junit", "prometheus")


def render_check(fmt: str, report_json: dict[str, Any], facts_json: dict[str, Any] | None, hostname: str,
                 bench_results: list[dict[str, Any]], now_s: float) -> str:
    if fmt == "json":
        return json.dumps(report_json, indent=2, default=str) + "\n"
    if fmt == "junit":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now_s))
        return render_junit(report_json, hostname, timestamp=stamp)
    if fmt == "prometheus":
        return render_prometheus(report_json, facts_json, bench_results, now_s)
    raise ConfigError(f"--output writes {', '.join(FORMATS)}; add --format (not {fmt})")


def write_check(fmt: str, report_json: dict[str, Any], facts_json: dict[str, Any] | None, root: Path | None,
                output: Path | None) -> str | None:
    """Render one format and write it to `output` (atomically); without `output`, the text, for
    the command to print.

    The newest bench results are exported only for the live host: with --root
    the saved runs on this machine are not the snapshot's.
    """
    from hwtune.report import inputs  # start-up: it reads journals and saved runs; `check` needs it only here

    bench_results: list[dict[str, Any]] = []
    if fmt == "prometheus" and root is None:
        bench_results = inputs.all_results(inputs.load_bench_runs(inputs.bench_runs_dir()).docs)
    text = render_check(fmt, report_json, facts_json, inputs.host_name(root), bench_results, time.time())
    if output is None:
        return text

    write_atomic(output, text)
    return None
