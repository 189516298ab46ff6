"""Find what the lab made in an account and plan its removal. Reads only: it runs on read-only clients."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from labrunner import paths
from labrunner.aws.cfn import deployed_template, load_template
from labrunner.aws.config import DELIVERY_BUCKET_PREFIX, DEMO_BUCKET_PREFIX, LAB_RULES
from labrunner.aws.errors import error_code
from labrunner.aws.stack import StackInfo
from labrunner.context import Context
from labrunner.errors import UsageError
from labrunner.reset import ownership as own
from labrunner.reset.model import Kind, Plan, PlanItem

LAB_RULE_SOURCES = {rule.source_identifier: rule.name for rule in LAB_RULES}
MAX_LOG_OBJECTS = 20_000  # beyond this, a log target is not scanned and is kept
TAG_LOOKUPS = 8  # bucket tag reads at once


def _bucket_region(location: str | None) -> str:
    if not location:
        return "us-east-1"
    return "eu-west-1" if location == "EU" else location


def _shipped_function_ids() -> set[str]:
    """Logical ids of the functions in the templates labrunner ships (for stacks already gone)."""
    ids: set[str] = set()
    try:
        root = paths.template().parent
    except UsageError:
        return {"MetadataLambda"}
    for path in sorted(root.glob("cloudformation_template*.yaml")):
        try:
            resources = load_template(path.read_text()).get("Resources", {})
        except (OSError, ValueError):
            continue
        ids.update(lid for lid, r in resources.items() if isinstance(r, dict) and r.get("Type") == own.FUNCTION_TYPE)
    return ids or {"MetadataLambda"}


@dataclass
class _Discovery:
    ctx: Context
    items: list[PlanItem] = field(default_factory=list)
    kept: list[PlanItem] = field(default_factory=list)
    claimed_buckets: dict[str, PlanItem] = field(default_factory=dict)
    function_names: set[str] = field(default_factory=set)
    function_ids: set[str] = field(default_factory=set)
    other_stacks: list[str] = field(default_factory=list)  # the account's other lab stacks (this region)
    logs_from_others: dict[str, list[str]] = field(default_factory=dict)  # log bucket -> their buckets logging to it

    def client(self, service: str) -> Any:
        return self.ctx.client(service)

    def add(self, item: PlanItem) -> None:
        if item.delete:
            if item.kind is Kind.BUCKET:
                if item.name in self.claimed_buckets:
                    return
                self.claimed_buckets[item.name] = item
            elif any(i.kind is item.kind and i.name == item.name for i in self.items):
                return
            self.items.append(item)
        elif not any(i.kind is item.kind and i.name == item.name for i in self.kept):
            self.kept.append(item)

    # -- the account's other lab stacks ---------------------------------------------------------
    def others(self) -> None:
        """Other students' workload stacks in this account and region (SPEC §7): what they use stays."""
        cfn = self.client("cloudformation")
        s3 = self.client("s3")
        for page in cfn.get_paginator("list_stacks").paginate():
            for summary in page.get("StackSummaries", []):
                name = summary.get("StackName", "")
                if name == self.ctx.stack_name or summary.get("StackStatus") == "DELETE_COMPLETE":
                    continue
                try:
                    rows = cfn.list_stack_resources(StackName=summary["StackId"])["StackResourceSummaries"]
                except ClientError:
                    continue
                if not own.workload_stack(r["LogicalResourceId"] for r in rows):
                    continue
                self.other_stacks.append(name)
                for row in rows:
                    bucket = row.get("PhysicalResourceId", "")
                    if row["ResourceType"] != own.BUCKET_TYPE or not bucket:
                        continue
                    self._note_log_target(s3, bucket, f"{bucket} (stack {name})")
        if not self.other_stacks:
            return
        # Lab 4's demo bucket is the account's (it stays with the other stacks): so is where it logs.
        for bucket in (b["Name"] for b in s3.list_buckets().get("Buckets", [])):
            if not bucket.startswith(DEMO_BUCKET_PREFIX):
                continue
            if own.owner_stack(_bucket_tags(s3, bucket)) == self.ctx.stack_name:
                continue  # unless solve made it for this stack: then it goes with it (SPEC §7)
            self._note_log_target(s3, bucket, f"{bucket} (lab 4's demo bucket)")

    def _note_log_target(self, s3: Any, bucket: str, source: str) -> None:
        """Remember that `bucket` (described as `source`) logs to another bucket, kept for it."""
        try:
            target = (s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled") or {}).get("TargetBucket")
        except ClientError:
            return
        if target and target != bucket:
            self.logs_from_others.setdefault(target, []).append(source)

    @property
    def shared_note(self) -> str:
        """Why an account-wide piece stays, or "" when this is the account's last lab stack."""
        if not self.other_stacks:
            return ""
        return (
            f"shared by the account's lab stacks, and {', '.join(sorted(self.other_stacks))} remains here: it goes "
            "with the last lab stack in this account and region"
        )

    def _kept_for_others(self, bucket: str, ours: bool = False) -> str | None:
        """Why a bucket of the lab stays for the other stacks, or None. `ours`: tagged for this stack."""
        sources = self.logs_from_others.get(bucket)
        if sources:
            return f"still receives the access logs of {', '.join(sorted(sources))}: it goes with the last of them"
        shared = bucket.startswith(DELIVERY_BUCKET_PREFIX) or (bucket.startswith(DEMO_BUCKET_PREFIX) and not ours)
        if self.shared_note and shared:
            return f"lab 4's Config bucket, {self.shared_note}"
        return None

    # -- the stack ----------------------------------------------------------------------------
    def stack(self) -> None:
        info = self.ctx.find_stack()
        if info is not None:
            self._live_stack(info)
        self._deleted_stacks()

    def _live_stack(self, info: StackInfo) -> None:
        cfn = self.client("cloudformation")
        raw = cfn.describe_stacks(StackName=info.stack_id)["Stacks"][0]
        tags = own.tag_dict(raw.get("Tags", []))
        try:
            declared = load_template(deployed_template(cfn, info.stack_id)).get("Resources", {})
        except ClientError:
            declared = {}
        logical_ids = set(info.resources) | set(declared)
        if own.lab_tagged(tags):
            why = f"the workload's stack, tagged {own.LAB_TAG_KEY}={own.LAB_TAG_VALUE} ({info.status})"
        elif own.workload_stack(logical_ids):
            why = f"the workload's stack: holds {', '.join(own.WORKLOAD_LOGICAL_IDS)} ({info.status})"
        else:
            why = (
                f"named {info.name} but not the workload: no {own.LAB_TAG_KEY} tag and no "
                f"{', '.join(own.WORKLOAD_LOGICAL_IDS)}"
            )
            self.add(PlanItem(Kind.STACK, info.name, why, delete=False))
            return
        self.add(PlanItem(Kind.STACK, info.name, why, stack_id=info.stack_id))
        self.function_ids.update(
            lid for lid, r in declared.items() if isinstance(r, dict) and r.get("Type") == own.FUNCTION_TYPE
        )
        for resource in info.resources.values():
            gone = resource.status == "DELETE_COMPLETE" or not resource.physical_id
            if resource.type == own.FUNCTION_TYPE:
                self.function_ids.add(resource.logical_id)
                if resource.physical_id:
                    self.function_names.add(resource.physical_id)
            if gone:
                continue
            where = f"resource {resource.logical_id} of stack {info.name}"
            if resource.type == own.BUCKET_TYPE:
                self.add(PlanItem(Kind.BUCKET, resource.physical_id, where, in_stack=True))
            elif resource.type == own.LOG_GROUP_TYPE:
                self.add(PlanItem(Kind.LOG_GROUP, resource.physical_id, where, in_stack=True))

    def _deleted_stacks(self) -> None:
        """Buckets an earlier deletion of the stack left behind (DeletionPolicy Retain, or retained by hand)."""
        cfn = self.client("cloudformation")
        s3 = self.client("s3")
        name = self.ctx.stack_name
        for page in cfn.get_paginator("list_stacks").paginate(StackStatusFilter=["DELETE_COMPLETE"]):
            for summary in page.get("StackSummaries", []):
                if summary.get("StackName") != name:
                    continue
                try:
                    rows = cfn.list_stack_resources(StackName=summary["StackId"])["StackResourceSummaries"]
                except ClientError:
                    continue
                for row in rows:
                    if row["ResourceType"] == own.FUNCTION_TYPE:
                        self.function_ids.add(row["LogicalResourceId"])
                    bucket = row.get("PhysicalResourceId", "")
                    if row["ResourceType"] != own.BUCKET_TYPE or not bucket or bucket in self.claimed_buckets:
                        continue
                    if _bucket_exists(s3, bucket):
                        why = (
                            f"resource {row['LogicalResourceId']} of stack {name}, left behind when the stack "
                            f"was deleted ({row['ResourceStatus']})"
                        )
                        self.add(PlanItem(Kind.BUCKET, bucket, why))

    # -- buckets outside the stack -----------------------------------------------------------
    def buckets(self) -> None:
        s3 = self.client("s3")
        names = [b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"] not in self.claimed_buckets]
        with ThreadPoolExecutor(max_workers=TAG_LOOKUPS, thread_name_prefix="reset-tags") as pool:
            tags = dict(zip(names, pool.map(lambda name: _bucket_tags(s3, name), names), strict=True))
        for name in names:
            by_name = own.lab_bucket_name(name, self.ctx.suffix)
            by_tag = f"tagged {own.LAB_TAG_KEY}={own.LAB_TAG_VALUE}" if own.lab_tagged(tags[name]) else None
            if by_name is None and by_tag is None:
                continue
            owner = own.other_stack(tags[name], self.ctx.stack_name)
            if owner in self.other_stacks:
                # made for another stack that is still here (CloudFormation propagates the lab tag to its resources)
                self.add(PlanItem(Kind.BUCKET, name, f"made for stack {owner}", delete=False, owner=owner))
                continue
            if owner is not None:
                # made for a stack that is gone (its reset kept it for ours, or it was deleted by hand)
                by_tag = f"{by_tag or by_name}, made for stack {owner}, which is gone"
            if _bucket_region(_location(s3, name)) != self.ctx.region:
                continue  # the lab in another region: that region's reset
            ours = own.owner_stack(tags[name]) == self.ctx.stack_name
            kept = self._kept_for_others(name, ours)
            if kept is not None:
                self.add(PlanItem(Kind.BUCKET, name, f"{by_tag or by_name}, but {kept}", delete=False))
                continue
            self.add(PlanItem(Kind.BUCKET, name, by_tag or by_name or "", owner=self.ctx.stack_name if ours else ""))

    def log_targets(self) -> None:
        """Buckets the lab's buckets log to: the lab's when they hold nothing but those access logs."""
        s3 = self.client("s3")
        sources: dict[str, list[tuple[str, str]]] = {}
        for item in list(self.claimed_buckets.values()):
            try:
                enabled = s3.get_bucket_logging(Bucket=item.name).get("LoggingEnabled") or {}
            except ClientError:
                continue
            target = enabled.get("TargetBucket")
            if target and target != item.name:
                sources.setdefault(target, []).append((item.name, str(enabled.get("TargetPrefix") or "")))
        for target, logging_here in sources.items():
            names = ", ".join(sorted(source for source, _ in logging_here))
            claimed = self.claimed_buckets.get(target)
            if claimed is not None:
                self._mark_log_target(claimed)
                continue
            if not _bucket_exists(s3, target):
                continue
            if own.other_stack(_bucket_tags(s3, target), self.ctx.stack_name) in self.other_stacks:
                self.add(PlanItem(Kind.BUCKET, target, f"{names} log to it, but another stack made it", delete=False))
                continue
            kept = self._kept_for_others(target)
            if kept is not None:
                self.add(PlanItem(Kind.BUCKET, target, f"{names} log to it, but it {kept}", delete=False))
                continue
            stray = _foreign_object(s3, target, [prefix for _, prefix in logging_here])
            if stray is None:
                why = f"{names} log to it, and it holds only their access logs"
                self.add(PlanItem(Kind.BUCKET, target, why, log_target=True))
            else:
                self.add(PlanItem(Kind.BUCKET, target, f"{names} log to it, but it also holds {stray}", delete=False))

    def _mark_log_target(self, item: PlanItem) -> None:
        if item.log_target:
            return
        marked = PlanItem(item.kind, item.name, item.why, item.delete, item.in_stack, True, item.stack_id)
        self.items[self.items.index(item)] = marked
        self.claimed_buckets[item.name] = marked

    # -- AWS Config ----------------------------------------------------------------------------
    def config(self) -> None:
        config = self.client("config")
        recorders = config.describe_configuration_recorders().get("ConfigurationRecorders", [])
        channels = config.describe_delivery_channels().get("DeliveryChannels", [])
        for recorder in recorders:
            if own.service_linked_recorder(recorder):
                continue
            why = self._recorder_reason(config, recorder, channels)
            if why is None:
                buckets = ", ".join(c.get("s3BucketName", "?") for c in channels) or "no bucket"
                why = (
                    f"not marked as the lab's: no {own.LAB_TAG_KEY} tag, and it delivers to {buckets}, "
                    "which the lab did not make (AWS allows one recorder per region; it may be someone else's)"
                )
                self.add(PlanItem(Kind.RECORDER, recorder["name"], why, delete=False))
                continue
            shared = self.shared_note
            self.add(PlanItem(Kind.RECORDER, recorder["name"], f"{why}; {shared}" if shared else why, not shared))
            for channel in channels:
                bucket = channel.get("s3BucketName", "")
                why = f"delivery channel of the lab's recorder (to {bucket})"
                self.add(PlanItem(Kind.CHANNEL, channel["name"], f"{why}; {shared}" if shared else why, not shared))
        self._rules(config)

    def _recorder_reason(self, config: Any, recorder: dict[str, Any], channels: list[dict[str, Any]]) -> str | None:
        arn = recorder.get("arn")
        if arn:
            try:
                tags = own.tag_dict(config.list_tags_for_resource(ResourceArn=arn).get("Tags", []))
            except ClientError:
                tags = {}
            if own.lab_tagged(tags):
                return f"tagged {own.LAB_TAG_KEY}={own.LAB_TAG_VALUE}"
        for channel in channels:
            bucket = channel.get("s3BucketName", "")
            if bucket in self.claimed_buckets or (
                self.shared_note and own.lab_bucket_name(bucket, self.ctx.suffix) is not None
            ):
                return f"delivers to {bucket}, a bucket the lab made"
        return None

    def _rules(self, config: Any) -> None:
        token: str | None = None
        while True:
            page = config.describe_config_rules(**({"NextToken": token} if token else {}))
            for rule in page.get("ConfigRules", []):
                self._rule(config, rule)
            token = page.get("NextToken")
            if not token:
                return

    def _rule(self, config: Any, rule: dict[str, Any]) -> None:
        name = rule["ConfigRuleName"]
        if rule.get("CreatedBy"):
            # A service's rule (Security Hub, conformance packs): never the lab's, never touched; listed
            # as kept so the plan and the proof say it is there and whose it is.
            why = f"created by {rule['CreatedBy']}: that service's rule, not the lab's"
            self.add(PlanItem(Kind.CONFIG_RULE, name, why, delete=False))
            return
        shared = self.shared_note
        if name in own.LAB_RULE_NAMES:
            self.add(
                PlanItem(
                    Kind.CONFIG_RULE,
                    name,
                    f"the lab's rule name; {shared}" if shared else "the lab's rule name",
                    not shared,
                )
            )
            return
        try:
            tags = own.tag_dict(config.list_tags_for_resource(ResourceArn=rule["ConfigRuleArn"]).get("Tags", []))
        except (ClientError, KeyError):
            tags = {}
        if own.lab_tagged(tags):
            why = f"tagged {own.LAB_TAG_KEY}={own.LAB_TAG_VALUE}"
            self.add(PlanItem(Kind.CONFIG_RULE, name, f"{why}; {shared}" if shared else why, not shared))
            return
        source = (rule.get("Source") or {}).get("SourceIdentifier", "")
        if source in LAB_RULE_SOURCES:
            why = f"runs {source} like the lab's {LAB_RULE_SOURCES[source]}, but has neither its name nor its tag"
            self.add(PlanItem(Kind.CONFIG_RULE, name, why, delete=False))

    # -- log groups ------------------------------------------------------------------------------
    def log_groups(self) -> None:
        logs = self.client("logs")
        ids = self.function_ids | _shipped_function_ids()
        exact = {f"/aws/lambda/{name}": name for name in self.function_names}
        prefixes = [f"/aws/lambda/{self.ctx.stack_name}-", *sorted(exact)]
        for prefix in prefixes:
            for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
                for group in page.get("logGroups", []):
                    name = group["logGroupName"]
                    if name in exact:
                        why = f"log group of the stack's function {exact[name]}"
                    elif own.function_log_group(self.ctx.stack_name, ids, name):
                        why = (
                            f"log group of a function of stack {self.ctx.stack_name} (an earlier or current deployment)"
                        )
                    else:
                        continue
                    self.add(PlanItem(Kind.LOG_GROUP, name, why))

    def plan(self) -> Plan:
        order = {kind: i for i, kind in enumerate(Kind)}
        # Execution order: the stack with its resources, Config, other buckets (log targets last), log groups.
        items = sorted(self.items, key=lambda i: (0 if i.in_stack else order[i.kind], i.log_target))
        return Plan(
            target=self.ctx.kind,
            account=self.ctx.account_id,
            region=self.ctx.region,
            stack=self.ctx.stack_name,
            items=tuple(self._owned(i) for i in (*items, *self.kept)),
            shared_with=tuple(sorted(self.other_stacks)),
        )

    def _owned(self, item: PlanItem) -> PlanItem:
        """Say which stack the item belongs to: ours, another's, or the account's lab stacks together."""
        if item.owner:
            return item
        account_wide = item.kind in (Kind.RECORDER, Kind.CHANNEL, Kind.CONFIG_RULE) or item.name.startswith(
            (DEMO_BUCKET_PREFIX, DELIVERY_BUCKET_PREFIX)
        )
        if account_wide or item.name in self.logs_from_others:
            owner = "(the account's lab stacks)"
        elif not item.delete:
            return item
        else:
            owner = self.ctx.stack_name
        return replace(item, owner=owner)


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def _bucket_tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        return own.tag_dict(s3.get_bucket_tagging(Bucket=bucket).get("TagSet", []))
    except ClientError:
        return {}  # no tags, or not ours to read (then not ours to delete either)


def _location(s3: Any, bucket: str) -> str | None:
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except ClientError:
        return "?"
    return str(location) if location else None


def _foreign_object(s3: Any, bucket: str, prefixes: Iterable[str]) -> str | None:
    """The first object that is not one of these access logs (quoted), or None when all are."""
    allowed = list(prefixes)
    seen = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            seen += 1
            if seen > MAX_LOG_OBJECTS:
                return f"more than {MAX_LOG_OBJECTS} objects (too many to be sure they are all the lab's logs)"
            if not own.is_access_log_key(version["Key"], allowed):
                return f"object {version['Key']!r}, which is not one of their access logs"
    return None


def plan_reset(ctx: Context) -> Plan:
    """What a reset of this account removes and why, and what it saw and keeps. Changes nothing."""
    discovery = _Discovery(ctx.read_only_twin())
    discovery.others()
    discovery.stack()
    discovery.buckets()
    discovery.log_targets()
    discovery.config()
    discovery.log_groups()
    return discovery.plan()
