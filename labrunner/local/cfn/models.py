"""Adding CloudFormation resource types to moto's template engine."""

from __future__ import annotations

import copy
import json
from typing import Any

# Where a resource remembers the template properties it was last created or updated with:
# moto's update gets only the new ones, and CloudFormation changes only what differs.
_APPLIED = "_labrunner_cfn_properties"


def refresh_model_registry() -> None:
    """moto caches its type→model table; a model class defined later must be seen too."""
    from moto.cloudformation import parsing

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def policy_text(document: Any) -> str:
    """A policy document as the JSON text AWS stores (templates give it as a mapping)."""
    return document if isinstance(document, str) else json.dumps(document)


def applied_properties(resource: Any) -> dict[str, Any]:
    """The template properties the resource was last created or updated with ({} if unknown)."""
    applied: dict[str, Any] = getattr(resource, _APPLIED, {})
    return applied


def remember_properties(resource: Any, properties: dict[str, Any]) -> None:
    setattr(resource, _APPLIED, copy.deepcopy(dict(properties)))


def s3_backend(account_id: str, region_name: str) -> Any:
    """The account's S3 backend (S3 is global per partition in moto)."""
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    return s3_backends[account_id][get_partition(region_name)]


class PolicyResource:
    """What AWS::SQS::QueuePolicy and AWS::S3::BucketPolicy share: a policy document with an id.

    A mixin (beside CloudFormationModel, not under it): moto finds models as its direct subclasses.
    """

    def __init__(self, account_id: str, region: str, policy_id: str, document: str) -> None:
        self.account_id = account_id
        self.region = region
        self.policy_id = policy_id
        self.document = document

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Id":
            return self.policy_id
        raise UnformattedGetAttTemplateException()
