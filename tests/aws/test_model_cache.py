"""botocore's data files parsed once per machine: the same data, parsed again when a file changes."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from botocore.loaders import JSONFileLoader, Loader

from labrunner.aws.model_cache import CachingJSONFileLoader


def test_service_models_load_as_botocore_loads_them(tmp_path: Path) -> None:
    ours = Loader(file_loader=CachingJSONFileLoader(tmp_path))
    for service in ("iam", "s3", "sts"):
        expected = Loader(file_loader=JSONFileLoader()).load_service_model(service, "service-2")
        first = ours.load_service_model(service, "service-2")
        again = Loader(file_loader=CachingJSONFileLoader(tmp_path)).load_service_model(service, "service-2")
        assert first == expected == again
        assert list(again["shapes"]) == list(expected["shapes"])  # order kept (members are serialized in it)
    assert len(list(tmp_path.iterdir())) >= 3


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    model = data / "model.json.gz"
    model.write_bytes(gzip.compress(json.dumps({"version": 1}).encode()))
    loader = CachingJSONFileLoader(tmp_path / "cache")
    assert loader.load_file(str(data / "model")) == {"version": 1}
    model.write_bytes(gzip.compress(json.dumps({"version": 2, "more": True}).encode()))
    os.utime(model, ns=(1, 1))  # a different size and time: another cache entry
    assert loader.load_file(str(data / "model")) == {"version": 2, "more": True}
    assert loader.load_file(str(data / "absent")) is None


def test_a_broken_or_unwritable_cache_only_costs_time(tmp_path: Path) -> None:
    data = tmp_path / "model.json"
    data.write_text(json.dumps({"ok": True}))
    cache = tmp_path / "cache"
    loader = CachingJSONFileLoader(cache)
    assert loader.load_file(str(tmp_path / "model")) == {"ok": True}
    for entry in cache.iterdir():
        entry.write_bytes(b"\x00not marshal")
    assert loader.load_file(str(tmp_path / "model")) == {"ok": True}
    blocked = CachingJSONFileLoader(data)  # a file where the cache directory should be
    assert blocked.load_file(str(tmp_path / "model")) == {"ok": True}
