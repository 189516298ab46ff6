"""What the Lambda service may do with a function's execution role (logs, queue polling).

AWS performs these calls with the role's credentials, so they succeed only when the role's
policies allow them; the local IAM authorizer decides, reading the policies at call time.
"""

from __future__ import annotations

from labrunner.local.iam.authorizer import authorize


def role_allows(account_id: str, role_arn: str, action: str, resource: str) -> bool:
    """Whether a session of the role may perform `action` on `resource` (IAM evaluation logic)."""
    return authorize(account_id, role_arn, action, resource).allowed
