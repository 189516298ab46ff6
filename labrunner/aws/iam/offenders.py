"""Naming what grants too much: the policy and statement behind each allowed action, and what to click."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labrunner.aws.iam.evaluators import Evaluation, Evaluator, StatementRef
from labrunner.aws.iam.names import PolicySource
from labrunner.aws.policy import Statement
from labrunner.aws.policy.patterns import resource_matcher


def short_list(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} … (+{len(items) - limit} more)"


def statement_summary(statement: Statement) -> str:
    """`Allow dynamodb:* on *` — what a statement says, in one line."""
    if statement.actions is not None:
        actions = short_list(list(statement.actions), 3)
    else:
        actions = f"everything but {short_list(list(statement.not_actions or ()), 3)}"
    if statement.resources is not None:
        resources = short_list(list(statement.resources), 2)
    elif statement.not_resources is not None:
        resources = f"everything but {short_list(list(statement.not_resources), 2)}"
    else:
        resources = "*"
    condition = " (with a Condition)" if statement.conditions else ""
    return f"{statement.effect} {actions} on {resources}{condition}"


def _statement_applies(statement: Statement, action: str, resource: str) -> bool:
    if not statement.action_applies(action):
        return False
    if statement.resources is not None:
        return resource_matcher(statement.resources)(resource)
    if statement.not_resources is not None:
        return not resource_matcher(statement.not_resources)(resource)
    return True


@dataclass(frozen=True)
class Offender:
    """One statement (or a whole policy, when its statements cannot be told apart) that grants too much."""

    policy: str  # how to name the policy: "inline policy 'X'"
    policy_name: str
    source: PolicySource
    statement: str  # "statement #2 (Allow dynamodb:* on *)" or ""
    actions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def inline(self) -> bool:
        return self.source in ("role", "user", "group", "input")

    def describe(self) -> str:
        where = f"{self.statement} of {self.policy}" if self.statement else self.policy
        return f"{where} allows {short_list(list(self.actions))}"


def offenders(evaluator: Evaluator, evaluations: Iterable[Evaluation]) -> list[Offender]:
    """Group allowed evaluations by the policy statement that allows them."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    meta: dict[tuple[str, str, str], tuple[str, str]] = {}
    for ev in evaluations:
        if not ev.allowed:
            continue
        refs = ev.statements or (StatementRef("an unnamed policy"),)
        for ref in refs:
            named = evaluator.policy(ref.policy_id)
            policy_text = named.describe() if named else f"policy {ref.policy_id!r}"
            policy_name = named.name if named else ref.policy_id
            source = named.source if named else ref.source
            statement_text = ""
            if named is not None:
                hits = [
                    s
                    for s in named.statements()
                    if s.effect == "Allow" and _statement_applies(s, ev.action, ev.resource)
                ]
                if len(hits) == 1:
                    statement_text = f"{hits[0].label} ({statement_summary(hits[0])})"
                elif hits:
                    statement_text = "statements " + ", ".join(
                        f"{s.label.removeprefix('statement ')} ({statement_summary(s)})" for s in hits
                    )
            key = (policy_text, statement_text, policy_name)
            meta[key] = (policy_name, source)
            action = ev.action.split(":", 1)[-1]
            if action not in grouped.setdefault(key, []):
                grouped[key].append(action)
    return [
        Offender(policy=key[0], policy_name=meta[key][0], source=meta[key][1], statement=key[1], actions=tuple(acts))
        for key, acts in grouped.items()
    ]


def removal_hint(role: str, found: Sequence[Offender], *, keep: str = "") -> str:
    """What to click to take away what the offending statements grant."""
    steps = []
    for off in found:
        if off.inline:
            steps.append(
                f"edit the inline policy {off.policy_name!r} and delete or narrow "
                f"{off.statement.split(' (')[0] if off.statement else 'its statements'}"
            )
        else:
            steps.append(f"select {off.policy_name!r} and choose Remove")
    unique = list(dict.fromkeys(steps))
    tail = f" {keep}" if keep else ""
    return f"IAM → Roles → {role} → Permissions: " + "; ".join(unique) + "." + tail
