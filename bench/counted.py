"""Run the labrunner CLI and count the AWS API requests it sends.

Run: python bench/counted.py COUNT_FILE [labrunner arguments...]
Every botocore client of the process gets a `before-send` hook (one per HTTP request that leaves
the process, retries included; answers served from labrunner's own read cache are not requests).
Writes {"requests": N, "by_operation": {...}, "seconds": S, "exit": code} to COUNT_FILE.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import botocore.session

_counts: Counter[str] = Counter()
_lock = threading.Lock()
_create_client = botocore.session.Session.create_client


def _counting_create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
    client = _create_client(self, *args, **kwargs)
    service = client.meta.service_model.service_name

    def count(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]  # before-send.<service id>.<operation>
        with _lock:
            _counts[f"{service}.{operation}"] += 1

    client.meta.events.register("before-send", count)
    return client


def main() -> int:
    out = Path(sys.argv[1])
    botocore.session.Session.create_client = _counting_create_client
    from labrunner.cli import main as labrunner

    started = time.perf_counter()
    code = labrunner(sys.argv[2:])
    seconds = time.perf_counter() - started
    with _lock:
        counts = dict(_counts.most_common())
    out.write_text(
        json.dumps({"requests": sum(counts.values()), "by_operation": counts, "seconds": seconds, "exit": code})
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
