"""The consoles hwtune prints through: whatever a host, a tree, a log or a JSON file said is shown inert.

A value read from elsewhere (an os-release name, a process name from the
kernel log, a host name in a fleet folder, a string in a diffed file) may
hold ESC sequences that clear the screen, hide lines or set the clipboard
(OSC 52), or bidirectional overrides that reorder what is shown. The
consoles every command prints through replace them (`hwtune.text.inert`:
ESC is shown as `\\x1b`), so no command or renderer has to remember to. Styles
stay what hwtune's own code gives its text (rich emits their codes after this).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.segment import Segment
from rich.text import Span, Text

from hwtune.text import INERT, inert


def inert_text(text: Text) -> Text:
    """`text` made inert, its styles kept on the same characters."""
    plain = text.plain
    if plain.isprintable():
        return text
    shown, offsets = [], [0]
    for ch in plain:  # only for text that holds a control character: a hostile value, seldom long
        shown.append(ch.translate(INERT))
        offsets.append(offsets[-1] + len(shown[-1]))
    spans = [Span(offsets[min(s.start, len(plain))], offsets[min(s.end, len(plain))], s.style) for s in text.spans]
    return Text("".join(shown), text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap,
                end=text.end, tab_size=text.tab_size, spans=spans)


def inert_renderable(renderable: Any) -> Any:
    """Strings, Text, and the tables and groups hwtune prints, made inert before rich lays them out
    (so a column is as wide as what is shown); anything else is left to `InertConsole.render`."""
    if isinstance(renderable, str):
        return inert(renderable)
    if isinstance(renderable, Text):
        return inert_text(renderable)
    if isinstance(renderable, Group):
        return Group(*(inert_renderable(r) for r in renderable.renderables), fit=renderable.fit)
    return renderable  # hwtune's tables (hwtune.tables) are made inert as their rows are added


class InertConsole(Console):
    """A rich Console whose printed text is `inert`: made so before layout where the renderable is
    known (`print`), and on every segment rendered (`render`) as the net under everything else
    (a Live display, a progress bar). Rich's own control segments (cursor moves) pass."""

    def print(self, *objects: Any, **options: Any) -> None:
        super().print(*(inert_renderable(o) for o in objects), **options)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            text = segment.text
            if segment.control or text.isprintable() or text == "\n":
                yield segment
            else:
                yield Segment(inert(text), segment.style)
