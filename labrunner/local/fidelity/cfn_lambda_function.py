"""Gap: moto's AWS::Lambda::Function update passes inline `Code.ZipFile` text where a zip archive
is expected (the code is garbled or the update fails), and ignores a removed Environment.

Here an update packages inline code as on create (index.py plus cfnresponse) and applies the
whole configuration, so the function's next invocation runs the new code and settings.
"""

from __future__ import annotations

import base64
from typing import Any

from labrunner.local.hooks import ServerHooks


def install(hooks: ServerHooks) -> None:
    from moto.awslambda.models import LambdaFunction

    def update_function(
        cls: Any,
        *,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = dict(cloudformation_json["Properties"])
        code = dict(properties["Code"])
        if "ZipFile" in code:
            code["ZipFile"] = base64.b64encode(LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"]))
        configuration = {
            "Description": properties.get("Description", ""),
            "Handler": properties.get("Handler"),
            "MemorySize": properties.get("MemorySize", 128),
            "Role": properties["Role"],
            "Runtime": properties.get("Runtime"),
            "Timeout": properties.get("Timeout", 3),
            "Environment": {"Variables": (properties.get("Environment") or {}).get("Variables", {})},
        }
        original_resource.update_configuration(configuration)
        original_resource.update_function_code(code)
        return original_resource

    setattr(LambdaFunction, "update_from_cloudformation_json", classmethod(update_function))  # noqa: B010
