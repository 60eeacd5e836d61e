"""What a GPU costs a buyer, with its basis, source and date.

Bases: `street` (what listings ask now), `list` (the vendor's launch price), `system` (a GPU
sold only inside an 8-GPU board or a rack: the system's price less the host the planner adds,
per GPU) and `cloud-derived` (no purchase price found: the cheapest on-demand rate times the
hours of rent that buy a GPU, `payback_hours`, the median of that ratio over the GPUs that
have both a street price and a current cloud offer). `street` is the default; a launch list
price older than LIST_IS_CURRENT_YEARS stands in for it no longer (a 2014 K80's $5,000 is not
what a buyer pays in 2026).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import lru_cache

from hwtune.recommend.catalog import Catalog, GpuSpec, _read_data, load_catalog, parse_rows

BASES = ("street", "list")  # what a user can ask for with the price basis option
PRICE_YEAR = 2026  # the year the street prices describe (December 2026)
LIST_IS_CURRENT_YEARS = 3  # a launch list price from within these years stands in for street
COLUMNS = ("gpu", "basis", "usd", "usd_per_gpu_hour", "system", "system_gpus", "as_of", "source", "note")


@dataclass(frozen=True)
class Price:
    usd: float | None
    basis: str  # "street", "list", "system", "cloud-derived" or "user"; "" when there is none
    text: str  # the figure as the data gives it
    confidence: str
    as_of: str
    source: str = ""


@dataclass(frozen=True)
class PriceRow:
    gpu: str
    basis: str  # street, system or cloud
    text: str  # usd as written (a range "3059-3699" is allowed for street)
    usd_per_gpu_hour: float | None
    system: str
    system_gpus: int
    as_of: str
    source: str
    note: str
    row: int


def parse_street(text: str) -> float | None:
    """'1000' -> 1000; a range '8000-15000' -> its midpoint."""
    parts = [p.strip() for p in text.split("-") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    return sum(values) / len(values) if values else None


def parse_prices(text: str, catalog: Catalog, fname: str = "prices.csv") -> tuple[PriceRow, ...]:
    rows = []
    for r in parse_rows(text, fname, COLUMNS):
        gpu = r.text("gpu")
        if catalog.gpu(gpu) is None:
            raise r._fail("gpu", f"{gpu!r} is not in gpus.csv")
        basis = r.choice("basis", ("street", "system", "cloud"))
        usd = r.text("usd", basis != "cloud")
        if usd and parse_street(usd) is None:
            raise r._fail("usd", f"not a price or a range: {usd!r}")
        hourly = r.num("usd_per_gpu_hour") if basis == "cloud" else r.maybe_num("usd_per_gpu_hour")
        system_gpus = r.text("system_gpus", basis == "system")
        rows.append(PriceRow(gpu, basis, usd, hourly, r.text("system", basis == "system"),
                             int(system_gpus) if system_gpus.isdigit() else 0,
                             r.text("as_of"), r.text("source"), r.text("note", False), r.line))
    return tuple(rows)


@lru_cache(maxsize=1)
def load_prices() -> tuple[PriceRow, ...]:
    return parse_prices(_read_data("prices.csv"), load_catalog())


def street_usd(gpu: GpuSpec, rows: tuple[PriceRow, ...]) -> tuple[float | None, PriceRow | None]:
    """The newest street figure: prices.csv's row, else gpus.csv's column."""
    row = next((p for p in rows if p.gpu == gpu.name and p.basis == "street"), None)
    if row:
        return parse_street(row.text), row
    return (parse_street(gpu.street_price_usd) if gpu.street_price_usd else None), None


@lru_cache(maxsize=1)
def payback_hours() -> float:
    """Hours of on-demand rent that cost as much as buying the GPU: the median, over GPUs with
    both a street price and a current cloud offer, of street price / cheapest GPU-hour."""
    catalog, rows = load_catalog(), load_prices()
    ratios = []
    for g in catalog.gpus:
        street, _ = street_usd(g, rows)
        rates = [o.price_usd_per_gpu_hour for o in catalog.cloud if o.current and o.catalog_gpu == g.name]
        if street and rates:
            ratios.append(street / min(rates))
    return statistics.median(ratios)


def _candidates(gpu: GpuSpec, rows: tuple[PriceRow, ...], host_usd: float) -> dict[str, Price]:
    out: dict[str, Price] = {}
    if gpu.launch_msrp_usd:
        out["list"] = Price(gpu.launch_msrp_usd, "list", f"{gpu.launch_msrp_usd:g}",
                            gpu.price_confidence, gpu.price_as_of, gpu.source)
    street, row = street_usd(gpu, rows)
    if street:
        out["street"] = (Price(street, "street", row.text, row.note or "public estimate", row.as_of, row.source)
                         if row else Price(street, "street", gpu.street_price_usd, gpu.price_confidence,
                                           gpu.price_as_of, gpu.source))
    for p in rows:
        if p.gpu != gpu.name:
            continue
        # a system row's price parses and a cloud row has its hourly price: parse_prices checked both
        if p.basis == "system" and (system_usd := parse_street(p.text)) is not None:
            per = (system_usd - host_usd) / p.system_gpus
            out["system"] = Price(per, "system", f"{p.system} ${system_usd:,.0f} / {p.system_gpus}",
                                  p.note, p.as_of, p.source)
        elif p.basis == "cloud" and p.usd_per_gpu_hour is not None:
            hours = payback_hours()
            out["cloud-derived"] = Price(p.usd_per_gpu_hour * hours, "cloud-derived",
                                         f"${p.usd_per_gpu_hour:g}/GPU-h x {hours:,.0f} h", p.note,
                                         p.as_of, p.source)
    return out


def price_of(gpu: GpuSpec, basis: str, overrides: dict[str, float],
             rows: tuple[PriceRow, ...] | None = None, host_usd: float = 0.0) -> Price:
    """The card price under the chosen basis; the others stand in, in order, when it is missing."""
    if gpu.name in overrides:
        return Price(overrides[gpu.name], "user", f"{overrides[gpu.name]:g}", "given by the user", "")
    c = _candidates(gpu, load_prices() if rows is None else rows, host_usd)
    list_current = gpu.launch_year >= PRICE_YEAR - LIST_IS_CURRENT_YEARS
    order = (["street", "system", "cloud-derived"] + (["list"] if list_current else [])
             if basis == "street" else ["list", "street", "system", "cloud-derived"])
    for name in order:
        if name in c:
            return c[name]
    return Price(None, "", "", gpu.price_confidence, gpu.price_as_of)


def why_unpriced(gpu: GpuSpec) -> str:
    if gpu.launch_msrp_usd:
        return (f"no current price: a launch list price over {LIST_IS_CURRENT_YEARS} years old "
                "is not used on the street basis")
    return "no public price found"
