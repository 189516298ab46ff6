"""Setting up AWS Config as on AWS: service-linked role, delivery channel, their statuses.

moto names the service-linked role of config.amazonaws.com `AWSServiceRoleForconfig`, attaches
no policy to it and lets it be created twice; AWS names it AWSServiceRoleForConfig, attaches the
AWS managed AWSConfigServiceRolePolicy and refuses a second one with InvalidInput.
moto accepts any delivery channel bucket name and implements no DescribeDeliveryChannelStatus;
AWS checks the bucket exists and that Config may write to it (then writes its
ConfigWritabilityCheckFile), and reports delivery statuses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from labrunner.local.hooks import ServerHooks

CONFIG_SERVICE = "config.amazonaws.com"
ROLE_NAME = "AWSServiceRoleForConfig"
ROLE_POLICY_ARN = "arn:{partition}:iam::aws:policy/aws-service-role/AWSConfigServiceRolePolicy"
CHANNEL_TIMES = "_labrunner_delivery_channel_times"


def install(hooks: ServerHooks) -> None:
    from moto.config.models import ConfigBackend
    from moto.config.responses import ConfigResponse
    from moto.iam import models as iam_models

    iam_models.SERVICE_NAME_CONVERSION["config"] = "Config"
    backend = iam_models.IAMBackend
    setattr(backend, "create_service_linked_role", config_role(backend.create_service_linked_role))  # noqa: B010
    setattr(ConfigBackend, "put_delivery_channel", checked_channel(ConfigBackend.put_delivery_channel))  # noqa: B010
    setattr(ConfigResponse, "describe_delivery_channel_status", describe_delivery_channel_status)  # noqa: B010


def config_role(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, service_name: str, description: str, suffix: str) -> Any:
        if service_name != CONFIG_SERVICE:
            return method(self, service_name, description, suffix)
        from moto.iam.exceptions import InvalidInput

        name = f"{ROLE_NAME}_{suffix}" if suffix else ROLE_NAME
        if any(role.name == name for role in self.roles.values()):
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, please try a different suffix."
            )
        role = method(self, service_name, description, suffix)
        self.attach_role_policy(ROLE_POLICY_ARN.format(partition=self.partition), role.name)
        return role

    return wrapper


def checked_channel(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, delivery_channel: dict[str, Any]) -> Any:
        from labrunner.local.awsconfig.delivery import check_and_write

        bucket = delivery_channel.get("s3BucketName")
        if self.recorders and delivery_channel.get("name") and bucket:
            role_arn = next(iter(self.recorders.values())).role_arn
            check_and_write(self.account_id, role_arn, bucket, delivery_channel.get("s3KeyPrefix"))
        result = method(self, delivery_channel)
        times = self.__dict__.setdefault(CHANNEL_TIMES, {})
        times[delivery_channel["name"]] = datetime.now(UTC)
        return result

    return wrapper


def describe_delivery_channel_status(self: Any) -> str:
    """ConfigResponse.describe_delivery_channel_status: AWS's shape, delivery succeeded."""
    from moto.config.exceptions import NoSuchDeliveryChannelException

    backend = self.config_backend
    params = json.loads(self.body) if self.body else {}
    names = params.get("DeliveryChannelNames") or list(backend.delivery_channels)
    times = backend.__dict__.get(CHANNEL_TIMES, {})
    statuses = []
    for name in names:
        channel = backend.delivery_channels.get(name)
        if channel is None:
            raise NoSuchDeliveryChannelException(name)
        delivered = times.get(name, datetime.now(UTC)).timestamp()
        snapshot = channel.config_snapshot_delivery_properties is not None
        statuses.append(
            {
                "name": name,
                "configSnapshotDeliveryInfo": (
                    {"lastStatus": "SUCCESS", "lastAttemptTime": delivered, "lastSuccessfulTime": delivered}
                    if snapshot
                    else {"lastStatus": "NOT_APPLICABLE"}
                ),
                "configHistoryDeliveryInfo": {
                    "lastStatus": "SUCCESS",
                    "lastAttemptTime": delivered,
                    "lastSuccessfulTime": delivered,
                },
                "configStreamDeliveryInfo": {
                    "lastStatus": "SUCCESS" if channel.sns_topic_arn else "NOT_APPLICABLE",
                    "lastStatusChangeTime": delivered,
                },
            }
        )
    return json.dumps({"DeliveryChannelsStatus": statuses})
