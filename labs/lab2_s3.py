"""Lab 2: S3 security best practices — encryption at rest and server access logging."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labrunner import paths
from labrunner.aws import lab_buckets
from labrunner.aws import s3 as s3s
from labrunner.aws.fan_out import fan_out
from labrunner.aws.pipeline import Upload, newest_uploads, upload_file
from labrunner.context import Context
from labrunner.model import Check
from labrunner.step import Lab, Poll, Step

ENCRYPTED_UPLOAD_FILE = "A Tale of Two Regions.txt"
# Objects whose encryption is looked at, newest first (head_object each).
SAMPLED_OBJECTS = 25
# Access log objects listed (one page): enough to say "they arrived".
LOG_SAMPLE = 10  # evidence needs one log object; a long-lived log bucket holds many thousands
SSE_2023 = (
    "Since January 2023 AWS applies SSE-S3 to every bucket that has no other default encryption, "
    "and to every new object"
)


def _log_bucket_label(ctx: Context) -> str:
    """How hints name the lab's log bucket: solve adds a random part per deployment."""
    return lab_buckets.LOG.label(ctx.suffix)


def encryption_console(bucket: str) -> str:
    return (
        f"S3 → Buckets → {bucket} → Properties → Default encryption → Edit → Server-side encryption with "
        "Amazon S3 managed keys (SSE-S3) → Save changes."
    )


def block_public_access_console(bucket: str) -> str:
    return (
        f"S3 → Buckets → {bucket} → Permissions → Block public access (bucket settings) → Edit → tick "
        "Block all public access (all four settings) → Save changes → type confirm."
    )


def logging_console(upload: str, log_bucket: str) -> str:
    return (
        f"S3 → Buckets → {upload} → Properties → Server access logging → Edit → Enable → Destination: "
        f"Browse S3 → choose {log_bucket} → Save changes (the console also adds the bucket policy that "
        "lets S3 deliver the logs)."
    )


@dataclass(frozen=True)
class LogBucketChoice:
    """Which bucket lab 2 treats as the log bucket, and why."""

    name: str | None
    why: str
    logging: s3s.AccessLogging | None


def choose_log_bucket(ctx: Context, upload: str) -> LogBucketChoice:
    """The bucket the upload bucket logs to (when separate and existing), else the lab's log bucket if
    there is one: the one solve made for this stack (by its tags), or one named as the lab text does."""
    s3 = ctx.client("s3")
    logging = s3s.access_logging(s3, upload)
    if logging is not None and logging.target_bucket != upload and s3s.bucket_exists(s3, logging.target_bucket):
        return LogBucketChoice(logging.target_bucket, f"the bucket {upload} logs to", logging)
    found = lab_buckets.find(s3, lab_buckets.LOG, ctx, any_ending=True)
    if found is not None:
        return LogBucketChoice(found, "the lab's log bucket (the upload bucket does not log to it yet)", logging)
    return LogBucketChoice(None, "", logging)


def ensure_lab_log_bucket(ctx: Context, name: str, sources: list[str]) -> bool:
    return lab_buckets.ensure_log_bucket(
        ctx.client("s3"), name, ctx, account=ctx.account_id, source_buckets=sources, note=ctx.note
    )


def name_note(ctx: Context, bucket: str) -> str:
    if bucket.startswith(lab_buckets.LOG.prefix):
        return ""
    return f" (the lab names it {_log_bucket_label(ctx)}; any separate bucket with these settings passes)"


# -- lab2.encryption ----------------------------------------------------------------------------------
class DefaultEncryptionStep(Step):
    id = "lab2.encryption"
    title = "The upload bucket encrypts new objects by default (SSE-S3 or stronger)"
    controls = ("SC-28",)
    prefetch = ("buckets",)
    requires = ("setup.stack",)
    why = """
        NIST SC-28 (Protection of Information at Rest): files uploaded to the bucket must be
        stored encrypted, so that storage media, backups or a misdirected copy do not expose
        them. S3 default encryption encrypts every object written without its own encryption
        header. Passes when the upload bucket has default encryption SSE-S3 (AES256, keys
        managed by S3). SSE-KMS (aws:kms) and DSSE-KMS pass too, and the detail says so: they
        are stronger, because a KMS key policy decides who may decrypt and CloudTrail records
        every use of the key.

        Be aware: since January 2023 AWS applies SSE-S3 to every bucket that has no other
        default encryption, and it cannot be switched off. On a workload deployed today this
        step therefore passes before you change anything. The point of the lab is to know which
        encryption protects your data and with which key, and to choose SSE-KMS where you need
        control over the key. A check cannot tell whether you or AWS set SSE-S3; the detail
        says so.
    """
    console = """
        1. CloudFormation → Stacks → immersion → Resources → FileUploadsBucket: follow the
           Physical ID link to the upload bucket.
        2. Properties → Default encryption → Edit → Encryption type: Server-side encryption with
           Amazon S3 managed keys (SSE-S3) → Save changes. The page may already show SSE-S3:
           AWS has set it on every bucket since January 2023.
        3. To go further, choose SSE-KMS with a key of your own (AWS KMS → Customer managed keys).
    """
    automation = """
        Reads the upload bucket's default encryption. Sets SSE-S3 (AES256) only when the bucket
        has none (a bucket made before 2023); an SSE-S3 or SSE-KMS configuration is left as it is.
    """
    hint = "Turn on default encryption (SSE-S3) for the upload bucket: " + encryption_console("<upload bucket>")

    def apply(self, ctx: Context) -> bool:
        s3, bucket = ctx.client("s3"), ctx.workload().bucket
        current = s3s.default_encryption(s3, bucket)
        if current is not None:
            ctx.note(f"{bucket} already has default encryption {current.label}; nothing to change")
            return False
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        ctx.note(f"set default encryption SSE-S3 (AES256) on {bucket}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        bucket = ctx.workload().bucket
        current = s3s.default_encryption(ctx.client("s3"), bucket)
        if current is None:
            yield Check.fail(
                "default encryption",
                f"{bucket} has no default encryption: objects uploaded without an encryption header are "
                "stored unencrypted (a bucket created before January 2023)",
                encryption_console(bucket),
            )
        elif current.kms:
            key = (
                " Consider a customer managed key: with aws/s3 you cannot write the key policy yourself."
                if current.aws_managed_key
                else ""
            )
            yield Check.ok(
                "default encryption",
                f"{bucket} encrypts new objects with {current.label} — stronger than the lab's SSE-S3: a "
                f"KMS key policy controls who may decrypt, and CloudTrail logs every use of the key.{key}",
            )
        else:
            yield Check.ok(
                "default encryption",
                f"{bucket} encrypts new objects with {current.label}. {SSE_2023}, so this holds even if "
                "nobody changed the setting; a check cannot tell who set it.",
            )


# -- lab2.encrypted-upload ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StoredObject:
    upload: Upload
    sse: str | None
    kms_key: str | None


def stored_objects(s3: Any, bucket: str) -> list[StoredObject]:
    """The newest objects with the encryption each was stored with (head_object), newest first."""
    uploads = newest_uploads(s3, bucket, limit=SAMPLED_OBJECTS)
    heads = fan_out(lambda upload: s3.head_object(Bucket=bucket, Key=upload.key), uploads)
    return [
        StoredObject(upload, head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"))
        for upload, head in zip(uploads, heads, strict=True)
    ]


def newest_evidence(objects: list[StoredObject]) -> StoredObject | None:
    """The newest object, preferring an encrypted one among those written in the same second.

    S3 reports LastModified to the second, so objects written within one second cannot be
    ordered: if any of the newest ones is encrypted, an object written last is encrypted.
    """
    if not objects:
        return None
    newest = objects[0].upload.last_modified
    tied = [o for o in objects if o.upload.last_modified == newest]
    return next((o for o in tied if o.sse is not None), tied[0])


def matches_default(obj: StoredObject, default: s3s.DefaultEncryption | None) -> bool:
    """Was the object stored as the bucket's current default would store it?"""
    if default is None or obj.sse != default.algorithm:
        return False
    return not default.kms_key or not obj.kms_key or obj.kms_key.endswith(default.kms_key.rsplit("/", 1)[-1])


class EncryptedUpload(Step):
    id = "lab2.encrypted-upload"
    title = "A file uploaded after the change is stored encrypted"
    controls = ("SC-28",)
    prefetch = ("buckets",)
    requires = ("setup.stack",)
    why = """
        Default encryption applies to objects written after it is set: S3 never re-encrypts the
        objects already in the bucket. The evidence that data is protected at rest is therefore
        an object's own encryption (its ServerSideEncryption, shown in the console under
        Properties → Server-side encryption settings). Passes when the newest object in the
        upload bucket is stored encrypted; older objects that are still unencrypted are listed.

        Since January 2023 S3 encrypts every new object with at least SSE-S3, so an upload today
        is encrypted even if nobody touched the bucket: this step shows the encryption in force
        when the file was written, not who turned it on.
    """
    console = """
        1. S3 → Buckets → the upload bucket (the stack's FileUploadsBucket) → Upload → Add files
           → a file from sample_s3_files/ → Upload.
        2. Click the uploaded object → Properties → Server-side encryption settings: it shows
           "Server-side encryption with Amazon S3 managed keys (SSE-S3)" (or your KMS key).
        3. Compare with an object uploaded before you changed the default encryption, if any.
    """
    automation = f"""
        Looks at the newest object of the upload bucket (head_object). When it is not stored as
        the bucket's current default encryption would store it, uploads
        sample_s3_files/{ENCRYPTED_UPLOAD_FILE} and reports its encryption; otherwise that newest
        object already is the evidence and nothing is uploaded.
    """
    hint = "Upload a file to the upload bucket after enabling default encryption, then check its properties."

    def apply(self, ctx: Context) -> bool:
        s3, bucket = ctx.client("s3"), ctx.workload().bucket
        default = s3s.default_encryption(s3, bucket)
        newest = newest_evidence(stored_objects(s3, bucket))
        if newest is not None and matches_default(newest, default):
            ctx.note(
                f"the newest object {newest.upload.key!r} already shows ServerSideEncryption {newest.sse}; "
                "nothing to upload"
            )
            return False
        key = upload_file(s3, bucket, paths.sample_files_dir() / ENCRYPTED_UPLOAD_FILE)
        sse = s3.head_object(Bucket=bucket, Key=key).get("ServerSideEncryption")
        ctx.note(f"uploaded {key!r} to s3://{bucket}; its ServerSideEncryption is {sse or 'none'}")
        return True

    def verify(self, ctx: Context) -> Iterable[Check]:
        s3, bucket = ctx.client("s3"), ctx.workload().bucket
        objects = stored_objects(s3, bucket)
        newest = newest_evidence(objects)
        if newest is None:
            yield Check.fail(
                "encrypted upload",
                f"{bucket} holds no object yet",
                f"S3 → Buckets → {bucket} → Upload → add a file (e.g. from sample_s3_files/) → Upload; then open "
                "the object → Properties → Server-side encryption settings.",
            )
            return
        default = s3s.default_encryption(s3, bucket)
        when = f"{newest.upload.last_modified:%Y-%m-%d %H:%M:%S} UTC"
        if newest.sse is None:
            yield Check.fail(
                "encrypted upload",
                f"the newest object {newest.upload.key!r} (written {when}) has no ServerSideEncryption: it is "
                "stored unencrypted — the bucket had no default encryption when it was written",
                (
                    f"Turn on default encryption ({encryption_console(bucket)}), then upload a file again"
                    if default is None
                    else f"Default encryption is now {default.label}: upload a file again (S3 → Buckets → {bucket} "
                    "→ Upload)"
                )
                + "; existing objects stay as they were written.",
            )
        else:
            key = f" with key {newest.kms_key}" if newest.kms_key else ""
            later = ""
            if default is not None and not matches_default(newest, default):
                later = f" The bucket's default is now {default.label}: upload again to see it applied."
            yield Check.ok(
                "encrypted upload",
                f"the newest object {newest.upload.key!r} (written {when}) is stored encrypted: "
                f"ServerSideEncryption {newest.sse}{key}. {SSE_2023}, so this shows the encryption in force "
                f"when it was written, not who turned it on.{later}",
            )
        older = [o for o in objects if o.sse is None and o is not newest]
        if older:
            names = ", ".join(repr(o.upload.key) for o in older[:3])
            yield Check.ok(
                "objects written before encryption",
                f"{len(older)} object(s) ({names}{', …' if len(older) > 3 else ''}) are still unencrypted: "
                "S3 does not re-encrypt existing objects; copy them onto themselves (Actions → Copy, or "
                "S3 Batch Operations) to encrypt them",
            )


# -- lab2.log-bucket ----------------------------------------------------------------------------------
class LogBucket(Step):
    id = "lab2.log-bucket"
    title = "A separate, private, encrypted bucket receives the access logs"
    controls = ("AU-9", "AC-3")
    prefetch = ("buckets",)
    requires = ("setup.stack",)
    why = """
        Access logs are audit records; NIST AU-9 asks to protect them from unauthorised access,
        change and deletion, and AC-3 to enforce who may reach them. They belong in their own
        bucket, never in the bucket they describe (every log write would itself be logged, and
        whoever can change the data could change its trail). The bucket must never become
        public (all four Block Public Access settings on), must encrypt what it stores, and must
        let S3's log delivery write into it — the way AWS recommends today, a bucket policy for
        the service principal logging.s3.amazonaws.com scoped to the source bucket and account,
        with ACLs disabled (not the old Log Delivery group ACL).

        The log bucket is whatever the upload bucket sends its logs to (before logging is on:
        the lab's bucket immersion-upload-logs-…, found by solve's tags or by that name).
        Passes when it is separate from the
        upload bucket, exists, has all four Block Public Access settings on, has default
        encryption that S3 logging can write with (SSE-S3; SSE-KMS only with a customer managed
        key), and its policy allows log delivery for the upload bucket.
    """
    console = """
        1. S3 → Create bucket → name immersion-upload-logs-<your account id>-… (any unique name),
           the same Region as the upload bucket → Object Ownership: ACLs disabled → Block all
           public access: on (all four) → Default encryption: SSE-S3 → Create bucket.
        2. Log delivery permission: the console adds it when you enable server access logging
           (lab2.access-logging). By hand: the bucket → Permissions → Bucket policy → Edit → a
           statement with Principal {"Service": "logging.s3.amazonaws.com"}, Action s3:PutObject,
           Resource arn:aws:s3:::<log bucket>/*, Condition ArnLike aws:SourceArn
           arn:aws:s3:::<upload bucket> and StringEquals aws:SourceAccount <your account id>.
    """
    automation = """
        Uses the bucket the upload bucket already logs to if that is a separate, existing
        bucket, else the log bucket it made for this stack before (found by its tags), else
        creates immersion-upload-logs-<suffix>-<random> — a new name for each deployment,
        because S3 holds a deleted bucket's name for hours — with ACLs disabled, tagged
        labrunner:lab=immersion and labrunner:stack=<stack>. Then turns on all four Block Public Access settings, sets
        SSE-S3 unless the bucket has an encryption S3 logging can use, and adds (or extends) the
        bucket policy statement S3ServerAccessLogsPolicy for logging.s3.amazonaws.com, scoped by
        aws:SourceArn (the upload bucket) and aws:SourceAccount. Other policy statements are kept.
    """
    hint = "Create a separate log bucket with Block all public access, SSE-S3 and a log-delivery bucket policy."

    def apply(self, ctx: Context) -> bool:
        upload = ctx.workload().bucket
        choice = choose_log_bucket(ctx, upload)
        name = choice.name or lab_buckets.new_name(lab_buckets.LOG, ctx.suffix)
        return ensure_lab_log_bucket(ctx, name, [upload])

    def verify(self, ctx: Context) -> Iterable[Check]:
        s3, upload = ctx.client("s3"), ctx.workload().bucket
        choice = choose_log_bucket(ctx, upload)
        lab_name = _log_bucket_label(ctx)
        if choice.name is None:
            logging = choice.logging
            if logging is None:
                detail = f"{upload} does not log anywhere and there is no bucket {lab_name}"
            elif logging.target_bucket == upload:
                detail = f"{upload} logs into itself; there is no separate log bucket (nor {lab_name})"
            else:
                detail = f"{upload} logs to {logging.location}, which does not exist, and there is no bucket {lab_name}"
            yield Check.fail("separate log bucket", detail, self.console_steps())
            return
        log_bucket = choice.name
        yield Check.ok(
            "separate log bucket",
            f"s3://{log_bucket} — {choice.why} — is separate from the upload bucket{name_note(ctx, log_bucket)}",
        )
        blocked = s3s.public_access_block(s3, log_bucket)
        off = [setting for setting, on in blocked.items() if not on]
        if off:
            yield Check.fail(
                "block public access",
                f"Block Public Access of {log_bucket} is off for: {', '.join(off)}",
                block_public_access_console(log_bucket),
            )
        else:
            yield Check.ok("block public access", f"all four Block Public Access settings of {log_bucket} are on")
        encryption = s3s.default_encryption(s3, log_bucket)
        problem = s3s.log_bucket_encryption_problem(encryption)
        if problem is not None or encryption is None:
            yield Check.fail(
                "default encryption",
                f"{log_bucket}: {problem}",
                encryption_console(log_bucket),
            )
        else:
            kms = (
                " (the KMS key policy must let logging.s3.amazonaws.com use the key, or logs are not delivered)"
                if encryption.kms
                else ""
            )
            yield Check.ok("default encryption", f"{log_bucket} encrypts log files with {encryption.label}{kms}")
        delivery = s3s.log_delivery(
            s3,
            log_bucket,
            source_bucket=upload,
            account=ctx.account_id,
            region=ctx.region,
            target=choice.logging,
        )
        if delivery.allowed:
            yield Check.ok("log delivery allowed", delivery.detail)
        else:
            yield Check.fail(
                "log delivery allowed",
                delivery.detail,
                f"Enable server access logging of {upload} with {log_bucket} as destination in the S3 console "
                "(it adds the policy), or: S3 → Buckets → "
                f"{log_bucket} → Permissions → Bucket policy → Edit → allow Principal Service "
                f"logging.s3.amazonaws.com s3:PutObject on arn:aws:s3:::{log_bucket}/* with aws:SourceArn "
                f"arn:aws:s3:::{upload} and aws:SourceAccount {ctx.account_id}.",
            )

    def console_steps(self) -> str:
        return (
            "S3 → Create bucket → a name such as immersion-upload-logs-… → ACLs disabled → Block all public "
            "access on → Default encryption SSE-S3 → Create bucket."
        )


# -- lab2.access-logging ------------------------------------------------------------------------------
class AccessLoggingStep(Step):
    id = "lab2.access-logging"
    title = "Server access logging of the upload bucket goes to the log bucket"
    controls = ("AU-2", "AU-12")
    prefetch = ("buckets",)
    requires = ("setup.stack",)
    why = """
        Who uploaded, read or deleted which file, from where and when? S3 server access logging
        records every request to a bucket (requester, operation, key, status, time, source IP) —
        the event logging of NIST AU-2 and the audit record generation of AU-12. Without it an
        incident in the upload bucket cannot be investigated. Passes when server access logging
        of the upload bucket is on and targets a separate bucket that exists (the lab's
        immersion-upload-logs-…, or any other separate bucket). Logging into the upload
        bucket itself fails: each delivered log file would be a new write to log, and the trail
        would sit next to the data it is meant to protect.
    """
    console = """
        1. S3 → Buckets → the upload bucket (CloudFormation → immersion → Resources →
           FileUploadsBucket) → Properties → Server access logging → Edit.
        2. Server access logging: Enable. Destination: Browse S3 → choose the log bucket
           immersion-upload-logs-… from lab2.log-bucket, and add a prefix ending in "/" (for
           example the upload bucket's name followed by /) so that its logs stay apart.
        3. Log object key format: keep the default → Save changes. The console also adds a
           statement to the log bucket's policy that lets logging.s3.amazonaws.com deliver the
           logs of this bucket.
        4. Never choose the upload bucket itself as the destination.
    """
    automation = """
        Leaves logging alone when it already goes to a separate, existing bucket. Otherwise makes
        sure the lab's log bucket exists and accepts the logs (as lab2.log-bucket does), then
        turns on server access logging of the upload bucket into
        s3://<that log bucket>/<upload bucket name>/.
    """
    hint = "Turn on server access logging of the upload bucket with the separate log bucket as destination."

    def apply(self, ctx: Context) -> bool:
        s3, upload = ctx.client("s3"), ctx.workload().bucket
        current = s3s.access_logging(s3, upload)
        if current is not None and current.target_bucket != upload and s3s.bucket_exists(s3, current.target_bucket):
            ctx.note(f"{upload} already logs to {current.location}")
            return False
        log_bucket = choose_log_bucket(ctx, upload).name or lab_buckets.new_name(lab_buckets.LOG, ctx.suffix)
        changed = ensure_lab_log_bucket(ctx, log_bucket, [upload])
        return s3s.enable_access_logging(s3, upload, target_bucket=log_bucket, note=ctx.note) or changed

    def verify(self, ctx: Context) -> Iterable[Check]:
        s3, upload = ctx.client("s3"), ctx.workload().bucket
        lab_name = _log_bucket_label(ctx)
        current = s3s.access_logging(s3, upload)
        if current is None:
            yield Check.fail(
                "server access logging",
                f"server access logging of {upload} is off",
                logging_console(upload, lab_name),
            )
        elif current.target_bucket == upload:
            yield Check.fail(
                "server access logging",
                f"{upload} logs into itself ({current.location}): logs must go to a separate bucket",
                f"Edit Server access logging of {upload} and choose the separate log bucket as Destination: "
                + logging_console(upload, lab_name),
            )
        elif not s3s.bucket_exists(s3, current.target_bucket):
            yield Check.fail(
                "server access logging",
                f"{upload} logs to {current.location}, but that bucket does not exist: no log can be delivered",
                f"Create the log bucket again (lab2.log-bucket), or: {logging_console(upload, lab_name)}",
            )
        else:
            yield Check.ok(
                "server access logging",
                f"server access logging of {upload} goes to {current.location}{name_note(ctx, current.target_bucket)}",
            )


# -- lab2.logs-delivered ------------------------------------------------------------------------------
class LogsDelivered(Step):
    id = "lab2.logs-delivered"
    title = "Access log files have arrived in the log bucket"
    controls = ("AU-12",)
    prefetch = ("buckets",)
    requires = ("setup.stack",)
    why = """
        Configuration is not evidence: AU-12 is met when audit records are actually generated and
        stored. S3 delivers server access logs on a best-effort basis, usually within a few hours
        of the requests (some records may arrive later, rarely never). Passes when log objects
        have arrived under the logging destination; until then the step is pending, not failed —
        lateness is normal. It fails only when logging is not configured (or targets the upload
        bucket itself or a bucket that does not exist).
    """
    console = """
        Make a few requests to the upload bucket (upload or open a file), wait (up to a few hours
        on AWS), then S3 → Buckets → the log bucket → Objects: files named like
        2024-05-01-12-00-00-0123456789ABCDEF appear under the destination prefix. Open one to see
        the request records.
    """
    automation = """
        Makes a request to the upload bucket (lists it) so that there is something to log, then
        checks the log bucket for log objects for up to 30 seconds; on AWS the step is then
        usually still pending — run `labrunner check lab2` again later.
    """
    hint = "Wait for S3 to deliver the access logs (best-effort, usually within a few hours), then check again."
    poll = Poll(deadline_s=30, interval_s=1)

    def apply(self, ctx: Context) -> bool:
        s3, upload = ctx.client("s3"), ctx.workload().bucket
        s3.list_objects_v2(Bucket=upload, MaxKeys=1)
        ctx.note(f"listed {upload} so that S3 has a request to log")
        return False

    def verify(self, ctx: Context) -> Iterable[Check]:
        s3, upload = ctx.client("s3"), ctx.workload().bucket
        current = s3s.access_logging(s3, upload)
        lab_name = _log_bucket_label(ctx)
        if current is None:
            yield Check.fail(
                "access logs delivered",
                f"server access logging of {upload} is off: no access log can arrive",
                logging_console(upload, lab_name),
            )
            return
        if current.target_bucket == upload:
            yield Check.fail(
                "access logs delivered",
                f"{upload} logs into itself, not into a log bucket",
                logging_console(upload, lab_name),
            )
            return
        if not s3s.bucket_exists(s3, current.target_bucket):
            yield Check.fail(
                "access logs delivered",
                f"the logging destination {current.location} does not exist",
                f"Create the log bucket again (lab2.log-bucket), or: {logging_console(upload, lab_name)}",
            )
            return
        logs = first_objects_under(s3, current.target_bucket, current.target_prefix)
        if logs:
            first = logs[0]
            yield Check.ok(
                "access logs delivered",
                f"{len(logs)}{'+' if len(logs) >= LOG_SAMPLE else ''} access log object(s) under {current.location}, "
                f"e.g. {first.key!r} delivered {first.last_modified:%Y-%m-%d %H:%M:%S} UTC",
            )
            return
        delivery = s3s.log_delivery(
            s3, current.target_bucket, source_bucket=upload, account=ctx.account_id, region=ctx.region, target=current
        )
        blocked = "" if delivery.allowed else f" Note: {delivery.detail}, so S3 cannot deliver them (lab2.log-bucket)."
        yield Check.waiting(
            "access logs delivered",
            f"no access log object under {current.location} yet: S3 delivers server access logs on a best-effort "
            f"basis, usually within a few hours of the requests.{blocked}",
            f"Make a few requests to {upload} (upload or open a file) and check again later: "
            f"S3 → Buckets → {current.target_bucket} → Objects.",
        )


def first_objects_under(s3: Any, bucket: str, prefix: str) -> list[Upload]:
    """The first LOG_SAMPLE objects under the prefix (in key order, as S3 lists them)."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=LOG_SAMPLE)
    contents = page.get("Contents", [])
    return [Upload(key=o["Key"], size=int(o["Size"]), last_modified=o["LastModified"]) for o in contents]


LAB = Lab(
    id="lab2",
    title="Secure the upload bucket: encryption at rest and access logging",
    order=20,
    summary="Encrypt the upload bucket by default and log every access to it into a separate, protected bucket.",
    steps=(DefaultEncryptionStep(), EncryptedUpload(), LogBucket(), AccessLoggingStep(), LogsDelivered()),
)
