"""Lab 1: inventory the workload's assets and compare the live stack with its template (NIST CM-8)."""

from __future__ import annotations

from collections.abc import Iterable

from labrunner.aws.cfn import deployed_template
from labrunner.aws.inventory import Asset, Inventory, build_inventory
from labrunner.context import Context
from labrunner.model import Check
from labrunner.step import Lab, Step

GOOD_STATUSES = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
STACK_TYPE = "AWS::CloudFormation::Stack"
REDEPLOY = (
    "CloudFormation does not notice a resource changed or deleted outside it: restore it by hand as the "
    "template defines it, or delete the stack and deploy it again (`labrunner up`)."
)


def take_inventory(ctx: Context) -> Inventory:
    stack = ctx.stack()
    template = deployed_template(ctx.client("cloudformation"), stack.stack_id)
    return build_inventory(ctx.client, stack, template, ctx.region, ctx.account_id)


def asset_line(asset: Asset) -> str:
    where = asset.logical_id or ("(the stack)" if asset.type == STACK_TYPE else "(outside the stack)")
    state = "" if asset.state == "present" else f" [{asset.state}]"
    parts = [
        f"{where}{state}",
        asset.type,
        asset.physical_id,
        asset.arn or "(no ARN)",
        asset.console or "(no console page)",
    ]
    return " | ".join(parts)


def _resource_hint(asset: Asset) -> str:
    page = f" ({asset.console})" if asset.console else ""
    return (
        f"Open {asset.logical_id} {asset.physical_id} in the console{page} and compare it with the template. {REDEPLOY}"
    )


class AssetInventory(Step):
    id = "lab1.inventory"
    title = "Every asset of the workload is inventoried and matches its template"
    controls = ("CM-8",)
    prefetch = ("role", "buckets")
    requires = ("setup.stack",)
    why = """
        You cannot secure what you do not know you have. NIST CM-8 (System Component
        Inventory) asks for an accurate, current list of a system's components. Because the
        workload is defined in code, CloudFormation knows every part of it: the Resources tab of
        the stack lists each resource's logical id (its name in the template), physical id (the
        real resource's name or id) and type. Some parts live outside the stack — the function's
        CloudWatch log group is created by Lambda, not by the template — and belong in the
        inventory too.

        An inventory is only true while the live resources match the code: CloudFormation does
        not notice a table deleted or a queue policy changed by hand. So this step looks up every
        resource with its own service (S3, SQS, DynamoDB, IAM, Lambda) and compares it with the
        stack's template. Passes when every resource of the template is in the stack, exists, and
        matches (event notification, queue policy, the function's role, the queue trigger).

        While you look, notice what is wrong with the workload — the inventory reports it without
        failing this step, and says which lab fixes it (or that only the template does, for parts
        no lab step touches, such as a custom resource's role): the Lambda's role carries an
        administrator-level job function policy (way too much), its trust policy lets another
        principal than Lambda assume it, its inline policy allows every DynamoDB and SQS action on
        every resource, and the upload bucket keeps no access logs. A log bucket is not faulted
        for not logging to itself (as in lab 4).
    """
    console = """
        1. CloudFormation → Stacks → immersion → Resources: note each resource's Logical ID,
           Physical ID and Type; the Physical ID links to the resource's own console page.
        2. CloudFormation → immersion → Template: compare the resources with the template.
        3. Follow each link and check the resource exists and looks as the template says (S3
           bucket → Properties → Event notifications; SQS queue → Access policy; Lambda function →
           Configuration → Permissions (execution role) and Triggers; DynamoDB → Tables).
        4. CloudWatch → Log groups → /aws/lambda/<the function's name>: the function's output.
        5. IAM → Roles → the MetadataLambdaRole…: look at Permissions policies and Trust
           relationships — what would you remove?
        Optionally, Stack actions → Detect drift shows resources changed outside CloudFormation.
    """
    automation = """
        Reads the stack, its deployed template and every resource through its own service, and
        prints the inventory: logical id, physical id, type, ARN and console link per asset, the
        log group outside the stack, then the findings. With --format json the report's
        `data.inventory` holds the same as a list. Changes nothing.
    """
    hint = (
        "Restore or redeploy the workload's missing or changed resources (`labrunner up`, or by hand in the console)."
    )

    def apply(self, ctx: Context) -> bool:
        inventory = take_inventory(ctx)
        ctx.note(
            f"inventory of stack {inventory.stack.name} ({inventory.stack.status}): {len(inventory.assets)} assets"
        )
        for asset in inventory.assets:
            ctx.note(asset_line(asset))
        return False

    def verify(self, ctx: Context) -> Iterable[Check]:
        inventory = take_inventory(ctx)
        ctx.emit("inventory", [asset.as_dict() for asset in inventory.assets])
        ctx.emit("findings", [finding.as_dict() for finding in inventory.findings])
        stack = inventory.stack
        if stack.status not in GOOD_STATUSES:
            yield Check.fail(
                "stack complete",
                f"stack {stack.name} is {stack.status}",
                "Open the stack's Events tab in CloudFormation to see what failed; redeploy it (`labrunner up`).",
            )
        yield from self._template_checks(inventory)
        for asset in inventory.in_stack:
            name = f"{asset.logical_id} ({asset.type})"
            if asset.state in ("present", "not checked"):
                yield Check.ok(name, _present_detail(asset))
            else:
                yield Check.fail(name, f"{asset.physical_id}: {asset.detail}", _resource_hint(asset))
        for asset in inventory.outside:
            where = "the stack" if asset.type == STACK_TYPE else "outside the stack"
            yield Check.ok(f"{where}: {asset.type} {asset.physical_id}", _present_detail(asset))
        for finding in inventory.findings:
            ctx.note(f"finding ({finding.resource}): {finding.summary} — {finding.fix}")
            yield Check.ok(
                f"finding: {finding.resource}", f"FINDING (not graded here): {finding.summary} — {finding.fix}"
            )

    def _template_checks(self, inventory: Inventory) -> Iterable[Check]:
        resources = inventory.stack.resources
        absent = [lid for lid in inventory.declared if lid not in resources]
        unfinished = [
            f"{lid} ({resources[lid].status})"
            for lid in inventory.declared
            if lid in resources and not resources[lid].status.endswith("_COMPLETE")
        ]
        if absent or unfinished:
            parts = [f"not in the stack: {', '.join(absent)}" if absent else "", ", ".join(unfinished)]
            yield Check.fail(
                "stack matches its template",
                "; ".join(p for p in parts if p),
                "The stack lacks resources its template declares: open the stack's Events tab to see why, "
                "then update or redeploy it (`labrunner up`).",
            )
        else:
            yield Check.ok(
                "stack matches its template",
                f"all {len(inventory.declared)} resources of the template are in stack {inventory.stack.name}",
            )


def _present_detail(asset: Asset) -> str:
    extra = f"; {asset.detail}" if asset.detail else ""
    state = "" if asset.state == "present" else f" ({asset.state})"
    return f"{asset.physical_id}{state} — {asset.arn or 'no ARN'} — {asset.console or 'no console page'}{extra}"


LAB = Lab(
    id="lab1",
    title="Inventory the workload's assets",
    order=10,
    summary="List every part of the workload from its stack, check it against the template, notice what is insecure.",
    steps=(AssetInventory(),),
)
