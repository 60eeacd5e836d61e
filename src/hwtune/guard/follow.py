"""guard as a service: follow the kernel log, react to a record within 2 s, sample counters each interval.

The log is /dev/kmsg (the records since the last one seen; the kernel's own,
facility 0, only), or a kmsg-format file with `--log` (a replay or a test),
read from where it was left, a line at a time, and from its start again if it
shrank. Each new record goes through the kernel-log patterns (health/) and
the state machine right away, with the counters of the last sample; the host
is probed again every `interval_s`. The history keeps each record under its
kmsg sequence number: a restart re-reads the log and counts nothing twice.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable, Iterable

from hwtune.guard import kmsg
from hwtune.guard.core import Context, GuardResult, judge_signals
from hwtune.guard.service import probe, session
from hwtune.guard.signals import LOG_KINDS, Signals, collect, log_event
from hwtune.guard.store import Event
from hwtune.health.patterns import match_events
from hwtune.probe.kernellog import LogLine

POLL_S = 0.2  # how often the log is looked at: well inside the 2 s the reaction may take
MAX_READ = 4 * 1024 * 1024  # per look; a longer backlog is read over the next looks
MAX_LINE = kmsg.MAX_RECORD_CHARS


class LogFile:
    """A kmsg-format file followed by offset; partial last lines wait for their end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read_lines(self) -> list[str]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except FileNotFoundError:
            return []
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file: not followed", self.path)
            if st.st_size < self.offset:  # rotated or truncated: from its start
                self.offset, self.partial = 0, b""
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, MAX_READ)
        finally:
            os.close(fd)
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > MAX_LINE:  # no record is that long: drop it, resync at the next newline
            self.partial = b""
        return [ln.decode("utf-8", "replace") for ln in lines if len(ln) <= MAX_LINE]


class Kmsg:
    """/dev/kmsg held open, read without blocking: one record per read."""

    def __init__(self, path: str = "/dev/kmsg") -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)

    def read_lines(self) -> list[str]:
        out: list[str] = []
        size = 0
        while size < MAX_READ:
            try:
                record = os.read(self.fd, 16 * 1024)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # overwritten before we read it: go on with the next
                    continue
                if exc.errno == errno.EAGAIN:
                    break
                raise
            if not record:
                break
            size += len(record)
            out.append(record.decode("utf-8", "replace").split("\n", 1)[0])
        return out


def events_of(records: Iterable[kmsg.Record], boot: str, now: float) -> list[Event]:
    """The kernel-log patterns over the records; each event keyed by its record's sequence number.
    The lines carry their record's index where the time goes, so that each event finds its record
    exactly (and only the matched ones get their time formatted)."""
    records = list(records)
    raws, _dropped = match_events([LogLine(str(i), r.message) for i, r in enumerate(records)])
    out = []
    for raw in (r for r in raws if r.get("kind") in LOG_KINDS):
        record = records[int(raw["time"])]
        raw["time"] = record.time
        out.append(log_event(boot, f"s{record.seq}", now, record.seq, raw))
    return out


def follow(options, report: Callable[[GuardResult], None], *, remedies=None, stop: Callable[[], bool] = lambda: False,
           clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
    source = LogFile(str(options.log)) if options.log is not None else Kmsg()
    with session(options, remedies) as (store, ctx, metrics):

        def report_(result: GuardResult) -> None:
            if metrics is not None:
                metrics.publish(store, ctx.node, result.breaker_open)
            report(result)

        facts, boot = probe(options)
        readings = _readings(facts, boot, clock())
        next_sample = clock() + options.interval_s
        report_(_step(ctx, source, readings, boot, clock()))
        while not stop():
            now = clock()
            if now >= next_sample:
                facts, _ = probe(options)
                readings = _readings(facts, boot, now)
                next_sample = now + options.interval_s
                report_(_step(ctx, source, readings, boot, now))
                store.prune()
                continue
            records = list(kmsg.kernel_records(source.read_lines()))
            if records:
                report_(_judge(ctx, events_of(records, boot, now), readings, boot, now, samples=False))
            else:
                sleep(POLL_S)


def _readings(facts, boot: str, now: float) -> Signals:
    """The sample's readings; its kernel-log events are left out (the followed log gives them, keyed by seq)."""
    s = collect(facts, boot, now)
    return Signals((), s.readings, s.samples, s.gpus, True, s.gpus_readable,
                   tuple(r for r in s.reasons if not r.startswith("kernel log")))


def _step(ctx: Context, source, readings: Signals, boot: str, now: float) -> GuardResult:
    records = list(kmsg.kernel_records(source.read_lines()))
    return _judge(ctx, events_of(records, boot, now), readings, boot, now)


def _judge(ctx: Context, events: list[Event], readings: Signals, boot: str, now: float, *,
           samples: bool = True) -> GuardResult:
    """A judgement with the new events; the counters are stored with their sample only."""
    gpus = tuple(sorted(set(readings.gpus) | {e.target for e in events if e.kind in ("xid", "gpu_off_bus")}))
    signals = Signals(tuple(events), readings.readings, readings.samples if samples else (), gpus, True,
                      readings.gpus_readable, readings.reasons)
    return judge_signals(ctx, signals, boot=boot, now=now)

