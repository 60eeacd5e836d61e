"""The fleet page: hosts x checks, coloured by status, with the cells that differ from the majority marked."""

from __future__ import annotations

from html import escape
from typing import Any

from hwtune.report.fleet import HostResult, check_rows, fleet_json
from hwtune.report.layout import STATUS_COLOR, badge, counts_line, page

STYLE = """
.grid th.c{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:500;padding:6px 3px}
.grid td.s{width:30px;text-align:center;color:#fff;font-weight:600;font-size:11px;padding:3px 2px}
.grid td.odd{outline:3px solid #111;outline-offset:-3px}
.grid tr.maj td{background:#eef1f4;font-weight:600}
.grid td.host{white-space:nowrap}
body:has(#onlydiff:checked) .same{display:none}
.key span{margin-right:14px}
"""

ABBREV = {"PASS": "P", "WARN": "W", "FAIL": "F", "SKIP": "S", "ERROR": "E"}


def _cell(status: str | None, odd: bool, cls: str, tip: str) -> str:
    if status is None:
        return f'<td class="s {cls}" title="{escape(tip)}: not run" style="background:#fff;color:#999">-</td>'
    mark = " odd" if odd else ""
    return (f'<td class="s {cls}{mark}" title="{escape(tip)}: {escape(status)}'
            f'{" (differs from the majority)" if odd else ""}"'
            f' style="background:{STATUS_COLOR.get(status, "#999")}">{ABBREV.get(status, "?")}</td>')


def render_fleet_html(hosts: list[HostResult], title: str, generated: str) -> str:
    rows = check_rows(hosts)
    summary = fleet_json(hosts)
    cls = {r.id: ("diff" if r.differ or r.majority is None else "same") for r in rows}
    head = "".join(f'<th class="c {cls[r.id]}" title="{escape(r.title)}">{escape(r.id)}</th>' for r in rows)
    maj = "".join(_cell(r.majority, False, cls[r.id], f"{r.id} majority") if r.majority else
                  f'<td class="s {cls[r.id]}" style="background:#fff;color:#111" title="no majority">~</td>'
                  for r in rows)
    body_rows = [f'<tr class="maj"><td class="host">majority</td><td></td><td></td>{maj}</tr>']
    by_name = {h["name"]: h for h in summary["hosts"]}
    for h in hosts:
        info = by_name[h.name]
        if h.report is None:
            # width:0 + min-width:100%: a long error wraps inside the row instead of widening a column
            body_rows.append(f'<tr><td class="host"><b>{escape(h.name)}</b></td><td>{badge(h.status)}</td>'
                             f'<td colspan="{len(rows) + 1}"><div style="width:0;min-width:100%">'
                             f'{escape(h.status)}: {escape(h.error or "")}</div></td></tr>')
            continue
        st = h.statuses()
        cells = "".join(_cell(st.get(r.id), h.name in r.differ, cls[r.id], f"{h.name} {r.id}") for r in rows)
        n_odd = len(info["differs_from_majority"])
        body_rows.append(f'<tr><td class="host"><b>{escape(h.name)}</b><br><small>{escape(str(info["profile"]))}'
                         f'</small></td><td>{badge(h.status)}</td><td class="num">{n_odd}</td>{cells}</tr>')
    grid = (f'<table class="grid"><thead><tr><th>host</th><th>status</th><th>differs</th>{head}</tr></thead>'
            f'<tbody>{"".join(body_rows)}</tbody></table>')
    key = '<p class="key">' + "".join(f'<span>{badge(s)} = {a}</span>' for s, a in ABBREV.items()) + \
        "<span>outlined: differs from the majority of hosts; ~: no status has a majority</span></p>"
    toggle = '<p><label><input type="checkbox" id="onlydiff"> show only checks where hosts differ</label></p>'
    outliers = [(r.id, n, r.statuses[n]) for r in rows for n in r.differ]
    odd_list = "".join(f"<li><code>{escape(cid)}</code>: <b>{escape(n)}</b> {badge(s)}</li>"
                       for cid, n, s in outliers) or "<li>none: every host agrees with the majority</li>"
    host_counts = ", ".join(f"{n} {escape(s)}" for s, n in summary["host_counts"].items())
    sub = f"{len(hosts)} hosts: {host_counts}"
    body = (f"<h2>Hosts x checks</h2>{key}{toggle}{grid}<h2>Hosts that differ from the majority</h2>"
            f"<ul>{odd_list}</ul>" + _hosts_table(summary))
    return page(title, sub, body, generated, style=STYLE)


def _hosts_table(summary: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{escape(h['name'])}</td><td>{badge(h['status'])}</td><td>{counts_line(h['counts'] or {})}</td>"
        f"<td>{escape(str(h['cpu_model'] or '-'))}</td><td>{escape(str(h['kernel'] or '-'))}</td></tr>"
        for h in summary["hosts"])
    return ("<h2>Hosts</h2><table><thead><tr><th>host</th><th>status</th><th>checks</th><th>CPU</th>"
            f"<th>kernel</th></tr></thead><tbody>{rows}</tbody></table>")
