"""The least-privilege checks of lab 3 (and of the extra credit's template audit): each takes an
`Evaluator` and `LabResources` and returns `Check`s whose failures name the offending policy and statement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from labrunner.aws.iam.evaluators import Evaluation, Evaluator
from labrunner.aws.iam.names import (
    ADMIN_POLICY_NAMES,
    ASSUME_ACTIONS,
    BASIC_EXECUTION_POLICY,
    DYNAMODB_REQUIRED,
    LAB_DYNAMODB_POLICY,
    LAB_SQS_POLICY,
    LAB_WILDCARD_POLICY,
    LAMBDA_SERVICE,
    LOGS_REQUIRED,
    PROBE,
    SQS_REQUIRED,
    Request,
)
from labrunner.aws.iam.offenders import Offender, offenders, removal_hint, short_list
from labrunner.aws.iam.resources import LabResources, probe_requests
from labrunner.aws.iam.roles import NamedPolicy
from labrunner.aws.policy import who_may
from labrunner.aws.policy.trust import TrustedPrincipal, trusted_principals
from labrunner.model import Check


def _principal_text(trusted: TrustedPrincipal) -> str:
    if trusted.kind == "everyone":
        return "everyone (*)" if trusted.value != "NotPrincipal" else "everyone (a NotPrincipal statement)"
    if trusted.kind == "account":
        account = trusted.value.split(":")[4] if trusted.value.startswith("arn:") else trusted.value
        return f"account {account} ({trusted.value}: any user or role there that its admins allow)"
    return f"{trusted.kind} {trusted.value}"


def _probe_caller(trusted: TrustedPrincipal) -> str:
    """A principal that the entry names, to ask the trust policy about it."""
    if trusted.kind == "everyone":
        return f"arn:aws:iam::111122223333:role/{PROBE}"
    return trusted.value


def trust_policy_checks(trust: Mapping[str, Any], *, role: str) -> list[Check]:
    """Only lambda.amazonaws.com may assume the role (SC-7(11), SC-7(21), AC-6)."""
    edit = (
        f"IAM → Roles → {role} → Trust relationships → Edit trust policy: "
        f'keep only the statement with "Principal": {{"Service": "{LAMBDA_SERVICE}"}}'
    )
    offending: list[str] = []
    for action in ASSUME_ACTIONS:
        for trusted in trusted_principals(trust, action):
            if trusted.kind == "service" and trusted.value.lower() == LAMBDA_SERVICE:
                continue
            verdict = who_may(trust, [_probe_caller(trusted)], action)[0]
            # A statement with a Condition still opens the door to someone; an explicit Deny
            # of the same principal closes it.
            if verdict.trusted or (trusted.conditional and not verdict.decision.explicit_deny):
                where = f"{trusted.statement.describe().split(' (')[0]} of the trust policy"
                condition = " under a Condition" if trusted.conditional else ""
                text = f"{where} lets {_principal_text(trusted)} {action}{condition}"
                if text not in offending:
                    offending.append(text)
    checks = []
    if offending:
        checks.append(
            Check.fail(
                "only Lambda may assume the role",
                "; ".join(offending),
                f"{edit}, delete every other principal or statement, then Update policy.",
            )
        )
    else:
        checks.append(Check.ok("only Lambda may assume the role", f"no principal other than {LAMBDA_SERVICE}"))
    lambda_verdict = who_may(trust, [LAMBDA_SERVICE], "sts:AssumeRole")[0]
    if lambda_verdict.trusted:
        checks.append(Check.ok("Lambda may assume the role", f"{LAMBDA_SERVICE} may sts:AssumeRole"))
    else:
        checks.append(
            Check.fail(
                "Lambda may assume the role",
                f"{LAMBDA_SERVICE} may not assume the role: the function cannot run",
                f"{edit} and make sure that statement is there (Effect Allow, Action sts:AssumeRole).",
            )
        )
    return checks


def admin_probes(res: LabResources) -> list[Request]:
    """Representative actions no function role of this workload should have (admin, escalation)."""
    p, r, a = res.partition, res.region, res.account
    probe_role = f"arn:{p}:iam::{a}:role/{PROBE}"
    return [
        ("iam:CreateUser", f"arn:{p}:iam::{a}:user/{PROBE}"),
        ("iam:CreateAccessKey", f"arn:{p}:iam::{a}:user/{PROBE}"),
        ("iam:AttachRolePolicy", probe_role),
        ("iam:PutRolePolicy", res.role_arn),  # granting itself more
        ("iam:PassRole", probe_role),
        ("sts:AssumeRole", probe_role),
        ("ec2:RunInstances", f"arn:{p}:ec2:{r}:{a}:instance/*"),
        ("ec2:TerminateInstances", f"arn:{p}:ec2:{r}:{a}:instance/i-0123456789abcdef0"),
        ("s3:ListAllMyBuckets", "*"),
        ("s3:GetObject", f"arn:{p}:s3:::{PROBE}-bucket/any-key"),
        ("s3:PutBucketPolicy", f"arn:{p}:s3:::{PROBE}-bucket"),
        ("s3:DeleteBucket", f"arn:{p}:s3:::{PROBE}-bucket"),
        ("lambda:UpdateFunctionCode", f"arn:{p}:lambda:{r}:{a}:function:{res.function}"),
        ("cloudtrail:StopLogging", f"arn:{p}:cloudtrail:{r}:{a}:trail/{PROBE}"),
        ("kms:Decrypt", f"arn:{p}:kms:{r}:{a}:key/{PROBE}"),
        ("secretsmanager:GetSecretValue", f"arn:{p}:secretsmanager:{r}:{a}:secret:{PROBE}"),
        ("organizations:LeaveOrganization", "*"),
    ]


def admin_checks(evaluator: Evaluator, res: LabResources, attached: Sequence[NamedPolicy]) -> list[Check]:
    """No administrator-level policy, by name or by effect (AC-6)."""
    role = res.role_name
    checks = []
    admin = [p for p in attached if p.name in ADMIN_POLICY_NAMES and p.source == "aws-managed"]
    if admin:
        names = ", ".join(p.name for p in admin)
        checks.append(
            Check.fail(
                "no administrator policy attached",
                f"attached: {names} (administrator-level / broad job-function access)",
                f"IAM → Roles → {role} → Permissions: select {names} → Remove.",
            )
        )
    else:
        names = ", ".join(p.name for p in attached) or "none"
        checks.append(Check.ok("no administrator policy attached", f"attached managed policies: {names}"))
    results = evaluator.evaluate(admin_probes(res))
    allowed = [ev for ev in results.values() if ev.allowed]
    if allowed:
        found = offenders(evaluator, allowed)
        checks.append(
            Check.fail(
                "no administrator-level permissions",
                "the role may "
                + short_list([f"{ev.action}" for ev in allowed], 5)
                + ": "
                + "; ".join(o.describe() for o in found),
                removal_hint(role, found),
            )
        )
    else:
        checks.append(
            Check.ok(
                "no administrator-level permissions",
                f"denied: {short_list([a for a, _ in admin_probes(res)], 6)}",
            )
        )
    return checks


def _granted_by(evaluator: Evaluator, evaluations: Iterable[Evaluation]) -> list[str]:
    names: list[str] = []
    for ev in evaluations:
        for ref in ev.statements:
            named = evaluator.policy(ref.policy_id)
            name = named.name if named else ref.policy_id
            if name not in names:
                names.append(name)
    return names


def _names_note(granted: Sequence[str], lab_name: str) -> str:
    if not granted:
        return ""
    if list(granted) == [lab_name]:
        return f" (granted by {lab_name})"
    if lab_name in granted:
        return f" (granted by {lab_name}, and also by {', '.join(g for g in granted if g != lab_name)})"
    return f" (granted by {', '.join(granted)}; the lab names this policy {lab_name})"


def basic_execution_checks(evaluator: Evaluator, res: LabResources, policies: Sequence[NamedPolicy]) -> list[Check]:
    """The function may write its logs, and no hand-written wildcard policy is left (AC-6, AU-12)."""
    role = res.role_name
    group = res.log_group_arn
    needed = [
        ("logs:CreateLogGroup", group),
        ("logs:CreateLogStream", f"{group}:log-stream:{PROBE}"),
        ("logs:PutLogEvents", f"{group}:log-stream:{PROBE}"),
    ]
    # The hand-written policy gave every DynamoDB and SQS action on every resource. Probe a few
    # actions no single-purpose policy grants, on resources that are not the lab's; only
    # hand-written (inline or customer managed) policies count here — AWS managed ones that grant
    # too much are the least-privilege steps' findings.
    probes = [
        ("dynamodb:DeleteTable", res.table_arn(res.other_table)),
        ("dynamodb:CreateTable", res.table_arn(res.other_table)),
        ("sqs:DeleteQueue", res.queue_arn(res.other_queue)),
        ("sqs:CreateQueue", res.queue_arn(res.other_queue)),
    ]
    log_probes = _log_erasure_probes(res)
    results = evaluator.evaluate(needed + probes + log_probes)  # one batch: the simulator is asked once
    checks = []
    denied = [results[r].action for r in needed if not results[r].allowed]
    granted = _granted_by(evaluator, [results[r] for r in needed if results[r].allowed])
    if denied:
        checks.append(
            Check.fail(
                "the function may write its logs",
                f"the role may not {', '.join(denied)} on /aws/lambda/{res.function}: "
                "the function's output and errors are lost (AU-12)",
                f"IAM → Roles → {role} → Add permissions → Attach policies → search "
                f"{BASIC_EXECUTION_POLICY} → select it → Add permissions.",
            )
        )
    else:
        checks.append(
            Check.ok(
                "the function may write its logs",
                f"{', '.join(LOGS_REQUIRED)} allowed on /aws/lambda/{res.function}"
                + _names_note(granted, BASIC_EXECUTION_POLICY),
            )
        )
    wildcard = _hand_written(evaluator, [results[r] for r in probes])
    legacy = next((p for p in policies if p.name == LAB_WILDCARD_POLICY and p.inline), None)
    if wildcard:
        checks.append(
            Check.fail(
                "no hand-written wildcard policy",
                "; ".join(o.describe() for o in wildcard),
                removal_hint(role, wildcard)
                + (f" (The lab deletes the inline policy {LAB_WILDCARD_POLICY}.)" if legacy else ""),
            )
        )
    elif legacy is not None:
        checks.append(
            Check.fail(
                "no hand-written wildcard policy",
                f"the inline policy {LAB_WILDCARD_POLICY} is still attached",
                f"IAM → Roles → {role} → Permissions: select {LAB_WILDCARD_POLICY} → Remove → Delete.",
            )
        )
    else:
        checks.append(
            Check.ok("no hand-written wildcard policy", "no inline or customer policy grants DynamoDB or SQS wholesale")
        )
    checks.append(_logs_write_only_check(evaluator, res, [results[r] for r in log_probes]))
    return checks


def _hand_written(evaluator: Evaluator, evaluations: Iterable[Evaluation]) -> list[Offender]:
    """The inline and customer managed policy statements that allow these (AWS managed ones aside)."""
    return [o for o in offenders(evaluator, evaluations) if o.source != "aws-managed"]


def _log_erasure_probes(res: LabResources) -> list[Request]:
    group, other = res.log_group_arn, f"arn:{res.partition}:logs:{res.region}:{res.account}:log-group:{PROBE}"
    return [
        ("logs:DeleteLogGroup", group),
        ("logs:DeleteLogStream", f"{group}:log-stream:{PROBE}"),
        ("logs:PutRetentionPolicy", group),
        ("logs:DeleteLogGroup", other),
    ]


def _logs_write_only_check(evaluator: Evaluator, res: LabResources, erasure: Sequence[Evaluation]) -> Check:
    """The function writes its logs and nothing more: a role that may delete or expire log groups can
    erase the record of what it did (AU-9). As above, only hand-written policies count."""
    found = _hand_written(evaluator, erasure)
    if found:
        return Check.fail(
            "logs: write only",
            "the function could erase its own audit trail: " + "; ".join(o.describe() for o in found),
            removal_hint(res.role_name, found)
            + f" {BASIC_EXECUTION_POLICY} already allows what the function needs (CreateLogGroup, CreateLogStream, "
            "PutLogEvents).",
        )
    return Check.ok("logs: write only", "no inline or customer policy lets the role delete or expire log groups")


def _least_privilege(
    evaluator: Evaluator,
    *,
    role: str,
    service: str,
    what: str,  # "the metadata table" / "the notification queue"
    required: Sequence[str],
    lab_arn: str,
    lab_values: Mapping[str, str],
    other_values: Mapping[str, str],
    lab_policy: str,
    add_hint: str,
    other_label: str = "",  # how the made-up other resource is described ("" → "another <noun> (<name>)")
    tolerated: Mapping[str, str] | None = None,  # a made-up resource a tolerated wildcard may cover
    tolerated_note: str = "",
    existing: Sequence[Mapping[str, str]] = (),  # other resources that exist: none may be covered
) -> list[Check]:
    lab_requests = probe_requests(service, lab_values)
    other_requests = probe_requests(service, other_values)
    required_requests = [(a, lab_arn) for a in required]
    tolerated_requests = [(a, r) for a, r in probe_requests(service, tolerated) if a in required] if tolerated else []
    existing_requests = {
        (values.get("TableName") or values.get("QueueName") or ""): probe_requests(service, values)
        for values in existing
    }
    results = evaluator.evaluate(
        required_requests
        + lab_requests
        + other_requests
        + tolerated_requests
        + [r for requests in existing_requests.values() for r in requests]
    )
    checks = []

    needed = [results[r] for r in required_requests]
    needed_name = f"may {', '.join(a.split(':')[1] for a in required)} on {what}"
    noun = what.rsplit(maxsplit=1)[-1]  # "table" / "queue"
    other_name = other_values.get("TableName") or other_values.get("QueueName")
    missing = [ev for ev in needed if not ev.allowed]
    if missing:
        detail = "; ".join(
            f"{ev.action} is {'explicitly denied' if ev.decision == 'explicitDeny' else 'not allowed'}"
            for ev in missing
        )
        checks.append(Check.fail(needed_name, f"{detail} on {lab_arn}", add_hint))
    else:
        note = _names_note(_granted_by(evaluator, needed), lab_policy)
        checks.append(Check.ok(needed_name, f"{', '.join(required)} allowed on {lab_arn}{note}"))

    required_set = {a.lower() for a in required}
    extra = [
        results[r]
        for r in lab_requests
        if results[r].allowed and not (r[0].lower() in required_set and r[1] == lab_arn)
    ]
    keep = f"Keep only {', '.join(required)} on {what} ({lab_arn})."
    if extra:
        found = offenders(evaluator, extra)
        actions = sorted({ev.action.split(":")[1] for ev in extra})
        checks.append(
            Check.fail(
                f"no other {service} action",
                f"also allowed on {what} ({len(actions)} other action(s): {short_list(actions, 6)}): "
                + "; ".join(o.describe() for o in found),
                removal_hint(role, found, keep=keep),
            )
        )
    else:
        checks.append(Check.ok(f"no other {service} action", f"no {service} action besides {', '.join(required)}"))

    exact = f"Use the exact ARN {lab_arn} as the Resource, not * or a wildcard."
    problems: list[str] = []
    culprits: list[Evaluation] = []
    elsewhere = [results[r] for r in other_requests if results[r].allowed]
    if elsewhere:
        found = offenders(evaluator, elsewhere)
        actions = sorted({ev.action.split(":")[1] for ev in elsewhere})
        where = other_label or f"another {noun} ({other_name})"
        problems.append(f"allowed on {where}: {short_list(actions, 6)} — " + "; ".join(o.describe() for o in found))
        culprits += elsewhere
    for name, requests in existing_requests.items():
        granted = [results[r] for r in requests if results[r].allowed]
        if granted:
            found = offenders(evaluator, granted)
            actions = sorted({ev.action.split(":")[1] for ev in granted})
            problems.append(
                f"allowed on the existing {noun} {name}: {short_list(actions, 6)} — "
                + "; ".join(o.describe() for o in found)
            )
            culprits += granted
    if problems:
        checks.append(
            Check.fail(
                f"nothing on other {service} resources",
                "; ".join(problems),
                removal_hint(role, offenders(evaluator, culprits), keep=exact),
            )
        )
    else:
        covered = [results[r] for r in tolerated_requests if results[r].allowed]
        detail = f"no {service} action allowed on any other {noun}"
        if existing_requests:
            detail += f" (of the {len(existing_requests)} other existing {noun}(s) none is covered)"
        if covered and tolerated_note:
            detail += f"; {tolerated_note}"
        checks.append(Check.ok(f"nothing on other {service} resources", detail))
    return checks


def dynamodb_least_privilege_checks(
    evaluator: Evaluator, res: LabResources, existing_tables: Iterable[str] = ()
) -> list[Check]:
    """PutItem on the metadata table and nothing else in DynamoDB (AC-6, AC-3).

    The lab text grants PutItem on "the table that starts with immersion-ObjectMetadataTable"
    (`table/<prefix>*`, SPEC §4): that passes, with a note that the exact ARN is tighter, as long as
    no other EXISTING table matches it. A broader wildcard (`*`, `table/immersion-*`) fails: it covers
    a made-up table whose name differs from the prefix in its last character."""
    base = {"Partition": res.partition, "Region": res.region, "Account": res.account}

    def table(name: str) -> dict[str, str]:
        return {**base, "TableName": name, "GlobalTableName": name}

    others = sorted({t for t in existing_tables if t != res.table})
    prefix_wildcard = f"{res.table_arn(res.table_prefix)}*"
    return _least_privilege(
        evaluator,
        role=res.role_name,
        service="dynamodb",
        what="the metadata table",
        required=DYNAMODB_REQUIRED,
        lab_arn=res.table_arn(),
        lab_values=table(res.table),
        other_values=table(res.sibling_table),
        other_label=f"a table whose name does not start with {res.table_prefix} (e.g. {res.sibling_table})",
        tolerated=table(res.prefixed_table),
        tolerated_note=(
            f"PutItem is granted by a wildcard (like the lab text's {prefix_wildcard}), which also covers tables "
            f"created later with that prefix: the exact ARN {res.table_arn()} is tighter"
        ),
        existing=[table(t) for t in others],
        lab_policy=LAB_DYNAMODB_POLICY,
        add_hint=(
            f"IAM → Roles → {res.role_name} → Add permissions → Create inline policy → service DynamoDB, "
            f"action PutItem, resource: Specific → table ARN {res.table_arn()} → Next → name "
            f"{LAB_DYNAMODB_POLICY} → Create policy."
        ),
    )


def sqs_least_privilege_checks(evaluator: Evaluator, res: LabResources) -> list[Check]:
    """GetQueueAttributes, ReceiveMessage, DeleteMessage on the queue and nothing else in SQS."""
    base = {"Partition": res.partition, "Region": res.region, "Account": res.account}
    return _least_privilege(
        evaluator,
        role=res.role_name,
        service="sqs",
        what="the notification queue",
        required=SQS_REQUIRED,
        lab_arn=res.queue_arn(),
        lab_values={**base, "QueueName": res.queue},
        other_values={**base, "QueueName": res.other_queue},
        lab_policy=LAB_SQS_POLICY,
        add_hint=(
            f"IAM → Roles → {res.role_name} → Add permissions → Create inline policy → service SQS, actions "
            f"GetQueueAttributes, ReceiveMessage, DeleteMessage, resource: Specific → queue ARN "
            f"{res.queue_arn()} → Next → name {LAB_SQS_POLICY} → Create policy."
        ),
    )
