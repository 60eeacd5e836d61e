"""Every table fits the terminal it is printed in, at 80 and at 60 columns, for every command
of the CLI's registry: no number or id cut (`…`) or split over two lines, every column that
must stay (rank 0) there, no line wider than the terminal."""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

import fake_nvml
from hwtune import tables
from hwtune.cli_common import out
from terminal_commands import NO_TABLE, RUNS, command_paths, journal_ids, make_world, runs_for

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (80, 60)
PATHS = command_paths()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


def in_terminal(monkeypatch, width: int, args: tuple[str, ...]) -> tuple[str, list[tables.Table]]:
    """(what a terminal `width` columns wide shows, the tables printed) for `hwtune ARGS`, in-process."""
    from hwtune.cli import app

    printed: list[tables.Table] = []
    draw = tables.Table.__rich_console__

    def recording(self, console, options):
        printed.append(self)
        yield from draw(self, console, options)

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: a terminal
    monkeypatch.setattr(out, "width", width)
    monkeypatch.setattr(out, "soft_wrap", False)  # as cli_common makes it when stdout is a terminal
    monkeypatch.setattr(tables.Table, "__rich_console__", recording)
    res = CliRunner().invoke(app, list(args))
    text = ANSI.sub("", res.stdout)
    assert "Traceback" not in text + res.stderr and res.exit_code in (0, 1), (args, res.exit_code, text, res.stderr)
    monkeypatch.undo()
    return text, printed


def test_every_command_is_covered():
    assert set(PATHS) <= set(RUNS) | set(NO_TABLE), \
        f"add to tests/terminal_commands.py: {sorted(set(PATHS) - set(RUNS) - set(NO_TABLE))}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", [p for p in PATHS if p not in NO_TABLE], ids=" ".join)
def test_every_table_fits(path, width, world, monkeypatch, tmp_path):
    monkeypatch.setenv("HWTUNE_DATA_DIR", str(tmp_path / "data"))
    fake_nvml.use_fake(monkeypatch, fake_nvml.sick_a100())  # watch's GPU table, as on a host with GPUs
    for run in runs_for(path, world):
        if run.slow and not _runtime():
            continue
        text, printed = in_terminal(monkeypatch, width, run.args)
        assert printed, f"{run.args}: no table went through hwtune.tables"
        lines = text.splitlines()
        assert "…" not in text, run.args
        too_wide = [ln for ln in lines if cell_len(ln) > width]
        assert not too_wide, (run.args, too_wide)
        for t in printed:
            for i, col in enumerate(t.cols):
                whole = [row[i].plain for row in t.rows if row[i].plain.strip() not in ("", "-")]
                if col.kind in (tables.ID, tables.NUM) and not col.drop:
                    # a column that must stay is there, each id and number whole on one line
                    missing = [v for v in whole if not any(v in ln for ln in lines)]
                    assert not missing, (run.args, width, col.header, missing)
                if not col.drop:
                    assert all(w in text for w in col.header.split()), (run.args, col.header)


def test_history_journal_id_never_wraps(world, monkeypatch):
    ids = journal_ids(world["applied"])
    assert ids
    for width in (80, 60, 40):
        text, _ = in_terminal(monkeypatch, width, ("history", "--root", str(world["applied"])))
        assert all(any(re.search(rf"(^|\s){jid}(\s|$)", ln) for ln in text.splitlines()) for jid in ids), text


def test_recommend_keeps_what_a_buyer_compares_and_names_what_it_left_out(world, monkeypatch):
    for width in WIDTHS:
        text, printed = in_terminal(monkeypatch, width, ("recommend", "--budget", "10000"))
        setups = printed[0]
        header = "\n".join(text.splitlines()[:12])
        for must in ("GPU", "cards", "total", "cost", "inf/s", "per", "$1k"):
            assert must in header, (width, must)
        totals = [row[5].plain for row in setups.rows]
        assert totals and all(re.search(rf"\s{re.escape(v)}\s", text) for v in totals)
        assert f"(not shown at {width} columns: class" in text and "--wide shows them" in text
        wide, _ = in_terminal(monkeypatch, width, ("recommend", "--budget", "10000", "--wide"))
        assert "power:" in wide and "efficiency:" in wide  # every column, stacked "header: value"


def test_serving_tables_fit(monkeypatch):
    """bench serve's tables (a LoadGen run takes minutes), from a recorded result."""
    from rich.console import Console

    from hwtune.bench.serving.render import scenario_view

    result = {"scenario": "server", "backend": "onnxruntime", "device": "CPU", "model": "plate-classifier",
              "batching": {"max_batch_size": 8, "max_queue_delay_us": 1500}, "instances": 2, "max_qps": 1234.5,
              "valid": True, "throughput_fps": 1230.0, "latency_ms": {"p50": 5.0, "p90": 12.0, "p99": 31.5},
              "foreign_cores": 0.05, "noisy": False, "loadgen_log_dir": "/tmp/x",
              "curve": [{"qps": q, "latency_ms": {"p50": 3.0, "p90": 9.0, "p99": p}, "within_slo": p <= 40,
                         "valid": True, "min_duration_s": 2.0, "foreign_cores": 0.04}
                        for q, p in ((600.0, 12.0), (1234.5, 31.5), (1400.0, 95.0))]}
    doc = {"scenario": "server", "latency_slo_ms": 40.0, "results": [result]}
    for width in WIDTHS:
        console = Console(width=width, force_terminal=True, color_system=None, record=True)
        console.print(scenario_view(doc))
        text = console.export_text()
        assert all(cell_len(ln) <= width for ln in text.splitlines()) and "…" not in text
        assert "1,234.5" in text and "31.50" in text and "VALID" in text


def _runtime() -> bool:
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None
