"""AWS Config rule evaluation: the compliance APIs moto leaves unimplemented (HTTP 500).

moto stores recorders, delivery channels and rules but never evaluates anything. Here
(labrunner.local.awsconfig) the recorder records S3 buckets from the S3 backend's real settings
(logging, default encryption, policy, tags) while it records them, the managed rules
S3_BUCKET_LOGGING_ENABLED and S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED judge the recorded
items, and StartConfigRulesEvaluation, DescribeComplianceByConfigRule,
GetComplianceDetailsByConfigRule, DescribeComplianceByResource and
DescribeConfigRuleEvaluationStatus answer as AWS does. PutConfigRule needs a configuration
recorder first (NoAvailableConfigurationRecorderException), as on AWS.

AWS's strict behaviours (SPEC §6 item 9), on by default:
- After StartConfigRulesEvaluation the rule's ConfigRuleState is EVALUATING until the evaluation
  finishes (API Reference, ConfigRule, ConfigRuleState: "AWS Config sets the state of the rule to
  EVALUATING temporarily after you use the StartConfigRulesEvaluation request"); how long it takes
  is the knob `config_evaluation_delay_s` (0 by default: finished at once). DescribeConfigRuleEvaluationStatus
  reports its invocation and evaluation times.
- A second StartConfigRulesEvaluation for a rule while it evaluates, or within 60 s of the last
  request for it, gets LimitExceededException (API Reference, StartConfigRulesEvaluation: "An existing
  StartConfigRulesEvaluation call for the specified rules must complete before you can call the API
  again"; LimitExceededException: thrown "if an evaluation is in progress or if you call the
  StartConfigRulesEvaluation API more than once per minute"). The 60 s are AWS's fixed behaviour,
  always on; they are multiplied by LABRUNNER_LOCAL_TIME_SCALE (labrunner/local/faults/profile.py)
  so tests can shrink them with the rest of the timings.
- Config records a changed resource `config_recording_delay_s` after the change (AWS Config
  Developer Guide, "Recording AWS resources": the recorder detects and records changes; on AWS that
  takes minutes), and an evaluation judges the last *recorded* configuration item, not the live
  bucket: StartConfigRulesEvaluation "does not re-record the latest configuration state for your
  resources. It re-runs an evaluation against the last known state of your resources."
  GetResourceConfigHistory of an AWS::S3::Bucket shows exactly those recorded items (newest first;
  ResourceNotDiscoveredException before the first), so a client can tell when a change is recorded.
- POST /_labrunner/config/control-tower?account=ID&region=R builds what AWS Control Tower and
  Security Hub leave in a member account (labrunner/local/awsconfig/control_tower.py, SPEC §6 item 11).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from labrunner.local import s3_changes
from labrunner.local.app import AdminError, AdminRequest, register_admin_endpoint
from labrunner.local.hooks import ServerHooks

Operation = Callable[[str, str, dict[str, Any]], dict[str, Any]]


def install(hooks: ServerHooks) -> None:
    from moto.config.models import ConfigBackend
    from moto.config.responses import ConfigResponse

    from labrunner.local.awsconfig import api, engine

    s3_changes.install()
    s3_changes.subscribe(engine.on_bucket_change)
    for name, operation in api.OPERATIONS.items():
        setattr(ConfigResponse, name, answering(operation))
    for name in ("start_configuration_recorder", "put_configuration_recorder"):
        setattr(ConfigBackend, name, then_record(getattr(ConfigBackend, name)))
    setattr(ConfigBackend, "put_config_rule", putting_rule(ConfigBackend.put_config_rule))  # noqa: B010
    setattr(ConfigBackend, "delete_config_rule", deleting_rule(ConfigBackend.delete_config_rule))  # noqa: B010
    setattr(ConfigResponse, "get_resource_config_history", bucket_history(ConfigResponse.get_resource_config_history))  # noqa: B010
    engine.DELAY.install(hooks)
    register_admin_endpoint("POST", "config/control-tower", control_tower_scenario)
    hooks.on_reset(engine.clear_timers)


def answering(operation: Operation) -> Callable[[Any], str]:
    """A ConfigResponse method (JSON protocol) for one of the api operations."""

    def method(self: Any) -> str:
        params = json.loads(self.body) if self.body else {}
        return json.dumps(operation(self.current_account, self.region, params))

    method.__name__ = operation.__name__
    return method


def bucket_history(method: Callable[..., str]) -> Callable[..., str]:
    """S3 buckets' history from what the recorder recorded; other types as moto answers them."""

    @functools.wraps(method)
    def wrapper(self: Any) -> str:
        from labrunner.local.awsconfig import api
        from labrunner.local.awsconfig.items import S3_BUCKET

        params = json.loads(self.body) if self.body else {}
        if params.get("resourceType") != S3_BUCKET:
            return method(self)
        return json.dumps(api.get_bucket_config_history(self.current_account, self.region, params))

    return wrapper


def then_record(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from labrunner.local.awsconfig import engine

        result = method(self, *args, **kwargs)
        engine.recorder_changed(self.account_id, self.region_name)
        return result

    return wrapper


def putting_rule(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, config_rule: dict[str, Any], tags: Any = None) -> Any:
        from moto.core.exceptions import JsonRESTError

        from labrunner.local.awsconfig import engine

        if not self.recorders:
            raise JsonRESTError(
                "NoAvailableConfigurationRecorderException",
                "Configuration recorder is not available to put config rule.",
            )
        result = method(self, config_rule, tags)
        name = config_rule.get("ConfigRuleName") or next(
            (
                rule.config_rule_name
                for rule in self.config_rules.values()
                if config_rule.get("ConfigRuleArn") in (rule.config_rule_arn,)
                or config_rule.get("ConfigRuleId") in (rule.config_rule_id,)
            ),
            None,
        )
        if name:
            engine.rule_added_or_updated(self.account_id, self.region_name, name)
        return result

    return wrapper


def deleting_rule(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, rule_name: str) -> Any:
        from labrunner.local.awsconfig import engine

        result = method(self, rule_name)
        engine.rule_deleted(self.account_id, self.region_name, rule_name)
        return result

    return wrapper


def control_tower_scenario(request: AdminRequest) -> dict[str, Any]:
    """POST /_labrunner/config/control-tower?account=ID&region=R (SPEC §6 item 11)."""
    import re

    from labrunner.local import identity
    from labrunner.local.awsconfig import control_tower

    account = request.query.get("account", identity.DEFAULT_ACCOUNT)
    region = request.query.get("region", identity.DEFAULT_REGION)
    if not re.fullmatch(r"\d{12}", account or ""):
        raise AdminError(400, f"account must be 12 digits, not {account!r}")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise AdminError(400, f"not a region: {region!r}")
    return control_tower.apply(account, region)
