"""Terminal rendering of a Recommendation with rich: tables, a bar chart, caveats.

Tables go through hwtune.tables (fitted to the terminal; the columns a buyer compares stay,
the rest leave first and come back with --wide), each with a legend of the labels it shows.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, Group
from rich.text import Text

from hwtune.recommend.catalog import Llm
from hwtune.recommend.costs import CloudVsBuy
from hwtune.recommend.engine import Comparison, Recommendation
from hwtune.recommend.estimate import GEFORCE_CAVEAT, Estimate
from hwtune.recommend.jsonout import card_unit_cost, selected_estimates
from hwtune.recommend.labels import LABELS
from hwtune.recommend.setups import Setup
from hwtune.tables import ID, NUM, Col, Table, layout

BAR_WIDTH = 40


def _usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def _fps(x: float) -> str:
    return f"{x:,.0f}"


def _cents(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}" if x >= 0.1 else f"${x:.3f}"


def _per_k(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:,.0f}" if x * 1000 >= 100 else f"{x * 1000:.3g}"


def _hosts(s: Setup) -> str:
    return f"{s.hosts} {s.host_type.name}"


def _unit(rec: Recommendation) -> str:
    return "tok/s" if rec.llm else "inf/s"


def _eff(e: Estimate) -> str:
    if e.efficiency.precision == "none":  # no peak for the path: nothing to apply it to
        return "-"
    mark = "!" if e.judgement else ""
    return f"{e.efficiency.compute:.2f} {e.efficiency.basis}{mark}"


def render_header(rec: Recommendation) -> Text:
    q, w = rec.request, rec.subject
    t = Text()
    if isinstance(w, Llm):
        m = w
        t.append(f"Workload {m.name}", style="bold")
        moe = (f", {m.active_params / 1e9:.1f} B of {m.total_params / 1e9:.1f} B parameters active"
               if m.active_params < m.total_params else f", {m.total_params / 1e9:.1f} B parameters")
        t.append(f" ({m.description}{moe}); precision {q.precision}; generated tokens/s per GPU, Offline")
        if m.lengths_basis:
            t.append(f"; {m.prompt_tokens:g} prompt and {m.dataset_output_tokens:g} answer tokens per request")
        limits = [f"{name} {ms:g} ms" for name, ms in (("TTFT", q.ttft_ms), ("TPOT", q.tpot_ms)) if ms]
        if limits:
            t.append("; within " + ", ".join(limits))
        t.append(f". Prices: {q.price_basis} basis.")
        return t
    t.append(f"Workload {w.name}", style="bold")
    seq = f", {w.seq_len:g} tokens per sample" if w.kind == "encoder" else ""
    t.append(f" ({w.description}{seq}; {w.flops_per_inference / 1e9:.3g} GFLOP/inference), ")
    t.append(f"precision {q.precision}, batch up to {q.batch}")
    if q.latency_slo_ms:
        t.append(f", latency SLO {q.latency_slo_ms:g} ms")
    t.append(f". Prices: {q.price_basis} basis.")
    return t


def render_estimates(rec: Recommendation, show_all: bool, top: int) -> Table:
    u = _unit(rec)
    cols = [Col("GPU"), Col("class", ID, drop=3), Col("runs as", ID, drop=1)]
    cols += ([Col("GPUs/ replica", NUM, drop=2), Col("seqs", NUM, drop=2)] if rec.llm
             else [Col("batch", NUM, drop=2)])
    cols += [Col(u, NUM), Col("bound", drop=2), Col("card price", NUM), Col(f"{u} per $1k", NUM)]
    if rec.llm:
        cols += [Col("$/M tok owned", NUM, drop=1), Col("$/M tok cloud", NUM, drop=1)]
    cols += [Col("efficiency", ID, drop=1)]
    t = Table("Estimated throughput per GPU (roofline)", cols, wide_option="--wide")
    for e in selected_estimates(rec, show_all, top):
        costs = []
        if rec.llm:
            c = card_unit_cost(e, rec)
            costs = [_cents(c.owned_usd), _cents(c.cloud_usd)]
        runs = e.path.executed + ("*" if e.path.note else "")
        sizes = [str(e.gpus_per_replica), str(e.roof.batch)] if rec.llm and e.roof else (
            ["-", "-"] if rec.llm else [str(e.roof.batch) if e.roof else "-"])
        if e.roof is None:
            t.add_row(*[Text(x, style="dim") for x in (e.gpu.name, e.gpu.gpu_class, runs, *sizes, "-",
                                                        e.excluded, _usd(e.price.usd), "-", *costs, _eff(e))])
            continue
        t.add_row(e.gpu.name, e.gpu.gpu_class, runs, *sizes, _fps(e.throughput_per_s),
                  e.roof.bound, _usd(e.price.usd), _per_k(e.throughput_per_usd), *costs, _eff(e))
    return t


def render_bars(rows: list[tuple[str, float]], title: str, width: int | None = None) -> Group:
    """Proportional bars of block characters, longest first, within `width` columns."""
    rows = [(n, v) for n, v in rows if v > 0]
    top = max((v for _, v in rows), default=0.0)
    name_w = max((cell_len(n) for n, _ in rows), default=0)
    value_w = max((len(_per_k(v)) for _, v in rows), default=0)
    bar_w = BAR_WIDTH if width is None else max(5, min(BAR_WIDTH, width - name_w - value_w - 2))
    lines = [Text(title, style="bold")]
    for name, value in rows:
        n = round(bar_w * value / top) if top else 0
        line = Text(name + " " * (name_w - cell_len(name) + 1))
        line.append("█" * max(n, 1), style="green")
        line.append(f" {_per_k(value)}")
        lines.append(line)
    return Group(*lines)


def render_setups(setups: list[Setup], title: str, unit: str = "inf/s") -> Table:
    t = Table(title, (Col("#", NUM, drop=1), Col("GPU"), Col("class", ID, drop=3), Col("cards", NUM),
                      Col("hosts", drop=2), Col("total cost", NUM), Col(unit, NUM),
                      Col(f"{unit} per $1k", NUM), Col("power", NUM, drop=2), Col("efficiency", ID, drop=1)),
              wide_option="--wide")
    for i, s in enumerate(setups, start=1):
        t.add_row(str(i), s.estimate.gpu.name, s.estimate.gpu.gpu_class, str(s.cards),
                  _hosts(s), _usd(s.total_cost_usd),
                  _fps(s.throughput_per_s), _per_k(s.throughput_per_usd), f"{s.power_w:,.0f} W",
                  _eff(s.estimate))
    t.notes += feed_notes(setups, unit)
    return t


def more_note(setups: list[Setup], top: int) -> list[str]:
    """The setups past the table's last row, named: no GPU leaves a plan silently."""
    rest = setups[top:]
    if not rest:
        return []
    names = ", ".join(s.estimate.gpu.name for s in rest)
    return [f"{len(rest)} more not shown (--top {len(setups)} shows them): {names}"]


def feed_notes(setups: list[Setup], unit: str) -> list[str]:
    """A line per setup whose hosts' CPUs cannot feed their GPUs, and where the figure is from."""
    out = []
    for i, s in enumerate(setups, start=1):
        f = s.cpu_feed
        if f is None or not f.short or s.host_type is None:
            continue
        out.append(f"CPU feed #{i} {s.cards} x {s.estimate.gpu.name}: at {_fps(f.rate_per_host)} {unit} "
                   f"a host needs {f.needed_cores:,.1f} cores, a {s.host_type.name} has {f.host_cores}: "
                   f"it feeds {_fps(f.feeds_per_s)} {unit} ({f.feeds_fraction:.0%} of its GPUs' rate)")
    if out:
        p = next(s.cpu_feed.pipeline for s in setups if s.cpu_feed)
        out.append(f"CPU per request {p.cpu_s_per_request * 1000:.1f} ms (read, decode, resize, normalise, "
                   f"top-k; {p.decoder}, {p.images}) measured in {p.source}")
    return out


def render_comparison(rec: Recommendation, c: Comparison) -> Table:
    t = Table("Best server setup vs best desktop setup",
              (Col(""), Col("server", right=True), Col("desktop", right=True), Col("server / desktop", NUM)))

    def cell(s: Setup | None, f) -> str:
        return f(s) if s else "none fits"

    rows = [
        ("setup", lambda s: f"{s.cards} x {s.estimate.gpu.name}", None),
        ("hosts", _hosts, None),
        ("total cost", lambda s: _usd(s.total_cost_usd), None),
        (_unit(rec), lambda s: _fps(s.throughput_per_s), c.throughput_ratio),
        (f"{_unit(rec)} per $1k", lambda s: _per_k(s.throughput_per_usd), c.value_ratio),
    ]
    for label, f, ratio in rows:
        t.add_row(label, cell(c.server, f), cell(c.desktop, f),
                  f"{ratio:.2f}x" if ratio is not None else "")
    return t


def legend(table: Table, shown: list[int] | None = None) -> list[str]:
    """One line per label the table's cells use, with its meaning (hwtune.recommend.labels)."""
    lines = []
    for i, col in enumerate(table.cols):
        meanings = LABELS.get(col.header, {})
        if not meanings or (shown is not None and i not in shown):
            continue
        cells = {r[i].plain for r in table.rows}
        used = [(label, text) for label, text in meanings.items()
                if any(label in cell.replace("!", " ").replace("*", " ").split() or
                       (label in "!*" and label in cell) for cell in cells)]
        if used:
            lines.append(f"{col.header}: " + "; ".join(f"{label} = {text}" for label, text in used))
    return lines


def render_cloud(c: CloudVsBuy) -> Text:
    s, u = c.setup, c.usage
    t = Text()
    t.append(f"Cloud vs buy for {s.cards} x {s.estimate.gpu.name}, renting "
             f"{_fps(c.throughput_per_s)} {s.estimate.unit.replace('samples', 'inf')}: ", style="bold")
    t.append(f"year = 365 days x {u.hours_per_day:g} h at full load = {u.hours_per_year:,.0f} h "
             f"({u.utilization:.0%} utilization assumed). ")
    if not c.quotes:
        t.append("No current cloud offer maps to an estimated GPU.")
        return t
    q = c.quotes[0]
    rented = q.instances * q.offer.gpu_count
    needed = f", {q.gpus_needed} of them needed" if rented != q.gpus_needed else ""
    t.append(f"Cheapest cloud: {q.instances} x {q.offer.provider} {q.offer.instance_type} "
             f"({rented} x {q.estimate.gpu.name}{needed}, ${q.offer.price_usd_per_hour:g}/h, "
             f"as of {q.offer.as_of}) = {_usd(q.usd_per_year)} a year. ")
    t.append(f"Owning over {u.years:g} years: {_usd(s.total_cost_usd)} + power "
             f"{c.power_kwh_per_year:,.0f} kWh/yr at ${u.kwh_price_usd:g}/kWh = "
             f"{_usd(c.own_usd_total)} vs cloud {_usd(c.cloud_usd_total)}. ")
    if c.break_even_months is None:
        t.append("Renting costs less than the power bill: buying never breaks even.")
    else:
        t.append(f"Break-even after {c.break_even_months:.1f} months.")
    return t


def _headline(rec: Recommendation) -> list[Estimate]:
    """The GPUs of the setups a reader acts on: the first three, and the best server and desktop."""
    setups = list(rec.target_setups[:3] or rec.budget_setups[:3])
    if rec.comparison:
        setups += [s for s in (rec.comparison.server, rec.comparison.desktop) if s]
    return [s.estimate for s in setups]


def collect_caveats(rec: Recommendation, shown: list[Estimate]) -> list[str]:
    out: list[str] = []
    names = {s.estimate.gpu.name for s in rec.budget_setups[:10] + rec.target_setups[:10]}
    # a plan names each unpriced GPU in its "left out" lines: its caveat would say it twice
    unpriced = ("no current price", "no public price") if rec.left_out else ()
    shown_names = {e.gpu.name for e in shown}
    for e in shown:
        if e.gpu.name.startswith("GeForce") and GEFORCE_CAVEAT not in out:
            out.append(GEFORCE_CAVEAT)
        for c in e.caveats:
            if c.startswith(("price is", "estimated or", "GeForce", *unpriced)):
                continue
            line = f"{e.gpu.name}: {c}"
            if (e.roof is None or e.path.note or e.gpu.name in names) and line not in out:
                out.append(line)
    for e in _headline(rec) + [e for e in shown if e.judgement and e.roof]:
        if e.efficiency.basis == "judgement":
            line = (f"{e.gpu.name}: its efficiency ({e.efficiency.compute:g} for {e.gpu.family}) "
                    "is a judgement, no published result behind it; calibrate with --from-bench")
            if line not in out:
                out.append(line)
        if e.gpu.estimated_fields and not any(x.startswith(f"{e.gpu.name}: figures") for x in out):
            out.append(f"{e.gpu.name}: figures not verified against a primary source: "
                       f"{e.gpu.estimated_fields}")
    # A priced GPU left out of every setup deserves its reason even when its row is not shown
    # (within the classes a fleet plan was drawn from).
    for e in _in_plan(rec, list(rec.estimates)):
        if e.roof is None and e.price.usd and e.gpu.name not in shown_names:
            out.append(f"{e.gpu.name}: {e.excluded}")
    out.append(f"Prices are dated estimates ({rec.request.price_basis} basis; --json gives each "
               "price's basis, source and date); cloud prices are on-demand list prices.")
    out.append("Throughput is a roofline estimate, not a measurement: see docs/recommend.md.")
    return out + list(rec.warnings)


def _in_plan(rec: Recommendation, estimates: list[Estimate]) -> list[Estimate]:
    """A fleet plan alone speaks of its classes' GPUs only (server cards unless --class said)."""
    if not rec.fleet_classes or rec.budget_setups:
        return estimates
    return [e for e in estimates if e.gpu.gpu_class in rec.fleet_classes]


def render(rec: Recommendation, console: Console, show_all: bool = False, top: int = 10,
           wide: bool = False) -> None:
    def show(part) -> None:
        if isinstance(part, Table):
            fitted = wide or not console.is_terminal or layout(part, console.width, False)
            shown = None if fitted is True or fitted is None else fitted[0]
            part.notes += [Text(line, style="dim") for line in legend(part, shown)]
            part.print(console, wide)
        else:
            console.print(part, soft_wrap=not console.is_terminal)  # a terminal wraps at words

    show(render_header(rec))
    shown = selected_estimates(rec, show_all, top)
    if not show_all:
        shown = _in_plan(rec, shown)
    u = _unit(rec)
    width = console.width if console.is_terminal else None
    if rec.budget_setups or rec.target_setups:
        if rec.budget_setups:
            table = render_setups(list(rec.budget_setups[:top]),
                                  f"Best setups within ${rec.request.budget_usd:,.0f}, by total throughput", u)
            table.notes += more_note(list(rec.budget_setups), top)
            show(table)
            show(render_bars(
                [(f"{s.cards} x {s.estimate.gpu.name}" + ("!" if s.estimate.judgement else ""),
                  s.throughput_per_usd) for s in rec.value_setups[:top]],
                f"Throughput per dollar of the whole setup ({u} per $1k; ! = judgement efficiency)", width))
        if rec.target_setups:
            fleet = ", ".join(rec.fleet_classes)
            table = render_setups(list(rec.target_setups[:top]),
                                  f"Cheapest setups reaching {rec.request.target_fps:,.0f} {u} ({fleet} GPUs)", u)
            table.notes += more_note(list(rec.target_setups), top)
            show(table)
        if rec.comparison:
            show(render_comparison(rec, rec.comparison))
        for c in rec.cloud[:1]:
            show(render_cloud(c))
    if show_all or not (rec.budget_setups or rec.target_setups):
        show(render_estimates(rec, show_all, top))
        show(render_bars(
            [(e.gpu.name + ("!" if e.judgement else ""), e.throughput_per_usd or 0.0) for e in shown],
            f"Throughput per dollar of card price ({u} per $1k; ! = judgement efficiency)", width))
    if (rec.budget_setups or rec.target_setups) and not show_all:
        # a plan's caveats speak of the GPUs its tables show, not of the estimates it did not draw
        listed = list(rec.budget_setups[:top]) + list(rec.target_setups[:top])
        if rec.comparison:
            listed += [s for s in (rec.comparison.server, rec.comparison.desktop) if s]
        shown = list({s.estimate.gpu.name: s.estimate for s in listed}.values())
    show(Text("Caveats", style="bold"))
    for line in collect_caveats(rec, shown):
        show(Text(f"- {line}"))
