"""SQS event source mappings are polled like Lambda does (fidelity.sqs_event_source).

Asynchronous delivery with real SQS events, deletion only on success, failed messages back in
the queue after the visibility timeout (and to the dead-letter queue), partial batch failures,
enable/disable/delete, the execution role's SQS permissions, and mappings of other accounts.
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import LOGS_STATEMENT, Aws, unique, wait_for

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"

HANDLER = """
import json, time

def handler(event, context):
    failures = []
    for record in event["Records"]:
        print("record", json.dumps({
            "body": record["body"],
            "count": record["attributes"]["ApproximateReceiveCount"],
            "source": record["eventSource"],
            "arn": record["eventSourceARN"],
            "region": record["awsRegion"],
            "id": record["messageId"],
            "md5": record["md5OfBody"],
            "handle": bool(record["receiptHandle"]),
            "batch": len(event["Records"]),
            "colour": record["messageAttributes"].get("colour", {}).get("stringValue"),
        }))
        if record["body"].startswith("fail"):
            raise RuntimeError("cannot process " + record["body"])
        if record["body"].startswith("bad"):
            failures.append({"itemIdentifier": record["messageId"]})
        if record["body"].startswith("slow"):
            time.sleep(1)
    return {"batchItemFailures": failures}
"""


def sqs_statement(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": [f"sqs:{a}" for a in actions], "Resource": "*"}


POLLING = sqs_statement("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")


class Pipeline:
    """One function shared by the tests; each test makes its own queue and mapping."""

    def __init__(self, aws: Aws) -> None:
        self.aws = aws
        self.role_name = unique("poller-role")
        self.role_arn = aws.role(self.role_name, LOGS_STATEMENT, POLLING)
        self.function = unique("consumer")
        aws.function(self.function, self.role_arn, HANDLER)

    def queue(self, **attributes: str) -> tuple[str, str]:
        url: str = self.aws.sqs.create_queue(
            QueueName=unique("q"), Attributes={"VisibilityTimeout": "1", **attributes}
        )["QueueUrl"]
        arn: str = self.aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def mapping(self, queue_arn: str, function: str | None = None, **extra: Any) -> str:
        uuid: str = self.aws.lam.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function or self.function, **extra
        )["UUID"]
        return uuid

    def records(self, body_prefix: str, function: str | None = None) -> list[dict[str, Any]]:
        found = []
        for message in self.aws.log_messages(function or self.function):
            if message.startswith("record "):
                record = json.loads(message[len("record ") :])
                if record["body"].startswith(body_prefix):
                    found.append(record)
        return found

    def counts(self, url: str) -> tuple[int, int]:
        attributes = self.aws.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def result(self, uuid: str) -> str:
        return str(self.aws.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"])


@pytest.fixture(scope="module")
def pipeline(local_server: Endpoint) -> Pipeline:
    return Pipeline(Aws(local_server))


def test_messages_arrive_as_an_sqs_event_and_are_deleted(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue()
    uuid = pipeline.mapping(arn)
    assert pipeline.result(uuid) == "No records processed"
    tag = unique("ok")
    sent = pipeline.aws.sqs.send_message(
        QueueUrl=url,
        MessageBody=tag,
        MessageAttributes={"colour": {"DataType": "String", "StringValue": "green"}},
    )
    (record,) = wait_for(lambda: pipeline.records(tag), what="the message in the function's log")
    assert record == {
        "body": tag,
        "count": "1",
        "source": "aws:sqs",
        "arn": arn,
        "region": "us-east-1",
        "id": sent["MessageId"],
        "md5": sent["MD5OfMessageBody"],
        "handle": True,
        "batch": 1,
        "colour": "green",
    }
    wait_for(lambda: pipeline.counts(url) == (0, 0), what="the delivered message to be deleted")
    assert pipeline.result(uuid) == "OK"


def test_delivery_is_asynchronous(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue()
    pipeline.mapping(arn)
    tag = unique("slow")
    started = time.monotonic()
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    assert time.monotonic() - started < 0.5  # SendMessage does not wait for the handler's second
    wait_for(lambda: pipeline.records(tag), what="the slow message to be processed")


def test_a_failed_batch_returns_to_the_queue(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue()
    uuid = pipeline.mapping(arn)
    tag = unique("fail")
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    records = wait_for(lambda: len(pipeline.records(tag)) >= 2 and pipeline.records(tag), timeout=15)
    assert [r["count"] for r in records[:2]] == ["1", "2"]  # received again after the visibility timeout
    assert pipeline.result(uuid) == "PROBLEM: Function call failed"
    assert any(
        m.startswith(f"[ERROR] RuntimeError: cannot process {tag}")
        for m in pipeline.aws.log_messages(pipeline.function)
    )
    pipeline.aws.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    messages = wait_for(
        lambda: pipeline.aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        what="the failed message to be visible in the queue again",
    )
    assert messages[0]["Body"] == tag


def test_redrive_policy_moves_a_failing_message_to_the_dead_letter_queue(pipeline: Pipeline) -> None:
    dlq_url, dlq_arn = pipeline.queue()
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, arn = pipeline.queue(RedrivePolicy=redrive)
    pipeline.mapping(arn)
    tag = unique("fail-dlq")
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    wait_for(lambda: pipeline.counts(dlq_url)[0] == 1, timeout=15, what="the message in the dead-letter queue")
    assert [r["count"] for r in pipeline.records(tag)] == ["1", "2"]
    assert pipeline.counts(url) == (0, 0)


def test_partial_batch_failures(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue(VisibilityTimeout="30")
    good, bad = unique("good"), unique("bad")
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=good)
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=bad)
    uuid = pipeline.mapping(arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: pipeline.records(good) and pipeline.records(bad), what="both messages processed")
    wait_for(lambda: pipeline.counts(url) == (0, 1), what="only the reported failure to stay in the queue")
    assert pipeline.result(uuid) == "PROBLEM: Function call failed"


def test_batch_size_and_batching_window(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue()
    uuid = pipeline.mapping(arn, BatchSize=3, MaximumBatchingWindowInSeconds=1, Enabled=False)
    tags = [unique("batch") for _ in range(3)]
    for tag in tags:
        pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    pipeline.aws.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    for tag in tags:
        (record,) = wait_for(lambda tag=tag: pipeline.records(tag), what=f"{tag} to be processed")
        assert record["batch"] == 3


def test_disabled_and_deleted_mappings_do_not_deliver(pipeline: Pipeline) -> None:
    url, arn = pipeline.queue()
    uuid = pipeline.mapping(arn, Enabled=False)
    assert pipeline.aws.lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    tag = unique("held")
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    time.sleep(1.0)  # a poller would have delivered it within milliseconds
    assert pipeline.records(tag) == []
    assert pipeline.counts(url) == (1, 0)
    pipeline.aws.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: pipeline.records(tag), what="delivery once enabled")
    pipeline.aws.lam.delete_event_source_mapping(UUID=uuid)
    later = unique("after-delete")
    pipeline.aws.sqs.send_message(QueueUrl=url, MessageBody=later)
    time.sleep(1.0)
    assert pipeline.records(later) == []
    assert pipeline.counts(url) == (1, 0)


def test_the_role_needs_sqs_permissions(pipeline: Pipeline) -> None:
    aws = pipeline.aws
    role_name = unique("no-sqs-role")
    role_arn = aws.role(role_name, LOGS_STATEMENT)
    function = unique("no-sqs")
    aws.function(function, role_arn, HANDLER)
    url, arn = pipeline.queue()
    uuid = pipeline.mapping(arn, function=function)
    tag = unique("denied")
    aws.sqs.send_message(QueueUrl=url, MessageBody=tag)
    wait_for(
        lambda: pipeline.result(uuid).startswith("PROBLEM: The provided execution role does not have permissions"),
        what="the mapping to report the missing permission",
    )
    assert pipeline.records(tag, function) == []
    assert pipeline.counts(url) == (1, 0)
    aws.iam.put_role_policy(
        RoleName=role_name,
        PolicyName="poll",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [POLLING]}),
    )
    wait_for(lambda: pipeline.records(tag, function), what="delivery once the role may poll")


def test_mappings_of_other_accounts_run(pipeline: Pipeline, local_server: Endpoint) -> None:
    credentials = pipeline.aws.sts.assume_role(
        RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/OrganizationAccountAccessRole", RoleSessionName="test"
    )["Credentials"]
    other = Aws(
        local_server,
        boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name="us-east-1",
        ),
    )
    assert other.sts.get_caller_identity()["Account"] == OTHER_ACCOUNT
    elsewhere = Pipeline(other)
    url, arn = elsewhere.queue()
    assert arn.split(":")[4] == OTHER_ACCOUNT
    elsewhere.mapping(arn)
    tag = unique("other-account")
    other.sqs.send_message(QueueUrl=url, MessageBody=tag)
    (record,) = wait_for(lambda: elsewhere.records(tag), what="delivery in the other account")
    assert record["arn"] == arn


def test_mappings_are_listed_by_function_name_or_arn(pipeline: Pipeline) -> None:
    _, arn = pipeline.queue()
    function_arn = pipeline.aws.lam.get_function(FunctionName=pipeline.function)["Configuration"]["FunctionArn"]
    uuid = pipeline.mapping(arn, function=function_arn)
    for name in (pipeline.function, function_arn):
        listed = pipeline.aws.lam.list_event_source_mappings(FunctionName=name, EventSourceArn=arn)
        assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
