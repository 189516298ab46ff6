"""Helpers of the doctor tests: run it, read its JSON, run it as another identity."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrunner.local import identity
from labrunner.local.lifecycle import Endpoint
from tests.helpers import CliResult, cli
from tests.local.iam_support import Creds


def doctor_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = cli("doctor", "--format", "json", *args)
    assert result.out, result.err
    return result.code, json.loads(result.out)


def levels(report: dict[str, Any]) -> dict[str, list[str]]:
    """Finding id -> the levels found for it (a probe may give one id several findings)."""
    found: dict[str, list[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["id"], []).append(finding["level"])
    return found


def finding(report: dict[str, Any], finding_id: str) -> dict[str, Any]:
    matches = [f for f in report["findings"] if f["id"] == finding_id]
    assert len(matches) == 1, (finding_id, report["findings"])
    return matches[0]


def as_identity(endpoint: Endpoint, creds: Creds, monkeypatch: pytest.MonkeyPatch, *args: str) -> CliResult:
    """`labrunner --target aws ARGS` with these keys against the local AWS (as a real account's user)."""
    with monkeypatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", endpoint.url)
        env.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        env.setenv("AWS_DEFAULT_REGION", identity.DEFAULT_REGION)
        return cli("--target", "aws", *args)
