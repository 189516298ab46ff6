"""Gap: moto's CloudFormation has no AWS::S3::BucketPolicy (a warning; the policy is never set).

The policy document is put on the bucket, replaced on update (a new Bucket moves it), and
deleted with the resource.
"""

from __future__ import annotations

import contextlib
from typing import Any

from moto.core.common_models import CloudFormationModel

from labrunner.local.cfn.models import PolicyResource, policy_text, refresh_model_registry, s3_backend
from labrunner.local.hooks import ServerHooks


class BucketPolicy(PolicyResource, CloudFormationModel):
    """AWS::S3::BucketPolicy: the one policy of one bucket."""

    def __init__(self, account_id: str, region: str, policy_id: str, bucket: str, document: str) -> None:
        super().__init__(account_id, region, policy_id, document)
        self.bucket = bucket

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    def _put(self) -> None:
        s3_backend(self.account_id, self.region).put_bucket_policy(self.bucket, self.document.encode())

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BucketPolicy:
        properties = cloudformation_json["Properties"]
        policy = cls(
            account_id, region_name, resource_name, str(properties["Bucket"]), policy_text(properties["PolicyDocument"])
        )
        policy._put()
        return policy

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: BucketPolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> BucketPolicy:
        properties = cloudformation_json["Properties"]
        bucket = str(properties["Bucket"])
        if bucket != original_resource.bucket:
            original_resource.delete(account_id, region_name)
        original_resource.bucket = bucket
        original_resource.document = policy_text(properties["PolicyDocument"])
        original_resource._put()
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.exceptions import MissingBucket

        with contextlib.suppress(MissingBucket):  # the bucket went first: its policy went with it
            s3_backend(self.account_id, self.region).delete_bucket_policy(self.bucket)


def install(hooks: ServerHooks) -> None:
    refresh_model_registry()
