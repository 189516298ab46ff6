"""The `cfnresponse` module that CloudFormation offers to inline (ZipFile) Python functions.

Written for labrunner after the documented interface: `send(event, context, responseStatus,
responseData, physicalResourceId=None, noEcho=False, reason=None)` PUTs the custom resource's
response document to the pre-signed `event["ResponseURL"]`. Standard library only.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(  # noqa: PLR0917 - the documented positional interface
    event: dict[str, Any],
    context: Any,
    responseStatus: str,
    responseData: dict[str, Any] | None,
    physicalResourceId: str | None = None,
    noEcho: bool = False,
    reason: str | None = None,
) -> None:
    """Report the outcome of a custom resource request to CloudFormation."""
    body = json.dumps(
        {
            "Status": responseStatus,
            "Reason": reason or f"See the details in CloudWatch Log Stream: {context.log_stream_name}",
            "PhysicalResourceId": physicalResourceId or context.log_stream_name,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": noEcho,
            "Data": responseData,
        }
    ).encode()
    print("Response body:")
    print(body.decode())
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"content-type": "", "content-length": str(len(body))},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print("Status code:", response.status)
    except Exception as exc:  # the documented module only prints the failure
        print("send(..) failed executing http.request(..):", exc)
