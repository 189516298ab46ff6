"""SetQueueAttributes changes only the attributes given (fidelity.sqs_queue_attributes)."""

from __future__ import annotations

import json

from labrunner.local.lifecycle import Endpoint
from tests.local.lambda_support import Aws, unique

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        ],
    }
)


def test_other_attributes_keep_the_policy(local_server: Endpoint) -> None:
    sqs = Aws(local_server).sqs
    url = sqs.create_queue(QueueName=unique("policy-kept"), Attributes={"Policy": POLICY})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "45", "SqsManagedSseEnabled": "true"})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    assert json.loads(attributes["Policy"]) == json.loads(POLICY)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
