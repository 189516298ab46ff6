"""IAM authentication and authorization of every AWS request (SPEC §6.3), in place of moto's.

moto's own enforcement stays off (moto_settings.py): it checks DynamoDB and Logs against
resource `*` only, answers in the wrong error shape, mis-evaluates trust policies and rejects
valid signatures of S3 keys with `'`, `+`, `(`, `*` or `!`. This middleware instead:

1. finds the access key (SigV4 header or presigned query) and its owner: an IAM user of any
   account or an unexpired STS session — else AWS's credential error; then verifies the
   request's SigV4 signature against that key's secret with botocore's signer (iam/signatures.py,
   where AWS's documentation is cited) — else SignatureDoesNotMatch in the service's protocol;
2. tells moto which account the request belongs to (the key owner's);
3. works out the IAM action(s) and resource ARN(s) of the operation and evaluates the
   principal's identity policies (and session policy, permissions boundary, S3 bucket or SQS
   queue policy) with labrunner.aws.policy;
4. for sts:AssumeRole also requires the role's trust policy to allow the caller, creating
   accounts on first use (fidelity/accounts.py);
5. refuses with AccessDenied(Exception) in the service's own protocol shape.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from labrunner.local.app import AdminError, AdminRequest, register_admin_endpoint
from labrunner.local.fidelity import accounts
from labrunner.local.hooks import ServerHooks, WSGIApp
from labrunner.local.iam import actions, credentials, errors, signatures
from labrunner.local.iam.authorizer import authorize, authorize_assume_role, denied_message
from labrunner.local.iam.resource_policies import resource_policy

ORDER = 10  # outermost but for modules that must see requests before authentication
DEFAULT_REGION = "us-east-1"

# Not AWS: the server's admin API, moto's, and the cfn-response callback of custom resources.
_BYPASS = re.compile(r"^/(?:_labrunner/|moto-api|cloudformation_[^/]+/cfnresponse$|favicon\.ico$)")
# STS operations AWS serves without credentials.
_UNSIGNED_STS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
# Operations that need no permission (AWS documents them as always allowed).
_ALWAYS_ALLOWED = {"sts:GetCallerIdentity", "sts:GetSessionToken"}
# Actions whose resource does not exist yet: no resource policy or owner to consult.
_NEW_RESOURCE_ACTIONS = {"s3:CreateBucket", "sqs:CreateQueue"}
_PROBLEMS: dict[credentials.Failure, errors.CredentialProblem] = {
    "InvalidClientTokenId": "unknown-key",
    "InvalidToken": "invalid-token",
    "ExpiredToken": "expired",
}
_SIGNATURE_PROBLEMS: dict[signatures.Problem, errors.CredentialProblem] = {
    "mismatch": "signature",
    "skewed": "skewed",
    "unsupported": "unsupported-signature",
}


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the body once and put it back for moto (chunked bodies too)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length < 0 and not environ.get("wsgi.input_terminated"):
        return b""  # no length and no end marker: leave the stream to moto untouched
    body: bytes = environ["wsgi.input"].read(length) if length >= 0 else environ["wsgi.input"].read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _needs_body(service: str, protocol: str | None, environ: dict[str, Any]) -> bool:
    if service == "s3":  # object bodies are large and irrelevant, but DeleteObjects lists keys
        return environ.get("REQUEST_METHOD") == "POST" and "delete" in environ.get("QUERY_STRING", "")
    if environ.get("HTTP_X_AMZ_TARGET"):
        return True
    if protocol == "rest-json":
        return environ.get("REQUEST_METHOD") in ("POST", "PUT")
    return protocol in (None, "query", "json")


def _respond(start_response: Callable[..., Any], answer: errors.ErrorResponse) -> Iterable[bytes]:
    start_response(answer.status_line, list(answer.headers))
    return [answer.body]


def _message_resource(service: str, resource: str) -> str:
    """How AWS writes the resource in its AccessDenied message for the service."""
    if service == "s3" and resource != "*":
        return f'"{resource}"'
    if service == "iam":
        match = re.match(
            r"^arn:[\w-]+:iam::\d{12}:(role|user|group|policy|instance-profile)/(?:.*/)?([^/]+)$", resource
        )
        if match:
            return f"{match.group(1)} {match.group(2)}"
    return resource


def _message_action(service: str, action: str) -> str:
    return action.lower() if service == "sqs" else action  # SQS writes its actions in lower case


def _unsigned_request(environ: dict[str, Any], body: bytes) -> tuple[str, str, str | None]:
    """(service, protocol, operation) of an anonymous request, as moto's dispatcher routes it."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        service = "sqs" if target.startswith("AmazonSQS") else "json-service"
        return service, "json", target.rsplit(".", 1)[-1]
    if body and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        match = re.search(rb"(?:^|&)Action=([A-Za-z]+)", body)
        if match:
            return "query-service", "query", match.group(1).decode()
    return "s3", "rest-xml", None


# S3 request parts that AWS exposes as condition keys.
_S3_QUERY_KEYS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}
_S3_HEADER_KEYS = {
    "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION": "s3:x-amz-server-side-encryption",
    "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "HTTP_X_AMZ_ACL": "s3:x-amz-acl",
    "HTTP_X_AMZ_COPY_SOURCE": "s3:x-amz-copy-source",
}


def request_keys(environ: dict[str, Any], operation: actions.Operation) -> dict[str, str]:
    """Condition keys taken from the request itself (the principal's keys come from the authorizer)."""
    keys = {
        "aws:RequestedRegion": operation.region,
        "aws:SourceIp": str(environ.get("REMOTE_ADDR", "")),
        "aws:UserAgent": str(environ.get("HTTP_USER_AGENT", "")),
    }
    if operation.service == "s3":
        query = operation.params.get("__query__") or {}
        keys.update({key: str(query[name]) for name, key in _S3_QUERY_KEYS.items() if name in query})
        keys.update({key: str(environ[name]) for name, key in _S3_HEADER_KEYS.items() if name in environ})
    elif operation.service == "sts":
        for name in ("ExternalId", "RoleSessionName", "SourceIdentity"):
            if isinstance(operation.params.get(name), str):
                keys[f"sts:{name}"] = operation.params[name]
    return keys


class IAMEnforcement:
    """The WSGI middleware."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _BYPASS.match(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        credential = credentials.request_credential(environ)
        if credential is None:
            return self.anonymous(environ, start_response, method)

        signing = (credential.service or "s3").lower()
        service = actions.model_name(signing)
        protocol = actions.service_protocol(service)
        region = credential.region or DEFAULT_REGION
        owner = credentials.key_owner(credential)
        if isinstance(owner, credentials.KeyRejected):
            problem = _PROBLEMS[owner.reason]
            answer = errors.credential_error(service, protocol or "query", method, problem, credential.access_key)
            return _respond(start_response, answer)
        mismatch = self.check_signature(environ, service, owner.secret)
        if mismatch is not None:
            problem = _SIGNATURE_PROBLEMS[mismatch]
            answer = errors.credential_error(service, protocol or "query", method, problem, credential.access_key)
            return _respond(start_response, answer)

        if credentials.presigned_url_expired(environ):
            return _respond(
                start_response, errors.access_denied(service, protocol or "query", method, "Request has expired")
            )
        # moto picks the account from this header before it scans every account for the key.
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = owner.account
        body = read_body(environ) if _needs_body(service, protocol, environ) else b""
        operation = actions.identify(service, environ, body, region, owner.account)
        if not operation.name:
            return self.app(environ, start_response)  # not an AWS operation we know: moto answers
        denied = self.authorize(operation, owner, method, request_keys(environ, operation))
        if denied is not None:
            return _respond(start_response, denied)
        return self.app(environ, start_response)

    @staticmethod
    def check_signature(environ: dict[str, Any], service: str, secret: str) -> signatures.Problem | None:
        """None when the request is signed with the key's secret (SigV4, header or presigned URL)."""
        signature = signatures.parse(environ)
        if signature is None:  # a credential without a signature (e.g. a bare X-Amz-Credential)
            return "mismatch"
        if isinstance(signature, str):
            return signature
        if isinstance(signature, signatures.SignatureV2):  # S3 alone still takes SigV2
            return signatures.verify_v2(signature, environ, secret) if service == "s3" else "unsupported"
        body = read_body(environ) if signatures.needs_body(signature, environ) else b""
        return signatures.verify(signature, environ, body, secret)

    def authorize(
        self, operation: actions.Operation, owner: credentials.KeyOwner, method: str, context: dict[str, str]
    ) -> errors.ErrorResponse | None:
        """None when every check passes, else the AccessDenied answer for the first failing one."""
        sessions = [owner.session_policy] if owner.session_policy else []
        for check in operation.checks():
            if check.action in _ALWAYS_ALLOWED:
                continue
            if check.action == "sts:AssumeRole":
                role_account = check.resource.split(":")[4] if check.resource.count(":") >= 5 else ""
                accounts.ensure_account(role_account)
                decision = authorize_assume_role(
                    owner.account, owner.arn, check.resource, context, session_policies=sessions
                )
                if decision.allowed:
                    continue
                message = (
                    f"User: {owner.arn} is not authorized to perform: sts:AssumeRole on resource: {check.resource}"
                )
                return errors.access_denied(operation.service, operation.protocol, method, message)
            # A bucket being created is the caller's own (a taken name is S3's BucketAlreadyExists).
            found = resource_policy(check.resource) if check.action not in _NEW_RESOURCE_ACTIONS else None
            decision = authorize(
                owner.account,
                owner.arn,
                check.action,
                check.resource,
                context,
                session_policies=sessions,
                resource_policy=found.policy if found else None,
                resource_account=found.account if found else None,
            )
            if decision.allowed:
                continue
            message = denied_message(
                owner.arn,
                _message_action(operation.service, check.action),
                _message_resource(operation.service, check.resource),
                decision,
            )
            return errors.access_denied(operation.service, operation.protocol, method, message)
        return None

    def anonymous(self, environ: dict[str, Any], start_response: Callable[..., Any], method: str) -> Iterable[bytes]:
        """A request without credentials: AWS serves only a few operations that way."""
        body = read_body(environ) if method == "POST" else b""
        service, protocol, operation = _unsigned_request(environ, body)
        if protocol == "query" and operation in _UNSIGNED_STS:
            return self.app(environ, start_response)
        return _respond(start_response, errors.credential_error(service, protocol, method, "missing"))


def expire_session(request: AdminRequest) -> dict[str, Any]:
    """POST /_labrunner/iam/expire-session {"AccessKeyId": …}: let an STS session's hour pass now.

    Tests and lab demos use it to see AWS's ExpiredToken answer without waiting 15 minutes.
    """
    try:
        key = json.loads(request.body or b"{}")["AccessKeyId"]
    except (ValueError, KeyError, TypeError):
        raise AdminError(400, 'expected a JSON body {"AccessKeyId": "ASIA…"}') from None
    for account_id, _backend in credentials.iam_backends_by_account():
        assumed = credentials.assumed_roles.find(account_id, key)
        if assumed is not None:
            assumed.expiration = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
            return {"expired": True, "account": account_id}
    raise AdminError(404, f"no STS session with access key {key}")


def _defer_bucket_policies_to_us() -> None:
    """moto checks bucket policies itself on object requests, ignoring their Conditions (a TLS-only
    Deny then refuses everything, with an empty 403): this middleware has already decided."""
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    setattr(FakeBucket, "get_permission", get_permission)  # noqa: B010 (patching moto)


def install(hooks: ServerHooks) -> None:
    _defer_bucket_policies_to_us()
    hooks.add_middleware(IAMEnforcement, order=ORDER, name="iam-enforcement")
    hooks.on_reset(credentials.assumed_roles.clear)
    register_admin_endpoint("POST", "iam/expire-session", expire_session)
