"""The Xid catalogue (xid.csv) and what one Xid event means."""

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from hwtune.errors import ConfigError

CATALOGUE = Path(__file__).with_name("xid.csv")
SEVERITIES = ("fail", "warn", "info")


class Xid(NamedTuple):
    code: int
    severity: str  # fail / warn / info
    nvidia_action: str  # NVIDIA's immediate resolution bucket ("" where the catalog gives none)
    description: str


@lru_cache(maxsize=2)
def load_catalogue(path: Path = CATALOGUE) -> dict[int, Xid]:
    import csv  # read only when the kernel log has an Xid event

    rows = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    out: dict[int, Xid] = {}
    for n, row in enumerate(csv.DictReader(rows), start=2):
        try:
            code = int(row["code"])
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: row {n}: code {row.get('code')!r} is not a number") from None
        if row["severity"] not in SEVERITIES or code in out:
            raise ConfigError(f"{path}: row {n}: bad severity {row['severity']!r} or repeated code {code}")
        out[code] = Xid(code, row["severity"], row["nvidia_action"] or "", row["description"])
    return out


def classify(code: int, detail: str = "") -> Xid:
    """The catalogue's entry; a code it lacks is a WARN. Xid 154 names the
    recovery action it changed to: "... to 0x0 (None)" needs nothing."""
    entry = load_catalogue().get(code)
    if entry is None:
        return Xid(code, "warn", "", "not in hwtune's Xid catalogue: look it up in NVIDIA's Xid catalog")
    if code == 154 and "(None)" in detail.rsplit(" to ", 1)[-1]:
        return entry._replace(severity="info")
    return entry


# What to do for an Xid, by NVIDIA's immediate resolution bucket (the catalog's "Immediate
# Action"): a reset only where the catalog says reset; RESTART_BM is a node restart.
BUCKET_FIX = {
    "RESET_GPU": "drain the GPU, then reset it when idle (sudo nvidia-smi -r -i {bus}); if it recurs, run the "
                 "NVIDIA field diagnostic",
    "RESTART_BM": "drain the host and restart the node (a bare-metal reboot: a GPU reset is not enough); if it "
                  "recurs, reseat the card, check its power and run the field diagnostic for an RMA",
    "RESTART_VM": "restart the VM (bare metal: restart the node)",
    "RESTART_APP": "restart the application that hit it; debug it (compute-sanitizer) before blaming the GPU",
    "IGNORE": "nothing now; investigate if it repeats",
    "CHECK_MECHANICALS": "drain the host and check the GPU's mechanicals (seating, NVLink bridges and cables, "
                         "power connectors)",
    "CHECK_UVM": "check the application's unified memory use and the nvidia-uvm module",
    "UPDATE_SWFW": "update the NVIDIA driver and GPU firmware",
    "WORKFLOW_XID_48": "drain the GPU and reset it when idle (sudo nvidia-smi -r -i {bus}) so the row remap or page "
                       "retirement takes effect; run the field diagnostic if double-bit errors return",
    "WORKFLOW_XID_45": "look at the Xid before it: alone, 45 follows an application's fault",
    "WORKFLOW_NVLINK_ERR": "follow NVIDIA's NVLink workflow: drain, reset the GPU (sudo nvidia-smi -r -i {bus}) and "
                           "check the NVLink connections",
    "WORKFLOW_NVLINK5_ERR": "follow NVIDIA's NVLink5 workflow: drain, reset the GPU (sudo nvidia-smi -r -i {bus}) and "
                            "check the NVLink connections",
}
# Xid 154 names the action it changed to
RECOVERY_FIX = (("node reboot", "RESTART_BM"), ("reboot", "RESTART_BM"), ("gpu reset", "RESET_GPU"),
                ("drain p2p", "RESET_GPU"), ("drain and reset", "RESET_GPU"))
PENDING_RESET = "; a remap or page retirement waits for a GPU reset: reset it when idle (sudo nvidia-smi -r -i {bus})"


def fix_for(xid: Xid, detail: str, bus: str) -> str:
    """The fix NVIDIA's bucket gives for this Xid on this GPU. The memory events hwtune fails for a
    pending remap (63, 94, ...) name the reset that applies it, whatever the bucket says for now."""
    bucket = xid.nvidia_action
    if bucket == "XID_154":
        after = detail.rsplit(" to ", 1)[-1].lower()
        bucket = next((b for word, b in RECOVERY_FIX if word in after), "RESET_GPU")
    fix = BUCKET_FIX.get(bucket, "look the Xid up in NVIDIA's Xid catalog").format(bus=bus)
    if xid.severity == "fail" and bucket not in ("RESET_GPU", "RESTART_BM", "WORKFLOW_XID_48") and (
            "reset" in xid.description.lower()):
        fix += PENDING_RESET.format(bus=bus)
    return fix
