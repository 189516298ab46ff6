"""The two managed S3 rules as AWS's rule pages define them (labrunner.aws.s3_config_rules), case by case."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrunner.aws.s3_config_rules import encryption_verdict, logging_verdict, policy_denies_unencrypted_puts

BUCKET = "demo-bucket"


def deny(**overrides: Any) -> str:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
    }
    statement.update(overrides)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.mark.parametrize(
    ("policy", "denies"),
    [
        (deny(), True),
        (deny(Condition={"Null": {"s3:x-amz-server-side-encryption": True}}), True),  # a JSON boolean
        (deny(Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}), True),
        (deny(Action=["s3:GetObject", "s3:*"]), True),
        (deny(Principal={"AWS": "*"}), True),
        (deny(Resource="*"), True),
        (deny(Resource=f"arn:aws:s3:::{BUCKET}*"), True),
        (deny(Resource=f"arn:aws-cn:s3:::{BUCKET}/*"), True),
        (deny(Resource="arn:aws:s3:::other-bucket/*"), False),
        (deny(Resource=f"arn:aws:s3:::{BUCKET}"), False),  # the bucket, not its objects
        (deny(Effect="Allow"), False),
        (deny(Principal={"AWS": "arn:aws:iam::123456789012:root"}), False),
        (deny(Action="s3:GetObject"), False),
        (deny(Condition={"Bool": {"aws:SecureTransport": "false"}}), False),
        (deny(Condition={"Null": {"s3:x-amz-server-side-encryption": "false"}}), False),
        ("not json", False),
        (None, False),
    ],
)
def test_a_policy_denying_unencrypted_uploads(policy: str | None, denies: bool) -> None:
    assert policy_denies_unencrypted_puts(policy, BUCKET) is denies


def test_encryption_rule_accepts_default_encryption_or_the_policy() -> None:
    assert encryption_verdict("AES256", False).compliance == "COMPLIANT"
    assert encryption_verdict("aws:kms:dsse", False).compliance == "COMPLIANT"
    assert encryption_verdict(None, True).compliance == "COMPLIANT"
    assert encryption_verdict(None, False).compliance == "NON_COMPLIANT"


def test_logging_rule_and_its_optional_parameters() -> None:
    assert logging_verdict(None, "", {}).compliance == "NON_COMPLIANT"
    assert logging_verdict("logs", "x/", {}).compliance == "COMPLIANT"
    assert logging_verdict("logs", "x/", {"targetBucket": "logs", "targetPrefix": "x/"}).compliance == "COMPLIANT"
    assert logging_verdict("logs", "x/", {"targetBucket": "elsewhere"}).compliance == "NON_COMPLIANT"
    assert logging_verdict("logs", "x/", {"targetPrefix": "y/"}).compliance == "NON_COMPLIANT"
