"""labrunner.aws.permissions lists every IAM action `solve` and `check` call: a full solve and check
on the local AWS are recorded, each call mapped to its IAM action, and none may be missing."""

from __future__ import annotations

from typing import Any

import pytest

from labrunner.aws import permissions
from labrunner.aws import session as sessions
from labrunner.local.iam.actions import S3_ACTIONS
from labrunner.local.lifecycle import Endpoint
from tests.helpers import cli

# IAM needs no permission for these (IAM User Guide, "GetCallerIdentity": no permission is required).
FREE = {"sts:GetCallerIdentity"}


def iam_action(signing_name: str, operation: str) -> str:
    """The IAM action of an API operation (S3's differ from the operation's name)."""
    if signing_name == "s3":
        return f"s3:{S3_ACTIONS.get(operation, operation)}"
    return f"{signing_name}:{operation}"


@pytest.mark.slow
def test_every_call_of_solve_and_check_is_listed(
    fresh_server: Endpoint, local_env: Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, set[str]] = {"solve": set(), "check": set()}
    mode = ["solve"]
    original = sessions.ClientFactory.client

    def recording(self: sessions.ClientFactory, service: str, region: str | None = None) -> Any:
        client = original(self, service, region)
        signing = client.meta.service_model.signing_name

        def record(model: Any, **_: Any) -> None:
            seen[mode[0]].add(iam_action(signing, model.name))

        client.meta.events.register("before-parameter-build", record, unique_id=f"record-{id(client)}")
        return client

    monkeypatch.setattr(sessions.ClientFactory, "client", recording)
    assert cli("solve").code == 0
    mode[0] = "check"
    assert cli("check").code == 0

    assert len(seen["solve"]) > 40 and len(seen["check"]) > 25  # the recording saw the runs
    check_needs = set(permissions.needed("check"))
    solve_needs = set(permissions.needed("solve"))
    assert sorted(seen["check"] - FREE - check_needs) == []
    assert sorted(seen["solve"] - FREE - solve_needs) == []


def test_deploy_actions_cover_every_resource_type_of_the_templates() -> None:
    from labrunner.doctor.probes import read_templates

    templates = read_templates()
    assert permissions.unknown_types(templates.resource_types) == []
    deploy = permissions.deploy_actions(templates.resource_types)
    assert {"cloudformation:CreateStack", "iam:PassRole", "lambda:CreateFunction"} <= set(
        permissions.needed("solve", templates.resource_types)
    )
    assert "lambda:InvokeFunction" in deploy  # the custom resource of the hardened template
