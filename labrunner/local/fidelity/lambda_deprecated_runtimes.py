"""Lambda refuses deprecated runtimes on create and update; moto accepts any runtime name.

AWS: Lambda Developer Guide, "Lambda runtimes" — "Runtime deprecation policy" and the table of
deprecated runtimes with their "Block function create" and "Block function update" dates, each
starting at midnight Pacific time (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html,
https://docs.aws.amazon.com/lambda/latest/dg/runtime-support-policy.html): after the first date no
function can be created with the runtime, after the second none that uses it can be updated.
Lambda then answers CreateFunction / UpdateFunctionConfiguration / UpdateFunctionCode with
`InvalidParameterValueException` (400): "The runtime parameter of python3.7 is no longer supported
for creating or updating AWS Lambda functions. We recommend you use the new runtime (python3.12)
while creating or updating functions." — and CloudFormation fails the AWS::Lambda::Function
resource with that message.

The dates are cfn-lint's (rule E2531, data/AdditionalSpecs/LmbdRuntimeLifecycle.json, kept in
step with AWS's table), read by labrunner.aws.lambda_runtimes (doctor uses them too). Here:
- CreateFunction (and a stack's AWS::Lambda::Function) with a runtime past its create block: refused;
- UpdateFunctionConfiguration that switches to such a runtime: refused (a function cannot be set
  back to a runtime that may no longer be created);
- any update of a function whose runtime is past its update block (unless it moves to another
  runtime): refused.
"""

from __future__ import annotations

import functools
from typing import Any

from labrunner.aws.lambda_runtimes import blocked_for_create, blocked_for_update, lifecycle
from labrunner.local.hooks import ServerHooks


def refusal(runtime: str) -> Exception:
    """AWS's InvalidParameterValueException for a runtime that may no longer be used."""
    from moto.awslambda.exceptions import InvalidParameterValueException

    successor = (lifecycle().get(runtime) or {}).get("successor")
    advice = (
        f" We recommend you use the new runtime ({successor}) while creating or updating functions."
        if successor
        else ""
    )
    return InvalidParameterValueException(
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions."
        + advice
    )


def install(hooks: ServerHooks) -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    create_function = LambdaBackend.create_function
    update_configuration = LambdaFunction.update_configuration
    update_function_code = LambdaFunction.update_function_code

    @functools.wraps(create_function)
    def create(self: Any, spec: dict[str, Any]) -> Any:
        runtime = spec.get("Runtime")
        if blocked_for_create(runtime):
            raise refusal(str(runtime))
        return create_function(self, spec)

    @functools.wraps(update_configuration)
    def configure(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        new = config_updates.get("Runtime") or self.run_time
        if (new != self.run_time and blocked_for_create(new)) or blocked_for_update(new):
            raise refusal(str(new))
        return update_configuration(self, config_updates)

    @functools.wraps(update_function_code)
    def update_code(self: Any, updated_spec: dict[str, Any]) -> dict[str, Any]:
        if blocked_for_update(self.run_time):
            raise refusal(str(self.run_time))
        return update_function_code(self, updated_spec)

    setattr(LambdaBackend, "create_function", create)  # noqa: B010 (patching moto)
    setattr(LambdaFunction, "update_configuration", configure)  # noqa: B010
    setattr(LambdaFunction, "update_function_code", update_code)  # noqa: B010
