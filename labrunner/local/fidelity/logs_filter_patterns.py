"""CloudWatch Logs filter patterns in `filter_log_events` (and Live Tail) as AWS evaluates them.

moto filters plain terms and one quoted phrase and silently returns every event for any other
syntax (`?a ?b`, `-x`, JSON `{ $.f = "x" }`, `%regex%`, `[a, b, ...]`). Here every pattern goes
through labrunner.local.filter_patterns, and a pattern AWS rejects is refused with
InvalidParameterException before any event is read.
"""

from __future__ import annotations

import functools
from typing import Any

from labrunner.local.filter_patterns import FilterPatternError, compile_pattern
from labrunner.local.hooks import ServerHooks


class EventMessageFilter:
    """Drop-in for moto.logs.utils.EventMessageFilter (constructed per pattern, `.matches`)."""

    def __init__(self, pattern: str | None) -> None:
        self.matcher = compile_pattern(pattern)

    def matches(self, message: str) -> bool:
        return self.matcher(message)


def validated(method: Any, pattern_argument: str) -> Any:
    """Wrap a LogsBackend method so that its filter pattern is checked first."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.logs.exceptions import InvalidParameterException

        pattern = kwargs.get(pattern_argument)
        if pattern is None:
            names = method.__code__.co_varnames[1 : method.__code__.co_argcount]
            if pattern_argument in names and names.index(pattern_argument) < len(args):
                pattern = args[names.index(pattern_argument)]
        try:
            compile_pattern(pattern)
        except FilterPatternError as exc:
            raise InvalidParameterException(msg=str(exc)) from None
        return method(self, *args, **kwargs)

    return wrapper


def install(hooks: ServerHooks) -> None:
    import moto.logs.models as logs_models

    setattr(logs_models, "EventMessageFilter", EventMessageFilter)  # noqa: B010 (the name models.py uses)
    backend = logs_models.LogsBackend
    setattr(backend, "filter_log_events", validated(backend.filter_log_events, "filter_pattern"))  # noqa: B010
    setattr(backend, "start_live_tail", validated(backend.start_live_tail, "log_event_filter_pattern"))  # noqa: B010
