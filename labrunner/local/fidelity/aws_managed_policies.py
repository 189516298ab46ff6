"""AWS managed policies in every account, cheaply (SPEC §6.4, §6.7).

moto builds its ~1580 AWS managed policies per account and partition by parsing one 4.7 MB JSON
text and re-serialising every document (~70 ms each time, ~0.4 s per account once all partitions
are touched) — too slow for class mode over 50 accounts. Here they are built once per partition
and cloned per account: the document texts, policy ids and dates are shared (as on AWS, where an
AWS managed policy is the same object everywhere), while the mutable parts (attachment count,
tags, version list) stay per account.
"""

from __future__ import annotations

import threading
from typing import Any

from labrunner.local.hooks import ServerHooks

_PolicyTemplate = tuple[type, dict[str, Any], list[tuple[type, dict[str, Any]]]]
_templates: dict[str, list[_PolicyTemplate]] = {}
_lock = threading.Lock()


def _snapshot(policies: list[Any]) -> list[_PolicyTemplate]:
    return [
        (type(p), {k: v for k, v in vars(p).items() if k != "versions"}, [(type(v), dict(vars(v))) for v in p.versions])
        for p in policies
    ]


def _clone(template: list[_PolicyTemplate], account_id: str) -> list[Any]:
    new = object.__new__
    out = []
    for cls, state, versions in template:
        policy: Any = new(cls)
        policy.__dict__.update(state)
        policy.account_id = account_id
        policy.attachment_count = 0
        policy.tags = {}
        cloned_versions = []
        for version_cls, version_state in versions:
            version: Any = new(version_cls)
            version.__dict__.update(version_state)
            cloned_versions.append(version)
        policy.versions = cloned_versions
        out.append(policy)
    return out


def install(hooks: ServerHooks) -> None:
    from moto.iam.models import IAMBackend

    original = IAMBackend._init_aws_policies

    def init_aws_policies(self: Any) -> list[Any]:
        partition = self.partition
        template = _templates.get(partition)
        if template is None:
            with _lock:
                template = _templates.get(partition)
                if template is None:
                    built = original(self)
                    if not built:  # MOTO_IAM_LOAD_MANAGED_POLICIES is off: nothing to share
                        return list(built)
                    template = _templates[partition] = _snapshot(built)
                    return list(built)
        return _clone(template, self.account_id)

    setattr(IAMBackend, "_init_aws_policies", init_aws_policies)  # noqa: B010 (patching moto)
