"""Run the hwtune CLI with NVML answered by a scenario fake (tests/fake_nvml.py).

There is no GPU where the tests run; the tmux test starts `hwtune watch` through
this launcher so that a person's view of the GPU part can be checked too. The
CPU part and the kernel log are this machine's own. Usage:
    python tests/watch_fake_nvml.py SCENARIO hwtune-args...
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_nvml
from hwtune.probe import nvml


def main() -> None:
    scenario = getattr(fake_nvml, sys.argv[1])()
    nvml.import_pynvml = lambda: scenario
    sys.argv = ["hwtune"] + sys.argv[2:]
    from hwtune.cli import main as hwtune_main

    hwtune_main()


if __name__ == "__main__":
    main()
