"""Every label recommend's tables use is explained under them, from the one mapping in
hwtune.recommend.labels: a label the data gains without a meaning fails here."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from hwtune import tables
from hwtune.cli import app
from hwtune.recommend.labels import LABELS

# the labels in a column's cell: the words after the figure, and the marks
LABEL_OF = {
    "efficiency": lambda cell: re.findall(r"[a-z]+|[!*]", cell.split(" ", 1)[1]) if " " in cell else [],
    "hosts": lambda cell: cell.split()[1:],
    "bound": lambda cell: [cell] if re.fullmatch(r"[a-z]+", cell) else [],  # else why it cannot be estimated
    "runs as": lambda cell: ["*"] if cell.endswith("*") else [],
}


@pytest.mark.parametrize("args", [["--budget", "10000"], ["--budget", "5000", "--all"],
                                  ["--workload", "llama3.1-8b", "--precision", "fp8", "--all"],
                                  ["--budget", "5000", "--precision", "fp8", "--class", "server", "--all"]])
def test_every_label_shown_has_its_meaning_under_the_table(args, monkeypatch):
    printed: list[tables.Table] = []
    draw = tables.Table.__rich_console__

    def recording(self, console, options):
        printed.append(self)
        yield from draw(self, console, options)

    monkeypatch.setattr(tables.Table, "__rich_console__", recording)
    text = CliRunner().invoke(app, ["recommend", *args, "--wide"]).stdout
    with_labels = [t for t in printed if any(c.header in LABEL_OF for c in t.cols)]
    assert with_labels
    for t in with_labels:
        below = text[text.index(t.rows[-1][1].plain):]  # the legend follows the table's last row
        for i, col in enumerate(t.cols):
            if col.header not in LABEL_OF:
                continue
            labels = {x for row in t.rows for x in LABEL_OF[col.header](row[i].plain)}
            unknown = labels - set(LABELS[col.header])
            assert not unknown, f"{col.header}: {sorted(unknown)} shown with no meaning in hwtune.recommend.labels"
            for label in labels:
                assert re.search(rf"^{re.escape(col.header)}: .*{re.escape(label)} = "
                                 rf"{re.escape(LABELS[col.header][label])}", below, re.M), (col.header, label)
