"""Adding CloudFormation resource types to moto's template engine."""

from __future__ import annotations

import json
from typing import Any


def refresh_model_registry() -> None:
    """moto caches its type→model table; a model class defined later must be seen too."""
    from moto.cloudformation import parsing

    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()


def policy_text(document: Any) -> str:
    """A policy document as the JSON text AWS stores (templates give it as a mapping)."""
    return document if isinstance(document, str) else json.dumps(document)
