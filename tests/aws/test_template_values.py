"""A template's values without deploying it: intrinsic functions evaluated for one account and region."""

from __future__ import annotations

import pytest
import yaml

from labrunner.aws.cfn import TemplateLoader
from labrunner.aws.template_values import Names, Unresolvable, ref_target, resolve

TEMPLATE = yaml.load(
    """
Parameters:
  Env: {Type: String, Default: dev}
Resources:
  Logs:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-logs-${AWS::AccountId}"
  Queue:
    Type: AWS::SQS::Queue
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Logs
""",
    Loader=TemplateLoader,
)


def names() -> Names:
    return Names.static(TEMPLATE, "123456789012", "eu-west-1", "shop")


def test_names_chosen_by_the_template_are_resolved() -> None:
    assert resolve({"Ref": "Logs"}, names()) == "shop-logs-123456789012"
    assert resolve({"Fn::GetAtt": ["Logs", "Arn"]}, names()) == "arn:aws:s3:::shop-logs-123456789012"


def test_generated_names_sub_join_select_split_and_parameters() -> None:
    n = names()
    queue_arn = resolve({"Fn::GetAtt": "Queue.Arn"}, n)
    assert queue_arn == "arn:aws:sqs:eu-west-1:123456789012:shop-queue-template"
    assert resolve({"Fn::GetAtt": ["Queue", "QueueUrl"]}, n).startswith("https://sqs.eu-west-1.amazonaws.com/")
    assert resolve({"Fn::Sub": ["${Q}/x-${Env}", {"Q": {"Ref": "AWS::Region"}}]}, n) == "eu-west-1/x-dev"
    assert resolve({"Fn::Sub": "${!Literal}"}, n) == "${Literal}"
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "Env"}]]}, n) == "a-dev"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}, n) == "y"
    assert Names.static(TEMPLATE, "1", "cn-north-1", "s").attribute("Logs", "Arn").startswith("arn:aws-cn:s3:::")


@pytest.mark.parametrize(
    "value",
    [{"Fn::If": ["Cond", "a", "b"]}, {"Fn::ImportValue": "x"}, {"Ref": "Missing"}, {"Ref": "AWS::NotificationARNs"}],
)
def test_what_cannot_be_known_statically_is_unresolvable(value: object) -> None:
    with pytest.raises(Unresolvable):
        resolve(value, names())


def test_ref_target() -> None:
    assert ref_target(TEMPLATE["Resources"]["Policy"]["Properties"]["Bucket"]) == "Logs"
    assert ref_target({"Fn::GetAtt": "Logs.Arn"}) is None
