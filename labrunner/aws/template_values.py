"""A CloudFormation template's values without deploying it: Ref, Fn::GetAtt, Fn::Sub, Fn::Join,
Fn::Select and Fn::Split evaluated for one account and region, with the stack's real physical ids
when it is deployed, or made-up ones shaped like CloudFormation's when it is not. What cannot be
known statically (Fn::If, imports, conditions) raises `Unresolvable`."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrunner.aws.stack import StackInfo, partition

# The property that names a resource when the template chooses the name.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
}


class Unresolvable(ValueError):
    """An intrinsic function the static analysis cannot evaluate (Fn::If, imports …)."""


@dataclass(frozen=True)
class Names:
    """What Ref / Fn::GetAtt / Fn::Sub of a template evaluate to, in one account and region."""

    account: str
    region: str
    stack: str
    physical: Mapping[str, str]  # logical id -> physical id
    types: Mapping[str, str]  # logical id -> resource type
    parameters: Mapping[str, str]

    @property
    def partition(self) -> str:
        return partition(self.region)

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/{self.stack}/x",
        }
        if name in values:
            return values[name]
        raise Unresolvable(f"Ref {name}")

    def name_of(self, logical: str) -> str:
        """The resource's name (a queue's physical id is its URL)."""
        physical = self.physical[logical]
        return physical.rstrip("/").rsplit("/", 1)[-1] if self.types.get(logical) == "AWS::SQS::Queue" else physical

    def ref(self, logical: str) -> str:
        if logical in self.parameters:
            return self.parameters[logical]
        if logical.startswith("AWS::"):
            return self.pseudo(logical)
        if logical not in self.physical:
            raise Unresolvable(f"Ref {logical}")
        return self.physical[logical]

    def attribute(self, logical: str, attribute: str) -> str:
        if logical not in self.physical:
            raise Unresolvable(f"GetAtt {logical}.{attribute}")
        kind, name, p = self.types.get(logical, ""), self.name_of(logical), self.partition
        arns = {
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{self.region}:{self.account}:{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{self.region}:{self.account}:table/{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{self.account}:role/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{self.region}:{self.account}:function:{name}",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return name
        if attribute == "QueueUrl" and kind == "AWS::SQS::Queue":
            return self.physical[logical]
        return f"{name}.{attribute}"

    @classmethod
    def static(cls, template: Mapping[str, Any], account: str, region: str, stack: str) -> Names:
        """Made-up physical ids, shaped like CloudFormation's, for a template that is not deployed."""
        resources = template_resources(template)
        generated = {logical: f"{stack}-{logical}-template".lower()[:63] for logical in resources}
        first = cls(account, region, stack, generated, template_types(template), parameter_defaults(template))
        physical = {}
        for logical, body in resources.items():
            name = generated[logical]
            explicit = (body.get("Properties") or {}).get(NAME_PROPERTIES.get(str(body.get("Type")), ""))
            if explicit is not None:
                # A name built with e.g. Fn::If keeps the generated one.
                with contextlib.suppress(Unresolvable):
                    name = str(resolve(explicit, first))
            if body.get("Type") == "AWS::SQS::Queue":
                name = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            physical[logical] = name
        return cls(account, region, stack, physical, first.types, first.parameters)

    @classmethod
    def deployed(cls, template: Mapping[str, Any], info: StackInfo, account: str, region: str) -> Names:
        """The stack's real physical ids (made-up ones for resources the stack lacks)."""
        static = cls.static(template, account, region, info.name)
        physical = dict(static.physical)
        physical.update({lid: r.physical_id for lid, r in info.resources.items() if r.physical_id})
        parameters = {**static.parameters, **info.parameters}
        return cls(account, region, info.name, physical, static.types, parameters)


def template_resources(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    resources = template.get("Resources") or {}
    return {k: v for k, v in resources.items() if isinstance(v, dict)}


def template_types(template: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v.get("Type", "")) for k, v in template_resources(template).items()}


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    params = template.get("Parameters") or {}
    return {k: str(v.get("Default", "")) for k, v in params.items() if isinstance(v, dict) and "Default" in v}


def _substitute(text: str, variables: Mapping[str, Any], names: Names) -> str:
    out, i = [], 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        end = text.index("}", start)
        key = text[start + 2 : end]
        if key.startswith("!"):  # ${!Literal}
            out.append("${" + key[1:] + "}")
        elif key in variables:
            out.append(str(resolve(variables[key], names)))
        elif "." in key:
            logical, attribute = key.split(".", 1)
            out.append(names.attribute(logical, attribute))
        else:
            out.append(names.ref(key))
        i = end + 1
    return "".join(out)


def resolve(value: Any, names: Names) -> Any:
    """The value with every intrinsic function evaluated."""
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return names.ref(str(arg))
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else list(arg)
            return names.attribute(str(parts[0]), str(resolve(parts[1], names)))
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return _substitute(str(text), variables, names)
        if key == "Fn::Join":
            sep, items = arg
            return str(sep).join(str(resolve(i, names)) for i in resolve(items, names))
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, names)[int(resolve(index, names))]
        if key == "Fn::Split":
            sep, text = arg
            return str(resolve(text, names)).split(str(sep))
        if key.startswith("Fn::") or key == "Condition":
            raise Unresolvable(key)
    return {k: resolve(v, names) for k, v in value.items()}


def ref_target(value: Any) -> str | None:
    """The logical id a `Ref` (or `!Ref`) names, else None."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return None
