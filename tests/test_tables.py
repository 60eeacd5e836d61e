"""hwtune.tables: the one layout every table goes through."""

from __future__ import annotations

from rich.console import Console

from hwtune.tables import ID, NUM, Col, Table, layout


def table() -> Table:
    t = Table("Best setups", (Col("#", NUM, drop=1), Col("GPU"), Col("class", ID, drop=3), Col("cards", NUM),
                              Col("total cost", NUM), Col("power", NUM, drop=2)), wide_option="--wide")
    t.add_row("1", "GeForce RTX 4060 Ti 16GB", "desktop", "8", "$9,992", "1,920 W")
    t.add_row("10", "L4", "server", "2", "$8,190", "444 W")
    return t


def shown(t: Table, width: int, wide: bool = False) -> list[str] | None:
    fitted = layout(t, width, wide)
    return None if fitted is None else [t.cols[i].header for i in fitted[0]]


def screen(t: Table, width: int, wide: bool = False) -> list[str]:
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    t.print(console, wide)
    return console.export_text().splitlines()


def test_columns_leave_by_rank_and_the_table_says_which():
    t = table()
    assert shown(t, 200) == ["#", "GPU", "class", "cards", "total cost", "power"]
    assert shown(t, 50) == ["#", "GPU", "cards", "total cost", "power"]  # class (3) first
    assert shown(t, 44) == ["#", "GPU", "cards", "total cost"]  # then power (2)
    assert shown(t, 36) == ["GPU", "cards", "total cost"]
    assert "(not shown at 44 columns: class, power; --wide shows them)" in " ".join(" ".join(screen(t, 44)).split())


def test_names_wrap_at_words_numbers_stay_whole():
    lines = screen(table(), 38)
    assert all(len(line) <= 38 for line in lines)
    assert any("GeForce RTX" in line and "$9,992" in line for line in lines)
    assert any(line.strip() == "4060 Ti 16GB" for line in lines) or any("16GB" in line for line in lines)
    assert not any("…" in line for line in lines)


def test_too_narrow_or_wide_stacks_every_column():
    t = table()
    assert shown(t, 18) is None and shown(t, 40, wide=True) is None
    lines = screen(t, 40, wide=True)
    assert "power:      1,920 W" in lines and "class:      desktop" in lines
    assert all(len(line) <= 40 for line in lines)


def test_an_id_longer_than_the_room_stacks_on_a_line_of_its_own():
    t = Table("", (Col("id", ID), Col("state")))
    t.add_row("20261207-053758-538536", "applied")
    lines = screen(t, 20)
    assert "20261207-053758-538536" in lines  # whole, even wider than the terminal: never split


def test_piped_is_plain_columns_under_a_header():
    console = Console(width=10_000, force_terminal=False, record=True)
    table().print(console)
    lines = console.export_text().splitlines()
    assert lines[0] == "Best setups"
    assert lines[1].split() == ["#", "GPU", "class", "cards", "total", "cost", "power"]
    assert lines[2].split()[:5] == ["1", "GeForce", "RTX", "4060", "Ti"] and lines[2].endswith("1,920 W")
    assert all(line == line.rstrip() for line in lines)
