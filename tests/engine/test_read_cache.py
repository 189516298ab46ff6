"""One check run observes the account once: identical reads share one request, each step's verdict
is computed once (and its notes and data reach every caller)."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from urllib3 import HTTPResponse

from labrunner.aws.errors import error_code
from labrunner.aws.read_cache import ReadCache
from labrunner.aws.readonly import make_read_only
from labrunner.context import Context, StepSink
from labrunner.local.lifecycle import Endpoint
from labrunner.model import Check, Status
from labrunner.runner import Runner
from labrunner.step import Step
from tests.engine import fakes
from tests.helpers import local_context, statuses

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def counting(client: Any) -> Counter[str]:
    """Requests the client actually sends, by operation."""
    sent: Counter[str] = Counter()
    client.meta.events.register("before-send", lambda event_name, **_: sent.update([event_name.rsplit(".", 1)[-1]]))
    return sent


@pytest.fixture
def clients(fresh_server: Endpoint, admin_session: boto3.Session) -> tuple[Any, Any]:
    """(admin S3, admin IAM) with a bucket `cached-reads` and a role `cached-reads` with an inline policy."""
    s3 = admin_session.client("s3", endpoint_url=fresh_server.url)
    iam = admin_session.client("iam", endpoint_url=fresh_server.url)
    s3.create_bucket(Bucket="cached-reads")
    iam.create_role(RoleName="cached-reads", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="cached-reads", PolicyName="read", PolicyDocument=json.dumps(INLINE))
    return s3, iam


def cached(session: boto3.Session, endpoint: Endpoint, service: str, cache: ReadCache) -> Any:
    return cache.attach(make_read_only(session.client(service, endpoint_url=endpoint.url)))


def test_identical_reads_go_once_different_ones_each(
    clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint
) -> None:
    cache = ReadCache()
    s3, other = (cached(admin_session, fresh_server, "s3", cache) for _ in range(2))
    sent, sent_other = counting(s3), counting(other)
    first = s3.get_bucket_encryption(Bucket="cached-reads")
    again = other.get_bucket_encryption(Bucket="cached-reads")  # another client of the same run
    assert again["ServerSideEncryptionConfiguration"] == first["ServerSideEncryptionConfiguration"]
    s3.head_bucket(Bucket="cached-reads")
    s3.list_objects_v2(Bucket="cached-reads", MaxKeys=1)
    s3.list_objects_v2(Bucket="cached-reads", MaxKeys=2)  # other parameters: another request
    assert sent + sent_other == Counter({"GetBucketEncryption": 1, "HeadBucket": 1, "ListObjectsV2": 2})


def test_answers_are_copies(clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint) -> None:
    s3 = cached(admin_session, fresh_server, "s3", ReadCache())
    first = s3.get_bucket_encryption(Bucket="cached-reads")
    first["ServerSideEncryptionConfiguration"]["Rules"].clear()
    again = s3.get_bucket_encryption(Bucket="cached-reads")
    assert again["ServerSideEncryptionConfiguration"]["Rules"], "a caller's change leaked into the shared answer"


def test_shared_answers_are_decoded_like_fresh_ones(
    clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint
) -> None:
    """botocore decodes IAM's policy documents after the call, in place: a shared answer is the
    response as parsed, decoded again for each caller."""
    iam = cached(admin_session, fresh_server, "iam", ReadCache())
    sent = counting(iam)
    answers = [iam.get_role_policy(RoleName="cached-reads", PolicyName="read") for _ in range(3)]
    assert all(a["PolicyDocument"] == INLINE for a in answers)
    assert [iam.get_role(RoleName="cached-reads")["Role"]["AssumeRolePolicyDocument"] for _ in range(2)] == [TRUST] * 2
    assert sent == Counter({"GetRolePolicy": 1, "GetRole": 1})


def test_errors_about_the_account_are_shared(
    clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint
) -> None:
    s3 = cached(admin_session, fresh_server, "s3", ReadCache())
    sent = counting(s3)
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            s3.get_bucket_policy(Bucket="cached-reads")
        codes.append(error_code(raised.value))
    assert codes == ["NoSuchBucketPolicy"] * 2
    assert sent == Counter({"GetBucketPolicy": 1})


def test_concurrent_callers_wait_for_the_first(
    clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint
) -> None:
    cache = ReadCache()
    iam = [cached(admin_session, fresh_server, "iam", cache) for _ in range(6)]
    sent = [counting(c) for c in iam]
    barrier = threading.Barrier(len(iam))
    roles: list[str] = []

    def read(client: Any) -> None:
        barrier.wait()
        roles.append(client.get_role(RoleName="cached-reads")["Role"]["RoleName"])

    threads = [threading.Thread(target=read, args=(c,)) for c in iam]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert roles == ["cached-reads"] * len(iam)
    assert sum(sent, Counter()) == Counter({"GetRole": 1})


def test_writes_are_never_shared(
    clients: tuple[Any, Any], admin_session: boto3.Session, fresh_server: Endpoint
) -> None:
    s3 = ReadCache().attach(admin_session.client("s3", endpoint_url=fresh_server.url))
    sent = counting(s3)
    for value in ("a", "b"):
        s3.put_bucket_tagging(Bucket="cached-reads", Tagging={"TagSet": [{"Key": "k", "Value": value}]})
        assert s3.get_bucket_tagging(Bucket="cached-reads")["TagSet"] == [{"Key": "k", "Value": "a"}]
    # The second read is the first one's answer: within one check run the account is observed once.
    assert sent == Counter({"PutBucketTagging": 2, "GetBucketTagging": 1})


def test_check_run_shares_reads_between_steps(clients: tuple[Any, Any], fresh_server: Endpoint) -> None:
    ctx = local_context(fresh_server)
    run = ctx.check_run()
    assert run.read_only
    sent = counting(run.client("iam"))
    for _ in range(2):
        run.client("iam").get_role(RoleName="cached-reads")
    assert sent == Counter({"GetRole": 1})
    solo = ctx.read_only_twin()  # outside a check run (solve's verify): every read goes to AWS
    sent_solo = counting(solo.client("iam"))
    for _ in range(2):
        solo.client("iam").get_role(RoleName="cached-reads")
    assert sent_solo == Counter({"GetRole": 2})
    assert ctx.read_only_twin().client("iam") is solo.client("iam"), "read-only twins share their clients"
    twin_run = solo.check_run()  # class mode and reset's proof check run on a read-only twin
    sent_twin_run = counting(twin_run.client("iam"))
    for _ in range(2):
        twin_run.client("iam").get_role(RoleName="cached-reads")
    assert sent_twin_run == Counter({"GetRole": 1})
    given = Context(ctx.target, ctx.settings, read_only=True, _clients=ctx.target.clients(read_only=True))
    assert given.check_run().client("iam") is given.client("iam"), "clients a caller gave are kept as they are"


class Counted(Step):
    id = "demo.counted"
    title = "Verified once per run"
    calls = 0

    def verify(self, ctx: Context) -> Iterable[Check]:
        type(self).calls += 1
        ctx.note("looked once")
        ctx.emit("seen", type(self).calls)
        yield Check.ok("fine", "all good")


class Reuses(Step):
    id = "demo.reuses"
    title = "Re-uses another step's verdict (as extra.stack-secure does)"

    def verify(self, ctx: Context) -> Iterable[Check]:
        checks = ctx.verify_step(Counted())
        yield Check.ok("other", f"{len(checks)} check(s) from demo.counted")


def test_a_verdict_is_computed_once_per_check_run() -> None:
    Counted.calls = 0
    catalogue = fakes.demo_catalogue(Counted(), Reuses())
    report = Runner(fakes.offline_context(), catalogue, jobs=2).check(catalogue.steps)
    assert set(statuses(report).values()) == {Status.PASS}
    assert Counted.calls == 1
    for result in report.steps:  # both steps got the notes and data of the one verify
        assert result.notes == ("looked once",) and result.data == {"seen": 1}
    Runner(fakes.offline_context(), catalogue).check(catalogue.steps)
    assert Counted.calls == 2, "a new run verifies again"


def test_outside_a_check_run_verify_step_runs_every_time() -> None:
    Counted.calls = 0
    ctx = fakes.offline_context().read_only_twin().scoped(StepSink())
    for _ in range(2):
        ctx.verify_step(Counted())
    assert Counted.calls == 2


def test_every_throttling_answer_is_asked_again() -> None:
    """A throttled answer says nothing about the account: the next caller asks AWS itself, whichever of
    AWS's throttling codes the service uses (SQS's RequestThrottled comes with a 400, like a real answer)."""
    session = boto3.Session(aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake", region_name="us-east-1")
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})  # botocore gives up at once
    sqs = ReadCache().attach(session.client("sqs", endpoint_url="http://127.0.0.1:9", config=config))
    answers = [
        (400, {"x-amzn-query-error": "RequestThrottled;Sender"}, {"__type": "RequestThrottled", "message": "Rate"}),
        (200, {}, {"Attributes": {"VisibilityTimeout": "30"}}),
    ]
    sent: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        status, headers, body = answers[len(sent)]
        sent.append(request.url)
        raw = HTTPResponse(body=io.BytesIO(json.dumps(body).encode()), status=status, preload_content=False)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0", **headers}, raw)

    sqs.meta.events.register("before-send", answer)
    read = {"QueueUrl": "http://127.0.0.1:9/123456789012/q", "AttributeNames": ["VisibilityTimeout"]}
    with pytest.raises(ClientError) as raised:
        sqs.get_queue_attributes(**read)
    assert error_code(raised.value) == "RequestThrottled"
    assert sqs.get_queue_attributes(**read)["Attributes"] == {"VisibilityTimeout": "30"}
    assert len(sent) == 2
