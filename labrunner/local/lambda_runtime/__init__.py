"""A Python execution environment for Lambda functions of the local AWS (no Docker).

Each function's handler runs in a separate worker process (`bootstrap.py`), kept warm between
invocations like a Lambda container, with the function's code, environment and execution role.
"""

from __future__ import annotations

from labrunner.local.lambda_runtime.runtime import LambdaRuntime, RuntimeStopped, get_runtime, set_runtime
from labrunner.local.lambda_runtime.spec import FunctionSpec
from labrunner.local.lambda_runtime.worker import Invocation

__all__ = ["FunctionSpec", "Invocation", "LambdaRuntime", "RuntimeStopped", "get_runtime", "set_runtime"]
