"""Which requests get a throttling error: seeded dice, never more than a burst in a row per caller."""

from __future__ import annotations

import random
import threading

from labrunner.local.faults import FAULTS, THROTTLE_BURST, THROTTLE_RATE, THROTTLE_SEED, Faults


class Throttler:
    """Decides, request by request, whether to throttle.

    The dice are one seeded random sequence, so a run with the same seed and the same order of
    requests throttles the same requests. A caller's operation is refused at most `burst` times
    in a row: AWS throttling is transient, and a client that retries gets through.
    """

    def __init__(self, faults: Faults = FAULTS) -> None:
        self._faults = faults
        self._lock = threading.Lock()
        self._random = random.Random(0)
        self._streaks: dict[tuple[str, str], int] = {}
        self.reseed()
        faults.on_change(self.reseed)

    def reseed(self) -> None:
        """Start the dice again from the seed (on every settings change, so runs are repeatable)."""
        with self._lock:
            self._random = random.Random(int(self._faults.value(THROTTLE_SEED)))
            self._streaks.clear()

    def decide(self, caller: str, operation: str) -> bool:
        """Throttle this request of `caller` (an access key) for `operation` (e.g. "s3:PutObject")?"""
        rate = self._faults.value(THROTTLE_RATE)
        if rate <= 0:
            return False
        burst = int(self._faults.value(THROTTLE_BURST))
        key = (caller, operation)
        with self._lock:
            streak = self._streaks.get(key, 0)
            throttle = streak < burst and self._random.random() < rate
            if throttle:
                self._streaks[key] = streak + 1
            else:
                self._streaks.pop(key, None)
        return throttle
