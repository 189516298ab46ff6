"""Lab 3: least privilege for the Lambda function's role, and the AccessDenied demo."""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from labrunner import paths
from labrunner.aws.errors import error_code
from labrunner.aws.fan_out import together
from labrunner.aws.iam import sightings
from labrunner.aws.iam.changes import iam_events_region, role_trail_since
from labrunner.aws.iam.checks import (
    admin_checks,
    basic_execution_checks,
    dynamodb_least_privilege_checks,
    sqs_least_privilege_checks,
    trust_policy_checks,
)
from labrunner.aws.iam.evaluators import PrincipalSimulator
from labrunner.aws.iam.lab_policies import lab_dynamodb_policy, lab_sqs_policy, lambda_only_trust_policy, same_document
from labrunner.aws.iam.names import (
    ADMIN_POLICY_NAMES,
    DYNAMODB_REQUIRED,
    LAB_DYNAMODB_POLICY,
    LAB_SQS_POLICY,
    LAB_WILDCARD_POLICY,
    SQS_REQUIRED,
    basic_execution_arn,
)
from labrunner.aws.iam.resources import LabResources
from labrunner.aws.iam.roles import RolePolicies, policy_document, read_role
from labrunner.aws.pipeline import (
    DELIVERY_GRACE,
    Upload,
    item_for,
    later_second,
    newest_uploads,
    parse_time,
    pipeline_check,
    record_problems,
    upload_after,
    upload_file,
)
from labrunner.context import Context
from labrunner.model import Check
from labrunner.step import Lab, Poll, Step

T = TypeVar("T")

PIPELINE_FILE = "Pride and Permissions.txt"
DEMO_DENIED_FILE = "A Tale of Two Regions.txt"
DEMO_RESTORED_FILE = "Twenty Thousand Requests Under the Sea.txt"
DENIED_PATTERN = '"AccessDeniedException"'
# Our clock against AWS's (S3 event times, log timestamps) when relating an upload to its effect.
CLOCK_SKEW = timedelta(seconds=2)
# AWS's wording of a denial, as the function's runtime logs it (SPEC §6.3).
_DENIAL = re.compile(
    r"User: (?P<principal>arn:[\w-]+:sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/\s]+)/(?P<session>\S+))"
    r" is not authorized to perform: (?P<action>[\w-]+:\w+) on resource: (?P<resource>[^\s\"]+)"
)


# -- shared observations ----------------------------------------------------------------------


def _resources(ctx: Context) -> LabResources:
    return LabResources.of(ctx.workload())


def _role(ctx: Context) -> RolePolicies:
    return read_role(ctx.client("iam"), ctx.workload().role)


def _tables(ctx: Context) -> list[str]:
    """Every DynamoDB table of the account and region: none but the lab's may be reachable."""
    pages = ctx.client("dynamodb").get_paginator("list_tables").paginate()
    return [name for page in pages for name in page.get("TableNames", [])]


def _simulator(ctx: Context, role: RolePolicies) -> PrincipalSimulator:
    return PrincipalSimulator.for_role(ctx.client("iam"), role)


def _wait(ctx: Context, poll: Poll, what: str, probe: Callable[[], T | None]) -> T:
    """Call `probe` until it returns a value, within the poll's deadline (times --wait-scale)."""
    deadline = time.monotonic() + poll.deadline_s * ctx.settings.wait_scale
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {poll.deadline_s * ctx.settings.wait_scale:.0f} s waiting for {what}")
        time.sleep(poll.interval_s)


@dataclass(frozen=True)
class Denial:
    """One AccessDeniedException the function logged."""

    time: datetime
    principal: str
    role: str
    session: str
    action: str
    resource: str


def find_denials(logs: Any, log_group: str, since: datetime | None = None) -> list[Denial]:
    """The AccessDenied lines in the function's log group, oldest first."""
    params: dict[str, Any] = {"logGroupName": log_group, "filterPattern": DENIED_PATTERN}
    if since is not None:
        params["startTime"] = int(since.timestamp() * 1000)
    found = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(**params):
            for event in page.get("events", []):
                for match in _DENIAL.finditer(event.get("message", "")):
                    found.append(
                        Denial(
                            time=datetime.fromtimestamp(event["timestamp"] / 1000, UTC),
                            principal=match["principal"],
                            role=match["role"],
                            session=match["session"],
                            action=match["action"],
                            resource=match["resource"].rstrip(".,;'"),
                        )
                    )
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":  # the function has never logged
            return []
        raise
    return sorted(found, key=lambda d: d.time)


def _put_item_denials(ctx: Context, since: datetime | None = None) -> list[Denial]:
    workload = ctx.workload()
    return [
        d
        for d in find_denials(ctx.client("logs"), workload.log_group, since)
        if d.role == workload.role and d.action.lower() == "dynamodb:putitem"
    ]


def _recorded_since(ctx: Context, key: str, since: datetime) -> bool:
    """Has the table recorded an upload of `key` made at `since` (or later)?"""
    workload = ctx.workload()
    item = item_for(ctx.client("dynamodb"), workload.table, key) or {}
    created = parse_time(next(iter(item.get("CreatedTime", {}).values()), None))
    return created is not None and created >= since - CLOCK_SKEW


def _recorded_upload_after(ctx: Context, since: datetime) -> Upload | None:
    """The newest upload made after `since`, if the table holds its record."""
    workload = ctx.workload()
    s3, dynamodb = ctx.client("s3"), ctx.client("dynamodb")
    for upload in newest_uploads(s3, workload.bucket, limit=5):
        if not later_second(upload.last_modified, since):
            break
        if not record_problems(item_for(dynamodb, workload.table, upload.key), workload.bucket, upload):
            return upload
    return None


def _change_key(role_name: str) -> str:
    return f"lab3.permission-change/{role_name}"


def _changed(ctx: Context, what: str, response: Mapping[str, Any]) -> None:
    """Remember that this run just changed the role's permissions (CloudTrail lists it only later).

    The time is IAM's own (the response's Date header), so it compares with S3's LastModified
    without trusting this machine's clock.
    """
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    try:
        when = parsedate_to_datetime(headers["date"])
    except (KeyError, TypeError, ValueError):
        when = datetime.now(UTC)
    ctx.memory[_change_key(ctx.workload().role)] = (when, what)


@dataclass(frozen=True)
class OrderProof:
    """Was `upload` made with the role's current permissions? `status`: "ok", "fail" (a change came
    after it; `change_at` says when) or "pending" (CloudTrail has not delivered events up to it yet)."""

    status: str
    detail: str
    change_at: datetime | None = None


def _order_proof(ctx: Context, role: RolePolicies, upload: Upload) -> OrderProof:
    """Is the upload newer than every change to the role's permissions?

    This run's own changes are known at once; everyone else's come from CloudTrail, which lists an
    event minutes after the call. Its history is read narrowly (events naming the role since the
    upload). "No change since the upload" is believed only when this machine saw the role's current
    permissions at a moment after the upload that CloudTrail has caught up with (it shows a read of
    the role made later: the checker's own GetRole/ListRolePolicies … are such reads) — then no
    change can hide in the part of the history not delivered yet.
    """
    here = ctx.memory.get(_change_key(role.name))
    if here is not None and not later_second(upload.last_modified, here[0]):
        when, what = here
        return OrderProof("fail", f"the role's last permission change ({what}, {when:%H:%M:%S} UTC)", when)
    now = sightings.Sighting(datetime.now(UTC), sightings.fingerprint(role))
    earlier = sightings.seen(ctx.account_id, role.name)
    sightings.record(ctx.account_id, role.name, now)
    since = upload.last_modified.replace(microsecond=0) - timedelta(seconds=1)
    managed = [p.arn for p in role.attached if p.arn and p.source == "user-managed"]
    trail = role_trail_since(ctx.client("cloudtrail", region=iam_events_region(ctx.region)), role.name, since, managed)
    after = [c for c in trail.changes if not later_second(upload.last_modified, c.time)]
    if after:
        change = after[0]
        detail = f"the role's last permission change ({change.event} ({change.subject}), {change.time:%H:%M:%S} UTC)"
        return OrderProof("fail", detail, change.time)
    covered = trail.covered_until
    proof = [
        s
        for s in earlier
        if s.fingerprint == now.fingerprint
        and later_second(s.time, upload.last_modified)
        and covered is not None
        and later_second(covered, s.time)
    ]
    if not proof:
        shown = f"up to {covered:%H:%M:%S} UTC" if covered else "no read of the role since the upload"
        return OrderProof(
            "pending",
            f"CloudTrail has not yet delivered the role's events from after the upload up to a moment labrunner "
            f"saw its current permissions ({shown}); a permission change made since could still appear",
        )
    return OrderProof(
        "ok",
        f"no change to the role's permissions since (seen unchanged at {proof[-1].time:%H:%M:%S} UTC; CloudTrail "
        f"shows the role's events up to {covered:%H:%M:%S} UTC)",
    )


def _pipeline_permissions(ctx: Context, role: RolePolicies, res: LabResources) -> Check:
    """May the role still do what the pipeline needs (receive from the queue, write the table)?"""
    sim = _simulator(ctx, role)
    needed = [(a, res.table_arn()) for a in DYNAMODB_REQUIRED] + [(a, res.queue_arn()) for a in SQS_REQUIRED]
    results = sim.evaluate(needed)
    denied = [f"{ev.action} on {ev.resource}" for ev in results.values() if not ev.allowed]
    if denied:
        return Check.fail(
            "the role may run the pipeline",
            f"the role may not {'; '.join(denied)}: new uploads cannot be recorded",
            f"IAM → Roles → {res.role_name} → Permissions: make sure {LAB_DYNAMODB_POLICY} allows "
            f"dynamodb:PutItem on the table (not GetItem: undo the demo) and {LAB_SQS_POLICY} allows "
            f"{', '.join(SQS_REQUIRED)} on the queue.",
        )
    return Check.ok("the role may run the pipeline", f"{', '.join(DYNAMODB_REQUIRED + SQS_REQUIRED)} allowed")


# -- steps ------------------------------------------------------------------------------------


class TrustPolicy(Step):
    id = "lab3.trust-policy"
    title = "Only the Lambda service may assume the function's role"
    controls = ("SC-7(11)", "SC-7(21)", "AC-6")
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        The function's role (MetadataLambdaRole) trusts lambda.amazonaws.com and, on purpose, the
        whole of another AWS account (536023900131): anyone there whom that account allows could
        assume the role and act with its permissions inside this account — a path around the
        boundary (SC-7(11), SC-7(21)) and far more access than the function needs (AC-6).
        Passes when no principal other than lambda.amazonaws.com may assume the role: an
        account (root or 12-digit id, including this one), a user, a role, `*` or a NotPrincipal
        statement all fail, under any sts:AssumeRole* action; and Lambda itself still may. The trust
        policy is analysed client-side with the project's IAM evaluator (IAM's simulator does not
        evaluate trust policies).
    """
    console = """
        IAM → Roles → the stack's MetadataLambdaRole → Trust relationships → Edit trust policy →
        delete the statement whose Principal is {"AWS": "arn:aws:iam::536023900131:root"} (keep the
        one with {"Service": "lambda.amazonaws.com"}) → Update policy.
    """
    automation = """
        Reads the trust policy, removes every principal other than lambda.amazonaws.com (and
        statements left empty), and writes it back with UpdateAssumeRolePolicy — only if it changed.
    """
    hint = "Edit the role's trust policy so that only lambda.amazonaws.com may assume it."
    poll = Poll(deadline_s=30, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        role = _role(ctx)
        wanted = lambda_only_trust_policy(role.trust)
        if same_document(role.trust, wanted):
            ctx.note(f"the trust policy of {role.name} already trusts only lambda.amazonaws.com")
            return False
        ctx.client("iam").update_assume_role_policy(RoleName=role.name, PolicyDocument=json.dumps(wanted))
        ctx.note(f"removed every principal but lambda.amazonaws.com from the trust policy of {role.name}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        workload = ctx.workload()
        role = ctx.client("iam").get_role(RoleName=workload.role)["Role"]
        return trust_policy_checks(policy_document(role["AssumeRolePolicyDocument"]), role=workload.role)


class NoAdmin(Step):
    id = "lab3.no-admin"
    title = "No administrator-level policy on the function's role"
    controls = ("AC-6",)
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        The role carries the SystemAdministrator job-function policy: the function — and anyone
        who can make it run code — could start EC2 instances, read S3 data and much more, none of
        which it needs (AC-6). Passes when no administrator-level or broad job-function AWS managed
        policy (AdministratorAccess, PowerUserAccess, SystemAdministrator, …) is attached, and IAM's
        policy simulator confirms that representative administrator actions (iam:CreateUser,
        iam:PutRolePolicy on itself, ec2:RunInstances, s3:GetObject on any bucket, …) are denied,
        whatever policy might grant them.
    """
    console = """
        IAM → Roles → the stack's MetadataLambdaRole → Permissions → select SystemAdministrator →
        Remove → Remove.
    """
    automation = "Detaches every administrator-level AWS managed policy (the lab's: SystemAdministrator)."
    hint = "Detach SystemAdministrator (and any other administrator policy) from the function's role."
    poll = Poll(deadline_s=30, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        role = _role(ctx)
        admin = [p for p in role.attached if p.name in ADMIN_POLICY_NAMES and p.source == "aws-managed"]
        for policy in admin:
            response = ctx.client("iam").detach_role_policy(RoleName=role.name, PolicyArn=policy.arn)
            ctx.note(f"detached {policy.name} from {role.name}")
            _changed(ctx, f"DetachRolePolicy ({policy.name}), this run", response)
        if not admin:
            ctx.note(f"no administrator policy is attached to {role.name}")
        return bool(admin)

    def verify(self, ctx: Context) -> Iterable[Check]:
        role = _role(ctx)
        return admin_checks(_simulator(ctx, role), _resources(ctx), role.attached)


class BasicExecution(Step):
    id = "lab3.basic-execution"
    title = "Logging through AWSLambdaBasicExecutionRole, the wildcard policy gone"
    controls = ("AC-6", "AU-12")
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        The inline policy PutItemDynamoTables grants every DynamoDB and SQS action on every
        resource, next to the three CloudWatch Logs actions the function needs to write its log.
        The lab replaces it: the AWS managed AWSLambdaBasicExecutionRole keeps the function's logs
        flowing (AU-12), narrow policies (next steps) give the rest (AC-6). Passes when the role may
        CreateLogGroup, CreateLogStream and PutLogEvents on /aws/lambda/<function> (from any
        policy: the detail says which, and the lab's name) and no hand-written (inline or customer
        managed) policy grants DynamoDB or SQS wholesale (e.g. DeleteTable on another table), nor
        more of CloudWatch Logs than writing: a function that may delete or expire log groups can
        erase the record of what it did.
    """
    console = """
        IAM → Roles → the stack's MetadataLambdaRole → Permissions → select the inline policy
        PutItemDynamoTables → Remove → Delete. Then Add permissions → Attach policies → search
        AWSLambdaBasicExecutionRole → select it → Add permissions.
    """
    automation = """
        Attaches AWSLambdaBasicExecutionRole, writes the narrow inline policies DynamoDbPutItemOnly and
        RetrieveSqsMessages (what the next two steps ask for) if the role has none of that name, and only
        then deletes PutItemDynamoTables: the function never lacks a permission it uses meanwhile.
    """
    hint = "Delete PutItemDynamoTables and attach AWSLambdaBasicExecutionRole to the function's role."
    poll = Poll(deadline_s=30, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        role = _role(ctx)
        iam = ctx.client("iam")
        changed = False
        # What replaces the wildcard policy goes in first, so that the function never lacks a
        # permission it uses: logs (basic execution), then the table and the queue (an SQS trigger
        # whose role may not receive from the queue fails, and Lambda may disable it).
        arn = basic_execution_arn(ctx.region)
        if not any(p.arn == arn for p in role.attached):
            response = iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
            ctx.note("attached AWSLambdaBasicExecutionRole")
            _changed(ctx, "AttachRolePolicy (AWSLambdaBasicExecutionRole), this run", response)
            changed = True
        if role.inline_named(LAB_WILDCARD_POLICY) is not None:
            res = _resources(ctx)
            narrow = (
                (LAB_DYNAMODB_POLICY, lab_dynamodb_policy(res.table_arn()), "dynamodb:PutItem on the table"),
                (LAB_SQS_POLICY, lab_sqs_policy(res.queue_arn()), f"{', '.join(SQS_REQUIRED)} on the queue"),
            )
            for name, wanted, grants in narrow:
                if role.inline_named(name) is None:  # a policy the student wrote is left to its own step
                    changed |= _write_inline_policy(ctx, name, wanted, grants)
            response = iam.delete_role_policy(RoleName=role.name, PolicyName=LAB_WILDCARD_POLICY)
            ctx.note(f"deleted the inline policy {LAB_WILDCARD_POLICY} (after writing what replaces it)")
            _changed(ctx, f"DeleteRolePolicy ({LAB_WILDCARD_POLICY}), this run", response)
            changed = True
        if not changed:
            ctx.note(f"{LAB_WILDCARD_POLICY} is gone and AWSLambdaBasicExecutionRole is attached")
        return changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        role = _role(ctx)
        return basic_execution_checks(_simulator(ctx, role), _resources(ctx), role.policies)


def _write_inline_policy(ctx: Context, name: str, wanted: Mapping[str, Any], grants: str) -> bool:
    """Make the role's inline policy `name` exactly `wanted` (what the lab's console steps create)."""
    role = _role(ctx)
    current = role.inline_named(name)
    if current is not None and same_document(current.document, wanted):
        ctx.note(f"{name} already allows only {grants}")
        return False
    response = ctx.client("iam").put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(wanted))
    ctx.note(f"wrote the inline policy {name} ({grants})")
    _changed(ctx, f"PutRolePolicy ({name}), this run", response)
    return True


class DynamoDbLeastPrivilege(Step):
    id = "lab3.dynamodb-least-privilege"
    title = "The role may PutItem on the metadata table, and nothing else in DynamoDB"
    controls = ("AC-6", "AC-3")
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        The function only ever writes one item per upload: dynamodb:PutItem on the metadata table
        is all it needs (AC-6), and IAM then enforces exactly that (AC-3). Judged by effective
        permissions, from IAM's policy simulator over every policy that applies (inline and
        managed, Allow and Deny, Action/NotAction, Resource/NotResource, wildcards such as
        dynamodb:Put* — which also grants PutResourcePolicy): PutItem must be allowed on the
        table, and every other DynamoDB action (the full list from IAM's service authorization
        reference, on the table, its indexes, streams, backups…) and every action on another table
        must be denied. The lab text's own wording — PutItem on "the table that starts with
        immersion-ObjectMetadataTable" (Resource …:table/immersion-ObjectMetadataTable*) — passes,
        with a note that the exact ARN is tighter, unless another existing table matches it (then
        it fails, naming that table); a broader wildcard (* or table/immersion-*) fails. The
        policy's name does not matter (the lab's is DynamoDbPutItemOnly).
    """
    console = """
        IAM → Roles → the stack's MetadataLambdaRole → Add permissions → Create inline policy →
        Service: DynamoDB → Actions: Write → PutItem → Resources: Specific → Add ARN → the
        metadata table's ARN (DynamoDB → Tables → the table → Overview → ARN) → Next → Policy name
        DynamoDbPutItemOnly → Create policy.
    """
    automation = (
        "Writes the inline policy DynamoDbPutItemOnly: Allow dynamodb:PutItem on the table's ARN (if not already so)."
    )
    hint = "Give the role an inline policy allowing only dynamodb:PutItem on the metadata table's ARN."
    poll = Poll(deadline_s=30, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        wanted = lab_dynamodb_policy(_resources(ctx).table_arn())
        return _write_inline_policy(ctx, LAB_DYNAMODB_POLICY, wanted, "dynamodb:PutItem on the table")

    def verify(self, ctx: Context) -> Iterable[Check]:
        role, tables = together(lambda: _role(ctx), lambda: _tables(ctx))
        return dynamodb_least_privilege_checks(_simulator(ctx, role), _resources(ctx), tables)


class SqsLeastPrivilege(Step):
    id = "lab3.sqs-least-privilege"
    title = "The role may only receive, delete and inspect messages of the notification queue"
    controls = ("AC-6", "AC-3")
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        Lambda's SQS trigger polls the queue as the function's role: it needs
        sqs:GetQueueAttributes, sqs:ReceiveMessage and sqs:DeleteMessage on that queue, nothing
        more (AC-6, AC-3). Judged like the DynamoDB step: the three must be allowed on the queue;
        every other SQS action (SendMessage, DeleteQueue, PurgeQueue, …) and every action on
        another queue must be denied, whatever the policies are called (the lab's is
        RetrieveSqsMessages).
    """
    console = """
        IAM → Roles → the stack's MetadataLambdaRole → Add permissions → Create inline policy →
        Service: SQS → Actions: GetQueueAttributes, ReceiveMessage, DeleteMessage → Resources:
        Specific → Add ARN → the queue's ARN (SQS → the stack's queue → Details → ARN) → Next →
        Policy name RetrieveSqsMessages → Create policy.
    """
    automation = (
        "Writes the inline policy RetrieveSqsMessages: Allow GetQueueAttributes, ReceiveMessage, DeleteMessage "
        "on the queue's ARN (if not already so)."
    )
    hint = "Give the role an inline policy allowing only the three SQS actions on the notification queue."
    poll = Poll(deadline_s=30, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        wanted = lab_sqs_policy(_resources(ctx).queue_arn())
        return _write_inline_policy(ctx, LAB_SQS_POLICY, wanted, f"{', '.join(SQS_REQUIRED)} on the queue")

    def verify(self, ctx: Context) -> Iterable[Check]:
        role = _role(ctx)
        return sqs_least_privilege_checks(_simulator(ctx, role), _resources(ctx))


class Pipeline(Step):
    id = "lab3.pipeline"
    title = "With least privilege, a new upload still reaches the table"
    controls = ("AC-6",)
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        Least privilege must not break the workload. The proof is an upload made after the role
        got its final permissions, recorded in the table. Read-only, that is four observations:
        (1) IAM's simulator says the role may still do what the pipeline needs (PutItem on the
        table, the three SQS actions); (2) its DynamoDB and SQS permissions are least privilege now;
        (3) the newest object in the upload bucket has its item in the table; (4) no change to the
        role's permissions (PutRolePolicy, DeleteRolePolicy, Attach/DetachRolePolicy…) came after that
        upload, as CloudTrail's event history records it (IAM events are kept in us-east-1) — so the
        record was written under the current permissions, not under the wildcard policy. The history
        is read narrowly: the events naming the role since the upload. CloudTrail lists an event
        minutes after the call (typically about 5), so "no change since the upload" is believed only
        once the history shows a read of the role made after the upload (the checker's own reads of an
        earlier check are such reads); until then the step is pending, never passed.
    """
    console = """
        After changing the role: S3 → the upload bucket → Upload → a file from sample_s3_files/ →
        Upload. DynamoDB → Tables → the metadata table → Explore table items: its item appears
        within seconds (if not: CloudWatch → Log groups → /aws/lambda/<function> shows why).
    """
    automation = f"""
        Uploads sample_s3_files/{PIPELINE_FILE} unless the newest upload is already recorded and newer
        than the role's last permission change; then waits for its item.
    """
    hint = "Upload a file after finishing the role's permissions and check its item appears in the table."
    # An upload processed before IAM propagated fails and comes back after the queue's visibility
    # timeout (60 s): wait past that.
    poll = Poll(deadline_s=150, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        workload = ctx.workload()
        role = _role(ctx)
        s3 = ctx.client("s3")
        newest = newest_uploads(s3, workload.bucket, limit=1)
        after = datetime.min.replace(tzinfo=UTC)
        if newest and not record_problems(
            item_for(ctx.client("dynamodb"), workload.table, newest[0].key), workload.bucket, newest[0]
        ):
            proof = _order_proof(ctx, role, newest[0])
            if proof.status != "fail":
                ctx.note(f"{newest[0].key!r} is recorded; {proof.detail}")
                return False
            after = proof.change_at or after
        here = ctx.memory.get(_change_key(role.name))
        after = max(after, here[0]) if here else after
        key = upload_after(s3, workload.bucket, paths.sample_files_dir() / PIPELINE_FILE, after)
        ctx.note(f"uploaded {key!r} to s3://{workload.bucket}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        workload = ctx.workload()
        res = _resources(ctx)
        s3, dynamodb = ctx.client("s3"), ctx.client("dynamodb")
        # Independent reads start together (each is a round trip); the order of the checks stays.
        role, tables, recorded, uploads = together(
            lambda: _role(ctx),
            lambda: _tables(ctx),
            lambda: pipeline_check(s3, dynamodb, workload, name="newest upload recorded"),
            lambda: newest_uploads(s3, workload.bucket, limit=1),
        )
        sim = _simulator(ctx, role)
        permissions, least, proof = together(
            lambda: _pipeline_permissions(ctx, role, res),
            lambda: dynamodb_least_privilege_checks(sim, res, tables) + sqs_least_privilege_checks(sim, res),
            lambda: _order_proof(ctx, role, uploads[0]) if recorded.passed else None,
        )
        yield permissions
        unmet = [c.name for c in least if not c.passed]
        if unmet:
            yield Check.fail(
                "the role is least privilege",
                f"not yet: {'; '.join(unmet)}",
                "Finish lab3.dynamodb-least-privilege and lab3.sqs-least-privilege first "
                "(`labrunner check lab3` names what grants too much), then upload again.",
            )
        else:
            yield Check.ok("the role is least privilege", "DynamoDB and SQS permissions are exactly what is needed")
        yield recorded
        if proof is None:
            return
        newest = uploads[0]
        uploaded = f"{newest.key!r} ({newest.last_modified:%H:%M:%S} UTC)"
        if proof.status == "ok":
            yield Check.ok("uploaded with the current permissions", f"{uploaded} was uploaded; {proof.detail}")
        elif proof.status == "pending":
            yield Check.waiting(
                "uploaded with the current permissions",
                f"{uploaded} is recorded, but {proof.detail}",
                "CloudTrail delivers events within minutes (typically about 5): check again in a few minutes.",
            )
        else:
            yield Check.fail(
                "uploaded with the current permissions",
                f"the newest upload {uploaded} predates {proof.detail}: it was recorded under older permissions",
                f"Upload a file to s3://{workload.bucket} now and check that its item appears in {workload.table}.",
            )


def _swap_action(document: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """The same policy with one action replaced (the demo's PutItem → GetItem)."""
    swapped: dict[str, Any] = copy.deepcopy(dict(document))
    statements = swapped["Statement"] if isinstance(swapped["Statement"], list) else [swapped["Statement"]]
    for statement in statements:
        actions = statement.get("Action")
        if isinstance(actions, str):
            statement["Action"] = new if actions.lower() == old.lower() else actions
        elif isinstance(actions, list):
            statement["Action"] = [new if a.lower() == old.lower() else a for a in actions]
    return swapped


class AccessDenied(Step):
    id = "lab3.access-denied"
    title = "The AccessDenied demo: least privilege bites, then PutItem is restored"
    controls = ("AC-3", "AU-2")
    prefetch = ("role",)
    requires = ("setup.stack",)
    why = """
        Seeing enforcement is part of the lab: with PutItem swapped for GetItem in
        DynamoDbPutItemOnly, an upload produces no record, and the function's log shows IAM's
        refusal (AC-3) as an auditable event (AU-2). Passes when the log group /aws/lambda/<function>
        holds an AccessDeniedException for dynamodb:PutItem whose principal is the function's own
        role (arn:aws:sts::…:assumed-role/<role>/…), the role may PutItem again (and no longer
        GetItem), and an upload made after the last denial is recorded — the pipeline works again.
    """
    console = """
        IAM → Roles → MetadataLambdaRole → DynamoDbPutItemOnly → Edit → JSON: change
        "dynamodb:PutItem" to "dynamodb:GetItem" → Next → Save changes. Upload a file to the
        upload bucket: no item appears. CloudWatch → Log groups → /aws/lambda/<function> → Search
        log group: AccessDeniedException → the [ERROR] line names dynamodb:PutItem and the role.
        Then edit the policy back to dynamodb:PutItem, upload another file and see its item.
    """
    automation = f"""
        Swaps PutItem for GetItem in DynamoDbPutItemOnly, uploads {DEMO_DENIED_FILE} (again while
        IAM propagates: 5 s after an upload still recorded, else every 15 s) until the function logs
        the AccessDeniedException, restores the
        policy (always, even if waiting failed), uploads {DEMO_RESTORED_FILE} and waits for its item.
        Skipped when the log already shows the demo and the pipeline works again.
    """
    hint = "Do the PutItem → GetItem demo, find the AccessDeniedException in the function's log, then restore PutItem."
    poll = Poll(deadline_s=150, interval_s=1)
    denial_poll = Poll(deadline_s=150, interval_s=1)  # upload → AccessDenied in the log
    record_poll = Poll(deadline_s=150, interval_s=1)  # restore → a new upload recorded
    reupload_s = 15.0  # while IAM propagates, a first upload may still be processed under the old policy
    # An upload seen processed under the old policy (recorded while GetItem should deny it; denied
    # after PutItem was restored) is repeated this soon: IAM has not propagated the change yet.
    retry_gap_s = 5.0

    def _demo_done(self, ctx: Context) -> bool:
        denials = _put_item_denials(ctx)
        if not denials:
            return False
        role = _role(ctx)
        sim = _simulator(ctx, role)
        table = _resources(ctx).table_arn()
        results = sim.evaluate([("dynamodb:PutItem", table), ("dynamodb:GetItem", table)])
        if not results[("dynamodb:PutItem", table)].allowed or results[("dynamodb:GetItem", table)].allowed:
            return False
        return _recorded_upload_after(ctx, denials[-1].time) is not None

    def _upload_until(
        self,
        ctx: Context,
        poll: Poll,
        what: str,
        file: str,
        found: Callable[[], T | None],
        *,
        not_before: datetime | None = None,
        missed: Callable[[str, datetime], bool] | None = None,
    ) -> T:
        """Upload `file` until `found` sees its effect: again every reupload_s, or retry_gap_s after
        an upload that `missed(key, uploaded_at)` says was processed without it. Uploads wait for a
        second later than `not_before`, since an upload in the same second proves nothing."""
        workload = ctx.workload()
        s3 = ctx.client("s3")
        last: list[tuple[float, str, datetime]] = []  # the last upload: monotonic time, key, wall time

        def due() -> bool:
            if not last:
                return True
            waited = time.monotonic() - last[-1][0]
            if waited >= self.reupload_s:
                return True
            return missed is not None and waited >= self.retry_gap_s and missed(last[-1][1], last[-1][2])

        def probe() -> T | None:
            hit = found()
            if hit is not None:
                return hit
            too_soon = not_before is not None and not later_second(datetime.now(UTC), not_before)
            if not too_soon and due():
                uploaded_at = datetime.now(UTC)
                key = upload_file(s3, workload.bucket, paths.sample_files_dir() / file)
                ctx.note(f"uploaded {key!r}")
                last.append((time.monotonic(), key, uploaded_at))
            return None

        return _wait(ctx, poll, what, probe)

    def apply(self, ctx: Context) -> bool:
        if self._demo_done(ctx):
            ctx.note("the log already shows the demo's AccessDenied, and the pipeline works again")
            return False
        role = _role(ctx)
        policy = role.inline_named(LAB_DYNAMODB_POLICY)
        if policy is None:
            raise RuntimeError(
                f"the role has no inline policy {LAB_DYNAMODB_POLICY} for the demo to edit: "
                "solve lab3.dynamodb-least-privilege first"
            )
        iam = ctx.client("iam")
        table = _resources(ctx).table_arn()
        original = dict(policy.document)
        restored = (
            original
            if "dynamodb:putitem" in json.dumps(original).lower()
            else lab_dynamodb_policy(table)  # a demo interrupted earlier left GetItem behind
        )
        demo = _swap_action(restored, "dynamodb:PutItem", "dynamodb:GetItem")
        started = datetime.now(UTC) - timedelta(seconds=1)
        response = iam.put_role_policy(
            RoleName=role.name, PolicyName=LAB_DYNAMODB_POLICY, PolicyDocument=json.dumps(demo)
        )
        ctx.note(f"{LAB_DYNAMODB_POLICY}: dynamodb:PutItem → dynamodb:GetItem")
        _changed(ctx, f"PutRolePolicy ({LAB_DYNAMODB_POLICY}: GetItem), this run", response)
        try:
            denial = self._upload_until(
                ctx,
                self.denial_poll,
                "the AccessDeniedException in the function's log",
                DEMO_DENIED_FILE,
                lambda: next(iter(_put_item_denials(ctx, since=started)), None),
                missed=lambda key, at: _recorded_since(ctx, key, at),
            )
            ctx.note(
                f"{denial.time:%H:%M:%S} the function's log: {denial.principal} is not authorized to perform: "
                f"{denial.action} on resource: {denial.resource}"
            )
            ctx.emit(
                "access_denied",
                {
                    "time": denial.time.isoformat(),
                    "principal": denial.principal,
                    "action": denial.action,
                    "resource": denial.resource,
                },
            )
        finally:
            response = iam.put_role_policy(
                RoleName=role.name, PolicyName=LAB_DYNAMODB_POLICY, PolicyDocument=json.dumps(restored)
            )
            ctx.note(f"{LAB_DYNAMODB_POLICY}: dynamodb:GetItem → dynamodb:PutItem (restored)")
            _changed(ctx, f"PutRolePolicy ({LAB_DYNAMODB_POLICY} restored), this run", response)
        restored_at = ctx.memory[_change_key(role.name)][0]
        last_denial = denial.time
        upload = self._upload_until(
            ctx,
            self.record_poll,
            "an upload recorded after restoring PutItem",
            DEMO_RESTORED_FILE,
            lambda: _recorded_upload_after(
                ctx, max(restored_at, last_denial, *(d.time for d in _put_item_denials(ctx, started)))
            ),
            not_before=restored_at,
            missed=lambda _key, at: bool(_put_item_denials(ctx, since=at - CLOCK_SKEW)),
        )
        ctx.note(f"{upload.key!r} is recorded again: the pipeline works")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        workload = ctx.workload()
        res = _resources(ctx)
        denials = _put_item_denials(ctx)
        demo_hint = (
            f"Once the role is least privilege (lab3.dynamodb-least-privilege), do the demo: IAM → Roles → "
            f"{workload.role} → {LAB_DYNAMODB_POLICY} → Edit → replace "
            f"dynamodb:PutItem with dynamodb:GetItem → Save; upload a file; then CloudWatch → Log groups → "
            f"{workload.log_group} → Search log group for AccessDeniedException."
        )
        if denials:
            last = denials[-1]
            yield Check.ok(
                "AccessDenied for PutItem in the function's log",
                f"{last.time:%Y-%m-%d %H:%M:%S} UTC: {last.principal} is not authorized to perform: "
                f"{last.action} on resource: {last.resource}",
            )
        else:
            others = find_denials(ctx.client("logs"), workload.log_group)
            seen = (
                f" (it holds {len(others)} other denial(s), e.g. {others[-1].action} by role {others[-1].role})"
                if others
                else ""
            )
            yield Check.fail(
                "AccessDenied for PutItem in the function's log",
                f"{workload.log_group} holds no AccessDeniedException for dynamodb:PutItem "
                f"from role {workload.role}{seen}",
                demo_hint,
            )
        role = _role(ctx)
        sim = _simulator(ctx, role)
        table = res.table_arn()
        results = sim.evaluate([("dynamodb:PutItem", table), ("dynamodb:GetItem", table)])
        put, get = results[("dynamodb:PutItem", table)], results[("dynamodb:GetItem", table)]
        if put.allowed and not get.allowed:
            yield Check.ok(
                "the policy is back to PutItem", f"dynamodb:PutItem allowed, dynamodb:GetItem denied on {table}"
            )
        else:
            problems = ([] if put.allowed else ["dynamodb:PutItem is not allowed"]) + (
                ["dynamodb:GetItem is allowed too"] if get.allowed else []
            )
            yield Check.fail(
                "the policy is back to PutItem",
                f"{' and '.join(problems)} on {table}",
                f"IAM → Roles → {workload.role} → {LAB_DYNAMODB_POLICY} → Edit → change dynamodb:GetItem back to "
                "dynamodb:PutItem → Save changes.",
            )
        if not denials:
            return
        upload = _recorded_upload_after(ctx, denials[-1].time)
        if upload is not None:
            yield Check.ok(
                "the pipeline works again",
                f"{upload.key!r}, uploaded {upload.last_modified:%H:%M:%S} UTC after the last denial, is recorded",
            )
            return
        newer = [
            u for u in newest_uploads(ctx.client("s3"), workload.bucket, limit=5) if u.last_modified > denials[-1].time
        ]
        fix = (
            f"After restoring PutItem, upload another file to s3://{workload.bucket} "
            f"and check its item in {workload.table}."
        )
        if newer and datetime.now(UTC) - newer[0].last_modified < DELIVERY_GRACE:
            yield Check.waiting(
                "the pipeline works again",
                f"{newer[0].key!r} was uploaded after the last denial and is not recorded yet",
                "Wait a few seconds and check again.",
            )
        else:
            detail = f"no upload made after the last denial ({denials[-1].time:%H:%M:%S} UTC) is recorded" + (
                f" ({newer[0].key!r} is not)" if newer else ""
            )
            yield Check.fail("the pipeline works again", detail, fix)


LAB = Lab(
    id="lab3",
    title="Least privilege for the Lambda function",
    order=30,
    summary=(
        "Lock down the function's role: only Lambda may assume it, no administrator policy, logging through "
        "AWSLambdaBasicExecutionRole, PutItem on the table and three SQS actions on the queue — then watch "
        "least privilege deny a PutItem."
    ),
    steps=(
        TrustPolicy(),
        NoAdmin(),
        BasicExecution(),
        DynamoDbLeastPrivilege(),
        SqsLeastPrivilege(),
        Pipeline(),
        AccessDenied(),
    ),
)
