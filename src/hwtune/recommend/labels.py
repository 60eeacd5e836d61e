"""What the labels of recommend's output mean: one mapping each, read by the renderer's legend
and by the JSON, so a label means one thing everywhere."""

from __future__ import annotations

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


def legend(efficiency: set[str] | frozenset[str] = frozenset(EFFICIENCY_LABELS),
           prices: set[str] | frozenset[str] = frozenset(PRICE_BASES)) -> list[str]:
    """One line per label in use: 'efficiency fit: ...', 'price street: ...'."""
    lines = [f"efficiency {k}: {v}" for k, v in EFFICIENCY_LABELS.items() if k in efficiency]
    return lines + [f"price {k}: {v}" for k, v in PRICE_BASES.items() if k in prices]
