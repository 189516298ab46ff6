"""When Lambda stops accepting a runtime: cfn-lint's copy of AWS's deprecation table.

AWS: Lambda Developer Guide, "Lambda runtimes" — "Runtime deprecation policy" and the table of
deprecated runtimes with their "Block function create" and "Block function update" dates, each
starting at midnight Pacific time (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html,
https://docs.aws.amazon.com/lambda/latest/dg/runtime-support-policy.html). Lambda offers no API
that lists them, so the dates are cfn-lint's (rule E2531, data/AdditionalSpecs/LmbdRuntimeLifecycle.json,
kept in step with AWS's table), not a list of our own. Used by `labrunner doctor` on any target and
by the local AWS, which refuses such runtimes as Lambda does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo


@functools.cache
def lifecycle() -> dict[str, dict[str, str | None]]:
    """Runtime -> {"deprecated", "create-block", "update-block", "successor"} (cfn-lint's data)."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    data: dict[str, dict[str, str | None]] = load_resource(AdditionalSpecs, "LmbdRuntimeLifecycle.json")
    return data


def _pacific() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Los_Angeles")
    except Exception:  # no time zone database: Pacific standard time is close enough for a date
        return timezone(timedelta(hours=-8))


def pacific_today() -> date:
    """Today where Lambda's dates apply (midnight Pacific time)."""
    return datetime.now(_pacific()).date()


def _date(runtime: str | None, phase: str) -> date | None:
    when = (lifecycle().get(runtime or "") or {}).get(phase)
    return date.fromisoformat(str(when)) if when else None


def _blocked(runtime: str | None, phase: str, today: date | None = None) -> bool:
    when = _date(runtime, phase)
    return when is not None and when <= (today or pacific_today())


def blocked_for_create(runtime: str | None, today: date | None = None) -> bool:
    return _blocked(runtime, "create-block", today)


def blocked_for_update(runtime: str | None, today: date | None = None) -> bool:
    return _blocked(runtime, "update-block", today)


@dataclass(frozen=True)
class RuntimeLife:
    """One runtime's deprecation dates (None: none announced) and its suggested successor."""

    runtime: str
    deprecated: date | None
    create_block: date | None
    update_block: date | None
    successor: str | None

    def creatable(self, on: date) -> bool:
        return self.create_block is None or on < self.create_block

    def is_deprecated(self, on: date) -> bool:
        return self.deprecated is not None and self.deprecated <= on


def life_of(runtime: str) -> RuntimeLife:
    successor = (lifecycle().get(runtime) or {}).get("successor")
    return RuntimeLife(
        runtime=runtime,
        deprecated=_date(runtime, "deprecated"),
        create_block=_date(runtime, "create-block"),
        update_block=_date(runtime, "update-block"),
        successor=str(successor) if successor else None,
    )
