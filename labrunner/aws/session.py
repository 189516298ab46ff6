"""The one place that turns a target into a session and makes clients (SPEC §2)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    TokenRetrievalError,
)

from labrunner import __version__
from labrunner.aws import timestamps
from labrunner.aws.errors import error_code, is_credentials_error
from labrunner.aws.model_cache import shared_loader
from labrunner.aws.read_cache import ReadCache
from labrunner.aws.readonly import make_read_only
from labrunner.aws.regions import check_region
from labrunner.errors import TargetError, UsageError

TargetKind = Literal["local", "aws"]


class ClientWatch(Protocol):
    """Watches the server a client talks to (the local target's: labrunner.local.watch.ServerWatch)."""

    def config(self, base: Config) -> Config: ...

    def attach(self, client: Any) -> None: ...


DEFAULT_REGION = "us-east-1"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"

# Throttling on real AWS is retried with jittered exponential backoff (Sceptre's lesson), in the
# "standard" mode AWS recommends. Not "adaptive": its client-side rate limiter slows every later
# call of the client after one throttle (measured under injected throttling: solve of every lab
# 49 s instead of 15 s, check 11 s instead of 3 s, for the same 22 throttles).
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=90,
    user_agent_extra=f"labrunner/{__version__}",
)
PREFLIGHT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=30)


class Session:
    """The part of boto3.Session that labrunner uses, on botocore alone: importing boto3 also
    imports s3transfer (a tenth of a second of every command), and no resource API is used."""

    def __init__(
        self,
        *,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        core = botocore.session.Session(profile=profile_name)
        core.register_component("data_loader", shared_loader())
        timestamps.install(core)
        if profile_name is not None:
            core.get_scoped_config()  # raises ProfileNotFound now, as Session does
        if aws_access_key_id or aws_secret_access_key or aws_session_token:
            core.set_credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
        elif credentials is not None:
            # botocore's public way to give a session a credentials object: a resolver of one provider
            core.register_component("credential_provider", CredentialResolver([_GivenCredentials(credentials)]))
        if region_name:
            core.set_config_variable("region", region_name)
        self._core = core

    @property
    def region_name(self) -> str | None:
        region = self._core.get_config_variable("region")
        return str(region) if region else None

    def get_credentials(self) -> Any:
        return self._core.get_credentials()

    def client(
        self, service: str, *, region_name: str | None = None, endpoint_url: str | None = None, config: Any = None
    ) -> Any:
        return self._core.create_client(service, region_name=region_name, endpoint_url=endpoint_url, config=config)

    def register(self, event_name: str, handler: Callable[..., Any]) -> None:
        """A botocore event handler for every client made from now on (clients copy the session's)."""
        self._core.register(event_name, handler)

    def client_with_credentials(self, service: str, **kwargs: Any) -> Any:
        """A client with explicit keys (botocore's credential fetchers create their STS client so)."""
        return self._core.create_client(service, **kwargs)


class _GivenCredentials(CredentialProvider):  # type: ignore[misc]
    """A credential provider that hands out one credentials object (e.g. refreshable ones)."""

    METHOD = "labrunner-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def new_session(**kwargs: Any) -> Session:
    """A session sharing the process's data loader, parsing timestamps fast."""
    return Session(**kwargs)


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked for on the command line (or one roster entry)."""

    kind: TargetKind = "local"
    region: str | None = None
    profile: str | None = None
    local_port: int | None = None
    account: str | None = None  # local target: a 12-digit account inside the local server
    role_arn: str | None = None  # assumed from the caller's credentials (class mode)


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


class ClientFactory:
    """Creates and caches one client per service; optionally read-only, optionally sharing identical reads."""

    def __init__(
        self,
        session: Session,
        region: str,
        endpoint_url: str | None,
        read_only: bool,
        read_cache: ReadCache | None = None,
        *,
        watch: ClientWatch | None = None,
    ) -> None:
        self.session = session
        self.watch = watch  # the local target's: a frozen server is one line, not minutes of retries
        self.region = region
        self.endpoint_url = endpoint_url
        self.read_only = read_only
        self.read_cache = read_cache
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        """`region`: another region than the target's (e.g. us-east-1, where IAM's CloudTrail events are)."""
        key = service if region is None or region == self.region else f"{service}@{region}"
        with self._lock:  # sessions are not thread-safe; clients are
            cached = self._clients.get(key)
            if cached is None:
                config = CLIENT_CONFIG if self.watch is None else self.watch.config(CLIENT_CONFIG)
                cached = self.session.client(
                    service, region_name=region or self.region, endpoint_url=self.endpoint_url, config=config
                )
                if self._custom_endpoint():
                    cached.meta.events.register("before-sign.s3-control", strip_account_host)
                if self.watch is not None:
                    self.watch.attach(cached)
                if self.read_only:
                    make_read_only(cached)
                if self.read_cache is not None:
                    self.read_cache.attach(cached)
                self._clients[key] = cached
            return cached

    def _custom_endpoint(self) -> bool:
        """An endpoint other than AWS's own: the local server, or AWS_ENDPOINT_URL(_SERVICE)."""
        return bool(self.endpoint_url) or any(name.startswith("AWS_ENDPOINT_URL") for name in os.environ)

    def twin(self, *, read_only: bool, read_cache: ReadCache | None = None) -> ClientFactory:
        return ClientFactory(self.session, self.region, self.endpoint_url, read_only, read_cache, watch=self.watch)


def strip_account_host(request: Any, **_: Any) -> None:
    """A custom endpoint (the local server, AWS_ENDPOINT_URL) is one host: S3 Control's endpoint rules
    put the account id before it (123456789012.127.0.0.1, which resolves nowhere). Undone before signing."""
    parts = urlsplit(request.url)
    host, _, rest = parts.netloc.partition(".")
    if host.isdigit() and len(host) == 12 and rest:
        request.url = urlunsplit(parts._replace(netloc=rest))


@dataclass(frozen=True)
class OpenTarget:
    kind: TargetKind
    session: Session
    region: str
    endpoint_url: str | None
    identity: Identity
    watch: ClientWatch | None = None  # the local target's server

    def clients(self, *, read_only: bool = False) -> ClientFactory:
        return ClientFactory(self.session, self.region, self.endpoint_url, read_only, watch=self.watch)


def _assume(session: Session, region: str, endpoint_url: str | None, role_arn: str) -> Session:
    """A session on `role_arn`, assumed from `session`'s credentials, whose credentials refresh.

    STS credentials expire (AssumeRole's DurationSeconds, default 3600 s) and a class solve can
    outlast them: botocore's AssumeRoleCredentialFetcher + DeferredRefreshableCredentials (what
    botocore itself uses for a profile's role_arn) assume the role again before they run out.
    """
    source = session.get_credentials()
    if source is None:
        raise NoCredentialsError()
    create_client = functools.partial(
        session.client_with_credentials, region_name=region, endpoint_url=endpoint_url, config=PREFLIGHT_CONFIG
    )
    fetcher = AssumeRoleCredentialFetcher(
        create_client, source, role_arn, extra_args={"RoleSessionName": f"labrunner-{__version__}"}
    )
    try:
        fetcher.fetch_credentials()  # now, so that a role we may not assume is named as such
    except ClientError as exc:
        raise TargetError(f"cannot assume {role_arn}: {error_code(exc)}") from exc
    refreshing = DeferredRefreshableCredentials(fetcher.fetch_credentials, method="assume-role")
    return new_session(credentials=refreshing, region_name=region)


def aws_session(spec: TargetSpec) -> tuple[Session, str]:
    """The session and region of the aws target: a profile, the environment or `aws sso login`."""
    try:
        session = new_session(profile_name=spec.profile, region_name=spec.region)
        region = session.region_name or DEFAULT_REGION
        if not spec.region:
            check_region(region, "the region of your AWS config (AWS_REGION, AWS_DEFAULT_REGION or the profile)")
        if session.get_credentials() is None:
            raise TargetError(
                "no AWS credentials found: use --profile, AWS_PROFILE, AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY or `aws sso login`, or run against --target local"
            )
    except ProfileNotFound as exc:
        raise TargetError(f"AWS profile {spec.profile!r} not found in your AWS config") from exc
    except PartialCredentialsError as exc:
        raise TargetError(f"incomplete AWS credentials: {exc}") from exc
    return session, region


def connect(
    spec: TargetSpec,
    session: Session,
    region: str,
    endpoint_url: str | None = None,
    watch: ClientWatch | None = None,
    *,
    home_account: str | None = None,
) -> OpenTarget:
    """Assume the spec's role (none for `home_account`, the caller's own account) and prove access.

    The target-opening code (labrunner.target) makes the session: the aws target's, or the local server's."""
    role_arn = spec.role_arn
    if spec.account:
        if not (len(spec.account) == 12 and spec.account.isdigit()):
            raise UsageError(f"account {spec.account!r} is not a 12-digit AWS account id")
        role_arn = f"arn:aws:iam::{spec.account}:role/{ORG_ACCESS_ROLE}"
        if spec.account == home_account:
            role_arn = None  # the caller's own account: nothing to assume
    try:
        if role_arn:
            session = _assume(session, region, endpoint_url, role_arn)
        sts = session.client("sts", region_name=region, endpoint_url=endpoint_url, config=PREFLIGHT_CONFIG)
        who = sts.get_caller_identity()
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise TargetError(f"no usable AWS credentials: {exc}") from exc
    except EndpointConnectionError as exc:
        raise TargetError(f"cannot reach the AWS endpoint: {exc}") from exc
    except NoRegionError as exc:
        raise TargetError("no AWS region: use --region or set AWS_DEFAULT_REGION") from exc
    except InvalidRegionError as exc:
        raise UsageError(f"{region!r} is not an AWS region name (such as us-east-1): check --region") from exc
    except ValueError as exc:  # botocore's "Invalid endpoint: …" (a malformed AWS_ENDPOINT_URL)
        raise TargetError(f"cannot use the AWS endpoint: {exc}") from exc
    except ClientError as exc:
        if is_credentials_error(exc):
            raise TargetError(f"the AWS credentials were refused ({error_code(exc)}); refresh or replace them") from exc
        raise TargetError(f"cannot identify the caller: {error_code(exc)}") from exc
    except (SSOError, TokenRetrievalError) as exc:  # an SSO profile without a valid login
        login = f"aws sso login --profile {spec.profile}" if spec.profile else "aws sso login"
        raise TargetError(f"no valid AWS SSO login ({exc}): run `{login}`") from exc
    except BotoCoreError as exc:
        raise TargetError(f"cannot use the AWS target: {exc}") from exc
    identity = Identity(account=str(who["Account"]), arn=str(who["Arn"]))
    return OpenTarget(
        kind=spec.kind, session=session, region=region, endpoint_url=endpoint_url, identity=identity, watch=watch
    )
