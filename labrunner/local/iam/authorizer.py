"""Authorize one action of a principal of the local AWS, as IAM would (STABLE interface).

Used by the request middleware (fidelity/iam_enforcement.py) and, in-process, by the Lambda
runtime to decide whether a function's role may poll its queue and write its logs:

    decision = authorize(account, "arn:aws:sts::A:assumed-role/ROLE/FN", "logs:PutLogEvents", arn)
    if not decision.allowed:
        raise AccessDenied(denied_message(principal, action, arn, decision))
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from labrunner.aws.policy import (
    AccessRequest,
    Caller,
    Decision,
    MatchedStatement,
    Policy,
    PolicyInput,
    PolicyParseError,
    caller_from,
    evaluate,
    evaluate_resource_policy,
)
from labrunner.aws.policy.conditions import ContextValue
from labrunner.local.faults.propagation import PROPAGATION
from labrunner.local.iam.policies import find_role, iam_backend, policies_for

__all__ = [
    "Decision",
    "MatchedStatement",
    "authorize",
    "authorize_assume_role",
    "denied_message",
    "request_context",
]

_ROOT = re.compile(r"^arn:[\w-]+:iam::\d{12}:root$")
_PRINCIPAL_TYPE = {"user": "User", "role": "AssumedRole", "assumed-role": "AssumedRole", "root": "Account"}


def request_context(principal_arn: str, extra: Mapping[str, ContextValue] | None = None) -> dict[str, ContextValue]:
    """The global condition keys AWS puts into every request of this principal, plus `extra`."""
    caller = caller_from(principal_arn)
    now = time.time()
    context: dict[str, ContextValue] = {
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now)),
        # The local endpoint stands in for AWS's HTTPS endpoints: policies that deny plain HTTP
        # (a common hardening) must not lock out a client that would use TLS on AWS.
        "aws:SecureTransport": "true",
        "aws:ViaAWSService": "false",
    }
    if caller.account:
        context["aws:PrincipalAccount"] = caller.account
    if caller.kind in _PRINCIPAL_TYPE:
        context["aws:PrincipalType"] = _PRINCIPAL_TYPE[caller.kind]
    if caller.kind == "assumed-role" and caller.role_arn:
        context["aws:PrincipalArn"] = caller.role_arn
    elif caller.kind in ("user", "role", "root"):
        context["aws:PrincipalArn"] = caller.arn
    if caller.kind == "user":
        context["aws:username"] = caller.name
    if extra:
        context.update(extra)
    return context


def authorize(
    account_id: str,
    principal_arn: str,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
    *,
    session_policies: Iterable[PolicyInput] = (),
    resource_policy: PolicyInput | Policy | None = None,
    resource_account: str | None = None,
) -> Decision:
    """Decide whether the principal may perform `action` (e.g. "dynamodb:PutItem") on `resource`.

    `principal_arn` is a user ARN, a role ARN (meaning a session of that role) or an assumed-role
    ARN; `account_id` is the account the request is made in. The identity policies are read from
    moto's IAM at call time, so policy changes take effect on the next request (or, with an IAM
    propagation delay injected, N seconds later: labrunner/local/faults/propagation.py).
    """
    caller = caller_from(principal_arn)
    if resource_policy is not None:
        caller = _with_role_path(caller)
    request = AccessRequest(
        action=action,
        resource=resource,
        caller=caller,
        context=request_context(principal_arn, context),
    )
    if _ROOT.match(principal_arn):
        return _authorize_root(request, account_id, resource_policy, resource_account)
    # A change IAM has not propagated yet is not enforced (fault injection; none by default).
    gathered = PROPAGATION.enforced_policies(principal_arn) or policies_for(principal_arn)
    sessions = [p if isinstance(p, Policy) else Policy.of(p, "SessionPolicy", "session") for p in session_policies]
    return evaluate(
        request,
        gathered.identity,
        resource_policy=resource_policy,
        permissions_boundaries=[gathered.boundary] if gathered.boundary else (),
        session_policies=sessions,
        resource_account=resource_account if resource_account is not None else account_id,
    )


def _authorize_root(
    request: AccessRequest, account_id: str, resource_policy: PolicyInput | Policy | None, resource_account: str | None
) -> Decision:
    """The account root user: no identity policy limits it, but a resource policy still applies.

    "Policy evaluation logic": an explicit deny in any policy, resource-based ones included, overrides every
    allow; across accounts the resource policy must also grant the access.
    """
    if resource_policy is None:
        return Decision("allowed")
    verdict = evaluate_resource_policy(resource_policy, request).decision
    if verdict.explicit_deny:
        return verdict
    cross_account = resource_account is not None and resource_account != account_id
    if cross_account and not verdict.allowed:
        return verdict
    return Decision("allowed", verdict.matched_statements, verdict.missing_context_keys)


def _with_role_path(caller: Caller) -> Caller:
    """A role session's caller with its role's real ARN (path included): an assumed-role ARN omits the path,
    and a resource policy's role principal matches only at the role's own path."""
    if caller.kind != "assumed-role" or caller.account is None or caller.role_arn is None:
        return caller
    role = find_role(iam_backend(caller.account, caller.partition), caller.role_arn.rsplit("/", 1)[-1])
    return dataclasses.replace(caller, role_arn=str(role.arn)) if role is not None else caller


def denied_message(principal_arn: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied wording for a denied decision."""
    kind = decision.denied_by or "identity-based policy"
    article = "an" if kind[0] in "aeiou" else "a"
    head = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.explicit_deny:
        return f"{head} with an explicit deny in {article} {kind}"
    return f"{head} because no {kind} allows the {action} action"


_ROLE_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")


def authorize_assume_role(
    account_id: str,
    principal_arn: str,
    role_arn: str,
    context: Mapping[str, str] | None = None,
    *,
    session_policies: Iterable[PolicyInput] = (),
) -> Decision:
    """May the principal call sts:AssumeRole on the role?

    The role must exist and its trust policy must allow the principal (trust policies never
    allow implicitly); a principal trusted through its whole account (`arn:aws:iam::A:root`), or
    from another account, also needs an identity policy that allows sts:AssumeRole on the role.
    """
    match = _ROLE_ARN.match(role_arn)
    if match is None:
        return Decision("implicitDeny", denied_by="resource-based policy")
    role = find_role(iam_backend(match["account"], match["partition"]), match["name"])
    if role is None:
        return Decision("implicitDeny", denied_by="resource-based policy")
    trust_document = PROPAGATION.enforced_trust(match["account"], match["partition"], role.name)
    try:
        trust_policy = Policy.of(
            trust_document or role.assume_role_policy_document, "TrustPolicy", "resource", role_arn
        )
    except PolicyParseError:
        return Decision("implicitDeny", denied_by="resource-based policy")
    request = AccessRequest(
        action="sts:AssumeRole",
        resource=role.arn,
        caller=_with_role_path(caller_from(principal_arn)),
        context=request_context(principal_arn, context),
    )
    trust = evaluate_resource_policy(trust_policy, request)
    identity = authorize(
        account_id, principal_arn, "sts:AssumeRole", role.arn, context, session_policies=session_policies
    )
    if identity.explicit_deny:
        return identity
    if not trust.decision.allowed:
        return trust.decision
    if match["account"] == account_id and not trust.delegated_to_account:
        return trust.decision  # the trust policy names the caller itself: no identity Allow needed
    if identity.allowed:
        return Decision("allowed", identity.matched_statements + trust.decision.matched_statements)
    return identity
