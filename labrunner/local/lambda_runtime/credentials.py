"""Temporary credentials of a function's execution role, issued by the local STS.

Lambda gives the function its role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN ("Defined runtime environment variables", Lambda Developer Guide) and keeps them
valid while the execution environment lives. The local STS may issue shorter sessions
(`credential_ttl_s`), so a warm worker gets new ones before an invocation once half of their
lifetime (at most 5 minutes before the end) has passed; the runtime also sets
AWS_CREDENTIAL_EXPIRATION, which makes the SDK re-read the variables when they near their end, so
clients the handler made at init (`boto3.resource("dynamodb")` at module level) keep working.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from labrunner.local.lambda_runtime.spec import FunctionSpec

SESSION_DURATION_S = 3600
RENEW_BEFORE_S = 300.0


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float
    session_arn: str
    issued_at: float = 0.0

    def due(self, now: float | None = None) -> bool:
        """True when these should be replaced before the next invocation."""
        current = time.time() if now is None else now
        margin = min(RENEW_BEFORE_S, (self.expires_at - self.issued_at) / 2)
        return self.expires_at - current <= margin

    def environment(self) -> dict[str, str]:
        """The variables the runtime gives the function (and renews in a warm worker)."""
        expiration = datetime.fromtimestamp(self.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_CREDENTIAL_EXPIRATION": expiration,
        }


def assume_execution_role(spec: FunctionSpec) -> RoleCredentials:
    """AssumeRole as the Lambda service does: session name = function name.

    The function's calls then appear as arn:aws:sts::ACCT:assumed-role/ROLE/FUNCTION. The session
    ends when the local STS says (its `credential_ttl_s` may cap the hour asked for).
    """
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    issued = time.time()
    backend = sts_backends[spec.account_id][get_partition(spec.region)]
    role = backend.assume_role(
        region_name=spec.region,
        role_session_name=spec.name[:64],
        role_arn=spec.role_arn,
        policy=None,  # type: ignore[arg-type]  # no session policy: what moto's API layer passes
        duration=SESSION_DURATION_S,
        external_id=None,  # type: ignore[arg-type]
    )
    expiration = role.expiration if role.expiration.tzinfo else role.expiration.replace(tzinfo=UTC)
    return RoleCredentials(
        access_key_id=role.access_key_id,
        secret_access_key=role.secret_access_key,
        session_token=role.session_token,
        expires_at=expiration.timestamp(),
        session_arn=role.arn,
        issued_at=issued,
    )
