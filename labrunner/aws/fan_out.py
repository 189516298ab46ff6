"""Independent reads at once: each AWS call is a round trip (50-150 ms from a laptop), so reads that do
not depend on each other are started together and a check's critical path stays a few round trips deep.

Results come back in the order asked; when some fail, the first failure in that order is raised, as the
same reads made one after another would have raised it (later reads then ran for nothing, harmlessly:
they only read). botocore clients are thread-safe; sessions are not, and are not touched here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_AT_ONCE = 16  # per fan-out; past its 10 kept connections a client opens more and closes them after use


def fan_out(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`[fn(item) for item in items]`, the calls made concurrently."""
    todo = list(items)
    if len(todo) <= 1:
        return [fn(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(MAX_AT_ONCE, len(todo)), thread_name_prefix="fan-out") as pool:
        futures = [pool.submit(fn, item) for item in todo]
    return [future.result() for future in futures]


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Call each of `calls` concurrently; their results in order."""
    return fan_out(lambda call: call(), calls)
