"""Bad input (SPEC §3): a command that cannot run as asked says so in one line on stderr starting
`labrunner:`, exits 2, shows no traceback, and changes nothing in the account.

tests/engine/test_cli.py covers unknown ids and options, no credentials, an unknown profile and
an unreachable aws endpoint; this file adds the rest. What is a state of the account rather than
bad input (a stack deleted or half deleted, the upload bucket deleted, a stack name that does not
exist) is graded, not refused: see test_damaged_workload.py.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from labrunner import paths
from labrunner.local import admin, identity
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Status
from tests.conftest import free_port, reset_server
from tests.helpers import admin_boto3, cli, local_context, run, statuses
from tests.reliability.state import account_state, differences, settled_state

Env = dict[str, str | None]


@pytest.fixture(scope="module")
def baseline(local_server: Endpoint) -> dict[str, Any]:
    """The default account with the workload deployed, as every refused command must leave it."""
    reset_server(local_server)
    report = run(local_context(local_server), "solve", ["setup"])
    assert set(statuses(report).values()) == {Status.PASS}, report
    return settled_state(local_server)


@pytest.fixture
def unchanged(baseline: dict[str, Any], local_env: Endpoint) -> Iterator[None]:
    """Asserts after the test that the account is as the baseline."""
    yield
    assert differences(baseline, account_state(local_env)) == []


def refused(monkeypatch: pytest.MonkeyPatch, *args: str, env: Env | None = None) -> str:
    """Run `labrunner ARGS` (with env changes); assert it was refused properly; its one line."""
    with monkeypatch.context() as patch:
        for name, value in (env or {}).items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        result = cli(*args)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 2, result
    assert len(lines) == 1 and lines[0].startswith("labrunner: "), result.err
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    return lines[0]


# -- ids, options, option values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        pytest.param(("solve", "lab9"), "unknown lab or step id 'lab9'", id="solve-unknown-lab"),
        pytest.param(("explain", "lab2.nope"), "unknown lab or step id 'lab2.nope'", id="explain-unknown-step"),
        pytest.param(("solve", "setup.stack", "lab2.nope"), "'lab2.nope'", id="one-unknown-among-known"),
        pytest.param(("up", "lab2"), "unrecognized arguments: lab2", id="up-takes-no-ids"),
        pytest.param(("reset", "lab2"), "unrecognized arguments: lab2", id="reset-takes-no-ids"),
        pytest.param(("solve", "--jobs", "3"), "unrecognized arguments: --jobs", id="option-of-another-command"),
        pytest.param(("local", "restart"), "invalid choice: 'restart'", id="unknown-local-action"),
        pytest.param(("solve", "--wait-scale", "0"), "--wait-scale must be positive", id="wait-scale-zero"),
        pytest.param(("solve", "--wait-scale", "soon"), "invalid float value: 'soon'", id="wait-scale-text"),
        pytest.param(("solve", "--stack-name", "my stack!"), "is not a valid stack name", id="stack-name-bad"),
        pytest.param(("solve", "--stack-name", "s" * 129), "is not a valid stack name", id="stack-name-long"),
        pytest.param(("solve", "--output"), "expected one argument", id="option-without-value"),
        pytest.param(("solve", "--region", "us east 1"), "'us east 1' is not an AWS region name", id="bad-region"),
        pytest.param(("solve", "--wait-scale", "nan"), "--wait-scale must be positive and finite", id="wait-scale-nan"),
        pytest.param(("solve", "--wait-scale", "inf"), "--wait-scale must be positive and finite", id="wait-scale-inf"),
        pytest.param(("check", "--wait-scale", "-1"), "--wait-scale must be positive and finite", id="wait-scale-neg"),
        pytest.param(("check", "--output", "reports/"), "names a folder: give a file name", id="output-folder"),
    ],
)
def test_bad_arguments(monkeypatch: pytest.MonkeyPatch, unchanged: None, args: tuple[str, ...], says: str) -> None:
    assert says in refused(monkeypatch, *args)


REGION_COMMANDS = [
    ("check",),
    ("solve", "lab2"),
    ("up",),
    ("reset", "--dry-run"),
    ("class", "check", "--roster", "class.yaml"),
    ("local", "env"),
    ("local", "start"),
]


REGION_CASES = [
    pytest.param((target, region, command), id=f"{target}-{' '.join(command[:2])}-{region.strip()}")
    for target in ("local", "aws")
    for region in ("mars-1", "US-EAST-1", "us-east-1 ")
    for command in REGION_COMMANDS
]


@pytest.mark.parametrize("case", REGION_CASES)
def test_region_outside_botocore_partitions(
    monkeypatch: pytest.MonkeyPatch, unchanged: None, local_env: Endpoint, case: tuple[str, str, tuple[str, ...]]
) -> None:
    """Refused before anything runs (no 10 s of HTML 500 pages from the local AWS, no DNS error from AWS)."""
    target, region, command = case
    started = time.monotonic()
    line = refused(monkeypatch, "--target", target, *command, "--region", region, env=aws_env(local_env))
    assert f"{region!r} is not an AWS region name" in line and "check --region" in line
    assert time.monotonic() - started < 2


def test_known_regions_of_every_partition_pass() -> None:
    from labrunner.aws.regions import check_region

    for region in ("us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "ap-southeast-5"):
        assert check_region(region) == region


def test_labrunner_home_is_a_file(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    for env in ({"LABRUNNER_HOME": str(home)}, {"LABRUNNER_HOME": str(home / "below")}):
        line = refused(monkeypatch, "check", env=env)
        assert f"{home} is a file, not a directory" in line and "LABRUNNER_HOME" in line


@pytest.mark.parametrize(
    ("env", "says"),
    [
        pytest.param({"LABRUNNER_TARGET": "gcp"}, "LABRUNNER_TARGET must be one of local, aws", id="target-env"),
        pytest.param({"LABRUNNER_LOCAL_PORT": "forty"}, "LABRUNNER_LOCAL_PORT must be a port number", id="port-env"),
        pytest.param(
            {"LABRUNNER_LOCAL_READ_TIMEOUT_S": "nan"},
            "LABRUNNER_LOCAL_READ_TIMEOUT_S must be at least 0",
            id="read-nan",
        ),
        pytest.param(
            {"LABRUNNER_LOCAL_READ_TIMEOUT_S": "0"}, "LABRUNNER_LOCAL_READ_TIMEOUT_S must be more", id="read-0"
        ),
    ],
)
def test_bad_environment(monkeypatch: pytest.MonkeyPatch, unchanged: None, env: Env, says: str) -> None:
    assert says in refused(monkeypatch, "solve", env=env)


def _student_session(admin: boto3.Session, endpoint: Endpoint, account: str) -> boto3.Session:
    """A session in a student's account of the local AWS (as the admin assumes it in class mode)."""
    creds = admin.client("sts", endpoint_url=endpoint.url).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="bad-input-test"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=identity.DEFAULT_REGION,
    )


# -- credentials, region, endpoint (aws target through AWS_ENDPOINT_URL) -------------------------------


def aws_env(endpoint: Endpoint, **changes: str | None) -> Env:
    env: Env = {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_ACCESS_KEY_ID": endpoint.access_key,
        "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        "AWS_DEFAULT_REGION": endpoint.region,
    }
    env.update(changes)
    return env


def expired_session(endpoint: Endpoint) -> dict[str, str]:
    """Keys of an STS session whose hour has passed (the local AWS's admin endpoint ends it now)."""
    creds = _student_session(admin_boto3(endpoint), endpoint, "222222222222").get_credentials()
    body = json.dumps({"AccessKeyId": creds.access_key}).encode()
    answer = admin.control(endpoint.url, "POST", "iam/expire-session", body=body, secret=endpoint.secret_key)
    assert answer["expired"] is True
    return {
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_SESSION_TOKEN": str(creds.token),
    }


def test_expired_credentials(monkeypatch: pytest.MonkeyPatch, unchanged: None, local_env: Endpoint) -> None:
    line = refused(monkeypatch, "--target", "aws", "solve", env=aws_env(local_env, **expired_session(local_env)))
    assert "the AWS credentials were refused (ExpiredToken)" in line


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        pytest.param(
            {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00"},
            "the AWS credentials were refused (InvalidClientTokenId)",
            id="unknown-key",
        ),
        pytest.param({"AWS_SECRET_ACCESS_KEY": None}, "incomplete AWS credentials", id="key-without-secret"),
        pytest.param({"AWS_ENDPOINT_URL": "not a url"}, "cannot use the AWS endpoint", id="malformed-endpoint"),
        pytest.param({"AWS_DEFAULT_REGION": "moon base 1"}, "is not an AWS region name", id="malformed-region"),
        pytest.param({"AWS_DEFAULT_REGION": "mars-1"}, "'mars-1' is not an AWS region name", id="unknown-region"),
    ],
)
def test_unusable_aws_target(
    monkeypatch: pytest.MonkeyPatch, unchanged: None, local_env: Endpoint, changes: Env, says: str
) -> None:
    assert says in refused(monkeypatch, "--target", "aws", "solve", env=aws_env(local_env, **changes))


def test_no_region_means_us_east_1(monkeypatch: pytest.MonkeyPatch, unchanged: None, local_env: Endpoint) -> None:
    """Not bad input: SPEC §2 makes us-east-1 the default region when none is configured."""
    with monkeypatch.context() as patch:
        for name, value in aws_env(local_env, AWS_DEFAULT_REGION=None, AWS_REGION=None).items():
            if value is None:
                patch.delenv(name, raising=False)
            else:
                patch.setenv(name, value)
        result = cli("--target", "aws", "check", "setup", "--format", "json")
    assert result.code == 0 and result.err == "", result
    assert json.loads(result.out)["region"] == "us-east-1"


class _NotAws(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *_: Any) -> None:
        pass


def test_local_port_taken_by_another_program(monkeypatch: pytest.MonkeyPatch, unchanged: None) -> None:
    server = http.server.HTTPServer(("127.0.0.1", free_port()), _NotAws)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        line = refused(monkeypatch, "solve", env={"LABRUNNER_LOCAL_PORT": str(server.server_port)})
    finally:
        server.shutdown()
        server.server_close()
    assert f"port {server.server_port} on 127.0.0.1 is used by another program" in line


# -- rosters ------------------------------------------------------------------------------------------

GOOD_STUDENT = "- {name: alice, account: '111111111111'}\n"


@pytest.fixture(scope="module")
def alice(baseline: dict[str, Any], local_server: Endpoint) -> tuple[boto3.Session, Endpoint]:
    """The roster's correctly listed student: a session in her account."""
    return _student_session(admin_boto3(local_server), local_server, "111111111111"), local_server


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(("", "is empty"), id="empty"),
        pytest.param(("# only a comment\n", "is empty"), id="only-comments"),
        pytest.param((GOOD_STUDENT + "- {name: bob, account: '222222222222'\n", "not valid YAML"), id="malformed"),
        pytest.param(("students: [alice, bob]\n", "must be a YAML list of students"), id="not-a-list"),
        pytest.param((GOOD_STUDENT + "- {name: bob, account: '12345'}\n", "'12345' is not a 12-digit"), id="short-id"),
        pytest.param((GOOD_STUDENT + "- {name: bob, account: '1234567890ab'}\n", "is not a 12-digit"), id="letters"),
        pytest.param((GOOD_STUDENT + "- {name: bob, account: 222222222222.5}\n", "account"), id="id-a-number"),
        pytest.param((GOOD_STUDENT + "- {name: bob, account: '111111111111'}\n", "like student 'alice'"), id="shared"),
    ],
)
def test_bad_roster_refused_before_any_student_runs(
    monkeypatch: pytest.MonkeyPatch,
    unchanged: None,
    alice: tuple[boto3.Session, Endpoint],
    tmp_path: Path,
    case: tuple[str, str],
) -> None:
    """A class solve with a broken roster must not solve even the students listed correctly."""
    text, says = case
    roster = tmp_path / "class.yaml"
    roster.write_text(text)
    session, endpoint = alice
    before = account_state(endpoint, session)
    assert says in refused(monkeypatch, "class", "solve", "setup", "--roster", str(roster))
    assert differences(before, account_state(endpoint, session)) == []


def test_a_roster_that_is_a_directory(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    assert "is a directory" in refused(monkeypatch, "class", "check", "--roster", str(tmp_path))


# -- lab plugins --------------------------------------------------------------------------------------

DUPLICATE_STEP = """
from labrunner.step import Lab, Step

class Again(Step):
    id = "setup.stack"
    title = "a second setup.stack"

    def verify(self, ctx):
        return []

LAB = Lab(id="setup", title="again", order=99, steps=(Again(),))
"""


@pytest.mark.parametrize(
    ("files", "says"),
    [
        pytest.param(
            {"broken.py": "raise RuntimeError('first line\\nsecond line')\n"},
            "broken.py, line 1 is broken: RuntimeError: first line / second line",
            id="raises-with-two-lines",
        ),
        pytest.param({"imports.py": "import no_such_module_here\n"}, "No module named", id="import-error"),
        pytest.param({"syntax.py": "def (:\n"}, "SyntaxError", id="syntax-error"),
        pytest.param({"wrong.py": "LAB = 'lab5'\n"}, "LAB must be a labrunner.step.Lab, not str", id="lab-not-a-lab"),
        pytest.param({"again.py": DUPLICATE_STEP}, "two labs have the id 'setup'", id="clashes-with-bundled"),
    ],
)
def test_broken_plugin(
    monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path, files: dict[str, str], says: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert says in refused(monkeypatch, "solve", "--labs-dir", str(tmp_path))


def test_id_clash_names_both_files(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    (tmp_path / "again.py").write_text(DUPLICATE_STEP)
    line = refused(monkeypatch, "solve", "--labs-dir", str(tmp_path))
    assert str(paths.labs_dir() / "setup.py") in line and str(tmp_path / "again.py") in line


def test_id_clash_between_two_labs_dirs_names_both(
    monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path
) -> None:
    bonus = DUPLICATE_STEP.replace('"setup.stack"', '"bonus.x"').replace('id="setup"', 'id="bonus"')
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.py").write_text(bonus)
    args = ("labs", "--labs-dir", str(tmp_path / "one"), "--labs-dir", str(tmp_path / "two"))
    line = refused(monkeypatch, *args)
    assert "two labs have the id 'bonus'" in line
    assert str(tmp_path / "one" / "one.py") in line and str(tmp_path / "two" / "two.py") in line


def test_labs_dir_that_is_a_file(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    plugin = tmp_path / "lab5.py"
    plugin.write_text("")
    assert "is not a directory" in refused(monkeypatch, "solve", "--labs-dir", str(plugin))


# -- the workload template ----------------------------------------------------------------------------


def test_template_file_missing(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    """An installation without cloudformation_template.yaml cannot deploy: refused before any change."""
    real = paths.content_root()
    for part in ("labs", "sample_s3_files"):
        (tmp_path / part).symlink_to(real / part)
    monkeypatch.setattr(paths, "content_root", lambda: tmp_path)
    line = refused(monkeypatch, "up", "--stack-name", "second-workload")  # a stack that would be created
    assert "template file cloudformation_template.yaml is missing" in line


def test_student_template_missing_is_graded(monkeypatch: pytest.MonkeyPatch, unchanged: None, tmp_path: Path) -> None:
    """Not bad input: the student's template is the extra credit's deliverable. A file named by
    LABRUNNER_SECURE_TEMPLATE that is not there fails that step with the reason (exit 1), no traceback."""
    missing = tmp_path / "my-secure-template.yaml"
    monkeypatch.setenv("LABRUNNER_SECURE_TEMPLATE", str(missing))
    result = cli("check", "extra", "--format", "json")
    assert (result.code, result.err) == (1, ""), result
    steps = {s["id"]: s for s in json.loads(result.out)["steps"]}
    assert steps["extra.template-secure"]["status"] == "fail"
    detail = " ".join(c["detail"] for c in steps["extra.template-secure"]["checks"])
    assert str(missing) in detail and "cannot be read" in detail, detail
    assert steps["extra.stack-secure"]["status"] in ("fail", "skipped")
