"""The pipeline's inputs: the user's folder read under caps, bad files refused with one line and counted."""

from __future__ import annotations

import os

import pytest

from hwtune.bench.pipeline import inputs
from hwtune.errors import ConfigError
from pipeline_helpers import hostile_folder, png_bomb, small_jpeg

pytest.importorskip("PIL", reason="the pipeline extra (Pillow) is not installed")


def test_a_folder_of_good_and_bad_files_keeps_the_good_and_counts_each_refusal(tmp_path):
    bad = hostile_folder(tmp_path / "in")
    got = inputs.read_images(tmp_path / "in")
    assert sorted(i.name for i in got.images) == ["good.jpg", "good.png", "good.webp"]
    assert sorted(i.fmt for i in got.images) == ["jpeg", "png", "webp"]
    refused = {r.name: r.reason for r in got.refused}
    assert set(refused) == set(bad)
    assert got.refused_count == len(bad)
    assert "truncated or corrupt JPEG" in refused["truncated.jpg"]
    assert "100000x100000" in refused["bomb.png"] or "decompression bomb" in refused["bomb.png"]
    assert refused["notes.txt"] == "not a JPEG, PNG or WebP file"
    assert "symlink" in refused["link.jpg"]
    assert "not a regular file" in refused["sub"] or "directory" in refused["sub"]
    assert all("\n" not in r for r in refused.values())


def test_the_pixel_cap_is_checked_from_the_header_before_anything_decodes():
    # under Pillow's own bomb limit, over hwtune's: refused by the header, nothing allocated
    with pytest.raises(ValueError, match=r"declares 9000x8000 pixels, over the 64 MP cap"):
        inputs.check_image("big.png", png_bomb(9000, 8000))
    with pytest.raises(ValueError, match="decompression bomb"):
        inputs.check_image("bomb.png", png_bomb())


def test_a_fifo_is_refused_without_waiting_on_it(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.jpg")
    (folder / "ok.jpg").write_bytes(small_jpeg())
    got = inputs.read_images(folder)
    assert [i.name for i in got.images] == ["ok.jpg"]
    assert "not a regular file" in got.refused[0].reason


def test_a_file_over_the_size_cap_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 1000)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "large.jpg").write_bytes(small_jpeg(640, 480))
    (folder / "tiny.jpg").write_bytes(small_jpeg(16, 16))
    got = inputs.read_images(folder)
    assert [i.name for i in got.images] == ["tiny.jpg"]
    assert "larger than" in got.refused[0].reason


@pytest.mark.parametrize("setup", ["empty", "only_bad", "missing"])
def test_a_folder_with_no_usable_image_is_one_error_naming_it(tmp_path, setup):
    folder = tmp_path / "in"
    if setup != "missing":
        folder.mkdir()
    if setup == "only_bad":
        (folder / "a.txt").write_text("hello")
    with pytest.raises(ConfigError) as exc:
        inputs.read_images(folder)
    assert str(folder) in exc.value.message and "\n" not in exc.value.message


def test_the_format_is_told_by_the_bytes_not_the_name():
    assert inputs.sniff(small_jpeg()[:16]) == "jpeg"
    assert inputs.sniff(png_bomb()[:16]) == "png"
    assert inputs.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert inputs.sniff(b"GIF89a") is None


def test_a_file_name_with_an_escape_sequence_is_shown_escaped(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "evil\x1b[2J.jpg").write_bytes(b"not an image")
    (folder / "ok.jpg").write_bytes(small_jpeg())
    got = inputs.read_images(folder)
    assert got.refused[0].name == "evil\\x1b[2J.jpg"
    assert inputs.printable("a\tb\u2028c") == "a\\x09b\\u2028c"
