"""What the short labels in recommend's tables mean: one mapping, by column, that the legend
under each table is drawn from (a label the data gains or renames is explained where it is set).
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "runs as": {
        "*": "the GPU lacks the requested precision and runs the one shown (see the caveats)",
    },
    "bound": {
        "compute": "limited by the card's dense tensor throughput",
        "memory": "limited by memory bandwidth",
    },
    "hosts": {
        "desktop": "desktop host without GPUs (--desktop-host-usd, up to --desktop-max-cards cards)",
        "pcie-server": "PCIe GPU server without GPUs (--server-host-usd, up to --server-max-cards cards)",
        "baseboard": "SXM/OAM baseboard server (--baseboard-usd, up to --baseboard-max-cards modules)",
    },
    "efficiency": {
        "fit": "fraction of the datasheet peak fitted to a published MLPerf result of the GPU's family",
        "carried": "the family's fit from another precision or workload, carried over",
        "measured": "from your own hwtune bench run (--from-bench)",
        "judgement": "an engineering judgement, no published or measured result behind it",
        "!": "efficiency is a judgement; such setups are listed after those with a result",
    },
}
