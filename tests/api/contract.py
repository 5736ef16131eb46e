"""Contract checks against Twilio's own OpenAPI description of TaskRouter v1.

The spec file lives outside the repository (``/work/shared/reference``). When it is absent only
the contract checks are skipped, with a reason saying so; every other test still runs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SPEC_PATH = Path(__file__).parents[3] / "shared/reference/twilio_taskrouter_v1.json"
SCHEMA_PREFIX = "#/components/schemas/"


@functools.cache
def _load_spec() -> dict[str, Any] | None:
    if not SPEC_PATH.is_file():
        return None
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


def spec() -> dict[str, Any]:
    """Twilio's TaskRouter v1 OpenAPI document, or skip the calling test if it is absent."""
    document = _load_spec()
    if document is None:
        pytest.skip(f"contract check skipped: Twilio's OpenAPI spec is not at {SPEC_PATH} "
                    "(it lives outside the repository)")
    return document


def schema_properties(schema: str) -> set[str]:
    """The property names of ``components.schemas[schema]``, e.g. taskrouter.v1.workspace."""
    return set(spec()["components"]["schemas"][schema]["properties"])


def _examples_of(schema: str) -> Iterator[dict[str, Any]]:
    """Every response example (or list item of one) whose schema is ``schema``."""
    ref = SCHEMA_PREFIX + schema
    for operations in spec()["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for content in response.get("content", {}).values():
                    body_schema = content.get("schema", {})
                    list_keys = [name for name, prop in body_schema.get("properties", {}).items()
                                 if prop.get("items", {}).get("$ref") == ref]
                    for example in content.get("examples", {}).values():
                        value = example.get("value")
                        if not isinstance(value, dict):
                            continue
                        if body_schema.get("$ref") == ref:
                            yield value
                        for key in list_keys:
                            yield from value.get(key, [])


def example_link_keys(schema: str) -> set[str] | None:
    """The ``links`` keys Twilio's examples show for ``schema`` (None: it has no links)."""
    keys = [frozenset(example["links"]) for example in _examples_of(schema)
            if "links" in example]
    if not keys:
        return None
    assert len(set(keys)) == 1, f"the spec's examples disagree on {schema} links: {set(keys)}"
    return set(keys[0])


def assert_matches_spec(body: dict[str, Any], schema: str) -> None:
    """Every property Twilio documents for ``schema`` is in ``body``, and the same links."""
    missing = schema_properties(schema) - set(body)
    assert not missing, f"{schema}: properties missing from our JSON: {sorted(missing)}"
    link_keys = example_link_keys(schema)
    if link_keys is not None:
        assert set(body["links"]) == link_keys, (
            f"{schema}: links differ from Twilio's examples: ours {sorted(body['links'])}, "
            f"Twilio's {sorted(link_keys)}"
        )
