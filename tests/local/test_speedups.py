"""The server's speed-ups change no answer: moto's service list read once, one botocore loader."""

from __future__ import annotations

import boto3
import botocore.loaders
import pytest
from moto import backends

from labrunner.aws.model_cache import shared_loader
from labrunner.local import speedups
from labrunner.local.lifecycle import Endpoint


def test_moto_service_list_is_read_once_and_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = []

    def listing() -> list[str]:
        reads.append(1)
        return list(backends.list_of_moto_modules())

    cached = speedups.cached(listing)
    assert cached() == tuple(backends.list_of_moto_modules()) == cached()
    assert {"s3", "iam", "sqs", "awslambda", "dynamodb", "cloudformation", "config"} <= set(cached())
    assert len(reads) == 1


def test_sessions_share_one_loader_unless_they_name_their_own_data_path(tmp_path: object) -> None:
    create = speedups.sharing(botocore.loaders.create_loader)
    assert create() is create(None) is shared_loader()
    own = create(str(tmp_path))
    assert own is not shared_loader() and str(tmp_path) in own.search_paths


def test_shared_loader_search_paths_do_not_grow() -> None:
    loader = shared_loader()
    before = list(loader.search_paths)
    for _ in range(3):
        session = boto3.Session(region_name="us-east-1")
        session._session.register_component("data_loader", loader)
        loader.search_paths.append(before[-1])  # what boto3 does on every new session
    assert list(loader.search_paths) == before


def test_server_runs_with_them(local_server: Endpoint, admin_session: boto3.Session) -> None:
    """The server applies them (labrunner.local.server) and still routes every service."""
    for service, call in (("s3", "list_buckets"), ("iam", "list_roles"), ("sqs", "list_queues")):
        client = admin_session.client(service, endpoint_url=local_server.url)
        assert getattr(client, call)()["ResponseMetadata"]["HTTPStatusCode"] == 200
