"""Virtualization and container context."""

from __future__ import annotations

from hwtune.facts import FactsBuilder
from hwtune.host import Host

DMI = "/sys/class/dmi/id"
CGROUP_MARKERS = (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"),
                  ("lxc", "lxc"), ("containerd", "containerd"))


def container_from_cgroup(text: str) -> str | None:
    for marker, name in CGROUP_MARKERS:
        if marker in text:
            return name
    return None


def probe_virt(host: Host, b: FactsBuilder) -> None:
    vendor = host.read_line(f"{DMI}/sys_vendor")
    product = host.read_line(f"{DMI}/product_name")
    b.set("virt.dmi_vendor", vendor or None, f"{DMI} absent (no DMI: many VMs and ARM boards)")
    b.set("virt.dmi_product", product or None, f"{DMI} absent (no DMI: many VMs and ARM boards)")
    container = None
    if host.read("/.dockerenv") is not None:
        container = "docker"
    elif host.read("/run/.containerenv") is not None:
        container = "podman"
    else:
        cgroup = host.read("/proc/1/cgroup") or host.read("/proc/self/cgroup")
        if cgroup is not None:
            container = container_from_cgroup(cgroup) or "none"
    b.set("virt.container", container, "no /proc/1/cgroup or /proc/self/cgroup to tell")
