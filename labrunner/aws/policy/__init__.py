"""A pure IAM policy evaluator: parsing, matching, conditions, principals, decisions.

No boto3 or moto here: the local AWS authorizes requests with it, and labs use it client-side
(e.g. to analyse a trust policy or a template's policies statically).

    >>> from labrunner.aws.policy import AccessRequest, evaluate
    >>> policy = {"Version": "2012-10-17",
    ...           "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}
    >>> evaluate(AccessRequest("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/t"), [policy]).decision
    'allowed'
"""

from __future__ import annotations

from labrunner.aws.policy.conditions import RequestContext, evaluate_conditions, is_known_operator
from labrunner.aws.policy.document import (
    ConditionClause,
    PolicyDocument,
    PolicyInput,
    PolicyParseError,
    Position,
    PrincipalSpec,
    Statement,
    parse_policy,
)
from labrunner.aws.policy.evaluate import (
    AccessRequest,
    Decision,
    DecisionType,
    MatchedStatement,
    Policy,
    PolicyKind,
    PolicyType,
    ResourcePolicyDecision,
    evaluate,
    evaluate_resource_policy,
    is_allowed,
)
from labrunner.aws.policy.patterns import matches_wildcard
from labrunner.aws.policy.principals import Caller, caller_from
from labrunner.aws.policy.trust import TrustedPrincipal, TrustVerdict, trusted_principals, who_may

__all__ = [
    "AccessRequest",
    "Caller",
    "ConditionClause",
    "Decision",
    "DecisionType",
    "MatchedStatement",
    "Policy",
    "PolicyDocument",
    "PolicyInput",
    "PolicyKind",
    "PolicyParseError",
    "PolicyType",
    "Position",
    "PrincipalSpec",
    "RequestContext",
    "ResourcePolicyDecision",
    "Statement",
    "TrustVerdict",
    "TrustedPrincipal",
    "caller_from",
    "evaluate",
    "evaluate_conditions",
    "evaluate_resource_policy",
    "is_allowed",
    "is_known_operator",
    "matches_wildcard",
    "parse_policy",
    "trusted_principals",
    "who_may",
]
