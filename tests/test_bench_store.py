"""Saved runs: where they go, what they carry, and loading them back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hwtune.bench import store
from hwtune.errors import ConfigError


def test_host_digest_is_canonical():
    a = store.host_digest({"facts": {"b": 1, "a": [1, 2]}, "schema": 1})
    b = store.host_digest({"schema": 1, "facts": {"a": [1, 2], "b": 1}})
    assert a == b and len(a) == 64
    assert a != store.host_digest({"schema": 1, "facts": {"a": [2, 1], "b": 1}})


def test_save_and_load_a_run(data_dir):
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    path = store.save_run({"results": [{"backend": "openvino"}]}, when)
    assert path.parent == data_dir / "bench" / "runs"
    assert path.name.startswith("20260102T030405-")
    again = store.save_run({"results": []}, when)
    assert again != path  # same second: a second file, not an overwrite
    doc = store.load_run(path.stem)
    assert doc["created_utc"] == "2026-01-02T03:04:05+00:00"
    assert doc["host"]["source"] == "probe_facts"
    assert doc["versions"]["openvino"] and doc["versions"]["python"]
    assert sorted(store.runs_dir().glob("*.json")) == sorted([path, again])


def test_loading_something_else_is_a_one_line_error(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="no saved run"):
        store.load_run("20990101T000000-nothing")
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    with pytest.raises(ConfigError, match=r"x.json: not JSON"):
        store.load_run(not_json)
    other = tmp_path / "y.json"
    other.write_text(json.dumps({"schema": 1}))
    with pytest.raises(ConfigError, match="not a hwtune bench run"):
        store.load_run(other)


def test_data_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HWTUNE_DATA_DIR", str(tmp_path / "d"))
    assert store.models_dir() == tmp_path / "d" / "bench" / "models"
    monkeypatch.delenv("HWTUNE_DATA_DIR")
    assert store.data_dir().name == "hwtune"
