"""Whether the S3 logging service may write a source bucket's access logs into a target bucket.

Two grants exist (enable-server-access-logging in the S3 User Guide): a bucket policy that
allows the `logging.s3.amazonaws.com` service principal `s3:PutObject` on the log objects
(recommended, usually scoped with aws:SourceArn and aws:SourceAccount), and the legacy ACL grant
of WRITE and READ_ACP to the LogDelivery group. ACL grants count only while the target's Object
Ownership keeps ACLs enabled (ObjectWriter, BucketOwnerPreferred); with BucketOwnerEnforced,
AWS's default for new buckets since April 2023, ACLs are disabled and only the policy counts.
The policy is evaluated with the project's IAM policy evaluator, conditions included, so a
policy scoped to another source bucket does not count.
"""

from __future__ import annotations

import json
from typing import Any

from labrunner.aws.policy import AccessRequest, PolicyParseError, caller_from, evaluate_resource_policy

LOGGING_SERVICE = "logging.s3.amazonaws.com"
LOG_DELIVERY_GROUP = "http://acs.amazonaws.com/groups/s3/LogDelivery"


def delivery_allowed(target: Any, log_key: str, source_arn: str, source_account: str) -> bool:
    """May the logging service put `log_key` into moto bucket `target` for the source bucket?"""
    verdict = policy_verdict(target, log_key, source_arn, source_account)
    if verdict == "denied":
        return False  # an explicit Deny wins over any ACL grant
    return verdict == "allowed" or (acls_enabled(target) and acl_allows(target))


def acls_enabled(target: Any) -> bool:
    """Object Ownership other than BucketOwnerEnforced (moto's None: AWS's default, enforced)."""
    ownership = target.ownership_rule
    if isinstance(ownership, dict):  # stored as parsed from XML in some moto paths
        ownership = ownership.get("ObjectOwnership")
    return ownership not in (None, "", "BucketOwnerEnforced")


def policy_verdict(target: Any, log_key: str, source_arn: str, source_account: str) -> str:
    """ "allowed", "denied" (explicit Deny) or "none" for the target bucket's policy."""
    raw = target.policy
    if not raw:
        return "none"
    try:
        document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return "none"
    request = AccessRequest(
        action="s3:PutObject",
        resource=f"arn:{target.partition}:s3:::{target.name}/{log_key}",
        caller=caller_from(LOGGING_SERVICE),
        context={
            "aws:SourceArn": source_arn,
            "aws:SourceAccount": source_account,
        },
    )
    try:
        decision = evaluate_resource_policy(document, request).decision
    except PolicyParseError:
        return "none"
    if decision.explicit_deny:
        return "denied"
    return "allowed" if decision.allowed else "none"


def acl_allows(target: Any) -> bool:
    """The legacy grant: WRITE and READ_ACP (or FULL_CONTROL) for the LogDelivery group."""
    write = read_acp = False
    acl = target.acl
    for grant in acl.grants if acl is not None else []:
        if any(grantee.uri == LOG_DELIVERY_GROUP for grantee in grant.grantees):
            write = write or bool({"WRITE", "FULL_CONTROL"} & set(grant.permissions))
            read_acp = read_acp or bool({"READ_ACP", "FULL_CONTROL"} & set(grant.permissions))
    return write and read_acp
