"""Every table hwtune prints, laid out to fit the terminal it is printed in.

One mechanism for every command. A column says what its cells are: an ID or a
NUMber is never cut or wrapped (a journal id split over two lines cannot be
pasted into `hwtune rollback`); TEXT wraps at word boundaries inside its cell.
A column with a `drop` rank leaves first when the terminal is too narrow
(highest rank first) and `--wide` brings it back; when even the columns that
stay do not fit, every row is stacked as "header: value" lines.

Piped (no terminal), a table is plain columns under a header line, its title
first, no box characters and nothing cut: what `| head -1` and `| grep` expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from hwtune.console import inert_text

ID, NUM, TEXT = "id", "num", "text"
GAP = 2  # spaces between columns
WORD_CAP = 20  # a TEXT cell's word longer than this may fold rather than widen its column
COMFORT = 18  # a TEXT column narrower than this (or its longest cell) lets droppable columns go first


@dataclass(frozen=True)
class Col:
    header: str
    kind: str = TEXT
    drop: int = 0  # 0: always shown; 1, 2, ...: left out first when the terminal is narrow
    right: bool | None = None  # default: numbers to the right

    @property
    def right_aligned(self) -> bool:
        return self.kind == NUM if self.right is None else self.right


Cell = Text | str


@dataclass
class Table:
    title: Cell
    cols: Sequence[Col]
    rows: list[list[Text]] = field(default_factory=list)
    notes: list[Cell] = field(default_factory=list)  # printed under the table, wrapped
    sections: set[int] = field(default_factory=set)  # row indexes that start a new group
    wide_option: str = ""  # the option that shows dropped columns, named in the note about them
    wide: bool = False  # every column, stacked when they cannot all fit

    def add_row(self, *cells: Cell | None, section: bool = False) -> None:
        if section and self.rows:
            self.sections.add(len(self.rows))
        # inert before layout: a control character in a value is shown written out, and measured so
        self.rows.append([inert_text(c if isinstance(c, Text) else Text("-" if c is None else str(c))) for c in cells])

    def print(self, console: Console, wide: bool | None = None) -> None:
        """Print the table on `console`: laid out to its width in a terminal, whole when piped."""
        if wide is not None:
            self.wide = wide
        # crop=False: an id wider than the whole terminal runs on (the terminal folds it), never cut
        console.print(self, soft_wrap=not console.is_terminal, crop=False)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = _terminal_lines(console, self, options.max_width) if console.is_terminal else _plain_lines(self)
        for line in lines:
            line.no_wrap, line.overflow, line.end = True, "ignore", "\n"
            yield line


# -- piped: plain columns ---------------------------------------------------------------------------

def _plain_lines(t: Table) -> list[Text]:
    widths = [max([cell_len(c.header)] + [r[i].cell_len for r in t.rows]) for i, c in enumerate(t.cols)]
    title = _text(t.title).plain
    lines = [Text(title)] if title else []
    lines.append(_join([Text(c.header) for c in t.cols], widths, t.cols, strip=True))
    lines += [_join([Text(x.plain) for x in row], widths, t.cols, strip=True) for row in t.rows]
    lines += [Text(_text(n).plain) for n in t.notes]
    return lines


def _join(cells: list[Text], widths: list[int], cols: Sequence[Col], strip: bool = False) -> Text:
    line = Text()
    for i, (cell, w, col) in enumerate(zip(cells, widths, cols, strict=False)):  # a row may be longer
        if i:
            line.append(" " * GAP)
        pad = " " * max(0, w - cell.cell_len)
        if col.right_aligned:
            line.append(pad)
        line.append_text(cell)
        if not col.right_aligned:
            line.append(pad)
    if strip:
        line.rstrip()
    return line


# -- terminal: fit the width ------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return text.split() or [""]


def min_width(col: Col, cells: list[Text]) -> int:
    """The narrowest a column can be: an ID or NUM cell whole, a TEXT cell's longest word (capped)."""
    header = max(cell_len(w) for w in _words(col.header))
    if col.kind in (ID, NUM):
        return max([header] + [c.cell_len for c in cells])
    return max([header] + [min(WORD_CAP, max(cell_len(w) for w in _words(c.plain))) for c in cells])


def natural_width(col: Col, cells: list[Text]) -> int:
    return max([cell_len(col.header)] + [max(cell_len(x) for x in c.plain.split("\n")) for c in cells])


def layout(t: Table, width: int, wide: bool) -> tuple[list[int], list[int]] | None:
    """(the indexes of the columns shown, their widths) within `width`, or None when only stacking fits."""
    shown = list(range(len(t.cols)))
    cells = [[r[i] for r in t.rows] for i in shown]
    mins = [min_width(t.cols[i], cells[i]) for i in shown]

    wants = [natural_width(t.cols[i], cells[i]) for i in shown]
    # a name squeezed to a word per line reads worse than a column less
    comfy = [max(mins[i], min(wants[i], COMFORT)) if t.cols[i].kind == TEXT else mins[i] for i in shown]

    def need(idx: list[int], widths: list[int] = mins) -> int:
        return sum(widths[i] for i in idx) + GAP * (len(idx) - 1)

    droppable = sorted((i for i in shown if t.cols[i].drop), key=lambda i: (-t.cols[i].drop, -i))
    while not wide and need(shown, comfy) > width and droppable:
        shown.remove(droppable.pop(0))
    if need(shown) > width:
        return None
    widths = {i: mins[i] for i in shown}
    spare = width - need(shown)
    # text to a comfortable width first, then headers of ids and numbers on one line, then the rest
    for kinds, goal in (((TEXT,), comfy), ((ID, NUM), wants), ((TEXT,), wants)):
        while spare > 0:
            short = [i for i in shown if widths[i] < goal[i] and t.cols[i].kind in kinds]
            if not short:
                break
            i = max(short, key=lambda j: goal[j] - widths[j])
            widths[i] += 1
            spare -= 1
    return shown, [widths[i] for i in shown]


def _terminal_lines(console: Console, t: Table, width: int) -> list[Text]:
    lines: list[Text] = []
    title = _text(t.title)
    if title.plain:
        lines += _wrap(console, title if title.style or title.spans else Text(title.plain, style="bold"), width)
    fitted = layout(t, width, t.wide)
    if fitted is None:
        lines += _stacked_lines(console, t, width)
    else:
        shown, widths = fitted
        cols = [t.cols[i] for i in shown]
        lines += _cell_lines(console, [Text(c.header, style="bold") for c in cols], widths, cols, header=True)
        lines.append(Text((" " * GAP).join("─" * w for w in widths), style="dim"))
        for n, row in enumerate(t.rows):
            if n in t.sections:
                lines.append(Text(""))
            lines += _cell_lines(console, [row[i] for i in shown], widths, cols)
        left_out = [c.header for i, c in enumerate(t.cols) if i not in shown]
        if left_out:
            more = f"; {t.wide_option} shows them" if t.wide_option else ""
            lines += _wrap(console, Text(f"(not shown at {width} columns: {', '.join(left_out)}{more})",
                                         style="dim"), width)
    for note in t.notes:
        lines += _wrap(console, _text(note), width)
    return lines


def _wrap(console: Console, text: Text, width: int) -> list[Text]:
    return list(text.wrap(console, width, overflow="fold")) or [Text("")]


def _cell_lines(console: Console, cells: list[Text], widths: list[int], cols: Sequence[Col],
                header: bool = False) -> list[Text]:
    wrapped = []
    for cell, w, col in zip(cells, widths, cols, strict=True):
        if col.kind in (ID, NUM) and not header:
            wrapped.append([cell])
        else:
            wrapped.append(list(cell.wrap(console, w, overflow="fold")) or [Text("")])
    height = max(len(x) for x in wrapped)
    return [_join([x[k] if k < len(x) else Text("") for x in wrapped], widths, cols, strip=True)
            for k in range(height)]


def _stacked_lines(console: Console, t: Table, width: int) -> list[Text]:
    """Each row as "header: value" lines: what every column shows when side by side cannot fit."""
    label = max(cell_len(c.header) for c in t.cols) + 2
    room = max(width - label, 1)
    lines: list[Text] = []
    for n, row in enumerate(t.rows):
        if n:
            lines.append(Text(""))
        for col, cell in zip(t.cols, row, strict=False):
            head = Text(f"{col.header}:".ljust(label), style="bold")
            if col.kind in (ID, NUM) and cell.cell_len > room:  # whole, on a line of its own
                lines += [head, cell]
                continue
            values = [cell] if col.kind in (ID, NUM) else _wrap(console, cell, room)
            lines += [Text.assemble(head if k == 0 else " " * label, v) for k, v in enumerate(values)]
    return lines


def _text(value: Cell) -> Text:
    return value if isinstance(value, Text) else Text(str(value))


def widen(view: object, wide: bool = True) -> object:
    """`view` (a Table, or a rich Group of parts) with every Table in it showing every column."""
    for part in getattr(view, "renderables", [view]):
        if isinstance(part, Table):
            part.wide = wide
    return view
