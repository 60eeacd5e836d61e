"""`hwtune guard` as a function of typed options: once, or as a service that follows the kernel log.

The CLI builds GuardOptions and calls `run_once` or `follow`; nothing here
prints. With a snapshot root every fact comes from the snapshot, the state
from guard's own state folder (never the snapshot's), and reset and reboot
never run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hwtune.errors import ConfigError
from hwtune.guard.actuators import make
from hwtune.guard.actuators.remedy import NvidiaRemedies
from hwtune.guard.core import Context, GuardResult, boot_id, judge, node_name
from hwtune.guard.metrics import Metrics
from hwtune.guard.rules import RULES, load_rules, with_profile
from hwtune.guard.store import Store, state_dir
from hwtune.host import Host
from hwtune.probe import probe_facts

ACTUATORS = ("none", "slurm", "kubernetes", "npd")


@dataclass(frozen=True)
class GuardOptions:
    root: Path | None = None
    node: str | None = None
    actuator: str = "none"
    act: bool = False
    rules: Path = RULES
    log: Path | None = None
    interval_s: float = 60.0
    textfile: Path | None = None  # node_exporter's textfile collector file
    listen: tuple[str, int] | None = None  # serve /metrics here while following
    profile: str | None = None  # a profile whose [guard] table is the policy


def metrics_for(options: GuardOptions):
    """The metrics writer the options ask for, or None; a ConfigError naming the extra when it is missing."""
    if options.textfile is None and options.listen is None:
        return None
    from importlib.util import find_spec


    if find_spec("prometheus_client") is None:
        raise ConfigError("guard's metrics need prometheus-client: pip install 'hwtune[metrics]'")

    return Metrics(str(options.textfile) if options.textfile else None, options.listen)


def open_context(options: GuardOptions, store: Store, remedies=None) -> Context:
    live = options.root is None
    rules = load_rules(options.rules)
    if options.profile:
        rules = with_profile(rules, options.profile)
    return Context(store=store, rules=rules, actuator=make(options.actuator),
                   node=node_name(options.root, options.node), act=options.act, snapshot=not live,
                   remedies=remedies if remedies is not None else (NvidiaRemedies() if live else None))


def probe(options: GuardOptions):
    """(facts, boot id) of the host or the snapshot."""

    host = Host(options.root if options.root is not None else "/")
    return probe_facts(host), boot_id(lambda p: host.read(p, record=False))


@contextmanager
def session(options: GuardOptions, remedies=None) -> Iterator[tuple[Store, Context, Metrics | None]]:
    """The store, context and metrics writer both modes judge with: the rules are checked
    before anything is read or written, and the state folder is guard's own, never inside a
    snapshot root."""
    load_rules(options.rules)
    with Store(state_dir(options.root)) as store:
        yield store, open_context(options, store, remedies), metrics_for(options)


def run_once(options: GuardOptions, *, remedies=None, now: float | None = None) -> GuardResult:
    with session(options, remedies) as (store, ctx, metrics):
        facts, boot = probe(options)
        result = judge(ctx, facts, boot=boot, now=now)
        store.prune()
        if metrics is not None:
            metrics.publish(store, ctx.node, result.breaker_open)
        return result
