"""Accounts of the local AWS: the admin of the default account, and accounts that exist on first use.

SPEC §6.7: as in an AWS Organization, every 12-digit account has an
`OrganizationAccountAccessRole` (AdministratorAccess) that the management account — here the
default account, whose `labrunner-admin` user holds the keys `labrunner local env` prints (a
fixed access key id, the secret of this LABRUNNER_HOME) — may assume. Accounts are created
lazily, when a role in them is first assumed.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from labrunner.local import identity
from labrunner.local.hooks import ServerHooks

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
_ACCOUNT_ID = re.compile(r"^\d{12}$")

_ready: set[str] = set()
_lock = threading.Lock()


def _iam(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["aws"]


def org_access_trust_policy() -> str:
    """The trust policy AWS Organizations gives the role: the management account may assume it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{identity.DEFAULT_ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def ensure_admin_user(secret: str) -> None:
    """The default account's `labrunner-admin` with AdministratorAccess and the admin's access key."""
    backend = _iam(identity.DEFAULT_ACCOUNT)
    user = backend.users.get(identity.ADMIN_USER)
    if user is None:
        user = backend.create_user(identity.DEFAULT_REGION, identity.ADMIN_USER)
    if ADMINISTRATOR_ACCESS not in user.managed_policies:
        backend.attach_user_policy(ADMINISTRATOR_ACCESS, identity.ADMIN_USER)
    if identity.ADMIN_ACCESS_KEY not in backend.access_keys:
        key = backend.create_access_key(identity.ADMIN_USER)
        # Re-keyed rather than generated: clients already hold the keys (from LABRUNNER_HOME).
        del backend.access_keys[key.access_key_id]
        key.access_key_id = identity.ADMIN_ACCESS_KEY
        key.secret_access_key = secret
        backend.access_keys[key.access_key_id] = key


def ensure_account(account_id: str) -> bool:
    """Make a 12-digit account exist with its OrganizationAccountAccessRole; True if created now."""
    if not _ACCOUNT_ID.match(account_id) or account_id == identity.DEFAULT_ACCOUNT:
        return False
    if account_id in _ready:
        return False
    with _lock:
        if account_id in _ready:
            return False
        backend = _iam(account_id)
        created = False
        if not any(role.name == identity.ORG_ACCESS_ROLE for role in list(backend.roles.values())):
            backend.create_role(
                role_name=identity.ORG_ACCESS_ROLE,
                assume_role_policy_document=org_access_trust_policy(),
                path="/",
                permissions_boundary=None,
                description="Grants full access to the member account (AWS Organizations)",
                tags=[],
                max_session_duration=None,
            )
            backend.attach_role_policy(ADMINISTRATOR_ACCESS, identity.ORG_ACCESS_ROLE)
            created = True
        _ready.add(account_id)
        return created


def install(hooks: ServerHooks) -> None:
    def after_reset() -> None:
        with _lock:
            _ready.clear()
        ensure_admin_user(hooks.admin_secret)

    hooks.on_start(lambda: ensure_admin_user(hooks.admin_secret))
    hooks.on_reset(after_reset)
