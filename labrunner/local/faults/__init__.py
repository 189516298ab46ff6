"""Fault injection in the local AWS: what real AWS does to its clients that a local server does not.

Every fault is off by default. Each starts at its environment variable (read when the server
starts), can be changed while the server runs through GET/POST /_labrunner/faults, and goes back
to the environment's value on POST /_labrunner/reset.

- `throttle_rate` (LABRUNNER_FAULT_THROTTLE_RATE): the fraction, 0 to 1, of AWS requests refused
  with the service's own throttling error: S3 `SlowDown` (503), query APIs (IAM, STS,
  CloudFormation) `Throttling` (400), JSON APIs `ThrottlingException` (400), SQS
  `RequestThrottled`, Lambda `TooManyRequestsException` (429). botocore retries them all.
- `throttle_seed` (LABRUNNER_FAULT_THROTTLE_SEED, default 0): the seed of the throttling dice;
  the same seed and the same order of requests throttle the same requests.
- `throttle_burst` (LABRUNNER_FAULT_THROTTLE_BURST, default 1): at most this many throttles in
  a row for one caller (access key) and operation, so a client that retries gets through.
- `iam_delay_s` (LABRUNNER_FAULT_IAM_DELAY_S): an IAM permission change (inline or attached
  policies, trust policy, boundary, group membership, policy version) is enforced N s later; the
  policy simulator and Get/List calls show it at once, as on AWS.
- `lambda_cold_start_s` (LABRUNNER_FAULT_LAMBDA_COLD_START_S): the first invocation on a new
  Lambda worker (execution environment) waits N s before the handler runs.
- `config_evaluation_delay_s` (LABRUNNER_CONFIG_EVALUATION_DELAY_S): AWS Config rules evaluate
  N s after they are asked to.
- `access_log_delay_s` (LABRUNNER_S3_ACCESS_LOG_DELAY_S): S3 server access logs arrive N s
  after the requests.
- `config_recording_delay_s` (LABRUNNER_FAULT_CONFIG_RECORDING_DELAY_S): AWS Config records a
  changed resource N s after the change.
- `cloudtrail_delay_s` (LABRUNNER_FAULT_CLOUDTRAIL_DELAY_S): an event shows in CloudTrail's
  `LookupEvents` N s after the call.
- `bucket_name_hold_s` (LABRUNNER_FAULT_BUCKET_NAME_HOLD_S, default 60): a deleted bucket's name is
  refused (`OperationAborted`) for N s.
- `credential_ttl_s` (LABRUNNER_FAULT_CREDENTIAL_TTL_S): caps the lifetime of every temporary
  credential (0: as asked).
- `latency_ms` (LABRUNNER_FAULT_LATENCY_MS): every AWS request is answered N ms later (a round trip).
- `lambda_esm_startup_s` (LABRUNNER_FAULT_LAMBDA_ESM_STARTUP_S): a new SQS event source mapping is
  `Creating` and polls nothing for N s (fidelity/sqs_event_source.py).

The evaluation and access-log delays are owned by their fidelity modules (labrunner/local/delays.py);
the admin endpoint shows and sets them together with the rest.

Profiles (SPEC §6 item 10): LABRUNNER_LOCAL_PROFILE=fast (the default) uses the defaults above;
LABRUNNER_LOCAL_PROFILE=aws starts every timing at a value real accounts show, multiplied by
LABRUNNER_LOCAL_TIME_SCALE (default 1; tests use a small factor). A knob's own environment
variable still wins over the profile. The AWS-like values and where they come from:
- IAM: "changes ... can take time to become visible" — seconds (IAM User Guide, "Troubleshooting IAM:
  Changes that I make are not always immediately visible").
- Config: configuration changes are recorded within minutes; evaluations are asynchronous
  (AWS Config Developer Guide, "Recording AWS resources"; API Reference, StartConfigRulesEvaluation).
- CloudTrail: "CloudTrail typically delivers events within an average of about 5 minutes of an API
  call. This time is not guaranteed." (CloudTrail User Guide / FAQ, "How CloudTrail works").
- S3 server access logs: best-effort delivery, "within a few hours" (S3 User Guide, "Best-effort
  server log delivery"); the profile uses half an hour, the hint tells students it may take hours.
- S3 bucket names: a deleted bucket's name may stay unavailable for a while (Knowledge Center,
  "s3-conflicting-conditional-operation"; S3 User Guide, "Bucket naming rules": "it might take
  some time before the name can be reused").
- STS: AssumeRole credentials last DurationSeconds, default 3600 (STS API Reference, AssumeRole).
- Latency: a round trip from a laptop to a region, tens of milliseconds.
- Lambda event source mappings: "During event source mapping creation, it may take several minutes to
  start polling events" (Lambda Developer Guide, "Polling and stream starting positions"); a mapping's
  State is one of Creating, Enabling, Enabled, Disabling, Disabled, Updating, Deleting (API Reference,
  EventSourceMappingConfiguration). The profile uses a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labrunner.local.faults import profile
from labrunner.local.faults.profile import environment_value


@dataclass(frozen=True)
class Setting:
    """One fault setting: its admin name, environment variable and valid range."""

    name: str
    env_var: str
    default: float = 0.0
    maximum: float | None = None
    integer: bool = False
    timing: bool = False  # a duration: the `aws` profile sets it and LABRUNNER_LOCAL_TIME_SCALE scales it

    def parse(self, raw: str, source: str) -> float:
        """The value of `raw`, or ValueError naming `source` (the variable or the query parameter)."""
        kind = "an integer" if self.integer else "a number"
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{source} must be {kind}, not {raw!r}") from None
        if self.integer and not value.is_integer():
            raise ValueError(f"{source} must be {kind}, not {raw!r}")
        if not math.isfinite(value) or value < 0 or (self.maximum is not None and value > self.maximum):
            upper = f" and at most {self.maximum:g}" if self.maximum is not None else ""
            raise ValueError(f"{source} must be at least 0{upper}, not {raw!r}")
        return value

    def from_environment(self) -> float:
        """The knob's own variable if set, else the profile's value, else the default."""
        return environment_value(self.name, self.env_var, self.default, self.parse, timing=self.timing)


THROTTLE_RATE = Setting("throttle_rate", "LABRUNNER_FAULT_THROTTLE_RATE", maximum=1.0)
THROTTLE_SEED = Setting("throttle_seed", "LABRUNNER_FAULT_THROTTLE_SEED", integer=True)
THROTTLE_BURST = Setting("throttle_burst", "LABRUNNER_FAULT_THROTTLE_BURST", default=1.0, integer=True)
IAM_DELAY = Setting("iam_delay_s", "LABRUNNER_FAULT_IAM_DELAY_S", timing=True)
LAMBDA_COLD_START = Setting("lambda_cold_start_s", "LABRUNNER_FAULT_LAMBDA_COLD_START_S", timing=True)
CONFIG_RECORDING_DELAY = Setting("config_recording_delay_s", "LABRUNNER_FAULT_CONFIG_RECORDING_DELAY_S", timing=True)
CLOUDTRAIL_DELAY = Setting("cloudtrail_delay_s", "LABRUNNER_FAULT_CLOUDTRAIL_DELAY_S", timing=True)
BUCKET_NAME_HOLD = Setting("bucket_name_hold_s", "LABRUNNER_FAULT_BUCKET_NAME_HOLD_S", default=60.0, timing=True)
CREDENTIAL_TTL = Setting("credential_ttl_s", "LABRUNNER_FAULT_CREDENTIAL_TTL_S", timing=True)
LATENCY_MS = Setting("latency_ms", "LABRUNNER_FAULT_LATENCY_MS", timing=True)
ESM_STARTUP = Setting("lambda_esm_startup_s", "LABRUNNER_FAULT_LAMBDA_ESM_STARTUP_S", timing=True)
SETTINGS = (
    THROTTLE_RATE,
    THROTTLE_SEED,
    THROTTLE_BURST,
    IAM_DELAY,
    LAMBDA_COLD_START,
    CONFIG_RECORDING_DELAY,
    CLOUDTRAIL_DELAY,
    BUCKET_NAME_HOLD,
    CREDENTIAL_TTL,
    LATENCY_MS,
    ESM_STARTUP,
)
# Not a fault, and read by the client (labrunner/local/lifecycle.py), not the server: how long a command
# waits for a server that accepts connections to answer its health check before calling it hung. A
# server busy with a class check answers in well under a second; a stopped (SIGSTOP) one never does.
HEALTH_WAIT = Setting("health_wait_s", "LABRUNNER_LOCAL_HEALTH_WAIT_S", default=10.0, maximum=600.0)


class Faults:
    """The fault settings of this server process (thread-safe), with counters of what they did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {s.name: s.from_environment() for s in SETTINGS}
        self._counters: dict[str, int] = {}
        self._listeners: list[Callable[[], None]] = []

    def value(self, setting: Setting) -> float:
        with self._lock:
            return self._values[setting.name]

    def values(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)

    def update(self, raw: Mapping[str, str]) -> None:
        """Change some settings at once: all are valid, or none changes (ValueError)."""
        by_name = {s.name: s for s in SETTINGS}
        parsed: dict[str, float] = {}
        for name, text in raw.items():
            setting = by_name.get(name)
            if setting is None:
                raise ValueError(f"unknown fault setting {name!r}")
            parsed[name] = setting.parse(text, name)
        self._replace(parsed)

    def restore(self) -> None:
        """Back to the environment's values, counters cleared (POST /_labrunner/reset)."""
        self._replace({s.name: s.from_environment() for s in SETTINGS})
        with self._lock:
            self._counters.clear()

    def _replace(self, values: Mapping[str, float]) -> None:
        with self._lock:
            self._values.update(values)
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every change (e.g. to re-seed the throttling dice)."""
        with self._lock:
            self._listeners.append(listener)

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            self._counters[counter] = self._counters.get(counter, 0) + n

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)


FAULTS = Faults()


def check_environment() -> None:
    """Raise ValueError naming the variable when the profile, time scale or a knob is malformed."""
    profile.profile()
    profile.time_scale()
    for setting in SETTINGS:
        setting.from_environment()


def lambda_cold_start() -> None:
    """Wait out the injected cold start of a new Lambda worker (none by default)."""
    seconds = FAULTS.value(LAMBDA_COLD_START)
    if seconds > 0:
        FAULTS.count("lambda_cold_starts")
        time.sleep(seconds)


def configure(endpoint_url: str, **values: float | str) -> dict[str, Any]:
    """Client side: change fault settings of a running server (POST /_labrunner/faults)."""
    from labrunner.local import admin

    return admin.control(endpoint_url, "POST", "faults", {name: str(value) for name, value in values.items()})


def status(endpoint_url: str) -> dict[str, Any]:
    """Client side: a running server's fault settings and counters (GET /_labrunner/faults)."""
    from labrunner.local import admin

    return admin.call(endpoint_url, "GET", "faults")


# Also read by the client: how long one request to the local server may go unanswered before the command
# asks whether the server is stopped or hung (then it ends with one line; a busy server is retried as
# botocore does). Longer than the slowest legitimate call (a stack with a custom resource under a class).
READ_TIMEOUT = Setting("read_timeout_s", "LABRUNNER_LOCAL_READ_TIMEOUT_S", default=60.0, maximum=900.0)
