"""Temporary credentials of a function's execution role, issued by the local STS."""

from __future__ import annotations

import time
from dataclasses import dataclass

from labrunner.local.lambda_runtime.spec import FunctionSpec

SESSION_DURATION_S = 3600


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float
    session_arn: str


def assume_execution_role(spec: FunctionSpec) -> RoleCredentials:
    """AssumeRole as the Lambda service does: session name = function name.

    The function's calls then appear as arn:aws:sts::ACCT:assumed-role/ROLE/FUNCTION.
    """
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    backend = sts_backends[spec.account_id][get_partition(spec.region)]
    role = backend.assume_role(
        region_name=spec.region,
        role_session_name=spec.name[:64],
        role_arn=spec.role_arn,
        policy=None,  # type: ignore[arg-type]  # no session policy: what moto's API layer passes
        duration=SESSION_DURATION_S,
        external_id=None,  # type: ignore[arg-type]
    )
    return RoleCredentials(
        access_key_id=role.access_key_id,
        secret_access_key=role.secret_access_key,
        session_token=role.session_token,
        expires_at=time.time() + SESSION_DURATION_S,
        session_arn=role.arn,
    )
