"""The account root user is not limited by identity policies, but resource policies still apply to it.

"Policy evaluation logic" (IAM User Guide): an explicit deny in any policy overrides any allow, and a
resource-based policy's Deny names the root user like any principal; across accounts the resource policy
must grant the access.
"""

from __future__ import annotations

from typing import Any

from labrunner.local.iam.authorizer import authorize

ACCOUNT = "444455556666"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OBJECT = "arn:aws:s3:::vault/secret.txt"


def _policy(effect: str, principal: Any) -> dict[str, Any]:
    statement = {"Effect": effect, "Principal": principal, "Action": "s3:GetObject", "Resource": OBJECT}
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_root_user_is_allowed_without_a_resource_policy() -> None:
    assert authorize(ACCOUNT, ROOT, "s3:GetObject", OBJECT).allowed


def test_resource_policy_explicit_deny_applies_to_the_root_user() -> None:
    for principal in ("*", {"AWS": ACCOUNT}, {"AWS": ROOT}):
        decision = authorize(ACCOUNT, ROOT, "s3:GetObject", OBJECT, resource_policy=_policy("Deny", principal))
        assert decision.explicit_deny, principal
        assert decision.denied_by == "resource-based policy"
    other = _policy("Deny", {"AWS": "arn:aws:iam::999988887777:root"})
    assert authorize(ACCOUNT, ROOT, "s3:GetObject", OBJECT, resource_policy=other).allowed


def test_root_user_of_another_account_needs_the_resource_policy_grant() -> None:
    owner = "999988887777"
    silent = _policy("Allow", {"AWS": f"arn:aws:iam::{owner}:root"})
    assert not authorize(ACCOUNT, ROOT, "s3:GetObject", OBJECT, resource_policy=silent, resource_account=owner).allowed
    grant = _policy("Allow", {"AWS": ACCOUNT})
    assert authorize(ACCOUNT, ROOT, "s3:GetObject", OBJECT, resource_policy=grant, resource_account=owner).allowed
