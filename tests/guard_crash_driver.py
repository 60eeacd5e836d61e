"""One guard judgement in its own process, for the kill -9 tests and benchmarks/guard_crash.py.

argv: STATE_DIR SCHEDULER_FILE STEP_JSON. The scheduler is guard_helpers' recording fake, kept in
a file so that what it got survives the kill; STEP_JSON: {"boot", "now", "xid79": bool,
"pending": bool} (an Xid 79 in the log; a row remap pending on the GPU).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from guard_helpers import GPU, FakeRemedies, FakeScheduler, reading, signals, xid
from hwtune.guard.core import Context, judge_signals
from hwtune.guard.rules import load_rules
from hwtune.guard.store import Store


def main() -> None:
    state, sched_file, step = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    sched = FakeScheduler(path=sched_file)
    sched._load()
    rules = load_rules(Path(step["rules"]))
    with Store(state) as store:
        ctx = Context(store, rules, sched, "n1", True, False, FakeRemedies(busy_gpus={GPU}), sleep=lambda s: None)
        events = [xid(1, 79, step["now"], boot=step["boot"])] if step.get("xid79") else []
        readings = [reading("row_remap_pending")] if step.get("pending") else []
        result = judge_signals(ctx, signals(events, readings), boot=step["boot"], now=step["now"])
    print(json.dumps({"state": result.state, "actions": [a.to_json() for a in result.actions]}))


if __name__ == "__main__":
    main()
