"""NUMA nodes and their CPUs (cpulist, or the hex cpumap where only that exists)."""

from __future__ import annotations

from hwtune.errors import ParseError
from hwtune.facts import FactsBuilder
from hwtune.host import Host
from hwtune.probe.cpulist import format_cpulist, parse_cpulist, parse_cpumap

NODE_DIR = "/sys/devices/system/node"


def node_ids(names: list[str]) -> list[int]:
    return sorted(int(n[4:]) for n in names if n.startswith("node") and n[4:].isdecimal())


def probe_numa(host: Host, b: FactsBuilder) -> None:
    names = host.listdir(NODE_DIR)
    if names is None:
        reason = f"{NODE_DIR} absent (kernel without NUMA support, or not in the snapshot)"
        for key in ("numa.nodes", "numa.node_cpus", "numa.distances"):
            b.unknown(key, reason)
        return
    ids = node_ids(names)
    node_cpus: dict[str, str] = {}
    distances: dict[str, list[int]] = {}
    problems: list[str] = []
    for node in ids:
        base = f"{NODE_DIR}/node{node}"
        try:
            listed = host.read_line(f"{base}/cpulist")
            if listed is not None:
                cpus = parse_cpulist(listed)
            else:
                mask = host.read_line(f"{base}/cpumap")
                if mask is None:
                    problems.append(f"node{node} has neither cpulist nor cpumap")
                    continue
                cpus = parse_cpumap(mask)
        except ParseError as exc:
            problems.append(f"node{node}: {exc.message}")
            continue
        node_cpus[str(node)] = format_cpulist(cpus)
        dist = host.read_line(f"{base}/distance")
        if dist and all(d.isdecimal() for d in dist.split()):
            distances[str(node)] = [int(d) for d in dist.split()]
    b.set("numa.nodes", len(ids) if ids else None, f"no node directories in {NODE_DIR}")
    b.set("numa.node_cpus", node_cpus if not problems else None, "; ".join(problems))
    b.set("numa.distances", distances or None, "no node distance files")
