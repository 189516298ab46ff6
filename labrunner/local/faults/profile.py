"""Timing profiles of the local AWS: `fast` (the default) or `aws` (what real accounts show).

LABRUNNER_LOCAL_PROFILE picks the profile, LABRUNNER_LOCAL_TIME_SCALE multiplies every timing it
sets (tests rehearse a real account's waits at a hundredth of the time). The sources of the `aws`
values are listed in labrunner/local/faults/__init__.py.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

PROFILE_ENV = "LABRUNNER_LOCAL_PROFILE"
TIME_SCALE_ENV = "LABRUNNER_LOCAL_TIME_SCALE"
PROFILES = ("fast", "aws")

# Real-account timings, by knob name: seconds, except latency_ms.
AWS_TIMINGS: dict[str, float] = {
    "iam_delay_s": 5.0,
    "lambda_cold_start_s": 0.5,
    "config_recording_delay_s": 120.0,
    "config_evaluation_delay_s": 60.0,
    "cloudtrail_delay_s": 300.0,
    "access_log_delay_s": 1800.0,
    "bucket_name_hold_s": 3600.0,
    "credential_ttl_s": 3600.0,
    "latency_ms": 50.0,
    "lambda_esm_startup_s": 60.0,
}


def profile() -> str:
    """The profile the environment asks for (ValueError for an unknown one)."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower() or "fast"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {', '.join(PROFILES)}, not {name!r}")
    return name


def time_scale() -> float:
    """LABRUNNER_LOCAL_TIME_SCALE: a finite number > 0 (default 1)."""
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{TIME_SCALE_ENV} must be a number greater than 0, not {raw!r}")
    return value


def environment_value(
    name: str, env_var: str, default: float, parse: Callable[[str, str], float], *, timing: bool
) -> float:
    """A knob's starting value: its own variable if set, else the profile's value, else `default`.

    The time scale multiplies a timing whether it comes from the profile or is a fixed default
    (e.g. the 60 s bucket-name hold), never a value its own variable sets explicitly.
    """
    raw = os.environ.get(env_var, "").strip()
    if raw:
        return parse(raw, env_var)
    if not timing:
        return default
    base = AWS_TIMINGS.get(name, default) if profile() == "aws" else default
    return base * time_scale()
