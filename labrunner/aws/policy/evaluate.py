"""IAM policy evaluation logic (reference_policies_evaluation-logic in the IAM User Guide).

An explicit Deny in any applicable policy wins; otherwise a request is allowed only when an
identity-based (or, in the same account, a resource-based) policy allows it and every
permissions boundary and session policy that applies allows it too; otherwise it is implicitly
denied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from labrunner.aws.policy.conditions import (
    ContextValue,
    MissingVariable,
    RequestContext,
    evaluate_conditions,
    substitute_variables,
)
from labrunner.aws.policy.document import PolicyDocument, PolicyInput, Position, Statement, parse_policy
from labrunner.aws.policy.patterns import resource_matcher
from labrunner.aws.policy.principals import Caller, MatchKind, caller_from, principal_match

DecisionType = Literal["allowed", "explicitDeny", "implicitDeny"]
# The simulator's PolicySourceType values, plus "session" and "boundary" for the local authorizer.
# Which kind of policy decided a denial (AWS names it in its AccessDenied messages).
PolicyKind = Literal["identity-based policy", "resource-based policy", "permissions boundary", "session policy"]
PolicyType = Literal["user", "group", "role", "aws-managed", "user-managed", "resource", "none", "session", "boundary"]


@dataclass(frozen=True)
class Policy:
    """A parsed policy with the name the simulator and error messages use for it."""

    name: str
    document: PolicyDocument
    type: PolicyType = "none"
    arn: str | None = None

    @classmethod
    def of(
        cls, document: PolicyInput, name: str = "policy", type: PolicyType = "none", arn: str | None = None
    ) -> Policy:
        return cls(name=name, document=parse_policy(document), type=type, arn=arn)


@dataclass(frozen=True)
class MatchedStatement:
    """A statement that decided the outcome, named so a person can find it."""

    policy_name: str
    policy_type: PolicyType
    index: int  # 0-based position in the Statement list
    sid: str | None
    effect: Literal["Allow", "Deny"]
    policy_arn: str | None = None
    start: Position | None = None
    end: Position | None = None

    def describe(self) -> str:
        which = f"Sid {self.sid!r}" if self.sid else f"statement #{self.index + 1}"
        return f"{which} ({self.effect}) of policy {self.policy_name!r}"


@dataclass(frozen=True)
class Decision:
    """The outcome for one action on one resource."""

    decision: DecisionType
    matched_statements: tuple[MatchedStatement, ...] = ()
    missing_context_keys: tuple[str, ...] = ()
    # For a denial: the kind of policy that denied explicitly, or that lacked the needed Allow.
    denied_by: PolicyKind | None = None

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"

    @property
    def explicit_deny(self) -> bool:
        return self.decision == "explicitDeny"

    @property
    def implicit_deny(self) -> bool:
        return self.decision == "implicitDeny"


@dataclass(frozen=True)
class AccessRequest:
    """What is asked: an action on a resource, by a caller, with condition context."""

    action: str
    resource: str = "*"
    caller: Caller | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class _SetResult:
    allows: tuple[MatchedStatement, ...]
    denies: tuple[MatchedStatement, ...]
    missing: tuple[str, ...]
    account_only_allow: bool = False  # allowed only through an account principal (delegation)
    # Allowed only through grants to the caller's role ARN (or its account): limited by an implicit deny in
    # a permissions boundary or session policy, unlike grants to the session ARN, a user ARN or `*`.
    role_only_allow: bool = False


def _variables_allowed_at(pattern: str) -> int:
    """Where policy variables may start in a Resource pattern: after an ARN's fifth colon ("IAM policy elements:
    Variables and tags", Where you can use policy variables); colons inside `${…}` do not count (a variable's
    name has its own colon)."""
    if not pattern.startswith("arn:"):
        return 0
    colons, depth = 0, 0
    for i, char in enumerate(pattern):
        if pattern.startswith("${", i):
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == ":" and not depth:
            colons += 1
            if colons == 5:
                return i + 1
    return len(pattern)


def _substituted(pattern: str, context: RequestContext) -> str | None:
    """The pattern with its variables replaced, or None when one has no value (it matches no resource)."""
    start = _variables_allowed_at(pattern)
    head, tail = pattern[:start], pattern[start:]
    try:
        return head + substitute_variables(tail, context)
    except MissingVariable:
        return None


def _resource_applies(statement: Statement, resource: str, context: RequestContext) -> bool:
    patterns = statement.resources if statement.resources is not None else statement.not_resources
    if patterns is None:
        return True  # e.g. a role trust policy: the resource is the role itself
    if statement.variables and any("${" in p for p in patterns):
        # "IAM policy elements: Variables and tags": a pattern whose variable has no value matches no
        # resource, so a Resource with it grants nothing and a NotResource with it excludes nothing.
        patterns = tuple(p for p in (_substituted(p, context) for p in patterns) if p is not None)
    hit = bool(patterns) and resource_matcher(patterns)(resource)
    return hit if statement.resources is not None else not hit


def _principal_applies(statement: Statement, caller: Caller | None, has_boundary: bool) -> MatchKind | None:
    if statement.principal is None and statement.not_principal is None:
        return "everyone"
    if caller is None:
        return None
    if statement.principal is not None:
        return principal_match(statement.principal, caller)
    assert statement.not_principal is not None
    if statement.effect == "Deny" and has_boundary:
        # "Permissions boundaries for IAM entities": a Deny with NotPrincipal always denies a principal
        # that has a permissions boundary, whatever the NotPrincipal names.
        return "everyone"
    return None if principal_match(statement.not_principal, caller) is not None else "everyone"


def _evaluate_set(
    policies: Sequence[Policy],
    action: str,
    resource: str,
    context: RequestContext,
    caller: Caller | None,
    *,
    check_principal: bool,
    has_boundary: bool = False,
) -> _SetResult:
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    missing: list[str] = []
    strong_allow = False
    role_allow = False
    for policy in policies:
        for statement in policy.document.statements:
            if not statement.action_applies(action):
                continue
            if not _resource_applies(statement, resource, context):
                continue
            match_kind: MatchKind | None = "everyone"
            if check_principal:
                match_kind = _principal_applies(statement, caller, has_boundary)
                if match_kind is None:
                    continue
            if statement.conditions:
                result = evaluate_conditions(
                    statement.conditions, context, variables=statement.variables, effect=statement.effect
                )
                missing.extend(k for k in result.missing_keys if k not in missing)
                if not result.holds:
                    continue
            matched = MatchedStatement(
                policy_name=policy.name,
                policy_type=policy.type,
                index=statement.index,
                sid=statement.sid,
                effect=statement.effect,
                policy_arn=policy.arn,
                start=statement.start,
                end=statement.end,
            )
            if statement.effect == "Deny":
                denies.append(matched)
            else:
                allows.append(matched)
                if match_kind == "role":
                    role_allow = True
                elif match_kind != "account":
                    strong_allow = True
    return _SetResult(
        allows=tuple(allows),
        denies=tuple(denies),
        missing=tuple(missing),
        account_only_allow=bool(allows) and not strong_allow and not role_allow,
        role_only_allow=role_allow and not strong_allow,
    )


def _as_policies(policies: Iterable[Policy | PolicyInput], kind: PolicyType, prefix: str) -> list[Policy]:
    out = []
    for i, policy in enumerate(policies, start=1):
        out.append(policy if isinstance(policy, Policy) else Policy.of(policy, f"{prefix}.{i}", kind))
    return out


def evaluate(
    request: AccessRequest,
    identity_policies: Iterable[Policy | PolicyInput] = (),
    *,
    resource_policy: Policy | PolicyInput | None = None,
    permissions_boundaries: Iterable[Policy | PolicyInput] = (),
    session_policies: Iterable[Policy | PolicyInput] = (),
    resource_account: str | None = None,
) -> Decision:
    """Decide one request the way AWS does within and across accounts.

    `resource_account` is the account owning the resource (None: same account as the caller).
    """
    context = RequestContext(request.context)
    action, resource, caller = request.action, request.resource, request.caller
    identity = _evaluate_set(
        _as_policies(identity_policies, "none", "PolicyInputList"),
        action,
        resource,
        context,
        caller,
        check_principal=False,
    )
    resource_result = None
    boundaries = _as_policies(permissions_boundaries, "boundary", "PermissionsBoundaryPolicyInputList")
    if resource_policy is not None:
        policy = (
            resource_policy
            if isinstance(resource_policy, Policy)
            else Policy.of(resource_policy, "ResourcePolicy", "resource")
        )
        resource_result = _evaluate_set(
            [policy], action, resource, context, caller, check_principal=True, has_boundary=bool(boundaries)
        )
    boundary = _evaluate_set(boundaries, action, resource, context, caller, check_principal=False)
    sessions = _as_policies(session_policies, "session", "SessionPolicy")
    session = _evaluate_set(sessions, action, resource, context, caller, check_principal=False)

    parts = [identity, boundary, session] + ([resource_result] if resource_result else [])
    missing = tuple(dict.fromkeys(k for part in parts for k in part.missing))
    denies = tuple(d for part in parts for d in part.denies)
    if denies:
        return Decision("explicitDeny", denies, missing, _kind_of_policy(denies[0].policy_type))

    boundary_ok = not boundaries or bool(boundary.allows)
    session_ok = not sessions or bool(session.allows)
    same_account = resource_account is None or (caller is not None and caller.account == resource_account)
    resource_allows = resource_result is not None and bool(resource_result.allows)
    # An Allow for a whole account only delegates to that account's identity policies.
    resource_grants_directly = (
        resource_allows and resource_result is not None and not (resource_result.account_only_allow)
    )

    if same_account:
        if identity.allows and boundary_ok and session_ok:
            extra = resource_result.allows if resource_result else ()
            return Decision("allowed", identity.allows + extra, missing)
        # "Permissions boundaries for IAM entities" / "Policy evaluation logic": a grant to the role ARN is
        # limited by an implicit deny in a boundary or session policy; one to the session ARN, a user ARN or
        # `*` is not.
        limited = resource_result is not None and resource_result.role_only_allow
        if resource_grants_directly and resource_result is not None and (not limited or (boundary_ok and session_ok)):
            return Decision("allowed", resource_result.allows, missing)
    elif identity.allows and resource_allows and boundary_ok and session_ok and resource_result is not None:
        return Decision("allowed", identity.allows + resource_result.allows, missing)
    if not identity.allows:
        reason: PolicyKind = "identity-based policy"
    elif not boundary_ok:
        reason = "permissions boundary"
    elif not session_ok:
        reason = "session policy"
    else:
        reason = "resource-based policy"
    return Decision("implicitDeny", (), missing, reason)


def _kind_of_policy(policy_type: PolicyType) -> PolicyKind:
    if policy_type == "resource":
        return "resource-based policy"
    if policy_type == "boundary":
        return "permissions boundary"
    if policy_type == "session":
        return "session policy"
    return "identity-based policy"


@dataclass(frozen=True)
class ResourcePolicyDecision:
    """The verdict of one resource policy alone for a caller."""

    decision: Decision
    # Allowed only through an account principal (`arn:aws:iam::A:root`): that account's identity
    # policies must allow the action too.
    delegated_to_account: bool


def evaluate_resource_policy(policy: Policy | PolicyInput, request: AccessRequest) -> ResourcePolicyDecision:
    """Evaluate only a resource policy (e.g. a role trust policy) for the request's caller."""
    parsed = policy if isinstance(policy, Policy) else Policy.of(policy, "ResourcePolicy", "resource")
    context = RequestContext(request.context)
    result = _evaluate_set([parsed], request.action, request.resource, context, request.caller, check_principal=True)
    if result.denies:
        return ResourcePolicyDecision(
            Decision("explicitDeny", result.denies, result.missing, "resource-based policy"), False
        )
    if result.allows:
        return ResourcePolicyDecision(Decision("allowed", result.allows, result.missing), result.account_only_allow)
    return ResourcePolicyDecision(Decision("implicitDeny", (), result.missing, "resource-based policy"), False)


def is_allowed(
    policies: Iterable[Policy | PolicyInput],
    action: str,
    resource: str = "*",
    context: Mapping[str, ContextValue] | None = None,
) -> bool:
    """Shorthand: do these identity policies allow the action on the resource?"""
    return evaluate(AccessRequest(action, resource, context=context or {}), policies).allowed


def caller(principal: str) -> Caller:
    """Shorthand for `caller_from`."""
    return caller_from(principal)
