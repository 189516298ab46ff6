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
step with AWS's table), not a list of our own. Here:
- CreateFunction (and a stack's AWS::Lambda::Function) with a runtime past its create block: refused;
- UpdateFunctionConfiguration that switches to such a runtime: refused (a function cannot be set
  back to a runtime that may no longer be created);
- any update of a function whose runtime is past its update block (unless it moves to another
  runtime): refused.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from labrunner.local.hooks import ServerHooks


@functools.cache
def lifecycle() -> dict[str, dict[str, str | None]]:
    """Runtime -> {"deprecated", "create-block", "update-block", "successor"} (cfn-lint's data)."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    data: dict[str, dict[str, str | None]] = load_resource(AdditionalSpecs, "LmbdRuntimeLifecycle.json")
    return data


def _pacific() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("America/Los_Angeles")
    except Exception:  # no time zone database: Pacific standard time is close enough for a date
        return timezone(timedelta(hours=-8))


def _today() -> date:
    return datetime.now(_pacific()).date()


def _blocked(runtime: str | None, phase: str, today: date | None = None) -> bool:
    when = (lifecycle().get(runtime or "") or {}).get(phase)
    return bool(when) and date.fromisoformat(str(when)) <= (today or _today())


def blocked_for_create(runtime: str | None, today: date | None = None) -> bool:
    return _blocked(runtime, "create-block", today)


def blocked_for_update(runtime: str | None, today: date | None = None) -> bool:
    return _blocked(runtime, "update-block", today)


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
