"""The evaluator follows AWS's IAM User Guide on each point issue 13 lists; every test names and quotes its page.

Pages (docs.aws.amazon.com/IAM/latest/UserGuide/...): reference_policies_evaluation-logic ("Policy evaluation
logic"), reference_policies_variables ("IAM policy elements: Variables and tags"),
reference_policies_elements_condition_operators ("IAM JSON policy elements: Condition operators"),
reference_policies_elements_resource ("IAM JSON policy elements: Resource"), access_policies_boundaries
("Permissions boundaries for IAM entities"), reference_policies_condition-single-vs-multi-valued-context-keys
("Single-valued vs. multivalued context keys").
"""

from __future__ import annotations

from typing import Any

import pytest

from labrunner.aws.policy import AccessRequest, caller_from, evaluate

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
BUCKET_OBJECT = "arn:aws:s3:::reports/q1.csv"


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def _allow(action: str = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, **extra}


def _decide(
    action: str,
    resource: str,
    identity: list[dict[str, Any]],
    context: dict[str, Any] | None = None,
    principal: str = USER,
    **kwargs: Any,
) -> str:
    request = AccessRequest(action, resource, caller_from(principal), context or {})
    return evaluate(request, identity, **kwargs).decision


# --- IAM policy elements: Variables and tags --------------------------------------------------------------


def test_not_resource_with_a_valueless_variable_matches_no_resource() -> None:
    """ "Policy variables with no value": "If a variable that has no value in the authorization context is used
    as part of the `Resource` or `NotResource` element of a policy, the resource that includes a policy variable
    with no value will not match any resource." — so a NotResource built on it excludes nothing and its Deny
    covers every resource."""
    deny = _deny("s3:GetObject", NotResource="arn:aws:s3:::home-${aws:username}/*")
    policies = [_doc(_allow(), deny)]
    # A role session has no aws:username: the Deny applies to every object.
    assert _decide("s3:GetObject", BUCKET_OBJECT, policies, {}, principal=SESSION) == "explicitDeny"
    # With the value, the NotResource excludes the user's own bucket (and only it).
    alice = {"aws:username": "alice"}
    assert _decide("s3:GetObject", "arn:aws:s3:::home-alice/x", policies, alice) == "allowed"
    assert _decide("s3:GetObject", BUCKET_OBJECT, policies, alice) == "explicitDeny"


def test_resource_with_a_valueless_variable_grants_nothing() -> None:
    """Same page: a Resource whose variable has no value matches no resource."""
    policies = [_doc(_allow("s3:GetObject", "arn:aws:s3:::home-${aws:username}/*"))]
    assert _decide("s3:GetObject", "arn:aws:s3:::home-/x", policies, {}, principal=SESSION) == "implicitDeny"


def test_negated_operator_against_a_valueless_variable_matches() -> None:
    """ "Policy variables with no value": "Inverted condition operators like `StringNotEquals` or
    `StringNotLike` do match against a null value, as the value of the condition key they are testing against
    is not equal to or like the effectively null value." The page's own example denies s3:GetObject with
    StringNotEquals s3:ExistingObjectTag/Team = ${aws:PrincipalTag/Team}: "Access is explicitly denied when
    `aws:principaltag/Team` is not set." """
    deny = {
        **_deny("s3:GetObject"),
        "Resource": "*",
        "Condition": {"StringNotEquals": {"s3:ExistingObjectTag/Team": "${aws:PrincipalTag/Team}"}},
    }
    policies = [_doc(_allow(), deny)]
    tagged = {"s3:ExistingObjectTag/Team": "blue"}
    assert _decide("s3:GetObject", BUCKET_OBJECT, policies, tagged) == "explicitDeny"  # no principal tag
    same = {**tagged, "aws:PrincipalTag/Team": "blue"}
    assert _decide("s3:GetObject", BUCKET_OBJECT, policies, same) == "allowed"
    for operator, key in (("ArnNotLike", "aws:SourceArn"), ("StringNotLike", "aws:SourceAccount")):
        cond = {operator: {key: "${aws:PrincipalTag/Team}"}}
        statement = {**_deny("sqs:SendMessage"), "Resource": "*", "Condition": cond}
        assert _decide("sqs:SendMessage", QUEUE, [_doc(_allow(), statement)], {key: "x"}) == "explicitDeny"


def test_negated_ifexists_on_an_absent_key_with_a_valueless_variable_matches() -> None:
    """ "IAM JSON policy elements: Condition operators" (…IfExists): "If the key is not present, the condition
    evaluates to true"; the variable's missing value must not fail the clause first."""
    cond = {"StringNotEqualsIfExists": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team}"}}
    policies = [_doc(_allow("sqs:SendMessage", "*", Condition=cond))]
    assert _decide("sqs:SendMessage", QUEUE, policies, {}) == "allowed"


@pytest.mark.parametrize(
    ("special", "literal", "other"),
    [("${*}", "a*b", "axxb"), ("${?}", "a?b", "axb"), ("${$}", "a$b", "a$$b")],
)
def test_special_character_variables_are_literals(special: str, literal: str, other: str) -> None:
    """ "Special characters": "inserting an * asterisk in the string would be interpreted as a wildcard,
    matching any characters, instead of as a literal *. In these cases, you can use the following predefined
    policy variables: ${*} - use where you need an * (asterisk) character. ${?} - use where you need a ?
    (question mark) character. ${$} - use where you need a $ (dollar sign) character." """
    pattern = f"a{special}b"
    resource_policy = [_doc(_allow("s3:GetObject", f"arn:aws:s3:::bkt/{pattern}"))]
    assert _decide("s3:GetObject", f"arn:aws:s3:::bkt/{literal}", resource_policy) == "allowed"
    assert _decide("s3:GetObject", f"arn:aws:s3:::bkt/{other}", resource_policy) == "implicitDeny"
    cond = [_doc(_allow("s3:GetObject", "*", Condition={"StringLike": {"s3:prefix": pattern}}))]
    assert _decide("s3:GetObject", BUCKET_OBJECT, cond, {"s3:prefix": literal}) == "allowed"
    assert _decide("s3:GetObject", BUCKET_OBJECT, cond, {"s3:prefix": other}) == "implicitDeny"
    equals = [_doc(_allow("s3:GetObject", "*", Condition={"StringEquals": {"s3:prefix": pattern}}))]
    assert _decide("s3:GetObject", BUCKET_OBJECT, equals, {"s3:prefix": literal}) == "allowed"


def test_without_version_2012_10_17_variables_are_literal_text() -> None:
    """ "Using variables in policies": "Variables were introduced in version `2012-10-17`. … If you don't
    include the `Version` element and set it to an appropriate version date, variables like `${aws:username}`
    are treated as literal strings in the policy." """
    resource = "arn:aws:s3:::home-${aws:username}/x"
    for version in (None, "2008-10-17"):
        policies = [_doc(_allow("s3:GetObject", "arn:aws:s3:::home-${aws:username}/*"), version=version)]
        assert _decide("s3:GetObject", "arn:aws:s3:::home-alice/x", policies, {"aws:username": "alice"}) == (
            "implicitDeny"
        )
        assert _decide("s3:GetObject", resource, policies, {"aws:username": "alice"}) == "allowed"
    policies = [_doc(_allow("s3:GetObject", "arn:aws:s3:::home-${aws:username}/*"))]
    assert _decide("s3:GetObject", "arn:aws:s3:::home-alice/x", policies, {"aws:username": "alice"}) == "allowed"


def test_variables_only_after_the_fifth_colon_of_an_arn() -> None:
    """ "Where you can use policy variables" (Resource element): "You can use a policy variable in the
    `Resource` element, but only in the resource portion of the ARN. This portion of the ARN appears after the
    fifth colon (:). You can't use a variable to replace parts of the ARN before the fifth colon, such as the
    service or account." Earlier, `${…}` is left as text (it matches no real ARN)."""
    context = {"aws:PrincipalAccount": ACCOUNT, "aws:username": "alice"}
    before = [_doc(_allow("sqs:SendMessage", "arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:jobs"))]
    assert _decide("sqs:SendMessage", QUEUE, before, context) == "implicitDeny"
    after = [_doc(_allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:${{aws:username}}-q"))]
    assert _decide("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:alice-q", after, context) == "allowed"
    # A variable's own colon does not count: it stays after the fifth colon of the ARN.
    tag = [_doc(_allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:${{aws:PrincipalTag/q}}"))]
    assert _decide("sqs:SendMessage", QUEUE, tag, {"aws:PrincipalTag/q": "jobs"}) == "allowed"


def test_multivalued_keys_are_not_variables() -> None:
    """ "Using variables in policies": "You can use any single-valued condition key as a variable. You can't
    use a multivalued condition key as a variable." (e.g. aws:TagKeys); such a variable has no value, and its
    Resource matches nothing."""
    policies = [_doc(_allow("sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:${{aws:TagKeys}}"))]
    assert _decide("sqs:SendMessage", QUEUE, policies, {"aws:TagKeys": ["jobs"]}) == "implicitDeny"
    assert _decide("sqs:SendMessage", QUEUE, policies, {"aws:TagKeys": ["jobs", "x"]}) == "implicitDeny"


# --- IAM JSON policy elements: Condition operators ---------------------------------------------------------


def test_variables_only_in_string_and_arn_operators() -> None:
    """ "Where you can use policy variables" (Condition element): "You can use a policy variable for
    `Condition` values in any condition that involves the string operators or the ARN operators. … You can't
    use a policy variable with other operators, such as `Numeric`, `Date`, `Boolean`, `Binary`, `IP Address`,
    or `Null` operators." There `${…}` is plain text, which no number, date or address equals."""
    context = {"aws:MultiFactorAuthAge": "60", "aws:PrincipalTag/max": "3600", "aws:SourceIp": "10.0.0.1"}
    numeric = {"NumericLessThan": {"aws:MultiFactorAuthAge": "${aws:PrincipalTag/max}"}}
    assert _decide("sqs:SendMessage", QUEUE, [_doc(_allow("sqs:*", "*", Condition=numeric))], context) == "implicitDeny"
    string = {"StringEquals": {"aws:MultiFactorAuthAge": "${aws:MultiFactorAuthAge}"}}
    assert _decide("sqs:SendMessage", QUEUE, [_doc(_allow("sqs:*", "*", Condition=string))], context) == "allowed"


def test_null_with_true_and_false_always_holds() -> None:
    """ "IAM JSON policy elements: Condition operators" (Condition operator to check existence of condition
    keys, Null): true holds when the key is absent, false when it is present; and "Conditions with multiple
    context keys or values": "If a single condition operator includes multiple values for a context key,
    those values are evaluated using a logical OR" — both values together always hold."""
    cond = {"Null": {"aws:TokenIssueTime": ["true", "false"]}}
    policies = [_doc(_allow("sqs:SendMessage", "*", Condition=cond))]
    assert _decide("sqs:SendMessage", QUEUE, policies, {}) == "allowed"
    assert _decide("sqs:SendMessage", QUEUE, policies, {"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}) == "allowed"
    only_false = [_doc(_allow("sqs:SendMessage", "*", Condition={"Null": {"aws:TokenIssueTime": "false"}}))]
    assert _decide("sqs:SendMessage", QUEUE, only_false, {}) == "implicitDeny"


# --- Single-valued vs. multivalued context keys -------------------------------------------------------------


def test_multivalued_key_under_a_single_valued_operator_is_settled_strictly() -> None:
    """ "Single-valued vs. multivalued context keys": multivalued keys are compared with the set operators
    ForAllValues/ForAnyValue; what a plain operator does with one is not documented. Our choice (see
    conditions._clause_holds): such a clause never lets an Allow apply and always lets a Deny apply."""
    cond = {"StringEquals": {"aws:TagKeys": "team"}}
    allow = [_doc(_allow("sqs:TagQueue", "*", Condition=cond))]
    assert _decide("sqs:TagQueue", QUEUE, allow, {"aws:TagKeys": ["team"]}) == "implicitDeny"
    deny = [
        _doc(_allow(), {**_deny("sqs:TagQueue"), "Resource": "*", "Condition": {"StringEquals": {"aws:TagKeys": "x"}}})
    ]
    assert _decide("sqs:TagQueue", QUEUE, deny, {"aws:TagKeys": ["team", "cost"]}) == "explicitDeny"
    set_operator = [_doc(_allow("sqs:TagQueue", "*", Condition={"ForAnyValue:StringEquals": cond["StringEquals"]}))]
    assert _decide("sqs:TagQueue", QUEUE, set_operator, {"aws:TagKeys": ["team"]}) == "allowed"


# --- Permissions boundaries for IAM entities / Policy evaluation logic --------------------------------------

GRANT = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}
BOUNDARY = _doc(_allow("logs:*"))  # allows nothing in SQS: an implicit deny for sqs:SendMessage
SESSION_POLICY = _doc(_allow("logs:*"))


@pytest.mark.parametrize(
    ("principal_in_policy", "limited"),
    [(ROLE, True), (SESSION, False), ("*", False)],
    ids=["role ARN", "session ARN", "everyone"],
)
@pytest.mark.parametrize("limit", ["boundary", "session policy"])
def test_resource_policy_grant_to_the_role_arn_is_limited(principal_in_policy: str, limited: bool, limit: str) -> None:
    """ "Permissions boundaries for IAM entities" (Resource-based policies): "Within an account, an implicit
    deny in a permissions boundary does limit the permissions granted to the ARN of the underlying IAM role
    … by the resource-based policy", while permissions granted to the role session ARN are not limited.
    "Policy evaluation logic" says the same of session policies: a grant to the role ARN is added before
    the session exists and is limited by the session policy; one to the session ARN is not."""
    resource_policy = _doc({**GRANT, "Principal": {"AWS": principal_in_policy}})
    kwargs: dict[str, Any] = (
        {"permissions_boundaries": [BOUNDARY]} if limit == "boundary" else {"session_policies": [SESSION_POLICY]}
    )
    decision = _decide("sqs:SendMessage", QUEUE, [], principal=SESSION, resource_policy=resource_policy, **kwargs)
    assert decision == ("implicitDeny" if limited else "allowed")
    # Without the boundary or session policy, the grant alone suffices in the same account.
    assert _decide("sqs:SendMessage", QUEUE, [], principal=SESSION, resource_policy=resource_policy) == "allowed"


def test_resource_policy_grant_to_a_user_arn_is_not_limited_by_the_boundary() -> None:
    """ "Permissions boundaries for IAM entities": "Within an account, an implicit deny in a permissions
    boundary does not limit the permissions granted to an IAM user by a resource-based policy"."""
    resource_policy = _doc({**GRANT, "Principal": {"AWS": USER}})
    decision = _decide("sqs:SendMessage", QUEUE, [], resource_policy=resource_policy, permissions_boundaries=[BOUNDARY])
    assert decision == "allowed"


def test_deny_not_principal_always_denies_a_principal_with_a_boundary() -> None:
    """ "Permissions boundaries for IAM entities" (Important): "The NotPrincipal element with a Deny effect
    will always deny any IAM principal that has a permissions boundary policy attached, regardless of the
    values specified in the NotPrincipal element"."""
    resource_policy = _doc(
        {**GRANT, "Principal": {"AWS": USER}},
        {"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "sqs:*", "Resource": QUEUE},
    )
    identity = [_doc(_allow("sqs:*"))]
    boundary = _doc(_allow("sqs:*"))
    assert _decide("sqs:SendMessage", QUEUE, identity, resource_policy=resource_policy) == "allowed"
    with_boundary = _decide(
        "sqs:SendMessage", QUEUE, identity, resource_policy=resource_policy, permissions_boundaries=[boundary]
    )
    assert with_boundary == "explicitDeny"


def test_role_principal_matches_only_at_the_roles_own_path() -> None:
    """ "IAM JSON policy elements: Principal" (IAM role principals): a role is named by its ARN, path
    included; `role/app` names no role at `role/team/app`. A session of the role at /team/ is matched by
    the full path ARN only."""
    session = caller_from(SESSION)
    at_path = type(session)(
        kind=session.kind,
        arn=session.arn,
        account=session.account,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/team/app",
    )
    for written, expected in ((ROLE, "implicitDeny"), (f"arn:aws:iam::{ACCOUNT}:role/team/app", "allowed")):
        resource_policy = _doc({**GRANT, "Principal": {"AWS": written}})
        request = AccessRequest("sqs:SendMessage", QUEUE, at_path, {})
        assert evaluate(request, [], resource_policy=resource_policy).decision == expected
    # And a role at the root path is not named by a path it does not have.
    resource_policy = _doc({**GRANT, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/app"}})
    assert _decide("sqs:SendMessage", QUEUE, [], principal=SESSION, resource_policy=resource_policy) == "implicitDeny"


# --- What labrunner gets right where iam-simulate does not (issue 13): keep it --------------------------------


def test_wildcard_in_the_resource_type_part_of_an_arn() -> None:
    """ "IAM JSON policy elements: Resource": wildcards may appear in any part of the ARN, the resource type
    included."""
    policies = [_doc(_allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-g?oup:/aws/lambda/*"))]
    resource = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:log-stream:s"
    assert _decide("logs:PutLogEvents", resource, policies) == "allowed"


def test_ifexists_with_foranyvalue_on_an_absent_key_holds() -> None:
    """ "Condition operators" (…IfExists): "If the key is not present, the condition evaluates to true"."""
    cond = {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "team"}}
    assert _decide("sqs:ListQueues", "*", [_doc(_allow("sqs:*", "*", Condition=cond))]) == "allowed"


def test_not_ip_address_with_an_ipv6_caller_against_ipv4_ranges() -> None:
    """ "Condition operators" (IP address): NotIpAddress holds when the address is in none of the ranges; an
    IPv6 caller is in no IPv4 range."""
    cond = {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    policies = [_doc(_allow(), {**_deny("sqs:*"), "Resource": "*", "Condition": cond})]
    assert _decide("sqs:SendMessage", QUEUE, policies, {"aws:SourceIp": "2001:db8::1"}) == "explicitDeny"
