"""An upload that must prove it came after a change (a permission change, a stack update): AWS keeps
whole seconds, so only a later second proves the order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from labrunner.aws import pipeline
from labrunner.aws.pipeline import later_second, upload_after

CHANGE = datetime(2026, 11, 26, 12, 0, 0, 900_000, tzinfo=UTC)


class StampingS3:
    """PutObject stamps LastModified from a list of times, as S3 would (whole seconds)."""

    def __init__(self, stamps: list[datetime]) -> None:
        self.stamps = stamps
        self.puts: list[str] = []

    def put_object(self, **kwargs: Any) -> None:
        self.puts.append(kwargs["Key"])

    def head_object(self, **_: Any) -> dict[str, Any]:
        return {"LastModified": self.stamps[len(self.puts) - 1].replace(microsecond=0)}


def test_same_second_proves_nothing() -> None:
    assert not later_second(CHANGE.replace(microsecond=950_000), CHANGE)
    assert not later_second(CHANGE.replace(microsecond=0), CHANGE)
    assert later_second(CHANGE + timedelta(seconds=1), CHANGE)


def test_upload_in_the_change_second_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.time, "sleep", lambda _s: None)
    file = tmp_path / "probe.txt"
    file.write_text("x")
    s3 = StampingS3([CHANGE, CHANGE, CHANGE + timedelta(seconds=1)])
    assert upload_after(s3, "bucket", file, CHANGE) == "probe.txt"
    assert len(s3.puts) == 3


def test_upload_already_later_is_made_once(tmp_path: Path) -> None:
    file = tmp_path / "probe.txt"
    file.write_text("x")
    s3 = StampingS3([CHANGE + timedelta(seconds=2)])
    upload_after(s3, "bucket", file, CHANGE)
    assert s3.puts == ["probe.txt"]
