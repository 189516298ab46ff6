"""A faster timestamp parser for botocore responses (same results).

botocore parses every timestamp of a response with dateutil, about 0.2 ms each; a listing of a
log bucket holds a thousand. The ISO-8601 UTC form AWS uses in XML and JSON bodies
(2026-11-26T13:00:00.000Z) is parsed with datetime.fromisoformat instead, into the same value
with the same tzinfo botocore gives it here (dateutil picks tzlocal() on a machine whose zone is
UTC, else tzutc()); anything else goes to botocore's own parser.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.utils import parse_timestamp

_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")
_TZINFO = parse_timestamp("2000-01-01T00:00:00Z").tzinfo  # what botocore's parser gives "…Z" here


def fast_parse_timestamp(value: Any) -> datetime:
    if isinstance(value, str) and _ISO_UTC.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=_TZINFO)
    return parse_timestamp(value)  # type: ignore[no-any-return]


def install(core_session: Any) -> None:
    """Make the clients of a botocore session parse timestamps with fast_parse_timestamp."""
    core_session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=fast_parse_timestamp)
