"""What the labels of recommend's output mean: one mapping each, read by the tables' legends
and by the JSON, so a label means one thing everywhere (a label the data gains or renames is
explained here)."""

from __future__ import annotations

from hwtune.recommend.hostdata import load_hosts

# The `efficiency` column's basis labels (efficiency.csv `basis`, or computed).
EFFICIENCY_LABELS = {
    "fit": "fitted on published results of this GPU (or its family) for this kind of workload",
    "carried": "fitted on the same GPU or family, for another precision or kind of workload",
    "borrowed": "no result of its own family: a neighbouring family's fitted value",
    "measured": "from your --from-bench result",
    "judgement": "no published or measured result behind it: listed after the others (!)",
}
# Setups and estimates with these labels are never ranked above the others.
RANKED_LAST = frozenset({"judgement"})

# The price basis of each card (prices.py says how each is derived).
PRICE_BASES = {
    "street": "what listings or analyst estimates ask now (December 2026), with source and date",
    "list": "the vendor's launch list price",
    "system": "sold only in an 8-GPU board or a rack: the system's price per GPU",
    "cloud-derived": "no purchase price found: on-demand rate x the hours of rent that buy a GPU",
    "user": "your --gpu-price",
}

# The tables' short labels, by column header; the legend under a table lists those its cells use.
LABELS: dict[str, dict[str, str]] = {
    "runs as": {
        "*": "the GPU lacks the requested precision and runs the one shown (see the caveats)",
    },
    "bound": {
        "compute": "limited by the card's dense tensor throughput",
        "memory": "limited by memory bandwidth",
    },
    # host types, from hosts.csv: "2 desktop" is two desktop hosts
    "hosts": {h.name: f"{h.mount} host for up to {h.max_gpus} GPUs, {h.gpu_link}, ${h.usd:,.0f} without GPUs"
              for h in load_hosts()},
    "efficiency": {**EFFICIENCY_LABELS,
                   "!": "efficiency is a judgement; such setups are listed after those with a result"},
}

