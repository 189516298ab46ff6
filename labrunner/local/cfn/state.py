"""Per-resource status of a stack (moto only knows the stack's), with the matching stack events."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_lock = threading.RLock()
ATTRIBUTE = "_labrunner_resource_states"


@dataclass(frozen=True)
class ResourceState:
    """What describe_stack_resources shows for one logical id."""

    logical_id: str
    resource_type: str
    status: str
    reason: str | None
    physical_id: str | None
    timestamp: datetime


def states(stack: Any) -> dict[str, ResourceState]:
    with _lock:
        table: dict[str, ResourceState] | None = getattr(stack, ATTRIBUTE, None)
        if table is None:
            table = {}
            setattr(stack, ATTRIBUTE, table)
        return table


def physical_id_of(resource: Any) -> str | None:
    value = getattr(resource, "physical_resource_id", None)
    return str(value) if value is not None else None


def record(
    stack: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    *,
    reason: str | None = None,
    physical_id: str | None = None,
    properties: str | None = None,
) -> ResourceState:
    """Set a resource's status and add the stack event CloudFormation writes for it."""
    from moto.cloudformation.models import Event
    from moto.core.utils import utcnow

    table = states(stack)
    previous = table.get(logical_id)
    if physical_id is None and previous is not None:
        physical_id = previous.physical_id
    state = ResourceState(logical_id, resource_type, status, reason, physical_id, utcnow())
    with _lock:
        table[logical_id] = state
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id or "",
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=properties,
    )
    stack.events.append(event)
    return state


def forget(stack: Any, logical_id: str) -> None:
    with _lock:
        states(stack).pop(logical_id, None)


def stack_event(stack: Any, status: str, reason: str | None = None) -> None:
    """Set the stack's own status (and its StackStatusReason) with its event."""
    stack.status = status
    stack.status_reason = reason
    stack._add_stack_event(status, resource_status_reason=reason)
