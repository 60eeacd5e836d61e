"""The circuit breaker: never hold out more than a share of the nodes the scheduler knows.

Right before a hold runs, the scheduler is asked how many nodes it knows and
how many carry hwtune's hold (a drain reason or taint with the hwtune
prefix). Past the limit the hold is not run: the action is journaled as
skipped (guard falls back to shadow for it) and the breaker metric alerts.

Hosts decide on their own, so two hosts may read the same count and both
hold: the race. A random wait (0..breaker_jitter_s) and a second read right
before the hold narrow it to hosts whose second reads fall within one
scheduler round trip of each other; and each host reads the count again once
its hold is in, and lets go when the limit is passed (both racers may let go:
under the limit, never over it; they try again at the next judgement, with
new random waits). What remains is an overshoot that lasts one round trip.
benchmarks/guard_fleet.py measures it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from hwtune.guard.actuators import Actuator
from hwtune.guard.rules import Policy


def limit(known: int, fraction: float) -> int:
    """How many nodes hwtune may hold out: the share, and never fewer than one (a lone broken node drains)."""
    return max(1, math.floor(known * fraction + 1e-9))


def over_limit(actuator: Actuator, policy: Policy) -> tuple[bool, str]:
    """After a hold is in: whether the fleet is now past the limit (two hosts raced), and why."""
    fleet = actuator.fleet()
    if fleet is None:
        return False, ""
    known, held = fleet
    most = limit(known, policy.breaker_fraction)
    return held > most, f"{held} of {known} nodes held out by hwtune, the limit is {most}"


def allows(actuator: Actuator, policy: Policy, *, sleep: Callable[[float], None] = time.sleep,
           rng: random.Random | None = None) -> tuple[bool, str]:
    """(whether one more hold is allowed, why), after the random wait and a fresh read."""
    first = actuator.fleet()
    if first is None:
        return True, ""
    if policy.breaker_jitter_s > 0:
        sleep((rng or random).uniform(0, policy.breaker_jitter_s))
    fleet = actuator.fleet() or first
    known, held = fleet
    most = limit(known, policy.breaker_fraction)
    if held + 1 > most:
        return False, (f"circuit breaker open: {held} of {known} nodes already held out by hwtune, the limit is "
                       f"{most} ({policy.breaker_fraction:.0%}); not executed, alert raised")
    return True, f"{held + 1} of {known} nodes held out by hwtune with this one (limit {most})"
