"""Clients that refuse every operation that is not a read (what `check` runs on, SPEC §5)."""

from __future__ import annotations

from typing import Any

# Operation-name prefixes that only observe. Receive* is excluded on purpose: an SQS receive
# hides messages from the workload's own consumer.
READ_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "Simulate",
    "Query",
    "Scan",
    "BatchGet",
    "Filter",
    "Lookup",
)
READ_OPERATIONS = frozenset({"ValidateTemplate"})


class ReadOnlyViolation(RuntimeError):
    """A verify tried to change the account: a bug in the step, reported as its error."""


def is_read(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES) or operation in READ_OPERATIONS


def _refuse_writes(model: Any, **_: Any) -> None:
    if not is_read(model.name):
        raise ReadOnlyViolation(
            f"{model.metadata.get('serviceId', '?')} {model.name} is not a read; check runs read-only"
        )


def make_read_only(client: Any) -> Any:
    """Make a boto3 client refuse non-read operations before any request is built."""
    client.meta.events.register("before-parameter-build", _refuse_writes)
    return client
