"""Wildcard matching of IAM actions (case-insensitive) and resource ARNs (case-sensitive)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping

Matcher = Callable[[str], bool]

# `${*}` and `${?}` in a policy stand for the characters themselves, not wildcards ("IAM policy elements:
# Variables and tags", special characters). Substitution writes them as these private-use characters,
# which the matchers below compare as the literal `*` and `?`.
LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"


def literal_text(text: str) -> str:
    """The text a substituted pattern stands for when compared without wildcards (StringEquals…)."""
    return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")


def _always(_value: str) -> bool:
    return True


def _never(_value: str) -> bool:
    return False


def wildcard_regex(pattern: str) -> str:
    """Regex source for an IAM wildcard pattern: `*` any run of characters (also `:` and `/`), `?` one."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == LITERAL_STAR:
            out.append(re.escape("*"))
        elif char == LITERAL_QUESTION:
            out.append(re.escape("?"))
        else:
            out.append(re.escape(char))
    return "".join(out)


def _combine(patterns: Iterable[str], *, ignore_case: bool) -> Matcher:
    """One matcher for several patterns: a set lookup for literals, one alternation for the rest."""
    literals: set[str] = set()
    wild: list[str] = []
    for pattern in patterns:
        if pattern == "*":
            return _always
        key = pattern.lower() if ignore_case else pattern
        if "*" in pattern or "?" in pattern:
            wild.append(wildcard_regex(key))
        else:
            literals.add(literal_text(key))
    regex = re.compile("|".join(f"(?:{w})" for w in wild), re.DOTALL) if wild else None
    if not literals and regex is None:
        return _never

    def match(value: str) -> bool:
        key = value.lower() if ignore_case else value
        if key in literals:
            return True
        return regex is not None and regex.fullmatch(key) is not None

    return match


class ActionMatcher:
    """Matches `service:Operation` names against a statement's Action/NotAction list.

    Patterns are indexed by their (literal) service prefix, so that a policy with thousands of
    actions (ReadOnlyAccess) only tests the few that belong to the requested service.
    """

    __slots__ = ("_by_service", "_generic", "_patterns")

    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(patterns)
        by_service: dict[str, list[str]] = {}
        generic: list[str] = []
        for pattern in self._patterns:
            service, sep, _operation = pattern.partition(":")
            if sep and "*" not in service and "?" not in service:
                by_service.setdefault(service.lower(), []).append(pattern)
            else:
                generic.append(pattern)
        self._by_service: Mapping[str, Matcher] = {
            service: _combine(group, ignore_case=True) for service, group in by_service.items()
        }
        self._generic: Matcher = _combine(generic, ignore_case=True)

    def __call__(self, action: str) -> bool:
        service = action.partition(":")[0].lower()
        specific = self._by_service.get(service)
        if specific is not None and specific(action):
            return True
        return self._generic(action)


@functools.lru_cache(maxsize=4096)
def resource_matcher(patterns: tuple[str, ...]) -> Matcher:
    """Case-sensitive matcher for Resource/NotResource ARN patterns (no policy variables)."""
    return _combine(patterns, ignore_case=False)


@functools.lru_cache(maxsize=4096)
def action_matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    return ActionMatcher(patterns)


def matches_wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """True when the value matches one IAM wildcard pattern."""
    return _single(pattern, ignore_case)(value)


@functools.lru_cache(maxsize=8192)
def _single(pattern: str, ignore_case: bool) -> Matcher:
    return _combine((pattern,), ignore_case=ignore_case)
