"""IAM propagation delay: a permission change is enforced only N seconds after it is made.

AWS IAM is eventually consistent: a changed policy shows at once in Get/List calls and in the
policy simulator (they read the stored policies), but requests keep being authorized under the
old permissions for a few seconds. Modelled here per account: before each permission-changing
IAM request, the account's permissions are remembered, valid until now + N; while a remembered
view is valid, authorization (labrunner/local/iam/authorizer.py) uses it instead of the stored
policies. Changes at t1 < t2 give views valid until t1+N and t2+N: at time T the oldest view
still valid is the one AWS would be enforcing.

A principal created after the view was taken is not in it and is judged by its current
policies (CloudFormation, which creates the workload's role, waits for IAM itself on AWS).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from labrunner.local.faults import FAULTS
from labrunner.local.iam.policies import (
    PrincipalPolicies,
    group_policies,
    iam_backend,
    role_policies,
    user_policies,
)

# IAM operations that change what a principal may do (or who may assume a role).
PERMISSION_CHANGES = frozenset(
    {
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "UpdateAssumeRolePolicy",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "DeleteRole",
        "PutUserPolicy",
        "DeleteUserPolicy",
        "AttachUserPolicy",
        "DetachUserPolicy",
        "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "DeleteUser",
        "PutGroupPolicy",
        "DeleteGroupPolicy",
        "AttachGroupPolicy",
        "DetachGroupPolicy",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "DeleteGroup",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "DeletePolicy",
    }
)

_ENTITY = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<kind>user|role|group)(?:/.*)?/(?P<name>[^/]+)$"
)
_ASSUMED = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/.+$")

PrincipalKey = tuple[str, str]  # ("role" | "user" | "group", name)


@dataclass(frozen=True)
class AccountView:
    """An account's permissions as they were before a change, enforced until `valid_until`."""

    valid_until: float
    principals: dict[PrincipalKey, PrincipalPolicies]
    trust: dict[str, str]  # role name -> trust policy document


def principal_of(principal_arn: str) -> tuple[str, str, PrincipalKey] | None:
    """(account, partition, key) of a user, role, group or assumed-role session ARN."""
    entity = _ENTITY.match(principal_arn)
    if entity:
        return entity["account"], entity["partition"], (entity["kind"], entity["name"])
    assumed = _ASSUMED.match(principal_arn)
    if assumed:
        return assumed["account"], assumed["partition"], ("role", assumed["name"])
    return None


def _capture(account: str, partition: str, valid_until: float) -> AccountView:
    backend = iam_backend(account, partition)
    principals: dict[PrincipalKey, PrincipalPolicies] = {}
    trust: dict[str, str] = {}
    for role in list(backend.roles.values()):
        principals[("role", role.name)] = role_policies(backend, role.name)
        trust[role.name] = str(role.assume_role_policy_document)
    for name in list(backend.users):
        principals[("user", name)] = user_policies(backend, name)
    for name in list(backend.groups):
        principals[("group", name)] = group_policies(backend, name)
    return AccountView(valid_until, principals, trust)


class Propagation:
    """The remembered views of every account (server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: dict[tuple[str, str], list[AccountView]] = {}

    def before_change(self, account: str, partition: str, delay_s: float) -> None:
        """Remember the account's permissions: the change about to be made is enforced in delay_s."""
        if delay_s <= 0:
            return
        view = _capture(account, partition, time.monotonic() + delay_s)
        with self._lock:
            self._views.setdefault((account, partition), []).append(view)

    def _valid_views(self, account: str, partition: str) -> list[AccountView]:
        """The account's remembered views still in force, oldest first."""
        if not self._views:  # the common case: no delay, nothing remembered
            return []
        now = time.monotonic()
        with self._lock:
            views = self._views.get((account, partition))
            if not views:
                return []
            while views and views[0].valid_until <= now:
                views.pop(0)
            if not views:
                del self._views[(account, partition)]
            return list(views)

    def enforced_policies(self, principal_arn: str) -> PrincipalPolicies | None:
        """The policies IAM still enforces for the principal, if a change has not propagated yet.

        The oldest view in force that knows the principal: a principal created after a view was
        taken (untracked, so at once) is judged by the first view taken after its creation.
        """
        found = principal_of(principal_arn)
        if found is None:
            return None
        account, partition, key = found
        for view in self._valid_views(account, partition):
            if key in view.principals:
                FAULTS.count("iam_stale_authorizations")
                return view.principals[key]
        return None

    def enforced_trust(self, account: str, partition: str, role_name: str) -> str | None:
        """The trust policy IAM still enforces for the role, if a change has not propagated yet."""
        for view in self._valid_views(account, partition):
            if role_name in view.trust:
                FAULTS.count("iam_stale_trust_policies")
                return view.trust[role_name]
        return None

    def clear(self) -> None:
        with self._lock:
            self._views.clear()


PROPAGATION = Propagation()
