"""The system under test's scheduler: Triton's dynamic batching, and the services it feeds.

`max_batch_size` and `max_queue_delay` mean what they mean in Triton's
`dynamic_batching`: a free model instance takes up to `max_batch_size` queued
requests at once, and waits for more at most `max_queue_delay` after the
oldest of them arrived; with `max_batch_size` 1 every request runs alone (no
batching). Each instance runs one batch at a time, like a Triton model
instance.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hwtune.errors import ConfigError

perf = time.perf_counter


@dataclass(frozen=True)
class Batching:
    max_batch_size: int = 1  # 1: no batching
    max_queue_delay_us: int = 0

    @property
    def enabled(self) -> bool:
        return self.max_batch_size > 1

    def label(self) -> str:
        if not self.enabled:
            return "no batching"
        return f"batch <= {self.max_batch_size}, delay <= {self.max_queue_delay_us} us"

    def to_json(self) -> dict[str, int]:
        return {"max_batch_size": self.max_batch_size, "max_queue_delay_us": self.max_queue_delay_us}


NO_BATCHING = Batching()


class Service(Protocol):
    """One model instance: runs a batch of `n` samples, blocking until it is done; returns when it
    was done (perf_counter time)."""

    def run(self, n: int, ready_at: float) -> float: ...

    def close(self) -> None: ...


class FixedService:
    """A model whose batch of n takes exactly `base_s + per_sample_s * (n - 1)`: the reference for queueing theory.

    The service is a timer on the wall clock: a batch starts when it could
    (`ready_at`: its arrival, or when the batch closed) or when the previous
    one ends, whichever is later, and ends exactly its service time after
    that. A late wake-up of this thread (the CPU is shared) delays the report
    of one completion, not the start of the next request, so the queue is
    M/D/1 however busy the machine is.
    """

    def __init__(self, base_s: float, per_sample_s: float = 0.0) -> None:
        self.base_s, self.per_sample_s = base_s, per_sample_s
        self.free_at = 0.0

    def service_s(self, n: int) -> float:
        return self.base_s + self.per_sample_s * (n - 1)

    def run(self, n: int, ready_at: float) -> float:
        end = max(ready_at, self.free_at) + self.service_s(n)
        self.free_at = end
        delay = end - perf()
        if delay > 0:
            time.sleep(delay)
        return end

    def close(self) -> None:
        pass


class EngineService:
    """A runtime engine per batch size bucket (powers of two up to the largest batch); a batch runs
    on the smallest bucket that holds it, padded, as a static-shape server runs it."""

    def __init__(self, open_engine: Callable[[int], Any], max_batch: int) -> None:
        self.buckets = sorted({min(2 ** i, max_batch) for i in range(max_batch.bit_length() + 1)})
        self.engines: dict[int, Any] = {}
        try:
            for b in self.buckets:
                self.engines[b] = open_engine(b)
        except BaseException:
            self.close()
            raise

    def run(self, n: int, ready_at: float) -> float:
        bucket = next(b for b in self.buckets if b >= n)
        self.engines[bucket].infer()
        return perf()

    def close(self) -> None:
        for e in self.engines.values():
            e.close()
        self.engines = {}


class BatchingSut:
    """The system under test LoadGen drives: a queue, the dynamic batcher, and one thread per instance."""

    def __init__(self, services: list[Service], batching: Batching) -> None:
        self.services = services
        self.batching = batching
        self.complete: Callable[[list[int]], None] = lambda _ids: None
        self.queue: deque[tuple[int, float]] = deque()
        self.cond = threading.Condition()
        self.stopping = False
        self.errors: list[BaseException] = []
        self.batches = 0
        self.samples = 0
        self.threads = [threading.Thread(target=self._worker, args=(s,), daemon=True, name=f"hwtune-instance-{i}")
                        for i, s in enumerate(services)]
        for t in self.threads:
            t.start()

    def issue(self, ids: list[int]) -> None:
        now = perf()
        with self.cond:
            self.queue.extend((i, now) for i in ids)
            self.cond.notify()

    def flush(self) -> None:
        pass

    def _take(self) -> tuple[list[int], float] | None:
        max_batch, delay_s = self.batching.max_batch_size, self.batching.max_queue_delay_us / 1e6
        with self.cond:
            while True:
                while not self.queue and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    return None
                while 0 < len(self.queue) < max_batch and not self.stopping:
                    # The oldest waiting request sets the deadline; while this instance waited,
                    # another may have taken it, so it is read again after every wake-up.
                    left = self.queue[0][1] + delay_s - perf()
                    if left <= 0:
                        break
                    self.cond.wait(left)
                if self.stopping:
                    return None
                if self.queue:
                    break
            n = min(max_batch, len(self.queue))
            taken = [self.queue.popleft() for _ in range(n)]
            if self.queue:
                self.cond.notify()  # another instance may take the rest
        last = taken[-1][1]
        ready_at = last if n == max_batch else max(last, taken[0][1] + delay_s)
        return [i for i, _ in taken], ready_at

    def _worker(self, service: Service) -> None:
        while True:
            got = self._take()
            if got is None:
                return
            ids, ready_at = got
            try:
                service.run(len(ids), ready_at)
            except BaseException as exc:  # noqa: BLE001 - raised by close(); LoadGen still gets its completions
                self.errors.append(exc)
            with self.cond:
                self.batches += 1
                self.samples += len(ids)
            self.complete(ids)

    def close(self) -> None:
        """Stop the instance threads (the services stay open for the next run)."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for t in self.threads:
            t.join(timeout=30)
        if self.errors:
            exc = self.errors[0]
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ConfigError(f"a model instance failed while serving: {text}") from None


def closed_loop_rate(services: list[Service], batch: int, seconds: float) -> float:
    """Samples per second with every instance busy on full batches: the capacity the search starts from."""
    done = [0] * len(services)
    start = perf()

    def loop(i: int, s: Service) -> None:
        ready = perf()
        while perf() - start < seconds:
            ready = s.run(batch, ready)  # the next batch is ready when this one is done
            done[i] += batch

    threads = [threading.Thread(target=loop, args=(i, s), daemon=True) for i, s in enumerate(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in services:
        if isinstance(s, FixedService):
            s.free_at = 0.0
    return sum(done) / (perf() - start)
