"""`--pin-stages`: the CPU stages and the model as two pipelined threads, unpinned and then each
on its own cores, and the requests per second of each.

The preprocessing thread (read, decode, resize, normalise) hands tensors
through a short queue to the model thread (infer, top-k), as a server with a
decode pool in front of its model instance does. Pinned, the preprocessing
thread gets every usable core but the last and the model thread the last
(`os.sched_setaffinity` on a thread id pins that thread only; the main
thread keeps its cores). The model should run in its thread alone (one
intra-op thread): a runtime's own pool threads are not pinned here.
"""

from __future__ import annotations

import os
import queue
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hwtune.errors import ConfigError

QUEUE_DEPTH = 4
ROUNDS = 3  # unpinned and pinned alternate, so drifting load from others hits both


@dataclass(frozen=True)
class PinResult:
    pre_cores: tuple[int, ...]
    model_cores: tuple[int, ...]
    unpinned_rps: tuple[float, ...]
    pinned_rps: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"preprocess_cores": list(self.pre_cores), "model_cores": list(self.model_cores),
                "unpinned_rps": [round(x, 2) for x in self.unpinned_rps],
                "pinned_rps": [round(x, 2) for x in self.pinned_rps],
                "unpinned_rps_median": round(statistics.median(self.unpinned_rps), 2),
                "pinned_rps_median": round(statistics.median(self.pinned_rps), 2)}


def split_cores(cpus: Iterable[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    cores = tuple(sorted(cpus))
    if len(cores) < 2:
        raise ConfigError("placing the stages on cores needs 2 usable cores or more; this process has "
                          f"{len(cores)}")
    return cores[:-1], cores[-1:]


def pipelined_rps(pre: Callable[[Any], Any], post: Callable[[Any], Any], inputs: Sequence[Any],
                  seconds: float, pins: tuple[tuple[int, ...], tuple[int, ...]] | None) -> float:
    """Requests per second through the two threads over `seconds` (after a short warm-up)."""
    q: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    done: list[float] = []
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            if pins:
                os.sched_setaffinity(0, pins[0])
            i = 0
            while not stop.is_set():
                x = pre(inputs[i % len(inputs)])
                i += 1
                while not stop.is_set():
                    try:
                        q.put(x, timeout=0.05)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            errors.append(exc)
            stop.set()

    def consumer() -> None:
        try:
            if pins:
                os.sched_setaffinity(0, pins[1])
            while not stop.is_set():
                try:
                    x = q.get(timeout=0.05)
                except queue.Empty:
                    continue
                post(x)
                done.append(time.perf_counter())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=producer, daemon=True), threading.Thread(target=consumer, daemon=True)]
    for t in threads:
        t.start()
    warm = time.perf_counter() + min(0.5, seconds / 4)
    time.sleep(max(0.0, warm - time.perf_counter()))
    start = time.perf_counter()
    time.sleep(seconds)
    end = time.perf_counter()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    if errors:
        raise errors[0]
    return sum(1 for d in done if start <= d <= end) / (end - start)


def compare_pinning(pre: Callable[[Any], Any], post: Callable[[Any], Any], inputs: Sequence[Any],
                    seconds: float) -> PinResult:
    pins = split_cores(os.sched_getaffinity(0))
    unpinned, pinned = [], []
    for _ in range(ROUNDS):
        unpinned.append(pipelined_rps(pre, post, inputs, seconds / ROUNDS, None))
        pinned.append(pipelined_rps(pre, post, inputs, seconds / ROUNDS, pins))
    return PinResult(pins[0], pins[1], tuple(unpinned), tuple(pinned))
