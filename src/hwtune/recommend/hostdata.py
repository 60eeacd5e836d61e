"""Host types as data (`data/hosts.csv`): how many GPUs a host takes, how they connect, its
CPU cores, memory, price and power. A replica's GPUs always sit in one host."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwtune.recommend.catalog import HOSTS, _read_data, _Row, _unique, _whole, parse_rows

COLUMNS = ("name", "mount", "max_gpus", "max_wide_gpus", "sold_full", "gpu_link", "cpu_cores",
           "memory_gb", "usd", "power_w", "source", "as_of", "note")
WIDE_SLOTS = 2  # a card wider than this many slots counts against max_wide_gpus


@dataclass(frozen=True)
class HostType:
    name: str
    mount: str  # the GPUs' `host` column it takes: desktop, pcie-server, baseboard, rack
    max_gpus: int  # cards up to two slots wide (or modules)
    max_wide_gpus: int  # cards wider than two slots
    sold_full: bool  # sold only with every GPU position filled (8-GPU boards, racks)
    gpu_link: str
    cpu_cores: int
    memory_gb: int
    usd: float  # without GPUs
    power_w: float  # without GPUs
    source: str
    as_of: str
    row: int

    def capacity(self, slots: int) -> int:
        return self.max_wide_gpus if slots > WIDE_SLOTS else self.max_gpus


def _money(r: _Row, col: str) -> float:
    raw = r.text(col)
    try:
        value = float(raw)
    except ValueError:
        raise r._fail(col, f"not a number: {raw!r}") from None
    if not value >= 0:
        raise r._fail(col, f"must be zero or more: {raw!r}")
    return value


def parse_hosts(text: str, fname: str = "hosts.csv") -> tuple[HostType, ...]:
    hosts = []
    for r in parse_rows(text, fname, COLUMNS):
        hosts.append(HostType(
            name=r.text("name"), mount=r.choice("mount", HOSTS),
            max_gpus=_whole(r, "max_gpus"), max_wide_gpus=_whole(r, "max_wide_gpus"),
            sold_full=r.choice("sold_full", ("yes", "no")) == "yes", gpu_link=r.text("gpu_link"),
            cpu_cores=_whole(r, "cpu_cores"), memory_gb=_whole(r, "memory_gb"),
            usd=_money(r, "usd"), power_w=_money(r, "power_w"), source=r.text("source"),
            as_of=r.text("as_of"), row=r.line,
        ))
    _unique(fname, [h.name for h in hosts])
    return tuple(hosts)


@lru_cache(maxsize=1)
def load_hosts() -> tuple[HostType, ...]:
    return parse_hosts(_read_data("hosts.csv"))
