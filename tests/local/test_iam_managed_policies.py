"""AWS managed policies in every account, visible through the IAM API (SPEC §6.4), and cheap per account."""

from __future__ import annotations

import json
import uuid
from urllib.parse import unquote

import pytest

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.local.iam_support import Creds, admin, assume, client, unique

MANAGED = [
    "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
]


def _document(raw: object) -> dict[str, object]:
    if isinstance(raw, str):
        return dict(json.loads(unquote(raw)))
    assert isinstance(raw, dict)
    return raw


def member(endpoint: Endpoint) -> Creds:
    account = str(uuid.uuid4().int)[:12].rjust(12, "2")
    return assume(
        endpoint, admin(endpoint), f"arn:aws:iam::{account}:role/{identity.ORG_ACCESS_ROLE}", session_name="mp"
    )


@pytest.mark.parametrize("arn", MANAGED, ids=lambda a: a.rsplit("/", 1)[-1])
def test_managed_policy_readable_and_attachable(arn: str, local_server: Endpoint) -> None:
    iam = client(local_server, "iam")
    found = iam.get_policy(PolicyArn=arn)["Policy"]
    assert found["Arn"] == arn
    version = iam.get_policy_version(PolicyArn=arn, VersionId=found["DefaultVersionId"])["PolicyVersion"]
    assert _document(version["Document"])["Statement"]
    role = unique("mp")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    iam.delete_role(RoleName=role)


def test_list_policies_scope_aws(local_server: Endpoint) -> None:
    iam = client(local_server, "iam")
    arns = {p["Arn"] for page in iam.get_paginator("list_policies").paginate(Scope="AWS") for p in page["Policies"]}
    assert len(arns) > 1000
    assert set(MANAGED) <= arns
    local = {p["Arn"] for page in iam.get_paginator("list_policies").paginate(Scope="Local") for p in page["Policies"]}
    assert not local & arns


def test_attachment_counts_are_per_account(local_server: Endpoint) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
    iam_first = client(local_server, "iam", member(local_server))
    iam_second = client(local_server, "iam", member(local_server))
    before = iam_second.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"]
    role = unique("count")
    iam_first.create_role(
        RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    iam_first.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam_first.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert iam_second.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == before == 0


def test_managed_policies_are_one_object_for_all_accounts(local_server: Endpoint) -> None:
    """As on AWS, an AWS managed policy is the same policy (same PolicyId, same document) everywhere.

    moto builds ~1580 fresh copies with random ids per account; the shared build is what makes a
    new account cost milliseconds (bench/iam_overhead.py prints the figures).
    """
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    seen = []
    for creds in (admin(local_server), member(local_server), member(local_server)):
        iam = client(local_server, "iam", creds)
        found = iam.get_policy(PolicyArn=arn)["Policy"]
        document = iam.get_policy_version(PolicyArn=arn, VersionId=found["DefaultVersionId"])["PolicyVersion"]
        seen.append((found["PolicyId"], found["DefaultVersionId"], json.dumps(_document(document["Document"]))))
    assert seen[0] == seen[1] == seen[2]
