"""Shared pieces of the bench tests: a tmp data dir and short plans."""

from __future__ import annotations

import pytest

SHORT = {"time_s": 0.15, "min_count": 3}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HWTUNE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def invoke_bench(*args: str):
    """`hwtune bench ARGS` in-process, with the bench command alone registered."""
    import typer
    from typer.testing import CliRunner

    from hwtune import cli_bench

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        pass

    cli_bench.register(app)
    return CliRunner().invoke(app, ["bench", *args])
