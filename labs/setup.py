"""Setup: deploy the deliberately insecure workload and prove it works."""

from __future__ import annotations

import time
from collections.abc import Iterable

from labrunner import paths
from labrunner.aws.cfn import (
    deployed_template,
    first_failure_reason,
    stack_status,
    wait_for_stack,
)
from labrunner.aws.pipeline import (
    item_for,
    newest_uploads,
    pipeline_check,
    record_problems,
    trigger_starting,
    upload_file,
)
from labrunner.context import Context
from labrunner.model import Check
from labrunner.step import Lab, Poll, Step

# The logical ids users and other tools find the workload by (SPEC §4).
LAB_LOGICAL_IDS = (
    "FileUploadsBucket",
    "S3NotificationQueue",
    "S3NotificationQueuePolicy",
    "MetadataLambda",
    "MetadataLambdaRole",
    "QueueLambdaSourceMapping",
    "ObjectMetadataTable",
)
GOOD_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
STACK_TAGS = [{"Key": "labrunner:lab", "Value": "immersion"}]
# CloudFormation does not delete a stack whose bucket still holds objects: a half-done deletion
# is repaired by a clean removal and a new deployment.
REDEPLOY = (
    "`labrunner reset` removes the half-deleted stack (emptying its buckets) and what the labs added, then "
    "`labrunner up` deploys the workload again"
)
PROBE_FILE = "The Lighthouse Keeper's Log.txt"
DEFAULT_STACK = "immersion"


def missing_stack_hint(name: str) -> str:
    """For a stack name given with --stack-name: a typo is as likely as a workload not deployed."""
    return (
        f"Check the name given with --stack-name (CloudFormation → Stacks lists yours), or deploy the "
        f"workload under that name: `labrunner up --stack-name {name}`."
    )


class Stack(Step):
    id = "setup.stack"
    title = "The workload's CloudFormation stack is deployed"
    controls = ("CM-2",)
    why = """
        The lab's workload — an S3 upload bucket whose events go to an SQS queue, a Lambda
        function that reads the queue and writes each object's metadata to a DynamoDB table —
        is defined in cloudformation_template.yaml. Deploying it from a template gives a known
        baseline configuration (CM-2) that every later lab changes and that lab 1 inventories.
        Passes when the stack is CREATE_COMPLETE or UPDATE_COMPLETE and holds every resource of
        its template, with the lab's logical ids.
    """
    console = """
        CloudFormation → Create stack → With new resources → Upload a template file →
        cloudformation_template.yaml → stack name `immersion` → keep the parameters → acknowledge
        that the stack creates IAM resources → Submit. Wait for CREATE_COMPLETE.
    """
    automation = """
        Creates the stack `immersion` from cloudformation_template.yaml (CAPABILITY_IAM, tagged
        labrunner:lab=immersion) and waits, printing stack events. A stack that already exists and is
        complete is left alone; one that failed to create (ROLLBACK_COMPLETE) is deleted and created again.
    """
    hint = "Deploy the workload: `labrunner up`, or create the stack `immersion` from cloudformation_template.yaml."
    poll = Poll(deadline_s=30, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        cfn = ctx.client("cloudformation")
        name = ctx.stack_name
        status = stack_status(cfn, name)
        if status and status.endswith("_IN_PROGRESS"):
            ctx.note(f"stack {name} is {status}; waiting")
            status = wait_for_stack(cfn, name, ctx.note)
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
            ctx.note(f"stack {name} already exists ({status})")
            return False
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"):
            ctx.note(f"stack {name} is {status}; deleting it to create it again")
            cfn.delete_stack(StackName=name)
            if wait_for_stack(cfn, name, ctx.note) != "DELETE_COMPLETE":
                # E.g. a student's half-done deletion: a bucket still holds objects. Emptying it is
                # not solve's call (it would destroy data); verify says how to go on.
                ctx.note(f"stack {name} cannot be deleted ({first_failure_reason(cfn, name)})")
                return False
        body = paths.template().read_text()
        ctx.note(f"creating stack {name} from {paths.template().name}")
        started = time.time() - 1
        cfn.create_stack(
            StackName=name,
            TemplateBody=body,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            Tags=STACK_TAGS,
        )
        final = wait_for_stack(cfn, name, ctx.note, since=started)
        if final != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {name} ended {final}: {first_failure_reason(cfn, name)}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        info = ctx.find_stack()
        if info is None:
            yield Check.fail(
                "stack exists",
                f"there is no stack named {ctx.stack_name!r} in {ctx.region}",
                self.hint if ctx.stack_name == DEFAULT_STACK else missing_stack_hint(ctx.stack_name),
            )
            return
        if info.status.endswith("_IN_PROGRESS"):
            yield Check.waiting("stack complete", f"stack {info.name} is {info.status}", "Wait for it to finish.")
            return
        if info.status not in GOOD_STATUSES:
            cfn = ctx.client("cloudformation")
            if info.status == "DELETE_FAILED":
                yield Check.fail(
                    "stack complete",
                    f"stack {info.name} is half deleted (DELETE_FAILED: {first_failure_reason(cfn, info.name)})",
                    f"{REDEPLOY}. (By hand: empty the bucket named in the stack's Events "
                    "tab, delete the stack again, then deploy it.)",
                )
                return
            yield Check.fail(
                "stack complete",
                f"stack {info.name} is {info.status}",
                "Open the stack's Events tab to see what failed; delete the stack and deploy it again "
                "(`labrunner up`).",
            )
            return
        yield Check.ok("stack complete", f"stack {info.name} is {info.status}")
        template = deployed_template(ctx.client("cloudformation"), info.stack_id)
        declared = set(template.get("Resources", {}))
        missing_ids = [lid for lid in LAB_LOGICAL_IDS if lid not in declared]
        if missing_ids:
            yield Check.fail(
                "lab resources declared",
                f"the stack's template lacks {', '.join(missing_ids)}",
                "This stack is not the lab's workload: deploy cloudformation_template.yaml (or pass --stack-name).",
            )
        else:
            yield Check.ok("lab resources declared", f"the template declares all {len(LAB_LOGICAL_IDS)} lab resources")
        absent = sorted(lid for lid in declared if lid not in info.resources)
        incomplete = sorted(
            f"{r.logical_id} ({r.status})"
            for r in info.resources.values()
            if r.logical_id in declared and not r.status.endswith("_COMPLETE")
        )
        if absent or incomplete:
            detail = "; ".join(
                part
                for part in (
                    f"not created: {', '.join(absent)}" if absent else "",
                    f"not complete: {', '.join(incomplete)}" if incomplete else "",
                )
                if part
            )
            yield Check.fail("every resource created", detail, "Update or redeploy the stack (`labrunner up`).")
        else:
            yield Check.ok("every resource created", f"{len(declared)} resources created")


class Pipeline(Step):
    id = "setup.pipeline"
    title = "An upload to the bucket shows up in the metadata table"
    controls = ()
    requires = ("setup.stack",)
    why = """
        Proves the workload works end to end before anything is secured: S3 sends an event for
        the new object to the SQS queue, the Lambda function receives it and writes the object's
        metadata (S3ObjectName = the key, Bucket, Size, CreatedTime, Operation) to the DynamoDB
        table. Later labs must keep this working. Passes when the newest object in the upload
        bucket has a matching item in the table.
    """
    console = """
        S3 → the stack's upload bucket (FileUploadsBucket, see the stack's Outputs) → Upload → add
        a file from sample_s3_files/ → Upload. Then DynamoDB → Tables → the stack's table →
        Explore table items: an item whose S3ObjectName is the file's name appears within seconds.
    """
    automation = f"""
        Uploads sample_s3_files/{PROBE_FILE} to the upload bucket (unless the newest upload is already
        recorded) and waits for its item in the metadata table.
    """
    hint = "Upload a file to the upload bucket and check that its item appears in the metadata table."
    poll = Poll(deadline_s=60, interval_s=0.25)

    def apply(self, ctx: Context) -> bool:
        workload = ctx.workload()
        s3, dynamodb = ctx.client("s3"), ctx.client("dynamodb")
        newest = newest_uploads(s3, workload.bucket, limit=1)
        if newest and not record_problems(
            item_for(dynamodb, workload.table, newest[0].key), workload.bucket, newest[0]
        ):
            ctx.note(f"{newest[0].key!r} is already recorded in {workload.table}")
            return False
        probe = paths.sample_files_dir() / PROBE_FILE
        key = upload_file(s3, workload.bucket, probe)
        ctx.note(f"uploaded {key!r} to s3://{workload.bucket}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        workload = ctx.workload()
        recorded = pipeline_check(ctx.client("s3"), ctx.client("dynamodb"), workload, name="upload recorded")
        state = None if recorded.passed else trigger_starting(ctx.client("lambda"), workload.function)
        if state is not None:
            # A new trigger takes a while (up to minutes) to start polling the queue: not a failure.
            yield Check.waiting(
                "upload recorded",
                f"{recorded.detail}; the queue's trigger of {workload.function} is still starting "
                f"(its state is {state}), the upload waits in the queue",
                "Wait a minute and check again: Lambda starts reading the queue once the trigger is Enabled.",
            )
            return
        yield recorded


LAB = Lab(
    id="setup",
    title="Deploy the workload",
    order=0,
    summary="Deploy the deliberately insecure workload and prove an upload reaches the table.",
    steps=(Stack(), Pipeline()),
)
