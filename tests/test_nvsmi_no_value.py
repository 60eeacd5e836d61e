"""nvidia-smi's words for a field without a value, in one place and three meanings: the GPU
could not read it, the GPU has none, nvidia-smi did not ask."""

from __future__ import annotations

import pytest

from hwtune.probe.gpuhealth import is_not_reported, is_unreadable, no_value, text_value


@pytest.mark.parametrize("raw, unreadable, not_reported", [
    ("[Unknown Error]", True, False), ("Unknown Error", True, False), ("ERR!", True, False),
    ("[GPU is lost]", True, False), ("[GPU requires reset]", True, False),
    ("[N/A]", False, True), ("N/A", False, True), ("[Not Supported]", False, True),
    ("Not Supported", False, True),
    ("Insufficient Permissions", False, False), ("None", False, False), ("", False, False),
    ("35 C", False, False), ("Enabled", False, False),
])
def test_each_spelling_has_one_meaning(raw, unreadable, not_reported):
    assert is_unreadable(raw) is unreadable and is_not_reported(raw) is not_reported
    assert no_value(raw) is (unreadable or not_reported or raw in ("Insufficient Permissions", "None", ""))
    assert text_value(raw) == (None if no_value(raw) else raw)


def test_a_value_is_kept_as_written():
    assert text_value("  NVIDIA H100 80GB HBM3 ") == "NVIDIA H100 80GB HBM3"
    assert no_value(None) and text_value(None) is None
