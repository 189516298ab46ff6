"""Who may talk to the local AWS (access.py): loopback Host only, control endpoints for the admin only,
no CORS, and the admin's secret kept private in LABRUNNER_HOME."""

from __future__ import annotations

import http.client
import json
import stat
from pathlib import Path

import pytest

from labrunner.errors import LocalServerError
from labrunner.local import admin as local_admin
from labrunner.local import lifecycle, state
from labrunner.local.lifecycle import Endpoint
from tests.conftest import free_port
from tests.helpers import cli
from tests.local.iam_support import client, unique


def raw(
    endpoint: Endpoint, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request exactly as given (http.client sends our Host header, not its own)."""
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    try:
        given = dict(headers or {})
        conn.putrequest(method, path, skip_host="Host" in given, skip_accept_encoding=True)
        for name, value in given.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def bucket_names(endpoint: Endpoint) -> list[str]:
    return [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]]


def test_cross_site_text_plain_post_to_reset_changes_nothing(local_server: Endpoint) -> None:
    """What a web page's `fetch(url, {method: "POST", mode: "no-cors", body: "x"})` sends."""
    bucket = unique("survives")
    client(local_server, "s3").create_bucket(Bucket=bucket)
    status, headers, _ = raw(
        local_server,
        "POST",
        "/_labrunner/reset",
        headers={
            "Host": f"127.0.0.1:{local_server.port}",
            "Origin": "http://evil.example",
            "Content-Type": "text/plain",
            "Sec-Fetch-Site": "cross-site",
        },
        body=b"x",
    )
    assert status == 403
    assert not any(name.startswith("access-control-") for name in headers)
    assert bucket in bucket_names(local_server)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_labrunner/reset"),
        ("GET", "/_labrunner/faults"),
        ("POST", "/_labrunner/faults?throttle_rate=1"),
        ("POST", "/_labrunner/iam/expire-session"),
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/data.json"),
    ],
)
def test_control_endpoints_need_the_admins_signature(local_server: Endpoint, method: str, path: str) -> None:
    bucket = unique("control")
    client(local_server, "s3").create_bucket(Bucket=bucket)
    status, _, body = raw(local_server, method, path, headers={"Host": f"127.0.0.1:{local_server.port}"})
    assert status == 403, body
    assert "signed by the local admin" in json.loads(body)["error"]
    assert bucket in bucket_names(local_server)
    assert (
        local_admin.control(local_server.url, "GET", "faults", secret=local_server.secret_key)["settings"][
            "throttle_rate"
        ]
        == 0
    )


def test_control_request_signed_with_a_wrong_secret_is_refused(local_server: Endpoint) -> None:
    bucket = unique("control")
    client(local_server, "s3").create_bucket(Bucket=bucket)
    with pytest.raises(LocalServerError, match="HTTP 403"):
        local_admin.control(local_server.url, "POST", "reset", secret="w" * 40)
    assert bucket in bucket_names(local_server)


def test_moto_reset_auth_is_refused_even_to_the_admin(local_server: Endpoint) -> None:
    """It would switch on moto's own authentication, which gets S3 keys with `'` wrong."""
    url = f"http://127.0.0.1:{local_server.port}/moto-api/reset-auth"
    request = local_admin.signed_request(url, "POST", b"0", local_server.secret_key)
    status, _, _ = raw(local_server, "POST", "/moto-api/reset-auth", headers=dict(request.header_items()), body=b"0")
    assert status == 403
    bucket = unique("after-reset-auth")
    s3 = client(local_server, "s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="Alice's (1).txt", Body=b"x")


def test_health_is_open_and_reveals_no_secret(local_server: Endpoint) -> None:
    status, _, body = raw(local_server, "GET", "/_labrunner/health", headers={"Host": f"localhost:{local_server.port}"})
    assert status == 200
    assert json.loads(body)["service"] == "labrunner-local"
    assert local_server.secret_key.encode() not in body


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}", "192.168.1.10:{port}", "127.0.0.1:1"]
)
def test_foreign_host_header_is_refused(local_server: Endpoint, host: str) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 sends its own Host."""
    given = host.format(port=local_server.port)
    for path in ("/_labrunner/health", "/"):
        status, _, body = raw(local_server, "GET", path, headers={"Host": given})
        assert status == 403, (path, body)


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_host_header_is_served(local_server: Endpoint, host: str) -> None:
    status, _, _ = raw(local_server, "GET", "/_labrunner/health", headers={"Host": host.format(port=local_server.port)})
    assert status == 200


def test_no_cors_for_web_pages(local_server: Endpoint) -> None:
    preflight = {
        "Host": f"127.0.0.1:{local_server.port}",
        "Origin": "http://evil.example",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,x-amz-date",
    }
    for path in ("/", "/some-bucket/key", "/_labrunner/reset", "/_labrunner/health"):
        _, headers, _ = raw(local_server, "OPTIONS", path, headers=preflight)
        assert not any(name.startswith("access-control-") for name in headers), (path, headers)
    _, headers, _ = raw(
        local_server, "GET", "/_labrunner/health", headers={"Host": preflight["Host"], "Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in headers


def test_home_secret_and_state_are_private(local_server: Endpoint, labrunner_home: Path) -> None:
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(labrunner_home) == 0o700
    secret_file = labrunner_home / state.ADMIN_SECRET_FILE
    assert mode(secret_file) == 0o600
    assert secret_file.read_text().strip() == local_server.secret_key
    assert len(local_server.secret_key) == 40
    assert mode(state.state_file(local_server.port)) == 0o600
    assert mode(state.log_file(local_server.port)) == 0o600


def test_each_home_has_its_own_secret_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    monkeypatch.setenv("LABRUNNER_HOME", str(home))
    first = state.admin_secret()
    assert state.admin_secret() == first
    assert stat.S_IMODE(home.stat().st_mode) == 0o700  # an existing home is made private
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path / "other"))
    assert state.admin_secret() != first


def test_local_env_prints_this_homes_secret(local_server: Endpoint, local_env: Endpoint) -> None:
    result = cli("local", "env")
    assert result.code == 0, result.err
    assert f"export AWS_SECRET_ACCESS_KEY={local_server.secret_key}" in result.out.splitlines()


def test_a_server_of_another_home_refuses_this_homes_secret(
    local_server: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABRUNNER_HOME", str(tmp_path))
    port = free_port()
    other, started = lifecycle.start(port)
    try:
        assert started and other.secret_key != local_server.secret_key
        assert client(other, "sts").get_caller_identity()["Account"] == "123456789012"
        ours_there = Endpoint(url=other.url, port=other.port, pid=other.pid, secret_key=local_server.secret_key)
        denied = client(ours_there, "sts")
        with pytest.raises(Exception, match="SignatureDoesNotMatch"):
            denied.get_caller_identity()
    finally:
        lifecycle.stop(port)
