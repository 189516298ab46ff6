"""Lab 4: AWS Config watches the S3 buckets, flags those without logging, sees them fixed."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from labrunner.aws import lab_buckets as made
from labrunner.aws.config import (
    ENCRYPTION_RULE,
    LAB_RULES,
    LOGGING_RULE,
    REQUEST_INTERVAL_S,
    S3_BUCKET,
    BucketView,
    ConfigRule,
    Evaluation,
    EvaluationRequest,
    Recorder,
    RecordingMark,
    RuleSpec,
    bucket_view,
    config_rules,
    delivery_bucket_state,
    delivery_channels,
    describe_recorder,
    ensure_delivery_bucket,
    ensure_service_linked_role,
    evaluations,
    find_rule,
    managed_rule_request,
    missing_rules_line,
    recording_group_with,
    recording_mark,
    role_exists,
    service_linked_role_arn,
    service_rules_note,
    start_evaluation,
    wait_until_recorded,
)
from labrunner.aws.demo_bucket import DemoSearch, students_demo_bucket
from labrunner.aws.fan_out import fan_out, together
from labrunner.aws.s3 import (
    LAB_TAG,
    access_logging,
    bucket_exists,
    enable_access_logging,
)
from labrunner.context import Context
from labrunner.model import Check
from labrunner.step import Lab, Poll, Step

RECORDER_NAME = "default"  # the console's names for the recorder and the delivery channel
CHANNEL_NAME = "default"
DEMO_LOG_PREFIX = "config-demo/"
SINCE_2023 = (
    "AWS has encrypted every new bucket with SSE-S3 by default since January 2023 (and default "
    "encryption can no longer be removed), so this rule finds every bucket COMPLIANT"
)
RE_EVALUATE = "AWS Config → Rules → {rule} → Actions → Re-evaluate, then wait a minute and check again."
RECORDING_WAIT_S = 600.0  # Config records a change within minutes (Developer Guide, "Recording AWS resources")
RECORDING_POLL_S = 3.0
RETRY_POLL_S = 5.0


def demo_bucket(ctx: Context) -> str | None:
    """The lab's demo bucket: the one solve made for this stack (by its tags), else one named as the
    lab text does (immersion-config-demo-…), else the student's own of any name that Config has
    recorded (labrunner.aws.demo_bucket says what is never taken for it); None before it exists."""
    return demo_search(ctx).bucket


def demo_search(ctx: Context) -> DemoSearch:
    """demo_bucket's answer, with the newer buckets it passed over and why."""
    s3 = ctx.client("s3")
    found = made.find(s3, made.DEMO, ctx, any_ending=True)
    if found is not None:
        return DemoSearch(found)
    info = ctx.find_stack()
    stack_buckets = [r.physical_id for r in info.resources.values() if r.type == S3_BUCKET] if info else []
    return students_demo_bucket(
        s3,
        ctx.client("config"),
        region=ctx.region,
        since=info.created if info is not None else None,
        not_these=[b for b in stack_buckets if b],
    )


def demo_reason(ctx: Context, demo: str) -> str:
    """Why this bucket is taken for the demo bucket (for the instructor reading a report)."""
    tags = made.bucket_tags(ctx.client("s3"), demo)
    if tags.get(made.STACK_TAG_KEY) == ctx.stack_name:
        return f"made by labrunner's solve for stack {ctx.stack_name} (tag {made.STACK_TAG_KEY})"
    if demo.startswith(made.DEMO.prefix):
        return f"named as the lab names the demo bucket ({made.DEMO.prefix}…)"
    return (
        "your own bucket (any name will do): the newest made since the stack that AWS Config has recorded and "
        "that is none of the stack's buckets, a log bucket, Config's delivery bucket or cf-templates-…"
    )


def log_bucket_label(ctx: Context) -> str:
    """How hints name the log bucket: the one the upload bucket logs to, else the lab's name."""
    return logs_of_upload(ctx) or made.LOG.label(ctx.suffix)


def upload_bucket(ctx: Context) -> str | None:
    """The workload's upload bucket, or None without a stack (lab 4 works on any account)."""
    info = ctx.find_stack()
    resource = info.resources.get("FileUploadsBucket") if info is not None else None
    return resource.physical_id if resource is not None and resource.physical_id else None


def logs_of_upload(ctx: Context) -> str | None:
    """The log bucket of lab 2, whatever its name: where the upload bucket sends its access logs."""
    upload = upload_bucket(ctx)
    logging = access_logging(ctx.client("s3"), upload) if upload else None
    return logging.target_bucket if logging is not None and logging.target_bucket != upload else None


def watching(recorder: Recorder | None) -> bool:
    """Config will (re-)evaluate bucket changes: it records S3 buckets and is recording."""
    return recorder is not None and recorder.recording and recorder.records(S3_BUCKET)


def not_watching_hint() -> str:
    return (
        "AWS Config is not recording S3 buckets, so it cannot evaluate them: AWS Config → Settings → "
        "record AWS::S3::Bucket (or all resource types) and start recording (step lab4.recorder)."
    )


def missing_rule_check(spec: RuleSpec, rules: list[ConfigRule]) -> Check | None:
    """A failing check when no rule of the account does the lab rule's job."""
    finding = find_rule(rules, spec)
    if finding.rule is not None:
        return None
    return Check.fail(
        f"rule {spec.name}",
        f"no active AWS managed rule {spec.source_identifier} of yours covers S3 buckets, so nothing of the lab "
        f"evaluates {spec.what}{service_rules_note(finding)}",
        f"Add the rule first (step lab4.rules): AWS Config → Rules → Add rule → AWS managed rule "
        f"{spec.name} → Next → Save.",
    )


@dataclass(frozen=True)
class Judged:
    """One bucket under one rule: what its settings call for and what Config said."""

    view: BucketView
    expected: str
    evaluation: Evaluation | None

    @property
    def agrees(self) -> bool:
        return self.evaluation is not None and self.evaluation.verdict == self.expected

    def said(self) -> str:
        if self.evaluation is None:
            return "not evaluated yet"
        when = f" at {self.evaluation.recorded:%Y-%m-%d %H:%M:%S}" if self.evaluation.recorded else ""
        return f"Config says {self.evaluation.verdict}{when}"


def judge(ctx: Context, rule: ConfigRule, buckets: Iterable[str]) -> tuple[list[Judged], list[str]]:
    """Config's verdicts next to the buckets' real settings; also the buckets that are gone."""
    s3 = ctx.client("s3")
    verdicts = evaluations(ctx.client("config"), rule.name)
    names = sorted({*verdicts, *buckets})
    views = fan_out(lambda bucket: bucket_view(s3, bucket) if bucket_exists(s3, bucket) else None, names)
    judged = [Judged(v, v.expected(rule), verdicts.get(v.name)) for v in views if v is not None]
    gone = [bucket for bucket, view in zip(names, views, strict=True) if view is None]
    return judged, gone


def judge_rules(ctx: Context, rules: list[ConfigRule], buckets: list[str]) -> dict[str, tuple[list[Judged], list[str]]]:
    """`judge` for each lab rule the account has, all at once (by rule name)."""
    found = [r for spec in LAB_RULES if (r := find_rule(rules, spec).rule) is not None]
    return dict(zip([r.name for r in found], fan_out(lambda rule: judge(ctx, rule, buckets), found), strict=True))


def lab_buckets(ctx: Context) -> list[str]:
    """The buckets lab 4 is about: the demo bucket (once created) and the upload bucket."""
    demo = demo_bucket(ctx)
    found = [demo] if demo else []
    upload = upload_bucket(ctx)
    return [*found, upload] if upload else found


def ensure_demo_bucket(ctx: Context) -> bool:
    """Create the lab's demo bucket with S3's defaults (no access logging) unless it exists."""
    s3 = ctx.client("s3")
    if demo_bucket(ctx) is not None:
        return False
    # A new name for each deployment: S3 holds a deleted bucket's name for hours.
    demo = made.new_name(made.DEMO, ctx.suffix)
    params: dict[str, object] = {"Bucket": demo}
    if ctx.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
    s3.create_bucket(**params)
    s3.put_bucket_tagging(Bucket=demo, Tagging={"TagSet": made.tags(made.DEMO, ctx.stack_name)})
    ctx.note(f"created the demo bucket {demo} with S3's defaults: no server access logging")
    return True


def evaluation_needed(ctx: Context, buckets: list[str]) -> list[str]:
    """Lab rules whose verdict on one of `buckets` is missing or disagrees with its settings."""
    stale = []
    rules = config_rules(ctx.client("config"))
    for spec in LAB_RULES:
        rule = find_rule(rules, spec).rule
        if rule is None:
            continue
        judged, _ = judge(ctx, rule, buckets)
        if any(not j.agrees for j in judged if j.view.name in buckets):
            stale.append(rule.name)
    return stale


def region_check(ctx: Context) -> Check | None:
    """The one line for a region where a managed rule of the lab does not exist."""
    line = missing_rules_line(ctx.region)
    if line is None:
        return None
    hint = f"Run lab 4 in a region that offers the rules, e.g. --region us-east-1 (not {ctx.region})."
    return Check.fail("region", line, hint)


def request_evaluation(ctx: Context, buckets: list[str], changed: list[str], mark: RecordingMark) -> bool:
    """Ask Config to re-evaluate the lab rules whose verdicts on `buckets` are stale.

    An evaluation judges only the last *recorded* configuration, so first wait until Config has
    recorded the buckets changed since `mark`. Config refuses a request while an evaluation runs
    or within a minute of the last (LimitExceededException): then wait, retrying once the minute is
    over, unless Config's verdicts catch up meanwhile (changed buckets are re-evaluated by themselves).
    """
    config = ctx.client("config")
    if changed and watching(describe_recorder(config)):
        unrecorded = wait_until_recorded(
            config, changed, mark, RECORDING_WAIT_S * ctx.settings.wait_scale, RECORDING_POLL_S
        )
        if unrecorded:
            ctx.note(f"Config has not recorded the change of {', '.join(unrecorded)} yet; asking anyway")
    end = time.monotonic() + (REQUEST_INTERVAL_S + 2 * RETRY_POLL_S) * ctx.settings.wait_scale
    said = False
    while True:
        stale = evaluation_needed(ctx, buckets)
        if not stale:
            return False  # caught up (or nothing to ask for)
        answer = start_evaluation(config, stale)
        if answer is EvaluationRequest.STARTED:
            ctx.note(f"started an evaluation of {', '.join(stale)} (Config evaluates asynchronously)")
            return True
        if time.monotonic() >= end:
            ctx.note(f"Config still refuses to evaluate {', '.join(stale)} ({answer.value}); check again later")
            return False
        if not said:
            ctx.note(f"Config refused to evaluate {', '.join(stale)}: {answer.value}; asking again after the minute")
            said = True
        time.sleep(RETRY_POLL_S)


def mark_recording(ctx: Context) -> RecordingMark:
    """Before changing the lab's buckets: what Config has recorded of them so far."""
    return recording_mark(ctx.client("config"), lab_buckets(ctx))  # a demo bucket made later: any recording is new


class RecorderStep(Step):
    id = "lab4.recorder"
    title = "AWS Config records S3 buckets"
    controls = ("CA-7", "CM-8")
    prefetch = ("config",)
    why = """
        Lab 2 fixed the upload bucket once; continuous monitoring (CA-7) notices when any bucket
        drifts from the baseline later. AWS Config can only judge what it records: its
        configuration recorder must record S3 buckets (AWS::S3::Bucket, or all resource types),
        be started, and deliver its configuration history through a delivery channel to an S3
        bucket. That recorded inventory is also a component inventory (CM-8). Passes when such a
        recorder exists, is recording (its last status is not a failure), its IAM role exists, and
        the delivery channel's bucket exists.
    """
    console = """
        AWS Config → Settings (or "Get started" the first time) → Recording strategy: "Specific
        resource types" → add AWS::S3::Bucket (frequency: continuous) → IAM role for AWS Config:
        "Use an existing AWS Config service-linked role" (AWSServiceRoleForConfig) → Delivery
        channel: "Create a bucket" (keep the suggested name) → Save. Then on the Settings page make
        sure the recorder says "Recording is on" (Start recording otherwise).
    """
    automation = """
        Creates the AWSServiceRoleForConfig service-linked role if it is missing; creates or
        updates the region's recorder (`default`, or the existing one) so it records
        AWS::S3::Bucket with that role, keeping whatever else it already recorded; creates a
        delivery bucket immersion-config-delivery-<suffix>-<random> (a new name per deployment;
        one it made before is found by its tag) secured like a log bucket (ACLs disabled, Block
        Public Access, SSE-S3, AWS's delivery policy for config.amazonaws.com, TLS only; tagged
        labrunner:lab=immersion) and the delivery channel `default` to it when no
        channel delivers to an existing bucket; starts recording.
    """
    hint = "Set up AWS Config to record AWS::S3::Bucket with a delivery channel, and start recording."
    poll = Poll(deadline_s=60, interval_s=2)

    def apply(self, ctx: Context) -> bool:
        config, iam, s3 = ctx.client("config"), ctx.client("iam"), ctx.client("s3")
        changed = False
        recorder = describe_recorder(config)
        role_arn = recorder.role_arn if recorder is not None and recorder.role_arn else ""
        if not role_arn or not role_exists(iam, role_arn):
            if ensure_service_linked_role(iam, ctx.account_id, ctx.region):
                ctx.note("created the service-linked role AWSServiceRoleForConfig")
                changed = True
            role_arn = service_linked_role_arn(ctx.account_id, ctx.region)
        if recorder is None or not recorder.records(S3_BUCKET) or recorder.role_arn != role_arn:
            name = recorder.name if recorder is not None else RECORDER_NAME
            group = recording_group_with(recorder, S3_BUCKET)
            config.put_configuration_recorder(
                ConfigurationRecorder={"name": name, "roleARN": role_arn, "recordingGroup": group}
            )
            scope = "all supported resource types" if group.get("allSupported") else ", ".join(group["resourceTypes"])
            if recorder is not None and not recorder.records(S3_BUCKET):
                ctx.note(
                    f"kept the account's recorder {name} (AWS allows one per region) and added {S3_BUCKET} to "
                    f"what it records, now {scope}"
                )
            ctx.note(f"configuration recorder {name} records {scope} with role {role_arn.rsplit('/', 1)[-1]}")
            recorder = describe_recorder(config)
            changed = True
        assert recorder is not None
        channels = delivery_channels(config)
        # A channel to another account's bucket (Control Tower's log archive: HeadBucket → 403) delivers too.
        if not any(delivery_bucket_state(s3, c.bucket) != "missing" for c in channels):
            bucket = made.find_or_name(s3, made.DELIVERY, ctx)
            changed |= ensure_delivery_bucket(s3, bucket, account=ctx.account_id, region=ctx.region, note=ctx.note)
            name = channels[0].name if channels else CHANNEL_NAME
            config.put_delivery_channel(DeliveryChannel={"name": name, "s3BucketName": bucket})
            ctx.note(f"delivery channel {name} delivers to s3://{bucket}")
            changed = True
        if not recorder.recording:
            config.start_configuration_recorder(ConfigurationRecorderName=recorder.name)
            ctx.note(f"started recording ({recorder.name})")
            changed = True
        return changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        config, s3 = ctx.client("config"), ctx.client("s3")
        recorder = describe_recorder(config)
        if recorder is None:
            yield Check.fail(
                "configuration recorder",
                f"AWS Config has no configuration recorder in {ctx.region}",
                "Set up AWS Config: AWS Config → Get started (or Settings) → record AWS::S3::Bucket → "
                "service-linked role → create a delivery bucket → Save.",
            )
            return
        if recorder.records(S3_BUCKET):
            yield Check.ok("records S3 buckets", f"recorder {recorder.name} records {recorder.scope()}")
        else:
            yield Check.fail(
                "records S3 buckets",
                f"recorder {recorder.name} records {recorder.scope()}, not AWS::S3::Bucket",
                "AWS Config → Settings → Edit → Recording strategy → add AWS::S3::Bucket to the resource "
                "types (or record all resource types) → Save.",
            )
        if not recorder.recording:
            yield Check.fail(
                "recording",
                f"recorder {recorder.name} is stopped: Config sees no changes while it is",
                "AWS Config → Settings → Recorder → Start recording (it is off).",
            )
        elif recorder.last_status == "FAILURE":
            yield Check.fail(
                "recording",
                f"recorder {recorder.name} is on but its last recording failed: {recorder.last_error or 'no reason'}",
                "Check the recorder's IAM role and the delivery bucket's policy (AWS Config → Settings).",
            )
        else:
            yield Check.ok("recording", f"recorder {recorder.name} is recording")
        if recorder.role_arn and role_exists(ctx.client("iam"), recorder.role_arn):
            yield Check.ok("recorder role", f"Config records with {recorder.role_arn.rsplit('/', 1)[-1]}")
        else:
            yield Check.fail(
                "recorder role",
                f"the recorder's role {recorder.role_arn or '(none)'} does not exist",
                "AWS Config → Settings → Edit → IAM role: use the AWS Config service-linked role → Save.",
            )
        channels = delivery_channels(config)
        states = {c.name: delivery_bucket_state(s3, c.bucket) for c in channels}
        delivering = [c for c in channels if states[c.name] != "missing"]
        if delivering:
            c = delivering[0]
            where = (
                " (a bucket of another account: this account may not read it, e.g. AWS Control Tower's log archive)"
                if states[c.name] == "elsewhere"
                else ""
            )
            yield Check.ok(
                "delivery channel", f"delivery channel {c.name} delivers to s3://{c.bucket}/{c.prefix}{where}"
            )
        else:
            detail = (
                f"delivery channel {channels[0].name} points at bucket {channels[0].bucket!r}, which does not exist"
                if channels
                else "there is no delivery channel: Config cannot store its configuration history"
            )
            yield Check.fail(
                "delivery channel",
                detail,
                "AWS Config → Settings → Edit → Delivery method → Create a bucket (or choose an existing one) → Save.",
            )


class RulesStep(Step):
    id = "lab4.rules"
    title = "Config rules flag buckets without access logging or default encryption"
    controls = ("CA-7", "CM-6")
    prefetch = ("config",)
    why = """
        Configuration settings (CM-6) are only enforced if something keeps comparing them with
        reality (CA-7). Two AWS managed rules do this for S3: S3_BUCKET_LOGGING_ENABLED flags a
        bucket without server access logging, S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED one
        without default encryption. Passes when each runs as an active rule covering S3 buckets,
        whatever it is called (the lab names them s3-bucket-logging-enabled and
        s3-bucket-server-side-encryption-enabled). A rule with the lab's name that runs
        something else fails, named.
    """
    console = """
        AWS Config → Rules → Add rule → "Add AWS managed rule" → search "s3-bucket-logging-enabled"
        → select it → Next → keep the name and the defaults (scope: S3 buckets) → Next → Save.
        Repeat with "s3-bucket-server-side-encryption-enabled".
    """
    automation = """
        Adds each missing rule as the AWS managed rule (S3_BUCKET_LOGGING_ENABLED,
        S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED) scoped to AWS::S3::Bucket, named as in the lab
        and tagged labrunner:lab=immersion. A rule with the lab's name that runs another
        identifier is replaced by the managed rule; equivalent rules under other names are kept.
    """
    hint = "Add the AWS managed rules s3-bucket-logging-enabled and s3-bucket-server-side-encryption-enabled."
    poll = Poll(deadline_s=30, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        line = missing_rules_line(ctx.region)
        if line is not None:
            ctx.note(line)
            return False
        config = ctx.client("config")
        if describe_recorder(config) is None:
            # AWS Config refuses rules (NoAvailableConfigurationRecorderException) without one.
            ctx.note("no configuration recorder yet: AWS Config accepts rules only once one exists (lab4.recorder)")
            return False
        changed = False
        rules = config_rules(config)
        for spec in LAB_RULES:
            finding = find_rule(rules, spec)
            if finding.rule is not None:
                ctx.note(f"rule {finding.rule.name} already runs {spec.source_identifier}")
                continue
            if finding.misnamed is not None:
                ctx.note(
                    f"rule {spec.name} runs {finding.misnamed.owner} {finding.misnamed.source_identifier}; "
                    f"replacing it with the managed rule {spec.source_identifier}"
                )
                config.delete_config_rule(ConfigRuleName=spec.name)
            config.put_config_rule(**managed_rule_request(spec, [dict(LAB_TAG)]))
            ctx.note(f"added the AWS managed rule {spec.name} ({spec.source_identifier}) for S3 buckets")
            changed = True
        return changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        region = region_check(ctx)
        if region is not None:
            yield region
            return
        rules = config_rules(ctx.client("config"))
        for spec in LAB_RULES:
            finding = find_rule(rules, spec)
            if finding.rule is not None:
                named = "" if finding.rule.name == spec.name else f" (the lab calls it {spec.name})"
                yield Check.ok(
                    f"rule {spec.name}",
                    f"rule {finding.rule.name}{named} runs the AWS managed rule {spec.source_identifier} on S3 buckets",
                )
                continue
            same_source = [r for r in rules if r.is_managed(spec) and not r.created_by]
            if finding.misnamed is not None:
                other = finding.misnamed
                detail = (
                    f"rule {spec.name} runs {other.owner or '?'} {other.source_identifier or '?'}, "
                    f"not the AWS managed rule {spec.source_identifier}"
                )
                hint = (
                    f"AWS Config → Rules → {spec.name} → Actions → Delete rule, then Add rule → AWS managed "
                    f"rule {spec.name} → Next → Save."
                )
            elif same_source:
                r = same_source[0]
                reason = f"is {r.state}" if not r.evaluates else f"is scoped to {', '.join(r.scope_types)}"
                detail = f"rule {r.name} runs {spec.source_identifier} but {reason}, so it does not evaluate S3 buckets"
                hint = f"AWS Config → Rules → {r.name} → Edit → Scope of changes: Resources → S3 Bucket → Save."
            else:
                detail = f"no rule of yours runs the AWS managed rule {spec.source_identifier} ({spec.what})"
                hint = f"AWS Config → Rules → Add rule → AWS managed rule → search {spec.name} → Next → Save."
                if finding.services:
                    hint += (
                        f" ({finding.services[0].name} is {finding.services[0].created_by}'s own rule: it does not "
                        "count for the lab and stays as it is.)"
                    )
            yield Check.fail(f"rule {spec.name}", detail + service_rules_note(finding), hint)


class NoncomplianceStep(Step):
    id = "lab4.noncompliance"
    title = "Config flags the bucket without access logging as NON_COMPLIANT"
    controls = ("CA-7", "SI-4")
    prefetch = ("config", "buckets", "demo-bucket")
    requires = ("setup.stack",)
    why = """
        Monitoring is only worth something if its verdicts are true (CA-7, SI-4). The lab creates
        a demo bucket without server access logging and has Config evaluate it: the logging rule
        must call it NON_COMPLIANT. The encryption rule calls it COMPLIANT, because AWS has
        encrypted every new bucket with SSE-S3 by default since January 2023. Passes when both
        rules have evaluated, and Config's latest verdict on every bucket it evaluated, the demo
        and upload buckets included, agrees with the bucket's actual settings (as AWS's rule pages
        define them: the encryption rule also accepts a bucket policy that denies uploads without
        server-side encryption). Config evaluates asynchronously: while a verdict is missing or
        older than a change, the step is pending. The demo bucket may have any name: solve's, else
        one named immersion-config-demo-…, else the newest bucket made since the stack that Config
        has recorded and that is none of the stack's buckets, a log bucket, Config's delivery
        bucket or the console's cf-templates-… bucket.
    """
    console = """
        S3 → Create bucket → any name (the lab suggests immersion-config-demo- with your account
        id after it: bucket names are global) → keep the defaults (no access logging) → Create.
        Then AWS Config → Rules → s3-bucket-logging-enabled → Actions → Re-evaluate; after a
        minute the demo bucket is listed under "Noncompliant".
        s3-bucket-server-side-encryption-enabled lists it as compliant.
    """
    automation = """
        Creates the demo bucket immersion-config-demo-<suffix>-<random> (a new name per
        deployment, as S3 holds a deleted bucket's name for hours; tagged labrunner:lab=immersion
        and labrunner:stack=<stack>, so the next solve finds it) with S3's defaults, and starts
        an evaluation of both rules whenever a verdict on the demo or upload bucket is missing or
        disagrees with the bucket's settings; then waits for the verdicts.
    """
    hint = "Create a bucket without access logging and re-evaluate the rule s3-bucket-logging-enabled."
    poll = Poll(deadline_s=600, interval_s=3)

    def apply(self, ctx: Context) -> bool:
        if missing_rules_line(ctx.region) is not None:
            return False
        mark = mark_recording(ctx)
        changed = ensure_demo_bucket(ctx)
        ctx.note(f"{ENCRYPTION_RULE.name} will call it COMPLIANT: {SINCE_2023}")
        demo = demo_bucket(ctx)
        touched = [demo] if changed and demo else []
        return request_evaluation(ctx, lab_buckets(ctx), touched, mark) or changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        region = region_check(ctx)
        if region is not None:
            yield region
            return
        config = ctx.client("config")
        rules, recorder, buckets = together(
            lambda: config_rules(config), lambda: describe_recorder(config), lambda: lab_buckets(ctx)
        )
        judgements = judge_rules(ctx, rules, buckets)
        for spec in LAB_RULES:
            missing = missing_rule_check(spec, rules)
            if missing is not None:
                yield missing
                continue
            rule = find_rule(rules, spec).rule
            assert rule is not None
            yield self._verdicts(spec, rule, buckets, recorder, judgements[rule.name][0])

    def _verdicts(
        self, spec: RuleSpec, rule: ConfigRule, buckets: list[str], recorder: Recorder | None, judged: list[Judged]
    ) -> Check:
        name = f"{rule.name} verdicts"
        evaluated = [j for j in judged if j.evaluation is not None]
        wrong = [j for j in evaluated if not j.agrees]
        unevaluated = [j for j in judged if j.evaluation is None and j.view.name in buckets]
        # EVALUATING: an evaluation someone asked for (console "Re-evaluate") is still running.
        live = watching(recorder) or rule.state == "EVALUATING"
        if not evaluated:
            detail = f"{rule.name} has not evaluated any bucket yet"
            if live:
                return Check.waiting(name, detail, RE_EVALUATE.format(rule=rule.name))
            return Check.fail(name, detail, not_watching_hint())
        if wrong or unevaluated:
            parts = [f"{j.view.name}: {j.said()}, but {j.view.describe(rule)}" for j in wrong]
            parts += [f"{j.view.name}: not evaluated yet" for j in unevaluated]
            detail = "Config has not caught up: " + "; ".join(parts)
            if live:
                return Check.waiting(name, detail, RE_EVALUATE.format(rule=rule.name))
            return Check.fail(name, detail, not_watching_hint())
        flagged = sorted(j.view.name for j in evaluated if j.expected == "NON_COMPLIANT")
        compliant = sorted(j.view.name for j in evaluated if j.expected == "COMPLIANT")
        summary = f"Config's verdicts on {len(evaluated)} bucket(s) agree with their settings"
        if flagged:
            summary += f"; NON_COMPLIANT ({spec.what} missing): {', '.join(flagged)}"
        if compliant:
            summary += f"; COMPLIANT: {', '.join(compliant)}"
        if spec is ENCRYPTION_RULE and not flagged:
            summary += f". {SINCE_2023}."
        return Check.ok(name, summary)


class RemediatedStep(Step):
    id = "lab4.remediated"
    title = "The demo and upload buckets are COMPLIANT with both rules"
    controls = ("CM-6",)
    prefetch = ("config", "buckets", "demo-bucket")
    requires = ("setup.stack",)
    why = """
        A finding is closed when the configuration is fixed and the monitor confirms it (CM-6).
        The lab turns on server access logging (to the lab's log bucket) and SSE-S3 default
        encryption for the demo bucket and the upload bucket, re-evaluates, and Config reports
        both COMPLIANT with both rules. Passes when both buckets' settings satisfy the rules and
        Config's latest verdicts say COMPLIANT (pending while Config has not re-evaluated).
        Log buckets stay NON_COMPLIANT with the logging rule and are exempt: a log bucket cannot
        log to itself (every delivered log object would be a request to log, without end).
    """
    console = """
        S3 → immersion-config-demo-… → Properties → Server access logging → Edit → Enable →
        destination s3://immersion-upload-logs-…/config-demo/ (the log bucket of lab 2) →
        Save. Same for the upload bucket if lab 2 was skipped. Default encryption → Edit → SSE-S3
        (already on for new buckets). Then AWS Config → Rules → each rule → Actions → Re-evaluate.
    """
    automation = """
        Creates the demo bucket if needed; makes sure the log bucket (the one the upload bucket
        logs to, else the lab's immersion-upload-logs-… found by its tags, else created as
        lab2.log-bucket does) exists,
        is secured, and accepts logs of the demo and upload buckets; turns on logging of the demo
        bucket to config-demo/ and of the upload bucket (unless it already logs to another
        bucket); sets SSE-S3 where default encryption is missing; starts an evaluation when a
        verdict is stale.
    """
    hint = "Turn on server access logging (and default encryption) for the demo and upload buckets, then re-evaluate."
    poll = Poll(deadline_s=600, interval_s=3)

    def apply(self, ctx: Context) -> bool:
        if missing_rules_line(ctx.region) is not None:
            return False
        s3 = ctx.client("s3")
        mark = mark_recording(ctx)
        changed = ensure_demo_bucket(ctx)
        demo = demo_bucket(ctx)
        assert demo is not None
        touched = {demo} if changed else set()
        upload = upload_bucket(ctx)
        buckets = [demo] + ([upload] if upload else [])
        # Buckets that already log to another bucket keep their target (a student's choice).
        unlogged = [b for b in buckets if (now := access_logging(s3, b)) is None or now.target_bucket == b]
        if unlogged:
            log_bucket = logs_of_upload(ctx) or made.find(s3, made.LOG, ctx, any_ending=True)
            log_bucket = log_bucket or made.new_name(made.LOG, ctx.suffix)
            changed |= made.ensure_log_bucket(
                s3, log_bucket, ctx, account=ctx.account_id, source_buckets=unlogged, note=ctx.note
            )
            for bucket in unlogged:
                prefix = DEMO_LOG_PREFIX if bucket == demo else None
                if enable_access_logging(s3, bucket, target_bucket=log_bucket, target_prefix=prefix, note=ctx.note):
                    touched.add(bucket)
                    changed = True
        for bucket in buckets:
            if bucket_view(s3, bucket).sse_algorithm is None:
                s3.put_bucket_encryption(
                    Bucket=bucket,
                    ServerSideEncryptionConfiguration={
                        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                    },
                )
                ctx.note(f"set default encryption SSE-S3 on {bucket}")
                touched.add(bucket)
                changed = True
            else:
                ctx.note(f"{bucket} already has default encryption (AWS's default since January 2023)")
        return request_evaluation(ctx, lab_buckets(ctx), sorted(touched), mark) or changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        region = region_check(ctx)
        if region is not None:
            yield region
            return
        config = ctx.client("config")
        rules, recorder, search, upload = together(
            lambda: config_rules(config),
            lambda: describe_recorder(config),
            lambda: demo_search(ctx),
            lambda: upload_bucket(ctx),
        )
        demo = search.bucket
        targets = [demo] if demo else []
        if targets:
            yield Check.ok("demo bucket", f"{targets[0]}: {demo_reason(ctx, targets[0])}")
        else:
            label = made.DEMO.label(ctx.suffix)
            yield Check.fail(
                "demo bucket",
                f"there is no demo bucket for lab 4 in {ctx.region}: none named {label}, and no bucket made since "
                "the stack that AWS Config has recorded (the stack's buckets, log buckets, Config's delivery "
                "bucket and cf-templates-… do not count)"
                + (f"; the newest passed over: {search.explain()}" if search.passed_over else ""),
                f"Create it first (step lab4.noncompliance): S3 → Create bucket → any name, e.g. {label} → keep "
                "the defaults → Create; it counts once AWS Config has recorded it (lab4.recorder on).",
            )
        if upload:
            targets.append(upload)
        judgements = judge_rules(ctx, rules, targets)
        for spec in LAB_RULES:
            missing = missing_rule_check(spec, rules)
            if missing is not None:
                yield missing
                continue
            rule = find_rule(rules, spec).rule
            assert rule is not None
            judged, _ = judgements[rule.name]
            for j in judged:
                if j.view.name in targets:
                    yield self._bucket_check(j, rule, spec, recorder, ctx)
            if spec is LOGGING_RULE:
                exempt = self._exempt(judged, targets, ctx)
                if exempt is not None:
                    yield exempt

    def _bucket_check(
        self, j: Judged, rule: ConfigRule, spec: RuleSpec, recorder: Recorder | None, ctx: Context
    ) -> Check:
        bucket = j.view.name
        name = f"{bucket} vs {rule.name}"
        if j.expected != "COMPLIANT":
            if spec is LOGGING_RULE:
                hint = (
                    f"S3 → {bucket} → Properties → Server access logging → Edit → Enable → destination "
                    f"s3://{log_bucket_label(ctx)}/ (a separate log bucket, not {bucket} itself) → Save."
                )
            else:
                hint = f"S3 → {bucket} → Properties → Default encryption → Edit → SSE-S3 → Save."
            return Check.fail(name, f"{bucket}: {j.view.describe(rule)}, so {rule.name} cannot be met", hint)
        if j.agrees:
            return Check.ok(name, f"{bucket} is COMPLIANT ({j.view.describe(rule)})")
        detail = f"{bucket} is fixed ({j.view.describe(rule)}) but {j.said()}"
        if watching(recorder) or rule.state == "EVALUATING":
            return Check.waiting(name, detail, RE_EVALUATE.format(rule=rule.name))
        return Check.fail(name, detail, not_watching_hint())

    def _exempt(self, judged: list[Judged], targets: list[str], ctx: Context) -> Check | None:
        """Name the NON_COMPLIANT log buckets and say why they do not count."""
        log_targets = {j.view.log_target for j in judged if j.view.log_target}
        log_targets |= {c.bucket for c in delivery_channels(ctx.client("config"))}
        exempt = sorted(
            j.view.name
            for j in judged
            if j.view.name not in targets and j.expected == "NON_COMPLIANT" and j.view.name in log_targets
        )
        others = sorted(
            j.view.name
            for j in judged
            if j.view.name not in targets and j.expected == "NON_COMPLIANT" and j.view.name not in log_targets
        )
        if not exempt and not others:
            return None
        parts = []
        if exempt:
            parts.append(
                f"exempt, NON_COMPLIANT with {LOGGING_RULE.name} by design: {', '.join(exempt)} — log buckets "
                "cannot log to themselves (each log delivery would itself be logged, without end)"
            )
        if others:
            parts.append(f"not part of the lab, left alone: {', '.join(others)}")
        return Check.ok("other buckets", "; ".join(parts))


LAB = Lab(
    id="lab4",
    title="AWS Config watches the S3 buckets",
    order=40,
    summary=(
        "Turn one-off fixes into continuous monitoring: AWS Config records S3 buckets, two managed "
        "rules flag buckets without access logging or default encryption, and a fixed bucket turns COMPLIANT."
    ),
    steps=(RecorderStep(), RulesStep(), NoncomplianceStep(), RemediatedStep()),
)
