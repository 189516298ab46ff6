"""Gap: moto's custom resources: AWS::CloudFormation::CustomResource is unknown (HTTP 500 with a
GetAtt), Custom::Xyz invokes the function in a background thread and leaves the stack
CREATE_IN_PROGRESS until a SUCCESS response; FAILED, PhysicalResourceId, Update and Delete
requests are not handled.

Here both types send the documented request to the ServiceToken function (RequestType Create /
Update / Delete, ResponseURL, StackId, RequestId, ResourceType, LogicalResourceId,
ResourceProperties, plus PhysicalResourceId and OldResourceProperties on Update / Delete), run
it on the local Lambda runtime and wait for the response document PUT to the ResponseURL (the
URL shape of moto's cfnresponse endpoint, served here). SUCCESS gives the resource its
PhysicalResourceId and its Data for Fn::GetAtt; FAILED fails the resource with the function's
reason, as CloudFormation does. A new PhysicalResourceId on Update replaces the resource: the
old one then receives a Delete request.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from moto.core.common_models import CloudFormationModel

from labrunner.local.cfn.models import refresh_model_registry
from labrunner.local.hooks import ServerHooks, WSGIApp

ORDER = 5  # outermost: the callback carries no AWS credentials (AWS uses a pre-signed S3 URL)
RESPONSE_PATH = "/cloudformation_{region}/cfnresponse"
MAX_DATA_BYTES = 4096
GRACE_S = 1.0  # a response PUT may still be in flight when the function returns
STANDARD_TYPE = "AWS::CloudFormation::CustomResource"

_server: dict[str, Callable[[], str]] = {}  # "base_url": known once the server is bound


class CustomResourceFailed(Exception):
    """The provider answered FAILED, answered badly, or did not answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PendingRequest:
    request: dict[str, Any]
    answered: threading.Event = field(default_factory=threading.Event)
    response: dict[str, Any] | None = None


_pending: dict[str, PendingRequest] = {}
_pending_lock = threading.Lock()


def _stringify(value: Any) -> Any:
    """CloudFormation passes a custom resource's scalar properties as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


def _function_for(service_token: str, account_id: str, region: str) -> Any:
    from moto.awslambda.models import lambda_backends

    parts = service_token.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        raise CustomResourceFailed(
            f"Invalid service token {service_token}: the local AWS runs Lambda-backed custom resources only"
        )
    try:
        return lambda_backends[parts[4] or account_id][parts[3] or region].get_function(service_token)
    except Exception:
        raise CustomResourceFailed(f"Lambda function {service_token} does not exist") from None


def send_request(
    request_type: str,
    *,
    account_id: str,
    region: str,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one request to the provider function and return its SUCCESS response document."""
    from labrunner.local.lambda_runtime import FunctionSpec, get_runtime

    service_token = str(properties["ServiceToken"])
    function = _function_for(service_token, account_id, region)
    request_id = str(uuid.uuid4())
    query = urllib.parse.urlencode({"stack": stack_id, "request": request_id})
    request: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": _server["base_url"]() + RESPONSE_PATH.format(region=region) + "?" + query,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": _stringify(properties),
    }
    if physical_id is not None:
        request["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        request["OldResourceProperties"] = _stringify(old_properties)
    pending = PendingRequest(request)
    with _pending_lock:
        _pending[request_id] = pending
    try:
        invocation = get_runtime().invoke(FunctionSpec.from_moto(function), request)
        if not pending.answered.wait(GRACE_S):
            detail = f" ({invocation.error_type})" if invocation.errored else ""
            raise CustomResourceFailed(
                f"The custom resource provider {function.function_name} ended without sending a "
                f"response to the ResponseURL{detail}; CloudFormation would wait for it until the "
                "service timeout. See the function's log group."
            )
    finally:
        with _pending_lock:
            _pending.pop(request_id, None)
    return _checked(pending.response or {}, request_id)


def _checked(response: dict[str, Any], request_id: str) -> dict[str, Any]:
    status = response.get("Status")
    if status == "FAILED":
        reason = response.get("Reason") or "See the details in CloudWatch Log Stream"
        raise CustomResourceFailed(
            f"Received response status [FAILED] from custom resource. Message returned: {reason} "
            f"(RequestId: {request_id})"
        )
    if status != "SUCCESS":
        raise CustomResourceFailed(f"Invalid response status {status!r} from custom resource (RequestId: {request_id})")
    if not response.get("PhysicalResourceId"):
        raise CustomResourceFailed(f"Invalid PhysicalResourceId (RequestId: {request_id})")
    if len(json.dumps(response.get("Data") or {})) > MAX_DATA_BYTES:
        raise CustomResourceFailed("Response object is too long.")
    return response


class CustomResource(CloudFormationModel):
    """A custom resource whose provider is a Lambda function."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
        response: dict[str, Any],
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.stack_id = stack_id
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.properties = properties
        self.physical_id = str(response["PhysicalResourceId"])
        self.data: dict[str, Any] = dict(response.get("Data") or {})

    @staticmethod
    def cloudformation_type() -> str:
        return STANDARD_TYPE

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True  # whatever the provider returns in Data

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.data:
            return self.data[attribute_name]
        raise CustomResourceFailed(
            f"CustomResourceAttributeError: Vendor response doesn't contain {attribute_name} attribute "
            f"in object {self.logical_id}"
        )

    def _send(self, request_type: str, **extra: Any) -> dict[str, Any]:
        return send_request(
            request_type,
            account_id=self.account_id,
            region=self.region,
            stack_id=self.stack_id,
            logical_id=self.logical_id,
            resource_type=self.resource_type,
            **extra,
        )

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomResource:
        properties = dict(cloudformation_json.get("Properties") or {})
        logical_id, stack_id, resource_type = kwargs["LogicalId"], kwargs["StackId"], kwargs["ResourceType"]
        response = send_request(
            "Create",
            account_id=account_id,
            region=region_name,
            stack_id=stack_id,
            logical_id=logical_id,
            resource_type=resource_type,
            properties=properties,
        )
        return cls(
            account_id=account_id,
            region=region_name,
            stack_id=stack_id,
            logical_id=logical_id,
            resource_type=resource_type,
            properties=properties,
            response=response,
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CustomResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CustomResource:
        old = original_resource
        properties = dict(cloudformation_json.get("Properties") or {})
        response = old._send(
            "Update", properties=properties, physical_id=old.physical_id, old_properties=old.properties
        )
        updated = cls(
            account_id=account_id,
            region=region_name,
            stack_id=old.stack_id,
            logical_id=old.logical_id,
            resource_type=old.resource_type,
            properties=properties,
            response=response,
        )
        if updated.physical_id != old.physical_id:
            old.delete(account_id, region_name)  # a new physical id means replacement
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        self._send("Delete", properties=self.properties, physical_id=self.physical_id)


def receive_response(body: bytes) -> bool:
    """A provider's response document arrived; False when no request waits for it."""
    try:
        response = json.loads(body or b"{}")
    except ValueError:
        return False
    if not isinstance(response, dict):
        return False
    with _pending_lock:
        pending = _pending.get(str(response.get("RequestId")))
    if pending is None or pending.answered.is_set():
        return False
    request = pending.request
    if (
        response.get("StackId") != request["StackId"]
        or response.get("LogicalResourceId") != request["LogicalResourceId"]
    ):
        return False
    pending.response = response
    pending.answered.set()
    return True


def response_endpoint(app: WSGIApp) -> WSGIApp:
    """Serve PUT /cloudformation_<region>/cfnresponse (AWS: a pre-signed S3 URL; always 200)."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not (path.startswith("/cloudformation_") and path.endswith("/cfnresponse")):
            return app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        receive_response(body)
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]

    return middleware


def install(hooks: ServerHooks) -> None:
    from moto.cloudformation import parsing

    _server["base_url"] = lambda: hooks.base_url
    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type == STANDARD_TYPE or resource_type.startswith("Custom::"):
            return CustomResource
        return original_class_from_type(resource_type)

    setattr(parsing, "resource_class_from_type", resource_class_from_type)  # noqa: B010 (patching moto)
    refresh_model_registry()
    hooks.add_middleware(response_endpoint, order=ORDER, name="cfn-custom-resource-response")
