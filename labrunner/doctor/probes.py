"""The doctor's probes: each looks at one thing of an account and region, read-only, and says what it found.

A probe gets a read-only context (its clients refuse anything but reads) and returns findings; a
probe that AWS refuses or that crashes becomes a warn naming what could not be examined, and the
others still run (cfn-lint's lesson: a rule that crashes is a finding, not the end of the run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from botocore.exceptions import ClientError

from labrunner.aws import lab_buckets, permissions
from labrunner.aws.caller import Caller, resolve_caller
from labrunner.aws.config import (
    LAB_RULES,
    S3_BUCKET,
    ConfigRule,
    Recorder,
    config_rules,
    delivery_bucket_state,
    delivery_channels,
    describe_recorder,
    find_rule,
    missing_rules_line,
    role_exists,
)
from labrunner.aws.errors import error_code, is_access_denied
from labrunner.aws.iam.evaluators import PrincipalSimulator
from labrunner.aws.lambda_runtimes import life_of, pacific_today
from labrunner.aws.quotas import bucket_quota, count_buckets, quota_region
from labrunner.aws.s3 import BLOCK_PUBLIC_ACCESS, account_public_access_block
from labrunner.aws.stack import describe_stack
from labrunner.context import Context
from labrunner.doctor.model import Finding

Probe = Callable[[Context], list[Finding]]
LAB4 = "lab 4"
CONTROL_TOWER_PREFIX = "aws-controltower-"
SIMULATION_BATCH = 40
TEMPLATES = ("cloudformation_template.yaml", "cloudformation_template_secure.yaml")


@dataclass(frozen=True)
class Templates:
    """What the doctor needs of the workload's templates: resource types and Lambda runtimes."""

    resource_types: tuple[str, ...]
    runtimes: dict[str, tuple[str, ...]]  # runtime -> the templates' functions that use it
    buckets: int  # most S3 buckets one template creates


def read_templates() -> Templates:
    from labrunner import paths
    from labrunner.aws.cfn import load_template
    from labrunner.aws.template_values import template_resources

    types: list[str] = []
    runtimes: dict[str, list[str]] = {}
    buckets = 0
    for name in TEMPLATES:
        resources = template_resources(load_template(paths.template(name).read_text()))
        kinds = [str(r.get("Type", "")) for r in resources.values()]
        types.extend(kinds)
        buckets = max(buckets, kinds.count(S3_BUCKET))
        for logical_id, resource in resources.items():
            runtime = (resource.get("Properties") or {}).get("Runtime")
            if resource.get("Type") == "AWS::Lambda::Function" and isinstance(runtime, str):
                runtimes.setdefault(runtime, []).append(f"{name}:{logical_id}")
    return Templates(tuple(dict.fromkeys(types)), {k: tuple(v) for k, v in runtimes.items()}, buckets)


# -- who and what may it do -------------------------------------------------------------------
def identity(ctx: Context) -> list[Finding]:
    caller = ctx.target.identity.arn
    where = f"account {ctx.account_id}, region {ctx.region}, target {ctx.kind}"
    if caller.endswith(":root"):
        return [
            Finding.warn(
                "identity",
                f"the caller is the account's root user ({where})",
                "Use an IAM user or role (e.g. through IAM Identity Center): AWS advises against daily work as root.",
            )
        ]
    return [Finding.ok("identity", f"the caller is {caller} ({where})")]


def _simulated(ctx: Context, caller: Caller, actions: Iterable[str]) -> list[str]:
    """The actions the simulator does not allow the caller on every resource."""
    assert caller.source_arn is not None
    simulator = PrincipalSimulator(ctx.client("iam"), caller.source_arn)
    wanted = list(actions)
    denied: list[str] = []
    for start in range(0, len(wanted), SIMULATION_BATCH):  # a few calls of moderate size, not one huge one
        results = simulator.evaluate([(action, "*") for action in wanted[start : start + SIMULATION_BATCH]])
        denied.extend(action for (action, _), result in results.items() if not result.allowed)
    return sorted(denied, key=str.lower)


def _missing_line(command: str, missing: list[str]) -> str:
    return (
        f"`{command}` needs {len(missing)} action(s) the caller may not perform (simulated on every resource): "
        + ", ".join(missing)
    )


def permissions_probe(ctx: Context) -> list[Finding]:
    """Ask IAM's simulator about every action check and solve make (labrunner.aws.permissions).

    The simulator "evaluates statements in identity-based policies, service control policies (SCPs)
    including their condition keys and resource scoping" (AWS CLI Command Reference, iam
    simulate-custom-policy, Note), so an Organization's guardrails count too. Actions are simulated on
    every resource (`*`): one allowed only on some resources is named as missing, and the line says so.
    """
    caller = resolve_caller(ctx.client("iam"), ctx.target.identity.arn)
    if caller.kind == "root":
        return [Finding.ok("permissions", "the root user may perform every action check and solve make")]
    if caller.source_arn is None:
        return [
            Finding.warn(
                "permissions",
                f"IAM's policy simulator cannot simulate a {caller.kind} caller ({caller.arn})",
                "Run the doctor as the IAM user or role the class will use to see its permissions.",
            )
        ]
    templates = read_templates()
    check = permissions.needed("check")
    solve = permissions.needed("solve", templates.resource_types)
    try:
        missing = _simulated(ctx, caller, solve)
    except ClientError as exc:
        if not is_access_denied(exc):
            raise
        return [
            Finding.warn(
                "permissions",
                f"IAM's policy simulator refused to answer ({error_code(exc)}): the caller may not call "
                f"iam:SimulatePrincipalPolicy on {caller.source_arn}, so its permissions are unknown",
                "Allow iam:SimulatePrincipalPolicy (it is in ReadOnlyAccess and IAMReadOnlyAccess), or check "
                "the permissions by hand.",
            )
        ]
    noted = f" ({caller.note})" if caller.note else ""
    found = []
    check_missing = [a for a in missing if a in check]
    if check_missing:
        found.append(
            Finding.problem(
                "permissions.check",
                _missing_line("check", check_missing) + noted,
                f"Allow these actions to {caller.source_arn} (the AWS managed policy ReadOnlyAccess covers check).",
            )
        )
    else:
        found.append(
            Finding.ok("permissions.check", f"{caller.source_arn} may perform all {len(check)} actions check makes")
        )
    solve_missing = [a for a in missing if a not in check]
    if solve_missing:
        found.append(
            Finding.problem(
                "permissions.solve",
                _missing_line("solve", solve_missing) + noted,
                f"Allow these actions to {caller.source_arn} (solve, and students working in the console, "
                "create and change the workload: e.g. AdministratorAccess in a lab account).",
            )
        )
    else:
        found.append(
            Finding.ok(
                "permissions.solve", f"{caller.source_arn} may perform all {len(solve)} actions solve and up make"
            )
        )
    unknown = permissions.unknown_types(templates.resource_types)
    if unknown:
        found.append(
            Finding.warn(
                "permissions.deploy",
                f"the doctor does not know what CloudFormation needs for {', '.join(unknown)}",
                "List their actions in labrunner/aws/permissions.py (DEPLOY_ACTIONS).",
            )
        )
    return found


# -- the region and AWS Config ------------------------------------------------------------------
def region(ctx: Context) -> list[Finding]:
    line = missing_rules_line(ctx.region)
    if line is not None:
        return [Finding.problem("region", line, "Run the class in a region that offers both rules, e.g. us-east-1.")]
    names = " and ".join(spec.source_identifier for spec in LAB_RULES)
    return [Finding.ok("region", f"AWS Config offers the managed rules {names} in {ctx.region}")]


def _recorder_finding(ctx: Context, recorder: Recorder | None) -> Finding:
    if recorder is None:
        return Finding.ok(
            "config.recorder",
            f"no AWS Config recorder in {ctx.region}: {LAB4} sets one up (solve: `default`, recording "
            f"{S3_BUCKET}); reset removes it again",
        )
    owner = " (AWS Control Tower's)" if recorder.name.startswith(CONTROL_TOWER_PREFIX) else ""
    state = "recording" if recorder.recording else "stopped"
    plans = []
    if not recorder.records(S3_BUCKET):
        plans.append(f"add {S3_BUCKET} to what it records")
    if not recorder.role_arn or not role_exists(ctx.client("iam"), recorder.role_arn):
        plans.append("give it the service-linked role AWSServiceRoleForConfig (its role is missing)")
    if not recorder.recording:
        plans.append("start it")
    does = f"solve will {' and '.join(plans)}" if plans else "students and solve use it as it is"
    return Finding.warn(
        "config.recorder",
        f"a Config recorder already exists{owner}: {recorder.name}, records {recorder.scope()}, {state}; "
        f"{LAB4} keeps it (AWS allows one per region) and {does}; reset keeps it",
        "Nothing to change. Tell students not to create a second recorder: lab 4 step 1 is already done here."
        if not plans
        else f"Nothing to change before class; lab 4 will {' and '.join(plans)}.",
    )


def _channel_finding(ctx: Context, recorder: Recorder | None) -> Finding | None:
    channels = delivery_channels(ctx.client("config"))
    if not channels:
        if recorder is None:
            return None  # said with the recorder
        return Finding.warn(
            "config.channel",
            f"recorder {recorder.name} has no delivery channel: {LAB4} (solve) creates a delivery bucket "
            "immersion-config-delivery-… and the channel `default` to it",
        )
    s3 = ctx.client("s3")
    channel = channels[0]
    state = delivery_bucket_state(s3, channel.bucket)
    where = f"s3://{channel.bucket}/{channel.prefix}"
    if state == "elsewhere":
        return Finding.warn(
            "config.channel",
            f"delivery channel {channel.name} delivers to {where}, a bucket of another account (this account "
            f"may not read it: e.g. AWS Control Tower's log archive); {LAB4} keeps it and reset leaves it alone",
            "Nothing to change: lab4.recorder passes with it.",
        )
    if state == "here":
        return Finding.warn(
            "config.channel",
            f"delivery channel {channel.name} already delivers to {where}; {LAB4} keeps it",
        )
    return Finding.warn(
        "config.channel",
        f"delivery channel {channel.name} points at bucket {channel.bucket!r}, which does not exist: {LAB4} (solve) "
        "creates a delivery bucket and points the channel at it",
        "Or repair the channel before class (AWS Config → Settings → Delivery method).",
    )


def _rules_findings(rules: list[ConfigRule]) -> list[Finding]:
    found = []
    services = [r for r in rules if r.created_by and any(r.is_managed(spec) for spec in LAB_RULES)]
    if services:
        names = ", ".join(f"{r.name} ({r.source_identifier})" for r in services)
        creators = ", ".join(sorted({r.created_by for r in services}))
        found.append(
            Finding.warn(
                "config.service-rules",
                f"{creators} already runs the lab's checks as its own Config rules: {names}. They do not count "
                f"for {LAB4}: solve adds the lab's own s3-bucket-logging-enabled and "
                "s3-bucket-server-side-encryption-enabled beside them, and reset keeps the service's rules",
                "Nothing to change; tell students these rules are Security Hub's, not theirs, and to add the lab's.",
            )
        )
    for spec in LAB_RULES:
        finding = find_rule(rules, spec)
        if finding.rule is not None:
            found.append(
                Finding.warn(
                    f"config.rule.{spec.name}",
                    f"rule {finding.rule.name} of this account already runs {spec.source_identifier}: lab4.rules "
                    "passes before the students add it (left from an earlier class?)",
                    "`labrunner reset` removes the lab's rules, if they are from an earlier run.",
                )
            )
        elif finding.misnamed is not None:
            found.append(
                Finding.warn(
                    f"config.rule.{spec.name}",
                    f"rule {spec.name} runs {finding.misnamed.source_identifier or '?'}, not the AWS managed rule "
                    f"{spec.source_identifier}: {LAB4} (solve) replaces it with the managed rule",
                )
            )
    if not found:
        found.append(Finding.ok("config.rules", f"no Config rule runs the lab's managed rules yet: {LAB4} adds them"))
    return found


def config(ctx: Context) -> list[Finding]:
    if missing_rules_line(ctx.region) is not None:
        return []  # the region finding says lab 4 cannot run here
    client = ctx.client("config")
    recorder = describe_recorder(client)
    found = [_recorder_finding(ctx, recorder)]
    channel = _channel_finding(ctx, recorder)
    if channel is not None:
        found.append(channel)
    return found + _rules_findings(config_rules(client))


# -- account settings, services, quotas ---------------------------------------------------------
def block_public_access(ctx: Context) -> list[Finding]:
    settings = account_public_access_block(ctx.client("s3control"), ctx.account_id)
    on = [name for name in BLOCK_PUBLIC_ACCESS if settings[name]]
    if len(on) == len(BLOCK_PUBLIC_ACCESS):
        return [
            Finding.ok(
                "s3.block-public-access",
                "account-level S3 Block Public Access is fully on (the lab needs no public bucket: fine)",
            )
        ]
    off = [name for name in BLOCK_PUBLIC_ACCESS if not settings[name]]
    return [
        Finding.warn(
            "s3.block-public-access",
            f"account-level S3 Block Public Access is off for {', '.join(off)}: the lab sets it per bucket, "
            "but any other bucket of the account may be made public",
            "S3 → Block Public Access settings for this account → Edit → turn on all four (the lab works with it).",
        )
    ]


def cloudtrail(ctx: Context) -> list[Finding]:
    try:
        ctx.client("cloudtrail").lookup_events(MaxResults=1)
    except ClientError as exc:
        if not is_access_denied(exc):
            raise
        return [
            Finding.problem(
                "cloudtrail",
                f"CloudTrail event history is not reachable ({error_code(exc)} on LookupEvents): lab 3's checks "
                "read the AccessDenied demo and policy changes from it",
                "Allow cloudtrail:LookupEvents to the caller.",
            )
        ]
    return [Finding.ok("cloudtrail", f"CloudTrail event history answers in {ctx.region} (LookupEvents)")]


def bucket_quota_probe(ctx: Context) -> list[Finding]:
    quota = bucket_quota(ctx.client("service-quotas", quota_region(ctx.region)))
    used = count_buckets(ctx.client("s3"))
    # The template's buckets, then the log, demo and delivery buckets solve (or a student) makes.
    wanted = read_templates().buckets + len((lab_buckets.LOG, lab_buckets.DEMO, lab_buckets.DELIVERY))
    room = quota.limit - used
    line = f"{used} of {quota.limit} general purpose buckets in use ({quota.source}); the lab creates up to {wanted}"
    if room < wanted:
        return [
            Finding.problem(
                "s3.bucket-quota",
                line,
                "Delete unused buckets, or ask for more: Service Quotas → Amazon S3 → General purpose buckets "
                f"(in {quota_region(ctx.region)}).",
            )
        ]
    if room < max(wanted * 10, quota.limit // 10):
        return [Finding.warn("s3.bucket-quota", line, "Delete unused buckets before class.")]
    return [Finding.ok("s3.bucket-quota", line)]


def lambda_runtime(ctx: Context, today: date | None = None) -> list[Finding]:
    on = today or pacific_today()
    found = []
    for runtime, users in read_templates().runtimes.items():
        life = life_of(runtime)
        where = ", ".join(users)
        successor = f" (AWS suggests {life.successor})" if life.successor else ""
        if not life.creatable(on):
            found.append(
                Finding.problem(
                    "lambda.runtime",
                    f"Lambda no longer creates functions with {runtime} (since {life.create_block}), used by {where}",
                    f"Change Runtime in the template to a supported one{successor}.",
                )
            )
        elif life.is_deprecated(on):
            found.append(
                Finding.warn(
                    "lambda.runtime",
                    f"{runtime} is deprecated since {life.deprecated}; Lambda creates functions with it until "
                    f"{life.create_block} ({where})",
                    f"Move the template to a supported runtime{successor}.",
                )
            )
        else:
            until = f"creatable until {life.create_block}" if life.create_block else "no end of support announced"
            line = f"the template's Lambda runtime {runtime} is supported ({until})"
            found.append(Finding.ok("lambda.runtime", line))
    return found


def stack(ctx: Context) -> list[Finding]:
    info = describe_stack(ctx.client("cloudformation"), ctx.stack_name)
    if info is None:
        return [Finding.ok("stack", f"no stack {ctx.stack_name!r} yet: `labrunner up` (or the students) create it")]
    if info.status.endswith("_IN_PROGRESS"):
        return [
            Finding.warn(
                "stack",
                f"stack {ctx.stack_name!r} is {info.status}: someone is deploying or deleting it now",
                "Wait until it settles, then run the doctor again.",
            )
        ]
    if info.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return [
            Finding.warn(
                "stack",
                f"stack {ctx.stack_name!r} is already deployed ({info.status}, {len(info.resources)} resources): "
                "students start from it as it is; `labrunner check` shows how far it is",
                "Keep it if you deployed it for the class; else `labrunner reset` removes it and what the lab made.",
            )
        ]
    return [
        Finding.warn(
            "stack",
            f"stack {ctx.stack_name!r} exists but is {info.status}: `labrunner up` replaces or updates it",
            "`labrunner reset` removes it (and what the lab made) for a clean start.",
        )
    ]


PROBES: tuple[tuple[str, Probe], ...] = (
    ("identity", identity),
    ("permissions", permissions_probe),
    ("region", region),
    ("config", config),
    ("s3.block-public-access", block_public_access),
    ("cloudtrail", cloudtrail),
    ("s3.bucket-quota", bucket_quota_probe),
    ("lambda.runtime", lambda_runtime),
    ("stack", stack),
)


def run_probe(ctx: Context, name: str, probe: Probe) -> list[Finding]:
    """One probe; what stops it is a warn that names what could not be examined, and why."""
    try:
        return probe(ctx)
    except ClientError as exc:
        operation = getattr(exc, "operation_name", "") or "a call"
        what = f"{error_code(exc)} on {operation}"
        fix = "Give the caller read access (the AWS managed policy ReadOnlyAccess covers every probe)."
        return [Finding.warn(name, f"could not examine this: {what}", fix if is_access_denied(exc) else "")]
    except Exception as exc:
        return [Finding.warn(name, f"could not examine this: {type(exc).__name__}: {exc}")]


def examine(ctx: Context, probes: Iterable[tuple[str, Probe]] = PROBES) -> list[Finding]:
    return [finding for name, probe in probes for finding in run_probe(ctx, name, probe)]
