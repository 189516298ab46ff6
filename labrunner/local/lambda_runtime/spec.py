"""What a worker needs to know about a Lambda function, read once from moto's model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from labrunner.local.identity import DEFAULT_REGION


@dataclass(frozen=True)
class FunctionSpec:
    """A function's code and configuration at one moment: a worker runs exactly this."""

    account_id: str
    region: str
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: float
    memory_mb: int
    role_arn: str
    environment: dict[str, str]
    code_sha256: str
    code: bytes = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """Which function this is (its workers share this key)."""
        return (self.account_id, self.region, self.name)

    @property
    def fingerprint(self) -> str:
        """Changes whenever the code, configuration or role changes: workers are then replaced."""
        described = json.dumps(
            [
                self.arn,
                self.handler,
                self.runtime,
                self.timeout_s,
                self.memory_mb,
                self.role_arn,
                sorted(self.environment.items()),
                self.code_sha256,
            ]
        )
        return hashlib.sha256(described.encode()).hexdigest()

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"

    @classmethod
    def from_moto(cls, function: Any) -> FunctionSpec:
        """Snapshot moto's `LambdaFunction` (its attributes change in place on updates)."""
        return cls(
            account_id=str(function.account_id),
            region=str(function.region or DEFAULT_REGION),
            name=str(function.function_name),
            arn=str(function.function_arn),
            handler=str(function.handler or ""),
            runtime=str(function.run_time or ""),
            timeout_s=float(function.timeout or 3),
            memory_mb=int(function.memory_size or 128),
            role_arn=str(function.role),
            environment={str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            code_sha256=str(getattr(function, "code_sha_256", "")),
            code=bytes(getattr(function, "code_bytes", b"") or b""),
        )
