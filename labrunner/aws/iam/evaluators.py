"""Effective permissions from an `Evaluator` — "a way to evaluate" what a principal may do:

* `PrincipalSimulator`: IAM's policy simulator (`iam:SimulatePrincipalPolicy`) for a live role,
  authoritative on AWS (it sees inline, managed, boundary and SCP policies) and a read, so it
  works under ReadOnlyAccess;
* `CustomPolicySimulator`: `iam:SimulateCustomPolicy` for policy documents that are not attached
  anywhere (e.g. the policies of a CloudFormation template);
* `StaticEvaluator`: the pure evaluator of `labrunner.aws.policy`, client-side (the extra credit's
  template audit, tests).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from labrunner.aws.fan_out import fan_out
from labrunner.aws.iam.names import EvalDecision, PolicySource, Request
from labrunner.aws.iam.roles import NamedPolicy, RolePolicies
from labrunner.aws.policy import AccessRequest, Policy, parse_policy
from labrunner.aws.policy import evaluate as evaluate_policies


@dataclass(frozen=True)
class StatementRef:
    """A statement that decided an evaluation, as the simulator names it."""

    policy_id: str  # the policy's name (inline or managed), or PolicyInputList.N
    source: PolicySource = ""
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class Evaluation:
    """The decision for one action on one resource."""

    action: str
    resource: str
    decision: EvalDecision
    statements: tuple[StatementRef, ...] = ()
    missing_context: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


class Evaluator(Protocol):
    """A way to evaluate a principal's effective permissions."""

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        """The decision for every (action, resource) asked for."""
        ...

    def policy(self, policy_id: str) -> NamedPolicy | None:
        """The document behind a StatementRef's policy id (to name the statement), if known."""
        ...


# A simulator call costs about as much as this many extra evaluations in one call: two batches are
# asked as one (their cross product) when that evaluates at most this many pairs nobody asked for.
MERGE_WASTE = 24


def _merge_batches(batches: list[tuple[frozenset[str], frozenset[str]]]) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Greedily merge the pair of batches whose cross product wastes least, while it wastes little."""
    while len(batches) > 1:
        best: tuple[int, int, int] | None = None
        for i, (a1, r1) in enumerate(batches):
            for j in range(i + 1, len(batches)):
                a2, r2 = batches[j]
                waste = len(a1 | a2) * len(r1 | r2) - len(a1) * len(r1) - len(a2) * len(r2)
                if waste <= MERGE_WASTE and (best is None or waste < best[0]):
                    best = (waste, i, j)
        if best is None:
            break
        _, i, j = best
        merged = (batches[i][0] | batches[j][0], batches[i][1] | batches[j][1])
        batches = [b for k, b in enumerate(batches) if k not in (i, j)] + [merged]
    return batches


def _group_by_actions(requests: Iterable[Request]) -> list[tuple[list[str], list[str]]]:
    """Batches of (actions, resources) whose cross product covers the requests with few calls."""
    by_resource: dict[str, set[str]] = {}
    for action, resource in requests:
        by_resource.setdefault(resource, set()).add(action)
    by_actions: dict[frozenset[str], set[str]] = {}
    for resource, actions in by_resource.items():
        by_actions.setdefault(frozenset(actions), set()).add(resource)
    batches = _merge_batches([(actions, frozenset(resources)) for actions, resources in by_actions.items()])
    return [(sorted(actions), sorted(resources)) for actions, resources in batches]


def _refs(raw: Sequence[Mapping[str, Any]]) -> tuple[StatementRef, ...]:
    return tuple(
        StatementRef(
            policy_id=str(s.get("SourcePolicyId", "")),
            source=str(s.get("SourcePolicyType", "")),
            line=s.get("StartPosition", {}).get("Line"),
            column=s.get("StartPosition", {}).get("Column"),
        )
        for s in raw
    )


def parse_simulation(results: Iterable[Mapping[str, Any]]) -> dict[Request, Evaluation]:
    """EvaluationResults → one Evaluation per (action, resource).

    AWS now returns one result per action with a ResourceSpecificResults entry per resource
    (before: one result per action and resource); both shapes are read.
    """
    out: dict[Request, Evaluation] = {}
    for result in results:
        action = str(result["EvalActionName"])
        specific = result.get("ResourceSpecificResults") or []
        if specific:
            for entry in specific:
                resource = str(entry["EvalResourceName"])
                out[(action.lower(), resource)] = Evaluation(
                    action=action,
                    resource=resource,
                    decision=entry["EvalResourceDecision"],
                    statements=_refs(entry.get("MatchedStatements", [])),
                    missing_context=tuple(entry.get("MissingContextValues", [])),
                )
        else:
            resource = str(result.get("EvalResourceName", "*"))
            out[(action.lower(), resource)] = Evaluation(
                action=action,
                resource=resource,
                decision=result["EvalDecision"],
                statements=_refs(result.get("MatchedStatements", [])),
                missing_context=tuple(result.get("MissingContextValues", [])),
            )
    return out


class _Simulator:
    """Shared by the two simulator evaluators: batching, pagination, caching."""

    operation = ""

    def __init__(self, iam: Any, policies: Sequence[NamedPolicy]) -> None:
        self.iam = iam
        self.policies = tuple(policies)
        self._cache: dict[Request, Evaluation] = {}

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def policy(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        wanted = list(dict.fromkeys(requests))
        todo = [r for r in wanted if (r[0].lower(), r[1]) not in self._cache]
        params = self._params()

        def simulate(group: tuple[list[str], list[str]]) -> list[dict[str, Any]]:
            paginator = self.iam.get_paginator(self.operation)
            pages = paginator.paginate(ActionNames=group[0], ResourceArns=group[1], **params)
            return [row for page in pages for row in page.get("EvaluationResults", [])]

        # Each batch is one simulator call (one round trip): all batches are asked at once.
        for rows in fan_out(simulate, _group_by_actions(todo)):
            self._cache.update(parse_simulation(rows))
        out = {}
        for action, resource in wanted:
            found = self._cache.get((action.lower(), resource))
            if found is None:
                raise RuntimeError(f"the policy simulator returned no result for {action} on {resource}")
            out[(action, resource)] = found
        return out


class PrincipalSimulator(_Simulator):
    """IAM's policy simulator for a user, group or role's attached policies (a read)."""

    operation = "simulate_principal_policy"

    def __init__(self, iam: Any, principal_arn: str, policies: Sequence[NamedPolicy] = ()) -> None:
        super().__init__(iam, policies)
        self.principal_arn = principal_arn

    @classmethod
    def for_role(cls, iam: Any, role: RolePolicies) -> PrincipalSimulator:
        return cls(iam, role.arn, role.policies)

    def _params(self) -> dict[str, Any]:
        return {"PolicySourceArn": self.principal_arn}


class CustomPolicySimulator(_Simulator):
    """IAM's simulator for policy documents attached to nothing (e.g. a template's policies).

    The simulator names them PolicyInputList.1, .2, …; they are reported by the names given here.
    """

    operation = "simulate_custom_policy"

    def _params(self) -> dict[str, Any]:
        return {"PolicyInputList": [json.dumps(p.document) for p in self.policies]}

    def policy(self, policy_id: str) -> NamedPolicy | None:
        if policy_id.startswith("PolicyInputList."):
            index = policy_id.rsplit(".", 1)[-1]
            if index.isdigit() and 1 <= int(index) <= len(self.policies):
                return self.policies[int(index) - 1]
        return super().policy(policy_id)


class StaticEvaluator:
    """The pure evaluator of labrunner.aws.policy over given identity policies (client-side)."""

    def __init__(self, policies: Sequence[NamedPolicy]) -> None:
        self.policies = tuple(policies)
        self._parsed = [
            Policy(name=p.name, document=parse_policy(p.document), type=_policy_type(p.source), arn=p.arn)
            for p in self.policies
        ]

    def policy(self, policy_id: str) -> NamedPolicy | None:
        return next((p for p in self.policies if policy_id in (p.name, p.arn)), None)

    def evaluate(self, requests: Iterable[Request]) -> Mapping[Request, Evaluation]:
        out = {}
        for action, resource in dict.fromkeys(requests):
            decision = evaluate_policies(AccessRequest(action, resource), self._parsed)
            refs = tuple(
                StatementRef(
                    m.policy_name,
                    m.policy_type,
                    m.start.line if m.start else None,
                    m.start.column if m.start else None,
                )
                for m in decision.matched_statements
            )
            out[(action, resource)] = Evaluation(
                action, resource, decision.decision, refs, tuple(decision.missing_context_keys)
            )
        return out


def _policy_type(source: str) -> Any:
    return source if source in ("role", "user", "group", "aws-managed", "user-managed") else "none"
