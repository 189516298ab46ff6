"""Temporary credentials expire: `credential_ttl_s` caps the lifetime of every credential STS issues.

AWS: "STS API Reference, AssumeRole" — DurationSeconds "can range from 900 seconds (15 minutes) up
to the maximum session duration setting for the role … By default, the value is set to 3600
seconds"; GetSessionToken and GetFederationToken last 12 hours by default
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
…/API_GetSessionToken.html). A request signed with an expired session token is refused before
any policy is looked at: query services (STS, IAM, CloudFormation) answer `ExpiredToken` (403),
S3 `ExpiredToken` (400, "The provided token has expired."), JSON services `ExpiredTokenException`
("Troubleshooting IAM: The security token included in the request is expired";
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html). That refusal is made
by the credential check of the IAM middleware (local/iam/credentials.py, iam_enforcement.py)
from each session's `expiration`; this module only shortens the expiration at issue.

Every session moto's STS makes — AssumeRole (the OrganizationAccountAccessRole of class mode
included), AssumeRoleWithWebIdentity/SAML, GetSessionToken, GetFederationToken, and the execution
role sessions of the local Lambda runtime — ends at most `credential_ttl_s` seconds after it is
issued (0: as asked). The knob may go below AWS's 900 s minimum so that tests and rehearsals see
expiry in seconds; the answer's `Expiration` tells the client the capped time, as AWS's does, so
refreshing clients (botocore's RefreshableCredentials) renew in time.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from labrunner.local.faults import CREDENTIAL_TTL, FAULTS
from labrunner.local.hooks import ServerHooks


def capped(expiration: datetime.datetime, issued: datetime.datetime) -> datetime.datetime:
    """`expiration`, but at most `credential_ttl_s` after `issued` (moto's naive UTC times)."""
    ttl = FAULTS.value(CREDENTIAL_TTL)
    if ttl <= 0:
        return expiration
    return min(expiration, issued + datetime.timedelta(seconds=ttl))


def _capping(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        from moto.core.utils import utcnow

        issued = utcnow()
        init(self, *args, **kwargs)
        self.expiration = capped(self.expiration, issued)

    return wrapper


def install(hooks: ServerHooks) -> None:
    from moto.sts.models import AssumedRole, Token

    for cls in (AssumedRole, Token):
        setattr(cls, "__init__", _capping(cls.__init__))  # noqa: B010 (patching moto)
