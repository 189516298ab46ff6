"""How a resource operation fails inside a stack operation (as CloudFormation reports it)."""

from __future__ import annotations

from collections.abc import Callable


def reason_of(exc: BaseException) -> str:
    """The status reason CloudFormation would show for a failed resource operation."""
    for attribute in ("reason", "message", "description"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and value:
            return value
    return str(exc) or type(exc).__name__


# moto's codes for "that resource does not exist".
_GONE_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NotFoundException",
    }
)


def already_gone(exc: BaseException) -> bool:
    """Did a delete fail because the resource no longer exists (deleted outside CloudFormation)?"""
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    return isinstance(code, str) and code.rsplit("#", 1)[-1] in _GONE_CODES  # DynamoDB's have a prefix


class ResourceFailed(Exception):
    """A resource could not be created, updated or deleted; the stack operation fails."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id
        self.reason = reason
        self.undo: Callable[[], None] | None = None  # set by an update: rolls back what it changed
